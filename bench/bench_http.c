/* bench_http: load program for nacosd's HTTP open API, each figure next to
 * a ceiling measured in the same run. Prints `name: value` lines:
 *   http_register_tps     POST /nacos/v1/ns/instance per second (new
 *                         instances spread over --services services)
 *   http_query_qps        GET /nacos/v1/ns/instance/list per second
 *   http_*_ceiling        the same requests against a trivial server on
 *                         the same runtime (nc_http: libmicrohttpd on a
 *                         libuv loop, one thread) answering a fixed body of
 *                         the same size; *_ratio = nacosd / ceiling
 *   http_listen_idle_kb   server RSS growth per held config long-poll
 *                         (--listeners polls of a config that does not
 *                         exist yet, so every one is held)
 *   http_listen_idle_cpu_pct  server CPU over 5 s with all of them held
 *   http_listen_notify_ms publishing the config -> every poll answered
 *   loadavg_1m_*          the machine's load around the run
 *
 * Spawns the built nacosd (--nacosd PATH overrides) on loopback with
 * ephemeral ports. Knobs: --conns N (keep-alive connections, one request
 * in flight each, 16), --requests N (per phase, 20000), --services N
 * (1000), --listeners N (5000). */
#include "bench_util.h"
#include "nc_http.h"
#include "nc_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

/* ---- a minimal HTTP/1.1 keep-alive client ---- */

typedef struct hconn {
  int fd;
  char *buf;
  size_t len, cap;
} hconn;

static int tcp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads what the socket has; returns the status of a complete response at
 * the start of c->buf (body in *body and *blen until the next call), 0 when
 * incomplete, -1 on a closed or bad stream. */
static int recv_response(hconn *c, const char **body, size_t *blen) {
  if (c->cap - c->len < 65536) {
    size_t ncap = c->cap ? c->cap * 2 : 131072;
    char *nb = realloc(c->buf, ncap);
    if (!nb)
      return -1;
    c->buf = nb;
    c->cap = ncap;
  }
  ssize_t r = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
  if (r <= 0)
    return r < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
  c->len += (size_t)r;
  c->buf[c->len] = '\0';
  char *end = strstr(c->buf, "\r\n\r\n");
  if (!end)
    return 0;
  size_t head = (size_t)(end + 4 - c->buf), clen = 0;
  for (char *p = c->buf; p < end; p++) {
    if (p[0] == '\n' && !strncasecmp(p + 1, "Content-Length:", 15)) {
      clen = (size_t)strtoul(p + 16, NULL, 10);
      break;
    }
  }
  if (c->len < head + clen)
    return 0;
  int status = atoi(c->buf + 9);
  /* the body is consumed by the caller before the next call */
  *body = c->buf + head;
  *blen = clen;
  size_t used = head + clen;
  if (c->len > used) { /* a pipelined extra: not expected */
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    return -1;
  }
  c->len = 0;
  return status > 0 ? status : -1;
}

/* Builds request i: writes the whole request into out, returns its length. */
typedef size_t (*req_fn)(void *ud, long i, char *out, size_t cap);

/* Runs n requests over the connections (one in flight each); returns
 * requests per second; *bad counts non-2xx answers and broken streams. */
static double run_load(int port, int nconns, long n, req_fn fn, void *ud, long *bad) {
  hconn *cs = calloc((size_t)nconns, sizeof(*cs));
  struct pollfd *pf = calloc((size_t)nconns, sizeof(*pf));
  char req[2048];
  long next = 0, done = 0;
  *bad = 0;
  double t0 = nc_bench_now_s();
  for (int i = 0; i < nconns; i++) {
    cs[i].fd = tcp_connect(port);
    pf[i] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
    if (cs[i].fd < 0 || next >= n) {
      pf[i].fd = -1;
      if (cs[i].fd < 0)
        (*bad)++;
      continue;
    }
    size_t l = fn(ud, next++, req, sizeof(req));
    if (send_all(cs[i].fd, req, l) != 0)
      pf[i].fd = -1;
  }
  while (done + *bad < n) {
    int k = poll(pf, (nfds_t)nconns, 10000);
    if (k <= 0) {
      fprintf(stderr, "bench: no answer for 10 s\n");
      break;
    }
    for (int i = 0; i < nconns; i++) {
      if (pf[i].fd < 0 || !pf[i].revents)
        continue;
      const char *b;
      size_t bl;
      int st = recv_response(&cs[i], &b, &bl);
      if (st == 0)
        continue;
      if (st < 0) {
        (*bad)++;
        pf[i].fd = -1;
        continue;
      }
      if (st >= 200 && st < 300)
        done++;
      else
        (*bad)++;
      if (next < n) {
        size_t l = fn(ud, next++, req, sizeof(req));
        if (send_all(cs[i].fd, req, l) != 0) {
          (*bad)++;
          pf[i].fd = -1;
        }
      } else {
        pf[i].fd = -1;
      }
    }
  }
  double dt = nc_bench_now_s() - t0;
  for (int i = 0; i < nconns; i++) {
    if (cs[i].fd >= 0)
      close(cs[i].fd);
    free(cs[i].buf);
  }
  free(cs);
  free(pf);
  return dt > 0 ? (double)done / dt : 0;
}

/* One request and its answer on a fresh connection: the status, the body
 * into out (NUL-terminated, truncated to cap). */
static int http_once(int port, const char *req, char *out, size_t cap) {
  hconn c = {.fd = tcp_connect(port)};
  int st = -1;
  if (c.fd < 0 || send_all(c.fd, req, strlen(req)) != 0)
    goto out;
  for (;;) {
    const char *b;
    size_t bl;
    st = recv_response(&c, &b, &bl);
    if (st != 0) {
      if (st > 0 && out) {
        size_t m = bl < cap - 1 ? bl : cap - 1;
        memcpy(out, b, m);
        out[m] = '\0';
      }
      break;
    }
  }
out:
  if (c.fd >= 0)
    close(c.fd);
  free(c.buf);
  return st;
}

/* ---- the requests ---- */

typedef struct load_args {
  int services;
} load_args;

static size_t build_register(void *ud, long i, char *out, size_t cap) {
  const load_args *a = ud;
  return (size_t)snprintf(out, cap,
                          "POST /nacos/v1/ns/instance?serviceName=bench-%ld&ip=10.%ld.%ld.%ld"
                          "&port=8080&weight=1.0&ephemeral=true HTTP/1.1\r\nHost: bench\r\n"
                          "Content-Length: 0\r\n\r\n",
                          i % a->services, (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

static size_t build_query(void *ud, long i, char *out, size_t cap) {
  const load_args *a = ud;
  return (size_t)snprintf(out, cap,
                          "GET /nacos/v1/ns/instance/list?serviceName=bench-%ld HTTP/1.1\r\n"
                          "Host: bench\r\n\r\n",
                          i % a->services);
}

/* ---- the ceiling: nc_http answering a fixed body ---- */

typedef struct ceiling {
  uv_loop_t loop;
  uv_async_t stop;
  nc_http *http;
  pthread_t th;
  atomic_int port;
  char *reg_body, *query_body; /* set before the phase that uses them */
  size_t reg_len, query_len;
} ceiling;

static void ceiling_handle(void *ud, nc_http_req *r) {
  ceiling *c = ud;
  int list = strstr(nc_http_path(r), "/list") != NULL;
  nc_http_reply(r, 200, list ? "application/json" : "text/plain",
                list ? c->query_body : c->reg_body, list ? c->query_len : c->reg_len);
}

static void ceiling_stop_cb(uv_async_t *a) {
  ceiling *c = a->data;
  nc_http_stop(c->http);
  uv_close((uv_handle_t *)a, NULL);
}

static void *ceiling_main(void *arg) {
  ceiling *c = arg;
  nc_http_opts o = {.bind = "127.0.0.1", .max_conns = 1024};
  if (nc_http_start(&c->loop, &o, ceiling_handle, c, &c->http) != 0) {
    atomic_store(&c->port, -1);
    return NULL;
  }
  atomic_store(&c->port, nc_http_port(c->http));
  uv_run(&c->loop, UV_RUN_DEFAULT);
  return NULL;
}

static int ceiling_start(ceiling *c) {
  if (uv_loop_init(&c->loop) != 0 || uv_async_init(&c->loop, &c->stop, ceiling_stop_cb) != 0)
    return -1;
  c->stop.data = c;
  if (pthread_create(&c->th, NULL, ceiling_main, c) != 0)
    return -1;
  while (atomic_load(&c->port) == 0)
    nc_bench_sleep_ms(5);
  return atomic_load(&c->port) > 0 ? 0 : -1;
}

static void ceiling_end(ceiling *c) {
  uv_async_send(&c->stop);
  pthread_join(c->th, NULL);
  uv_loop_close(&c->loop);
}

/* ---- held long-polls ---- */

/* Opens n listener polls of a config that does not exist (md5 ""), so each
 * is held; returns the fds (n of them, -1 where the connect failed). */
static int *open_listeners(int port, int n) {
  int *fds = malloc((size_t)n * sizeof(int));
  const char *form = "Listening-Configs=bench-listen%02DEFAULT_GROUP%02%01";
  char req[512];
  int l = snprintf(req, sizeof(req),
                   "POST /nacos/v1/cs/configs/listener HTTP/1.1\r\nHost: bench\r\n"
                   "Long-Pulling-Timeout: 30000\r\nContent-Type: "
                   "application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
                   strlen(form), form);
  for (int i = 0; i < n; i++) {
    fds[i] = tcp_connect(port);
    if (fds[i] >= 0 && send_all(fds[i], req, (size_t)l) != 0) {
      close(fds[i]);
      fds[i] = -1;
    }
  }
  return fds;
}

/* Waits until every listener fd has an answer (or 20 s); returns how many. */
static int wait_answers(int *fds, int n) {
  struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
  int got = 0, open = 0;
  for (int i = 0; i < n; i++) {
    pf[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    open += fds[i] >= 0;
  }
  long long end = nc_bench_now_ms() + 20000;
  while (got < open && nc_bench_now_ms() < end) {
    if (poll(pf, (nfds_t)n, 1000) <= 0)
      continue;
    for (int i = 0; i < n; i++) {
      if (pf[i].fd >= 0 && pf[i].revents) {
        char b[4096];
        if (recv(pf[i].fd, b, sizeof(b), 0) > 0)
          got++;
        pf[i].fd = -1;
      }
    }
  }
  free(pf);
  return got;
}

static int wait_held(int http_port, long long want, int timeout_ms) {
  long long end = nc_bench_now_ms() + timeout_ms, held = -1;
  while (nc_bench_now_ms() < end) {
    if ((held = nc_bench_metric(http_port, "nacosd_http_held")) >= want)
      return 0;
    nc_bench_sleep_ms(100);
  }
  fprintf(stderr, "bench: only %lld of %lld polls held\n", held, want);
  return -1;
}

static void print_pair(const char *name, double v, double ceil) {
  printf("%s: %.0f\n%s_ceiling: %.0f\n%s_ratio: %.2f\n", name, v, name, ceil, name,
         ceil > 0 ? v / ceil : 0);
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *nacosd = NULL;
  int conns = 16, services = 1000, listeners = 5000;
  long requests = 20000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      goto usage;
    if (!strcmp(a, "--nacosd"))
      nacosd = v;
    else if (!strcmp(a, "--conns"))
      conns = atoi(v);
    else if (!strcmp(a, "--requests"))
      requests = atol(v);
    else if (!strcmp(a, "--services"))
      services = atoi(v);
    else if (!strcmp(a, "--listeners"))
      listeners = atoi(v);
    else
      goto usage;
    i++;
  }
  if (conns < 1 || requests < 1 || services < 1 || listeners < 1 || requests > 16000000)
    goto usage;
  nc_bench_raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  nc_log_set_level(NC_LOG_WARN);
  printf("loadavg_1m_start: %.2f\n", nc_bench_loadavg1());

  char dir[160], data[192], maxc[16], target[128];
  if (nc_bench_mkdtemp(dir, sizeof(dir), "http") != 0)
    return 1;
  snprintf(data, sizeof(data), "%s/data", dir);
  snprintf(maxc, sizeof(maxc), "%d", listeners + conns + 64);
  const char *extra[] = {"--data-dir", data, "--http-max-connections", maxc,
                         "--http-max-connections-per-ip", "0", NULL};
  int http_port = 0, rc = 1;
  pid_t pid = nc_bench_start_nacosd(nacosd, dir, extra, target, sizeof(target), &http_port);
  if (pid <= 0)
    goto out_dir;
  ceiling ce = {0};
  if (ceiling_start(&ce) != 0) {
    fprintf(stderr, "bench: the ceiling server did not start\n");
    goto out_pid;
  }
  ce.reg_body = strdup("ok");
  ce.reg_len = 2;

  load_args la = {services};
  long bad = 0;
  run_load(http_port, conns, requests / 10, build_register, &la, &bad); /* warm-up */
  double reg = run_load(http_port, conns, requests, build_register, &la, &bad);
  if (bad)
    fprintf(stderr, "bench: %ld of %ld registrations failed\n", bad, requests);
  double reg_c = run_load(atomic_load(&ce.port), conns, requests, build_register, &la, &bad);
  print_pair("http_register_tps", reg, reg_c);

  /* the ceiling answers a query with the bytes nacosd answered */
  static char qbody[1 << 20];
  char qreq[512];
  build_query(&la, 0, qreq, sizeof(qreq));
  if (http_once(http_port, qreq, qbody, sizeof(qbody)) != 200) {
    fprintf(stderr, "bench: the query does not answer 200\n");
    goto out_ceiling;
  }
  ce.query_body = strdup(qbody);
  ce.query_len = strlen(qbody);
  fprintf(stderr, "bench: a query answers %zu bytes (%ld hosts per service)\n", ce.query_len,
          (requests + requests / 10) / services);
  double q = run_load(http_port, conns, requests, build_query, &la, &bad);
  if (bad)
    fprintf(stderr, "bench: %ld of %ld queries failed\n", bad, requests);
  double q_c = run_load(atomic_load(&ce.port), conns, requests, build_query, &la, &bad);
  print_pair("http_query_qps", q, q_c);

  /* held listeners: memory, idle CPU, one change answering all */
  long long held0 = nc_bench_metric(http_port, "nacosd_http_held");
  long rss0 = nc_bench_rss_kb(pid);
  int *fds = open_listeners(http_port, listeners);
  if (wait_held(http_port, held0 + listeners, 30000) == 0) {
    nc_bench_sleep_ms(500);
    long rss1 = nc_bench_rss_kb(pid);
    long long cpu0 = nc_bench_cpu_ms(pid);
    nc_bench_sleep_ms(5000);
    long long cpu1 = nc_bench_cpu_ms(pid);
    printf("http_listen_held: %d\nhttp_listen_idle_kb: %.2f\nhttp_listen_idle_cpu_pct: %.2f\n",
           listeners, (double)(rss1 - rss0) / listeners, (double)(cpu1 - cpu0) / 5000.0 * 100);
    char pub[512], ans[256];
    snprintf(pub, sizeof(pub),
             "POST /nacos/v1/cs/configs?dataId=bench-listen&group=DEFAULT_GROUP&content=v1 "
             "HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n");
    long long t0 = nc_bench_now_ms();
    if (http_once(http_port, pub, ans, sizeof(ans)) != 200)
      fprintf(stderr, "bench: the publish failed: %s\n", ans);
    int got = wait_answers(fds, listeners);
    printf("http_listen_notify_ms: %lld\nhttp_listen_answered: %d\n", nc_bench_now_ms() - t0,
           got);
    rc = got == listeners ? 0 : 1;
  }
  for (int i = 0; i < listeners; i++)
    if (fds[i] >= 0)
      close(fds[i]);
  free(fds);
  printf("loadavg_1m_end: %.2f\n", nc_bench_loadavg1());

out_ceiling:
  ceiling_end(&ce);
  free(ce.reg_body);
  free(ce.query_body);
out_pid:
  nc_bench_stop(pid);
out_dir:
  if (rc == 0)
    nc_bench_rmtree(dir);
  return rc;
usage:
  fprintf(stderr, "usage: bench_http [--nacosd PATH] [--conns N] [--requests N] "
                  "[--services N] [--listeners N]\n");
  return 2;
}
