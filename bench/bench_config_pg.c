/* bench_config_pg: config on PostgreSQL (issue 11), one nacosd and then a
 * 3-node cluster on one database. Prints `name: value` lines:
 *   config_publish_tps   ConfigPublishRequests acked per second by one
 *                        nacosd on PostgreSQL; an ack means committed (group
 *                        commit); many in flight over several connections
 *   config_publish_per_commit  publishes per store transaction meanwhile
 *                        (nacosd_config_publishes_total / _commits_total),
 *                        with nacosd's and PostgreSQL's CPU and the change
 *                        feed's re-reads of the node's own writes
 *   pg_batch_max         the largest batch (from nacosd's exit log line)
 *   config_get_qps       ConfigQueryRequests per second (served from memory)
 *   config_cluster_notify_ms_p50/_p99  3 nodes, the listeners spread evenly
 *                        over them, all on one key: publish on node A ->
 *                        every listener got its ConfigChangeNotifyRequest,
 *                        acked it (lean ack) and the nodes counted the acks
 *   loadavg_1m_before/_after  from /proc/loadavg
 *
 * PostgreSQL 15 is started in a temp dir with the tests' fixture
 * (tests/support/nc_testpg.h) unless --db-url URL names a database. Knobs:
 * --conns N (8) --window N (in flight per connection, 128) --publishes N
 * (50000) --gets N (100000) --keys N (1000) --listeners N (1000) --rounds N
 * (20) --nacosd PATH (default the build tree's, or NC_NACOSD_BIN) --keep 1
 * (keep the temp dir with the logs). */
#include "bench_util.h"
#include "nc_grpc.h"
#include "nc_log.h"
#include "nc_testpg.h"

#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODES 3
#define READY_PATH "/nacos/v1/console/health/readiness"
#define CONTENT_BYTES 64

typedef struct node {
  pid_t pid;
  int port, gport, cport;
  char dir[128], target[64];
} node;

typedef struct bench {
  char nacosd[PATH_MAX], dir[64], members[256], url[512], key[64], pg_dir[256];
  node n[NODES];
  nc_gcli_env *env;
  int conns, window, keys, listeners, rounds, keep, publishes, gets;
} bench;

/* Polls readiness every 5 ms; 0 once it answers 200, -1 on timeout or when
 * pid exited. */
static int wait_ready(int http_port, pid_t pid, int timeout_ms) {
  long long t0 = nc_bench_now_ms();
  while (nc_bench_now_ms() - t0 < timeout_ms) {
    if (nc_bench_http_status(http_port, READY_PATH) == 200)
      return 0;
    if (waitpid(pid, NULL, WNOHANG) == pid)
      break;
    nc_bench_sleep_ms(5);
  }
  fprintf(stderr, "bench: nacosd on port %d not ready\n", http_port);
  return -1;
}

/* ---- single node: publish and get load ---- */

typedef struct load_req {
  int get, keys;
  char content[CONTENT_BYTES + 1];
} load_req;

static const char *build_req(void *ud, long i, int ci, char *json, size_t cap) {
  const load_req *q = ud;
  int l = snprintf(json, cap,
                   "{\"headers\":{},\"dataId\":\"pgbench-%ld\",\"group\":\"DEFAULT_GROUP\","
                   "\"tenant\":\"\",\"module\":\"config\"",
                   i % q->keys);
  (void)ci;
  if (q->get) {
    snprintf(json + l, cap - (size_t)l, "}");
    return "ConfigQueryRequest";
  }
  snprintf(json + l, cap - (size_t)l,
           ",\"content\":\"%s %ld\",\"additionMap\":{\"type\":\"text\"}}", q->content, i);
  return "ConfigPublishRequest";
}

/* The N of nacosd's exit line "... (largest batch N, ...)" in log, or -1. */
static long long log_batch_max(const char *log) {
  FILE *f = fopen(log, "r");
  char line[1024];
  long long v = -1;
  while (f && fgets(line, sizeof(line), f)) {
    const char *p = strstr(line, "largest batch ");
    if (p)
      v = atoll(p + 14);
  }
  if (f)
    fclose(f);
  return v;
}

/* CPU ms of the bench's own PostgreSQL: the postmaster (from
 * <dir>/data/postmaster.pid) and its children, the backends; -1 with
 * --db-url or when /proc says nothing. */
static long long pg_cpu_ms(const bench *b) {
  char path[320], buf[4096] = "";
  long pm = -1;
  FILE *f;
  snprintf(path, sizeof(path), "%s/data/postmaster.pid", b->pg_dir);
  if (!b->pg_dir[0] || !(f = fopen(path, "r")))
    return -1;
  if (fscanf(f, "%ld", &pm) != 1)
    pm = -1;
  fclose(f);
  snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", pm, pm);
  if (pm <= 0 || !(f = fopen(path, "r")))
    return -1;
  buf[fread(buf, 1, sizeof(buf) - 1, f)] = 0;
  fclose(f);
  long long sum = nc_bench_cpu_ms((pid_t)pm);
  char *p = buf, *end;
  for (long c; (c = strtol(p, &end, 10)) > 0; p = end)
    sum += nc_bench_cpu_ms((pid_t)c) > 0 ? nc_bench_cpu_ms((pid_t)c) : 0;
  return sum;
}

/* What the publish phase reads before and after. */
enum { M_PUBLISHES, M_COMMITS, M_RELOADS, M_N };
static const char *const k_metrics[M_N] = {"nacosd_config_publishes_total",
                                           "nacosd_config_commits_total",
                                           "nacosd_config_feed_reloads_total"};

static int phase_single(bench *b) {
  char dir[160], data[192], log[192], target[64];
  int http = 0, rc = -1;
  snprintf(dir, sizeof(dir), "%s/single", b->dir);
  snprintf(data, sizeof(data), "%s/data", dir);
  mkdir(dir, 0755);
  /* info: the writer's "largest batch" line at exit. */
  const char *extra[] = {"--db-url", b->url, "--data-dir", data, "--log-level", "info", NULL};
  nc_gcli **cs = calloc((size_t)b->conns, sizeof(*cs));
  nc_gcli_stream_cbs cbs = {nc_bench_noop_msg, nc_bench_noop_closed};
  load_req q = {.keys = b->keys};
  long failed = 0, get_failed = 0;
  long long m0[M_N], m1[M_N];
  for (int i = 0; i < CONTENT_BYTES; i++)
    q.content[i] = (char)('a' + i % 26);
  pid_t pid = nc_bench_start_nacosd(b->nacosd, dir, extra, target, sizeof(target), &http);
  if (pid <= 0 || !cs || wait_ready(http, pid, 20000) != 0 ||
      nc_bench_conn_open_many(b->env, target, "config", &cbs, cs, b->conns, NULL, NULL) != 0)
    goto out;
  size_t cap = CONTENT_BYTES + 512;
  /* Warm-up creates every key, so the get phase always hits. */
  nc_bench_run_load(cs, b->conns, b->keys, b->window, 30000, cap, build_req, &q, &failed);
  for (int m = 0; m < M_N; m++)
    m0[m] = nc_bench_metric(http, k_metrics[m]);
  long long cpu0 = nc_bench_cpu_ms(pid), pg0 = pg_cpu_ms(b);
  double t0 = nc_bench_now_s();
  double tps =
      nc_bench_run_load(cs, b->conns, b->publishes, b->window, 30000, cap, build_req, &q, &failed);
  double dt = (nc_bench_now_s() - t0) * 10.0; /* ms of CPU per this -> percent */
  long long cpu1 = nc_bench_cpu_ms(pid), pg1 = pg_cpu_ms(b);
  for (int m = 0; m < M_N; m++)
    m1[m] = nc_bench_metric(http, k_metrics[m]) - m0[m];
  if (failed)
    fprintf(stderr, "bench: %ld publishes failed\n", failed);
  printf("config_publish_tps: %.0f\n", tps);
  printf("config_publish_per_commit: %.1f (%lld publishes in %lld commits)\n",
         m1[M_COMMITS] > 0 ? (double)m1[M_PUBLISHES] / (double)m1[M_COMMITS] : -1.0,
         m1[M_PUBLISHES], m1[M_COMMITS]);
  printf("config_publish_cpu_pct: nacosd %.0f, postgres %.0f\n", (double)(cpu1 - cpu0) / dt,
         pg0 < 0 || pg1 < 0 ? -1.0 : (double)(pg1 - pg0) / dt);
  printf("config_publish_feed_reloads: %lld\n", m1[M_RELOADS]);
  fflush(stdout);
  q.get = 1;
  double qps =
      nc_bench_run_load(cs, b->conns, b->gets, b->window, 30000, cap, build_req, &q, &get_failed);
  if (get_failed)
    fprintf(stderr, "bench: %ld gets failed\n", get_failed);
  printf("config_get_qps: %.0f\n", qps);
  fflush(stdout);
  rc = failed || get_failed ? -1 : 0;
out:
  for (int i = 0; cs && i < b->conns; i++)
    if (cs[i])
      nc_gcli_free(cs[i]);
  free(cs);
  nc_bench_stop(pid);
  snprintf(log, sizeof(log), "%s/nacosd.log", dir);
  if (pid > 0) {
    printf("pg_batch_max: %lld\n", log_batch_max(log));
    fflush(stdout);
  }
  if (rc != 0)
    fprintf(stderr, "bench: single-node phase failed (log %s)\n", log);
  return rc;
}

/* ---- cluster: notify fan-out over three nodes ---- */

/* Node i listens on P+10i (main), +1000 (gRPC), +1001 (cluster): the
 * layout nacosd derives a member's ports from. */
static int choose_ports(bench *b) {
  int base = nc_bench_cluster_base(NODES, 10);
  if (base < 0)
    return -1;
  size_t len = 0;
  for (int i = 0; i < NODES; i++) {
    node *n = &b->n[i];
    n->port = base + 10 * i, n->gport = n->port + 1000, n->cport = n->port + 1001;
    snprintf(n->target, sizeof(n->target), "127.0.0.1:%d", n->gport);
    snprintf(n->dir, sizeof(n->dir), "%s/n%d", b->dir, i);
    mkdir(n->dir, 0755);
    len += (size_t)snprintf(b->members + len, sizeof(b->members) - len, "%s127.0.0.1:%d",
                            i ? "," : "", n->port);
  }
  return 0;
}

static int spawn_node(bench *b, int i) {
  node *n = &b->n[i];
  char port[16], gport[16], cport[16], data[192], pf[192], log[192];
  snprintf(port, sizeof(port), "%d", n->port);
  snprintf(gport, sizeof(gport), "%d", n->gport);
  snprintf(cport, sizeof(cport), "%d", n->cport);
  snprintf(data, sizeof(data), "%s/data", n->dir);
  snprintf(pf, sizeof(pf), "%s/ports.json", n->dir);
  snprintf(log, sizeof(log), "%s/nacosd.log", n->dir);
  char *argv[] = {
      b->nacosd,   "--bind",         "127.0.0.1", "--port",     port,       "--grpc-port",
      gport,       "--cluster-port", cport,       "--members",  b->members, "--advertise-ip",
      "127.0.0.1", "--db-url",       b->url,      "--data-dir", data,       "--port-file",
      pf,          "--log-level",    "warn",      "--auth",   "off",      "--max-connections-per-ip",
      "0",         NULL};
  if ((n->pid = nc_bench_spawn(argv, log)) <= 0 ||
      nc_bench_port_file(pf, "grpc_port", 10000, n->pid) != n->gport) {
    fprintf(stderr, "bench: node %d did not start (log %s)\n", i, log);
    return -1;
  }
  return 0;
}

/* The listeners: node k's are g_lsn[g_bound[k] .. g_bound[k+1]). Each
 * counts once per round (g_seen), so a resent notify is not a second
 * listener. Pushes are acked from their raw bytes (nc_bench_lean_ack): in
 * production the listeners sit on other machines, here they share the
 * cores with the nodes. */
static nc_gcli **g_lsn;
static atomic_int *g_seen;
static int g_bound[NODES + 1];
static atomic_int g_round, g_notified[NODES];

static void lsn_msg(void *ud, const uint8_t *d, size_t len) {
  nc_gcli **c = ud;
  if (nc_bench_lean_ack(*c, d, len, "ConfigChangeNotifyRequest", "ConfigChangeNotifyResponse") != 1)
    return;
  int idx = (int)(c - g_lsn), k = 0, r = atomic_load(&g_round);
  while (k < NODES - 1 && idx >= g_bound[k + 1])
    k++;
  if (atomic_exchange(&g_seen[idx], r) != r)
    atomic_fetch_add(&g_notified[k], 1);
}

/* Answers the publisher's idle probes. */
static void pub_msg(void *ud, const uint8_t *d, size_t len) {
  nc_bench_lean_ack(*(nc_gcli **)ud, d, len, "ClientDetectionRequest", "ClientDetectionResponse");
}

static int listen_key(nc_gcli *c, void *ud) {
  const bench *b = ud;
  char json[512];
  long long ec = -1;
  snprintf(json, sizeof(json),
           "{\"headers\":{},\"listen\":true,\"module\":\"config\",\"configListenContexts\":"
           "[{\"dataId\":\"%s\",\"group\":\"DEFAULT_GROUP\",\"tenant\":\"\",\"md5\":\"\"}]}",
           b->key);
  return nc_bench_call_json(c, "ConfigBatchListenRequest", json, &ec) != 0 || ec != 0;
}

static long long acked_sum(const bench *b) {
  long long s = 0;
  for (int i = 0; i < NODES; i++) {
    long long v = nc_bench_metric(b->n[i].port, "nacosd_config_notifies_acked_total");
    if (v < 0)
      return -1;
    s += v;
  }
  return s;
}

/* One round: us until every listener was notified and its ack counted
 * (-1 on failure or timeout); per node on stderr. */
static long long notify_round(bench *b, nc_gcli *pub, const int *want, int r) {
  char json[512];
  long long ec = -1, t_node[NODES] = {-1, -1, -1}, acked0 = acked_sum(b);
  int all = 0;
  for (int k = 0; k < NODES; k++)
    atomic_store(&g_notified[k], 0), all += want[k];
  atomic_store(&g_round, r + 1);
  snprintf(json, sizeof(json),
           "{\"headers\":{},\"dataId\":\"%s\",\"group\":\"DEFAULT_GROUP\",\"tenant\":\"\","
           "\"content\":\"round %d\",\"module\":\"config\"}",
           b->key, r);
  long long t0 = nc_bench_now_us(), end = t0 + 30000000LL;
  if (nc_bench_call_json(pub, "ConfigPublishRequest", json, &ec) != 0 || ec != 0) {
    fprintf(stderr, "bench: round %d: publish failed (errorCode %lld)\n", r, ec);
    return -1;
  }
  for (int done = 0; !done && nc_bench_now_us() < end;) {
    done = 1;
    for (int k = 0; k < NODES; k++) {
      if (t_node[k] < 0 && atomic_load(&g_notified[k]) >= want[k])
        t_node[k] = nc_bench_now_us() - t0;
      done &= t_node[k] >= 0;
    }
    if (!done)
      usleep(500);
  }
  long long a = -1;
  while ((a = acked_sum(b)) >= 0 && a < acked0 + all && nc_bench_now_us() < end)
    nc_bench_sleep_ms(2);
  long long total = nc_bench_now_us() - t0;
  fprintf(stderr,
          "bench: round %d: notified A/B/C %d/%d/%d in %.1f/%.1f/%.1f ms, %lld/%d acks "
          "counted in %.1f ms\n",
          r, atomic_load(&g_notified[0]), atomic_load(&g_notified[1]), atomic_load(&g_notified[2]),
          t_node[0] / 1000.0, t_node[1] / 1000.0, t_node[2] / 1000.0, a - acked0, all,
          total / 1000.0);
  return t_node[0] < 0 || t_node[1] < 0 || t_node[2] < 0 || a < acked0 + all ? -1 : total;
}

static int phase_cluster(bench *b) {
  int rc = -1, want[NODES], got = 0, L = b->listeners;
  nc_gcli *pub = NULL;
  long long *tot = calloc((size_t)b->rounds, sizeof(*tot));
  g_lsn = calloc((size_t)L, sizeof(*g_lsn));
  g_seen = calloc((size_t)L, sizeof(*g_seen));
  nc_gcli_stream_cbs lcbs = {lsn_msg, nc_bench_noop_closed}, pcbs = {pub_msg, nc_bench_noop_closed};
  if (!tot || !g_lsn || !g_seen || choose_ports(b) != 0)
    goto out;
  printf("nodes: %s\n", b->members);
  fflush(stdout);
  for (int i = 0; i < NODES; i++)
    if (spawn_node(b, i) != 0)
      goto out;
  for (int i = 0; i < NODES; i++)
    if (wait_ready(b->n[i].port, b->n[i].pid, 30000) != 0)
      goto out;
  long long t_open = nc_bench_now_ms();
  for (int k = 0; k <= NODES; k++)
    g_bound[k] = L * k / NODES;
  for (int k = 0; k < NODES; k++) {
    int n = g_bound[k + 1] - g_bound[k];
    want[k] = n - nc_bench_conn_open_many(b->env, b->n[k].target, "config", &lcbs,
                                          g_lsn + g_bound[k], n, listen_key, b);
  }
  fprintf(stderr, "bench: %d/%d/%d listeners on A/B/C up in %lld ms\n", want[0], want[1], want[2],
          nc_bench_now_ms() - t_open);
  if (want[0] + want[1] + want[2] < L)
    goto out;
  if (!nc_bench_conn_open(b->env, b->n[0].target, "config", &pcbs, &pub, &pub))
    goto out;
  for (int r = 0; r < b->rounds; r++) {
    long long t = notify_round(b, pub, want, r);
    if (t >= 0)
      tot[got++] = t;
    nc_bench_sleep_ms(300); /* late or resent notifies settle between rounds */
  }
  printf("config_cluster_notify_rounds: %d of %d (%d listeners)\n", got, b->rounds, L);
  if (got == 0)
    goto out;
  qsort(tot, (size_t)got, sizeof(*tot), nc_bench_cmp_ll);
  printf("config_cluster_notify_ms_p50: %.1f\n", tot[got / 2] / 1000.0);
  printf("config_cluster_notify_ms_p99: %.1f\n", tot[got * 99 / 100] / 1000.0);
  printf("config_cluster_notify_ms_max: %.1f\n", tot[got - 1] / 1000.0);
  printf("config_sync_acked_on_a: %lld, feed_reloads_on_b_c: %lld\n",
         nc_bench_metric(b->n[0].port, "nacosd_config_sync_acked_total"),
         nc_bench_metric(b->n[1].port, "nacosd_config_feed_reloads_total") +
             nc_bench_metric(b->n[2].port, "nacosd_config_feed_reloads_total"));
  fflush(stdout);
  rc = got == b->rounds ? 0 : -1;
out:
  if (pub)
    nc_gcli_free(pub);
  for (int i = 0; g_lsn && i < L; i++)
    if (g_lsn[i])
      nc_gcli_free(g_lsn[i]);
  free(g_lsn);
  free((void *)g_seen);
  free(tot);
  for (int i = 0; i < NODES; i++)
    nc_bench_stop(b->n[i].pid);
  return rc;
}

/* ---- main ---- */

static int parse(bench *b, int argc, char **argv, const char **db_url) {
  const char *nacosd = NULL;
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int *dst = !strcmp(a, "--conns")       ? &b->conns
               : !strcmp(a, "--window")    ? &b->window
               : !strcmp(a, "--keys")      ? &b->keys
               : !strcmp(a, "--listeners") ? &b->listeners
               : !strcmp(a, "--rounds")    ? &b->rounds
               : !strcmp(a, "--keep")      ? &b->keep
               : !strcmp(a, "--publishes") ? &b->publishes
               : !strcmp(a, "--gets")      ? &b->gets
                                           : NULL;
    if (!v)
      return -1;
    if (dst)
      *dst = atoi(v);
    else if (!strcmp(a, "--db-url"))
      *db_url = v;
    else if (!strcmp(a, "--nacosd"))
      nacosd = v;
    else
      return -1;
  }
  if (nacosd)
    snprintf(b->nacosd, sizeof(b->nacosd), "%s", nacosd);
  else
    nc_bench_bin_path(b->nacosd, sizeof(b->nacosd), "NC_NACOSD_BIN", "server/nacosd");
  return b->conns < 1 || b->window < 1 || b->keys < 1 || b->listeners < NODES || b->rounds < 1 ||
                 b->publishes < 1 || b->gets < 1
             ? -1
             : 0;
}

int main(int argc, char **argv) {
  static bench b = {.conns = 8,
                    .window = 128,
                    .keys = 1000,
                    .listeners = 1000,
                    .rounds = 20,
                    .publishes = 50000,
                    .gets = 100000};
  const char *db_url = NULL;
  nc_testpg *pg = NULL;
  int rc = 1;
  if (parse(&b, argc, argv, &db_url) != 0) {
    fprintf(stderr, "usage: bench_config_pg [--db-url URL] [--nacosd PATH] [--conns N] "
                    "[--window N] [--publishes N] [--gets N] [--keys N] [--listeners N>=3] "
                    "[--rounds N] [--keep 1]\n");
    return 2;
  }
  nc_bench_raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  nc_log_set_level(NC_LOG_WARN);
  printf("loadavg_1m_before: %.2f\n", nc_bench_loadavg1());
  fflush(stdout);
  snprintf(b.dir, sizeof(b.dir), "/tmp/nc-bench-config-pg-XXXXXX");
  snprintf(b.key, sizeof(b.key), "pgbench-notify-%d", (int)getpid());
  if (!mkdtemp(b.dir)) {
    perror("mkdtemp");
    return 1;
  }
  if (db_url) {
    snprintf(b.url, sizeof(b.url), "%s", db_url);
  } else {
    char why[512] = "could not start it";
    if (!nc_testpg_available(why, sizeof(why)) || nc_testpg_start(&pg) != 0) {
      fprintf(stderr, "bench: no PostgreSQL: %s\n", why);
      goto out;
    }
    snprintf(b.url, sizeof(b.url), "%s", nc_testpg_url(pg));
    snprintf(b.pg_dir, sizeof(b.pg_dir), "%s", nc_testpg_dir(pg));
  }
  fprintf(stderr, "bench: database %s\n", b.url);
  nc_grpc_init();
  if (nc_gcli_env_new(2, &b.env) != 0)
    goto out;
  fprintf(stderr, "bench: phase 1: one nacosd, %d publishes, %d gets\n", b.publishes, b.gets);
  int single = phase_single(&b);
  fprintf(stderr, "bench: phase 2: 3 nodes, %d listeners, %d rounds\n", b.listeners, b.rounds);
  int cluster = phase_cluster(&b);
  rc = single == 0 && cluster == 0 ? 0 : 1;
out:
  printf("loadavg_1m_after: %.2f\n", nc_bench_loadavg1());
  fflush(stdout);
  if (b.env) {
    nc_gcli_env_free(b.env);
    nc_grpc_shutdown();
  }
  nc_testpg_free(pg);
  if (rc == 0 && !b.keep)
    nc_bench_rmtree(b.dir);
  else
    fprintf(stderr, "bench: logs kept in %s\n", b.dir);
  return rc;
}
