/* srv_dispatch: unary requests from decoding to the handler and back (see
 * srv_rpc.h, "unary requests"). Handlers come in tables; the checks their
 * flags ask for are made here, once, so no handler repeats them. Every
 * refusal (by the core or by a handler) gets a log line naming the
 * connection and the reason, rate-limited so a client that loops on a bad
 * request cannot flood the journal. Loop thread only. */
#include "srv_priv.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nc_req {
  nc_srv *srv;
  nc_gsrv_unary *call;
  const nc_handler *h; /* its table row: type and response type */
  char conn_id[];
};

/* ---- refusal log lines ---- */

/* At most REJECT_BURST lines per second; the rest are counted and summed
 * up in one line when the next second starts. */
#define REJECT_BURST 20

static void log_reject(nc_srv *srv, const char *conn_id, const char *type, int code,
                       const char *msg) {
  uint64_t sec = uv_now(srv->loop) / 1000;
  if (sec != srv->reject_sec) {
    if (srv->reject_suppressed)
      nc_warn("request refusals: %llu more line(s) suppressed",
              (unsigned long long)srv->reject_suppressed);
    srv->reject_sec = sec;
    srv->reject_lines = 0;
    srv->reject_suppressed = 0;
  }
  if (srv->reject_lines >= REJECT_BURST) {
    srv->reject_suppressed++;
    return;
  }
  srv->reject_lines++;
  nc_warn("conn %s: %s refused (%d): %s", conn_id && *conn_id ? conn_id : "-", NC_LOG_ESC(type),
          code, NC_LOG_ESC(msg));
}

/* ---- replies ---- */

nc_conn *nc_req_conn(nc_req *r) { return nc_strmap_get(r->srv->conns, r->conn_id); }
const char *nc_req_conn_id(const nc_req *r) { return r->conn_id; }
nc_srv *nc_req_srv(nc_req *r) { return r->srv; }

static void reply_bytes(nc_gsrv_unary *call, uint8_t *buf, size_t len) {
  if (buf)
    nc_gsrv_unary_reply(call, buf, len);
  else
    nc_gsrv_unary_reply(call, (const uint8_t *)"", 0); /* OOM: release the call */
  free(buf);
}

static void reply_error(nc_srv *srv, nc_gsrv_unary *call, int code, const char *msg) {
  uint8_t *buf = NULL;
  size_t len = 0;
  srv->st.request_errors++;
  nc_payload_error(code, msg, &buf, &len);
  reply_bytes(call, buf, len);
}

/* A refusal before any handler ran. */
static void refuse(nc_srv *srv, nc_gsrv_unary *call, const char *conn_id, const char *type,
                   int code, const char *msg) {
  log_reject(srv, conn_id, type, code, msg);
  reply_error(srv, call, code, msg);
}

void nc_req_reply(nc_req *r, const char *resp_type, cJSON *body) {
  uint8_t *buf = NULL;
  size_t len = 0;
  if (!resp_type)
    resp_type = r->h->def.resp_type;
  if (!body)
    body = nc_resp_ok();
  if (body) {
    if (!cJSON_HasObjectItem(body, "resultCode"))
      cJSON_AddNumberToObject(body, "resultCode", 200);
    if (!cJSON_HasObjectItem(body, "errorCode"))
      cJSON_AddNumberToObject(body, "errorCode", 0);
    if (!cJSON_HasObjectItem(body, "success"))
      cJSON_AddBoolToObject(body, "success", nc_json_int(body, "resultCode", 500) == 200);
    if (nc_json_int(body, "resultCode", 500) != 200) {
      r->srv->st.request_errors++;
      /* A refusal (bad input, conflict, failure) gets a line; a normal
       * negative answer such as 300 "config data not exist" does not. */
      int ec = (int)nc_json_int(body, "errorCode", 0);
      if (ec >= 400 || ec < 0)
        log_reject(r->srv, r->conn_id, r->h->def.type, ec, nc_json_str(body, "message", ""));
    }
    nc_payload_encode_json(resp_type, "", body, &buf, &len);
    cJSON_Delete(body);
  }
  reply_bytes(r->call, buf, len);
  free(r);
}

int nc_srv_encode_splice(const char *resp_type, const char *message, const char *key,
                         const char *json, size_t len, uint8_t **out, size_t *out_len) {
  /* message and key are server constants (no escaping needed) */
  size_t cap = len + strlen(key) + (message ? strlen(message) : 0) + 96;
  char *b = malloc(cap);
  int rc = NC_ENOMEM;
  *out = NULL;
  *out_len = 0;
  if (b) {
    int h = snprintf(b, cap, "{\"resultCode\":200,\"errorCode\":0,\"success\":true%s%s%s,\"%s\":",
                     message ? ",\"message\":\"" : "", message ? message : "", message ? "\"" : "",
                     key);
    memcpy(b + h, json, len);
    b[(size_t)h + len] = '}';
    rc = nc_payload_encode(resp_type, "", NULL, 0, b, (size_t)h + len + 1, out, out_len);
    free(b);
  }
  return rc;
}

void nc_req_reply_splice(nc_req *r, const char *resp_type, const char *message, const char *key,
                         const char *json, size_t len) {
  uint8_t *buf = NULL;
  size_t out_len = 0;
  nc_srv_encode_splice(resp_type ? resp_type : r->h->def.resp_type, message, key, json, len, &buf,
                       &out_len);
  reply_bytes(r->call, buf, out_len);
  free(r);
}

void nc_req_reply_encoded(nc_req *r, const uint8_t *buf, size_t len) {
  nc_gsrv_unary_reply(r->call, buf, len);
  free(r);
}

void nc_req_fail(nc_req *r, const char *resp_type, int error_code, const char *message) {
  nc_req_reply(r, resp_type, nc_resp_new(500, error_code, message));
}

void nc_req_error(nc_req *r, int error_code, const char *message) {
  log_reject(r->srv, r->conn_id, r->h->def.type, error_code, message);
  reply_error(r->srv, r->call, error_code, message);
  free(r);
}

/* ---- handler tables ---- */

int nc_srv_register_handlers(nc_srv *srv, const nc_handler_def *tab, size_t n, void *ud) {
  for (size_t i = 0; i < n; i++) {
    nc_handler *h = calloc(1, sizeof(*h));
    void *old = NULL;
    if (!h)
      return NC_ENOMEM;
    h->def = tab[i];
    h->ud = ud;
    if (nc_strmap_put(srv->handlers, tab[i].type, h, &old)) {
      free(h);
      return NC_ENOMEM;
    }
    if (old)
      nc_warn("handler for %s registered twice; the later one wins", tab[i].type);
    free(old);
  }
  return 0;
}

void nc_srv_each_request_count(nc_srv *srv, void (*fn)(void *ud, const char *type, uint64_t n),
                               void *ud) {
  nc_strmap_iter it;
  const char *type;
  void *hv;
  nc_strmap_iter_init(&it, srv->handlers);
  while (nc_strmap_iter_next(&it, &type, &hv))
    fn(ud, type, ((nc_handler *)hv)->count);
  fn(ud, "unknown", srv->unknown_count);
}

/* HealthCheckRequest: the SDKs' liveness check of their connection. An
 * unregistered connection gets 301 from the NC_H_CONN check, which is how
 * a client learns it must reconnect. */
static void h_health(void *ud, nc_req *r, const nc_msg *req) {
  (void)ud;
  (void)req;
  nc_req_reply(r, NULL, NULL);
}

static const nc_handler_def core_handlers[] = {
    {"HealthCheckRequest", "HealthCheckResponse", h_health, NC_H_CONN},
};

int nc_srv_dispatch_init(nc_srv *srv) {
  return nc_srv_register_handlers(srv, core_handlers,
                                  sizeof(core_handlers) / sizeof(core_handlers[0]), NULL);
}

/* ---- dispatch ---- */

/* ServerCheckRequest comes before any connection exists (its answer names
 * the connection id the stream will get), so it is no table entry. */
void nc_srv_set_serve_gate(nc_srv *srv, int (*fn)(void *ud), void *ud) {
  srv->serve_gate = fn;
  srv->serve_gate_ud = ud;
}

void nc_srv_set_auth(nc_srv *srv, nc_srv_auth_fn fn, void *ud) {
  srv->auth = fn;
  srv->auth_ud = ud;
}

void nc_srv_set_peer_check(nc_srv *srv, nc_srv_peer_fn fn, void *ud) {
  srv->peer_check = fn;
  srv->peer_check_ud = ud;
}

static void server_check(nc_srv *srv, nc_gsrv_ev *ev, const char *pk) {
  /* Not ready (cluster.h readiness): SDKs take 300 as "try another
   * server"; peers on the cluster port are always answered. */
  if (ev->srv != srv->g[1] && srv->serve_gate && !srv->serve_gate(srv->serve_gate_ud)) {
    refuse(srv, ev->call, NULL, "ServerCheckRequest", 300, "server is starting");
    return;
  }
  /* At the connection cap or limit (srv_limits.c): refused before any
   * stream exists, so the SDK takes its next server at once. */
  const char *which = NULL;
  if (ev->srv != srv->g[1] && nc_cm_over_limit(srv, &which)) {
    if (which[0] == 'c')
      srv->st.conns_rejected++;
    else
      srv->st.checks_rejected_limit++;
    refuse(srv, ev->call, NULL, "ServerCheckRequest", 503, "over connection limit");
    return;
  }
  nc_peer *p = nc_cm_peer(srv, pk, ev->peer, 1);
  cJSON *b = nc_resp_ok();
  uint8_t *buf = NULL;
  size_t len = 0;
  if (p && b) {
    p->seen_ms = nc_now_ms();
    cJSON_AddStringToObject(b, "connectionId", p->conn ? p->conn->id : p->conn_id);
    /* true, as 2.3+/3.x servers say: a client that sends an abilityTable
     * then waits for the SetupAck nacosd sends it (srv_ability.c); Go v2.x
     * and Python 2.0.x ignore the field (§4.5). */
    cJSON_AddBoolToObject(b, "supportAbilityNegotiation", 1);
    nc_payload_encode_json("ServerCheckResponse", "", b, &buf, &len);
  }
  cJSON_Delete(b);
  if (buf)
    reply_bytes(ev->call, buf, len);
  else
    reply_error(srv, ev->call, 500, "out of memory");
}

void nc_srv_dispatch_unary(nc_srv *srv, nc_gsrv_ev *ev) {
  nc_msg *m = NULL;
  nc_req *r = NULL;
  char pk[128];
  int cluster_port = ev->srv == srv->g[1];
  srv->st.requests++;
  /* The body is bounded before cJSON sees it: a parse tree costs many
   * times the text. Members on the cluster port are not bounded (a Distro
   * snapshot chunk or a synced config may be large; they proved who they
   * are). */
  size_t max_body = cluster_port ? 0 : srv->o.max_body_bytes;
  if (nc_payload_decode_max(ev->data, ev->len, max_body, &m) != 0) {
    refuse(srv, ev->call, NULL, "-", 502, "payload could not be parsed");
    return;
  }
  nc_srv_peer_key(pk, sizeof(pk), srv, ev);
  if (strcmp(m->type, "ServerCheckRequest") == 0) {
    server_check(srv, ev, pk);
    goto out;
  }
  nc_handler *h = nc_strmap_get(srv->handlers, m->type);
  nc_peer *p = nc_cm_peer(srv, pk, ev->peer, 0);
  const char *cid = p && p->conn ? p->conn->id : NULL;
  /* The cluster port serves members only: they prove it with the server
   * identity header (Nacos's serverIdentity) on every request. */
  if (cluster_port && srv->peer_check && !srv->peer_check(srv->peer_check_ud, m)) {
    refuse(srv, ev->call, cid, m->type, 403, "server identity required");
    goto out;
  }
  /* A cluster-only type on the SDK port is answered as if unknown: SDK
   * clients must not learn the peer protocol from it. */
  if (!h || ((h->def.flags & NC_H_CLUSTER) && !cluster_port)) {
    srv->unknown_count++;
    refuse(srv, ev->call, cid, m->type, 302, "RequestHandler Not Found");
    goto out;
  }
  h->count++;
  if ((h->def.flags & NC_H_CONN) && !cid) {
    /* A HealthCheck before the setup completed is how a client waits for
     * its registration (nc_wc does): an answer, not a refusal to log. */
    if (strcmp(m->type, "HealthCheckRequest") == 0)
      reply_error(srv, ev->call, 301, "Connection is unregistered.");
    else
      refuse(srv, ev->call, NULL, m->type, 301, "Connection is unregistered.");
    goto out;
  }
  if (m->body_error == 2) {
    char msg[128];
    srv->st.requests_too_large++;
    snprintf(msg, sizeof(msg), "request body too large: %zu bytes, the limit is %zu", m->body_len,
             max_body);
    refuse(srv, ev->call, cid, m->type, 413, msg);
    goto out;
  }
  if (m->body_error) {
    refuse(srv, ev->call, cid, m->type, 400, "request body is not a JSON object");
    goto out;
  }
  if (h->def.flags & NC_H_WRITE)
    srv->st.writes++;
  if (p && p->conn)
    nc_cm_touch(p->conn);
  if (nc_log_current_level >= NC_LOG_TRACE) {
    char *js = m->body ? cJSON_PrintUnformatted(m->body) : NULL;
    nc_trace("conn %s: %s %s", cid ? cid : "-", m->type, js ? js : "(no body)");
    free(js);
  }
  size_t idl = cid ? strlen(cid) : 0;
  r = malloc(sizeof(*r) + idl + 1);
  if (!r) {
    reply_error(srv, ev->call, 500, "out of memory");
    goto out;
  }
  r->srv = srv;
  r->call = ev->call;
  r->h = h;
  memcpy(r->conn_id, cid ? cid : "", idl + 1);
  /* Credentials last: a request the core refuses anyway costs no check. */
  if (srv->auth && !cluster_port && strcmp(m->type, "HealthCheckRequest") != 0) {
    const char *why = NULL;
    int code = srv->auth(srv->auth_ud, m, h->def.flags, &why);
    if (code) {
      nc_req_fail(r, NULL, code, why ? why : "authorization failed!");
      goto out;
    }
  }
  h->def.fn(h->ud, r, m);
out:
  nc_msg_free(m);
}
