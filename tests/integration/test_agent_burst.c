/* nacos-agent under a burst of registrations to one service: per service at
 * most one upstream request is out, changes meanwhile are merged into the
 * next one; every app still gets its own verdict, the server ends with
 * exactly the local set, and a bad instance does not fail the good ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testproc.h"

#define BATCH_REQS "nacosd_requests_by_type_total{type=\"BatchInstanceRequest\"}"
#define INSTANCES "nacosd_naming_instances"
#define NAPPS 30

static nc_test_stack st;

static int setup(void **state) {
  (void)state;
  return nc_test_stack_start(&st, NULL, NULL);
}

static int teardown(void **state) {
  (void)state;
  return nc_test_stack_stop(&st);
}

/* The counter is absent until the first such request. */
static long long batch_reqs(void) {
  long long n = nacosd_metric(st.srv.port, BATCH_REQS);
  return n < 0 ? 0 : n;
}

/* Reads messages from c until the reply with id comes (10 s). */
static cJSON *reply_for(tc *c, int id) {
  for (int i = 0; i < 100; i++) {
    cJSON *m = tc_read(c, 10000);
    if (!m)
      return NULL;
    const cJSON *mid = cJSON_GetObjectItem(m, "id");
    if (cJSON_IsNumber(mid) && mid->valueint == id)
      return m;
    cJSON_Delete(m);
  }
  return NULL;
}

static int applied(const cJSON *r) {
  return tc_ok(r) && cJSON_IsTrue(cJSON_GetObjectItem(r, "applied"));
}

/* The hosts of service on the server, through a subscriber's query. */
static cJSON *server_hosts(const char *service) {
  tc *q = tc_open(st.ag.sock);
  assert_non_null(q);
  cJSON *r = tc_call(q, 1, "{\"id\":1,\"op\":\"naming.instances\",\"service\":\"%s\"}", service);
  tc_close(q);
  assert_true(tc_ok(r));
  cJSON *h = cJSON_DetachItemFromObject(r, "hosts");
  cJSON_Delete(r);
  assert_non_null(h);
  return h;
}

static void close_all(tc **apps, int n) {
  for (int i = 0; i < n; i++)
    tc_close(apps[i]);
  /* Their instances die with their sockets. */
  assert_true(nc_test_nacosd_wait_metric(st.srv.port, INSTANCES, 0, 5000) >= 0);
}

static void test_thirty_registers_at_once_take_few_requests(void **state) {
  (void)state;
  tc *apps[NAPPS];
  long long before = batch_reqs();
  for (int i = 0; i < NAPPS; i++) {
    apps[i] = tc_open(st.ag.sock);
    assert_non_null(apps[i]);
  }
  for (int i = 0; i < NAPPS; i++)
    assert_int_equal(tc_sendf(apps[i],
                              "{\"id\":7,\"op\":\"naming.register\",\"service\":\"burst\","
                              "\"ip\":\"10.9.0.%d\",\"port\":8080}",
                              i + 1),
                     0);
  for (int i = 0; i < NAPPS; i++) {
    cJSON *r = reply_for(apps[i], 7);
    assert_non_null(r);
    assert_true(applied(r));
    cJSON_Delete(r);
  }
  assert_true(nc_test_nacosd_wait_metric(st.srv.port, INSTANCES, NAPPS, 5000) >= 0);
  cJSON *h = server_hosts("burst");
  assert_int_equal(cJSON_GetArraySize(h), NAPPS);
  cJSON_Delete(h);
  long long sent = batch_reqs() - before;
  print_message("BatchInstanceRequests for %d registers: %lld\n", NAPPS, sent);
  assert_true(sent >= 1);
  assert_true(sent <= 5);
  close_all(apps, NAPPS);
}

/* Each app registers two instances and takes the first back, all at once;
 * then half the apps go away together. The server must end with exactly
 * the second instances of the apps left, and stay so past a redo tick. */
static void test_mixed_burst_ends_with_the_exact_set(void **state) {
  (void)state;
  enum { N = 12 };
  tc *apps[N];
  for (int i = 0; i < N; i++) {
    apps[i] = tc_open(st.ag.sock);
    assert_non_null(apps[i]);
  }
  for (int i = 0; i < N; i++) {
    assert_int_equal(tc_sendf(apps[i],
                              "{\"id\":1,\"op\":\"naming.register\",\"service\":\"mixed\","
                              "\"ip\":\"10.8.0.%d\",\"port\":1}",
                              i + 1),
                     0);
    assert_int_equal(tc_sendf(apps[i],
                              "{\"id\":2,\"op\":\"naming.register\",\"service\":\"mixed\","
                              "\"ip\":\"10.8.0.%d\",\"port\":2}",
                              i + 1),
                     0);
    assert_int_equal(tc_sendf(apps[i],
                              "{\"id\":3,\"op\":\"naming.deregister\",\"service\":\"mixed\","
                              "\"ip\":\"10.8.0.%d\",\"port\":1}",
                              i + 1),
                     0);
  }
  for (int i = 0; i < N; i++) {
    int seen = 0;
    for (int k = 0; k < 3; k++) {
      cJSON *m = tc_read(apps[i], 10000);
      assert_non_null(m);
      const cJSON *mid = cJSON_GetObjectItem(m, "id");
      if (cJSON_IsNumber(mid)) {
        assert_true(tc_ok(m));
        if (mid->valueint == 2)
          assert_true(applied(m));
        seen |= 1 << mid->valueint;
      } else {
        k--; /* an event */
      }
      cJSON_Delete(m);
    }
    assert_int_equal(seen, 0xe);
  }
  assert_true(nc_test_nacosd_wait_metric(st.srv.port, INSTANCES, N, 5000) >= 0);
  cJSON *h = server_hosts("mixed");
  assert_int_equal(cJSON_GetArraySize(h), N);
  const cJSON *e;
  cJSON_ArrayForEach(e, h) assert_int_equal(cJSON_GetObjectItem(e, "port")->valueint, 2);
  cJSON_Delete(h);

  /* Half close at once: the server follows within 2 s. */
  for (int i = 0; i < N / 2; i++)
    tc_close(apps[i]);
  long long ms = nc_test_nacosd_wait_metric(st.srv.port, INSTANCES, N / 2, 2000);
  assert_true(ms >= 0);
  /* Past a periodic redo tick (3 s) nothing comes back. */
  usleep(3500 * 1000);
  assert_int_equal(nacosd_metric(st.srv.port, INSTANCES), N / 2);
  h = server_hosts("mixed");
  assert_int_equal(cJSON_GetArraySize(h), N / 2);
  cJSON_ArrayForEach(e, h) {
    int last = atoi(strrchr(cJSON_GetObjectItem(e, "ip")->valuestring, '.') + 1);
    assert_true(last > N / 2);
    assert_int_equal(cJSON_GetObjectItem(e, "port")->valueint, 2);
  }
  cJSON_Delete(h);
  close_all(apps + N / 2, N - N / 2);
}

/* nacosd refuses an instance whose heart-beat timeout is below its
 * interval; the agent passes metadata through unchecked. In a merged set
 * the server cannot say which instance was bad: the good apps must still
 * get applied:true and be on the server, the bad one an error. */
static void test_one_bad_register_in_a_burst_fails_alone(void **state) {
  (void)state;
  enum { N = 10, BAD = 6 };
  tc *apps[N];
  long long before = batch_reqs();
  for (int i = 0; i < N; i++) {
    apps[i] = tc_open(st.ag.sock);
    assert_non_null(apps[i]);
  }
  for (int i = 0; i < N; i++)
    assert_int_equal(tc_sendf(apps[i],
                              "{\"id\":4,\"op\":\"naming.register\",\"service\":\"mixedbad\","
                              "\"ip\":\"10.7.0.%d\",\"port\":80%s}",
                              i + 1,
                              i == BAD ? ",\"metadata\":{\"preserved.heart.beat.timeout\":\"1\"}"
                                       : ""),
                     0);
  for (int i = 0; i < N; i++) {
    cJSON *r = reply_for(apps[i], 4);
    assert_non_null(r);
    if (i == BAD) {
      assert_false(tc_ok(r));
    } else {
      assert_true(applied(r));
    }
    cJSON_Delete(r);
  }
  assert_true(nc_test_nacosd_wait_metric(st.srv.port, INSTANCES, N - 1, 5000) >= 0);
  cJSON *h = server_hosts("mixedbad");
  assert_int_equal(cJSON_GetArraySize(h), N - 1);
  const cJSON *e;
  cJSON_ArrayForEach(e, h) assert_string_not_equal(cJSON_GetObjectItem(e, "ip")->valuestring,
                                                   "10.7.0.7");
  cJSON_Delete(h);
  print_message("BatchInstanceRequests for %d registers, one bad: %lld\n", N,
                batch_reqs() - before);
  /* The bad one is gone from the agent too: the redo does not resend it. */
  cJSON *r = tc_call(apps[BAD], 5,
                     "{\"id\":5,\"op\":\"naming.deregister\",\"service\":\"mixedbad\","
                     "\"ip\":\"10.7.0.7\",\"port\":80}");
  assert_string_equal(tc_errcode(r), "NOT_FOUND");
  cJSON_Delete(r);
  close_all(apps, N);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_thirty_registers_at_once_take_few_requests),
      cmocka_unit_test(test_mixed_burst_ends_with_the_exact_set),
      cmocka_unit_test(test_one_bad_register_in_a_burst_fails_alone),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
