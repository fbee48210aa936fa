/* The namespace API with --auth on (issue 14): without a token every
 * route is refused with Nacos's text; any logged-in user may list and
 * read; creating, changing and removing a namespace needs a global admin
 * (403 "authorization failed!" for others, and nothing changes). */
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
#define V1 "/nacos/v1/console/namespaces"
#define V2 "/nacos/v2/console/namespace"

/* The fixture and its requests: nc_testauth.h. */
static int setup(void **st) { return nc_tauth_start(NULL, (nc_tauth **)st); }
static int teardown(void **st) { return nc_tauth_stop(*st); }
#define req(st, ...) nc_tauth_req(*(st), __VA_ARGS__)
#define login(st, user, pw) nc_tauth_login(*(st), user, pw)

static void test_no_token_is_refused(void **st) {
  char buf[4096];
  assert_int_equal(req(st, "GET", V1, NULL, NULL, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "user not found!");
  assert_int_equal(req(st, "GET", V2 "/list", NULL, NULL, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "POST", V1, "customNamespaceId=x&namespaceName=X", NULL, buf,
                       sizeof(buf)),
                   403);
  assert_int_equal(req(st, "DELETE", V2 "?namespaceId=x", NULL, "abc.def.ghi", buf, sizeof(buf)),
                   403);
  assert_string_equal(buf, "token invalid!");
}

static void test_writes_need_an_admin(void **st) {
  char buf[4096];
  char *adm = login(st, "nacos", ADMIN_PW);
  assert_int_equal(req(st, "POST", "/nacos/v1/auth/users", "username=bob&password=Pw-bob1", adm,
                       buf, sizeof(buf)),
                   200);
  char *bob = login(st, "bob", "Pw-bob1");
  /* bob reads */
  assert_int_equal(req(st, "GET", V1, NULL, bob, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"namespaceShowName\":\"public\""));
  /* but may not write, on v1 or v2 */
  assert_int_equal(req(st, "POST", V1, "customNamespaceId=b1&namespaceName=B", bob, buf,
                       sizeof(buf)),
                   403);
  assert_string_equal(buf, "authorization failed!");
  assert_int_equal(req(st, "POST", V2, "namespaceId=b1&namespaceName=B", bob, buf, sizeof(buf)),
                   403);
  /* the admin may */
  assert_int_equal(req(st, "POST", V2, "namespaceId=team&namespaceName=Team", adm, buf,
                       sizeof(buf)),
                   200);
  assert_int_equal(req(st, "PUT", V1, "namespace=team&namespaceShowName=T2", bob, buf, sizeof(buf)),
                   403);
  assert_int_equal(req(st, "DELETE", V1 "?namespaceId=team", NULL, bob, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "authorization failed!");
  /* nothing bob tried changed anything */
  assert_int_equal(req(st, "GET", V2 "?namespaceId=team", NULL, bob, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"namespaceShowName\":\"Team\""));
  assert_int_equal(req(st, "GET", V2 "?namespaceId=b1", NULL, bob, buf, sizeof(buf)), 404);
  assert_int_equal(req(st, "DELETE", V1 "?namespaceId=team", NULL, adm, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "true");
  assert_int_equal(req(st, "GET", V2 "?namespaceId=team", NULL, adm, buf, sizeof(buf)), 404);
  free(adm);
  free(bob);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_no_token_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writes_need_an_admin, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
