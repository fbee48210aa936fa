/* The Nacos 3.x naming admin views on a 3-node cluster: an instance
 * registered over /nacos/v3/admin/ns/instance on node 0 (forwarded to its
 * responsible member, replicated by Distro) is seen by every node's
 * /service/list (Page<ServiceView>), /service detail (clusterMap),
 * /client/list and /client (the ip:port#true client, synced or native) and
 * /client/service/publisher/list; a node's /service/subscribers lists its
 * own subscribers only (Nacos's aggregation is not done). */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cluster_itest.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_testwire.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* method path on node i: the Result's data (in *j, caller frees), asserting the status. */
static const cJSON *at(const nc_tcluster *c, int i, const char *method, const char *path,
                       int want, cJSON **j) {
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(nc_tcluster_node(c, i)->port, method, path, NULL, NULL,
                                    &status, &b), 0);
  if (status != want)
    fprintf(stderr, "node %d: %s %s: %d %s\n", i, method, path, status, b ? b : "");
  assert_int_equal(status, want);
  *j = cJSON_Parse(b);
  free(b);
  assert_non_null(*j);
  return cJSON_GetObjectItem(*j, "data");
}

/* The ipCount of v3c in node i's service list: -1 while it is not listed. */
static int ip_count(const nc_tcluster *c, int i) {
  cJSON *j = NULL;
  const cJSON *d = at(c, i, "GET", "/nacos/v3/admin/ns/service/list?serviceNameParam=v3c", 200,
                      &j);
  const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "pageItems"), 0);
  int n = v ? (int)cJSON_GetNumberValue(cJSON_GetObjectItem(v, "ipCount")) : -1;
  cJSON_Delete(j);
  return n;
}

static int has_id(const cJSON *ids, const char *id) {
  const cJSON *it;
  cJSON_ArrayForEach(it, ids) if (!strcmp(it->valuestring, id)) return 1;
  return 0;
}

static void test_admin_views_on_every_node(void **st) {
  (void)st;
  const char *extra[] = {"--distro-delay-ms", "100", NULL};
  nc_tcluster *c = cit_start_opts(3, extra, 1);
  nc_gcli_env *env = NULL;
  assert_int_equal(nc_gcli_env_new(1, &env), 0);
  nc_tw *sub = nc_tw_open(env, nc_tcluster_node(c, 2)->target, NULL);
  assert_non_null(sub);
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(sub, "v3c", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  cJSON *j = NULL;
  at(c, 0, "POST", "/nacos/v3/admin/ns/instance?serviceName=v3c&ip=4.4.4.4&port=44", 200, &j);
  cJSON_Delete(j);
  for (int i = 0; i < 3; i++) {
    long long t0 = nc_test_now_ms();
    while (ip_count(c, i) != 1 && nc_test_now_ms() - t0 < 8000)
      nc_test_sleep_ms(100);
    assert_int_equal(ip_count(c, i), 1);
    const cJSON *d = at(c, i, "GET", "/nacos/v3/admin/ns/service?serviceName=v3c", 200, &j);
    const cJSON *cl = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "clusterMap"), "DEFAULT");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cl, "clusterName")), "DEFAULT");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "ephemeral")));
    cJSON_Delete(j);
    d = at(c, i, "GET", "/nacos/v3/admin/ns/client/list", 200, &j);
    assert_true(has_id(d, "4.4.4.4:44#true"));
    cJSON_Delete(j);
    d = at(c, i, "GET", "/nacos/v3/admin/ns/client?clientId=4.4.4.4%3A44%23true", 200, &j);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "clientType")), "ipPort");
    cJSON_Delete(j);
    d = at(c, i, "GET", "/nacos/v3/admin/ns/client/service/publisher/list?serviceName=v3c", 200,
           &j);
    assert_int_equal(cJSON_GetArraySize(d), 1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0),
                                                                 "clientId")), "4.4.4.4:44#true");
    cJSON_Delete(j);
    /* the subscriber is node 2's connection */
    d = at(c, i, "GET", "/nacos/v3/admin/ns/service/subscribers?serviceName=v3c", 200, &j);
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "totalCount")),
                     i == 2 ? 1 : 0);
    cJSON_Delete(j);
    d = at(c, i, "GET", "/nacos/v3/admin/ns/client/list", 200, &j);
    assert_int_equal(has_id(d, nc_tw_id(sub)), i == 2);
    cJSON_Delete(j);
  }
  nc_tw_close(sub);
  nc_gcli_env_free(env);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_admin_views_on_every_node),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
