/* How streams and connections end, over loopback against an in-process
 * echo owner: closed, cancelled or freed by either side (also while
 * senders on both sides keep going), a client process killed with -9, and
 * a client whose server is gone. test_grpc_transport.c has the data path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_grpc_server.h"
#include "nc_testwait.h"

#include "transport_test_util.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *g_self; /* argv[0], re-executed as a child client */

static void test_server_close_gives_on_closed(void **state) {
  fixture *f = *state;
  nc_gcli *c;
  cstate s;
  owner *o = echo_with_stream(f->env, &c, &s);
  uint64_t id = o->opened[0];
  /* a message queued before the close is still delivered */
  assert_int_equal(nc_gsrv_stream_send(o->srv, id, (const uint8_t *)"0", 1), 0);
  assert_int_equal(nc_gsrv_stream_close(o->srv, id), 0);
  assert_int_equal(cs_wait(&s, &s.closed, 1, 3000), 1);
  assert_int_equal(s.close_status, NC_EUNAVAIL); /* UNAVAILABLE: SDKs reconnect */
  assert_int_equal(cs_wait(&s, &s.n_msgs, 1, 0), 1);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  assert_true(o->closed[0] == id);
  /* sends to a closed or unknown stream fail cleanly */
  assert_int_equal(nc_gsrv_stream_send(o->srv, id, (const uint8_t *)"x", 1), NC_ECLOSED);
  assert_int_equal(nc_gsrv_stream_close(o->srv, id), NC_ECLOSED);
  assert_int_equal(nc_gsrv_stream_send(o->srv, 0xdeadbeefull, (const uint8_t *)"x", 1), NC_ECLOSED);
  assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)"x", 1), NC_ECLOSED);
  /* unary still works on the same channel */
  uint8_t *resp = NULL;
  size_t len = 0;
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"abc", 3, 3000, &resp, &len), 0);
  free(resp);
  nc_gcli_free(c);
  assert_int_equal(s.closed, 1); /* exactly once */
  cs_destroy(&s);
  owner_stop(o);
}

static void test_server_cancel_ends_stream_at_once(void **state) {
  fixture *f = *state;
  nc_gcli *c;
  cstate s;
  owner *o = echo_with_stream(f->env, &c, &s);
  uint64_t id = o->opened[0];
  static uint8_t big[256 * 1024];
  for (int i = 0; i < 8; i++) /* more than the flow-control window */
    assert_int_equal(nc_gsrv_stream_send(o->srv, id, big, sizeof(big)), 0);
  assert_int_equal(nc_gsrv_stream_cancel(o->srv, id), 0);
  assert_int_equal(nc_gsrv_stream_send(o->srv, id, big, 1), NC_ECLOSED);
  assert_int_equal(cs_wait(&s, &s.closed, 1, 3000), 1);
  assert_int_equal(s.close_status, NC_EUNAVAIL);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  assert_int_equal(nc_gsrv_stream_queued(o->srv, id), 0);
  assert_int_equal(nc_gsrv_stream_cancel(o->srv, id), NC_ECLOSED);
  nc_gcli_free(c);
  cs_destroy(&s);
  owner_stop(o);
}

static void test_client_free_gives_stream_closed(void **state) {
  fixture *f = *state;
  nc_gcli *c;
  cstate s;
  owner *o = echo_with_stream(f->env, &c, &s);
  long long t0 = now_ms();
  nc_gcli_free(c);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  assert_true(o->closed_at_ms - t0 < 1000);
  assert_int_equal(nc_gsrv_stream_send(o->srv, o->opened[0], (const uint8_t *)"x", 1),
                   NC_ECLOSED);
  cs_destroy(&s);
  owner_stop(o);
}

/* A client process killed with -9: the RECV_CLOSE_ON_SERVER lifeline fires. */
static void test_killed_client_gives_stream_closed_fast(void **state) {
  (void)state;
  owner *o = owner_start(0, 0);
  char port[16];
  snprintf(port, sizeof(port), "%d", o->port);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    execl(g_self, g_self, "--child-client", port, (char *)NULL);
    _exit(127);
  }
  assert_int_equal(owner_wait(o, &o->n_stream_msgs, 1, 10000), 1); /* child is streaming */
  long long t0 = now_ms();
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  assert_true(o->closed_at_ms - t0 < 500);
  owner_stop(o);
}

static void test_client_survives_server_gone(void **state) {
  fixture *f = *state;
  nc_gcli *c;
  cstate s;
  owner *o = echo_with_stream(f->env, &c, &s);
  owner_stop(o); /* server gone with the stream open */
  assert_int_equal(cs_wait(&s, &s.closed, 1, 3000), 1);
  assert_int_not_equal(s.close_status, 0);
  uint8_t *resp = NULL;
  size_t len = 0;
  long long t0 = now_ms();
  int rc = nc_gcli_unary(c, (const uint8_t *)"x", 1, 500, &resp, &len);
  assert_true(rc == NC_EUNAVAIL || rc == NC_ETIMEOUT);
  assert_true(now_ms() - t0 < 2000);
  /* an async call in flight while freeing: its callback runs before free returns */
  counter k = {.ok = 0};
  pthread_mutex_init(&k.mu, NULL);
  pthread_cond_init(&k.cond, NULL);
  assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"ping", 4, 10000, count_cb, &k), 0);
  nc_gcli_free(c);
  assert_int_equal(k.ok + k.failed, 1);
  pthread_mutex_destroy(&k.mu);
  pthread_cond_destroy(&k.cond);
  cs_destroy(&s);
}

/* Server-side senders on every stream while streams are closed, cancelled
 * and freed under them; client-side senders too. Checks for crashes, leaks
 * and (under TSan) races; every stream must end with STREAM_CLOSED. */
typedef struct stress {
  owner *o;
  uint64_t ids[8];
  nc_gcli *cs[8];
  atomic_int stop;
  atomic_long sent, refused;
} stress;

static void *stress_server_sender(void *arg) {
  stress *st = arg;
  static const uint8_t msg[100];
  unsigned seed = 7;
  while (!atomic_load(&st->stop)) {
    uint64_t id = st->ids[rand_r(&seed) % 8];
    int rc = nc_gsrv_stream_send(st->o->srv, id, msg, sizeof(msg));
    if (rc == 0)
      atomic_fetch_add(&st->sent, 1);
    else
      atomic_fetch_add(&st->refused, 1);
  }
  return NULL;
}

static void *stress_client_sender(void *arg) {
  stress *st = arg;
  static const uint8_t msg[50];
  while (!atomic_load(&st->stop))
    for (int i = 0; i < 4; i++) /* clients 0-3 are never freed early */
      nc_gcli_stream_send(st->cs[i], msg, sizeof(msg));
  return NULL;
}

static void test_concurrent_sends_while_streams_end(void **state) {
  fixture *f = *state;
  stress st = {.o = owner_start(0, 0)};
  cstate cs[8];
  for (int i = 0; i < 8; i++) { /* one at a time, so opened[i] is client i's */
    cs_init(&cs[i]);
    cs[i].in_order = 0;
    st.cs[i] = client_for(f->env, st.o->port);
    assert_int_equal(nc_gcli_stream_open(st.cs[i], &c_cbs, &cs[i]), 0);
    assert_int_equal(owner_wait(st.o, &st.o->n_opened, i + 1, 5000), i + 1);
    st.ids[i] = st.o->opened[i];
  }
  pthread_t th[4];
  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_create(&th[i], NULL, stress_server_sender, &st), 0);
  assert_int_equal(pthread_create(&th[3], NULL, stress_client_sender, &st), 0);
  usleep(100000);
  nc_gsrv_stream_close(st.o->srv, st.ids[0]);
  nc_gsrv_stream_cancel(st.o->srv, st.ids[1]);
  usleep(50000);
  for (int i = 4; i < 8; i++) { /* freed while the server keeps sending to them */
    nc_gcli_free(st.cs[i]);
    st.cs[i] = NULL;
    usleep(20000);
  }
  nc_gsrv_stream_cancel(st.o->srv, st.ids[2]);
  usleep(100000);
  atomic_store(&st.stop, 1);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  assert_true(atomic_load(&st.sent) > 0);
  assert_true(atomic_load(&st.refused) > 0); /* sends to ended streams were refused */
  assert_int_equal(owner_wait(st.o, &st.o->n_closed, 7, 5000), 7); /* all but #3 ended */
  for (int i = 0; i < 3; i++) /* the ones the server ended */
    assert_int_equal(cs_wait(&cs[i], &cs[i].closed, 1, 3000), 1);
  assert_int_equal(cs_wait(&cs[3], &cs[3].closed, 1, 0), 0); /* still open */
  for (int i = 0; i < 4; i++)
    nc_gcli_free(st.cs[i]);
  for (int i = 0; i < 8; i++)
    cs_destroy(&cs[i]);
  owner_stop(st.o);
}

/* Child process: connect, open a stream, send one message, wait to be killed. */
static int child_client(const char *port) {
  nc_gcli_env *env = NULL;
  nc_gcli *c = NULL;
  char target[64];
  cstate s;
  cs_init(&s);
  snprintf(target, sizeof(target), "127.0.0.1:%s", port);
  if (nc_gcli_env_new(1, &env) != 0 || nc_gcli_new(env, target, NULL, &c) != 0)
    return 1;
  if (nc_gcli_stream_open(c, &c_cbs, &s) != 0 || nc_gcli_stream_send(c, (const uint8_t *)"0", 1))
    return 1;
  for (;;)
    pause();
}

int main(int argc, char **argv) {
  g_self = argv[0];
  nc_grpc_init();
  if (argc == 3 && strcmp(argv[1], "--child-client") == 0)
    return child_client(argv[2]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_close_gives_on_closed),
      cmocka_unit_test(test_server_cancel_ends_stream_at_once),
      cmocka_unit_test(test_client_free_gives_stream_closed),
      cmocka_unit_test(test_concurrent_sends_while_streams_end),
      cmocka_unit_test(test_killed_client_gives_stream_closed_fast),
      cmocka_unit_test(test_client_survives_server_gone),
  };
  int rc = NC_TEST_RUN_GROUP(tests, setup, teardown);
  nc_grpc_shutdown();
  return rc;
}
