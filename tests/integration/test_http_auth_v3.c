/* The Nacos 3.x auth paths (issue 14) on a real nacosd with --auth on:
 * POST /nacos/v3/auth/user/login answers as Nacos 3.x's UserControllerV3
 * (the object itself, an Authorization header); the user, role and
 * permission paths answer in the Result envelope with Nacos's codes
 * (10000 a missing parameter, 20002 what Nacos throws as an illegal
 * argument); without a token 403 "user not found!", a non-admin 403
 * "authorization failed!". The first admin password over v1 and v3:
 * set once, then refused as Nacos refuses. */
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

#define ADMIN_PW NC_TEST_ADMIN_PW
#define V3 "/nacos/v3/auth/"
#define BAD_LOGIN "User not found! Please check user exist or password is right!"

static int setup(void **st) { return nc_tauth_start(NULL, (nc_tauth **)st); }
static int teardown(void **st) { return nc_tauth_stop(*st); }
#define req(st, ...) nc_tauth_req(*(st), __VA_ARGS__)

/* Asserts buf is a Result with code and (when not NULL) a string data. */
static void result_is(const char *buf, int code, const char *data) {
  cJSON *o = cJSON_Parse(buf);
  assert_non_null(o);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "code")), code);
  const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(o, "message"));
  assert_non_null(msg);
  if (code == 0)
    assert_string_equal(msg, "success");
  else if (code == 10000)
    assert_string_equal(msg, "parameter missing");
  else if (code == 20002)
    assert_string_equal(msg, "parameter validate error");
  if (data)
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "data")), data);
  cJSON_Delete(o);
}

/* data.totalCount of a Page Result. */
static int total_of(const char *buf) {
  cJSON *o = cJSON_Parse(buf);
  assert_non_null(o);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "code")), 0);
  cJSON *d = cJSON_GetObjectItem(o, "data");
  assert_true(cJSON_IsArray(cJSON_GetObjectItem(d, "pageItems")));
  int n = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "totalCount"));
  cJSON_Delete(o);
  return n;
}

/* POST v3 login: the token (malloc'ed) after checking every field. */
static char *v3_login(void **st, const char *user, const char *pw, int admin) {
  char form[256], buf[4096];
  snprintf(form, sizeof(form), "username=%s&password=%s", user, pw);
  assert_int_equal(req(st, "POST", V3 "user/login", form, NULL, buf, sizeof(buf)), 200);
  cJSON *o = cJSON_Parse(buf);
  assert_non_null(o);
  const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(o, "accessToken"));
  assert_non_null(t);
  assert_true(strlen(t) > 20);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "tokenTtl")), 18000);
  assert_true(cJSON_IsBool(cJSON_GetObjectItem(o, "globalAdmin")));
  assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(o, "globalAdmin")), admin);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "username")), user);
  assert_int_equal(cJSON_GetArraySize(o), 4);
  char *tok = strdup(t);
  cJSON_Delete(o);
  return tok;
}

static void test_v3_login_success_and_failure(void **st) {
  char buf[4096], path[512];
  char *adm = v3_login(st, "nacos", ADMIN_PW, 1);
  /* username and password in the query string, as the 3.x SDK may send them */
  snprintf(path, sizeof(path), V3 "user/login?username=nacos&password=%s", ADMIN_PW);
  assert_int_equal(req(st, "POST", path, NULL, NULL, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"accessToken\":\""));
  assert_int_equal(req(st, "POST", V3 "user/login", "username=nacos&password=wrong", NULL, buf,
                       sizeof(buf)),
                   403);
  assert_string_equal(buf, BAD_LOGIN);
  assert_int_equal(req(st, "POST", V3 "user/login", "username=ghost&password=x", NULL, buf,
                       sizeof(buf)),
                   403);
  assert_string_equal(buf, BAD_LOGIN);
  assert_int_equal(req(st, "POST", V3 "user/login", NULL, NULL, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "GET", V3 "user/login", NULL, NULL, buf, sizeof(buf)), 405);
  /* the token works on protected routes, v3 and others */
  assert_int_equal(req(st, "GET", V3 "user/list?pageNo=1&pageSize=10", NULL, adm, buf, sizeof(buf)),
                   200);
  assert_int_equal(total_of(buf), 1);
  assert_int_equal(
      req(st, "GET", "/nacos/v1/cs/configs?dataId=d&group=G", NULL, adm, buf, sizeof(buf)), 404);
  assert_int_equal(req(st, "GET", V3 "user/list?pageNo=1&pageSize=10", NULL, NULL, buf, sizeof(buf)),
                   403);
  assert_string_equal(buf, "user not found!");
  assert_int_equal(
      req(st, "GET", V3 "user/list?pageNo=1&pageSize=10", NULL, "x.y.z", buf, sizeof(buf)), 403);
  assert_string_equal(buf, "token invalid!");
  free(adm);
}

static void test_v3_users(void **st) {
  char buf[4096];
  char *adm = v3_login(st, "nacos", ADMIN_PW, 1);
  assert_int_equal(req(st, "POST", V3 "user", "username=bob&password=Pw-bob", adm, buf, sizeof(buf)),
                   200);
  result_is(buf, 0, "create user ok!");
  assert_int_equal(req(st, "POST", V3 "user", "username=bob&password=Pw-bob", adm, buf, sizeof(buf)),
                   400);
  result_is(buf, 20002, "user 'bob' already exist!");
  assert_int_equal(req(st, "POST", V3 "user", "username=al", adm, buf, sizeof(buf)), 400);
  result_is(buf, 10000, "Required parameter 'password' type String is not present");
  assert_int_equal(req(st, "POST", V3 "user", "password=x", adm, buf, sizeof(buf)), 400);
  result_is(buf, 10000, "Required parameter 'username' type String is not present");
  /* no token: username + password are taken as the caller's credentials (as Nacos) */
  assert_int_equal(req(st, "POST", V3 "user", "username=al&password=Pw-al", NULL, buf, sizeof(buf)),
                   403);
  assert_string_equal(buf, BAD_LOGIN);
  assert_int_equal(req(st, "DELETE", V3 "user?username=bob", NULL, NULL, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "user not found!");
  char *bob = v3_login(st, "bob", "Pw-bob", 0);
  assert_int_equal(req(st, "POST", V3 "user", "username=al&password=Pw-al", bob, buf, sizeof(buf)),
                   403);
  assert_string_equal(buf, "authorization failed!");
  /* list: accurate and blur, paging, required page parameters */
  assert_int_equal(req(st, "GET", V3 "user/list?pageNo=1&pageSize=10", NULL, adm, buf, sizeof(buf)),
                   200);
  assert_int_equal(total_of(buf), 2);
  assert_null(strstr(buf, "$argon")); /* never a hash */
  assert_int_equal(
      req(st, "GET", V3 "user/list?pageNo=1&pageSize=10&username=bob", NULL, adm, buf, sizeof(buf)),
      200);
  assert_int_equal(total_of(buf), 1);
  assert_int_equal(
      req(st, "GET", V3 "user/list?pageNo=1&pageSize=10&username=o", NULL, adm, buf, sizeof(buf)),
      200);
  assert_int_equal(total_of(buf), 0);
  assert_int_equal(req(st, "GET", V3 "user/list?pageNo=1&pageSize=10&username=o&search=blur", NULL,
                       adm, buf, sizeof(buf)),
                   200);
  assert_int_equal(total_of(buf), 2);
  assert_int_equal(req(st, "GET", V3 "user/list?pageNo=2&pageSize=1", NULL, adm, buf, sizeof(buf)),
                   200);
  assert_non_null(strstr(buf, "\"pagesAvailable\":2"));
  assert_int_equal(req(st, "GET", V3 "user/list?pageSize=10", NULL, adm, buf, sizeof(buf)), 400);
  result_is(buf, 10000, "Required parameter 'pageNo' type int is not present");
  assert_int_equal(req(st, "GET", V3 "user/list?pageNo=x&pageSize=1", NULL, adm, buf, sizeof(buf)),
                   400);
  result_is(buf, 20002, NULL);
  assert_int_equal(req(st, "GET", V3 "user/list?pageNo=1&pageSize=1", NULL, bob, buf, sizeof(buf)),
                   403);
  assert_int_equal(req(st, "GET", V3 "user/search?username=bo", NULL, adm, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "{\"code\":0,\"message\":\"success\",\"data\":[\"bob\"]}");
  assert_int_equal(req(st, "GET", V3 "user/search", NULL, adm, buf, sizeof(buf)), 400);
  result_is(buf, 10000, NULL);
  /* password: the user itself may, another user may not */
  assert_int_equal(req(st, "PUT", V3 "user", "username=bob&newPassword=Pw-bob2", bob, buf,
                       sizeof(buf)),
                   200);
  result_is(buf, 0, "update user ok!");
  free(v3_login(st, "bob", "Pw-bob2", 0));
  assert_int_equal(req(st, "PUT", V3 "user", "username=nacos&newPassword=Pw-x", bob, buf,
                       sizeof(buf)),
                   403);
  assert_string_equal(buf, "authorization failed!");
  free(v3_login(st, "nacos", ADMIN_PW, 1)); /* unchanged */
  assert_int_equal(req(st, "PUT", V3 "user", "username=bob", adm, buf, sizeof(buf)), 400);
  result_is(buf, 10000, "Required parameter 'newPassword' type String is not present");
  assert_int_equal(req(st, "PUT", V3 "user", "username=zed&newPassword=Pw-z", adm, buf, sizeof(buf)),
                   400);
  result_is(buf, 20002, "user zed not exist!");
  assert_int_equal(req(st, "PUT", V3 "user", "username=bob&newPassword=Pw-b", NULL, buf, sizeof(buf)),
                   403);
  /* delete: never the admin; bob's token no longer names a user */
  assert_int_equal(req(st, "DELETE", V3 "user?username=nacos", NULL, adm, buf, sizeof(buf)), 400);
  result_is(buf, 20002, "cannot delete admin: nacos");
  assert_int_equal(req(st, "DELETE", V3 "user?username=bob", NULL, bob, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "DELETE", V3 "user?username=bob", NULL, adm, buf, sizeof(buf)), 200);
  result_is(buf, 0, "delete user ok!");
  assert_int_equal(req(st, "DELETE", V3 "user", NULL, adm, buf, sizeof(buf)), 400);
  result_is(buf, 10000, NULL);
  assert_int_equal(req(st, "POST", V3 "user/login", "username=bob&password=Pw-bob2", NULL, buf,
                       sizeof(buf)),
                   403);
  free(bob);
  free(adm);
}

static void test_v3_roles(void **st) {
  char buf[4096];
  char *adm = v3_login(st, "nacos", ADMIN_PW, 1);
  nc_tauth_user(*st, adm, "carl", "public:*:*", "r"); /* carl-role */
  char *carl = v3_login(st, "carl", "Pw-carl", 0);
  assert_int_equal(req(st, "POST", V3 "role", "role=ops&username=carl", adm, buf, sizeof(buf)), 200);
  result_is(buf, 0, "add role ok!");
  assert_int_equal(req(st, "POST", V3 "role", "role=ops&username=carl", adm, buf, sizeof(buf)), 400);
  result_is(buf, 20002, "user 'carl' already bound to the role 'ops'!");
  assert_int_equal(req(st, "POST", V3 "role", "role=ops&username=zed", adm, buf, sizeof(buf)), 400);
  result_is(buf, 20002, "user 'zed' not found!");
  assert_int_equal(req(st, "POST", V3 "role", "role=ROLE_ADMIN&username=carl", adm, buf,
                       sizeof(buf)),
                   400);
  result_is(buf, 20002, "role 'ROLE_ADMIN' is not permitted to create!");
  assert_int_equal(req(st, "POST", V3 "role", "role=ops", adm, buf, sizeof(buf)), 400);
  result_is(buf, 10000, "Required parameter 'username' type String is not present");
  assert_int_equal(req(st, "POST", V3 "role", "role=x&username=carl", NULL, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "POST", V3 "role", "role=x&username=carl", carl, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "authorization failed!");
  /* list: nacos/ROLE_ADMIN, carl/carl-role, carl/ops */
  assert_int_equal(req(st, "GET", V3 "role/list?pageNo=1&pageSize=10", NULL, adm, buf, sizeof(buf)),
                   200);
  assert_int_equal(total_of(buf), 3);
  assert_int_equal(req(st, "GET", V3 "role/list?pageNo=1&pageSize=10&username=carl", NULL, adm, buf,
                       sizeof(buf)),
                   200);
  assert_int_equal(total_of(buf), 2);
  assert_int_equal(
      req(st, "GET", V3 "role/list?pageNo=1&pageSize=10&role=ops", NULL, adm, buf, sizeof(buf)), 200);
  assert_int_equal(total_of(buf), 1);
  assert_non_null(strstr(buf, "{\"role\":\"ops\",\"username\":\"carl\"}"));
  assert_int_equal(req(st, "GET", V3 "role/list?pageNo=1&pageSize=10&role=o&search=blur", NULL, adm,
                       buf, sizeof(buf)),
                   200);
  assert_int_equal(total_of(buf), 2); /* carl-role, ops */
  assert_int_equal(req(st, "GET", V3 "role/list?pageNo=1", NULL, adm, buf, sizeof(buf)), 400);
  result_is(buf, 10000, "Required parameter 'pageSize' type int is not present");
  assert_int_equal(req(st, "GET", V3 "role/list?pageNo=1&pageSize=1", NULL, carl, buf, sizeof(buf)),
                   403);
  assert_int_equal(req(st, "GET", V3 "role/search?role=op", NULL, adm, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "{\"code\":0,\"message\":\"success\",\"data\":[\"ops\"]}");
  assert_int_equal(req(st, "GET", V3 "role/search", NULL, adm, buf, sizeof(buf)), 400);
  result_is(buf, 10000, "Required parameter 'role' type String is not present");
  /* delete */
  assert_int_equal(req(st, "DELETE", V3 "role?role=ops&username=carl", NULL, adm, buf, sizeof(buf)),
                   200);
  result_is(buf, 0, "delete role of user carl ok!");
  assert_int_equal(req(st, "DELETE", V3 "role?role=ROLE_ADMIN", NULL, adm, buf, sizeof(buf)), 400);
  result_is(buf, 20002, "role 'ROLE_ADMIN' is not permitted to delete!");
  assert_int_equal(req(st, "DELETE", V3 "role?username=carl", NULL, adm, buf, sizeof(buf)), 400);
  result_is(buf, 10000, NULL);
  assert_int_equal(req(st, "DELETE", V3 "role?role=carl-role", NULL, NULL, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "GET", V3 "role/list?pageNo=1&pageSize=10&username=carl", NULL, adm, buf,
                       sizeof(buf)),
                   200);
  assert_int_equal(total_of(buf), 1);
  free(carl);
  free(adm);
}

static void test_v3_permissions(void **st) {
  char buf[4096];
  char *adm = v3_login(st, "nacos", ADMIN_PW, 1);
  nc_tauth_user(*st, adm, "dora", "public:*:*", "r"); /* dora-role */
  char *dora = v3_login(st, "dora", "Pw-dora", 0);
#define PERM "role=dora-role&resource=dev:*:*&action=rw"
  assert_int_equal(req(st, "POST", V3 "permission", PERM, adm, buf, sizeof(buf)), 200);
  result_is(buf, 0, "add permission ok!");
  assert_int_equal(req(st, "POST", V3 "permission", PERM, adm, buf, sizeof(buf)), 400);
  result_is(buf, 20002, NULL);
  assert_int_equal(req(st, "POST", V3 "permission", "role=nobody&resource=dev:*:*&action=r", adm,
                       buf, sizeof(buf)),
                   400);
  result_is(buf, 20002, "role nobody not found!");
  assert_int_equal(req(st, "POST", V3 "permission", "role=dora-role&resource=dev:*:*", adm, buf,
                       sizeof(buf)),
                   400);
  result_is(buf, 10000, "Required parameter 'action' type String is not present");
  assert_int_equal(req(st, "POST", V3 "permission", PERM, NULL, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "POST", V3 "permission", PERM, dora, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "authorization failed!");
  /* the duplicate check */
  assert_int_equal(req(st, "GET", V3 "permission?" PERM, NULL, adm, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "{\"code\":0,\"message\":\"success\",\"data\":true}");
  assert_int_equal(req(st, "GET", V3 "permission?role=dora-role&resource=dev:*:*&action=w", NULL,
                       adm, buf, sizeof(buf)),
                   200);
  assert_string_equal(buf, "{\"code\":0,\"message\":\"success\",\"data\":false}");
  assert_int_equal(req(st, "GET", V3 "permission?role=dora-role", NULL, adm, buf, sizeof(buf)), 400);
  result_is(buf, 10000, "Required parameter 'resource' type String is not present");
  /* list */
  assert_int_equal(req(st, "GET", V3 "permission/list?pageNo=1&pageSize=10&role=dora-role", NULL,
                       adm, buf, sizeof(buf)),
                   200);
  assert_int_equal(total_of(buf), 2);
  assert_non_null(
      strstr(buf, "{\"role\":\"dora-role\",\"resource\":\"dev:*:*\",\"action\":\"rw\"}"));
  assert_int_equal(req(st, "GET", V3 "permission/list?pageNo=1&pageSize=10&role=dora&search=blur",
                       NULL, adm, buf, sizeof(buf)),
                   200);
  assert_int_equal(total_of(buf), 2);
  assert_int_equal(req(st, "GET", V3 "permission/list?pageSize=10", NULL, adm, buf, sizeof(buf)),
                   400);
  result_is(buf, 10000, NULL);
  assert_int_equal(
      req(st, "GET", V3 "permission/list?pageNo=1&pageSize=10", NULL, dora, buf, sizeof(buf)), 403);
  /* delete */
  assert_int_equal(req(st, "DELETE", V3 "permission?" PERM, NULL, adm, buf, sizeof(buf)), 200);
  result_is(buf, 0, "delete permission ok!");
  assert_int_equal(req(st, "GET", V3 "permission?" PERM, NULL, adm, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "{\"code\":0,\"message\":\"success\",\"data\":false}");
  assert_int_equal(req(st, "DELETE", V3 "permission?" PERM, NULL, NULL, buf, sizeof(buf)), 403);
  free(dora);
  free(adm);
}

/* ---- the first admin password: a node with --auth on and none set ---- */

static int http(nc_tfx *f, const char *method, const char *path, const char *form, char *buf,
                size_t cap) {
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(f->srv->port, method, path, form, NULL, &status, &b), 0);
  snprintf(buf, cap, "%s", b ? b : "");
  free(b);
  return status;
}

static void test_v1_admin_init_once(void **st) {
  (void)st;
  nc_tfx *f = NULL;
  char buf[4096];
  assert_int_equal(nc_tfx_start((const char *[]){"--auth", "on", NULL}, &f), 0);
  /* no one may log in before */
  assert_int_equal(http(f, "POST", "/nacos/v1/auth/users/login", "username=nacos&password=x", buf,
                        sizeof(buf)),
                   403);
  assert_non_null(strstr(buf, "login disabled"));
  assert_int_equal(http(f, "POST", "/nacos/v1/auth/users/admin", NULL, buf, sizeof(buf)), 400);
  assert_int_equal(http(f, "POST", "/nacos/v1/auth/users/admin", "password=Init-pw1", buf,
                        sizeof(buf)),
                   200);
  assert_string_equal(buf, "{\"username\":\"nacos\"}");
  assert_int_equal(http(f, "POST", "/nacos/v1/auth/users/login", "username=nacos&password=Init-pw1",
                        buf, sizeof(buf)),
                   200);
  assert_non_null(strstr(buf, "\"globalAdmin\":true"));
  /* a second time: refused, the password unchanged */
  assert_int_equal(http(f, "POST", "/nacos/v1/auth/users/admin", "password=Other-pw2", buf,
                        sizeof(buf)),
                   409);
  assert_string_equal(buf, "{\"code\":409,\"message\":\"have admin user cannot use it (the admin "
                           "already has a password)\"}");
  assert_int_equal(http(f, "POST", "/nacos/v3/auth/user/admin", "password=Other-pw2", buf,
                        sizeof(buf)),
                   200);
  assert_string_equal(buf, "{\"code\":409,\"message\":\"have admin user cannot use it.\"}");
  assert_int_equal(http(f, "POST", "/nacos/v1/auth/users/login", "username=nacos&password=Other-pw2",
                        buf, sizeof(buf)),
                   403);
  assert_int_equal(http(f, "POST", "/nacos/v1/auth/users/login", "username=nacos&password=Init-pw1",
                        buf, sizeof(buf)),
                   200);
  assert_int_equal(nc_tfx_stop(f), 0);
}

static void test_v3_admin_init_generates_password(void **st) {
  (void)st;
  nc_tfx *f = NULL;
  char buf[4096], form[256];
  assert_int_equal(nc_tfx_start((const char *[]){"--auth", "on", NULL}, &f), 0);
  assert_int_equal(http(f, "POST", "/nacos/v3/auth/user/admin", NULL, buf, sizeof(buf)), 200);
  cJSON *o = cJSON_Parse(buf);
  assert_non_null(o);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "code")), 0);
  cJSON *d = cJSON_GetObjectItem(o, "data");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "username")), "nacos");
  const char *pw = cJSON_GetStringValue(cJSON_GetObjectItem(d, "password"));
  assert_non_null(pw);
  assert_true(strlen(pw) >= 16);
  snprintf(form, sizeof(form), "username=nacos&password=%s", pw);
  cJSON_Delete(o);
  assert_int_equal(http(f, "POST", "/nacos/v3/auth/user/login", form, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"globalAdmin\":true"));
  assert_int_equal(http(f, "POST", "/nacos/v3/auth/user/admin", NULL, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "{\"code\":409,\"message\":\"have admin user cannot use it.\"}");
  assert_int_equal(http(f, "POST", "/nacos/v1/auth/users/admin", "password=Other-pw2", buf,
                        sizeof(buf)),
                   409);
  assert_int_equal(http(f, "POST", "/nacos/v3/auth/user/login", form, buf, sizeof(buf)), 200);
  assert_int_equal(nc_tfx_stop(f), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_v3_login_success_and_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v3_users, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v3_roles, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v3_permissions, setup, teardown),
      cmocka_unit_test(test_v1_admin_init_once),
      cmocka_unit_test(test_v3_admin_init_generates_password),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
