/* Integration tests of nacos-c's own config requests on the real nacosd:
 * NcConfigListRequest (filters, glob, stable paging, bad input),
 * NcConfigHistoryRequest (newest first, ops and md5s, limits, bad key),
 * NcConfigHistoryGetRequest (one version with content) and
 * NcConfigRollbackRequest (publishes a version again, seen by listeners,
 * recorded with rollbackOf), also on a database migrated from schema 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config_itest.h"
#include "nc_grpc.h"
#include "nc_md5.h"

#include <sqlite3.h>

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

/* ---- versions and rollback ---- */

static nc_msg *history_get(nc_tw *wc, const char *d, long long id) {
  cJSON *b = nc_tw_config_body(d, "G", "");
  cJSON_AddNumberToObject(b, "id", (double)id);
  return nc_tw_call(wc, "NcConfigHistoryGetRequest", b);
}

static nc_msg *rollback(nc_tw *wc, const char *d, long long id) {
  cJSON *b = nc_tw_config_body(d, "G", "");
  cJSON_AddNumberToObject(b, "id", (double)id);
  return nc_tw_call(wc, "NcConfigRollbackRequest", b);
}

/* An answer that failed with errorCode code. */
static void expect_code(nc_msg *m, const char *type, int code) {
  assert_non_null(m);
  assert_string_equal(m->type, type);
  assert_int_equal(nc_json_int(m->body, "errorCode", -1), code);
  assert_int_not_equal(nc_json_int(m->body, "resultCode", -1), 200);
  nc_msg_free(m);
}

static void md5_of(const char *s, char out[33]) { nc_md5_hex(s, strlen(s), out); }

/* v1, v2, v3 published; history is U(v2) U(v1) I(v1) (each row the version
 * its change created or replaced). Rolling back to the U row that replaced
 * v1 publishes v1 again: a listener hears of it, the config reads v1, and
 * the new row (U, holding the v3 it replaced) says rollbackOf. */
static void test_rollback_restores_a_version(void **state) {
  nc_tfx *f = *state;
  nc_tw *wc = client(state), *listener = cfg_connect(f, 0);
  assert_non_null(listener);
  char m1[33], m2[33], m3[33];
  md5_of("v1", m1);
  md5_of("v2", m2);
  md5_of("v3", m3);
  publish_ok(wc, "rb.yaml", "G", "", "v1");
  publish_ok(wc, "rb.yaml", "G", "", "v2");
  publish_ok(wc, "rb.yaml", "G", "", "v3");

  nc_msg *m = history(wc, "rb.yaml", "G", 0);
  assert_non_null(m);
  const cJSON *items = cJSON_GetObjectItem(m->body, "pageItems");
  assert_int_equal(cJSON_GetArraySize(items), 3);
  const char *ops = "UUI", *md5s[3] = {m2, m1, m1};
  long long ids[3];
  for (int i = 0; i < 3; i++) {
    const cJSON *it = cJSON_GetArrayItem(items, i);
    char op[2] = {ops[i], 0};
    assert_string_equal(nc_json_str(it, "opType", "?"), op);
    assert_string_equal(nc_json_str(it, "md5", "?"), md5s[i]);
    assert_string_equal(nc_json_str(it, "type", "?"), "text");
    assert_null(cJSON_GetObjectItem(it, "rollbackOf")); /* only on rollbacks */
    ids[i] = nc_json_int(it, "id", 0);
  }
  nc_msg_free(m);

  /* one version, with its content */
  m = history_get(wc, "rb.yaml", ids[1]);
  assert_non_null(m);
  assert_string_equal(m->type, "NcConfigHistoryGetResponse");
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  assert_int_equal(nc_json_int(m->body, "id", 0), ids[1]);
  assert_string_equal(nc_json_str(m->body, "opType", "?"), "U");
  assert_string_equal(nc_json_str(m->body, "content", "?"), "v1");
  assert_string_equal(nc_json_str(m->body, "md5", "?"), m1);
  assert_string_equal(nc_json_str(m->body, "type", "?"), "text");
  assert_int_equal(nc_json_int(m->body, "rollbackOf", -1), 0);
  assert_true(nc_json_int(m->body, "lastModifiedTime", 0) > 0);
  nc_msg_free(m);
  m = history_get(wc, "rb.yaml", ids[0]);
  assert_non_null(m);
  assert_string_equal(nc_json_str(m->body, "content", "?"), "v2");
  nc_msg_free(m);

  /* a listener that has v3 */
  nc_tw_expect_ok(nc_tw_listen_one(listener, 1, "rb.yaml", "G", "", m3),
                  "ConfigChangeBatchListenResponse");
  long long writes = srv_metric(f, "write_requests_total");
  assert_true(writes >= 3);
  m = rollback(wc, "rb.yaml", ids[1]);
  assert_non_null(m);
  assert_string_equal(m->type, "NcConfigRollbackResponse");
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  assert_string_equal(nc_json_str(m->body, "md5", "?"), m1);
  nc_msg_free(m);
  assert_int_equal(srv_metric(f, "write_requests_total"), writes + 1); /* a write */
  assert_int_equal(nc_tw_wait_change(listener, "rb.yaml", 1, 5000, NULL), 1);
  /* what the listener re-reads, and a listen with v3's md5 says changed */
  nc_tw_config c = {0};
  nc_tw_expect_ok(nc_tw_config_get(listener, "rb.yaml", "G", "", &c), "ConfigQueryResponse");
  assert_string_equal(c.content, "v1");
  assert_string_equal(c.md5, m1);
  nc_tw_config_free(&c);
  int nchanged = -1;
  nc_tw_listen ctx = {.data_id = "rb.yaml", .group = "G", .tenant = "", .md5 = m3};
  nc_tw_expect_ok(nc_tw_config_listen(listener, 1, &ctx, 1, &nchanged, NULL),
                  "ConfigChangeBatchListenResponse");
  assert_int_equal(nchanged, 1);

  /* the rollback's own row: an update that replaced v3, rollbackOf = ids[1] */
  m = history(wc, "rb.yaml", "G", 0);
  assert_non_null(m);
  items = cJSON_GetObjectItem(m->body, "pageItems");
  assert_int_equal(cJSON_GetArraySize(items), 4);
  const cJSON *top = cJSON_GetArrayItem(items, 0);
  assert_string_equal(nc_json_str(top, "opType", "?"), "U");
  assert_string_equal(nc_json_str(top, "md5", "?"), m3);
  assert_int_equal(nc_json_int(top, "rollbackOf", 0), ids[1]);
  long long rb_id = nc_json_int(top, "id", 0);
  assert_true(rb_id > ids[0]);
  nc_msg_free(m);
  m = history_get(wc, "rb.yaml", rb_id);
  assert_non_null(m);
  assert_string_equal(nc_json_str(m->body, "content", "?"), "v3");
  assert_int_equal(nc_json_int(m->body, "rollbackOf", 0), ids[1]);
  nc_msg_free(m);
  nc_tfx_close(f, listener);
}

/* A 'D' row holds the removed content: rolling back to it re-creates the
 * config. */
static void test_rollback_to_a_delete_recreates(void **state) {
  nc_tw *wc = client(state);
  publish_ok(wc, "gone.yaml", "G", "", "was here");
  nc_tw_config_remove(wc, "gone.yaml", "G", "");
  nc_msg *m = history(wc, "gone.yaml", "G", 0);
  assert_non_null(m);
  const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(m->body, "pageItems"), 0);
  assert_string_equal(nc_json_str(d, "opType", "?"), "D");
  long long id = nc_json_int(d, "id", 0);
  nc_msg_free(m);
  char md5[33];
  md5_of("was here", md5);
  m = rollback(wc, "gone.yaml", id);
  assert_non_null(m);
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  assert_string_equal(nc_json_str(m->body, "md5", "?"), md5);
  nc_msg_free(m);
  nc_tw_config c = {0};
  nc_tw_expect_ok(nc_tw_config_get(wc, "gone.yaml", "G", "", &c), "ConfigQueryResponse");
  assert_string_equal(c.content, "was here");
  nc_tw_config_free(&c);
  /* re-created: the rollback's row is an insert */
  m = history(wc, "gone.yaml", "G", 1);
  assert_non_null(m);
  d = cJSON_GetArrayItem(cJSON_GetObjectItem(m->body, "pageItems"), 0);
  assert_string_equal(nc_json_str(d, "opType", "?"), "I");
  assert_int_equal(nc_json_int(d, "rollbackOf", 0), id);
  nc_msg_free(m);
}

static void test_history_get_and_rollback_errors(void **state) {
  nc_tw *wc = client(state);
  publish_ok(wc, "mine.yaml", "G", "", "a");
  publish_ok(wc, "theirs.yaml", "G", "", "b");
  nc_msg *m = history(wc, "theirs.yaml", "G", 0);
  assert_non_null(m);
  long long theirs = nc_json_int(cJSON_GetArrayItem(cJSON_GetObjectItem(m->body, "pageItems"), 0),
                                 "id", 0);
  nc_msg_free(m);
  assert_true(theirs > 0);
  /* another key's row, an id nobody has: 404 */
  expect_code(history_get(wc, "mine.yaml", theirs), "NcConfigHistoryGetResponse", 404);
  expect_code(history_get(wc, "mine.yaml", 999999), "NcConfigHistoryGetResponse", 404);
  expect_code(rollback(wc, "mine.yaml", theirs), "NcConfigRollbackResponse", 404);
  expect_code(rollback(wc, "mine.yaml", 999999), "NcConfigRollbackResponse", 404);
  /* bad input: 400 */
  expect_bad(history_get(wc, "mine.yaml", 0), "NcConfigHistoryGetResponse", "id");
  expect_bad(rollback(wc, "mine.yaml", -3), "NcConfigRollbackResponse", "id");
  expect_bad(rollback(wc, "", 1), "NcConfigRollbackResponse", "dataId");
  /* nothing was written by the refusals */
  nc_tw_config c = {0};
  nc_tw_expect_ok(nc_tw_config_get(wc, "mine.yaml", "G", "", &c), "ConfigQueryResponse");
  assert_string_equal(c.content, "a");
  nc_tw_config_free(&c);
  m = history(wc, "mine.yaml", "G", 0);
  assert_non_null(m);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m->body, "pageItems")), 1);
  nc_msg_free(m);
}

/* A first-release database (schema 1, user_version 0) under a real nacosd:
 * it is migrated at start, its old history row lists and reads with
 * content null, and a rollback to it is refused (400) while new rows roll
 * back fine. */
static void test_schema1_rows_after_migration(void **state) {
  (void)state;
  char dir[] = "/tmp/nc_cfgadm_XXXXXX", path[128], cmd[160];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/config.db", dir);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(
          db,
          "CREATE TABLE config(id INTEGER PRIMARY KEY, data_id TEXT NOT NULL, grp TEXT NOT NULL,"
          " tenant TEXT NOT NULL, content BLOB NOT NULL, md5 TEXT NOT NULL, type TEXT NOT NULL,"
          " app_name TEXT NOT NULL, src_user TEXT NOT NULL, src_ip TEXT NOT NULL,"
          " encrypted_data_key TEXT NOT NULL, created_ms INTEGER NOT NULL,"
          " modified_ms INTEGER NOT NULL, UNIQUE(tenant, grp, data_id));"
          "CREATE TABLE config_history(id INTEGER PRIMARY KEY AUTOINCREMENT,"
          " data_id TEXT NOT NULL, grp TEXT NOT NULL, tenant TEXT NOT NULL, op TEXT NOT NULL,"
          " md5 TEXT NOT NULL, src_ip TEXT NOT NULL, src_user TEXT NOT NULL,"
          " app_name TEXT NOT NULL, ts_ms INTEGER NOT NULL);"
          "CREATE INDEX config_history_key ON config_history(tenant, grp, data_id, id);"
          "INSERT INTO config VALUES(1,'old.yaml','G','','legacy',"
          " '0123456789abcdef0123456789abcdef','text','','','10.0.0.9','',5,5);"
          "INSERT INTO config_history(data_id,grp,tenant,op,md5,src_ip,src_user,app_name,ts_ms)"
          " VALUES('old.yaml','G','','I','0123456789abcdef0123456789abcdef','10.0.0.9','','',5);",
          NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
  nc_tfx *f = NULL;
  assert_int_equal(nc_tfx_start((const char *[]){"--data-dir", dir, NULL}, &f), 0);
  nc_tw *wc = cfg_connect(f, 0);
  assert_non_null(wc);

  nc_tw_config c = {0};
  nc_tw_expect_ok(nc_tw_config_get(wc, "old.yaml", "G", "", &c), "ConfigQueryResponse");
  assert_string_equal(c.content, "legacy");
  nc_tw_config_free(&c);
  nc_msg *m = history(wc, "old.yaml", "G", 0);
  assert_non_null(m);
  const cJSON *items = cJSON_GetObjectItem(m->body, "pageItems");
  assert_int_equal(cJSON_GetArraySize(items), 1);
  long long old_id = nc_json_int(cJSON_GetArrayItem(items, 0), "id", 0);
  nc_msg_free(m);
  m = history_get(wc, "old.yaml", old_id);
  assert_non_null(m);
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(m->body, "content")));
  nc_msg_free(m);
  expect_bad(rollback(wc, "old.yaml", old_id), "NcConfigRollbackResponse", "no recorded content");

  /* a new publish's row holds the legacy content and rolls back */
  publish_ok(wc, "old.yaml", "G", "", "fresh");
  m = history(wc, "old.yaml", "G", 1);
  assert_non_null(m);
  long long u_id = nc_json_int(cJSON_GetArrayItem(cJSON_GetObjectItem(m->body, "pageItems"), 0),
                               "id", 0);
  nc_msg_free(m);
  m = rollback(wc, "old.yaml", u_id);
  assert_non_null(m);
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  nc_msg_free(m);
  nc_tw_expect_ok(nc_tw_config_get(wc, "old.yaml", "G", "", &c), "ConfigQueryResponse");
  assert_string_equal(c.content, "legacy");
  nc_tw_config_free(&c);
  assert_int_equal(nc_tfx_stop(f), 0);

  db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 2);
  sqlite3_finalize(st);
  sqlite3_close(db);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_list_filters_and_pages, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_list_bad_input, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_history_newest_first, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_rollback_restores_a_version, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_rollback_to_a_delete_recreates, cfg_setup,
                                      cfg_teardown),
      cmocka_unit_test_setup_teardown(test_history_get_and_rollback_errors, cfg_setup,
                                      cfg_teardown),
      cmocka_unit_test(test_schema1_rows_after_migration),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
