/* The real nacosctl binary against an in-test fake agent
 * (nacosctl_test_util.h): the long-running commands (register held until
 * SIGINT, the agent going away, watch until SIGTERM), the one-shot
 * register --once and deregister, the paged listings (services, config
 * list, config history; issue 9 item 7), one history version (config
 * history --version) and config rollback. */
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

/* config.history with a historyId and config.rollback as the agent answers
 * them; history id 99 does not exist. The rest as respond_std. */
static char *respond_versions(const cJSON *req, int *ev) {
  const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(req, "op"));
  const cJSON *hid = cJSON_GetObjectItem(req, "historyId");
  int missing = cJSON_IsNumber(hid) && cJSON_GetNumberValue(hid) == 99;
  if (missing && (!strcmp(op, "config.history") || !strcmp(op, "config.rollback")))
    return reply(req, "\"ok\":false,\"error\":{\"code\":\"NOT_FOUND\",\"message\":"
                      "\"history id 99 not found for this config\"}");
  if (!strcmp(op, "config.history") && hid)
    return reply(req, "\"ok\":true,\"version\":{\"id\":5,\"opType\":\"U\",\"md5\":\"m5\","
                      "\"lastModifiedTime\":1764754500000,\"srcIp\":\"10.1.1.1\",\"srcUser\":\"\","
                      "\"type\":\"yaml\",\"rollbackOf\":0,\"content\":\"old: 1\\n\"}");
  if (!strcmp(op, "config.history"))
    return reply(req, "\"ok\":true,\"items\":[{\"id\":8,\"opType\":\"U\",\"md5\":\"m8\","
                      "\"lastModifiedTime\":1764754534000,\"srcIp\":\"10.1.1.1\",\"srcUser\":\"\","
                      "\"type\":\"yaml\",\"rollbackOf\":5}]");
  if (!strcmp(op, "config.rollback"))
    return reply(req, "\"ok\":true,\"md5\":\"fedcba9876543210fedcba9876543210\"");
  return respond_std(req, ev);
}

static int setup_versions(void **state) {
  (void)state;
  fake_offline = 0;
  fake_start(respond_versions, NULL);
  return 0;
}

static void test_config_history_version_and_rollback(void **state) {
  (void)state;
  proc p;
  /* --version after config history is its history id, not the program's */
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "config", "history", "app.yaml",
                                            "--version", "5", NULL}),
                   0);
  assert_string_equal(p.obuf, "old: 1\n");
  cJSON *req = logged("config.history", 0);
  assert_non_null(req);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(req, "historyId")), 5);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(req, "dataId")), "app.yaml");
  cJSON_Delete(req);
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "--json", "config", "history",
                                            "app.yaml", "--version=5", "--group", "G", NULL}),
                   0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  const cJSON *v = cJSON_GetObjectItem(j, "version");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(v, "content")), "old: 1\n");
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(v, "id")), 5);
  cJSON_Delete(j);
  req = logged("config.history", 1);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(req, "group")), "G");
  cJSON_Delete(req);
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "config", "history", "app.yaml",
                                            "--version", "99", NULL}),
                   1);
  assert_non_null(strstr(p.ebuf, "NOT_FOUND"));

  /* a rollback's row says what it restored */
  assert_int_equal(
      run(&p, (const char *[]){"--socket", F.path, "config", "history", "app.yaml", NULL}), 0);
  assert_non_null(strstr(p.obuf, "8   update (rollback to 5)  2025-12-03T09:35:34Z  m8"));

  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "config", "rollback", "app.yaml",
                                            "5", NULL}),
                   0);
  assert_string_equal(p.obuf,
                      "rolled back app.yaml to version 5 md5=fedcba9876543210fedcba9876543210\n");
  req = logged("config.rollback", 0);
  assert_non_null(req);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(req, "historyId")), 5);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(req, "dataId")), "app.yaml");
  cJSON_Delete(req);
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "config", "rollback", "app.yaml",
                                            "5", "--json", NULL}),
                   0);
  j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "md5")),
                      "fedcba9876543210fedcba9876543210");
  cJSON_Delete(j);
  assert_int_equal(run(&p, (const char *[]){"--socket", F.path, "config", "rollback", "app.yaml",
                                            "99", NULL}),
                   1);
  assert_non_null(strstr(p.ebuf, "NOT_FOUND"));

  /* usage errors: exit 2 before any request */
  int before = cJSON_GetArraySize(F.log);
  const char *bad[][5] = {{"config", "rollback", "app.yaml", NULL},
                          {"config", "rollback", "app.yaml", "x1", NULL},
                          {"config", "rollback", "app.yaml", "0", NULL},
                          {"config", "history", "app.yaml", "--version", NULL},
                          {"config", "history", "app.yaml", "--version", "-2"}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *args[10] = {"--socket", F.path};
    for (int k = 0; k < 5 && bad[i][k]; k++)
      args[2 + k] = bad[i][k];
    assert_int_equal(run(&p, args), 2);
  }
  assert_int_equal(cJSON_GetArraySize(F.log), before);
  /* the program's own --version is unchanged */
  assert_int_equal(run(&p, (const char *[]){"--version", NULL}), 0);
  assert_non_null(strstr(p.obuf, "nacosctl "));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_register_holds_until_sigint_then_deregisters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_register_agent_gone_exit_3, setup, teardown),
      cmocka_unit_test_setup_teardown(test_watch_prints_changes_until_sigterm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_services_all_pages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_list_and_history_tables, setup, teardown),
      cmocka_unit_test_setup_teardown(test_register_once_and_deregister, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_history_version_and_rollback, setup_versions,
                                      teardown),
  };
  return CTL_TEST_MAIN(tests);
}
