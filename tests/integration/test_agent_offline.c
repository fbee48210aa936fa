/* nacos-agent started before its server is reachable (ipc-protocol.md,
 * Lifetimes): subscriptions and config listeners made without an upstream
 * are recorded (ok, empty, stale) and applied when the server comes up,
 * so the app hears about the real state as events; one dropped again
 * before that leaves nothing upstream; reads with nothing cached still
 * answer UNAVAILABLE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testproc.h"
#include "nc_testwait.h"

#include <signal.h>
#include <sys/stat.h>

/* One nacosd whose ports are known but which is down, and an agent pointed
 * at it. */
typedef struct offline {
  char dir[256];
  nc_test_nacosd srv;
  test_agent ag;
} offline;

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* Starts nacosd on ephemeral ports to learn them; before (may be NULL) runs
 * while it is up. Then stops it and starts the agent pointed at it. */
static void offline_start(offline *o, void (*before)(offline *)) {
  char servers[128];
  assert_int_equal(nc_test_mkdtemp(o->dir, sizeof(o->dir)), 0);
  assert_int_equal(nc_test_nacosd_start(o->dir, NULL, &o->srv), 0);
  if (before)
    before(o);
  assert_int_equal(nc_test_nacosd_stop(&o->srv), 0);
  nc_test_agent_servers(servers, sizeof(servers), &o->srv, NULL);
  assert_int_equal(agent_start(&o->ag, o->dir, servers, NULL), 0);
}

/* The server comes (back) up on its ports; waits until the agent uses it. */
static void offline_server_up(offline *o, tc *app) {
  assert_int_equal(nc_test_nacosd_restart(&o->srv, NULL), 0);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
}

static void offline_finish(offline *o) {
  assert_int_equal(agent_stop(&o->ag), 0);
  if (o->srv.proc.pid)
    assert_int_equal(nc_test_nacosd_stop(&o->srv), 0);
  nc_test_rmtree(o->dir);
}

/* The reply of a subscribe/listen made without an upstream: ok and stale. */
static cJSON *call_stale(tc *app, int id, const char *fmt_op, const char *name) {
  cJSON *r = tc_call(app, id, "{\"id\":%d,%s\"%s\"}", id, fmt_op, name);
  assert_true(tc_ok(r));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "stale")));
  return r;
}

static void subscribe_stale(tc *app, int id, const char *service) {
  cJSON *r = call_stale(app, id, "\"op\":\"naming.subscribe\",\"service\":", service);
  assert_true(cJSON_IsArray(cJSON_GetObjectItem(r, "hosts")));
  assert_int_equal(hosts_count(r), 0);
  cJSON_Delete(r);
}

static void listen_stale(tc *app, int id, const char *data_id) {
  cJSON *r = call_stale(app, id, "\"op\":\"config.listen\",\"data_id\":", data_id);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r, "exists")));
  assert_null(cJSON_GetObjectItem(r, "content"));
  cJSON_Delete(r);
}

static void test_subscribe_without_upstream_is_applied_on_connect(void **state) {
  (void)state;
  offline o;
  offline_start(&o, NULL);
  tc *app = tc_open(o.ag.sock), *reg = tc_open(o.ag.sock);
  assert_int_equal(status_int(app, "connected"), 0);
  subscribe_stale(app, 1, "early");
  /* A second app sharing the recorded subscription: one upstream entry. */
  subscribe_stale(reg, 1, "early");
  assert_int_equal(status_int(app, "subscriptions"), 1);
  assert_int_equal(status_int(app, "local_subscriptions"), 2);

  offline_server_up(&o, app);
  assert_true(nc_test_nacosd_wait_metric(o.srv.port, "nacosd_naming_subscribers", 1, 10000) >= 0);
  /* The server's list is empty, which is what the apps were told: no event. */
  cJSON *ev = tc_wait_event(app, "naming.changed", "service", "early", 1000);
  assert_null(ev);
  assert_true(tc_call_ok(reg, 2,
      "{\"id\":2,\"op\":\"naming.register\",\"service\":\"early\",\"ip\":\"10.9.0.1\","
      "\"port\":81}"));
  tc *subs[] = {app, reg};
  for (int i = 0; i < 2; i++) {
    ev = tc_wait_event(subs[i], "naming.changed", "service", "early", 5000);
    assert_non_null(ev);
    assert_int_equal(hosts_count(ev), 1);
    cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "hosts"), 0);
    assert_string_equal(str(h, "ip"), "10.9.0.1");
    cJSON_Delete(ev);
  }
  /* Now fresh: answered from the live list. */
  cJSON *r = tc_call(app, 3, "{\"id\":3,\"op\":\"naming.instances\",\"service\":\"early\"}");
  assert_int_equal(hosts_count(r), 1);
  assert_null(cJSON_GetObjectItem(r, "stale"));
  cJSON_Delete(r);
  tc_close(app);
  tc_close(reg);
  offline_finish(&o);
}

/* A registration recorded without an upstream too: the subscriber learns
 * the list the redo builds on the server. */
static void test_subscriber_told_of_list_made_by_redo(void **state) {
  (void)state;
  offline o;
  offline_start(&o, NULL);
  tc *app = tc_open(o.ag.sock), *reg = tc_open(o.ag.sock);
  subscribe_stale(app, 1, "both-early");
  cJSON *r = tc_call(reg, 1,
                     "{\"id\":1,\"op\":\"naming.register\",\"service\":\"both-early\","
                     "\"ip\":\"10.9.0.2\",\"port\":82}");
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r, "applied")));
  cJSON_Delete(r);
  offline_server_up(&o, app);
  assert_int_equal(wait_changed_hosts(app, "both-early", 5000), 1);
  /* Not told the same list twice (redo answer, push, tick). A negative
   * wait: it must outlast the agent's hard-coded 3 s tick, which agent.status
   * does not count; scaled so slow builds still see one tick. */
  assert_int_equal(wait_changed_hosts(app, "both-early", nc_test_timeout_ms(3500)), -1);
  tc_close(app);
  tc_close(reg);
  offline_finish(&o);
}

/* Publishes pre.yaml through a helper agent while the server is up. */
static void publish_pre(offline *o) {
  char servers[128], dir[300];
  test_agent helper;
  snprintf(dir, sizeof(dir), "%s/helper", o->dir);
  assert_int_equal(mkdir(dir, 0700), 0);
  nc_test_agent_servers(servers, sizeof(servers), &o->srv, NULL);
  assert_int_equal(agent_start(&helper, dir, servers, NULL), 0);
  tc *h = tc_open(helper.sock);
  assert_true(wait_status(h, "connected", 1, 10000) >= 0);
  assert_true(tc_call_ok(h, 1,
      "{\"id\":1,\"op\":\"config.publish\",\"data_id\":\"pre.yaml\",\"content\":\"v: pre\"}"));
  tc_close(h);
  assert_int_equal(agent_stop(&helper), 0);
}

static void test_listen_without_upstream_is_applied_on_connect(void **state) {
  (void)state;
  offline o;
  offline_start(&o, publish_pre);
  tc *app = tc_open(o.ag.sock), *pub = tc_open(o.ag.sock);
  listen_stale(app, 1, "pre.yaml");
  listen_stale(app, 2, "post.yaml");
  assert_int_equal(status_int(app, "config_listeners"), 2);
  /* A read with nothing cached is still refused. */
  cJSON *r = tc_call(app, 3, "{\"id\":3,\"op\":\"config.get\",\"data_id\":\"pre.yaml\"}");
  assert_string_equal(tc_errcode(r), "UNAVAILABLE");
  cJSON_Delete(r);

  offline_server_up(&o, app);
  /* pre.yaml existed all along: the re-listen finds it. */
  cJSON *ev = tc_wait_event(app, "config.changed", "data_id", "pre.yaml", 5000);
  assert_non_null(ev);
  assert_string_equal(str(ev, "content"), "v: pre");
  assert_int_equal(strlen(str(ev, "md5")), 32);
  assert_null(cJSON_GetObjectItem(ev, "deleted"));
  cJSON_Delete(ev);
  assert_true(nc_test_nacosd_wait_metric(o.srv.port, "nacosd_config_listeners", 2, 5000) >= 0);
  /* post.yaml does not exist: nothing until it is published, not even when
   * another app's listen makes the agent look it up. The first event must
   * be the publish (a `deleted` one would come first). */
  r = tc_call(pub, 2, "{\"id\":2,\"op\":\"config.listen\",\"data_id\":\"post.yaml\"}");
  assert_true(tc_ok(r));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r, "exists")));
  cJSON_Delete(r);
  r = tc_call(pub, 1,
              "{\"id\":1,\"op\":\"config.publish\",\"data_id\":\"post.yaml\",\"content\":\"v: post\"}");
  assert_true(tc_ok(r));
  char md5[33];
  snprintf(md5, sizeof(md5), "%s", str(r, "md5"));
  cJSON_Delete(r);
  ev = tc_wait_event(app, "config.changed", "data_id", "post.yaml", 5000);
  assert_non_null(ev);
  assert_string_equal(str(ev, "content"), "v: post");
  assert_string_equal(str(ev, "md5"), md5);
  cJSON_Delete(ev);
  /* pre.yaml was announced once. */
  ev = tc_wait_event(app, "config.changed", "data_id", "pre.yaml", 500);
  assert_null(ev);
  tc_close(app);
  tc_close(pub);
  offline_finish(&o);
}

/* Dropped before the server came: nothing of it goes upstream, while what
 * is still wanted does (so the check below is not vacuous). */
static void test_dropped_before_connect_leaves_nothing_upstream(void **state) {
  (void)state;
  offline o;
  offline_start(&o, NULL);
  tc *app = tc_open(o.ag.sock), *closer = tc_open(o.ag.sock);
  subscribe_stale(app, 1, "kept");
  subscribe_stale(app, 2, "gone");
  listen_stale(app, 3, "gone.cfg");
  assert_true(tc_call_ok(app, 4, "{\"id\":4,\"op\":\"naming.unsubscribe\",\"service\":\"gone\"}"));
  assert_true(tc_call_ok(app, 5, "{\"id\":5,\"op\":\"config.unlisten\",\"data_id\":\"gone.cfg\"}"));
  /* Ending with the socket works the same. */
  subscribe_stale(closer, 1, "gone-too");
  listen_stale(closer, 2, "gone-too.cfg");
  tc_close(closer);
  assert_true(wait_status(app, "subscriptions", 1, 2000) >= 0);
  assert_int_equal(status_int(app, "config_listeners"), 0);
  cJSON *r = tc_call(app, 6, "{\"id\":6,\"op\":\"naming.unsubscribe\",\"service\":\"gone\"}");
  assert_string_equal(tc_errcode(r), "NOT_FOUND");
  cJSON_Delete(r);

  offline_server_up(&o, app);
  assert_true(nc_test_nacosd_wait_metric(o.srv.port, "nacosd_naming_subscribers", 1, 10000) >= 0);
  /* Past the agent's 3 s retry tick (not counted in agent.status, so a
   * negative wait, scaled by the multiplier): still only "kept". */
  nc_test_quiet_ms(3500);
  assert_int_equal(nacosd_metric(o.srv.port, "nacosd_naming_subscribers"), 1);
  assert_int_equal(nacosd_metric(o.srv.port, "nacosd_config_listeners"), 0);
  assert_int_equal(status_int(app, "subscriptions"), 1);
  tc_close(app);
  offline_finish(&o);
}

static void test_reads_without_upstream_and_cache_are_unavailable(void **state) {
  (void)state;
  offline o;
  offline_start(&o, NULL);
  tc *app = tc_open(o.ag.sock);
  cJSON *r = tc_call(app, 1, "{\"id\":1,\"op\":\"naming.instances\",\"service\":\"nowhere\"}");
  assert_string_equal(tc_errcode(r), "UNAVAILABLE");
  cJSON_Delete(r);
  /* A recorded subscription holds no list yet: reads still cannot be served. */
  subscribe_stale(app, 2, "nowhere");
  r = tc_call(app, 3, "{\"id\":3,\"op\":\"naming.instances\",\"service\":\"nowhere\"}");
  assert_string_equal(tc_errcode(r), "UNAVAILABLE");
  cJSON_Delete(r);
  listen_stale(app, 4, "nowhere.cfg");
  r = tc_call(app, 5, "{\"id\":5,\"op\":\"config.get\",\"data_id\":\"nowhere.cfg\"}");
  assert_string_equal(tc_errcode(r), "UNAVAILABLE");
  cJSON_Delete(r);
  tc_close(app);
  offline_finish(&o);
}

/* A subscribe / listen the hung server never answers (timeout, or the
 * health check drops the connection first) is kept, not refused: once the
 * server answers again the apps hear of changes. */
static void test_subscribe_and_listen_kept_when_server_hangs(void **state) {
  (void)state;
  nc_test_stack st;
  const char *fast[] = {"--request-timeout-ms", "1000", NULL};
  assert_int_equal(nc_test_stack_start(&st, NULL, fast), 0);
  tc *app = tc_open(st.ag.sock), *pub = tc_open(st.ag.sock);
  assert_int_equal(kill(st.srv.proc.pid, SIGSTOP), 0);
  subscribe_stale(app, 1, "hung-svc");
  listen_stale(app, 2, "hung.cfg");
  assert_int_equal(status_int(app, "subscriptions"), 1);
  assert_int_equal(status_int(app, "config_listeners"), 1);
  assert_int_equal(kill(st.srv.proc.pid, SIGCONT), 0);
  assert_true(wait_status(app, "connected", 1, 10000) >= 0);
  assert_true(tc_call_ok(pub, 1,
      "{\"id\":1,\"op\":\"naming.register\",\"service\":\"hung-svc\",\"ip\":\"10.9.0.3\","
      "\"port\":83}"));
  assert_int_equal(wait_changed_hosts(app, "hung-svc", 8000), 1);
  assert_true(tc_call_ok(pub, 2,
      "{\"id\":2,\"op\":\"config.publish\",\"data_id\":\"hung.cfg\",\"content\":\"v: 3\"}"));
  cJSON *ev = tc_wait_event(app, "config.changed", "data_id", "hung.cfg", 8000);
  assert_non_null(ev);
  assert_string_equal(str(ev, "content"), "v: 3");
  cJSON_Delete(ev);
  tc_close(app);
  tc_close(pub);
  assert_int_equal(nc_test_stack_stop(&st), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_subscribe_without_upstream_is_applied_on_connect),
      cmocka_unit_test(test_subscriber_told_of_list_made_by_redo),
      cmocka_unit_test(test_listen_without_upstream_is_applied_on_connect),
      cmocka_unit_test(test_dropped_before_connect_leaves_nothing_upstream),
      cmocka_unit_test(test_reads_without_upstream_and_cache_are_unavailable),
      cmocka_unit_test(test_subscribe_and_listen_kept_when_server_hangs),
  };
  return NC_TEST_MAIN(tests);
}
