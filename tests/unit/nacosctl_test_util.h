/* Shared by the nacosctl test programs (test_nacosctl_cli*.c): an in-test
 * fake agent (a thread serving one connection at a time on a temp Unix
 * socket; a responder turns each request into a reply line, every request
 * is logged), running the real nacosctl binary on pipes (nc_testrun.h), the
 * standard responder and the per-test fixture that starts the fake agent
 * with it. Header-only (static inline: a program uses what it needs);
 * include after cmocka.h. */
#ifndef NACOSCTL_TEST_UTIL_H
#define NACOSCTL_TEST_UTIL_H

#include "nc_testrun.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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

static inline char *reply(const cJSON *req, const char *fmt_tail) {
  char buf[4096];
  snprintf(buf, sizeof(buf), "{\"id\":%lld,%s}\n",
           (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(req, "id")), fmt_tail);
  return strdup(buf);
}

static inline void serve_conn(int fd) {
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

static inline void *fake_main(void *arg) {
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

static inline void fake_start(responder r, const char *event_line) {
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

static inline void fake_stop(void) {
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
static inline cJSON *logged(const char *op, int nth) {
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
static inline void *logged_free_check(const char *op, int nth) {
  cJSON *r = logged(op, nth);
  cJSON_Delete(r);
  return r ? (void *)1 : NULL;
}

/* ---- running nacosctl ----------------------------------------------------- */

static char ctl_bin[PATH_MAX];

static inline int find_ctl(void) {
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

static inline void spawn(proc *p, const char *const *args) {
  const char *argv[24] = {ctl_bin};
  int n = 1;
  for (; args[n - 1] && n < 23; n++)
    argv[n] = args[n - 1];
  argv[n] = NULL;
  assert_int_equal(nc_trun_spawn(p, argv, NULL, NULL), 0);
}

static inline int pump_until(proc *p, const char *want, int ms) {
  return nc_trun_pump(p, want, ms);
}

/* Drains output until exit; returns the exit status (or 128+signal). */
static inline int finish(proc *p) {
  int rc = nc_trun_finish(p, 5000);
  assert_true(rc >= 0);
  return rc;
}

static inline int run(proc *p, const char *const *args) {
  spawn(p, args);
  return finish(p);
}

/* ---- responders ------------------------------------------------------------ */

static int fake_offline; /* agent.status says connected:false */

/* The listings, answered in pages as the agent would (issue 9 item 7). */
static inline char *respond_listing(const cJSON *req, const char *op) {
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

static inline char *respond_std(const cJSON *req, int *ev) {
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

/* ---- fixture and main ---------------------------------------------------- */

static inline int setup(void **state) {
  (void)state;
  fake_offline = 0;
  fake_start(respond_std, "{\"event\":\"naming.changed\",\"namespace\":\"\",\"group\":"
                          "\"DEFAULT_GROUP\",\"service\":\"svc\",\"hosts\":[{\"ip\":\"10.9.9.9\","
                          "\"port\":7,\"weight\":1,\"healthy\":true,\"enabled\":true,"
                          "\"cluster\":\"DEFAULT\",\"metadata\":{}}]}\n");
  return 0;
}

static inline int teardown(void **state) {
  (void)state;
  fake_stop();
  return 0;
}

/* main()'s body: finds nacosctl, then runs the group (tests must be an
 * array). A write to an agent that went away must not kill the program. */
static inline int ctl_run_group(const char *name, const struct CMUnitTest *tests, size_t n) {
  signal(SIGPIPE, SIG_IGN);
  if (find_ctl() != 0)
    return 1;
  return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}
#define CTL_TEST_MAIN(tests) ctl_run_group(#tests, (tests), sizeof(tests) / sizeof((tests)[0]))

#endif
