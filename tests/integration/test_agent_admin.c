/* nacos-agent listing and one-shot ops (issue 9 item 7, agent side):
 * naming.services, config.list, config.history, config.remove's `existed`,
 * naming.register with "detached": true (outlives the app's socket, removed
 * by any app's deregister), input checks (BAD_REQUEST) and no upstream
 * (UNAVAILABLE), against a real nacosd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testwait.h"

static nc_test_stack st;

static int setup(void **s) { return (void)s, nc_test_stack_start(&st, NULL, NULL); }
static int teardown(void **s) { return (void)s, nc_test_stack_stop(&st); }

static tc *app_open(void) {
  tc *c = tc_open(st.ag.sock);
  assert_non_null(c);
  return c;
}

/* The reply's array key, asserted to be there. */
static const cJSON *arr(const cJSON *r, const char *key) {
  const cJSON *a = cJSON_GetObjectItem(r, key);
  assert_true(cJSON_IsArray(a));
  return a;
}

static long long num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItem(o, key);
  assert_true(cJSON_IsNumber(v));
  return (long long)v->valuedouble;
}

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItem(o, key);
  assert_true(cJSON_IsString(v));
  return v->valuestring;
}

/* Sends a request (with "id":9) that must fail with code. */
static void expect_err(tc *c, const char *code, const char *line) {
  cJSON *r = tc_call(c, 9, "%s", line);
  assert_non_null(r);
  if (strcmp(tc_errcode(r), code) != 0)
    fail_msg("%s -> %s, want %s", line, tc_errcode(r), code);
  cJSON_Delete(r);
}

/* expect_err for each "op" plus fields of a NULL-ended list. */
static void expect_errs(tc *c, const char *code, const char *const *reqs) {
  char line[512];
  for (; *reqs; reqs++) {
    snprintf(line, sizeof(line), "{\"id\":9,\"op\":%s}", *reqs);
    expect_err(c, code, line);
  }
}

static void test_services_lists_and_pages(void **state) {
  (void)state;
  tc *app = app_open();
  const char *names[] = {"svc-b", "svc-a", "svc-c"};
  for (int i = 0; i < 3; i++)
    assert_true(tc_call_ok(app, i + 1,
                           "{\"id\":%d,\"op\":\"naming.register\",\"service\":\"%s\","
                           "\"group\":\"ADM\",\"ip\":\"10.8.0.1\",\"port\":%d}",
                           i + 1, names[i], 100 + i));
  cJSON *r = tc_call(app, 9, "{\"id\":9,\"op\":\"naming.services\",\"group\":\"ADM\"}");
  assert_true(tc_ok(r));
  assert_int_equal(num(r, "count"), 3);
  const cJSON *sv = arr(r, "services");
  assert_int_equal(cJSON_GetArraySize(sv), 3);
  int seen = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, sv) for (int i = 0; i < 3; i++) seen |= !strcmp(e->valuestring, names[i])
                                                                    << i;
  assert_int_equal(seen, 7);
  cJSON_Delete(r);
  r = tc_call(app, 9,
              "{\"id\":9,\"op\":\"naming.services\",\"group\":\"ADM\",\"pageNo\":2,\"pageSize\":2}");
  assert_true(tc_ok(r));
  assert_int_equal(num(r, "count"), 3);
  assert_int_equal(cJSON_GetArraySize(arr(r, "services")), 1);
  cJSON_Delete(r);
  /* The default group holds none of them. */
  r = tc_call(app, 9, "{\"id\":9,\"op\":\"naming.services\"}");
  assert_true(tc_ok(r));
  assert_int_equal(num(r, "count"), 0);
  assert_int_equal(cJSON_GetArraySize(arr(r, "services")), 0);
  cJSON_Delete(r);
  const char *const bad[] = {
      "\"naming.services\",\"pageSize\":0",    "\"naming.services\",\"pageSize\":1001",
      "\"naming.services\",\"pageSize\":\"10\"", "\"naming.services\",\"pageNo\":0",
      "\"naming.services\",\"pageNo\":1.5",    NULL};
  expect_errs(app, "BAD_REQUEST", bad);
  tc_close(app);
}

#define PUB_FMT                                                                                    \
  "{\"id\":%d,\"op\":\"config.publish\",\"group\":\"LG\",\"data_id\":\"%s\",\"content\":\"%s\"}"

static void test_config_list_and_history(void **state) {
  (void)state;
  tc *app = app_open();
  assert_true(tc_call_ok(app, 1, PUB_FMT, 1, "a.yaml", "v1"));
  assert_true(tc_call_ok(app, 2, PUB_FMT, 2, "b.yaml", "x"));
  assert_true(tc_call_ok(app, 3, PUB_FMT, 3, "notes.txt", "y"));
  assert_true(tc_call_ok(app, 4, PUB_FMT, 4, "a.yaml", "v2"));

  cJSON *r = tc_call(app, 5, "{\"id\":5,\"op\":\"config.list\",\"group\":\"LG\",\"dataId\":\"*.yaml\"}");
  assert_true(tc_ok(r));
  assert_int_equal(num(r, "totalCount"), 2);
  assert_int_equal(num(r, "pageNumber"), 1);
  assert_int_equal(num(r, "pagesAvailable"), 1);
  const cJSON *items = arr(r, "items");
  assert_int_equal(cJSON_GetArraySize(items), 2);
  const cJSON *it = cJSON_GetArrayItem(items, 0);
  assert_string_equal(str(it, "dataId"), "a.yaml");
  assert_string_equal(str(it, "group"), "LG");
  assert_string_equal(str(it, "namespace"), "");
  /* md5("v2"), the last publish; a time in ms */
  assert_string_equal(str(it, "md5"), "1b267619c4812cc46ee281747884ca50");
  assert_true(num(it, "lastModified") > 1600000000000LL);
  cJSON_Delete(r);
  /* Every group, one per page. */
  r = tc_call(app, 6, "{\"id\":6,\"op\":\"config.list\",\"dataId\":\"*\",\"pageSize\":1,\"pageNo\":3}");
  assert_true(tc_ok(r));
  assert_true(num(r, "totalCount") >= 3);
  assert_int_equal(num(r, "pageNumber"), 3);
  assert_int_equal(cJSON_GetArraySize(arr(r, "items")), 1);
  cJSON_Delete(r);

  /* a.yaml: inserted, updated, removed; newest first. */
  r = tc_call(app, 7, "{\"id\":7,\"op\":\"config.remove\",\"group\":\"LG\",\"data_id\":\"a.yaml\"}");
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  r = tc_call(app, 8, "{\"id\":8,\"op\":\"config.history\",\"group\":\"LG\",\"dataId\":\"a.yaml\"}");
  assert_true(tc_ok(r));
  items = arr(r, "items");
  assert_int_equal(cJSON_GetArraySize(items), 3);
  const char *ops[] = {"D", "U", "I"};
  for (int i = 0; i < 3; i++) {
    it = cJSON_GetArrayItem(items, i);
    assert_string_equal(str(it, "opType"), ops[i]);
    assert_true(num(it, "id") > 0);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(it, "lastModifiedTime")));
    str(it, "md5");
    str(it, "srcIp");
    str(it, "srcUser");
  }
  assert_true(num(cJSON_GetArrayItem(items, 0), "id") > num(cJSON_GetArrayItem(items, 1), "id"));
  cJSON_Delete(r);
  r = tc_call(app, 9,
              "{\"id\":9,\"op\":\"config.history\",\"group\":\"LG\",\"dataId\":\"a.yaml\",\"pageSize\":1}");
  assert_int_equal(cJSON_GetArraySize(arr(r, "items")), 1);
  cJSON_Delete(r);

  /* The last one is the server's own check: fnmatch magic other than '*'. */
  const char *const bad[] = {"\"config.list\",\"pageSize\":1001", "\"config.list\",\"pageNo\":-1",
                             "\"config.history\",\"group\":\"LG\"",
                             "\"config.history\",\"dataId\":\"a.yaml\",\"pageSize\":0",
                             "\"config.list\",\"dataId\":\"a?\"", NULL};
  expect_errs(app, "BAD_REQUEST", bad);
  tc_close(app);
}

static void test_remove_says_whether_it_existed(void **state) {
  (void)state;
  tc *app = app_open();
  assert_true(tc_call_ok(app, 1, PUB_FMT, 1, "gone.txt", "bye"));
  const char *rm = "{\"id\":%d,\"op\":\"config.remove\",\"group\":\"LG\",\"data_id\":\"gone.txt\"}";
  cJSON *r = tc_call(app, 2, rm, 2);
  assert_true(tc_ok(r));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "existed")));
  cJSON_Delete(r);
  r = tc_call(app, 3, rm, 3);
  assert_true(tc_ok(r));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r, "existed")));
  cJSON_Delete(r);
  tc_close(app);
}

#define DREG                                                                                       \
  "{\"id\":%d,\"op\":\"naming.register\",\"service\":\"once\",\"ip\":\"10.8.1.1\",\"port\":7,"     \
  "\"detached\":true}"
#define DEREG                                                                                      \
  "{\"id\":%d,\"op\":\"naming.deregister\",\"service\":\"once\",\"ip\":\"10.8.1.1\",\"port\":7%s}"

static int server_hosts(tc *viewer, const char *svc) {
  cJSON *r = tc_call(viewer, 50, "{\"id\":50,\"op\":\"naming.instances\",\"service\":\"%s\"}", svc);
  int n = tc_ok(r) ? hosts_count(r) : -1;
  cJSON_Delete(r);
  return n;
}

static void test_detached_registration_outlives_its_app(void **state) {
  (void)state;
  tc *once = app_open(), *viewer = app_open();
  cJSON *r = tc_call(once, 1, DREG, 1);
  assert_true(tc_ok(r));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "applied")));
  assert_string_equal(str(r, "instance_id"), "10.8.1.1#7#DEFAULT#DEFAULT_GROUP@@once");
  cJSON_Delete(r);
  expect_err(once, "BAD_REQUEST",
             "{\"id\":9,\"op\":\"naming.register\",\"service\":\"once\",\"ip\":\"10.8.1.1\","
             "\"port\":7,\"detached\":\"yes\"}");
  NC_TEST_WAIT(server_hosts(viewer, "once") == 1, 5000);
  tc_close(once);
  NC_TEST_WAIT(status_int(viewer, "apps") == 1, 5000);
  nc_test_quiet_ms(1000);
  assert_int_equal(server_hosts(viewer, "once"), 1);
  assert_int_equal(status_int(viewer, "instances"), 1);

  /* Any app's deregister releases the detached hold; then nothing is left. */
  tc *other = app_open();
  assert_true(tc_call_ok(other, 1, DEREG, 1, ""));
  NC_TEST_WAIT(server_hosts(viewer, "once") == 0, 5000);
  expect_err(other, "NOT_FOUND",
             "{\"id\":9,\"op\":\"naming.deregister\",\"service\":\"once\",\"ip\":\"10.8.1.1\","
             "\"port\":7}");

  /* Held both ways: "detached": true releases only the detached hold. */
  assert_true(tc_call_ok(other, 2, DREG, 2));
  assert_true(tc_call_ok(other, 3,
                         "{\"id\":3,\"op\":\"naming.register\",\"service\":\"once\","
                         "\"ip\":\"10.8.1.1\",\"port\":7}"));
  assert_true(tc_call_ok(other, 4, DEREG, 4, ",\"detached\":true"));
  expect_err(other, "NOT_FOUND",
             "{\"id\":9,\"op\":\"naming.deregister\",\"service\":\"once\",\"ip\":\"10.8.1.1\","
             "\"port\":7,\"detached\":true}");
  assert_int_equal(server_hosts(viewer, "once"), 1);
  tc_close(other); /* its own hold goes with the socket */
  NC_TEST_WAIT(server_hosts(viewer, "once") == 0, 5000);
  tc_close(viewer);
}

/* Last: stops nacosd (and starts it again for the teardown). */
static void test_no_upstream_is_unavailable(void **state) {
  (void)state;
  tc *app = app_open();
  assert_int_equal(nc_test_nacosd_stop(&st.srv), 0);
  NC_TEST_WAIT(status_int(app, "connected") == 0, 10000);
  const char *const down[] = {"\"naming.services\"", "\"config.list\"",
                              "\"config.history\",\"dataId\":\"a.yaml\"",
                              "\"config.remove\",\"data_id\":\"a.yaml\"", NULL};
  expect_errs(app, "UNAVAILABLE", down);
  /* Input is checked first, connection or not. */
  expect_err(app, "BAD_REQUEST", "{\"id\":9,\"op\":\"config.list\",\"pageSize\":5000}");
  tc_close(app);
  assert_int_equal(nc_test_nacosd_restart(&st.srv, NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_services_lists_and_pages),
      cmocka_unit_test(test_config_list_and_history),
      cmocka_unit_test(test_remove_says_whether_it_existed),
      cmocka_unit_test(test_detached_registration_outlives_its_app),
      cmocka_unit_test(test_no_upstream_is_unavailable),
  };
  return NC_TEST_RUN_GROUP(tests, setup, teardown);
}
