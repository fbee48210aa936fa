/* The config store suite, run against both backends: SQLite on a temp
 * dir, then PostgreSQL 15 on a real server the test starts (skipped with
 * the reason printed when one cannot run here). put/get, CAS, remove,
 * history retention, batch semantics, persistence across a close/reopen,
 * history versions (content, history_get, rollback_of). Then each
 * backend's own: SQLite's migration from a first-release database;
 * PostgreSQL's schema version refusal, adopting an existing Nacos
 * database, a server that is down (fast failure, reconnect), and one bad
 * op in a batch failing alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nc_md5.h"
#include "config_store.h"
#include "nc_err.h"

#include "nc_testpg.h"

#include <sqlite3.h>
#include <time.h>

typedef struct fx {
  char dir[64];
  nc_cfg_store *st;
} fx;

/* Set while the suite runs against PostgreSQL. */
static nc_testpg *g_pg;

static int open_store(fx *f, long keep) {
  nc_cfg_store_opts o = {.data_dir = f->dir, .history_keep = keep, .timeout_ms = 2000};
  if (g_pg)
    o.db_url = nc_testpg_url(g_pg);
  return nc_cfg_store_open(g_pg ? "postgresql" : "sqlite", &o, &f->st);
}

/* SQLite keeps the writer's ts_ms; PostgreSQL stamps its own clock. */
#define ASSERT_TS(got, want)                                                                       \
  do {                                                                                             \
    if (g_pg)                                                                                      \
      assert_true((got) > 1700000000000LL);                                                        \
    else                                                                                           \
      assert_int_equal((got), (want));                                                             \
  } while (0)

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/nc_cfgstore_XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  if (g_pg && nc_testpg_sql(g_pg,
                            "DROP TABLE IF EXISTS config_info, his_config_info, tenant_info, "
                            "nc_schema",
                            NULL, 0) != 0)
    return -1;
  if (open_store(f, 3) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  nc_cfg_store_close(f->st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  if (system(cmd) != 0)
    return -1;
  free(f);
  return 0;
}

static int put(fx *f, const char *d, const char *g, const char *t, const char *content,
               const char *cas, int64_t ts) {
  char md5[33];
  nc_md5_hex(content, strlen(content), md5);
  nc_cfg_write w = {.data_id = d, .group = g, .tenant = t, .content = content,
                    .content_len = strlen(content), .md5 = md5, .cas_md5 = cas, .type = "yaml",
                    .app_name = "app", .src_ip = "10.0.0.1", .ts_ms = ts};
  return nc_cfg_store_put(f->st, &w);
}

static void test_put_get_roundtrip(void **state) {
  fx *f = *state;
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), NC_ENOTFOUND);
  assert_int_equal(put(f, "d", "g", "", "k: v", NULL, 1000), 0);
  assert_int_equal(put(f, "d", "g", "ns1", "other", NULL, 1001), 0);
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), 0);
  assert_string_equal(it->content, "k: v");
  assert_int_equal(it->content_len, 4);
  char md5[33];
  nc_md5_hex("k: v", 4, md5);
  assert_string_equal(it->md5, md5);
  assert_string_equal(it->type, "yaml");
  assert_string_equal(it->app_name, "app");
  ASSERT_TS(it->modified_ms, 1000);
  nc_cfg_item_free(it);
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "ns1", &it), 0);
  assert_string_equal(it->content, "other");
  nc_cfg_item_free(it);
}

static void test_cas_mismatch_rejected_and_state_kept(void **state) {
  fx *f = *state;
  char md5[33];
  assert_int_equal(put(f, "d", "g", "", "v1", NULL, 1), 0);
  nc_md5_hex("v1", 2, md5);
  assert_int_equal(put(f, "d", "g", "", "v2", "0123456789abcdef0123456789abcdef", 2), NC_ECONFLICT);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), 0);
  assert_string_equal(it->content, "v1");
  nc_cfg_item_free(it);
  assert_int_equal(put(f, "d", "g", "", "v2", md5, 3), 0);
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), 0);
  assert_string_equal(it->content, "v2");
  ASSERT_TS(it->created_ms, 1);
  ASSERT_TS(it->modified_ms, 3);
  assert_true(it->modified_ms >= it->created_ms);
  nc_cfg_item_free(it);
}

static void test_remove_and_remove_missing(void **state) {
  fx *f = *state;
  int existed = -1;
  assert_int_equal(nc_cfg_store_remove(f->st, "nope", "g", "", 5, &existed), 0);
  assert_int_equal(existed, 0);
  assert_int_equal(put(f, "d", "g", "", "v", NULL, 1), 0);
  assert_int_equal(nc_cfg_store_remove(f->st, "d", "g", "", 6, &existed), 0);
  assert_int_equal(existed, 1);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), NC_ENOTFOUND);
}

static void test_history_bounded_newest_first(void **state) {
  fx *f = *state; /* keep = 3 */
  char content[16];
  for (int i = 0; i < 10; i++) {
    snprintf(content, sizeof(content), "v%d", i);
    assert_int_equal(put(f, "d", "g", "", content, NULL, 100 + i), 0);
  }
  assert_int_equal(put(f, "other", "g", "", "x", NULL, 1), 0);
  nc_cfg_hist *h = NULL;
  size_t n = 0;
  assert_int_equal(nc_cfg_store_history(f->st, "d", "g", "", 100, &h, &n), 0);
  assert_int_equal(n, 3);
  char md5[33], md5_v8[33];
  nc_md5_hex("v9", 2, md5);
  nc_md5_hex("v8", 2, md5_v8);
  assert_string_equal(h[0].md5, md5_v8); /* an update's row is the version it replaced */
  assert_int_equal(h[0].op, 'U');
  ASSERT_TS(h[0].ts_ms, 109);
  ASSERT_TS(h[2].ts_ms, 107);
  assert_true(h[0].ts_ms >= h[2].ts_ms);
  assert_string_equal(h[0].src_ip, "10.0.0.1");
  nc_cfg_hist_free(h, n);
  int existed;
  assert_int_equal(nc_cfg_store_remove(f->st, "d", "g", "", 200, &existed), 0);
  assert_int_equal(nc_cfg_store_history(f->st, "d", "g", "", 100, &h, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(h[0].op, 'D');
  assert_string_equal(h[0].md5, md5); /* the md5 that was removed */
  nc_cfg_hist_free(h, n);
  assert_int_equal(nc_cfg_store_history(f->st, "other", "g", "", 100, &h, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(h[0].op, 'I');
  nc_cfg_hist_free(h, n);
}

/* A batch with one CAS conflict commits the others; results are per op. */
static void test_batch_per_op_results(void **state) {
  fx *f = *state;
  assert_int_equal(put(f, "c", "g", "", "v", NULL, 1), 0);
  nc_cfg_write ops[3] = {
      {.op = NC_CFG_PUT, .data_id = "a", .group = "g", .content = "1", .content_len = 1, .md5 = "x", .ts_ms = 2},
      {.op = NC_CFG_PUT, .data_id = "c", .group = "g", .content = "2", .content_len = 1, .md5 = "y",
       .cas_md5 = "bad", .ts_ms = 2},
      {.op = NC_CFG_REMOVE, .data_id = "c", .group = "g", .ts_ms = 2},
  };
  assert_int_equal(nc_cfg_store_apply(f->st, ops, 3), 0);
  assert_int_equal(ops[0].result, 0);
  assert_int_equal(ops[0].existed, 0);
  assert_int_equal(ops[1].result, NC_ECONFLICT);
  assert_int_equal(ops[2].result, 0);
  assert_int_equal(ops[2].existed, 1);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "a", "g", "", &it), 0);
  assert_string_equal(it->type, "text");
  nc_cfg_item_free(it);
  assert_int_equal(nc_cfg_store_get(f->st, "c", "g", "", &it), NC_ENOTFOUND);
}

/* ---- history versions ---- */

/* One history row of d/g with its content; the caller frees it. */
static nc_cfg_hist *hist_get(fx *f, const char *d, int64_t id) {
  nc_cfg_hist *h = NULL;
  assert_int_equal(nc_cfg_store_history_get(f->st, d, "g", "", id, &h), 0);
  assert_non_null(h);
  return h;
}

/* As Nacos's his_config_info: I = the version created, U and D = the
 * version replaced; each row's content matches its md5. */
static void test_history_rows_are_versions(void **state) {
  fx *f = *state; /* keep = 3 */
  char md5[3][33];
  nc_md5_hex("one", 3, md5[0]);
  nc_md5_hex("two", 3, md5[1]);
  assert_int_equal(put(f, "d", "g", "", "one", NULL, 10), 0);
  nc_cfg_write w = {.data_id = "d", .group = "g", .content = "two", .content_len = 3,
                    .md5 = md5[1], .type = "json", .src_ip = "10.0.0.2", .src_user = "ops",
                    .ts_ms = 20, .rollback_of = 0};
  assert_int_equal(nc_cfg_store_put(f->st, &w), 0);
  int existed = 0;
  assert_int_equal(nc_cfg_store_remove(f->st, "d", "g", "", 30, &existed), 0);
  assert_int_equal(existed, 1);
  nc_cfg_hist *h = NULL;
  size_t n = 0;
  assert_int_equal(nc_cfg_store_history(f->st, "d", "g", "", 10, &h, &n), 0);
  assert_int_equal(n, 3);
  /* newest first: D (removed "two"), U (replaced "one"), I (created "one") */
  assert_int_equal(h[0].op, 'D');
  assert_string_equal(h[0].md5, md5[1]);
  assert_string_equal(h[0].type, "json");
  ASSERT_TS(h[0].ts_ms, 30);
  assert_int_equal(h[1].op, 'U');
  assert_string_equal(h[1].md5, md5[0]);
  assert_string_equal(h[1].type, "yaml");
  ASSERT_TS(h[1].ts_ms, 20);
  assert_string_equal(h[1].src_ip, "10.0.0.2"); /* who made the change */
  assert_string_equal(h[1].src_user, "ops");
  assert_int_equal(h[2].op, 'I');
  assert_string_equal(h[2].md5, md5[0]);
  assert_null(h[0].content); /* lists carry no content */
  int64_t ids[3] = {h[0].id, h[1].id, h[2].id};
  nc_cfg_hist_free(h, n);

  const char *want[3] = {"two", "one", "one"};
  for (int i = 0; i < 3; i++) {
    nc_cfg_hist *g = hist_get(f, "d", ids[i]);
    assert_int_equal(g->id, ids[i]);
    assert_non_null(g->content);
    assert_string_equal(g->content, want[i]);
    assert_int_equal(g->content_len, 3);
    char m[33];
    nc_md5_hex(g->content, g->content_len, m);
    assert_string_equal(g->md5, m);
    assert_int_equal(g->rollback_of, 0);
    nc_cfg_hist_free(g, 1);
  }
}

/* A publish that restores history row N records rollback_of = N on the row
 * it writes (here an update, so the row holds the replaced version). */
static void test_rollback_of_recorded(void **state) {
  fx *f = *state;
  assert_int_equal(put(f, "d", "g", "", "one", NULL, 1), 0);
  assert_int_equal(put(f, "d", "g", "", "two", NULL, 2), 0);
  nc_cfg_hist *h = NULL;
  size_t n = 0;
  assert_int_equal(nc_cfg_store_history(f->st, "d", "g", "", 10, &h, &n), 0);
  assert_int_equal(n, 2);
  int64_t u_id = h[0].id; /* U: holds "one" */
  nc_cfg_hist_free(h, n);
  nc_cfg_hist *g = hist_get(f, "d", u_id);
  char md5[33];
  nc_md5_hex(g->content, g->content_len, md5);
  nc_cfg_write w = {.data_id = "d", .group = "g", .content = g->content,
                    .content_len = g->content_len, .md5 = md5, .type = g->type, .ts_ms = 3,
                    .rollback_of = u_id};
  assert_int_equal(nc_cfg_store_put(f->st, &w), 0);
  nc_cfg_hist_free(g, 1);
  assert_int_equal(nc_cfg_store_history(f->st, "d", "g", "", 10, &h, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(h[0].op, 'U');
  assert_int_equal(h[0].rollback_of, u_id);
  assert_int_equal(h[1].rollback_of, 0);
  nc_cfg_hist_free(h, n);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), 0);
  assert_string_equal(it->content, "one");
  nc_cfg_item_free(it);
}

/* Two updates of one key in one batch: the second's row holds the first's
 * new content (the transaction sees its own writes). */
static void test_two_updates_of_a_key_in_one_batch(void **state) {
  fx *f = *state;
  assert_int_equal(put(f, "d", "g", "", "v0", NULL, 1), 0);
  char m1[33], m2[33], m0[33];
  nc_md5_hex("v0", 2, m0);
  nc_md5_hex("v1", 2, m1);
  nc_md5_hex("v2", 2, m2);
  nc_cfg_write ops[2] = {
      {.op = NC_CFG_PUT, .data_id = "d", .group = "g", .content = "v1", .content_len = 2,
       .md5 = m1, .ts_ms = 2},
      {.op = NC_CFG_PUT, .data_id = "d", .group = "g", .content = "v2", .content_len = 2,
       .md5 = m2, .ts_ms = 3},
  };
  assert_int_equal(nc_cfg_store_apply(f->st, ops, 2), 0);
  assert_int_equal(ops[0].result, 0);
  assert_int_equal(ops[1].result, 0);
  nc_cfg_hist *h = NULL;
  size_t n = 0;
  assert_int_equal(nc_cfg_store_history(f->st, "d", "g", "", 10, &h, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(h[0].md5, m1); /* second update replaced v1 */
  assert_string_equal(h[1].md5, m0); /* first update replaced v0 */
  nc_cfg_hist *g = hist_get(f, "d", h[0].id);
  assert_string_equal(g->content, "v1");
  nc_cfg_hist_free(g, 1);
  nc_cfg_hist_free(h, n);
}

static void test_history_get_of_another_key_not_found(void **state) {
  fx *f = *state;
  assert_int_equal(put(f, "d", "g", "", "mine", NULL, 1), 0);
  assert_int_equal(put(f, "e", "g", "", "other", NULL, 1), 0);
  nc_cfg_hist *h = NULL;
  size_t n = 0;
  assert_int_equal(nc_cfg_store_history(f->st, "e", "g", "", 10, &h, &n), 0);
  assert_int_equal(n, 1);
  int64_t e_id = h[0].id;
  nc_cfg_hist_free(h, n);
  nc_cfg_hist *g = NULL;
  assert_int_equal(nc_cfg_store_history_get(f->st, "d", "g", "", e_id, &g), NC_ENOTFOUND);
  assert_null(g);
  assert_int_equal(nc_cfg_store_history_get(f->st, "e", "g", "ns1", e_id, &g), NC_ENOTFOUND);
  assert_int_equal(nc_cfg_store_history_get(f->st, "d", "g", "", 9999, &g), NC_ENOTFOUND);
  g = hist_get(f, "e", e_id);
  assert_string_equal(g->content, "other");
  nc_cfg_hist_free(g, 1);
}

/* ---- schema migration ---- */

static void exec_sql(sqlite3 *db, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (rc != SQLITE_OK)
    fprintf(stderr, "sql: %s\n", err ? err : "?");
  sqlite3_free(err);
  assert_int_equal(rc, SQLITE_OK);
}

static sqlite3 *open_raw(fx *f) {
  char path[128];
  sqlite3 *db = NULL;
  snprintf(path, sizeof(path), "%s/config.db", f->dir);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* The first release's tables (user_version 0) with one config and its
 * history, written the way that release wrote them. */
static void make_schema1_db(fx *f) {
  sqlite3 *db = open_raw(f);
  exec_sql(db,
           "CREATE TABLE config("
           " id INTEGER PRIMARY KEY, data_id TEXT NOT NULL, grp TEXT NOT NULL,"
           " tenant TEXT NOT NULL, content BLOB NOT NULL, md5 TEXT NOT NULL,"
           " type TEXT NOT NULL, app_name TEXT NOT NULL, src_user TEXT NOT NULL,"
           " src_ip TEXT NOT NULL, encrypted_data_key TEXT NOT NULL,"
           " created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL,"
           " UNIQUE(tenant, grp, data_id));"
           "CREATE TABLE config_history("
           " id INTEGER PRIMARY KEY AUTOINCREMENT, data_id TEXT NOT NULL, grp TEXT NOT NULL,"
           " tenant TEXT NOT NULL, op TEXT NOT NULL, md5 TEXT NOT NULL, src_ip TEXT NOT NULL,"
           " src_user TEXT NOT NULL, app_name TEXT NOT NULL, ts_ms INTEGER NOT NULL);"
           "CREATE INDEX config_history_key ON config_history(tenant, grp, data_id, id);"
           "INSERT INTO config(data_id,grp,tenant,content,md5,type,app_name,src_user,src_ip,"
           " encrypted_data_key,created_ms,modified_ms) VALUES('old','g','','legacy',"
           " 'f1e2d3c4b5a6978800112233445566ff','text','','','10.0.0.9','',5,5);"
           "INSERT INTO config_history(data_id,grp,tenant,op,md5,src_ip,src_user,app_name,ts_ms)"
           " VALUES('old','g','','I','f1e2d3c4b5a6978800112233445566ff','10.0.0.9','','',5);");
  assert_int_equal(raw_int(db, "PRAGMA user_version"), 0);
  sqlite3_close(db);
}

static void test_migrates_schema1_db(void **state) {
  fx *f = *state;
  nc_cfg_store_close(f->st);
  f->st = NULL;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -f %s/config.db*", f->dir);
  assert_int_equal(system(cmd), 0);
  make_schema1_db(f);
  assert_int_equal(open_store(f, 3), 0);

  /* the old rows are still there; the old history row has no content */
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "old", "g", "", &it), 0);
  assert_string_equal(it->content, "legacy");
  nc_cfg_item_free(it);
  nc_cfg_hist *h = NULL;
  size_t n = 0;
  assert_int_equal(nc_cfg_store_history(f->st, "old", "g", "", 10, &h, &n), 0);
  assert_int_equal(n, 1);
  int64_t old_id = h[0].id;
  assert_string_equal(h[0].type, "");
  assert_int_equal(h[0].rollback_of, 0);
  nc_cfg_hist_free(h, n);
  nc_cfg_hist *g = hist_get(f, "old", old_id);
  assert_null(g->content);
  assert_int_equal(g->content_len, 0);
  assert_string_equal(g->md5, "f1e2d3c4b5a6978800112233445566ff");
  nc_cfg_hist_free(g, 1);

  /* new rows carry content: the update's row holds the legacy content */
  assert_int_equal(put(f, "old", "g", "", "fresh", NULL, 6), 0);
  assert_int_equal(nc_cfg_store_history(f->st, "old", "g", "", 10, &h, &n), 0);
  assert_int_equal(n, 2);
  assert_true(h[0].id > old_id);
  g = hist_get(f, "old", h[0].id);
  assert_string_equal(g->content, "legacy");
  assert_string_equal(g->type, "text");
  nc_cfg_hist_free(g, 1);
  nc_cfg_hist_free(h, n);

  /* the database says version 2 now, and a reopen migrates nothing */
  nc_cfg_store_close(f->st);
  f->st = NULL;
  sqlite3 *db = open_raw(f);
  assert_int_equal(raw_int(db, "PRAGMA user_version"), 2);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM config_history WHERE content IS NULL"), 1);
  sqlite3_close(db);
  assert_int_equal(open_store(f, 3), 0);
  assert_int_equal(nc_cfg_store_history(f->st, "old", "g", "", 10, &h, &n), 0);
  assert_int_equal(n, 2);
  nc_cfg_hist_free(h, n);
}

/* A database from a newer nacosd is refused, and left as it was. */
static void test_newer_schema_refused(void **state) {
  fx *f = *state;
  nc_cfg_store_close(f->st);
  f->st = NULL;
  sqlite3 *db = open_raw(f);
  exec_sql(db, "PRAGMA user_version=3");
  sqlite3_close(db);
  assert_int_equal(open_store(f, 3), NC_EDB);
  assert_null(f->st);
  db = open_raw(f);
  assert_int_equal(raw_int(db, "PRAGMA user_version"), 3);
  sqlite3_close(db);
}

static void count_item(void *ud, const nc_cfg_item *it) {
  (void)it;
  (*(int *)ud)++;
}

static void test_persists_across_reopen(void **state) {
  fx *f = *state;
  assert_int_equal(put(f, "d", "g", "", "durable", NULL, 1), 0);
  assert_int_equal(put(f, "e", "g", "t", "two", NULL, 1), 0);
  nc_cfg_store_close(f->st);
  f->st = NULL;
  assert_int_equal(open_store(f, 3), 0);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), 0);
  assert_string_equal(it->content, "durable");
  nc_cfg_item_free(it);
  int n = 0;
  assert_int_equal(nc_cfg_store_scan(f->st, count_item, &n), 0);
  assert_int_equal(n, 2);
}

static void test_open_bad_dir_fails_cleanly(void **state) {
  (void)state;
  nc_cfg_store *s = NULL;
  nc_cfg_store_opts o = {.data_dir = "/proc/nope/nc"};
  assert_int_not_equal(nc_cfg_store_open("sqlite", &o, &s), 0);
  assert_null(s);
  o.data_dir = "/tmp";
  assert_int_equal(nc_cfg_store_open("postgres-not-built", &o, &s), NC_EINVAL);
}

/* ---- PostgreSQL's own ---- */

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_pg_newer_schema_refused(void **state) {
  fx *f = *state;
  nc_cfg_store_close(f->st);
  f->st = NULL;
  assert_int_equal(nc_testpg_sql(g_pg, "UPDATE nc_schema SET version=99", NULL, 0), 0);
  assert_int_equal(open_store(f, 3), NC_EINVAL);
  assert_null(f->st);
  assert_int_equal(nc_testpg_sql(g_pg, "UPDATE nc_schema SET version=2", NULL, 0), 0);
  assert_int_equal(open_store(f, 3), 0);
}

/* A database a Java Nacos made (its tables, its rows, no nc_schema) is
 * adopted as it is: rows served, nothing recreated. */
static void test_pg_adopts_a_nacos_database(void **state) {
  fx *f = *state;
  nc_cfg_store_close(f->st);
  f->st = NULL;
  assert_int_equal(nc_testpg_sql(g_pg,
                                 "DROP TABLE nc_schema; DROP INDEX nc_config_info_modified; "
                                 "INSERT INTO config_info(data_id,group_id,tenant_id,content,md5,"
                                 "gmt_create,gmt_modified,type,encrypted_data_key) VALUES "
                                 "('java.yaml','DEFAULT_GROUP','','from java',"
                                 "'0123456789abcdef0123456789abcdef',now(),now(),'yaml','')",
                                 NULL, 0),
                   0);
  assert_int_equal(open_store(f, 3), 0);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "java.yaml", "DEFAULT_GROUP", "", &it), 0);
  assert_string_equal(it->content, "from java");
  assert_string_equal(it->type, "yaml");
  nc_cfg_item_free(it);
  char v[16];
  assert_int_equal(nc_testpg_sql(g_pg, "SELECT version FROM nc_schema WHERE component='config'", v,
                                 sizeof(v)),
                   0);
  assert_string_equal(v, "2"); /* adopted as 1, then migrated: users/roles/permissions */
  assert_int_equal(nc_testpg_sql(g_pg, "SELECT to_regclass('permissions') IS NOT NULL", v,
                                 sizeof(v)),
                   0);
  assert_string_equal(v, "t");
  assert_int_equal(put(f, "java.yaml", "DEFAULT_GROUP", "", "from nacos-c", NULL, 1), 0);
}

/* PostgreSQL stops: a write fails within the deadline, the next ones at
 * once (back-off), nothing hangs; it returns: writes work again by
 * themselves and earlier data is there. */
static void test_pg_down_fails_fast_and_reconnects(void **state) {
  fx *f = *state;
  assert_int_equal(put(f, "d", "g", "", "before", NULL, 1), 0);
  const nc_cfg_store_vt *vt = nc_cfg_store_vtable(f->st);
  assert_int_equal(vt->is_up(nc_cfg_store_impl(f->st)), 1);
  assert_int_equal(nc_testpg_stop(g_pg), 0);
  long long t0 = mono_ms();
  int rc = put(f, "d", "g", "", "while down", NULL, 2);
  long long first = mono_ms() - t0;
  assert_true(rc == NC_EDB || rc == NC_EUNAVAIL);
  t0 = mono_ms();
  rc = put(f, "d", "g", "", "while down", NULL, 3);
  long long second = mono_ms() - t0;
  fprintf(stderr, "pg down: first write failed after %lld ms, the next after %lld ms\n", first,
          second);
  assert_true(rc == NC_EDB || rc == NC_EUNAVAIL);
  assert_true(first < 3000);
  assert_true(second < 1000);
  assert_int_equal(vt->is_up(nc_cfg_store_impl(f->st)), 0);
  assert_int_equal(nc_testpg_restart(g_pg), 0);
  long long t1 = mono_ms();
  while ((rc = put(f, "d", "g", "", "after", NULL, 4)) != 0 && mono_ms() - t1 < 15000) {
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(rc, 0);
  assert_int_equal(vt->is_up(nc_cfg_store_impl(f->st)), 1);
  nc_cfg_hist *h = NULL;
  size_t n = 0;
  assert_int_equal(nc_cfg_store_history(f->st, "d", "g", "", 10, &h, &n), 0);
  assert_int_equal(n, 2); /* I(before), U(before): the failed writes left nothing */
  nc_cfg_hist_free(h, n);
}

/* Bytes PostgreSQL refuses as text fail their own op, not the batch. */
static void test_pg_bad_op_fails_alone(void **state) {
  fx *f = *state;
  nc_cfg_write ops[3] = {
      {.op = NC_CFG_PUT, .data_id = "a", .group = "g", .content = "1", .content_len = 1,
       .md5 = "x", .ts_ms = 2},
      {.op = NC_CFG_PUT, .data_id = "b", .group = "g", .content = "bad \xff\xfe", .content_len = 6,
       .md5 = "y", .ts_ms = 2},
      {.op = NC_CFG_PUT, .data_id = "c", .group = "g", .content = "3", .content_len = 1,
       .md5 = "z", .ts_ms = 2},
  };
  assert_int_equal(nc_cfg_store_apply(f->st, ops, 3), 0);
  assert_int_equal(ops[0].result, 0);
  assert_int_equal(ops[1].result, NC_EDB);
  assert_int_equal(ops[2].result, 0);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "b", "g", "", &it), NC_ENOTFOUND);
  assert_int_equal(nc_cfg_store_get(f->st, "c", "g", "", &it), 0);
  nc_cfg_item_free(it);
}

typedef struct seen {
  int n, removed;
  char last[64], md5[33];
  int64_t ms;
} seen;

static void on_seen(void *ud, const nc_cfg_change *c) {
  seen *s = ud;
  s->n++;
  snprintf(s->last, sizeof(s->last), "%s/%s/%s", c->tenant, c->group, c->data_id);
  snprintf(s->md5, sizeof(s->md5), "%s", c->md5 ? c->md5 : "");
  if (!c->md5 && !c->modified_ms)
    s->removed++;
  s->ms = c->modified_ms;
}

/* The change feed on a second handle: NOTIFY of a commit, a full poll,
 * an incremental poll that reports a removal. */
static void test_pg_change_feed(void **state) {
  fx *f = *state;
  fx g = {0};
  snprintf(g.dir, sizeof(g.dir), "%s", f->dir);
  assert_int_equal(open_store(&g, 3), 0);
  const nc_cfg_store_vt *vt = nc_cfg_store_vtable(g.st);
  void *impl = nc_cfg_store_impl(g.st);
  seen s = {0};
  assert_int_equal(vt->wait_changes(impl, 0, on_seen, &s), 0); /* LISTEN */
  assert_int_equal(put(f, "feed", "g", "ns", "v1", NULL, 1), 0);
  for (int i = 0; i < 20 && s.n == 0; i++)
    assert_int_equal(vt->wait_changes(impl, 100, on_seen, &s), 0);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.last, "ns/g/feed");
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "feed", "g", "ns", &it), 0);
  assert_int_equal(s.ms, it->modified_ms); /* the database's time of the write */
  int64_t cursor = 0;
  seen p = {0};
  assert_int_equal(vt->poll_changes(impl, &cursor, on_seen, &p), 0);
  assert_int_equal(p.n, 1);
  assert_string_equal(p.md5, it->md5);
  nc_cfg_item_free(it);
  assert_true(cursor > 0);
  int existed = 0;
  assert_int_equal(nc_cfg_store_remove(f->st, "feed", "g", "ns", 2, &existed), 0);
  seen q = {0};
  assert_int_equal(vt->poll_changes(impl, &cursor, on_seen, &q), 0);
  assert_int_equal(q.removed, 1);
  nc_cfg_store_close(g.st);
}

/* Two handles (two nodes) racing on one key with the same CAS md5: one
 * wins, the other conflicts. */
static void test_pg_cas_across_handles(void **state) {
  fx *f = *state;
  fx g = {0};
  snprintf(g.dir, sizeof(g.dir), "%s", f->dir);
  assert_int_equal(open_store(&g, 3), 0);
  char m1[33];
  nc_md5_hex("v1", 2, m1);
  assert_int_equal(put(f, "race", "g", "", "v1", NULL, 1), 0);
  assert_int_equal(put(&g, "race", "g", "", "v2", m1, 2), 0);
  assert_int_equal(put(f, "race", "g", "", "v3", m1, 3), NC_ECONFLICT);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "race", "g", "", &it), 0);
  assert_string_equal(it->content, "v2");
  nc_cfg_item_free(it);
  nc_cfg_store_close(g.st);
}

/* PostgreSQL restarted while the handle sat idle: the first write after
 * it is back succeeds (the dead connection is found before it is used). */
static void test_pg_first_write_after_a_restart_succeeds(void **state) {
  fx *f = *state;
  assert_int_equal(put(f, "d", "g", "", "before", NULL, 1), 0);
  assert_int_equal(nc_testpg_stop(g_pg), 0);
  assert_int_equal(nc_testpg_restart(g_pg), 0);
  struct timespec ts = {0, 300000000};
  nanosleep(&ts, NULL);
  assert_int_equal(put(f, "d", "g", "", "after", NULL, 2), 0);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), 0);
  assert_string_equal(it->content, "after");
  nc_cfg_item_free(it);
}

/* History beyond history_keep is never listed, and the change feed's poll
 * deletes it. */
static void test_pg_poll_trims_history(void **state) {
  fx *f = *state; /* keep = 3 */
  char content[16];
  for (int i = 0; i < 8; i++) {
    snprintf(content, sizeof(content), "v%d", i);
    assert_int_equal(put(f, "trim", "g", "", content, NULL, i + 1), 0);
  }
  char rows[16];
  assert_int_equal(nc_testpg_sql(g_pg, "SELECT count(*) FROM his_config_info WHERE data_id='trim'",
                                 rows, sizeof(rows)),
                   0);
  assert_string_equal(rows, "8");
  nc_cfg_hist *h = NULL;
  size_t n = 0;
  assert_int_equal(nc_cfg_store_history(f->st, "trim", "g", "", 100, &h, &n), 0);
  assert_int_equal(n, 3);
  nc_cfg_hist_free(h, n);
  int64_t cursor = 0;
  seen p = {0};
  const nc_cfg_store_vt *vt = nc_cfg_store_vtable(f->st);
  assert_int_equal(vt->poll_changes(nc_cfg_store_impl(f->st), &cursor, on_seen, &p), 0);
  assert_int_equal(nc_testpg_sql(g_pg, "SELECT count(*) FROM his_config_info WHERE data_id='trim'",
                                 rows, sizeof(rows)),
                   0);
  assert_string_equal(rows, "3");
}

#define SHARED_TESTS                                                                               \
  cmocka_unit_test_setup_teardown(test_put_get_roundtrip, setup, teardown),                        \
      cmocka_unit_test_setup_teardown(test_cas_mismatch_rejected_and_state_kept, setup, teardown), \
      cmocka_unit_test_setup_teardown(test_remove_and_remove_missing, setup, teardown),            \
      cmocka_unit_test_setup_teardown(test_history_bounded_newest_first, setup, teardown),         \
      cmocka_unit_test_setup_teardown(test_batch_per_op_results, setup, teardown),                 \
      cmocka_unit_test_setup_teardown(test_persists_across_reopen, setup, teardown),               \
      cmocka_unit_test_setup_teardown(test_history_rows_are_versions, setup, teardown),            \
      cmocka_unit_test_setup_teardown(test_rollback_of_recorded, setup, teardown),                 \
      cmocka_unit_test_setup_teardown(test_two_updates_of_a_key_in_one_batch, setup, teardown),    \
      cmocka_unit_test_setup_teardown(test_history_get_of_another_key_not_found, setup, teardown)

int main(void) {
  const struct CMUnitTest sqlite_tests[] = {
      SHARED_TESTS,
      cmocka_unit_test(test_open_bad_dir_fails_cleanly),
      cmocka_unit_test_setup_teardown(test_migrates_schema1_db, setup, teardown),
      cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
  };
  const struct CMUnitTest pg_tests[] = {
      SHARED_TESTS,
      cmocka_unit_test_setup_teardown(test_pg_newer_schema_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_adopts_a_nacos_database, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_bad_op_fails_alone, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_change_feed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_cas_across_handles, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_poll_trims_history, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pg_first_write_after_a_restart_succeeds, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_pg_down_fails_fast_and_reconnects, setup, teardown),
  };
  int rc = cmocka_run_group_tests_name("sqlite", sqlite_tests, NULL, NULL);
  char why[512];
  if (!nc_testpg_available(why, sizeof(why))) {
    fprintf(stderr, "postgresql: skipped: %s\n", why);
    return rc;
  }
  if (nc_testpg_start(&g_pg) != 0)
    return 1;
  rc |= cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
  nc_testpg_free(g_pg);
  return rc;
}
