/* bench_fanout: one change fanned out to N watchers, nacosd against etcd
 * 3.4 on the same box, back to back in one run, through the same client
 * runtime (the repo's gRPC C-core client, one connection per watcher, as
 * each SDK or etcd client holds its own):
 *   nacosd: N connections subscribed to one service; one InstanceRequest
 *           registers a host -> NotifySubscriberRequest to every one (acked
 *           by the lean acker, as bench_server does);
 *   etcd:   N connections each with a Watch stream on one key; one Put ->
 *           a WatchResponse with the event on every stream.
 * Prints per N, medians over --rounds:
 *   fanout_<N>_nacosd_ms / fanout_<N>_etcd_ms   change sent -> the last
 *                                              watcher has it
 *   fanout_<N>_ratio                            nacosd / etcd (< 1: faster)
 *   fanout_<N>_nacosd_cpu_us / _etcd_cpu_us     server CPU per delivered
 *                                              change (utime + stime / N)
 *   loadavg_1m_*
 * etcd comes from Debian's etcd-server (/usr/bin/etcd, --etcd PATH); without
 * it only nacosd's figures print. Knobs: --watchers 1000,5000 --rounds 5
 * --nacosd PATH. */
#include "bench_util.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_log.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ROUNDS 32

typedef struct watcher {
  nc_gcli *c;
  atomic_int ready; /* nacosd: first push seen; etcd: watch created */
  atomic_int seen;  /* changes seen */
} watcher;

static atomic_llong g_last_ms;

/* ---- etcd's protobuf, by hand (tiny messages) ---- */

static size_t pb_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  do {
    p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return n;
}

static size_t pb_bytes(uint8_t *p, int field, const char *s, size_t len) {
  size_t n = pb_varint(p, (uint64_t)(field << 3 | 2));
  n += pb_varint(p + n, len);
  memcpy(p + n, s, len);
  return n + len;
}

static int pb_read_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v) {
  *v = 0;
  for (int sh = 0; *i < len && sh < 64; sh += 7) {
    uint8_t b = p[(*i)++];
    *v |= (uint64_t)(b & 0x7f) << sh;
    if (!(b & 0x80))
      return 0;
  }
  return -1;
}

/* WatchResponse: created (field 3) and how many events (field 11). */
static void pb_watch_resp(const uint8_t *p, size_t len, int *created, int *events) {
  size_t i = 0;
  *created = *events = 0;
  while (i < len) {
    uint64_t tag, v;
    if (pb_read_varint(p, len, &i, &tag) != 0)
      return;
    switch (tag & 7) {
    case 0:
      if (pb_read_varint(p, len, &i, &v) != 0)
        return;
      if (tag >> 3 == 3 && v)
        *created = 1;
      break;
    case 2:
      if (pb_read_varint(p, len, &i, &v) != 0 || v > len - i)
        return;
      if (tag >> 3 == 11)
        (*events)++;
      i += v;
      break;
    case 1:
      i += 8;
      break;
    case 5:
      i += 4;
      break;
    default:
      return;
    }
  }
}

static void etcd_msg(void *ud, const uint8_t *d, size_t l) {
  watcher *w = ud;
  int created, events;
  pb_watch_resp(d, l, &created, &events);
  if (created)
    atomic_store(&w->ready, 1);
  if (events) {
    atomic_fetch_add(&w->seen, 1);
    atomic_store(&g_last_ms, nc_bench_now_ms());
  }
}

static nc_gcli *etcd_conn(nc_gcli_env *env, const char *target, const char *stream_method) {
  nc_gcli_opts o = {.unary_method = "/etcdserverpb.KV/Put", .stream_method = stream_method};
  nc_gcli *c = NULL;
  return nc_gcli_new(env, target, &o, &c) == 0 ? c : NULL;
}

static int etcd_put(nc_gcli *c, int round) {
  uint8_t buf[64];
  char val[16];
  size_t n = pb_bytes(buf, 1, "fanout", 6);
  n += pb_bytes(buf + n, 2, val, (size_t)snprintf(val, sizeof(val), "v%d", round));
  uint8_t *resp = NULL;
  size_t rl = 0;
  int rc = nc_gcli_unary(c, buf, n, 5000, &resp, &rl);
  free(resp);
  return rc;
}

static pid_t etcd_start(const char *bin, const char *dir, char *target, size_t cap) {
  int cp = 0, pp = 0;
  for (int t = 0; t < 50 && !(cp && pp); t++) {
    int p = 20000 + rand() % 30000;
    if (nc_bench_port_free(p) && nc_bench_port_free(p + 1))
      cp = p, pp = p + 1;
  }
  if (!cp)
    return -1;
  char data[256], lc[64], lp[64], ic[96], log[256];
  snprintf(data, sizeof(data), "%s/etcd", dir);
  snprintf(lc, sizeof(lc), "http://127.0.0.1:%d", cp);
  snprintf(lp, sizeof(lp), "http://127.0.0.1:%d", pp);
  snprintf(ic, sizeof(ic), "bench=%s", lp);
  snprintf(log, sizeof(log), "%s/etcd.log", dir);
  char *argv[] = {(char *)bin, "--name", "bench", "--data-dir", data, "--listen-client-urls", lc,
                  "--advertise-client-urls", lc, "--listen-peer-urls", lp,
                  "--initial-advertise-peer-urls", lp, "--initial-cluster", ic,
                  "--log-level", "warn", "--logger", "zap", NULL};
  pid_t pid = nc_bench_spawn(argv, log);
  snprintf(target, cap, "127.0.0.1:%d", cp);
  return pid;
}

/* ---- nacosd's side ---- */

static void nacos_msg(void *ud, const uint8_t *d, size_t l) {
  watcher *w = ud;
  if (nc_bench_lean_ack(w->c, d, l, "NotifySubscriberRequest", "NotifySubscriberResponse") != 1)
    return;
  if (memmem(d, l, "\"ip\":\"10.1.1.1\"", 15)) {
    atomic_fetch_add(&w->seen, 1);
    atomic_store(&g_last_ms, nc_bench_now_ms());
  } else {
    atomic_store(&w->ready, 1);
  }
}

static int nacos_subscribe(nc_gcli *c, void *ud) {
  (void)ud;
  long long ec = -1;
  const char *json = "{\"namespace\":\"public\",\"serviceName\":\"fanout\",\"groupName\":"
                     "\"DEFAULT_GROUP\",\"subscribe\":true,\"clusters\":\"\",\"module\":\"naming\"}";
  return nc_bench_call_json(c, "SubscribeServiceRequest", json, &ec) != 0 || ec != 0;
}

static int nacos_change(nc_gcli *pub, int round) {
  char json[384];
  long long ec = 0;
  snprintf(json, sizeof(json),
           "{\"namespace\":\"public\",\"serviceName\":\"fanout\",\"groupName\":"
           "\"DEFAULT_GROUP\",\"type\":\"registerInstance\",\"instance\":{\"ip\":"
           "\"10.1.1.1\",\"port\":%d}}",
           7000 + round);
  return nc_bench_call_json(pub, "InstanceRequest", json, &ec);
}

/* ---- shared ---- */

static int count_ready(watcher *ws, int n) {
  int k = 0;
  for (int i = 0; i < n; i++)
    k += atomic_load(&ws[i].ready);
  return k;
}

static int count_seen(watcher *ws, int n, int round) {
  int k = 0;
  for (int i = 0; i < n; i++)
    k += atomic_load(&ws[i].seen) > round;
  return k;
}

typedef int (*change_fn)(nc_gcli *pub, int round);

/* Runs the rounds; medians of delivery ms and server CPU us per delivered
 * change into *ms and *cpu_us. 0, or -1 when a round lost watchers. */
static int run_rounds(watcher *ws, int n, int rounds, nc_gcli *pub, change_fn change,
                      pid_t server, long long *ms, double *cpu_us) {
  long long t[MAX_ROUNDS];
  double cpu[MAX_ROUNDS];
  int want = count_ready(ws, n), rc = 0;
  for (int r = 0; r < rounds; r++) {
    nc_bench_sleep_ms(300);
    long long c0 = nc_bench_cpu_ms(server), t0 = nc_bench_now_ms();
    if (change(pub, r) != 0) {
      fprintf(stderr, "bench: the change of round %d failed\n", r);
      return -1;
    }
    long long end = t0 + 30000;
    while (count_seen(ws, n, r) < want && nc_bench_now_ms() < end)
      nc_bench_sleep_ms(1);
    int got = count_seen(ws, n, r);
    t[r] = atomic_load(&g_last_ms) - t0;
    nc_bench_sleep_ms(200); /* acks and stragglers land */
    cpu[r] = (double)(nc_bench_cpu_ms(server) - c0) * 1000.0 / (got ? got : 1);
    if (got < want) {
      fprintf(stderr, "bench: round %d: only %d of %d watchers saw the change\n", r, got, want);
      rc = -1;
    }
  }
  qsort(t, (size_t)rounds, sizeof(t[0]), nc_bench_cmp_ll);
  for (int i = 1; i < rounds; i++) /* insertion sort for the doubles */
    for (int j = i; j > 0 && cpu[j] < cpu[j - 1]; j--) {
      double x = cpu[j];
      cpu[j] = cpu[j - 1];
      cpu[j - 1] = x;
    }
  *ms = t[rounds / 2];
  *cpu_us = cpu[rounds / 2];
  return rc;
}

static void close_all(watcher *ws, int n) {
  for (int i = 0; i < n; i++)
    if (ws[i].c)
      nc_gcli_free(ws[i].c);
  free(ws);
}

static int wait_ready(watcher *ws, int n, const char *who) {
  long long end = nc_bench_now_ms() + 60000;
  while (count_ready(ws, n) < n && nc_bench_now_ms() < end)
    nc_bench_sleep_ms(10);
  int k = count_ready(ws, n);
  if (k < n)
    fprintf(stderr, "bench: %s: %d of %d watchers ready\n", who, k, n);
  return k;
}

static int bench_nacosd(nc_gcli_env *env, const char *target, pid_t pid, int n, int rounds,
                        long long *ms, double *cpu) {
  watcher *ws = calloc((size_t)n, sizeof(*ws));
  nc_gcli_stream_cbs cbs = {nacos_msg, nc_bench_noop_closed};
  int rc = -1;
  for (int i = 0; i < n; i++) {
    if (!(ws[i].c = nc_bench_conn_open(env, target, "naming", &cbs, &ws[i], &ws[i].c)) ||
        nacos_subscribe(ws[i].c, NULL) != 0) {
      fprintf(stderr, "bench: nacosd watcher %d failed\n", i);
      goto out;
    }
  }
  wait_ready(ws, n, "nacosd");
  nc_gcli *pub = nc_bench_conn_open(env, target, "naming", &cbs, &(watcher){0}, NULL);
  if (!pub)
    goto out;
  rc = run_rounds(ws, n, rounds, pub, nacos_change, pid, ms, cpu);
  /* back to the state before: the next N starts from no marker host */
  char json[384];
  long long ec = 0;
  snprintf(json, sizeof(json),
           "{\"namespace\":\"public\",\"serviceName\":\"fanout\",\"groupName\":"
           "\"DEFAULT_GROUP\",\"type\":\"deregisterInstance\",\"instance\":{\"ip\":"
           "\"10.1.1.1\",\"port\":%d}}",
           7000 + rounds - 1);
  nc_bench_call_json(pub, "InstanceRequest", json, &ec);
  nc_gcli_free(pub);
out:
  close_all(ws, n);
  return rc;
}

static int bench_etcd(nc_gcli_env *env, const char *target, pid_t pid, int n, int rounds,
                      long long *ms, double *cpu) {
  watcher *ws = calloc((size_t)n, sizeof(*ws));
  nc_gcli_stream_cbs cbs = {etcd_msg, nc_bench_noop_closed};
  uint8_t create[32];
  uint8_t inner[16];
  size_t il = pb_bytes(inner, 1, "fanout", 6);
  size_t cl = pb_bytes(create, 1, (const char *)inner, il);
  int rc = -1;
  for (int i = 0; i < n; i++) {
    if (!(ws[i].c = etcd_conn(env, target, "/etcdserverpb.Watch/Watch")) ||
        nc_gcli_stream_open(ws[i].c, &cbs, &ws[i]) != 0 ||
        nc_gcli_stream_send(ws[i].c, create, cl) != 0) {
      fprintf(stderr, "bench: etcd watcher %d failed\n", i);
      goto out;
    }
  }
  wait_ready(ws, n, "etcd");
  nc_gcli *pub = etcd_conn(env, target, "/etcdserverpb.Watch/Watch");
  if (!pub)
    goto out;
  rc = run_rounds(ws, n, rounds, pub, etcd_put, pid, ms, cpu);
  nc_gcli_free(pub);
out:
  close_all(ws, n);
  return rc;
}

int main(int argc, char **argv) {
  const char *nacosd = NULL, *etcd = "/usr/bin/etcd", *list = "1000,5000";
  int rounds = 5;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      goto usage;
    if (!strcmp(a, "--nacosd"))
      nacosd = v;
    else if (!strcmp(a, "--etcd"))
      etcd = v;
    else if (!strcmp(a, "--watchers"))
      list = v;
    else if (!strcmp(a, "--rounds"))
      rounds = atoi(v);
    else
      goto usage;
    i++;
  }
  if (rounds < 1 || rounds > MAX_ROUNDS)
    goto usage;
  nc_bench_raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  nc_log_set_level(NC_LOG_WARN);
  srand((unsigned)getpid());
  printf("loadavg_1m_start: %.2f\n", nc_bench_loadavg1());
  char dir[160], data[192], nt[128], et[128];
  if (nc_bench_mkdtemp(dir, sizeof(dir), "fan") != 0)
    return 1;
  snprintf(data, sizeof(data), "%s/data", dir);
  const char *extra[] = {"--data-dir", data, "--push-merge-ms", "0",
                         "--max-connections-per-ip", "0", NULL};
  int http_port = 0, rc = 0;
  pid_t np = nc_bench_start_nacosd(nacosd, dir, extra, nt, sizeof(nt), &http_port);
  if (np <= 0)
    return 1;
  pid_t ep = access(etcd, X_OK) == 0 ? etcd_start(etcd, dir, et, sizeof(et)) : -1;
  if (ep <= 0)
    fprintf(stderr, "bench: no etcd (%s): nacosd's figures only\n", etcd);
  nc_grpc_init();
  nc_gcli_env *env = NULL;
  if (nc_gcli_env_new(2, &env) != 0)
    return 1;
  if (ep > 0) { /* etcd is ready once a Put goes through */
    nc_gcli *c = etcd_conn(env, et, "/etcdserverpb.Watch/Watch");
    long long end = nc_bench_now_ms() + 15000;
    while (c && etcd_put(c, -1) != 0 && nc_bench_now_ms() < end)
      nc_bench_sleep_ms(100);
    if (nc_bench_now_ms() >= end) {
      fprintf(stderr, "bench: etcd did not answer (log %s/etcd.log)\n", dir);
      nc_bench_stop(ep);
      ep = -1;
    }
    nc_gcli_free(c);
  }
  for (const char *p = list; *p;) {
    int n = atoi(p);
    if (n > 0) {
      long long nms = -1, ems = -1;
      double ncpu = 0, ecpu = 0;
      rc |= bench_nacosd(env, nt, np, n, rounds, &nms, &ncpu);
      printf("fanout_%d_nacosd_ms: %lld\nfanout_%d_nacosd_cpu_us: %.1f\n", n, nms, n, ncpu);
      fflush(stdout);
      if (ep > 0) {
        rc |= bench_etcd(env, et, ep, n, rounds, &ems, &ecpu);
        printf("fanout_%d_etcd_ms: %lld\nfanout_%d_etcd_cpu_us: %.1f\n", n, ems, n, ecpu);
        printf("fanout_%d_ratio: %.2f\n", n, ems > 0 ? (double)nms / (double)ems : 0);
      }
      printf("loadavg_1m_after_%d: %.2f\n", n, nc_bench_loadavg1());
      fflush(stdout);
    }
    const char *c = strchr(p, ',');
    p = c ? c + 1 : p + strlen(p);
  }
  nc_gcli_env_free(env);
  nc_bench_stop(np);
  if (ep > 0)
    nc_bench_stop(ep);
  nc_grpc_shutdown();
  if (!rc)
    nc_bench_rmtree(dir);
  return rc ? 1 : 0;
usage:
  fprintf(stderr, "usage: bench_fanout [--watchers N,N] [--rounds N] [--nacosd PATH] "
                  "[--etcd PATH]\n");
  return 2;
}
