/* nc_gsrv: gRPC C-core server for the two Nacos methods.
 *
 * Design notes
 * - One completion queue per thread; every call is bound to the queue its
 *   request was posted on, so all completions of one call run on one thread
 *   (receive-side batches are therefore serialised for free). The queues
 *   and their threads are one pool for the whole process, shared by every
 *   server (SDK and cluster port): with the epoll1 poller an idle port's
 *   thread would otherwise poll the busy port's sockets and hand each
 *   request over with a futex wake (measured: ~1 extra context switch per
 *   register). The pool lives while any server does.
 * - Send-side batches (messages, status) may be started from any thread
 *   (owner replies/pushes, or the CQ thread chaining the next queued send);
 *   they are serialised by the stream's mutex. grpc.h allows send-only and
 *   receive-only batches to be serialised independently.
 * - Lifetime: every object that can still get a completion (request slots,
 *   streams, unary calls) is counted in srv->live. nc_gsrv_stop sets
 *   `stopping` (under the write side of api_lock so no API call is starting a
 *   batch), shuts the server down, cancels all calls and waits for live == 0
 *   before shutting the queues down: no batch is ever started on a queue that
 *   is shutting down.
 * - Streams live in nc_grpc_stream.c; shared types in nc_gsrv_int.h. */
#include "nc_gsrv_int.h"
#include "nc_err.h"
#include "nc_log.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nc_gsrv_unary {
  nc_gtag tag;
  nc_gsrv *srv;
  grpc_call *call;
  grpc_byte_buffer *reply;
  int cancelled;
  struct nc_gsrv_unary *prev, *next; /* srv->pending, until replied */
  /* Under srv->mu: one for the queue thread handing the call over (until
   * unary_arrived returns), one for its answer (released when the reply
   * batch completes, or by nc_gsrv_stop's sweep). The sweep can run while
   * the queue thread still refuses the call, so neither may free it alone. */
  int refs;
};

typedef struct gs_generic { /* a call to an unknown method: UNIMPLEMENTED */
  nc_gtag tag;
  nc_gsrv *srv;
  grpc_call *call;
  int cancelled;
} gs_generic;

static void unary_unref(nc_gsrv_unary *u);

/* ---- helpers ---------------------------------------------------------- */

void nc_gsrv__live_add(nc_gsrv *srv, long d) {
  pthread_mutex_lock(&srv->mu);
  srv->live += d;
  if (srv->live == 0)
    pthread_cond_broadcast(&srv->cond);
  pthread_mutex_unlock(&srv->mu);
}

/* Hands the burst to its owners, one run of consecutive events of one
 * server at a time (order kept). Queue thread. */
void nc_gsrv__burst_flush(gs_cq *q) {
  nc_gsrv_ev *ev = q->b_head;
  int nheld = q->b_nheld;
  q->b_head = q->b_tail = NULL;
  q->b_n = q->b_nheld = 0;
  while (ev) {
    nc_gsrv *srv = ev->srv;
    nc_gsrv_ev *last = ev;
    int n = 1;
    while (last->node.next && ((nc_gsrv_ev *)last->node.next)->srv == srv) {
      last = (nc_gsrv_ev *)last->node.next;
      n++;
    }
    nc_gsrv_ev *rest = (nc_gsrv_ev *)last->node.next;
    last->node.next = NULL;
    if (atomic_load(&srv->stopping)) { /* deliver nothing more; stop sweeps the calls */
      for (nc_gsrv_ev *e = ev, *nx; e; e = nx) {
        nx = (nc_gsrv_ev *)e->node.next;
        nc_gsrv_ev_free(e);
      }
    } else {
      srv->on_batch(srv->ud, ev);
    }
    atomic_fetch_sub(&srv->batched, n); /* srv may be freed from here on */
    ev = rest;
  }
  for (int i = 0; i < nheld; i++)
    unary_unref(q->b_held[i]); /* keeps its own server alive (live) */
}

void nc_gsrv__emit(nc_gsrv *srv, nc_gsrv_ev_type type, uint64_t sid, nc_gsrv_unary *call,
                 const char *peer, grpc_byte_buffer *bb) {
  if (atomic_load(&srv->stopping))
    return; /* the owner is tearing down: deliver nothing more */
  nc_gsrv_ev *ev = calloc(1, sizeof(*ev));
  if (!ev)
    goto oom;
  ev->type = type;
  ev->srv = srv;
  ev->stream_id = sid;
  ev->call = call;
  if (peer)
    snprintf(ev->peer, sizeof(ev->peer), "%s", peer);
  if (bb && !(ev->data = nc_grpc_bb_flatten(bb, &ev->len)))
    goto oom;
  gs_cq *q = nc_gsrv__this_queue();
  if (!srv->on_batch || !q) {
    srv->cb(srv->ud, ev);
    return;
  }
  /* Collected until the queue has nothing more ready (burst_flush). The
   * count keeps stop from freeing srv meanwhile; a call stays referenced
   * so that stop's sweep cannot free it before it is handed over. */
  atomic_fetch_add(&srv->batched, 1);
  if (call) {
    pthread_mutex_lock(&srv->mu);
    call->refs++;
    pthread_mutex_unlock(&srv->mu);
    q->b_held[q->b_nheld++] = call;
  }
  if (q->b_tail)
    q->b_tail->node.next = &ev->node;
  else
    q->b_head = ev;
  q->b_tail = ev;
  if (++q->b_n >= NC_GSRV_BATCH_MAX)
    nc_gsrv__burst_flush(q);
  return;
oom:
  nc_error("gsrv: out of memory delivering an event");
  free(ev);
  if (call) /* nobody will answer it: fail the call */
    nc_gsrv_unary_reply(call, NULL, 0);
}

void nc_gsrv_ev_free(nc_gsrv_ev *ev) {
  if (!ev)
    return;
  free(ev->data);
  free(ev);
}

/* ---- unary ------------------------------------------------------------ */

static void unary_free(nc_gsrv_unary *u) {
  nc_gsrv *srv = u->srv;
  if (u->reply)
    grpc_byte_buffer_destroy(u->reply);
  grpc_call_unref(u->call);
  free(u);
  nc_gsrv__live_add(srv, -1);
}

static void unary_unref(nc_gsrv_unary *u) {
  nc_gsrv *srv = u->srv;
  pthread_mutex_lock(&srv->mu);
  int left = --u->refs;
  pthread_mutex_unlock(&srv->mu);
  if (left == 0)
    unary_free(u);
}

static void unary_arrived(nc_gsrv *srv, grpc_call *call, grpc_byte_buffer *payload) {
  nc_gsrv_unary *u = calloc(1, sizeof(*u));
  if (!u) {
    grpc_call_cancel(call, NULL);
    grpc_call_unref(call);
    return;
  }
  nc_gtag_init(&u->tag, T_UNARY_DONE, u);
  u->srv = srv;
  u->call = call;
  if (atomic_load(&srv->stopping))
    grpc_call_cancel(call, NULL);
  pthread_mutex_lock(&srv->mu);
  srv->live++;
  u->refs = 2;
  u->next = srv->pending;
  if (u->next)
    u->next->prev = u;
  srv->pending = u;
  pthread_mutex_unlock(&srv->mu);
  if (!payload) { /* no message (client cancelled, or over the size cap) */
    nc_gsrv_unary_reply(u, NULL, 0);
  } else {
    char peer[96];
    nc_gsrv__peer(call, peer, sizeof(peer));
    nc_gsrv__emit(srv, NC_GSRV_EV_UNARY, 0, u, peer, payload);
    if (atomic_load(&srv->stopping))
      nc_gsrv_unary_reply(u, NULL, 0);
  }
  unary_unref(u);
}

int nc_gsrv_unary_reply(nc_gsrv_unary *u, const uint8_t *data, size_t len) {
  nc_gsrv *srv = u->srv;
  grpc_op ops[4];
  int rc = 0;
  pthread_rwlock_rdlock(&srv->api_lock);
  if (atomic_load(&srv->stopping)) {
    rc = NC_ECLOSED; /* nc_gsrv_stop releases it */
    goto out;
  }
  pthread_mutex_lock(&srv->mu);
  if (u->prev)
    u->prev->next = u->next;
  else
    srv->pending = u->next;
  if (u->next)
    u->next->prev = u->prev;
  u->prev = u->next = NULL;
  pthread_mutex_unlock(&srv->mu);

  memset(ops, 0, sizeof(ops));
  size_t n = 0;
  ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  if (data) {
    u->reply = nc_grpc_bb_from(data, len);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = u->reply;
  }
  grpc_slice details = grpc_slice_from_static_string(data ? "" : "request not handled");
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = data ? GRPC_STATUS_OK : GRPC_STATUS_INTERNAL;
  ops[n++].data.send_status_from_server.status_details = &details;
  ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[n++].data.recv_close_on_server.cancelled = &u->cancelled;
  grpc_call *call = u->call; /* before hb_give: see stream_batch */
  if (grpc_call_start_batch(call, ops, n, nc_gtag_give(&u->tag), NULL) != GRPC_CALL_OK) {
    nc_error("gsrv: unary reply start_batch failed");
    unary_unref(u);
    rc = NC_EGRPC;
  }
out:
  pthread_rwlock_unlock(&srv->api_lock);
  return rc;
}

/* ---- request slots and the queue threads ------------------------------ */

static void req_post(nc_gsrv *srv, gs_req *r) {
  grpc_call_error e;
  r->call = NULL;
  r->payload = NULL;
  if (r->method == M_GENERIC)
    e = grpc_server_request_call(srv->server, &r->call, &r->details, &r->md, r->q->cq, r->q->cq,
                                 nc_gtag_give(&r->tag));
  else
    e = grpc_server_request_registered_call(
        srv->server, r->method == M_UNARY ? srv->m_unary : srv->m_stream, &r->call,
        &r->deadline, &r->md, r->method == M_UNARY ? &r->payload : NULL, r->q->cq, r->q->cq,
        nc_gtag_give(&r->tag));
  if (e != GRPC_CALL_OK) {
    nc_error("gsrv: request_call failed: %d", (int)e);
    nc_gsrv__live_add(srv, -1);
  }
}

static void generic_arrived(nc_gsrv *srv, grpc_call *call) {
  gs_generic *g = calloc(1, sizeof(*g));
  grpc_op ops[3];
  if (!g) {
    grpc_call_cancel(call, NULL);
    grpc_call_unref(call);
    return;
  }
  nc_gtag_init(&g->tag, T_GENERIC_DONE, g);
  g->srv = srv;
  g->call = call;
  nc_gsrv__live_add(srv, 1);
  memset(ops, 0, sizeof(ops));
  grpc_slice details = grpc_slice_from_static_string("unknown method");
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[1].data.send_status_from_server.status = GRPC_STATUS_UNIMPLEMENTED;
  ops[1].data.send_status_from_server.status_details = &details;
  ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[2].data.recv_close_on_server.cancelled = &g->cancelled;
  if (grpc_call_start_batch(call, ops, 3, nc_gtag_give(&g->tag), NULL) != GRPC_CALL_OK) {
    grpc_call_unref(call);
    free(g);
    nc_gsrv__live_add(srv, -1);
  }
}

static void req_done(nc_gsrv *srv, gs_req *r, int ok) {
  grpc_call *call = r->call;
  grpc_byte_buffer *payload = r->payload;
  int method = r->method;
  if (!ok || !call) { /* server shutting down: the slot retires */
    if (payload)
      grpc_byte_buffer_destroy(payload);
    nc_gsrv__live_add(srv, -1);
    return;
  }
  if (method == M_GENERIC) {
    grpc_call_details_destroy(&r->details);
    grpc_call_details_init(&r->details);
  }
  grpc_metadata_array_destroy(&r->md);
  grpc_metadata_array_init(&r->md);
  /* Re-arm first so accepts never serialise behind our handling. */
  if (atomic_load(&srv->stopping))
    nc_gsrv__live_add(srv, -1);
  else
    req_post(srv, r);
  switch (method) {
  case M_UNARY:
    unary_arrived(srv, call, payload);
    if (payload)
      grpc_byte_buffer_destroy(payload);
    break;
  case M_STREAM:
    if (atomic_load(&srv->stopping)) {
      grpc_call_cancel(call, NULL);
      grpc_call_unref(call);
    } else {
      nc_gsrv__stream_arrived(srv, call);
    }
    break;
  default:
    generic_arrived(srv, call);
  }
}

/* The queue is shared by all servers: each tag's object names its own. */
void nc_gsrv__dispatch(grpc_event ev) {
  nc_gtag *t = nc_gtag_take(ev.tag);
  switch (t->kind) {
  case T_REQ: {
    gs_req *r = t->obj;
    req_done(r->srv, r, ev.success);
    break;
  }
  case T_UNARY_DONE:
    unary_unref(t->obj);
    break;
  case T_GENERIC_DONE: {
    gs_generic *g = t->obj;
    nc_gsrv *srv = g->srv;
    grpc_call_unref(g->call);
    free(g);
    nc_gsrv__live_add(srv, -1);
    break;
  }
  case T_S_RECV:
    nc_gsrv__stream_on_recv(t->obj, ev.success);
    break;
  case T_S_CLOSE:
    nc_gsrv__stream_on_close(t->obj);
    break;
  case T_S_SEND:
  case T_S_STATUS:
    nc_gsrv__stream_on_send(t->obj, ev.success);
    break;
  case T_SHUTDOWN: {
    nc_gsrv *srv = t->obj;
    pthread_mutex_lock(&srv->mu);
    srv->shutdown_done = 1;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
    break;
  }
  }
}

/* ---- public API ------------------------------------------------------- */

int nc_gsrv_start(const nc_gsrv_opts *opts, nc_gsrv_on_event cb, void *ud, nc_gsrv **out,
                  int *bound_port) {
  nc_gsrv *srv = NULL;
  int rc = NC_ENOMEM;
  char addr[300];
  *out = NULL;
  if (!opts || !cb)
    return NC_EINVAL;
  if (!(srv = calloc(1, sizeof(*srv))))
    return NC_ENOMEM;
  nc_gsrv__listen_init(srv);
  srv->cb = cb;
  srv->on_batch = opts->on_batch;
  srv->ud = ud;
  srv->queue_max = opts->stream_queue_max ? opts->stream_queue_max : 1024;
  srv->tls = opts->tls;
  srv->tls_plaintext = opts->tls && opts->tls_plaintext;
  srv->tls_hs_ms = opts->tls_handshake_timeout_ms;
  nc_gtag_init(&srv->t_shutdown, T_SHUTDOWN, srv);
  pthread_rwlock_init(&srv->api_lock, NULL);
  pthread_mutex_init(&srv->mu, NULL);
  pthread_cond_init(&srv->cond, NULL);
  pthread_mutex_init(&srv->map_mu, NULL);
  srv->n_buckets = 256;
  if (!(srv->buckets = calloc(srv->n_buckets, sizeof(*srv->buckets))))
    goto out;
  /* Everything that can fail comes before the gRPC server exists, so the
   * failure path never has to drain a shared queue. */
  const char *host = opts->host && *opts->host ? opts->host : "0.0.0.0";
  snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, opts->port);
  int port = 0;
  if (nc_gsrv__listen(srv, host, opts->port, &port) != 0) {
    nc_error("gsrv: cannot bind %s", addr);
    rc = NC_EIO;
    goto out;
  }
  if (nc_gsrv__pool_acquire(opts->threads, &srv->qs, &srv->nq) != 0)
    goto out;
  srv->n_reqs = (size_t)srv->nq * (GS_UNARY_REQS + GS_STREAM_REQS + 1);
  if (!(srv->reqs = calloc(srv->n_reqs, sizeof(*srv->reqs)))) {
    nc_gsrv__pool_release();
    goto out;
  }

  nc_gsrv_limits lim;
  nc_gsrv__get_limits(&lim);
  grpc_arg args[12];
  int na = 0;
  nc_grpc_arg_int(&args[na++], GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                  opts->max_msg_bytes > 0 ? opts->max_msg_bytes : 10 * 1024 * 1024);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                  opts->keepalive_permit_ms > 0 ? opts->keepalive_permit_ms : 10000);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  if (lim.keepalive_ms >= 0) {
    /* Dead-peer detection for hosts that vanish without a FIN: an unacked
     * ping ends the transport and so every stream on it. Pings must not
     * stop on an idle connection. Measured with 1.51: its server keepalive
     * goes on without data (test_idle_live_client_kept passes without the
     * next line); the line keeps a core that applies its "2 pings without
     * data" policy to keepalive from silencing idle connections. */
    nc_grpc_arg_int(&args[na++], GRPC_ARG_KEEPALIVE_TIME_MS,
                    lim.keepalive_ms ? lim.keepalive_ms : NC_GSRV_KEEPALIVE_MS);
    nc_grpc_arg_int(&args[na++], GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                    lim.keepalive_timeout_ms > 0 ? lim.keepalive_timeout_ms
                                                 : NC_GSRV_KEEPALIVE_TIMEOUT_MS);
    nc_grpc_arg_int(&args[na++], GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  /* Nacos messages are small: bandwidth-delay probing only adds pings, timer
   * wake-ups and ~25% CPU to a 5,000-connection push fan-out. */
  nc_grpc_arg_int(&args[na++], GRPC_ARG_HTTP2_BDP_PROBE, 0);
  grpc_channel_args ca = {(size_t)na, args};
  srv->server = grpc_server_create(&ca, NULL);
  srv->m_unary = grpc_server_register_method(srv->server, "/Request/request", NULL,
                                             GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
  srv->m_stream = grpc_server_register_method(srv->server, "/BiRequestStream/requestBiStream",
                                              NULL, GRPC_SRM_PAYLOAD_NONE, 0);
  for (int i = 0; i < srv->nq; i++)
    grpc_server_register_completion_queue(srv->server, srv->qs[i].cq, NULL);
  grpc_server_start(srv->server);
  size_t k = 0;
  for (int i = 0; i < srv->nq; i++) {
    for (int j = 0; j < GS_UNARY_REQS + GS_STREAM_REQS + 1; j++, k++) {
      gs_req *r = &srv->reqs[k];
      nc_gtag_init(&r->tag, T_REQ, r);
      r->srv = srv;
      r->q = &srv->qs[i];
      r->method = j < GS_UNARY_REQS ? M_UNARY : j < GS_UNARY_REQS + GS_STREAM_REQS ? M_STREAM : M_GENERIC;
      grpc_metadata_array_init(&r->md);
      grpc_call_details_init(&r->details);
      nc_gsrv__live_add(srv, 1);
      req_post(srv, r);
    }
  }
  if (nc_gsrv__listen_start(srv) != 0) {
    nc_error("gsrv: cannot start the accept thread");
    goto out_started;
  }
  if (bound_port)
    *bound_port = port;
  nc_debug("gsrv: listening on %s (port %d, %d thread(s))", addr, port, srv->nq);
  *out = srv;
  return 0;
out_started:
  nc_gsrv_stop(srv);
  return NC_ENOMEM;
out:
  nc_gsrv__listen_stop(srv);
  free(srv->reqs);
  free(srv->buckets);
  pthread_rwlock_destroy(&srv->api_lock);
  pthread_mutex_destroy(&srv->mu);
  pthread_cond_destroy(&srv->cond);
  pthread_mutex_destroy(&srv->map_mu);
  free(srv);
  return rc;
}

void nc_gsrv_stop(nc_gsrv *srv) {
  if (!srv)
    return;
  /* No connection may be handed to a server that is shutting down. */
  nc_gsrv__listen_stop(srv);
  pthread_rwlock_wrlock(&srv->api_lock);
  atomic_store(&srv->stopping, 1);
  pthread_rwlock_unlock(&srv->api_lock);

  grpc_server_shutdown_and_notify(srv->server, srv->qs[0].cq, nc_gtag_give(&srv->t_shutdown));
  grpc_server_cancel_all_calls(srv->server);

  /* Unanswered unary calls have no batch in flight: release them here. A
   * call can still be handed over by a queue thread while we wait, so sweep
   * until everything counted is gone. */
  pthread_mutex_lock(&srv->mu);
  for (;;) {
    while (srv->pending) {
      nc_gsrv_unary *u = srv->pending;
      srv->pending = u->next;
      if (srv->pending)
        srv->pending->prev = NULL;
      pthread_mutex_unlock(&srv->mu);
      grpc_call_cancel(u->call, NULL);
      unary_unref(u);
      pthread_mutex_lock(&srv->mu);
    }
    /* A burst still holding events of srv is flushed within microseconds;
     * the timed wait below looks again. */
    if (srv->live == 0 && srv->shutdown_done && atomic_load(&srv->batched) == 0)
      break;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&srv->cond, &srv->mu, &ts);
  }
  pthread_mutex_unlock(&srv->mu);

  /* Nothing of this server can complete any more: the queues may go on
   * serving the others (or close with the last one). */
  grpc_server_destroy(srv->server);
  nc_gsrv__pool_release();
  for (size_t i = 0; i < srv->n_reqs; i++) {
    grpc_metadata_array_destroy(&srv->reqs[i].md);
    grpc_call_details_destroy(&srv->reqs[i].details);
  }
  free(srv->reqs);
  free(srv->buckets);
  pthread_rwlock_destroy(&srv->api_lock);
  pthread_mutex_destroy(&srv->mu);
  pthread_cond_destroy(&srv->cond);
  pthread_mutex_destroy(&srv->map_mu);
  free(srv);
}
