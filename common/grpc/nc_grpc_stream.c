/* nc_gsrv streams: the bidi side of the server (see nc_grpc_server.c for
 * the threading and lifetime rules). A stream is found by id through a hash
 * map under map_mu; a lookup takes a reference, so a send racing a close
 * never touches freed memory. Outbound messages wait in a per-stream ring
 * (bounded by queue_max) with one SEND_MESSAGE in flight; send-side batches
 * are started under the stream's mutex from whichever thread gets there. */
#include "nc_gsrv_int.h"
#include "nc_err.h"
#include "nc_log.h"

#include <grpc/support/alloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint_fast64_t g_next_stream_id = 1;

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
  nc_bbq_free(&s->q);
  if (s->recv_bb)
    grpc_byte_buffer_destroy(s->recv_bb);
  grpc_call_unref(s->call);
  pthread_mutex_destroy(&s->mu);
  free(s);
  nc_gsrv__live_add(srv, -1);
}

/* Starts a batch counted as one reference; drops it again on failure. */
static int stream_batch(gs_stream *s, const grpc_op *ops, size_t n, nc_gtag *tag) {
  atomic_fetch_add(&s->refs, 1);
  nc_trace("gsrv: stream %llu start op %d tag %d", (unsigned long long)s->id, (int)ops[0].op, tag->kind);
  /* Read the call before hb_give publishes the tag: once published the
   * completion thread may free s, and TSan only sees the release/acquire
   * pair, not gRPC's own synchronisation. */
  grpc_call *call = s->call;
  grpc_call_error e = grpc_call_start_batch(call, ops, n, nc_gtag_give(tag), NULL);
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
  if (s->q.len) {
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_MESSAGE;
    s->inflight = nc_bbq_pop(&s->q);
    op.data.send_message.send_message = s->inflight;
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

void nc_gsrv__stream_arrived(nc_gsrv *srv, grpc_call *call) {
  gs_stream *s = calloc(1, sizeof(*s));
  grpc_op op;
  if (!s) {
    grpc_call_cancel(call, NULL);
    grpc_call_unref(call);
    return;
  }
  nc_gtag_init(&s->t_recv, T_S_RECV, s);
  nc_gtag_init(&s->t_close, T_S_CLOSE, s);
  nc_gtag_init(&s->t_send, T_S_SEND, s);
  nc_gtag_init(&s->t_status, T_S_STATUS, s);
  s->srv = srv;
  s->call = call;
  s->id = atomic_fetch_add(&g_next_stream_id, 1);
  atomic_init(&s->refs, 1); /* the map's */
  pthread_mutex_init(&s->mu, NULL);
  nc_gsrv__peer(call, s->peer, sizeof(s->peer));
  nc_gsrv__live_add(srv, 1);
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
  nc_gsrv__emit(srv, NC_GSRV_EV_STREAM_OPEN, s->id, NULL, s->peer, NULL);
  stream_post_recv(s);
}

void nc_gsrv__stream_on_recv(gs_stream *s, int ok) {
  nc_gsrv *srv = s->srv;
  if (ok && s->recv_bb) {
    grpc_byte_buffer *bb = s->recv_bb;
    s->recv_bb = NULL;
    if (!s->closed_emitted)
      nc_gsrv__emit(srv, NC_GSRV_EV_STREAM_MSG, s->id, NULL, s->peer, bb);
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

void nc_gsrv__stream_on_close(gs_stream *s) {
  nc_gsrv *srv = s->srv;
  pthread_mutex_lock(&s->mu);
  s->dead = 1;
  pthread_mutex_unlock(&s->mu);
  int was_mapped = map_del(srv, s);
  if (!s->closed_emitted) {
    s->closed_emitted = 1;
    nc_gsrv__emit(srv, NC_GSRV_EV_STREAM_CLOSED, s->id, NULL, s->peer, NULL);
  }
  if (was_mapped)
    stream_unref(s); /* the map's reference */
  stream_unref(s);   /* the batch's */
}

void nc_gsrv__stream_on_send(gs_stream *s, int ok) {
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

/* ---- stream API ------------------------------------------------------- */

/* The stream with that id, locked, with api_lock held for reading so that
 * stop cannot begin meanwhile; NULL (nothing held) when it is gone or the
 * server is stopping. Pair with api_stream_end. */
static gs_stream *api_stream_begin(nc_gsrv *srv, uint64_t stream_id) {
  pthread_rwlock_rdlock(&srv->api_lock);
  gs_stream *s = atomic_load(&srv->stopping) ? NULL : map_get(srv, stream_id);
  if (!s) {
    pthread_rwlock_unlock(&srv->api_lock);
    return NULL;
  }
  pthread_mutex_lock(&s->mu);
  return s;
}

static void api_stream_end(nc_gsrv *srv, gs_stream *s) {
  pthread_mutex_unlock(&s->mu);
  stream_unref(s);
  pthread_rwlock_unlock(&srv->api_lock);
}

int nc_gsrv_stream_send(nc_gsrv *srv, uint64_t stream_id, const uint8_t *data, size_t len) {
  int rc = 0;
  gs_stream *s = api_stream_begin(srv, stream_id);
  if (!s)
    return NC_ECLOSED;
  if (s->dead || s->close_req) {
    rc = NC_ECLOSED;
  } else if (s->q.len >= s->srv->queue_max) {
    rc = NC_EBUSY;
  } else if ((rc = nc_bbq_push(&s->q, data, len)) == 0) {
    stream_pump_locked(s);
  }
  api_stream_end(srv, s);
  return rc;
}

int nc_gsrv_stream_close(nc_gsrv *srv, uint64_t stream_id) {
  int rc = 0;
  gs_stream *s = api_stream_begin(srv, stream_id);
  if (!s)
    return NC_ECLOSED;
  if (s->dead || s->close_req)
    rc = NC_ECLOSED;
  else
    stream_request_close_locked(s, GRPC_STATUS_UNAVAILABLE);
  api_stream_end(srv, s);
  return rc;
}

int nc_gsrv_stream_cancel(nc_gsrv *srv, uint64_t stream_id) {
  int rc = 0;
  gs_stream *s = api_stream_begin(srv, stream_id);
  if (!s)
    return NC_ECLOSED;
  if (s->dead) {
    rc = NC_ECLOSED;
  } else {
    s->close_req = 1; /* no more sends, and no status batch after the cancel */
    s->status_sent = 1;
    nc_bbq_clear(&s->q);
    grpc_call_cancel_with_status(s->call, GRPC_STATUS_UNAVAILABLE, "connection closed by server",
                                 NULL);
  }
  api_stream_end(srv, s);
  return rc;
}

size_t nc_gsrv_stream_queued(nc_gsrv *srv, uint64_t stream_id) {
  size_t n = 0;
  gs_stream *s = map_get(srv, stream_id);
  if (s) {
    pthread_mutex_lock(&s->mu);
    n = s->q.len;
    pthread_mutex_unlock(&s->mu);
    stream_unref(s);
  }
  return n;
}
