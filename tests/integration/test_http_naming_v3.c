/* The Nacos 3.x naming paths (issue 14): /nacos/v3/client/ns/instance
 * (register, heartBeat=true beats or answers 21003, deregister, list =
 * the enabled hosts as data), /nacos/v3/admin/ns/instance (writes as v2,
 * GET the Instance, /list a cluster's Instances), /nacos/v3/admin/ns/service: writes as v2, GET a
 * ServiceDetailInfo, /list a Page<ServiceView> (or of ServiceDetailInfo
 * withInstances), /selector/types; errors and auth as v2. */
#include "nc_grpc.h"
#include "nc_testauth.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naming_v3_itest.h"

/* a3 holds 7.7.7.7:7 (DEFAULT), protectThreshold 0.1; b3 was created
 * without instances. */
static void check_service_views(nc_tfx *f) {
  cJSON *j = call(f, "POST", "/nacos/v3/admin/ns/service?serviceName=b3", 200);
  cJSON_Delete(j);
  /* the detail names the cluster with ClusterMetadata's defaults */
  j = call(f, "GET", "/nacos/v3/admin/ns/service?serviceName=a3", 200);
  const cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"),
                                                           "clusterMap"), "DEFAULT");
  assert_non_null(c);
  assert_string_equal(str(c, "clusterName"), "DEFAULT");
  assert_string_equal(str(cJSON_GetObjectItem(c, "healthChecker"), "type"), "TCP");
  assert_true(num(c, "healthyCheckPort") == 80);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(c, "useInstancePortForCheck")));
  assert_null(cJSON_GetObjectItem(c, "hosts"));
  cJSON_Delete(j);
  /* Page<ServiceView>, by group then name */
  j = call(f, "GET", "/nacos/v3/admin/ns/service/list?pageNo=1&pageSize=10", 200);
  const cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_true(num(d, "totalCount") == 2);
  assert_true(num(d, "pageNumber") == 1);
  assert_true(num(d, "pagesAvailable") == 1);
  const cJSON *items = cJSON_GetObjectItem(d, "pageItems");
  assert_int_equal(cJSON_GetArraySize(items), 2);
  const cJSON *v = cJSON_GetArrayItem(items, 0);
  assert_string_equal(str(v, "name"), "a3");
  assert_string_equal(str(v, "groupName"), "DEFAULT_GROUP");
  assert_true(num(v, "clusterCount") == 1);
  assert_true(num(v, "ipCount") == 1);
  assert_true(num(v, "healthyInstanceCount") == 1);
  assert_string_equal(str(v, "triggerFlag"), "false");
  v = cJSON_GetArrayItem(items, 1);
  assert_string_equal(str(v, "name"), "b3");
  assert_true(num(v, "ipCount") == 0);
  assert_string_equal(str(v, "triggerFlag"), "false");
  cJSON_Delete(j);
  /* paging: page 2 of size 1 */
  j = call(f, "GET", "/nacos/v3/admin/ns/service/list?pageNo=2&pageSize=1", 200);
  d = cJSON_GetObjectItem(j, "data");
  assert_true(num(d, "totalCount") == 2 && num(d, "pagesAvailable") == 2);
  v = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "pageItems"), 0);
  assert_string_equal(str(v, "name"), "b3");
  cJSON_Delete(j);
  /* filters: serviceNameParam (substring), ignoreEmptyService, groupNameParam */
  j = call(f, "GET", "/nacos/v3/admin/ns/service/list?serviceNameParam=b", 200);
  d = cJSON_GetObjectItem(j, "data");
  assert_true(num(d, "totalCount") == 1);
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/service/list?ignoreEmptyService=true", 200);
  d = cJSON_GetObjectItem(j, "data");
  assert_true(num(d, "totalCount") == 1);
  v = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "pageItems"), 0);
  assert_string_equal(str(v, "name"), "a3");
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/service/list?groupNameParam=OTHER", 200);
  assert_true(num(cJSON_GetObjectItem(j, "data"), "totalCount") == 0);
  cJSON_Delete(j);
  /* withInstances: Page<ServiceDetailInfo> with the hosts */
  j = call(f, "GET", "/nacos/v3/admin/ns/service/list?withInstances=true&serviceNameParam=a", 200);
  d = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "pageItems"), 0);
  assert_string_equal(str(d, "serviceName"), "a3");
  c = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "clusterMap"), "DEFAULT");
  assert_string_equal(str(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "hosts"), 0), "ip"), "7.7.7.7");
  cJSON_Delete(j);
  /* an unknown namespace has none; bad pages are PageForm's 400 */
  j = call(f, "GET", "/nacos/v3/admin/ns/service/list?namespaceId=nons", 200);
  assert_true(num(cJSON_GetObjectItem(j, "data"), "totalCount") == 0);
  cJSON_Delete(j);
  expect_error(f, "GET", "/nacos/v3/admin/ns/service/list?pageNo=0", 400, 20002,
               "Required parameter 'pageNo' should be positive integer, "
               "current is 0");
  expect_error(f, "GET", "/nacos/v3/admin/ns/service/list?pageSize=x", 400, 20002, NULL);
  /* selector types */
  j = call(f, "GET", "/nacos/v3/admin/ns/service/selector/types", 200);
  d = cJSON_GetObjectItem(j, "data");
  assert_int_equal(cJSON_GetArraySize(d), 2);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(d, 0)), "label");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(d, 1)), "none");
  cJSON_Delete(j);
  j = call(f, "DELETE", "/nacos/v3/admin/ns/service?serviceName=b3", 200);
  cJSON_Delete(j);
}

static void test_client_api(void **st) {
  nc_tfx *f = *st;
  cJSON *j = call(f, "POST", "/nacos/v3/client/ns/instance?serviceName=c3&ip=3.3.3.3&port=33"
                              "&weight=2&metadata=%7B%22a%22%3A%221%22%7D", 200);
  assert_int_equal(code(j), 0);
  assert_string_equal(sdata(j), "ok");
  cJSON_Delete(j);
  /* list: data is the hosts array */
  j = call(f, "GET", "/nacos/v3/client/ns/instance/list?serviceName=c3", 200);
  const cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_true(cJSON_IsArray(d));
  assert_int_equal(cJSON_GetArraySize(d), 1);
  const cJSON *h = cJSON_GetArrayItem(d, 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(h, "ip")), "3.3.3.3");
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(h, "port")), 33);
  assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(h, "weight")) == 2.0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(h, "clusterName")), "DEFAULT");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(h, "serviceName")),
                      "DEFAULT_GROUP@@c3");
  assert_string_equal(
      cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(h, "metadata"), "a")), "1");
  cJSON_Delete(j);
  /* heartBeat: known -> ok, unknown -> 21003 without data */
  j = call(f, "POST", "/nacos/v3/client/ns/instance?serviceName=c3&ip=3.3.3.3&port=33"
                      "&heartBeat=true", 200);
  assert_string_equal(sdata(j), "ok");
  cJSON_Delete(j);
  j = call(f, "POST", "/nacos/v3/client/ns/instance?serviceName=c3&ip=3.3.3.4&port=33"
                      "&heartBeat=true", 200);
  assert_int_equal(code(j), 21003);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "message")),
                      "instance not found");
  assert_null(cJSON_GetObjectItem(j, "data"));
  cJSON_Delete(j);
  /* errors as v2 */
  expect_error(f, "POST", "/nacos/v3/client/ns/instance?ip=3.3.3.3&port=33", 400, 10000,
               "Required parameter 'serviceName' type String is not present");
  expect_error(f, "POST", "/nacos/v3/client/ns/instance?serviceName=c3&ip=3.3.3.3&port=x", 400,
               20002, NULL);
  j = call(f, "POST", "/nacos/v3/client/ns/instance?serviceName=c3&ip=3.3.3.3&port=1&weight=-1",
           400);
  assert_int_equal(code(j), 21001);
  cJSON_Delete(j);
  /* deregister; an unknown namespace lists nothing */
  j = call(f, "DELETE", "/nacos/v3/client/ns/instance?serviceName=c3&ip=3.3.3.3&port=33", 200);
  assert_string_equal(sdata(j), "ok");
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/client/ns/instance/list?serviceName=c3", 200);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 0);
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/client/ns/instance/list?serviceName=c3&namespaceId=nope", 200);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 0);
  cJSON_Delete(j);
}

static void test_admin_api(void **st) {
  nc_tfx *f = *st;
  cJSON *j = call(f, "POST", "/nacos/v3/admin/ns/service?serviceName=a3&protectThreshold=0.1",
                  200);
  assert_string_equal(sdata(j), "ok");
  cJSON_Delete(j);
  expect_error(f, "POST", "/nacos/v3/admin/ns/service?serviceName=a3", 400, 21007, NULL);
  /* ServiceDetailInfo, no cluster yet */
  j = call(f, "GET", "/nacos/v3/admin/ns/service?serviceName=a3", 200);
  const cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_string_equal(str(d, "namespaceId"), "public");
  assert_string_equal(str(d, "serviceName"), "a3");
  assert_string_equal(str(d, "groupName"), "DEFAULT_GROUP");
  assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "protectThreshold")) == 0.1);
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(d, "metadata")));
  assert_string_equal(str(cJSON_GetObjectItem(d, "selector"), "type"), "none");
  assert_string_equal(str(cJSON_GetObjectItem(d, "selector"), "contextType"), "NONE");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "ephemeral")));
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "clusterMap")), 0);
  assert_null(cJSON_GetObjectItem(d, "name")); /* v2's field, not 3.x's */
  cJSON_Delete(j);
  /* unknown service or namespace: Nacos 3.x's INVALID_PARAM 400 */
  expect_error(f, "GET", "/nacos/v3/admin/ns/service?serviceName=nope", 400, 21008,
               "service not found, namespace: public, serviceName: "
               "DEFAULT_GROUP@@nope");
  expect_error(f, "GET", "/nacos/v3/admin/ns/service?serviceName=a3&namespaceId=nons", 400, 21008,
               NULL);
  expect_error(f, "GET", "/nacos/v3/admin/ns/service", 400, 10000, NULL);
  j = call(f, "POST", "/nacos/v3/admin/ns/instance?serviceName=a3&ip=7.7.7.7&port=7", 200);
  cJSON_Delete(j);
  j = call(f, "PUT", "/nacos/v3/admin/ns/instance?serviceName=a3&ip=7.7.7.7&port=7&weight=6",
           200);
  cJSON_Delete(j);
  j = call(f, "GET", "/nacos/v3/admin/ns/instance?serviceName=a3&ip=7.7.7.7&port=7", 200);
  d = cJSON_GetObjectItem(j, "data");
  assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "weight")) == 6.0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "serviceName")),
                      "DEFAULT_GROUP@@a3");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "enabled"))); /* the whole Instance */
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "ephemeral")));
  cJSON_Delete(j);
  expect_error(f, "GET", "/nacos/v3/admin/ns/instance?serviceName=a3&ip=7.7.7.8&port=7", 404, 20004,
               "no matched ip found!");
  j = call(f, "GET", "/nacos/v3/admin/ns/instance?serviceName=zz&ip=7.7.7.7&port=7", 404);
  assert_string_equal(sdata(j), "no ips found for cluster DEFAULT in service DEFAULT_GROUP@@zz");
  cJSON_Delete(j);
  /* the list: the DEFAULT cluster's Instances themselves */
  j = call(f, "GET", "/nacos/v3/admin/ns/instance/list?serviceName=a3", 200);
  d = cJSON_GetObjectItem(j, "data");
  assert_true(cJSON_IsArray(d));
  assert_int_equal(cJSON_GetArraySize(d), 1);
  assert_string_equal(str(cJSON_GetArrayItem(d, 0), "ip"), "7.7.7.7");
  cJSON_Delete(j);
  expect_error(f, "GET", "/nacos/v3/admin/ns/instance/list?serviceName=a3&clusterName=c9", 404,
               30000, "cluster c9 is not found!");
  j = call(f, "GET", "/nacos/v3/admin/ns/instance/list?serviceName=nope", 404);
  assert_string_equal(sdata(j), "service DEFAULT_GROUP@@nope is not found!");
  cJSON_Delete(j);
  check_service_views(f);
  expect_error(f, "DELETE", "/nacos/v3/admin/ns/service?serviceName=a3", 400, 21009, NULL);
  j = call(f, "DELETE", "/nacos/v3/admin/ns/instance?serviceName=a3&ip=7.7.7.7&port=7", 200);
  cJSON_Delete(j);
  j = call(f, "DELETE", "/nacos/v3/admin/ns/service?serviceName=a3", 200);
  assert_string_equal(sdata(j), "ok");
  cJSON_Delete(j);
}

/* With auth on the v3 paths need the namespace permission like v2. */
static void test_auth(void **st) {
  (void)st;
  nc_tauth *a = NULL;
  char buf[4096];
  assert_int_equal(nc_tauth_start(NULL, &a), 0);
  assert_int_equal(nc_tauth_req(a, "POST", "/nacos/v3/client/ns/instance?serviceName=x&ip=1.1.1.1"
                                           "&port=1", NULL, NULL, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "user not found!");
  char *adm = nc_tauth_login(a, "nacos", NC_TEST_ADMIN_PW);
  char *ro = nc_tauth_user_token(a, adm, "reader", "public:*:*", "r");
  assert_int_equal(nc_tauth_req(a, "POST", "/nacos/v3/admin/ns/service?serviceName=x", NULL, ro,
                                buf, sizeof(buf)), 403);
  assert_string_equal(buf, "authorization failed!");
  assert_int_equal(nc_tauth_req(a, "POST", "/nacos/v3/client/ns/instance?serviceName=x&ip=1.1.1.1"
                                           "&port=1", NULL, adm, buf, sizeof(buf)), 200);
  assert_int_equal(nc_tauth_req(a, "GET", "/nacos/v3/client/ns/instance/list?serviceName=x", NULL,
                                ro, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "1.1.1.1"));
  free(ro);
  free(adm);
  assert_int_equal(nc_tauth_stop(a), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_client_api, nv3_setup, nv3_teardown),
      cmocka_unit_test_setup_teardown(test_admin_api, nv3_setup, nv3_teardown),
      cmocka_unit_test(test_auth),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
