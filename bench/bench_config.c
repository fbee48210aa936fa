/* bench_config: config load program for nacosd over the repo's own client
 * transport. Prints `name: value` lines:
 *   config_publish_tps  ConfigPublishRequests acked per second; each ack
 *                       means the write is durable (fsynced group commit);
 *                       many in flight over several connections
 *   config_get_qps      ConfigQueryRequests per second (pipelined)
 *   config_notify_ms    one publish -> N listener connections all notified
 *                       and the server counted all N acks (median of rounds)
 *
 * Spawns the built nacosd (--nacosd PATH overrides the binary next to this
 * one) on ephemeral loopback ports with a temp data dir, or targets a
 * running one: --target host:grpcport --http-port P. Knobs: --conns N (8),
 * --window N (in flight per connection, 128), --publishes N (50000),
 * --gets N (100000), --keys N (distinct dataIds, 1000), --content-bytes N
 * (64), --listeners N (5000), --rounds N (3), --server-threads N (1). */
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_json.h"
#include "nc_log.h"
#include "nc_payload.h"
#include "nc_wire_client.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
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
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Starts nacosd with a port file in dir; fills the gRPC and HTTP ports. */
static pid_t spawn_nacosd(const char *bin, const char *dir, int threads, int *grpc_port,
                          int *http_port) {
  char pf[256], log[256], th[16];
  snprintf(pf, sizeof(pf), "%s/ports.json", dir);
  snprintf(log, sizeof(log), "%s/nacosd.log", dir);
  snprintf(th, sizeof(th), "%d", threads);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    FILE *f = freopen(log, "w", stderr);
    (void)f;
    execl(bin, bin, "--bind", "127.0.0.1", "--port", "0", "--grpc-port", "0", "--cluster-port",
          "0", "--data-dir", dir, "--port-file", pf, "--log-level", "warn", "--grpc-threads", th,
          (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 300; i++) {
    FILE *f = fopen(pf, "r");
    if (f) {
      char buf[256] = {0};
      size_t n = fread(buf, 1, sizeof(buf) - 1, f);
      fclose(f);
      cJSON *j = n ? cJSON_Parse(buf) : NULL;
      if (j) {
        *grpc_port = (int)nc_json_int(j, "grpc_port", 0);
        *http_port = (int)nc_json_int(j, "port", 0);
        cJSON_Delete(j);
        return pid;
      }
    }
    if (waitpid(pid, NULL, WNOHANG) == pid)
      return -1;
    sleep_ms(20);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

static long long metric(int http_port, const char *name) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  long long v = -1;
  if (fd < 0)
    return -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
    const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    if (write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
      static char buf[1 << 16];
      size_t len = 0;
      ssize_t n;
      while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
      buf[len] = 0;
      char key[128];
      snprintf(key, sizeof(key), "\nnacosd_%s ", name);
      char *p = strstr(buf, key);
      if (p)
        v = atoll(p + strlen(key));
    }
  }
  close(fd);
  return v;
}

/* ---- pipelined unary load over raw client connections ---- */

static void noop_msg(void *ud, const uint8_t *d, size_t l) {
  (void)ud, (void)d, (void)l;
}
static void noop_closed(void *ud, int st) { (void)ud, (void)st; }

static int call_json(nc_gcli *c, const char *type, const char *json, long long *err_code) {
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

/* A registered connection labelled module=config, like a config SDK's.
 * *slot (may be NULL) is set before the stream opens, so the stream
 * callback can already use the client. */
static nc_gcli *load_conn_cbs(nc_gcli_env *env, const char *target,
                              const nc_gcli_stream_cbs *cbs, void *ud, nc_gcli **slot) {
  nc_gcli *c = NULL;
  long long ec = 0;
  uint8_t *buf = NULL;
  size_t len = 0;
  if (nc_gcli_new(env, target, NULL, &c) || call_json(c, "ServerCheckRequest", "{}", &ec))
    goto fail;
  if (slot)
    *slot = c;
  if (nc_gcli_stream_open(c, cbs, ud))
    goto fail;
  const char *setup = "{\"clientVersion\":\"bench-config\",\"labels\":{\"source\":\"sdk\","
                      "\"module\":\"config\",\"AppName\":\"bench\"},\"module\":\"internal\","
                      "\"headers\":{}}";
  nc_payload_encode("ConnectionSetupRequest", "127.0.0.1", NULL, 0, setup, strlen(setup), &buf,
                    &len);
  int rc = nc_gcli_stream_send(c, buf, len);
  free(buf);
  if (rc)
    goto fail;
  for (int i = 0; i < 300; i++) {
    if (call_json(c, "HealthCheckRequest", "{}", &ec))
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

typedef enum { OP_PUBLISH, OP_GET } op_kind;

/* Runs n calls spread over the connections, `window` in flight per
 * connection; returns successful calls per second. */
static double run_load(nc_gcli **conns, int nconns, long n, int window, op_kind op, int keys,
                       const char *content, long *failed) {
  load l = {.in_flight = 0};
  pthread_mutex_init(&l.mu, NULL);
  pthread_cond_init(&l.cv, NULL);
  size_t cap = strlen(content) + 512;
  char *json = malloc(cap);
  double t0 = now_s();
  for (long i = 0; i < n; i++) {
    pthread_mutex_lock(&l.mu);
    while (l.in_flight >= window * nconns)
      pthread_cond_wait(&l.cv, &l.mu);
    l.in_flight++;
    pthread_mutex_unlock(&l.mu);
    int ci = (int)(i % nconns);
    const char *type;
    if (op == OP_PUBLISH) {
      type = "ConfigPublishRequest";
      snprintf(json, cap,
               "{\"headers\":{},\"dataId\":\"bench-%ld\",\"group\":\"DEFAULT_GROUP\","
               "\"tenant\":\"\",\"content\":\"%s %ld\",\"additionMap\":{\"type\":\"text\","
               "\"appName\":\"bench\"},\"module\":\"config\"}",
               i % keys, content, i);
    } else {
      type = "ConfigQueryRequest";
      snprintf(json, cap,
               "{\"headers\":{},\"dataId\":\"bench-%ld\",\"group\":\"DEFAULT_GROUP\","
               "\"tenant\":\"\",\"module\":\"config\"}",
               i % keys);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    nc_payload_encode(type, "127.0.0.1", NULL, 0, json, strlen(json), &buf, &len);
    if (nc_gcli_unary_async(conns[ci], buf, len, 30000, load_done, &l) != 0) {
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
  free(json);
  *failed = l.failed;
  pthread_mutex_destroy(&l.mu);
  pthread_cond_destroy(&l.cv);
  return (double)(n - l.failed) / dt;
}

/* ---- notify fan-out ----
 * The listeners are lean on purpose: in production they sit on other
 * machines, here they share the 2 cores with the server. Each push is
 * recognised and acked from its raw bytes (the JSON body travels verbatim
 * inside the Payload) instead of being fully decoded. */

static atomic_int g_notified;

typedef struct lean_lsn {
  nc_gcli *c;
} lean_lsn;

static void lean_msg(void *ud, const uint8_t *data, size_t len) {
  lean_lsn *ll = ud;
  const char *rtype;
  int notify = 0;
  if (memmem(data, len, "ConfigChangeNotifyRequest", 25))
    rtype = "ConfigChangeNotifyResponse", notify = 1;
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
  if (notify)
    atomic_fetch_add(&g_notified, 1);
  char json[128];
  int jl = snprintf(json, sizeof(json),
                    "{\"resultCode\":200,\"errorCode\":0,\"success\":true,\"requestId\":\"%s\"}", rid);
  uint8_t *buf = NULL;
  size_t bl = 0;
  if (nc_payload_encode(rtype, "127.0.0.1", NULL, 0, json, (size_t)jl, &buf, &bl) == 0 && ll->c)
    nc_gcli_stream_send(ll->c, buf, bl);
  free(buf);
}

typedef struct opener {
  pthread_t th;
  nc_gcli_env *env;
  const char *target;
  lean_lsn *lsns;
  int from, to, failed;
} opener;

static void *open_range(void *arg) {
  opener *o = arg;
  const char *json = "{\"headers\":{},\"listen\":true,\"module\":\"config\","
                     "\"configListenContexts\":[{\"dataId\":\"bench-notify\",\"group\":"
                     "\"DEFAULT_GROUP\",\"tenant\":\"\",\"md5\":\"\"}]}";
  nc_gcli_stream_cbs cbs = {lean_msg, noop_closed};
  for (int i = o->from; i < o->to; i++) {
    long long ec = -1;
    if (!load_conn_cbs(o->env, o->target, &cbs, &o->lsns[i], &o->lsns[i].c) ||
        call_json(o->lsns[i].c, "ConfigBatchListenRequest", json, &ec) != 0 || ec != 0)
      o->failed++;
  }
  return NULL;
}

static int cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  const char *target_arg = NULL, *nacosd = NULL;
  int conns = 8, window = 128, keys = 1000, content_bytes = 64, listeners = 5000, rounds = 3;
  int server_threads = 1, http_port = 0;
  long publishes = 50000, gets = 100000;
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      goto usage;
    if (!strcmp(a, "--target"))
      target_arg = v;
    else if (!strcmp(a, "--nacosd"))
      nacosd = v;
    else if (!strcmp(a, "--http-port"))
      http_port = atoi(v);
    else if (!strcmp(a, "--conns"))
      conns = atoi(v);
    else if (!strcmp(a, "--window"))
      window = atoi(v);
    else if (!strcmp(a, "--publishes"))
      publishes = atol(v);
    else if (!strcmp(a, "--gets"))
      gets = atol(v);
    else if (!strcmp(a, "--keys"))
      keys = atoi(v);
    else if (!strcmp(a, "--content-bytes"))
      content_bytes = atoi(v);
    else if (!strcmp(a, "--listeners"))
      listeners = atoi(v);
    else if (!strcmp(a, "--rounds"))
      rounds = atoi(v);
    else if (!strcmp(a, "--server-threads"))
      server_threads = atoi(v);
    else
      goto usage;
  }
  if (conns < 1 || window < 1 || keys < 1 || content_bytes < 1 || listeners < 0 || rounds < 1)
    goto usage;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  nc_log_set_level(NC_LOG_WARN);
  nc_grpc_init();

  char target[128], dir[64] = "";
  pid_t pid = 0;
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
    snprintf(dir, sizeof(dir), "/tmp/nc-bench-config-XXXXXX");
    if (!mkdtemp(dir)) {
      perror("mkdtemp");
      return 1;
    }
    int gp = 0;
    if ((pid = spawn_nacosd(bin, dir, server_threads, &gp, &http_port)) <= 0) {
      fprintf(stderr, "bench: could not start %s (log in %s)\n", bin, dir);
      return 1;
    }
    snprintf(target, sizeof(target), "127.0.0.1:%d", gp);
    fprintf(stderr, "bench: spawned nacosd pid %d on %s, data %s\n", (int)pid, target, dir);
  }

  nc_gcli_env *env = NULL;
  if (nc_gcli_env_new(2, &env) != 0)
    return 1;
  nc_gcli **cs = calloc((size_t)conns, sizeof(*cs));
  for (int i = 0; i < conns; i++)
    if (!(cs[i] = load_conn(env, target))) {
      fprintf(stderr, "bench: connection %d failed\n", i);
      return 1;
    }
  char *content = malloc((size_t)content_bytes + 1);
  for (int i = 0; i < content_bytes; i++)
    content[i] = (char)('a' + i % 26);
  content[content_bytes] = 0;
  long failed = 0;

  /* Warm-up creates every key, so the get phase always hits. */
  run_load(cs, conns, keys, window, OP_PUBLISH, keys, content, &failed);
  double tps = run_load(cs, conns, publishes, window, OP_PUBLISH, keys, content, &failed);
  if (failed)
    fprintf(stderr, "bench: %ld publishes failed\n", failed);
  printf("config_publish_tps: %.0f\n", tps);
  fflush(stdout);
  double qps = run_load(cs, conns, gets, window, OP_GET, keys, content, &failed);
  if (failed)
    fprintf(stderr, "bench: %ld gets failed\n", failed);
  printf("config_get_qps: %.0f\n", qps);
  fflush(stdout);

  if (listeners > 0) {
    lean_lsn *lsns = calloc((size_t)listeners, sizeof(*lsns));
    enum { OPENERS = 4 };
    opener op[OPENERS];
    long long t_open = now_ms();
    for (int t = 0; t < OPENERS; t++) {
      op[t] = (opener){.env = env, .target = target, .lsns = lsns,
                       .from = t * listeners / OPENERS, .to = (t + 1) * listeners / OPENERS};
      pthread_create(&op[t].th, NULL, open_range, &op[t]);
    }
    int open_failed = 0;
    for (int t = 0; t < OPENERS; t++) {
      pthread_join(op[t].th, NULL);
      open_failed += op[t].failed;
    }
    fprintf(stderr, "bench: %d listener connections up in %lld ms (%d failed)\n",
            listeners - open_failed, now_ms() - t_open, open_failed);
    int want = listeners - open_failed;
    long long *ms = calloc((size_t)rounds, sizeof(*ms));
    char json[256];
    /* A fresh publisher: the load connections do not answer the server's
     * idle probes and may have been dropped while the listeners connected. */
    nc_wc *pub = NULL;
    nc_wc_opts po = {.target = target, .module = "config", .timeout_ms = 30000};
    if (nc_wc_connect(env, &po, NULL, NULL, NULL, &pub) != 0) {
      fprintf(stderr, "bench: publisher connection failed\n");
      rounds = 1;
    }
    for (int r = 0; r < rounds; r++) {
      atomic_store(&g_notified, 0);
      long long acked0 = metric(http_port, "config_notifies_acked_total");
      snprintf(json, sizeof(json),
               "{\"headers\":{},\"dataId\":\"bench-notify\",\"group\":\"DEFAULT_GROUP\","
               "\"tenant\":\"\",\"content\":\"round %d\",\"module\":\"config\"}",
               r);
      long long t0 = now_ms();
      cJSON *body = cJSON_Parse(json);
      nc_msg *resp = NULL;
      int prc = pub ? nc_wc_request(pub, "ConfigPublishRequest", body, 30000, &resp) : NC_ECLOSED;
      cJSON_Delete(body);
      long long ec = resp ? nc_json_int(resp->body, "errorCode", -1) : -1;
      nc_msg_free(resp);
      if (prc != 0 || ec != 0) {
        fprintf(stderr, "bench: notify publish failed: %s, errorCode %lld\n", nc_strerror(prc), ec);
        ms[r] = -1;
        break;
      }
      /* All notified (client side), then all acks counted (server side). */
      while (atomic_load(&g_notified) < want && now_ms() - t0 < 30000)
        sleep_ms(1);
      long long t_notified = now_ms() - t0;
      long long a = -1;
      while ((a = metric(http_port, "config_notifies_acked_total")) >= 0 && a < acked0 + want &&
             now_ms() - t0 < 30000)
        sleep_ms(2);
      ms[r] = now_ms() - t0;
      fprintf(stderr, "bench: round %d: %d/%d notified in %lld ms, %lld/%d acked in %lld ms\n",
              r, atomic_load(&g_notified), want, t_notified, a - acked0, want, ms[r]);
      sleep_ms(200);
    }
    qsort(ms, (size_t)rounds, sizeof(*ms), cmp_ll);
    printf("config_notify_ms: %lld\n", ms[rounds / 2]);
    fflush(stdout);
    if (pub)
      nc_wc_close(pub);
    for (int i = 0; i < listeners; i++)
      if (lsns[i].c)
        nc_gcli_free(lsns[i].c);
    free(lsns);
    free(ms);
  }

  for (int i = 0; i < conns; i++)
    nc_gcli_free(cs[i]);
  free(cs);
  free(content);
  nc_gcli_env_free(env);
  if (pid > 0) {
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
          "usage: bench_config [--target host:grpcport --http-port P] [--nacosd PATH] "
          "[--conns N] [--window N] [--publishes N] [--gets N] [--keys N] [--content-bytes N] "
          "[--listeners N] [--rounds N] [--server-threads N]\n");
  return 2;
}
