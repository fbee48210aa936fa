/* nc_ipc client library against a scripted fake agent (ipc_fake_agent_util.h):
 * line and request size caps, an agent that hangs up (with a reason, while
 * we write, mid-call), reconnecting on the same fd, and connect failures
 * and socket path resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_ipc.h"
#include "nc_ipc_ops.h"

#include "ipc_fake_agent_util.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

static void test_oversized_line_from_agent_closes(void **state) {
  (void)state;
  char big[600];
  memset(big, 'x', sizeof(big));
  memcpy(big, "{\"event\":\"", 10);
  strcpy(big + sizeof(big) - 4, "\"}\n");
  const step script[] = {{.expect_op = "agent.status", .send = big}};
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  nc_ipc_set_max_line(c, 128);
  assert_int_equal(nc_ipc_status(c, 2000, NULL), NC_IPC_E_PROTOCOL);
  assert_non_null(strstr(nc_ipc_errmsg(c), "128"));
  assert_false(nc_ipc_connected(c));
  assert_int_equal(nc_ipc_status(c, 2000, NULL), NC_IPC_E_CLOSED);
  assert_int_equal(nc_ipc_pending(c), 0);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_request_over_cap_refused_locally(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "config.publish", .send = "{\"id\":$1,\"ok\":true,\"md5\":\"x\"}\n"}};
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  nc_ipc_set_max_request(c, 256);
  char content[400];
  memset(content, 'c', sizeof(content) - 1);
  content[sizeof(content) - 1] = '\0';
  assert_int_equal(nc_ipc_config_publish(c, NULL, NULL, "d", content, NULL, 2000, NULL),
                   NC_IPC_E_TOO_LARGE);
  assert_true(nc_ipc_connected(c));
  cJSON *r = NULL;
  assert_int_equal(nc_ipc_config_publish(c, NULL, NULL, "d", "small", NULL, 2000, &r), 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r, "md5")), "x");
  cJSON_Delete(r);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_hangup_after_null_id_error_names_it(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "config.publish",
       .send = "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"TOO_LARGE\","
               "\"message\":\"line exceeds 1048576 bytes\"}}\n"},
      {.close = 1},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  assert_int_equal(nc_ipc_config_publish(c, NULL, NULL, "d", "x", NULL, 2000, NULL),
                   NC_IPC_E_TOO_LARGE);
  assert_string_equal(nc_ipc_errcode(c), "TOO_LARGE");
  assert_non_null(strstr(nc_ipc_errmsg(c), "line exceeds 1048576 bytes"));
  assert_false(nc_ipc_connected(c));
  assert_int_equal(nc_ipc_status(c, 100, NULL), NC_IPC_E_CLOSED);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_hangup_mid_request_write_reports_agent_reason(void **state) {
  (void)state;
  /* Like an agent over its line cap: it reads part of the request, says
   * TOO_LARGE with "id": null and hangs up while we are still writing. */
  const step script[] = {
      {.read_bytes = 256 * 1024,
       .send = "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"TOO_LARGE\","
               "\"message\":\"line too long\"}}\n",
       .close = 1},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  nc_ipc_set_max_request(c, 64 * 1024 * 1024);
  size_t n = 8 * 1024 * 1024;
  char *big = malloc(n + 1);
  memset(big, 'b', n);
  big[n] = '\0';
  assert_int_equal(nc_ipc_config_publish(c, NULL, NULL, "d", big, NULL, 5000, NULL),
                   NC_IPC_E_TOO_LARGE);
  assert_non_null(strstr(nc_ipc_errmsg(c), "line too long"));
  assert_false(nc_ipc_connected(c));
  free(big);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_peer_vanishes_mid_call(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.register",
       .send = "{\"event\":\"agent.upstream\",\"state\":\"disconnected\"}\n",
       .sleep_ms = 50},
      {.close = 1},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  seen s = {0};
  nc_ipc_set_event_cb(c, on_event, &s);
  nc_ipc_instance in;
  svc_instance(&in, 80);
  char *iid = (char *)"junk";
  assert_int_equal(nc_ipc_register(c, &in, 2000, &iid, NULL), NC_IPC_E_CLOSED);
  assert_null(iid);
  assert_false(nc_ipc_connected(c));
  /* The event that came before the hang-up is still delivered. */
  assert_int_equal(nc_ipc_pending(c), 1);
  /* A loop polling the fd wakes up for the leftover event and the error. */
  struct pollfd pfd = {.fd = nc_ipc_fd(c), .events = POLLIN};
  assert_true(pfd.fd >= 0);
  assert_int_equal(poll(&pfd, 1, 0), 1);
  assert_int_equal(nc_ipc_process(c), NC_IPC_E_CLOSED);
  assert_int_equal(s.n, 1);
  assert_int_equal(poll(&pfd, 1, 0), 1);
  assert_int_equal(nc_ipc_status(c, 100, NULL), NC_IPC_E_CLOSED);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_reconnect_keeps_fd_and_queued_events(void **state) {
  (void)state;
  const step first[] = {
      {.expect_op = "agent.status",
       .send = "{\"event\":\"agent.upstream\",\"state\":\"disconnected\"}\n"
               "{\"id\":$1,\"ok\":true}\n"},
      {.sleep_ms = 20, .close = 1},
  };
  const step second[] = {
      {.expect_op = "agent.status", .send = "{\"id\":$1,\"ok\":true,\"apps\":1}\n"}};
  fake *f1 = RUN_FAKE(first);
  fake *f2 = RUN_FAKE(second);
  nc_ipc *c = client_for(f1);
  seen s = {0};
  nc_ipc_set_event_cb(c, on_event, &s);
  int fd = nc_ipc_fd(c);
  assert_int_equal(nc_ipc_status(c, 2000, NULL), 0);
  /* Wait for the hang-up through the app's descriptor. */
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  int r = 0;
  for (int i = 0; i < 100 && r >= 0; i++) {
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    r = nc_ipc_process(c);
  }
  assert_int_equal(r, NC_IPC_E_CLOSED);
  assert_false(nc_ipc_connected(c));
  assert_int_equal(nc_ipc_connect(c, f2->path), 0);
  assert_int_equal(nc_ipc_fd(c), fd);
  assert_int_equal(nc_ipc_connect(c, f2->path), NC_IPC_E_INVAL); /* already connected */
  cJSON *res = NULL;
  assert_int_equal(nc_ipc_status(c, 2000, &res), 0);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(res, "apps")), 1);
  cJSON_Delete(res);
  assert_int_equal(s.n, 1);              /* the event from before the loss was delivered */
  assert_int_equal(poll(&pfd, 1, 0), 0); /* nothing pending: fd quiet again */
  nc_ipc_free(c);
  fake_stop(f1);
  fake_stop(f2);
}

static void test_connect_failure_and_path_resolution(void **state) {
  (void)state;
  nc_ipc *c = nc_ipc_new();
  assert_int_equal(nc_ipc_connect(c, "/nonexistent/nc/agent.sock"), NC_IPC_E_CONNECT);
  assert_non_null(strstr(nc_ipc_errmsg(c), "/nonexistent/nc/agent.sock"));
  assert_int_equal(nc_ipc_fd(c), -1);
  assert_int_equal(nc_ipc_status(c, 10, NULL), NC_IPC_E_CLOSED);
  nc_ipc_free(c);

  unsetenv(NC_IPC_SOCKET_ENV);
  assert_string_equal(nc_ipc_socket_path(NULL), NC_IPC_DEFAULT_SOCKET);
  setenv(NC_IPC_SOCKET_ENV, "/tmp/x.sock", 1);
  assert_string_equal(nc_ipc_socket_path(NULL), "/tmp/x.sock");
  assert_string_equal(nc_ipc_socket_path("/a.sock"), "/a.sock");
  unsetenv(NC_IPC_SOCKET_ENV);
  assert_int_equal(nc_ipc_err_from_code("CONFLICT"), NC_IPC_E_CONFLICT);
  assert_int_equal(nc_ipc_err_from_code("nope"), NC_IPC_E_UNKNOWN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oversized_line_from_agent_closes),
      cmocka_unit_test(test_request_over_cap_refused_locally),
      cmocka_unit_test(test_hangup_after_null_id_error_names_it),
      cmocka_unit_test(test_hangup_mid_request_write_reports_agent_reason),
      cmocka_unit_test(test_peer_vanishes_mid_call),
      cmocka_unit_test(test_reconnect_keeps_fd_and_queued_events),
      cmocka_unit_test(test_connect_failure_and_path_resolution),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
