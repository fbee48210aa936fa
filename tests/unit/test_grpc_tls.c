/* The TLS relay of nc_gsrv (common/grpc/nc_grpc_tls.c) in one process: an
 * echo nc_gsrv with an nc_tls_srv context, driven by the C-core client
 * with SSL credentials and by raw sockets. Edge cases the integration
 * tests do not reach cheaply:
 * - messages far larger than the relay's one-record buffers, both ways
 *   at once (partial writes, back-pressure), arrive intact;
 * - a stream's messages keep their order through the relay;
 * - a TLS connection counts once in nc_gsrv_open_conns (the socketpair end
 *   is an uncounted alias) and the count falls back when clients go;
 * - the core sees the client's address, not the socketpair;
 * - a client that dies mid-handshake, or speaks plain text to the TLS
 *   port, is counted as failed and leaves the server serving;
 * - a client that goes while the server still writes to it does not kill
 *   the process with SIGPIPE (this program does not ignore it);
 * - a bad key is refused by nc_tls_srv_new with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_grpc_server.h"
#include "nc_testtls.h"
#include "nc_tls_srv.h"

#include "cond_wait_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static nc_test_tls g_certs;
static nc_gcli_env *g_env;

typedef struct owner {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  nc_gsrv *srv;
  nc_tls_srv *tls;
  int port;
  int n_unary, n_msgs, peers_ok, peers_bad;
} owner;

static void on_event(void *ud, nc_gsrv_ev *ev) {
  owner *o = ud;
  int ok = strncmp(ev->peer, "ipv4:127.0.0.1:", 15) == 0;
  /* counted before the answer, so a client that got it sees the count */
  pthread_mutex_lock(&o->mu);
  o->n_unary += ev->type == NC_GSRV_EV_UNARY;
  o->n_msgs += ev->type == NC_GSRV_EV_STREAM_MSG;
  o->peers_ok += ok;
  o->peers_bad += !ok;
  pthread_cond_broadcast(&o->cond);
  pthread_mutex_unlock(&o->mu);
  if (ev->type == NC_GSRV_EV_UNARY)
    nc_gsrv_unary_reply(ev->call, ev->data, ev->len);
  else if (ev->type == NC_GSRV_EV_STREAM_MSG)
    nc_gsrv_stream_send(ev->srv, ev->stream_id, ev->data, ev->len);
  nc_gsrv_ev_free(ev);
}

static owner *owner_start(int hs_ms) {
  owner *o = calloc(1, sizeof(*o));
  assert_non_null(o);
  pthread_mutex_init(&o->mu, NULL);
  pthread_cond_init(&o->cond, NULL);
  char err[256];
  nc_tls_srv_opts to = {g_certs.server_cert, g_certs.server_key, NULL};
  assert_int_equal(nc_tls_srv_new(&to, &o->tls, err, sizeof(err)), 0);
  assert_false(nc_tls_srv_mutual(o->tls));
  nc_gsrv_opts so = {.host = "127.0.0.1", .max_msg_bytes = 16 << 20, .tls = o->tls,
                     .tls_handshake_timeout_ms = hs_ms};
  assert_int_equal(nc_gsrv_start(&so, on_event, o, &o->srv, &o->port), 0);
  return o;
}

static void owner_stop(owner *o) {
  nc_gsrv_stop(o->srv);
  nc_tls_srv_free(o->tls);
  pthread_mutex_destroy(&o->mu);
  pthread_cond_destroy(&o->cond);
  free(o);
}

static nc_gcli *client(owner *o) {
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", o->port);
  nc_gcli_tls tls = {.ca_file = g_certs.ca_cert};
  nc_gcli_opts go = {.max_msg_bytes = 16 << 20, .tls = &tls};
  nc_gcli *c = NULL;
  assert_int_equal(nc_gcli_new(g_env, target, &go, &c), 0);
  return c;
}

typedef struct big_call {
  nc_gcli *c;
  uint8_t *data;
  size_t len;
  int ok;
} big_call;

static void *big_thread(void *arg) {
  big_call *b = arg;
  uint8_t *r = NULL;
  size_t rl = 0;
  int rc = nc_gcli_unary(b->c, b->data, b->len, 20000, &r, &rl);
  b->ok = rc == 0 && rl == b->len && memcmp(r, b->data, rl) == 0;
  free(r);
  return NULL;
}

static void test_large_messages_both_ways_intact(void **state) {
  (void)state;
  owner *o = owner_start(0);
  nc_gcli *c = client(o);
  enum { N = 3 };
  big_call calls[N];
  pthread_t th[N];
  for (int i = 0; i < N; i++) {
    calls[i] = (big_call){c, malloc((size_t)(3 + i) << 20), (size_t)(3 + i) << 20, 0};
    assert_non_null(calls[i].data);
    for (size_t k = 0; k < calls[i].len; k++)
      calls[i].data[k] = (uint8_t)(k * 31 + (size_t)i);
    assert_int_equal(pthread_create(&th[i], NULL, big_thread, &calls[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    assert_true(calls[i].ok);
    free(calls[i].data);
  }
  nc_gcli_free(c);
  owner_stop(o);
}

typedef struct sstate {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int n, in_order;
} sstate;

static void s_msg(void *ud, const uint8_t *d, size_t l) {
  sstate *s = ud;
  char want[16];
  pthread_mutex_lock(&s->mu);
  int n = snprintf(want, sizeof(want), "%d", s->n);
  if ((size_t)n != l || memcmp(want, d, l) != 0)
    s->in_order = 0;
  s->n++;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
}
static void s_closed(void *ud, int st) {
  (void)ud;
  (void)st;
}

static void test_stream_order_kept(void **state) {
  (void)state;
  owner *o = owner_start(0);
  nc_gcli *c = client(o);
  sstate s = {.in_order = 1};
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cond, NULL);
  nc_gcli_stream_cbs cbs = {s_msg, s_closed};
  assert_int_equal(nc_gcli_stream_open(c, &cbs, &s), 0);
  enum { MSGS = 3000 };
  for (int i = 0; i < MSGS; i++) {
    char m[16];
    int n = snprintf(m, sizeof(m), "%d", i);
    while (nc_gcli_stream_send(c, (const uint8_t *)m, (size_t)n) == NC_EBUSY)
      usleep(1000);
  }
  assert_int_equal(cond_wait_ge(&s.mu, &s.cond, &s.n, MSGS, 20000), MSGS);
  pthread_mutex_lock(&s.mu);
  assert_true(s.in_order);
  pthread_mutex_unlock(&s.mu);
  nc_gcli_free(c);
  pthread_mutex_destroy(&s.mu);
  pthread_cond_destroy(&s.cond);
  owner_stop(o);
}

/* The client vanishes while the server is still echoing a burst to it:
 * the relay's writes to the dead socket must fail with EPIPE, not raise
 * SIGPIPE (which would end this program). */
static void test_client_gone_while_server_writes(void **state) {
  (void)state;
  owner *o = owner_start(0);
  static uint8_t chunk[8192];
  for (int round = 0; round < 5; round++) {
    nc_gcli *c = client(o);
    sstate s = {.in_order = 1};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cond, NULL);
    nc_gcli_stream_cbs cbs = {s_msg, s_closed};
    assert_int_equal(nc_gcli_stream_open(c, &cbs, &s), 0);
    pthread_mutex_lock(&o->mu);
    int before = o->n_msgs;
    pthread_mutex_unlock(&o->mu);
    for (int i = 0; i < 400; i++)
      while (nc_gcli_stream_send(c, chunk, sizeof(chunk)) == NC_EBUSY)
        usleep(1000);
    /* some arrived and are being echoed: then the client goes */
    cond_wait_ge(&o->mu, &o->cond, &o->n_msgs, before + 50, 5000);
    nc_gcli_free(c);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cond);
  }
  usleep(200000);
  /* still here, and still serving */
  nc_gcli *c = client(o);
  uint8_t *r = NULL;
  size_t rl = 0;
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"ok", 2, 5000, &r, &rl), 0);
  free(r);
  nc_gcli_free(c);
  owner_stop(o);
}

static void test_connection_counted_once_and_released(void **state) {
  (void)state;
  owner *o = owner_start(0);
  long base = nc_gsrv_open_conns();
  enum { CONNS = 12 };
  nc_gcli *cs[CONNS];
  for (int i = 0; i < CONNS; i++) {
    cs[i] = client(o);
    uint8_t *r = NULL;
    size_t rl = 0;
    assert_int_equal(nc_gcli_unary(cs[i], (const uint8_t *)"hi", 2, 5000, &r, &rl), 0);
    free(r);
  }
  /* one each: the relay's socketpair end does not count again */
  assert_int_equal(nc_gsrv_open_conns() - base, CONNS);
  pthread_mutex_lock(&o->mu);
  assert_int_equal(o->peers_bad, 0); /* the core saw 127.0.0.1:port, not "fd:N" */
  assert_true(o->peers_ok >= CONNS);
  pthread_mutex_unlock(&o->mu);
  for (int i = 0; i < CONNS; i++)
    nc_gcli_free(cs[i]);
  long long end = now_ms() + 5000;
  while (nc_gsrv_open_conns() > base && now_ms() < end)
    usleep(20000);
  assert_int_equal(nc_gsrv_open_conns(), base);
  owner_stop(o);
}

static int raw_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  assert_true(fd >= 0);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  return fd;
}

/* 1 when the server closes fd within ms. */
static int closed_within(int fd, int ms) {
  long long end = now_ms() + ms;
  char buf[512];
  struct pollfd p = {.fd = fd, .events = POLLIN};
  while (now_ms() < end) {
    if (poll(&p, 1, 50) > 0 && recv(fd, buf, sizeof(buf), 0) <= 0)
      return 1;
  }
  return 0;
}

static void test_broken_clients_counted_and_harmless(void **state) {
  (void)state;
  nc_gsrv_tls_counts c0, c1;
  nc_gsrv_tls_get_counts(&c0);
  owner *o = owner_start(400);
  /* half a ClientHello, then gone */
  int fd = raw_connect(o->port);
  const uint8_t part[] = {0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00};
  assert_int_equal(send(fd, part, sizeof(part), MSG_NOSIGNAL), (ssize_t)sizeof(part));
  close(fd);
  /* the HTTP/2 preface in plain text */
  fd = raw_connect(o->port);
  static const char pri[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  assert_int_equal(send(fd, pri, sizeof(pri) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(pri) - 1);
  assert_true(closed_within(fd, 3000));
  close(fd);
  /* silence: the handshake deadline (400 ms) closes it */
  fd = raw_connect(o->port);
  long long t0 = now_ms();
  assert_true(closed_within(fd, 3000));
  long long took = now_ms() - t0;
  close(fd);
  assert_true(took >= 300);
  long long end = now_ms() + 3000;
  do {
    nc_gsrv_tls_get_counts(&c1);
  } while ((c1.handshakes_failed - c0.handshakes_failed < 2 ||
            c1.handshakes_timeout == c0.handshakes_timeout) &&
           now_ms() < end && usleep(20000) == 0);
  assert_true(c1.handshakes_failed - c0.handshakes_failed >= 2);
  assert_true(c1.handshakes_timeout - c0.handshakes_timeout >= 1);
  /* and it still serves */
  nc_gcli *c = client(o);
  uint8_t *r = NULL;
  size_t rl = 0;
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"ok", 2, 5000, &r, &rl), 0);
  assert_int_equal(rl, 2);
  free(r);
  nc_gcli_free(c);
  nc_gsrv_tls_get_counts(&c1);
  assert_true(c1.handshakes_ok > c0.handshakes_ok);
  owner_stop(o);
}

static void test_context_errors_name_the_file(void **state) {
  (void)state;
  char err[512];
  nc_tls_srv *t = NULL;
  nc_tls_srv_opts mismatch = {g_certs.server_cert, g_certs.other_key, NULL};
  assert_int_not_equal(nc_tls_srv_new(&mismatch, &t, err, sizeof(err)), 0);
  assert_null(t);
  assert_non_null(strstr(err, "does not match"));
  assert_non_null(strstr(err, g_certs.other_key));
  nc_tls_srv_opts missing = {"/nonexistent.pem", g_certs.server_key, NULL};
  assert_int_equal(nc_tls_srv_new(&missing, &t, err, sizeof(err)), NC_EIO);
  assert_non_null(strstr(err, "/nonexistent.pem"));
  nc_tls_srv_opts badca = {g_certs.server_cert, g_certs.server_key, g_certs.server_key};
  assert_int_not_equal(nc_tls_srv_new(&badca, &t, err, sizeof(err)), 0);
  assert_non_null(strstr(err, "client CA"));
  nc_tls_srv_opts good = {g_certs.server_cert, g_certs.server_key, g_certs.ca_cert};
  assert_int_equal(nc_tls_srv_new(&good, &t, err, sizeof(err)), 0);
  assert_true(nc_tls_srv_mutual(t));
  nc_tls_srv_free(t);
}

int main(void) {
  if (!nc_test_tls_available()) {
    fprintf(stderr, "skipped: needs the openssl command\n");
    return 0;
  }
  nc_grpc_init();
  if (nc_test_tls_make(&g_certs) != 0 || nc_gcli_env_new(1, &g_env) != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_large_messages_both_ways_intact),
      cmocka_unit_test(test_stream_order_kept),
      cmocka_unit_test(test_client_gone_while_server_writes),
      cmocka_unit_test(test_connection_counted_once_and_released),
      cmocka_unit_test(test_broken_clients_counted_and_harmless),
      cmocka_unit_test(test_context_errors_name_the_file),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_gcli_env_free(g_env);
  nc_test_tls_free(&g_certs);
  nc_grpc_shutdown();
  return rc;
}
