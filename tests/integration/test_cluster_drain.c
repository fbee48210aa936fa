/* Issue 13 acceptance 3: drain under load. Three real nodes with automatic
 * rebalance on, 240 wire clients spread evenly (80 each, one instance of
 * RB_SVC each, following ConnectResetRequest like the SDKs). Node A is
 * told to drain (SIGUSR1; the loader API calls the same engine): every
 * one of its connections moves at the capped rate (30/s here) to B and C,
 * none is lost, a subscriber on C never sees fewer than 240 hosts, and A
 * ends idle with nothing to move. Undrain (SIGUSR2): B and C are then over
 * the average and move connections back to A by themselves, still without
 * a subscriber seeing fewer hosts, until every node is within the engine's
 * tolerance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "rebal_itest.h"

#include <signal.h>

#define CLIENTS 240

static const char *const extra[] = {
    "--rebalance", "auto", "--rebalance-period-ms", "2000", "--rebalance-warmup-ms", "0",
    "--rebalance-stable-ms", "2000", "--rebalance-min-conn-age-ms", "3000",
    "--rebalance-moves-per-sec", "30", "--max-connections-per-ip", "0", "--push-merge-ms",
    "100", "--distro-delay-ms", "300", NULL};

static long long sdk(nc_tcluster *c, int i) { return rb_metric(c, i, "rebalance_sdk_connections"); }

/* Every node within the engine's tolerance of the average: 10 % or 20
 * connections, whichever is more (at 80 a node, 20). */
static int within_tolerance(const long long *n) {
  double avg = (CLIENTS + 1) / 3.0;
  for (int i = 0; i < 3; i++) {
    double dev = (double)n[i] - avg;
    if ((dev < 0 ? -dev : dev) > (avg * 0.1 > 20 ? avg * 0.1 : 20))
      return 0;
  }
  return 1;
}

static void test_drain_under_load_and_undrain(void **state) {
  (void)state;
  nc_tcluster *c = cit_start(3, extra);
  rb_fleet_init(c);
  /* the subscriber first: C's share of the fleet then stays at 80 */
  nc_tw *sub = dit_open(c, 2, 20000);
  assert_non_null(sub);
  assert_int_equal(rb_fleet_open(0, CLIENTS, 3), 0);
  nc_test_deadline d = nc_test_deadline_start(20000);
  while (dit_hosts(sub, RB_SVC) != CLIENTS && nc_test_deadline_tick(&d))
    ;
  nc_tw_service si = {0};
  nc_tw_expect_ok(nc_tw_subscribe(sub, RB_SVC, 1, &si), "SubscribeServiceResponse");
  assert_int_equal(si.nhosts, CLIENTS);
  nc_tw_service_free(&si);
  int from = nc_tw_push_count(sub, "NotifySubscriberRequest");
  long long n[3];
  /* balanced and quiet: auto rebalance evens out what the one-by-one start
   * skewed; no move for 4 s (two periods), then every connection is past
   * the drain's 3 s minimum age too */
  long long last = -1, since = dit_now_ms(), t_end = dit_now_ms() + 30000;
  while (dit_now_ms() < t_end) {
    cit_sleep_ms(250);
    long long m = 0;
    for (int i = 0; i < 3; i++)
      m += rb_metric(c, i, "rebalance_moves_total");
    if (m != last || !rb_fleet_idle()) {
      last = m;
      since = dit_now_ms();
    } else if (dit_now_ms() - since >= 4000) {
      break;
    }
  }
  rb_spread(c, n, 3);
  assert_true(within_tolerance(n));

  /* drain A (its share may differ from 80 a little: the clients came in
   * one by one, and auto rebalance evened out what it saw then) */
  long long a0 = sdk(c, 0), t0 = dit_now_ms(), drained_ms = -1;
  assert_int_equal(kill(nc_tcluster_node(c, 0)->proc.pid, SIGUSR1), 0);
  while (dit_now_ms() - t0 < 30000) {
    cit_sleep_ms(200);
    if (sdk(c, 0) == 0 && rb_fleet_idle()) {
      drained_ms = dit_now_ms() - t0;
      break;
    }
  }
  rb_spread(c, n, 3);
  fprintf(stderr, "drained in %lld ms: %lld / %lld / %lld, %d moves, %d failed\n", drained_ms, n[0],
          n[1], n[2], g_fleet.moves, g_fleet.failed);
  assert_true(drained_ms >= 0);
  /* about 80 moves at 30/s cannot be much faster than the cap */
  assert_true(drained_ms >= (a0 - 30) * 1000 / 30);
  assert_int_equal(g_fleet.failed, 0);
  assert_int_equal(rb_metric(c, 0, "rebalance_draining"), 1);
  assert_int_equal(rb_metric(c, 0, "rebalance_movable"), 0);
  RB_ASSERT(c, rb_metric(c, 0, "rebalance_drain_moves_total") == a0);
  assert_int_equal(n[1] + n[2], CLIENTS + 1);
  int min = dit_min_pushed(sub, RB_SVC, from);
  fprintf(stderr, "subscriber on C while draining: fewest hosts %d\n", min);
  assert_true(min == -1 || min >= CLIENTS);
  cit_sleep_ms(2000); /* A stays idle: nobody sends it connections while it drains */
  assert_int_equal(sdk(c, 0), 0);

  /* undrain: B and C give A its share again */
  from = nc_tw_push_count(sub, "NotifySubscriberRequest");
  assert_int_equal(kill(nc_tcluster_node(c, 0)->proc.pid, SIGUSR2), 0);
  /* A takes connections again until the moves stop; every node then within
   * the engine's tolerance (10 % or 20 connections, whichever is more: at
   * 80 a node two shedders filled at once may end up to 20 over) */
  long long t1 = dit_now_ms(), back_ms = -1, lastm = -1, quiet_since = t1;
  while (dit_now_ms() - t1 < 40000) {
    cit_sleep_ms(250);
    long long m = 0;
    for (int i = 0; i < 3; i++)
      m += rb_metric(c, i, "rebalance_moves_total");
    if (m != lastm || !rb_fleet_idle()) {
      lastm = m;
      quiet_since = dit_now_ms();
    } else if (dit_now_ms() - quiet_since >= 4000 && sdk(c, 0) >= 40) {
      back_ms = quiet_since - t1;
      break;
    }
  }
  double worst = rb_spread(c, n, 3);
  fprintf(stderr, "after undrain, last move at %lld ms: %lld / %lld / %lld (worst %.1f %%)\n",
          back_ms, n[0], n[1], n[2], worst);
  assert_true(back_ms >= 0);
  assert_true(within_tolerance(n));
  assert_int_equal(rb_metric(c, 0, "rebalance_draining"), 0);
  assert_true(n[0] >= 60);
  assert_int_equal(g_fleet.failed, 0);
  min = dit_min_pushed(sub, RB_SVC, from);
  fprintf(stderr, "subscriber on C after undrain: fewest hosts %d\n", min);
  assert_true(min == -1 || min >= CLIENTS);
  for (int i = 0; i < 3; i++) {
    nc_tw *q = dit_open(c, i, 5000);
    assert_non_null(q);
    assert_int_equal(dit_hosts(q, RB_SVC), CLIENTS);
    nc_tw_close(q);
  }
  nc_tw_close(sub);
  rb_fleet_free();
  g_rb_cluster = NULL;
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_drain_under_load_and_undrain, rb_teardown),
  };
  DIT_MAIN(tests);
}
