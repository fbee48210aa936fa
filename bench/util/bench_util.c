/* bench_util: see bench_util.h. */
#include "bench_util.h"

#include "nc_json.h"
#include "nc_payload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- clocks ---- */

long long nc_bench_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long nc_bench_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double nc_bench_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void nc_bench_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

int nc_bench_cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

/* ---- processes ---- */

void nc_bench_bin_path(char *out, size_t cap, const char *env, const char *rel) {
  const char *e = env ? getenv(env) : NULL;
  if (e) {
    snprintf(out, cap, "%s", e);
    return;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  self[n > 0 ? n : 0] = '\0';
  char *slash = strrchr(self, '/');
  if (slash)
    *slash = '\0';
  size_t n1 = strlen(self), n2 = strlen(rel);
  if (n1 + n2 + 5 > cap) {
    snprintf(out, cap, "%s", rel);
    return;
  }
  memcpy(out, self, n1);
  memcpy(out + n1, "/../", 4);
  memcpy(out + n1 + 4, rel, n2 + 1);
}

pid_t nc_bench_spawn(char *const argv[], const char *log) {
  pid_t p = fork();
  if (p == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  return p;
}

void nc_bench_stop(pid_t pid) {
  if (pid <= 0)
    return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 100; i++) {
    if (waitpid(pid, NULL, WNOHANG) == pid)
      return;
    nc_bench_sleep_ms(50);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

int nc_bench_port_file(const char *path, const char *key, int timeout_ms, pid_t pid) {
  long long end = nc_bench_now_ms() + timeout_ms;
  do {
    FILE *f = fopen(path, "r");
    if (f) {
      char buf[512];
      size_t n = fread(buf, 1, sizeof(buf) - 1, f);
      fclose(f);
      buf[n] = '\0';
      cJSON *j = n ? cJSON_Parse(buf) : NULL;
      if (j) {
        int v = (int)nc_json_int(j, key, -1);
        cJSON_Delete(j);
        return v;
      }
    }
    if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid)
      return -1;
    nc_bench_sleep_ms(20);
  } while (nc_bench_now_ms() < end);
  return -1;
}

pid_t nc_bench_spawn_nacosd(const char *bin, const char *dir, const char *const *extra,
                            int *grpc_port, int *http_port) {
  char pf[512], log[512];
  snprintf(pf, sizeof(pf), "%s/ports.json", dir);
  snprintf(log, sizeof(log), "%s/nacosd.log", dir);
  unlink(pf);
  const char *base[] = {bin,   "--grpc-port", "0",           "--port",      "0",
                        "--cluster-port", "0",  "--bind",      "127.0.0.1",   "--port-file",
                        pf,    "--log-level", "warn", "--auth", "off",
                        /* every load of a bench comes from 127.0.0.1 */
                        "--max-connections-per-ip", "0"};
  char *argv[64];
  size_t n = 0;
  for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
    argv[n++] = (char *)base[i];
  for (size_t i = 0; extra && extra[i]; i++) {
    if (n + 1 >= sizeof(argv) / sizeof(argv[0]))
      return -1;
    argv[n++] = (char *)extra[i];
  }
  argv[n] = NULL;
  pid_t pid = nc_bench_spawn(argv, log);
  if (pid < 0)
    return -1;
  *grpc_port = nc_bench_port_file(pf, "grpc_port", 10000, pid);
  *http_port = *grpc_port > 0 ? nc_bench_port_file(pf, "port", 100, 0) : -1;
  if (*grpc_port <= 0 || *http_port <= 0) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  return pid;
}

pid_t nc_bench_start_nacosd(const char *bin, const char *dir, const char *const *extra,
                            char *target, size_t cap, int *http_port) {
  char path[1024];
  int gp = 0;
  if (bin)
    snprintf(path, sizeof(path), "%s", bin);
  else
    nc_bench_bin_path(path, sizeof(path), NULL, "server/nacosd");
  pid_t pid = nc_bench_spawn_nacosd(path, dir, extra, &gp, http_port);
  if (pid <= 0) {
    fprintf(stderr, "bench: could not start %s (log in %s)\n", path, dir);
    return -1;
  }
  snprintf(target, cap, "127.0.0.1:%d", gp);
  fprintf(stderr, "bench: spawned nacosd pid %d on %s (log %s/nacosd.log)\n", (int)pid, target,
          dir);
  return pid;
}

int nc_bench_mkdtemp(char *dir, size_t cap, const char *tag) {
  const char *t = getenv("TMPDIR");
  int n = snprintf(dir, cap, "%s/nc-bench-%s-XXXXXX", t && *t ? t : "/tmp", tag);
  if (n < 0 || (size_t)n >= cap || !mkdtemp(dir)) {
    perror("bench: mkdtemp");
    return -1;
  }
  return 0;
}

void nc_bench_rmtree(const char *dir) {
  if (!dir || !*dir || strcmp(dir, "/") == 0)
    return;
  pid_t pid = fork();
  if (pid == 0) {
    execlp("rm", "rm", "-rf", dir, (char *)NULL);
    _exit(127);
  }
  if (pid > 0)
    waitpid(pid, NULL, 0);
}

int nc_bench_port_free(int port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
  if (fd < 0)
    return 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
  close(fd);
  return ok;
}

int nc_bench_cluster_base(int n, int stride) {
  srand((unsigned)getpid() ^ (unsigned)nc_bench_now_ms());
  for (int attempt = 0; attempt < 50; attempt++) {
    int base = 20000 + rand() % 30000, ok = 1;
    for (int i = 0; i < n && ok; i++)
      ok = nc_bench_port_free(base + stride * i) && nc_bench_port_free(base + stride * i + 1000) &&
           nc_bench_port_free(base + stride * i + 1001);
    if (ok)
      return base;
  }
  return -1;
}

double nc_bench_loadavg1(void) {
  double l[1] = {-1};
  return getloadavg(l, 1) == 1 ? l[0] : -1;
}

void nc_bench_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* ---- /proc and /metrics ---- */

long nc_bench_proc_kb(pid_t pid, const char *file, const char *key) {
  char path[64], line[256];
  size_t kl = strlen(key);
  snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
  FILE *f = fopen(path, "r");
  long kb = -1;
  if (!f)
    return -1;
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, key, kl)) {
      kb = atol(line + kl);
      break;
    }
  fclose(f);
  return kb;
}

long nc_bench_rss_kb(pid_t pid) { return nc_bench_proc_kb(pid, "status", "VmRSS:"); }

long long nc_bench_cpu_ms(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  unsigned long long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -1;
  return (long long)(ut + st) * 1000 / sysconf(_SC_CLK_TCK);
}

/* GET path on 127.0.0.1:port (HTTP/1.0, the server closes); the response
 * (status line, headers, body) into buf, NUL-terminated and truncated to
 * cap - 1 bytes. Returns the HTTP status or -1. */
static int http_get(int port, const char *path, char *buf, size_t cap) {
  if (port <= 0 || cap < 16)
    return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char req[512];
  int rl = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path), status = -1;
  size_t len = 0;
  if (rl > 0 && (size_t)rl < sizeof(req) && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      write(fd, req, (size_t)rl) == (ssize_t)rl) {
    ssize_t n;
    while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
      len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  if (len > 9 && strncmp(buf, "HTTP/1.", 7) == 0)
    status = atoi(buf + 9);
  return status;
}

long long nc_bench_metric(int http_port, const char *name) {
  static char buf[1 << 16]; /* the bench's main thread only */
  long long v = -1;
  if (http_get(http_port, "/metrics", buf, sizeof(buf)) != 200)
    return -1;
  char key[160];
  snprintf(key, sizeof(key), "\n%s ", name);
  char *p = strstr(buf, key);
  if (p)
    v = atoll(p + strlen(key));
  return v;
}

int nc_bench_http_status(int http_port, const char *path) {
  char buf[4096];
  return http_get(http_port, path, buf, sizeof(buf));
}

/* Sums "bytes_acked:" (sent) and "bytes_received:" over the `ss -tinH`
 * lines of established sockets whose local port is one of ports. */
long long nc_bench_tcp_bytes(const int *ports, int n) {
  char cmd[512];
  size_t len = (size_t)snprintf(cmd, sizeof(cmd), "ss -tinH state established '(");
  for (int i = 0; i < n && len < sizeof(cmd) - 64; i++)
    len += (size_t)snprintf(cmd + len, sizeof(cmd) - len, "%s sport = :%d", i ? " or" : "",
                            ports[i]);
  snprintf(cmd + len, sizeof(cmd) - len, " )' 2>/dev/null");
  FILE *f = popen(cmd, "r");
  if (!f)
    return -1;
  char line[4096];
  long long sum = 0;
  while (fgets(line, sizeof(line), f)) {
    static const char *const keys[] = {"bytes_acked:", "bytes_received:"};
    for (int k = 0; k < 2; k++) {
      const char *p = strstr(line, keys[k]);
      if (p)
        sum += atoll(p + strlen(keys[k]));
    }
  }
  int rc = pclose(f);
  return rc == 0 ? sum : -1;
}

/* ---- raw gRPC load connections ---- */

void nc_bench_noop_msg(void *ud, const uint8_t *d, size_t l) {
  (void)ud, (void)d, (void)l;
}

void nc_bench_noop_closed(void *ud, int st) { (void)ud, (void)st; }

int nc_bench_call_body(nc_gcli *c, const char *type, const char *json, int timeout_ms,
                       cJSON **body) {
  uint8_t *buf = NULL, *resp = NULL;
  size_t len = 0, rl = 0;
  nc_msg *m = NULL;
  *body = NULL;
  int rc = nc_payload_encode(type, "127.0.0.1", NULL, 0, json, strlen(json), &buf, &len);
  if (!rc)
    rc = nc_gcli_unary(c, buf, len, timeout_ms, &resp, &rl);
  free(buf);
  if (!rc)
    rc = nc_payload_decode(resp, rl, &m);
  free(resp);
  if (!rc) {
    *body = m->body;
    m->body = NULL;
    nc_msg_free(m);
  }
  return rc;
}

int nc_bench_call_json(nc_gcli *c, const char *type, const char *json, long long *err_code) {
  cJSON *body = NULL;
  int rc = nc_bench_call_body(c, type, json, 5000, &body);
  if (!rc) {
    *err_code = nc_json_int(body, "errorCode", -1);
    cJSON_Delete(body);
  }
  return rc;
}

int nc_bench_query_hosts(nc_gcli *c, const char *svc, const char *ip) {
  char json[512];
  snprintf(json, sizeof(json),
           "{\"namespace\":\"public\",\"serviceName\":\"%s\",\"groupName\":\"DEFAULT_GROUP\","
           "\"module\":\"naming\",\"cluster\":\"\",\"healthyOnly\":false}",
           svc);
  cJSON *body = NULL;
  if (nc_bench_call_body(c, "ServiceQueryRequest", json, 5000, &body) != 0)
    return -1;
  const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(body, "serviceInfo"), "hosts"), *h;
  int count = cJSON_IsArray(hosts) ? 0 : -1;
  cJSON_ArrayForEach(h, hosts) count += !ip || strcmp(nc_json_str(h, "ip", ""), ip) == 0;
  cJSON_Delete(body);
  return count;
}

nc_gcli *nc_bench_conn_open(nc_gcli_env *env, const char *target, const char *module,
                            const nc_gcli_stream_cbs *cbs, void *ud, nc_gcli **slot) {
  nc_gcli *c = NULL;
  long long ec = 0;
  uint8_t *buf = NULL;
  size_t len = 0;
  char setup[256];
  if (nc_gcli_new(env, target, NULL, &c) || nc_bench_call_json(c, "ServerCheckRequest", "{}", &ec))
    goto fail;
  if (slot)
    *slot = c;
  if (nc_gcli_stream_open(c, cbs, ud))
    goto fail;
  snprintf(setup, sizeof(setup),
           "{\"clientVersion\":\"bench-%s\",\"labels\":{\"source\":\"sdk\",\"module\":\"%s\","
           "\"AppName\":\"bench\"},\"module\":\"internal\",\"headers\":{}}",
           module, module);
  if (nc_payload_encode("ConnectionSetupRequest", "127.0.0.1", NULL, 0, setup, strlen(setup), &buf,
                        &len))
    goto fail;
  int rc = nc_gcli_stream_send(c, buf, len);
  free(buf);
  if (rc)
    goto fail;
  /* The server registers the connection asynchronously: HealthCheck fails
   * until it has. */
  for (int i = 0; i < 300; i++) {
    if (nc_bench_call_json(c, "HealthCheckRequest", "{}", &ec))
      goto fail;
    if (ec == 0)
      return c;
    nc_bench_sleep_ms(10);
  }
fail:
  if (slot)
    *slot = NULL;
  if (c)
    nc_gcli_free(c);
  return NULL;
}

typedef struct conn_opener {
  pthread_t th;
  nc_gcli_env *env;
  const char *target, *module;
  const nc_gcli_stream_cbs *cbs;
  nc_gcli **conns;
  int from, to, failed;
  int (*then)(nc_gcli *c, void *ud);
  void *then_ud;
} conn_opener;

static void *open_range(void *arg) {
  conn_opener *o = arg;
  for (int i = o->from; i < o->to; i++)
    if (!nc_bench_conn_open(o->env, o->target, o->module, o->cbs, &o->conns[i], &o->conns[i]) ||
        (o->then && o->then(o->conns[i], o->then_ud) != 0))
      o->failed++;
  return NULL;
}

int nc_bench_conn_open_many(nc_gcli_env *env, const char *target, const char *module,
                            const nc_gcli_stream_cbs *cbs, nc_gcli **conns, int n,
                            int (*then)(nc_gcli *c, void *ud), void *then_ud) {
  enum { OPENERS = 4 };
  conn_opener op[OPENERS];
  int failed = 0;
  for (int t = 0; t < OPENERS; t++) {
    op[t] = (conn_opener){.env = env, .target = target, .module = module, .cbs = cbs,
                          .conns = conns, .from = t * n / OPENERS, .to = (t + 1) * n / OPENERS,
                          .then = then, .then_ud = then_ud};
    pthread_create(&op[t].th, NULL, open_range, &op[t]);
  }
  for (int t = 0; t < OPENERS; t++) {
    pthread_join(op[t].th, NULL);
    failed += op[t].failed;
  }
  return failed;
}

typedef struct load {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int in_flight;
  long done, failed;
} load;

static void load_done(void *ud, int status, const uint8_t *data, size_t len) {
  load *l = ud;
  nc_msg *m = NULL;
  int ok = status == 0 && nc_payload_decode(data, len, &m) == 0 &&
           nc_json_int(m->body, "resultCode", 0) == 200;
  nc_msg_free(m);
  pthread_mutex_lock(&l->mu);
  l->in_flight--;
  l->done++;
  if (!ok)
    l->failed++;
  pthread_cond_signal(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

double nc_bench_run_load(nc_gcli **conns, int nconns, long n, int window, int timeout_ms,
                         size_t json_cap, nc_bench_req_fn fn, void *ud, long *failed) {
  load l = {.in_flight = 0};
  pthread_mutex_init(&l.mu, NULL);
  pthread_cond_init(&l.cv, NULL);
  char *json = malloc(json_cap);
  double t0 = nc_bench_now_s();
  for (long i = 0; json && i < n; i++) {
    pthread_mutex_lock(&l.mu);
    while (l.in_flight >= window * nconns)
      pthread_cond_wait(&l.cv, &l.mu);
    l.in_flight++;
    pthread_mutex_unlock(&l.mu);
    int ci = (int)(i % nconns);
    const char *type = fn(ud, i, ci, json, json_cap);
    uint8_t *buf = NULL;
    size_t len = 0;
    nc_payload_encode(type, "127.0.0.1", NULL, 0, json, strlen(json), &buf, &len);
    if (nc_gcli_unary_async(conns[ci], buf, len, timeout_ms, load_done, &l) != 0) {
      pthread_mutex_lock(&l.mu);
      l.in_flight--;
      l.failed++;
      pthread_mutex_unlock(&l.mu);
    }
    free(buf);
  }
  pthread_mutex_lock(&l.mu);
  while (l.in_flight > 0)
    pthread_cond_wait(&l.cv, &l.mu);
  pthread_mutex_unlock(&l.mu);
  double dt = nc_bench_now_s() - t0;
  if (!json)
    l.failed = n;
  free(json);
  if (failed)
    *failed = l.failed;
  pthread_mutex_destroy(&l.mu);
  pthread_cond_destroy(&l.cv);
  return (double)(n - l.failed) / dt;
}

int nc_bench_lean_ack(nc_gcli *c, const uint8_t *data, size_t len, const char *req_type,
                      const char *resp_type) {
  const char *rtype;
  int kind;
  if (memmem(data, len, req_type, strlen(req_type)))
    rtype = resp_type, kind = 1;
  else if (memmem(data, len, "ClientDetectionRequest", 22))
    rtype = "ClientDetectionResponse", kind = 2;
  else
    return 0;
  const char *k = memmem(data, len, "\"requestId\":\"", 13);
  if (!k)
    return 0;
  k += 13;
  char rid[32];
  size_t n = 0;
  while ((const uint8_t *)k + n < data + len && k[n] != '"' && n < sizeof(rid) - 1) {
    rid[n] = k[n];
    n++;
  }
  rid[n] = 0;
  char json[128];
  int jl = snprintf(json, sizeof(json),
                    "{\"resultCode\":200,\"errorCode\":0,\"success\":true,"
                    "\"requestId\":\"%s\"}",
                    rid);
  uint8_t *buf = NULL;
  size_t bl = 0;
  if (c && nc_payload_encode(rtype, "127.0.0.1", NULL, 0, json, (size_t)jl, &buf, &bl) == 0)
    nc_gcli_stream_send(c, buf, bl);
  free(buf);
  return kind;
}
