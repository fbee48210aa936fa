/* bench_agent: local round-trip latency and memory of nacos-agent.
 *
 * Starts a real nacosd and nacos-agent (binaries next to this program's
 * build directory, or NC_NACOSD_BIN / NC_AGENT_BIN), opens 100 app
 * connections holding 1,000 subscriptions in total (10 services each, one
 * instance per service registered by another app), then measures
 * naming.instances round trips over the socket from one app and the
 * agent's RSS. Prints `name: value` lines:
 *   ipc_rtt_p50_us, ipc_rtt_p99_us, agent_rss_kb, (and context lines).
 * Options: --apps N (100) --subs N (1000) --requests N (20000). */
#include "bench_util.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef struct conn {
  int fd;
  char buf[1 << 16];
  size_t len;
} conn;

static int conn_open(conn *c, const char *path) {
  struct sockaddr_un sa = {0};
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, strnlen(path, sizeof(sa.sun_path) - 1));
  c->len = 0;
  c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if (c->fd >= 0)
      close(c->fd);
    c->fd = -1;
    return -1;
  }
  return 0;
}

static int conn_send(conn *c, const char *s) {
  size_t n = strlen(s), off = 0;
  while (off < n) {
    ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    off += (size_t)w;
  }
  return 0;
}

/* Reads lines until one that is a reply (has "id"), skipping events.
 * Returns 1 when it says ok, 0 otherwise, -1 on EOF/timeout. */
static int conn_reply(conn *c) {
  for (;;) {
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      *nl = '\0';
      int is_reply = strncmp(c->buf, "{\"id\":", 6) == 0;
      int ok = strstr(c->buf, "\"ok\":true") != NULL;
      size_t used = (size_t)(nl - c->buf) + 1;
      memmove(c->buf, c->buf + used, c->len - used);
      c->len -= used;
      if (is_reply)
        return ok;
      continue;
    }
    if (c->len == sizeof(c->buf))
      c->len = 0; /* an event bigger than the buffer: drop it */
    struct pollfd p = {c->fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0)
      return -1;
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (r <= 0)
      return -1;
    c->len += (size_t)r;
  }
}

int main(int argc, char **argv) {
  int apps = 100, subs = 1000, requests = 20000, rc = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--apps"))
      apps = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--subs"))
      subs = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--requests"))
      requests = atoi(argv[i + 1]);
  }
  if (apps < 1 || subs < apps || requests < 100) {
    fprintf(stderr, "usage: bench_agent [--apps N] [--subs N>=apps] [--requests N>=100]\n");
    return 2;
  }
  char nacosd[PATH_MAX], agent[PATH_MAX], dir[] = "/tmp/nc-bench-agent-XXXXXX";
  nc_bench_bin_path(nacosd, sizeof(nacosd), "NC_NACOSD_BIN", "server/nacosd");
  nc_bench_bin_path(agent, sizeof(agent), "NC_AGENT_BIN", "agent/nacos-agent");
  if (!mkdtemp(dir))
    return 1;
  char data[300], slog[300], alog[300], sock[300], cache[300], servers[128];
  snprintf(data, sizeof(data), "%s/data", dir);
  snprintf(slog, sizeof(slog), "%s/nacosd.log", dir);
  snprintf(alog, sizeof(alog), "%s/agent.log", dir);
  snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
  snprintf(cache, sizeof(cache), "%s/cache", dir);
  const char *sargs[] = {"--data-dir", data, "--push-merge-ms", "50", NULL};
  int port = -1, gport = -1;
  pid_t spid = nc_bench_spawn_nacosd(nacosd, dir, sargs, &gport, &port), apid = -1;
  conn *cs = calloc((size_t)apps + 1, sizeof(conn));
  if (spid < 0 || !cs) {
    fprintf(stderr, "nacosd did not start (see %s)\n", slog);
    goto out;
  }
  snprintf(servers, sizeof(servers), "127.0.0.1:%d#%d", port, gport);
  char *aargv[] = {agent, "--servers", servers, "--socket", sock, "--cache-dir", cache,
                   "--log-level", "warn", NULL};
  apid = nc_bench_spawn(aargv, alog);
  /* Wait until connected upstream. */
  for (int i = 0; i < 200; i++) {
    conn probe;
    int connected = 0;
    if (conn_open(&probe, sock) == 0) {
      conn_send(&probe, "{\"id\":1,\"op\":\"agent.hello\"}\n");
      struct pollfd p = {probe.fd, POLLIN, 0};
      if (poll(&p, 1, 2000) > 0) {
        ssize_t r = recv(probe.fd, probe.buf, sizeof(probe.buf) - 1, 0);
        if (r > 0) {
          probe.buf[r] = '\0';
          connected = strstr(probe.buf, "\"connected\":true") != NULL;
        }
      }
      close(probe.fd);
    }
    if (connected)
      break;
    usleep(50000);
  }

  /* One app registers one instance in every service. */
  conn *reg = &cs[apps];
  char line[512];
  if (conn_open(reg, sock) != 0)
    goto out;
  for (int s = 0; s < subs; s++) {
    snprintf(line, sizeof(line),
             "{\"id\":%d,\"op\":\"naming.register\",\"service\":\"bench-%d\",\"ip\":\"10.9.%d.%d\","
             "\"port\":8080,\"metadata\":{\"zone\":\"z%d\"}}\n",
             s, s, s / 250, s % 250, s % 3);
    if (conn_send(reg, line) != 0 || conn_reply(reg) != 1) {
      fprintf(stderr, "register failed\n");
      goto out;
    }
  }
  /* 100 apps, subs/apps subscriptions each (pipelined per app). */
  int per = subs / apps;
  for (int a = 0; a < apps; a++) {
    if (conn_open(&cs[a], sock) != 0) {
      fprintf(stderr, "connect failed\n");
      goto out;
    }
    for (int k = 0; k < per; k++) {
      snprintf(line, sizeof(line), "{\"id\":%d,\"op\":\"naming.subscribe\",\"service\":\"bench-%d\"}\n",
               k, a * per + k);
      conn_send(&cs[a], line);
    }
  }
  for (int a = 0; a < apps; a++)
    for (int k = 0; k < per; k++)
      if (conn_reply(&cs[a]) != 1) {
        fprintf(stderr, "subscribe failed\n");
        goto out;
      }

  /* Round trips from one app to a subscribed service (warm-up first). */
  long long *rtt = calloc((size_t)requests, sizeof(long long));
  if (!rtt)
    goto out;
  for (int i = 0; i < requests + 1000; i++) {
    snprintf(line, sizeof(line), "{\"id\":%d,\"op\":\"naming.instances\",\"service\":\"bench-%d\"}\n",
             i, i % per);
    long long t0 = nc_bench_now_us();
    if (conn_send(&cs[0], line) != 0 || conn_reply(&cs[0]) != 1) {
      fprintf(stderr, "naming.instances failed\n");
      free(rtt);
      goto out;
    }
    if (i >= 1000)
      rtt[i - 1000] = nc_bench_now_us() - t0;
  }
  /* Steady state: let the agent's once-a-second housekeeping run. */
  usleep(2500 * 1000);
  qsort(rtt, (size_t)requests, sizeof(long long), nc_bench_cmp_ll);
  printf("apps: %d\n", apps);
  printf("subscriptions: %d\n", per * apps);
  printf("ipc_requests: %d\n", requests);
  printf("ipc_rtt_p50_us: %lld\n", rtt[requests / 2]);
  printf("ipc_rtt_p99_us: %lld\n", rtt[(size_t)requests * 99 / 100]);
  printf("ipc_rtt_max_us: %lld\n", rtt[requests - 1]);
  /* RSS counts the shared libraries' pages too (libgrpc, abseil, ...);
   * the anonymous part is the agent's own memory. */
  conn_send(&cs[0], "{\"id\":1,\"op\":\"agent.status\"}\n");
  for (;;) {
    /* The reply is the last line read; find heap_kb in the buffer. */
    struct pollfd p = {cs[0].fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0)
      break;
    ssize_t r = recv(cs[0].fd, cs[0].buf, sizeof(cs[0].buf) - 1, 0);
    if (r <= 0)
      break;
    cs[0].buf[r] = '\0';
    char *h = strstr(cs[0].buf, "\"heap_kb\":");
    if (h) {
      printf("agent_heap_kb: %ld\n", atol(h + 10));
      break;
    }
  }
  printf("agent_rss_kb: %ld\n", nc_bench_proc_kb(apid, "status", "VmRSS:"));
  printf("agent_rss_anon_kb: %ld\n", nc_bench_proc_kb(apid, "status", "RssAnon:"));
  printf("agent_rss_file_kb: %ld\n", nc_bench_proc_kb(apid, "status", "RssFile:"));
  printf("agent_pss_kb: %ld\n", nc_bench_proc_kb(apid, "smaps_rollup", "Pss:"));
  fflush(stdout);
  free(rtt);
  rc = 0;
out:
  for (int a = 0; cs && a <= apps; a++)
    if (cs[a].fd > 0)
      close(cs[a].fd);
  free(cs);
  nc_bench_stop(apid);
  nc_bench_stop(spid);
  if (rc == 0) /* kept for its logs when something failed */
    nc_bench_rmtree(dir);
  return rc;
}
