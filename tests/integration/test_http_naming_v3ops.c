/* The Nacos 3.x naming admin paths of naming_routes_v3ops.c on a real
 * nacosd: /nacos/v3/admin/ns/service/subscribers (Page<SubscriberInfo>),
 * /health/instance (a persistent instance's health when its cluster's
 * checker is NONE), /ops/metrics and /ops/switches, /client/list,
 * /client (ClientSummaryInfo), /client/publish/list and
 * /client/service/{publisher,subscriber}/list; success and error answers field by field,
 * and with auth on who may call them. */
#include "nc_grpc.h"
#include "nc_testauth.h"
#include "nc_testproc.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naming_v3_itest.h"

/* A v1 call answering plain "ok". */
static void v1_ok(nc_tfx *f, const char *method, const char *path) {
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(f->srv->port, method, path, NULL, NULL, &status, &b), 0);
  if (status != 200)
    fprintf(stderr, "%s %s: %d %s\n", method, path, status, b ? b : "");
  assert_int_equal(status, 200);
  assert_string_equal(b, "ok");
  free(b);
}
static void test_subscribers_page(void **st) {
  nc_tfx *f = *st;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(tw, "sub3", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  cJSON *j = call(f, "GET", "/nacos/v3/admin/ns/service/subscribers?serviceName=sub3", 200);
  assert_int_equal(code(j), 0);
  const cJSON *d = data(j);
  assert_true(num(d, "totalCount") == 1 && num(d, "pageNumber") == 1);
  assert_true(num(d, "pagesAvailable") == 1);
  const cJSON *it = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "pageItems"), 0);
  assert_string_equal(str(it, "namespaceId"), "public");
  assert_string_equal(str(it, "groupName"), "DEFAULT_GROUP");
  assert_string_equal(str(it, "serviceName"), "sub3");
  assert_string_equal(str(it, "ip"), "127.0.0.1");
  assert_true(num(it, "port") > 0);
  assert_string_equal(str(it, "appName"), "itest");
  str(it, "agent");
  cJSON_Delete(j);
  /* page 2 is empty; another namespace has none */
  j = call(f, "GET", "/nacos/v3/admin/ns/service/subscribers?serviceName=sub3&pageNo=2", 200);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(data(j), "pageItems")), 0);
  assert_true(num(data(j), "totalCount") == 1);
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/service/subscribers?serviceName=sub3&namespaceId=x", 200);
  assert_true(num(data(j), "totalCount") == 0);
  cJSON_Delete(j);
  expect_error(f, "GET", "/nacos/v3/admin/ns/service/subscribers", 400, 10000,
               "Required parameter 'serviceName' type String is not present");
  expect_error(f, "GET", "/nacos/v3/admin/ns/service/subscribers?serviceName=sub3&pageSize=0",
               400, 20002,
               "Required parameter 'pageSize' should be positive integer, current is 0");
}

/* tw publishes 6.6.6.6:66 (cluster c1) into cl3 and subscribes to it;
 * 9.9.9.9:99#true publishes into cl3 over HTTP. */
static void check_client_services(nc_tfx *f, nc_tw *tw) {
  nc_tw_instance in = {.ip = "6.6.6.6", .port = 66, .cluster = "c1"};
  nc_tw_expect_ok(nc_tw_register(tw, "cl3", &in), "InstanceResponse");
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(tw, "cl3", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  char path[256];
  snprintf(path, sizeof(path), "/nacos/v3/admin/ns/client/publish/list?clientId=%s",
           nc_tw_id(tw));
  cJSON *j = call(f, "GET", path, 200);
  assert_int_equal(cJSON_GetArraySize(data(j)), 1);
  const cJSON *it = cJSON_GetArrayItem(data(j), 0);
  assert_string_equal(str(it, "namespaceId"), "public");
  assert_string_equal(str(it, "groupName"), "DEFAULT_GROUP");
  assert_string_equal(str(it, "serviceName"), "cl3");
  const cJSON *pi = cJSON_GetObjectItem(it, "publisherInfo");
  assert_string_equal(str(pi, "ip"), "6.6.6.6");
  assert_true(num(pi, "port") == 66);
  assert_string_equal(str(pi, "clusterName"), "c1");
  assert_null(cJSON_GetObjectItem(it, "subscriberInfo"));
  cJSON_Delete(j);
  /* the service's publishers, all or by ip / port */
  j = call(f, "GET", "/nacos/v3/admin/ns/client/service/publisher/list?serviceName=cl3", 200);
  assert_int_equal(cJSON_GetArraySize(data(j)), 2);
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/client/service/publisher/list?serviceName=cl3"
                     "&ip=9.9.9.9&port=99", 200);
  assert_int_equal(cJSON_GetArraySize(data(j)), 1);
  it = cJSON_GetArrayItem(data(j), 0);
  assert_string_equal(str(it, "clientId"), "9.9.9.9:99#true");
  assert_string_equal(str(it, "ip"), "9.9.9.9");
  assert_true(num(it, "port") == 99);
  assert_string_equal(str(it, "clusterName"), "DEFAULT");
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/client/service/publisher/list?serviceName=cl3"
                     "&port=1", 200);
  assert_int_equal(cJSON_GetArraySize(data(j)), 0);
  cJSON_Delete(j);
  /* its subscribers */
  j = call(f, "GET", "/nacos/v3/admin/ns/client/service/subscriber/list?serviceName=cl3", 200);
  assert_int_equal(cJSON_GetArraySize(data(j)), 1);
  it = cJSON_GetArrayItem(data(j), 0);
  assert_string_equal(str(it, "clientId"), nc_tw_id(tw));
  assert_string_equal(str(it, "appName"), "itest");
  assert_non_null(strstr(str(it, "address"), "127.0.0.1:"));
  str(it, "agent");
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/client/service/subscriber/list?serviceName=cl3"
                     "&ip=10.0.0.1", 200);
  assert_int_equal(cJSON_GetArraySize(data(j)), 0);
  cJSON_Delete(j);
}

static void test_clients_listed_and_detailed(void **st) {
  nc_tfx *f = *st;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  cJSON *j = call(f, "POST", "/nacos/v2/ns/instance?serviceName=cl3&ip=9.9.9.9&port=99", 200);
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/client/list", 200);
  int conn = 0, ipport = 0;
  const cJSON *id;
  cJSON_ArrayForEach(id, data(j)) {
    conn += !strcmp(id->valuestring, nc_tw_id(tw));
    ipport += !strcmp(id->valuestring, "9.9.9.9:99#true");
  }
  assert_int_equal(conn, 1);
  assert_int_equal(ipport, 1);
  cJSON_Delete(j);
  char path[256];
  snprintf(path, sizeof(path), "/nacos/v3/admin/ns/client?clientId=%s", nc_tw_id(tw));
  j = call(f, "GET", path, 200);
  const cJSON *d = data(j);
  assert_string_equal(str(d, "clientId"), nc_tw_id(tw));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "ephemeral")));
  assert_string_equal(str(d, "clientType"), "connection");
  assert_string_equal(str(d, "connectType"), "GRPC");
  assert_string_equal(str(d, "appName"), "itest");
  assert_string_equal(str(d, "clientIp"), "127.0.0.1");
  assert_true(num(d, "clientPort") > 0 && num(d, "lastUpdatedTime") > 0);
  str(d, "version");
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/client?clientId=9.9.9.9%3A99%23true", 200);
  d = data(j);
  assert_string_equal(str(d, "clientType"), "ipPort");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "ephemeral")));
  assert_null(cJSON_GetObjectItem(d, "connectType"));
  cJSON_Delete(j);
  check_client_services(f, tw);
  expect_error(f, "GET", "/nacos/v3/admin/ns/client?clientId=nope", 404, 20004,
               "clientId [ nope ] not exist");
  expect_error(f, "GET", "/nacos/v3/admin/ns/client/publish/list?clientId=nope", 404, 20004,
               "clientId [ nope ] not exist");
  expect_error(f, "GET", "/nacos/v3/admin/ns/client/service/publisher/list", 400, 10000,
               "Required parameter 'serviceName' type String is not present");
  expect_error(f, "GET", "/nacos/v3/admin/ns/client/service/subscriber/list?serviceName=cl3"
                         "&port=x", 400, 20002, NULL);
  expect_error(f, "GET", "/nacos/v3/admin/ns/client", 400, 10000,
               "Required parameter 'clientId' type String is not present");
}

static void test_operator_metrics_and_switches(void **st) {
  nc_tfx *f = *st;
  cJSON *j = call(f, "POST", "/nacos/v2/ns/instance?serviceName=m3&ip=8.8.8.8&port=88", 200);
  cJSON_Delete(j);
  /* onlyStatus defaults to true: the status alone */
  j = call(f, "GET", "/nacos/v3/admin/ns/ops/metrics", 200);
  assert_string_equal(str(data(j), "status"), "UP");
  assert_int_equal(cJSON_GetArraySize(data(j)), 1);
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/ops/metrics?onlyStatus=false", 200);
  const cJSON *d = data(j);
  assert_string_equal(str(d, "status"), "UP");
  assert_true(num(d, "serviceCount") == 1 && num(d, "instanceCount") == 1);
  assert_true(num(d, "ephemeralIpPortClientCount") == 1);
  assert_true(num(d, "clientCount") >= 1 && num(d, "responsibleClientCount") >= 1);
  assert_true(num(d, "persistentIpPortClientCount") == 0);
  num(d, "subscribeCount");
  num(d, "connectionBasedClientCount");
  assert_null(cJSON_GetObjectItem(d, "cpu")); /* not in 3.x's MetricsInfo */
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/ops/switches", 200);
  d = data(j);
  assert_string_equal(str(d, "name"), "00-00---000-NACOS_SWITCH_DOMAIN-000---00-00");
  assert_true(num(d, "checkTimes") == 3 && num(d, "clientBeatInterval") == 5000);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "healthCheckEnabled")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "defaultInstanceEphemeral")));
  assert_true(num(cJSON_GetObjectItem(d, "tcpHealthParams"), "max") == 5000);
  cJSON_Delete(j);
}

/* The healthy field of ip:port in the service's v2 list, -1 when absent. */
static int listed_health(nc_tfx *f, const char *svc, const char *ip) {
  char path[256];
  snprintf(path, sizeof(path), "/nacos/v2/ns/instance/list?serviceName=%s", svc);
  cJSON *j = call(f, "GET", path, 200);
  int h = -1;
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(data(j), "hosts")) if (!strcmp(str(it, "ip"), ip))
      h = cJSON_IsTrue(cJSON_GetObjectItem(it, "healthy"));
  cJSON_Delete(j);
  return h;
}
static int wait_health(nc_tfx *f, const char *svc, const char *ip, int want) {
  long long t0 = nc_test_now_ms();
  while (nc_test_now_ms() - t0 < 5000) {
    if (listed_health(f, svc, ip) == want)
      return 1;
    nc_test_sleep_ms(50);
  }
  return 0;
}

static void test_health_of_persistent_instance(void **st) {
  nc_tfx *f = *st;
  static const char base[] = "/nacos/v3/admin/ns/health/instance?serviceName=hp3&ip=10.9.0.1"
                             "&port=80";
  char path[256];
  v1_ok(f, "POST", "/nacos/v1/ns/instance?serviceName=hp3&ip=10.9.0.1&port=80&ephemeral=false");
  /* the checks own it while the checker is not NONE (default TCP) */
  snprintf(path, sizeof(path), "%s&healthy=false", base);
  expect_error(f, "PUT", path, 400, 30000,
               "health check is still working, service: DEFAULT_GROUP@@hp3, cluster: DEFAULT");
  v1_ok(f, "PUT", "/nacos/v1/ns/cluster?serviceName=hp3&clusterName=DEFAULT&checkPort=0"
                  "&useInstancePort4Check=true&healthChecker=%7B%22type%22%3A%22NONE%22%7D");
  assert_true(wait_health(f, "hp3", "10.9.0.1", 1));
  cJSON *j = call(f, "PUT", path, 200);
  assert_int_equal(code(j), 0);
  assert_string_equal(sdata(j), "ok");
  cJSON_Delete(j);
  assert_true(wait_health(f, "hp3", "10.9.0.1", 0));
  snprintf(path, sizeof(path), "%s&healthy=true", base);
  cJSON_Delete(call(f, "PUT", path, 200));
  assert_true(wait_health(f, "hp3", "10.9.0.1", 1));
  /* an unknown instance is no error (Nacos); nothing appears */
  cJSON_Delete(call(f, "PUT", "/nacos/v3/admin/ns/health/instance?serviceName=hp3&ip=10.9.0.2"
                              "&port=80&healthy=false", 200));
  assert_int_equal(listed_health(f, "hp3", "10.9.0.2"), -1);
  j = call(f, "GET", "/nacos/v3/admin/ns/ops/metrics?onlyStatus=false", 200);
  assert_true(num(data(j), "persistentIpPortClientCount") == 1);
  assert_true(num(data(j), "connectionBasedClientCount") == 0);
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/health/checkers", 200);
  assert_string_equal(str(cJSON_GetObjectItem(data(j), "NONE"), "type"), "NONE");
  assert_string_equal(str(cJSON_GetObjectItem(data(j), "TCP"), "type"), "TCP");
  assert_true(num(cJSON_GetObjectItem(data(j), "HTTP"), "expectedResponseCode") == 200);
  assert_int_equal(cJSON_GetArraySize(data(j)), 4);
  cJSON_Delete(j);
  /* missing and invalid parameters, in Nacos's order; state intact */
  expect_error(f, "PUT", base, 400, 10000,
               "Required parameter 'healthy' type Boolean is not present");
  expect_error(f, "PUT", "/nacos/v3/admin/ns/health/instance?healthy=true&ip=1.1.1.1&port=1",
               400, 10000, "Required parameter 'serviceName' type String is not present");
  expect_error(f, "PUT", "/nacos/v3/admin/ns/health/instance?healthy=true&serviceName=hp3&port=1",
               400, 10000, "Required parameter 'ip' type String is not present");
  expect_error(f, "PUT", "/nacos/v3/admin/ns/health/instance?healthy=true&serviceName=hp3"
                         "&ip=10.9.0.1", 400, 10000,
               "Required parameter 'port' type Integer is not present");
  snprintf(path, sizeof(path), "%s&healthy=maybe", base);
  expect_error(f, "PUT", path, 400, 20002, NULL);
  expect_error(f, "PUT", "/nacos/v3/admin/ns/health/instance?serviceName=hp3&ip=10.9.0.1"
                         "&port=x&healthy=false", 400, 20002, NULL);
  assert_int_equal(listed_health(f, "hp3", "10.9.0.1"), 1);
  /* another cluster has no NONE checker */
  expect_error(f, "PUT", "/nacos/v3/admin/ns/health/instance?serviceName=hp3&ip=10.9.0.1"
                         "&port=80&healthy=false&clusterName=other", 400, 30000,
               "health check is still working, service: DEFAULT_GROUP@@hp3, cluster: other");
}

/* With auth on: the service paths need the service's permission, the
 * operator and client paths an admin. */
static void test_auth(void **st) {
  (void)st;
  nc_tauth *a = NULL;
  char buf[4096];
  assert_int_equal(nc_tauth_start(NULL, &a), 0);
  char *adm = nc_tauth_login(a, "nacos", NC_TEST_ADMIN_PW);
  char *ro = nc_tauth_user_token(a, adm, "reader", "public:*:*", "r");
  static const char *admin_paths[] = {"/nacos/v3/admin/ns/ops/metrics",
                                      "/nacos/v3/admin/ns/ops/switches",
                                      "/nacos/v3/admin/ns/health/checkers",
                                      "/nacos/v3/admin/ns/client/list",
                                      "/nacos/v3/admin/ns/client?clientId=x",
                                      "/nacos/v3/admin/ns/client/service/publisher/list"
                                      "?serviceName=x",
                                      "/nacos/v3/admin/ns/client", /* before the form's 400 */
                                      "/nacos/v3/admin/ns/client/service/subscriber/list"};
  for (size_t i = 0; i < sizeof(admin_paths) / sizeof(admin_paths[0]); i++) {
    assert_int_equal(nc_tauth_req(a, "GET", admin_paths[i], NULL, NULL, buf, sizeof(buf)), 403);
    assert_int_equal(nc_tauth_req(a, "GET", admin_paths[i], NULL, ro, buf, sizeof(buf)), 403);
    assert_string_equal(buf, "authorization failed!");
  }
  assert_int_equal(nc_tauth_req(a, "GET", "/nacos/v3/admin/ns/ops/metrics", NULL, adm, buf,
                                sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"status\":\"UP\""));
  assert_int_equal(nc_tauth_req(a, "GET", "/nacos/v3/admin/ns/client/list", NULL, adm, buf,
                                sizeof(buf)), 200);
  /* subscribers: read; health: write */
  assert_int_equal(nc_tauth_req(a, "GET", "/nacos/v3/admin/ns/service/subscribers?serviceName=x",
                                NULL, ro, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"totalCount\":0"));
  assert_int_equal(nc_tauth_req(a, "PUT", "/nacos/v3/admin/ns/health/instance?serviceName=x"
                                          "&ip=1.1.1.1&port=1&healthy=true", NULL, ro, buf,
                                sizeof(buf)), 403);
  assert_string_equal(buf, "authorization failed!");
  /* a service list shows only what the caller may read */
  assert_int_equal(nc_tauth_req(a, "POST", "/nacos/v3/admin/ns/service?serviceName=x", NULL, adm,
                                buf, sizeof(buf)), 200);
  char *other = nc_tauth_user_token(a, adm, "other", "otherns:*:*", "r");
  assert_int_equal(nc_tauth_req(a, "GET", "/nacos/v3/admin/ns/service/list", NULL, other, buf,
                                sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"totalCount\":0"));
  assert_int_equal(nc_tauth_req(a, "GET", "/nacos/v3/admin/ns/service/list", NULL, ro, buf,
                                sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"totalCount\":1"));
  free(other);
  free(ro);
  free(adm);
  assert_int_equal(nc_tauth_stop(a), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_subscribers_page, nv3_setup, nv3_teardown),
      cmocka_unit_test_setup_teardown(test_clients_listed_and_detailed, nv3_setup, nv3_teardown),
      cmocka_unit_test_setup_teardown(test_operator_metrics_and_switches, nv3_setup, nv3_teardown),
      cmocka_unit_test_setup_teardown(test_health_of_persistent_instance, nv3_setup, nv3_teardown),
      cmocka_unit_test(test_auth),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
