/* The nghttp2 client (common/gcli/nc_h2_client.c) used from several threads
 * at once against a real gRPC echo peer (h2_client_util.h): unary calls
 * each get their own answer exactly once, and one sender's stream messages
 * keep their order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc_client.h"

#include "h2_client_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- 1. unary calls from several threads ---------------------------------- */

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

/* ---- 2. stream sends from several threads -------------------------------- */

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_unary_from_many_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stream_send_from_many_threads, setup, teardown),
  };
  return H2_GRPC_MAIN(tests);
}
