/* Persistent instances in a 3-node cluster on one PostgreSQL (issue 15,
 * docs/persistent.md): registered on node 0, visible on nodes 1 and 2
 * (the write's notice; no Distro); exactly one node health-checks it (the
 * responsible-node hash; the others start no check); its failure is pushed
 * to a subscriber of node 2; a restarted node loads it from the database
 * with the health the checker wrote; a deregister on node 2 removes it on
 * node 0; with the database down a register fails (typed 500) and works
 * again once it is back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cluster_itest.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_testpg.h"
#include "persistent_itest.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct env {
  nc_testpg *pg;
  nc_tcluster *c;
  nc_gcli_env *genv;
  char url_arg[256];
  nc_tw *tw[8];
  int n_tw;
} env;

static env g_e;

static nc_tw *open_on(env *e, int i) {
  nc_tw *tw = NULL;
  long long t0 = nc_test_now_ms();
  nc_tw_opts o = {.timeout_ms = 3000};
  while (nc_tw_connect(e->genv, nc_tcluster_node(e->c, i)->target, &o, &tw) != 0 &&
         nc_test_now_ms() - t0 < 20000) {
    tw = NULL;
    nc_test_sleep_ms(200); /* not ready yet (start-up snapshot) */
  }
  assert_non_null(tw);
  e->tw[e->n_tw++] = tw;
  return tw;
}

static void close_all(env *e) {
  for (int i = 0; i < e->n_tw; i++)
    if (e->tw[i])
      nc_tw_close(e->tw[i]);
  e->n_tw = 0;
}

static int teardown(void **st) {
  (void)st;
  close_all(&g_e);
  int rc = g_e.c ? nc_tcluster_stop(g_e.c) : 0;
  g_e.c = NULL;
  nc_gcli_env_free(g_e.genv);
  g_e.genv = NULL;
  nc_testpg_free(g_e.pg);
  g_e.pg = NULL;
  return rc == 0 ? 0 : -1;
}

/* Hosts of svc node i's query shows (-1 on a failure); healthy of the
 * first into *healthy when given. */
static int hosts_on(nc_tw *tw, const char *svc, int *healthy) {
  nc_tw_service s = {0};
  nc_tw_reply r = nc_tw_query(tw, svc, &s);
  int n = nc_tw_ok(&r) ? s.nhosts : -1;
  if (healthy && n > 0)
    *healthy = s.hosts[0].healthy;
  nc_tw_service_free(&s);
  return n;
}

static long long wait_hosts(nc_tw *tw, const char *svc, int want, int timeout_ms) {
  long long t0 = nc_test_now_ms();
  while (hosts_on(tw, svc, NULL) != want) {
    if (nc_test_now_ms() - t0 > timeout_ms)
      return -1;
    nc_test_sleep_ms(50);
  }
  return nc_test_now_ms() - t0;
}

static void test_shared_checked_once_pushed_everywhere(void **st) {
  (void)st;
  env *e = &g_e;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  assert_int_equal(nc_testpg_start(&e->pg), 0);
  snprintf(e->url_arg, sizeof(e->url_arg), "--db-url=%s", nc_testpg_url(e->pg));
  const char *extra[] = {e->url_arg, "--db-timeout-ms=2000", "--push-merge-ms", "50", NULL};
  e->c = cit_start_opts(3, extra, 1);
  assert_int_equal(nc_gcli_env_new(1, &e->genv), 0);
  pit_listener l = {0};
  assert_int_equal(pit_listen(&l, 0), 0);
  nc_tw *a = open_on(e, 0), *b = open_on(e, 1), *c = open_on(e, 2);
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(c, "pc.svc", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);

  nc_tw_expect_ok(pit_persistent(a, "pc.svc", "registerInstance", "127.0.0.1", l.port),
                  "InstanceResponse");
  long long tb = wait_hosts(b, "pc.svc", 1, 5000), tc = wait_hosts(c, "pc.svc", 1, 5000);
  assert_true(tb >= 0 && tc >= 0);
  fprintf(stderr, "visible on node 1 after %lld ms, node 2 after %lld ms\n", tb, tc);
  assert_true(pit_wait_health(c, "pc.svc", l.port, 1, 3000));
  /* not Distro: no node holds it as a synced client */
  for (int i = 0; i < 3; i++)
    assert_int_equal(nc_tcluster_metric(e->c, i, "nacosd_naming_synced_clients"), 0);

  /* checks arrive; only one node makes them */
  long long t0 = nc_test_now_ms();
  while (atomic_load(&l.accepts) < 2 && nc_test_now_ms() - t0 < 15000)
    nc_test_sleep_ms(100);
  int accepts = atomic_load(&l.accepts);
  assert_true(accepts >= 2);
  int checkers = 0;
  long long checks = 0;
  for (int i = 0; i < 3; i++) {
    long long n = nc_tcluster_metric(e->c, i, "nacosd_naming_health_checks_total");
    assert_true(n >= 0);
    if (n > 0) {
      checkers++;
      checks = n;
    }
  }
  assert_int_equal(checkers, 1);
  assert_true(checks >= accepts - 1);
  fprintf(stderr, "%d connects at the target, %lld checks by one node\n", accepts, checks);

  /* the target goes: node 2's subscriber is pushed healthy:false */
  pit_close(&l);
  t0 = nc_test_now_ms();
  assert_true(pit_wait_health(c, "pc.svc", l.port, 0, 10000));
  fprintf(stderr, "healthy:false pushed on node 2 %lld ms after the target closed\n",
          nc_test_now_ms() - t0);
  int healthy = 1;
  assert_int_equal(hosts_on(a, "pc.svc", &healthy), 1);
  assert_int_equal(healthy, 0);

  /* a restarted node loads it (with its health) from the database */
  nc_tw_close(b);
  e->tw[1] = NULL;
  assert_int_equal(nc_tcluster_stop_node(e->c, 1), 0);
  assert_int_equal(nc_tcluster_restart_node(e->c, 1), 0);
  nc_tw *b2 = open_on(e, 1);
  healthy = 1;
  assert_int_equal(hosts_on(b2, "pc.svc", &healthy), 1);
  assert_int_equal(healthy, 0);

  /* deregistered on node 2: gone on node 0 */
  nc_tw_expect_ok(pit_persistent(c, "pc.svc", "deregisterInstance", "127.0.0.1", l.port),
                  "InstanceResponse");
  assert_true(wait_hosts(a, "pc.svc", 0, 5000) >= 0);
  assert_true(wait_hosts(b2, "pc.svc", 0, 5000) >= 0);
  char n[16] = "";
  assert_int_equal(nc_testpg_sql(e->pg, "SELECT count(*) FROM nc_persistent_instance", n,
                                 sizeof(n)), 0);
  assert_string_equal(n, "0");

  /* the database down: a register fails (typed, nothing held), then works again */
  assert_int_equal(nc_testpg_stop(e->pg), 0);
  nc_tw_reply r = pit_persistent(a, "pc.down", "registerInstance", "10.5.0.1", 80);
  assert_string_equal(r.type, "InstanceResponse");
  assert_int_equal(r.result_code, 500);
  assert_false(r.success);
  assert_int_equal(hosts_on(a, "pc.down", NULL), 0);
  assert_int_equal(nc_testpg_restart(e->pg), 0);
  t0 = nc_test_now_ms();
  do {
    r = pit_persistent(a, "pc.down", "registerInstance", "10.5.0.1", 80);
    if (!nc_tw_ok(&r))
      nc_test_sleep_ms(200);
  } while (!nc_tw_ok(&r) && nc_test_now_ms() - t0 < 10000);
  nc_tw_expect_ok(r, "InstanceResponse");
  assert_true(wait_hosts(c, "pc.down", 1, 5000) >= 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_shared_checked_once_pushed_everywhere, teardown),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
