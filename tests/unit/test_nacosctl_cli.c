/* The real nacosctl binary against an in-test fake agent: output formats,
 * exit codes (1 agent error, 2 usage, 3 unreachable), Ctrl-C handling of
 * the long-running commands and what goes over the socket. The fake agent
 * is a thread serving one connection at a time on a temp Unix socket; a
 * per-test responder turns each request into a reply line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_testrun.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- fake agent --------------------------------------------------------- */

typedef char *(*responder)(const cJSON *req, int *send_event_after);

typedef struct fake {
  char dir[64], path[128];
  int lfd, stop_pipe[2];
  pthread_t th;
  responder respond;
  const char *event_line; /* sent after a reply when the responder asks */
  pthread_mutex_t mu;
  cJSON *log; /* array of every request received */
} fake;

static fake F;

static char *reply(const cJSON *req, const char *fmt_tail) {
  char buf[4096];
  snprintf(buf, sizeof(buf), "{\"id\":%lld,%s}\n",
           (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(req, "id")), fmt_tail);
  return strdup(buf);
}

static void serve_conn(int fd) {
  char buf[1 << 16];
  size_t len = 0;
  for (;;) {
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = F.stop_pipe[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0 || p[1].revents)
      return;
    ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
    if (n <= 0)
      return;
    len += (size_t)n;
    char *nl;
    while ((nl = memchr(buf, '\n', len))) {
      cJSON *req = cJSON_ParseWithLength(buf, (size_t)(nl - buf));
      size_t used = (size_t)(nl + 1 - buf);
      memmove(buf, nl + 1, len - used);
      len -= used;
      if (!req)
        continue;
      int ev = 0;
      char *out = NULL;
      const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(req, "op"));
      if (op && !strcmp(op, "agent.hello"))
        out = reply(req, "\"ok\":true,\"agent\":\"fake\",\"protocol\":1,\"connected\":true");
      else
        out = F.respond(req, &ev);
      pthread_mutex_lock(&F.mu);
      cJSON_AddItemToArray(F.log, req);
      pthread_mutex_unlock(&F.mu);
      if (out && send(fd, out, strlen(out), MSG_NOSIGNAL) < 0) {
        free(out);
        return;
      }
      free(out);
      if (ev && F.event_line && send(fd, F.event_line, strlen(F.event_line), MSG_NOSIGNAL) < 0)
        return;
    }
  }
}

static void *fake_main(void *arg) {
  (void)arg;
  for (;;) {
    struct pollfd p[2] = {{.fd = F.lfd, .events = POLLIN},
                          {.fd = F.stop_pipe[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0 || p[1].revents)
      return NULL;
    int fd = accept(F.lfd, NULL, NULL);
    if (fd < 0)
      continue;
    serve_conn(fd);
    close(fd);
  }
}

static void fake_start(responder r, const char *event_line) {
  memset(&F, 0, sizeof(F));
  strcpy(F.dir, "/tmp/nc_ctl_test.XXXXXX");
  assert_non_null(mkdtemp(F.dir));
  snprintf(F.path, sizeof(F.path), "%s/agent.sock", F.dir);
  F.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, F.path);
  assert_int_equal(bind(F.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(F.lfd, 4), 0);
  assert_int_equal(pipe(F.stop_pipe), 0);
  F.respond = r;
  F.event_line = event_line;
  F.log = cJSON_CreateArray();
  pthread_mutex_init(&F.mu, NULL);
  assert_int_equal(pthread_create(&F.th, NULL, fake_main, NULL), 0);
}

static void fake_stop(void) {
  assert_int_equal(write(F.stop_pipe[1], "x", 1), 1);
  pthread_join(F.th, NULL);
  close(F.stop_pipe[0]);
  close(F.stop_pipe[1]);
  close(F.lfd);
  unlink(F.path);
  rmdir(F.dir);
  cJSON_Delete(F.log);
  pthread_mutex_destroy(&F.mu);
}

/* The n-th logged request with this op (0-based), duplicated; NULL if none. */
static cJSON *logged(const char *op, int nth) {
  cJSON *found = NULL, *it;
  pthread_mutex_lock(&F.mu);
  cJSON_ArrayForEach(it, F.log) {
    const char *o = cJSON_GetStringValue(cJSON_GetObjectItem(it, "op"));
    if (o && !strcmp(o, op) && nth-- == 0) {
      found = cJSON_Duplicate(it, 1);
      break;
    }
  }
  pthread_mutex_unlock(&F.mu);
  return found;
}

/* 1 when a request with this op was logged as the nth (freed at once). */
static void *logged_free_check(const char *op, int nth) {
  cJSON *r = logged(op, nth);
  cJSON_Delete(r);
  return r ? (void *)1 : NULL;
}

/* ---- running nacosctl ----------------------------------------------------- */

static char ctl_bin[PATH_MAX];

static int find_ctl(void) {
#ifdef NC_NACOSCTL_BIN
  snprintf(ctl_bin, sizeof(ctl_bin), "%s", NC_NACOSCTL_BIN);
#else
  /* Tests live in <build>/tests, nacosctl in <build>/ipc. */
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    return -1;
  self[n] = '\0';
  *strrchr(self, '/') = '\0';
  snprintf(ctl_bin, sizeof(ctl_bin), "%s/../ipc/nacosctl", self);
#endif
  if (access(ctl_bin, X_OK) != 0) {
    fprintf(stderr, "nacosctl not found at %s\n", ctl_bin);
    return -1;
  }
  return 0;
}

typedef nc_trun proc;

static void spawn(proc *p, const char *const *args) {
  const char *argv[24] = {ctl_bin};
  int n = 1;
  for (; args[n - 1] && n < 23; n++)
    argv[n] = args[n - 1];
  argv[n] = NULL;
  assert_int_equal(nc_trun_spawn(p, argv, NULL, NULL), 0);
}

static int pump_until(proc *p, const char *want, int ms) { return nc_trun_pump(p, want, ms); }

/* Drains output until exit; returns the exit status (or 128+signal). */
static int finish(proc *p) {
  int rc = nc_trun_finish(p, 5000);
  assert_true(rc >= 0);
  return rc;
}

static int run(proc *p, const char *const *args) {
  spawn(p, args);
  return finish(p);
}

/* ---- responders ------------------------------------------------------------ */

static int fake_offline; /* agent.status says connected:false */

/* The listings, answered in pages as the agent would (issue 9 item 7). */
static char *respond_listing(const cJSON *req, const char *op) {
  int page = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(req, "pageNo"));
  if (!strcmp(op, "naming.services"))
    return reply(req, page <= 1 ? "\"ok\":true,\"count\":3,\"services\":[\"a.svc\",\"b.svc\"]"
                                : "\"ok\":true,\"count\":3,\"services\":[\"c.svc\"]");
  if (!strcmp(op, "config.list"))
    return reply(req, page <= 1 ? "\"ok\":true,\"totalCount\":2,\"pageNumber\":1,"
                                  "\"pagesAvailable\":2,\"items\":[{\"dataId\":\"app.yaml\","
                                  "\"group\":\"DEFAULT_GROUP\",\"namespace\":\"\",\"md5\":\"m1\","
                                  "\"lastModified\":1764754534000}]"
                                : "\"ok\":true,\"totalCount\":2,\"pageNumber\":2,"
                                  "\"pagesAvailable\":2,\"items\":[{\"dataId\":\"app2.yaml\","
                                  "\"group\":\"G\",\"namespace\":\"dev\",\"md5\":\"m2\","
                                  "\"lastModified\":0}]");
  return reply(req, "\"ok\":true,\"items\":[{\"id\":7,\"opType\":\"U\",\"md5\":\"m7\","
                    "\"lastModifiedTime\":1764754534000,\"srcIp\":\"10.1.1.1\",\"srcUser\":\"\"},"
                    "{\"id\":3,\"opType\":\"I\",\"md5\":\"m3\",\"lastModifiedTime\":1764754500000,"
                    "\"srcIp\":\"10.1.1.1\",\"srcUser\":\"ops\"}]");
}

static char *respond_std(const cJSON *req, int *ev) {
  const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(req, "op"));
  if (!strcmp(op, "agent.status") && fake_offline)
    return reply(req, "\"ok\":true,\"connected\":false,\"apps\":1");
  if (!strcmp(op, "agent.status"))
    return reply(req, "\"ok\":true,\"connected\":true,\"server\":\"10.0.0.9:8848\","
                      "\"connection_id\":\"c-1\",\"apps\":2,\"uptime_s\":42");
  if (!strcmp(op, "naming.services") || !strcmp(op, "config.list") || !strcmp(op, "config.history"))
    return respond_listing(req, op);
  if (!strcmp(op, "config.remove")) {
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(req, "data_id"));
    return reply(req, strcmp(id, "missing") ? "\"ok\":true,\"existed\":true"
                                            : "\"ok\":true,\"existed\":false");
  }
  if (!strcmp(op, "naming.instances"))
    return reply(req, "\"ok\":true,\"hosts\":[{\"ip\":\"10.0.0.1\",\"port\":8080,\"weight\":1,"
                      "\"healthy\":true,\"enabled\":true,\"cluster\":\"DEFAULT\","
                      "\"metadata\":{\"zone\":\"a\"}},{\"ip\":\"10.0.0.22\",\"port\":80,"
                      "\"weight\":0.5,\"healthy\":false,\"enabled\":true,\"cluster\":\"C2\","
                      "\"metadata\":{}}]");
  if (!strcmp(op, "naming.register"))
    return reply(req, "\"ok\":true,\"instance_id\":\"10.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@svc\","
                      "\"applied\":true");
  if (!strcmp(op, "naming.deregister") || !strcmp(op, "config.remove"))
    return reply(req, "\"ok\":true");
  if (!strcmp(op, "naming.subscribe")) {
    *ev = 1;
    return reply(req, "\"ok\":true,\"hosts\":[]");
  }
  if (!strcmp(op, "config.get"))
    return reply(
        req,
        "\"ok\":false,\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"config 'x' not found\"}");
  if (!strcmp(op, "config.publish")) {
    if (cJSON_GetObjectItem(req, "cas_md5"))
      return reply(req,
                   "\"ok\":false,\"error\":{\"code\":\"CONFLICT\",\"message\":\"md5 mismatch\"}");
    return reply(req, "\"ok\":true,\"md5\":\"0123456789abcdef0123456789abcdef\"");
  }
  return reply(req, "\"ok\":false,\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"unknown op\"}");
}

/* ---- tests -------------------------------------------------------------------- */

static int setup(void **state) {
  (void)state;
  fake_offline = 0;
  fake_start(respond_std, "{\"event\":\"naming.changed\",\"namespace\":\"\",\"group\":"
                          "\"DEFAULT_GROUP\",\"service\":\"svc\",\"hosts\":[{\"ip\":\"10.9.9.9\","
                          "\"port\":7,\"weight\":1,\"healthy\":true,\"enabled\":true,"
                          "\"cluster\":\"DEFAULT\",\"metadata\":{}}]}\n");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fake_stop();
  return 0;
}

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
  signal(SIGPIPE, SIG_IGN);
  if (find_ctl() != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_status_text_aligned_and_json_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_instances_table_and_request_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agent_error_exit_1_with_code, setup, teardown),
      cmocka_unit_test_setup_teardown(test_usage_errors_exit_2_without_agent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreachable_agent_exit_3, setup, teardown),
      cmocka_unit_test_setup_teardown(test_register_holds_until_sigint_then_deregisters, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_register_agent_gone_exit_3, setup, teardown),
      cmocka_unit_test_setup_teardown(test_watch_prints_changes_until_sigterm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_put_reads_stdin, setup, teardown),
      cmocka_unit_test_setup_teardown(test_global_options_anywhere, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status_without_upstream_exits_3, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_rm_missing_says_so, setup, teardown),
      cmocka_unit_test_setup_teardown(test_services_all_pages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_list_and_history_tables, setup, teardown),
      cmocka_unit_test_setup_teardown(test_register_once_and_deregister, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
