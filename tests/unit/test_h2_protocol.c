/* The nghttp2 client (common/nc_h2_client.c) against a hand-made HTTP/2
 * server: a thread on a loopback socket writing frames and HPACK by hand,
 * so that it can answer in ways a real gRPC server does not (status-only
 * answers, extra or compressed messages, split frames, GOAWAY, RST_STREAM,
 * trailers without a reset, a one-stream limit, no flow-control window). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc_client.h"
#include "nc_log.h"

#include "h2_test_util.h"

#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>

/* ---- a hand-made HTTP/2 server: answers as the request body says ------- */

/* Each unary request's message selects the answer, so one connection tries
 * many shapes of response: what the client makes of gRPC statuses, HTTP
 * statuses, missing or extra messages and split frames. HPACK is written
 * by hand (literal fields, no Huffman, no table). */
typedef struct h2_peer {
  int lfd, port;
  int max_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS to announce; 0 = none */
  int slow_read;   /* 1: open the windows, then read slowly, answer nothing */
  int early_reject; /* 1: answer every request's HEADERS at once with status 8 */
  atomic_int stop; /* ends a slow reader without draining what is buffered */
  pthread_t thr;
  pthread_mutex_t mu; /* the order unary requests "o..." arrived in */
  char seen[64][8];
  int n_seen;
} h2_peer;

static int read_full(int fd, uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t k = read(fd, p, n);
    if (k <= 0)
      return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static void send_frame(int fd, uint8_t type, uint8_t flags, uint32_t sid, const uint8_t *pl,
                       size_t len) {
  uint8_t h[9] = {(uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, type, flags,
                  (uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8), (uint8_t)sid};
  (void)send(fd, h, 9, MSG_NOSIGNAL | (len ? MSG_MORE : 0));
  if (len)
    (void)send(fd, pl, len, MSG_NOSIGNAL);
}

/* Appends one header: ":status" by its static-table name (index 8), any
 * other name as a new literal; never indexed. */
static size_t hpack_add(uint8_t *b, size_t n, const char *name, const char *value) {
  size_t vl = strlen(value);
  if (strcmp(name, ":status") == 0) {
    b[n++] = 0x08;
  } else {
    size_t nl = strlen(name);
    b[n++] = 0x00;
    b[n++] = (uint8_t)nl;
    memcpy(b + n, name, nl);
    n += nl;
  }
  b[n++] = (uint8_t)vl;
  memcpy(b + n, value, vl);
  return n + vl;
}

enum {
  H2F_DATA = 0,
  H2F_HEADERS = 1,
  H2F_RST_STREAM = 3,
  H2F_SETTINGS = 4,
  H2F_PING = 6,
  H2F_GOAWAY = 7,
  H2F_WINDOW_UPDATE = 8
};
enum { H2_END_STREAM = 1, H2_ACK = 1, H2_END_HEADERS = 4 };

static void send_headers(int fd, uint32_t sid, int end, const char *n1, const char *v1,
                         const char *n2, const char *v2) {
  uint8_t b[256];
  size_t n = hpack_add(b, 0, n1, v1);
  if (n2)
    n = hpack_add(b, n, n2, v2);
  send_frame(fd, H2F_HEADERS, H2_END_HEADERS | (end ? H2_END_STREAM : 0), sid, b, n);
}

/* One gRPC message (prefix + body) into b; returns its size. */
static size_t grpc_msg(uint8_t *b, uint8_t flag, const char *body) {
  size_t l = strlen(body);
  b[0] = flag;
  b[1] = b[2] = 0;
  b[3] = (uint8_t)(l >> 8);
  b[4] = (uint8_t)l;
  memcpy(b + 5, body, l);
  return 5 + l;
}

static void h2_answer(int fd, uint32_t sid, const char *cmd) {
  uint8_t b[128];
  size_t n;
  if (strncmp(cmd, "grpc:", 5) == 0) { /* trailers-only answer with that status */
    send_headers(fd, sid, 1, ":status", "200", "grpc-status", cmd + 5);
  } else if (strncmp(cmd, "http:", 5) == 0) { /* an HTTP error, no gRPC status */
    send_headers(fd, sid, 1, ":status", cmd + 5, NULL, NULL);
  } else if (strcmp(cmd, "nomsg") == 0) { /* OK without a message */
    send_headers(fd, sid, 0, ":status", "200", "content-type", "application/grpc");
    send_headers(fd, sid, 1, "grpc-status", "0", NULL, NULL);
  } else if (strcmp(cmd, "two") == 0) { /* two messages on a unary call */
    send_headers(fd, sid, 0, ":status", "200", "content-type", "application/grpc");
    n = grpc_msg(b, 0, "one");
    n += grpc_msg(b + n, 0, "two");
    send_frame(fd, H2F_DATA, 0, sid, b, n);
    send_headers(fd, sid, 1, "grpc-status", "0", NULL, NULL);
  } else if (strcmp(cmd, "compressed") == 0) { /* compressed flag never negotiated */
    send_headers(fd, sid, 0, ":status", "200", "content-type", "application/grpc");
    n = grpc_msg(b, 1, "zzz");
    send_frame(fd, H2F_DATA, 0, sid, b, n);
    send_headers(fd, sid, 1, "grpc-status", "0", NULL, NULL);
  } else if (strcmp(cmd, "split") == 0) { /* prefix and body cut into 2-byte frames */
    send_headers(fd, sid, 0, ":status", "200", "content-type", "application/grpc");
    n = grpc_msg(b, 0, "reassembled");
    for (size_t off = 0; off < n; off += 2)
      send_frame(fd, H2F_DATA, 0, sid, b + off, n - off < 2 ? n - off : 2);
    send_headers(fd, sid, 1, "grpc-status", "0", NULL, NULL);
  } else if (strcmp(cmd, "hold") == 0) { /* never answered */
  } else { /* echo, the normal case */
    send_headers(fd, sid, 0, ":status", "200", "content-type", "application/grpc");
    n = grpc_msg(b, 0, cmd);
    send_frame(fd, H2F_DATA, H2_END_STREAM, sid, b, n); /* no trailers: no status */
  }
}

static void h2_rst(int fd, uint32_t sid, uint32_t code) {
  uint8_t b[4] = {(uint8_t)(code >> 24), (uint8_t)(code >> 16), (uint8_t)(code >> 8),
                  (uint8_t)code};
  send_frame(fd, H2F_RST_STREAM, 0, sid, b, 4);
}

/* A message on the bidi stream (the client never ends its side). */
static void h2_bidi(int fd, uint32_t sid, const char *cmd, uint32_t *hdr_sid) {
  uint8_t b[128];
  if (strncmp(cmd, "tonly:", 6) == 0) { /* trailers-only: the stream ends at once */
    send_headers(fd, sid, 1, ":status", "200", "grpc-status", cmd + 6);
    return;
  }
  if (strcmp(cmd, "rst") == 0) {
    h2_rst(fd, sid, 8 /* CANCEL */);
    return;
  }
  if (*hdr_sid != sid) {
    send_headers(fd, sid, 0, ":status", "200", "content-type", "application/grpc");
    *hdr_sid = sid;
  }
  if (strncmp(cmd, "end:", 4) == 0) /* trailers, and no RST_STREAM after them */
    send_headers(fd, sid, 1, "grpc-status", cmd + 4, NULL, NULL);
  else
    send_frame(fd, H2F_DATA, 0, sid, b, grpc_msg(b, 0, cmd));
}

/* Serves one connection until the client goes (or stop, for a slow reader). */
static void h2_serve(h2_peer *p, int fd) {
  uint8_t pre[24], h[9], pl[16384 + 16];
  uint32_t hdr_sid = 0;
  int one = 1; /* many small frames: no Nagle pauses */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (read_full(fd, pre, sizeof(pre)) != 0 || memcmp(pre, "PRI * HTTP/2.0", 14) != 0)
    return;
  if (p->slow_read) {
    send_frame(fd, H2F_SETTINGS, 0, 0, k_open_windows + 9, 6);
    send_frame(fd, H2F_WINDOW_UPDATE, 0, 0, k_open_windows + 24, 4);
    for (;;) { /* ~1.3 MB/s: a big request stays in flight for seconds */
      usleep(50 * 1000);
      if (atomic_load(&p->stop))
        return;
      for (int i = 0; i < 4; i++)
        if (read(fd, pl, sizeof(pl)) <= 0)
          return;
    }
  }
  uint8_t mcs[6] = {0, 3, 0, 0, 0, (uint8_t)p->max_streams};
  send_frame(fd, H2F_SETTINGS, 0, 0, mcs, p->max_streams ? 6 : 0);
  for (;;) {
    if (read_full(fd, h, 9) != 0)
      return;
    size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
    uint32_t sid = ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]) &
                   0x7fffffffu;
    if (len > sizeof(pl) || read_full(fd, pl, len) != 0)
      return;
    if (h[3] == H2F_HEADERS && p->early_reject) { /* no WINDOW_UPDATE either */
      send_headers(fd, sid, 1, ":status", "200", "grpc-status", "8");
    } else if (h[3] == H2F_SETTINGS && !(h[4] & H2_ACK)) {
      send_frame(fd, H2F_SETTINGS, H2_ACK, 0, NULL, 0);
    } else if (h[3] == H2F_PING && !(h[4] & H2_ACK)) {
      send_frame(fd, H2F_PING, H2_ACK, 0, pl, len);
    } else if (h[3] == H2F_DATA && !p->early_reject) {
      /* small messages, each whole in one frame (the client may pack
       * several stream messages into one) */
      for (size_t off = 0; off + 5 <= len;) {
        size_t ml = (size_t)pl[off + 1] << 24 | (size_t)pl[off + 2] << 16 |
                    (size_t)pl[off + 3] << 8 | pl[off + 4];
        char cmd[64];
        if (ml >= sizeof(cmd) || off + 5 + ml > len)
          break;
        memcpy(cmd, pl + off + 5, ml);
        cmd[ml] = 0;
        off += 5 + ml;
        if (getenv("NC_TEST_PEER_TRACE"))
          fprintf(stderr, "peer: stream %u flags %x: %s\n", sid, h[4], cmd);
        if (cmd[0] == 'o' && strlen(cmd) < 8) {
          pthread_mutex_lock(&p->mu);
          if (p->n_seen < 64)
            memcpy(p->seen[p->n_seen++], cmd, strlen(cmd) + 1);
          pthread_mutex_unlock(&p->mu);
        }
        if (!(h[4] & H2_END_STREAM))
          h2_bidi(fd, sid, cmd, &hdr_sid);
        else if (strcmp(cmd, "goaway") == 0) { /* answer, then no new streams */
          h2_answer(fd, sid, "split");
          uint8_t g[8] = {(uint8_t)(sid >> 24), (uint8_t)(sid >> 16), (uint8_t)(sid >> 8),
                          (uint8_t)sid, 0, 0, 0, 0};
          send_frame(fd, H2F_GOAWAY, 0, 0, g, 8);
        } else if (strcmp(cmd, "rst") == 0) {
          h2_rst(fd, sid, 7 /* REFUSED_STREAM */);
        } else {
          h2_answer(fd, sid, cmd);
        }
      }
    }
  }
}

/* Serves connections one after the other until stop. */
static void *h2_peer_main(void *arg) {
  h2_peer *p = arg;
  struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};
  while (!atomic_load(&p->stop)) {
    if (poll(&pfd, 1, 20) <= 0)
      continue;
    int fd = accept(p->lfd, NULL, NULL);
    if (fd >= 0) {
      h2_serve(p, fd);
      close(fd);
    }
  }
  return NULL;
}

static void h2_peer_start(h2_peer *p) {
  pthread_mutex_init(&p->mu, NULL);
  p->lfd = bind_loopback(&p->port, 1);
  assert_int_equal(pthread_create(&p->thr, NULL, h2_peer_main, p), 0);
}

/* After the clients are freed (a connection still served blocks the peer). */
static void h2_peer_stop(h2_peer *p) {
  atomic_store(&p->stop, 1);
  pthread_join(p->thr, NULL);
  close(p->lfd);
  pthread_mutex_destroy(&p->mu);
}

static int h2_call(nc_gcli *c, const char *cmd, char *out, size_t cap) {
  uint8_t *resp = NULL;
  size_t len = 0;
  int rc = nc_gcli_unary(c, (const uint8_t *)cmd, strlen(cmd), 3000, &resp, &len);
  if (out)
    snprintf(out, cap, "%.*s", (int)len, resp ? (const char *)resp : "");
  if (rc != 0)
    assert_null(resp);
  free(resp);
  return rc;
}

static void test_response_shapes_from_handmade_server(void **state) {
  fixture *f = *state;
  h2_peer p = {.max_streams = 0};
  h2_peer_start(&p);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p.port, NULL);
  char out[64];
  /* a message without trailers has no status: not a success */
  assert_int_equal(h2_call(c, "hello", out, sizeof(out)), NC_EUNAVAIL);
  assert_int_equal(h2_call(c, "split", out, sizeof(out)), 0);
  assert_string_equal(out, "reassembled");
  assert_int_equal(h2_call(c, "grpc:14", NULL, 0), NC_EUNAVAIL);
  assert_int_equal(h2_call(c, "grpc:4", NULL, 0), NC_ETIMEOUT);
  assert_int_equal(h2_call(c, "grpc:8", NULL, 0), NC_ETOOBIG);
  assert_int_equal(h2_call(c, "grpc:1", NULL, 0), NC_ECLOSED);
  assert_int_equal(h2_call(c, "grpc:13", NULL, 0), NC_EGRPC);
  assert_int_equal(h2_call(c, "grpc:0", NULL, 0), NC_EGRPC); /* OK but no message */
  assert_int_equal(h2_call(c, "nomsg", NULL, 0), NC_EGRPC);
  assert_int_equal(h2_call(c, "two", NULL, 0), NC_EGRPC);
  assert_int_equal(h2_call(c, "compressed", NULL, 0), NC_EGRPC);
  assert_int_equal(h2_call(c, "http:503", NULL, 0), NC_EUNAVAIL);
  assert_int_equal(h2_call(c, "http:404", NULL, 0), NC_EGRPC);
  /* none of that broke the connection */
  assert_int_equal(h2_call(c, "split", out, sizeof(out)), 0);
  assert_string_equal(out, "reassembled");
  cli_free(c);
  h2_peer_stop(&p);
}

/* The server allows one stream at a time: nghttp2 holds the other requests
 * back. One that times out while held back ends NC_ETIMEOUT without ever
 * being sent; when the stream that blocks them ends, the rest go out. */
static void test_calls_held_back_by_max_concurrent_streams(void **state) {
  fixture *f = *state;
  h2_peer p = {.max_streams = 1};
  h2_peer_start(&p);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p.port, NULL);
  char out[64];
  assert_int_equal(h2_call(c, "split", out, sizeof(out)), 0); /* SETTINGS now applied */
  waiter hold, queued, later;
  w_init(&hold);
  w_init(&queued);
  w_init(&later);
  long long t0 = now_ms();
  assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"hold", 4, 800, w_unary_cb, &hold), 0);
  usleep(50 * 1000);
  assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"q", 1, 300, w_unary_cb, &queued), 0);
  assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"split", 5, 3000, w_unary_cb, &later),
                   0);
  assert_int_equal(w_wait(&queued, &queued.n, 1, 2000), 1);
  assert_int_equal(queued.status, NC_ETIMEOUT);
  assert_true(now_ms() - t0 < 700);
  assert_int_equal(w_get(&later, &later.n), 0); /* still held back */
  assert_int_equal(w_wait(&hold, &hold.n, 1, 2000), 1);
  assert_int_equal(hold.status, NC_ETIMEOUT);
  /* the RST of "hold" frees the slot: the last call goes out and succeeds */
  assert_int_equal(w_wait(&later, &later.n, 1, 2000), 1);
  assert_int_equal(later.status, 0);
  /* many at once are serialised, all answered */
  waiter many;
  w_init(&many);
  for (int i = 0; i < 50; i++)
    assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"split", 5, 5000, w_unary_cb, &many),
                     0);
  assert_int_equal(w_wait(&many, &many.n, 50, 5000), 50);
  assert_int_equal(many.status, 0);
  cli_free(c);
  h2_peer_stop(&p);
  w_destroy(&hold);
  w_destroy(&queued);
  w_destroy(&later);
  w_destroy(&many);
}

/* A deadline in the middle of a large upload: the call ends, its buffer is
 * freed, and nghttp2 must not read it again for the rest of the DATA. */
static void test_deadline_during_large_upload(void **state) {
  fixture *f = *state;
  h2_peer p = {.slow_read = 1};
  h2_peer_start(&p);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p.port, NULL);
  size_t big = 6u << 20;
  uint8_t *data = calloc(1, big);
  assert_non_null(data);
  uint8_t *resp = NULL;
  size_t len = 0;
  long long t0 = now_ms();
  assert_int_equal(nc_gcli_unary(c, data, big, 300, &resp, &len), NC_ETIMEOUT);
  long long took = now_ms() - t0;
  assert_true(took >= 250 && took <= 1500);
  /* the upload goes on being drained by the peer; a second one too */
  assert_int_equal(nc_gcli_unary(c, data, big, 300, &resp, &len), NC_ETIMEOUT);
  usleep(500 * 1000);
  cli_free(c);
  free(data);
  h2_peer_stop(&p);
}

/* The server rejects a request before it has all of it (trailers while
 * the upload is stuck on flow control): the call ends at once with that
 * status, not at its deadline, and its buffer is not read afterwards. */
static void test_unary_rejected_before_upload_done(void **state) {
  fixture *f = *state;
  h2_peer p = {.early_reject = 1};
  h2_peer_start(&p);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p.port, NULL);
  size_t big = 2u << 20;
  uint8_t *data = calloc(1, big);
  assert_non_null(data);
  uint8_t *resp = NULL;
  size_t len = 0;
  for (int i = 0; i < 3; i++) {
    long long t0 = now_ms();
    assert_int_equal(nc_gcli_unary(c, data, big, 3000, &resp, &len), NC_ETOOBIG);
    assert_true(now_ms() - t0 < 1000);
  }
  cli_free(c);
  free(data);
  h2_peer_stop(&p);
}

/* Unary calls made one after the other open their streams in that order,
 * whether they waited for the connection or not: the server sees them in
 * order (a register then a deregister must not arrive swapped). */
static void test_calls_go_out_in_the_order_made(void **state) {
  fixture *f = *state;
  h2_peer p = {.max_streams = 0};
  h2_peer_start(&p);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p.port, NULL);
  waiter w;
  w_init(&w);
  char cmd[8];
  for (int i = 0; i < 40; i++) {
    if (i == 20) /* the first half raced the connect; the rest go out on it */
      assert_int_equal(w_wait(&w, &w.n, 20, 3000), 20);
    snprintf(cmd, sizeof(cmd), "o%02d", i);
    assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)cmd, 3, 3000, w_unary_cb, &w), 0);
  }
  assert_int_equal(w_wait(&w, &w.n, 40, 3000), 40);
  pthread_mutex_lock(&p.mu);
  int n = p.n_seen;
  char got[64][8];
  memcpy(got, p.seen, sizeof(got));
  pthread_mutex_unlock(&p.mu);
  assert_int_equal(n, 40);
  for (int i = 0; i < 40; i++) {
    snprintf(cmd, sizeof(cmd), "o%02d", i);
    assert_string_equal(got[i], cmd);
  }
  cli_free(c);
  h2_peer_stop(&p);
  w_destroy(&w);
}

/* GOAWAY: the call it names as last is answered, one started after it
 * fails at once (not at its deadline), and so does everything later. A
 * stream refused with RST_STREAM fails only that call. */
static void test_goaway_and_rst_from_handmade_server(void **state) {
  fixture *f = *state;
  h2_peer p = {.max_streams = 0};
  h2_peer_start(&p);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p.port, NULL);
  char out[64];
  assert_int_equal(h2_call(c, "rst", NULL, 0), NC_EUNAVAIL);
  assert_int_equal(h2_call(c, "split", out, sizeof(out)), 0);
  waiter g, after;
  w_init(&g);
  w_init(&after);
  long long t0 = now_ms();
  assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"goaway", 6, 3000, w_unary_cb, &g), 0);
  assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"hold", 4, 3000, w_unary_cb, &after),
                   0);
  assert_int_equal(w_wait(&g, &g.n, 1, 3000), 1);
  assert_int_equal(g.status, 0);
  assert_int_equal(w_wait(&after, &after.n, 1, 3000), 1);
  assert_int_equal(after.status, NC_EUNAVAIL);
  assert_true(now_ms() - t0 < 1000);
  t0 = now_ms();
  assert_int_equal(h2_call(c, "split", NULL, 0), NC_EUNAVAIL);
  assert_true(now_ms() - t0 < 500);
  waiter s;
  w_init(&s);
  assert_int_equal(nc_gcli_stream_open(c, &w_cbs, &s), 0);
  assert_int_equal(w_wait(&s, &s.closed, 1, 1000), 1);
  assert_int_equal(s.close_status, NC_EUNAVAIL);
  cli_free(c);
  h2_peer_stop(&p);
  w_destroy(&g);
  w_destroy(&after);
  w_destroy(&s);
}

/* The server ends the bidi stream: with trailers after messages (and no
 * RST_STREAM, which HTTP/2 does not require), trailers-only, or a reset.
 * Each gives on_closed once with the mapped status; the connection stays
 * usable for unary calls. */
static void test_bidi_ended_by_server(void **state) {
  fixture *f = *state;
  h2_peer p = {.max_streams = 0};
  h2_peer_start(&p);
  static const struct {
    const char *first, *last;
    int want;
  } cases[] = {
      {"hi", "end:0", 0},
      {"hi", "end:13", NC_EGRPC},
      {"hi", "end:14", NC_EUNAVAIL},
      {NULL, "tonly:14", NC_EUNAVAIL},
      {NULL, "tonly:0", 0},
      {"hi", "rst", NC_EUNAVAIL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    nc_gcli *c = client_at(f->env, "127.0.0.1", p.port, NULL);
    waiter s;
    w_init(&s);
    assert_int_equal(nc_gcli_stream_open(c, &w_cbs, &s), 0);
    if (cases[i].first) {
      assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)cases[i].first, 2), 0);
      assert_int_equal(w_wait(&s, &s.n, 1, 2000), 1); /* echoed */
    }
    long long t0 = now_ms();
    const char *last = cases[i].last;
    assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)last, strlen(last)), 0);
    if (w_wait(&s, &s.closed, 1, 1500) != 1)
      fail_msg("case %zu (%s): no on_closed within 1.5 s", i, last);
    assert_true(now_ms() - t0 < 1500);
    assert_int_equal(s.close_status, cases[i].want);
    assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)"x", 1), NC_ECLOSED);
    char out[64];
    assert_int_equal(h2_call(c, "split", out, sizeof(out)), 0);
    cli_free(c);
    assert_int_equal(s.closed, 1);
    w_destroy(&s);
  }
  h2_peer_stop(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_response_shapes_from_handmade_server, setup, teardown),
      cmocka_unit_test_setup_teardown(test_calls_held_back_by_max_concurrent_streams, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_deadline_during_large_upload, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unary_rejected_before_upload_done, setup, teardown),
      cmocka_unit_test_setup_teardown(test_calls_go_out_in_the_order_made, setup, teardown),
      cmocka_unit_test_setup_teardown(test_goaway_and_rst_from_handmade_server, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bidi_ended_by_server, setup, teardown),
  };
  if (getenv("NC_TEST_TRACE"))
    nc_log_set_level(NC_LOG_TRACE);
  if (getenv("NC_TEST_FILTER"))
    cmocka_set_test_filter(getenv("NC_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
