/* Unit tests of the rebalance decision (rebalance_plan.h) and of naming's
 * migrating grace (naming_migrate.h): thresholds and hysteresis, the
 * cluster-wide cap shared by the shedding nodes, targets never filled
 * above the average, drain spreading by water-filling, preconditions; a
 * held moved connection keeps its instances and loses its subscriptions,
 * then goes after its grace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "naming_migrate.h"
#include "naming_registry.h"
#include "nc_strmap.h"
#include "rebalance_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const nc_rebal_params P = {.tolerance_pct = 10, .tolerance_abs = 20, .stop_pct = 3,
                                  .cap_per_sec = 20, .period_ms = 10000};

static nc_rebal_node N(const char *addr, long load, int self) {
  nc_rebal_node n = {addr, load, -1, load, 0, 1, self};
  return n;
}

static long count_for(const nc_rebal_plan *pl, const char *addr) {
  for (size_t i = 0; i < pl->n_targets; i++)
    if (!strcmp(pl->targets[i].address, addr))
      return pl->targets[i].count;
  return 0;
}

static void test_skewed_cluster_moves_capped(void **st) {
  (void)st;
  nc_rebal_node ns[3] = {N("a", 600, 1), N("b", 0, 0), N("c", 0, 0)};
  nc_rebal_plan pl;
  assert_int_equal(nc_rebal_plan_compute(&P, ns, 3, &pl), NC_REBAL_MOVE);
  assert_int_equal((long)pl.avg, 200);
  assert_int_equal(pl.excess, 400);
  assert_int_equal(pl.n_shedding, 1);
  /* 20/s x 10 s for the only shedding node, spread over both targets */
  assert_int_equal(pl.budget, 200);
  assert_int_equal(count_for(&pl, "b"), 100);
  assert_int_equal(count_for(&pl, "c"), 100);
  assert_int_equal(pl.acting, 1);
}

static void test_targets_never_above_average(void **st) {
  (void)st;
  nc_rebal_node ns[3] = {N("a", 330, 1), N("b", 150, 0), N("c", 120, 0)};
  nc_rebal_plan pl;
  assert_int_equal(nc_rebal_plan_compute(&P, ns, 3, &pl), NC_REBAL_MOVE);
  assert_int_equal((long)pl.avg, 200);
  assert_int_equal(pl.budget, 130);
  assert_int_equal(count_for(&pl, "b"), 50);
  assert_int_equal(count_for(&pl, "c"), 80);
}

static void test_tolerance_and_hysteresis(void **st) {
  (void)st;
  nc_rebal_plan pl;
  /* 8 % above: inside the tolerance, nothing (percent) */
  nc_rebal_node a[3] = {N("a", 216, 1), N("b", 192, 0), N("c", 192, 0)};
  assert_int_equal(nc_rebal_plan_compute(&P, a, 3, &pl), NC_REBAL_IDLE);
  assert_int_equal(pl.acting, 0);
  /* ... but once acting it goes on until within 3 % */
  nc_rebal_params p = P;
  p.acting = 1;
  assert_int_equal(nc_rebal_plan_compute(&p, a, 3, &pl), NC_REBAL_MOVE);
  assert_int_equal(pl.budget, 16);
  nc_rebal_node b[3] = {N("a", 205, 1), N("b", 198, 0), N("c", 197, 0)};
  assert_int_equal(nc_rebal_plan_compute(&p, b, 3, &pl), NC_REBAL_IDLE);
  /* small cluster: 50 % above but under the absolute 20 */
  nc_rebal_node c[3] = {N("a", 30, 1), N("b", 15, 0), N("c", 15, 0)};
  assert_int_equal(nc_rebal_plan_compute(&P, c, 3, &pl), NC_REBAL_IDLE);
  /* a node below the average never sheds */
  nc_rebal_node d[3] = {N("a", 0, 1), N("b", 600, 0), N("c", 0, 0)};
  assert_int_equal(nc_rebal_plan_compute(&P, d, 3, &pl), NC_REBAL_IDLE);
  assert_true(pl.excess < 0);
}

static void test_cap_shared_by_shedders(void **st) {
  (void)st;
  nc_rebal_node ns[4] = {N("a", 500, 1), N("b", 500, 0), N("c", 0, 0), N("d", 0, 0)};
  nc_rebal_plan pl;
  assert_int_equal(nc_rebal_plan_compute(&P, ns, 4, &pl), NC_REBAL_MOVE);
  assert_int_equal(pl.n_shedding, 2);
  assert_int_equal(pl.budget, 100); /* 20/s x 10 s / 2 */
}

static void test_unstable_and_movable(void **st) {
  (void)st;
  nc_rebal_plan pl;
  nc_rebal_node ns[3] = {N("a", 600, 1), N("b", 0, 0), N("c", 0, 0)};
  ns[2].usable = 0;
  assert_int_equal(nc_rebal_plan_compute(&P, ns, 3, &pl), NC_REBAL_UNSTABLE);
  ns[2].usable = 1;
  ns[0].movable = 30; /* the rest ignore redirects */
  assert_int_equal(nc_rebal_plan_compute(&P, ns, 3, &pl), NC_REBAL_MOVE);
  assert_int_equal(pl.budget, 30);
  ns[0].movable = 0;
  assert_int_equal(nc_rebal_plan_compute(&P, ns, 3, &pl), NC_REBAL_IDLE);
}

static void test_drain(void **st) {
  (void)st;
  nc_rebal_plan pl;
  nc_rebal_params p = P;
  p.period_ms = 1000;
  nc_rebal_node ns[3] = {N("a", 300, 1), N("b", 100, 0), N("c", 50, 0)};
  ns[0].draining = 1;
  assert_int_equal(nc_rebal_plan_compute(&p, ns, 3, &pl), NC_REBAL_MOVE);
  assert_int_equal(pl.budget, 20); /* the cap, one second */
  assert_int_equal(count_for(&pl, "c"), 20); /* least loaded first */
  /* a draining peer is never a target, and shares the cap */
  nc_rebal_node m[3] = {N("a", 300, 1), N("b", 100, 0), N("c", 0, 0)};
  m[0].draining = m[2].draining = 1;
  assert_int_equal(nc_rebal_plan_compute(&p, m, 3, &pl), NC_REBAL_MOVE);
  assert_int_equal(pl.n_targets, 1);
  assert_string_equal(pl.targets[0].address, "b");
  assert_int_equal(pl.budget, 10);
  /* nobody to take them */
  m[1].usable = 0;
  assert_int_equal(nc_rebal_plan_compute(&p, m, 3, &pl), NC_REBAL_NO_TARGET);
  /* a draining self does not wait for an unstable cluster: only usable
   * members are targets */
  nc_rebal_node u[3] = {N("a", 10, 1), N("b", 5, 0), N("c", 0, 0)};
  u[0].draining = 1;
  u[2].usable = 0;
  assert_int_equal(nc_rebal_plan_compute(&p, u, 3, &pl), NC_REBAL_MOVE);
  assert_int_equal(count_for(&pl, "b"), 10);
}

/* ---- migrating grace ---- */

typedef struct changes {
  int n;
} changes;
static void on_change(void *ud, const char *key) {
  (void)key;
  ((changes *)ud)->n++;
}
static void drop_cb(void *ud, const char *id) { nc_nreg_drop_conn(ud, id); }

static size_t hosts(nc_nreg *r) {
  cJSON *si = nc_nreg_service_info(r, "public", "G", "svc", "", 0);
  size_t n = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(si, "hosts"));
  cJSON_Delete(si);
  return n;
}

static nc_ninst *inst(const char *ip) {
  char js[200];
  snprintf(js, sizeof(js), "{\"ip\":\"%s\",\"port\":80}", ip);
  cJSON *j = cJSON_Parse(js);
  nc_ninst *in = NULL;
  const char *err = NULL;
  assert_int_equal(nc_ninst_parse(j, "G", "svc", &in, &err), 0);
  cJSON_Delete(j);
  return in;
}

static void test_migrating_hold_then_release(void **st) {
  (void)st;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  changes ch = {0};
  assert_int_equal(nc_nreg_add_listener(r, on_change, &ch), 0);
  nc_nmig *m = nc_nmig_new();
  assert_non_null(m);
  nc_ninst *one = inst("10.0.0.1");
  assert_int_equal(nc_nreg_publish(r, "old", "public", "G", "svc", &one, 1), 0);
  int first = 0;
  assert_int_equal(nc_nreg_subscribe(r, "old", "public", "G", "svc", "", &first), 0);
  assert_int_equal(hosts(r), 1);
  /* not expected: not held */
  assert_int_equal(nc_nmig_hold(m, r, "other", 1000), 0);
  /* expected but closed after the window: not held */
  assert_int_equal(nc_nmig_expect(m, "old", 2000, 5000), 0);
  assert_int_equal(nc_nmig_hold(m, r, "old", 2001), 0);
  /* within the window: held, instances stay, subscription gone */
  assert_int_equal(nc_nmig_expect(m, "old", 2000, 5000), 0);
  int before = ch.n;
  assert_int_equal(nc_nmig_hold(m, r, "old", 1500), 1);
  assert_int_equal(hosts(r), 1);
  assert_int_equal(ch.n, before); /* no change, so no push */
  nc_nreg_stats rs;
  nc_nreg_get_stats(r, &rs);
  assert_int_equal(rs.subscribers, 0);
  /* the client registers again elsewhere (here: another client id) */
  nc_ninst *two = inst("10.0.0.1");
  assert_int_equal(nc_nreg_publish(r, "new", "public", "G", "svc", &two, 1), 0);
  nc_nmig_tick(m, 6000, drop_cb, r); /* grace not over */
  assert_int_equal(hosts(r), 1);
  nc_nmig_tick(m, 6501, drop_cb, r);
  assert_int_equal(hosts(r), 1); /* one host per ip:port: the new copy */
  nc_nmig_stats ms;
  nc_nmig_get_stats(m, &ms);
  assert_int_equal(ms.held, 1);
  assert_int_equal(ms.released, 1);
  assert_int_equal(ms.holding, 0);
  nc_nreg_drop_conn(r, "new");
  assert_int_equal(hosts(r), 0);
  nc_nmig_free(m);
  nc_nreg_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_skewed_cluster_moves_capped),
      cmocka_unit_test(test_targets_never_above_average),
      cmocka_unit_test(test_tolerance_and_hysteresis),
      cmocka_unit_test(test_cap_shared_by_shedders),
      cmocka_unit_test(test_unstable_and_movable),
      cmocka_unit_test(test_drain),
      cmocka_unit_test(test_migrating_hold_then_release),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
