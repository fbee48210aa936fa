/* Distro failover between 3 real nodes (issue 10 acceptance 2 and 3):
 * kill -9 of the node holding two clients, one of which re-registers on
 * another node: a subscriber on the third node never sees that instance
 * vanish (every push still has it), the other client's instance is gone
 * everywhere after the grace; the killed node, restarted, is not ready
 * (SDK ServerCheck refused) until its snapshot is applied and then serves
 * the whole cluster's data, without the instance that went meanwhile; a
 * full-cluster restart converges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "distro_itest.h"

#include <signal.h>

/* 1 when every push for svc from index from on lists ip. */
static int every_push_has(nc_tw *tw, const char *svc, int from, const char *ip, int *pushes) {
  int n = nc_tw_push_count(tw, "NotifySubscriberRequest"), ok = 1;
  *pushes = 0;
  for (int i = from; i < n; i++) {
    cJSON *b = nc_tw_push_get(tw, "NotifySubscriberRequest", i, NULL, 0);
    const cJSON *si = cJSON_GetObjectItemCaseSensitive(b, "serviceInfo"), *h;
    if (si && strcmp(nc_json_str(si, "name", ""), svc) == 0) {
      int found = 0;
      (*pushes)++;
      cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(si, "hosts")) found |=
          strcmp(nc_json_str(h, "ip", ""), ip) == 0;
      ok &= found;
    }
    cJSON_Delete(b);
  }
  return ok;
}

static int has_host(nc_tw *tw, const char *svc, const char *ip) {
  nc_tw_service s;
  nc_tw_reply r = nc_tw_query(tw, svc, &s);
  int found = 0;
  for (int i = 0; nc_tw_ok(&r) && i < s.nhosts; i++)
    found |= strcmp(s.hosts[i].ip, ip) == 0;
  nc_tw_service_free(&s);
  return found;
}

/* The node's last log line containing what, into buf ("" when none). */
static const char *log_last(nc_tcluster *c, int i, const char *what, char *buf, size_t cap) {
  FILE *f = fopen(nc_tcluster_node(c, i)->proc.log_path, "r");
  char line[1024];
  buf[0] = 0;
  while (f && fgets(line, sizeof(line), f))
    if (strstr(line, what))
      snprintf(buf, cap, "%s", line);
  if (f)
    fclose(f);
  return buf;
}

static void test_failover_without_a_flap_then_restart(void **state) {
  (void)state;
  static const char *const extra[] = {"--distro-grace-ms", "3000", NULL};
  nc_tcluster *c = cit_start(3, extra);
  nc_tw *x = dit_open(c, 0, 20000), *w = dit_open(c, 0, 20000);
  nc_tw *sub = dit_open(c, 2, 20000), *b = dit_open(c, 1, 20000);
  assert_non_null(x);
  assert_non_null(w);
  assert_non_null(sub);
  assert_non_null(b);
  nc_tw_instance ix = {.ip = "10.8.0.1", .port = 1}, iw = {.ip = "10.8.0.2", .port = 2};
  nc_tw_reply r = nc_tw_subscribe(sub, "fsvc", 1, NULL);
  assert_true(nc_tw_ok(&r));
  r = nc_tw_register(x, "fsvc", &ix);
  assert_true(nc_tw_ok(&r));
  r = nc_tw_register(w, "fsvc", &iw);
  assert_true(nc_tw_ok(&r));
  NC_TEST_WAIT(dit_last_pushed(sub, "fsvc") == 2, 5000);
  NC_TEST_WAIT(dit_hosts(b, "fsvc") == 2, 5000);
  int from = nc_tw_push_count(sub, "NotifySubscriberRequest");

  /* A dies with both clients; x fails over to B a second later and redoes */
  assert_int_equal(nc_tcluster_kill_node(c, 0, SIGKILL), 128 + SIGKILL);
  long long t_kill = dit_now_ms();
  nc_tw_close(x);
  nc_tw_close(w);
  cit_sleep_ms(1000);
  nc_tw *x2 = dit_open(c, 1, 5000);
  assert_non_null(x2);
  r = nc_tw_register(x2, "fsvc", &ix);
  assert_true(nc_tw_ok(&r));
  /* w does not come back: its instance goes after the grace */
  NC_TEST_WAIT(!has_host(sub, "fsvc", "10.8.0.2"), 30000);
  long long gone_ms = dit_now_ms() - t_kill;
  NC_TEST_WAIT(dit_last_pushed(sub, "fsvc") == 1, 5000);
  NC_TEST_WAIT(dit_hosts(b, "fsvc") == 1, 5000);
  nc_test_quiet_ms(500);
  int pushes = 0;
  int kept = every_push_has(sub, "fsvc", from, "10.8.0.1", &pushes);
  int min = dit_min_pushed(sub, "fsvc", from);
  fprintf(stderr,
          "distro failover: the dead client's instance gone on C %lld ms after kill -9; "
          "%d push(es) since, min hosts seen %d, the failed-over instance in every one: %s\n",
          gone_ms, pushes, min, kept ? "yes" : "no");
  assert_true(kept);
  assert_int_equal(min, 1);
  assert_true(has_host(sub, "fsvc", "10.8.0.1"));
  assert_true(has_host(b, "fsvc", "10.8.0.1"));

  /* A restarts: not ready (ServerCheck refused) until its snapshot is in;
   * then it serves x2's instance and not w's */
  long long t_start = dit_now_ms();
  assert_int_equal(nc_tcluster_restart_node(c, 0), 0);
  nc_tw *a = dit_open(c, 0, 20000);
  long long ready_ms = dit_now_ms() - t_start;
  assert_non_null(a);
  int hosts_at_ready = dit_hosts(a, "fsvc");
  fprintf(stderr, "distro restart: node A ready %lld ms after its start, %d host(s) at once\n",
          ready_ms, hosts_at_ready);
  assert_int_equal(hosts_at_ready, 1);
  assert_true(has_host(a, "fsvc", "10.8.0.1"));
  assert_int_equal(nc_tcluster_metric(c, 0, "nacosd_distro_loaded"), 1);
  /* the restarted node's readiness waited for a snapshot (not for every
   * peer to be down or loading) */
  char last[1024];
  assert_non_null(strstr(log_last(c, 0, "distro: loaded (", last, sizeof(last)), "snapshot from"));
  assert_true(nc_tcluster_metric(c, 0, "nacosd_distro_snapshot_clients_total") >= 1);
  /* nothing of the old A comes back anywhere */
  nc_test_quiet_ms(1000);
  assert_false(has_host(sub, "fsvc", "10.8.0.2"));
  assert_false(has_host(a, "fsvc", "10.8.0.2"));
  nc_tw_close(a);
  nc_tw_close(x2);
  nc_tw_close(b);
  nc_tw_close(sub);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

/* Node i's client registers in[i] into rsvc (once the node is ready). */
static void register_each(nc_tcluster *c, nc_tw **tw, const nc_tw_instance *in) {
  for (int i = 0; i < 3; i++) {
    tw[i] = dit_open(c, i, 20000);
    assert_non_null(tw[i]);
    nc_tw_reply r = nc_tw_register(tw[i], "rsvc", &in[i]);
    assert_true(nc_tw_ok(&r));
  }
}

/* All three killed and restarted at once while their clients redo: no
 * node waits forever for a snapshot (each finds the others loading or
 * down), and after convergence every node has every live instance. */
static void test_full_restart_converges(void **state) {
  (void)state;
  nc_tcluster *c = cit_start(3, NULL);
  nc_tw *tw[3];
  nc_tw_instance in[3] = {{.ip = "10.3.0.1", .port = 1}, {.ip = "10.3.0.2", .port = 2},
                          {.ip = "10.3.0.3", .port = 3}};
  register_each(c, tw, in);
  for (int i = 0; i < 3; i++)
    NC_TEST_WAIT(dit_hosts(tw[i], "rsvc") == 3, 5000);
  for (int i = 0; i < 3; i++)
    assert_int_equal(nc_tcluster_kill_node(c, i, SIGKILL), 128 + SIGKILL);
  for (int i = 0; i < 3; i++) {
    nc_tw_close(tw[i]);
    assert_int_equal(nc_tcluster_restart_node(c, i), 0);
  }
  long long t0 = dit_now_ms();
  /* the clients redo, each on its node once that is ready */
  register_each(c, tw, in);
  for (int i = 0; i < 3; i++)
    NC_TEST_WAIT(dit_hosts(tw[i], "rsvc") == 3, 10000);
  fprintf(stderr, "distro full restart: all ready and converged %lld ms after the restarts\n",
          dit_now_ms() - t0);
  for (int i = 0; i < 3; i++)
    nc_tw_close(tw[i]);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_failover_without_a_flap_then_restart),
      cmocka_unit_test(test_full_restart_converges),
  };
  DIT_MAIN(tests);
}
