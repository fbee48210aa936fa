/* SIGHUP on both daemons: logged, the configuration re-read (the log level
 * applies at once, a bad value is refused and the running one kept), and
 * the daemon keeps serving. Before, SIGHUP killed both (exit 129, no log). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_testagent.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"
#include "nc_testwait.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int log_holds(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  char line[1024];
  int found = 0;
  while (f && !found && fgets(line, sizeof(line), f))
    found = strstr(line, needle) != NULL;
  if (f)
    fclose(f);
  return found;
}

/* 1 once the log at path holds needle (polled for up to ms). */
static int log_has(const char *path, const char *needle, int ms) {
  long long took;
  NC_TEST_POLL(log_holds(path, needle), ms, took);
  return took >= 0;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_nacosd_survives_sighup_and_reloads_log_level(void **state) {
  (void)state;
  char dir[256], conf[300];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(conf, sizeof(conf), "%s/nacosd.conf", dir);
  write_file(conf, "log-level = info\n");
  const char *const args[] = {"--config", conf, NULL};
  nc_test_nacosd srv;
  assert_int_equal(nc_test_nacosd_start(dir, args, &srv), 0);

  kill(srv.proc.pid, SIGHUP);
  assert_true(log_has(srv.proc.log_path, "SIGHUP: re-reading configuration", 5000));
  assert_true(nc_testproc_alive(&srv.proc));
  int code = 0;
  assert_int_equal(nc_test_http_get(srv.port, "/metrics", &code, NULL), 0);
  assert_int_equal(code, 200);

  write_file(conf, "log-level = debug\n");
  kill(srv.proc.pid, SIGHUP);
  assert_true(log_has(srv.proc.log_path, "reload: log-level info -> debug", 5000));

  write_file(conf, "log-level = loud\n");
  kill(srv.proc.pid, SIGHUP);
  /* refused by the option table (the message names the choices), the
   * running configuration kept */
  assert_true(log_has(srv.proc.log_path, "'loud' is not one of error|warn|info|debug|trace", 5000));
  assert_true(
      log_has(srv.proc.log_path, "configuration is invalid; keeping the running one", 5000));
  assert_int_equal(nc_test_http_get(srv.port, "/metrics", &code, NULL), 0);
  assert_int_equal(code, 200);
  assert_int_equal(nc_test_nacosd_stop(&srv), 0);
  nc_test_rmtree(dir);
}

static void test_agent_survives_sighup(void **state) {
  (void)state;
  nc_test_stack st;
  assert_int_equal(nc_test_stack_start(&st, NULL, NULL), 0);
  for (int i = 0; i < 3; i++)
    kill(st.ag.proc.pid, SIGHUP);
  assert_true(log_has(st.ag.proc.log_path, "SIGHUP: re-reading configuration", 5000));
  assert_true(log_has(st.ag.proc.log_path, "reload: log-level", 5000));
  assert_true(nc_testproc_alive(&st.ag.proc));
  /* still serving apps, still connected upstream */
  assert_true(nc_test_agent_wait_connected(&st.ag, 5000) >= 0);
  assert_int_equal(nc_test_stack_stop(&st), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nacosd_survives_sighup_and_reloads_log_level),
      cmocka_unit_test(test_agent_survives_sighup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
