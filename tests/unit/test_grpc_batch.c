/* nc_gsrv's burst delivery (opts.on_batch) and its process-wide queue pool:
 * every event comes through on_batch, chained and in order, none through
 * the per-event callback; two servers share the pool and one can stop
 * while the other serves; a server stopped while a client keeps sending
 * frees everything (ASan). The echo owner of transport_test_util.h answers
 * each event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_grpc_server.h"
#include "nc_json.h"
#include "nc_testwait.h"

#include "transport_test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct bowner {
  owner *o; /* the echo owner that answers each event */
  atomic_int via_cb, via_batch, bursts, max_burst, bad_chain;
} bowner;

static void b_on_event(void *ud, nc_gsrv_ev *ev) {
  bowner *b = ud;
  atomic_fetch_add(&b->via_cb, 1);
  on_event(b->o, ev);
}

static void b_on_batch(void *ud, nc_gsrv_ev *first) {
  bowner *b = ud;
  int n = 0;
  nc_gsrv *first_srv = first->srv;
  atomic_fetch_add(&b->bursts, 1);
  for (nc_gsrv_ev *ev = first, *next; ev; ev = next) {
    next = (nc_gsrv_ev *)ev->node.next;
    ev->node.next = NULL;
    if (++n > NC_GSRV_BATCH_MAX || ev->srv != first_srv) /* one run: one server */
      atomic_fetch_add(&b->bad_chain, 1);
    atomic_fetch_add(&b->via_batch, 1);
    on_event(b->o, ev);
  }
  int m = atomic_load(&b->max_burst);
  while (n > m && !atomic_compare_exchange_weak(&b->max_burst, &m, n))
    ;
}

static bowner *bowner_start(void) {
  bowner *b = calloc(1, sizeof(*b));
  assert_non_null(b);
  b->o = calloc(1, sizeof(*b->o));
  assert_non_null(b->o);
  pthread_mutex_init(&b->o->mu, NULL);
  pthread_cond_init(&b->o->cond, NULL);
  nc_gsrv_opts so = {.host = "127.0.0.1", .on_batch = b_on_batch};
  assert_int_equal(nc_gsrv_start(&so, b_on_event, b, &b->o->srv, &b->o->port), 0);
  return b;
}

static void bowner_stop(bowner *b) {
  owner_stop(b->o);
  free(b);
}

static int unary_burst(nc_gcli_env *env, int port, int n) {
  nc_gcli *c = client_for(env, port);
  counter k = {.ok = 0};
  pthread_mutex_init(&k.mu, NULL);
  pthread_cond_init(&k.cond, NULL);
  for (int i = 0; i < n; i++)
    assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"ping", 4, 5000, count_cb, &k), 0);
  pthread_mutex_lock(&k.mu);
  while (k.ok + k.failed < n)
    pthread_cond_wait(&k.cond, &k.mu);
  pthread_mutex_unlock(&k.mu);
  nc_gcli_free(c);
  pthread_mutex_destroy(&k.mu);
  pthread_cond_destroy(&k.cond);
  return k.ok;
}

static void test_unary_calls_arrive_in_bursts(void **state) {
  fixture *f = *state;
  bowner *b = bowner_start();
  assert_int_equal(unary_burst(f->env, b->o->port, 1000), 1000);
  assert_int_equal(atomic_load(&b->via_cb), 0);
  assert_int_equal(atomic_load(&b->via_batch), 1000);
  assert_int_equal(atomic_load(&b->bad_chain), 0);
  /* 1,000 calls in flight on one connection: some read together */
  assert_true(atomic_load(&b->max_burst) > 1);
  assert_true(atomic_load(&b->bursts) < 1000);
  print_message("1000 calls in %d bursts, largest %d\n", atomic_load(&b->bursts),
                atomic_load(&b->max_burst));
  bowner_stop(b);
}

static void test_stream_messages_keep_their_order(void **state) {
  fixture *f = *state;
  bowner *b = bowner_start();
  nc_gcli *c = client_for(f->env, b->o->port);
  cstate s;
  cs_open(&s, c);
  enum { N = 3000 };
  char buf[16];
  for (int i = 0; i < N; i++) {
    int n = snprintf(buf, sizeof(buf), "%d", i);
    assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)buf, (size_t)n), 0);
  }
  assert_int_equal(cs_wait(&s, &s.n_msgs, N, 20000), N);
  assert_int_equal(s.in_order, 1);
  assert_int_equal(owner_wait(b->o, &b->o->n_opened, 1, 1000), 1);
  assert_int_equal(atomic_load(&b->via_cb), 0);
  nc_gcli_free(c);
  assert_int_equal(owner_wait(b->o, &b->o->n_closed, 1, 3000), 1);
  assert_int_equal(atomic_load(&b->bad_chain), 0);
  cs_destroy(&s);
  bowner_stop(b);
}

static void test_two_servers_share_the_queue_pool(void **state) {
  fixture *f = *state;
  bowner *a = bowner_start();
  owner *p = owner_start(0, 0); /* per-event delivery beside burst delivery */
  assert_int_equal(unary_burst(f->env, a->o->port, 200), 200);
  assert_int_equal(unary_burst(f->env, p->port, 200), 200);
  bowner_stop(a); /* the pool stays: p still serves */
  assert_int_equal(unary_burst(f->env, p->port, 200), 200);
  bowner *a2 = bowner_start(); /* and a new server joins it */
  assert_int_equal(unary_burst(f->env, a2->o->port, 200), 200);
  owner_stop(p);
  assert_int_equal(unary_burst(f->env, a2->o->port, 50), 50);
  bowner_stop(a2);
  /* the last one closed the pool; a new start builds it again */
  p = owner_start(0, 0);
  assert_int_equal(unary_burst(f->env, p->port, 50), 50);
  owner_stop(p);
}

static void test_stop_while_a_client_keeps_sending(void **state) {
  fixture *f = *state;
  bowner *b = bowner_start();
  nc_gcli *c = client_for(f->env, b->o->port);
  counter k = {.ok = 0};
  pthread_mutex_init(&k.mu, NULL);
  pthread_cond_init(&k.cond, NULL);
  for (int i = 0; i < 2000; i++)
    assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"ping", 4, 5000, count_cb, &k), 0);
  usleep(2000); /* some in bursts, some in flight, some not yet read */
  bowner_stop(b);
  pthread_mutex_lock(&k.mu);
  while (k.ok + k.failed < 2000)
    pthread_cond_wait(&k.cond, &k.mu);
  pthread_mutex_unlock(&k.mu);
  assert_int_equal(k.ok + k.failed, 2000); /* every call ended, none hangs */
  nc_gcli_free(c);
  pthread_mutex_destroy(&k.mu);
  pthread_cond_destroy(&k.cond);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unary_calls_arrive_in_bursts),
      cmocka_unit_test(test_stream_messages_keep_their_order),
      cmocka_unit_test(test_two_servers_share_the_queue_pool),
      cmocka_unit_test(test_stop_while_a_client_keeps_sending),
  };
  int rc = NC_TEST_RUN_GROUP(tests, setup, teardown);
  nc_grpc_shutdown();
  return rc;
}
