/* Private to the nghttp2 client (nc_h2_client.c, nc_h2_session.c,
 * nc_h2_conn.c, nc_h2_msg.c): the client's state and what the files call
 * of each other. Everything here runs on the env's loop thread unless a
 * field comment says otherwise; see nc_h2_client.c for the design. */
#ifndef NC_H2_PRIV_H
#define NC_H2_PRIV_H

#include "nc_grpc_client.h"

#include <netdb.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
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
  pthread_mutex_t mu; /* dirty list, stop, the TLS context cache */
  nc_gcli *dirty;
  int stop;
  /* The latest TLS context made, reused by the next client with the same
   * options and files (nc_h2_client.c: tls_context). */
  struct nc_tls_cli *tls_cache;
  char tls_key[1100];
};

struct nc_gcli {
  nc_gcli_env *env;
  char target[260];
  char host[256];
  char unary_method[128], stream_method[128]; /* gRPC paths (nc_gcli_opts) */
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

  /* TLS (nc_h2_tls.c); tls NULL = cleartext. tls is immutable after
   * nc_gcli_new; the rest is the loop thread's until nc_gcli_free. */
  struct nc_tls_cli *tls;
  SSL *ssl;         /* reads rbio (bytes from the socket), writes wbio */
  BIO *rbio, *wbio; /* memory BIOs owned by ssl */
  int tls_hs;       /* handshake under way: no HTTP/2 yet */
  uint8_t *pbuf;    /* decrypted bytes on their way to nghttp2 (H2_RBUF) */
  uint8_t *tbuf;    /* encrypted bytes of the write in flight */
  size_t tcap;

  char why[200]; /* under mu: why the connection ended ("" = it has not) */
};

static inline uint64_t h2_now_ms(void) { return uv_hrtime() / 1000000u; }

/* ---- messages (nc_h2_msg.c) ---- */
/* A block holding the gRPC prefix and a copy of data; NULL without memory. */
h2_buf *h2_buf_new(const uint8_t *data, size_t len);
void h2_bufq_push(h2_bufq *q, h2_buf *b);
h2_buf *h2_bufq_pop(h2_bufq *q); /* NULL when empty; the caller frees */
void h2_bufq_clear(h2_bufq *q);
/* Feeds received DATA into s's message reassembly; emit() gets each whole
 * message (ownership of msg passes to it). Returns 0 or NC_E*. */
typedef int (*h2_emit_fn)(nc_gcli *c, h2_strm *s, uint8_t *msg, size_t len);
int h2_rx_feed(nc_gcli *c, h2_strm *s, const uint8_t *p, size_t n, h2_emit_fn emit);
void h2_rx_free(h2_rx *rx);

/* ---- streams and calls on the nghttp2 session (nc_h2_session.c) ---- */
/* A client session with our callbacks and SETTINGS queued: 0 or NC_ENOMEM. */
int h2_session_new(nc_gcli *c);
/* Opens the streams of calls (and the bidi stream) not yet submitted. */
void h2_start_streams(nc_gcli *c);
/* Ends every call (status ust) and the stream (sst; its callback only when
 * the owner is not freeing the client). */
void h2_fail_all(nc_gcli *c, int ust, int sst);
void h2_call_free(h2_call *u);
/* (Re)arms the deadline timer for the earliest call. */
void h2_arm_deadline(nc_gcli *c);
/* Moves stream messages from the shared queue to the loop's own; returns
 * whether any moved. Not under c->mu. */
int h2_refill_sq(nc_gcli *c);

/* ---- the socket (nc_h2_conn.c) ---- */
void h2_conn_start(nc_gcli *c);
/* The connection is over (or never came up): fails everything; later calls
 * fail as they arrive. The client itself lives until nc_gcli_free. */
void h2_conn_fail(nc_gcli *c, const char *why);
/* Writes what nghttp2 has to send (one socket write at a time). */
void h2_flush(nc_gcli *c);

/* ---- TLS between the socket and nghttp2 (nc_h2_tls.c) ---- */
/* The TCP connection is up: starts the handshake (the HTTP/2 preface
 * follows it: h2_conn_up). Failures end the connection. */
void h2_tls_start(nc_gcli *c);
/* Bytes read from the socket: the handshake's, then records whose
 * plaintext goes to nghttp2. */
void h2_tls_read(nc_gcli *c, const uint8_t *p, size_t n);
/* Encrypts c->wbuf[0..wlen) (may be empty) and writes what TLS has to
 * send; the session-finished check when there is nothing. */
void h2_tls_flush(nc_gcli *c);
void h2_tls_free(nc_gcli *c);

/* ---- nc_h2_conn.c, for nc_h2_tls.c ---- */
/* TCP (and TLS) are up: the HTTP/2 session starts. */
void h2_conn_up(nc_gcli *c);
/* One socket write of buf[0..len) (c->writing until it completes). */
int h2_sock_write(nc_gcli *c, uint8_t *buf, size_t len);

/* ---- nc_h2_client.c ---- */
/* Takes in work queued by other threads and pushes it on. */
void h2_service(nc_gcli *c);

#endif
