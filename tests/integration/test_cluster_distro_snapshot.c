/* Distro snapshots and VERIFY between 3 real nodes: a restarted node pages
 * through a peer's snapshot in chunks (--distro-chunk-bytes), gets every
 * client with its real owner (so when that owner dies its clients go after
 * the grace), and VERIFY keeps synced clients alive past
 * --distro-expire-ms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "distro_itest.h"

#include <signal.h>

#define NCLIENTS 12
#define NSVCS 5

static int all_seen(nc_tw *tw) {
  for (int i = 0; i < NCLIENTS; i++) {
    char svc[32];
    snprintf(svc, sizeof(svc), "snap-%d", i);
    if (dit_hosts(tw, svc) != NSVCS)
      return 0;
  }
  return 1;
}

static void test_chunked_snapshot_keeps_owners(void **state) {
  (void)state;
  static const char *const extra[] = {"--distro-chunk-bytes", "2048", "--distro-grace-ms",
                                      "2000", NULL};
  nc_tcluster *c = cit_start(3, extra);
  nc_tw *cl[NCLIENTS];
  static const char *const md[] = {"pad", "0123456789abcdef", NULL};
  /* 12 clients on B, each with 5 instances in its own service */
  for (int i = 0; i < NCLIENTS; i++) {
    char svc[32];
    snprintf(svc, sizeof(svc), "snap-%d", i);
    cl[i] = dit_open(c, 1, 20000);
    assert_non_null(cl[i]);
    nc_tw_instance in[NSVCS];
    char ips[NSVCS][32];
    for (int k = 0; k < NSVCS; k++) {
      snprintf(ips[k], sizeof(ips[k]), "10.6.%d.%d", i, k + 1);
      in[k] = (nc_tw_instance){.ip = ips[k], .port = 80, .metadata = md};
    }
    nc_tw_reply r = nc_tw_batch_register(cl[i], svc, in, NSVCS);
    assert_true(nc_tw_ok(&r));
  }
  nc_tw *cc = dit_open(c, 2, 20000);
  assert_non_null(cc);
  NC_TEST_WAIT(all_seen(cc), 10000);
  nc_tw_close(cc);

  /* C restarts: it pages through A's (or B's) snapshot */
  assert_int_equal(nc_tcluster_kill_node(c, 2, SIGKILL), 128 + SIGKILL);
  long long t0 = dit_now_ms();
  assert_int_equal(nc_tcluster_restart_node(c, 2), 0);
  cc = dit_open(c, 2, 20000);
  assert_non_null(cc);
  long long ready = dit_now_ms() - t0;
  assert_true(all_seen(cc));
  long long chunks = nc_tcluster_metric(c, 2, "nacosd_distro_snapshot_chunks_total");
  long long clients = nc_tcluster_metric(c, 2, "nacosd_distro_snapshot_clients_total");
  fprintf(stderr, "distro snapshot: %lld client(s) in %lld chunk(s), ready after %lld ms\n",
          clients, chunks, ready);
  assert_int_equal(clients, NCLIENTS);
  assert_true(chunks >= 3);

  /* B dies: C knew B owns them (even from A's snapshot) and drops them */
  assert_int_equal(nc_tcluster_kill_node(c, 1, SIGKILL), 128 + SIGKILL);
  for (int i = 0; i < NCLIENTS; i++)
    nc_tw_close(cl[i]);
  NC_TEST_WAIT(dit_hosts(cc, "snap-0") == 0 && dit_hosts(cc, "snap-11") == 0, 15000);
  nc_tw_close(cc);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

/* Synced clients are renewed by VERIFY (digests between nacos-c nodes):
 * with a 2 s expiry and a 500 ms verify period, a peer's client is still
 * there after 5 s; with the owner gone it expires. */
static void test_verify_renews_synced_clients(void **state) {
  (void)state;
  static const char *const extra[] = {"--distro-verify-ms", "500", "--distro-expire-ms",
                                      "2000", "--distro-grace-ms", "600000", NULL};
  nc_tcluster *c = cit_start(3, extra);
  nc_tw *a = dit_open(c, 0, 20000), *b = dit_open(c, 1, 20000);
  assert_non_null(a);
  assert_non_null(b);
  nc_tw_instance in = {.ip = "10.5.0.1", .port = 1};
  nc_tw_reply r = nc_tw_register(a, "vsvc", &in);
  assert_true(nc_tw_ok(&r));
  NC_TEST_WAIT(dit_hosts(b, "vsvc") == 1, 5000);
  nc_test_quiet_ms(5000);
  assert_int_equal(dit_hosts(b, "vsvc"), 1);
  assert_true(nc_tcluster_metric(c, 0, "nacosd_distro_verify_sent_total") >= 10);
  /* SIGSTOP A: no more VERIFY; B drops the client after the expiry (the
   * grace is long, so only the expiry can do it) */
  assert_int_equal(kill(nc_tcluster_node(c, 0)->proc.pid, SIGSTOP), 0);
  NC_TEST_WAIT(dit_hosts(b, "vsvc") == 0, 10000);
  assert_int_equal(kill(nc_tcluster_node(c, 0)->proc.pid, SIGCONT), 0);
  /* A is back: its digest no longer verifies there, so it resends */
  NC_TEST_WAIT(dit_hosts(b, "vsvc") == 1, 10000);
  assert_true(nc_tcluster_metric(c, 0, "nacosd_distro_verify_mismatches_total") >= 1);
  nc_tw_close(a);
  nc_tw_close(b);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chunked_snapshot_keeps_owners),
      cmocka_unit_test(test_verify_renews_synced_clients),
  };
  DIT_MAIN(tests);
}
