/* --version on every binary, and --show-config refusing what start-up
 * refuses (issue 9 item 5): the real nacosd, nacos-agent and nacosctl.
 * Before: no --version anywhere, and `nacosd --log-level loud
 * --show-config` printed the configuration and exited 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_testproc.h"
#include "nc_testrun.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run(nc_trun *p, const char *const *argv) {
  assert_int_equal(nc_trun_spawn(p, argv, NULL, NULL), 0);
  int rc = nc_trun_finish(p, 10000);
  assert_true(rc >= 0);
  return rc;
}

static void test_version_on_every_binary(void **state) {
  (void)state;
  const char *const bins[][2] = {
      {NC_NACOSD_BIN, "nacosd"}, {NC_AGENT_BIN, "nacos-agent"}, {NC_NACOSCTL_BIN, "nacosctl"}};
  for (size_t i = 0; i < 3; i++) {
    nc_trun p;
    char want[64];
    snprintf(want, sizeof(want), "%s %s\n", bins[i][1], NC_VERSION);
    assert_int_equal(run(&p, (const char *[]){bins[i][0], "--version", NULL}), 0);
    assert_string_equal(p.obuf, want);
    /* nacosctl takes it anywhere, like its other global options. */
    if (i == 2) {
      assert_int_equal(run(&p, (const char *[]){bins[i][0], "status", "--version", NULL}), 0);
      assert_string_equal(p.obuf, want);
    }
  }
}

/* Bad values: --show-config exits as start-up does (2), names the option
 * and what it accepts, and prints no configuration. */
static void check_refused(const char *bin, const char *const *args, const char *opt,
                          const char *accepted) {
  const char *argv[16] = {bin};
  int n = 1;
  for (; args[n - 1]; n++)
    argv[n] = args[n - 1];
  /* the same line as start-up would see it, and with --show-config */
  for (int show = 0; show < 2; show++) {
    nc_trun p;
    argv[n] = show ? "--show-config" : NULL;
    argv[n + 1] = NULL;
    int rc = run(&p, argv);
    if (rc != 2 || !strstr(p.ebuf, opt) || !strstr(p.ebuf, accepted))
      fprintf(stderr, "%s %s%s: rc %d, stderr: %s\n", bin, args[0], show ? " --show-config" : "",
              rc, p.ebuf);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(p.ebuf, opt));
    assert_non_null(strstr(p.ebuf, accepted));
    assert_null(strstr(p.obuf, " = "));
  }
}

static void test_show_config_refuses_what_startup_refuses(void **state) {
  (void)state;
  const char *levels = "error|warn|info|debug|trace";
  check_refused(NC_NACOSD_BIN, (const char *[]){"--log-level", "loud", NULL}, "log-level", levels);
  check_refused(NC_AGENT_BIN, (const char *[]){"--log-level", "loud", NULL}, "log-level", levels);
  /* ranges, and rules that span options */
  check_refused(NC_NACOSD_BIN, (const char *[]){"--push-merge-ms", "-5", NULL}, "push-merge-ms",
                "0..600000");
  check_refused(NC_NACOSD_BIN, (const char *[]){"--port", "65000", NULL}, "--port 65000",
                "no room");
  check_refused(NC_AGENT_BIN, (const char *[]){"--servers", "host:notaport", NULL}, "--servers",
                "host:port");
  check_refused(NC_AGENT_BIN, (const char *[]){"--allowed-uids", "root", NULL}, "--allowed-uids",
                "numeric uids");
}

/* The same check applies to values from --config FILE. */
static void test_show_config_checks_the_config_file(void **state) {
  (void)state;
  char dir[256], conf[300];
  nc_trun p;
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(conf, sizeof(conf), "%s/nacosd.conf", dir);
  FILE *f = fopen(conf, "w");
  assert_non_null(f);
  fputs("log-level = chatty\n", f);
  fclose(f);
  assert_int_equal(
      run(&p, (const char *[]){NC_NACOSD_BIN, "--config", conf, "--show-config", NULL}), 2);
  assert_non_null(strstr(p.ebuf, "log-level"));
  assert_non_null(strstr(p.ebuf, "error|warn|info|debug|trace"));
  nc_test_rmtree(dir);
}

/* Good values still print, with choices matched case-insensitively (as
 * the log level always was). */
static void test_show_config_prints_valid_values(void **state) {
  (void)state;
  nc_trun p;
  assert_int_equal(run(&p, (const char *[]){NC_NACOSD_BIN, "--log-level", "DEBUG", "--port", "7000",
                                            "--show-config", NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "log-level = DEBUG\n"));
  assert_non_null(strstr(p.obuf, "port = 7000\n"));
  assert_int_equal(
      run(&p, (const char *[]){NC_AGENT_BIN, "--log-level", "warn", "--show-config", NULL}), 0);
  assert_non_null(strstr(p.obuf, "log-level = warn\n"));
  assert_non_null(strstr(p.obuf, "socket = /run/nacos-agent/agent.sock\n"));
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_on_every_binary),
      cmocka_unit_test(test_show_config_refuses_what_startup_refuses),
      cmocka_unit_test(test_show_config_checks_the_config_file),
      cmocka_unit_test(test_show_config_prints_valid_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
