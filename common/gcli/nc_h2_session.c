/* nc_h2_session: the nghttp2 side of the client: callbacks that turn
 * frames into call results and stream messages, DATA sources, opening
 * streams, deadlines, and how calls end. */
#include "nc_err.h"
#include "nc_gcli_priv.h"
#include "nc_h2_priv.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_deadline(uv_timer_t *t);

/* The verdict on a stream that has ended. */
static int strm_status(const h2_strm *s, uint32_t h2_error) {
  if (s->err)
    return s->err;
  if (s->grpc_status >= 0)
    return nc_gcli_status_from_grpc(s->grpc_status);
  if (s->http_status && s->http_status != 200) /* gRPC's HTTP → status table */
    return (s->http_status == 429 || s->http_status == 502 || s->http_status == 503 ||
            s->http_status == 504)
               ? NC_EUNAVAIL
               : NC_EGRPC;
  (void)h2_error; /* reset or connection lost without a status */
  return NC_EUNAVAIL;
}

static void call_unlink(nc_gcli *c, h2_call *u) {
  if (u->prev)
    u->prev->next = u->next;
  else if (c->calls == u)
    c->calls = u->next;
  if (u->next)
    u->next->prev = u->prev;
  else if (c->calls_tail == u)
    c->calls_tail = u->prev;
  u->prev = u->next = NULL;
}

void h2_call_free(h2_call *u) {
  h2_rx_free(&u->s.rx);
  free(u->out);
  free(u->msg);
  free(u);
}

/* Runs the user callback and frees the call (already unlinked). */
static void call_finish(h2_call *u, int st) {
  if (st == 0 && !u->got_msg)
    st = NC_EGRPC; /* OK status without a response message */
  if (st != 0)
    nc_debug("gcli: unary call on stream %d failed: %s (grpc-status %d, http %d)", (int)u->s.sid,
             nc_strerror(st), u->s.grpc_status, u->s.http_status);
  u->cb(u->ud, st, st == 0 ? u->msg : NULL, st == 0 ? u->msg_len : 0);
  h2_call_free(u);
}

/* Ends every call and the stream; stream callbacks only when the owner is
 * not freeing the client. */
void h2_fail_all(nc_gcli *c, int ust, int sst) {
  h2_call *u;
  while ((u = c->calls)) {
    call_unlink(c, u);
    if (c->sess && u->s.sid)
      nghttp2_session_set_stream_user_data(c->sess, u->s.sid, NULL);
    call_finish(u, ust);
  }
  pthread_mutex_lock(&c->mu);
  int was_open = c->s_state == S_OPEN;
  c->s_state = was_open ? S_CLOSED : c->s_state;
  int deliver = was_open && !c->freeing;
  h2_bufq_clear(&c->q);
  pthread_mutex_unlock(&c->mu);
  h2_bufq_clear(&c->sq);
  c->bidi_live = 0;
  if (c->sess && c->bidi.sid)
    nghttp2_session_set_stream_user_data(c->sess, c->bidi.sid, NULL);
  h2_rx_free(&c->bidi.rx);
  if (deliver && c->cbs.on_closed)
    c->cbs.on_closed(c->s_ud, sst);
}

static int emit_unary(nc_gcli *c, h2_strm *s, uint8_t *msg, size_t len) {
  h2_call *u = (h2_call *)s;
  (void)c;
  if (u->got_msg) { /* a unary response carries one message */
    free(msg);
    return NC_EGRPC;
  }
  u->msg = msg;
  u->msg_len = len;
  u->got_msg = 1;
  return 0;
}

static int emit_bidi(nc_gcli *c, h2_strm *s, uint8_t *msg, size_t len) {
  (void)s;
  pthread_mutex_lock(&c->mu);
  int deliver = !c->freeing && c->s_state == S_OPEN;
  pthread_mutex_unlock(&c->mu);
  if (deliver && c->cbs.on_msg)
    c->cbs.on_msg(c->s_ud, msg, len);
  free(msg);
  return 0;
}

static int on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t sid, const uint8_t *data,
                         size_t len, void *ud) {
  nc_gcli *c = ud;
  h2_strm *s = nghttp2_session_get_stream_user_data(sess, sid);
  (void)flags;
  if (!s || s->err)
    return 0;
  int rc = h2_rx_feed(c, s, data, len, s->kind == K_UNARY ? emit_unary : emit_bidi);
  if (rc != 0) {
    s->err = rc;
    nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, sid, NGHTTP2_CANCEL);
  }
  return 0;
}

static int on_header(nghttp2_session *sess, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud) {
  (void)flags;
  (void)ud;
  h2_strm *s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
  if (!s || frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  char v[16];
  if (valuelen >= sizeof(v))
    valuelen = sizeof(v) - 1;
  if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
    memcpy(v, value, valuelen);
    v[valuelen] = 0;
    s->http_status = atoi(v);
  } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
    memcpy(v, value, valuelen);
    v[valuelen] = 0;
    s->grpc_status = atoi(v);
  } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0 && valuelen) {
    nc_debug("gcli: stream %d grpc-message: %.*s", (int)frame->hd.stream_id, (int)valuelen,
             (const char *)value);
  }
  return 0;
}

/* The RPC on s is over with status st: runs its callback (the caller has
 * made sure this happens once). */
static void strm_end(nc_gcli *c, h2_strm *s, int st) {
  if (s->kind == K_UNARY) {
    h2_call *u = (h2_call *)s;
    call_unlink(c, u);
    call_finish(u, st);
    return;
  }
  /* the bidi stream */
  pthread_mutex_lock(&c->mu);
  int deliver = !c->freeing && c->s_state == S_OPEN;
  c->s_state = S_CLOSED;
  h2_bufq_clear(&c->q);
  pthread_mutex_unlock(&c->mu);
  h2_bufq_clear(&c->sq);
  c->bidi_live = 0;
  h2_rx_free(&c->bidi.rx);
  if (st != 0)
    nc_debug("gcli: stream to %s ended: %s", c->target, nc_strerror(st));
  if (deliver && c->cbs.on_closed)
    c->cbs.on_closed(c->s_ud, st);
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *frame, void *ud) {
  nc_gcli *c = ud;
  c->last_rx_ms = h2_now_ms();
  int32_t sid = frame->hd.stream_id;
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
      nghttp2_session_get_stream_local_close(sess, sid) == 0) {
    /* The server ended the RPC while our side is still open (always so
     * for the bidi stream, which we never end): for gRPC the call is over
     * now, but HTTP/2 closes the stream only when both sides have ended
     * it, and a server need not reset it. Finish it here and reset it. */
    h2_strm *s = nghttp2_session_get_stream_user_data(sess, sid);
    if (s) {
      nghttp2_session_set_stream_user_data(sess, sid, NULL);
      nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, sid, NGHTTP2_NO_ERROR);
      strm_end(c, s, strm_status(s, 0));
    }
    return 0;
  }
  if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK))
    c->ping_out = 0;
  else if (frame->hd.type == NGHTTP2_GOAWAY)
    c->goaway = 1; /* no new streams; the ones above last_stream_id get closed */
  return 0;
}

static int on_stream_close(nghttp2_session *sess, int32_t sid, uint32_t error_code, void *ud) {
  h2_strm *s = nghttp2_session_get_stream_user_data(sess, sid);
  if (s) /* else timed out, failed or ended already */
    strm_end(ud, s, strm_status(s, error_code));
  return 0;
}

/* DATA for a unary call: its one message, then END_STREAM. */
static ssize_t read_unary(nghttp2_session *sess, int32_t sid, uint8_t *buf, size_t length,
                          uint32_t *flags, nghttp2_data_source *src, void *ud) {
  h2_call *u = src->ptr;
  (void)sess;
  (void)sid;
  (void)ud;
  size_t k = u->out->len - u->out->off;
  if (k > length)
    k = length;
  memcpy(buf, u->out->data + u->out->off, k);
  u->out->off += k;
  if (u->out->off == u->out->len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)k;
}

/* Moves stream messages from the shared queue to the loop's own; returns
 * whether any moved. Not under c->mu. */
int h2_refill_sq(nc_gcli *c) {
  int moved = 0;
  pthread_mutex_lock(&c->mu);
  while (c->sq.n < H2_PRIV_QUEUE && c->q.head) {
    h2_bufq_push(&c->sq, h2_bufq_pop(&c->q));
    moved = 1;
  }
  pthread_mutex_unlock(&c->mu);
  return moved;
}

/* DATA for the bidi stream: whatever is queued; never ends it. */
static ssize_t read_bidi(nghttp2_session *sess, int32_t sid, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud) {
  nc_gcli *c = ud;
  size_t done = 0;
  (void)sess;
  (void)sid;
  (void)flags;
  (void)src;
  while (done < length && (c->sq.head || h2_refill_sq(c))) {
    h2_buf *b = c->sq.head;
    size_t k = b->len - b->off;
    if (k > length - done)
      k = length - done;
    memcpy(buf + done, b->data + b->off, k);
    b->off += k;
    done += k;
    if (b->off == b->len)
      free(h2_bufq_pop(&c->sq));
  }
  if (!done)
    return NGHTTP2_ERR_DEFERRED; /* resumed when more is queued */
  return (ssize_t)done;
}

static int submit(nc_gcli *c, h2_strm *s, const char *path, int timeout_ms,
                  nghttp2_data_source_read_callback rd, void *src) {
  char tmo[24];
  nghttp2_nv nv[8];
  size_t n = 0;
#define NV(k, v)                                                                                   \
  nv[n++] = (nghttp2_nv) {                                                                         \
    (uint8_t *)(k), (uint8_t *)(v), sizeof(k) - 1, strlen(v), NGHTTP2_NV_FLAG_NO_COPY_NAME         \
  }
  NV(":method", "POST");
  if (c->tls)
    NV(":scheme", "https");
  else
    NV(":scheme", "http");
  NV(":path", path);
  NV(":authority", c->target);
  NV("content-type", "application/grpc");
  NV("te", "trailers");
  NV("user-agent", "nacos-c-h2/1");
  if (timeout_ms > 0) {
    snprintf(tmo, sizeof(tmo), "%dm", timeout_ms > 99999999 ? 99999999 : timeout_ms);
    NV("grpc-timeout", tmo);
  }
#undef NV
  nghttp2_data_provider prd = {.source = {.ptr = src}, .read_callback = rd};
  int32_t sid = nghttp2_submit_request(c->sess, NULL, nv, n, &prd, s);
  if (sid < 0) {
    nc_debug("gcli: cannot start a stream to %s: %s", c->target, nghttp2_strerror(sid));
    return NC_EUNAVAIL;
  }
  s->sid = sid;
  return 0;
}

void h2_arm_deadline(nc_gcli *c) {
  uint64_t first = 0;
  for (h2_call *u = c->calls; u; u = u->next)
    if (!first || u->deadline_ms < first)
      first = u->deadline_ms;
  if (!first) {
    uv_timer_stop(&c->t_deadline);
    return;
  }
  uint64_t now = h2_now_ms();
  uv_timer_start(&c->t_deadline, on_deadline, first > now ? first - now : 0, 0);
}

static void on_deadline(uv_timer_t *t) {
  nc_gcli *c = t->data;
  uint64_t now = h2_now_ms();
  h2_call *u = c->calls, *next;
  for (; u; u = next) {
    next = u->next;
    if (u->deadline_ms > now)
      continue;
    call_unlink(c, u);
    if (u->s.sid && c->sess) {
      nghttp2_session_set_stream_user_data(c->sess, u->s.sid, NULL);
      nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, u->s.sid, NGHTTP2_CANCEL);
    }
    call_finish(u, NC_ETIMEOUT);
  }
  h2_arm_deadline(c);
  h2_flush(c);
}

/* Connected: starts the calls and the stream that waited for it. */
void h2_start_streams(nc_gcli *c) {
  for (h2_call *u = c->calls, *next; u; u = next) {
    next = u->next;
    if (u->s.sid)
      continue;
    int left = (int)(u->deadline_ms > h2_now_ms() ? u->deadline_ms - h2_now_ms() : 1);
    if (c->goaway || submit(c, &u->s, c->unary_method, left, read_unary, u) != 0) {
      call_unlink(c, u);
      call_finish(u, NC_EUNAVAIL);
    }
  }
  pthread_mutex_lock(&c->mu);
  int want_stream = c->s_state == S_OPEN && !c->bidi.sid;
  pthread_mutex_unlock(&c->mu);
  if (want_stream) {
    c->bidi.kind = K_BIDI;
    c->bidi.grpc_status = -1;
    if (c->goaway || submit(c, &c->bidi, c->stream_method, 0, read_bidi, c) != 0)
      h2_fail_all(c, NC_EUNAVAIL, NC_EUNAVAIL);
    else
      c->bidi_live = 1;
  }
}

int h2_session_new(nc_gcli *c) {
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb) != 0)
    return NC_ENOMEM;
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  int rc = nghttp2_session_client_new(&c->sess, cb, c);
  nghttp2_session_callbacks_del(cb);
  if (rc != 0)
    return NC_ENOMEM;
  /* Windows as the Go SDK sets them; nghttp2 only buffers what arrives. */
  nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                 {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 10 * 1024 * 1024},
                                 {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 64 * 1024}};
  if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0 ||
      nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE, 0, 10 * 1024 * 1024) != 0)
    return NC_ENOMEM;
  return 0;
}
