/* Issue 13, acceptance 2: three real nodes, 600 wire connections all on
 * node A, balanced through the loader API alone (automatic rebalance
 * off): reloadCurrent (forwarded from B to A) and smartReloadCluster
 * rounds read off /cluster until every node is within 10 % of the average
 * (--rebalance off: nothing else moves them);
 * no registration is lost (queried through other nodes); every loader
 * endpoint's JSON checked against Nacos's fields and types (2.x raw, 3.x
 * Result envelope). The clients follow ConnectResetRequest as the Go SDK
 * does (connect to serverIp:serverPort+1000, redo, then close the old
 * connection). Then the error paths: bad and missing parameters, an
 * unknown connection, redirects to a non-member and to a DOWN member,
 * forwarding to an unknown and to a dead member, and the cluster request
 * types as a Java peer sends them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "loader_itest.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#define NODES 3
#define N_CONN 600
#define OPENERS 4
#define SVC "lb"
#define RESET "ConnectResetRequest"

typedef struct client {
  nc_tw *tw;
  int node, handled, idx;
} client;

static nc_tcluster *g_c;
static nc_gcli_env *g_env;
static client g_cl[N_CONN];
static atomic_int g_stop, g_moves, g_move_fail;
static pthread_t g_mover;

static nc_tw_instance inst_of(int i, char *ip, size_t cap) {
  snprintf(ip, cap, "10.20.%d.%d", i / 250, i % 250 + 1);
  return (nc_tw_instance){.ip = ip, .port = 8000};
}

static nc_tw *open_on(int node, int i) {
  char ip[32];
  nc_tw_opts o = {.app_name = "lb", .timeout_ms = 5000};
  nc_tw *tw = nc_tw_open(g_env, nc_tcluster_node(g_c, node)->target, &o);
  nc_tw_instance in = inst_of(i, ip, sizeof(ip));
  if (tw && nc_tw_register(tw, SVC, &in).result_code != 200) {
    nc_tw_close(tw);
    return NULL;
  }
  return tw;
}

static int node_of(const char *ip, const char *port) {
  for (int i = 0; ip && port && i < NODES; i++) {
    const nc_test_nacosd *s = nc_tcluster_node(g_c, i);
    if (!strcmp(s->host, ip) && s->port == atoi(port))
      return i;
  }
  return -1;
}

/* Follows resets as the Go SDK: the named server (make before break). */
static void *mover(void *arg) {
  (void)arg;
  while (!atomic_load(&g_stop)) {
    for (int i = 0; i < N_CONN; i++) {
      client *c = &g_cl[i];
      if (!c->tw || nc_tw_push_count(c->tw, RESET) <= c->handled)
        continue;
      cJSON *p = nc_tw_push_get(c->tw, RESET, c->handled, NULL, 0);
      c->handled++;
      int to = node_of(nc_json_str(p, "serverIp", NULL), nc_json_str(p, "serverPort", NULL));
      cJSON_Delete(p);
      if (to < 0)
        to = (c->node + 1) % NODES; /* empty reset: the next server */
      nc_tw *n = open_on(to, c->idx);
      if (!n) {
        atomic_fetch_add(&g_move_fail, 1);
        continue;
      }
      nc_tw_close(c->tw);
      c->tw = n;
      c->node = to;
      c->handled = 0;
      atomic_fetch_add(&g_moves, 1);
    }
    cit_sleep_ms(10);
  }
  return NULL;
}

typedef struct range {
  int from, to;
  pthread_t th;
} range;

static void *open_range(void *arg) {
  range *r = arg;
  for (int i = r->from; i < r->to; i++) {
    g_cl[i] = (client){.tw = open_on(0, i), .node = 0, .idx = i};
  }
  return NULL;
}

static int setup(void **state) {
  (void)state;
  static const char *const extra[] = {"--auth", "off", "--max-connections-per-ip", "0",
                                      "--cluster-report-ms", "500", "--push-merge-ms", "100",
                                      "--loader-reset-rate", "200", "--rebalance", "off", NULL};
  nc_grpc_init();
  if (nc_gcli_env_new(2, &g_env) != 0)
    return -1;
  g_c = cit_start(NODES, extra);
  NC_TEST_WAIT(cit_all_up(g_c, NODES), 20000);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  atomic_store(&g_stop, 1);
  for (int i = 0; i < N_CONN; i++)
    nc_tw_close(g_cl[i].tw);
  int rc = nc_tcluster_stop(g_c);
  nc_gcli_env_free(g_env);
  nc_grpc_shutdown();
  return rc == 0 ? 0 : -1;
}

static const char *addr_of(int i, char *buf, size_t cap) { return cit_addr(g_c, i, buf, cap); }

/* sdkConCount of node i as the v3 cluster view of viewer gives it; -1. */
static long sdk_of(const cJSON *data, int i) {
  char a[80];
  addr_of(i, a, sizeof(a));
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(data, "detail"))
  if (!strcmp(nc_json_str(e, "address", ""), a))
    return (long)nc_json_int(e, "sdkConCount", -1);
  return -1;
}

static cJSON *v3_cluster(int viewer) {
  int st = 0;
  cJSON *j = lit_json(g_c, viewer, "GET", "/nacos/v3/admin/core/loader/cluster", NULL, NULL, &st);
  assert_int_equal(st, 200);
  return j;
}

static int balanced(const cJSON *data, long *counts) {
  long avg = (long)nc_json_int(data, "avg", 0);
  int ok = nc_json_int(data, "total", 0) == N_CONN;
  for (int i = 0; i < NODES; i++) {
    counts[i] = sdk_of(data, i);
    ok = ok && counts[i] >= avg - avg / 10 && counts[i] <= avg + avg / 10;
  }
  return ok;
}

/* 2.x /cluster: raw JSON, metric values strings, threshold a number. */
static void check_v2_cluster(int viewer) {
  int st = 0;
  cJSON *j = lit_json(g_c, viewer, "GET", "/nacos/v2/core/loader/cluster", NULL, NULL, &st);
  assert_int_equal(st, 200);
  assert_non_null(j);
  static const char *const nums[] = {"total", "min", "max", "avg", "threshold", "memberCount",
                                     "metricsCount"};
  for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
    LIT_NUM(j, nums[i]);
  LIT_BOOL(j, "completed");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "completed")));
  assert_int_equal(nc_json_int(j, "memberCount", 0), NODES);
  assert_int_equal(nc_json_int(j, "metricsCount", 0), NODES);
  assert_int_equal(nc_json_int(j, "total", 0), N_CONN);
  assert_int_equal(nc_json_int(j, "avg", 0), N_CONN / NODES);
  assert_true(nc_json_num(j, "threshold", 0) > 219.9 && nc_json_num(j, "threshold", 0) < 220.1);
  const cJSON *d = cJSON_GetObjectItem(j, "detail"), *e;
  assert_int_equal(cJSON_GetArraySize(d), NODES);
  char prev[80] = "";
  cJSON_ArrayForEach(e, d) {
    LIT_STR(e, "address");
    assert_true(strcmp(prev, nc_json_str(e, "address", "")) < 0); /* sorted */
    snprintf(prev, sizeof(prev), "%s", nc_json_str(e, "address", ""));
    const cJSON *m = cJSON_GetObjectItem(e, "metric");
    assert_non_null(m);
    LIT_STR(m, "conCount");
    LIT_STR(m, "sdkConCount");
    LIT_STR(m, "load");
    LIT_STR(m, "cpu");
    const cJSON *nc = cJSON_GetObjectItem(e, "nc");
    assert_non_null(nc);
    assert_string_equal(nc_json_str(nc, "state", ""), "UP");
    LIT_BOOL(nc, "ready");
    LIT_NUM(nc, "limit");
    LIT_BOOL(nc, "limitPersistent");
    LIT_BOOL(nc, "draining");
    LIT_STR(nc, "rebalance");
    LIT_NUM(nc, "diff");
    LIT_NUM(nc, "movesOut");
    assert_true(nc_json_num(nc, "memoryBytes", 0) > 1e6);
    assert_int_equal(nc_json_int(nc, "diff", 0),
                     atol(nc_json_str(m, "sdkConCount", "0")) - N_CONN / NODES);
  }
  cJSON_Delete(j);
}

static void check_v3_cluster(const cJSON *res) {
  const cJSON *d = lit_v3_data(res, 0), *e;
  LIT_STR(d, "threshold");
  LIT_NUM(d, "total");
  LIT_NUM(d, "avg");
  LIT_BOOL(d, "completed");
  LIT_OBJ(d, "nc");
  LIT_STR(cJSON_GetObjectItem(d, "nc"), "rebalance");
  LIT_NUM(cJSON_GetObjectItem(d, "nc"), "movesPerSecCap");
  /* acceptance 2: automatic rebalance off, the loader API alone moves */
  assert_string_equal(nc_json_str(cJSON_GetObjectItem(d, "nc"), "rebalance", ""), "off");
  assert_true(nc_json_int(cJSON_GetObjectItem(d, "nc"), "movesPerSecCap", 0) > 0);
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(d, "detail")) {
    LIT_STR(e, "address");
    LIT_NUM(e, "sdkConCount");
    LIT_NUM(e, "conCount");
    LIT_STR(e, "load");
    LIT_STR(e, "cpu");
    LIT_OBJ(e, "nc");
    assert_null(cJSON_GetObjectItem(e, "metric"));
  }
}

static void check_current(void) {
  char path[256], a0[80];
  int st = 0;
  /* 2.x on A: the raw map, every SDK connection and the members' */
  cJSON *j = lit_json(g_c, 0, "GET", "/nacos/v2/core/loader/current", NULL, NULL, &st);
  assert_int_equal(st, 200);
  assert_true(cJSON_GetArraySize(j) >= N_CONN);
  int sdk = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, j) {
    lit_check_connection(e, 0);
    sdk += cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "metaInfo"), "sdkSource"));
  }
  assert_int_equal(sdk, N_CONN);
  cJSON_Delete(j);
  /* 3.x through B, forwarded to A: namespaceId instead of tenant */
  snprintf(path, sizeof(path), "/nacos/v3/admin/core/loader/current?address=%s",
           addr_of(0, a0, sizeof(a0)));
  j = lit_json(g_c, 1, "GET", path, NULL, NULL, &st);
  assert_int_equal(st, 200);
  const cJSON *d = lit_v3_data(j, 0);
  assert_true(cJSON_GetArraySize(d) >= N_CONN);
  lit_check_connection(d->child, 1);
  cJSON_Delete(j);
}

static void test_skew_balanced_through_loader_api(void **state) {
  (void)state;
  char form[256], a0[80], a1[80];
  int st = 0;
  long long t0 = nc_test_now_ms();
  range r[OPENERS];
  for (int t = 0; t < OPENERS; t++) {
    r[t] = (range){.from = t * N_CONN / OPENERS, .to = (t + 1) * N_CONN / OPENERS};
    pthread_create(&r[t].th, NULL, open_range, &r[t]);
  }
  for (int t = 0; t < OPENERS; t++)
    pthread_join(r[t].th, NULL);
  for (int i = 0; i < N_CONN; i++)
    assert_non_null(g_cl[i].tw);
  fprintf(stderr, "# %d connections on A in %lld ms\n", N_CONN, nc_test_now_ms() - t0);
  pthread_create(&g_mover, NULL, mover, NULL);

  check_v2_cluster(1);
  cJSON *v = v3_cluster(2);
  check_v3_cluster(v);
  long conA = 0;
  {
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(lit_v3_data(v, 0), "detail"))
    if (!strcmp(nc_json_str(e, "address", ""), addr_of(0, a0, sizeof(a0))))
      conA = (long)nc_json_int(e, "conCount", 0);
  }
  cJSON_Delete(v);
  assert_true(conA >= N_CONN);
  check_current();

  /* reloadCurrent, asked of B, run by A: shed 200 towards B */
  t0 = nc_test_now_ms();
  snprintf(form, sizeof(form), "address=%s&count=%ld&redirectAddress=%s", a0, conA - 200,
           addr_of(1, a1, sizeof(a1)));
  cJSON *res = lit_json(g_c, 1, "POST", "/nacos/v3/admin/core/loader/reloadCurrent", form, NULL,
                        &st);
  assert_int_equal(st, 200);
  lit_v3_data(res, 0);
  cJSON_Delete(res);
  long counts[NODES] = {0};
  long long end = nc_test_now_ms() + nc_test_timeout_ms(20000);
  for (;;) {
    v = v3_cluster(0);
    counts[1] = sdk_of(lit_v3_data(v, 0), 1);
    cJSON_Delete(v);
    if (counts[1] >= 200 || nc_test_now_ms() > end)
      break;
    cit_sleep_ms(200);
  }
  assert_int_equal(counts[1], 200);
  fprintf(stderr, "# reloadCurrent: 200 moved A -> B in %lld ms\n", nc_test_now_ms() - t0);

  /* smartReloadCluster (2.x GET on C) until balanced */
  int rounds = 0;
  for (; rounds < 25; rounds++) {
    v = v3_cluster(rounds % NODES);
    int ok = balanced(lit_v3_data(v, 0), counts);
    cJSON_Delete(v);
    fprintf(stderr, "# round %d: %ld %ld %ld\n", rounds, counts[0], counts[1], counts[2]);
    if (ok)
      break;
    char *body = NULL;
    const nc_test_nacosd *s = nc_tcluster_node(g_c, 2);
    assert_int_equal(lit_http(s->host, s->port, "GET", "/nacos/v2/core/loader/smartReloadCluster",
                              NULL, NULL, &body),
                     200);
    assert_string_equal(body, "Ok");
    free(body);
    /* the ejector acts on its next second; resets go out paced */
    cit_sleep_ms(1600);
    NC_TEST_WAIT(nc_tcluster_metric(g_c, 0, "nacosd_loader_resets_pending") == 0 &&
                     nc_tcluster_metric(g_c, 1, "nacosd_loader_resets_pending") == 0,
                 10000);
    cit_sleep_ms(300);
  }
  assert_true(rounds < 25);
  fprintf(stderr,
          "# balanced %ld/%ld/%ld after %d smartReloadCluster rounds, %d moves (%d failed), "
          "%lld ms from the first reload\n",
          counts[0], counts[1], counts[2], rounds, atomic_load(&g_moves),
          atomic_load(&g_move_fail), nc_test_now_ms() - t0);
  assert_int_equal(atomic_load(&g_move_fail), 0);

  /* no registration lost, seen through B and C */
  for (int q = 1; q < NODES; q++) {
    nc_tw *qc = nc_tw_open(g_env, nc_tcluster_node(g_c, q)->target, NULL);
    assert_non_null(qc);
    int hosts = -1;
    end = nc_test_now_ms() + nc_test_timeout_ms(10000);
    while ((hosts = nc_tw_query_hosts(qc, SVC)) != N_CONN && nc_test_now_ms() < end)
      cit_sleep_ms(200);
    assert_int_equal(hosts, N_CONN);
    nc_tw_close(qc);
  }
  /* the metrics counted the calls */
  assert_true(nc_tcluster_metric(g_c, 2, "nacosd_loader_calls_total{op=\"smartReloadCluster\"}") >=
              1);
  assert_true(nc_tcluster_metric(g_c, 1, "nacosd_loader_forwarded_total") >= 2);
}

/* The cluster request types as a member (Java or nacos-c) sends them. */
static void test_cluster_request_types(void **state) {
  (void)state;
  char target[96], a1[80];
  const nc_test_nacosd *s = nc_tcluster_node(g_c, 0);
  snprintf(target, sizeof(target), "%s:%d", s->host, s->cluster_port);
  nc_tw *peer = nc_tw_open(g_env, target, NULL);
  assert_non_null(peer);
  nc_msg *m = nc_tw_call(peer, "ServerLoaderInfoRequest", NULL);
  assert_non_null(m);
  assert_string_equal(m->type, "ServerLoaderInfoResponse");
  const cJSON *lm = cJSON_GetObjectItem(m->body, "loaderMetrics");
  LIT_STR(lm, "conCount");
  LIT_STR(lm, "sdkConCount");
  LIT_STR(lm, "load");
  LIT_STR(lm, "cpu");
  assert_true(strchr(nc_json_str(lm, "cpu", ""), '.') != NULL); /* Java's float text */
  nc_msg_free(m);
  /* a reload to a count above the node's: "ignore", nothing shed */
  cJSON *b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "reloadCount", 100000);
  cJSON_AddStringToObject(b, "reloadServer", addr_of(1, a1, sizeof(a1)));
  m = nc_tw_call(peer, "ServerReloadRequest", b);
  assert_non_null(m);
  assert_string_equal(m->type, "ServerReloadResponse");
  assert_int_equal(nc_json_int(m->body, "resultCode", 0), 200);
  assert_string_equal(nc_json_str(m->body, "message", ""), "ignore");
  nc_msg_free(m);
  /* a reload towards a non-member is refused */
  b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "reloadCount", 0);
  cJSON_AddStringToObject(b, "reloadServer", "10.255.0.1:8848");
  m = nc_tw_call(peer, "ServerReloadRequest", b);
  assert_non_null(m);
  assert_int_not_equal(nc_json_int(m->body, "resultCode", 200), 200);
  nc_msg_free(m);
  /* not on the SDK port */
  nc_tw *sdk = nc_tw_open(g_env, s->target, NULL);
  assert_non_null(sdk);
  assert_int_not_equal(nc_tw_call_reply(sdk, "ServerLoaderInfoRequest", NULL).result_code, 200);
  nc_tw_close(sdk);
  nc_tw_close(peer);
  assert_int_equal(nc_tcluster_metric(g_c, 0, "nacosd_loader_resets_pending"), 0);
}

static void expect_v3_error(int node, const char *method, const char *path, const char *form,
                            int status, int code, const char *part) {
  int st = 0;
  cJSON *j = lit_json(g_c, node, method, path, form, NULL, &st);
  if (st != status)
    fail_msg("%s %s: status %d, want %d", method, path, st, status);
  const cJSON *d = lit_v3_data(j, code);
  if (part && (!cJSON_IsString(d) || !strstr(d->valuestring, part)))
    fail_msg("%s %s: data '%s' lacks '%s'", method, path, cJSON_IsString(d) ? d->valuestring : "-",
             part);
  cJSON_Delete(j);
}

#define P3 "/nacos/v3/admin/core/loader/"

static void test_error_paths(void **state) {
  (void)state;
  char form[256], a2[80], path[256];
  const char *id = nc_tw_id(g_cl[0].tw);
  expect_v3_error(0, "POST", P3 "reloadCurrent", NULL, 400, 10000, "'count'");
  expect_v3_error(0, "POST", P3 "reloadCurrent", "count=ten", 400, 20002, "count");
  expect_v3_error(0, "POST", P3 "reloadCurrent", "count=-3", 400, 20002, "count");
  expect_v3_error(0, "POST", P3 "reloadClient", NULL, 400, 10000, "'connectionId'");
  expect_v3_error(0, "POST", P3 "reloadClient", "connectionId=1_2_3", 404, 20004, "not found");
  expect_v3_error(0, "POST", P3 "smartReloadCluster", "loaderFactor=x", 400, 20002, "loaderFactor");
  expect_v3_error(0, "POST", P3 "limit", "count=-2", 400, 20002, "count");
  snprintf(form, sizeof(form), "connectionId=%s&redirectAddress=10.255.0.1:8848", id);
  expect_v3_error(g_cl[0].node, "POST", P3 "reloadClient", form, 400, 20002, "not a member");
  expect_v3_error(0, "GET", P3 "current?address=10.255.0.1:8848", NULL, 400, 20002, "not a member");
  expect_v3_error(1, "POST", P3 "limit", "count=5&address=10.255.0.1:1", 400, 20002, "not a member");
  /* 2.x: one line of text */
  char *body = NULL;
  const nc_test_nacosd *s0 = nc_tcluster_node(g_c, 0);
  assert_int_equal(lit_http(s0->host, s0->port, "GET", "/nacos/v2/core/loader/reloadCurrent",
                            NULL, NULL, &body),
                   400);
  assert_non_null(strstr(body, "'count'"));
  free(body);
  /* nothing was sent by any of these */
  for (int i = 0; i < NODES; i++)
    assert_int_equal(nc_tcluster_metric(g_c, i, "nacosd_loader_resets_pending"), 0);

  /* C dies: a redirect to it is refused, forwarding to it fails, the view
   * is incomplete */
  assert_int_equal(nc_tcluster_kill_node(g_c, 2, SIGKILL), 128 + SIGKILL);
  NC_TEST_WAIT(cit_is(g_c, 0, 2, "DOWN") && cit_is(g_c, 1, 2, "DOWN"), 30000);
  addr_of(2, a2, sizeof(a2));
  int on = g_cl[0].node == 2 ? 1 : g_cl[0].node;
  id = nc_tw_id(g_cl[0].tw);
  snprintf(form, sizeof(form), "connectionId=%s&redirectAddress=%s", id, a2);
  expect_v3_error(on, "POST", P3 "reloadClient", form, 400, 20002, "DOWN");
  snprintf(path, sizeof(path), P3 "current?address=%s", a2);
  expect_v3_error(0, "GET", path, NULL, 502, 30000, a2);
  int st = 0;
  cJSON *v = lit_json(g_c, 0, "GET", P3 "cluster", NULL, NULL, &st);
  const cJSON *d = lit_v3_data(v, 0);
  assert_int_equal(nc_json_int(d, "metricsCount", 0), 2);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(d, "completed")));
  const cJSON *miss = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "nc"), "missing");
  assert_int_equal(cJSON_GetArraySize(miss), 1);
  assert_string_equal(miss->child->valuestring, a2);
  cJSON_Delete(v);
  assert_true(nc_tcluster_metric(g_c, 0, "nacosd_loader_redirects_refused_total") +
                  nc_tcluster_metric(g_c, 1, "nacosd_loader_redirects_refused_total") >=
              2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_skew_balanced_through_loader_api),
      cmocka_unit_test(test_cluster_request_types),
      cmocka_unit_test(test_error_paths),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
