/* distro_load: the start-up snapshot (nacos-cluster.md §3.8, §6.2, §6.5)
 * and serving snapshots to starting peers, in chunks between nacos-c
 * nodes (see distro_codec.h). */
#include "distro_int.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARK_LOADING ((void *)1)
#define MARK_FAILED ((void *)2)
#define MAX_CHUNK (3 << 20) /* well under the 4 MiB message cap */

static void loaded(nc_distro *d, const char *how) {
  d->loaded = 1;
  d->st.snapshot_ms = nc_distro_now() - d->start_ms;
  nc_info("distro: loaded (%s) after %llu ms: %llu client(s) in %llu chunk(s)", how,
          (unsigned long long)d->st.snapshot_ms, (unsigned long long)d->st.snapshot_clients,
          (unsigned long long)d->st.snapshot_chunks);
  if (d->hold) {
    nc_cluster_release_ready(d->cl, d->hold);
    d->hold = NULL;
  }
  uv_timer_stop(&d->load);
}

static void round_next(nc_distro *d);

static void apply_chunk(nc_distro *d, const cJSON *snap, const char *peer) {
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(snap, "clientSyncDataList");
  const cJSON *it;
  d->st.snapshot_chunks++;
  cJSON_ArrayForEach(it, list) {
    nc_distro_client c;
    const char *err = NULL;
    if (nc_distro_parse_sync_data(it, &c, &err)) {
      nc_warn("distro: snapshot entry from %s skipped: %s", peer, err);
      continue;
    }
    /* who owns it: the entry says (nacos-c), else the peer that sent it */
    const char *owner = nc_json_str(it, "ncOwner", peer);
    if (nc_naming_sync_apply(d->n, c.id, owner, c.revision, c.e, c.n) == NC_EEXISTS) {
      d->st.refused_native++;
      nc_warn("distro: snapshot entry %s from %s ignored: the client is native here", c.id, peer);
    }
    nc_distro_client_clear(&c);
    d->st.snapshot_clients++;
  }
}

static void request_chunk(nc_distro *d);

static void on_chunk(void *ud, int status, const nc_msg *resp) {
  nc_distro *d = ud;
  d->load_inflight = 0;
  if (d->stopped || d->loaded)
    return;
  const cJSON *b = status == 0 && resp ? resp->body : NULL;
  if (!b || nc_json_int(b, "resultCode", 0) != 200) {
    int busy = b && nc_json_int(b, "errorCode", 0) == NC_DISTRO_NOT_LOADED;
    nc_info("distro: snapshot from %s: %s", d->load_peer,
            busy ? "it is still loading itself"
                 : (status ? nc_strerror(status) : nc_json_str(b, "message", "failed")));
    nc_strmap_put(d->load_marks, d->load_peer, busy ? MARK_LOADING : MARK_FAILED, NULL);
    round_next(d);
    return;
  }
  cJSON *snap = NULL;
  const char *err = NULL;
  if (nc_distro_response_content(b, &snap, &err)) {
    nc_warn("distro: snapshot from %s unreadable: %s", d->load_peer, err);
    nc_strmap_put(d->load_marks, d->load_peer, MARK_FAILED, NULL);
    round_next(d);
    return;
  }
  apply_chunk(d, snap, d->load_peer);
  cJSON_Delete(snap);
  const cJSON *next = cJSON_GetObjectItemCaseSensitive(b, "ncNext");
  if (cJSON_IsNumber(next) && next->valuedouble > (double)d->load_offset) {
    d->load_offset = (long)next->valuedouble;
    request_chunk(d);
    return;
  }
  char how[300];
  snprintf(how, sizeof(how), "snapshot from %s", d->load_peer);
  loaded(d, how);
}

static void request_chunk(nc_distro *d) {
  cJSON *body = nc_distro_request("SNAPSHOT", NULL, NULL, NULL, NULL, nc_cluster_self(d->cl));
  if (body) {
    cJSON_AddNumberToObject(body, "ncOffset", (double)d->load_offset);
    cJSON_AddNumberToObject(body, "ncMaxBytes", d->o.chunk_bytes);
  }
  d->load_inflight = 1;
  if (!body || nc_cluster_send(d->cl, d->load_peer, "DistroDataRequest", body,
                               d->o.snapshot_timeout_ms, on_chunk, d) != 0) {
    d->load_inflight = 0;
    nc_strmap_put(d->load_marks, d->load_peer, MARK_FAILED, NULL);
  }
}

/* Tries the next peer of this round that is connected and not DOWN; when
 * none is left, releases readiness if every peer is DOWN or loading itself
 * (the first node of a full restart), else waits for the next round. */
static void round_next(nc_distro *d) {
  nc_member_info p[NC_DISTRO_MAX_MEMBERS];
  size_t n = nc_distro_peers(d, p, NC_DISTRO_MAX_MEMBERS), settled = 0;
  for (size_t i = 0; i < n; i++) {
    void *mark = nc_strmap_get(d->load_marks, p[i].address);
    if (p[i].state == NC_MEMBER_DOWN || mark == MARK_LOADING) {
      settled++;
      continue;
    }
    if (mark || !p[i].connected || p[i].state != NC_MEMBER_UP)
      continue;
    snprintf(d->load_peer, sizeof(d->load_peer), "%s", p[i].address);
    d->load_offset = 0;
    request_chunk(d);
    if (d->load_inflight)
      return;
  }
  if (settled == n) {
    loaded(d, n ? "every peer is down or loading" : "no peers");
    return;
  }
  /* next round starts afresh */
  nc_strmap_free(d->load_marks, NULL);
  d->load_marks = nc_strmap_new();
}

void nc_distro_on_load(uv_timer_t *t) {
  nc_distro *d = t->data;
  if (d->stopped || d->loaded || d->load_inflight || !d->load_marks)
    return;
  round_next(d);
}

/* ---- serving ---- */

typedef struct snap_walk {
  nc_distro *d;
  cJSON *list;
  long skip, taken, total;
  size_t bytes, max;
  int full;
} snap_walk;

static void each_client(void *ud, const char *id, int synced, const char *owner, uint64_t rev) {
  snap_walk *w = ud;
  (void)rev;
  w->total++;
  if (w->skip > 0) {
    w->skip--;
    return;
  }
  if (w->full)
    return;
  cJSON *e = nc_distro_sync_data(w->d->reg, id);
  if (!e)
    return;
  if (synced && owner && *owner)
    cJSON_AddStringToObject(e, "ncOwner", owner);
  char *txt = cJSON_PrintUnformatted(e);
  w->bytes += txt ? strlen(txt) : 0;
  free(txt);
  cJSON_AddItemToArray(w->list, e);
  w->taken++;
  if (w->max && w->bytes >= w->max)
    w->full = 1;
}

void nc_distro_serve_snapshot(nc_distro *d, nc_req *r, const cJSON *body, const char *requester) {
  if (!d->loaded) {
    nc_req_fail(r, "DistroDataResponse", NC_DISTRO_NOT_LOADED,
                "this node is still loading its own snapshot");
    return;
  }
  long offset = (long)nc_json_int(body, "ncOffset", 0);
  long long max = nc_json_int(body, "ncMaxBytes", 0);
  if (offset == 0 && requester && *requester && strcmp(requester, nc_cluster_self(d->cl)) != 0) {
    /* it (re)started: what it owned before died with it */
    nc_naming_owner_down(d->n, requester, (uint64_t)d->o.grace_ms);
  }
  snap_walk w = {.d = d, .skip = offset < 0 ? 0 : offset,
                 .max = max <= 0 ? 0 : (size_t)(max > MAX_CHUNK ? MAX_CHUNK : max)};
  cJSON *snap = cJSON_CreateObject();
  cJSON *resp = nc_resp_ok();
  w.list = snap ? cJSON_AddArrayToObject(snap, "clientSyncDataList") : NULL;
  if (!w.list || !resp) {
    cJSON_Delete(snap);
    cJSON_Delete(resp);
    nc_req_fail(r, "DistroDataResponse", 500, "out of memory");
    return;
  }
  /* everything we know except the requester's own clients (§6.3) */
  nc_nreg_each_client(d->reg, 0, requester && *requester ? requester : NULL, each_client, &w);
  int rc = nc_distro_response_add(resp, "SNAPSHOT", NC_DISTRO_TYPE, snap);
  long next = (offset < 0 ? 0 : offset) + w.taken;
  if (w.max && next < w.total)
    cJSON_AddNumberToObject(resp, "ncNext", (double)next);
  cJSON_Delete(snap);
  if (rc) {
    cJSON_Delete(resp);
    nc_req_fail(r, "DistroDataResponse", 500, "out of memory");
    return;
  }
  nc_info("distro: snapshot for %s: %ld client(s) from %ld of %ld",
          requester && *requester ? requester : "an unnamed peer", w.taken, offset, w.total);
  nc_req_reply(r, "DistroDataResponse", resp);
}
