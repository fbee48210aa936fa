/* Integration tests of nacos-c's own config requests on the real nacosd:
 * NcConfigListRequest (filters, glob, stable paging, bad input) and
 * NcConfigHistoryRequest (newest first, ops and md5s, limits, bad key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config_itest.h"
#include "nc_grpc.h"
#include "nc_md5.h"

/* The client of every test: the fixture's first. */
static nc_tw *client(void **state) {
  nc_tfx *f = *state;
  if (!f->tw[0])
    cfg_connect(f, 0);
  assert_non_null(f->tw[0]);
  return f->tw[0];
}

static void publish_ok(nc_tw *wc, const char *d, const char *g, const char *t, const char *c) {
  nc_tw_reply r = nc_tw_config_publish(wc, d, g, t, c, NULL);
  assert_true(nc_tw_ok(&r));
}

static nc_msg *list(nc_tw *wc, const char *t, const char *g, const char *pattern, int page,
                    int size) {
  cJSON *b = nc_tw_config_body(pattern, g, t);
  if (page)
    cJSON_AddNumberToObject(b, "pageNo", page);
  if (size)
    cJSON_AddNumberToObject(b, "pageSize", size);
  return nc_tw_call(wc, "NcConfigListRequest", b);
}

/* The dataIds of a list answer, "," separated, into out. */
static void list_ids(nc_msg *m, char *out, size_t cap) {
  assert_non_null(m);
  assert_string_equal(m->type, "NcConfigListResponse");
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  out[0] = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(m->body, "pageItems")) {
    size_t l = strlen(out);
    snprintf(out + l, cap - l, "%s%s/%s", l ? "," : "", nc_json_str(it, "group", "?"),
             nc_json_str(it, "dataId", "?"));
  }
}

static void expect_list(nc_tw *wc, const char *t, const char *g, const char *pattern, int page,
                        int size, long long total, const char *ids) {
  char got[512];
  nc_msg *m = list(wc, t, g, pattern, page, size);
  list_ids(m, got, sizeof(got));
  assert_int_equal(nc_json_int(m->body, "totalCount", -1), total);
  assert_string_equal(got, ids);
  nc_msg_free(m);
}

static void expect_bad(nc_msg *m, const char *type, const char *msg_part) {
  assert_non_null(m);
  assert_string_equal(m->type, type);
  assert_int_equal(nc_json_int(m->body, "errorCode", -1), 400);
  assert_non_null(strstr(nc_json_str(m->body, "message", ""), msg_part));
  nc_msg_free(m);
}

static void test_list_filters_and_pages(void **state) {
  nc_tw *wc = client(state);
  publish_ok(wc, "db.yaml", "G2", "", "a");
  publish_ok(wc, "app.yaml", "G1", "", "b");
  publish_ok(wc, "app.props", "G1", "", "c");
  publish_ok(wc, "web.yaml", "G1", "", "d");
  publish_ok(wc, "app.yaml", "G2", "", "e");
  publish_ok(wc, "app.yaml", "G1", "t1", "f");
  /* "public" is the default namespace, like Nacos */
  expect_list(wc, "public", "", "", 0, 0, 5,
              "G1/app.props,G1/app.yaml,G1/web.yaml,G2/app.yaml,G2/db.yaml");
  expect_list(wc, "", "G2", "", 0, 0, 2, "G2/app.yaml,G2/db.yaml");
  expect_list(wc, "", "", "app*", 0, 0, 3, "G1/app.props,G1/app.yaml,G2/app.yaml");
  expect_list(wc, "", "", "*.yaml", 2, 2, 4, "G2/app.yaml,G2/db.yaml");
  expect_list(wc, "", "", "", 9, 2, 5, "");
  expect_list(wc, "t1", "", "", 0, 0, 1, "G1/app.yaml");
  /* an item carries the md5 of its content */
  nc_msg *m = list(wc, "t1", "", "", 0, 0);
  char md5[33];
  nc_md5_hex("f", 1, md5);
  const cJSON *it = cJSON_GetArrayItem(cJSON_GetObjectItem(m->body, "pageItems"), 0);
  assert_string_equal(nc_json_str(it, "md5", "?"), md5);
  assert_true(nc_json_int(it, "lastModified", 0) > 0);
  assert_int_equal(nc_json_int(m->body, "pagesAvailable", -1), 1);
  nc_msg_free(m);
}

static void test_list_bad_input(void **state) {
  nc_tw *wc = client(state);
  publish_ok(wc, "app.yaml", "G1", "", "b");
  expect_bad(list(wc, "", "", "a[b]", 0, 0), "NcConfigListResponse", "pattern");
  expect_bad(list(wc, "", "", "", 0, 5000), "NcConfigListResponse", "pageSize");
  expect_bad(list(wc, "", "", "", -1, 0), "NcConfigListResponse", "pageNo");
  expect_bad(list(wc, "bad tenant!", "", "", 0, 0), "NcConfigListResponse", "tenant");
  expect_list(wc, "", "", "", 0, 0, 1, "G1/app.yaml");
}

static nc_msg *history(nc_tw *wc, const char *d, const char *g, int size) {
  cJSON *b = nc_tw_config_body(d, g, "");
  if (size)
    cJSON_AddNumberToObject(b, "pageSize", size);
  return nc_tw_call(wc, "NcConfigHistoryRequest", b);
}

static void test_history_newest_first(void **state) {
  nc_tw *wc = client(state);
  publish_ok(wc, "h.yaml", "G", "", "v1");
  publish_ok(wc, "h.yaml", "G", "", "v2");
  nc_tw_config_remove(wc, "h.yaml", "G", "");
  nc_msg *m = history(wc, "h.yaml", "G", 0);
  assert_non_null(m);
  assert_string_equal(m->type, "NcConfigHistoryResponse");
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  const cJSON *items = cJSON_GetObjectItem(m->body, "pageItems");
  assert_int_equal(cJSON_GetArraySize(items), 3);
  const char *ops = "DUI";
  char md5[33];
  nc_md5_hex("v2", 2, md5);
  long long prev_id = 1LL << 60;
  for (int i = 0; i < 3; i++) {
    const cJSON *it = cJSON_GetArrayItem(items, i);
    char op[2] = {ops[i], 0};
    assert_string_equal(nc_json_str(it, "opType", "?"), op);
    assert_true(nc_json_int(it, "id", 0) < prev_id);
    prev_id = nc_json_int(it, "id", 0);
    assert_true(nc_json_int(it, "lastModifiedTime", 0) > 0);
  }
  /* the update row records the content it replaced or wrote: either way v1/v2 */
  const char *u = nc_json_str(cJSON_GetArrayItem(items, 1), "md5", "?");
  char md5_1[33];
  nc_md5_hex("v1", 2, md5_1);
  assert_true(!strcmp(u, md5) || !strcmp(u, md5_1));
  nc_msg_free(m);

  m = history(wc, "h.yaml", "G", 2);
  assert_non_null(m);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m->body, "pageItems")), 2);
  nc_msg_free(m);

  m = history(wc, "never.yaml", "G", 0);
  assert_non_null(m);
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m->body, "pageItems")), 0);
  nc_msg_free(m);

  expect_bad(history(wc, "", "G", 0), "NcConfigHistoryResponse", "dataId");
  expect_bad(history(wc, "h.yaml", "G", 5000), "NcConfigHistoryResponse", "pageSize");
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_list_filters_and_pages, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_list_bad_input, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_history_newest_first, cfg_setup, cfg_teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
