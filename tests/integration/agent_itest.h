/* Helpers shared by the agent integration tests (test_agent_*.c): start the
 * real nacos-agent from the build tree, a small blocking JSON-lines client
 * for its socket (events seen while waiting for a reply are queued), and a
 * reader for nacosd's /metrics. Header-only (static) so that each test
 * program stays self-contained. */
#ifndef AGENT_ITEST_H
#define AGENT_ITEST_H

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nc_testproc.h"

typedef struct test_agent {
  nc_testproc proc;
  char sock[300];
  char cache[300];
} test_agent;

/* Starts NC_AGENT_BIN with --servers servers and the socket/cache under
 * dir (cache dir reused if it exists); waits until the socket accepts. */
static __attribute__((unused)) int agent_start(test_agent *a, const char *dir, const char *servers,
                       const char *const *extra) {
  char log[400];
  memset(a, 0, sizeof(*a));
  snprintf(a->sock, sizeof(a->sock), "%s/agent.sock", dir);
  snprintf(a->cache, sizeof(a->cache), "%s/cache", dir);
  snprintf(log, sizeof(log), "%s/agent.log", dir);
  const char *base[] = {NC_AGENT_BIN, "--servers", servers,      "--socket",
                        a->sock,      "--cache-dir", a->cache, "--health-interval-ms",
                        "1000",       "--log-level", "debug"};
  size_t nb = sizeof(base) / sizeof(base[0]), ne = 0;
  while (extra && extra[ne])
    ne++;
  char **argv = calloc(nb + ne + 1, sizeof(char *));
  for (size_t i = 0; i < nb; i++)
    argv[i] = (char *)base[i];
  for (size_t i = 0; i < ne; i++)
    argv[nb + i] = (char *)extra[i];
  int rc = nc_testproc_start(&a->proc, NC_AGENT_BIN, argv, log);
  free(argv);
  if (rc)
    return rc;
  for (int i = 0; i < 200; i++) {
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, a->sock, strnlen(a->sock, sizeof(sa.sun_path) - 1));
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
      close(fd);
      return 0;
    }
    close(fd);
    if (!nc_testproc_alive(&a->proc))
      break;
    nc_test_sleep_ms(50);
  }
  nc_testproc_dump_log(&a->proc);
  return -1;
}

/* SIGTERM; 0 when the agent exited cleanly (ASan leak reports make the
 * exit code non-zero) and removed its socket. */
static __attribute__((unused)) int agent_stop(test_agent *a) {
  int rc = nc_testproc_stop(&a->proc);
  if (rc != 0) {
    fprintf(stderr, "nacos-agent exit status %d\n", rc);
    nc_testproc_dump_log(&a->proc);
  }
  if (access(a->sock, F_OK) == 0) {
    fprintf(stderr, "nacos-agent left its socket behind\n");
    rc = rc ? rc : -1;
  }
  return rc;
}

/* ---- JSON-lines client ---- */

typedef struct tc {
  int fd;
  char buf[1 << 20];
  size_t len;
  cJSON *events[4096];
  size_t nev;
  int eof;
} tc;

static __attribute__((unused)) tc *tc_open(const char *path) {
  struct sockaddr_un sa = {0};
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strnlen(path, sizeof(sa.sun_path) - 1));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  tc *c = calloc(1, sizeof(*c));
  c->fd = fd;
  return c;
}

static __attribute__((unused)) void tc_close(tc *c) {
  if (!c)
    return;
  close(c->fd);
  for (size_t i = 0; i < c->nev; i++)
    cJSON_Delete(c->events[i]);
  free(c);
}

static __attribute__((unused)) int tc_send_raw(tc *c, const char *data, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t w = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    off += (size_t)w;
  }
  return 0;
}

static __attribute__((unused)) int tc_sendf(tc *c, const char *fmt, ...) {
  char line[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
  va_end(ap);
  line[n++] = '\n';
  return tc_send_raw(c, line, (size_t)n);
}

/* Next message (reply or event) within timeout_ms, or NULL. Owned by the
 * caller. Sets c->eof when the agent closed the connection. */
static __attribute__((unused)) cJSON *tc_read(tc *c, int timeout_ms) {
  long long end = nc_test_now_ms() + timeout_ms;
  for (;;) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      *nl = '\0';
      cJSON *o = cJSON_Parse(c->buf);
      size_t used = (size_t)(nl - c->buf) + 1;
      memmove(c->buf, c->buf + used, c->len - used);
      c->len -= used;
      if (o)
        return o;
      continue;
    }
    long long left = end - nc_test_now_ms();
    if (left <= 0 || c->eof)
      return NULL;
    struct pollfd p = {c->fd, POLLIN, 0};
    if (poll(&p, 1, (int)left) <= 0)
      continue;
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (r <= 0) {
      c->eof = 1;
      return NULL;
    }
    c->len += (size_t)r;
  }
}

/* Sends a request built from fmt (must contain "id":<id>) and returns the
 * reply with that numeric id; events meanwhile go to c->events. */
static __attribute__((unused)) cJSON *tc_call(tc *c, int id, const char *fmt, ...) {
  char line[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (tc_sendf(c, "%s", line) != 0)
    return NULL;
  long long end = nc_test_now_ms() + 10000;
  while (nc_test_now_ms() < end) {
    cJSON *o = tc_read(c, 500);
    if (!o) {
      if (c->eof)
        return NULL;
      continue;
    }
    if (cJSON_GetObjectItem(o, "event")) {
      if (c->nev < sizeof(c->events) / sizeof(c->events[0]))
        c->events[c->nev++] = o;
      else
        cJSON_Delete(o);
      continue;
    }
    cJSON *rid = cJSON_GetObjectItem(o, "id");
    if (cJSON_IsNumber(rid) && rid->valueint == id)
      return o;
    cJSON_Delete(o);
  }
  return NULL;
}

static __attribute__((unused)) int tc_ok(const cJSON *r) { return r && cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")); }

static __attribute__((unused)) const char *tc_errcode(const cJSON *r) {
  const cJSON *e = cJSON_GetObjectItem(r, "error");
  const cJSON *code = cJSON_GetObjectItem(e, "code");
  return cJSON_IsString(code) ? code->valuestring : "";
}

/* Waits for an event named ev (optionally for service/data_id key) and
 * returns it (owned by the caller); queued events are checked first. */
static __attribute__((unused)) cJSON *tc_wait_event(tc *c, const char *ev, const char *key, const char *val,
                            int timeout_ms) {
  long long end = nc_test_now_ms() + timeout_ms;
  for (;;) {
    for (size_t i = 0; i < c->nev; i++) {
      cJSON *o = c->events[i];
      const cJSON *e = cJSON_GetObjectItem(o, "event");
      const cJSON *k = key ? cJSON_GetObjectItem(o, key) : NULL;
      if (cJSON_IsString(e) && !strcmp(e->valuestring, ev) &&
          (!key || (cJSON_IsString(k) && !strcmp(k->valuestring, val)))) {
        memmove(&c->events[i], &c->events[i + 1], (c->nev - i - 1) * sizeof(cJSON *));
        c->nev--;
        return o;
      }
    }
    long long left = end - nc_test_now_ms();
    if (left <= 0)
      return NULL;
    cJSON *o = tc_read(c, (int)left);
    if (!o)
      return NULL;
    if (cJSON_GetObjectItem(o, "event") && c->nev < sizeof(c->events) / sizeof(c->events[0]))
      c->events[c->nev++] = o;
    else
      cJSON_Delete(o);
  }
}

static __attribute__((unused)) int hosts_count(const cJSON *o) {
  return cJSON_GetArraySize(cJSON_GetObjectItem(o, "hosts"));
}

static __attribute__((unused)) int status_int(tc *c, const char *key) {
  cJSON *r = tc_call(c, 999999, "{\"id\":999999,\"op\":\"agent.status\"}");
  const cJSON *v = cJSON_GetObjectItem(r, key);
  int n = cJSON_IsNumber(v) ? v->valueint : cJSON_IsTrue(v) ? 1 : cJSON_IsFalse(v) ? 0 : -1;
  cJSON_Delete(r);
  return n;
}

/* Waits until agent.status key == want; returns the time it took or -1. */
static __attribute__((unused)) long long wait_status(tc *c, const char *key, int want, int timeout_ms) {
  long long t0 = nc_test_now_ms();
  while (nc_test_now_ms() - t0 < timeout_ms) {
    if (status_int(c, key) == want)
      return nc_test_now_ms() - t0;
    nc_test_sleep_ms(50);
  }
  return -1;
}

/* ---- nacosd /metrics ---- */

/* Value of metric `name` (exact line prefix) from GET /metrics on port, or -1. */
static __attribute__((unused)) long long nacosd_metric(int port, const char *name) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  const char *req = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
  if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
    close(fd);
    return -1;
  }
  static char buf[65536];
  size_t len = 0;
  ssize_t r;
  while ((r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
    len += (size_t)r;
  close(fd);
  buf[len] = '\0';
  size_t nl = strlen(name);
  for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (!strncmp(p, name, nl) && p[nl] == ' ')
      return atoll(p + nl + 1);
  }
  return -1;
}

#endif
