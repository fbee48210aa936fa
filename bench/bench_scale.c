/* bench_scale: how nacosd's figures grow with the registry and with the
 * connection count (issue 16's scale curves). One nacosd, filled in steps:
 *
 *   scale_instances N: register_per_s  rss_per_instance_b  query_1000_p50_us
 *       N instances in services of 1,000 hosts each (BatchInstanceRequest,
 *       100 connections, 2 batches in flight each); the rate of the step,
 *       RSS growth over all N, and the p50 of serial queries of one
 *       1,000-host service at that size
 *   scale_conns N: rss_per_conn_kb  fanout_ms  push_cpu_us
 *       N idle SDK connections, all subscribed to one service; RSS per
 *       connection, one change until all N have the push (median of 3),
 *       server CPU per push
 *
 * Each line ends with the ratio to the first step ("x1st"): a flat curve
 * stays near 1. The ceilings of the same transport are bench_ratio's.
 * Default run (10k, 100k instances; 1k, 5k connections) stays under two
 * minutes; --max-instances 1000000 and --max-conns 15000 give the full
 * curves (RLIMIT_NOFILE bounds the connections: both ends are on this box).
 * --nacosd PATH as in the other benches. */
#include "bench_util.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_log.h"
#include "nc_payload.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PER_SVC 1000 /* hosts per service, one batch */
#define LOAD_CONNS 100

static long g_svc_base; /* services registered per connection so far */

/* Batch i on connection ci: 1,000 hosts into service s-<ci>-<base + i/conns>. */
static const char *batch_req(void *ud, long i, int ci, char *json, size_t cap) {
  long svc = g_svc_base + i / *(const int *)ud;
  size_t o = (size_t)snprintf(json, cap,
                              "{\"namespace\":\"public\",\"serviceName\":\"s-%d-%ld\","
                              "\"groupName\":\"DEFAULT_GROUP\",\"type\":\"batchRegisterInstance\","
                              "\"module\":\"naming\",\"instances\":[",
                              ci, svc);
  for (int k = 0; k < PER_SVC && o < cap; k++)
    o += (size_t)snprintf(json + o, cap - o,
                          "%s{\"ip\":\"10.%d.%ld.%ld\",\"port\":%d,\"weight\":1.0,\"healthy\":true,"
                          "\"enabled\":true,\"ephemeral\":true,\"clusterName\":\"DEFAULT\","
                          "\"metadata\":{\"k\":\"v\"}}",
                          k ? "," : "", ci % 256, (svc / 256) % 256, svc % 256, 1000 + k);
  if (o < cap)
    snprintf(json + o, cap - o, "]}");
  return "BatchInstanceRequest";
}

static double query_p50(nc_gcli *c, const char *svc, int calls) {
  uint8_t *req = NULL;
  size_t rl = 0;
  long long *t = calloc((size_t)calls, sizeof(*t));
  int n = t && nc_bench_query_payload(svc, &req, &rl) == 0
              ? nc_bench_serial_us(c, req, rl, calls, t)
              : 0;
  double r = nc_bench_median_ll(t, n);
  free(req);
  free(t);
  return r;
}

static atomic_int g_changed;
static atomic_int g_marker; /* port of the change being waited for */

static void sub_msg(void *ud, const uint8_t *d, size_t l) {
  nc_gcli **c = ud;
  if (nc_bench_lean_ack(*c, d, l, "NotifySubscriberRequest", "NotifySubscriberResponse") != 1)
    return;
  char m[32];
  int n = snprintf(m, sizeof(m), "\"port\":%d", atomic_load(&g_marker));
  if (memmem(d, l, m, (size_t)n))
    atomic_fetch_add(&g_changed, 1);
}

static int subscribe(nc_gcli *c, void *ud) {
  (void)ud;
  long long ec = -1;
  const char *j = "{\"namespace\":\"public\",\"serviceName\":\"fan\",\"groupName\":"
                  "\"DEFAULT_GROUP\",\"subscribe\":true,\"clusters\":\"\",\"module\":\"naming\"}";
  return nc_bench_call_json(c, "SubscribeServiceRequest", j, &ec) != 0 || ec != 0;
}

int main(int argc, char **argv) {
  const char *nacosd = NULL;
  long max_inst = 100000;
  int max_conns = 5000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--nacosd"))
      nacosd = argv[i + 1];
    else if (!strcmp(argv[i], "--max-instances"))
      max_inst = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--max-conns"))
      max_conns = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: bench_scale [--nacosd PATH] [--max-instances N] [--max-conns N]\n");
      return 2;
    }
  }
  if (max_inst < 10000 || max_conns < 1000)
    return 2;
  nc_bench_raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  nc_log_set_level(NC_LOG_WARN);
  char dir[64], target[128];
  int http_port = 0;
  pid_t pid = nc_bench_start_bare_nacosd(nacosd, dir, sizeof(dir), target, sizeof(target),
                                         &http_port);
  if (pid <= 0)
    return 1;
  nc_grpc_init();
  nc_gcli_env *env = NULL;
  if (nc_gcli_env_new(2, &env) != 0)
    return 1;
  nc_gcli_stream_cbs keep = {nc_bench_keep_msg, nc_bench_noop_closed};
  static nc_gcli *lc[LOAD_CONNS], *qc;
  for (int i = 0; i < LOAD_CONNS; i++)
    if (!nc_bench_conn_open(env, target, "naming", &keep, &lc[i], &lc[i]))
      return 1;
  if (!nc_bench_conn_open(env, target, "naming", &keep, &qc, &qc))
    return 1;
  printf("loadavg_1m_start: %.2f\n", nc_bench_loadavg1());
  nc_bench_sleep_ms(300);
  long rss0 = nc_bench_rss_kb(pid), have = 0;
  double first[3] = {0};
  int nconns = LOAD_CONNS;
  for (long n = 10000; n <= max_inst; n *= 10) {
    long batches = (n - have) / PER_SVC, failed = 0;
    double rate = nc_bench_run_load(lc, LOAD_CONNS, batches, 2, 60000, (size_t)PER_SVC * 220 + 512,
                                    batch_req, &nconns, &failed) * PER_SVC;
    g_svc_base += batches / LOAD_CONNS + (batches % LOAD_CONNS != 0);
    have = n;
    nc_bench_sleep_ms(300);
    double per = (double)(nc_bench_rss_kb(pid) - rss0) * 1024 / (double)n;
    double p50 = query_p50(qc, "s-0-0", 200);
    if (!first[0]) {
      first[0] = rate;
      first[1] = per;
      first[2] = p50;
    }
    printf("scale_instances %ld: register_per_s %.0f (x1st %.2f) rss_per_instance_b %.0f (x1st "
           "%.2f) query_1000_p50_us %.0f (x1st %.2f)%s\n",
           n, rate, rate / first[0], per, per / first[1], p50, p50 / first[2],
           failed ? " (some batches failed)" : "");
    fflush(stdout);
  }

  /* connections: one publisher, N subscribers of "fan" */
  static nc_gcli *pubc;
  if (!nc_bench_conn_open(env, target, "naming", &keep, &pubc, &pubc))
    return 1;
  long long ec = 0;
  char reg[512];
  snprintf(reg, sizeof(reg),
           "{\"namespace\":\"public\",\"serviceName\":\"fan\",\"groupName\":\"DEFAULT_GROUP\","
           "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"10.250.0.1\",\"port\":1}}");
  nc_bench_call_json(pubc, "InstanceRequest", reg, &ec);
  nc_gcli **subs = calloc((size_t)max_conns, sizeof(*subs));
  nc_gcli_stream_cbs scb = {sub_msg, nc_bench_noop_closed};
  int open = 0, port = 100;
  double cfirst[3] = {0};
  nc_bench_sleep_ms(300);
  long crss0 = nc_bench_rss_kb(pid);
  int steps[4] = {1000, 5000, 15000, 0}, nsteps = 0;
  while (nsteps < 3 && steps[nsteps] < max_conns)
    nsteps++;
  steps[nsteps++] = max_conns;
  for (int st = 0; subs && st < nsteps; st++) {
    int n = steps[st];
    int failed = nc_bench_conn_open_many(env, target, "naming", &scb, subs + open, n - open,
                                         subscribe, NULL);
    open = n;
    nc_bench_sleep_ms(500);
    double kb = (double)(nc_bench_rss_kb(pid) - crss0) / n;
    long long ms[3];
    long long cpu0 = nc_bench_cpu_ms(pid);
    for (int round = 0; round < 3; round++) {
      atomic_store(&g_changed, 0);
      atomic_store(&g_marker, ++port);
      snprintf(reg, sizeof(reg),
               "{\"namespace\":\"public\",\"serviceName\":\"fan\",\"groupName\":\"DEFAULT_GROUP\","
               "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"10.250.0.1\",\"port\":%d}}",
               port);
      long long t0 = nc_bench_now_ms(), end = t0 + 30000;
      nc_bench_call_json(pubc, "InstanceRequest", reg, &ec);
      while (atomic_load(&g_changed) < n - failed && nc_bench_now_ms() < end)
        nc_bench_sleep_ms(1);
      ms[round] = nc_bench_now_ms() - t0;
      nc_bench_sleep_ms(200); /* acks land */
    }
    double cpu_us = (double)(nc_bench_cpu_ms(pid) - cpu0) * 1000 / (3.0 * (n - failed));
    qsort(ms, 3, sizeof(ms[0]), nc_bench_cmp_ll);
    if (!cfirst[0]) {
      cfirst[0] = kb;
      cfirst[1] = (double)ms[1] / n;
      cfirst[2] = cpu_us;
    }
    printf("scale_conns %d: rss_per_conn_kb %.1f (x1st %.2f) fanout_ms %lld (per subscriber x1st "
           "%.2f) push_cpu_us %.1f (x1st %.2f)%s\n",
           n, kb, kb / cfirst[0], ms[1], (double)ms[1] / n / cfirst[1], cpu_us, cpu_us / cfirst[2],
           failed ? " (some connections failed)" : "");
    fflush(stdout);
  }
  printf("loadavg_1m_end: %.2f\n", nc_bench_loadavg1());
  for (int i = 0; i < open; i++)
    if (subs[i])
      nc_gcli_free(subs[i]);
  free(subs);
  nc_gcli_free(pubc);
  for (int i = 0; i < LOAD_CONNS; i++)
    nc_gcli_free(lc[i]);
  nc_gcli_free(qc);
  nc_gcli_env_free(env);
  nc_bench_stop(pid);
  nc_bench_rmtree(dir);
  nc_grpc_shutdown();
  return 0;
}
