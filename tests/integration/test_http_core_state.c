/* The core and operator endpoints of the HTTP API (issue 14) on the real
 * nacosd, as Nacos serves them: liveness / readiness of the v1 and v2
 * console and the v3 admin API, the server state map (v1 plain, v3 in the
 * Result), the v3 admin cluster node list and self, and the v3 admin
 * namespace API (list with "public" first, get, create with a made-up id,
 * update, delete, check), field by field with their errors; then the same
 * with --auth on: probes and state need no token, the cluster and
 * namespace reads a valid one, namespace writes a global admin. */
#include "nc_grpc.h"
#include "nc_testauth.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_cfg_itest.h"

/* The helpers (http_cfg_itest.h) on the fixture's nacosd. */
#define setup hci_setup
#define teardown hci_teardown
#define req(f, m, p, b) hci_req((f)->srv->port, m, p, NULL, b)
#define env(f, m, p, st, c) hci_env((f)->srv->port, m, p, st, c)
#define jstr hci_str


static void test_health_and_state(void **st) {
  nc_tfx *f = *st;
  const char *b;
  assert_int_equal(req(f, "GET", "/nacos/v1/console/health/liveness", &b), 200);
  assert_string_equal(b, "OK");
  assert_int_equal(req(f, "GET", "/nacos/v1/console/health/readiness", &b), 200);
  assert_string_equal(b, "OK");
  static const char *const ok[] = {
      "/nacos/v2/console/health/liveness",   "/nacos/v2/console/health/readiness",
      "/nacos/v3/admin/core/state/liveness", "/nacos/v3/admin/core/state/readiness",
      "/nacos/v3/console/health/liveness",   "/nacos/v3/console/health/readiness",
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    cJSON *j = env(f, "GET", ok[i], 200, 0);
    assert_string_equal(jstr(j, "message"), "success");
    assert_string_equal(jstr(j, "data"), "ok");
    cJSON_Delete(j);
  }
  /* the state map: strings only, as Nacos's module states */
  assert_int_equal(req(f, "GET", "/nacos/v1/console/server/state", &b), 200);
  cJSON *s = cJSON_Parse(b);
  assert_non_null(s);
  assert_string_equal(jstr(s, "startup_mode"), "standalone");
  assert_string_equal(jstr(s, "standalone_mode"), "standalone");
  assert_string_equal(jstr(s, "version"), NC_VERSION);
  assert_string_equal(jstr(s, "auth_enabled"), "false");
  assert_string_equal(jstr(s, "login_page_enabled"), "false");
  assert_string_equal(jstr(s, "console_ui_enabled"), "true");
  assert_int_equal(atoi(jstr(s, "server_port")), f->srv->port);
  const cJSON *v;
  cJSON_ArrayForEach(v, s) assert_true(cJSON_IsString(v));
  cJSON_Delete(s);
  cJSON *j = env(f, "GET", "/nacos/v3/admin/core/state", 200, 0);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "version"), NC_VERSION);
  cJSON_Delete(j);
  assert_int_equal(req(f, "POST", "/nacos/v3/admin/core/state", &b), 405);
}

static void test_v3_cluster(void **st) {
  nc_tfx *f = *st;
  cJSON *j = env(f, "GET", "/nacos/v3/admin/core/cluster/node/list", 200, 0);
  cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_int_equal(cJSON_GetArraySize(d), 1);
  cJSON *m = cJSON_GetArrayItem(d, 0);
  assert_string_equal(jstr(m, "state"), "UP");
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(m, "extendInfo")));
  assert_non_null(strstr(jstr(m, "address"), ":"));
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/admin/core/cluster/node/list?state=down", 200, 0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 0);
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/admin/core/cluster/node/list?state=sleepy", 400, 23000);
  assert_string_equal(jstr(j, "data"), "Illegal state: sleepy");
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/admin/core/cluster/node/self", 200, 0);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "state"), "UP");
  cJSON_Delete(j);
}

#define NS3 "/nacos/v3/admin/core/namespace"

static void test_v3_namespaces(void **st) {
  nc_tfx *f = *st;
  const char *b;
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs?dataId=a&group=G&content=x", &b), 200);
  /* the default namespace is "public" in 3.x, listed first */
  cJSON *j = env(f, "GET", NS3 "/list", 200, 0);
  cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_int_equal(cJSON_GetArraySize(d), 1);
  cJSON *p = cJSON_GetArrayItem(d, 0);
  assert_string_equal(jstr(p, "namespace"), "public");
  assert_string_equal(jstr(p, "namespaceShowName"), "public");
  assert_string_equal(jstr(p, "namespaceDesc"), "Public Namespace");
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "configCount")), 1);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "quota")), 200);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "type")), 0);
  cJSON_Delete(j);
  /* while 2.x's v2 list still names it "" */
  j = env(f, "GET", "/nacos/v2/console/namespace/list", 200, 0);
  assert_string_equal(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0), "namespace"), "");
  cJSON_Delete(j);
  j = env(f, "GET", NS3 "?namespaceId=public", 200, 0);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "namespace"), "public");
  cJSON_Delete(j);
  j = env(f, "GET", NS3 "?namespaceId=", 200, 0); /* "" is public too */
  cJSON_Delete(j);
  /* create, get, update, check, delete */
  j = env(f, "POST", NS3 "?namespaceId=dev&namespaceName=Dev&namespaceDesc=d1", 200, 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "data")));
  cJSON_Delete(j);
  j = env(f, "GET", NS3 "?namespaceId=dev", 200, 0);
  d = cJSON_GetObjectItem(j, "data");
  assert_string_equal(jstr(d, "namespace"), "dev");
  assert_string_equal(jstr(d, "namespaceShowName"), "Dev");
  assert_string_equal(jstr(d, "namespaceDesc"), "d1");
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "type")), 2);
  cJSON_Delete(j);
  j = env(f, "PUT", NS3 "?namespaceId=dev&namespaceName=Dev2", 200, 0);
  cJSON_Delete(j);
  j = env(f, "GET", NS3 "/list", 200, 0);
  d = cJSON_GetObjectItem(j, "data");
  assert_int_equal(cJSON_GetArraySize(d), 2);
  assert_string_equal(jstr(cJSON_GetArrayItem(d, 1), "namespaceShowName"), "Dev2");
  cJSON_Delete(j);
  j = env(f, "GET", NS3 "/check?namespaceId=dev", 200, 0);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "data")), 1);
  cJSON_Delete(j);
  j = env(f, "GET", NS3 "/check?namespaceId=nope", 200, 0);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "data")), 0);
  cJSON_Delete(j);
  /* a blank namespaceId on create: a made-up UUID */
  j = env(f, "POST", NS3 "?namespaceId=&namespaceName=Auto", 200, 0);
  cJSON_Delete(j);
  j = env(f, "POST", "/nacos/v2/console/namespace?namespaceId=&namespaceName=Auto2", 200, 0);
  cJSON_Delete(j); /* v2 does the same (NamespaceControllerV2) */
  j = env(f, "GET", NS3 "/list", 200, 0);
  d = cJSON_GetObjectItem(j, "data");
  assert_int_equal(cJSON_GetArraySize(d), 4);
  int uuid = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, d) uuid += strlen(jstr(it, "namespace")) == 36;
  assert_int_equal(uuid, 2);
  cJSON_Delete(j);
  /* errors */
  j = env(f, "POST", NS3 "?namespaceId=dev&namespaceName=Again", 500, 22002);
  cJSON_Delete(j);
  j = env(f, "POST", NS3 "?namespaceId=a%2Fb&namespaceName=X", 400, 22003);
  cJSON_Delete(j);
  j = env(f, "POST", NS3 "?namespaceName=X", 400, 10000);
  assert_string_equal(jstr(j, "data"), "required parameter 'namespaceId' is missing");
  cJSON_Delete(j);
  j = env(f, "POST", NS3 "?namespaceId=x2", 400, 10000);
  cJSON_Delete(j);
  j = env(f, "GET", NS3 "?namespaceId=nope", 404, 22001);
  assert_string_equal(jstr(j, "data"), "namespaceId [ nope ] not exist");
  cJSON_Delete(j);
  j = env(f, "GET", NS3, 400, 10000);
  cJSON_Delete(j);
  j = env(f, "DELETE", NS3 "?namespaceId=public", 400, 22003);
  cJSON_Delete(j);
  j = env(f, "DELETE", NS3 "?namespaceId=dev", 200, 0);
  cJSON_Delete(j);
  j = env(f, "GET", NS3 "?namespaceId=dev", 404, 22001);
  cJSON_Delete(j);
}

/* The 3.x console's paths: the admin API's answers, its own create and exist. */
static void test_v3_console_paths(void **st) {
  nc_tfx *f = *st;
  cJSON *j = env(f, "POST", "/nacos/v3/console/core/namespace?customNamespaceId=qa&namespaceName=QA",
                 200, 0);
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/console/core/namespace/exist?customNamespaceId=qa", 200, 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "data")));
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/console/core/namespace/exist?customNamespaceId=zz", 200, 0);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "data")));
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/console/core/namespace/exist?customNamespaceId=", 200, 0);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "data"))); /* blank: a new one */
  cJSON_Delete(j);
  j = env(f, "POST", "/nacos/v3/console/core/namespace?namespaceName=Anon", 200, 0);
  cJSON_Delete(j);
  j = env(f, "POST", "/nacos/v3/console/core/namespace?customNamespaceId=x", 400, 10000);
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/console/core/namespace/list", 200, 0);
  cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_int_equal(cJSON_GetArraySize(d), 3);
  assert_string_equal(jstr(cJSON_GetArrayItem(d, 0), "namespace"), "public");
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/console/core/cluster/nodes?keyword=127.", 200, 0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 1);
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/console/core/cluster/nodes?keyword=10.", 200, 0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 0);
  cJSON_Delete(j);
  /* config and history through the console's paths */
  j = env(f, "POST", "/nacos/v3/console/cs/config?dataId=c.yaml&groupName=G&namespaceId=qa"
                     "&content=one", 200, 0);
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/console/cs/config?dataId=c.yaml&groupName=G&namespaceId=qa", 200, 0);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "content"), "one");
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/console/cs/config/searchDetail?namespaceId=qa&configDetail=on", 200,
          0);
  assert_int_equal((int)cJSON_GetNumberValue(
                       cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "totalCount")),
                   1);
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/console/cs/history/list?dataId=c.yaml&groupName=G&namespaceId=qa",
          200, 0);
  assert_int_equal((int)cJSON_GetNumberValue(
                       cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "totalCount")),
                   1);
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/console/cs/config/listener?dataId=c.yaml&groupName=G&namespaceId=qa",
          200, 0);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "queryType"), "config");
  cJSON_Delete(j);
}

/* --auth on: probes and state open, reads a token, namespace writes an admin. */
static void test_auth_on(void **st) {
  (void)st;
  nc_tauth *a = NULL;
  assert_int_equal(nc_tauth_start(NULL, &a), 0);
  char buf[8192];
  assert_int_equal(nc_tauth_req(a, "GET", "/nacos/v3/admin/core/state/liveness", NULL, NULL, buf,
                                sizeof(buf)), 200);
  assert_int_equal(nc_tauth_req(a, "GET", "/nacos/v2/console/health/readiness", NULL, NULL, buf,
                                sizeof(buf)), 200);
  assert_int_equal(nc_tauth_req(a, "GET", "/nacos/v1/console/server/state", NULL, NULL, buf,
                                sizeof(buf)), 200);
  cJSON *s = cJSON_Parse(buf);
  assert_non_null(s);
  assert_string_equal(jstr(s, "auth_enabled"), "true");
  assert_string_equal(jstr(s, "login_page_enabled"), "true");
  cJSON_Delete(s);
  assert_int_equal(nc_tauth_req(a, "GET", "/nacos/v3/admin/core/cluster/node/list", NULL, NULL,
                                buf, sizeof(buf)), 403);
  assert_int_equal(nc_tauth_req(a, "GET", NS3 "/list", NULL, NULL, buf, sizeof(buf)), 403);
  char *adm = nc_tauth_login(a, "nacos", NC_TEST_ADMIN_PW);
  char *usr = nc_tauth_user_token(a, adm, "someone", "dev:*:config/*", "r");
  assert_int_equal(nc_tauth_req(a, "GET", "/nacos/v3/admin/core/cluster/node/list", NULL, usr,
                                buf, sizeof(buf)), 200);
  assert_int_equal(nc_tauth_req(a, "GET", NS3 "/list", NULL, usr, buf, sizeof(buf)), 200);
  assert_int_equal(nc_tauth_req(a, "POST", NS3 "?namespaceId=x&namespaceName=X", NULL, usr, buf,
                                sizeof(buf)), 403);
  assert_int_equal(nc_tauth_req(a, "POST", NS3 "?namespaceId=x&namespaceName=X", NULL, adm, buf,
                                sizeof(buf)), 200);
  assert_int_equal(nc_tauth_req(a, "GET", NS3 "?namespaceId=x", NULL, usr, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"namespaceShowName\":\"X\""));
  free(usr);
  free(adm);
  assert_int_equal(nc_tauth_stop(a), 0);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_health_and_state, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v3_cluster, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v3_namespaces, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v3_console_paths, setup, teardown),
      cmocka_unit_test(test_auth_on),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
