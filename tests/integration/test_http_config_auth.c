/* The config open API with --auth on (issue 14): without a token or with a
 * bad one every route is refused with Nacos's text; with one, the user
 * needs the permission on "<ns>:<group>:config/<dataId>" ('r' for GET, 'w'
 * for publish and remove), as the gRPC side checks it; the admin may do
 * everything; a refused write changes nothing; the long-poll listener
 * needs 'r' on every key it lists. */
#include "nc_grpc.h"
#include "nc_testauth.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_PW NC_TEST_ADMIN_PW

/* The fixture and its requests: nc_testauth.h. */
static int setup(void **st) { return nc_tauth_start(NULL, (nc_tauth **)st); }
static int teardown(void **st) { return nc_tauth_stop(*st); }
#define req(st, ...) nc_tauth_req(*(st), __VA_ARGS__)
#define login(st, user, pw) nc_tauth_login(*(st), user, pw)
#define user_with(st, ...) nc_tauth_user_token(*(st), __VA_ARGS__)

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

static long long ms_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (t1.tv_sec - t0->tv_sec) * 1000LL + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

#define LISTEN "/nacos/v1/cs/configs/listener"
#define LKEYS "Listening-Configs=d%02G%02%01"

/* The v1 listener's auth refusal (no token, a bad one, bad credentials) is
 * held ~1 s like its other errors; every other route still answers its 403
 * at once, and a permitted poll is not delayed by the gate. */
static void test_listener_auth_refusal_is_held(void **st) {
  char buf[4096];
  struct timespec t0;
  static const char *const toks[] = {NULL, "abc.def.ghi"};
  static const char *const msgs[] = {"user not found!", "token invalid!"};
  for (int i = 0; i < 2; i++) {
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(req(st, "POST", LISTEN, LKEYS, toks[i], buf, sizeof(buf)), 403);
    long long ms = ms_since(&t0);
    assert_string_equal(buf, msgs[i]);
    assert_true(ms >= 900);
    assert_true(ms < 5000);
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(req(st, "POST", LISTEN, LKEYS "&username=nacos&password=wrong", NULL, buf,
                       sizeof(buf)),
                   403);
  assert_true(ms_since(&t0) >= 900);
  /* other routes: unchanged, answered at once */
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(req(st, "GET", CFG, NULL, NULL, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "user not found!");
  assert_int_equal(req(st, "GET", "/nacos/v1/cs/listener?ip=127.0.0.1", NULL, NULL, buf,
                       sizeof(buf)),
                   403);
  assert_int_equal(req(st, "GET", "/nacos/v3/admin/cs/config/listener?dataId=d&groupName=G", NULL,
                       "abc.def.ghi", buf, sizeof(buf)),
                   403);
  assert_int_equal(req(st, "GET", "/nacos/v1/ns/instance/list?serviceName=s", NULL, NULL, buf,
                       sizeof(buf)),
                   403);
  assert_true(ms_since(&t0) < 700);
  /* the admin's poll on a changed key answers at once */
  char *adm = login(st, "nacos", ADMIN_PW);
  assert_int_equal(
      req(st, "POST", "/nacos/v1/cs/configs?dataId=d&group=G&content=x", NULL, adm, buf, sizeof(buf)),
      200);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(req(st, "POST", LISTEN, LKEYS, adm, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "d%02G%01");
  assert_true(ms_since(&t0) < 700);
  free(adm);
}

typedef struct held_call {
  int port, status, rc;
} held_call;

static void *held_poll(void *arg) {
  held_call *c = arg;
  char *b = NULL;
  c->rc = nc_test_http_req(c->port, "POST", LISTEN, LKEYS, NULL, &c->status, &b);
  free(b);
  return NULL;
}

/* A refusal still held when nacosd stops (300 ms into its 1 s): the
 * connection is cut or answered 503, never the 403, and nacosd exits
 * cleanly (no leak of the held request or its timer). */
static void test_held_refusal_at_shutdown(void **st) {
  held_call c = {.port = nc_tauth_port(*st), .status = -1, .rc = -2};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, held_poll, &c), 0);
  usleep(300 * 1000); /* the request is held by now (1 s) */
  int rc = nc_tauth_stop(*st);
  *st = NULL;
  pthread_join(t, NULL);
  assert_int_equal(rc, 0);
  assert_true(c.rc != 0 || c.status == 503);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_no_token_is_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_admin_may_do_everything, setup, teardown),
      cmocka_unit_test_setup_teardown(test_namespace_permissions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listener_auth_refusal_is_held, setup, teardown),
      cmocka_unit_test_setup_teardown(test_held_refusal_at_shutdown, setup, teardown),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
