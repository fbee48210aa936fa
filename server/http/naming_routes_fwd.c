/* naming_routes_fwd: the responsible node of an HTTP instance in a
 * cluster (nacos-cluster.md §3.1-3.2), as Nacos's DistroMapper and
 * DistroFilter keep it.
 *
 * - Each ip:port#true client has one responsible member: Java's
 *   String.hashCode of "ip:port" over the UP and SUSPICIOUS members sorted
 *   by address. Only that member keeps the client in naming_beat (beats,
 *   unhealthy, expiry) and so only it publishes the client natively;
 *   Distro gives every other member a synced copy.
 * - A register/deregister/update/beat made on another member is forwarded
 *   to the responsible one and answered with its answer. Nacos proxies the
 *   HTTP request to the peer's HTTP port; nacosd has no HTTP client on the
 *   loop, while the cluster's gRPC peer channel is already connected,
 *   authenticated (server identity), optionally TLS and asynchronous on the
 *   loop, so the call travels there as NcNamingForwardRequest {op, v2,
 *   params} and comes back as {httpStatus, contentType, content}. The
 *   forwarding member checks the caller's permission; the receiver runs
 *   the call without forwarding again (no loop, also while views of the
 *   membership disagree). When the owner cannot be reached the call is run
 *   here (availability first); the reconcile below hands it over later.
 * - Reconcile, on every member change and every second: a client held
 *   here whose owner is now another member is released (its instances
 *   kept as that member's synced copy, nothing pushed); a synced client
 *   this member now owns is adopted (native, re-sent by Distro) with a
 *   fresh beat time, so a moved client is not expired for the beats it
 *   sent the old owner, and nothing flaps.
 * Loop thread only. */
#include "naming_routes_int.h"
#include "naming_health.h"

#include "cluster.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"
#include "nc_strmap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FWD_REQ "NcNamingForwardRequest"
#define FWD_RESP "NcNamingForwardResponse"
#define FWD_TIMEOUT_MS 2000 /* Nacos's DistroFilter: 2 s read timeout */
#define RECONCILE_MS 1000
#define SUFFIX "#true"

typedef struct nrt_fwd {
  nc_nroutes *nr;
  nc_cluster *cl;
  nc_strmap *handing; /* client ids being handed to their new owner */
  uv_timer_t timer;
  uint64_t forwarded, received, fallback, adopted, released;
} nrt_fwd;

/* The parameters an instance write reads (naming_routes_write.c). */
static const char *const fwd_params[] = {
    "namespaceId", "serviceName", "groupName", "ip",      "port",    "weight",   "metadata",
    "clusterName", "enabled",     "enable",    "healthy", "ephemeral", "beat",     "cluster",
};
static const char *const op_names[] = {"register", "deregister", "update",
                                       "beat",     "heartbeat",  "patch"};
#define OP_ADOPT "adopt" /* a handover: {op, id, pubs: [{ns, group, name, inst}]} */

/* 1 when this member is responsible for tag ("ip:port"); else 0 with the
 * responsible member's address in owner. */
static int responsible(nrt_fwd *f, const char *tag, char *owner, size_t cap) {
  nc_member_info buf[64], *m = buf;
  size_t n = nc_cluster_members(f->cl, buf, 64);
  if (n > 64) {
    if (!(m = malloc(n * sizeof(*m))))
      return 1;
    n = nc_cluster_members(f->cl, m, n);
  }
  size_t healthy = 0, self = SIZE_MAX;
  for (size_t i = 0; i < n; i++)
    if (m[i].state == NC_MEMBER_UP || m[i].state == NC_MEMBER_SUSPICIOUS) {
      if (m[i].is_self)
        self = healthy;
      m[healthy++] = m[i];
    }
  int mine = 1;
  if (self != SIZE_MAX && healthy > 1) {
    long long h = nc_nhealth_java_hash(tag); /* the one tested against Java */
    size_t target = (size_t)(llabs(h % INT32_MAX) % (long long)healthy);
    mine = target == self;
    if (!mine)
      snprintf(owner, cap, "%s", m[target].address);
  }
  if (m != buf)
    free(m);
  return mine;
}

/* The DistroFilter tag of a call: ip:port from its parameters or its beat
 * JSON. 0 when there is none (the call's own checks answer it). */
static int call_tag(const nrt_call *c, char *tag, size_t cap) {
  const char *ip = nc_nrt_cparam(c, "ip");
  const char *port = nc_nrt_cparam(c, "port");
  const char *beat_s = nc_nrt_cparam(c, "beat");
  cJSON *beat = !ip && beat_s ? cJSON_Parse(beat_s) : NULL;
  char pb[24];
  if (beat) {
    ip = cJSON_GetStringValue(cJSON_GetObjectItem(beat, "ip"));
    snprintf(pb, sizeof(pb), "%d", (int)cJSON_GetNumberValue(cJSON_GetObjectItem(beat, "port")));
    port = pb;
  }
  int n = ip && *ip ? snprintf(tag, cap, "%s:%s", ip, port ? port : "0") : -1;
  cJSON_Delete(beat);
  return n > 0 && (size_t)n < cap;
}

/* ---- the forwarding side ---- */

typedef struct fwd_req {
  nrt_fwd *f;
  nc_http_req *r; /* NULL once the server dropped it */
  nrt_op op;
  int v2;
} fwd_req;

static void on_abort(void *ud, nc_http_req *r) {
  (void)r;
  ((fwd_req *)ud)->r = NULL;
}

static void on_fwd_resp(void *ud, int status, const nc_msg *resp) {
  fwd_req *q = ud;
  nc_http_req *r = q->r;
  if (!r)
    goto out;
  const cJSON *b = resp ? resp->body : NULL;
  const char *content = nc_json_str(b, "content", NULL);
  long long code = nc_json_int(b, "httpStatus", 0);
  if (status || !content || code < 100 || code > 599) {
    /* the owner is unreachable: serve it here, the reconcile hands it over */
    q->f->fallback++;
    nc_warn("naming: forwarding an HTTP %s to its responsible member failed (%s); served here",
            op_names[q->op], status ? nc_strerror(status) : nc_json_str(b, "message", "?"));
    nrt_call c = NRT_HTTP(r, q->v2);
    nc_nrt_write(q->f->nr, &c, q->op);
    goto out;
  }
  nc_http_reply(r, (int)code, nc_json_str(b, "contentType", "text/plain;charset=UTF-8"), content,
                strlen(content));
out:
  free(q);
}

/* Sends the call to owner; 0, or an error (r not answered). */
static int forward(nrt_fwd *f, nc_http_req *r, int v2, nrt_op op, const char *owner) {
  nrt_call c = NRT_HTTP(r, v2);
  cJSON *b = cJSON_CreateObject(), *p = cJSON_AddObjectToObject(b, "params");
  fwd_req *q = calloc(1, sizeof(*q));
  if (!b || !p || !q || nc_json_add_str(b, "op", op_names[op]) ||
      !cJSON_AddBoolToObject(b, "v2", v2)) {
    cJSON_Delete(b);
    free(q);
    return NC_ENOMEM;
  }
  for (size_t i = 0; i < sizeof(fwd_params) / sizeof(fwd_params[0]); i++) {
    const char *v = nc_nrt_cparam(&c, fwd_params[i]);
    if (v && nc_json_add_str(p, fwd_params[i], v)) {
      cJSON_Delete(b);
      free(q);
      return NC_ENOMEM;
    }
  }
  *q = (fwd_req){f, r, op, v2};
  int rc = nc_cluster_send(f->cl, owner, FWD_REQ, b, FWD_TIMEOUT_MS, on_fwd_resp, q);
  if (rc) {
    free(q);
    return rc;
  }
  nc_http_hold_abort(r, on_abort, q);
  f->forwarded++;
  return 0;
}

void nc_nrt_dispatch(nc_nroutes *nr, nc_http_req *r, int v2, nrt_op op) {
  nrt_call c = NRT_HTTP(r, v2);
  char tag[200], owner[300];
  nrt_fwd *f = nr->fwd;
  const char *ua = nc_http_header(r, "User-Agent");
  /* a Java peer's DistroFilter proxied it here: never again */
  int from_peer = ua && !strncmp(ua, "Nacos-Server", 12);
  /* persistent instances (naming_routes_pst.h) are written where they
   * arrive: the store is shared by every member */
  if (!f || from_peer || nc_cluster_is_standalone(f->cl) || !call_tag(&c, tag, sizeof(tag)) ||
      !nc_nrt_to_bool(nc_nrt_cparam(&c, "ephemeral"), 1) ||
      responsible(f, tag, owner, sizeof(owner))) {
    nc_nrt_write(nr, &c, op);
    return;
  }
  svc_ref s;
  if (nc_nrt_cparse_svc(&c, &s) || !nc_nrt_permitted(nr, r, &s, 'w'))
    return;
  int rc = forward(f, r, v2, op, owner);
  if (rc) {
    f->fallback++;
    nc_debug("naming: cannot forward an HTTP %s to %s (%s); served here", op_names[op],
             NC_LOG_ESC(owner), nc_strerror(rc));
    nc_nrt_write(nr, &c, op);
  }
}

/* ---- the responsible side ---- */

static void register_pubs(nrt_fwd *f, const char *id, const cJSON *pubs);

static void h_forward(void *ud, nc_req *req, const nc_msg *m) {
  nrt_fwd *f = ud;
  const char *op_s = nc_json_str(m->body, "op", "");
  if (!strcmp(op_s, OP_ADOPT)) {
    const char *id = nc_json_str(m->body, "id", "");
    const cJSON *pubs = cJSON_GetObjectItemCaseSensitive(m->body, "pubs");
    if (!cJSON_IsArray(pubs) || !*id) {
      nc_req_fail(req, FWD_RESP, 400, "adopt: no id or pubs");
      return;
    }
    register_pubs(f, id, pubs);
    f->adopted++;
    nc_info("naming: HTTP client %s handed over here by %s", NC_LOG_ESC(id),
            NC_LOG_ESC(nc_req_conn_id(req)));
    nc_req_reply(req, FWD_RESP, NULL);
    return;
  }
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(m->body, "params");
  size_t op = 0;
  while (op < sizeof(op_names) / sizeof(op_names[0]) && strcmp(op_names[op], op_s))
    op++;
  if (op == sizeof(op_names) / sizeof(op_names[0]) || !cJSON_IsObject(params)) {
    nc_req_fail(req, FWD_RESP, 400, "unknown op or no params");
    return;
  }
  f->received++;
  nrt_call c = {NULL, params, cJSON_IsTrue(cJSON_GetObjectItem(m->body, "v2")), 500, NULL, NULL,
                req, 0};
  nc_nrt_write(f->nr, &c, (nrt_op)op);
  if (!c.deferred) /* else the route answers later (naming metadata writes) */
    nc_nrt_fwd_answer(req, &c);
}

void nc_nrt_fwd_answer(nc_req *req, nrt_call *c) {
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddNumberToObject(o, "httpStatus", c->body ? c->status : 500) ||
      nc_json_add_str(o, "contentType", c->ctype ? c->ctype : "text/plain;charset=UTF-8") ||
      nc_json_add_str(o, "content", c->body ? c->body : "caused: out of memory;")) {
    cJSON_Delete(o);
    free(c->body);
    c->body = NULL;
    nc_req_fail(req, FWD_RESP, 500, "out of memory");
    return;
  }
  free(c->body);
  c->body = NULL;
  nc_req_reply(req, FWD_RESP, o);
}

static const nc_handler_def fwd_handlers[] = {
    {FWD_REQ, FWD_RESP, h_forward, NC_H_CLUSTER | NC_H_WRITE | NC_H_NAMING},
};

/* ---- reconcile: responsibility moved ---- */

static void add_id(void *ud, const char *id) { cJSON_AddItemToArray(ud, cJSON_CreateString(id)); }

static void add_synced(void *ud, const char *id, int synced, const char *owner, uint64_t rev) {
  (void)owner;
  (void)rev;
  size_t n = strlen(id), k = strlen(SUFFIX);
  if (synced && n > k && !strcmp(id + n - k, SUFFIX))
    add_id(ud, id);
}

/* The tag of a client id ("ip:port#true" -> "ip:port"). */
static const char *id_tag(const char *id, char *buf, size_t cap) {
  size_t n = strlen(id), k = strlen(SUFFIX);
  snprintf(buf, cap, "%.*s", (int)(n > k ? n - k : n), id);
  return buf;
}

static void add_pub(void *ud, const char *ns, const char *group, const char *name,
                    nc_ninst *const *insts, size_t n) {
  for (size_t i = 0; i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    nc_json_add_str(o, "ns", ns);
    nc_json_add_str(o, "group", group);
    nc_json_add_str(o, "name", name);
    cJSON_AddItemToObject(o, "inst", nc_ninst_to_json(insts[i], group, name));
    cJSON_AddItemToArray(ud, o);
  }
}

/* The publications of client id as [{ns, group, name, inst}]; NULL on OOM
 * or for an unknown client. */
static cJSON *client_pubs(nrt_fwd *f, const char *id) {
  cJSON *pubs = cJSON_CreateArray();
  if (pubs && nc_nreg_client_pubs(nc_naming_registry(f->nr->naming), id, NULL, NULL, add_pub,
                                  pubs)) {
    cJSON_Delete(pubs);
    pubs = NULL;
  }
  return pubs;
}

/* Keeps id's instances here with a fresh beat time (native), and bumps
 * the client so Distro re-sends it from its new owner. */
static void register_pubs(nrt_fwd *f, const char *id, const cJSON *pubs) {
  const cJSON *p;
  cJSON_ArrayForEach(p, pubs) {
    const char *err = NULL;
    if (nc_nbeat_register(f->nr->beat, nc_json_str(p, "ns", ""), nc_json_str(p, "group", ""),
                          nc_json_str(p, "name", ""), cJSON_GetObjectItem(p, "inst"), &err))
      nc_warn("naming: adopting %s: %s", NC_LOG_ESC(id), err ? err : "error");
  }
  nc_naming_sync_adopt(f->nr->naming, id);
}

static void adopt(nrt_fwd *f, const char *id) {
  cJSON *pubs = client_pubs(f, id);
  if (!pubs)
    return;
  register_pubs(f, id, pubs);
  cJSON_Delete(pubs);
  f->adopted++;
  nc_info("naming: this member is now responsible for HTTP client %s: adopted", NC_LOG_ESC(id));
}

/* ---- handover: a client held here belongs to another member now ---- */

typedef struct handover {
  nrt_fwd *f;
  char *id, *owner;
} handover;

static void on_handed(void *ud, int status, const nc_msg *resp) {
  handover *h = ud;
  nrt_fwd *f = h->f;
  nc_strmap_del(f->handing, h->id);
  int ok = !status && resp && nc_json_int(resp->body, "resultCode", 0) == 200;
  /* still ours to give (a register may have come meanwhile: it is the
   * owner's too now) */
  if (ok && nc_nbeat_holds(f->nr->beat, h->id)) {
    nc_nbeat_release(f->nr->beat, h->id);
    nc_naming_sync_demote(f->nr->naming, h->id, h->owner);
    f->released++;
    nc_info("naming: HTTP client %s handed over to %s", NC_LOG_ESC(h->id), NC_LOG_ESC(h->owner));
  } else if (!ok) {
    nc_debug("naming: handing %s to %s failed (%s); retried", NC_LOG_ESC(h->id),
             NC_LOG_ESC(h->owner), status ? nc_strerror(status) : "refused");
  }
  free(h->id);
  free(h->owner);
  free(h);
}

/* Sends id's instances to owner; released here once it took them. */
static void hand_over(nrt_fwd *f, const char *id, const char *owner) {
  if (nc_strmap_get(f->handing, id))
    return;
  cJSON *b = cJSON_CreateObject(), *pubs = client_pubs(f, id);
  handover *h = calloc(1, sizeof(*h));
  if (!b || !pubs || !h || nc_json_add_str(b, "op", OP_ADOPT) || nc_json_add_str(b, "id", id) ||
      !(h->id = strdup(id)) || !(h->owner = strdup(owner)) ||
      nc_strmap_put(f->handing, id, (void *)1, NULL)) {
    cJSON_Delete(b);
    cJSON_Delete(pubs);
    if (h) {
      free(h->id);
      free(h->owner);
    }
    free(h);
    return;
  }
  cJSON_AddItemToObject(b, "pubs", pubs);
  h->f = f;
  if (nc_cluster_send(f->cl, owner, FWD_REQ, b, FWD_TIMEOUT_MS, on_handed, h)) {
    nc_strmap_del(f->handing, id);
    free(h->id);
    free(h->owner);
    free(h);
  }
}

static void reconcile(nrt_fwd *f) {
  if (nc_cluster_is_standalone(f->cl))
    return;
  cJSON *held = cJSON_CreateArray(), *synced = cJSON_CreateArray();
  const cJSON *it;
  char tag[300], owner[300];
  if (!held || !synced)
    goto out;
  nc_nbeat_each_client(f->nr->beat, add_id, held);
  cJSON_ArrayForEach(it, held) {
    const char *id = it->valuestring;
    if (!responsible(f, id_tag(id, tag, sizeof(tag)), owner, sizeof(owner)))
      hand_over(f, id, owner);
  }
  nc_nreg_each_client(nc_naming_registry(f->nr->naming), 0, NULL, add_synced, synced);
  cJSON_ArrayForEach(it, synced) {
    if (responsible(f, id_tag(it->valuestring, tag, sizeof(tag)), owner, sizeof(owner)))
      adopt(f, it->valuestring);
  }
out:
  cJSON_Delete(held);
  cJSON_Delete(synced);
}

static void on_member(void *ud, const nc_member_info *m, nc_member_state old) {
  (void)m;
  (void)old;
  reconcile(ud);
}

static void on_tick(uv_timer_t *t) { reconcile(t->data); }

int nc_nroutes_set_cluster(nc_nroutes *nr, uv_loop_t *loop, nc_srv *srv, nc_cluster *cl) {
  if (nr->fwd)
    return NC_EINVAL;
  nrt_fwd *f = calloc(1, sizeof(*f));
  if (!f)
    return NC_ENOMEM;
  f->nr = nr;
  f->cl = cl;
  nr->srv = srv;
  if (!(f->handing = nc_strmap_new())) {
    free(f);
    return NC_ENOMEM;
  }
  int rc = NC_SRV_HANDLERS(srv, fwd_handlers, f);
  if (!rc)
    rc = nc_cluster_add_member_listener(cl, on_member, f);
  if (!rc)
    rc = nc_nrt_meta_cluster(nr, srv, cl);
  if (rc) {
    nc_strmap_free(f->handing, NULL);
    free(f);
    return rc;
  }
  uv_timer_init(loop, &f->timer);
  f->timer.data = f;
  if (!nc_cluster_is_standalone(cl))
    uv_timer_start(&f->timer, on_tick, RECONCILE_MS, RECONCILE_MS);
  uv_unref((uv_handle_t *)&f->timer);
  nr->fwd = f;
  return 0;
}

static void on_closed(uv_handle_t *h) {
  nrt_fwd *f = h->data;
  nc_strmap_free(f->handing, NULL);
  free(f);
}

void nc_nrt_fwd_free(nrt_fwd *f) {
  if (!f)
    return;
  uv_timer_stop(&f->timer);
  uv_close((uv_handle_t *)&f->timer, on_closed);
}

void nc_nroutes_fwd_stats(const nc_nroutes *nr, nc_metrics_text *t) {
  const nrt_fwd *f = nr ? nr->fwd : NULL;
  if (!f)
    return;
  nc_metrics_add(t, "nacosd_", "naming_http_forwarded_total",
                 "HTTP instance writes forwarded to their responsible member.", f->forwarded);
  nc_metrics_add(t, "nacosd_", "naming_http_forward_received_total",
                 "HTTP instance writes a member forwarded here (responsible).", f->received);
  nc_metrics_add(t, "nacosd_", "naming_http_forward_fallback_total",
                 "HTTP instance writes served here: their responsible member was unreachable.",
                 f->fallback);
  nc_metrics_add(t, "nacosd_", "naming_http_adopted_total",
                 "HTTP clients adopted: this member became responsible.", f->adopted);
  nc_metrics_add(t, "nacosd_", "naming_http_released_total",
                 "HTTP clients released to the member now responsible.", f->released);
}
