/* Issue 13, acceptance 4 and the limits: three real nodes; a node at its
 * run-time limit (set through another member, forwarded) refuses a new
 * SDK connection at ServerCheck, so a wire client fails at once and lands
 * on another node, and nacos-agent lands elsewhere by itself (also when a
 * reset sends it to a node at its limit); a persistent limit survives a
 * restart (Nacos's data/connection/limitRule), a temporary one does not.
 * Then the loader routes with auth on: no token, a plain user, the admin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "loader_itest.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

#define NODES 3
#define P3 "/nacos/v3/admin/core/loader/"

static nc_tcluster *g_c;
static nc_gcli_env *g_env;

static int setup(void **state) {
  (void)state;
  static const char *const extra[] = {"--auth", "off", "--max-connections-per-ip", "0",
                                      "--cluster-report-ms", "500", NULL};
  nc_grpc_init();
  if (nc_gcli_env_new(1, &g_env) != 0)
    return -1;
  g_c = cit_start(NODES, extra);
  NC_TEST_WAIT(cit_all_up(g_c, NODES), 20000);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int rc = nc_tcluster_stop(g_c);
  nc_gcli_env_free(g_env);
  nc_grpc_shutdown();
  return rc == 0 ? 0 : -1;
}

/* POST limit on via (address = node at) ; the v3 data checked. */
static void set_limit(int via, int at, int count, int persistent) {
  char form[200], a[80];
  int st = 0;
  snprintf(form, sizeof(form), "address=%s&count=%d&persistent=%s",
           cit_addr(g_c, at, a, sizeof(a)), count, persistent ? "true" : "false");
  cJSON *j = lit_json(g_c, via, "POST", P3 "limit", form, NULL, &st);
  assert_int_equal(st, 200);
  const cJSON *d = lit_v3_data(j, 0);
  assert_int_equal(nc_json_int(d, "limit", -9), count);
  cJSON_Delete(j);
}

/* The "nc" extras of node i in viewer's v3 cluster view (caller frees). */
static cJSON *extras_of(int viewer, int i) {
  char a[80];
  int st = 0;
  cJSON *j = lit_json(g_c, viewer, "GET", P3 "cluster", NULL, NULL, &st), *out = NULL;
  const cJSON *e;
  cit_addr(g_c, i, a, sizeof(a));
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(lit_v3_data(j, 0), "detail"))
  if (!strcmp(nc_json_str(e, "address", ""), a))
    out = cJSON_Duplicate(cJSON_GetObjectItem(e, "nc"), 1);
  cJSON_Delete(j);
  return out;
}

/* SDK connections node i's /current lists; the first id into out. */
static int sdk_conns(int i, char *out, size_t cap) {
  cJSON *o = cit_get_json(g_c, i, "/nacos/v2/core/loader/current", NULL);
  const cJSON *e;
  int n = 0;
  if (out)
    out[0] = 0;
  cJSON_ArrayForEach(e, o) {
    if (!cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "metaInfo"), "sdkSource")))
      continue;
    if (!n++ && out)
      snprintf(out, cap, "%s", e->string);
  }
  cJSON_Delete(o);
  return n;
}

static long long refused(int i) {
  return nc_tcluster_metric(g_c, i, "nacosd_connection_limit_checks_refused_total");
}

static void test_node_at_limit_refuses_clients_land_elsewhere(void **state) {
  (void)state;
  /* A's limit, set through B */
  set_limit(1, 0, 1, 0);
  cJSON *x = extras_of(2, 0);
  assert_int_equal(nc_json_int(x, "limit", 0), 1);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(x, "limitPersistent")));
  cJSON_Delete(x);
  nc_tw_opts o = {.timeout_ms = 5000};
  nc_tw *w1 = nc_tw_open(g_env, nc_tcluster_node(g_c, 0)->target, &o);
  assert_non_null(w1);
  /* the second is refused at ServerCheck, at once */
  nc_tw *w2 = NULL;
  long long t0 = nc_test_now_ms();
  assert_int_not_equal(nc_tw_connect(g_env, nc_tcluster_node(g_c, 0)->target, &o, &w2), 0);
  long long took = nc_test_now_ms() - t0;
  assert_null(w2);
  fprintf(stderr, "# refused at the limit in %lld ms\n", took);
  assert_true(took < nc_test_timeout_ms(2000));
  assert_true(refused(0) >= 1);
  /* ... and lands on the next node, as an SDK does */
  w2 = nc_tw_open(g_env, nc_tcluster_node(g_c, 1)->target, &o);
  assert_non_null(w2);
  assert_int_equal(sdk_conns(0, NULL, 0), 1);

  /* the agent with A and B at their limits lands on C */
  set_limit(2, 1, 0, 0);
  char dir[256], servers[512] = "", id[160], form[400], a1[80];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  for (int i = 0; i < NODES; i++) {
    const nc_test_nacosd *s = nc_tcluster_node(g_c, i);
    size_t l = strlen(servers);
    snprintf(servers + l, sizeof(servers) - l, "%s%s:%d#%d", i ? "," : "", s->host, s->port,
             s->grpc_port);
  }
  test_agent ag;
  assert_int_equal(agent_start(&ag, dir, servers, NULL), 0);
  tc *app = tc_open(ag.sock);
  assert_non_null(app);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
  NC_TEST_WAIT(sdk_conns(2, NULL, 0) == 1, 10000);
  assert_int_equal(sdk_conns(0, NULL, 0), 1); /* w1 only */
  assert_int_equal(sdk_conns(1, NULL, 0), 1); /* w2 only */

  /* C full too, A free again; a reset sends the agent to B, which is at
   * its limit: B refuses, the agent takes the node that has room */
  set_limit(0, 2, 0, 0);
  set_limit(1, 0, -1, 0);
  long long b_refused = refused(1);
  assert_int_equal(sdk_conns(2, id, sizeof(id)), 1);
  snprintf(form, sizeof(form), "connectionId=%s&redirectAddress=%s", id,
           cit_addr(g_c, 1, a1, sizeof(a1)));
  int st = 0;
  cJSON *j = lit_json(g_c, 2, "POST", P3 "reloadClient", form, NULL, &st);
  assert_int_equal(st, 200);
  cJSON_Delete(j);
  NC_TEST_WAIT(sdk_conns(0, NULL, 0) == 2 && sdk_conns(2, NULL, 0) == 0, 15000);
  assert_true(refused(1) > b_refused);
  assert_int_equal(sdk_conns(1, NULL, 0), 1);
  fprintf(stderr, "# agent: refused by B %lld time(s), landed on A\n", refused(1) - b_refused);
  /* it works there */
  cJSON *r = tc_call(app, 1,
                     "{\"id\":1,\"op\":\"naming.register\",\"service\":\"lim\",\"ip\":\"10.8.0.1\","
                     "\"port\":1}");
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  tc_close(app);
  assert_int_equal(agent_stop(&ag), 0);
  nc_test_rmtree(dir);
  nc_tw_close(w1);
  nc_tw_close(w2);
  for (int i = 0; i < NODES; i++)
    set_limit(0, i, -1, 0);
  assert_true(nc_tcluster_metric(g_c, 0, "nacosd_loader_forwarded_total") >= 2);
}

static long long rule_of(int i) {
  char path[512], buf[256] = "";
  snprintf(path, sizeof(path), "%s/data/connection/limitRule", nc_tcluster_node(g_c, i)->dir);
  FILE *f = fopen(path, "r");
  if (!f)
    return -100;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  cJSON *o = cJSON_Parse(buf);
  long long v = nc_json_int(o, "countLimit", -99);
  assert_true(cJSON_IsArray(cJSON_GetObjectItem(o, "monitorIpList")));
  cJSON_Delete(o);
  return v;
}

static void test_persistent_limit_survives_restart(void **state) {
  (void)state;
  set_limit(0, 2, 7, 1);
  assert_int_equal(rule_of(2), 7);
  cJSON *x = extras_of(0, 2);
  assert_int_equal(nc_json_int(x, "limit", 0), 7);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(x, "limitPersistent")));
  cJSON_Delete(x);
  /* a temporary one on top: in force now, gone after a restart */
  set_limit(1, 2, 9, 0);
  assert_int_equal(rule_of(2), 7);
  x = extras_of(2, 2);
  assert_int_equal(nc_json_int(x, "limit", 0), 9);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(x, "limitPersistent")));
  cJSON_Delete(x);
  assert_int_equal(nc_tcluster_stop_node(g_c, 2), 0);
  assert_int_equal(nc_tcluster_restart_node(g_c, 2), 0);
  NC_TEST_WAIT(cit_all_up(g_c, NODES), 20000);
  x = extras_of(0, 2);
  assert_non_null(x);
  assert_int_equal(nc_json_int(x, "limit", 0), 7);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(x, "limitPersistent")));
  cJSON_Delete(x);
  assert_int_equal(nc_tcluster_metric(g_c, 2, "nacosd_connection_limit"), 7);
  /* removed for good */
  set_limit(0, 2, -1, 1);
  assert_int_equal(rule_of(2), -1);
}

/* The rebalance switches (rebalance.h's engine) through the loader API:
 * every member at once, one member, drain and undrain, as the cluster view
 * shows them. */
static const char *rebal_of(int viewer, int i, int *draining) {
  static char mode[16];
  cJSON *x = extras_of(viewer, i);
  snprintf(mode, sizeof(mode), "%s", nc_json_str(x, "rebalance", "?"));
  if (draining)
    *draining = cJSON_IsTrue(cJSON_GetObjectItem(x, "draining"));
  cJSON_Delete(x);
  return mode;
}

static const char *rebal_all(int viewer) {
  static char mode[16];
  int st = 0;
  cJSON *j = lit_json(g_c, viewer, "GET", P3 "cluster", NULL, NULL, &st);
  snprintf(mode, sizeof(mode), "%s",
           nc_json_str(cJSON_GetObjectItem(lit_v3_data(j, 0), "nc"), "rebalance", "?"));
  cJSON_Delete(j);
  return mode;
}

static void test_rebalance_switches(void **state) {
  (void)state;
  char form[200], a[80];
  int st = 0, dr = 0;
  /* until nacosd hands the engine to the loader (main.c) these answer 503 */
  cJSON *j = lit_json(g_c, 0, "POST", P3 "undrain", NULL, NULL, &st);
  cJSON_Delete(j);
  if (st == 503) {
    fprintf(stderr, "# the rebalance engine is not wired to the loader in this build: skipped\n");
    skip();
  }
  j = lit_json(g_c, 0, "POST", P3 "rebalance", "enabled=false", NULL, &st);
  assert_int_equal(st, 200);
  const cJSON *d = lit_v3_data(j, 0);
  assert_int_equal(cJSON_GetArraySize(d), NODES); /* one result per member */
  cJSON_Delete(j);
  assert_string_equal(rebal_all(1), "off");
  snprintf(form, sizeof(form), "enabled=true&address=%s", cit_addr(g_c, 1, a, sizeof(a)));
  j = lit_json(g_c, 2, "POST", P3 "rebalance", form, NULL, &st);
  assert_int_equal(st, 200);
  cJSON_Delete(j);
  assert_string_equal(rebal_of(0, 1, NULL), "auto");
  assert_string_equal(rebal_of(0, 0, NULL), "off");
  assert_string_equal(rebal_all(0), "mixed");
  j = lit_json(g_c, 0, "POST", P3 "rebalance", "enabled=maybe", NULL, &st);
  assert_int_equal(st, 400);
  lit_v3_data(j, 20002);
  cJSON_Delete(j);
  /* drain C from A, then undrain */
  snprintf(form, sizeof(form), "address=%s", cit_addr(g_c, 2, a, sizeof(a)));
  j = lit_json(g_c, 0, "POST", P3 "drain", form, NULL, &st);
  assert_int_equal(st, 200);
  cJSON_Delete(j);
  rebal_of(1, 2, &dr);
  assert_true(dr);
  j = lit_json(g_c, 0, "POST", P3 "undrain", form, NULL, &st);
  assert_int_equal(st, 200);
  cJSON_Delete(j);
  rebal_of(1, 2, &dr);
  assert_false(dr);
  j = lit_json(g_c, 0, "POST", P3 "rebalance", "enabled=false", NULL, &st);
  assert_int_equal(st, 200);
  cJSON_Delete(j);
}

/* ---- auth on: admin only ---- */

static void test_loader_routes_admin_only(void **state) {
  (void)state;
  char dir[256], pw[300], *body = NULL;
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(pw, sizeof(pw), "%s/admin.pw", dir);
  FILE *fp = fopen(pw, "w");
  assert_non_null(fp);
  fputs("Adm1n-pw\n", fp);
  fclose(fp);
  const char *args[] = {"--auth", "on", "--admin-password-file", pw, NULL};
  nc_test_nacosd_opts o = {.dir = dir, .args = args};
  nc_test_nacosd s;
  assert_int_equal(nc_test_nacosd_start_opts(&o, &s), 0);
  /* no token */
  assert_int_equal(lit_http(s.host, s.port, "POST", P3 "limit", "count=3", NULL, &body), 403);
  free(body);
  assert_int_equal(lit_http(s.host, s.port, "GET", "/nacos/v2/core/loader/cluster", NULL, NULL,
                            &body),
                   403);
  free(body);
  assert_int_equal(lit_http(s.host, s.port, "POST", P3 "smartReloadCluster", NULL, "bad.to.ken",
                            &body),
                   403);
  free(body);
  /* the admin, and a plain user */
  assert_int_equal(lit_http(s.host, s.port, "POST", "/nacos/v1/auth/users/login",
                            "username=nacos&password=Adm1n-pw", NULL, &body),
                   200);
  cJSON *j = cJSON_Parse(body);
  free(body);
  char tok[1024];
  snprintf(tok, sizeof(tok), "%s", nc_json_str(j, "accessToken", ""));
  cJSON_Delete(j);
  assert_int_equal(lit_http(s.host, s.port, "POST", "/nacos/v1/auth/users",
                            "username=bob&password=b0b-pw", tok, &body),
                   200);
  free(body);
  assert_int_equal(lit_http(s.host, s.port, "POST", "/nacos/v1/auth/users/login",
                            "username=bob&password=b0b-pw", NULL, &body),
                   200);
  j = cJSON_Parse(body);
  free(body);
  char bob[1024];
  snprintf(bob, sizeof(bob), "%s", nc_json_str(j, "accessToken", ""));
  cJSON_Delete(j);
  assert_int_equal(lit_http(s.host, s.port, "POST", P3 "limit", "count=3", bob, &body), 403);
  free(body);
  assert_int_equal(lit_http(s.host, s.port, "GET", P3 "current", NULL, bob, &body), 403);
  free(body);
  assert_int_equal(lit_http(s.host, s.port, "POST", P3 "limit", "count=3", tok, &body), 200);
  free(body);
  assert_int_equal(nc_test_nacosd_metric(s.port, "nacosd_connection_limit"), 3);
  assert_int_equal(lit_http(s.host, s.port, "GET", P3 "cluster", NULL, tok, &body), 200);
  free(body);
  assert_int_equal(nc_test_nacosd_stop(&s), 0);
  /* the operator's action is in the log, with who */
  char logp[400], line[1024];
  int seen = 0;
  snprintf(logp, sizeof(logp), "%s/nacosd.log", dir);
  fp = fopen(logp, "r");
  while (fp && fgets(line, sizeof(line), fp))
    seen |= strstr(line, "loader: limit by nacos@127.0.0.1") != NULL;
  if (fp)
    fclose(fp);
  assert_true(seen);
  nc_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_node_at_limit_refuses_clients_land_elsewhere),
      cmocka_unit_test(test_persistent_limit_survives_restart),
      cmocka_unit_test(test_rebalance_switches),
      cmocka_unit_test(test_loader_routes_admin_only),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
