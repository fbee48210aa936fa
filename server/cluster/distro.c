/* distro: the module and the DistroDataRequest receiver (see distro.h;
 * nacos-cluster.md §3.3, §3.5). */
#include "distro_int.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESP "DistroDataResponse"

uint64_t nc_distro_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t nc_distro_peers(nc_distro *d, nc_member_info *out, size_t cap) {
  nc_member_info all[NC_DISTRO_MAX_MEMBERS];
  size_t n = nc_cluster_members(d->cl, all, NC_DISTRO_MAX_MEMBERS), k = 0;
  if (n > NC_DISTRO_MAX_MEMBERS)
    n = NC_DISTRO_MAX_MEMBERS;
  for (size_t i = 0; i < n && k < cap; i++)
    if (!all[i].is_self)
      out[k++] = all[i];
  return k;
}

const char *nc_distro_owner_by_ip(nc_distro *d, const char *ip, char *buf, size_t cap) {
  nc_member_info p[NC_DISTRO_MAX_MEMBERS];
  size_t n = nc_distro_peers(d, p, NC_DISTRO_MAX_MEMBERS), hits = 0;
  buf[0] = 0;
  for (size_t i = 0; ip && i < n; i++)
    if (strcmp(p[i].ip, ip) == 0 && hits++ == 0)
      snprintf(buf, cap, "%s", p[i].address);
  if (hits != 1)
    buf[0] = 0;
  return buf;
}

/* The sending member: nacos-c says so (ncOwner); for a Java peer, the
 * member with the connection's address when it is the only one there. */
static const char *sender(nc_distro *d, nc_req *r, const nc_distro_req *q, char *buf,
                          size_t cap) {
  if (*q->owner)
    return q->owner;
  nc_conn *c = nc_req_conn(r);
  return nc_distro_owner_by_ip(d, c ? nc_conn_remote_ip(c) : NULL, buf, cap);
}

/* For log lines: a sender we could not name. */
static const char *who(const char *from) { return *from ? from : "an unnamed peer"; }

static void ok(nc_req *r) { nc_req_reply(r, RESP, nc_resp_ok()); }

static void on_change(nc_distro *d, nc_req *r, const nc_distro_req *q, const char *from) {
  nc_distro_client c;
  const char *err = "CHANGE without content";
  int rc = q->content ? nc_distro_parse_sync_data(q->content, &c, &err) : NC_EINVAL;
  if (rc) {
    nc_warn("distro: %s %s from %s refused: %s", q->op, q->key, who(from), err);
    nc_req_fail(r, RESP, 500, err);
    return;
  }
  rc = nc_naming_sync_apply(d->n, c.id, from, c.revision, c.e, c.n);
  if (rc == NC_EEXISTS) {
    d->st.refused_native++;
    nc_warn("distro: %s of client %s from %s ignored: the client is native here", q->op, c.id,
            who(from));
  }
  nc_distro_client_clear(&c);
  if (rc && rc != NC_EEXISTS) {
    nc_req_fail(r, RESP, 500, nc_strerror(rc));
    return;
  }
  ok(r);
}

static int in_digest(void *ud, const char *id) { return nc_strmap_get(ud, id) != NULL; }

/* nacos-c's digest: {"clients":{id: revision}} -> ncMismatch [ids]. It
 * lists every client of its sender, so the sender's synced clients it does
 * not list are gone there (their DELETE was lost, or the sender restarted
 * before anyone saw it DOWN): they go after the grace like a DOWN member's
 * (unless changed within the last verify period: a CHANGE that overtook
 * the digest). */
static void on_digest(nc_distro *d, nc_req *r, const nc_distro_req *q, const char *from) {
  const cJSON *cl = cJSON_GetObjectItemCaseSensitive(q->content, "clients");
  if (!cJSON_IsObject(cl)) {
    nc_req_fail(r, RESP, 500, "digest content must carry a clients object");
    return;
  }
  cJSON *resp = nc_resp_ok(), *bad = resp ? cJSON_AddArrayToObject(resp, "ncMismatch") : NULL;
  nc_strmap *listed = nc_strmap_new();
  if (!bad || !listed) {
    cJSON_Delete(resp);
    nc_strmap_free(listed, NULL);
    nc_req_fail(r, RESP, 500, "out of memory");
    return;
  }
  const cJSON *it;
  int complete = 1;
  cJSON_ArrayForEach(it, cl) {
    uint64_t rev = cJSON_IsNumber(it) && it->valuedouble >= 0 ? (uint64_t)it->valuedouble : 0;
    if (!cJSON_IsNumber(it) || nc_naming_sync_verify(d->n, it->string, rev) != 0)
      cJSON_AddItemToArray(bad, cJSON_CreateString(it->string));
    if (nc_strmap_put(listed, it->string, (void *)1, NULL))
      complete = 0;
  }
  if (complete && *from)
    nc_naming_sync_retain(d->n, from, in_digest, listed, (uint64_t)d->o.verify_ms,
                          (uint64_t)d->o.grace_ms);
  nc_strmap_free(listed, NULL);
  nc_req_reply(r, RESP, resp);
}

static void on_verify(nc_distro *d, nc_req *r, const nc_distro_req *q, const char *from) {
  if (strcmp(q->type, NC_DISTRO_DIGEST_TYPE) == 0 && q->content) {
    on_digest(d, r, q, from);
    return;
  }
  const char *id = NULL, *err = "VERIFY without content";
  uint64_t rev = 0;
  if (!q->content || nc_distro_parse_verify_info(q->content, &id, &rev, &err)) {
    nc_req_fail(r, RESP, 500, err);
    return;
  }
  if (nc_naming_sync_verify(d->n, id, rev) != 0) {
    nc_req_fail(r, RESP, 500, "[DISTRO-FAILED] distro data verify failed");
    return;
  }
  ok(r);
}

static void on_query(nc_distro *d, nc_req *r, const nc_distro_req *q) {
  cJSON *resp = nc_resp_ok();
  cJSON *data = nc_distro_sync_data(d->reg, q->key);
  if (resp && data && nc_distro_response_add(resp, q->key, NC_DISTRO_TYPE, data)) {
    cJSON_Delete(resp);
    resp = NULL;
  }
  cJSON_Delete(data);
  if (!resp) {
    nc_req_fail(r, RESP, 500, "out of memory");
    return;
  }
  nc_req_reply(r, RESP, resp);
}

static void h_distro(void *ud, nc_req *r, const nc_msg *m) {
  nc_distro *d = ud;
  nc_distro_req q;
  const char *err = NULL;
  char fb[256];
  d->st.received++;
  if (nc_distro_parse_request(m->body, &q, &err)) {
    nc_warn("distro: bad DistroDataRequest: %s", err);
    nc_req_fail(r, RESP, 500, err);
    nc_distro_req_clear(&q);
    return;
  }
  const char *from = sender(d, r, &q, fb, sizeof(fb));
  int known_type = !*q.type || strcmp(q.type, NC_DISTRO_TYPE) == 0 ||
                   strcmp(q.type, NC_DISTRO_DIGEST_TYPE) == 0;
  if (strcmp(q.op, "SNAPSHOT") == 0)
    nc_distro_serve_snapshot(d, r, m->body, from);
  else if (!known_type) /* Nacos: errorCode 500 but resultCode 200 */
    nc_req_reply(r, RESP, nc_resp_new(200, 500, "unknown distro resource type"));
  else if (strcmp(q.op, "CHANGE") == 0 || strcmp(q.op, "ADD") == 0)
    on_change(d, r, &q, from);
  else if (strcmp(q.op, "DELETE") == 0) {
    if (nc_naming_sync_delete(d->n, q.key) == NC_EEXISTS) {
      d->st.refused_native++;
      nc_warn("distro: DELETE of client %s from %s ignored: the client is native here", q.key,
              who(from));
    }
    ok(r);
  } else if (strcmp(q.op, "VERIFY") == 0)
    on_verify(d, r, &q, from);
  else if (strcmp(q.op, "QUERY") == 0)
    on_query(d, r, &q);
  else
    nc_req_fail(r, RESP, 500, "unknown dataOperation");
  nc_distro_req_clear(&q);
}

static const nc_handler_def distro_handlers[] = {
    {"DistroDataRequest", RESP, h_distro, NC_H_CLUSTER | NC_H_NAMING},
};

/* A member that went DOWN: its synced clients go after the grace unless
 * their owner (it, back, or a new one) asserts them first. */
static void on_member(void *ud, const nc_member_info *m, nc_member_state old) {
  nc_distro *d = ud;
  if (m->is_self || m->state == old)
    return;
  if (m->state == NC_MEMBER_DOWN) {
    nc_info("distro: member %s is DOWN: its synced clients go in %d ms unless re-asserted",
            m->address, d->o.grace_ms);
    nc_naming_owner_down(d->n, m->address, (uint64_t)d->o.grace_ms);
  }
}

static int dflt(int v, int def) { return v > 0 ? v : def; }

int nc_distro_new(uv_loop_t *loop, nc_srv *srv, nc_cluster *cl, nc_naming *n,
                  const nc_distro_opts *opts, nc_distro **out) {
  nc_distro *d = calloc(1, sizeof(*d));
  if (!d)
    return NC_ENOMEM;
  d->loop = loop, d->srv = srv, d->cl = cl, d->n = n;
  d->reg = nc_naming_registry(n);
  d->o.delay_ms = opts->delay_ms < 0 ? 0 : dflt(opts->delay_ms, 1000);
  d->o.retry_ms = dflt(opts->retry_ms, 3000);
  d->o.timeout_ms = dflt(opts->timeout_ms, 3000);
  d->o.verify_ms = dflt(opts->verify_ms, 5000);
  d->o.expire_ms = dflt(opts->expire_ms, 180000);
  d->o.grace_ms = dflt(opts->grace_ms, 15000);
  d->o.load_retry_ms = dflt(opts->load_retry_ms, 500);
  d->o.snapshot_timeout_ms = dflt(opts->snapshot_timeout_ms, 30000);
  d->o.chunk_bytes = dflt(opts->chunk_bytes, 1 << 20);
  if (!(d->tasks = nc_strmap_new()) || !(d->digest = nc_strmap_new()) ||
      !(d->load_marks = nc_strmap_new())) {
    nc_strmap_free(d->tasks, NULL);
    nc_strmap_free(d->digest, NULL);
    nc_strmap_free(d->load_marks, NULL);
    free(d);
    return NC_ENOMEM;
  }
  uv_timer_init(loop, &d->tick);
  uv_timer_init(loop, &d->verify);
  uv_timer_init(loop, &d->load);
  d->tick.data = d->verify.data = d->load.data = d;
  nc_naming_set_sync_expire(n, (uint64_t)d->o.expire_ms);
  d->loaded = nc_cluster_is_standalone(cl);
  if (!d->loaded)
    d->hold = nc_cluster_hold_ready(cl, "distro: waiting for a snapshot from a peer");
  *out = d;
  if (NC_SRV_HANDLERS(srv, distro_handlers, d) ||
      nc_naming_add_client_listener(n, nc_distro_on_client, d) ||
      nc_cluster_add_member_listener(cl, on_member, d))
    return NC_ENOMEM; /* the caller frees *out */
  return 0;
}

int nc_distro_start(nc_distro *d) {
  d->start_ms = nc_distro_now();
  if (nc_cluster_is_standalone(d->cl))
    return 0;
  uv_timer_start(&d->tick, nc_distro_on_tick, 100, 100);
  uv_timer_start(&d->verify, nc_distro_on_verify, (uint64_t)d->o.verify_ms,
                 (uint64_t)d->o.verify_ms);
  uv_timer_start(&d->load, nc_distro_on_load, 0, (uint64_t)d->o.load_retry_ms);
  return 0;
}

void nc_distro_stop(nc_distro *d) {
  if (!d || d->stopped)
    return;
  d->stopped = 1;
  uv_timer_stop(&d->tick);
  uv_timer_stop(&d->verify);
  uv_timer_stop(&d->load);
}

static void on_closed(uv_handle_t *h) {
  nc_distro *d = h->data;
  if (--d->closing == 0)
    free(d);
}

void nc_distro_free(nc_distro *d) {
  if (!d)
    return;
  nc_distro_stop(d);
  if (d->hold)
    nc_cluster_release_ready(d->cl, d->hold);
  nc_distro_tasks_free(d);
  nc_strmap_free(d->digest, NULL);
  nc_strmap_free(d->load_marks, NULL);
  d->closing = 3;
  uv_close((uv_handle_t *)&d->tick, on_closed);
  uv_close((uv_handle_t *)&d->verify, on_closed);
  uv_close((uv_handle_t *)&d->load, on_closed);
}

void nc_distro_get_stats(const nc_distro *d, nc_distro_stats *st) {
  *st = d->st;
  st->loaded = d->loaded;
  st->queued = nc_strmap_count(d->tasks);
}

void nc_distro_render_metrics(const nc_distro *d, nc_metrics_text *t) {
  nc_distro_stats s;
  nc_distro_get_stats(d, &s);
#define C(name, help, v) nc_metrics_add(t, "nacosd_", name, help, (uint64_t)(v))
  C("distro_sent_total", "Distro CHANGE/DELETE requests sent to peers, retries included.",
    s.sent);
  C("distro_acked_total", "Distro CHANGE/DELETE requests a peer acknowledged.", s.acked);
  C("distro_retried_total", "Distro CHANGE/DELETE requests queued again after a failure.",
    s.retried);
  C("distro_failed_total", "Distro CHANGE/DELETE attempts that failed (peer not UP, error, "
    "timeout, non-200).", s.failed);
  C("distro_verify_sent_total", "Distro VERIFY requests sent (digests or per client).",
    s.verify_sent);
  C("distro_verify_mismatches_total", "Clients a peer failed to verify (resent at once).",
    s.verify_mismatches);
  C("distro_received_total", "DistroDataRequests received from peers.", s.received);
  C("distro_refused_native_total", "Remote changes ignored because the client is native here.",
    s.refused_native);
  C("distro_snapshot_chunks_total", "Snapshot chunks applied at start-up.", s.snapshot_chunks);
  C("distro_snapshot_clients_total", "Clients applied from start-up snapshots.",
    s.snapshot_clients);
  C("distro_loaded", "1 once the start-up snapshot was applied (or no peer could give one).",
    s.loaded);
  C("distro_load_ms", "Milliseconds from start to the start-up snapshot applied.",
    s.snapshot_ms);
  C("distro_queued", "Pending Distro (client, peer) tasks.", s.queued);
#undef C
}
