/* The agent's choice of server on a cluster (agent/upstream_pick.h): rounds
 * list every server once, members last seen UP and ready first, servers the
 * member list did not name next, members not UP or not ready (or that just
 * failed a connect) after, the server that just failed us last. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "upstream_pick.h"

#include <stdio.h>
#include <string.h>

#define N 4

static nc_server_addr g_srv[N];

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < N; i++) {
    snprintf(g_srv[i].host, sizeof(g_srv[i].host), "127.0.9.%d", i + 1);
    g_srv[i].port = 8848;
    g_srv[i].grpc_port = 9848;
  }
  return 0;
}

/* A member list: one entry per spec "ip state ready". */
static cJSON *members(const char *const *spec) {
  cJSON *a = cJSON_CreateArray();
  for (; *spec; spec++) {
    char ip[32], st[16], rd[8];
    assert_int_equal(sscanf(*spec, "%31s %15s %7s", ip, st, rd), 3);
    cJSON *m = cJSON_CreateObject(), *ext = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "ip", ip);
    cJSON_AddNumberToObject(m, "port", 8848);
    cJSON_AddStringToObject(m, "state", st);
    cJSON_AddBoolToObject(ext, "nc.ready", strcmp(rd, "ready") == 0);
    cJSON_AddItemToObject(m, "extendInfo", ext);
    cJSON_AddItemToArray(a, m);
  }
  return a;
}

/* The whole round as indexes; asserts it lists every server once. */
static void round_of(nc_upick *p, int avoid, int out[N]) {
  int seen[N] = {0};
  nc_upick_round(p, avoid);
  for (int i = 0; i < N; i++) {
    out[i] = nc_upick_next(p);
    assert_true(out[i] >= 0 && out[i] < N);
    assert_int_equal(seen[out[i]]++, 0);
  }
  assert_int_equal(nc_upick_next(p), -1);
}

static void test_ready_members_first_avoided_last(void **state) {
  (void)state;
  nc_upick *p = nc_upick_new(g_srv, N, 7);
  assert_non_null(p);
  /* .1 starting (UP, not ready), .2 DOWN, .3 UP and ready, .4 not listed */
  const char *const spec[] = {"127.0.9.1 UP starting", "127.0.9.2 DOWN ready",
                              "127.0.9.3 UP ready", "10.0.0.9 UP ready", NULL};
  cJSON *m = members(spec);
  assert_int_equal(nc_upick_learn(p, m), 3);
  cJSON_Delete(m);
  assert_int_equal(nc_upick_rank(p, 0), -1);
  assert_int_equal(nc_upick_rank(p, 1), -1);
  assert_int_equal(nc_upick_rank(p, 2), 1);
  assert_int_equal(nc_upick_rank(p, 3), 0);
  for (int r = 0; r < 20; r++) { /* ties are random; the classes are not */
    int o[N];
    round_of(p, -1, o);
    assert_int_equal(o[0], 2);
    assert_int_equal(o[1], 3);
    assert_true((o[2] == 0 && o[3] == 1) || (o[2] == 1 && o[3] == 0));
    round_of(p, 2, o); /* the good one just failed us: it goes last */
    assert_int_equal(o[0], 3);
    assert_int_equal(o[3], 2);
  }
  nc_upick_free(p);
}

static void test_failed_connect_ranks_bad_until_relearned(void **state) {
  (void)state;
  nc_upick *p = nc_upick_new(g_srv, N, 11);
  assert_non_null(p);
  int o[N];
  nc_upick_failed(p, 1);
  for (int r = 0; r < 20; r++) {
    round_of(p, -1, o);
    assert_int_equal(o[3], 1);
  }
  const char *const spec[] = {"127.0.9.2 UP ready", NULL};
  cJSON *m = members(spec);
  assert_int_equal(nc_upick_learn(p, m), 1);
  cJSON_Delete(m);
  round_of(p, -1, o);
  assert_int_equal(o[0], 1);
  /* not an array (a standalone server's error body): nothing changes */
  cJSON *bad = cJSON_CreateObject();
  assert_int_equal(nc_upick_learn(p, bad), 0);
  cJSON_Delete(bad);
  assert_int_equal(nc_upick_rank(p, 1), 1);
  nc_upick_failed(p, 99); /* out of range: ignored */
  assert_int_equal(nc_upick_rank(p, 99), 0);
  nc_upick_free(p);
}

static void test_no_list_every_order_occurs(void **state) {
  (void)state;
  nc_upick *p = nc_upick_new(g_srv, N, 3);
  assert_non_null(p);
  int first[N] = {0}, o[N];
  for (int r = 0; r < 200; r++) {
    round_of(p, -1, o);
    first[o[0]]++;
  }
  for (int i = 0; i < N; i++) /* spread, not always the first entry */
    assert_true(first[i] > 10);
  nc_upick_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ready_members_first_avoided_last),
      cmocka_unit_test(test_failed_connect_ranks_bad_until_relearned),
      cmocka_unit_test(test_no_list_every_order_occurs),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
