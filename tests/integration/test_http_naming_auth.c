/* The naming open API with --auth on (issue 14): without a token or with a
 * bad one every route is refused with Nacos's text; with one, the user
 * needs the service's namespace permission ('r' for the GETs, 'w' for
 * register, update, deregister and beat); the admin may do everything; the
 * token works as a bearer header and as the accessToken parameter. */
#include "nc_grpc.h"
#include "nc_testauth.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_PW NC_TEST_ADMIN_PW

/* The fixture and its requests: nc_testauth.h. */
static int setup(void **st) { return nc_tauth_start(NULL, (nc_tauth **)st); }
static int teardown(void **st) { return nc_tauth_stop(*st); }
#define req(st, ...) nc_tauth_req(*(st), __VA_ARGS__)
#define login(st, user, pw) nc_tauth_login(*(st), user, pw)
#define user_with(st, ...) nc_tauth_user_token(*(st), __VA_ARGS__)

#define REG "/nacos/v1/ns/instance?serviceName=a&ip=1.2.3.4&port=80"
#define LIST "/nacos/v1/ns/instance/list?serviceName=a"

static void test_no_token_is_refused(void **st) {
  char buf[4096];
  assert_int_equal(req(st, "POST", REG, NULL, NULL, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "user not found!");
  assert_int_equal(req(st, "GET", LIST, NULL, NULL, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "user not found!");
  assert_int_equal(req(st, "PUT", "/nacos/v2/ns/instance/beat?serviceName=a&ip=1.2.3.4&port=80",
                       NULL, NULL, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "GET", LIST, NULL, "abc.def.ghi", buf, sizeof(buf)), 403);
  assert_string_equal(buf, "token invalid!");
  /* nothing was registered */
  char *adm = login(st, "nacos", ADMIN_PW);
  assert_int_equal(req(st, "GET", LIST, NULL, adm, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"hosts\":[]"));
  free(adm);
}

static void test_admin_may_do_everything(void **st) {
  char buf[4096], path[2048];
  char *adm = login(st, "nacos", ADMIN_PW);
  assert_int_equal(req(st, "POST", REG, NULL, adm, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "ok");
  /* the token as the accessToken parameter, as old clients send it */
  snprintf(path, sizeof(path), LIST "&accessToken=%s", adm);
  assert_int_equal(req(st, "GET", path, NULL, NULL, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"ip\":\"1.2.3.4\""));
  assert_int_equal(req(st, "POST", "/nacos/v2/ns/instance?namespaceId=dev&serviceName=a&ip=1.1.1.1"
                                   "&port=1", NULL, adm, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"code\":0"));
  assert_int_equal(req(st, "DELETE", REG, NULL, adm, buf, sizeof(buf)), 200);
  free(adm);
}

static void test_namespace_permissions(void **st) {
  char buf[4096];
  char *adm = login(st, "nacos", ADMIN_PW);
  char *ro = user_with(st, adm, "reader", "public:*:*", "r");
  char *dev = user_with(st, adm, "devw", "dev:*:*", "rw");
  assert_int_equal(req(st, "POST", REG, NULL, adm, buf, sizeof(buf)), 200);
  /* reader: may list and get in public, not write, not read dev */
  assert_int_equal(req(st, "GET", LIST, NULL, ro, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "1.2.3.4"));
  assert_int_equal(req(st, "GET", "/nacos/v2/ns/instance?serviceName=a&ip=1.2.3.4&port=80", NULL,
                       ro, buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "POST", "/nacos/v1/ns/instance?serviceName=a&ip=5.5.5.5&port=5", NULL,
                       ro, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "authorization failed!");
  assert_int_equal(req(st, "DELETE", REG, NULL, ro, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "PUT", "/nacos/v1/ns/instance/beat?serviceName=a&ip=1.2.3.4&port=80",
                       NULL, ro, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "GET", LIST "&namespaceId=dev", NULL, ro, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "GET", "/nacos/v1/ns/service/list?pageNo=1&pageSize=9", NULL, ro, buf,
                       sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"doms\":[\"a\"]"));
  assert_int_equal(req(st, "GET", "/nacos/v2/ns/service/list?namespaceId=dev", NULL, ro, buf,
                       sizeof(buf)), 403);
  assert_int_equal(req(st, "GET", "/nacos/v1/ns/service?serviceName=a", NULL, NULL, buf,
                       sizeof(buf)), 403);
  /* devw: writes dev, not public */
  assert_int_equal(req(st, "POST", "/nacos/v1/ns/instance?namespaceId=dev&serviceName=a"
                                   "&ip=6.6.6.6&port=6", NULL, dev, buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "GET", LIST "&namespaceId=dev", NULL, dev, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "6.6.6.6"));
  assert_int_equal(req(st, "DELETE", REG, NULL, dev, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "GET", LIST, NULL, dev, buf, sizeof(buf)), 403);
  /* the refused deregister changed nothing */
  assert_int_equal(req(st, "GET", LIST, NULL, adm, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "1.2.3.4"));
  free(ro);
  free(dev);
  free(adm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_no_token_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_admin_may_do_everything, setup, teardown),
      cmocka_unit_test_setup_teardown(test_namespace_permissions, setup, teardown),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
