/* The real nacosctl binary against an in-test fake agent
 * (nacosctl_test_util.h): the long-running commands (register held until
 * SIGINT, the agent going away, watch until SIGTERM), the one-shot
 * register --once and deregister, and the paged listings (services, config
 * list, config history; issue 9 item 7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nacosctl_test_util.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void test_register_holds_until_sigint_then_deregisters(void **state) {
  (void)state;
  proc p;
  spawn(&p, (const char *[]){"--socket", F.path, "register", "svc", "10.0.0.1", "8080", "--weight",
                             "3", "--meta", "zone=a", "--meta", "v=2", NULL});
  assert_true(pump_until(&p, "registered 10.0.0.1#8080", 5000));
  cJSON *dereg = logged("naming.deregister", 0);
  assert_null(dereg); /* held, not released */
  kill(p.pid, SIGINT);
  assert_int_equal(finish(&p), 0);
  assert_non_null(strstr(p.obuf, "deregistered"));
  cJSON *reg = logged("naming.register", 0);
  dereg = logged("naming.deregister", 0);
  assert_non_null(reg);
  assert_non_null(dereg);
  assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(reg, "weight")) == 3);
  const cJSON *md = cJSON_GetObjectItem(reg, "metadata");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(md, "zone")), "a");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(md, "v")), "2");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(dereg, "ip")), "10.0.0.1");
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(dereg, "port")), 8080);
  cJSON_Delete(reg);
  cJSON_Delete(dereg);
}

static void test_register_agent_gone_exit_3(void **state) {
  (void)state;
  proc p;
  spawn(&p, (const char *[]){"--socket", F.path, "register", "svc", "10.0.0.1", "8080", NULL});
  assert_true(pump_until(&p, "registered", 5000));
  /* The agent goes away: the hold ends with "unreachable", not 0. */
  assert_int_equal(write(F.stop_pipe[1], "x", 1), 1);
  assert_int_equal(finish(&p), 3);
  assert_non_null(strstr(p.ebuf, "CLOSED"));
}

static void test_watch_prints_changes_until_sigterm(void **state) {
  (void)state;
  proc p;
  spawn(&p, (const char *[]){"--socket", F.path, "--json", "watch", "svc", NULL});
  assert_true(pump_until(&p, "\"event\":\"naming.changed\"", 5000));
  kill(p.pid, SIGTERM);
  assert_int_equal(finish(&p), 0);
  /* first line: the snapshot; second: the event, one JSON object each */
  char *nl = strchr(p.obuf, '\n');
  assert_non_null(nl);
  cJSON *first = cJSON_ParseWithLength(p.obuf, (size_t)(nl - p.obuf));
  cJSON *second = cJSON_Parse(nl + 1);
  assert_non_null(first);
  assert_non_null(second);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(first, "event")),
                      "naming.subscribed");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(second, "hosts")), 1);
  cJSON_Delete(first);
  cJSON_Delete(second);
}

static void test_services_all_pages(void **state) {
  (void)state;
  proc p;
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "services", "--group", "G", NULL}),
                   0);
  assert_string_equal(p.obuf, "a.svc\nb.svc\nc.svc\n");
  cJSON *r1 = logged("naming.services", 0), *r2 = logged("naming.services", 1);
  assert_non_null(r1);
  assert_non_null(r2);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r1, "group")), "G");
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(r2, "pageNo")), 2);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(r2, "pageSize")), 1000);
  cJSON_Delete(r1);
  cJSON_Delete(r2);
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "services", "--json", NULL}), 0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "count")), 3);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "services")), 3);
  cJSON_Delete(j);
}

static void test_config_list_and_history_tables(void **state) {
  (void)state;
  proc p;
  assert_int_equal(
      run(&p, (const char *[]){"--socket", F.path, "config", "list", "--data-id", "app*", NULL}),
      0);
  assert_non_null(strstr(p.obuf, "DATA_ID    GROUP          NAMESPACE  MD5  LAST_MODIFIED\n"));
  assert_non_null(
      strstr(p.obuf, "app.yaml   DEFAULT_GROUP             m1   2025-12-03T09:35:34Z\n"));
  assert_non_null(strstr(p.obuf, "app2.yaml  G              dev        m2   -\n"));
  cJSON *req = logged("config.list", 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(req, "dataId")), "app*");
  cJSON_Delete(req);
  assert_non_null(logged_free_check("config.list", 1));

  assert_int_equal(
      run(&p, (const char *[]){"--socket", F.path, "config", "history", "app.yaml", NULL}), 0);
  assert_non_null(strstr(p.obuf, "ID  OP      TIME                  MD5  SRC_IP    SRC_USER\n"));
  assert_non_null(strstr(p.obuf, "7   update  2025-12-03T09:35:34Z  m7   10.1.1.1  \n"));
  assert_non_null(strstr(p.obuf, "3   insert  2025-12-03T09:35:00Z  m3   10.1.1.1  ops\n"));
  req = logged("config.history", 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(req, "dataId")), "app.yaml");
  cJSON_Delete(req);
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "--json", "config", "history",
                                            "app.yaml", NULL}),
                   0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
                          cJSON_GetArrayItem(cJSON_GetObjectItem(j, "items"), 0), "opType")),
                      "U");
  cJSON_Delete(j);
}

static void test_register_once_and_deregister(void **state) {
  (void)state;
  proc p;
  /* returns at once, without a signal */
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "register", "svc", "10.0.0.1:8080",
                                            "--once", NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "deregister svc 10.0.0.1:8080"));
  cJSON *reg = logged("naming.register", 0);
  assert_non_null(reg);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(reg, "detached")));
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(reg, "port")), 8080);
  cJSON_Delete(reg);
  assert_null(logged_free_check("naming.deregister", 0));

  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "deregister", "svc", "[::1]:80",
                                            "--group", "G", NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "deregistered svc [::1]:80"));
  cJSON *d = logged("naming.deregister", 0);
  assert_non_null(d);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "ip")), "::1");
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "port")), 80);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "group")), "G");
  assert_null(cJSON_GetObjectItem(d, "detached"));
  cJSON_Delete(d);
  const char *bad[][4] = {{"deregister", "svc", "10.0.0.1", NULL},
                          {"deregister", "svc", "::1:80", NULL},
                          {"deregister", "svc", "10.0.0.1:0", NULL}};
  for (size_t i = 0; i < 3; i++) {
    const char *args[8] = {"--socket", F.path};
    for (int k = 0; bad[i][k]; k++)
      args[2 + k] = bad[i][k];
    assert_int_equal(run(&p, args), 2);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_register_holds_until_sigint_then_deregisters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_register_agent_gone_exit_3, setup, teardown),
      cmocka_unit_test_setup_teardown(test_watch_prints_changes_until_sigterm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_services_all_pages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_list_and_history_tables, setup, teardown),
      cmocka_unit_test_setup_teardown(test_register_once_and_deregister, setup, teardown),
  };
  return CTL_TEST_MAIN(tests);
}
