/* The real nacosctl binary against a real nacos-agent connected to a real
 * nacosd on ephemeral loopback ports: what an operator does by hand, end
 * to end. One server + agent pair serves the whole group; each test uses
 * its own service / data id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_ipc.h"
#include "nc_ipc_ops.h"
#include "nc_md5.h"
#include "nc_testproc.h"
#include "nc_testrun.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];
static nc_test_nacosd srv;
static test_agent ag;
static char servers[128];

/* ---- running nacosctl ------------------------------------------------ */

typedef nc_trun proc;

/* Starts bin with args (NULL-terminated), stdin/stdout/stderr on pipes.
 * nacosctl gets --socket <agent> first; other programs find the agent
 * through $NACOS_AGENT_SOCKET. */
static void spawn_bin(proc *p, const char *bin, const char *const *args) {
  const char *argv[32] = {bin, "--socket", ag.sock};
  int n = strcmp(bin, NC_NACOSCTL_BIN) ? 1 : 3;
  for (int k = 0; args[k] && n < 31; k++)
    argv[n++] = args[k];
  argv[n] = NULL;
  assert_int_equal(nc_trun_spawn(p, argv, NC_IPC_SOCKET_ENV, ag.sock), 0);
}

static void spawn(proc *p, const char *const *args) { spawn_bin(p, NC_NACOSCTL_BIN, args); }

static int pump_until(proc *p, const char *want, int ms) { return nc_trun_pump(p, want, ms); }

/* As pump_until, but only output after offset from counts. */
static int pump_from(proc *p, size_t from, const char *want, int ms) {
  long long deadline = nc_test_now_ms() + ms;
  for (;;) {
    if (strstr(p->obuf + from, want))
      return 1;
    if (nc_test_now_ms() >= deadline)
      return 0;
    pump_until(p, "\x01", 50); /* never matches: just reads for 50 ms */
  }
}

static int finish(proc *p) {
  int rc = nc_trun_finish(p, 10000);
  assert_true(rc >= 0);
  if (rc != 0)
    fprintf(stderr, "(nacosctl exited non-zero; may be expected) stderr: %s\n", p->ebuf);
  return rc;
}

static int run(proc *p, const char *const *args) {
  spawn(p, args);
  return finish(p);
}

/* Runs `instances SERVICE` until stdout contains (present=1) or lacks
 * (present=0) needle, or timeout_ms passes. Returns 1 on success. */
static int instances_until(const char *service, const char *needle, int present, int timeout_ms) {
  long long deadline = nc_test_now_ms() + timeout_ms;
  proc p;
  do {
    if (run(&p, (const char *[]){"instances", service, NULL}) == 0 &&
        (strstr(p.obuf, needle) != NULL) == present)
      return 1;
    nc_test_sleep_ms(100);
  } while (nc_test_now_ms() < deadline);
  fprintf(stderr, "last instances output:\n%s\n", p.obuf);
  return 0;
}

/* ---- fixtures ----------------------------------------------------------- */

static int group_setup(void **state) {
  (void)state;
  const char *extra[] = {"--push-merge-ms", "0", NULL};
  if (nc_test_mkdtemp(dir, sizeof(dir)) || nc_test_nacosd_start(dir, extra, &srv))
    return -1;
  snprintf(servers, sizeof(servers), "127.0.0.1:%d#%d", srv.port, srv.grpc_port);
  if (agent_start(&ag, dir, servers, NULL))
    return -1;
  /* Wait for the upstream link so the first test does not race it. */
  long long deadline = nc_test_now_ms() + 10000;
  while (nc_test_now_ms() < deadline) {
    nc_ipc *c = nc_ipc_new();
    cJSON *st = NULL;
    int up = c && nc_ipc_connect(c, ag.sock) == 0 && nc_ipc_status(c, 1000, &st) == 0 &&
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "connected"));
    cJSON_Delete(st);
    nc_ipc_free(c);
    if (up)
      return 0;
    nc_test_sleep_ms(100);
  }
  fprintf(stderr, "agent never connected upstream\n");
  nc_testproc_dump_log(&ag.proc);
  return -1;
}

static int group_teardown(void **state) {
  (void)state;
  int a = agent_stop(&ag);
  int s = nc_test_nacosd_stop(&srv);
  nc_test_rmtree(dir);
  return a || s ? -1 : 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_register_listed_until_sigint(void **state) {
  (void)state;
  proc reg, p;
  spawn(&reg, (const char *[]){"register", "ctl.svc", "10.0.0.5", "8080", "--meta", "zone=a",
                               "--weight", "2", NULL});
  assert_true(pump_until(&reg, "registered 10.0.0.5#8080", 10000));

  /* Text: the aligned table row. */
  assert_true(instances_until("ctl.svc", "10.0.0.5", 1, 5000));
  assert_int_equal(run(&p, (const char *[]){"instances", "ctl.svc", NULL}), 0);
  assert_non_null(strstr(p.obuf, "IP"));
  assert_non_null(strstr(p.obuf, "zone=a"));
  /* JSON: the protocol's host fields. */
  assert_int_equal(run(&p, (const char *[]){"--json", "instances", "ctl.svc", NULL}), 0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  const cJSON *hosts = cJSON_GetObjectItem(j, "hosts");
  assert_int_equal(cJSON_GetArraySize(hosts), 1);
  const cJSON *h = cJSON_GetArrayItem(hosts, 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(h, "ip")), "10.0.0.5");
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(h, "port")), 8080);
  assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(h, "weight")) == 2);
  assert_string_equal(
      cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(h, "metadata"), "zone")), "a");
  cJSON_Delete(j);

  /* Ctrl-C: deregistered, exit 0, and gone from the listing. */
  kill(reg.pid, SIGINT);
  assert_int_equal(finish(&reg), 0);
  assert_non_null(strstr(reg.obuf, "deregistered"));
  assert_true(instances_until("ctl.svc", "10.0.0.5", 0, 3000));
}

static void test_killed_register_instance_dropped(void **state) {
  (void)state;
  proc reg;
  spawn(&reg, (const char *[]){"register", "ctl.kill", "10.0.0.6", "81", NULL});
  assert_true(pump_until(&reg, "registered", 10000));
  assert_true(instances_until("ctl.kill", "10.0.0.6", 1, 5000));
  kill(reg.pid, SIGKILL);
  assert_int_equal(finish(&reg), 128 + SIGKILL);
  /* The agent deregisters with the socket (ipc-protocol.md, Lifetimes). */
  assert_true(instances_until("ctl.kill", "10.0.0.6", 0, 3000));
}

static void test_watch_streams_changes(void **state) {
  (void)state;
  proc w;
  spawn(&w, (const char *[]){"--json", "watch", "ctl.watch", NULL});
  assert_true(pump_until(&w, "naming.subscribed", 10000));
  /* Register through the library, as an app would. */
  nc_ipc *c = nc_ipc_new();
  assert_int_equal(nc_ipc_connect(c, ag.sock), 0);
  nc_ipc_instance in;
  nc_ipc_instance_init(&in);
  in.service = "ctl.watch";
  in.ip = "10.0.0.7";
  in.port = 9000;
  assert_int_equal(nc_ipc_register(c, &in, 5000, NULL, NULL), 0);
  assert_true(pump_until(&w, "\"ip\":\"10.0.0.7\"", 5000));
  assert_non_null(strstr(w.obuf, "\"event\":\"naming.changed\""));
  nc_ipc_free(c); /* closing the socket removes the instance */
  /* Only output after this point counts: the snapshot may hold "[]" too. */
  size_t before = w.olen;
  assert_true(pump_from(&w, before, "\"hosts\":[]", 5000));
  kill(w.pid, SIGINT);
  assert_int_equal(finish(&w), 0);
}

static void test_config_put_get_cas_rm(void **state) {
  (void)state;
  proc p;
  assert_int_equal(run(&p, (const char *[]){"config", "put", "ctl.yaml", "a: 1\n", NULL}), 0);
  assert_non_null(strstr(p.obuf, "published ctl.yaml md5="));
  char md5[33] = {0};
  memcpy(md5, strstr(p.obuf, "md5=") + 4, 32);

  assert_int_equal(run(&p, (const char *[]){"config", "get", "ctl.yaml", NULL}), 0);
  assert_string_equal(p.obuf, "a: 1\n");
  assert_int_equal(run(&p, (const char *[]){"--json", "config", "get", "ctl.yaml", NULL}), 0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "md5")), md5);
  cJSON_Delete(j);

  /* CAS: the wrong md5 is refused, the right one accepted. */
  assert_int_equal(run(&p, (const char *[]){"config", "put", "ctl.yaml", "b: 2\n", "--cas",
                                            "00000000000000000000000000000000", NULL}),
                   1);
  assert_non_null(strstr(p.ebuf, "CONFLICT"));
  assert_int_equal(
      run(&p, (const char *[]){"config", "put", "ctl.yaml", "b: 2\n", "--cas", md5, NULL}), 0);
  assert_int_equal(run(&p, (const char *[]){"config", "get", "ctl.yaml", NULL}), 0);
  assert_string_equal(p.obuf, "b: 2\n");

  assert_int_equal(run(&p, (const char *[]){"config", "rm", "ctl.yaml", NULL}), 0);
  assert_int_equal(run(&p, (const char *[]){"config", "get", "ctl.yaml", NULL}), 1);
  assert_non_null(strstr(p.ebuf, "NOT_FOUND"));
}

/* One coherent limit (issue 9 item 6): a content under nacosd's 4 MiB cap
 * goes through the agent (the old 1 MiB line cap refused 1.5 MiB), and one
 * over it is refused with an error that says so. */
static void test_config_put_up_to_the_server_content_cap(void **state) {
  (void)state;
  proc p;
  char path[300];
  snprintf(path, sizeof(path), "%s/big.txt", dir);
  for (int round = 0; round < 2; round++) {
    int kib = round == 0 ? 1536 : 5 * 1024;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < kib; i++)
      fprintf(f, "%01023d\n", i);
    fclose(f);
    int rc = run(&p, (const char *[]){"config", "put", "ctl.big", "--file", path, NULL});
    if (round == 0) {
      assert_int_equal(rc, 0);
    } else {
      assert_int_equal(rc, 1);
      assert_non_null(strstr(p.ebuf, "4194304"));
    }
  }
  /* The agent is still there for everyone else. */
  assert_int_equal(run(&p, (const char *[]){"status", NULL}), 0);
}

static void test_config_watch_sees_publish(void **state) {
  (void)state;
  proc w, p;
  spawn(&w, (const char *[]){"config", "watch", "ctl.watch.yaml", NULL});
  assert_true(pump_until(&w, "ctl.watch.yaml", 10000)); /* the "now" block */
  assert_int_equal(run(&p, (const char *[]){"config", "put", "ctl.watch.yaml", "v: 42\n", NULL}),
                   0);
  assert_true(pump_until(&w, "v: 42", 10000));
  kill(w.pid, SIGINT);
  assert_int_equal(finish(&w), 0);
  assert_int_equal(run(&p, (const char *[]){"config", "rm", "ctl.watch.yaml", NULL}), 0);
}

static void test_status_reports_upstream(void **state) {
  (void)state;
  proc p;
  assert_int_equal(run(&p, (const char *[]){"--json", "status", NULL}), 0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "connected")));
  const char *server = cJSON_GetStringValue(cJSON_GetObjectItem(j, "server"));
  assert_non_null(server);
  assert_non_null(strstr(server, "127.0.0.1"));
  cJSON_Delete(j);
  assert_int_equal(run(&p, (const char *[]){"status", NULL}), 0);
  assert_non_null(strstr(p.obuf, "connected"));
  assert_non_null(strstr(p.obuf, "yes"));
}

/* The example program of ipc/: registers itself, prints changes of the
 * watched service, deregisters on Ctrl-C. */
static void test_example_app_follows_changes(void **state) {
  (void)state;
  char bin[512];
  proc app, reg;
  snprintf(bin, sizeof(bin), "%s", NC_NACOSCTL_BIN);
  snprintf(strrchr(bin, '/') + 1, sizeof(bin) - (size_t)(strrchr(bin, '/') + 1 - bin), "%s",
           "nc_example_app");
  spawn_bin(&app, bin, (const char *[]){"ctl.example", "7001", NULL});
  assert_true(pump_until(&app, "subscribed to ctl.example", 10000));
  assert_true(instances_until("ctl.example", "127.0.0.1", 1, 5000));
  spawn(&reg, (const char *[]){"register", "ctl.example", "10.0.0.8", "7002", NULL});
  assert_true(pump_until(&reg, "registered", 10000));
  assert_true(pump_until(&app, "10.0.0.8:7002", 5000));
  kill(reg.pid, SIGINT);
  assert_int_equal(finish(&reg), 0);
  kill(app.pid, SIGINT);
  assert_int_equal(finish(&app), 0);
  assert_non_null(strstr(app.obuf, "deregistered 127.0.0.1#7001"));
  assert_true(instances_until("ctl.example", "127.0.0.1", 0, 3000));
}

/* The example reconnects when the agent restarts (as under systemd's
 * Restart=on-failure) and registers again: the agent forgot it. */
static void test_example_app_reregisters_after_agent_restart(void **state) {
  (void)state;
  char bin[512];
  proc app;
  snprintf(bin, sizeof(bin), "%s", NC_NACOSCTL_BIN);
  snprintf(strrchr(bin, '/') + 1, sizeof(bin) - (size_t)(strrchr(bin, '/') + 1 - bin), "%s",
           "nc_example_app");
  spawn_bin(&app, bin, (const char *[]){"ctl.restart", "7003", NULL});
  assert_true(pump_until(&app, "subscribed to ctl.restart", 10000));
  assert_true(instances_until("ctl.restart", "127.0.0.1", 1, 5000));
  size_t before = app.olen;
  assert_int_equal(agent_stop(&ag), 0);
  assert_int_equal(agent_start(&ag, dir, servers, NULL), 0);
  assert_true(pump_from(&app, before, "subscribed to ctl.restart", 15000));
  assert_true(instances_until("ctl.restart", "127.0.0.1", 1, 10000));
  kill(app.pid, SIGINT);
  assert_int_equal(finish(&app), 0);
  assert_non_null(strstr(app.ebuf, "reconnecting"));
}

/* --json anywhere on the line (issue 9 item 2), register --once and
 * deregister, services (issue 9 item 7): the instance outlives the
 * nacosctl that registered it and goes with an explicit deregister. */
static void test_register_once_services_deregister(void **state) {
  (void)state;
  proc p;
  assert_int_equal(run(&p, (const char *[]){"register", "ctl.once", "10.0.0.9:7001", "--once",
                                            "--meta", "k=v", NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "deregister ctl.once 10.0.0.9:7001"));
  /* nacosctl is gone; the agent still holds the instance */
  assert_true(instances_until("ctl.once", "10.0.0.9", 1, 5000));
  assert_int_equal(run(&p, (const char *[]){"instances", "ctl.once", "--json", NULL}), 0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "hosts")), 1);
  cJSON_Delete(j);

  assert_int_equal(run(&p, (const char *[]){"services", NULL}), 0);
  assert_non_null(strstr(p.obuf, "ctl.once\n"));
  assert_int_equal(run(&p, (const char *[]){"services", "--json", NULL}), 0);
  j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  const cJSON *names = cJSON_GetObjectItem(j, "services"), *it;
  int found = 0;
  cJSON_ArrayForEach(it, names) found |= !strcmp(cJSON_GetStringValue(it), "ctl.once");
  assert_true(found);
  assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "count")) >= 1);
  cJSON_Delete(j);

  assert_int_equal(run(&p, (const char *[]){"deregister", "ctl.once", "10.0.0.9:7001", NULL}), 0);
  assert_non_null(strstr(p.obuf, "deregistered ctl.once 10.0.0.9:7001"));
  assert_true(instances_until("ctl.once", "10.0.0.9", 0, 5000));
  assert_int_equal(run(&p, (const char *[]){"deregister", "ctl.once", "10.0.0.9", "7001", NULL}),
                   1);
  assert_non_null(strstr(p.ebuf, "NOT_FOUND"));
}

/* config list / history and config rm of a missing key (issue 9 item 7). */
static void test_config_list_history_and_rm_missing(void **state) {
  (void)state;
  proc p;
  assert_int_equal(run(&p, (const char *[]){"config", "put", "ctl.hist.yaml", "v: 1\n", NULL}), 0);
  assert_int_equal(run(&p, (const char *[]){"config", "put", "ctl.hist.yaml", "v: 2\n", NULL}), 0);

  assert_int_equal(run(&p, (const char *[]){"config", "list", "--data-id", "ctl.hist*", NULL}), 0);
  assert_non_null(strstr(p.obuf, "DATA_ID"));
  assert_non_null(strstr(p.obuf, "ctl.hist.yaml  DEFAULT_GROUP"));
  assert_int_equal(
      run(&p, (const char *[]){"--json", "config", "list", "--data-id", "ctl.hist*", NULL}), 0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "totalCount")), 1);
  cJSON_Delete(j);

  assert_int_equal(run(&p, (const char *[]){"config", "history", "ctl.hist.yaml", NULL}), 0);
  char *upd = strstr(p.obuf, "update"), *ins = strstr(p.obuf, "insert");
  assert_non_null(upd);
  assert_non_null(ins);
  assert_true(upd < ins); /* newest first */
  assert_int_equal(run(&p, (const char *[]){"config", "history", "ctl.hist.yaml", "--json", NULL}),
                   0);
  j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  const cJSON *items = cJSON_GetObjectItem(j, "items");
  assert_int_equal(cJSON_GetArraySize(items), 2);
  assert_string_equal(
      cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(items, 0), "opType")), "U");
  cJSON_Delete(j);

  assert_int_equal(run(&p, (const char *[]){"config", "rm", "ctl.hist.yaml", NULL}), 0);
  assert_non_null(strstr(p.obuf, "removed ctl.hist.yaml"));
  assert_int_equal(run(&p, (const char *[]){"config", "rm", "ctl.hist.yaml", NULL}), 1);
  assert_non_null(strstr(p.ebuf, "NOT_FOUND"));
  assert_non_null(strstr(p.ebuf, "did not exist"));
}

/* config history --version and config rollback through a real agent: v1,
 * v2, v3 published; the row that replaced v1 shows v1; rolling back to it
 * publishes v1 again (a watcher sees it, the md5 printed is v1's) and the
 * new row says it was a rollback. */
static void test_config_history_version_and_rollback(void **state) {
  (void)state;
  proc p, w;
  const char *key = "ctl.rb.yaml";
  assert_int_equal(run(&p, (const char *[]){"config", "put", key, "v: 1\n", NULL}), 0);
  assert_int_equal(run(&p, (const char *[]){"config", "put", key, "v: 2\n", NULL}), 0);
  assert_int_equal(run(&p, (const char *[]){"config", "put", key, "v: 3\n", NULL}), 0);
  assert_int_equal(run(&p, (const char *[]){"--json", "config", "history", key, NULL}), 0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  const cJSON *items = cJSON_GetObjectItem(j, "items");
  assert_int_equal(cJSON_GetArraySize(items), 3);
  const cJSON *u1 = cJSON_GetArrayItem(items, 1); /* the update that replaced v1 */
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(u1, "opType")), "U");
  long long id = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(u1, "id"));
  char md5_v1[33];
  nc_md5_hex("v: 1\n", 5, md5_v1);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(u1, "md5")), md5_v1);
  cJSON_Delete(j);
  char ids[24];
  snprintf(ids, sizeof(ids), "%lld", id);

  assert_int_equal(run(&p, (const char *[]){"config", "history", key, "--version", ids, NULL}), 0);
  assert_string_equal(p.obuf, "v: 1\n");

  spawn(&w, (const char *[]){"config", "watch", key, NULL});
  assert_true(pump_until(&w, "v: 3", 10000)); /* the "now" block */
  size_t seen = strlen(w.obuf);
  assert_int_equal(run(&p, (const char *[]){"config", "rollback", key, ids, NULL}), 0);
  char want[128];
  snprintf(want, sizeof(want), "rolled back %s to version %s md5=%s\n", key, ids, md5_v1);
  assert_string_equal(p.obuf, want);
  assert_true(pump_from(&w, seen, "v: 1", 10000)); /* the listener heard of it */
  kill(w.pid, SIGINT);
  assert_int_equal(finish(&w), 0);
  assert_int_equal(run(&p, (const char *[]){"config", "get", key, NULL}), 0);
  assert_string_equal(p.obuf, "v: 1\n");
  assert_int_equal(run(&p, (const char *[]){"config", "history", key, NULL}), 0);
  snprintf(want, sizeof(want), "update (rollback to %s)", ids);
  assert_non_null(strstr(p.obuf, want));

  assert_int_equal(run(&p, (const char *[]){"config", "rollback", key, "999999999", NULL}), 1);
  assert_non_null(strstr(p.ebuf, "NOT_FOUND"));
  assert_int_equal(
      run(&p, (const char *[]){"config", "history", key, "--version", "999999999", NULL}), 1);
  assert_non_null(strstr(p.ebuf, "NOT_FOUND"));
  assert_int_equal(run(&p, (const char *[]){"config", "rm", key, NULL}), 0);
}

/* status exits 3 while the agent has no upstream, still printing it. */
static void test_status_exit_3_without_upstream(void **state) {
  (void)state;
  char off[300];
  test_agent lone;
  proc p;
  snprintf(off, sizeof(off), "%s/offline", dir);
  assert_int_equal(mkdir(off, 0700), 0);
  /* port 1: nothing listens, the agent keeps retrying */
  assert_int_equal(agent_start(&lone, off, "127.0.0.1:1", NULL), 0);
  /* the last --socket wins over the one spawn() puts first */
  assert_int_equal(run(&p, (const char *[]){"status", "--socket", lone.sock, NULL}), 3);
  assert_non_null(strstr(p.obuf, "connected"));
  assert_non_null(strstr(p.ebuf, "no upstream"));
  assert_int_equal(run(&p, (const char *[]){"--json", "--socket", lone.sock, "status", NULL}), 3);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "connected")));
  cJSON_Delete(j);
  /* listings are not served from a cache */
  assert_int_equal(run(&p, (const char *[]){"--socket", lone.sock, "services", NULL}), 1);
  assert_non_null(strstr(p.ebuf, "UNAVAILABLE"));
  assert_int_equal(agent_stop(&lone), 0);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_reports_upstream),
      cmocka_unit_test(test_register_listed_until_sigint),
      cmocka_unit_test(test_killed_register_instance_dropped),
      cmocka_unit_test(test_watch_streams_changes),
      cmocka_unit_test(test_config_put_get_cas_rm),
      cmocka_unit_test(test_config_put_up_to_the_server_content_cap),
      cmocka_unit_test(test_config_watch_sees_publish),
      cmocka_unit_test(test_register_once_services_deregister),
      cmocka_unit_test(test_config_list_history_and_rm_missing),
      cmocka_unit_test(test_config_history_version_and_rollback),
      cmocka_unit_test(test_status_exit_3_without_upstream),
      cmocka_unit_test(test_example_app_follows_changes),
      cmocka_unit_test(test_example_app_reregisters_after_agent_restart),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
