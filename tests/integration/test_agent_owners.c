/* An instance belongs to the local user who registered it (issue 12): an
 * app of another uid may neither take it over with a register of its own
 * nor release it, not even a detached one (register --once); an app of the
 * same uid and root may; --uid-policy limits the namespaces a uid may read
 * or write. Needs root (the apps run under other uids);
 * skipped otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testwait.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static nc_test_stack st;

#define GID 65534
#define REG                                                                                        \
  "{\"id\":1,\"op\":\"naming.register\",\"service\":\"owned\",\"ip\":\"10.7.0.1\",\"port\":80,"    \
  "\"weight\":%d,\"detached\":true}"
#define DEREG                                                                                      \
  "{\"id\":2,\"op\":\"naming.deregister\",\"service\":\"owned\",\"ip\":\"10.7.0.1\",\"port\":80}"

static int start(const char *policy) {
  if (geteuid() != 0)
    return 0;
  const char *args[] = {"--socket-group", "65534", policy ? "--uid-policy" : NULL, policy, NULL};
  if (nc_test_stack_start(&st, NULL, args) != 0)
    return -1;
  return chmod(st.dir, 0711) == 0 ? 0 : -1; /* other uids reach the socket */
}
static int setup(void **s) { return (void)s, start(NULL); }
static int setup_policy(void **s) { return (void)s, start("65534:r:public;12345:rw:dev"); }
static int teardown(void **s) { return (void)s, geteuid() == 0 ? nc_test_stack_stop(&st) : 0; }

/* Runs one request as uid (in a child): the error code of the first
 * answer ("" = ok) into code. */
static void call_as(uid_t uid, const char *req, char *code, size_t cap) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    if (setgid(GID) != 0 || setuid(uid) != 0)
      _exit(2);
    tc *c = tc_open(st.ag.sock);
    cJSON *r = NULL;
    if (c && nc_tc_sendf(c, "%s", req) == 0)
      for (int i = 0; i < 20 && !r; i++)
        r = nc_tc_read(c, 500);

    const char *e = !c ? "NO_CONN" : !r ? "NO_ANSWER" : tc_ok(r) ? "" : tc_errcode(r);
    ssize_t w = write(fds[1], e, strlen(e));
    (void)w;
    _exit(0);
  }
  close(fds[1]);
  ssize_t n = read(fds[0], code, cap - 1);
  code[n > 0 ? n : 0] = '\0';
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Hosts of service "owned" on the server, as viewer's agent query shows. */
static int tc_hosts(tc *viewer, const char *svc) {
  cJSON *r = tc_call(viewer, 100, "{\"id\":100,\"op\":\"naming.instances\",\"service\":\"%s\"}",
                     svc);
  int n = tc_ok(r) ? hosts_count(r) : -1;
  cJSON_Delete(r);
  return n;
}

static void test_another_user_cannot_take_or_release(void **state) {
  (void)state;
  if (geteuid() != 0) {
    fprintf(stderr, "skipped: needs root to run apps under other uids\n");
    skip();
  }
  char code[64], req[256];
  snprintf(req, sizeof(req), REG, 3);
  call_as(65534, req, code, sizeof(code));
  assert_string_equal(code, "");
  tc *viewer = tc_open(st.ag.sock); /* root */
  assert_non_null(viewer);
  NC_TEST_WAIT(tc_hosts(viewer, "owned") == 1, 5000);
  /* another uid: neither a register of its own nor a deregister */
  snprintf(req, sizeof(req), REG, 9);
  call_as(12345, req, code, sizeof(code));
  assert_string_equal(code, "FORBIDDEN");
  call_as(12345, DEREG, code, sizeof(code));
  assert_string_equal(code, "FORBIDDEN");
  assert_int_equal(tc_hosts(viewer, "owned"), 1);
  /* the same uid (another app of that user) may */
  snprintf(req, sizeof(req), REG, 5);
  call_as(65534, req, code, sizeof(code));
  assert_string_equal(code, "");
  /* and root may release it */
  cJSON *r = tc_call(viewer, 2, "{\"id\":2,\"op\":\"naming.deregister\",\"service\":\"owned\","
                                "\"ip\":\"10.7.0.1\",\"port\":80,\"detached\":true}");
  assert_true(tc_ok(r));
  cJSON_Delete(r);
  tc_close(viewer);
}

/* --uid-policy: uid 65534 may only read the public namespace, 12345 may
 * read and write dev only. */
static void test_uid_policy_limits_namespaces(void **state) {
  (void)state;
  if (geteuid() != 0) {
    fprintf(stderr, "skipped: needs root to run apps under other uids\n");
    skip();
  }
  char code[64];
  call_as(65534, "{\"id\":1,\"op\":\"config.get\",\"data_id\":\"x\",\"group\":\"G\"}", code,
          sizeof(code));
  assert_true(strcmp(code, "FORBIDDEN") != 0); /* NOT_FOUND: allowed, absent */
  call_as(65534,
          "{\"id\":1,\"op\":\"naming.register\",\"service\":\"p\",\"ip\":\"10.8.0.1\","
          "\"port\":80}",
          code, sizeof(code));
  assert_string_equal(code, "FORBIDDEN");
  call_as(12345,
          "{\"id\":1,\"op\":\"naming.register\",\"service\":\"p\",\"namespace\":\"dev\","
          "\"ip\":\"10.8.0.2\",\"port\":80}",
          code, sizeof(code));
  assert_true(strcmp(code, "FORBIDDEN") != 0);
  call_as(12345, "{\"id\":1,\"op\":\"config.get\",\"data_id\":\"x\",\"group\":\"G\"}", code,
          sizeof(code));
  assert_string_equal(code, "FORBIDDEN"); /* public is not 12345's */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_another_user_cannot_take_or_release, setup, teardown),
      cmocka_unit_test_setup_teardown(test_uid_policy_limits_namespaces, setup_policy, teardown),
  };
  return NC_TEST_MAIN(tests);
}
