/* nacos-agent's local side without a reachable upstream: socket file mode,
 * uid restriction (FORBIDDEN then close), systemd readiness (READY=1 on
 * NOTIFY_SOCKET), --help, clean SIGTERM, and registrations accepted while
 * no upstream exists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testproc.h"

#include <sys/stat.h>

/* A server entry nobody listens on: the agent keeps retrying. */
static const char *nowhere = "127.0.0.1:1#1";

static void test_socket_mode_readiness_and_clean_sigterm(void **state) {
  (void)state;
  char dir[256], npath[300];
  test_agent ag;
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(npath, sizeof(npath), "%s/notify.sock", dir);
  int nfd = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un sa = {0};
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, npath, strlen(npath));
  assert_int_equal(bind(nfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  setenv("NOTIFY_SOCKET", npath, 1);
  assert_int_equal(agent_start(&ag, dir, nowhere, NULL), 0);
  unsetenv("NOTIFY_SOCKET");
  struct pollfd p = {nfd, POLLIN, 0};
  assert_int_equal(poll(&p, 1, 5000), 1);
  char msg[64] = {0};
  assert_true(recv(nfd, msg, sizeof(msg) - 1, 0) > 0);
  assert_string_equal(msg, "READY=1");
  close(nfd);

  struct stat st;
  assert_int_equal(stat(ag.sock, &st), 0);
  assert_true(S_ISSOCK(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0660);

  /* No upstream: registrations are accepted and kept for later. */
  tc *c = tc_open(ag.sock);
  cJSON *r = tc_call(c, 1,
                     "{\"id\":1,\"op\":\"naming.register\",\"service\":\"later\",\"ip\":\"10.8.0.1\","
                     "\"port\":1,\"cluster\":\"c-1\",\"weight\":2.5}");
  assert_true(tc_ok(r));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r, "applied")));
  assert_string_equal(cJSON_GetObjectItem(r, "instance_id")->valuestring,
                      "10.8.0.1#1#c-1#DEFAULT_GROUP@@later");
  cJSON_Delete(r);
  r = tc_call(c, 2,
              "{\"id\":2,\"op\":\"naming.register\",\"service\":\"later\",\"ip\":\"10.8.0.1\","
              "\"port\":1,\"cluster\":\"bad cluster\"}");
  assert_string_equal(tc_errcode(r), "BAD_REQUEST");
  cJSON_Delete(r);
  r = tc_call(c, 3, "{\"id\":3,\"op\":\"agent.status\"}");
  assert_int_equal(cJSON_GetObjectItem(r, "instances")->valueint, 1);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r, "connected")));
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "connection_id")));
  cJSON_Delete(r);
  r = tc_call(c, 4, "{\"id\":4,\"op\":\"agent.hello\",\"protocol\":2}");
  assert_string_equal(tc_errcode(r), "BAD_REQUEST");
  cJSON_Delete(r);
  tc_close(c);
  /* SIGTERM: exits 0 (no leaks under ASan) and removes the socket. */
  assert_int_equal(agent_stop(&ag), 0);
  nc_test_rmtree(dir);
}

static void test_uid_not_allowed_gets_forbidden_then_close(void **state) {
  (void)state;
  char dir[256], uids[64];
  test_agent ag;
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(uids, sizeof(uids), "%u", (unsigned)getuid() + 4242);
  const char *extra[] = {"--allowed-uids", uids, NULL};
  assert_int_equal(agent_start(&ag, dir, nowhere, extra), 0);
  tc *c = tc_open(ag.sock);
  assert_non_null(c);
  cJSON *r = tc_read(c, 3000);
  assert_non_null(r);
  assert_string_equal(tc_errcode(r), "FORBIDDEN");
  cJSON_Delete(r);
  assert_null(tc_read(c, 3000));
  assert_true(tc_eof(c));
  tc_close(c);
  assert_int_equal(agent_stop(&ag), 0);

  /* Our own uid in the list: served. */
  snprintf(uids, sizeof(uids), "%u,%u", (unsigned)getuid() + 1, (unsigned)getuid());
  assert_int_equal(agent_start(&ag, dir, nowhere, extra), 0);
  c = tc_open(ag.sock);
  assert_true(tc_call_ok(c, 1, "{\"id\":1,\"op\":\"agent.hello\",\"app\":\"me\"}"));
  tc_close(c);
  assert_int_equal(agent_stop(&ag), 0);
  nc_test_rmtree(dir);
}

static void test_help_and_bad_options(void **state) {
  (void)state;
  char dir[256], log[300], cmd[1400];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(log, sizeof(log), "%s/help.txt", dir);
  snprintf(cmd, sizeof(cmd), "%s --help > %s 2>&1", NC_AGENT_BIN, log);
  assert_int_equal(system(cmd), 0);
  FILE *f = fopen(log, "r");
  char buf[8192] = {0};
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  assert_non_null(strstr(buf, "--servers"));
  assert_non_null(strstr(buf, "#grpcport"));
  assert_non_null(strstr(buf, "--health-interval-ms"));
  snprintf(cmd, sizeof(cmd), "%s --servers 'h:0' --socket %s/x.sock --cache-dir %s/c >%s 2>&1",
           NC_AGENT_BIN, dir, dir, log);
  assert_int_not_equal(system(cmd), 0);
  nc_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_socket_mode_readiness_and_clean_sigterm),
      cmocka_unit_test(test_uid_not_allowed_gets_forbidden_then_close),
      cmocka_unit_test(test_help_and_bad_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
