/* srv_rpc: the server core's request/push half (see srv_rpc.h): transport
 * events arrive from the completion-queue threads through nc_evq, unary
 * requests are dispatched to handlers, pushes go out on the bidi stream
 * and acks are matched by (connection, requestId). Loop thread only, except
 * on_transport_event, which runs on a completion-queue thread and only
 * queues. */
#include "srv_priv.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 100

uint64_t nc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uv_loop_t *nc_srv_loop(nc_srv *srv) { return srv->loop; }
const nc_srv_stats *nc_srv_get_stats(nc_srv *srv) { return &srv->st; }

/* ---- pushes ---- */

static void dl_unlink(nc_srv *srv, nc_pend *p) {
  if (p->prev)
    p->prev->next = p->next;
  else
    srv->dl_head = p->next;
  if (p->next)
    p->next->prev = p->prev;
  else
    srv->dl_tail = p->prev;
  p->prev = p->next = NULL;
}

/* Deadlines are nearly always appended in order (one timeout per kind), so
 * the insertion walks from the tail. */
static void dl_insert(nc_srv *srv, nc_pend *p) {
  nc_pend *at = srv->dl_tail;
  while (at && at->deadline > p->deadline)
    at = at->prev;
  p->prev = at;
  p->next = at ? at->next : srv->dl_head;
  if (p->next)
    p->next->prev = p;
  else
    srv->dl_tail = p;
  if (at)
    at->next = p;
  else
    srv->dl_head = p;
}

void nc_srv_pend_resolve(nc_srv *srv, nc_pend *p, nc_push_result res) {
  dl_unlink(srv, p);
  nc_strmap_del(p->conn->pending, p->reqid);
  switch (res) {
  case NC_PUSH_ACKED: srv->st.pushes_acked++; break;
  case NC_PUSH_NACKED: srv->st.pushes_nacked++; break;
  case NC_PUSH_TIMEOUT: srv->st.pushes_timeout++; break;
  case NC_PUSH_GONE: srv->st.pushes_gone++; break;
  case NC_PUSH_BUSY: srv->st.pushes_busy++; break;
  }
  /* Copy: the callback may drop the connection. */
  char cid[160];
  snprintf(cid, sizeof(cid), "%s", p->conn->id);
  nc_push_cb cb = p->cb;
  void *ud = p->ud;
  free(p);
  cb(ud, cid, res);
}

int nc_srv_push_raw(nc_srv *srv, const char *conn_id, const char *type, const char *json,
                    size_t len, int timeout_ms, nc_push_cb cb, void *ud) {
  nc_conn *c = nc_strmap_get(srv->conns, conn_id);
  if (!c || srv->shut)
    return NC_ECLOSED;
  if (len < 2 || json[0] != '{')
    return NC_EINVAL;
  nc_pend *p = calloc(1, sizeof(*p));
  if (!p)
    return NC_ENOMEM;
  snprintf(p->reqid, sizeof(p->reqid), "%llu", (unsigned long long)++srv->push_seq);
  /* {"requestId":"N", + rest of the object (or "}" when it was empty) */
  size_t cap = len + 48, n;
  char *buf = malloc(cap);
  uint8_t *out = NULL;
  size_t out_len = 0;
  int rc = NC_ENOMEM;
  if (!buf)
    goto fail;
  const char *rest = json + 1;
  while (*rest == ' ' || *rest == '\n' || *rest == '\t' || *rest == '\r')
    rest++;
  n = (size_t)snprintf(buf, cap, "{\"requestId\":\"%s\"%s", p->reqid, *rest == '}' ? "" : ",");
  memcpy(buf + n, rest, len - (size_t)(rest - json));
  n += len - (size_t)(rest - json);
  rc = nc_payload_encode(type, "", NULL, 0, buf, n, &out, &out_len);
  free(buf);
  if (rc)
    goto fail;
  if (nc_strmap_put(c->pending, p->reqid, p, NULL)) {
    free(out);
    rc = NC_ENOMEM;
    goto fail;
  }
  p->conn = c;
  p->cb = cb;
  p->ud = ud;
  p->deadline = uv_now(srv->loop) + (uint64_t)(timeout_ms > 0 ? timeout_ms : 5000);
  dl_insert(srv, p);
  if (srv->ob) {
    /* the outbox owns out from here; a refusal comes back via on_send_failed */
    nc_outbox_send(srv->ob, c->g, c->stream_id, c->id, p->reqid, out, out_len);
  } else {
    rc = nc_gsrv_stream_send(c->g, c->stream_id, out, out_len);
    free(out);
    if (rc) {
      if (rc == NC_EBUSY)
        srv->st.pushes_busy++;
      dl_unlink(srv, p);
      nc_strmap_del(c->pending, p->reqid);
      goto fail;
    }
  }
  srv->st.pushes_sent++;
  return 0;
fail:
  free(p);
  return rc;
}

/* The transport refused a queued push (stream gone or its queue full):
 * resolve it as BUSY so its owner retries; a gone connection is
 * unregistered by its STREAM_CLOSED event anyway. */
static void on_send_failed(void *ud, const char *conn_id, const char *reqid, int rc) {
  nc_srv *srv = ud;
  nc_conn *c = nc_strmap_get(srv->conns, conn_id);
  nc_pend *p = c ? nc_strmap_get(c->pending, reqid) : NULL;
  (void)rc;
  if (p)
    nc_srv_pend_resolve(srv, p, NC_PUSH_BUSY);
}

int nc_srv_push(nc_srv *srv, const char *conn_id, const char *type, cJSON *body, int timeout_ms,
                nc_push_cb cb, void *ud) {
  char *json = body ? cJSON_PrintUnformatted(body) : strdup("{}");
  cJSON_Delete(body);
  if (!json)
    return NC_ENOMEM;
  int rc = nc_srv_push_raw(srv, conn_id, type, json, strlen(json), timeout_ms, cb, ud);
  free(json);
  return rc;
}

/* ---- transport events ---- */

void nc_srv_peer_key(char *buf, size_t cap, nc_srv *srv, const nc_gsrv_ev *ev) {
  snprintf(buf, cap, "%d|%s", ev->srv == srv->g[1] ? 1 : 0, ev->peer);
}

static int is_response(const nc_msg *m) {
  size_t n = strlen(m->type);
  return (n > 8 && strcmp(m->type + n - 8, "Response") == 0) ||
         (m->body && cJSON_HasObjectItem(m->body, "resultCode"));
}

static void handle_stream_msg(nc_srv *srv, nc_stream *s, nc_gsrv_ev *ev) {
  nc_msg *m = NULL;
  /* Stream messages (setup, acks) are bounded like unary bodies on the SDK
   * port (srv_dispatch.c); one over the bound is dropped unparsed. */
  size_t max_body = ev->srv == srv->g[1] ? 0 : srv->o.max_body_bytes;
  if (nc_payload_decode_max(ev->data, ev->len, max_body, &m) != 0) {
    nc_debug("stream %llu: undecodable payload ignored", (unsigned long long)s->id);
    return;
  }
  if (m->body_error == 2) {
    if (nc_cm_log_this(++srv->st.requests_too_large))
      nc_warn("stream %llu: %s of %zu bytes dropped: over --grpc-max-body-bytes (%zu)",
              (unsigned long long)s->id, NC_LOG_ESC(m->type), m->body_len, max_body);
    nc_msg_free(m);
    return;
  }
  if (!s->conn) {
    if (s->closing) {
      nc_debug("stream %llu: %s after its close ignored", (unsigned long long)s->id, m->type);
    } else if (strcmp(m->type, "ConnectionSetupRequest") != 0 || m->body_error) {
      nc_debug("stream %llu: %s before setup ignored", (unsigned long long)s->id, m->type);
    } else {
      int rc = nc_cm_register(srv, s, ev->peer, m);
      if (rc != 0) {
        if (rc != NC_EBUSY) /* the cap logs its own refusals */
          nc_warn("stream %llu: registration failed: %s", (unsigned long long)s->id,
                  nc_strerror(rc));
        nc_gsrv_stream_close(s->g, s->id);
      }
    }
    goto out;
  }
  nc_cm_touch(s->conn);
  if (!m->body_error && is_response(m)) {
    const char *rid = nc_json_str(m->body, "requestId", "");
    nc_pend *p = nc_strmap_get(s->conn->pending, rid);
    if (p)
      nc_srv_pend_resolve(srv, p,
                          nc_json_int(m->body, "resultCode", 500) == 200 ? NC_PUSH_ACKED
                                                                         : NC_PUSH_NACKED);
    else
      nc_debug("conn %s: late/unknown ack %s", s->conn->id, rid);
  } else {
    nc_debug("conn %s: unexpected %s on stream ignored", s->conn->id, m->type);
  }
out:
  nc_msg_free(m);
}

static void on_event(void *ud, nc_evq_node *node) {
  nc_srv *srv = ud;
  nc_gsrv_ev *ev = (nc_gsrv_ev *)node;
  char sk[24];
  snprintf(sk, sizeof(sk), "%llu", (unsigned long long)ev->stream_id);
  switch (ev->type) {
  case NC_GSRV_EV_UNARY:
    nc_srv_dispatch_unary(srv, ev);
    break;
  case NC_GSRV_EV_STREAM_OPEN: {
    nc_stream *s = calloc(1, sizeof(*s));
    char pk[128];
    nc_srv_peer_key(pk, sizeof(pk), srv, ev);
    if (!s || !(s->peer_key = strdup(pk)) || nc_strmap_put(srv->streams, sk, s, NULL)) {
      if (s)
        free(s->peer_key);
      free(s);
      nc_gsrv_stream_close(ev->srv, ev->stream_id);
      break;
    }
    s->g = ev->srv;
    s->id = ev->stream_id;
    s->opened_ms = uv_now(srv->loop);
    /* Streams that have not set up yet, per transport: an SDK opens one
     * and sets it up at once; thousands on one connection are an attack. */
    if (srv->o.max_pending_streams > 0 &&
        nc_cm_count(srv->pending_streams, pk) >= (size_t)srv->o.max_pending_streams) {
      s->closing = 1;
      srv->st.streams_rejected++;
      if (nc_cm_log_this(srv->st.streams_rejected))
        nc_warn("stream %llu from %s closed: %d streams without a setup already (%llu so far)",
                (unsigned long long)s->id, ev->peer, srv->o.max_pending_streams,
                (unsigned long long)srv->st.streams_rejected);
      nc_gsrv_stream_close(ev->srv, ev->stream_id);
      break;
    }
    nc_cm_count_adj(srv->pending_streams, pk, 1);
    s->pending = 1;
    break;
  }
  case NC_GSRV_EV_STREAM_MSG: {
    nc_stream *s = nc_strmap_get(srv->streams, sk);
    if (s)
      handle_stream_msg(srv, s, ev);
    break;
  }
  case NC_GSRV_EV_STREAM_CLOSED: {
    nc_stream *s = nc_strmap_del(srv->streams, sk);
    if (s) {
      nc_cm_stream_unpend(srv, s);
      if (s->conn)
        nc_cm_unregister(srv, s->conn, 0, "stream closed");
      free(s->peer_key);
      free(s);
    }
    break;
  }
  }
  nc_gsrv_ev_free(ev);
}

/* An event the loop will never see (the queue is closed): a unary call
 * still gets its answer, so the client does not wait for a timeout. Any
 * thread. */
static void refuse_stopping(nc_gsrv_ev *ev) {
  if (ev->type == NC_GSRV_EV_UNARY) {
    uint8_t *buf = NULL;
    size_t len = 0;
    nc_payload_error(300, "Server is stopping", &buf, &len);
    nc_gsrv_unary_reply(ev->call, buf ? buf : (const uint8_t *)"", buf ? len : 0);
    free(buf);
  }
  nc_gsrv_ev_free(ev);
}

/* Completion-queue thread: queue only. */
static void on_transport_event(void *ud, nc_gsrv_ev *ev) {
  nc_srv *srv = ud;
  if (nc_evq_push(srv->q, &ev->node) != 0)
    refuse_stopping(ev);
}

/* Completion-queue thread: a burst goes to the loop with one lock and at
 * most one wake-up. */
static void on_transport_batch(void *ud, nc_gsrv_ev *first) {
  nc_srv *srv = ud;
  nc_evq_node *last = &first->node;
  while (last->next)
    last = last->next;
  if (nc_evq_push_list(srv->q, &first->node, last) == 0)
    return;
  for (nc_evq_node *n = &first->node, *nx; n; n = nx) {
    nx = n->next;
    refuse_stopping((nc_gsrv_ev *)n);
  }
}

static void drop_queued(nc_evq_node *node) { refuse_stopping((nc_gsrv_ev *)node); }

/* ---- lifecycle ---- */

static void stream_free(void *v) {
  nc_stream *s = v;
  free(s->peer_key);
  free(s);
}

static void on_tick(uv_timer_t *t) { nc_cm_tick(t->data); }
static void on_tick_closed(uv_handle_t *h) { free(h->data); }

int nc_srv_new(uv_loop_t *loop, const nc_srv_opts *opts, nc_srv **out) {
  nc_srv *srv = calloc(1, sizeof(*srv));
  if (!srv)
    return NC_ENOMEM;
  srv->loop = loop;
  srv->o = *opts;
  srv->bind = strdup(opts->bind ? opts->bind : "0.0.0.0");
  srv->o.bind = srv->bind;
  if (srv->o.idle_probe_ms <= 0)
    srv->o.idle_probe_ms = 20000;
  if (srv->o.probe_timeout_ms <= 0)
    srv->o.probe_timeout_ms = 5000;
  if (!srv->bind || !(srv->conns = nc_strmap_new()) || !(srv->peers = nc_strmap_new()) ||
      !(srv->streams = nc_strmap_new()) || !(srv->handlers = nc_strmap_new()) ||
      !(srv->pending_streams = nc_strmap_new()) || !(srv->conns_by_ip = nc_strmap_new()) ||
      nc_evq_new(loop, on_event, srv, &srv->q))
    goto nomem;
  if (opts->send_thread && nc_outbox_new(loop, on_send_failed, srv, &srv->ob) != 0)
    goto nomem;
  uv_timer_init(loop, &srv->tick);
  srv->tick.data = srv;
  srv->load_target = -1;
  if (nc_srv_dispatch_init(srv))
    goto nomem;
  *out = srv;
  return 0;
nomem:
  if (srv->q)
    nc_evq_close(srv->q, NULL);
  nc_strmap_free(srv->conns, NULL);
  nc_strmap_free(srv->peers, NULL);
  nc_strmap_free(srv->streams, NULL);
  nc_strmap_free(srv->handlers, NULL);
  nc_strmap_free(srv->pending_streams, NULL);
  nc_strmap_free(srv->conns_by_ip, NULL);
  free(srv->bind);
  free(srv);
  return NC_ENOMEM;
}

int nc_srv_start(nc_srv *srv, int *grpc_port, int *cluster_port) {
  nc_gsrv_opts go = {.host = srv->bind, .port = srv->o.grpc_port, .threads = srv->o.grpc_threads,
                     .tls = srv->o.tls_sdk, .tls_plaintext = srv->o.tls_plaintext,
                     .tls_handshake_timeout_ms = srv->o.tls_handshake_timeout_ms,
                     .on_batch = on_transport_batch};
  int rc = nc_gsrv_start(&go, on_transport_event, srv, &srv->g[0], grpc_port);
  srv->ports[0] = *grpc_port;
  if (rc) {
    nc_error("cannot listen on %s:%d for SDK gRPC: %s", srv->bind, srv->o.grpc_port,
             nc_strerror(rc));
    return rc;
  }
  *cluster_port = -1;
  if (srv->o.cluster_port >= 0) {
    go.port = srv->o.cluster_port;
    go.tls = srv->o.tls_cluster; /* members only: never plain text beside it */
    go.tls_plaintext = 0;
    rc = nc_gsrv_start(&go, on_transport_event, srv, &srv->g[1], cluster_port);
    srv->ports[1] = *cluster_port;
    if (rc) {
      nc_error("cannot listen on %s:%d for cluster gRPC: %s", srv->bind, srv->o.cluster_port,
               nc_strerror(rc));
      return rc;
    }
  }
  uv_timer_start(&srv->tick, on_tick, TICK_MS, TICK_MS);
  return 0;
}

void nc_srv_drop_all(nc_srv *srv) {
  /* Unregistering can drop more than the current entry: restart each time. */
  for (;;) {
    nc_strmap_iter it;
    void *cv;
    nc_strmap_iter_init(&it, srv->conns);
    if (!nc_strmap_iter_next(&it, NULL, &cv))
      break;
    nc_cm_unregister(srv, cv, 0, "server stopping");
  }
}

void nc_srv_shutdown(nc_srv *srv) {
  if (srv->shut)
    return;
  nc_srv_drop_all(srv);
  srv->shut = 1;
  /* The sender thread writes to the transports: stop it first. */
  nc_outbox_free(srv->ob);
  srv->ob = NULL;
  /* Close the queue first (queued unary calls get an error reply), then
   * stop the transports: their threads see ECLOSED and answer directly. */
  nc_evq_close(srv->q, drop_queued);
  for (int i = 0; i < 2; i++) {
    if (srv->g[i])
      nc_gsrv_stop(srv->g[i]);
    srv->g[i] = NULL;
  }
  uv_timer_stop(&srv->tick);
  nc_srv_drop_all(srv); /* nothing new can have registered; be safe */
}

void nc_srv_free(nc_srv *srv) {
  if (!srv)
    return;
  nc_srv_shutdown(srv);
  nc_strmap_free(srv->streams, stream_free);
  nc_strmap_free(srv->handlers, free);
  nc_cm_free_all(srv);
  nc_strmap_free(srv->conns, NULL);
  nc_strmap_free(srv->peers, NULL);
  nc_strmap_free(srv->pending_streams, NULL);
  nc_strmap_free(srv->conns_by_ip, NULL);
  free(srv->listeners);
  free(srv->tickfns);
  free(srv->load_redirect);
  free(srv->bind);
  /* the timer handle is embedded: free the struct in its close callback */
  srv->tick.data = srv;
  uv_close((uv_handle_t *)&srv->tick, on_tick_closed);
}
