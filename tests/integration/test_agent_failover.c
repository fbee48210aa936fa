/* nacos-agent redo and failover against real nacosd processes: kill -9 and
 * restart on the same ports, switching to the other server of --servers,
 * registrations made while disconnected, and reads served from the disk
 * cache by a restarted agent that has no upstream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testproc.h"

#include <signal.h>

static const char *merge[] = {"--push-merge-ms", "100", NULL};

static void test_everything_redone_after_server_kill9_and_restart(void **state) {
  (void)state;
  char dir[256], servers[128];
  nc_test_nacosd srv;
  test_agent ag;
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  assert_int_equal(nc_test_nacosd_start(dir, merge, &srv), 0);
  nc_test_agent_servers(servers, sizeof(servers), &srv, NULL);
  assert_int_equal(agent_start(&ag, dir, servers, NULL), 0);
  tc *app = tc_open(ag.sock), *sub = tc_open(ag.sock);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
  for (int i = 0; i < 3; i++) {
    cJSON *r = tc_call(app, i + 1,
                       "{\"id\":%d,\"op\":\"naming.register\",\"service\":\"redo-%d\","
                       "\"ip\":\"10.3.0.1\",\"port\":%d}",
                       i + 1, i % 2, 100 + i);
    assert_true(tc_ok(r));
    cJSON_Delete(r);
  }
  cJSON *r = tc_call(sub, 1, "{\"id\":1,\"op\":\"naming.subscribe\",\"service\":\"redo-0\"}");
  assert_int_equal(hosts_count(r), 2);
  cJSON_Delete(r);
  assert_true(nc_test_nacosd_wait_metric(srv.port, "nacosd_naming_instances", 3, 5000) >= 0);

  assert_int_equal(nc_testproc_kill(&srv.proc, SIGKILL), 128 + SIGKILL);
  cJSON *ev = tc_wait_event(sub, "agent.upstream", "state", "disconnected", 5000);
  assert_non_null(ev);
  cJSON_Delete(ev);
  assert_int_equal(status_int(app, "connected"), 0);
  /* Accepted while disconnected, applied on connect. */
  r = tc_call(app, 10,
              "{\"id\":10,\"op\":\"naming.register\",\"service\":\"redo-1\",\"ip\":\"10.3.0.9\","
              "\"port\":9}");
  assert_true(tc_ok(r));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r, "applied")));
  cJSON_Delete(r);
  /* Deregistered while disconnected: must not come back with the redo. */
  assert_true(tc_call_ok(app, 11,
      "{\"id\":11,\"op\":\"naming.deregister\",\"service\":\"redo-0\",\"ip\":\"10.3.0.1\","
      "\"port\":102}"));

  long long t0 = nc_test_now_ms();
  assert_int_equal(nc_test_nacosd_restart(&srv, merge), 0);
  /* redo-0: 1 left, redo-1: 2 = 3 instances; 1 subscriber. */
  assert_true(nc_test_nacosd_wait_metric(srv.port, "nacosd_naming_instances", 3, 10000) >= 0);
  assert_true(nc_test_nacosd_wait_metric(srv.port, "nacosd_naming_subscribers", 1, 10000) >= 0);
  assert_true(nc_test_now_ms() - t0 < 10000);
  /* The subscriber hears about the change made while away (2 -> 1). */
  assert_int_equal(wait_changed_hosts(sub, "redo-0", 5000), 1);
  assert_true(status_int(app, "reconnects") >= 1);
  /* The restored subscription is live: a new change is pushed. */
  r = tc_call(app, 12,
              "{\"id\":12,\"op\":\"naming.register\",\"service\":\"redo-0\",\"ip\":\"10.3.0.7\","
              "\"port\":7}");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "applied")));
  cJSON_Delete(r);
  assert_int_equal(wait_changed_hosts(sub, "redo-0", 5000), 2);
  tc_close(app);
  tc_close(sub);
  assert_true(nc_test_nacosd_wait_metric(srv.port, "nacosd_naming_instances", 0, 3000) >= 0);
  assert_int_equal(agent_stop(&ag), 0);
  assert_int_equal(nc_test_nacosd_stop(&srv), 0);
  nc_test_rmtree(dir);
}

static void test_agent_moves_to_the_other_server_and_redoes(void **state) {
  (void)state;
  char d1[256], d2[256], d3[256], servers[160];
  nc_test_nacosd s1, s2;
  test_agent ag;
  assert_int_equal(nc_test_mkdtemp(d1, sizeof(d1)), 0);
  assert_int_equal(nc_test_mkdtemp(d2, sizeof(d2)), 0);
  assert_int_equal(nc_test_mkdtemp(d3, sizeof(d3)), 0);
  assert_int_equal(nc_test_nacosd_start(d1, merge, &s1), 0);
  assert_int_equal(nc_test_nacosd_start(d2, merge, &s2), 0);
  nc_test_agent_servers(servers, sizeof(servers), &s1, &s2);
  assert_int_equal(agent_start(&ag, d3, servers, NULL), 0);
  tc *app = tc_open(ag.sock);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
  cJSON *r = tc_call(app, 1,
                     "{\"id\":1,\"op\":\"naming.register\",\"service\":\"fo\",\"ip\":\"10.4.0.1\","
                     "\"port\":1}");
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  r = tc_call(app, 2, "{\"id\":2,\"op\":\"naming.subscribe\",\"service\":\"fo\"}");
  assert_int_equal(hosts_count(r), 1);
  cJSON_Delete(r);
  r = tc_call(app, 3, "{\"id\":3,\"op\":\"agent.status\"}");
  const char *used = cJSON_GetObjectItem(r, "server")->valuestring;
  char want_used[64];
  snprintf(want_used, sizeof(want_used), "127.0.0.1:%d", s1.port);
  int on_first = !strcmp(used, want_used);
  cJSON_Delete(r);
  nc_test_nacosd *dead = on_first ? &s1 : &s2, *other = on_first ? &s2 : &s1;
  assert_int_equal(nacosd_metric(dead->port, "nacosd_naming_instances"), 1);
  assert_int_equal(nacosd_metric(other->port, "nacosd_naming_instances"), 0);

  long long t0 = nc_test_now_ms();
  nc_testproc_kill(&dead->proc, SIGKILL);
  assert_true(nc_test_nacosd_wait_metric(other->port, "nacosd_naming_instances", 1, 10000) >= 0);
  assert_true(nc_test_nacosd_wait_metric(other->port, "nacosd_naming_subscribers", 1, 10000) >= 0);
  assert_true(nc_test_now_ms() - t0 < 10000);
  char want_other[64];
  snprintf(want_other, sizeof(want_other), "127.0.0.1:%d", other->port);
  cJSON *ev = tc_wait_event(app, "agent.upstream", "server", want_other, 5000);
  assert_non_null(ev);
  assert_string_equal(cJSON_GetObjectItem(ev, "state")->valuestring, "connected");
  cJSON_Delete(ev);
  r = tc_call(app, 4, "{\"id\":4,\"op\":\"naming.instances\",\"service\":\"fo\"}");
  assert_int_equal(hosts_count(r), 1);
  assert_null(cJSON_GetObjectItem(r, "stale"));
  cJSON_Delete(r);
  tc_close(app);
  assert_int_equal(agent_stop(&ag), 0);
  assert_int_equal(nc_test_nacosd_stop(other), 0);
  nc_test_rmtree(d1);
  nc_test_rmtree(d2);
  nc_test_rmtree(d3);
}

static void test_restarted_agent_without_upstream_serves_the_cache(void **state) {
  (void)state;
  char dir[256], servers[128];
  nc_test_nacosd srv;
  test_agent ag;
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  assert_int_equal(nc_test_nacosd_start(dir, merge, &srv), 0);
  nc_test_agent_servers(servers, sizeof(servers), &srv, NULL);
  assert_int_equal(agent_start(&ag, dir, servers, NULL), 0);
  tc *app = tc_open(ag.sock);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
  cJSON *r = tc_call(app, 1,
                     "{\"id\":1,\"op\":\"naming.register\",\"service\":\"cached\",\"ip\":\"10.5.0.1\","
                     "\"port\":1}");
  cJSON_Delete(r);
  r = tc_call(app, 2, "{\"id\":2,\"op\":\"naming.subscribe\",\"service\":\"cached\"}");
  assert_int_equal(hosts_count(r), 1);
  cJSON_Delete(r);
  assert_true(tc_call_ok(app, 3,
      "{\"id\":3,\"op\":\"config.publish\",\"data_id\":\"c1\",\"content\":\"v=1\"}"));
  r = tc_call(app, 4, "{\"id\":4,\"op\":\"config.get\",\"data_id\":\"c1\"}");
  assert_string_equal(cJSON_GetObjectItem(r, "content")->valuestring, "v=1");
  cJSON_Delete(r);
  tc_close(app);
  assert_int_equal(agent_stop(&ag), 0);
  nc_testproc_kill(&srv.proc, SIGKILL);

  /* A new agent, same cache dir, its only server gone. */
  assert_int_equal(agent_start(&ag, dir, servers, NULL), 0);
  app = tc_open(ag.sock);
  r = tc_call(app, 1, "{\"id\":1,\"op\":\"agent.hello\"}");
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r, "connected")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "server")));
  cJSON_Delete(r);
  r = tc_call(app, 2, "{\"id\":2,\"op\":\"naming.instances\",\"service\":\"cached\"}");
  assert_true(tc_ok(r));
  assert_int_equal(hosts_count(r), 1);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "stale")));
  cJSON_Delete(r);
  r = tc_call(app, 3, "{\"id\":3,\"op\":\"naming.subscribe\",\"service\":\"cached\"}");
  assert_true(tc_ok(r));
  assert_int_equal(hosts_count(r), 1);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "stale")));
  cJSON_Delete(r);
  r = tc_call(app, 4, "{\"id\":4,\"op\":\"config.get\",\"data_id\":\"c1\"}");
  assert_true(tc_ok(r));
  assert_string_equal(cJSON_GetObjectItem(r, "content")->valuestring, "v=1");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "stale")));
  cJSON_Delete(r);
  r = tc_call(app, 5, "{\"id\":5,\"op\":\"naming.instances\",\"service\":\"never-seen\"}");
  assert_string_equal(tc_errcode(r), "UNAVAILABLE");
  cJSON_Delete(r);
  r = tc_call(app, 6, "{\"id\":6,\"op\":\"naming.subscribe\",\"service\":\"never-seen\"}");
  assert_string_equal(tc_errcode(r), "UNAVAILABLE");
  cJSON_Delete(r);
  r = tc_call(app, 7, "{\"id\":7,\"op\":\"config.get\",\"data_id\":\"never-seen\"}");
  assert_string_equal(tc_errcode(r), "UNAVAILABLE");
  cJSON_Delete(r);
  r = tc_call(app, 8, "{\"id\":8,\"op\":\"config.publish\",\"data_id\":\"c1\",\"content\":\"x\"}");
  assert_string_equal(tc_errcode(r), "UNAVAILABLE");
  cJSON_Delete(r);
  assert_int_equal(status_int(app, "local_subscriptions"), 1);

  /* The server comes back: the stale subscription is made live. */
  assert_int_equal(nc_test_nacosd_restart(&srv, merge), 0);
  assert_true(nc_test_nacosd_wait_metric(srv.port, "nacosd_naming_subscribers", 1, 10000) >= 0);
  /* The instance's owner (the first agent) is gone: the list empties. */
  cJSON *ev = tc_wait_event(app, "naming.changed", "service", "cached", 5000);
  assert_non_null(ev);
  assert_int_equal(hosts_count(ev), 0);
  cJSON_Delete(ev);
  tc_close(app);
  assert_int_equal(agent_stop(&ag), 0);
  assert_int_equal(nc_test_nacosd_stop(&srv), 0);
  nc_test_rmtree(dir);
}

/* A server that stops answering but keeps its TCP connections open (SIGSTOP)
 * is noticed by the health check (5 s idle + 3 s timeout) and left for the
 * other server within 10 s. */
static void test_half_open_server_noticed_within_10s(void **state) {
  (void)state;
  char d1[256], d2[256], d3[256], servers[160];
  nc_test_nacosd s1, s2;
  test_agent ag;
  assert_int_equal(nc_test_mkdtemp(d1, sizeof(d1)), 0);
  assert_int_equal(nc_test_mkdtemp(d2, sizeof(d2)), 0);
  assert_int_equal(nc_test_mkdtemp(d3, sizeof(d3)), 0);
  assert_int_equal(nc_test_nacosd_start(d1, merge, &s1), 0);
  assert_int_equal(nc_test_nacosd_start(d2, merge, &s2), 0);
  nc_test_agent_servers(servers, sizeof(servers), &s1, &s2);
  const char *defaults[] = {"--health-interval-ms", "5000", "--request-timeout-ms", "3000", NULL};
  assert_int_equal(agent_start(&ag, d3, servers, defaults), 0);
  tc *app = tc_open(ag.sock);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
  cJSON *r = tc_call(app, 1,
                     "{\"id\":1,\"op\":\"naming.register\",\"service\":\"ho\",\"ip\":\"10.7.0.1\","
                     "\"port\":1}");
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  r = tc_call(app, 2, "{\"id\":2,\"op\":\"agent.status\"}");
  char want1[64];
  snprintf(want1, sizeof(want1), "127.0.0.1:%d", s1.port);
  int on_first = !strcmp(cJSON_GetObjectItem(r, "server")->valuestring, want1);
  cJSON_Delete(r);
  nc_test_nacosd *hung = on_first ? &s1 : &s2, *other = on_first ? &s2 : &s1;
  char want_other[64];
  snprintf(want_other, sizeof(want_other), "127.0.0.1:%d", other->port);

  long long t0 = nc_test_now_ms();
  assert_int_equal(kill(hung->proc.pid, SIGSTOP), 0);
  cJSON *ev = tc_wait_event(app, "agent.upstream", "server", want_other, 12000);
  long long took = nc_test_now_ms() - t0;
  assert_non_null(ev);
  assert_string_equal(cJSON_GetObjectItem(ev, "state")->valuestring, "connected");
  cJSON_Delete(ev);
  fprintf(stderr, "half-open server left after %lld ms\n", took);
  assert_true(took < 10000);
  assert_true(nc_test_nacosd_wait_metric(other->port, "nacosd_naming_instances", 1, 5000) >= 0);
  tc_close(app);
  assert_int_equal(agent_stop(&ag), 0);
  kill(hung->proc.pid, SIGCONT);
  nc_test_nacosd_stop(hung);
  assert_int_equal(nc_test_nacosd_stop(other), 0);
  nc_test_rmtree(d1);
  nc_test_rmtree(d2);
  nc_test_rmtree(d3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_everything_redone_after_server_kill9_and_restart),
      cmocka_unit_test(test_agent_moves_to_the_other_server_and_redoes),
      cmocka_unit_test(test_restarted_agent_without_upstream_serves_the_cache),
      cmocka_unit_test(test_half_open_server_noticed_within_10s),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
