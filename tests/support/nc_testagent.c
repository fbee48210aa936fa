/* nc_testagent: see nc_testagent.h. */
#include "nc_testagent.h"
#include "nc_testargv.h"
#include "nc_testwait.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A connected AF_UNIX stream socket, or -1. */
static int unix_connect(const char *path) {
  struct sockaddr_un sa = {0};
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strnlen(path, sizeof(sa.sun_path) - 1));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* 1 when something accepts on the socket at path. */
static int socket_accepts(const char *path) {
  int fd = unix_connect(path);
  if (fd < 0)
    return 0;
  close(fd);
  return 1;
}

int nc_test_agent_start(nc_test_agent *a, const char *dir, const char *servers,
                        const char *const *extra) {
  char log[400];
  memset(a, 0, sizeof(*a));
  snprintf(a->sock, sizeof(a->sock), "%s/agent.sock", dir);
  snprintf(a->cache, sizeof(a->cache), "%s/cache", dir);
  snprintf(log, sizeof(log), "%s/agent.log", dir);
  nc_targv av = {0};
  const char *base[] = {NC_AGENT_BIN, "--servers",   servers,  "--socket",
                        a->sock,      "--cache-dir", a->cache, "--health-interval-ms",
                        "1000",       "--log-level", "debug",  NULL};
  nc_targv_add_list(&av, base);
  nc_targv_add_list(&av, extra);
  int rc = nc_targv_ok(&av) ? nc_testproc_start(&a->proc, NC_AGENT_BIN, av.argv, log) : -1;
  nc_targv_free(&av);
  if (rc)
    return rc;
  long long took;
  NC_TEST_POLL(socket_accepts(a->sock) || !nc_testproc_alive(&a->proc), 10000, took);
  if (took >= 0 && nc_testproc_alive(&a->proc))
    return 0;
  nc_testproc_dump_log(&a->proc);
  return -1;
}

int nc_test_agent_stop(nc_test_agent *a) {
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

long long nc_test_agent_wait_connected(const nc_test_agent *a, int timeout_ms) {
  nc_tc *c = nc_tc_open(a->sock);
  long long t = c ? nc_tc_wait_status(c, "connected", 1, timeout_ms) : -1;
  nc_tc_close(c);
  return t;
}

/* A node's host, 127.0.0.1 for structs filled by hand. */
static const char *host_of(const nc_test_nacosd *s) { return s->host[0] ? s->host : "127.0.0.1"; }

void nc_test_agent_servers(char *buf, size_t cap, const nc_test_nacosd *a,
                           const nc_test_nacosd *b) {
  if (b)
    snprintf(buf, cap, "%s:%d#%d,%s:%d#%d", host_of(a), a->port, a->grpc_port, host_of(b),
             b->port, b->grpc_port);
  else
    snprintf(buf, cap, "%s:%d#%d", host_of(a), a->port, a->grpc_port);
}

/* ---- JSON-lines client ---- */

#define NC_TC_MAX_EVENTS 4096

struct nc_tc {
  int fd;
  int eof;
  size_t len;
  size_t nev;
  cJSON *events[NC_TC_MAX_EVENTS];
  char buf[1 << 20];
};

nc_tc *nc_tc_open(const char *path) {
  int fd = unix_connect(path);
  if (fd < 0)
    return NULL;
  nc_tc *c = calloc(1, sizeof(*c));
  if (!c) {
    close(fd);
    return NULL;
  }
  c->fd = fd;
  return c;
}

void nc_tc_close(nc_tc *c) {
  if (!c)
    return;
  close(c->fd);
  for (size_t i = 0; i < c->nev; i++)
    cJSON_Delete(c->events[i]);
  free(c);
}

int nc_tc_eof(const nc_tc *c) { return c->eof; }

int nc_tc_send_raw(nc_tc *c, const char *data, size_t len) {
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

int nc_tc_sendf(nc_tc *c, const char *fmt, ...) {
  char line[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    return -1;
  if ((size_t)n > sizeof(line) - 2)
    n = (int)sizeof(line) - 2;
  line[n++] = '\n';
  return nc_tc_send_raw(c, line, (size_t)n);
}

cJSON *nc_tc_read(nc_tc *c, int timeout_ms) {
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

/* Keeps an event for nc_tc_wait_event (drops it when the queue is full). */
static void queue_event(nc_tc *c, cJSON *o) {
  if (c->nev < NC_TC_MAX_EVENTS)
    c->events[c->nev++] = o;
  else
    cJSON_Delete(o);
}

cJSON *nc_tc_call(nc_tc *c, int id, const char *fmt, ...) {
  char line[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (nc_tc_sendf(c, "%s", line) != 0)
    return NULL;
  long long end = nc_test_now_ms() + nc_test_timeout_ms(10000);
  while (nc_test_now_ms() < end) {
    cJSON *o = nc_tc_read(c, 500);
    if (!o) {
      if (c->eof)
        return NULL;
      continue;
    }
    if (cJSON_GetObjectItem(o, "event")) {
      queue_event(c, o);
      continue;
    }
    cJSON *rid = cJSON_GetObjectItem(o, "id");
    if (cJSON_IsNumber(rid) && rid->valueint == id)
      return o;
    cJSON_Delete(o);
  }
  return NULL;
}

int nc_tc_call_ok(nc_tc *c, int id, const char *fmt, ...) {
  char line[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  cJSON *r = nc_tc_call(c, id, "%s", line);
  int ok = nc_tc_ok(r);
  cJSON_Delete(r);
  return ok;
}

int nc_tc_wait_changed_hosts(nc_tc *c, const char *service, int timeout_ms) {
  cJSON *ev = nc_tc_wait_event(c, "naming.changed", "service", service, timeout_ms);
  if (!ev)
    return -1;
  int n = nc_tc_hosts_count(ev);
  cJSON_Delete(ev);
  return n;
}

int nc_tc_ok(const cJSON *r) { return r && cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")); }

const char *nc_tc_errcode(const cJSON *r) {
  const cJSON *e = cJSON_GetObjectItem(r, "error");
  const cJSON *code = cJSON_GetObjectItem(e, "code");
  return cJSON_IsString(code) ? code->valuestring : "";
}

cJSON *nc_tc_wait_event(nc_tc *c, const char *ev, const char *key, const char *val,
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
    cJSON *o = nc_tc_read(c, (int)left);
    if (!o)
      return NULL;
    if (cJSON_GetObjectItem(o, "event"))
      queue_event(c, o);
    else
      cJSON_Delete(o);
  }
}

int nc_tc_hosts_count(const cJSON *o) {
  return cJSON_GetArraySize(cJSON_GetObjectItem(o, "hosts"));
}

int nc_tc_status_int(nc_tc *c, const char *key) {
  cJSON *r = nc_tc_call(c, 999999, "{\"id\":999999,\"op\":\"agent.status\"}");
  const cJSON *v = cJSON_GetObjectItem(r, key);
  int n = cJSON_IsNumber(v) ? v->valueint : cJSON_IsTrue(v) ? 1 : cJSON_IsFalse(v) ? 0 : -1;
  cJSON_Delete(r);
  return n;
}

long long nc_tc_wait_status(nc_tc *c, const char *key, int want, int timeout_ms) {
  long long took;
  NC_TEST_POLL(nc_tc_status_int(c, key) == want, timeout_ms, took);
  return took;
}

int nc_test_stack_start(nc_test_stack *st, const char *const *nacosd_args,
                        const char *const *agent_args) {
  char servers[128];
  memset(st, 0, sizeof(*st));
  if (nc_test_mkdtemp(st->dir, sizeof(st->dir)) != 0 ||
      nc_test_nacosd_start(st->dir, nacosd_args, &st->srv) != 0)
    return -1;
  nc_test_agent_servers(servers, sizeof(servers), &st->srv, NULL);
  if (nc_test_agent_start(&st->ag, st->dir, servers, agent_args) != 0)
    return -1;
  return nc_test_agent_wait_connected(&st->ag, 10000) < 0 ? -1 : 0;
}

int nc_test_stack_stop(nc_test_stack *st) {
  int a = nc_test_agent_stop(&st->ag);
  int s = nc_test_nacosd_stop(&st->srv);
  if (st->dir[0])
    nc_test_rmtree(st->dir);
  st->dir[0] = '\0';
  return a || s ? -1 : 0;
}
