/* nacosd's log lines an operator relies on (issue 9 item 9): one info line
 * per committed config publish/remove naming the connection, one warn line
 * per refused request with connection id and reason, client strings
 * escaped so they cannot forge a line, and a flood of refusals summed up
 * instead of flooding the journal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testwait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nc_tfx *f;

static int setup(void **state) {
  (void)state;
  return nc_tfx_start(NULL, &f) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return nc_tfx_stop(f) == 0 ? 0 : -1;
}

/* Lines of nacosd's log that contain n1 and n2 (n2 may be NULL), or with
 * at_start, that begin with n1 (what a forged line would look like). */
static int count_lines_at(const char *n1, const char *n2, int at_start) {
  FILE *fp = fopen(f->srv->proc.log_path, "r");
  char line[4096];
  int n = 0;
  if (!fp)
    return 0;
  while (fgets(line, sizeof(line), fp)) {
    const char *hit = strstr(line, n1);
    if (hit && (!at_start || hit == line) && (!n2 || strstr(line, n2)))
      n++;
  }
  fclose(fp);
  return n;
}

static int count_lines(const char *n1, const char *n2) { return count_lines_at(n1, n2, 0); }
static int lines_starting_with(const char *prefix) { return count_lines_at(prefix, NULL, 1); }

static void test_config_writes_log_connection_and_key(void **state) {
  (void)state;
  nc_tw *tw = nc_tfx_connect(f, &(nc_tw_opts){.module = "config"});
  assert_non_null(tw);
  nc_tw_expect_ok(nc_tw_config_publish(tw, "logged.yaml", "G1", NULL, "a: 1", NULL),
                  "ConfigPublishResponse");
  nc_tw_expect_ok(nc_tw_config_remove(tw, "logged.yaml", "G1", NULL), "ConfigRemoveResponse");
  nc_tw_expect_ok(nc_tw_config_remove(tw, "never.yaml", "G1", NULL), "ConfigRemoveResponse");
  NC_TEST_WAIT(count_lines("publish logged.yaml+G1", nc_tw_id(tw)) == 1, 5000);
  NC_TEST_WAIT(count_lines("remove logged.yaml+G1", nc_tw_id(tw)) == 1, 5000);
  NC_TEST_WAIT(count_lines("remove never.yaml+G1 (did not exist)", nc_tw_id(tw)) == 1, 5000);
  /* a refused publish is a warn line with the reason, not a publish line */
  nc_tw_reply r = nc_tw_config_publish(tw, "bad.yaml", "G1", NULL, "", NULL);
  assert_int_equal(r.result_code, 500);
  NC_TEST_WAIT(count_lines("ConfigPublishRequest refused (400): content is blank", nc_tw_id(tw)) ==
                   1,
               5000);
  assert_int_equal(count_lines("publish bad.yaml", NULL), 0);
}

static void test_refusals_are_logged_escaped(void **state) {
  (void)state;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  /* an unknown type carrying a forged log line */
  nc_tw_reply r = nc_tw_call_reply(tw, "Evil\n12:00:00.000 nacosd[1] info  forged", NULL);
  assert_int_equal(r.error_code, 302);
  NC_TEST_WAIT(count_lines("refused (302): RequestHandler Not Found", "Evil\\n12:00") == 1, 5000);
  assert_int_equal(lines_starting_with("12:00:00.000 nacosd[1] info  forged"), 0);
  /* a handler's refusal names the connection too */
  cJSON *b = nc_tw_naming_body(tw, "");
  r = nc_tw_call_reply(tw, "ServiceQueryRequest", b);
  assert_int_equal(r.error_code, 400);
  NC_TEST_WAIT(count_lines("ServiceQueryRequest refused (400)", nc_tw_id(tw)) == 1, 5000);
  /* the wire client's wait for its registration (HealthChecks answered
   * 301 until the setup is done) is an answer, not a refusal */
  assert_int_equal(count_lines("HealthCheckRequest refused", NULL), 0);
}

static void test_refusal_flood_is_rate_limited(void **state) {
  (void)state;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  for (int i = 0; i < 200; i++) {
    nc_tw_reply r = nc_tw_call_reply(tw, "NoSuchFloodRequest", NULL);
    assert_int_equal(r.error_code, 302);
  }
  /* the summary comes with the next refusal in a later second */
  nc_test_sleep_ms(1100);
  nc_tw_reply r = nc_tw_call_reply(tw, "NoSuchFloodRequest", NULL);
  assert_int_equal(r.error_code, 302);
  NC_TEST_WAIT(count_lines("suppressed", NULL) >= 1, 5000);
  int lines = count_lines("NoSuchFloodRequest refused", NULL);
  assert_true(lines >= 1);
  assert_true(lines <= 3 * 20 + 1); /* at most 20 a second, the test lasts < 3 s */
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_writes_log_connection_and_key),
      cmocka_unit_test(test_refusals_are_logged_escaped),
      cmocka_unit_test(test_refusal_flood_is_rate_limited),
  };
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  nc_grpc_shutdown();
  return rc;
}
