/* Service create/update/delete and instance update with --auth on (issue
 * 14): without a token refused with Nacos's text, a reader of the
 * namespace may not write, a writer of another namespace neither, a
 * writer may; a refused call changes nothing. */
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

static int setup(void **st) { return nc_tauth_start(NULL, (nc_tauth **)st); }
static int teardown(void **st) { return nc_tauth_stop(*st); }
#define req(st, ...) nc_tauth_req(*(st), __VA_ARGS__)

#define SVC "/nacos/v1/ns/service?serviceName=as&protectThreshold=0.4"

static void test_service_writes_need_write_permission(void **st) {
  char buf[4096];
  char *adm = nc_tauth_login(*st, "nacos", NC_TEST_ADMIN_PW);
  char *ro = nc_tauth_user_token(*st, adm, "reader", "public:*:*", "r");
  char *dev = nc_tauth_user_token(*st, adm, "devw", "dev:*:*", "rw");
  assert_int_equal(req(st, "POST", SVC, NULL, NULL, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "user not found!");
  assert_int_equal(req(st, "POST", SVC, NULL, ro, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "authorization failed!");
  assert_int_equal(req(st, "POST", SVC, NULL, dev, buf, sizeof(buf)), 403);
  /* nothing was created */
  assert_int_equal(req(st, "GET", "/nacos/v1/ns/service?serviceName=as", NULL, adm, buf,
                       sizeof(buf)), 400);
  /* the admin creates; the reader reads, may not update or delete */
  assert_int_equal(req(st, "POST", SVC, NULL, adm, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "ok");
  assert_int_equal(req(st, "GET", "/nacos/v1/ns/service?serviceName=as", NULL, ro, buf,
                       sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"protectThreshold\":0.4"));
  assert_int_equal(req(st, "PUT", "/nacos/v2/ns/service?serviceName=as", NULL, ro, buf,
                       sizeof(buf)), 403);
  assert_int_equal(req(st, "DELETE", "/nacos/v1/ns/service?serviceName=as", NULL, ro, buf,
                       sizeof(buf)), 403);
  assert_int_equal(req(st, "GET", "/nacos/v1/ns/service?serviceName=as", NULL, adm, buf,
                       sizeof(buf)), 200);
  /* dev's writer works in dev */
  assert_int_equal(req(st, "POST", "/nacos/v2/ns/service?namespaceId=dev&serviceName=as", NULL,
                       dev, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"code\":0"));
  /* instance update: an override needs 'w' too */
  assert_int_equal(req(st, "POST", "/nacos/v1/ns/instance?serviceName=as&ip=1.2.3.4&port=1", NULL,
                       adm, buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "PUT", "/nacos/v1/ns/instance?serviceName=as&ip=1.2.3.4&port=1"
                                  "&weight=9", NULL, ro, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "PUT", "/nacos/v1/ns/instance?serviceName=as&ip=1.2.3.4&port=1"
                                  "&weight=9", NULL, adm, buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "GET", "/nacos/v1/ns/instance/list?serviceName=as", NULL, ro, buf,
                       sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"weight\":9"));
  free(ro);
  free(dev);
  free(adm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_service_writes_need_write_permission, setup, teardown),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
