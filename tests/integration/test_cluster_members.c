/* Cluster membership with 3 real nacosd nodes on loopback (each on its own
 * 127.A.B.x, --members + --advertise-ip): every node sees the others UP
 * with their version and readiness, the HTTP member lists answer in
 * Nacos's JSON (v1 RestResult sorted with keyword, v2 Result with address
 * and state filters, 400/23000 for an illegal state, self, readiness) and
 * /metrics has the per-member state; a node killed with SIGKILL is DOWN for
 * the others within 15 s (refused connects count) and UP again after a
 * restart; a node frozen with SIGSTOP goes SUSPICIOUS then DOWN (timeouts
 * count, unlike Nacos) and UP within 10 s of SIGCONT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster_itest.h"
#include "nc_testwait.h"

#include <signal.h>
#include <stdio.h>

static void test_members_up_and_http_lists(void **state) {
  (void)state;
  nc_tcluster *c = cit_start(3, NULL);
  char a0[80], a1[80], a2[80], path[256];
  cit_addr(c, 0, a0, sizeof(a0));
  cit_addr(c, 1, a1, sizeof(a1));
  cit_addr(c, 2, a2, sizeof(a2));
  NC_TEST_WAIT(cit_all_up(c, 3), 8000);

  /* v1: RestResult, sorted by address, message null as Spring writes it */
  int st = 0;
  cJSON *j = cit_get_json(c, 1, "/nacos/v1/core/cluster/nodes", &st);
  assert_int_equal(st, 200);
  assert_int_equal(nc_json_int(j, "code", 0), 200);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "message")));
  const cJSON *data = cJSON_GetObjectItem(j, "data");
  assert_int_equal(cJSON_GetArraySize(data), 3);
  const char *want[] = {a0, a1, a2};
  for (int i = 0; i < 3; i++) {
    const cJSON *m = cJSON_GetArrayItem(data, i);
    assert_string_equal(nc_json_str(m, "address", ""), want[i]);
    assert_string_equal(nc_json_str(m, "ip", ""), nc_tcluster_node(c, i)->host);
    assert_int_equal(nc_json_int(m, "port", 0), nc_tcluster_node(c, i)->port);
    assert_int_equal(nc_json_int(m, "failAccessCnt", -1), 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(m, "grpcReportEnabled")));
    const cJSON *ext = cJSON_GetObjectItem(m, "extendInfo");
    assert_true(cJSON_IsString(cJSON_GetObjectItem(ext, "raftPort")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(ext, "lastRefreshTime")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(ext, "nc.connections")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ext, "readyToUpgrade")));
  }
  cJSON_Delete(j);
  snprintf(path, sizeof(path), "/nacos/v1/core/cluster/nodes?keyword=%s", a2);
  j = cit_get_json(c, 0, path, &st);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 1);
  assert_string_equal(nc_json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0),
                                  "address", ""),
                      a2);
  cJSON_Delete(j);
  j = cit_get_json(c, 2, "/nacos/v1/core/cluster/self", &st);
  assert_int_equal(st, 200);
  assert_string_equal(nc_json_str(cJSON_GetObjectItem(j, "data"), "address", ""), a2);
  assert_string_equal(nc_json_str(cJSON_GetObjectItem(j, "data"), "state", ""), "UP");
  cJSON_Delete(j);

  j = cit_get_json(c, 0, "/nacos/v1/core/cluster/simple/nodes", &st);
  assert_int_equal(st, 200);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 3);
  assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0)->valuestring, a0);
  cJSON_Delete(j);
  j = cit_get_json(c, 0, "/nacos/v1/core/cluster/health", &st);
  assert_string_equal(nc_json_str(j, "data", ""), "UP");
  cJSON_Delete(j);
  j = cit_get_json(c, 0, "/nacos/v2/core/cluster/node/self/health", &st);
  assert_int_equal(nc_json_int(j, "code", -1), 0);
  assert_string_equal(nc_json_str(j, "data", ""), "UP");
  cJSON_Delete(j);

  /* v2: Result; state case-insensitive; address prefix */
  j = cit_get_json(c, 0, "/nacos/v2/core/cluster/node/list?state=up", &st);
  assert_int_equal(st, 200);
  assert_int_equal(nc_json_int(j, "code", -1), 0);
  assert_string_equal(nc_json_str(j, "message", ""), "success");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 3);
  cJSON_Delete(j);
  j = cit_get_json(c, 0, "/nacos/v2/core/cluster/node/list?state=DOWN", &st);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 0);
  cJSON_Delete(j);
  snprintf(path, sizeof(path), "/nacos/v2/core/cluster/node/list?address=%s", a1);
  j = cit_get_json(c, 0, path, &st);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 1);
  cJSON_Delete(j);
  j = cit_get_json(c, 0, "/nacos/v2/core/cluster/node/list?state=sleepy", &st);
  assert_int_equal(st, 400);
  assert_int_equal(nc_json_int(j, "code", 0), 23000);
  assert_string_equal(nc_json_str(j, "message", ""), "illegal state");
  cJSON_Delete(j);

  /* readiness and metrics */
  char *body = NULL;
  assert_int_equal(nc_test_http_get_at(nc_tcluster_node(c, 0)->host, nc_tcluster_node(c, 0)->port,
                                       "/nacos/v1/console/health/readiness", &st, &body),
                   0);
  assert_int_equal(st, 200);
  assert_string_equal(body, "OK");
  free(body);
  snprintf(path, sizeof(path), "nacosd_cluster_member_state{member=\"%s\"}", a1);
  assert_int_equal(nc_tcluster_metric(c, 0, path), 0);
  assert_true(nc_tcluster_metric(c, 0, "nacosd_cluster_reports_sent_total") > 0);
  assert_true(nc_tcluster_metric(c, 0, "nacosd_cluster_reports_received_total") > 0);
  assert_int_equal(nc_tcluster_metric(c, 0, "nacosd_cluster_ready"), 1);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

static void test_killed_node_down_then_up_after_restart(void **state) {
  (void)state;
  nc_tcluster *c = cit_start(3, NULL);
  NC_TEST_WAIT(cit_all_up(c, 3), 8000);
  assert_int_equal(nc_tcluster_kill_node(c, 2, SIGKILL), 128 + SIGKILL);
  NC_TEST_WAIT(cit_is(c, 0, 2, "DOWN") && cit_is(c, 1, 2, "DOWN"), 15000);
  assert_true(nc_tcluster_metric(c, 0, "nacosd_cluster_reports_failed_total") > 0);
  cJSON *simple = cit_get_json(c, 0, "/nacos/v1/core/cluster/simple/nodes", NULL);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(simple, "data")), 2);
  cJSON_Delete(simple);
  /* the live ones keep each other UP meanwhile */
  assert_true(cit_is(c, 0, 1, "UP"));
  assert_int_equal(nc_tcluster_restart_node(c, 2), 0);
  NC_TEST_WAIT(cit_is(c, 0, 2, "UP") && cit_is(c, 1, 2, "UP") && cit_is(c, 2, 0, "UP") &&
                   cit_is(c, 2, 1, "UP"),
               10000);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

static void test_frozen_node_suspicious_down_and_back(void **state) {
  (void)state;
  nc_tcluster *c = cit_start(3, NULL);
  NC_TEST_WAIT(cit_all_up(c, 3), 8000);
  pid_t pid = nc_tcluster_node(c, 1)->proc.pid;
  assert_int_equal(kill(pid, SIGSTOP), 0);
  nc_test_deadline d = nc_test_deadline_start(20000);
  /* the connection stays open: only timeouts can tell */
  NC_TEST_WAIT(cit_is(c, 0, 1, "SUSPICIOUS"), 10000);
  NC_TEST_WAIT(cit_is(c, 0, 1, "DOWN") && cit_is(c, 2, 1, "DOWN"), 25000);
  while (nc_test_deadline_elapsed(&d) < 20000)
    cit_sleep_ms(200);
  assert_true(cit_is(c, 0, 1, "DOWN"));
  assert_int_equal(kill(pid, SIGCONT), 0);
  NC_TEST_WAIT(cit_is(c, 0, 1, "UP") && cit_is(c, 2, 1, "UP") && cit_is(c, 1, 0, "UP") &&
                   cit_is(c, 1, 2, "UP"),
               10000);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

/* nc.ready of member target in node viewer's list: 1, 0, or -1 unknown. */
static int ready_seen(const nc_tcluster *c, int viewer, int target) {
  char want[80];
  int r = -1;
  cit_sleep_ms(50);
  cJSON *j = cit_get_json(c, viewer, "/nacos/v1/core/cluster/nodes", NULL);
  const cJSON *m;
  cit_addr(c, target, want, sizeof(want));
  cJSON_ArrayForEach(m, cJSON_GetObjectItem(j, "data")) {
    const cJSON *rd = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "extendInfo"), "nc.ready");
    if (strcmp(nc_json_str(m, "address", ""), want) == 0 && cJSON_IsBool(rd))
      r = cJSON_IsTrue(rd);
  }
  cJSON_Delete(j);
  return r;
}

/* Readiness travels at once: peers learn a starting node is not ready
 * from the first exchange on connect, and that it is ready when its last
 * hold goes, without waiting for the (here 10 s) report round. */
static void test_peers_learn_readiness_at_once(void **state) {
  (void)state;
  static const char *const slow[] = {"--cluster-report-ms", "10000", NULL};
  static const char *const hold[] = {"--cluster-hold-ready-ms", "4000", NULL};
  nc_tcluster_opts o = {.nodes = 3, .args_fn = cit_members_args, .ud = (void *)slow};
  o.node_args[2] = hold;
  nc_tcluster *c = NULL;
  assert_int_equal(nc_tcluster_start(&o, &c), 0);
  NC_TEST_WAIT(ready_seen(c, 0, 2) == 0 && ready_seen(c, 1, 2) == 0, 4000);
  NC_TEST_WAIT(ready_seen(c, 2, 2) == 1, 8000); /* its own hold ended */
  nc_test_deadline d = nc_test_deadline_start(1500);
  NC_TEST_WAIT(ready_seen(c, 0, 2) == 1 && ready_seen(c, 1, 2) == 1, 1500);
  assert_true(nc_test_deadline_elapsed(&d) < nc_test_timeout_ms(1500));
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_members_up_and_http_lists),
      cmocka_unit_test(test_killed_node_down_then_up_after_restart),
      cmocka_unit_test(test_frozen_node_suspicious_down_and_back),
      cmocka_unit_test(test_peers_learn_readiness_at_once),
  };
  return NC_TEST_MAIN(tests);
}
