/* nc_ipc client library against a scripted fake agent (ipc_fake_agent_util.h):
 * how replies and events are read off the line: matched by id out of order,
 * events queued during a call and waking the app's fd, foreign and split
 * lines, a large reply, the bounded event queue, a late reply after a
 * timeout, error codes. test_ipc_client_conn.c has size caps and lost
 * connections, test_ipc_client_calls.c the request shapes of the calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_ipc.h"
#include "nc_ipc_ops.h"

#include "ipc_fake_agent_util.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void test_responses_matched_by_id_out_of_order(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.instances"},
      {.expect_op = "agent.status"},
      {.send = "{\"id\":$2,\"ok\":true,\"apps\":3}\n"
               "{\"id\":$1,\"ok\":true,\"hosts\":[]}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  int64_t a = 0, b = 0;
  cJSON *params = cJSON_Parse("{\"service\":\"svc\"}");
  assert_int_equal(nc_ipc_send(c, "naming.instances", params, &a), 0);
  assert_int_equal(nc_ipc_send(c, "agent.status", NULL, &b), 0);
  assert_true(a != b);
  cJSON *ra = NULL, *rb = NULL;
  assert_int_equal(nc_ipc_wait(c, a, 2000, &ra), 0);
  assert_true(cJSON_IsArray(cJSON_GetObjectItem(ra, "hosts")));
  assert_null(cJSON_GetObjectItem(ra, "id"));
  assert_null(cJSON_GetObjectItem(ra, "ok"));
  /* b's response came first and was kept for its own wait. */
  assert_int_equal(nc_ipc_wait(c, b, 2000, &rb), 0);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(rb, "apps")), 3);
  /* params untouched and still owned by us. */
  assert_null(cJSON_GetObjectItem(params, "id"));
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(params, "service")), "svc");
  cJSON_Delete(params);
  cJSON_Delete(ra);
  cJSON_Delete(rb);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_events_during_call_queued_and_fd_readable(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.subscribe",
       .send = "{\"event\":\"naming.changed\",\"service\":\"a\",\"hosts\":[]}\n"
               "{\"event\":\"agent.upstream\",\"state\":\"connected\"}\n"
               "{\"id\":$1,\"ok\":true,\"hosts\":[]}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  seen s = {0};
  nc_ipc_set_event_cb(c, on_event, &s);
  assert_int_equal(nc_ipc_subscribe(c, NULL, NULL, "a", NULL, 2000, NULL), 0);
  assert_int_equal(s.n, 0); /* never from inside a blocking call */
  assert_int_equal(nc_ipc_pending(c), 2);
  /* The socket is drained, yet the app's fd must wake its poll. */
  struct pollfd pfd = {.fd = nc_ipc_fd(c), .events = POLLIN};
  assert_int_equal(poll(&pfd, 1, 0), 1);
  assert_int_equal(nc_ipc_process(c), 2);
  assert_int_equal(s.n, 2);
  assert_string_equal(s.names[0], "naming.changed");
  assert_string_equal(s.services[0], "a");
  assert_string_equal(s.names[1], "agent.upstream");
  assert_int_equal(nc_ipc_pending(c), 0);
  assert_int_equal(poll(&pfd, 1, 0), 0);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_events_arriving_later_wake_fd(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "agent.hello", .send = "{\"id\":$1,\"ok\":true,\"protocol\":1}\n"},
      {.sleep_ms = 50, .send = "{\"event\":\"config.changed\",\"data_id\":\"d\"}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  seen s = {0};
  nc_ipc_set_event_cb(c, on_event, &s);
  assert_int_equal(nc_ipc_hello(c, "test", 2000, NULL), 0);
  struct pollfd pfd = {.fd = nc_ipc_fd(c), .events = POLLIN};
  assert_int_equal(poll(&pfd, 1, 2000), 1);
  /* The event may arrive in pieces; process until it is dispatched. */
  for (int i = 0; i < 100 && s.n == 0; i++) {
    assert_true(nc_ipc_process(c) >= 0);
    if (!s.n)
      poll(&pfd, 1, 20);
  }
  assert_int_equal(s.n, 1);
  assert_string_equal(s.names[0], "config.changed");
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_error_codes_mapped(void **state) {
  (void)state;
  static const char *codes[] = {"BAD_REQUEST", "TOO_LARGE",   "NOT_FOUND", "CONFLICT",
                                "FORBIDDEN",   "UNAVAILABLE", "TIMEOUT",   "INTERNAL"};
  static const int want[] = {NC_IPC_E_BAD_REQUEST, NC_IPC_E_TOO_LARGE, NC_IPC_E_NOT_FOUND,
                             NC_IPC_E_CONFLICT,    NC_IPC_E_FORBIDDEN, NC_IPC_E_UNAVAILABLE,
                             NC_IPC_E_TIMEOUT,     NC_IPC_E_INTERNAL};
  step script[10];
  char lines[10][160];
  memset(script, 0, sizeof(script));
  for (int i = 0; i < 8; i++) {
    snprintf(lines[i], sizeof(lines[i]),
             "{\"id\":$%d,\"ok\":false,\"error\":{\"code\":\"%s\",\"message\":\"m%d\"}}\n", i + 1,
             codes[i], i);
    script[i].expect_op = "config.get";
    script[i].send = lines[i];
  }
  script[8].expect_op = "config.get";
  script[8].send = "{\"id\":$9,\"ok\":false,\"error\":{\"code\":\"WEIRD\",\"message\":\"w\"}}\n";
  fake *f = fake_start(script, 9);
  nc_ipc *c = client_for(f);
  for (int i = 0; i < 8; i++) {
    cJSON *r = (cJSON *)1;
    assert_int_equal(nc_ipc_config_get(c, NULL, NULL, "d", 2000, &r), want[i]);
    assert_null(r);
    assert_string_equal(nc_ipc_errcode(c), codes[i]);
    assert_string_equal(nc_ipc_err_name(want[i]), codes[i]);
    char m[8];
    snprintf(m, sizeof(m), "m%d", i);
    assert_string_equal(nc_ipc_errmsg(c), m);
    assert_true(nc_ipc_connected(c));
  }
  assert_int_equal(nc_ipc_config_get(c, NULL, NULL, "d", 2000, NULL), NC_IPC_E_UNKNOWN);
  assert_string_equal(nc_ipc_errcode(c), "WEIRD");
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_timeout_then_late_response_dropped(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.instances",
       .sleep_ms = 300,
       .send = "{\"id\":$1,\"ok\":true,\"hosts\":[\"late\"]}\n"},
      {.expect_op = "naming.instances", .send = "{\"id\":$2,\"ok\":true,\"hosts\":[]}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(nc_ipc_instances(c, NULL, NULL, "s", 0, 100, NULL), NC_IPC_E_TIMEOUT);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  assert_true(ms >= 90 && ms < 280);
  assert_true(nc_ipc_connected(c));
  cJSON *r = NULL;
  assert_int_equal(nc_ipc_instances(c, NULL, NULL, "s", 0, 2000, &r), 0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "hosts")), 0);
  cJSON_Delete(r);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_foreign_and_split_lines_handled(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "agent.status",
       .send = "not json\n"
               "\n"
               "[1,2]\n"
               "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"x\"}}\n"
               "{\"id\":\"$1\",\"ok\":false}\n"
               "{\"id\":12345,\"ok\":true}\n"
               "{\"id\":$1,\"ok\":tr"},
      {.sleep_ms = 50, .send = "ue,\"apps\":7}\r\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  cJSON *r = NULL;
  assert_int_equal(nc_ipc_status(c, 2000, &r), 0);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "apps")), 7);
  assert_int_equal(nc_ipc_pending(c), 0);
  cJSON_Delete(r);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_large_reply_then_small_ones(void **state) {
  (void)state;
  /* 3 MiB of content in one reply: over the request cap, under the read
   * cap; later small replies still work after the buffer shrinks. */
  size_t n = 3 * 1024 * 1024;
  char *line = malloc(n + 64);
  int k = snprintf(line, 64, "{\"id\":$1,\"ok\":true,\"content\":\"");
  memset(line + k, 'z', n);
  strcpy(line + k + n, "\"}\n");
  const step script[] = {
      {.expect_op = "config.get", .send = line},
      {.expect_op = "config.get", .send = "{\"id\":$2,\"ok\":true,\"content\":\"small\"}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  cJSON *r = NULL;
  assert_int_equal(nc_ipc_config_get(c, NULL, NULL, "big", 5000, &r), 0);
  assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(r, "content"))), n);
  cJSON_Delete(r);
  assert_int_equal(nc_ipc_config_get(c, NULL, NULL, "small", 5000, &r), 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r, "content")), "small");
  cJSON_Delete(r);
  nc_ipc_free(c);
  fake_stop(f);
  free(line);
}

static void test_event_queue_bounded(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "agent.status",
       .send = "{\"event\":\"naming.changed\",\"service\":\"s\",\"hosts\":[]}\n",
       .repeat = NC_IPC_MAX_QUEUED_EVENTS + 100},
      {.send = "{\"id\":$1,\"ok\":true}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  assert_int_equal(nc_ipc_status(c, 5000, NULL), 0);
  assert_int_equal(nc_ipc_pending(c), NC_IPC_MAX_QUEUED_EVENTS);
  assert_int_equal(nc_ipc_dropped_events(c), 100);
  nc_ipc_free(c);
  fake_stop(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_responses_matched_by_id_out_of_order),
      cmocka_unit_test(test_events_during_call_queued_and_fd_readable),
      cmocka_unit_test(test_events_arriving_later_wake_fd),
      cmocka_unit_test(test_error_codes_mapped),
      cmocka_unit_test(test_timeout_then_late_response_dropped),
      cmocka_unit_test(test_foreign_and_split_lines_handled),
      cmocka_unit_test(test_large_reply_then_small_ones),
      cmocka_unit_test(test_event_queue_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
