/* rebal_itest: helpers of the rebalance and drain tests
 * (test_cluster_rebalance*.c, test_agent_rebalance.c), header-only, on
 * distro_itest.h: a fleet of wire clients, each holding one registered
 * instance of RB_SVC, that follow ConnectResetRequest as the SDKs do (a
 * mover thread connects to serverIp:serverPort+1000 and registers there);
 * odd clients make before break (register on the target, then close, as
 * nacos-agent), even ones break before make (close, then register 300 ms
 * later, as the Java SDK's redo does), so both the agent's order and the
 * server's migrating grace are exercised. Plus a subscriber that records
 * the fewest hosts any push showed, and per-node metrics. */
#ifndef REBAL_ITEST_H
#define REBAL_ITEST_H

#include "distro_itest.h"

#include <pthread.h>

#define RB_SVC "rb-svc"
#define RB_MAX 4000

typedef struct rb_client {
  nc_tw *tw;      /* under the fleet's mu */
  int idx;
  char target[96]; /* "host:grpcPort" of the pending move */
  int queued;
} rb_client;

typedef struct rb_fleet {
  nc_tcluster *c;
  rb_client cl[RB_MAX];
  int n;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int q[RB_MAX], qn; /* pending moves (client indexes), a stack */
  int busy;          /* moves being made */
  pthread_t movers[8];
  int stop;
  int moves, failed, resets;
} rb_fleet;

static rb_fleet g_fleet;
static nc_tcluster *g_rb_cluster; /* stopped by rb_teardown when a test failed */

static inline nc_tw_instance rb_instance(int idx, char *ip, size_t cap) {
  snprintf(ip, cap, "10.9.%d.%d", idx / 250, idx % 250 + 1);
  nc_tw_instance in = {.ip = ip, .port = 8080};
  return in;
}

static void rb_on_push(void *ud, nc_wc *wc, const nc_msg *push);

static inline nc_tw *rb_connect(const char *target, rb_client *cl) {
  nc_tw_opts o = {.timeout_ms = 5000, .on_push = rb_on_push, .ud = cl};
  nc_tw *tw = NULL;
  for (int i = 0; i < 3 && nc_tw_connect(g_env, target, &o, &tw) != 0; i++)
    tw = NULL;
  return tw;
}

static inline int rb_register(nc_tw *tw, int idx) {
  char ip[32];
  nc_tw_instance in = rb_instance(idx, ip, sizeof(ip));
  nc_tw_reply r = nc_tw_register(tw, RB_SVC, &in);
  return nc_tw_ok(&r);
}

/* Completion-queue thread: never blocks; the mover does the work. */
static void rb_on_push(void *ud, nc_wc *wc, const nc_msg *push) {
  rb_client *cl = ud;
  (void)wc;
  if (strcmp(push->type, "ConnectResetRequest") != 0 || !push->body)
    return;
  const char *ip = nc_json_str(push->body, "serverIp", "");
  const char *port = nc_json_str(push->body, "serverPort", "");
  if (!ip[0] || !port[0])
    return;
  pthread_mutex_lock(&g_fleet.mu);
  g_fleet.resets++;
  if (!cl->queued) {
    snprintf(cl->target, sizeof(cl->target), "%s:%d", ip, atoi(port) + 1000);
    cl->queued = 1;
    g_fleet.q[g_fleet.qn++] = cl->idx;
    pthread_cond_signal(&g_fleet.cv);
  }
  pthread_mutex_unlock(&g_fleet.mu);
}

static void *rb_mover(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_fleet.mu);
  for (;;) {
    while (!g_fleet.stop && !g_fleet.qn)
      pthread_cond_wait(&g_fleet.cv, &g_fleet.mu);
    if (g_fleet.stop)
      break;
    rb_client *cl = &g_fleet.cl[g_fleet.q[--g_fleet.qn]];
    char target[96];
    snprintf(target, sizeof(target), "%s", cl->target);
    nc_tw *old = cl->tw;
    g_fleet.busy++;
    pthread_mutex_unlock(&g_fleet.mu);
    nc_tw *nw = NULL;
    int ok = 0;
    if (cl->idx % 2) { /* make before break */
      nw = rb_connect(target, cl);
      ok = nw && rb_register(nw, cl->idx);
      if (ok)
        nc_tw_close(old);
    } else { /* break before make */
      nc_tw_close(old);
      cit_sleep_ms(300);
      nw = rb_connect(target, cl);
      ok = nw && rb_register(nw, cl->idx);
    }
    pthread_mutex_lock(&g_fleet.mu);
    g_fleet.busy--;
    if (ok) {
      cl->tw = nw;
      g_fleet.moves++;
    } else {
      g_fleet.failed++;
      if (nw)
        nc_tw_close(nw);
      if (!(cl->idx % 2))
        cl->tw = NULL; /* its old connection is gone too */
    }
    cl->queued = 0;
  }
  pthread_mutex_unlock(&g_fleet.mu);
  return NULL;
}

static inline void rb_fleet_init(nc_tcluster *c) {
  memset(&g_fleet, 0, sizeof(g_fleet));
  g_rb_cluster = c;
  g_fleet.c = c;
  pthread_mutex_init(&g_fleet.mu, NULL);
  pthread_cond_init(&g_fleet.cv, NULL);
  for (int i = 0; i < 8; i++)
    pthread_create(&g_fleet.movers[i], NULL, rb_mover, NULL);
}

typedef struct rb_open_job {
  int from, to, node_of_mod; /* node_of_mod 0: every client to node 0; else idx % n */
} rb_open_job;

static void *rb_open_range(void *arg) {
  rb_open_job *j = arg;
  for (int i = j->from; i < j->to; i++) {
    rb_client *cl = &g_fleet.cl[i];
    cl->idx = i;
    int node = j->node_of_mod ? i % j->node_of_mod : 0;
    nc_tw *tw = rb_connect(nc_tcluster_node(g_fleet.c, node)->target, cl);
    if (tw && !rb_register(tw, i)) {
      nc_tw_close(tw);
      tw = NULL;
    }
    pthread_mutex_lock(&g_fleet.mu);
    cl->tw = tw;
    pthread_mutex_unlock(&g_fleet.mu);
  }
  return NULL;
}

/* Opens clients [from, to) (two threads), each registering its instance;
 * on node 0 (spread 0) or on node idx % spread. Returns how many failed. */
static inline int rb_fleet_open(int from, int to, int spread) {
  pthread_t th[2];
  int mid = from + (to - from) / 2;
  rb_open_job j[2] = {{from, mid, spread}, {mid, to, spread}};
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, rb_open_range, &j[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  if (to > g_fleet.n)
    g_fleet.n = to;
  int bad = 0;
  pthread_mutex_lock(&g_fleet.mu);
  for (int i = from; i < to; i++)
    bad += g_fleet.cl[i].tw == NULL;
  pthread_mutex_unlock(&g_fleet.mu);
  return bad;
}

/* 1 when no move is queued or being made. */
static inline int rb_fleet_idle(void) {
  pthread_mutex_lock(&g_fleet.mu);
  int idle = !g_fleet.qn && !g_fleet.busy;
  pthread_mutex_unlock(&g_fleet.mu);
  return idle;
}

static inline void rb_fleet_free(void) {
  pthread_mutex_lock(&g_fleet.mu);
  g_fleet.stop = 1;
  pthread_cond_broadcast(&g_fleet.cv);
  pthread_mutex_unlock(&g_fleet.mu);
  for (int i = 0; i < 8; i++)
    pthread_join(g_fleet.movers[i], NULL);
  for (int i = 0; i < g_fleet.n; i++) {
    nc_tw_close(g_fleet.cl[i].tw);
    g_fleet.cl[i].tw = NULL;
  }
  pthread_mutex_destroy(&g_fleet.mu);
  pthread_cond_destroy(&g_fleet.cv);
  g_fleet.c = NULL;
}

/* cmocka teardown: after a failed assertion the fleet and the cluster are
 * still up; stop them so the program ends (a passing test leaves nothing). */
static int rb_teardown(void **state) {
  (void)state;
  if (g_fleet.c)
    rb_fleet_free();
  if (g_rb_cluster)
    nc_tcluster_stop(g_rb_cluster);
  g_rb_cluster = NULL;
  return 0;
}

/* A node's nacosd_<name> metric. */
static inline long long rb_metric(const nc_tcluster *c, int i, const char *name) {
  char full[128];
  snprintf(full, sizeof(full), "nacosd_%s", name);
  return nc_tcluster_metric(c, i, full);
}

/* SDK connections of every node into out[]; the largest distance from
 * the average in percent of it. */
static inline double rb_spread(const nc_tcluster *c, long long *out, int n) {
  long long sum = 0;
  for (int i = 0; i < n; i++)
    sum += out[i] = rb_metric(c, i, "rebalance_sdk_connections");
  double avg = (double)sum / n, worst = 0;
  for (int i = 0; i < n; i++) {
    double d = ((double)out[i] - avg) / (avg > 0 ? avg : 1) * 100.0;
    if (d < 0)
      d = -d;
    if (d > worst)
      worst = d;
  }
  return worst;
}

/* An assertion that first prints every node's log (a failed cmocka
 * assertion leaves the cluster running until the program ends). */
#define RB_ASSERT(c, cond)                                                                          \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      nc_tcluster_dump_logs(c);                                                                    \
    assert_true(cond);                                                                             \
  } while (0)

#endif
