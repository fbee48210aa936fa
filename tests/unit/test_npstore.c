/* The persistent-instance rows (naming_pstore_db.h), the same tests on
 * SQLite (<dir>/config.db) and on PostgreSQL (when a server can be started
 * here): put / load one service / load all, replace by address, health,
 * delete, the default namespace spelled "" or "public", bad input refused
 * with the rows intact, and what survives a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "naming_pstore_db.h"
#include "nc_err.h"
#include "nc_testpg.h"
#include "nc_testproc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nc_testpg *g_pg;

typedef struct fx {
  char dir[64];
  nc_npdb *db;
} fx;

static int open_db(fx *f) {
  nc_npdb_opts o = {.backend = g_pg ? "postgresql" : "sqlite", .data_dir = f->dir,
                    .db_url = g_pg ? nc_testpg_url(g_pg) : NULL, .timeout_ms = 3000};
  return nc_npdb_open(&o, &f->db);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  if (!f || nc_test_mkdtemp(f->dir, sizeof(f->dir)) != 0)
    return -1;
  if (g_pg && nc_testpg_sql(g_pg, "DROP TABLE IF EXISTS nc_persistent_instance, nc_cluster_health",
                            NULL, 0) != 0)
    return -1;
  if (open_db(f) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  nc_npdb_close(f->db);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  int rc = system(cmd);
  free(f);
  return rc ? -1 : 0;
}

static void put(nc_npdb *db, const char *ns, const char *svc, const char *ip, int port,
                const char *inst, int healthy) {
  nc_nprow r = {.ns = (char *)ns, .group = "DEFAULT_GROUP", .name = (char *)svc, .ip = (char *)ip,
                .port = port, .inst = (char *)inst, .healthy = healthy, .modified_ms = 1000};
  assert_int_equal(nc_npdb_put(db, &r), 0);
}

/* The row of ip:port among rows, or NULL. */
static const nc_nprow *find(const nc_nprow *rows, size_t n, const char *ip, int port) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(rows[i].ip, ip) && rows[i].port == port)
      return &rows[i];
  return NULL;
}

static void test_put_load_replace(void **state) {
  fx *f = *state;
  put(f->db, "", "a", "10.0.0.1", 80, "{\"ip\":\"10.0.0.1\",\"port\":80}", 1);
  put(f->db, "public", "a", "10.0.0.2", 80, "{\"v\":1}", 1);
  put(f->db, "dev", "a", "10.0.0.3", 80, "{\"v\":1}", 1);
  put(f->db, "public", "b", "10.0.0.1", 80, "{\"v\":1}", 0);
  /* the same address again replaces its row (one instance per service) */
  put(f->db, "public", "a", "10.0.0.2", 80, "{\"v\":2}", 0);
  nc_nprow *rows = NULL;
  size_t n = 0;
  assert_int_equal(nc_npdb_load(f->db, "", "DEFAULT_GROUP", "a", &rows, &n), 0);
  assert_int_equal(n, 2); /* "" and "public" are one namespace; dev is another */
  const nc_nprow *r = find(rows, n, "10.0.0.2", 80);
  assert_non_null(r);
  assert_string_equal(r->inst, "{\"v\":2}");
  assert_int_equal(r->healthy, 0);
  assert_string_equal(r->ns, "public");
  assert_int_equal(r->modified_ms, 1000);
  nc_nprow_free(rows, n);
  assert_int_equal(nc_npdb_load(f->db, NULL, NULL, NULL, &rows, &n), 0);
  assert_int_equal(n, 4);
  nc_nprow_free(rows, n);
  assert_int_equal(nc_npdb_load(f->db, "dev", "DEFAULT_GROUP", "a", &rows, &n), 0);
  assert_int_equal(n, 1);
  nc_nprow_free(rows, n);
}

static void test_health_and_delete(void **state) {
  fx *f = *state;
  int existed = -1;
  put(f->db, "public", "h", "10.0.0.9", 8080, "{}", 1);
  assert_int_equal(nc_npdb_set_health(f->db, "", "DEFAULT_GROUP", "h", "10.0.0.9", 8080, 0, 2000,
                                      &existed), 0);
  assert_int_equal(existed, 1);
  /* an unknown row: nothing written */
  assert_int_equal(nc_npdb_set_health(f->db, "", "DEFAULT_GROUP", "h", "10.0.0.9", 8081, 0, 2000,
                                      &existed), 0);
  assert_int_equal(existed, 0);
  nc_nprow *rows = NULL;
  size_t n = 0;
  assert_int_equal(nc_npdb_load(f->db, "public", "DEFAULT_GROUP", "h", &rows, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(rows[0].healthy, 0);
  assert_int_equal(rows[0].modified_ms, 2000);
  nc_nprow_free(rows, n);
  assert_int_equal(nc_npdb_del(f->db, "", "DEFAULT_GROUP", "h", "10.0.0.9", 8080, &existed), 0);
  assert_int_equal(existed, 1);
  assert_int_equal(nc_npdb_del(f->db, "", "DEFAULT_GROUP", "h", "10.0.0.9", 8080, &existed), 0);
  assert_int_equal(existed, 0);
  assert_int_equal(nc_npdb_load(f->db, "public", "DEFAULT_GROUP", "h", &rows, &n), 0);
  assert_int_equal(n, 0);
  nc_nprow_free(rows, n);
}

static void test_bad_input_refused(void **state) {
  fx *f = *state;
  put(f->db, "public", "keep", "10.0.0.1", 1, "{}", 1);
  nc_nprow bad = {.ns = "public", .group = "DEFAULT_GROUP", .name = "", .ip = "10.0.0.1",
                  .port = 1, .inst = "{}"};
  assert_int_equal(nc_npdb_put(f->db, &bad), NC_EINVAL);
  bad.name = "keep";
  bad.ip = NULL;
  assert_int_equal(nc_npdb_put(f->db, &bad), NC_EINVAL);
  bad.ip = "10.0.0.1";
  bad.inst = NULL;
  assert_int_equal(nc_npdb_put(f->db, &bad), NC_EINVAL);
  nc_nprow *rows = NULL;
  size_t n = 0;
  assert_int_equal(nc_npdb_load(f->db, "public", NULL, "keep", &rows, &n), NC_EINVAL);
  assert_int_equal(nc_npdb_load(f->db, "public", "DEFAULT_GROUP", "keep", &rows, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(rows[0].inst, "{}");
  nc_nprow_free(rows, n);
  nc_npdb_opts o = {.backend = "mysql"};
  nc_npdb *db = NULL;
  assert_int_equal(nc_npdb_open(&o, &db), NC_EINVAL);
  assert_null(db);
}

static void test_survives_reopen(void **state) {
  fx *f = *state;
  put(f->db, "public", "r", "10.1.1.1", 9000, "{\"x\":\"y\"}", 0);
  nc_npdb_close(f->db);
  f->db = NULL;
  assert_int_equal(open_db(f), 0);
  nc_nprow *rows = NULL;
  size_t n = 0;
  assert_int_equal(nc_npdb_load(f->db, NULL, NULL, NULL, &rows, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(rows[0].name, "r");
  assert_string_equal(rows[0].inst, "{\"x\":\"y\"}");
  assert_int_equal(rows[0].healthy, 0);
  assert_int_equal(rows[0].port, 9000);
  nc_nprow_free(rows, n);
}

static void test_cluster_checkers(void **state) {
  fx *f = *state;
  nc_npchk c = {.ns = "", .group = "DEFAULT_GROUP", .name = "web", .cluster = "DEFAULT",
                .json = "{\"healthChecker\":{\"type\":\"TCP\"}}"};
  assert_int_equal(nc_npdb_put_checker(f->db, &c, 1), 0);
  c.json = "{\"healthChecker\":{\"type\":\"HTTP\",\"path\":\"/h\"}}"; /* replaces */
  assert_int_equal(nc_npdb_put_checker(f->db, &c, 2), 0);
  c.cluster = "c2";
  assert_int_equal(nc_npdb_put_checker(f->db, &c, 3), 0);
  c.cluster = "";
  assert_int_equal(nc_npdb_put_checker(f->db, &c, 4), NC_EINVAL);
  nc_npchk *v = NULL;
  size_t n = 0;
  assert_int_equal(nc_npdb_load_checkers(f->db, &v, &n), 0);
  assert_int_equal(n, 2);
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(v[i].ns, "public");
    assert_non_null(strstr(v[i].json, "HTTP"));
  }
  nc_npchk_free(v, n);
}

static void test_pg_down_is_unavailable(void **state) {
  fx *f = *state;
  put(f->db, "public", "d", "10.2.2.2", 1, "{}", 1);
  assert_int_equal(nc_testpg_stop(g_pg), 0);
  nc_nprow *rows = NULL;
  size_t n = 0;
  int rc = nc_npdb_load(f->db, NULL, NULL, NULL, &rows, &n);
  assert_true(rc == NC_EUNAVAIL || rc == NC_EDB);
  assert_int_equal(n, 0);
  assert_int_equal(nc_testpg_restart(g_pg), 0);
  /* the handle reconnects (after its 1 s back-off) and the row is there */
  long long t0 = nc_test_now_ms();
  while ((rc = nc_npdb_load(f->db, NULL, NULL, NULL, &rows, &n)) != 0 &&
         nc_test_now_ms() - t0 < 5000)
    nc_test_sleep_ms(100);
  assert_int_equal(rc, 0);
  assert_int_equal(n, 1);
  nc_nprow_free(rows, n);
}

#define SHARED_TESTS                                                                               \
  cmocka_unit_test_setup_teardown(test_put_load_replace, setup, teardown),                        \
      cmocka_unit_test_setup_teardown(test_health_and_delete, setup, teardown),                   \
      cmocka_unit_test_setup_teardown(test_bad_input_refused, setup, teardown),                   \
      cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),                     \
      cmocka_unit_test_setup_teardown(test_cluster_checkers, setup, teardown)

int main(void) {
  const struct CMUnitTest sqlite_tests[] = {SHARED_TESTS};
  const struct CMUnitTest pg_tests[] = {
      SHARED_TESTS,
      cmocka_unit_test_setup_teardown(test_pg_down_is_unavailable, setup, teardown),
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
