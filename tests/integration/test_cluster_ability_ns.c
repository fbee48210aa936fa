/* Ability negotiation and the default namespace on a 3-node cluster
 * (issue 15; nacos-wire-protocol.md §4.3-§4.5, docs/protocol-3x.md):
 * - a ConnectionSetupRequest with an abilityTable sent to each node is
 *   answered by that node within 1 s with a SetupAckRequest carrying the
 *   server's table (supportPersistentInstanceByGrpc and fuzzyWatch true,
 *   lock and mcp false, as srv_ability.c says); a client without a table
 *   gets none and is served;
 * - the namespace "public" and "" are one namespace across nodes: an
 *   instance registered under one on node A is found under the other on
 *   node B (gRPC and the HTTP open API), and pushed to a subscriber of the
 *   other spelling on node C; a fuzzy watch of public>> on node C hears of
 *   services registered under either spelling elsewhere (keyed public@@),
 *   and a dev>> watch only of "dev" ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "distro_itest.h"
#include "fuzzy_itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODES 3

static nc_tcluster *g_cl;
static nc_tw *g_tw[32];
static int g_ntw;

static int group_setup(void **state) {
  (void)state;
  g_cl = cit_start(NODES, NULL);
  /* every node answers (ServerCheck is refused until it is ready) */
  for (int i = 0; i < NODES; i++) {
    nc_tw *tw = dit_open(g_cl, i, 20000);
    if (!tw)
      return -1;
    nc_tw_close(tw);
  }
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  for (int i = 0; i < g_ntw; i++)
    nc_tw_close(g_tw[i]);
  g_ntw = 0;
  int rc = g_cl ? nc_tcluster_stop(g_cl) : 0;
  g_cl = NULL;
  return rc == 0 ? 0 : -1;
}

/* A client of node i with options o (NULL: defaults); closed at the end. */
static nc_tw *open_on(int i, const nc_tw_opts *o) {
  nc_tw_opts d = {.timeout_ms = 5000};
  nc_tw *tw = NULL;
  assert_int_equal(nc_tw_connect(g_env, nc_tcluster_node(g_cl, i)->target, o ? o : &d, &tw), 0);
  assert_true(g_ntw < (int)(sizeof(g_tw) / sizeof(g_tw[0])));
  g_tw[g_ntw++] = tw;
  return tw;
}

/* The server table of a SetupAckRequest is exactly srv_ability.c's. */
static void check_server_table(const cJSON *ack) {
  assert_string_equal(nc_json_str(ack, "module", ""), "internal");
  assert_false(cJSON_HasObjectItem(ack, "requestId"));
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(ack, "abilityTable");
  assert_true(cJSON_IsObject(t));
  assert_int_equal(cJSON_GetArraySize(t), 4);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "supportPersistentInstanceByGrpc")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "fuzzyWatch")));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(t, "lock")));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(t, "mcp")));
}

static void test_every_node_acks_an_ability_table(void **state) {
  (void)state;
  cJSON *table = cJSON_Parse("{\"fuzzyWatch\":true,\"lock\":false,\"mcp\":false}");
  assert_non_null(table);
  for (int i = 0; i < NODES; i++) {
    nc_tw_opts o = {.ability_table = table, .timeout_ms = 5000};
    long long t0 = nc_test_now_ms();
    nc_tw *tw = open_on(i, &o);
    assert_int_equal(nc_tw_wait_pushes(tw, "SetupAckRequest", 1, 1000), 1);
    long long ms = nc_test_now_ms() - t0;
    print_message("# node %d: SetupAckRequest %lld ms after the connect began\n", i, ms);
    assert_true(ms < 1000);
    cJSON *ack = nc_tw_push_get(tw, "SetupAckRequest", 0, NULL, 0);
    assert_non_null(ack);
    check_server_table(ack);
    cJSON_Delete(ack);
    /* one ack, and the connection serves naming on that node */
    nc_tw_instance in = {.ip = "10.0.15.1", .port = 8000 + i};
    nc_tw_expect_ok(nc_tw_register(tw, "abl.cluster", &in), "InstanceResponse");
    nc_test_sleep_ms(100);
    assert_int_equal(nc_tw_push_count(tw, "SetupAckRequest"), 1);
  }
  cJSON_Delete(table);
  /* without a table: no SetupAck, and the instances of all three nodes are
   * seen (Distro) from each node */
  for (int i = 0; i < NODES; i++) {
    nc_tw *tw = open_on(i, NULL);
    long long ms = -1;
    NC_TEST_POLL(nc_tw_query_hosts(tw, "abl.cluster") == NODES, 5000, ms);
    (void)ms;
    assert_int_equal(nc_tw_query_hosts(tw, "abl.cluster"), NODES);
    assert_int_equal(nc_tw_push_count(tw, "SetupAckRequest"), 0);
    assert_int_equal(nc_tw_push_count(tw, NULL), 0);
  }
}

/* Hosts of svc in node i's HTTP v1 instance list, ns NULL: no namespaceId. */
static int http_hosts(int i, const char *svc, const char *ns) {
  char path[256];
  snprintf(path, sizeof(path), "/nacos/v1/ns/instance/list?serviceName=%s%s%s", svc,
           ns ? "&namespaceId=" : "", ns ? ns : "");
  int status = 0;
  cJSON *j = cit_get_json(g_cl, i, path, &status);
  int n = status == 200 && j ? cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "hosts"))
                             : -1;
  cJSON_Delete(j);
  return n;
}

/* The hosts of the newest push of svc to tw, waiting up to timeout_ms for
 * one with want hosts; -1 when none came. */
static int pushed_hosts(nc_tw *tw, const char *svc, int want, int timeout_ms) {
  long long ms = -1;
  NC_TEST_POLL(dit_last_pushed(tw, svc) == want, timeout_ms, ms);
  (void)ms;
  return dit_last_pushed(tw, svc);
}

static void test_public_and_empty_are_one_namespace_across_nodes(void **state) {
  (void)state;
  nc_tw_opts pub_o = {.ns = "public", .timeout_ms = 5000};
  nc_tw_opts empty_o = {.ns = "", .timeout_ms = 5000};
  nc_tw *a_pub = open_on(0, &pub_o), *a_empty = open_on(0, &empty_o);
  nc_tw *b_pub = open_on(1, &pub_o), *b_empty = open_on(1, &empty_o);
  nc_tw *c_pub = open_on(2, &pub_o), *c_empty = open_on(2, &empty_o);

  /* subscribers on C first, each spelling subscribed to the service the
   * other spelling registers */
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(c_empty, "nsx.pub", 1, &s), "SubscribeServiceResponse");
  assert_int_equal(s.nhosts, 0);
  nc_tw_service_free(&s);
  nc_tw_expect_ok(nc_tw_subscribe(c_pub, "nsx.empty", 1, &s), "SubscribeServiceResponse");
  assert_int_equal(s.nhosts, 0);
  nc_tw_service_free(&s);

  nc_tw_instance in = {.ip = "10.0.15.7", .port = 9000};
  nc_tw_expect_ok(nc_tw_register(a_pub, "nsx.pub", &in), "InstanceResponse");
  nc_tw_expect_ok(nc_tw_register(b_empty, "nsx.empty", &in), "InstanceResponse");

  /* "public" on A, "" on B; "" on B, "public" on A; both on the node itself */
  long long ms = -1;
  NC_TEST_POLL(nc_tw_query_hosts(b_empty, "nsx.pub") == 1, 5000, ms);
  print_message("# public on node 0 seen under \"\" on node 1 after %lld ms\n", ms);
  assert_int_equal(nc_tw_query_hosts(b_empty, "nsx.pub"), 1);
  assert_int_equal(nc_tw_query_hosts(b_pub, "nsx.pub"), 1);
  assert_int_equal(nc_tw_query_hosts(a_empty, "nsx.pub"), 1);
  NC_TEST_POLL(nc_tw_query_hosts(a_pub, "nsx.empty") == 1, 5000, ms);
  assert_int_equal(nc_tw_query_hosts(a_pub, "nsx.empty"), 1);
  assert_int_equal(nc_tw_query_hosts(a_empty, "nsx.empty"), 1);
  assert_int_equal(nc_tw_query_hosts(b_pub, "nsx.empty"), 1);

  /* the HTTP open API on C, with and without namespaceId=public */
  NC_TEST_POLL(http_hosts(2, "nsx.pub", NULL) == 1, 5000, ms);
  assert_int_equal(http_hosts(2, "nsx.pub", NULL), 1);
  assert_int_equal(http_hosts(2, "nsx.pub", "public"), 1);
  assert_int_equal(http_hosts(2, "nsx.empty", NULL), 1);
  assert_int_equal(http_hosts(2, "nsx.empty", "public"), 1);

  /* pushes on C across the spellings, and the removal too */
  assert_int_equal(pushed_hosts(c_empty, "nsx.pub", 1, 5000), 1);
  assert_int_equal(pushed_hosts(c_pub, "nsx.empty", 1, 5000), 1);
  nc_tw_expect_ok(nc_tw_deregister(a_pub, "nsx.pub", &in), "InstanceResponse");
  nc_tw_expect_ok(nc_tw_deregister(b_empty, "nsx.empty", &in), "InstanceResponse");
  assert_int_equal(pushed_hosts(c_empty, "nsx.pub", 0, 5000), 0);
  assert_int_equal(pushed_hosts(c_pub, "nsx.empty", 0, 5000), 0);
  NC_TEST_POLL(nc_tw_query_hosts(c_pub, "nsx.pub") == 0, 5000, ms);
  assert_int_equal(nc_tw_query_hosts(c_pub, "nsx.pub"), 0);
  assert_int_equal(nc_tw_query_hosts(c_empty, "nsx.empty"), 0);
}

/* A fuzzy watch of public>> on C hears of services registered under ""
 * on A and under "public" on B, both keyed public@@; one of "dev" on B
 * reaches only a dev>> watch. */
static void test_fuzzy_watch_public_across_nodes(void **state) {
  (void)state;
  nc_tw_opts empty_o = {.ns = "", .timeout_ms = 5000};
  nc_tw_opts pub_o = {.ns = "public", .timeout_ms = 5000};
  nc_tw_opts dev_o = {.ns = "dev", .timeout_ms = 5000};
  nc_tw *a = open_on(0, &empty_o), *b = open_on(1, &pub_o), *b_dev = open_on(1, &dev_o);
  nc_tw *wp = open_on(2, NULL), *wd = open_on(2, &dev_o);
  nc_tw_expect_ok(fit_watch(wp, 1, "public>>DEFAULT_GROUP>>fzns-*", "WATCH", 1, NULL),
                  "NamingFuzzyWatchResponse");
  nc_tw_expect_ok(fit_watch_ns(wd, 1, "dev", "dev>>DEFAULT_GROUP>>fzns-*", "WATCH", 1, NULL),
                  "NamingFuzzyWatchResponse");
  assert_int_equal(nc_tw_wait_pushes(wp, "NamingFuzzyWatchSyncRequest", 1, 5000), 1);
  assert_int_equal(nc_tw_wait_pushes(wd, "NamingFuzzyWatchSyncRequest", 1, 5000), 1);
  nc_tw_instance in = {.ip = "10.0.15.9", .port = 9100};
  nc_tw_expect_ok(nc_tw_register(a, "fzns-empty", &in), "InstanceResponse");
  fit_expect_last(wp, "NamingFuzzyWatchChangeNotifyRequest", 1, 5000, "serviceKey",
                  "public@@DEFAULT_GROUP@@fzns-empty", "changedType", "ADD_SERVICE");
  nc_tw_expect_ok(nc_tw_register(b, "fzns-pub", &in), "InstanceResponse");
  fit_expect_last(wp, "NamingFuzzyWatchChangeNotifyRequest", 2, 5000, "serviceKey",
                  "public@@DEFAULT_GROUP@@fzns-pub", "changedType", "ADD_SERVICE");
  nc_tw_expect_ok(nc_tw_register(b_dev, "fzns-dev", &in), "InstanceResponse");
  fit_expect_last(wd, "NamingFuzzyWatchChangeNotifyRequest", 1, 5000, "serviceKey",
                  "dev@@DEFAULT_GROUP@@fzns-dev", "changedType", "ADD_SERVICE");
  /* the same service under the other spelling is no new service */
  nc_tw_instance in2 = {.ip = "10.0.15.10", .port = 9100};
  nc_tw_expect_ok(nc_tw_register(b, "fzns-empty", &in2), "InstanceResponse");
  nc_tw_expect_ok(nc_tw_deregister(a, "fzns-empty", &in), "InstanceResponse");
  nc_test_sleep_ms(500);
  assert_int_equal(nc_tw_push_count(wp, "NamingFuzzyWatchChangeNotifyRequest"), 2);
  assert_int_equal(nc_tw_push_count(wd, "NamingFuzzyWatchChangeNotifyRequest"), 1);
  /* its last instance goes: DELETE under public@@ */
  nc_tw_expect_ok(nc_tw_deregister(b, "fzns-empty", &in2), "InstanceResponse");
  fit_expect_last(wp, "NamingFuzzyWatchChangeNotifyRequest", 3, 5000, "serviceKey",
                  "public@@DEFAULT_GROUP@@fzns-empty", "changedType", "DELETE_SERVICE");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_node_acks_an_ability_table),
      cmocka_unit_test(test_public_and_empty_are_one_namespace_across_nodes),
      cmocka_unit_test(test_fuzzy_watch_public_across_nodes),
  };
  nc_grpc_init();
  if (nc_gcli_env_new(1, &g_env) != 0)
    return 1;
  int rc = NC_TEST_RUN_GROUP(tests, group_setup, group_teardown);
  nc_gcli_env_free(g_env);
  nc_grpc_shutdown();
  return rc;
}
