/* nc_testpg, the real-PostgreSQL fixture: its URL works with libpq, a
 * stopped server refuses connections, committed rows survive a fast stop
 * and a kill -9, instances are independent, and free leaves neither a
 * process nor a dir behind. Skips (with the reason) where PostgreSQL
 * cannot run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nc_err.h"
#include "nc_testpg.h"
#include "nc_testproc.h"
#include "nc_testwait.h"

static nc_testpg *start_timed(void) {
  long long t0 = nc_test_now_ms();
  nc_testpg *pg = NULL;
  assert_int_equal(nc_testpg_start(&pg), 0);
  assert_non_null(pg);
  fprintf(stderr, "nc_testpg: started on port %d in %lld ms\n", nc_testpg_port(pg),
          nc_test_now_ms() - t0);
  return pg;
}

static void test_url_connects_as_nacos_to_database_nacos(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  nc_testpg *pg = start_timed();
  char want[160];
  snprintf(want, sizeof(want), "postgresql://nacos@127.0.0.1:%d/nacos?connect_timeout=5",
           nc_testpg_port(pg));
  assert_string_equal(nc_testpg_url(pg), want);

  PGconn *c = PQconnectdb(nc_testpg_url(pg));
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  assert_string_equal(PQdb(c), "nacos");
  assert_string_equal(PQuser(c), "nacos");
  assert_int_equal(atoi(PQport(c)), nc_testpg_port(pg));
  PQfinish(c);

  char out[256];
  assert_int_equal(nc_testpg_sql(pg, "SELECT current_database()", out, sizeof(out)), 0);
  assert_string_equal(out, "nacos");
  assert_int_equal(nc_testpg_sql(pg, "SHOW fsync", out, sizeof(out)), 0);
  assert_string_equal(out, "on");
  assert_int_equal(nc_testpg_sql(pg, "SELECT current_setting('server_version_num')::int / 10000",
                                 out, sizeof(out)),
                   0);
  assert_string_equal(out, "15");
  /* A failing statement is NC_EDB with the server's message. */
  assert_int_equal(nc_testpg_sql(pg, "SELECT * FROM no_such_table", out, sizeof(out)), NC_EDB);
  assert_non_null(strstr(out, "no_such_table"));
  nc_testpg_free(pg);
}

static void test_committed_rows_survive_stop_and_kill9(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  nc_testpg *pg = start_timed();
  int port = nc_testpg_port(pg);
  char out[256];
  assert_int_equal(nc_testpg_sql(pg, "CREATE TABLE t (k text PRIMARY KEY, v int)", NULL, 0), 0);
  assert_int_equal(nc_testpg_sql(pg, "INSERT INTO t VALUES ('a', 1)", NULL, 0), 0);

  assert_int_equal(nc_testpg_stop(pg), 0);
  assert_false(nc_testpg_running(pg));
  assert_int_equal(PQping(nc_testpg_url(pg)), PQPING_NO_RESPONSE);
  assert_int_equal(nc_testpg_sql(pg, "SELECT 1", out, sizeof(out)), NC_EUNAVAIL);
  assert_int_equal(nc_testpg_stop(pg), NC_ESTATE);

  long long t0 = nc_test_now_ms();
  assert_int_equal(nc_testpg_restart(pg), 0);
  fprintf(stderr, "nc_testpg: restart after stop in %lld ms\n", nc_test_now_ms() - t0);
  assert_int_equal(nc_testpg_port(pg), port);
  assert_int_equal(nc_testpg_restart(pg), NC_ESTATE);
  assert_int_equal(nc_testpg_sql(pg, "SELECT v FROM t WHERE k = 'a'", out, sizeof(out)), 0);
  assert_string_equal(out, "1");

  /* Committed just before the crash: fsync=on makes it durable. */
  assert_int_equal(nc_testpg_sql(pg, "INSERT INTO t VALUES ('b', 2)", NULL, 0), 0);
  assert_int_equal(nc_testpg_kill9(pg), 0);
  assert_int_equal(nc_testpg_sql(pg, "SELECT 1", out, sizeof(out)), NC_EUNAVAIL);

  t0 = nc_test_now_ms();
  assert_int_equal(nc_testpg_restart(pg), 0);
  fprintf(stderr, "nc_testpg: restart after kill -9 (crash recovery) in %lld ms\n",
          nc_test_now_ms() - t0);
  assert_int_equal(nc_testpg_port(pg), port);
  assert_int_equal(nc_testpg_sql(pg, "SELECT string_agg(k || v, ',' ORDER BY k) FROM t", out,
                                 sizeof(out)),
                   0);
  assert_string_equal(out, "a1,b2");
  nc_testpg_free(pg);
}

static void test_instances_are_independent(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  nc_testpg *a = start_timed();
  nc_testpg *b = start_timed();
  char out[256];
  assert_int_not_equal(nc_testpg_port(a), nc_testpg_port(b));
  assert_string_not_equal(nc_testpg_dir(a), nc_testpg_dir(b));
  assert_int_equal(nc_testpg_sql(a, "CREATE TABLE only_in_a (x int)", NULL, 0), 0);
  assert_int_equal(nc_testpg_sql(b, "SELECT to_regclass('only_in_a')", out, sizeof(out)), 0);
  assert_string_equal(out, ""); /* NULL: no such table in b */
  assert_int_equal(nc_testpg_sql(a, "SELECT to_regclass('only_in_a')", out, sizeof(out)), 0);
  assert_string_equal(out, "only_in_a");
  nc_testpg_free(b);
  assert_int_equal(nc_testpg_sql(a, "SELECT 1", out, sizeof(out)), 0);
  assert_string_equal(out, "1");
  nc_testpg_free(a);
}

static void test_free_leaves_no_server_and_no_dir(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  nc_testpg *pg = start_timed();
  char dir[256], pidfile[320];
  snprintf(dir, sizeof(dir), "%s", nc_testpg_dir(pg));
  snprintf(pidfile, sizeof(pidfile), "%s/data/postmaster.pid", dir);
  FILE *f = fopen(pidfile, "r");
  assert_non_null(f);
  long pid = 0;
  assert_int_equal(fscanf(f, "%ld", &pid), 1);
  fclose(f);
  assert_true(pid > 0);
  assert_int_equal(kill((pid_t)pid, 0), 0);
  char url[160];
  snprintf(url, sizeof(url), "%s", nc_testpg_url(pg));

  nc_testpg_free(pg);
  errno = 0;
  assert_int_equal(kill((pid_t)pid, 0), -1);
  assert_int_equal(errno, ESRCH);
  assert_int_equal(PQping(url), PQPING_NO_RESPONSE);
  struct stat st;
  assert_int_equal(stat(dir, &st), -1);
}

/* The postmaster's pid from its postmaster.pid (first line). */
static long postmaster_pid(const char *dir) {
  char path[320];
  snprintf(path, sizeof(path), "%s/data/postmaster.pid", dir);
  FILE *f = fopen(path, "r");
  long pid = 0;
  if (f) {
    if (fscanf(f, "%ld", &pid) != 1)
      pid = 0;
    fclose(f);
  }
  return pid;
}

/* 1 when pid is gone or a zombie waiting for init to reap it. */
static int process_gone(long pid) {
  char path[64], buf[512];
  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');
  return p && p[1] == ' ' && p[2] == 'Z';
}

static void test_server_dies_with_a_crashed_test_process(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) { /* a test that dies without nc_testpg_free or exit() */
    close(fds[0]);
    nc_testpg *pg = NULL;
    if (nc_testpg_start(&pg) != 0)
      _exit(1);
    dprintf(fds[1], "%ld %s %s\n", postmaster_pid(nc_testpg_dir(pg)), nc_testpg_dir(pg),
            nc_testpg_url(pg));
    raise(SIGKILL);
  }
  close(fds[1]);
  FILE *f = fdopen(fds[0], "r");
  assert_non_null(f);
  long pid = 0;
  char dir[256] = "", url[256] = "";
  int n = fscanf(f, "%ld %255s %255s", &pid, dir, url);
  fclose(f);
  int st = 0;
  assert_int_equal(waitpid(child, &st, 0), child);
  assert_int_equal(n, 3);
  assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  assert_true(pid > 0);
  NC_TEST_WAIT(process_gone(pid), 10000);
  NC_TEST_WAIT(PQping(url) == PQPING_NO_RESPONSE, 10000);
  nc_test_rmtree(dir); /* what the next test process's sweep would do */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_url_connects_as_nacos_to_database_nacos),
      cmocka_unit_test(test_committed_rows_survive_stop_and_kill9),
      cmocka_unit_test(test_instances_are_independent),
      cmocka_unit_test(test_free_leaves_no_server_and_no_dir),
      cmocka_unit_test(test_server_dies_with_a_crashed_test_process),
  };
  char why[512];
  long long t0 = nc_test_now_ms();
  if (nc_testpg_available(why, sizeof(why)))
    fprintf(stderr, "nc_testpg: template (initdb + database nacos) in %lld ms\n",
            nc_test_now_ms() - t0);
  return NC_TEST_MAIN(tests);
}
