/* nacos-agent moved by the cluster (issue 13): make before break. Three
 * real nodes; the agent holds one instance; a subscriber on another node
 * watches it. The agent's node drains (SIGUSR1), which sends the agent a
 * ConnectResetRequest naming the least-loaded member; the agent must
 * connect there, redo its registration and subscription, and only then
 * close the old connection, so no subscriber (one on every node, the one on
 * the node it leaves included) is ever pushed an empty host list. The server's own migrating grace is off here
 * (--rebalance-migrate-grace-ms 0): only the agent's order keeps the
 * instance visible. Done twice (undrain, then drain the new node). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_err.h"
#include "rebal_itest.h"

#include <signal.h>

#define NSRV 3

static const char *const extra[] = {"--rebalance", "off", "--rebalance-migrate-grace-ms", "0",
                                    "--push-merge-ms", "0", "--distro-delay-ms", "300", NULL};

static long long sdk(nc_tcluster *c, int i) { return rb_metric(c, i, "rebalance_sdk_connections"); }

/* The node other than `not` holding the agent's connection (it has one
 * more than the others, which hold just their subscriber), or -1. */
static int wait_home(nc_tcluster *c, int not, int timeout_ms) {
  long long end = dit_now_ms() + timeout_ms;
  while (dit_now_ms() < end) {
    int home = -1, n = 0, ok = 1;
    for (int i = 0; i < NSRV; i++) {
      long long v = sdk(c, i);
      if (v == 2) {
        home = i;
        n++;
      } else if (v != 1) {
        ok = 0;
      }
    }
    if (ok && n == 1 && home != not)
      return home;
    cit_sleep_ms(50);
  }
  return -1;
}

static int count_in_log(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  char line[2048];
  int n = 0;
  while (f && fgets(line, sizeof(line), f))
    n += strstr(line, needle) != NULL;
  if (f)
    fclose(f);
  return n;
}

static void test_agent_moves_make_before_break(void **state) {
  (void)state;
  char dir[256], servers[512] = "";
  test_agent ag;
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  nc_tcluster *c = cit_start(NSRV, extra);
  g_rb_cluster = c;
  for (int i = 0; i < NSRV; i++) {
    const nc_test_nacosd *s = nc_tcluster_node(c, i);
    size_t l = strlen(servers);
    snprintf(servers + l, sizeof(servers) - l, "%s%s:%d#%d", i ? "," : "", s->host, s->port,
             s->grpc_port);
  }
  assert_int_equal(agent_start(&ag, dir, servers, NULL), 0);
  tc *app = tc_open(ag.sock);
  assert_non_null(app);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
  cJSON *r = tc_call(app, 1,
                     "{\"id\":1,\"op\":\"naming.register\",\"service\":\"mbb\","
                     "\"ip\":\"10.7.0.1\",\"port\":7}");
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  r = tc_call(app, 2, "{\"id\":2,\"op\":\"naming.subscribe\",\"service\":\"mbb\"}");
  assert_int_equal(hosts_count(r), 1);
  cJSON_Delete(r);
  /* a subscriber on every node, of a client version rebalance never moves;
   * the one on the node the agent leaves is the one that would see the
   * instance vanish (its node drops it when the old connection closes) */
  nc_tw *sub[NSRV];
  int from[NSRV];
  nc_tw_opts so = {.timeout_ms = 5000, .client_version = "Nacos-Python-Client:v2.0.11"};
  for (int i = 0; i < NSRV; i++) {
    sub[i] = NULL;
    assert_int_equal(nc_tw_connect(g_env, nc_tcluster_node(c, i)->target, &so, &sub[i]), 0);
    nc_test_deadline d = nc_test_deadline_start(10000);
    while (dit_hosts(sub[i], "mbb") != 1 && nc_test_deadline_tick(&d))
      ;
    nc_tw_service si = {0};
    nc_tw_expect_ok(nc_tw_subscribe(sub[i], "mbb", 1, &si), "SubscribeServiceResponse");
    assert_int_equal(si.nhosts, 1);
    nc_tw_service_free(&si);
    from[i] = nc_tw_push_count(sub[i], "NotifySubscriberRequest");
  }
  int home = wait_home(c, -1, 10000);
  assert_true(home >= 0);

  int drained = -1;
  for (int round = 0; round < 2; round++) {
    cit_sleep_ms(3500); /* past the drain's minimum connection age */
    if (drained >= 0) /* the previous home takes connections again */
      assert_int_equal(kill(nc_tcluster_node(c, drained)->proc.pid, SIGUSR2), 0);
    cit_sleep_ms(500);
    assert_int_equal(kill(nc_tcluster_node(c, home)->proc.pid, SIGUSR1), 0);
    int now = wait_home(c, home, 15000);
    fprintf(stderr, "round %d: agent moved from node %d to node %d\n", round, home, now);
    RB_ASSERT(c, now >= 0 && now != home);
    assert_int_equal(rb_metric(c, home, "rebalance_drain_moves_total"), 1);
    drained = home;
    home = now;
    cit_sleep_ms(1500); /* pushes after the old connection went */
    for (int i = 0; i < NSRV; i++) {
      int min = dit_min_pushed(sub[i], "mbb", from[i]);
      fprintf(stderr, "round %d: subscriber on node %d saw at least %d host(s)\n", round, i, min);
      RB_ASSERT(c, min == -1 || min >= 1);
      assert_int_equal(dit_hosts(sub[i], "mbb"), 1);
    }
  }
  assert_true(status_int(app, "reconnects") >= 2);
  char log[400];
  snprintf(log, sizeof(log), "%s/agent.log", dir);
  assert_int_equal(count_in_log(log, "closing the connection that was told to move"), 2);
  /* the moved subscription is live on the new server */
  r = tc_call(app, 3,
              "{\"id\":3,\"op\":\"naming.register\",\"service\":\"mbb\",\"ip\":\"10.7.0.2\","
              "\"port\":8}");
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  int hosts = -1;
  long long end = dit_now_ms() + 5000;
  while (hosts != 2 && dit_now_ms() < end)
    hosts = wait_changed_hosts(app, "mbb", 1000);
  assert_int_equal(hosts, 2);
  tc_close(app);
  for (int i = 0; i < NSRV; i++)
    nc_tw_close(sub[i]);
  assert_int_equal(agent_stop(&ag), 0);
  g_rb_cluster = NULL;
  assert_int_equal(nc_tcluster_stop(c), 0);
  nc_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_agent_moves_make_before_break, rb_teardown),
  };
  DIT_MAIN(tests);
}
