/* nacos-agent naming against a real nacosd: fan-out to local subscribers,
 * lifetimes bound to the app socket, one upstream subscription per
 * service, and the local protocol's handling of bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testproc.h"

static nc_test_stack st;

static int setup(void **state) {
  (void)state;
  /* No merge window: first-subscribe pushes go out at once and race the
   * subscribe responses (see the reply-not-repeated test). */
  const char *sargs[] = {"--push-merge-ms", "0", NULL};
  const char *aargs[] = {"--max-line", "4096", NULL};
  return nc_test_stack_start(&st, sargs, aargs);
}

static int teardown(void **state) {
  (void)state;
  return nc_test_stack_stop(&st);
}

static void test_subscriber_gets_changed_when_other_app_registers(void **state) {
  (void)state;
  tc *sub = tc_open(st.ag.sock), *app = tc_open(st.ag.sock);
  assert_non_null(sub);
  assert_non_null(app);
  cJSON *r = tc_call(sub, 1, "{\"id\":1,\"op\":\"agent.hello\",\"app\":\"sub\",\"protocol\":1}");
  assert_true(tc_ok(r));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "connected")));
  cJSON_Delete(r);
  r = tc_call(sub, 2, "{\"id\":2,\"op\":\"naming.subscribe\",\"service\":\"orders\"}");
  assert_true(tc_ok(r));
  assert_int_equal(hosts_count(r), 0);
  cJSON_Delete(r);
  r = tc_call(app, 1,
              "{\"id\":1,\"op\":\"naming.register\",\"service\":\"orders\",\"ip\":\"10.1.0.1\","
              "\"port\":8080,\"metadata\":{\"zone\":\"a\"}}");
  assert_true(tc_ok(r));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "applied")));
  assert_string_equal(cJSON_GetObjectItem(r, "instance_id")->valuestring,
                      "10.1.0.1#8080#DEFAULT#DEFAULT_GROUP@@orders");
  cJSON_Delete(r);
  cJSON *ev = tc_wait_event(sub, "naming.changed", "service", "orders", 5000);
  assert_non_null(ev);
  assert_int_equal(hosts_count(ev), 1);
  cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(ev, "hosts"), 0);
  assert_string_equal(cJSON_GetObjectItem(h, "ip")->valuestring, "10.1.0.1");
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetObjectItem(h, "metadata"), "zone")->valuestring, "a");
  cJSON_Delete(ev);

  /* A second instance of the same service from the same app: both go
   * upstream (one BatchInstanceRequest), the subscriber sees two. */
  assert_true(tc_call_ok(app, 2,
      "{\"id\":2,\"op\":\"naming.register\",\"service\":\"orders\",\"ip\":\"10.1.0.2\","
      "\"port\":8080}"));
  assert_int_equal(wait_changed_hosts(sub, "orders", 5000), 2);
  r = tc_call(sub, 3, "{\"id\":3,\"op\":\"naming.instances\",\"service\":\"orders\"}");
  assert_int_equal(hosts_count(r), 2);
  assert_null(cJSON_GetObjectItem(r, "stale"));
  cJSON_Delete(r);

  /* Deregistering one re-sends the rest; the other stays. */
  assert_true(tc_call_ok(app, 3,
      "{\"id\":3,\"op\":\"naming.deregister\",\"service\":\"orders\",\"ip\":\"10.1.0.1\","
      "\"port\":8080}"));
  assert_int_equal(wait_changed_hosts(sub, "orders", 5000), 1);
  r = tc_call(app, 4,
              "{\"id\":4,\"op\":\"naming.deregister\",\"service\":\"orders\",\"ip\":\"10.1.0.1\","
              "\"port\":8080}");
  assert_string_equal(tc_errcode(r), "NOT_FOUND");
  cJSON_Delete(r);

  /* The app's socket closes: its instance is removed upstream at once and
   * the subscriber is told within 2 s. */
  long long t0 = nc_test_now_ms();
  tc_close(app);
  ev = tc_wait_event(sub, "naming.changed", "service", "orders", 5000);
  long long took = nc_test_now_ms() - t0;
  assert_non_null(ev);
  assert_int_equal(hosts_count(ev), 0);
  assert_true(took < 2000);
  cJSON_Delete(ev);
  /* Never twice for the same list. */
  assert_null(tc_wait_event(sub, "naming.changed", "service", "orders", 700));
  assert_true(tc_call_ok(sub, 4,
      "{\"id\":4,\"op\":\"naming.unsubscribe\",\"service\":\"orders\"}"));
  r = tc_call(sub, 5, "{\"id\":5,\"op\":\"naming.unsubscribe\",\"service\":\"orders\"}");
  assert_string_equal(tc_errcode(r), "NOT_FOUND");
  cJSON_Delete(r);
  tc_close(sub);
}

#define NSUB 100

static void test_hundred_local_subscribers_share_one_upstream_subscription(void **state) {
  (void)state;
  static tc *subs[NSUB];
  const char *reqs = "nacosd_requests_by_type_total{type=\"SubscribeServiceRequest\"}";
  /* The previous test's upstream unsubscribe may still be on its way. */
  long long t_wait = nc_test_now_ms();
  while (nacosd_metric(st.srv.port, "nacosd_naming_subscribers") != 0 &&
         nc_test_now_ms() - t_wait < 3000)
    nc_test_sleep_ms(20);
  long long before = nacosd_metric(st.srv.port, reqs);
  long long subs_before = nacosd_metric(st.srv.port, "nacosd_naming_subscribers");
  assert_true(subs_before >= 0);
  if (before < 0)
    before = 0;
  /* Pipelined: every app sends its subscribe before any reply is read. */
  for (int i = 0; i < NSUB; i++) {
    subs[i] = tc_open(st.ag.sock);
    assert_non_null(subs[i]);
    assert_int_equal(
        tc_sendf(subs[i], "{\"id\":1,\"op\":\"naming.subscribe\",\"service\":\"fanout\"}"), 0);
  }
  for (int i = 0; i < NSUB; i++) {
    cJSON *r = tc_call(subs[i], 2, "{\"id\":2,\"op\":\"naming.instances\",\"service\":\"fanout\"}");
    assert_true(tc_ok(r));
    cJSON_Delete(r);
  }
  tc *c = subs[0];
  assert_int_equal(status_int(c, "subscriptions"), 1);
  assert_int_equal(status_int(c, "local_subscriptions"), NSUB);
  assert_int_equal(nacosd_metric(st.srv.port, reqs) - before, 1);
  assert_int_equal(nacosd_metric(st.srv.port, "nacosd_naming_subscribers") - subs_before, 1);

  tc *app = tc_open(st.ag.sock);
  cJSON *r = tc_call(app, 1,
                     "{\"id\":1,\"op\":\"naming.register\",\"service\":\"fanout\",\"ip\":\"10.2.0.1\","
                     "\"port\":1}");
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  for (int i = 0; i < NSUB; i++) {
    cJSON *ev = tc_wait_event(subs[i], "naming.changed", "service", "fanout", 5000);
    assert_non_null(ev);
    assert_int_equal(hosts_count(ev), 1);
    cJSON_Delete(ev);
  }
  /* The same list again (re-registering the same instance makes the server
   * push again) is not an event. */
  assert_true(tc_call_ok(app, 2,
      "{\"id\":2,\"op\":\"naming.register\",\"service\":\"fanout\",\"ip\":\"10.2.0.1\","
      "\"port\":1}"));
  for (int i = 0; i < NSUB; i += 10)
    assert_null(tc_wait_event(subs[i], "naming.changed", "service", "fanout", i ? 10 : 800));
  tc_close(app);
  for (int i = 0; i < NSUB; i++)
    tc_close(subs[i]);
  /* The last local subscriber gone: the upstream subscription goes too. */
  c = tc_open(st.ag.sock);
  assert_true(wait_status(c, "subscriptions", 0, 3000) >= 0);
  long long t0 = nc_test_now_ms();
  while (nacosd_metric(st.srv.port, "nacosd_naming_subscribers") != subs_before &&
         nc_test_now_ms() - t0 < 3000)
    nc_test_sleep_ms(50);
  assert_int_equal(nacosd_metric(st.srv.port, "nacosd_naming_subscribers"), subs_before);
  tc_close(c);
}

static void test_malformed_unknown_and_mistyped_input_keep_the_connection(void **state) {
  (void)state;
  tc *c = tc_open(st.ag.sock);
  const char *bad = "this is not json\n"
                    "[1,2,3]\n"
                    "{\"id\":1,\"op\":\"naming.frobnicate\"}\n"
                    "{\"id\":2}\n"
                    "{\"id\":3,\"op\":\"naming.register\",\"ip\":\"1.1.1.1\",\"port\":1}\n"
                    "{\"id\":4,\"op\":\"naming.register\",\"service\":\"s\",\"ip\":\"1.1.1.1\","
                    "\"port\":\"80\"}\n"
                    "{\"id\":5,\"op\":\"naming.register\",\"service\":\"s\",\"ip\":\"1.1.1.1\","
                    "\"port\":70000}\n"
                    "{\"id\":6,\"op\":\"naming.subscribe\",\"service\":\"s\",\"clusters\":\"A\"}\n"
                    "{\"id\":7,\"op\":\"config.publish\",\"data_id\":\"d\"}\n"
                    "{\"id\":{},\"op\":\"agent.status\"}\n";
  assert_int_equal(tc_send_raw(c, bad, strlen(bad)), 0);
  const char *want_ids[] = {"null", "null", "1", "2", "3", "4", "5", "6", "7", "null"};
  for (size_t i = 0; i < sizeof(want_ids) / sizeof(want_ids[0]); i++) {
    cJSON *r = tc_read(c, 3000);
    assert_non_null(r);
    assert_false(tc_ok(r));
    assert_string_equal(tc_errcode(r), "BAD_REQUEST");
    cJSON *id = cJSON_GetObjectItem(r, "id");
    if (!strcmp(want_ids[i], "null"))
      assert_true(cJSON_IsNull(id));
    else
      assert_int_equal(id->valueint, atoi(want_ids[i]));
    cJSON_Delete(r);
  }
  /* Still open and answering; nothing was registered or subscribed. */
  cJSON *r = tc_call(c, 8, "{\"id\":8,\"op\":\"agent.status\"}");
  assert_true(tc_ok(r));
  assert_int_equal(cJSON_GetObjectItem(r, "instances")->valueint, 0);
  assert_int_equal(cJSON_GetObjectItem(r, "local_subscriptions")->valueint, 0);
  cJSON_Delete(r);
  /* String ids are echoed. */
  assert_int_equal(tc_sendf(c, "{\"id\":\"abc\",\"op\":\"agent.hello\"}"), 0);
  r = tc_read(c, 3000);
  assert_string_equal(cJSON_GetObjectItem(r, "id")->valuestring, "abc");
  cJSON_Delete(r);
  tc_close(c);
}

static void test_oversized_line_gets_too_large_then_close(void **state) {
  (void)state;
  tc *c = tc_open(st.ag.sock);
  /* A good request pipelined before the oversized line is still answered. */
  char *big = malloc(20000);
  int n = snprintf(big, 20000, "{\"id\":1,\"op\":\"agent.hello\"}\n{\"id\":2,\"op\":\"x\",\"pad\":\"");
  memset(big + n, 'x', 20000 - (size_t)n - 3);
  memcpy(big + 20000 - 3, "\"}\n", 3);
  tc_send_raw(c, big, 20000);
  free(big);
  cJSON *r = tc_read(c, 3000);
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  r = tc_read(c, 3000);
  assert_non_null(r);
  assert_string_equal(tc_errcode(r), "TOO_LARGE");
  cJSON_Delete(r);
  assert_null(tc_read(c, 3000));
  assert_true(tc_eof(c));
  tc_close(c);
  /* The agent itself is fine. */
  c = tc_open(st.ag.sock);
  assert_int_equal(status_int(c, "connected"), 1);
  tc_close(c);
}

/* The server pushes a first subscriber's list by itself; when that push
 * overtakes the subscribe response the app must still see the list once,
 * in the reply, and no naming.changed repeating it. Many fresh services
 * make the overtaking likely. */
#define NRACE 40
static void test_subscribe_reply_is_not_repeated_as_an_event(void **state) {
  (void)state;
  tc *app = tc_open(st.ag.sock), *sub = tc_open(st.ag.sock);
  assert_non_null(app);
  assert_non_null(sub);
  for (int i = 0; i < NRACE; i++)
    assert_true(tc_call_ok(app, i + 1,
        "{\"id\":%d,\"op\":\"naming.register\",\"service\":\"race%d\","
        "\"ip\":\"10.2.0.1\",\"port\":%d}", i + 1, i, 9000 + i));
  for (int i = 0; i < NRACE; i++) {
    cJSON *r = tc_call(sub, i + 1,
                       "{\"id\":%d,\"op\":\"naming.subscribe\",\"service\":\"race%d\"}",
                       i + 1, i);
    assert_true(tc_ok(r));
    assert_int_equal(hosts_count(r), 1);
    cJSON_Delete(r);
  }
  cJSON *ev = tc_wait_event(sub, "naming.changed", NULL, NULL, 1000);
  if (ev)
    fprintf(stderr, "unexpected event: %s\n", cJSON_GetObjectItem(ev, "service")->valuestring);
  assert_null(ev);
  tc_close(sub);
  tc_close(app);
}

/* Subscribe and unsubscribe pipelined in one write: the unsubscribe lands
 * while the upstream subscribe is in flight. Both succeed, the subscribe
 * with the server's list, and nothing is left subscribed. */
static void test_unsubscribe_while_subscribe_in_flight(void **state) {
  (void)state;
  tc *app = tc_open(st.ag.sock), *sub = tc_open(st.ag.sock);
  assert_non_null(app);
  assert_non_null(sub);
  assert_true(tc_call_ok(app, 1,
      "{\"id\":1,\"op\":\"naming.register\",\"service\":\"flight\",\"ip\":\"10.2.1.1\","
      "\"port\":1}"));
  const char *two = "{\"id\":1,\"op\":\"naming.subscribe\",\"service\":\"flight\"}\n"
                    "{\"id\":2,\"op\":\"naming.unsubscribe\",\"service\":\"flight\"}\n";
  assert_int_equal(nc_tc_send_raw(sub, two, strlen(two)), 0);
  cJSON *r1 = NULL, *r2 = NULL;
  for (int i = 0; i < 2; i++) {
    cJSON *r = nc_tc_read(sub, 5000);
    assert_non_null(r);
    const cJSON *id = cJSON_GetObjectItem(r, "id");
    assert_true(cJSON_IsNumber(id));
    if (id->valueint == 1)
      r1 = r;
    else
      r2 = r;
  }
  assert_non_null(r1);
  assert_non_null(r2);
  assert_true(tc_ok(r1));
  assert_int_equal(hosts_count(r1), 1);
  assert_true(tc_ok(r2));
  cJSON_Delete(r1);
  cJSON_Delete(r2);
  assert_int_equal(status_int(sub, "subscriptions"), 0);
  tc_close(sub);
  tc_close(app);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_subscriber_gets_changed_when_other_app_registers),
      cmocka_unit_test(test_hundred_local_subscribers_share_one_upstream_subscription),
      cmocka_unit_test(test_subscribe_reply_is_not_repeated_as_an_event),
      cmocka_unit_test(test_unsubscribe_while_subscribe_in_flight),
      cmocka_unit_test(test_malformed_unknown_and_mistyped_input_keep_the_connection),
      cmocka_unit_test(test_oversized_line_gets_too_large_then_close),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
