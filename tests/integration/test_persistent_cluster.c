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

#include "nc_grpc.h"
#include "persistent_citest.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pct_env g_e;

static int teardown(void **st) {
  (void)st;
  return pct_teardown(&g_e);
}

static void test_shared_checked_once_pushed_everywhere(void **st) {
  (void)st;
  pct_env *e = &g_e;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  pct_start(e, NULL);
  pit_listener l = {0};
  assert_int_equal(pit_listen(&l, 0), 0);
  nc_tw *a = pct_open(e, 0), *b = pct_open(e, 1), *c = pct_open(e, 2);
  pct_subscribe(c, "pc.svc");

  nc_tw_expect_ok(pit_persistent(a, "pc.svc", "registerInstance", "127.0.0.1", l.port),
                  "InstanceResponse");
  long long tb = pct_wait_hosts(b, "pc.svc", 1, 5000), tc = pct_wait_hosts(c, "pc.svc", 1, 5000);
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
  assert_true(pit_wait_health(c, "pc.svc", l.port, 0, PIT_UNHEALTHY_MS));
  fprintf(stderr, "healthy:false pushed on node 2 %lld ms after the target closed\n",
          nc_test_now_ms() - t0);
  int healthy = 1;
  assert_int_equal(pct_hosts(a, "pc.svc", &healthy), 1);
  assert_int_equal(healthy, 0);

  /* a restarted node loads it (with its health) from the database */
  pct_close(e, b);
  assert_int_equal(nc_tcluster_stop_node(e->c, 1), 0);
  assert_int_equal(nc_tcluster_restart_node(e->c, 1), 0);
  nc_tw *b2 = pct_open(e, 1);
  healthy = 1;
  assert_int_equal(pct_hosts(b2, "pc.svc", &healthy), 1);
  assert_int_equal(healthy, 0);

  /* deregistered on node 2: gone on node 0 */
  nc_tw_expect_ok(pit_persistent(c, "pc.svc", "deregisterInstance", "127.0.0.1", l.port),
                  "InstanceResponse");
  assert_true(pct_wait_hosts(a, "pc.svc", 0, 5000) >= 0);
  assert_true(pct_wait_hosts(b2, "pc.svc", 0, 5000) >= 0);
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
  assert_int_equal(pct_hosts(a, "pc.down", NULL), 0);
  assert_int_equal(nc_testpg_restart(e->pg), 0);
  t0 = nc_test_now_ms();
  do {
    r = pit_persistent(a, "pc.down", "registerInstance", "10.5.0.1", 80);
    if (!nc_tw_ok(&r))
      nc_test_sleep_ms(200);
  } while (!nc_tw_ok(&r) && nc_test_now_ms() - t0 < 10000);
  nc_tw_expect_ok(r, "InstanceResponse");
  assert_true(pct_wait_hosts(c, "pc.down", 1, 5000) >= 0);
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
