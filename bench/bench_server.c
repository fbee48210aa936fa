/* bench_server: load program for nacosd using the repo's own client
 * transport. Prints `name: value` lines:
 *   register_tps    InstanceRequest registrations per second (pipelined)
 *   query_qps       ServiceQueryRequest per second (pipelined)
 *   idle_conn_kb    server RSS growth per idle connection (ServerCheck,
 *                   bidi stream, setup done; needs the server's pid)
 *   push_fanout_ms  one change -> all N subscriber connections acked
 *                   (server must run with --push-merge-ms 0)
 *   loadavg_1m_*    the machine's 1-minute load average around the fan-out
 *
 * Either spawns the built nacosd (default; --nacosd PATH overrides the
 * binary next to this one) on ephemeral loopback ports with merge window 0,
 * or targets a running one: --target host:grpcport [--pid PID]
 * [--http-port P]. Other knobs: --conns N (load connections, 8),
 * --requests N (per phase, 50000), --client-threads N (2),
 * --server-threads N (spawned nacosd --grpc-threads, 1), --window N (in flight per connection,
 * 64), --subscribers N (5000), --rounds N (fan-out repetitions, 5; the
 * median is printed). */
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_json.h"
#include "nc_log.h"
#include "nc_payload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* 1-minute load average: figures from the shared 2-core machine mean
 * little without it. */
static double loadavg1(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1)
      l = -1;
    fclose(f);
  }
  return l;
}

/* ---- spawning nacosd ---- */

static pid_t spawn_nacosd(const char *bin, const char *dir, int threads, int send_thread,
                          int *grpc_port,
                          int *http_port) {
  char data[512], pf[512], log[512];
  snprintf(data, sizeof(data), "%s/data", dir);
  snprintf(pf, sizeof(pf), "%s/ports.json", dir);
  snprintf(log, sizeof(log), "%s/nacosd.log", dir);
  char th[16];
  snprintf(th, sizeof(th), "%d", threads);
  pid_t pid = fork();
  if (pid == 0) {
    FILE *f = freopen(log, "w", stderr);
    (void)f;
    execl(bin, bin, "--bind", "127.0.0.1", "--port", "0", "--grpc-port", "0", "--cluster-port",
          "0", "--data-dir", data, "--port-file", pf, "--push-merge-ms", "0", "--log-level",
          "warn", "--grpc-threads", th, send_thread ? "--send-thread=true" : "--send-thread=false",
          (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 500; i++) {
    FILE *f = fopen(pf, "r");
    if (f) {
      char buf[256];
      size_t n = fread(buf, 1, sizeof(buf) - 1, f);
      fclose(f);
      buf[n] = 0;
      cJSON *j = cJSON_Parse(buf);
      if (j) {
        *grpc_port = (int)nc_json_int(j, "grpc_port", 0);
        *http_port = (int)nc_json_int(j, "port", 0);
        cJSON_Delete(j);
        return pid;
      }
    }
    sleep_ms(20);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

static long rss_kb(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long kb = -1;
  if (!f)
    return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

/* utime+stime of a process in ms (from /proc/<pid>/stat), or -1. */
static long long cpu_ms(pid_t pid) {
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

static long long metric(int http_port, const char *name) {
  if (http_port <= 0)
    return -1;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(s);
    return -1;
  }
  const char *req = "GET /metrics HTTP/1.0\r\n\r\n";
  if (write(s, req, strlen(req)) < 0) {
    close(s);
    return -1;
  }
  static char buf[65536];
  size_t len = 0;
  ssize_t n;
  while ((n = read(s, buf + len, sizeof(buf) - 1 - len)) > 0)
    len += (size_t)n;
  close(s);
  buf[len] = 0;
  char key[160];
  snprintf(key, sizeof(key), "\n%s ", name);
  char *p = strstr(buf, key);
  return p ? atoll(p + strlen(key)) : -1;
}

/* ---- raw load connections (handshake by hand, pre-encoded payloads) ---- */

static void noop_msg(void *ud, const uint8_t *d, size_t l) {
  (void)ud;
  (void)d;
  (void)l;
}
static void noop_closed(void *ud, int st) {
  (void)ud;
  (void)st;
}

static int raw_json(nc_gcli *c, const char *type, const char *json, long long *err_code) {
  uint8_t *buf = NULL, *resp = NULL;
  size_t len = 0, rl = 0;
  nc_msg *m = NULL;
  int rc = nc_payload_encode(type, "127.0.0.1", NULL, 0, json, strlen(json), &buf, &len);
  if (!rc)
    rc = nc_gcli_unary(c, buf, len, 5000, &resp, &rl);
  free(buf);
  if (!rc)
    rc = nc_payload_decode(resp, rl, &m);
  free(resp);
  if (!rc) {
    *err_code = nc_json_int(m->body, "errorCode", -1);
    nc_msg_free(m);
  }
  return rc;
}

static nc_gcli *load_conn_cbs(nc_gcli_env *env, const char *target, const nc_gcli_stream_cbs *scbs,
                             void *ud, nc_gcli **slot) {
  nc_gcli *c = NULL;
  long long ec = 0;
  if (nc_gcli_new(env, target, NULL, &c) || raw_json(c, "ServerCheckRequest", "{}", &ec))
    goto fail;
  if (slot)
    *slot = c; /* the stream callback may need it as soon as it opens */
  if (nc_gcli_stream_open(c, scbs, ud))
    goto fail;
  uint8_t *buf = NULL;
  size_t len = 0;
  const char *setup = "{\"clientVersion\":\"bench\",\"labels\":{\"source\":\"sdk\",\"module\":"
                      "\"naming\"},\"module\":\"internal\",\"headers\":{}}";
  nc_payload_encode("ConnectionSetupRequest", "127.0.0.1", NULL, 0, setup, strlen(setup), &buf,
                    &len);
  int rc = nc_gcli_stream_send(c, buf, len);
  free(buf);
  if (rc)
    goto fail;
  for (int i = 0; i < 200; i++) {
    if (raw_json(c, "HealthCheckRequest", "{}", &ec))
      goto fail;
    if (ec == 0)
      return c;
    sleep_ms(10);
  }
fail:
  if (slot)
    *slot = NULL;
  if (c)
    nc_gcli_free(c);
  return NULL;
}

static nc_gcli *load_conn(nc_gcli_env *env, const char *target) {
  nc_gcli_stream_cbs cbs = {noop_msg, noop_closed};
  return load_conn_cbs(env, target, &cbs, NULL, NULL);
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

/* Runs `requests` calls spread over the connections with `window` in
 * flight per connection; returns calls per second. */
static double run_load(nc_gcli **conns, int nconns, long requests, int window, int query) {
  load l = {.in_flight = 0};
  pthread_mutex_init(&l.mu, NULL);
  pthread_cond_init(&l.cv, NULL);
  char json[512];
  double t0 = now_s();
  for (long i = 0; i < requests; i++) {
    pthread_mutex_lock(&l.mu);
    while (l.in_flight >= window * nconns)
      pthread_cond_wait(&l.cv, &l.mu);
    l.in_flight++;
    pthread_mutex_unlock(&l.mu);
    int ci = (int)(i % nconns);
    const char *type;
    if (query) {
      type = "ServiceQueryRequest";
      snprintf(json, sizeof(json),
               "{\"namespace\":\"public\",\"serviceName\":\"bench-%d-%ld\",\"groupName\":"
               "\"DEFAULT_GROUP\",\"cluster\":\"\",\"healthyOnly\":false,\"module\":\"naming\"}",
               ci, (i / nconns) % 1000);
    } else {
      type = "InstanceRequest";
      snprintf(json, sizeof(json),
               "{\"namespace\":\"public\",\"serviceName\":\"bench-%d-%ld\",\"groupName\":"
               "\"DEFAULT_GROUP\",\"type\":\"registerInstance\",\"module\":\"naming\","
               "\"instance\":{\"ip\":\"10.%d.%ld.%ld\",\"port\":8080,\"weight\":1.0,"
               "\"healthy\":true,\"enabled\":true,\"ephemeral\":true,\"clusterName\":\"DEFAULT\","
               "\"metadata\":{\"v\":\"%ld\"}}}",
               ci, (i / nconns) % 1000, ci, (i / 256) % 256, i % 256, i);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    nc_payload_encode(type, "127.0.0.1", NULL, 0, json, strlen(json), &buf, &len);
    if (nc_gcli_unary_async(conns[ci], buf, len, 10000, load_done, &l) != 0) {
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
  double dt = now_s() - t0;
  if (l.failed)
    fprintf(stderr, "bench: %ld of %ld %s calls failed\n", l.failed, requests,
            query ? "query" : "register");
  pthread_mutex_destroy(&l.mu);
  pthread_cond_destroy(&l.cv);
  return (double)(requests - l.failed) / dt;
}

/* ---- fan-out subscribers ----
 * Lean on purpose: in production the subscribers sit on other machines;
 * here they share the 2 cores with the server, so each push is recognised
 * and acked from the raw bytes (the JSON body travels verbatim inside the
 * Payload) instead of being fully decoded. */

typedef struct fan {
  atomic_int initial; /* subscribers that got their first push */
  atomic_int changed; /* subscribers that got the push with the marker host */
  atomic_llong last_ms;
} fan;

static fan g_fan;

typedef struct lean_sub {
  nc_gcli *c;
} lean_sub;

static void lean_msg(void *ud, const uint8_t *data, size_t len) {
  lean_sub *ls = ud;
  const char *rtype;
  if (memmem(data, len, "NotifySubscriberRequest", 23))
    rtype = "NotifySubscriberResponse";
  else if (memmem(data, len, "ClientDetectionRequest", 22))
    rtype = "ClientDetectionResponse";
  else
    return;
  const char *k = memmem(data, len, "\"requestId\":\"", 13);
  if (!k)
    return;
  k += 13;
  char rid[32];
  size_t n = 0;
  while ((const uint8_t *)k + n < data + len && k[n] != '"' && n < sizeof(rid) - 1) {
    rid[n] = k[n];
    n++;
  }
  rid[n] = 0;
  if (rtype[0] == 'N') {
    if (memmem(data, len, "\"ip\":\"10.1.1.1\"", 15)) {
      atomic_fetch_add(&g_fan.changed, 1);
      atomic_store(&g_fan.last_ms, now_ms());
    } else {
      atomic_fetch_add(&g_fan.initial, 1);
    }
  }
  char json[128];
  int jl = snprintf(json, sizeof(json),
                    "{\"resultCode\":200,\"errorCode\":0,\"success\":true,\"requestId\":\"%s\"}", rid);
  uint8_t *buf = NULL;
  size_t bl = 0;
  if (nc_payload_encode(rtype, "127.0.0.1", NULL, 0, json, (size_t)jl, &buf, &bl) == 0 && ls->c)
    nc_gcli_stream_send(ls->c, buf, bl);
  free(buf);
}

typedef struct opener {
  pthread_t th;
  nc_gcli_env *env;
  const char *target;
  lean_sub *subs;
  int from, to;
  int failed;
} opener;

static void *open_range(void *arg) {
  opener *o = arg;
  nc_gcli_stream_cbs cbs = {lean_msg, noop_closed};
  for (int i = o->from; i < o->to; i++)
    if (!load_conn_cbs(o->env, o->target, &cbs, &o->subs[i], &o->subs[i].c))
      o->failed++;
  return NULL;
}

static int subscribe_all(lean_sub *subs, int n) {
  const char *json = "{\"namespace\":\"public\",\"serviceName\":\"fanout\",\"groupName\":"
                     "\"DEFAULT_GROUP\",\"subscribe\":true,\"clusters\":\"\",\"module\":\"naming\"}";
  int failed = 0;
  for (int i = 0; i < n; i++) {
    long long ec = -1;
    if (subs[i].c && (raw_json(subs[i].c, "SubscribeServiceRequest", json, &ec) != 0 || ec != 0))
      failed++;
  }
  return failed;
}

int main(int argc, char **argv) {
  const char *target_arg = NULL, *nacosd = NULL;
  int conns = 8, window = 64, subs = 5000, http_port = 0, rounds = 5;
  int client_threads = 2, server_threads = 1, send_thread = 0;
  long requests = 50000;
  pid_t pid = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      goto usage;
    if (!strcmp(a, "--target"))
      target_arg = v;
    else if (!strcmp(a, "--nacosd"))
      nacosd = v;
    else if (!strcmp(a, "--pid"))
      pid = (pid_t)atoi(v);
    else if (!strcmp(a, "--http-port"))
      http_port = atoi(v);
    else if (!strcmp(a, "--conns"))
      conns = atoi(v);
    else if (!strcmp(a, "--requests"))
      requests = atol(v);
    else if (!strcmp(a, "--window"))
      window = atoi(v);
    else if (!strcmp(a, "--subscribers"))
      subs = atoi(v);
    else if (!strcmp(a, "--rounds"))
      rounds = atoi(v);
    else if (!strcmp(a, "--client-threads"))
      client_threads = atoi(v);
    else if (!strcmp(a, "--server-threads"))
      server_threads = atoi(v);
    else if (!strcmp(a, "--send-thread"))
      send_thread = atoi(v);
    else
      goto usage;
    i++;
  }
  if (conns < 1 || window < 1 || requests < 1 || subs < 1)
    goto usage;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  nc_log_set_level(NC_LOG_WARN);
  char target[128], dir[64] = "";
  int spawned = 0;
  if (target_arg) {
    snprintf(target, sizeof(target), "%s", target_arg);
  } else {
    char bin[1024];
    if (nacosd) {
      snprintf(bin, sizeof(bin), "%s", nacosd);
    } else {
      char self[900];
      ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
      self[n > 0 ? n : 0] = 0;
      char *slash = strrchr(self, '/');
      if (slash)
        *slash = 0;
      snprintf(bin, sizeof(bin), "%s/../server/nacosd", self);
    }
    snprintf(dir, sizeof(dir), "/tmp/nc-bench-XXXXXX");
    if (!mkdtemp(dir)) {
      perror("mkdtemp");
      return 1;
    }
    int gp = 0;
    pid = spawn_nacosd(bin, dir, server_threads, send_thread, &gp, &http_port);
    if (pid <= 0) {
      fprintf(stderr, "bench: could not start %s (log in %s)\n", bin, dir);
      return 1;
    }
    spawned = 1;
    snprintf(target, sizeof(target), "127.0.0.1:%d", gp);
    fprintf(stderr, "bench: spawned nacosd pid %d on %s (log %s/nacosd.log)\n", (int)pid, target,
            dir);
  }
  nc_grpc_init();
  nc_gcli_env *env = NULL;
  if (nc_gcli_env_new(client_threads, &env) != 0)
    return 1;

  /* 1-2: register and query throughput */
  nc_gcli **lc = calloc((size_t)conns, sizeof(*lc));
  for (int i = 0; i < conns; i++)
    if (!(lc[i] = load_conn(env, target))) {
      fprintf(stderr, "bench: load connection %d failed\n", i);
      return 1;
    }
  run_load(lc, conns, requests / 10, window, 0); /* warm-up */
  double reg = run_load(lc, conns, requests, window, 0);
  printf("register_tps: %.0f\n", reg);
  fflush(stdout);
  double q = run_load(lc, conns, requests, window, 1);
  printf("query_qps: %.0f\n", q);
  fflush(stdout);

  /* 3: idle connections */
  lean_sub *wcs = calloc((size_t)subs, sizeof(*wcs));
  long rss0 = pid > 0 ? rss_kb(pid) : -1;
  long long t_open = now_ms();
  enum { OPENERS = 4 };
  opener op[OPENERS];
  int failed = 0;
  for (int i = 0; i < OPENERS; i++) {
    op[i] = (opener){.env = env, .target = target, .subs = wcs, .from = subs * i / OPENERS,
                     .to = subs * (i + 1) / OPENERS};
    pthread_create(&op[i].th, NULL, open_range, &op[i]);
  }
  for (int i = 0; i < OPENERS; i++) {
    pthread_join(op[i].th, NULL);
    failed += op[i].failed;
  }
  fprintf(stderr, "bench: %d connections opened in %lld ms (%d failed)\n", subs - failed,
          now_ms() - t_open, failed);
  sleep_ms(500);
  long rss1 = pid > 0 ? rss_kb(pid) : -1;
  if (rss0 > 0 && rss1 > 0 && subs - failed > 0)
    printf("idle_conn_kb: %.1f\n", (double)(rss1 - rss0) / (subs - failed));
  else
    printf("idle_conn_kb: n/a (give --pid)\n");
  fflush(stdout);

  /* 4: fan-out */
  int sfail = subscribe_all(wcs, subs);
  long long end = now_ms() + 20000;
  while (atomic_load(&g_fan.initial) < subs - failed - sfail && now_ms() < end)
    sleep_ms(5);
  sleep_ms(300); /* let the initial acks land */
  nc_gcli *pub = load_conn(env, target);
  int want = subs - failed - sfail;
  long long best = -1, results[64];
  int nres = 0;
  if (rounds > 64)
    rounds = 64;
  if (!pub) {
    fprintf(stderr, "bench: publisher connection failed\n");
    return 1;
  }
  fprintf(stderr, "bench: fan-out rounds start\n");
  printf("loadavg_1m_before_fanout: %.2f\n", loadavg1());
  fflush(stdout);
  for (int round = 0; round < rounds; round++) {
    sleep_ms(300); /* let earlier acks land */
    long long acked0 = metric(http_port, "nacosd_pushes_acked_total");
    atomic_store(&g_fan.changed, 0);
    char json[512];
    snprintf(json, sizeof(json),
             "{\"namespace\":\"public\",\"serviceName\":\"fanout\",\"groupName\":"
             "\"DEFAULT_GROUP\",\"type\":\"registerInstance\",\"instance\":{\"ip\":"
             "\"10.1.1.1\",\"port\":%d}}",
             7000 + round);
    long long ec = 0;
    long long cpu0 = pid > 0 ? cpu_ms(pid) : -1, self0 = cpu_ms(getpid());
    long long t0 = now_ms();
    raw_json(pub, "InstanceRequest", json, &ec);
    end = now_ms() + 30000;
    while (atomic_load(&g_fan.changed) < want && now_ms() < end)
      sleep_ms(1);
    long long t_recv = atomic_load(&g_fan.last_ms) - t0;
    long long t_ack = -1;
    if (acked0 >= 0) {
      while (now_ms() < end && metric(http_port, "nacosd_pushes_acked_total") < acked0 + want)
        sleep_ms(2);
      t_ack = now_ms() - t0;
    }
    long long cpu1 = pid > 0 ? cpu_ms(pid) : -1, self1 = cpu_ms(getpid());
    fprintf(stderr, "bench: round %d: %d/%d subscribers got the push after %lld ms, all acked "
                    "after %lld ms (cpu: server %lld ms, bench %lld ms)\n",
            round, atomic_load(&g_fan.changed), want, t_recv, t_ack, cpu1 - cpu0, self1 - self0);
    results[nres++] = t_ack >= 0 ? t_ack : t_recv;
  }
  /* median of the rounds */
  for (int i = 0; i < nres; i++)
    for (int j = i + 1; j < nres; j++)
      if (results[j] < results[i]) {
        long long t = results[i];
        results[i] = results[j];
        results[j] = t;
      }
  best = nres ? results[nres / 2] : -1;
  printf("push_fanout_ms: %lld\n", best);
  printf("loadavg_1m_after_fanout: %.2f\n", loadavg1());
  fflush(stdout);

  nc_gcli_free(pub);
  for (int i = 0; i < subs; i++)
    if (wcs[i].c)
      nc_gcli_free(wcs[i].c);
  for (int i = 0; i < conns; i++)
    nc_gcli_free(lc[i]);
  free(wcs);
  free(lc);
  nc_gcli_env_free(env);
  if (spawned) {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "bench: could not remove %s\n", dir);
  }
  nc_grpc_shutdown();
  return 0;
usage:
  fprintf(stderr,
          "usage: bench_server [--target host:grpcport [--pid PID] [--http-port P]] "
          "[--nacosd PATH] [--conns N] [--requests N] [--window N] [--subscribers N] [--rounds N] [--client-threads N] [--server-threads N]\n");
  return 2;
}
