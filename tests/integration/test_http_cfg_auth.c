/* The config history, search, detail and listener endpoints with --auth on
 * (issue 14): without a token they are refused with Nacos's text; reading
 * a key's history, detail or listeners needs 'r' on
 * "<ns>:<group>:config/<dataId>", a rollback 'w'; lists (search, the
 * configs of a namespace, listeners by ip) hold only what the caller may
 * read; a refused rollback changes nothing. */
#include "nc_grpc.h"
#include "nc_testauth.h"

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

#define HIST "/nacos/v1/cs/history?search=accurate&dataId=d&group=G&tenant=dev"

static void test_history_search_listeners(void **st) {
  char buf[8192];
  char *adm = nc_tauth_login(*st, "nacos", NC_TEST_ADMIN_PW);
  assert_int_equal(req(st, "POST", "/nacos/v1/cs/configs?dataId=d&group=G&tenant=dev&content=v1",
                       NULL, adm, buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "POST", "/nacos/v1/cs/configs?dataId=d&group=G&tenant=dev&content=v2",
                       NULL, adm, buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "POST", "/nacos/v1/cs/configs?dataId=s&group=SECRET&tenant=dev"
                                   "&content=x", NULL, adm, buf, sizeof(buf)), 200);
  /* no token */
  assert_int_equal(req(st, "GET", HIST, NULL, NULL, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "user not found!");
  assert_int_equal(req(st, "GET", "/nacos/v3/admin/cs/config/list", NULL, NULL, buf, sizeof(buf)),
                   403);
  assert_int_equal(req(st, "GET", "/nacos/v1/cs/listener?ip=127.0.0.1", NULL, NULL, buf,
                       sizeof(buf)), 403);
  /* the admin reads everything */
  assert_int_equal(req(st, "GET", HIST, NULL, adm, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"totalCount\":2"));
  char *rd = nc_tauth_user_token(*st, adm, "reader", "dev:G:config/*", "r");
  /* r on G: history and detail of d, not of SECRET's s; no rollback */
  assert_int_equal(req(st, "GET", HIST, NULL, rd, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"totalCount\":2"));
  long long id = 0;
  const char *p = strstr(buf, "\"id\":\"");
  assert_non_null(p);
  id = atoll(p + 6);
  assert_int_equal(req(st, "GET", "/nacos/v1/cs/history?search=accurate&dataId=s&group=SECRET"
                                  "&tenant=dev", NULL, rd, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "authorization failed!");
  assert_int_equal(req(st, "GET", "/nacos/v1/cs/configs?show=all&dataId=d&group=G&tenant=dev",
                       NULL, rd, buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "GET", "/nacos/v3/admin/cs/config?dataId=s&groupName=SECRET"
                                  "&namespaceId=dev", NULL, rd, buf, sizeof(buf)), 403);
  char path[256];
  snprintf(path, sizeof(path), "/nacos/v1/cs/history/rollback?dataId=d&group=G&tenant=dev&nid=%lld",
           id);
  assert_int_equal(req(st, "POST", path, NULL, rd, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "GET", "/nacos/v1/cs/configs?dataId=d&group=G&tenant=dev", NULL, rd,
                       buf, sizeof(buf)), 200);
  assert_string_equal(buf, "v2"); /* unchanged */
  /* lists hold only what the reader may read */
  assert_int_equal(req(st, "GET", "/nacos/v1/cs/configs?search=blur&pageNo=1&pageSize=9&tenant=dev",
                       NULL, rd, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"totalCount\":1"));
  assert_null(strstr(buf, "SECRET"));
  assert_int_equal(req(st, "GET", "/nacos/v1/cs/configs?search=blur&pageNo=1&pageSize=9&tenant=dev",
                       NULL, adm, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"totalCount\":2"));
  assert_int_equal(req(st, "GET", "/nacos/v2/cs/history/configs?namespaceId=dev", NULL, rd, buf,
                       sizeof(buf)), 200);
  assert_null(strstr(buf, "SECRET"));
  assert_non_null(strstr(buf, "\"dataId\":\"d\""));
  /* listeners of a key: 'r' on it */
  assert_int_equal(req(st, "GET", "/nacos/v1/cs/configs/listener?dataId=d&group=G&tenant=dev",
                       NULL, rd, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"collectStatus\":200"));
  assert_int_equal(req(st, "GET", "/nacos/v1/cs/configs/listener?dataId=s&group=SECRET&tenant=dev",
                       NULL, rd, buf, sizeof(buf)), 403);
  /* a writer may roll back */
  char *wr = nc_tauth_user_token(*st, adm, "writer", "dev:G:config/d", "rw");
  assert_int_equal(req(st, "POST", path, NULL, wr, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "true");
  assert_int_equal(req(st, "GET", "/nacos/v1/cs/configs?dataId=d&group=G&tenant=dev", NULL, rd,
                       buf, sizeof(buf)), 200);
  assert_string_equal(buf, "v1");
  free(wr);
  free(rd);
  free(adm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_history_search_listeners, setup, teardown),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
