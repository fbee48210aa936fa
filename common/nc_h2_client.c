/* nc_gcli over nghttp2 + libuv: the same client API as nc_grpc_client.c
 * without the gRPC C core, for nacos-agent (one connection, a handful of
 * calls; the C core alone maps ~11 MB of shared libraries into it).
 *
 * Design notes
 * - An env is one thread running a libuv loop. A client is one TCP
 *   connection speaking gRPC over HTTP/2 cleartext (prior knowledge); the
 *   nghttp2 session, the socket and all callbacks live on that thread.
 * - Other threads talk to a client through c->mu: new unary calls go on
 *   c->pending, stream messages on c->q, then the client is put on the env's
 *   dirty list and the loop is woken; service() moves the work into nghttp2.
 *   Nothing calls user callbacks with a lock held, so callbacks may start
 *   new calls or send on the stream.
 * - Unlike a gRPC channel this client does not reconnect: once its
 *   connection has ended (or failed to open) every call fails with
 *   NC_EUNAVAIL. nc_wc, the only user, makes a new client per connection.
 * - nc_gcli_free marks the client, wakes the loop and waits; the loop fails
 *   what is in flight (unary callbacks get NC_ECLOSED, stream callbacks are
 *   suppressed), closes its handles and only then signals. */
#include "nc_grpc_client.h"
#include "nc_err.h"
#include "nc_log.h"

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#define H2_STREAM_QUEUE_MAX 16384
#define H2_PRIV_QUEUE 64          /* stream messages handed to nghttp2 at a time */
#define H2_WBUF_CHUNK (64 * 1024) /* bytes per socket write */
#define H2_RBUF (16 * 1024)
#define H2_PING_TIMEOUT_MS 20000

enum { S_NONE, S_OPEN, S_CLOSED };
enum { K_UNARY = 1, K_BIDI };

/* A received gRPC message being reassembled (5-byte prefix + body). */
typedef struct h2_rx {
  uint8_t hdr[5];
  size_t hdr_have;
  uint8_t *buf;
  size_t need, have;
  int in_body;
} h2_rx;

/* What both kinds of HTTP/2 stream carry: nghttp2's stream user data. */
typedef struct h2_strm {
  int kind;
  int32_t sid;
  h2_rx rx;
  int http_status;
  int grpc_status; /* -1 until seen */
  int err;         /* local verdict (NC_ETOOBIG, NC_EGRPC), 0 if none */
} h2_strm;

/* An outbound message: the gRPC prefix and body in one block. */
typedef struct h2_buf {
  struct h2_buf *next;
  size_t len, off;
  uint8_t data[];
} h2_buf;

typedef struct h2_bufq {
  h2_buf *head, *tail;
  size_t n;
} h2_bufq;

typedef struct h2_call {
  h2_strm s; /* first: the stream user data points here */
  struct h2_call *prev, *next;
  nc_gcli *c;
  uint64_t deadline_ms;
  int timeout_ms;
  h2_buf *out;
  uint8_t *msg; /* the response message, once complete */
  size_t msg_len;
  int got_msg;
  nc_gcli_unary_cb cb;
  void *ud;
} h2_call;

struct nc_gcli_env {
  uv_loop_t loop;
  uv_async_t wake;
  pthread_t thr;
  int started;
  pthread_mutex_t mu; /* dirty list, stop */
  nc_gcli *dirty;
  int stop;
};

struct nc_gcli {
  nc_gcli_env *env;
  char target[260];
  char host[256];
  int port;
  int max_msg, keepalive_ms, connect_timeout_ms;

  /* shared with API threads, under mu */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int freeing, done;
  h2_call *pending; /* new unary calls, newest first */
  h2_bufq q;        /* stream messages not yet handed over */
  int s_state;
  nc_gcli_stream_cbs cbs;
  void *s_ud;
  nc_gcli *dirty_next; /* env list, under env->mu */
  int in_dirty;

  /* loop thread only */
  int started, connected, dead, goaway, closing, handles;
  uv_tcp_t tcp;
  uv_timer_t t_deadline, t_ka;
  uv_connect_t creq;
  uv_getaddrinfo_t gai;
  int gai_busy;
  struct addrinfo *ai, *ai_cur; /* resolved addresses, tried in turn */
  uv_write_t wreq;
  int writing;
  uint8_t *wbuf, *rbuf;
  size_t wlen, wcap;
  nghttp2_session *sess;
  h2_call *calls;   /* submitted or waiting for the connection, oldest first */
  h2_call *calls_tail;
  h2_strm bidi;     /* the stream, once submitted (sid != 0) */
  int bidi_live;    /* submitted and not yet closed */
  h2_bufq sq;       /* stream messages nghttp2 reads from */
  uint64_t last_rx_ms, ping_sent_ms;
  int ping_out;
};

static void service(nc_gcli *c);
static void flush(nc_gcli *c);
static void on_deadline(uv_timer_t *t);
static void conn_fail(nc_gcli *c, const char *why);

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

/* ---- small pieces ------------------------------------------------------ */

static h2_buf *buf_new(const uint8_t *data, size_t len) {
  h2_buf *b = malloc(sizeof(*b) + 5 + len);
  if (!b)
    return NULL;
  b->next = NULL;
  b->len = 5 + len;
  b->off = 0;
  b->data[0] = 0; /* not compressed */
  b->data[1] = (uint8_t)(len >> 24);
  b->data[2] = (uint8_t)(len >> 16);
  b->data[3] = (uint8_t)(len >> 8);
  b->data[4] = (uint8_t)len;
  if (len)
    memcpy(b->data + 5, data, len);
  return b;
}

static void bufq_push(h2_bufq *q, h2_buf *b) {
  if (q->tail)
    q->tail->next = b;
  else
    q->head = b;
  q->tail = b;
  q->n++;
}

static h2_buf *bufq_pop(h2_bufq *q) {
  h2_buf *b = q->head;
  if (b) {
    q->head = b->next;
    if (!q->head)
      q->tail = NULL;
    q->n--;
    b->next = NULL;
  }
  return b;
}

static void bufq_clear(h2_bufq *q) {
  h2_buf *b;
  while ((b = bufq_pop(q)))
    free(b);
}

/* grpc-status → NC_*; see nc_grpc_client.c for the same table. */
static int map_grpc(int st) {
  switch (st) {
  case 0:
    return 0;
  case 4:
    return NC_ETIMEOUT;
  case 14:
    return NC_EUNAVAIL;
  case 1:
    return NC_ECLOSED;
  case 8:
    return NC_ETOOBIG;
  default:
    return NC_EGRPC;
  }
}

/* The verdict on a stream that has ended. */
static int strm_status(const h2_strm *s, uint32_t h2_error) {
  if (s->err)
    return s->err;
  if (s->grpc_status >= 0)
    return map_grpc(s->grpc_status);
  if (s->http_status && s->http_status != 200) /* gRPC's HTTP → status table */
    return (s->http_status == 429 || s->http_status == 502 || s->http_status == 503 ||
            s->http_status == 504)
               ? NC_EUNAVAIL
               : NC_EGRPC;
  (void)h2_error; /* reset or connection lost without a status */
  return NC_EUNAVAIL;
}

/* Feeds received DATA into the message reassembly; emit() gets each whole
 * message (buffer ownership passes to emit). Returns 0 or NC_E*. */
typedef int (*h2_emit_fn)(nc_gcli *c, h2_strm *s, uint8_t *msg, size_t len);
static int rx_feed(nc_gcli *c, h2_strm *s, const uint8_t *p, size_t n, h2_emit_fn emit) {
  h2_rx *rx = &s->rx;
  while (n > 0 || (rx->in_body && rx->have == rx->need)) {
    if (!rx->in_body) {
      size_t k = 5 - rx->hdr_have;
      if (k > n)
        k = n;
      memcpy(rx->hdr + rx->hdr_have, p, k);
      rx->hdr_have += k;
      p += k;
      n -= k;
      if (rx->hdr_have < 5)
        break;
      if (rx->hdr[0] != 0) /* no compression was offered */
        return NC_EGRPC;
      rx->need = (size_t)rx->hdr[1] << 24 | (size_t)rx->hdr[2] << 16 | (size_t)rx->hdr[3] << 8 |
                 rx->hdr[4];
      if (rx->need > (size_t)c->max_msg)
        return NC_ETOOBIG;
      if (!(rx->buf = malloc(rx->need ? rx->need : 1)))
        return NC_ENOMEM;
      rx->have = 0;
      rx->in_body = 1;
    }
    size_t k = rx->need - rx->have;
    if (k > n)
      k = n;
    if (k) {
      memcpy(rx->buf + rx->have, p, k);
      rx->have += k;
      p += k;
      n -= k;
    }
    if (rx->have < rx->need)
      break;
    uint8_t *msg = rx->buf;
    size_t len = rx->need;
    rx->buf = NULL;
    rx->in_body = 0;
    rx->hdr_have = 0;
    int rc = emit(c, s, msg, len);
    if (rc != 0)
      return rc;
  }
  return 0;
}

static void rx_free(h2_rx *rx) {
  free(rx->buf);
  memset(rx, 0, sizeof(*rx));
}

/* ---- env ------------------------------------------------------------- */

/* Caller holds c->mu (lock order: c->mu, then env->mu). */
static void mark_dirty_locked(nc_gcli *c) {
  nc_gcli_env *env = c->env;
  pthread_mutex_lock(&env->mu);
  if (!c->in_dirty) {
    c->in_dirty = 1;
    c->dirty_next = env->dirty;
    env->dirty = c;
  }
  pthread_mutex_unlock(&env->mu);
  uv_async_send(&env->wake);
}

static void on_wake(uv_async_t *a) {
  nc_gcli_env *env = a->data;
  for (;;) {
    pthread_mutex_lock(&env->mu);
    nc_gcli *c = env->dirty;
    if (c) {
      env->dirty = c->dirty_next;
      c->in_dirty = 0;
      c->dirty_next = NULL;
    }
    int stop = env->stop;
    pthread_mutex_unlock(&env->mu);
    if (!c) {
      if (stop)
        uv_close((uv_handle_t *)&env->wake, NULL);
      return;
    }
    service(c);
  }
}

static void *env_thread(void *arg) {
  nc_gcli_env *env = arg;
  /* libuv writes with write(2), not send(MSG_NOSIGNAL): a write into a
   * connection the server reset raises SIGPIPE, which kills a program that
   * does not ignore it (the gRPC C core never raises it). Every socket write
   * happens on this thread; with the signal blocked here it stays pending on
   * this thread only and the write fails with EPIPE, which we handle. */
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, NULL);
  uv_run(&env->loop, UV_RUN_DEFAULT);
  return NULL;
}

int nc_gcli_env_new(int threads, nc_gcli_env **out) {
  (void)threads; /* one loop thread serves every client */
  nc_gcli_env *env = calloc(1, sizeof(*env));
  *out = NULL;
  if (!env)
    return NC_ENOMEM;
  pthread_mutex_init(&env->mu, NULL);
  if (uv_loop_init(&env->loop) != 0)
    goto fail;
  if (uv_async_init(&env->loop, &env->wake, on_wake) != 0) {
    uv_loop_close(&env->loop);
    goto fail;
  }
  env->wake.data = env;
  if (pthread_create(&env->thr, NULL, env_thread, env) != 0) {
    uv_close((uv_handle_t *)&env->wake, NULL);
    uv_run(&env->loop, UV_RUN_DEFAULT);
    uv_loop_close(&env->loop);
    goto fail;
  }
  env->started = 1;
  *out = env;
  return 0;
fail:
  pthread_mutex_destroy(&env->mu);
  free(env);
  return NC_ENOMEM;
}

void nc_gcli_env_free(nc_gcli_env *env) {
  if (!env)
    return;
  pthread_mutex_lock(&env->mu);
  env->stop = 1;
  pthread_mutex_unlock(&env->mu);
  uv_async_send(&env->wake);
  pthread_join(env->thr, NULL);
  if (uv_loop_close(&env->loop) != 0)
    nc_warn("gcli: env freed with handles still open");
  pthread_mutex_destroy(&env->mu);
  free(env);
}

/* ---- finishing calls ---------------------------------------------------- */

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

static void call_free(h2_call *u) {
  rx_free(&u->s.rx);
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
  call_free(u);
}

/* Ends every call and the stream; stream callbacks only when the owner is
 * not freeing the client. */
static void fail_all(nc_gcli *c, int ust, int sst) {
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
  bufq_clear(&c->q);
  pthread_mutex_unlock(&c->mu);
  bufq_clear(&c->sq);
  c->bidi_live = 0;
  if (c->sess && c->bidi.sid)
    nghttp2_session_set_stream_user_data(c->sess, c->bidi.sid, NULL);
  rx_free(&c->bidi.rx);
  if (deliver && c->cbs.on_closed)
    c->cbs.on_closed(c->s_ud, sst);
}

/* ---- nghttp2 callbacks -------------------------------------------------- */

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
  int rc = rx_feed(c, s, data, len, s->kind == K_UNARY ? emit_unary : emit_bidi);
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
  bufq_clear(&c->q);
  pthread_mutex_unlock(&c->mu);
  bufq_clear(&c->sq);
  c->bidi_live = 0;
  rx_free(&c->bidi.rx);
  if (st != 0)
    nc_debug("gcli: stream to %s ended: %s", c->target, nc_strerror(st));
  if (deliver && c->cbs.on_closed)
    c->cbs.on_closed(c->s_ud, st);
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *frame, void *ud) {
  nc_gcli *c = ud;
  c->last_rx_ms = now_ms();
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
static int refill_sq(nc_gcli *c) {
  int moved = 0;
  pthread_mutex_lock(&c->mu);
  while (c->sq.n < H2_PRIV_QUEUE && c->q.head) {
    bufq_push(&c->sq, bufq_pop(&c->q));
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
  while (done < length && (c->sq.head || refill_sq(c))) {
    h2_buf *b = c->sq.head;
    size_t k = b->len - b->off;
    if (k > length - done)
      k = length - done;
    memcpy(buf + done, b->data + b->off, k);
    b->off += k;
    done += k;
    if (b->off == b->len)
      free(bufq_pop(&c->sq));
  }
  if (!done)
    return NGHTTP2_ERR_DEFERRED; /* resumed when more is queued */
  return (ssize_t)done;
}

/* ---- submitting work ---------------------------------------------------- */

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

static void arm_deadline(nc_gcli *c) {
  uint64_t first = 0;
  for (h2_call *u = c->calls; u; u = u->next)
    if (!first || u->deadline_ms < first)
      first = u->deadline_ms;
  if (!first) {
    uv_timer_stop(&c->t_deadline);
    return;
  }
  uint64_t now = now_ms();
  uv_timer_start(&c->t_deadline, on_deadline, first > now ? first - now : 0, 0);
}

static void on_deadline(uv_timer_t *t) {
  nc_gcli *c = t->data;
  uint64_t now = now_ms();
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
  arm_deadline(c);
  flush(c);
}

/* Connected: starts the calls and the stream that waited for it. */
static void start_streams(nc_gcli *c) {
  for (h2_call *u = c->calls, *next; u; u = next) {
    next = u->next;
    if (u->s.sid)
      continue;
    int left = (int)(u->deadline_ms > now_ms() ? u->deadline_ms - now_ms() : 1);
    if (c->goaway || submit(c, &u->s, "/Request/request", left, read_unary, u) != 0) {
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
    if (c->goaway || submit(c, &c->bidi, "/BiRequestStream/requestBiStream", 0, read_bidi, c) != 0)
      fail_all(c, NC_EUNAVAIL, NC_EUNAVAIL);
    else
      c->bidi_live = 1;
  }
}

/* ---- the socket ------------------------------------------------------- */

static void on_write(uv_write_t *req, int status) {
  nc_gcli *c = req->data;
  c->writing = 0;
  c->wlen = 0;
  if (c->closing)
    return;
  if (status < 0) {
    conn_fail(c, uv_strerror(status));
    return;
  }
  flush(c);
}

/* Moves what nghttp2 wants to send into one socket write at a time (the
 * next is built when the previous completes: bounded memory). */
static void flush(nc_gcli *c) {
  if (!c->connected || c->dead || c->closing || c->writing || !c->sess)
    return;
  while (c->wlen < H2_WBUF_CHUNK) {
    const uint8_t *p;
    ssize_t k = nghttp2_session_mem_send(c->sess, &p);
    if (k < 0) {
      conn_fail(c, nghttp2_strerror((int)k));
      return;
    }
    if (k == 0)
      break;
    if (c->wlen + (size_t)k > c->wcap) {
      size_t cap = c->wcap ? c->wcap : 4096;
      while (cap < c->wlen + (size_t)k)
        cap *= 2;
      uint8_t *nb = realloc(c->wbuf, cap);
      if (!nb) {
        conn_fail(c, "out of memory");
        return;
      }
      c->wbuf = nb;
      c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, p, (size_t)k);
    c->wlen += (size_t)k;
  }
  if (!c->wlen) {
    if (!nghttp2_session_want_read(c->sess) && !nghttp2_session_want_write(c->sess))
      conn_fail(c, "HTTP/2 session finished");
    return;
  }
  uv_buf_t b = uv_buf_init((char *)c->wbuf, (unsigned)c->wlen);
  c->wreq.data = c;
  int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (rc != 0) {
    c->wlen = 0;
    conn_fail(c, uv_strerror(rc));
    return;
  }
  c->writing = 1;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  nc_gcli *c = h->data;
  (void)hint;
  *buf = uv_buf_init((char *)c->rbuf, H2_RBUF);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  nc_gcli *c = st->data;
  (void)buf;
  if (n == 0)
    return;
  if (n < 0) {
    conn_fail(c, n == UV_EOF ? "server closed the connection" : uv_strerror((int)n));
    return;
  }
  ssize_t k = nghttp2_session_mem_recv(c->sess, c->rbuf, (size_t)n);
  if (k < 0) {
    conn_fail(c, nghttp2_strerror((int)k));
    return;
  }
  service(c); /* sends queued by callbacks (acks) go out with this read's replies */
}

static void on_ka(uv_timer_t *t) {
  nc_gcli *c = t->data;
  uint64_t now = now_ms();
  if (!c->connected || c->dead)
    return;
  if (c->ping_out && now - c->ping_sent_ms >= H2_PING_TIMEOUT_MS) {
    conn_fail(c, "keepalive ping not answered");
    return;
  }
  if (!c->ping_out && now - c->last_rx_ms >= (uint64_t)c->keepalive_ms) {
    if (nghttp2_submit_ping(c->sess, NGHTTP2_FLAG_NONE, NULL) == 0) {
      c->ping_out = 1;
      c->ping_sent_ms = now;
      flush(c);
    }
  }
}

static int session_start(nc_gcli *c) {
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

static void connect_failed(nc_gcli *c, int status);

static void on_connect(uv_connect_t *req, int status) {
  nc_gcli *c = req->data;
  if (c->closing || c->dead)
    return;
  if (status < 0) {
    connect_failed(c, status);
    return;
  }
  uv_freeaddrinfo(c->ai); /* the other addresses are not needed any more */
  c->ai = c->ai_cur = NULL;
  uv_tcp_nodelay(&c->tcp, 1);
  if (!(c->rbuf = malloc(H2_RBUF)) || session_start(c) != 0) {
    conn_fail(c, "out of memory");
    return;
  }
  c->connected = 1;
  c->last_rx_ms = now_ms();
  uv_timer_stop(&c->t_ka); /* was the connect timeout */
  int tick = c->keepalive_ms / 4;
  tick = tick < 50 ? 50 : tick > 1000 ? 1000 : tick;
  uv_timer_start(&c->t_ka, on_ka, (uint64_t)tick, (uint64_t)tick);
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
    conn_fail(c, "cannot read the socket");
    return;
  }
  nc_debug("gcli: connected to %s", c->target);
  start_streams(c);
  service(c);
}

static void on_connect_timeout(uv_timer_t *t) {
  nc_gcli *c = t->data;
  if (!c->connected && !c->dead)
    conn_fail(c, "connect timed out");
}

static void connect_addr(nc_gcli *c, const struct sockaddr *sa) {
  int rc = uv_tcp_connect(&c->creq, &c->tcp, sa, on_connect);
  if (rc != 0)
    connect_failed(c, rc);
}

/* The socket is closed between two addresses; a fresh one takes the next.
 * Counted in c->handles, so a teardown that starts meanwhile waits for it
 * (and does not close the handle a second time). */
static void on_retry_closed(uv_handle_t *h) {
  nc_gcli *c = h->data;
  c->handles--;
  if (c->closing) {
    if (c->handles == 0)
      service(c);
    return;
  }
  if (c->dead) /* connect timeout meanwhile: the handle stays closed */
    return;
  uv_tcp_init(&c->env->loop, &c->tcp);
  c->tcp.data = c;
  connect_addr(c, c->ai_cur->ai_addr);
}

/* One address failed: try the resolver's next one, as a gRPC channel does
 * ("localhost" often gives ::1 first while nacosd listens on IPv4 only).
 * The connect timeout covers all the attempts. */
static void connect_failed(nc_gcli *c, int status) {
  if (!c->ai_cur || !c->ai_cur->ai_next) {
    conn_fail(c, uv_strerror(status));
    return;
  }
  nc_debug("gcli: %s: one address failed (%s), trying the next", c->target, uv_strerror(status));
  c->ai_cur = c->ai_cur->ai_next;
  c->handles++;
  uv_close((uv_handle_t *)&c->tcp, on_retry_closed);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  nc_gcli *c = req->data;
  c->gai_busy = 0;
  if (c->closing) {
    uv_freeaddrinfo(res);
    if (--c->handles == 0)
      service(c); /* teardown was waiting for this */
    return;
  }
  if (c->dead) { /* connect timeout during the lookup: no late connection */
    uv_freeaddrinfo(res);
    return;
  }
  if (status < 0 || !res) {
    conn_fail(c, status < 0 ? uv_strerror(status) : "no address");
    uv_freeaddrinfo(res);
    return;
  }
  c->ai = c->ai_cur = res; /* kept for the next address if this one fails */
  connect_addr(c, res->ai_addr);
}

static void conn_start(nc_gcli *c) {
  struct sockaddr_storage ss;
  c->started = 1;
  uv_tcp_init(&c->env->loop, &c->tcp);
  uv_timer_init(&c->env->loop, &c->t_deadline);
  uv_timer_init(&c->env->loop, &c->t_ka);
  c->tcp.data = c->t_deadline.data = c->t_ka.data = c->creq.data = c->gai.data = c;
  uv_timer_start(&c->t_ka, on_connect_timeout, (uint64_t)c->connect_timeout_ms, 0);
  if (uv_ip4_addr(c->host, c->port, (struct sockaddr_in *)&ss) == 0 ||
      uv_ip6_addr(c->host, c->port, (struct sockaddr_in6 *)&ss) == 0) {
    connect_addr(c, (struct sockaddr *)&ss);
    return;
  }
  char port[8];
  snprintf(port, sizeof(port), "%d", c->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int rc = uv_getaddrinfo(&c->env->loop, &c->gai, on_resolved, c->host, port, &hints);
  if (rc != 0)
    conn_fail(c, uv_strerror(rc));
  else
    c->gai_busy = 1;
}

/* The connection is over (or never came up): fail everything; later calls
 * fail as they arrive. The client itself lives until nc_gcli_free. */
static void conn_fail(nc_gcli *c, const char *why) {
  if (c->dead)
    return;
  c->dead = 1;
  nc_debug("gcli: connection to %s ended: %s", c->target, why);
  uv_freeaddrinfo(c->ai);
  c->ai = c->ai_cur = NULL;
  uv_timer_stop(&c->t_ka);
  uv_timer_stop(&c->t_deadline);
  if (c->started && uv_is_active((uv_handle_t *)&c->tcp))
    uv_read_stop((uv_stream_t *)&c->tcp);
  fail_all(c, NC_EUNAVAIL, NC_EUNAVAIL);
  if (c->sess) {
    nghttp2_session_del(c->sess);
    c->sess = NULL;
  }
  /* shut the socket now; the handle itself is closed by the teardown */
  if (c->started && !uv_is_closing((uv_handle_t *)&c->tcp)) {
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
      shutdown(fd, SHUT_RDWR);
  }
}

/* ---- servicing requests from other threads ----------------------------- */

static void on_handle_closed(uv_handle_t *h) {
  nc_gcli *c = h->data;
  if (--c->handles == 0)
    service(c);
}

/* Loop side of nc_gcli_free. Runs again from on_handle_closed until every
 * handle is closed, then lets nc_gcli_free return. */
static void teardown(nc_gcli *c) {
  if (!c->closing) {
    c->closing = 1;
    fail_all(c, NC_ECLOSED, NC_ECLOSED);
    uv_freeaddrinfo(c->ai);
    c->ai = c->ai_cur = NULL;
    if (c->sess) {
      nghttp2_session_del(c->sess);
      c->sess = NULL;
    }
    if (c->started) {
      uv_handle_t *hs[] = {(uv_handle_t *)&c->tcp, (uv_handle_t *)&c->t_deadline,
                           (uv_handle_t *)&c->t_ka};
      for (size_t i = 0; i < 3; i++) {
        if (uv_is_closing(hs[i])) /* the socket between two addresses: counted already */
          continue;
        c->handles++;
        uv_close(hs[i], on_handle_closed);
      }
      if (c->gai_busy) {
        c->handles++; /* its callback runs even when cancelled */
        uv_cancel((uv_req_t *)&c->gai);
      }
    }
  }
  if (c->handles > 0)
    return;
  pthread_mutex_lock(&c->mu);
  pthread_mutex_lock(&c->env->mu);
  if (c->in_dirty) { /* never touched by the loop again */
    nc_gcli **pp = &c->env->dirty;
    while (*pp != c)
      pp = &(*pp)->dirty_next;
    *pp = c->dirty_next;
    c->in_dirty = 0;
  }
  pthread_mutex_unlock(&c->env->mu);
  c->done = 1;
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->mu);
}

static void service(nc_gcli *c) {
  if (c->closing) {
    if (c->handles == 0)
      teardown(c);
    return;
  }
  pthread_mutex_lock(&c->mu);
  int freeing = c->freeing;
  h2_call *fresh = c->pending;
  c->pending = NULL;
  pthread_mutex_unlock(&c->mu);

  /* oldest first onto the call list */
  h2_call *rev = NULL;
  while (fresh) {
    h2_call *n = fresh->next;
    fresh->next = rev;
    rev = fresh;
    fresh = n;
  }
  /* appended: streams are opened in the order the calls were made (a
   * register then a deregister must reach the server in that order) */
  for (h2_call *u; (u = rev);) {
    rev = u->next;
    u->next = NULL;
    u->prev = c->calls_tail;
    if (c->calls_tail)
      c->calls_tail->next = u;
    else
      c->calls = u;
    c->calls_tail = u;
  }
  if (freeing) {
    teardown(c);
    return;
  }
  if (!c->started)
    conn_start(c);
  if (c->dead) {
    fail_all(c, NC_EUNAVAIL, NC_EUNAVAIL);
    return;
  }
  if (c->connected) {
    start_streams(c);
    if (c->bidi_live && (c->sq.head || refill_sq(c)))
      nghttp2_session_resume_data(c->sess, c->bidi.sid); /* no-op unless deferred */
    flush(c);
  }
  arm_deadline(c);
}

/* ---- API ---------------------------------------------------------------- */

int nc_gcli_new(nc_gcli_env *env, const char *target, const nc_gcli_opts *opts, nc_gcli **out) {
  *out = NULL;
  if (!env || !target || !*target || strlen(target) > 256)
    return NC_EINVAL;
  const char *colon = strrchr(target, ':');
  if (!colon || colon == target || !colon[1])
    return NC_EINVAL;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port <= 0 || port > 65535)
    return NC_EINVAL;
  nc_gcli *c = calloc(1, sizeof(*c));
  if (!c)
    return NC_ENOMEM;
  c->env = env;
  snprintf(c->target, sizeof(c->target), "%s", target);
  const char *h = target;
  size_t hl = (size_t)(colon - target);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [v6]:port */
    h++;
    hl -= 2;
  }
  memcpy(c->host, h, hl);
  c->host[hl] = 0;
  c->port = (int)port;
  c->max_msg = opts && opts->max_msg_bytes > 0 ? opts->max_msg_bytes : 10 * 1024 * 1024;
  c->keepalive_ms = opts && opts->keepalive_ms > 0 ? opts->keepalive_ms : 60000;
  c->connect_timeout_ms =
      opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 3000;
  c->bidi.grpc_status = -1;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cond, NULL);
  pthread_mutex_lock(&c->mu);
  mark_dirty_locked(c); /* connects now, as a gRPC channel would on first use */
  pthread_mutex_unlock(&c->mu);
  *out = c;
  return 0;
}

int nc_gcli_unary_async(nc_gcli *c, const uint8_t *data, size_t len, int timeout_ms,
                        nc_gcli_unary_cb cb, void *ud) {
  int rc = 0;
  if (!c || !cb || (!data && len) || len > 0xffffffffu)
    return NC_EINVAL;
  h2_call *u = calloc(1, sizeof(*u));
  if (!u || !(u->out = buf_new(data, len))) {
    free(u);
    return NC_ENOMEM;
  }
  u->s.kind = K_UNARY;
  u->s.grpc_status = -1;
  u->c = c;
  u->cb = cb;
  u->ud = ud;
  u->timeout_ms = timeout_ms > 0 ? timeout_ms : 3000;
  u->deadline_ms = now_ms() + (uint64_t)u->timeout_ms;
  pthread_mutex_lock(&c->mu);
  if (c->freeing) {
    rc = NC_ECLOSED;
  } else {
    u->next = c->pending;
    c->pending = u;
    mark_dirty_locked(c);
    u = NULL;
  }
  pthread_mutex_unlock(&c->mu);
  if (u)
    call_free(u);
  return rc;
}

typedef struct h2_sync {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int done, status;
  uint8_t *data;
  size_t len;
} h2_sync;

static void sync_cb(void *ud, int status, const uint8_t *data, size_t len) {
  h2_sync *s = ud;
  uint8_t *copy = NULL;
  if (status == 0 && !(copy = malloc(len ? len : 1)))
    status = NC_ENOMEM;
  else if (status == 0 && len)
    memcpy(copy, data, len);
  pthread_mutex_lock(&s->mu);
  s->status = status;
  s->data = copy;
  s->len = len;
  s->done = 1;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->mu);
}

int nc_gcli_unary(nc_gcli *c, const uint8_t *data, size_t len, int timeout_ms, uint8_t **resp,
                  size_t *resp_len) {
  h2_sync s = {.done = 0};
  *resp = NULL;
  *resp_len = 0;
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cond, NULL);
  int rc = nc_gcli_unary_async(c, data, len, timeout_ms, sync_cb, &s);
  if (rc == 0) {
    pthread_mutex_lock(&s.mu); /* the call's deadline bounds this wait */
    while (!s.done)
      pthread_cond_wait(&s.cond, &s.mu);
    pthread_mutex_unlock(&s.mu);
    rc = s.status;
    *resp = s.data;
    *resp_len = s.len;
  }
  pthread_mutex_destroy(&s.mu);
  pthread_cond_destroy(&s.cond);
  return rc;
}

int nc_gcli_stream_open(nc_gcli *c, const nc_gcli_stream_cbs *cbs, void *ud) {
  int rc = 0;
  if (!c || !cbs)
    return NC_EINVAL;
  pthread_mutex_lock(&c->mu);
  if (c->freeing)
    rc = NC_ECLOSED;
  else if (c->s_state != S_NONE)
    rc = NC_ESTATE; /* one stream per client */
  else {
    c->cbs = *cbs;
    c->s_ud = ud;
    c->s_state = S_OPEN;
    mark_dirty_locked(c);
  }
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int nc_gcli_stream_send(nc_gcli *c, const uint8_t *data, size_t len) {
  int rc = 0;
  if (!c || (!data && len) || len > 0xffffffffu)
    return NC_EINVAL;
  h2_buf *b = buf_new(data, len);
  if (!b)
    return NC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  if (c->freeing || c->s_state != S_OPEN)
    rc = NC_ECLOSED;
  else if (c->q.n >= H2_STREAM_QUEUE_MAX)
    rc = NC_EBUSY;
  else {
    bufq_push(&c->q, b);
    b = NULL;
    mark_dirty_locked(c);
  }
  pthread_mutex_unlock(&c->mu);
  free(b);
  return rc;
}

void nc_gcli_free(nc_gcli *c) {
  if (!c)
    return;
  pthread_mutex_lock(&c->mu);
  c->freeing = 1;
  mark_dirty_locked(c);
  while (!c->done)
    pthread_cond_wait(&c->cond, &c->mu);
  pthread_mutex_unlock(&c->mu);
  bufq_clear(&c->q);
  bufq_clear(&c->sq);
  free(c->wbuf);
  free(c->rbuf);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cond);
  free(c);
}
