/* Edge cases of the nghttp2 client (common/gcli/nc_h2_client.c) that the
 * shared transport tests do not reach: target parsing, name resolution,
 * refused and hanging connects, keepalive and the client's own message-size
 * cap. The real gRPC peer is the C-core server (h2_client_util.h).
 * test_h2_client_peers.c has the fake peers that stay silent, talk garbage,
 * hang up or reset; test_h2_client_threads.c calls from several threads;
 * test_h2_protocol.c needs a hand-made HTTP/2 server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc_client.h"

#include "h2_client_util.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- 1. targets ---------------------------------------------------------- */

static void test_bad_targets_rejected(void **state) {
  fixture *f = *state;
  char longt[301];
  memset(longt, 'a', sizeof(longt) - 1);
  longt[sizeof(longt) - 1] = 0;
  memcpy(longt + sizeof(longt) - 6, ":8848", 5); /* well-formed apart from its size */
  const char *bad[] = {"",        "nohost",  "host:", "host:0", "host:70000",
                       "host:12x", ":8848",  "host:-1", "host:+80", "host: 80", longt};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    nc_gcli *c = (nc_gcli *)&bad; /* must be reset to NULL */
    assert_int_equal(nc_gcli_new(f->env, bad[i], NULL, &c), NC_EINVAL);
    assert_null(c);
  }
  nc_gcli *c = (nc_gcli *)&bad;
  assert_int_equal(nc_gcli_new(f->env, NULL, NULL, &c), NC_EINVAL);
  assert_null(c);
}

static void test_ipv6_literal_target(void **state) {
  fixture *f = *state;
  echo_srv *e = echo_start_on("::1", 0);
  if (!e) {
    skip(); /* no IPv6 loopback on this machine */
    return;
  }
  nc_gcli *c = client_at(f->env, "[::1]", e->port, NULL);
  assert_echo(c, "over ipv6");
  cli_free(c);
  echo_stop(e);
}

/* ---- 2. a host name goes through the resolver --------------------------- */

static void test_hostname_target_resolves(void **state) {
  fixture *f = *state;
  waiter w;
  w_init(&w);
  echo_srv *e = echo_start();
  nc_gcli *c = client_at(f->env, "localhost", e->port, NULL);
  assert_echo(c, "resolved");
  assert_echo(c, "again");
  cli_free(c);
  /* a name that does not resolve fails the call, it does not hang it */
  c = client_at(f->env, "no-such-host.invalid", e->port, NULL);
  uint8_t *resp = NULL;
  size_t len = 0;
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"x", 1, 5000, &resp, &len), NC_EUNAVAIL);
  assert_null(resp);
  cli_free(c);
  /* freed while the name may still be resolving: the resolver's callback
   * is waited for, not run on freed memory */
  for (int i = 0; i < 5; i++) {
    c = client_at(f->env, i % 2 ? "localhost" : "no-such-host.invalid", e->port, NULL);
    assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"x", 1, 3000, w_unary_cb, &w), 0);
    cli_free(c);
  }
  assert_int_equal(w_get(&w, &w.n), 5); /* each call answered before its free returned */
  w_destroy(&w);
  echo_stop(e);
}

/* A name with several addresses: getaddrinfo is interposed here (libuv
 * calls it from its thread pool) so that "v6-then-v4.nc-test" resolves to
 * ::1 first and 127.0.0.1 second, as "localhost" does on many hosts, and
 * "refused-twice.nc-test" to two addresses of which neither listens. Every
 * other name goes to the real resolver. */
static atomic_int g_gai_fakes;

static int real_gai(const char *node, const char *service, const struct addrinfo *hints,
                    struct addrinfo **res) {
  typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
  gai_fn next = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
  return next ? next(node, service, hints, res) : EAI_FAIL;
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {
  const char *first = NULL, *second = NULL;
  if (node && strcmp(node, "v6-then-v4.nc-test") == 0) {
    first = "::1";
    second = "127.0.0.1";
  } else if (node && strcmp(node, "refused-twice.nc-test") == 0) {
    first = "127.0.0.1";
    second = "127.0.0.1"; /* the port is a closed one */
  } else {
    return real_gai(node, service, hints, res);
  }
  atomic_fetch_add(&g_gai_fakes, 1);
  struct addrinfo h = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM};
  struct addrinfo *a = NULL, *b = NULL;
  int rc = real_gai(first, service, &h, &a);
  if (rc != 0)
    return rc;
  if ((rc = real_gai(second, service, &h, &b)) != 0) {
    freeaddrinfo(a);
    return rc;
  }
  struct addrinfo *t = a; /* one list: freeaddrinfo walks ai_next */
  while (t->ai_next)
    t = t->ai_next;
  t->ai_next = b;
  *res = a;
  return 0;
}

static void test_hostname_tries_every_address(void **state) {
  fixture *f = *state;
  echo_srv *e = echo_start(); /* IPv4 only, as nacosd's default 0.0.0.0 */
  int before = atomic_load(&g_gai_fakes);
  nc_gcli *c = client_at(f->env, "v6-then-v4.nc-test", e->port, NULL);
  assert_echo(c, "second address");
  assert_int_equal(atomic_load(&g_gai_fakes), before + 1);
  cli_free(c);
  echo_stop(e);

  /* every address refused: the call still fails fast */
  int port;
  close(bind_loopback(&port, 0));
  c = client_at(f->env, "refused-twice.nc-test", port, NULL);
  uint8_t *resp = NULL;
  size_t len = 0;
  long long t0 = now_ms();
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"x", 1, 5000, &resp, &len), NC_EUNAVAIL);
  assert_true(now_ms() - t0 < 1000);
  assert_int_equal(atomic_load(&g_gai_fakes), before + 2);
  cli_free(c);

  /* freed while it moves from one address to the next */
  for (int i = 0; i < 20; i++) {
    c = client_at(f->env, i % 2 ? "refused-twice.nc-test" : "v6-then-v4.nc-test", port, NULL);
    usleep((useconds_t)(i * 100));
    cli_free(c);
  }
  /* a 1 ms connect timeout lands anywhere in that dance: the call fails
   * (or, if the second address was quick, succeeds), nothing leaks */
  e = echo_start();
  nc_gcli_opts o = {.connect_timeout_ms = 1};
  for (int i = 0; i < 10; i++) {
    c = client_at(f->env, "v6-then-v4.nc-test", e->port, &o);
    int rc = nc_gcli_unary(c, (const uint8_t *)"x", 1, 3000, &resp, &len);
    assert_true(rc == 0 || rc == NC_EUNAVAIL);
    free(resp);
    resp = NULL;
    cli_free(c);
  }
  echo_stop(e);
}

/* ---- 3. connection refused --------------------------------------------- */

static void test_refused_fails_fast(void **state) {
  fixture *f = *state;
  int port;
  close(bind_loopback(&port, 0)); /* a port nothing listens on */
  nc_gcli *c = client_at(f->env, "127.0.0.1", port, NULL);
  waiter w;
  w_init(&w);
  assert_int_equal(nc_gcli_stream_open(c, &w_cbs, &w), 0);
  uint8_t *resp = NULL;
  size_t len = 0;
  long long t0 = now_ms();
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"x", 1, 5000, &resp, &len), NC_EUNAVAIL);
  assert_true(now_ms() - t0 < 1000);
  assert_null(resp);
  assert_int_equal(w_wait(&w, &w.closed, 1, 1000), 1);
  assert_int_equal(w.close_status, NC_EUNAVAIL);
  /* once known dead, later calls fail at once too */
  t0 = now_ms();
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"y", 1, 5000, &resp, &len), NC_EUNAVAIL);
  assert_true(now_ms() - t0 < 500);
  assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)"z", 1), NC_ECLOSED);
  t0 = now_ms();
  cli_free(c);
  assert_true(now_ms() - t0 < 1000);
  assert_int_equal(w.closed, 1); /* at most once */
  w_destroy(&w);
}

/* A stream opened after the connection already failed still hears of it. */
static void test_stream_opened_after_refusal(void **state) {
  fixture *f = *state;
  int port;
  close(bind_loopback(&port, 0));
  nc_gcli *c = client_at(f->env, "127.0.0.1", port, NULL);
  uint8_t *resp = NULL;
  size_t len = 0;
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"x", 1, 5000, &resp, &len), NC_EUNAVAIL);
  waiter w;
  w_init(&w);
  assert_int_equal(nc_gcli_stream_open(c, &w_cbs, &w), 0);
  assert_int_equal(w_wait(&w, &w.closed, 1, 1000), 1);
  assert_int_equal(w.close_status, NC_EUNAVAIL);
  cli_free(c);
  w_destroy(&w);
}

/* A listener whose accept queue is full drops new SYNs: the connect hangs
 * and only connect_timeout_ms ends it. Calls fail then (NC_EUNAVAIL, as a
 * channel that cannot connect), not at their own later deadline. Skipped
 * where the network stack completes the handshake anyway. */
static void test_connect_timeout(void **state) {
  fixture *f = *state;
  int port, lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof(sa);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(lfd, 0), 0);
  assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
  port = ntohs(sa.sin_port);
  int fill[8], n = 0, hung = 0;
  for (; n < 8 && !hung; n++) { /* fill the queue until a connect hangs */
    fill[n] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (connect(fill[n], (struct sockaddr *)&sa, sizeof(sa)) != 0) {
      struct pollfd pf = {.fd = fill[n], .events = POLLOUT};
      hung = poll(&pf, 1, 200) == 0;
    }
  }
  if (!hung) {
    for (int i = 0; i < n; i++)
      close(fill[i]);
    close(lfd);
    skip();
    return;
  }
  nc_gcli_opts o = {.connect_timeout_ms = 300};
  nc_gcli *c = client_at(f->env, "127.0.0.1", port, &o);
  uint8_t *resp = NULL;
  size_t len = 0;
  long long t0 = now_ms();
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"x", 1, 5000, &resp, &len), NC_EUNAVAIL);
  long long took = now_ms() - t0;
  assert_true(took >= 200 && took <= 1500);
  t0 = now_ms();
  cli_free(c);
  assert_true(now_ms() - t0 < 1000);
  for (int i = 0; i < n; i++)
    close(fill[i]);
  close(lfd);
}

/* ---- 4. keepalive against a real server ---------------------------------- */

/* Pings every 200 ms on an idle connection are answered and do not end it
 * (the server tolerates them); the stream stays open, calls still work. */
static void test_keepalive_pings_keep_connection(void **state) {
  fixture *f = *state;
  echo_srv *e = echo_start_on("127.0.0.1", 50);
  assert_non_null(e);
  nc_gcli_opts o = {.keepalive_ms = 200};
  nc_gcli *c = client_at(f->env, "127.0.0.1", e->port, &o);
  waiter s;
  w_init(&s);
  assert_int_equal(nc_gcli_stream_open(c, &w_cbs, &s), 0);
  assert_echo(c, "before");
  usleep(1500 * 1000); /* idle: ~7 ping rounds */
  assert_int_equal(w_get(&s, &s.closed), 0);
  assert_echo(c, "after");
  cli_free(c);
  w_destroy(&s);
  echo_stop(e);
}

/* ---- 5. the client's own size cap -------------------------------------- */

static void test_max_msg_bytes_unary(void **state) {
  fixture *f = *state;
  echo_srv *e = echo_start();
  nc_gcli_opts o = {.max_msg_bytes = 1024};
  nc_gcli *c = client_at(f->env, "127.0.0.1", e->port, &o);
  assert_echo(c, "small first");
  uint8_t *resp = NULL;
  size_t len = 0;
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"big", 3, 3000, &resp, &len), NC_ETOOBIG);
  assert_null(resp);
  assert_echo(c, "small after"); /* only that call failed, not the connection */
  /* exactly at the cap is fine */
  char *at = malloc(1024 + 1);
  assert_non_null(at);
  memset(at, 'q', 1024);
  at[1024] = 0;
  assert_echo(c, at);
  free(at);
  cli_free(c);
  echo_stop(e);
}

static void test_max_msg_bytes_stream(void **state) {
  fixture *f = *state;
  echo_srv *e = echo_start();
  nc_gcli_opts o = {.max_msg_bytes = 1024};
  nc_gcli *c = client_at(f->env, "127.0.0.1", e->port, &o);
  waiter s;
  w_init(&s);
  assert_int_equal(nc_gcli_stream_open(c, &w_cbs, &s), 0);
  assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)"big", 3), 0);
  assert_int_equal(w_wait(&s, &s.closed, 1, 3000), 1);
  assert_int_equal(s.close_status, NC_ETOOBIG);
  assert_echo(c, "connection still up");
  cli_free(c);
  assert_int_equal(s.closed, 1);
  w_destroy(&s);
  echo_stop(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bad_targets_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ipv6_literal_target, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostname_target_resolves, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostname_tries_every_address, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_fails_fast, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_opened_after_refusal, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive_pings_keep_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_msg_bytes_unary, setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_msg_bytes_stream, setup, teardown),
  };
  return H2_GRPC_MAIN(tests);
}
