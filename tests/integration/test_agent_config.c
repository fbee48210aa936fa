/* nacos-agent config ops against a real nacosd: publish/get/listen/remove,
 * CAS, one upstream listener per key, a listener that survives a server
 * restart and learns what changed while it was away, stale reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testproc.h"

#include <signal.h>

static nc_test_stack st;

static int setup(void **state) {
  (void)state;
  return nc_test_stack_start(&st, NULL, NULL);
}

static int teardown(void **state) {
  (void)state;
  return nc_test_stack_stop(&st);
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static void test_publish_get_listen_cas_remove(void **state) {
  (void)state;
  tc *a = tc_open(st.ag.sock), *b = tc_open(st.ag.sock), *w = tc_open(st.ag.sock);
  cJSON *r = tc_call(a, 1, "{\"id\":1,\"op\":\"config.get\",\"data_id\":\"app.yaml\"}");
  assert_string_equal(tc_errcode(r), "NOT_FOUND");
  cJSON_Delete(r);
  r = tc_call(a, 2, "{\"id\":2,\"op\":\"config.listen\",\"data_id\":\"app.yaml\"}");
  assert_true(tc_ok(r));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r, "exists")));
  cJSON_Delete(r);
  assert_true(tc_call_ok(b, 1, "{\"id\":1,\"op\":\"config.listen\",\"data_id\":\"app.yaml\"}"));
  assert_int_equal(status_int(a, "config_listeners"), 1);
  assert_int_equal(status_int(a, "local_config_listeners"), 2);

  r = tc_call(w, 1,
              "{\"id\":1,\"op\":\"config.publish\",\"data_id\":\"app.yaml\",\"content\":\"k: 1\"}");
  assert_true(tc_ok(r));
  char md5[33];
  snprintf(md5, sizeof(md5), "%s", str(r, "md5"));
  assert_int_equal(strlen(md5), 32);
  cJSON_Delete(r);
  tc *ls[] = {a, b};
  for (int i = 0; i < 2; i++) {
    cJSON *ev = tc_wait_event(ls[i], "config.changed", "data_id", "app.yaml", 5000);
    assert_non_null(ev);
    assert_string_equal(str(ev, "content"), "k: 1");
    assert_string_equal(str(ev, "md5"), md5);
    cJSON_Delete(ev);
  }
  r = tc_call(w, 2, "{\"id\":2,\"op\":\"config.get\",\"data_id\":\"app.yaml\"}");
  assert_string_equal(str(r, "content"), "k: 1");
  assert_string_equal(str(r, "md5"), md5);
  cJSON_Delete(r);

  /* Compare-and-set: a stale md5 is refused, the current one accepted. */
  r = tc_call(w, 3,
              "{\"id\":3,\"op\":\"config.publish\",\"data_id\":\"app.yaml\",\"content\":\"k: 2\","
              "\"cas_md5\":\"00000000000000000000000000000000\"}");
  assert_string_equal(tc_errcode(r), "CONFLICT");
  cJSON_Delete(r);
  assert_true(tc_call_ok(w, 4,
      "{\"id\":4,\"op\":\"config.publish\",\"data_id\":\"app.yaml\",\"content\":\"k: 2\","
      "\"cas_md5\":\"%s\"}",
      md5));
  cJSON *ev = tc_wait_event(a, "config.changed", "data_id", "app.yaml", 5000);
  assert_non_null(ev);
  assert_string_equal(str(ev, "content"), "k: 2");
  cJSON_Delete(ev);

  /* b stops listening; a still hears the removal. */
  assert_true(tc_call_ok(b, 2, "{\"id\":2,\"op\":\"config.unlisten\",\"data_id\":\"app.yaml\"}"));
  assert_true(tc_call_ok(w, 5, "{\"id\":5,\"op\":\"config.remove\",\"data_id\":\"app.yaml\"}"));
  ev = tc_wait_event(a, "config.changed", "data_id", "app.yaml", 5000);
  assert_non_null(ev);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ev, "deleted")));
  cJSON_Delete(ev);
  /* b got k: 2 before it unlistened, and nothing after. */
  ev = tc_wait_event(b, "config.changed", "data_id", "app.yaml", 300);
  if (ev) {
    assert_string_equal(str(ev, "content"), "k: 2");
    cJSON_Delete(ev);
  }
  assert_null(tc_wait_event(b, "config.changed", "data_id", "app.yaml", 300));
  r = tc_call(w, 6, "{\"id\":6,\"op\":\"config.get\",\"data_id\":\"app.yaml\"}");
  assert_string_equal(tc_errcode(r), "NOT_FOUND");
  cJSON_Delete(r);
  r = tc_call(w, 7, "{\"id\":7,\"op\":\"config.unlisten\",\"data_id\":\"app.yaml\"}");
  assert_string_equal(tc_errcode(r), "NOT_FOUND");
  cJSON_Delete(r);
  tc_close(a);
  tc_close(b);
  tc_close(w);
  tc *c = tc_open(st.ag.sock);
  assert_true(wait_status(c, "config_listeners", 0, 3000) >= 0);
  tc_close(c);
}

static void test_listener_survives_restart_and_sees_changes_made_while_away(void **state) {
  (void)state;
  tc *l = tc_open(st.ag.sock), *w = tc_open(st.ag.sock);
  cJSON *r = tc_call(w, 1,
                     "{\"id\":1,\"op\":\"config.publish\",\"data_id\":\"db.props\",\"group\":\"G1\","
                     "\"namespace\":\"ns1\",\"content\":\"url=a\"}");
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  r = tc_call(l, 1,
              "{\"id\":1,\"op\":\"config.listen\",\"data_id\":\"db.props\",\"group\":\"G1\","
              "\"namespace\":\"ns1\"}");
  assert_string_equal(str(r, "content"), "url=a");
  cJSON_Delete(r);
  tc_close(w);

  /* The server dies; while the agent is cut off, someone changes the config
   * on a temporary server over the same data directory. */
  nc_testproc_kill(&st.srv.proc, SIGKILL);
  cJSON *ev = tc_wait_event(l, "agent.upstream", "state", "disconnected", 5000);
  assert_non_null(ev);
  cJSON_Delete(ev);
  r = tc_call(l, 2,
              "{\"id\":2,\"op\":\"config.get\",\"data_id\":\"db.props\",\"group\":\"G1\","
              "\"namespace\":\"ns1\"}");
  assert_string_equal(str(r, "content"), "url=a");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "stale")));
  cJSON_Delete(r);

  char d2[256], servers2[128];
  nc_test_nacosd tmp;
  test_agent ag2;
  char datadir[300];
  snprintf(datadir, sizeof(datadir), "%s/data", st.dir);
  assert_int_equal(nc_test_mkdtemp(d2, sizeof(d2)), 0);
  const char *targs[] = {"--data-dir", datadir, NULL};
  assert_int_equal(nc_test_nacosd_start(d2, targs, &tmp), 0);
  nc_test_agent_servers(servers2, sizeof(servers2), &tmp, NULL);
  assert_int_equal(agent_start(&ag2, d2, servers2, NULL), 0);
  w = tc_open(ag2.sock);
  assert_true(wait_status(w, "connected", 1, 10000) >= 0);
  assert_true(tc_call_ok(w, 1,
      "{\"id\":1,\"op\":\"config.publish\",\"data_id\":\"db.props\",\"group\":\"G1\","
      "\"namespace\":\"ns1\",\"content\":\"url=b\"}"));
  tc_close(w);
  assert_int_equal(agent_stop(&ag2), 0);
  assert_int_equal(nc_test_nacosd_stop(&tmp), 0);
  nc_test_rmtree(d2);

  /* The real server comes back on its ports: the agent re-listens with the
   * MD5 it holds and tells its listener. */
  assert_int_equal(nc_test_nacosd_restart(&st.srv, NULL), 0);
  ev = tc_wait_event(l, "config.changed", "data_id", "db.props", 10000);
  assert_non_null(ev);
  assert_string_equal(str(ev, "content"), "url=b");
  assert_string_equal(str(ev, "namespace"), "ns1");
  assert_string_equal(str(ev, "group"), "G1");
  cJSON_Delete(ev);
  /* And the listener is live again on the new connection. */
  w = tc_open(st.ag.sock);
  assert_true(tc_call_ok(w, 1,
      "{\"id\":1,\"op\":\"config.publish\",\"data_id\":\"db.props\",\"group\":\"G1\","
      "\"namespace\":\"ns1\",\"content\":\"url=c\"}"));
  ev = tc_wait_event(l, "config.changed", "data_id", "db.props", 5000);
  assert_non_null(ev);
  assert_string_equal(str(ev, "content"), "url=c");
  cJSON_Delete(ev);
  tc_close(w);
  tc_close(l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_publish_get_listen_cas_remove),
      cmocka_unit_test(test_listener_survives_restart_and_sees_changes_made_while_away),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
