/* The config open API with --auth on (issue 14): without a token or with a
 * bad one every route is refused with Nacos's text; with one, the user
 * needs the permission on "<ns>:<group>:config/<dataId>" ('r' for GET, 'w'
 * for publish and remove), as the gRPC side checks it; the admin may do
 * everything; a refused write changes nothing; the long-poll listener
 * needs 'r' on every key it lists. */
#include "nc_grpc.h"
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
#include <time.h>

#define ADMIN_PW "Adm1n-pw"

typedef struct fx {
  char dir[256];
  nc_tfx *f;
} fx;

static int setup(void **st) {
  fx *x = calloc(1, sizeof(*x));
  char pw[300];
  if (!x || nc_test_mkdtemp(x->dir, sizeof(x->dir)))
    return -1;
  snprintf(pw, sizeof(pw), "%s/admin.pw", x->dir);
  FILE *fp = fopen(pw, "w");
  fputs(ADMIN_PW "\n", fp);
  fclose(fp);
  const char *args[] = {"--auth", "on", "--admin-password-file", pw, NULL};
  int rc = nc_tfx_start(args, &x->f);
  *st = x;
  return rc ? -1 : 0;
}
static int teardown(void **st) {
  fx *x = *st;
  int rc = nc_tfx_stop(x->f);
  nc_test_rmtree(x->dir);
  free(x);
  return rc ? -1 : 0;
}

static int port(void **st) { return ((fx *)*st)->f->srv->port; }

/* status of one request; body copied to buf */
static int req(void **st, const char *method, const char *path, const char *form,
               const char *tok, char *buf, size_t cap) {
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(port(st), method, path, form, tok, &status, &b), 0);
  snprintf(buf, cap, "%s", b ? b : "");
  free(b);
  return status;
}

static char *login(void **st, const char *user, const char *pw) {
  char form[256], buf[4096];
  snprintf(form, sizeof(form), "username=%s&password=%s", user, pw);
  assert_int_equal(req(st, "POST", "/nacos/v1/auth/login", form, NULL, buf, sizeof(buf)), 200);
  cJSON *o = cJSON_Parse(buf);
  assert_non_null(o);
  char *t = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(o, "accessToken")));
  cJSON_Delete(o);
  return t;
}

/* A user with role <user>-role holding (resource, action). */
static char *user_with(void **st, const char *admin, const char *user, const char *resource,
                       const char *action) {
  char form[512], buf[4096];
  snprintf(form, sizeof(form), "username=%s&password=Pw-%s", user, user);
  assert_int_equal(req(st, "POST", "/nacos/v1/auth/users", form, admin, buf, sizeof(buf)), 200);
  snprintf(form, sizeof(form), "role=%s-role&username=%s", user, user);
  assert_int_equal(req(st, "POST", "/nacos/v1/auth/roles", form, admin, buf, sizeof(buf)), 200);
  snprintf(form, sizeof(form), "role=%s-role&resource=%s&action=%s", user, resource, action);
  assert_int_equal(req(st, "POST", "/nacos/v1/auth/permissions", form, admin, buf, sizeof(buf)),
                   200);
  snprintf(form, sizeof(form), "Pw-%s", user);
  return login(st, user, form);
}

#define CFG "/nacos/v1/cs/configs?dataId=d&group=G&tenant=dev"
#define CFG2 "/nacos/v2/cs/config?dataId=d&group=G&namespaceId=dev"

static void test_no_token_is_refused(void **st) {
  char buf[4096];
  assert_int_equal(req(st, "POST", CFG "&content=x", NULL, NULL, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "user not found!");
  assert_int_equal(req(st, "GET", CFG, NULL, NULL, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "user not found!");
  assert_int_equal(req(st, "DELETE", CFG2, NULL, NULL, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "GET", CFG2, NULL, "abc.def.ghi", buf, sizeof(buf)), 403);
  assert_string_equal(buf, "token invalid!");
  char *adm = login(st, "nacos", ADMIN_PW);
  assert_int_equal(req(st, "GET", CFG, NULL, adm, buf, sizeof(buf)), 404);
  free(adm);
}

static void test_admin_may_do_everything(void **st) {
  char buf[4096], path[2048];
  char *adm = login(st, "nacos", ADMIN_PW);
  assert_int_equal(req(st, "POST", CFG "&content=x", NULL, adm, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "true");
  /* the token as the accessToken parameter, as old clients send it */
  snprintf(path, sizeof(path), CFG "&accessToken=%s", adm);
  assert_int_equal(req(st, "GET", path, NULL, NULL, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "x");
  assert_int_equal(req(st, "GET", CFG2, NULL, adm, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"data\":\"x\""));
  assert_int_equal(req(st, "DELETE", CFG2, NULL, adm, buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "GET", CFG, NULL, adm, buf, sizeof(buf)), 404);
  free(adm);
}

/* r on dev's group G reads but may not write; w on one dataId writes that
 * one only; nothing in another namespace. */
static void test_namespace_permissions(void **st) {
  char buf[4096];
  char *adm = login(st, "nacos", ADMIN_PW);
  assert_int_equal(req(st, "POST", CFG "&content=v1", NULL, adm, buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "POST", "/nacos/v1/cs/configs?dataId=d&group=G&content=pub", NULL, adm,
                       buf, sizeof(buf)), 200);
  char *rd = user_with(st, adm, "reader", "dev:G:config/*", "r");
  char *wr = user_with(st, adm, "writer", "dev:G:config/d", "w");
  assert_int_equal(req(st, "GET", CFG, NULL, rd, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "v1");
  assert_int_equal(req(st, "POST", CFG "&content=v2", NULL, rd, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "authorization failed!");
  assert_int_equal(req(st, "DELETE", CFG2, NULL, rd, buf, sizeof(buf)), 403);
  /* the public namespace is not dev */
  assert_int_equal(req(st, "GET", "/nacos/v1/cs/configs?dataId=d&group=G", NULL, rd, buf,
                       sizeof(buf)), 403);
  /* the writer: w on d, not r, not another dataId */
  assert_int_equal(req(st, "POST", CFG "&content=v2", NULL, wr, buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "GET", CFG, NULL, wr, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "POST", "/nacos/v2/cs/config?dataId=e&group=G&namespaceId=dev"
                                   "&content=x", NULL, wr, buf, sizeof(buf)), 403);
  /* the refused writes changed nothing; the permitted one did */
  assert_int_equal(req(st, "GET", CFG, NULL, rd, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "v2");
  assert_int_equal(req(st, "GET", "/nacos/v2/cs/config?dataId=e&group=G&namespaceId=dev", NULL,
                       adm, buf, sizeof(buf)), 404);
  /* the long-poll listener: r per key; a refusal waits 1 s (clients re-poll at once) */
  assert_int_equal(req(st, "POST", "/nacos/v1/cs/configs/listener",
                       "Listening-Configs=d%02G%02stale%02dev%01", rd, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "d%02G%02dev%01");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(req(st, "POST", "/nacos/v1/cs/configs/listener",
                       "Listening-Configs=d%02G%02stale%02dev%01d%02G%02stale%01", rd, buf,
                       sizeof(buf)), 403);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_string_equal(buf, "authorization failed!");
  assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 900);
  free(rd);
  free(wr);
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
