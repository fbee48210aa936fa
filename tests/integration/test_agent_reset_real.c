/* nacos-agent moved by a real nacosd's connection console: a real
 * three-node cluster in --servers (a reset may only name a member that is
 * UP and ready); the node the agent uses is told
 * GET /nacos/v2/core/loader/reloadClient?connectionId=..&redirectAddress=
 * <main address of another member>, sends ConnectResetRequest, and the
 * agent must move to exactly that server (not a random one) and redo its
 * registration and subscription there. Done twice, so a lucky random pick
 * cannot pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "cluster_itest.h"
#include "nc_testwait.h"

#define NSRV 3

static const char *const extra[] = {"--auth", "off", "--push-merge-ms", "100",
                                    "--cluster-report-ms", "500", NULL};

/* The SDK connection ids node i's /current lists (the members' own
 * connections left out): how many, the first into out. */
static int sdk_conns(nc_tcluster *c, int i, char *out, size_t cap) {
  cJSON *o = cit_get_json(c, i, "/nacos/v2/core/loader/current", NULL);
  const cJSON *e;
  int n = 0;
  out[0] = 0;
  cJSON_ArrayForEach(e, o) {
    if (!cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "metaInfo"), "sdkSource")))
      continue;
    if (!n++)
      snprintf(out, cap, "%s", e->string);
  }
  cJSON_Delete(o);
  return n;
}

/* Index of the node holding the agent's only connection (other than
 * `not`), or -1. */
static int wait_home(nc_tcluster *c, int not, int timeout_ms) {
  char id[160];
  long long end = nc_test_now_ms() + timeout_ms;
  while (nc_test_now_ms() < end) {
    int home = -1, n = 0;
    for (int i = 0; i < NSRV; i++)
      if (sdk_conns(c, i, id, sizeof(id)) == 1) {
        home = i;
        n++;
      }
    if (n == 1 && home != not)
      return home;
    nc_test_sleep_ms(50);
  }
  return -1;
}

static void test_agent_follows_reload_client_redirect(void **state) {
  (void)state;
  char dir[256], servers[512] = "", conn[160], path[512], to_addr[80];
  test_agent ag;
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  nc_tcluster *c = cit_start(NSRV, extra);
  NC_TEST_WAIT(cit_all_up(c, NSRV), 20000);
  for (int i = 0; i < NSRV; i++) {
    const nc_test_nacosd *s = nc_tcluster_node(c, i);
    size_t l = strlen(servers);
    snprintf(servers + l, sizeof(servers) - l, "%s%s:%d#%d", i ? "," : "", s->host, s->port,
             s->grpc_port);
  }
  assert_int_equal(agent_start(&ag, dir, servers, NULL), 0);
  tc *app = tc_open(ag.sock);
  assert_non_null(app);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
  cJSON *r = tc_call(app, 1,
                     "{\"id\":1,\"op\":\"naming.register\",\"service\":\"moved\","
                     "\"ip\":\"10.7.0.1\",\"port\":7}");
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  r = tc_call(app, 2, "{\"id\":2,\"op\":\"naming.subscribe\",\"service\":\"moved\"}");
  assert_int_equal(hosts_count(r), 1);
  cJSON_Delete(r);
  int home = wait_home(c, -1, 10000);
  assert_true(home >= 0);

  for (int round = 0; round < 2; round++) {
    int to = (home + 1 + round) % NSRV; /* not always "the next one" */
    if (to == home)
      to = (home + 1) % NSRV;
    assert_int_equal(sdk_conns(c, home, conn, sizeof(conn)), 1);
    long long resets = nc_tcluster_metric(c, home, "nacosd_connections_reset_total");
    snprintf(path, sizeof(path),
             "/nacos/v2/core/loader/reloadClient?connectionId=%s&redirectAddress=%s", conn,
             cit_addr(c, to, to_addr, sizeof(to_addr)));
    int st = 0;
    char *body = NULL;
    const nc_test_nacosd *hs = nc_tcluster_node(c, home);
    assert_int_equal(nc_test_http_get_at(hs->host, hs->port, path, &st, &body), 0);
    assert_int_equal(st, 200);
    assert_string_equal(body, "success");
    free(body);
    /* the agent acks, leaves, and redoes everything on the named server */
    int now = wait_home(c, home, 10000);
    assert_int_equal(now, to);
    assert_int_equal(nc_tcluster_metric(c, home, "nacosd_connections_reset_total"), resets + 1);
    home = now;
  }
  assert_true(status_int(app, "reconnects") >= 2);
  /* the moved subscription is live on the new server */
  r = tc_call(app, 3,
              "{\"id\":3,\"op\":\"naming.register\",\"service\":\"moved\",\"ip\":\"10.7.0.2\","
              "\"port\":8}");
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  /* earlier events (the redo pushes) may be queued first */
  int hosts = -1;
  long long end = nc_test_now_ms() + 5000;
  while (hosts != 2 && nc_test_now_ms() < end) {
    cJSON *ev = tc_wait_event(app, "naming.changed", "service", "moved", 1000);
    if (ev)
      hosts = hosts_count(ev);
    cJSON_Delete(ev);
  }
  assert_int_equal(hosts, 2);
  tc_close(app);
  assert_int_equal(agent_stop(&ag), 0);
  assert_int_equal(nc_tcluster_stop(c), 0);
  nc_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_agent_follows_reload_client_redirect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
