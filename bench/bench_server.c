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

static nc_gcli *load_conn(nc_gcli_env *env, const char *target) {
  nc_gcli_stream_cbs cbs = {nc_bench_noop_msg, nc_bench_noop_closed};
  return nc_bench_conn_open(env, target, "naming", &cbs, NULL, NULL);
}

/* Request i on connection ci: a registration, or with *(int *)ud a query,
 * of one of 1000 services per connection. */
static const char *build_req(void *ud, long i, int ci, char *json, size_t cap) {
  long nconns = ((const long *)ud)[1];
  if (((const long *)ud)[0]) {
    snprintf(json, cap,
             "{\"namespace\":\"public\",\"serviceName\":\"bench-%d-%ld\",\"groupName\":"
             "\"DEFAULT_GROUP\",\"cluster\":\"\",\"healthyOnly\":false,\"module\":\"naming\"}",
             ci, (i / nconns) % 1000);
    return "ServiceQueryRequest";
  }
  snprintf(json, cap,
           "{\"namespace\":\"public\",\"serviceName\":\"bench-%d-%ld\",\"groupName\":"
           "\"DEFAULT_GROUP\",\"type\":\"registerInstance\",\"module\":\"naming\","
           "\"instance\":{\"ip\":\"10.%d.%ld.%ld\",\"port\":8080,\"weight\":1.0,"
           "\"healthy\":true,\"enabled\":true,\"ephemeral\":true,\"clusterName\":\"DEFAULT\","
           "\"metadata\":{\"v\":\"%ld\"}}}",
           ci, (i / nconns) % 1000, ci, (i / 256) % 256, i % 256, i);
  return "InstanceRequest";
}

/* Runs `requests` calls spread over the connections with `window` in
 * flight per connection; returns calls per second. */
static double run_load(nc_gcli **conns, int nconns, long requests, int window, int query) {
  long args[2] = {query, nconns}, failed = 0;
  double r = nc_bench_run_load(conns, nconns, requests, window, 10000, 512, build_req, args,
                               &failed);
  if (failed)
    fprintf(stderr, "bench: %ld of %ld %s calls failed\n", failed, requests,
            query ? "query" : "register");
  return r;
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

static void lean_msg(void *ud, const uint8_t *data, size_t len) {
  nc_gcli **c = ud;
  if (nc_bench_lean_ack(*c, data, len, "NotifySubscriberRequest", "NotifySubscriberResponse") !=
      1)
    return;
  if (memmem(data, len, "\"ip\":\"10.1.1.1\"", 15)) {
    atomic_fetch_add(&g_fan.changed, 1);
    atomic_store(&g_fan.last_ms, nc_bench_now_ms());
  } else {
    atomic_fetch_add(&g_fan.initial, 1);
  }
}

static int subscribe_all(nc_gcli **subs, int n) {
  const char *json = "{\"namespace\":\"public\",\"serviceName\":\"fanout\",\"groupName\":"
                     "\"DEFAULT_GROUP\",\"subscribe\":true,\"clusters\":\"\",\"module\":\"naming\"}";
  int failed = 0;
  for (int i = 0; i < n; i++) {
    long long ec = -1;
    if (subs[i] &&
        (nc_bench_call_json(subs[i], "SubscribeServiceRequest", json, &ec) != 0 || ec != 0))
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
  nc_bench_raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  nc_log_set_level(NC_LOG_WARN);
  char target[128], dir[64] = "";
  int spawned = 0;
  if (target_arg) {
    snprintf(target, sizeof(target), "%s", target_arg);
  } else {
    snprintf(dir, sizeof(dir), "/tmp/nc-bench-XXXXXX"); /* mkdtemp template */
    if (!mkdtemp(dir)) {
      perror("mkdtemp");
      return 1;
    }
    char data[128], th[16];
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(th, sizeof(th), "%d", server_threads);
    /* every subscriber connects from 127.0.0.1: no per-address cap */
    const char *extra[] = {"--data-dir",     data, "--push-merge-ms", "0", "--grpc-threads", th,
                           send_thread ? "--send-thread=true" : "--send-thread=false",
                           "--max-connections-per-ip", "0", NULL};
    if ((pid = nc_bench_start_nacosd(nacosd, dir, extra, target, sizeof(target), &http_port)) <= 0)
      return 1;
    spawned = 1;
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
  nc_gcli **wcs = calloc((size_t)subs, sizeof(*wcs));
  nc_gcli_stream_cbs cbs = {lean_msg, nc_bench_noop_closed};
  long rss0 = pid > 0 ? nc_bench_rss_kb(pid) : -1;
  long long t_open = nc_bench_now_ms();
  int failed = nc_bench_conn_open_many(env, target, "naming", &cbs, wcs, subs, NULL, NULL);
  fprintf(stderr, "bench: %d connections opened in %lld ms (%d failed)\n", subs - failed,
          nc_bench_now_ms() - t_open, failed);
  nc_bench_sleep_ms(500);
  long rss1 = pid > 0 ? nc_bench_rss_kb(pid) : -1;
  if (rss0 > 0 && rss1 > 0 && subs - failed > 0)
    printf("idle_conn_kb: %.1f\n", (double)(rss1 - rss0) / (subs - failed));
  else
    printf("idle_conn_kb: n/a (give --pid)\n");
  fflush(stdout);

  /* 4: fan-out */
  int sfail = subscribe_all(wcs, subs);
  long long end = nc_bench_now_ms() + 20000;
  while (atomic_load(&g_fan.initial) < subs - failed - sfail && nc_bench_now_ms() < end)
    nc_bench_sleep_ms(5);
  nc_bench_sleep_ms(300); /* let the initial acks land */
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
  printf("loadavg_1m_before_fanout: %.2f\n", nc_bench_loadavg1());
  fflush(stdout);
  for (int round = 0; round < rounds; round++) {
    nc_bench_sleep_ms(300); /* let earlier acks land */
    long long acked0 = nc_bench_metric(http_port, "nacosd_pushes_acked_total");
    atomic_store(&g_fan.changed, 0);
    char json[512];
    snprintf(json, sizeof(json),
             "{\"namespace\":\"public\",\"serviceName\":\"fanout\",\"groupName\":"
             "\"DEFAULT_GROUP\",\"type\":\"registerInstance\",\"instance\":{\"ip\":"
             "\"10.1.1.1\",\"port\":%d}}",
             7000 + round);
    long long ec = 0;
    long long cpu0 = pid > 0 ? nc_bench_cpu_ms(pid) : -1, self0 = nc_bench_cpu_ms(getpid());
    long long t0 = nc_bench_now_ms();
    nc_bench_call_json(pub, "InstanceRequest", json, &ec);
    end = nc_bench_now_ms() + 30000;
    while (atomic_load(&g_fan.changed) < want && nc_bench_now_ms() < end)
      nc_bench_sleep_ms(1);
    long long t_recv = atomic_load(&g_fan.last_ms) - t0;
    long long t_ack = -1;
    if (acked0 >= 0) {
      while (nc_bench_now_ms() < end && nc_bench_metric(http_port, "nacosd_pushes_acked_total") < acked0 + want)
        nc_bench_sleep_ms(2);
      t_ack = nc_bench_now_ms() - t0;
    }
    long long cpu1 = pid > 0 ? nc_bench_cpu_ms(pid) : -1, self1 = nc_bench_cpu_ms(getpid());
    fprintf(stderr, "bench: round %d: %d/%d subscribers got the push after %lld ms, all acked "
                    "after %lld ms (cpu: server %lld ms, bench %lld ms)\n",
            round, atomic_load(&g_fan.changed), want, t_recv, t_ack, cpu1 - cpu0, self1 - self0);
    results[nres++] = t_ack >= 0 ? t_ack : t_recv;
  }
  /* median of the rounds */
  qsort(results, (size_t)nres, sizeof(results[0]), nc_bench_cmp_ll);
  best = nres ? results[nres / 2] : -1;
  printf("push_fanout_ms: %lld\n", best);
  printf("loadavg_1m_after_fanout: %.2f\n", nc_bench_loadavg1());
  fflush(stdout);

  nc_gcli_free(pub);
  for (int i = 0; i < subs; i++)
    if (wcs[i])
      nc_gcli_free(wcs[i]);
  for (int i = 0; i < conns; i++)
    nc_gcli_free(lc[i]);
  free(wcs);
  free(lc);
  nc_gcli_env_free(env);
  if (spawned) {
    nc_bench_stop(pid);
    nc_bench_rmtree(dir);
  }
  nc_grpc_shutdown();
  return 0;
usage:
  fprintf(stderr,
          "usage: bench_server [--target host:grpcport [--pid PID] [--http-port P]] "
          "[--nacosd PATH] [--conns N] [--requests N] [--window N] [--subscribers N] [--rounds N] [--client-threads N] [--server-threads N]\n");
  return 2;
}
