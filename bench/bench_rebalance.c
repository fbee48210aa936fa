/* bench_rebalance: issue 13's rebalance bench. A 3-node nacosd cluster on
 * 127.0.0.1 (--members); B and C are started only after --conns (3,000)
 * wire connections, each holding one instance of one service, landed on A.
 * The connections follow ConnectResetRequest as nacos-agent does (a mover
 * connects to serverIp:serverPort+1000, registers, then closes the old
 * one); a subscriber on C counts the hosts of every push. Prints
 * `name: value`:
 *   rebalance_converge_s    B and C ready -> every node within 10 % of the
 *                           average (and rebalance_quiet_s: -> the last move)
 *   moves, moves_per_s      resets the nodes sent, over first..last move
 *   moved_min_seen          the fewest hosts a push to the subscriber carried
 *                           while moving (goal: --conns)
 *   moves_after_quiet       moves in --quiet-s after that (goal 0: no
 *                           oscillation)
 *   final_a/b/c             SDK connections per node
 *   report_cpu_ms_per_s     A's CPU while quiet (member reports carry the
 *                           load keys; an upper bound of their cost)
 *   loadavg_1m_before/_after
 * Knobs: --conns N (3000) --cap N (moves/s, 20 = default) --period-ms N
 * (10000 = default) --min-age-ms N (5000; the default 600000 would make the
 * bench wait 10 min) --quiet-s N (30) --movers N (8) --nacosd PATH --keep 1. */
#include "bench_util.h"
#include "nc_grpc.h"
#include "nc_log.h"
#include "nc_wire_client.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NODES 3
#define SVC "rb-bench"
#define READY_PATH "/nacos/v1/console/health/readiness"

typedef struct node {
  pid_t pid;
  int port, gport;
  char dir[160], target[64];
} node;

typedef struct conn {
  nc_wc *wc;
  int idx, queued;
  char target[64];
} conn;

static struct {
  char nacosd[PATH_MAX], dir[64], members[256];
  node n[NODES];
  nc_gcli_env *env;
  int conns, cap, period_ms, min_age_ms, quiet_s, movers, keep;
  conn *c;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int *q, qn, busy, stop, moved, failed;
  atomic_int sub_min, armed, sub_pushes;
} B;

static void on_push(void *ud, nc_wc *wc, const nc_msg *m);

static cJSON *reg_body(int idx) {
  char ip[32];
  snprintf(ip, sizeof(ip), "10.%d.%d.%d", 20 + idx / 62500, idx / 250 % 250, idx % 250 + 1);
  cJSON *b = cJSON_CreateObject(), *in = cJSON_CreateObject();
  cJSON_AddObjectToObject(b, "headers");
  cJSON_AddStringToObject(b, "namespace", "public");
  cJSON_AddStringToObject(b, "serviceName", SVC);
  cJSON_AddStringToObject(b, "groupName", "DEFAULT_GROUP");
  cJSON_AddStringToObject(b, "type", "registerInstance");
  cJSON_AddStringToObject(in, "ip", ip);
  cJSON_AddNumberToObject(in, "port", 8080);
  cJSON_AddNumberToObject(in, "weight", 1.0);
  cJSON_AddBoolToObject(in, "healthy", 1);
  cJSON_AddBoolToObject(in, "enabled", 1);
  cJSON_AddBoolToObject(in, "ephemeral", 1);
  cJSON_AddStringToObject(in, "clusterName", "DEFAULT");
  cJSON_AddItemToObject(b, "instance", in);
  cJSON_AddStringToObject(b, "module", "naming");
  return b;
}

static nc_wc *open_conn(const char *target, void *ud) {
  nc_wc_opts o = {.target = target, .timeout_ms = 5000, .app_name = "bench"};
  nc_wc *wc = NULL;
  for (int i = 0; i < 3; i++) {
    if (nc_wc_connect(B.env, &o, on_push, NULL, ud, &wc) == 0)
      return wc;
    nc_bench_sleep_ms(100);
  }
  return NULL;
}

static int call_ok(nc_wc *wc, const char *type, cJSON *body, cJSON **out) {
  nc_msg *r = NULL;
  int rc = nc_wc_request(wc, type, body, 5000, &r);
  cJSON_Delete(body);
  int ok = rc == 0 && r && r->body && nc_json_int(r->body, "resultCode", 0) == 200;
  if (ok && out)
    *out = cJSON_Duplicate(r->body, 1);
  nc_msg_free(r);
  return ok;
}

static int hosts_of(const cJSON *si) {
  return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(si, "hosts"));
}

/* Completion-queue thread: record, never block (nc_wc acks). */
static void on_push(void *ud, nc_wc *wc, const nc_msg *m) {
  (void)wc;
  if (!m->body)
    return;
  if (!ud) { /* the subscriber */
    if (strcmp(m->type, "NotifySubscriberRequest") != 0 || !atomic_load(&B.armed))
      return;
    int h = hosts_of(cJSON_GetObjectItemCaseSensitive(m->body, "serviceInfo"));
    atomic_fetch_add(&B.sub_pushes, 1);
    int cur = atomic_load(&B.sub_min);
    while ((cur < 0 || h < cur) && !atomic_compare_exchange_weak(&B.sub_min, &cur, h))
      ;
    return;
  }
  if (strcmp(m->type, "ConnectResetRequest") != 0)
    return;
  conn *c = ud;
  const char *ip = nc_json_str(m->body, "serverIp", "");
  const char *port = nc_json_str(m->body, "serverPort", "");
  if (!ip[0] || !port[0])
    return;
  pthread_mutex_lock(&B.mu);
  if (!c->queued) {
    snprintf(c->target, sizeof(c->target), "%s:%d", ip, atoi(port) + 1000);
    c->queued = 1;
    B.q[B.qn++] = c->idx;
    pthread_cond_signal(&B.cv);
  }
  pthread_mutex_unlock(&B.mu);
}

/* Make before break, as nacos-agent. */
static void *mover(void *arg) {
  (void)arg;
  pthread_mutex_lock(&B.mu);
  for (;;) {
    while (!B.stop && !B.qn)
      pthread_cond_wait(&B.cv, &B.mu);
    if (B.stop)
      break;
    conn *c = &B.c[B.q[--B.qn]];
    char target[64];
    snprintf(target, sizeof(target), "%s", c->target);
    nc_wc *old = c->wc;
    B.busy++;
    pthread_mutex_unlock(&B.mu);
    nc_wc *nw = open_conn(target, c);
    int ok = nw && call_ok(nw, "InstanceRequest", reg_body(c->idx), NULL);
    if (ok)
      nc_wc_close(old);
    else if (nw)
      nc_wc_close(nw);
    pthread_mutex_lock(&B.mu);
    B.busy--;
    if (ok) {
      c->wc = nw;
      B.moved++;
    } else {
      B.failed++;
    }
    c->queued = 0;
  }
  pthread_mutex_unlock(&B.mu);
  return NULL;
}

static void *opener(void *arg) {
  long k = (long)arg;
  for (int i = (int)k; i < B.conns; i += 4) {
    conn *c = &B.c[i];
    c->idx = i;
    nc_wc *wc = open_conn(B.n[0].target, c);
    if (wc && !call_ok(wc, "InstanceRequest", reg_body(i), NULL)) {
      nc_wc_close(wc);
      wc = NULL;
    }
    pthread_mutex_lock(&B.mu);
    c->wc = wc;
    if (!wc)
      B.failed++;
    pthread_mutex_unlock(&B.mu);
  }
  return NULL;
}

static int start_node(int i) {
  node *n = &B.n[i];
  char port[16], log[200], pf[200], data[200], cap[16], per[16], age[16];
  snprintf(port, sizeof(port), "%d", n->port);
  snprintf(log, sizeof(log), "%s/nacosd.log", n->dir);
  snprintf(pf, sizeof(pf), "%s/ports.json", n->dir);
  snprintf(data, sizeof(data), "%s/data", n->dir);
  snprintf(cap, sizeof(cap), "%d", B.cap);
  snprintf(per, sizeof(per), "%d", B.period_ms);
  snprintf(age, sizeof(age), "%d", B.min_age_ms);
  char *argv[] = {B.nacosd, "--bind", "127.0.0.1", "--port", port, "--members", B.members,
                  "--advertise-ip", "127.0.0.1", "--data-dir", data, "--port-file", pf,
                  "--log-level", "info", "--auth", "off", "--max-connections-per-ip", "0",
                  "--rebalance", "auto", "--rebalance-warmup-ms", "0", "--rebalance-stable-ms",
                  "3000", "--rebalance-min-conn-age-ms", age, "--rebalance-moves-per-sec", cap,
                  "--rebalance-period-ms", per, NULL};
  n->pid = nc_bench_spawn(argv, log);
  if (n->pid <= 0 || nc_bench_port_file(pf, "grpc_port", 15000, n->pid) < 0)
    return -1;
  n->gport = n->port + 1000;
  snprintf(n->target, sizeof(n->target), "127.0.0.1:%d", n->gport);
  return 0;
}

static int wait_ready(int i, int ms) {
  long long end = nc_bench_now_ms() + ms;
  while (nc_bench_now_ms() < end) {
    if (nc_bench_http_status(B.n[i].port, READY_PATH) == 200)
      return 0;
    nc_bench_sleep_ms(100);
  }
  return -1;
}

static long long sdk(int i) {
  return nc_bench_metric(B.n[i].port, "nacosd_rebalance_sdk_connections");
}
static long long moves_all(void) {
  long long s = 0;
  for (int i = 0; i < NODES; i++)
    s += nc_bench_metric(B.n[i].port, "nacosd_rebalance_moves_total");
  return s;
}
static double worst_pct(long long *v) {
  long long sum = 0;
  for (int i = 0; i < NODES; i++)
    sum += v[i] = sdk(i);
  double avg = (double)sum / NODES, w = 0;
  for (int i = 0; i < NODES; i++) {
    double d = ((double)v[i] - avg) / (avg > 0 ? avg : 1) * 100;
    if (d < 0)
      d = -d;
    if (d > w)
      w = d;
  }
  return w;
}
static int idle(void) {
  pthread_mutex_lock(&B.mu);
  int r = !B.qn && !B.busy;
  pthread_mutex_unlock(&B.mu);
  return r;
}

int main(int argc, char **argv) {
  B.conns = 3000;
  B.cap = 20;
  B.period_ms = 10000;
  B.min_age_ms = 5000;
  B.quiet_s = 30;
  B.movers = 8;
  nc_bench_bin_path(B.nacosd, sizeof(B.nacosd), "NC_NACOSD_BIN", "server/nacosd");
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--conns")) B.conns = atoi(v);
    else if (!strcmp(k, "--cap")) B.cap = atoi(v);
    else if (!strcmp(k, "--period-ms")) B.period_ms = atoi(v);
    else if (!strcmp(k, "--min-age-ms")) B.min_age_ms = atoi(v);
    else if (!strcmp(k, "--quiet-s")) B.quiet_s = atoi(v);
    else if (!strcmp(k, "--movers")) B.movers = atoi(v);
    else if (!strcmp(k, "--nacosd")) snprintf(B.nacosd, sizeof(B.nacosd), "%s", v);
    else if (!strcmp(k, "--keep")) B.keep = atoi(v);
    else {
      fprintf(stderr, "unknown option %s\n", k);
      return 2;
    }
  }
  nc_log_set_level(NC_LOG_WARN);
  nc_bench_raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  nc_grpc_init();
  if (nc_gcli_env_new(2, &B.env) != 0)
    return 1;
  pthread_mutex_init(&B.mu, NULL);
  pthread_cond_init(&B.cv, NULL);
  atomic_store(&B.sub_min, -1);
  B.c = calloc((size_t)B.conns, sizeof(*B.c));
  B.q = calloc((size_t)B.conns, sizeof(*B.q));
  snprintf(B.dir, sizeof(B.dir), "/tmp/bench-rebal-XXXXXX");
  if (!B.c || !B.q || !mkdtemp(B.dir))
    return 1;
  int base = nc_bench_cluster_base(NODES, 2);
  if (base < 0)
    return 1;
  size_t ml = 0;
  for (int i = 0; i < NODES; i++) {
    B.n[i].port = base + 2 * i;
    snprintf(B.n[i].dir, sizeof(B.n[i].dir), "%s/n%d", B.dir, i);
    mkdir(B.n[i].dir, 0755);
    ml += (size_t)snprintf(B.members + ml, sizeof(B.members) - ml, "%s127.0.0.1:%d", i ? "," : "",
                           B.n[i].port);
  }
  printf("loadavg_1m_before: %.2f\n", nc_bench_loadavg1());
  int rc = 1;
  pthread_t mv[32], op[4];
  int nmv = B.movers < 32 ? B.movers : 32;
  for (int i = 0; i < nmv; i++)
    pthread_create(&mv[i], NULL, mover, NULL);
  if (start_node(0) || wait_ready(0, 30000)) {
    fprintf(stderr, "node A did not start\n");
    goto out;
  }
  long long t0 = nc_bench_now_ms();
  for (long k = 0; k < 4; k++)
    pthread_create(&op[k], NULL, opener, (void *)k);
  for (int k = 0; k < 4; k++)
    pthread_join(op[k], NULL);
  fprintf(stderr, "%d connections on A in %lld ms (%d failed)\n", B.conns,
          nc_bench_now_ms() - t0, B.failed);
  /* all of them past the minimum age before the others come */
  nc_bench_sleep_ms(B.min_age_ms);
  if (start_node(1) || start_node(2) || wait_ready(1, 60000) || wait_ready(2, 60000)) {
    fprintf(stderr, "B or C did not start\n");
    goto out;
  }
  long long t_ready = nc_bench_now_ms();
  nc_wc_opts so = {.target = B.n[2].target, .timeout_ms = 5000, .app_name = "subscriber",
                   .client_version = "Nacos-Python-Client:v2.0.11"}; /* never moved */
  nc_wc *sub = NULL;
  if (nc_wc_connect(B.env, &so, on_push, NULL, NULL, &sub) != 0) {
    fprintf(stderr, "no subscriber\n");
    goto out;
  }
  cJSON *sb = cJSON_CreateObject(), *resp = NULL;
  cJSON_AddObjectToObject(sb, "headers");
  cJSON_AddStringToObject(sb, "namespace", "public");
  cJSON_AddStringToObject(sb, "serviceName", SVC);
  cJSON_AddStringToObject(sb, "groupName", "DEFAULT_GROUP");
  cJSON_AddStringToObject(sb, "clusters", "");
  cJSON_AddBoolToObject(sb, "subscribe", 1);
  cJSON_AddStringToObject(sb, "module", "naming");
  int seen0 = -1;
  long long end = nc_bench_now_ms() + 30000;
  while (nc_bench_now_ms() < end) { /* C has the snapshot */
    cJSON *copy = cJSON_Duplicate(sb, 1);
    if (call_ok(sub, "SubscribeServiceRequest", copy, &resp)) {
      seen0 = hosts_of(cJSON_GetObjectItemCaseSensitive(resp, "serviceInfo"));
      cJSON_Delete(resp);
      resp = NULL;
      if (seen0 >= B.conns - B.failed)
        break;
    }
    nc_bench_sleep_ms(200);
  }
  cJSON_Delete(sb);
  atomic_store(&B.armed, 1);
  long long conv = -1, last_move_at = -1, first_move_at = -1, last_moves = 0, v[NODES];
  end = nc_bench_now_ms() + 600000;
  while (nc_bench_now_ms() < end) {
    nc_bench_sleep_ms(500);
    long long m = moves_all();
    long long now = nc_bench_now_ms();
    if (m > 0 && first_move_at < 0)
      first_move_at = now;
    if (m != last_moves) {
      last_moves = m;
      last_move_at = now;
    }
    double w = worst_pct(v);
    if (w <= 10.0 && conv < 0)
      conv = now;
    if (conv >= 0 && idle() && now - last_move_at > 2LL * B.period_ms + 2000)
      break;
  }
  long long quiet_moves0 = moves_all();
  long long cpu0 = nc_bench_cpu_ms(B.n[0].pid), tq = nc_bench_now_ms();
  nc_bench_sleep_ms(B.quiet_s * 1000);
  long long cpu1 = nc_bench_cpu_ms(B.n[0].pid), tq1 = nc_bench_now_ms();
  long long quiet_moves1 = moves_all();
  worst_pct(v);
  double span = first_move_at >= 0 && last_move_at > first_move_at
                    ? (double)(last_move_at - first_move_at) / 1000.0
                    : 0;
  printf("conns: %d (open failures %d)\n", B.conns, B.failed);
  printf("rebalance_converge_s: %.1f\n", conv >= 0 ? (double)(conv - t_ready) / 1000.0 : -1.0);
  printf("rebalance_quiet_s: %.1f\n",
         last_move_at >= 0 ? (double)(last_move_at - t_ready) / 1000.0 : -1.0);
  printf("moves: %lld (client moves done %d, failed %d)\n", quiet_moves0, B.moved, B.failed);
  printf("moves_per_s: %.1f\n", span > 0 ? (double)quiet_moves0 / span : 0.0);
  printf("moved_min_seen: %d (of %d; %d pushes; first subscribe saw %d)\n",
         atomic_load(&B.sub_min), B.conns, atomic_load(&B.sub_pushes), seen0);
  printf("moves_after_quiet: %lld (over %d s)\n", quiet_moves1 - quiet_moves0, B.quiet_s);
  printf("final_a: %lld\nfinal_b: %lld\nfinal_c: %lld\n", v[0], v[1], v[2]);
  printf("report_cpu_ms_per_s: %.2f (node A while quiet, everything included)\n",
         tq1 > tq ? (double)(cpu1 - cpu0) * 1000.0 / (double)(tq1 - tq) : -1.0);
  printf("loadavg_1m_after: %.2f\n", nc_bench_loadavg1());
  rc = 0;
  nc_wc_close(sub);
out:
  pthread_mutex_lock(&B.mu);
  B.stop = 1;
  pthread_cond_broadcast(&B.cv);
  pthread_mutex_unlock(&B.mu);
  for (int i = 0; i < nmv; i++)
    pthread_join(mv[i], NULL);
  for (int i = 0; i < B.conns; i++)
    if (B.c[i].wc)
      nc_wc_close(B.c[i].wc);
  for (int i = 0; i < NODES; i++)
    nc_bench_stop(B.n[i].pid);
  if (!B.keep)
    nc_bench_rmtree(B.dir);
  else
    fprintf(stderr, "kept %s\n", B.dir);
  nc_gcli_env_free(B.env);
  nc_grpc_shutdown();
  free(B.c);
  free(B.q);
  return rc;
}
