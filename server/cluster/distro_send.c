/* distro_send: CHANGE/DELETE tasks per (peer, client) and VERIFY
 * (nacos-cluster.md §3.6, §3.7; see distro.h). */
#include "distro_int.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST_YES ((void *)1)
#define DIGEST_NO ((void *)2)

static void task_free(nc_dtask *t) {
  if (t) {
    free(t->key);
    free(t);
  }
}

static void task_drop(nc_distro *d, nc_dtask *t) {
  nc_strmap_del(d->tasks, t->key);
  if (t->inflight)
    t->orphan = 1; /* freed when its answer arrives */
  else
    task_free(t);
}

void nc_distro_tasks_free(nc_distro *d) {
  nc_strmap_iter it;
  void *v;
  for (nc_strmap_iter_init(&it, d->tasks); nc_strmap_iter_next(&it, NULL, &v);)
    task_drop(d, v);
  nc_strmap_free(d->tasks, NULL);
  d->tasks = NULL;
}

/* A task became due now: run the tick on this loop turn rather than at
 * the next 100 ms beat (once per turn however many become due). */
static void kick(nc_distro *d) {
  if (d->kicked || d->stopped)
    return;
  d->kicked = 1;
  uv_timer_start(&d->tick, nc_distro_on_tick, 0, 100);
}

/* Merge rule (§3.6): one task per (peer, client); events merge into it and
 * the newest action wins. The window is anchored on the first event like
 * Nacos's, but on its leading edge: a client quiet for a window is sent at
 * once, and what follows within delay_ms of that send goes out together
 * when the window ends (so one registration is visible in milliseconds
 * and a burst still costs one request per window). */
void nc_distro_schedule(nc_distro *d, const char *peer, const char *client, int op,
                        int delay_ms) {
  size_t pl = strlen(peer), cl = strlen(client);
  char *key = malloc(pl + cl + 2);
  if (!key)
    return;
  memcpy(key, peer, pl);
  key[pl] = 1;
  memcpy(key + pl + 1, client, cl + 1);
  uint64_t now = nc_distro_now();
  nc_dtask *t = nc_strmap_get(d->tasks, key);
  if (t) {
    free(key);
    if (t->inflight)
      t->pending_op = op;
    else {
      if (!t->op) /* cooling down after a send: the window's end */
        t->due = t->sent_at + (uint64_t)delay_ms;
      t->op = op;
      if (delay_ms == 0) {
        t->due = now;
        kick(d);
      }
    }
    return;
  }
  t = calloc(1, sizeof(*t));
  if (!t || nc_strmap_put(d->tasks, key, t, NULL)) {
    free(t);
    free(key);
    return;
  }
  t->d = d;
  t->key = key;
  t->client = key + pl + 1;
  t->op = op;
  t->due = now;
  kick(d);
}

void nc_distro_on_client(void *ud, const char *client_id, int gone) {
  nc_distro *d = ud;
  if (d->stopped || nc_cluster_is_standalone(d->cl))
    return;
  nc_member_info p[NC_DISTRO_MAX_MEMBERS];
  size_t n = nc_distro_peers(d, p, NC_DISTRO_MAX_MEMBERS);
  for (size_t i = 0; i < n; i++)
    nc_distro_schedule(d, p[i].address, client_id, gone ? NC_DOP_DELETE : NC_DOP_CHANGE,
                       d->o.delay_ms);
}

static int resp_ok(int status, const nc_msg *resp) {
  return status == 0 && resp && resp->body && nc_json_int(resp->body, "resultCode", 0) == 200;
}

/* After an attempt: a failure retries after retry_ms; a success cools
 * down until the window from the send ends (events meanwhile are sent
 * then), after which the idle task is dropped. */
static void requeue(nc_distro *d, nc_dtask *t, int ok) {
  if (t->pending_op) {
    t->op = t->pending_op;
    t->pending_op = 0;
  } else if (ok)
    t->op = 0;
  if (ok)
    t->due = t->sent_at + (uint64_t)d->o.delay_ms;
  else {
    t->due = nc_distro_now() + (uint64_t)d->o.retry_ms;
    d->st.retried++;
  }
}

static void on_sent(void *ud, int status, const nc_msg *resp) {
  nc_dtask *t = ud;
  nc_distro *d = t->d;
  t->inflight = 0;
  if (t->orphan) {
    task_free(t);
    return;
  }
  int ok = resp_ok(status, resp);
  if (ok)
    d->st.acked++;
  else {
    d->st.failed++;
    nc_debug("distro: %s of %s to %.*s failed: %s", t->op == NC_DOP_CHANGE ? "CHANGE" : "DELETE",
             t->client, (int)(t->client - t->key - 1), t->key,
             status ? nc_strerror(status) : nc_json_str(resp ? resp->body : NULL, "message", ""));
  }
  if (d->stopped) {
    task_drop(d, t);
    return;
  }
  requeue(d, t, ok);
}

static const nc_member_info *find(const nc_member_info *p, size_t n, const char *addr,
                                  size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(p[i].address) == len && strncmp(p[i].address, addr, len) == 0)
      return &p[i];
  return NULL;
}

/* Sends one due task: CHANGE reads the client's current state now (a
 * vanished client is sent as DELETE). Only to UP, connected members. */
static void dispatch(nc_distro *d, nc_dtask *t, const nc_member_info *p, size_t n) {
  size_t pl = (size_t)(t->client - t->key - 1);
  const nc_member_info *m = find(p, n, t->key, pl);
  if (!m) {
    task_drop(d, t); /* no longer a member */
    return;
  }
  if (m->state != NC_MEMBER_UP || !m->connected) {
    d->st.failed++;
    requeue(d, t, 0);
    return;
  }
  cJSON *content = t->op == NC_DOP_CHANGE ? nc_distro_sync_data(d->reg, t->client) : NULL;
  const char *op = content ? "CHANGE" : "DELETE";
  cJSON *body = nc_distro_request(op, NULL, t->client, m->address, content,
                                  nc_cluster_self(d->cl));
  cJSON_Delete(content);
  if (!body) {
    requeue(d, t, 0);
    return;
  }
  t->inflight = 1;
  t->sent_at = nc_distro_now();
  d->st.sent++;
  if (nc_cluster_send(d->cl, m->address, "DistroDataRequest", body, d->o.timeout_ms, on_sent,
                      t) != 0) {
    t->inflight = 0;
    d->st.failed++;
    requeue(d, t, 0);
  }
}

void nc_distro_on_tick(uv_timer_t *timer) {
  nc_distro *d = timer->data;
  d->kicked = 0;
  if (d->stopped || nc_strmap_count(d->tasks) == 0)
    return;
  nc_member_info p[NC_DISTRO_MAX_MEMBERS];
  size_t n = nc_distro_peers(d, p, NC_DISTRO_MAX_MEMBERS);
  uint64_t now = nc_distro_now();
  nc_strmap_iter it;
  void *v;
  /* dispatch may delete the task just returned, which the iterator allows */
  for (nc_strmap_iter_init(&it, d->tasks); nc_strmap_iter_next(&it, NULL, &v);) {
    nc_dtask *t = v;
    if (t->inflight || t->due > now)
      continue;
    if (t->op)
      dispatch(d, t, p, n);
    else
      task_drop(d, t); /* cooled down */
  }
}

/* ---- VERIFY ---- */

typedef struct vctx {
  nc_distro *d;
  char peer[256];
  char client[]; /* "" for a digest */
} vctx;

static vctx *vctx_new(nc_distro *d, const char *peer, const char *client) {
  vctx *c = malloc(sizeof(*c) + strlen(client) + 1);
  if (c) {
    c->d = d;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    strcpy(c->client, client);
  }
  return c;
}

static void mismatch(nc_distro *d, const char *peer, const char *client) {
  d->st.verify_mismatches++;
  nc_distro_schedule(d, peer, client, NC_DOP_CHANGE, 0);
}

static void on_verified(void *ud, int status, const nc_msg *resp) {
  vctx *c = ud;
  nc_distro *d = c->d;
  if (d->stopped || status) /* a timeout only counts (Nacos does the same) */
    goto out;
  const cJSON *bad = cJSON_GetObjectItemCaseSensitive(resp->body, "ncMismatch");
  if (!c->client[0]) {
    if (!cJSON_IsArray(bad)) {
      /* not a nacos-c peer: per-client VERIFY from now on */
      nc_info("distro: %s does not take digests; verifying per client", c->peer);
      nc_strmap_put(d->digest, c->peer, DIGEST_NO, NULL);
      goto out;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, bad) if (cJSON_IsString(it)) mismatch(d, c->peer, it->valuestring);
  } else if (!resp_ok(status, resp))
    mismatch(d, c->peer, c->client);
out:
  free(c);
}

static void verify_send(nc_distro *d, const char *peer, const char *type, const char *key,
                        cJSON *content, const char *client) {
  cJSON *body = nc_distro_request("VERIFY", type, key, NULL, content, nc_cluster_self(d->cl));
  vctx *c = vctx_new(d, peer, client);
  cJSON_Delete(content);
  if (!body || !c) {
    cJSON_Delete(body);
    free(c);
    return;
  }
  d->st.verify_sent++;
  if (nc_cluster_send(d->cl, peer, "DistroDataRequest", body, d->o.timeout_ms, on_verified, c))
    free(c);
}

typedef struct vwalk {
  nc_distro *d;
  const char *peer;
  cJSON *digest; /* NULL: per-client */
} vwalk;

static void each_native(void *ud, const char *id, int synced, const char *owner, uint64_t rev) {
  vwalk *w = ud;
  (void)synced;
  (void)owner;
  if (w->digest)
    cJSON_AddNumberToObject(w->digest, id, (double)rev);
  else
    verify_send(w->d, w->peer, NULL, id, nc_distro_verify_info(id, rev), id);
}

/* Every verify period, once loaded (§3.7): assert our native clients to
 * every UP connected peer. */
void nc_distro_on_verify(uv_timer_t *timer) {
  nc_distro *d = timer->data;
  if (d->stopped || !d->loaded)
    return;
  nc_member_info p[NC_DISTRO_MAX_MEMBERS];
  size_t n = nc_distro_peers(d, p, NC_DISTRO_MAX_MEMBERS);
  for (size_t i = 0; i < n; i++) {
    if (p[i].state != NC_MEMBER_UP || !p[i].connected)
      continue;
    vwalk w = {d, p[i].address, NULL};
    if (nc_strmap_get(d->digest, p[i].address) != DIGEST_NO) {
      cJSON *content = cJSON_CreateObject();
      w.digest = content ? cJSON_AddObjectToObject(content, "clients") : NULL;
      if (!w.digest) {
        cJSON_Delete(content);
        continue;
      }
      /* sent also when empty: it tells the peer we hold nothing */
      nc_nreg_each_client(d->reg, 1, NULL, each_native, &w);
      verify_send(d, p[i].address, NC_DISTRO_DIGEST_TYPE, "digest", content, "");
    } else
      nc_nreg_each_client(d->reg, 1, NULL, each_native, &w);
  }
}
