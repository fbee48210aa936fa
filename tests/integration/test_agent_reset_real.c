/* nacos-agent moved by a real nacosd's connection console: three real
 * nacosd processes in --servers; the one the agent uses is told
 * GET /nacos/v2/core/loader/reloadClient?connectionId=..&redirectAddress=
 * 127.0.0.1:<main port of another>, sends ConnectResetRequest, and the
 * agent must move to exactly that server (not a random one) and redo its
 * registration and subscription there. Done twice, so a lucky random pick
 * cannot pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"

#define NSRV 3

static const char *merge[] = {"--push-merge-ms", "100", NULL};

/* The single connection id listed by the server's /current, or "" when it
 * lists none (or several). */
static void only_conn(int port, char *out, size_t cap) {
  int st = 0;
  char *body = NULL;
  out[0] = 0;
  if (nc_test_http_get(port, "/nacos/v2/core/loader/current", &st, &body) != 0 || st != 200) {
    free(body);
    return;
  }
  cJSON *o = cJSON_Parse(body);
  free(body);
  if (cJSON_GetArraySize(o) == 1 && o->child->string)
    snprintf(out, cap, "%s", o->child->string);
  cJSON_Delete(o);
}

/* Index of the server holding the agent's connection and instance (other
 * than `not`), or -1. */
static int wait_home(nc_test_nacosd *s, int not, int timeout_ms) {
  long long end = nc_test_now_ms() + timeout_ms;
  while (nc_test_now_ms() < end) {
    int home = -1, n = 0;
    for (int i = 0; i < NSRV; i++)
      if (nacosd_metric(s[i].port, "nacosd_connections") == 1) {
        home = i;
        n++;
      }
    if (n == 1 && home != not && nacosd_metric(s[home].port, "nacosd_naming_instances") == 1 &&
        nacosd_metric(s[home].port, "nacosd_naming_subscribers") == 1)
      return home;
    nc_test_sleep_ms(50);
  }
  return -1;
}

static void test_agent_follows_reload_client_redirect(void **state) {
  (void)state;
  char dirs[NSRV + 1][256], servers[256] = "", conn[160], path[512];
  nc_test_nacosd s[NSRV];
  test_agent ag;
  for (int i = 0; i <= NSRV; i++)
    assert_int_equal(nc_test_mkdtemp(dirs[i], sizeof(dirs[i])), 0);
  for (int i = 0; i < NSRV; i++) {
    assert_int_equal(nc_test_nacosd_start(dirs[i], merge, &s[i]), 0);
    size_t l = strlen(servers);
    snprintf(servers + l, sizeof(servers) - l, "%s127.0.0.1:%d#%d", i ? "," : "", s[i].port,
             s[i].grpc_port);
  }
  assert_int_equal(agent_start(&ag, dirs[NSRV], servers, NULL), 0);
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
  int home = wait_home(s, -1, 10000);
  assert_true(home >= 0);

  for (int round = 0; round < 2; round++) {
    int to = (home + 1 + round) % NSRV; /* not always "the next one" */
    if (to == home)
      to = (home + 1) % NSRV;
    only_conn(s[home].port, conn, sizeof(conn));
    assert_true(conn[0] != 0);
    snprintf(path, sizeof(path),
             "/nacos/v2/core/loader/reloadClient?connectionId=%s&redirectAddress=127.0.0.1:%d",
             conn, s[to].port);
    int st = 0;
    char *body = NULL;
    assert_int_equal(nc_test_http_get(s[home].port, path, &st, &body), 0);
    assert_int_equal(st, 200);
    assert_string_equal(body, "success");
    free(body);
    /* the agent acks, leaves, and redoes everything on the named server */
    int now = wait_home(s, home, 10000);
    assert_int_equal(now, to);
    assert_int_equal(nacosd_metric(s[home].port, "nacosd_naming_instances"), 0);
    assert_int_equal(nacosd_metric(s[home].port, "nacosd_connections_reset_total"), 1);
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
  for (int i = 0; i < NSRV; i++) {
    assert_int_equal(nc_test_nacosd_stop(&s[i]), 0);
    nc_test_rmtree(dirs[i]);
  }
  nc_test_rmtree(dirs[NSRV]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_agent_follows_reload_client_redirect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
