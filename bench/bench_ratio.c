/* bench_ratio: every row of issue 16's table in one run, each nacosd figure
 * next to a ceiling measured on the same gRPC runtime (common/grpc) at the
 * same moment, and their ratio.
 *
 * The ceiling is a forked child running a trivial nc_gsrv: it answers each
 * unary call with canned bytes captured from nacosd a moment before (the
 * same QueryServiceResponse for the same service, an InstanceResponse), and
 * on a FANOUT call pushes a NotifySubscriberRequest of nacosd's size to
 * every open stream, splicing a fresh requestId into each. So the ceiling
 * pays the transport, framing and Payload encode; nacosd pays that plus
 * Nacos.
 *
 * Rows (stdout, `name: nacosd X ceiling Y ratio R goal G`):
 *   query_1000_p50_us   ServiceQueryRequest p50, service with 1,000 hosts
 *   query_1_p50_us      the same, 1 host
 *   register_per_s      InstanceRequest, 4 conns x 64 in flight
 *   register_ctxsw_per_req / register_cpu_us_per_req (server process)
 *   push_cpu_us         server CPU per push in an N-subscriber fan-out
 *   push_fanout_ms      one change -> all N subscribers received
 *   idle_conn_kb        server RSS per idle registered connection
 *   rss_per_instance_b  many instances in one service (goal only)
 *   rss_per_service_b   services with one instance each (goal only)
 *
 * Options: --nacosd PATH, --subscribers N (5000), --rounds N (5),
 * --requests N (40000), --calls N (2000 per p50), --instances N (100000),
 * --services N (20000). Default run well under 2 minutes. */
#include "bench_util.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_grpc_server.h"
#include "nc_log.h"
#include "nc_payload.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the ceiling server (forked child) ---- */

enum { B_Q1000, B_Q1, B_INST, B_PUSH, B_N };
typedef struct blob {
  uint8_t *p;
  size_t n;
} blob;
static blob g_b[B_N];
static nc_gsrv *g_srv;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *g_streams;
static size_t g_nstreams, g_capstreams;
static atomic_long g_acks;
static unsigned long g_reqid;

static void push_all(void) {
  pthread_mutex_lock(&g_mu);
  size_t n = g_nstreams;
  const char *json = (const char *)g_b[B_PUSH].p;
  size_t jl = g_b[B_PUSH].n, cap = jl + 48;
  char *body = malloc(cap);
  for (size_t i = 0; body && i < n; i++) {
    /* what a server must do per subscriber: a requestId and the framing */
    int h = snprintf(body, cap, "{\"requestId\":\"%lu\",", ++g_reqid);
    memcpy(body + h, json + 1, jl - 1);
    uint8_t *out = NULL;
    size_t ol = 0;
    if (nc_payload_encode("NotifySubscriberRequest", "", NULL, 0, body, (size_t)h + jl - 1, &out,
                          &ol) == 0)
      nc_gsrv_stream_send(g_srv, g_streams[i], out, ol);
    free(out);
  }
  free(body);
  pthread_mutex_unlock(&g_mu);
}

static void ceil_event(void *ud, nc_gsrv_ev *ev) {
  (void)ud;
  const void *d = ev->data;
  size_t l = ev->len;
  switch (ev->type) {
  case NC_GSRV_EV_UNARY:
    if (memmem(d, l, "FANOUT", 6)) {
      push_all();
      nc_gsrv_unary_reply(ev->call, (const uint8_t *)"ok", 2);
    } else if (memmem(d, l, "STATS", 5)) {
      char b[32];
      int n = snprintf(b, sizeof(b), "%ld", atomic_load(&g_acks));
      nc_gsrv_unary_reply(ev->call, (const uint8_t *)b, (size_t)n);
    } else if (memmem(d, l, "ServiceQueryRequest", 19)) {
      const blob *b = memmem(d, l, "\"q1000\"", 7) ? &g_b[B_Q1000] : &g_b[B_Q1];
      nc_gsrv_unary_reply(ev->call, b->p, b->n);
    } else {
      nc_gsrv_unary_reply(ev->call, g_b[B_INST].p, g_b[B_INST].n);
    }
    break;
  case NC_GSRV_EV_STREAM_OPEN:
    pthread_mutex_lock(&g_mu);
    if (g_nstreams == g_capstreams) {
      size_t nc = g_capstreams ? g_capstreams * 2 : 1024;
      uint64_t *ns = realloc(g_streams, nc * sizeof(*ns));
      if (ns) {
        g_streams = ns;
        g_capstreams = nc;
      }
    }
    if (g_nstreams < g_capstreams)
      g_streams[g_nstreams++] = ev->stream_id;
    pthread_mutex_unlock(&g_mu);
    break;
  case NC_GSRV_EV_STREAM_MSG:
    atomic_fetch_add(&g_acks, 1);
    break;
  default:
    break;
  }
  nc_gsrv_ev_free(ev);
}

static int read_all(int fd, void *p, size_t n) {
  for (size_t got = 0; got < n;) {
    ssize_t r = read(fd, (char *)p + got, n - got);
    if (r <= 0)
      return -1;
    got += (size_t)r;
  }
  return 0;
}

static int ceiling_child(int in, int out) {
  for (int i = 0; i < B_N; i++) {
    if (read_all(in, &g_b[i].n, sizeof(g_b[i].n)) || !(g_b[i].p = malloc(g_b[i].n + 1)) ||
        read_all(in, g_b[i].p, g_b[i].n))
      return 1;
    g_b[i].p[g_b[i].n] = 0;
  }
  nc_grpc_init();
  int port = 0;
  nc_gsrv_opts o = {.host = "127.0.0.1", .threads = 1, .stream_queue_max = 4096};
  if (nc_gsrv_start(&o, ceil_event, NULL, &g_srv, &port) != 0)
    return 1;
  if (write(out, &port, sizeof(port)) != sizeof(port))
    return 1;
  for (;;)
    pause();
}

/* ---- helpers ---- */

static void row(const char *name, double nacosd, double ceiling, const char *goal) {
  printf("%s: nacosd %.1f ceiling %.1f ratio %.2f goal %s\n", name, nacosd, ceiling,
         ceiling > 0 ? nacosd / ceiling : 0, goal);
  fflush(stdout);
}

static int raw_call(nc_gcli *c, const char *type, const char *json, blob *out) {
  uint8_t *req = NULL;
  size_t rl = 0;
  int rc = nc_payload_encode(type, "", NULL, 0, json, strlen(json), &req, &rl);
  if (!rc)
    rc = nc_gcli_unary(c, req, rl, 10000, &out->p, &out->n);
  free(req);
  return rc;
}

/* p50 in microseconds of serial calls, nacosd and ceiling interleaved in
 * blocks so both see the same machine. */
static void p50_pair(nc_gcli *a, nc_gcli *b, const char *svc, int calls, double *pa, double *pb) {
  uint8_t *req = NULL;
  size_t rl = 0;
  long long *ta = calloc((size_t)calls, sizeof(*ta)), *tb = calloc((size_t)calls, sizeof(*tb));
  int na = 0, nb = 0;
  if (nc_bench_query_payload(svc, &req, &rl) == 0 && ta && tb)
    for (int blk = 0; blk < calls / 100; blk++) {
      na += nc_bench_serial_us(a, req, rl, 100, ta + na);
      nb += nc_bench_serial_us(b, req, rl, 100, tb + nb);
    }
  *pa = nc_bench_median_ll(ta, na);
  *pb = nc_bench_median_ll(tb, nb);
  free(ta);
  free(tb);
  free(req);
}

static const char *reg_req(void *ud, long i, int ci, char *json, size_t cap) {
  const long *a = ud; /* [0] services per conn, [1] conns, [2] tag */
  snprintf(json, cap,
           "{\"namespace\":\"public\",\"serviceName\":\"r%ld-%d-%ld\",\"groupName\":"
           "\"DEFAULT_GROUP\",\"type\":\"registerInstance\",\"module\":\"naming\","
           "\"instance\":{\"ip\":\"10.%d.%ld.%ld\",\"port\":8080,\"weight\":1.0,"
           "\"healthy\":true,\"enabled\":true,\"ephemeral\":true,\"clusterName\":\"DEFAULT\","
           "\"metadata\":{}}}",
           a[2], ci, (i / a[1]) % a[0], ci, (i / 256) % 256, i % 256);
  return "InstanceRequest";
}

/* A BatchInstanceRequest of n hosts 10.<tag>.x.y into svc. */
static char *batch_json(const char *svc, int tag, int n) {
  size_t cap = (size_t)n * 200 + 256, o = 0;
  char *j = malloc(cap);
  if (!j)
    return NULL;
  o += (size_t)snprintf(j, cap,
                        "{\"namespace\":\"public\",\"serviceName\":\"%s\",\"groupName\":"
                        "\"DEFAULT_GROUP\",\"type\":\"batchRegisterInstance\",\"module\":"
                        "\"naming\",\"instances\":[",
                        svc);
  for (int i = 0; i < n; i++)
    o += (size_t)snprintf(j + o, cap - o,
                          "%s{\"ip\":\"10.%d.%d.%d\",\"port\":8080,\"weight\":1.0,\"healthy\":"
                          "true,\"enabled\":true,\"ephemeral\":true,\"clusterName\":"
                          "\"DEFAULT\",\"metadata\":{\"k\":\"v\"}}",
                          i ? "," : "", tag, i / 256, i % 256);
  snprintf(j + o, cap - o, "]}");
  return j;
}

/* ---- fan-out subscribers ---- */

static atomic_int g_n_initial, g_n_changed, g_c_got;

static void nacos_msg(void *ud, const uint8_t *data, size_t len) {
  nc_gcli **c = ud;
  if (nc_bench_lean_ack(*c, data, len, "NotifySubscriberRequest", "NotifySubscriberResponse") !=
      1)
    return;
  if (memmem(data, len, "\"ip\":\"10.1.1.1\"", 15))
    atomic_fetch_add(&g_n_changed, 1);
  else
    atomic_fetch_add(&g_n_initial, 1);
}

static void ceil_msg(void *ud, const uint8_t *data, size_t len) {
  nc_gcli **c = ud;
  if (nc_bench_lean_ack(*c, data, len, "NotifySubscriberRequest", "NotifySubscriberResponse") ==
      1)
    atomic_fetch_add(&g_c_got, 1);
}

static int subscribe_one(nc_gcli *c, void *ud) {
  (void)ud;
  long long ec = -1;
  const char *json = "{\"namespace\":\"public\",\"serviceName\":\"fanout\",\"groupName\":"
                     "\"DEFAULT_GROUP\",\"subscribe\":true,\"clusters\":\"\",\"module\":\"naming\"}";
  return nc_bench_call_json(c, "SubscribeServiceRequest", json, &ec) != 0 || ec != 0;
}

static long ceil_acks(nc_gcli *c) {
  blob r = {0};
  long v = -1;
  if (nc_gcli_unary(c, (const uint8_t *)"STATS", 5, 5000, &r.p, &r.n) == 0 && r.p) {
    char b[32] = "";
    memcpy(b, r.p, r.n < 31 ? r.n : 31);
    v = atol(b);
  }
  free(r.p);
  return v;
}

static void wait_ge(atomic_int *v, int want, int ms) {
  long long end = nc_bench_now_ms() + ms;
  while (atomic_load(v) < want && nc_bench_now_ms() < end)
    nc_bench_sleep_ms(1);
}

int main(int argc, char **argv) {
  const char *nacosd = NULL;
  int subs = 5000, rounds = 5, calls = 2000, ninst = 100000, nsvc = 20000;
  long requests = 40000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    if (!strcmp(a, "--nacosd"))
      nacosd = v;
    else if (!strcmp(a, "--subscribers"))
      subs = atoi(v);
    else if (!strcmp(a, "--rounds"))
      rounds = atoi(v);
    else if (!strcmp(a, "--requests"))
      requests = atol(v);
    else if (!strcmp(a, "--calls"))
      calls = atoi(v);
    else if (!strcmp(a, "--instances"))
      ninst = atoi(v);
    else if (!strcmp(a, "--services"))
      nsvc = atoi(v);
    else {
      fprintf(stderr, "usage: bench_ratio [--nacosd PATH] [--subscribers N] [--rounds N] "
                      "[--requests N] [--calls N] [--instances N] [--services N]\n");
      return 2;
    }
  }
  if (subs < 1 || rounds < 1 || calls < 100 || ninst < 1000 || nsvc < 1000)
    return 2;
  nc_bench_raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  nc_log_set_level(NC_LOG_WARN);
  int to_child[2], from_child[2];
  if (pipe(to_child) || pipe(from_child))
    return 1;
  pid_t cpid = fork(); /* before gRPC starts threads in this process */
  if (cpid == 0) {
    close(to_child[1]);
    close(from_child[0]);
    _exit(ceiling_child(to_child[0], from_child[1]));
  }
  close(to_child[0]);
  close(from_child[1]);

  char dir[64], target[128], ctarget[64];
  int http_port = 0;
  pid_t pid = nc_bench_start_bare_nacosd(nacosd, dir, sizeof(dir), target, sizeof(target),
                                         &http_port);
  if (pid <= 0)
    return 1;
  nc_grpc_init();
  nc_gcli_env *env = NULL;
  if (nc_gcli_env_new(2, &env) != 0)
    return 1;
  nc_gcli_stream_cbs noop = {nc_bench_noop_msg, nc_bench_noop_closed};
  nc_gcli_stream_cbs keep = {nc_bench_keep_msg, nc_bench_noop_closed};
  static nc_gcli *nq, *pubc;
  nc_bench_conn_open(env, target, "naming", &keep, &nq, &nq);
  nc_bench_conn_open(env, target, "naming", &keep, &pubc, &pubc);
  if (!nq || !pubc)
    return 1;
  /* the query services, the fan-out service, and the canned replies */
  char *bj = batch_json("q1000", 2, 1000);
  long long ec = -1;
  if (!bj || nc_bench_call_json(pubc, "BatchInstanceRequest", bj, &ec) || ec != 0) {
    fprintf(stderr, "bench: batch register failed (%lld)\n", ec);
    return 1;
  }
  free(bj);
  const char *one = "{\"namespace\":\"public\",\"serviceName\":\"%s\",\"groupName\":"
                    "\"DEFAULT_GROUP\",\"type\":\"registerInstance\",\"module\":\"naming\","
                    "\"instance\":{\"ip\":\"10.3.0.1\",\"port\":8080,\"weight\":1.0,"
                    "\"healthy\":true,\"enabled\":true,\"ephemeral\":true,\"clusterName\":"
                    "\"DEFAULT\",\"metadata\":{\"k\":\"v\"}}}";
  char j1[512], jf[512];
  snprintf(j1, sizeof(j1), one, "q1");
  snprintf(jf, sizeof(jf), one, "fanout");
  if (raw_call(pubc, "InstanceRequest", j1, &g_b[B_INST]) ||
      nc_bench_call_json(pubc, "InstanceRequest", jf, &ec))
    return 1;
  const char *qj = "{\"namespace\":\"public\",\"serviceName\":\"%s\",\"groupName\":"
                   "\"DEFAULT_GROUP\",\"cluster\":\"\",\"healthyOnly\":false,\"module\":\"naming\"}";
  char qb[300];
  snprintf(qb, sizeof(qb), qj, "q1000");
  if (raw_call(nq, "ServiceQueryRequest", qb, &g_b[B_Q1000]))
    return 1;
  snprintf(qb, sizeof(qb), qj, "q1");
  if (raw_call(nq, "ServiceQueryRequest", qb, &g_b[B_Q1]))
    return 1;
  { /* the push body nacosd would send for fanout: its serviceInfo */
    cJSON *body = NULL;
    snprintf(qb, sizeof(qb), qj, "fanout");
    if (nc_bench_call_body(nq, "ServiceQueryRequest", qb, 10000, &body) || !body)
      return 1;
    cJSON *w = cJSON_CreateObject();
    cJSON_AddItemToObject(w, "headers", cJSON_CreateObject());
    cJSON_AddItemToObject(w, "serviceInfo", cJSON_DetachItemFromObject(body, "serviceInfo"));
    cJSON_AddStringToObject(w, "module", "naming");
    char *s = cJSON_PrintUnformatted(w);
    g_b[B_PUSH].p = (uint8_t *)s;
    g_b[B_PUSH].n = s ? strlen(s) : 0;
    cJSON_Delete(w);
    cJSON_Delete(body);
  }
  for (int i = 0; i < B_N; i++)
    if (write(to_child[1], &g_b[i].n, sizeof(g_b[i].n)) != sizeof(g_b[i].n) ||
        write(to_child[1], g_b[i].p, g_b[i].n) != (ssize_t)g_b[i].n)
      return 1;
  int cport = 0;
  if (read_all(from_child[0], &cport, sizeof(cport)))
    return 1;
  snprintf(ctarget, sizeof(ctarget), "127.0.0.1:%d", cport);
  fprintf(stderr, "bench: ceiling on %s; reply sizes q1000 %zu q1 %zu push %zu\n", ctarget,
          g_b[B_Q1000].n, g_b[B_Q1].n, g_b[B_PUSH].n);
  printf("loadavg_1m_start: %.2f\n", nc_bench_loadavg1());

  /* 0. registry memory, first: later phases free a lot (5,000 connections)
   * that the allocator would reuse without growing RSS. Instances in one
   * service, then many services with one instance each. */
  int per = 1000, nconn = ninst / per; /* MAX_BATCH of naming_handlers.c */
  nc_gcli **mc = calloc((size_t)nconn, sizeof(*mc));
  for (int i = 0; i < nconn; i++)
    nc_bench_conn_open(env, target, "naming", &keep, &mc[i], &mc[i]); /* held to the end */
  nc_bench_sleep_ms(300);
  long m0 = nc_bench_rss_kb(pid);
  for (int i = 0; i < nconn; i++) {
    char *j = batch_json("big", 100 + i % 150, per);
    if (mc[i] && j && (nc_bench_call_json(mc[i], "BatchInstanceRequest", j, &ec) || ec != 0))
      fprintf(stderr, "bench: batch %d failed (%lld)\n", i, ec);
    free(j);
  }
  nc_bench_sleep_ms(300);
  long m1 = nc_bench_rss_kb(pid);
  printf("rss_per_instance_b: nacosd %.0f goal <=300\n", (double)(m1 - m0) * 1024 / ninst);
  int sconn = nsvc / 1000;
  nc_gcli **sc = calloc((size_t)sconn, sizeof(*sc));
  for (int i = 0; i < sconn; i++)
    nc_bench_conn_open(env, target, "naming", &keep, &sc[i], &sc[i]);
  nc_bench_sleep_ms(300);
  long s0 = nc_bench_rss_kb(pid);
  long sa[3] = {1000, sconn, 9};
  nc_bench_run_load(sc, sconn, (long)sconn * 1000, 64, 10000, 512, reg_req, sa, NULL);
  nc_bench_sleep_ms(300);
  long s1 = nc_bench_rss_kb(pid);
  printf("rss_per_service_b: nacosd %.0f goal <=400 (one instance each, included)\n",
         (double)(s1 - s0) * 1024 / ((double)sconn * 1000));
  /* 1. query p50 */
  nc_gcli *cq = NULL;
  if (nc_gcli_new(env, ctarget, NULL, &cq))
    return 1;
  double pa, pb;
  p50_pair(nq, cq, "q1000", calls / 5, &pa, &pb); /* warm-up */
  p50_pair(nq, cq, "q1000", calls, &pa, &pb);
  row("query_1000_p50_us", pa, pb, "<=1.5");
  p50_pair(nq, cq, "q1", calls, &pa, &pb);
  row("query_1_p50_us", pa, pb, "<=1.2");

  /* 2. register throughput, 4 conns x 64 in flight */
  nc_gcli *rn[4], *rc4[4];
  for (int i = 0; i < 4; i++) {
    rn[i] = nc_bench_conn_open(env, target, "naming", &noop, NULL, NULL);
    if (!rn[i] || nc_gcli_new(env, ctarget, NULL, &rc4[i]))
      return 1;
  }
  long ra[3] = {1000, 4, 0};
  nc_bench_run_load(rn, 4, requests / 10, 64, 10000, 512, reg_req, ra, NULL);
  nc_bench_run_load(rc4, 4, requests / 10, 64, 10000, 512, reg_req, ra, NULL);
  long fa = 0, fb = 0;
  long long sw0 = nc_bench_ctxsw(pid), cpu0 = nc_bench_cpu_ms(pid);
  ra[2] = 1;
  double tn = nc_bench_run_load(rn, 4, requests, 64, 10000, 512, reg_req, ra, &fa);
  long long sw1 = nc_bench_ctxsw(pid), cpu1 = nc_bench_cpu_ms(pid);
  double tc = nc_bench_run_load(rc4, 4, requests, 64, 10000, 512, reg_req, ra, &fb);
  ra[2] = 2;
  long long sw3 = nc_bench_ctxsw(cpid), cpu3 = nc_bench_cpu_ms(cpid);
  double tc2 = nc_bench_run_load(rc4, 4, requests, 64, 10000, 512, reg_req, ra, NULL);
  long long sw4 = nc_bench_ctxsw(cpid), cpu4 = nc_bench_cpu_ms(cpid);
  if (fa || fb)
    fprintf(stderr, "bench: register failures nacosd %ld ceiling %ld\n", fa, fb);
  row("register_per_s", tn, tc > tc2 ? tc : tc2, ">=0.8 (higher is better)");
  row("register_ctxsw_per_req", (double)(sw1 - sw0) / (double)requests,
      (double)(sw4 - sw3) / (double)requests, "lower");
  row("register_cpu_us_per_req", (double)(cpu1 - cpu0) * 1000 / (double)requests,
      (double)(cpu4 - cpu3) * 1000 / (double)requests, "lower");

  /* 3. idle connections, then fan-out: nacosd's subscribers first, then the
   * ceiling's, so the client process holds one set at a time */
  nc_gcli **cs = calloc((size_t)subs, sizeof(*cs));
  nc_gcli_stream_cbs ncb = {nacos_msg, nc_bench_noop_closed}, ccb = {ceil_msg, nc_bench_noop_closed};
  nc_bench_sleep_ms(300);
  long r0 = nc_bench_rss_kb(pid);
  int nfail = nc_bench_conn_open_many(env, target, "naming", &ncb, cs, subs, NULL, NULL);
  nc_bench_sleep_ms(500);
  long r1 = nc_bench_rss_kb(pid);
  int sfail = 0;
  for (int i = 0; i < subs; i++)
    if (cs[i] && subscribe_one(cs[i], NULL))
      sfail++;
  int want_n = subs - nfail - sfail;
  wait_ge(&g_n_initial, want_n, 20000);
  fprintf(stderr, "bench: nacosd subscribers %d (%d+%d failed), %d initial pushes\n", want_n,
          nfail, sfail, atomic_load(&g_n_initial));
  nc_bench_sleep_ms(300);
  long long ncpu = 0, ccpu = 0, nms = 0, cms = 0;
  int got_n = 0, got_c = 0;
  for (int round = 0; round < rounds; round++) {
    char json[512];
    snprintf(json, sizeof(json),
             "{\"namespace\":\"public\",\"serviceName\":\"fanout\",\"groupName\":"
             "\"DEFAULT_GROUP\",\"type\":\"registerInstance\",\"instance\":{\"ip\":"
             "\"10.1.1.1\",\"port\":%d}}",
             7000 + round);
    atomic_store(&g_n_changed, 0);
    long long k0 = nc_bench_cpu_ms(pid), t0 = nc_bench_now_ms();
    nc_bench_call_json(pubc, "InstanceRequest", json, &ec);
    wait_ge(&g_n_changed, want_n, 30000);
    nms += nc_bench_now_ms() - t0;
    nc_bench_sleep_ms(200); /* acks land */
    ncpu += nc_bench_cpu_ms(pid) - k0;
    got_n += atomic_load(&g_n_changed);
  }
  for (int i = 0; i < subs; i++)
    if (cs[i])
      nc_gcli_free(cs[i]);
  memset(cs, 0, (size_t)subs * sizeof(*cs));
  nc_bench_sleep_ms(500);
  long c0 = nc_bench_rss_kb(cpid);
  int cfail = 0;
  for (int i = 0; i < subs; i++)
    if (nc_gcli_new(env, ctarget, NULL, &cs[i]) || nc_gcli_stream_open(cs[i], &ccb, &cs[i]) ||
        nc_gcli_stream_send(cs[i], (const uint8_t *)"x", 1))
      cfail++;
  int want_c = subs - cfail;
  long long end = nc_bench_now_ms() + 30000;
  while (ceil_acks(cq) < want_c && nc_bench_now_ms() < end)
    nc_bench_sleep_ms(20);
  nc_bench_sleep_ms(500);
  long c1 = nc_bench_rss_kb(cpid);
  row("idle_conn_kb", (double)(r1 - r0) / (subs - nfail), (double)(c1 - c0) / want_c, "<=20 KB");
  for (int round = 0; round < rounds; round++) {
    atomic_store(&g_c_got, 0);
    long acks0 = ceil_acks(cq);
    long long k0 = nc_bench_cpu_ms(cpid), t0 = nc_bench_now_ms();
    blob r = {0};
    nc_gcli_unary(cq, (const uint8_t *)"FANOUT", 6, 30000, &r.p, &r.n);
    free(r.p);
    wait_ge(&g_c_got, want_c, 30000);
    cms += nc_bench_now_ms() - t0;
    end = nc_bench_now_ms() + 10000;
    while (ceil_acks(cq) < acks0 + want_c && nc_bench_now_ms() < end)
      nc_bench_sleep_ms(5);
    nc_bench_sleep_ms(200);
    ccpu += nc_bench_cpu_ms(cpid) - k0;
    got_c += atomic_load(&g_c_got);
  }
  row("push_cpu_us", got_n ? (double)ncpu * 1000 / got_n : -1,
      got_c ? (double)ccpu * 1000 / got_c : -1, "<=1.15");
  row("push_fanout_ms", (double)nms / rounds, (double)cms / rounds, "lower");
  for (int i = 0; i < subs; i++)
    if (cs[i])
      nc_gcli_free(cs[i]);
  free(cs);

  printf("loadavg_1m_end: %.2f\n", nc_bench_loadavg1());
  fflush(stdout);
  for (int i = 0; i < nconn; i++)
    if (mc[i])
      nc_gcli_free(mc[i]);
  for (int i = 0; i < sconn; i++)
    if (sc[i])
      nc_gcli_free(sc[i]);
  free(mc);
  free(sc);
  for (int i = 0; i < 4; i++) {
    nc_gcli_free(rn[i]);
    nc_gcli_free(rc4[i]);
  }
  nc_gcli_free(cq);
  nc_gcli_free(nq);
  nc_gcli_free(pubc);
  nc_gcli_env_free(env);
  for (int i = 0; i < B_N; i++)
    free(g_b[i].p);
  kill(cpid, SIGKILL);
  waitpid(cpid, NULL, 0);
  nc_bench_stop(pid);
  nc_bench_rmtree(dir);
  nc_grpc_shutdown();
  return 0;
}
