/* Edge cases of the nghttp2 client (common/nc_h2_client.c) that the shared
 * transport tests do not reach: target parsing, name resolution, peers that
 * refuse, stay silent, talk garbage, hang up or reset, concurrency from
 * several threads, and the client's own message-size cap. Fake peers are
 * plain sockets on 127.0.0.1 served by a thread; a real gRPC peer is the
 * C-core server (nc_grpc_server.h). test_h2_protocol.c has the cases that
 * need a hand-made HTTP/2 server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_grpc_server.h"
#include "nc_log.h"

#include "h2_test_util.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- fake peers: one thread, any number of accepted sockets ------------ */

enum { PEER_SILENT, PEER_GARBAGE, PEER_HANGUP };

#define PEER_MAX_CONNS 16

typedef struct peer {
  int mode;
  int lfd, port;
  pthread_t thr;
  atomic_int stop;
  atomic_int accepted;
} peer;

/* Not an HTTP/2 server preface: what an HTTP/1 server would say. */
static const char k_garbage[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
                                "\x01\x02\x03\xff\xfe garbage garbage garbage";

static void *peer_main(void *arg) {
  peer *p = arg;
  struct pollfd fds[1 + PEER_MAX_CONNS];
  int n = 1;
  char buf[4096];
  fds[0].fd = p->lfd;
  fds[0].events = POLLIN;
  while (!atomic_load(&p->stop)) {
    if (poll(fds, (nfds_t)n, 20) <= 0)
      continue;
    if (fds[0].revents & POLLIN) {
      int fd = accept(p->lfd, NULL, NULL);
      if (fd >= 0) {
        atomic_fetch_add(&p->accepted, 1);
        if (p->mode == PEER_HANGUP || n == 1 + PEER_MAX_CONNS) {
          close(fd);
        } else {
          if (p->mode == PEER_GARBAGE)
            (void)send(fd, k_garbage, sizeof(k_garbage) - 1, MSG_NOSIGNAL);
          fds[n].fd = fd;
          fds[n].events = POLLIN;
          fds[n].revents = 0;
          n++;
        }
      }
    }
    for (int i = 1; i < n; i++) { /* read and discard until the client goes */
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      if (read(fds[i].fd, buf, sizeof(buf)) <= 0) {
        close(fds[i].fd);
        fds[i] = fds[--n];
        i--;
      }
    }
  }
  for (int i = 1; i < n; i++)
    close(fds[i].fd);
  return NULL;
}

static peer *peer_start(int mode) {
  peer *p = calloc(1, sizeof(*p));
  assert_non_null(p);
  p->mode = mode;
  p->lfd = bind_loopback(&p->port, 1);
  assert_int_equal(pthread_create(&p->thr, NULL, peer_main, p), 0);
  return p;
}

static void peer_stop(peer *p) {
  atomic_store(&p->stop, 1);
  pthread_join(p->thr, NULL);
  close(p->lfd);
  free(p);
}

/* ---- a real gRPC peer: echo; "big" answered with 2,000 bytes ----------- */

#define BIG_LEN 2000

typedef struct echo_srv {
  nc_gsrv *srv;
  int port;
  atomic_int n_unary, n_stream_msgs;
  atomic_ullong stream_id; /* the latest stream opened (+1, 0 = none) */
} echo_srv;

static void echo_event(void *ud, nc_gsrv_ev *ev) {
  echo_srv *e = ud;
  static uint8_t big[BIG_LEN];
  switch (ev->type) {
  case NC_GSRV_EV_UNARY:
    atomic_fetch_add(&e->n_unary, 1);
    if (ev->len == 3 && memcmp(ev->data, "big", 3) == 0)
      nc_gsrv_unary_reply(ev->call, big, sizeof(big));
    else
      nc_gsrv_unary_reply(ev->call, ev->data, ev->len);
    break;
  case NC_GSRV_EV_STREAM_OPEN:
    atomic_store(&e->stream_id, ev->stream_id + 1);
    break;
  case NC_GSRV_EV_STREAM_MSG:
    atomic_fetch_add(&e->n_stream_msgs, 1);
    if (ev->len == 3 && memcmp(ev->data, "big", 3) == 0)
      nc_gsrv_stream_send(ev->srv, ev->stream_id, big, sizeof(big));
    else
      nc_gsrv_stream_send(ev->srv, ev->stream_id, ev->data, ev->len);
    break;
  case NC_GSRV_EV_STREAM_CLOSED:
    break;
  }
  nc_gsrv_ev_free(ev);
}

/* NULL when host cannot be bound (e.g. no IPv6 loopback). */
static echo_srv *echo_start_on(const char *host, int permit_ms) {
  echo_srv *e = calloc(1, sizeof(*e));
  assert_non_null(e);
  nc_gsrv_opts so = {.host = host, .port = 0, .stream_queue_max = 8192,
                     .keepalive_permit_ms = permit_ms};
  if (nc_gsrv_start(&so, echo_event, e, &e->srv, &e->port) != 0) {
    free(e);
    return NULL;
  }
  assert_true(e->port > 0);
  return e;
}

static echo_srv *echo_start(void) {
  echo_srv *e = echo_start_on("127.0.0.1", 0);
  assert_non_null(e);
  return e;
}

static void echo_stop(echo_srv *e) {
  nc_gsrv_stop(e->srv);
  free(e);
}

/* One blocking echo of msg; asserts it came back intact. */
static void assert_echo(nc_gcli *c, const char *msg) {
  uint8_t *resp = NULL;
  size_t len = 0;
  size_t n = strlen(msg);
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)msg, n, 3000, &resp, &len), 0);
  assert_int_equal(len, n);
  assert_memory_equal(resp, msg, n);
  free(resp);
}

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

/* ---- 4. a peer that never speaks ----------------------------------------- */

static void test_silent_peer_times_out_and_free_is_prompt(void **state) {
  fixture *f = *state;
  peer *p = peer_start(PEER_SILENT);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p->port, NULL);
  uint8_t *resp = NULL;
  size_t len = 0;
  long long t0 = now_ms();
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"x", 1, 300, &resp, &len), NC_ETIMEOUT);
  long long took = now_ms() - t0;
  assert_true(took >= 250 && took <= 1500);
  assert_null(resp);
  assert_int_equal(atomic_load(&p->accepted), 1);

  /* a call and the stream left pending when the owner frees the client */
  waiter u, s;
  w_init(&u);
  w_init(&s);
  assert_int_equal(nc_gcli_stream_open(c, &w_cbs, &s), 0);
  assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)"hello", 5), 0);
  assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"y", 1, 10000, w_unary_cb, &u), 0);
  usleep(100 * 1000); /* let them reach the wire */
  t0 = now_ms();
  cli_free(c);
  assert_true(now_ms() - t0 < 1000);
  assert_int_equal(u.n, 1); /* the unary callback ran before free returned */
  assert_int_equal(u.status, NC_ECLOSED);
  assert_int_equal(s.closed, 0); /* stream callbacks suppressed */
  w_destroy(&u);
  w_destroy(&s);
  peer_stop(p);
}

/* Several calls with different deadlines on a silent peer end in deadline
 * order, each near its own deadline. */
static void test_silent_peer_deadlines_each_call(void **state) {
  fixture *f = *state;
  peer *p = peer_start(PEER_SILENT);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p->port, NULL);
  waiter a, b;
  w_init(&a);
  w_init(&b);
  long long t0 = now_ms();
  assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"b", 1, 900, w_unary_cb, &b), 0);
  assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"a", 1, 200, w_unary_cb, &a), 0);
  assert_int_equal(w_wait(&a, &a.n, 1, 2000), 1);
  long long ta = now_ms() - t0;
  assert_int_equal(a.status, NC_ETIMEOUT);
  assert_int_equal(w_get(&b, &b.n), 0); /* the longer one is still waiting */
  assert_int_equal(w_wait(&b, &b.n, 1, 3000), 1);
  long long tb = now_ms() - t0;
  assert_int_equal(b.status, NC_ETIMEOUT);
  assert_true(ta >= 150 && ta < 800);
  assert_true(tb >= 850 && tb < 2500);
  cli_free(c);
  w_destroy(&a);
  w_destroy(&b);
  peer_stop(p);
}

/* ---- 5. a peer that is not an HTTP/2 server ---------------------------- */

static void test_garbage_peer_fails_calls(void **state) {
  fixture *f = *state;
  peer *p = peer_start(PEER_GARBAGE);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p->port, NULL);
  waiter s;
  w_init(&s);
  assert_int_equal(nc_gcli_stream_open(c, &w_cbs, &s), 0);
  uint8_t *resp = NULL;
  size_t len = 0;
  long long t0 = now_ms();
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"x", 1, 3000, &resp, &len), NC_EUNAVAIL);
  assert_true(now_ms() - t0 < 2000); /* failed on the garbage, not on the deadline */
  assert_null(resp);
  assert_int_equal(w_wait(&s, &s.closed, 1, 2000), 1);
  assert_int_equal(s.close_status, NC_EUNAVAIL);
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"y", 1, 3000, &resp, &len), NC_EUNAVAIL);
  cli_free(c);
  w_destroy(&s);
  peer_stop(p);
}

/* ---- 6. a peer that hangs up at once --------------------------------------- */

static void test_hangup_peer_closes_stream(void **state) {
  fixture *f = *state;
  peer *p = peer_start(PEER_HANGUP);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p->port, NULL);
  waiter s;
  w_init(&s);
  long long t0 = now_ms();
  assert_int_equal(nc_gcli_stream_open(c, &w_cbs, &s), 0);
  /* keep writing while the peer goes: must end in on_closed, not a crash */
  while (nc_gcli_stream_send(c, (const uint8_t *)"ping", 4) == 0 && now_ms() - t0 < 1000)
    usleep(1000);
  assert_int_equal(w_wait(&s, &s.closed, 1, 1000), 1);
  assert_true(s.closed_at - t0 < 1000);
  assert_int_equal(s.close_status, NC_EUNAVAIL);
  uint8_t *resp = NULL;
  size_t len = 0;
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"x", 1, 3000, &resp, &len), NC_EUNAVAIL);
  cli_free(c);
  assert_int_equal(s.closed, 1);
  w_destroy(&s);
  peer_stop(p);
}

/* ---- a peer that opens the windows, stops reading, then resets --------- */

typedef struct rst_peer {
  int lfd, port, delay_ms;
  pthread_t thr;
} rst_peer;

static void *rst_peer_main(void *arg) {
  rst_peer *p = arg;
  int fd = accept(p->lfd, NULL, NULL);
  if (fd < 0)
    return NULL;
  (void)send(fd, k_open_windows, sizeof(k_open_windows), MSG_NOSIGNAL);
  usleep((useconds_t)p->delay_ms * 1000); /* not reading: the client's writes pile up */
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(fd); /* unread data + linger 0: RST */
  return NULL;
}

/* The client writes into a connection the peer then resets: the call ends
 * NC_EUNAVAIL, and the write that fails afterwards must not raise SIGPIPE
 * (this program leaves SIGPIPE at its default, which kills). */
static void test_reset_during_big_write(void **state) {
  fixture *f = *state;
  rst_peer p = {.delay_ms = 300};
  p.lfd = bind_loopback(&p.port, 1);
  assert_int_equal(pthread_create(&p.thr, NULL, rst_peer_main, &p), 0);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p.port, NULL);
  size_t big = 8u << 20;
  uint8_t *data = calloc(1, big);
  assert_non_null(data);
  uint8_t *resp = NULL;
  size_t len = 0;
  long long t0 = now_ms();
  assert_int_equal(nc_gcli_unary(c, data, big, 5000, &resp, &len), NC_EUNAVAIL);
  assert_true(now_ms() - t0 < 3000);
  usleep(100 * 1000); /* a late SIGPIPE would land here */
  cli_free(c);
  free(data);
  pthread_join(p.thr, NULL);
  close(p.lfd);
}

/* ---- stream back-pressure ------------------------------------------------ */

/* A peer that never reads grants no window: queued stream messages stop at
 * the documented bound (NC_EBUSY) instead of growing, and free drops them. */
static void test_stream_queue_bounded_on_stuck_peer(void **state) {
  fixture *f = *state;
  peer *p = peer_start(PEER_SILENT);
  nc_gcli *c = client_at(f->env, "127.0.0.1", p->port, NULL);
  waiter s;
  w_init(&s);
  assert_int_equal(nc_gcli_stream_open(c, &w_cbs, &s), 0);
  uint8_t msg[64];
  memset(msg, 'm', sizeof(msg));
  int sent = 0, rc = 0;
  while (sent < 200000 && (rc = nc_gcli_stream_send(c, msg, sizeof(msg))) == 0)
    sent++;
  assert_int_equal(rc, NC_EBUSY);
  assert_true(sent >= 16384);
  long long t0 = now_ms();
  cli_free(c);
  assert_true(now_ms() - t0 < 1000);
  assert_int_equal(s.closed, 0);
  w_destroy(&s);
  peer_stop(p);
}

/* ---- 7. keepalive against a real server ---------------------------------- */

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

/* ---- 8. unary calls from several threads ---------------------------------- */

#define U_THREADS 4
#define U_CALLS 200

typedef struct ucall {
  char want[64];
  size_t want_len;
  atomic_int done;
  atomic_int ok;
  waiter *w;
} ucall;

static void ucall_cb(void *ud, int status, const uint8_t *data, size_t len) {
  ucall *u = ud;
  if (status == 0 && len == u->want_len && memcmp(data, u->want, len) == 0)
    atomic_store(&u->ok, 1);
  atomic_fetch_add(&u->done, 1);
  pthread_mutex_lock(&u->w->mu);
  u->w->n++;
  pthread_cond_broadcast(&u->w->cond);
  pthread_mutex_unlock(&u->w->mu);
}

typedef struct uthread {
  nc_gcli *c;
  ucall *calls;
  int id, rc;
} uthread;

static void *unary_thread(void *arg) {
  uthread *t = arg;
  for (int i = 0; i < U_CALLS; i++) {
    ucall *u = &t->calls[i];
    int rc = nc_gcli_unary_async(t->c, (const uint8_t *)u->want, u->want_len, 15000, ucall_cb, u);
    if (rc != 0 && !t->rc)
      t->rc = rc;
  }
  return NULL;
}

static void test_unary_from_many_threads(void **state) {
  fixture *f = *state;
  echo_srv *e = echo_start();
  nc_gcli *c = client_at(f->env, "127.0.0.1", e->port, NULL);
  waiter w;
  w_init(&w);
  ucall *calls = calloc(U_THREADS * U_CALLS, sizeof(*calls));
  assert_non_null(calls);
  for (int i = 0; i < U_THREADS * U_CALLS; i++) {
    int n = snprintf(calls[i].want, sizeof(calls[i].want), "t%d-call%d-%.*s", i / U_CALLS,
                     i % U_CALLS, i % 23, "abcdefghijklmnopqrstuvwxyz");
    calls[i].want_len = (size_t)n;
    calls[i].w = &w;
  }
  uthread th[U_THREADS];
  pthread_t tid[U_THREADS];
  for (int t = 0; t < U_THREADS; t++) {
    th[t] = (uthread){.c = c, .calls = calls + t * U_CALLS, .id = t};
    assert_int_equal(pthread_create(&tid[t], NULL, unary_thread, &th[t]), 0);
  }
  for (int t = 0; t < U_THREADS; t++) {
    pthread_join(tid[t], NULL);
    assert_int_equal(th[t].rc, 0);
  }
  assert_int_equal(w_wait(&w, &w.n, U_THREADS * U_CALLS, 20000), U_THREADS * U_CALLS);
  for (int i = 0; i < U_THREADS * U_CALLS; i++) {
    assert_int_equal(atomic_load(&calls[i].done), 1); /* exactly once */
    assert_int_equal(atomic_load(&calls[i].ok), 1);   /* its own payload back */
  }
  assert_int_equal(atomic_load(&e->n_unary), U_THREADS * U_CALLS);
  cli_free(c);
  free(calls);
  w_destroy(&w);
  echo_stop(e);
}

/* ---- 9. stream sends from several threads -------------------------------- */

#define S_THREADS 3
#define S_MSGS 500

typedef struct sstate {
  waiter w;
  int seen[S_THREADS][S_MSGS];
  int next[S_THREADS]; /* per sender: the next index expected */
  int bad, out_of_order;
} sstate;

static void s_on_msg(void *ud, const uint8_t *data, size_t len) {
  sstate *s = ud;
  char buf[32];
  int t, i;
  snprintf(buf, sizeof(buf), "%.*s", (int)(len < 31 ? len : 31), (const char *)data);
  pthread_mutex_lock(&s->w.mu);
  if (sscanf(buf, "%d:%d", &t, &i) != 2 || t < 0 || t >= S_THREADS || i < 0 || i >= S_MSGS) {
    s->bad++;
  } else {
    s->seen[t][i]++;
    if (i != s->next[t]) /* one sender's messages keep their order */
      s->out_of_order++;
    s->next[t] = i + 1;
  }
  s->w.n++;
  pthread_cond_broadcast(&s->w.cond);
  pthread_mutex_unlock(&s->w.mu);
}

static void s_on_closed(void *ud, int status) { w_on_closed(&((sstate *)ud)->w, status); }

typedef struct sthread {
  nc_gcli *c;
  int id, rc;
} sthread;

static void *stream_thread(void *arg) {
  sthread *t = arg;
  char buf[32];
  for (int i = 0; i < S_MSGS; i++) {
    int n = snprintf(buf, sizeof(buf), "%d:%d", t->id, i);
    int rc = nc_gcli_stream_send(t->c, (const uint8_t *)buf, (size_t)n);
    if (rc != 0 && !t->rc)
      t->rc = rc;
  }
  return NULL;
}

static void test_stream_send_from_many_threads(void **state) {
  fixture *f = *state;
  echo_srv *e = echo_start();
  nc_gcli *c = client_at(f->env, "127.0.0.1", e->port, NULL);
  sstate *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  w_init(&s->w);
  nc_gcli_stream_cbs cbs = {s_on_msg, s_on_closed};
  assert_int_equal(nc_gcli_stream_open(c, &cbs, s), 0);
  sthread th[S_THREADS];
  pthread_t tid[S_THREADS];
  for (int t = 0; t < S_THREADS; t++) {
    th[t] = (sthread){.c = c, .id = t};
    assert_int_equal(pthread_create(&tid[t], NULL, stream_thread, &th[t]), 0);
  }
  for (int t = 0; t < S_THREADS; t++) {
    pthread_join(tid[t], NULL);
    assert_int_equal(th[t].rc, 0);
  }
  int total = S_THREADS * S_MSGS;
  assert_int_equal(w_wait(&s->w, &s->w.n, total, 20000), total);
  usleep(100 * 1000); /* a duplicate would show up now */
  pthread_mutex_lock(&s->w.mu);
  assert_int_equal(s->w.n, total);
  assert_int_equal(s->bad, 0);
  assert_int_equal(s->out_of_order, 0);
  for (int t = 0; t < S_THREADS; t++)
    for (int i = 0; i < S_MSGS; i++)
      assert_int_equal(s->seen[t][i], 1);
  assert_int_equal(s->w.closed, 0);
  pthread_mutex_unlock(&s->w.mu);
  assert_int_equal(atomic_load(&e->n_stream_msgs), total);
  cli_free(c);
  w_destroy(&s->w);
  free(s);
  echo_stop(e);
}

/* ---- 10. the client's own size cap -------------------------------------- */

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
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bad_targets_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ipv6_literal_target, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostname_target_resolves, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostname_tries_every_address, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_fails_fast, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_opened_after_refusal, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_silent_peer_times_out_and_free_is_prompt, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_silent_peer_deadlines_each_call, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_peer_fails_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hangup_peer_closes_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset_during_big_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_queue_bounded_on_stuck_peer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keepalive_pings_keep_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unary_from_many_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_send_from_many_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_msg_bytes_unary, setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_msg_bytes_stream, setup, teardown),
  };
  if (getenv("NC_TEST_TRACE"))
    nc_log_set_level(NC_LOG_TRACE);
  if (getenv("NC_TEST_FILTER"))
    cmocka_set_test_filter(getenv("NC_TEST_FILTER"));
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
