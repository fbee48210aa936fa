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

/* Two nacosds and an agent that lists both, each in its own temp dir. */
typedef struct pair {
  char d[3][256];
  nc_test_nacosd s[2];
  test_agent ag;
} pair;

static void pair_start(pair *p, const char *const *agent_args) {
  char servers[160];
  for (int i = 0; i < 3; i++)
    assert_int_equal(nc_test_mkdtemp(p->d[i], sizeof(p->d[i])), 0);
  for (int i = 0; i < 2; i++)
    assert_int_equal(nc_test_nacosd_start(p->d[i], merge, &p->s[i]), 0);
  nc_test_agent_servers(servers, sizeof(servers), &p->s[0], &p->s[1]);
  assert_int_equal(agent_start(&p->ag, p->d[2], servers, agent_args), 0);
}

/* Stops the agent, then a stopped (SIGSTOP) server when hung is set, then
 * the server still serving (other, must exit cleanly); removes the dirs. */
static void pair_finish(pair *p, nc_test_nacosd *hung, nc_test_nacosd *other) {
  assert_int_equal(agent_stop(&p->ag), 0);
  if (hung) {
    kill(hung->proc.pid, SIGCONT);
    nc_test_nacosd_stop(hung);
  }
  assert_int_equal(nc_test_nacosd_stop(other), 0);
  for (int i = 0; i < 3; i++)
    nc_test_rmtree(p->d[i]);
}

/* The server the agent uses now (by agent.status), and the other one. */
static void pair_in_use(pair *p, tc *app, nc_test_nacosd **used, nc_test_nacosd **other) {
  cJSON *r = tc_call(app, 900, "{\"id\":900,\"op\":\"agent.status\"}");
  char want[64];
  snprintf(want, sizeof(want), "127.0.0.1:%d", p->s[0].port);
  int on_first = !strcmp(cJSON_GetObjectItem(r, "server")->valuestring, want);
  cJSON_Delete(r);
  *used = on_first ? &p->s[0] : &p->s[1];
  *other = on_first ? &p->s[1] : &p->s[0];
}

/* Waits for the agent.upstream event that says the agent connected to srv. */
static void wait_moved_to(tc *app, const nc_test_nacosd *srv, int timeout_ms) {
  char want[64];
  snprintf(want, sizeof(want), "127.0.0.1:%d", srv->port);
  cJSON *ev = tc_wait_event(app, "agent.upstream", "server", want, timeout_ms);
  assert_non_null(ev);
  assert_string_equal(cJSON_GetObjectItem(ev, "state")->valuestring, "connected");
  cJSON_Delete(ev);
}

static void test_everything_redone_after_server_kill9_and_restart(void **state) {
  (void)state;
  nc_test_stack st;
  assert_int_equal(nc_test_stack_start(&st, merge, NULL), 0);
  tc *app = tc_open(st.ag.sock), *sub = tc_open(st.ag.sock);
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
  assert_true(nc_test_nacosd_wait_metric(st.srv.port, "nacosd_naming_instances", 3, 5000) >= 0);

  assert_int_equal(nc_testproc_kill(&st.srv.proc, SIGKILL), 128 + SIGKILL);
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
  assert_int_equal(nc_test_nacosd_restart(&st.srv, merge), 0);
  /* redo-0: 1 left, redo-1: 2 = 3 instances; 1 subscriber. */
  assert_true(nc_test_nacosd_wait_metric(st.srv.port, "nacosd_naming_instances", 3, 10000) >= 0);
  assert_true(nc_test_nacosd_wait_metric(st.srv.port, "nacosd_naming_subscribers", 1, 10000) >= 0);
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
  assert_true(nc_test_nacosd_wait_metric(st.srv.port, "nacosd_naming_instances", 0, 3000) >= 0);
  assert_int_equal(nc_test_stack_stop(&st), 0);
}

static void test_agent_moves_to_the_other_server_and_redoes(void **state) {
  (void)state;
  pair p;
  pair_start(&p, NULL);
  tc *app = tc_open(p.ag.sock);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
  assert_true(tc_call_ok(app, 1,
      "{\"id\":1,\"op\":\"naming.register\",\"service\":\"fo\",\"ip\":\"10.4.0.1\","
      "\"port\":1}"));
  cJSON *r = tc_call(app, 2, "{\"id\":2,\"op\":\"naming.subscribe\",\"service\":\"fo\"}");
  assert_int_equal(hosts_count(r), 1);
  cJSON_Delete(r);
  nc_test_nacosd *dead, *other;
  pair_in_use(&p, app, &dead, &other);
  assert_int_equal(nacosd_metric(dead->port, "nacosd_naming_instances"), 1);
  assert_int_equal(nacosd_metric(other->port, "nacosd_naming_instances"), 0);

  long long t0 = nc_test_now_ms();
  nc_testproc_kill(&dead->proc, SIGKILL);
  assert_true(nc_test_nacosd_wait_metric(other->port, "nacosd_naming_instances", 1, 10000) >= 0);
  assert_true(nc_test_nacosd_wait_metric(other->port, "nacosd_naming_subscribers", 1, 10000) >= 0);
  assert_true(nc_test_now_ms() - t0 < 10000);
  wait_moved_to(app, other, 5000);
  r = tc_call(app, 4, "{\"id\":4,\"op\":\"naming.instances\",\"service\":\"fo\"}");
  assert_int_equal(hosts_count(r), 1);
  assert_null(cJSON_GetObjectItem(r, "stale"));
  cJSON_Delete(r);
  tc_close(app);
  pair_finish(&p, NULL, other);
}

static void test_restarted_agent_without_upstream_serves_the_cache(void **state) {
  (void)state;
  nc_test_stack st;
  assert_int_equal(nc_test_stack_start(&st, merge, NULL), 0);
  tc *app = tc_open(st.ag.sock);
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
  assert_int_equal(agent_stop(&st.ag), 0);
  nc_testproc_kill(&st.srv.proc, SIGKILL);

  /* A new agent, same cache dir, its only server gone. */
  char servers[128];
  nc_test_agent_servers(servers, sizeof(servers), &st.srv, NULL);
  assert_int_equal(agent_start(&st.ag, st.dir, servers, NULL), 0);
  app = tc_open(st.ag.sock);
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
  /* Not refused but recorded, empty and stale (test_agent_offline.c covers
   * its life on connect); dropped again here. */
  r = tc_call(app, 6, "{\"id\":6,\"op\":\"naming.subscribe\",\"service\":\"never-seen\"}");
  assert_true(tc_ok(r));
  assert_int_equal(hosts_count(r), 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "stale")));
  cJSON_Delete(r);
  assert_true(tc_call_ok(app, 9,
      "{\"id\":9,\"op\":\"naming.unsubscribe\",\"service\":\"never-seen\"}"));
  r = tc_call(app, 7, "{\"id\":7,\"op\":\"config.get\",\"data_id\":\"never-seen\"}");
  assert_string_equal(tc_errcode(r), "UNAVAILABLE");
  cJSON_Delete(r);
  r = tc_call(app, 8, "{\"id\":8,\"op\":\"config.publish\",\"data_id\":\"c1\",\"content\":\"x\"}");
  assert_string_equal(tc_errcode(r), "UNAVAILABLE");
  cJSON_Delete(r);
  assert_int_equal(status_int(app, "local_subscriptions"), 1);

  /* The server comes back: the stale subscription is made live. */
  assert_int_equal(nc_test_nacosd_restart(&st.srv, merge), 0);
  assert_true(nc_test_nacosd_wait_metric(st.srv.port, "nacosd_naming_subscribers", 1, 10000) >= 0);
  /* The instance's owner (the first agent) is gone: the list empties. */
  cJSON *ev = tc_wait_event(app, "naming.changed", "service", "cached", 5000);
  assert_non_null(ev);
  assert_int_equal(hosts_count(ev), 0);
  cJSON_Delete(ev);
  tc_close(app);
  assert_int_equal(nc_test_stack_stop(&st), 0);
}

/* A server that stops answering but keeps its TCP connections open (SIGSTOP)
 * is noticed by the health check (5 s idle + 3 s timeout) and left for the
 * other server within 10 s. */
static void test_half_open_server_noticed_within_10s(void **state) {
  (void)state;
  pair p;
  const char *defaults[] = {"--health-interval-ms", "5000", "--request-timeout-ms", "3000", NULL};
  pair_start(&p, defaults);
  tc *app = tc_open(p.ag.sock);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
  assert_true(tc_call_ok(app, 1,
      "{\"id\":1,\"op\":\"naming.register\",\"service\":\"ho\",\"ip\":\"10.7.0.1\","
      "\"port\":1}"));
  nc_test_nacosd *hung, *other;
  pair_in_use(&p, app, &hung, &other);

  long long t0 = nc_test_now_ms();
  assert_int_equal(kill(hung->proc.pid, SIGSTOP), 0);
  wait_moved_to(app, other, 12000);
  long long took = nc_test_now_ms() - t0;
  fprintf(stderr, "half-open server left after %lld ms\n", took);
  assert_true(took < 10000);
  assert_true(nc_test_nacosd_wait_metric(other->port, "nacosd_naming_instances", 1, 5000) >= 0);
  tc_close(app);
  pair_finish(&p, hung, other);
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
