/* bench_cluster: a 3-node nacosd cluster on 127.0.0.1 (distinct ports,
 * --members), measured as issue 10's "Bench" asks. Prints `name: value`:
 *   distro_visible_ms_p50/_p99  register on A (one fresh client each, as a
 *                        Distro merge window is per client) -> a
 *                        ServiceQueryRequest on C shows it
 *   failover_min_seen    kill -9 of the node an agent with 50 instances (and a
 *                        wire client with 10) is on: the fewest of the agent's
 *                        instances any push to a subscriber on the third node
 *                        carried after the kill (goal: all 50); with the
 *                        minimum over queries polled meanwhile and the times
 *   synced_bytes_per_instance  RSS growth of C (a pure holder of synced
 *                        copies) while B's 3,000 connections register 10
 *                        instances each, divided by the 30,000 instances
 *   verify_bytes_per_s   TCP bytes (both directions, `ss` tcp_info) on the two
 *                        survivors' cluster ports over an idle period while
 *                        they hold that data (nacosd has no Distro byte
 *                        counter); also at 50 instances for a baseline
 *   restart_ready_s      the killed node restarted: spawn -> readiness 200,
 *                        with the instances it then holds
 *   loadavg_1m_before/_after
 * Knobs: --samples N (100) --agent-instances N (50) --wire-instances N (10)
 * --conns N (3000) --per-conn N (10) --verify-s N (15) --nacosd PATH
 * --agent PATH (default: the build tree's, or NC_NACOSD_BIN/NC_AGENT_BIN)
 * --keep 1 (keep the temp dir with the logs). Default settings otherwise. */
#include "bench_util.h"
#include "nc_grpc.h"
#include "nc_ipc.h"
#include "nc_log.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODES 3
#define READY_PATH "/nacos/v1/console/health/readiness"
#define AGENT_IP "10.1.0.1"
#define WIRE_IP "10.1.1.1"

typedef struct node {
  pid_t pid;
  int port, gport, cport, starts;
  char dir[128], target[64];
} node;

typedef struct bench {
  char nacosd[PATH_MAX], agent[PATH_MAX], dir[64], members[256];
  node n[NODES];
  nc_gcli_env *env;
  int samples, agent_n, wire_n, conns, per_conn, verify_s;
} bench;

/* ---- nodes ---- */

/* Node i listens on P+2i (main), +1000 (gRPC), +1001 (cluster): the layout
 * nacosd derives a member's ports from, so --members names main ports. */
static int choose_ports(bench *b) {
  int base = nc_bench_cluster_base(NODES, 2);
  if (base < 0)
    return -1;
  size_t len = 0;
  for (int i = 0; i < NODES; i++) {
    node *n = &b->n[i];
    n->port = base + 2 * i, n->gport = n->port + 1000, n->cport = n->port + 1001;
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
  snprintf(log, sizeof(log), "%s/nacosd-%d.log", n->dir, n->starts++);
  unlink(pf);
  char *argv[] = {b->nacosd,   "--bind",      "127.0.0.1", "--port",
                  port,        "--grpc-port", gport,       "--cluster-port",
                  cport,       "--members",   b->members,  "--advertise-ip",
                  "127.0.0.1", "--data-dir",  data,        "--port-file",
                  pf,          "--log-level", "warn",      "--max-connections-per-ip",
                  "0", /* the load's 3000 connections all come from 127.0.0.1 */
                  NULL};
  if ((n->pid = nc_bench_spawn(argv, log)) <= 0 ||
      nc_bench_port_file(pf, "grpc_port", 10000, n->pid) != n->gport) {
    fprintf(stderr, "bench: node %d did not start (log %s)\n", i, log);
    return -1;
  }
  return 0;
}

/* Polls node i's readiness every 5 ms; ms until 200, or -1. */
static long long wait_ready(bench *b, int i, int timeout_ms) {
  long long t0 = nc_bench_now_ms();
  while (nc_bench_now_ms() - t0 < timeout_ms) {
    if (nc_bench_http_status(b->n[i].port, READY_PATH) == 200)
      return nc_bench_now_ms() - t0;
    if (waitpid(b->n[i].pid, NULL, WNOHANG) == b->n[i].pid) {
      b->n[i].pid = 0;
      break;
    }
    nc_bench_sleep_ms(5);
  }
  fprintf(stderr, "bench: node %d not ready after %d ms\n", i, timeout_ms);
  return -1;
}

static long long metric(bench *b, int i, const char *name) {
  return nc_bench_metric(b->n[i].port, name);
}

/* ---- wire helpers ---- */

static nc_gcli *wire_open(bench *b, int i, const nc_gcli_stream_cbs *cbs, void *ud,
                          nc_gcli **slot) {
  nc_gcli_stream_cbs noop = {nc_bench_noop_msg, nc_bench_noop_closed};
  nc_gcli *c = nc_bench_conn_open(b->env, b->n[i].target, "naming", cbs ? cbs : &noop, ud, slot);
  if (!c)
    fprintf(stderr, "bench: connection to node %d failed\n", i);
  return c;
}

static const char *naming_head(char *json, size_t cap, const char *svc) {
  snprintf(json, cap,
           "{\"namespace\":\"public\",\"serviceName\":\"%s\",\"groupName\":\"DEFAULT_GROUP\","
           "\"module\":\"naming\",",
           svc);
  return json;
}

/* ---- 1: register on A -> visible on C ---- */

static int phase_visible(bench *b) {
  int n = b->samples, got = 0, rc = -1;
  nc_gcli **regs = calloc((size_t)n, sizeof(*regs));
  long long *lat = calloc((size_t)n, sizeof(*lat));
  nc_gcli_stream_cbs cbs = {nc_bench_noop_msg, nc_bench_noop_closed};
  nc_gcli *q = wire_open(b, 2, NULL, NULL, NULL);
  if (!regs || !lat || !q)
    goto out;
  nc_bench_conn_open_many(b->env, b->n[0].target, "naming", &cbs, regs, n, NULL, NULL);
  for (int i = 0; i < n; i++) {
    char svc[32], json[1024];
    long long ec = -1;
    if (!regs[i])
      continue;
    snprintf(svc, sizeof(svc), "vis-%d", i);
    size_t l = strlen(naming_head(json, sizeof(json), svc));
    snprintf(json + l, sizeof(json) - l,
             "\"type\":\"registerInstance\",\"instance\":{\"ip\":\"10.2.%d.%d\",\"port\":8080,"
             "\"weight\":1.0,\"healthy\":true,\"enabled\":true,\"ephemeral\":true,"
             "\"clusterName\":\"DEFAULT\",\"metadata\":{}}}",
             i / 250, i % 250);
    long long t0 = nc_bench_now_us();
    if (nc_bench_call_json(regs[i], "InstanceRequest", json, &ec) != 0 || ec != 0)
      continue;
    while (nc_bench_query_hosts(q, svc, NULL) < 1 && nc_bench_now_us() - t0 < 10000000LL)
      usleep(200);
    if (nc_bench_now_us() - t0 < 10000000LL)
      lat[got++] = nc_bench_now_us() - t0;
  }
  if (got == 0)
    goto out;
  qsort(lat, (size_t)got, sizeof(*lat), nc_bench_cmp_ll);
  printf("distro_visible_samples: %d of %d\n", got, n);
  printf("distro_visible_ms_p50: %.1f\n", lat[got / 2] / 1000.0);
  printf("distro_visible_ms_p99: %.1f\n", lat[got * 99 / 100] / 1000.0);
  printf("distro_visible_ms_max: %.1f\n", lat[got - 1] / 1000.0);
  fflush(stdout);
  rc = 0;
out:
  for (int i = 0; regs && i < n; i++)
    if (regs[i])
      nc_gcli_free(regs[i]);
  if (q)
    nc_gcli_free(q);
  free(regs);
  free(lat);
  return rc;
}

/* ---- 2: failover of an agent ---- */

/* The subscriber on C: the agent's and the wire client's instance counts of
 * the last push, and the lowest agent count pushed since `armed`. */
static struct {
  nc_gcli *conn;
  atomic_int last_agent, last_wire, armed, min_agent, pushes;
} g_sub;

static int count_ip(const uint8_t *d, size_t len, const char *ip) {
  char pat[48];
  int n = 0, pl = snprintf(pat, sizeof(pat), "\"ip\":\"%s\"", ip);
  const uint8_t *p = d, *end = d + len;
  while ((p = memmem(p, (size_t)(end - p), pat, (size_t)pl)) != NULL)
    n++, p += pl;
  return n;
}

static void sub_msg(void *ud, const uint8_t *d, size_t len) {
  (void)ud;
  if (nc_bench_lean_ack(g_sub.conn, d, len, "NotifySubscriberRequest",
                        "NotifySubscriberResponse") != 1)
    return;
  int a = count_ip(d, len, AGENT_IP);
  atomic_store(&g_sub.last_agent, a);
  atomic_store(&g_sub.last_wire, count_ip(d, len, WIRE_IP));
  if (atomic_load(&g_sub.armed)) {
    atomic_fetch_add(&g_sub.pushes, 1);
    if (a < atomic_load(&g_sub.min_agent))
      atomic_store(&g_sub.min_agent, a);
  }
}

/* The node index the agent says it is on, or -1. */
static int agent_node(bench *b, nc_ipc *app) {
  cJSON *r = NULL;
  int idx = -1;
  if (nc_ipc_call(app, "agent.status", NULL, 2000, &r) == 0 &&
      cJSON_IsTrue(cJSON_GetObjectItem(r, "connected"))) {
    const char *srv = nc_json_str(r, "server", "");
    for (int i = 0; i < NODES; i++) {
      char a[64];
      snprintf(a, sizeof(a), "127.0.0.1:%d", b->n[i].port);
      if (strcmp(a, srv) == 0)
        idx = i;
    }
  }
  cJSON_Delete(r);
  return idx;
}

static nc_ipc *agent_connect(const char *sock) {
  nc_ipc *app = nc_ipc_new();
  for (int i = 0; app && i < 200; i++) {
    if (nc_ipc_connect(app, sock) == 0)
      return app;
    nc_bench_sleep_ms(50);
  }
  nc_ipc_free(app);
  return NULL;
}

static int agent_register(nc_ipc *app, int n) {
  for (int i = 0; i < n; i++) {
    char js[256];
    snprintf(js, sizeof(js), "{\"service\":\"asvc\",\"ip\":\"" AGENT_IP "\",\"port\":%d}",
             1000 + i);
    cJSON *p = cJSON_Parse(js);
    int rc = nc_ipc_call(app, "naming.register", p, 5000, NULL);
    cJSON_Delete(p);
    if (rc != 0)
      return -1;
  }
  return 0;
}

/* A BatchInstanceRequest body: n instances of svc at ip, ports port0.. */
static void batch_json(char *json, size_t cap, const char *svc, const char *ip, int n, int port0) {
  size_t l = strlen(naming_head(json, cap, svc));
  l += (size_t)snprintf(json + l, cap - l, "\"type\":\"batchRegisterInstance\",\"instances\":[");
  for (int k = 0; k < n && l < cap - 512; k++)
    l += (size_t)snprintf(json + l, cap - l,
                          "%s{\"ip\":\"%s\",\"port\":%d,\"weight\":1.0,\"healthy\":true,"
                          "\"enabled\":true,\"ephemeral\":true,\"clusterName\":\"DEFAULT\","
                          "\"metadata\":{\"app\":\"bench\"}}",
                          k ? "," : "", ip, port0 + k);
  snprintf(json + l, cap - l, "]}");
}

static int wire_batch(nc_gcli *c, int n) {
  char json[16384];
  long long ec = -1;
  batch_json(json, sizeof(json), "asvc", WIRE_IP, n, 2000);
  return nc_bench_call_json(c, "BatchInstanceRequest", json, &ec) == 0 && ec == 0 ? 0 : -1;
}

/* Returns the index of the killed node, or -1. *app_out keeps the agent's
 * app connection (its instances stay registered). */
static int phase_failover(bench *b, pid_t *agent_pid, nc_ipc **app_out) {
  char servers[256], sock[128], cache[128], log[128], json[512];
  int k = -1, rc = -1;
  nc_gcli *wire = NULL;
  nc_gcli_stream_cbs cbs = {sub_msg, nc_bench_noop_closed};
  if (!wire_open(b, 2, &cbs, NULL, &g_sub.conn))
    return -1;
  size_t l = strlen(naming_head(json, sizeof(json), "asvc"));
  snprintf(json + l, sizeof(json) - l, "\"subscribe\":true,\"clusters\":\"\"}");
  long long ec = -1;
  if (nc_bench_call_json(g_sub.conn, "SubscribeServiceRequest", json, &ec) != 0 || ec != 0)
    return -1;
  snprintf(servers, sizeof(servers), "127.0.0.1:%d#%d,127.0.0.1:%d#%d", b->n[0].port, b->n[0].gport,
           b->n[1].port, b->n[1].gport);
  snprintf(sock, sizeof(sock), "%s/agent.sock", b->dir);
  snprintf(cache, sizeof(cache), "%s/cache", b->dir);
  snprintf(log, sizeof(log), "%s/agent.log", b->dir);
  char *argv[] = {b->agent,      "--servers", servers,       "--socket", sock,
                  "--cache-dir", cache,       "--log-level", "warn",     NULL};
  nc_ipc *app = NULL;
  if ((*agent_pid = nc_bench_spawn(argv, log)) <= 0 || !(app = agent_connect(sock)))
    goto out;
  *app_out = app;
  for (int i = 0; i < 200 && (k = agent_node(b, app)) < 0; i++)
    nc_bench_sleep_ms(50);
  if (k < 0 || agent_register(app, b->agent_n) != 0 ||
      !(wire = wire_open(b, k, NULL, NULL, NULL)) || wire_batch(wire, b->wire_n) != 0) {
    fprintf(stderr, "bench: failover set-up failed (agent on node %d)\n", k);
    goto out;
  }
  long long end = nc_bench_now_ms() + 15000;
  while (nc_bench_now_ms() < end && (atomic_load(&g_sub.last_agent) != b->agent_n ||
                                     atomic_load(&g_sub.last_wire) != b->wire_n))
    nc_bench_sleep_ms(10);
  if (nc_bench_now_ms() >= end) {
    fprintf(stderr, "bench: subscriber on C saw %d+%d instances, not %d+%d\n",
            atomic_load(&g_sub.last_agent), atomic_load(&g_sub.last_wire), b->agent_n, b->wire_n);
    goto out;
  }
  atomic_store(&g_sub.min_agent, INT_MAX);
  atomic_store(&g_sub.armed, 1);
  kill(b->n[k].pid, SIGKILL);
  waitpid(b->n[k].pid, NULL, 0);
  b->n[k].pid = 0;
  long long t0 = nc_bench_now_ms(), moved = -1, gone = -1;
  int qmin = INT_MAX;
  nc_gcli_free(wire);
  wire = NULL;
  nc_gcli *q = wire_open(b, 2, NULL, NULL, NULL);
  end = t0 + 45000;
  while (q && nc_bench_now_ms() < end && (moved < 0 || gone < 0)) {
    int qa = nc_bench_query_hosts(q, "asvc", AGENT_IP),
        qall = nc_bench_query_hosts(q, "asvc", NULL);
    if (qa >= 0 && qa < qmin)
      qmin = qa;
    if (moved < 0 && agent_node(b, app) == 1 - k)
      moved = nc_bench_now_ms() - t0;
    if (gone < 0 && qa >= 0 && qall == qa && atomic_load(&g_sub.last_wire) == 0)
      gone = nc_bench_now_ms() - t0;
    nc_bench_sleep_ms(50);
  }
  nc_bench_sleep_ms(500); /* late pushes */
  atomic_store(&g_sub.armed, 0);
  int min = atomic_load(&g_sub.min_agent);
  printf("failover_min_seen: %d of %d (%d pushes since the kill)\n", min == INT_MAX ? -1 : min,
         b->agent_n, atomic_load(&g_sub.pushes));
  printf("failover_min_queried: %d\n", qmin == INT_MAX ? -1 : qmin);
  printf("failover_agent_moved_ms: %lld\n", moved);
  printf("failover_wire_gone_ms: %lld\n", gone);
  fflush(stdout);
  if (q)
    nc_gcli_free(q);
  rc = moved >= 0 && gone >= 0 ? k : -1;
out:
  if (wire)
    nc_gcli_free(wire);
  return rc;
}

/* ---- 4: 30,000 instances from 3,000 connections on B ---- */

/* Request i goes to connection i (one each): per_conn instances of
 * scale-<i%100> at 10.<i/250>.<i%250>.1. */
static const char *load_req(void *ud, long i, int ci, char *json, size_t cap) {
  const bench *b = ud;
  char svc[32], ip[32];
  snprintf(svc, sizeof(svc), "scale-%d", ci % 100);
  snprintf(ip, sizeof(ip), "10.%d.%d.1", 100 + ci / 250, ci % 250);
  batch_json(json, cap, svc, ip, b->per_conn, 8000);
  (void)i;
  return "BatchInstanceRequest";
}

/* Instances on node i reach want (its naming registry); ms or -1. */
static long long wait_instances(bench *b, int i, long long want, int timeout_ms) {
  long long t0 = nc_bench_now_ms();
  while (nc_bench_now_ms() - t0 < timeout_ms) {
    if (metric(b, i, "nacosd_naming_instances") >= want)
      return nc_bench_now_ms() - t0;
    nc_bench_sleep_ms(20);
  }
  fprintf(stderr, "bench: node %d holds %lld instances, not %lld\n", i,
          metric(b, i, "nacosd_naming_instances"), want);
  return -1;
}

static int phase_load(bench *b, int owner, int holder, nc_gcli **conns) {
  long long t_open = nc_bench_now_ms();
  nc_gcli_stream_cbs cbs = {nc_bench_noop_msg, nc_bench_noop_closed};
  int failed = nc_bench_conn_open_many(b->env, b->n[owner].target, "naming", &cbs, conns, b->conns,
                                       NULL, NULL);
  fprintf(stderr, "bench: %d connections to node %d in %lld ms\n", b->conns - failed, owner,
          nc_bench_now_ms() - t_open);
  if (failed)
    return -1;
  nc_bench_sleep_ms(1000);
  long rss0 = nc_bench_rss_kb(b->n[holder].pid), orss0 = nc_bench_rss_kb(b->n[owner].pid);
  long anon0 = nc_bench_proc_kb(b->n[holder].pid, "status", "RssAnon:");
  long long inst0 = metric(b, holder, "nacosd_naming_instances");
  long lfailed = 0;
  long long want = inst0 + (long long)b->conns * b->per_conn, t0 = nc_bench_now_ms();
  double tps = nc_bench_run_load(conns, b->conns, b->conns, 1, 30000, 2048 + 256 * b->per_conn,
                                 load_req, b, &lfailed);
  long long reg_ms = nc_bench_now_ms() - t0;
  if (lfailed || wait_instances(b, holder, want, 60000) < 0)
    return -1;
  long long synced_ms = nc_bench_now_ms() - t0;
  nc_bench_sleep_ms(1000);
  long rss1 = nc_bench_rss_kb(b->n[holder].pid), orss1 = nc_bench_rss_kb(b->n[owner].pid);
  long anon1 = nc_bench_proc_kb(b->n[holder].pid, "status", "RssAnon:");
  double n = (double)b->conns * b->per_conn;
  printf("synced_instances: %.0f from %d connections\n", n, b->conns);
  printf("batch_register_per_s: %.0f (all registered in %lld ms)\n", tps, reg_ms);
  printf("synced_on_holder_ms: %lld\n", synced_ms);
  printf("synced_bytes_per_instance: %.0f (holder RSS +%ld KiB, RssAnon +%ld KiB)\n",
         (rss1 - rss0) * 1024.0 / n, rss1 - rss0, anon1 - anon0);
  printf("owner_bytes_per_instance: %.0f (owner RSS +%ld KiB, its connections excluded)\n",
         (orss1 - orss0) * 1024.0 / n, orss1 - orss0);
  fflush(stdout);
  return 0;
}

/* ---- 3 and 5: Distro traffic of the idle pair ---- */

/* name summed over nodes x and y. */
static long long metric2(bench *b, int x, int y, const char *name) {
  return metric(b, x, name) + metric(b, y, name);
}

static void measure_verify(bench *b, int x, int y, const char *suffix) {
  int ports[2] = {b->n[x].cport, b->n[y].cport};
  long long v0 = metric2(b, x, y, "nacosd_distro_verify_sent_total");
  long long m0 = metric2(b, x, y, "nacosd_distro_verify_mismatches_total");
  long long bytes0 = nc_bench_tcp_bytes(ports, 2);
  double t0 = nc_bench_now_s();
  nc_bench_sleep_ms(b->verify_s * 1000);
  long long bytes1 = nc_bench_tcp_bytes(ports, 2);
  double dt = nc_bench_now_s() - t0;
  long long v1 = metric2(b, x, y, "nacosd_distro_verify_sent_total");
  long long m1 = metric2(b, x, y, "nacosd_distro_verify_mismatches_total");
  if (bytes0 < 0 || bytes1 < 0)
    printf("verify_bytes_per_s%s: n/a (ss failed)\n", suffix);
  else
    printf("verify_bytes_per_s%s: %.0f (%lld bytes in %.1f s, %lld VERIFY sent, %lld "
           "mismatches)\n",
           suffix, (double)(bytes1 - bytes0) / dt, bytes1 - bytes0, dt, v1 - v0, m1 - m0);
  fflush(stdout);
}

/* ---- 6: restart ---- */

static int phase_restart(bench *b, int k, long long want) {
  long long t0 = nc_bench_now_ms();
  if (spawn_node(b, k) != 0)
    return -1;
  long long ready = wait_ready(b, k, 60000);
  if (ready < 0)
    return -1;
  ready = nc_bench_now_ms() - t0;
  long long held = metric(b, k, "nacosd_naming_instances");
  printf("restart_ready_s: %.2f\n", ready / 1000.0);
  printf("restart_instances_at_ready: %lld of %lld\n", held, want);
  printf("restart_snapshot: %lld clients in %lld chunks, load %lld ms\n",
         metric(b, k, "nacosd_distro_snapshot_clients_total"),
         metric(b, k, "nacosd_distro_snapshot_chunks_total"),
         metric(b, k, "nacosd_distro_load_ms"));
  fflush(stdout);
  return 0;
}

/* ---- main ---- */

static int parse(bench *b, int argc, char **argv, int *keep) {
  const char *nacosd = NULL, *agent = NULL;
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int *dst = !strcmp(a, "--samples")           ? &b->samples
               : !strcmp(a, "--agent-instances") ? &b->agent_n
               : !strcmp(a, "--wire-instances")  ? &b->wire_n
               : !strcmp(a, "--conns")           ? &b->conns
               : !strcmp(a, "--per-conn")        ? &b->per_conn
               : !strcmp(a, "--verify-s")        ? &b->verify_s
               : !strcmp(a, "--keep")            ? keep
                                                 : NULL;
    if (!v)
      return -1;
    if (dst)
      *dst = atoi(v);
    else if (!strcmp(a, "--nacosd"))
      nacosd = v;
    else if (!strcmp(a, "--agent"))
      agent = v;
    else
      return -1;
  }
  if (nacosd)
    snprintf(b->nacosd, sizeof(b->nacosd), "%s", nacosd);
  else
    nc_bench_bin_path(b->nacosd, sizeof(b->nacosd), "NC_NACOSD_BIN", "server/nacosd");
  if (agent)
    snprintf(b->agent, sizeof(b->agent), "%s", agent);
  else
    nc_bench_bin_path(b->agent, sizeof(b->agent), "NC_AGENT_BIN", "agent/nacos-agent");
  return b->samples < 1 || b->agent_n < 1 || b->wire_n < 1 || b->conns < 1 || b->per_conn < 1 ||
                 b->per_conn > 50 || b->verify_s < 1
             ? -1
             : 0;
}

int main(int argc, char **argv) {
  static bench b = {
      .samples = 100, .agent_n = 50, .wire_n = 10, .conns = 3000, .per_conn = 10, .verify_s = 15};
  int keep = 0, rc = 1, k = -1;
  pid_t agent = 0;
  nc_ipc *app = NULL;
  nc_gcli **conns = NULL;
  if (parse(&b, argc, argv, &keep) != 0) {
    fprintf(stderr, "usage: bench_cluster [--samples N] [--agent-instances N] "
                    "[--wire-instances N] [--conns N] [--per-conn N<=50] [--verify-s N] "
                    "[--nacosd PATH] [--agent PATH] [--keep 1]\n");
    return 2;
  }
  nc_bench_raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  nc_log_set_level(NC_LOG_WARN);
  snprintf(b.dir, sizeof(b.dir), "/tmp/nc-bench-cluster-XXXXXX");
  if (!mkdtemp(b.dir) || choose_ports(&b) != 0) {
    fprintf(stderr, "bench: no temp dir or free ports\n");
    return 1;
  }
  printf("loadavg_1m_before: %.2f\n", nc_bench_loadavg1());
  printf("nodes: %s\n", b.members);
  fflush(stdout);
  nc_grpc_init();
  if (nc_gcli_env_new(2, &b.env) != 0)
    goto out;
  for (int i = 0; i < NODES; i++)
    if (spawn_node(&b, i) != 0)
      goto out;
  for (int i = 0; i < NODES; i++)
    if (wait_ready(&b, i, 20000) < 0)
      goto out;
  fprintf(stderr, "bench: phase 1: register on A, query C\n");
  if (phase_visible(&b) != 0)
    goto out;
  fprintf(stderr, "bench: phase 2: agent failover\n");
  if ((k = phase_failover(&b, &agent, &app)) < 0)
    goto out;
  int owner = 1 - k, holder = 2;
  fprintf(stderr, "bench: phase 3: idle pair, %d instances\n", b.agent_n);
  measure_verify(&b, owner, holder, "_baseline");
  fprintf(stderr, "bench: phase 4: %d x %d instances on node %d\n", b.conns, b.per_conn, owner);
  if (!(conns = calloc((size_t)b.conns, sizeof(*conns))) ||
      phase_load(&b, owner, holder, conns) != 0)
    goto out;
  fprintf(stderr, "bench: phase 5: idle pair at size\n");
  measure_verify(&b, owner, holder, "");
  fprintf(stderr, "bench: phase 6: restart node %d\n", k);
  if (phase_restart(&b, k, (long long)b.conns * b.per_conn + b.agent_n) != 0)
    goto out;
  rc = 0;
out:
  printf("loadavg_1m_after: %.2f\n", nc_bench_loadavg1());
  fflush(stdout);
  for (int i = 0; conns && i < b.conns; i++)
    if (conns[i])
      nc_gcli_free(conns[i]);
  free(conns);
  if (g_sub.conn)
    nc_gcli_free(g_sub.conn);
  nc_ipc_free(app);
  nc_bench_stop(agent);
  for (int i = 0; i < NODES; i++)
    nc_bench_stop(b.n[i].pid);
  if (b.env)
    nc_gcli_env_free(b.env);
  nc_grpc_shutdown();
  if (rc == 0 && !keep)
    nc_bench_rmtree(b.dir);
  else
    fprintf(stderr, "bench: logs kept in %s\n", b.dir);
  return rc;
}
