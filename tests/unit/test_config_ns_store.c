/* Namespace storage (config_store.h ns_*), the same tests on SQLite (the
 * tenant_info table nacos-c adds) and on PostgreSQL (Nacos's tenant_info,
 * when a server can be started here): create, duplicate, update, list,
 * delete; unknown ids; what survives a reopen; a pre-namespace SQLite
 * database gains the table without a schema bump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_testproc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config_store.h"
#include "nc_err.h"
#include "nc_testpg.h"
#include <sqlite3.h>

static nc_testpg *g_pg;

typedef struct fx {
  char dir[64];
  nc_cfg_store *st;
} fx;

static int open_store(fx *f) {
  nc_cfg_store_opts o = {.data_dir = f->dir, .history_keep = 3};
  if (g_pg)
    o.db_url = nc_testpg_url(g_pg);
  return nc_cfg_store_open(g_pg ? "postgresql" : "sqlite", &o, &f->st);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  if (nc_test_mkdtemp(f->dir, sizeof(f->dir)) != 0)
    return -1;
  if (g_pg && nc_testpg_sql(g_pg,
                            "DROP TABLE IF EXISTS config_info, his_config_info, tenant_info, "
                            "nc_schema",
                            NULL, 0) != 0)
    return -1;
  if (open_store(f) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  nc_cfg_store_close(f->st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  int rc = system(cmd);
  free(f);
  return rc ? -1 : 0;
}

static void test_create_update_list_delete(void **state) {
  fx *f = *state;
  nc_cfg_ns *v = NULL;
  size_t n = 9;
  assert_int_equal(nc_cfg_store_ns_list(f->st, &v, &n), 0);
  assert_int_equal(n, 0);
  nc_cfg_ns_free(v, n);
  assert_int_equal(nc_cfg_store_ns_write(f->st, NC_NS_CREATE, "dev", "Dev", "the dev one", 1000), 0);
  assert_int_equal(nc_cfg_store_ns_write(f->st, NC_NS_CREATE, "a-b_1", "AB", "", 1001), 0);
  /* a duplicate id is refused and leaves the row as it was */
  assert_int_equal(nc_cfg_store_ns_write(f->st, NC_NS_CREATE, "dev", "Other", "x", 1002),
                   NC_EEXISTS);
  assert_int_equal(nc_cfg_store_ns_write(f->st, NC_NS_UPDATE, "dev", "Dev 2", "changed", 1003), 0);
  assert_int_equal(nc_cfg_store_ns_write(f->st, NC_NS_UPDATE, "nope", "N", "", 1004),
                   NC_ENOTFOUND);
  assert_int_equal(nc_cfg_store_ns_list(f->st, &v, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(v[0].id, "a-b_1"); /* by id */
  assert_string_equal(v[0].name, "AB");
  assert_string_equal(v[1].id, "dev");
  assert_string_equal(v[1].name, "Dev 2");
  assert_string_equal(v[1].desc, "changed");
  if (!g_pg) {
    assert_int_equal(v[1].created_ms, 1000);
    assert_int_equal(v[1].modified_ms, 1003);
  }
  nc_cfg_ns_free(v, n);
  assert_int_equal(nc_cfg_store_ns_write(f->st, NC_NS_DELETE, "dev", NULL, NULL, 1005), 0);
  assert_int_equal(nc_cfg_store_ns_write(f->st, NC_NS_DELETE, "dev", NULL, NULL, 1006),
                   NC_ENOTFOUND);
  assert_int_equal(nc_cfg_store_ns_list(f->st, &v, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].id, "a-b_1");
  nc_cfg_ns_free(v, n);
}

static void test_survives_reopen(void **state) {
  fx *f = *state;
  assert_int_equal(nc_cfg_store_ns_write(f->st, NC_NS_CREATE, "prod", "Prod", "p", 5), 0);
  nc_cfg_store_close(f->st);
  f->st = NULL;
  assert_int_equal(open_store(f), 0);
  nc_cfg_ns *v = NULL;
  size_t n = 0;
  assert_int_equal(nc_cfg_store_ns_list(f->st, &v, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].id, "prod");
  assert_string_equal(v[0].desc, "p");
  nc_cfg_ns_free(v, n);
}

/* A database written before namespaces (schema 2, no tenant_info) opens,
 * gains the table and keeps user_version 2, so an older build still
 * opens it. */
static void test_sqlite_old_db_gains_table(void **state) {
  fx *f = *state;
  nc_cfg_store_close(f->st);
  f->st = NULL;
  char path[128];
  snprintf(path, sizeof(path), "%s/config.db", f->dir);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "DROP TABLE tenant_info", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(open_store(f), 0);
  assert_int_equal(nc_cfg_store_ns_write(f->st, NC_NS_CREATE, "x", "X", "", 1), 0);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 2);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

/* Java Nacos's rows (kp '1', its create_source) are the same namespaces. */
static void test_pg_reads_nacos_rows(void **state) {
  fx *f = *state;
  assert_int_equal(nc_testpg_sql(g_pg,
                                 "INSERT INTO tenant_info (kp, tenant_id, tenant_name, tenant_desc,"
                                 " create_source) VALUES ('1','java-ns','Java','from java','nacos')",
                                 NULL, 0),
                   0);
  nc_cfg_ns *v = NULL;
  size_t n = 0;
  assert_int_equal(nc_cfg_store_ns_list(f->st, &v, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].id, "java-ns");
  assert_string_equal(v[0].name, "Java");
  nc_cfg_ns_free(v, n);
  assert_int_equal(nc_cfg_store_ns_write(f->st, NC_NS_CREATE, "java-ns", "J", "", 1), NC_EEXISTS);
}

#define SHARED_TESTS                                                                               \
  cmocka_unit_test_setup_teardown(test_create_update_list_delete, setup, teardown),                \
      cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown)

int main(void) {
  const struct CMUnitTest sqlite_tests[] = {
      SHARED_TESTS,
      cmocka_unit_test_setup_teardown(test_sqlite_old_db_gains_table, setup, teardown),
  };
  const struct CMUnitTest pg_tests[] = {
      SHARED_TESTS,
      cmocka_unit_test_setup_teardown(test_pg_reads_nacos_rows, setup, teardown),
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
