/* The nghttp2 client (common/gcli/nc_h2_client.c) against fake peers that
 * misbehave: they never speak, talk garbage, hang up at once, or open the
 * windows, stop reading and reset. Each is a plain socket on 127.0.0.1
 * served by a thread. test_h2_client.c has targets, resolution, connects,
 * keepalive and size caps against a real gRPC peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc_client.h"
#include "nc_testwait.h"

#include "h2_test_util.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* ---- 1. a peer that never speaks ----------------------------------------- */

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

/* ---- 2. a peer that is not an HTTP/2 server ---------------------------- */

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

/* ---- 3. a peer that hangs up at once --------------------------------------- */

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_silent_peer_times_out_and_free_is_prompt, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_silent_peer_deadlines_each_call, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_peer_fails_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hangup_peer_closes_stream, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset_during_big_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_queue_bounded_on_stuck_peer, setup, teardown),
  };
  return NC_TEST_RUN_GROUP(tests, NULL, NULL);
}
