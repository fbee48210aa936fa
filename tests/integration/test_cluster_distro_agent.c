/* Failover of an agent between cluster members (issue 10 acceptance 2):
 * kill -9 of the node an agent with 50 instances and a wire client with 10
 * are connected to. The agent moves to the other node of its --servers
 * within 10 s and redoes; a subscriber on the third node never sees fewer
 * than the agent's 50 (the minimum is measured over every push), and the
 * wire client's 10 (it does not come back) are gone everywhere within
 * 30 s. Default Distro settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_testagent.h"
#include "nc_testproc.h"
#include "distro_itest.h"

#include <signal.h>

#define AGENT_N 50
#define WIRE_N 10

/* Instances of svc whose ip is ip in push index i of tw (-1: not svc). */
static int pushed_with_ip(nc_tw *tw, int i, const char *svc, const char *ip) {
  cJSON *b = nc_tw_push_get(tw, "NotifySubscriberRequest", i, NULL, 0);
  const cJSON *si = cJSON_GetObjectItemCaseSensitive(b, "serviceInfo"), *h;
  int n = -1;
  if (si && strcmp(nc_json_str(si, "name", ""), svc) == 0) {
    n = 0;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(si, "hosts")) n +=
        strcmp(nc_json_str(h, "ip", ""), ip) == 0;
  }
  cJSON_Delete(b);
  return n;
}

/* Index of the node whose main address the agent reports as its server. */
static int agent_node(nc_tcluster *c, nc_tc *app) {
  cJSON *r = nc_tc_call(app, 900, "{\"id\":900,\"op\":\"agent.status\"}");
  const char *srv = nc_json_str(r, "server", "");
  int idx = -1;
  for (int i = 0; i < nc_tcluster_size(c); i++) {
    char a[80];
    if (strcmp(cit_addr(c, i, a, sizeof(a)), srv) == 0)
      idx = i;
  }
  cJSON_Delete(r);
  return idx;
}

static void test_agent_fails_over_without_a_dip(void **state) {
  (void)state;
  nc_tcluster *c = cit_start(3, NULL);
  char dir[256], servers[200];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  nc_test_agent_servers(servers, sizeof(servers), nc_tcluster_node(c, 0),
                        nc_tcluster_node(c, 1));
  /* the nodes must be ready before the agent's first connect */
  nc_tw *sub = dit_open(c, 2, 20000);
  assert_non_null(sub);
  nc_tw *probe = dit_open(c, 0, 20000);
  assert_non_null(probe);
  nc_tw_close(probe);
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, dir, servers, NULL), 0);
  assert_true(nc_test_agent_wait_connected(&ag, 10000) >= 0);
  nc_tc *app = nc_tc_open(ag.sock);
  assert_non_null(app);
  for (int i = 0; i < AGENT_N; i++)
    assert_true(nc_tc_call_ok(app, i + 1,
                              "{\"id\":%d,\"op\":\"naming.register\",\"service\":\"asvc\","
                              "\"ip\":\"10.1.0.1\",\"port\":%d}",
                              i + 1, 1000 + i));
  int k = agent_node(c, app);
  assert_true(k == 0 || k == 1);
  nc_tw *wire = dit_open(c, k, 5000);
  assert_non_null(wire);
  nc_tw_instance in[WIRE_N];
  for (int i = 0; i < WIRE_N; i++)
    in[i] = (nc_tw_instance){.ip = "10.1.1.1", .port = 2000 + i};
  nc_tw_reply r = nc_tw_batch_register(wire, "asvc", in, WIRE_N);
  assert_true(nc_tw_ok(&r));
  r = nc_tw_subscribe(sub, "asvc", 1, NULL);
  assert_true(nc_tw_ok(&r));
  NC_TEST_WAIT(dit_last_pushed(sub, "asvc") == AGENT_N + WIRE_N, 10000);
  int from = nc_tw_push_count(sub, "NotifySubscriberRequest");

  assert_int_equal(nc_tcluster_kill_node(c, k, SIGKILL), 128 + SIGKILL);
  long long t0 = dit_now_ms();
  nc_tw_close(wire);
  NC_TEST_WAIT(agent_node(c, app) == 1 - k, 10000);
  long long moved = dit_now_ms() - t0;
  NC_TEST_WAIT(dit_hosts(sub, "asvc") == AGENT_N, 30000);
  long long gone = dit_now_ms() - t0;
  NC_TEST_WAIT(dit_last_pushed(sub, "asvc") == AGENT_N, 5000);
  nc_test_quiet_ms(500);
  int n = nc_tw_push_count(sub, "NotifySubscriberRequest"), min = -1, pushes = 0;
  for (int i = from; i < n; i++) {
    int h = pushed_with_ip(sub, i, "asvc", "10.1.0.1");
    if (h < 0)
      continue;
    pushes++;
    if (min < 0 || h < min)
      min = h;
  }
  fprintf(stderr,
          "distro agent failover: agent on node %d after %lld ms; wire client's %d gone on C "
          "after %lld ms; %d push(es) since the kill, failover_min_seen %d of %d\n",
          1 - k, moved, WIRE_N, gone, pushes, min, AGENT_N);
  assert_int_equal(min, AGENT_N);
  /* the other survivor agrees (its grace may end a little later: it saw
   * the node DOWN at its own time) */
  nc_tw *other = dit_open(c, 1 - k, 5000);
  assert_non_null(other);
  NC_TEST_WAIT(dit_hosts(other, "asvc") == AGENT_N, 10000);
  assert_true(dit_now_ms() - t0 <= nc_test_timeout_ms(30000)); /* gone everywhere in 30 s */
  nc_tw_close(other);
  nc_tc_close(app);
  assert_int_equal(nc_test_agent_stop(&ag), 0);
  nc_test_rmtree(dir);
  nc_tw_close(sub);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_agent_fails_over_without_a_dip),
  };
  DIT_MAIN(tests);
}
