/* The real nacosctl binary against an in-test fake agent
 * (nacosctl_test_util.h): output formats, exit codes (1 agent error, 2
 * usage, 3 unreachable or no upstream), global options anywhere on the line,
 * content from stdin, and what goes over the socket.
 * test_nacosctl_cli_cmds.c has the long-running commands (Ctrl-C handling)
 * and the listings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nacosctl_test_util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void test_status_text_aligned_and_json_line(void **state) {
  (void)state;
  proc p;
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "status", NULL}), 0);
  /* keys padded to the longest ("connection_id") plus two spaces */
  assert_non_null(strstr(p.obuf, "connected      yes\n"));
  assert_non_null(strstr(p.obuf, "server         10.0.0.9:8848\n"));
  assert_non_null(strstr(p.obuf, "uptime_s       42\n"));
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "--json", "status", NULL}), 0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "connected")));
  assert_null(cJSON_GetObjectItem(j, "id"));
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "apps")), 2);
  cJSON_Delete(j);
}

static void test_instances_table_and_request_fields(void **state) {
  (void)state;
  proc p;
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "instances", "svc", "--group", "G1",
                                            "--healthy-only", NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "IP         PORT  WEIGHT  HEALTHY  ENABLED  CLUSTER  METADATA\n"));
  assert_non_null(strstr(p.obuf, "10.0.0.1   8080  1       yes      yes      DEFAULT  zone=a\n"));
  assert_non_null(strstr(p.obuf, "10.0.0.22  80    0.5     no       yes      C2       -\n"));
  cJSON *req = logged("naming.instances", 0);
  assert_non_null(req);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(req, "service")), "svc");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(req, "group")), "G1");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(req, "healthy_only")));
  cJSON_Delete(req);
}

static void test_agent_error_exit_1_with_code(void **state) {
  (void)state;
  proc p;
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "config", "get", "x", NULL}), 1);
  assert_non_null(strstr(p.ebuf, "NOT_FOUND"));
  assert_non_null(strstr(p.ebuf, "config 'x' not found"));
  assert_int_equal(p.olen, 0);
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "config", "put", "x", "v", "--cas",
                                            "ffff", NULL}),
                   1);
  assert_non_null(strstr(p.ebuf, "CONFLICT"));
}

static void test_usage_errors_exit_2_without_agent(void **state) {
  (void)state;
  proc p;
  const char *bad[][8] = {
      {"register", "svc", "1.2.3.4", NULL},
      {"register", "svc", "1.2.3.4", "99999", NULL},
      {"instances", "svc", "--cas", "x", NULL},
      {"config", "nope", "x", NULL},
      {"frobnicate", NULL},
      {"register", "svc", "1.2.3.4", "80", "--meta", "novalue", NULL},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *args[12] = {"--socket", "/nonexistent/agent.sock"};
    for (int k = 0; bad[i][k]; k++)
      args[2 + k] = bad[i][k];
    assert_int_equal(run(&p, args), 2);
    assert_non_null(strstr(p.ebuf, "usage:"));
  }
  assert_int_equal(run(&p, (const char *[]){"register", "--help", NULL}), 0);
  assert_non_null(strstr(p.obuf, "--meta KEY=VALUE"));
}

static void test_unreachable_agent_exit_3(void **state) {
  (void)state;
  proc p;
  assert_int_equal(run(&p, (const char *[]){"--socket", "/nonexistent/agent.sock", "status", NULL}),
                   3);
  assert_non_null(strstr(p.ebuf, "/nonexistent/agent.sock"));
}

static void test_config_put_reads_stdin(void **state) {
  (void)state;
  proc p;
  spawn(&p, (const char *[]){"--socket", F.path, "config", "put", "app.yaml", "-", "--group", "G",
                             NULL});
  const char body[] = "a: 1\nb: \"two\"\n";
  assert_int_equal(write(p.in, body, sizeof(body) - 1), (ssize_t)(sizeof(body) - 1));
  assert_int_equal(finish(&p), 0);
  assert_non_null(strstr(p.obuf, "published app.yaml md5=0123456789abcdef0123456789abcdef"));
  cJSON *req = logged("config.publish", 0);
  assert_non_null(req);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(req, "content")), body);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(req, "data_id")), "app.yaml");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(req, "group")), "G");
  assert_null(cJSON_GetObjectItem(req, "cas_md5"));
  cJSON_Delete(req);
}

/* --json and the other global options anywhere on the line (issue 9
 * item 2: `nacosctl instances demo.svc --json` said the option was
 * unknown). */
static void test_global_options_anywhere(void **state) {
  (void)state;
  proc p;
  assert_int_equal(
      run(&p, (const char *[]){"instances", "svc", "--json", "--socket", F.path, NULL}), 0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "hosts")), 2);
  cJSON_Delete(j);
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "config", "--json", "get", "x",
                                            "--timeout", "2000", NULL}),
                   1);
  assert_non_null(strstr(p.ebuf, "NOT_FOUND"));
  /* after "--" it is an argument again: content "--json" */
  assert_int_equal(
      run(&p, (const char *[]){"config", "put", "k", "--socket", F.path, "--", "--json", NULL}), 0);
  cJSON *req = logged("config.publish", 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(req, "content")), "--json");
  cJSON_Delete(req);
  assert_non_null(strstr(p.obuf, "published k"));
}

static void test_status_without_upstream_exits_3(void **state) {
  (void)state;
  proc p;
  fake_offline = 1;
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "status", NULL}), 3);
  assert_non_null(strstr(p.obuf, "connected  no\n")); /* still printed */
  assert_non_null(strstr(p.ebuf, "no upstream"));
  assert_int_equal(run(&p, (const char *[]){"status", "--json", "--socket", F.path, NULL}), 3);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "connected")));
  cJSON_Delete(j);
}

static void test_config_rm_missing_says_so(void **state) {
  (void)state;
  proc p;
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "config", "rm", "missing", NULL}),
                   1);
  assert_non_null(strstr(p.ebuf, "NOT_FOUND"));
  assert_non_null(strstr(p.ebuf, "'missing' did not exist"));
  assert_int_equal(p.olen, 0);
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "config", "rm", "there", NULL}), 0);
  assert_non_null(strstr(p.obuf, "removed there\n"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_status_text_aligned_and_json_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_instances_table_and_request_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agent_error_exit_1_with_code, setup, teardown),
      cmocka_unit_test_setup_teardown(test_usage_errors_exit_2_without_agent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreachable_agent_exit_3, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_put_reads_stdin, setup, teardown),
      cmocka_unit_test_setup_teardown(test_global_options_anywhere, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status_without_upstream_exits_3, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_rm_missing_says_so, setup, teardown),
  };
  return CTL_TEST_MAIN(tests);
}
