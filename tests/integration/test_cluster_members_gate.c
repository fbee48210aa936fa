/* The core's side of the cluster (issue 10 acceptance 6 and readiness), on
 * a real nacosd: while readiness is held (--cluster-hold-ready-ms, the
 * test hook for Distro's start-up hold) ServerCheckRequest on the SDK port
 * is ErrorResponse 300 "server is starting", the cluster port still
 * answers, readiness is 503 with the reason and nacosd_cluster_ready 0;
 * afterwards all serve. MemberReportRequest is refused on the SDK port
 * (302) and answered on the cluster port (illegal node 500/400, a legal
 * one with the receiver's self Member). A source=cluster label on an
 * SDK-port connection grants nothing: --max-connections refuses it and the
 * console lists it as an SDK connection; on the cluster port the same
 * connection is exempt from the cap. A bad member list fails start-up
 * with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster_itest.h"
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_testrun.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

static nc_gcli_env *g_env;

enum { TARGET_CAP = 80 };

/* One node; its SDK and cluster gRPC targets into sdk and peer. */
static nc_tcluster *start_one(const char *const *args, char *sdk, char *peer) {
  nc_tcluster_opts o = {.nodes = 1, .args = args};
  nc_tcluster *c = NULL;
  assert_int_equal(nc_tcluster_start(&o, &c), 0);
  const nc_test_nacosd *s = nc_tcluster_node(c, 0);
  snprintf(sdk, TARGET_CAP, "%s:%d", s->host, s->grpc_port);
  snprintf(peer, TARGET_CAP, "%s:%d", s->host, s->cluster_port);
  return c;
}

/* One raw ServerCheckRequest; the decoded answer (caller frees) or NULL. */
static nc_msg *server_check(const char *target) {
  nc_gcli *g = NULL;
  uint8_t *buf = NULL, *resp = NULL;
  size_t len = 0, rlen = 0;
  nc_msg *m = NULL;
  cJSON *b = cJSON_CreateObject();
  cJSON_AddObjectToObject(b, "headers");
  cJSON_AddStringToObject(b, "module", "internal");
  assert_int_equal(nc_gcli_new(g_env, target, NULL, &g), 0);
  assert_int_equal(nc_payload_encode_json("ServerCheckRequest", "127.0.0.1", b, &buf, &len), 0);
  if (nc_gcli_unary(g, buf, len, nc_test_timeout_ms(3000), &resp, &rlen) == 0)
    nc_payload_decode(resp, rlen, &m);
  free(resp);
  free(buf);
  cJSON_Delete(b);
  nc_gcli_free(g);
  return m;
}

static int check_is_ok(const nc_msg *m) {
  return m && strcmp(m->type, "ServerCheckResponse") == 0 &&
         nc_json_int(m->body, "resultCode", 0) == 200;
}

static int readiness(const nc_tcluster *c, char **body) {
  const nc_test_nacosd *s = nc_tcluster_node(c, 0);
  int st = 0;
  *body = NULL;
  nc_test_http_get_at(s->host, s->port, "/nacos/v1/console/health/readiness", &st, body);
  return st;
}

static void test_held_readiness_refuses_sdk_server_check(void **state) {
  (void)state;
  const char *args[] = {"--cluster-hold-ready-ms", "5000", NULL};
  char sdk[TARGET_CAP], peer[TARGET_CAP], *body = NULL;
  nc_tcluster *c = start_one(args, sdk, peer);
  nc_msg *m = server_check(sdk);
  assert_non_null(m);
  assert_string_equal(m->type, "ErrorResponse");
  assert_int_equal(nc_json_int(m->body, "errorCode", 0), 300);
  assert_string_equal(nc_json_str(m->body, "message", ""), "server is starting");
  nc_msg_free(m);
  m = server_check(peer);
  assert_true(check_is_ok(m));
  nc_msg_free(m);
  assert_int_equal(readiness(c, &body), 503);
  assert_non_null(strstr(body, "--cluster-hold-ready-ms"));
  free(body);
  assert_int_equal(nc_tcluster_metric(c, 0, "nacosd_cluster_ready"), 0);
  /* the hold ends: everything serves */
  NC_TEST_WAIT((readiness(c, &body) == 200 && strcmp(body, "OK") == 0) || (free(body), 0), 10000);
  free(body);
  m = server_check(sdk);
  assert_true(check_is_ok(m));
  nc_msg_free(m);
  nc_tw *tw = nc_tw_open(g_env, sdk, NULL);
  assert_non_null(tw);
  nc_tw_close(tw);
  assert_int_equal(nc_tcluster_metric(c, 0, "nacosd_cluster_ready"), 1);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

static cJSON *report_body(const char *ip, int port) {
  char addr[80];
  cJSON *b = cJSON_CreateObject(), *n = cJSON_AddObjectToObject(b, "node");
  snprintf(addr, sizeof(addr), "%s:%d", ip, port);
  cJSON_AddStringToObject(n, "ip", ip);
  cJSON_AddNumberToObject(n, "port", port);
  cJSON_AddStringToObject(n, "address", addr);
  cJSON_AddStringToObject(n, "state", "UP");
  cJSON_AddStringToObject(b, "module", "cluster");
  return b;
}

static void test_member_report_only_on_cluster_port(void **state) {
  (void)state;
  char sdk[TARGET_CAP], peer[TARGET_CAP];
  nc_tcluster *c = start_one(NULL, sdk, peer);
  nc_tw *tw = nc_tw_open(g_env, sdk, NULL);
  assert_non_null(tw);
  nc_tw_reply r = nc_tw_call_reply(tw, "MemberReportRequest", report_body("10.9.9.9", 8848));
  assert_string_equal(r.type, "ErrorResponse");
  assert_int_equal(r.error_code, 302);
  nc_tw_close(tw);

  tw = nc_tw_open(g_env, peer, NULL);
  assert_non_null(tw);
  cJSON *bad = report_body("", 8848);
  r = nc_tw_call_reply(tw, "MemberReportRequest", bad);
  assert_string_equal(r.type, "MemberReportResponse");
  assert_int_equal(r.result_code, 500);
  assert_int_equal(r.error_code, 400);
  assert_string_equal(r.message, "Node information is illegal");
  nc_msg *m = nc_tw_call(tw, "MemberReportRequest", report_body("10.9.9.9", 8848));
  assert_non_null(m);
  assert_string_equal(m->type, "MemberReportResponse");
  assert_int_equal(nc_json_int(m->body, "resultCode", 0), 200);
  const cJSON *node = cJSON_GetObjectItem(m->body, "node");
  assert_string_equal(nc_json_str(node, "state", ""), "UP");
  assert_int_equal(nc_json_int(node, "port", 0), nc_tcluster_node(c, 0)->port);
  nc_msg_free(m);
  nc_tw_close(tw);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

static int wc_connect_as_peer(const char *target, nc_wc **out) {
  nc_wc_opts o = {.target = target, .source = "cluster", .timeout_ms = nc_test_timeout_ms(2000),
                  .client_version = "Nacos-Server:v2.5.1"};
  return nc_wc_connect(g_env, &o, NULL, NULL, NULL, out);
}

/* The console's metaInfo of wc's connection. */
static const cJSON *meta_of(const cJSON *current, const nc_wc *wc) {
  return cJSON_GetObjectItem(cJSON_GetObjectItem(current, nc_wc_connection_id(wc)), "metaInfo");
}

static void test_source_cluster_label_on_sdk_port_grants_nothing(void **state) {
  (void)state;
  const char *args[] = {"--max-connections", "1", NULL};
  char sdk[TARGET_CAP], peer[TARGET_CAP];
  nc_tcluster *c = start_one(args, sdk, peer);
  nc_tw *tw = nc_tw_open(g_env, sdk, NULL);
  assert_non_null(tw);
  nc_wc *fake = NULL, *real = NULL;
  /* the cap is full: a "peer" on the SDK port is refused like any SDK */
  assert_int_not_equal(wc_connect_as_peer(sdk, &fake), 0);
  assert_null(fake);
  /* a connection on the cluster port is exempt */
  assert_int_equal(wc_connect_as_peer(peer, &real), 0);
  nc_tw_close(tw);
  /* with room, the labelled SDK-port connection is listed as an SDK one */
  NC_TEST_WAIT(wc_connect_as_peer(sdk, &fake) == 0, 5000);
  const nc_test_nacosd *s = nc_tcluster_node(c, 0);
  char *body = NULL;
  int st = 0;
  assert_int_equal(nc_test_http_get_at(s->host, s->port, "/nacos/v2/core/loader/current", &st,
                                       &body),
                   0);
  cJSON *cur = cJSON_Parse(body);
  free(body);
  const cJSON *fm = meta_of(cur, fake), *rm = meta_of(cur, real);
  assert_non_null(fm);
  assert_non_null(rm);
  assert_string_equal(nc_json_str(cJSON_GetObjectItem(fm, "labels"), "source", ""), "cluster");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(fm, "sdkSource")));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(rm, "sdkSource")));
  cJSON_Delete(cur);
  nc_wc_close(fake);
  nc_wc_close(real);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

/* Runs nacosd with args until it exits; its exit code, output in r. */
static int run_nacosd(nc_trun *r, const char *const *args) {
  char dir[128], data[160];
  const char *argv[24] = {NC_NACOSD_BIN, "--data-dir", data, "--bind", "127.0.0.1",
                          "--auth", "off"};
  int n = 7;
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(data, sizeof(data), "%s/data", dir);
  for (int i = 0; args[i] && n < 23; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  assert_int_equal(nc_trun_spawn(r, argv, NULL, NULL), 0);
  int rc = nc_trun_finish(r, nc_test_timeout_ms(10000));
  nc_test_rmtree(dir);
  return rc;
}

/* A member list that does not name this node, an unreadable cluster.conf,
 * both lists, or a cluster on port 0: start-up fails and says why. */
static void test_bad_member_list_fails_start(void **state) {
  (void)state;
  static nc_trun r;
  const char *not_me[] = {"--port",         "8848", "--members", "10.255.0.1:8848,10.255.0.2",
                          "--advertise-ip", "10.255.0.3", NULL};
  assert_int_equal(run_nacosd(&r, not_me), 1);
  assert_non_null(strstr(r.ebuf, "this node's address 10.255.0.3:8848 (--advertise-ip) is not "
                                 "in the member list (10.255.0.1:8848, 10.255.0.2:8848)"));
  const char *no_file[] = {"--port", "8848", "--cluster-conf", "/nonexistent/cluster.conf", NULL};
  assert_int_equal(run_nacosd(&r, no_file), 1);
  assert_non_null(strstr(r.ebuf, "cannot open /nonexistent/cluster.conf"));
  const char *both[] = {"--port",    "8848", "--cluster-conf", "/x", "--members",
                        "1.2.3.4", NULL};
  assert_int_equal(run_nacosd(&r, both), 2);
  assert_non_null(strstr(r.ebuf, "give one of --cluster-conf and --members"));
  const char *port0[] = {"--port", "0", "--members", "127.0.0.1:8848", NULL};
  assert_int_equal(run_nacosd(&r, port0), 2);
  assert_non_null(strstr(r.ebuf, "cluster mode needs a fixed --port"));
}

int main(void) {
  nc_grpc_init();
  if (nc_gcli_env_new(1, &g_env) != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_held_readiness_refuses_sdk_server_check),
      cmocka_unit_test(test_member_report_only_on_cluster_port),
      cmocka_unit_test(test_source_cluster_label_on_sdk_port_grants_nothing),
      cmocka_unit_test(test_bad_member_list_fails_start),
  };
  int rc = NC_TEST_MAIN(tests);
  nc_gcli_env_free(g_env);
  nc_grpc_shutdown();
  return rc;
}
