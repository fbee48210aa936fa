/* nc_gsrv: gRPC C-core server for the two Nacos methods.
 *
 * Design notes
 * - One completion queue per thread; every call is bound to the queue its
 *   request was posted on, so all completions of one call run on one thread
 *   (receive-side batches are therefore serialised for free).
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
 * - Streams are found by id through a hash map under map_mu; a lookup takes a
 *   reference so a send racing a close never touches freed memory. */
#include "nc_grpc_server.h"
#include "nc_err.h"
#include "nc_log.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GS_UNARY_REQS 16 /* outstanding request_call per queue and method */
#define GS_STREAM_REQS 8
#define GS_MAX_THREADS 16

enum { T_REQ = 1, T_UNARY_DONE, T_GENERIC_DONE, T_S_RECV, T_S_CLOSE, T_S_SEND, T_S_STATUS, T_SHUTDOWN };
enum { M_UNARY, M_STREAM, M_GENERIC };

typedef struct gs_tag {
  int kind;
  void *obj;
  /* gRPC's own synchronisation is invisible to ThreadSanitizer (system
   * library, abseil futexes). A release store before handing a tag to gRPC
   * and an acquire load when it comes back out of the queue state the
   * happens-before edge that gRPC provides; it costs one uncontended atomic. */
  atomic_int hb;
} gs_tag;

static void tag_init(gs_tag *t, int kind, void *obj) {
  t->kind = kind;
  t->obj = obj;
  atomic_init(&t->hb, 0);
}

static inline void *hb_give(gs_tag *t) {
  atomic_store_explicit(&t->hb, 1, memory_order_release);
  return t;
}

static inline gs_tag *hb_take(void *tag) {
  gs_tag *t = tag;
  (void)atomic_load_explicit(&t->hb, memory_order_acquire);
  return t;
}

typedef struct gs_cq {
  nc_gsrv *srv;
  grpc_completion_queue *cq;
  pthread_t thr;
  int started;
} gs_cq;

typedef struct gs_req { /* one outstanding request_call */
  gs_tag tag;
  gs_cq *q;
  int method;
  grpc_call *call;
  gpr_timespec deadline;
  grpc_metadata_array md;
  grpc_call_details details; /* generic only */
  grpc_byte_buffer *payload; /* unary only */
} gs_req;

struct nc_gsrv_unary {
  gs_tag tag;
  nc_gsrv *srv;
  grpc_call *call;
  grpc_byte_buffer *reply;
  int cancelled;
  struct nc_gsrv_unary *prev, *next; /* srv->pending, until replied */
};

typedef struct gs_generic { /* a call to an unknown method: UNIMPLEMENTED */
  gs_tag tag;
  grpc_call *call;
  int cancelled;
} gs_generic;

typedef struct gs_stream {
  gs_tag t_recv, t_close, t_send, t_status;
  nc_gsrv *srv;
  uint64_t id;
  grpc_call *call;
  atomic_int refs; /* outstanding batches + 1 while in the map */
  struct gs_stream *hnext;
  char peer[96];
  /* receive side: CQ thread only */
  grpc_byte_buffer *recv_bb;
  int recv_cancelled;
  int closed_emitted;
  /* send side: under mu */
  pthread_mutex_t mu;
  grpc_byte_buffer **q; /* ring of queued messages */
  size_t q_cap, q_head, q_len;
  grpc_byte_buffer *inflight;
  int sending, close_req, status_sent, dead;
  grpc_status_code close_code;
} gs_stream;

struct nc_gsrv {
  grpc_server *server;
  void *m_unary, *m_stream;
  nc_gsrv_on_event cb;
  void *ud;
  size_t queue_max;
  int nq;
  gs_cq qs[GS_MAX_THREADS];
  gs_req *reqs;
  size_t n_reqs;
  gs_tag t_shutdown;

  pthread_rwlock_t api_lock; /* read: API calls starting batches; write: stop */
  atomic_int stopping;

  pthread_mutex_t mu; /* live, pending, shutdown_done */
  pthread_cond_t cond;
  long live;
  int shutdown_done;
  nc_gsrv_unary *pending;

  pthread_mutex_t map_mu;
  gs_stream **buckets;
  size_t n_buckets, n_streams;
};

static atomic_uint_fast64_t g_next_stream_id = 1;

#if defined(__SANITIZE_THREAD__)
/* Built into every TSan binary that links the transport, so plain `ctest`
 * works without TSAN_OPTIONS; same list as tests/tsan.supp (the system gRPC
 * and abseil are uninstrumented). Weak: nc_grpc_server.c and
 * nc_grpc_client.c both carry it. */
__attribute__((weak)) const char *__tsan_default_suppressions(void);
__attribute__((weak)) const char *__tsan_default_suppressions(void) {
  return "race:libgrpc.so\nrace:libgpr.so\nrace:libabsl_*\nrace:libstdc++.so\n"
         "called_from_lib:libgrpc.so\ncalled_from_lib:libgpr.so\ndeadlock:libgrpc.so\n";
}
#endif

/* ---- helpers ---------------------------------------------------------- */

static uint8_t *bb_flatten(grpc_byte_buffer *bb, size_t *len) {
  grpc_byte_buffer_reader r;
  grpc_slice s;
  size_t n = grpc_byte_buffer_length(bb), off = 0;
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf)
    return NULL;
  if (!grpc_byte_buffer_reader_init(&r, bb)) {
    free(buf);
    return NULL;
  }
  while (grpc_byte_buffer_reader_next(&r, &s)) {
    size_t sl = GRPC_SLICE_LENGTH(s);
    if (off + sl <= n)
      memcpy(buf + off, GRPC_SLICE_START_PTR(s), sl);
    off += sl;
    grpc_slice_unref(s);
  }
  grpc_byte_buffer_reader_destroy(&r);
  *len = off <= n ? off : n;
  return buf;
}

static grpc_byte_buffer *bb_from(const uint8_t *data, size_t len) {
  grpc_slice s = grpc_slice_from_copied_buffer((const char *)data, len);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  return bb;
}

static void live_add(nc_gsrv *srv, long d) {
  pthread_mutex_lock(&srv->mu);
  srv->live += d;
  if (srv->live == 0)
    pthread_cond_broadcast(&srv->cond);
  pthread_mutex_unlock(&srv->mu);
}

static void emit(nc_gsrv *srv, nc_gsrv_ev_type type, uint64_t sid, nc_gsrv_unary *call,
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
  if (bb && !(ev->data = bb_flatten(bb, &ev->len)))
    goto oom;
  srv->cb(srv->ud, ev);
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

/* ---- stream map ------------------------------------------------------- */

static size_t map_slot(nc_gsrv *srv, uint64_t id) {
  return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (srv->n_buckets - 1);
}

static int map_put(nc_gsrv *srv, gs_stream *s) {
  pthread_mutex_lock(&srv->map_mu);
  if (srv->n_streams + 1 > srv->n_buckets) {
    size_t nb = srv->n_buckets * 2;
    gs_stream **b = calloc(nb, sizeof(*b));
    if (!b) {
      pthread_mutex_unlock(&srv->map_mu);
      return NC_ENOMEM;
    }
    gs_stream **old = srv->buckets;
    size_t ob = srv->n_buckets;
    srv->buckets = b;
    srv->n_buckets = nb;
    for (size_t i = 0; i < ob; i++) {
      for (gs_stream *e = old[i], *nx; e; e = nx) {
        nx = e->hnext;
        size_t k = map_slot(srv, e->id);
        e->hnext = b[k];
        b[k] = e;
      }
    }
    free(old);
  }
  size_t k = map_slot(srv, s->id);
  s->hnext = srv->buckets[k];
  srv->buckets[k] = s;
  srv->n_streams++;
  pthread_mutex_unlock(&srv->map_mu);
  return 0;
}

static gs_stream *map_get(nc_gsrv *srv, uint64_t id) { /* returns a reference */
  pthread_mutex_lock(&srv->map_mu);
  gs_stream *s = srv->buckets[map_slot(srv, id)];
  while (s && s->id != id)
    s = s->hnext;
  if (s)
    atomic_fetch_add(&s->refs, 1);
  pthread_mutex_unlock(&srv->map_mu);
  return s;
}

static int map_del(nc_gsrv *srv, gs_stream *s) { /* 1 if it was there */
  int found = 0;
  pthread_mutex_lock(&srv->map_mu);
  for (gs_stream **pp = &srv->buckets[map_slot(srv, s->id)]; *pp; pp = &(*pp)->hnext) {
    if (*pp == s) {
      *pp = s->hnext;
      srv->n_streams--;
      found = 1;
      break;
    }
  }
  pthread_mutex_unlock(&srv->map_mu);
  return found;
}

/* ---- streams ---------------------------------------------------------- */

static void stream_unref(gs_stream *s) {
  if (atomic_fetch_sub(&s->refs, 1) != 1)
    return;
  nc_gsrv *srv = s->srv;
  for (size_t i = 0; i < s->q_len; i++)
    grpc_byte_buffer_destroy(s->q[(s->q_head + i) % s->q_cap]);
  free(s->q);
  if (s->recv_bb)
    grpc_byte_buffer_destroy(s->recv_bb);
  grpc_call_unref(s->call);
  pthread_mutex_destroy(&s->mu);
  free(s);
  live_add(srv, -1);
}

/* Starts a batch counted as one reference; drops it again on failure. */
static int stream_batch(gs_stream *s, const grpc_op *ops, size_t n, gs_tag *tag) {
  atomic_fetch_add(&s->refs, 1);
  nc_trace("gsrv: stream %llu start op %d tag %d", (unsigned long long)s->id, (int)ops[0].op, tag->kind);
  /* Read the call before hb_give publishes the tag: once published the
   * completion thread may free s, and TSan only sees the release/acquire
   * pair, not gRPC's own synchronisation. */
  grpc_call *call = s->call;
  grpc_call_error e = grpc_call_start_batch(call, ops, n, hb_give(tag), NULL);
  if (e != GRPC_CALL_OK) {
    nc_error("gsrv: stream %llu start_batch(op %d) failed: %d", (unsigned long long)s->id,
             (int)ops[0].op, (int)e);
    atomic_fetch_sub(&s->refs, 1); /* never the last: the caller holds one */
    return NC_EGRPC;
  }
  return 0;
}

static void stream_start_status_locked(gs_stream *s) {
  grpc_op op;
  grpc_slice details = grpc_slice_from_static_string(
      s->close_code == GRPC_STATUS_OK ? "" : "connection closed by server");
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  op.data.send_status_from_server.status = s->close_code;
  op.data.send_status_from_server.status_details = &details;
  s->status_sent = 1;
  if (stream_batch(s, &op, 1, &s->t_status) != 0)
    grpc_call_cancel(s->call, NULL);
}

/* Starts the next queued send, or the status once the queue is empty and a
 * close was asked for. Under s->mu; the caller holds a reference. */
static void stream_pump_locked(gs_stream *s) {
  if (s->sending || s->dead || atomic_load(&s->srv->stopping))
    return;
  if (s->q_len) {
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = s->q[s->q_head];
    s->inflight = s->q[s->q_head];
    s->q_head = (s->q_head + 1) % s->q_cap;
    s->q_len--;
    s->sending = 1;
    if (stream_batch(s, &op, 1, &s->t_send) != 0) {
      grpc_byte_buffer_destroy(s->inflight);
      s->inflight = NULL;
      s->sending = 0;
      s->dead = 1;
      grpc_call_cancel(s->call, NULL);
    }
    return;
  }
  if (s->close_req && !s->status_sent)
    stream_start_status_locked(s);
}

static void stream_request_close_locked(gs_stream *s, grpc_status_code code) {
  if (s->close_req || s->dead)
    return;
  s->close_req = 1;
  s->close_code = code;
  stream_pump_locked(s);
}

static void stream_post_recv(gs_stream *s) {
  grpc_op op;
  if (atomic_load(&s->srv->stopping))
    return;
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &s->recv_bb;
  if (stream_batch(s, &op, 1, &s->t_recv) != 0)
    grpc_call_cancel(s->call, NULL); /* cannot read on: end it, STREAM_CLOSED follows */
}

static void stream_arrived(nc_gsrv *srv, grpc_call *call) {
  gs_stream *s = calloc(1, sizeof(*s));
  grpc_op op;
  if (!s) {
    grpc_call_cancel(call, NULL);
    grpc_call_unref(call);
    return;
  }
  tag_init(&s->t_recv, T_S_RECV, s);
  tag_init(&s->t_close, T_S_CLOSE, s);
  tag_init(&s->t_send, T_S_SEND, s);
  tag_init(&s->t_status, T_S_STATUS, s);
  s->srv = srv;
  s->call = call;
  s->id = atomic_fetch_add(&g_next_stream_id, 1);
  atomic_init(&s->refs, 1); /* the map's */
  pthread_mutex_init(&s->mu, NULL);
  char *peer = grpc_call_get_peer(call);
  snprintf(s->peer, sizeof(s->peer), "%s", peer ? peer : "");
  gpr_free(peer);
  live_add(srv, 1);
  /* Everything is started before the stream is published (map + OPEN
   * event): from then on the owner may send from its own thread, and the
   * headers must already be the first send in flight. */
  /* The lifeline: completes when the client goes away or the call ends. */
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  op.data.recv_close_on_server.cancelled = &s->recv_cancelled;
  if (stream_batch(s, &op, 1, &s->t_close) != 0) {
    grpc_call_cancel(call, NULL);
    stream_unref(s);
    return;
  }
  /* Headers go out at once: some clients wait for them before reading. */
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_SEND_INITIAL_METADATA;
  s->sending = 1;
  if (stream_batch(s, &op, 1, &s->t_send) != 0) {
    s->sending = 0;
    s->dead = 1;
    grpc_call_cancel(call, NULL);
  }
  if (map_put(srv, s) != 0) {
    s->closed_emitted = 1; /* never announced: announce no end either */
    grpc_call_cancel(call, NULL);
    stream_unref(s); /* the map's reference; batches hold the rest */
    return;
  }
  emit(srv, NC_GSRV_EV_STREAM_OPEN, s->id, NULL, s->peer, NULL);
  stream_post_recv(s);
}

static void stream_on_recv(gs_stream *s, int ok) {
  nc_gsrv *srv = s->srv;
  if (ok && s->recv_bb) {
    grpc_byte_buffer *bb = s->recv_bb;
    s->recv_bb = NULL;
    if (!s->closed_emitted)
      emit(srv, NC_GSRV_EV_STREAM_MSG, s->id, NULL, s->peer, bb);
    grpc_byte_buffer_destroy(bb);
    stream_post_recv(s);
  } else if (ok) {
    /* Client half-closed: complete our side too (as grpc-java's
     * onCompleted), after whatever is still queued. */
    pthread_mutex_lock(&s->mu);
    stream_request_close_locked(s, GRPC_STATUS_OK);
    pthread_mutex_unlock(&s->mu);
  }
  stream_unref(s);
}

static void stream_on_close(gs_stream *s) {
  nc_gsrv *srv = s->srv;
  pthread_mutex_lock(&s->mu);
  s->dead = 1;
  pthread_mutex_unlock(&s->mu);
  int was_mapped = map_del(srv, s);
  if (!s->closed_emitted) {
    s->closed_emitted = 1;
    emit(srv, NC_GSRV_EV_STREAM_CLOSED, s->id, NULL, s->peer, NULL);
  }
  if (was_mapped)
    stream_unref(s); /* the map's reference */
  stream_unref(s);   /* the batch's */
}

static void stream_on_send(gs_stream *s, int ok) {
  pthread_mutex_lock(&s->mu);
  nc_trace("gsrv: stream %llu send done ok=%d sending=%d", (unsigned long long)s->id, ok, s->sending);
  if (s->inflight) {
    grpc_byte_buffer_destroy(s->inflight);
    s->inflight = NULL;
  }
  s->sending = 0;
  if (!ok)
    s->dead = 1;
  stream_pump_locked(s);
  pthread_mutex_unlock(&s->mu);
  stream_unref(s);
}

/* ---- unary ------------------------------------------------------------ */

static void unary_free(nc_gsrv_unary *u) {
  nc_gsrv *srv = u->srv;
  if (u->reply)
    grpc_byte_buffer_destroy(u->reply);
  grpc_call_unref(u->call);
  free(u);
  live_add(srv, -1);
}

static void unary_arrived(nc_gsrv *srv, grpc_call *call, grpc_byte_buffer *payload) {
  nc_gsrv_unary *u = calloc(1, sizeof(*u));
  if (!u) {
    grpc_call_cancel(call, NULL);
    grpc_call_unref(call);
    return;
  }
  tag_init(&u->tag, T_UNARY_DONE, u);
  u->srv = srv;
  u->call = call;
  if (atomic_load(&srv->stopping))
    grpc_call_cancel(call, NULL);
  pthread_mutex_lock(&srv->mu);
  srv->live++;
  u->next = srv->pending;
  if (u->next)
    u->next->prev = u;
  srv->pending = u;
  pthread_mutex_unlock(&srv->mu);
  if (!payload) { /* no message (client cancelled, or over the size cap) */
    nc_gsrv_unary_reply(u, NULL, 0);
    return;
  }
  char *peer = grpc_call_get_peer(call);
  emit(srv, NC_GSRV_EV_UNARY, 0, u, peer, payload);
  gpr_free(peer);
  if (atomic_load(&srv->stopping))
    nc_gsrv_unary_reply(u, NULL, 0);
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
    u->reply = bb_from(data, len);
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
  if (grpc_call_start_batch(call, ops, n, hb_give(&u->tag), NULL) != GRPC_CALL_OK) {
    nc_error("gsrv: unary reply start_batch failed");
    unary_free(u);
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
                                 hb_give(&r->tag));
  else
    e = grpc_server_request_registered_call(
        srv->server, r->method == M_UNARY ? srv->m_unary : srv->m_stream, &r->call,
        &r->deadline, &r->md, r->method == M_UNARY ? &r->payload : NULL, r->q->cq, r->q->cq,
        hb_give(&r->tag));
  if (e != GRPC_CALL_OK) {
    nc_error("gsrv: request_call failed: %d", (int)e);
    live_add(srv, -1);
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
  tag_init(&g->tag, T_GENERIC_DONE, g);
  g->call = call;
  live_add(srv, 1);
  memset(ops, 0, sizeof(ops));
  grpc_slice details = grpc_slice_from_static_string("unknown method");
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[1].data.send_status_from_server.status = GRPC_STATUS_UNIMPLEMENTED;
  ops[1].data.send_status_from_server.status_details = &details;
  ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[2].data.recv_close_on_server.cancelled = &g->cancelled;
  if (grpc_call_start_batch(call, ops, 3, hb_give(&g->tag), NULL) != GRPC_CALL_OK) {
    grpc_call_unref(call);
    free(g);
    live_add(srv, -1);
  }
}

static void req_done(nc_gsrv *srv, gs_req *r, int ok) {
  grpc_call *call = r->call;
  grpc_byte_buffer *payload = r->payload;
  int method = r->method;
  if (!ok || !call) { /* server shutting down: the slot retires */
    if (payload)
      grpc_byte_buffer_destroy(payload);
    live_add(srv, -1);
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
    live_add(srv, -1);
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
      stream_arrived(srv, call);
    }
    break;
  default:
    generic_arrived(srv, call);
  }
}

static void dispatch(nc_gsrv *srv, grpc_event ev) {
  gs_tag *t = hb_take(ev.tag);
  switch (t->kind) {
  case T_REQ:
    req_done(srv, t->obj, ev.success);
    break;
  case T_UNARY_DONE:
    unary_free(t->obj);
    break;
  case T_GENERIC_DONE: {
    gs_generic *g = t->obj;
    grpc_call_unref(g->call);
    free(g);
    live_add(srv, -1);
    break;
  }
  case T_S_RECV:
    stream_on_recv(t->obj, ev.success);
    break;
  case T_S_CLOSE:
    stream_on_close(t->obj);
    break;
  case T_S_SEND:
  case T_S_STATUS:
    stream_on_send(t->obj, ev.success);
    break;
  case T_SHUTDOWN:
    pthread_mutex_lock(&srv->mu);
    srv->shutdown_done = 1;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
    break;
  }
}

static void *cq_thread(void *arg) {
  gs_cq *q = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(q->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      break;
    if (ev.type == GRPC_OP_COMPLETE)
      dispatch(q->srv, ev);
  }
  return NULL;
}

/* Only when a thread could not be created: serve its queue from stop. */
static void poll_orphans(nc_gsrv *srv) {
  for (int i = 0; i < srv->nq; i++) {
    if (srv->qs[i].started)
      continue;
    grpc_event ev = grpc_completion_queue_next(
        srv->qs[i].cq, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(5, GPR_TIMESPAN)),
        NULL);
    if (ev.type == GRPC_OP_COMPLETE)
      dispatch(srv, ev);
  }
}

/* ---- public API ------------------------------------------------------- */

static void arg_int(grpc_arg *a, const char *key, int v) {
  a->type = GRPC_ARG_INTEGER;
  a->key = (char *)key;
  a->value.integer = v;
}

int nc_gsrv_start(const nc_gsrv_opts *opts, nc_gsrv_on_event cb, void *ud, nc_gsrv **out,
                  int *bound_port) {
  nc_gsrv *srv = NULL;
  grpc_server_credentials *creds = NULL;
  int rc = NC_ENOMEM;
  char addr[300];
  *out = NULL;
  if (!opts || !cb)
    return NC_EINVAL;
  if (!(srv = calloc(1, sizeof(*srv))))
    return NC_ENOMEM;
  srv->cb = cb;
  srv->ud = ud;
  srv->queue_max = opts->stream_queue_max ? opts->stream_queue_max : 1024;
  srv->nq = opts->threads > 0 ? opts->threads : 1;
  if (srv->nq > GS_MAX_THREADS)
    srv->nq = GS_MAX_THREADS;
  tag_init(&srv->t_shutdown, T_SHUTDOWN, srv);
  pthread_rwlock_init(&srv->api_lock, NULL);
  pthread_mutex_init(&srv->mu, NULL);
  pthread_cond_init(&srv->cond, NULL);
  pthread_mutex_init(&srv->map_mu, NULL);
  srv->n_buckets = 256;
  if (!(srv->buckets = calloc(srv->n_buckets, sizeof(*srv->buckets))))
    goto out;

  grpc_arg args[8];
  int na = 0;
  arg_int(&args[na++], GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
          opts->max_msg_bytes > 0 ? opts->max_msg_bytes : 10 * 1024 * 1024);
  arg_int(&args[na++], GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1);
  arg_int(&args[na++], GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
          opts->keepalive_permit_ms > 0 ? opts->keepalive_permit_ms : 10000);
  arg_int(&args[na++], GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  arg_int(&args[na++], GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  arg_int(&args[na++], GRPC_ARG_ALLOW_REUSEPORT, 0); /* a taken port must fail */
  grpc_channel_args ca = {(size_t)na, args};
  srv->server = grpc_server_create(&ca, NULL);
  srv->m_unary = grpc_server_register_method(srv->server, "/Request/request", NULL,
                                             GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
  srv->m_stream = grpc_server_register_method(srv->server, "/BiRequestStream/requestBiStream",
                                              NULL, GRPC_SRM_PAYLOAD_NONE, 0);
  for (int i = 0; i < srv->nq; i++) {
    srv->qs[i].srv = srv;
    srv->qs[i].cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, srv->qs[i].cq, NULL);
  }
  const char *host = opts->host && *opts->host ? opts->host : "0.0.0.0";
  snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, opts->port);
  creds = grpc_insecure_server_credentials_create();
  int port = grpc_server_add_http2_port(srv->server, addr, creds);
  grpc_server_credentials_release(creds);
  if (port <= 0) {
    nc_error("gsrv: cannot bind %s", addr);
    rc = NC_EIO;
    goto out;
  }
  srv->n_reqs = (size_t)srv->nq * (GS_UNARY_REQS + GS_STREAM_REQS + 1);
  if (!(srv->reqs = calloc(srv->n_reqs, sizeof(*srv->reqs))))
    goto out;
  grpc_server_start(srv->server);
  for (int i = 0; i < srv->nq; i++) {
    if (pthread_create(&srv->qs[i].thr, NULL, cq_thread, &srv->qs[i]) != 0) {
      nc_error("gsrv: cannot create a queue thread");
      goto out_started;
    }
    srv->qs[i].started = 1;
  }
  size_t k = 0;
  for (int i = 0; i < srv->nq; i++) {
    for (int j = 0; j < GS_UNARY_REQS + GS_STREAM_REQS + 1; j++, k++) {
      gs_req *r = &srv->reqs[k];
      tag_init(&r->tag, T_REQ, r);
      r->q = &srv->qs[i];
      r->method = j < GS_UNARY_REQS ? M_UNARY : j < GS_UNARY_REQS + GS_STREAM_REQS ? M_STREAM : M_GENERIC;
      grpc_metadata_array_init(&r->md);
      grpc_call_details_init(&r->details);
      live_add(srv, 1);
      req_post(srv, r);
    }
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
  if (srv->server) {
    /* Not started: no calls, no requests; destroy needs a shutdown first. */
    grpc_server_shutdown_and_notify(srv->server, srv->qs[0].cq, hb_give(&srv->t_shutdown));
    grpc_server_cancel_all_calls(srv->server);
    grpc_event ev;
    do
      ev = grpc_completion_queue_next(srv->qs[0].cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    while (ev.type == GRPC_OP_COMPLETE && ev.tag != &srv->t_shutdown);
    grpc_server_destroy(srv->server);
    for (int i = 0; i < srv->nq; i++) {
      grpc_completion_queue_shutdown(srv->qs[i].cq);
      while (grpc_completion_queue_next(srv->qs[i].cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
                 .type != GRPC_QUEUE_SHUTDOWN)
        ;
      grpc_completion_queue_destroy(srv->qs[i].cq);
    }
  }
  free(srv->reqs);
  free(srv->buckets);
  pthread_rwlock_destroy(&srv->api_lock);
  pthread_mutex_destroy(&srv->mu);
  pthread_cond_destroy(&srv->cond);
  pthread_mutex_destroy(&srv->map_mu);
  free(srv);
  return rc;
}

int nc_gsrv_stream_send(nc_gsrv *srv, uint64_t stream_id, const uint8_t *data, size_t len) {
  int rc = 0;
  pthread_rwlock_rdlock(&srv->api_lock);
  gs_stream *s = atomic_load(&srv->stopping) ? NULL : map_get(srv, stream_id);
  if (!s) {
    pthread_rwlock_unlock(&srv->api_lock);
    return NC_ECLOSED;
  }
  pthread_mutex_lock(&s->mu);
  if (s->dead || s->close_req) {
    rc = NC_ECLOSED;
  } else if (s->q_len >= s->srv->queue_max) {
    rc = NC_EBUSY;
  } else {
    if (s->q_len == s->q_cap) {
      size_t nc = s->q_cap ? s->q_cap * 2 : 4;
      grpc_byte_buffer **nq = malloc(nc * sizeof(*nq));
      if (!nq) {
        rc = NC_ENOMEM;
        goto unlock;
      }
      for (size_t i = 0; i < s->q_len; i++)
        nq[i] = s->q[(s->q_head + i) % s->q_cap];
      free(s->q);
      s->q = nq;
      s->q_cap = nc;
      s->q_head = 0;
    }
    s->q[(s->q_head + s->q_len) % s->q_cap] = bb_from(data, len);
    s->q_len++;
    stream_pump_locked(s);
  }
unlock:
  pthread_mutex_unlock(&s->mu);
  stream_unref(s);
  pthread_rwlock_unlock(&srv->api_lock);
  return rc;
}

int nc_gsrv_stream_close(nc_gsrv *srv, uint64_t stream_id) {
  int rc = 0;
  pthread_rwlock_rdlock(&srv->api_lock);
  gs_stream *s = atomic_load(&srv->stopping) ? NULL : map_get(srv, stream_id);
  if (!s) {
    pthread_rwlock_unlock(&srv->api_lock);
    return NC_ECLOSED;
  }
  pthread_mutex_lock(&s->mu);
  if (s->dead || s->close_req)
    rc = NC_ECLOSED;
  else
    stream_request_close_locked(s, GRPC_STATUS_UNAVAILABLE);
  pthread_mutex_unlock(&s->mu);
  stream_unref(s);
  pthread_rwlock_unlock(&srv->api_lock);
  return rc;
}

int nc_gsrv_stream_cancel(nc_gsrv *srv, uint64_t stream_id) {
  int rc = 0;
  pthread_rwlock_rdlock(&srv->api_lock);
  gs_stream *s = atomic_load(&srv->stopping) ? NULL : map_get(srv, stream_id);
  if (!s) {
    pthread_rwlock_unlock(&srv->api_lock);
    return NC_ECLOSED;
  }
  pthread_mutex_lock(&s->mu);
  if (s->dead) {
    rc = NC_ECLOSED;
  } else {
    s->close_req = 1; /* no more sends, and no status batch after the cancel */
    s->status_sent = 1;
    for (size_t i = 0; i < s->q_len; i++)
      grpc_byte_buffer_destroy(s->q[(s->q_head + i) % s->q_cap]);
    s->q_len = 0;
    grpc_call_cancel_with_status(s->call, GRPC_STATUS_UNAVAILABLE, "connection closed by server",
                                 NULL);
  }
  pthread_mutex_unlock(&s->mu);
  stream_unref(s);
  pthread_rwlock_unlock(&srv->api_lock);
  return rc;
}

size_t nc_gsrv_stream_queued(nc_gsrv *srv, uint64_t stream_id) {
  size_t n = 0;
  gs_stream *s = map_get(srv, stream_id);
  if (s) {
    pthread_mutex_lock(&s->mu);
    n = s->q_len;
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
  }
  return n;
}

void nc_gsrv_stop(nc_gsrv *srv) {
  if (!srv)
    return;
  pthread_rwlock_wrlock(&srv->api_lock);
  atomic_store(&srv->stopping, 1);
  pthread_rwlock_unlock(&srv->api_lock);

  grpc_server_shutdown_and_notify(srv->server, srv->qs[0].cq, hb_give(&srv->t_shutdown));
  grpc_server_cancel_all_calls(srv->server);
  int orphans = 0;
  for (int i = 0; i < srv->nq; i++)
    orphans |= !srv->qs[i].started;

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
      unary_free(u);
      pthread_mutex_lock(&srv->mu);
    }
    if (srv->live == 0 && srv->shutdown_done)
      break;
    if (orphans) {
      pthread_mutex_unlock(&srv->mu);
      poll_orphans(srv);
      pthread_mutex_lock(&srv->mu);
      continue;
    }
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

  grpc_server_destroy(srv->server);
  for (int i = 0; i < srv->nq; i++)
    grpc_completion_queue_shutdown(srv->qs[i].cq);
  for (int i = 0; i < srv->nq; i++) {
    if (srv->qs[i].started)
      pthread_join(srv->qs[i].thr, NULL);
    else
      while (grpc_completion_queue_next(srv->qs[i].cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
                 .type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(srv->qs[i].cq);
  }
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
