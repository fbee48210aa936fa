/* The agent's identity against nacosd with auth on (issue 12): with
 * --username/--password-file it logs in over HTTP, connects and its
 * registrations reach the server (a query with an admin token sees them)
 * and its member-list reads carry the token;
 * a wrong password keeps it disconnected and says why in its log; a
 * password file others can read is refused at start. SDK gRPC requests
 * without a token are refused with Nacos's 403 "user not found!", with an
 * admin token they pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth_login.h"
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_testagent.h"
#include "nc_testproc.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static nc_gcli_env *g_env;

typedef struct fx {
  char dir[256], pw[300];
  nc_test_nacosd srv;
} fx;

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **st) {
  fx *f = calloc(1, sizeof(*f));
  assert_int_equal(nc_test_mkdtemp(f->dir, sizeof(f->dir)), 0);
  snprintf(f->pw, sizeof(f->pw), "%s/admin.pw", f->dir);
  write_file(f->pw, "agent-Adm1n\n", 0600);
  const char *args[] = {"--auth", "on", "--admin-password-file", f->pw, NULL};
  nc_test_nacosd_opts o = {.dir = f->dir, .args = args};
  assert_int_equal(nc_test_nacosd_start_opts(&o, &f->srv), 0);
  *st = f;
  return 0;
}

static int teardown(void **st) {
  fx *f = *st;
  int rc = nc_test_nacosd_stop(&f->srv);
  nc_test_rmtree(f->dir);
  free(f);
  return rc == 0 ? 0 : -1;
}

static void agent_servers(const fx *f, char *buf, size_t cap) {
  nc_test_agent_servers(buf, cap, &f->srv, NULL);
}

static void test_agent_logs_in_and_registers(void **st) {
  fx *f = *st;
  char servers[128], adir[300];
  agent_servers(f, servers, sizeof(servers));
  snprintf(adir, sizeof(adir), "%s/agent", f->dir);
  mkdir(adir, 0700);
  const char *extra[] = {"--username", "nacos", "--password-file", f->pw, NULL};
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, extra), 0);
  assert_true(nc_test_agent_wait_connected(&ag, 10000) >= 0);
  nc_tc *c = nc_tc_open(ag.sock);
  assert_non_null(c);
  assert_true(nc_tc_call_ok(c, 1,
                            "{\"id\":1,\"op\":\"naming.register\",\"service\":\"authsvc\","
                            "\"ip\":\"10.1.1.1\",\"port\":8080}"));
  /* the server has it: an SDK client with an admin token sees it */
  nc_ag_login l;
  assert_int_equal(nc_ag_login_http(f->srv.host, f->srv.port, "nacos", "agent-Adm1n", 3000, &l), 0);
  nc_tw_opts o = {.access_token = l.token};
  nc_tw *tw = nc_tw_open(g_env, f->srv.target, &o);
  assert_non_null(tw);
  NC_TEST_WAIT(nc_tw_query_hosts(tw, "authsvc") == 1, 5000);
  nc_tw_close(tw);
  /* its member-list read (~100 ms after connecting) carried the token */
  usleep(500 * 1000);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "grep -q 'cluster/nodes from .* refused' '%s'",
           f->srv.proc.log_path);
  assert_int_not_equal(system(cmd), 0);
  nc_tc_close(c);
  assert_int_equal(nc_test_agent_stop(&ag), 0);
}

static void test_agent_with_a_wrong_password_stays_out(void **st) {
  fx *f = *st;
  char servers[128], adir[300], bad[300];
  agent_servers(f, servers, sizeof(servers));
  snprintf(adir, sizeof(adir), "%s/agent-bad", f->dir);
  mkdir(adir, 0700);
  snprintf(bad, sizeof(bad), "%s/bad.pw", f->dir);
  write_file(bad, "not-the-password\n", 0600);
  const char *extra[] = {"--username", "nacos", "--password-file", bad, NULL};
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, extra), 0);
  assert_true(nc_test_agent_wait_connected(&ag, 2500) < 0);
  /* the log says why */
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "grep -q 'login to .* as nacos failed: login refused (HTTP 403)' '%s'",
           ag.proc.log_path);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(nc_test_agent_stop(&ag), 0);
}

static void test_password_file_others_can_read_is_refused(void **st) {
  fx *f = *st;
  char servers[128], adir[300], open_pw[300], log[400];
  agent_servers(f, servers, sizeof(servers));
  snprintf(adir, sizeof(adir), "%s/agent-open", f->dir);
  mkdir(adir, 0700);
  snprintf(open_pw, sizeof(open_pw), "%s/open.pw", f->dir);
  write_file(open_pw, "agent-Adm1n\n", 0644);
  snprintf(log, sizeof(log), "%s/agent-open.log", f->dir);
  char sock[400], cache[400];
  snprintf(sock, sizeof(sock), "%s/a.sock", adir);
  snprintf(cache, sizeof(cache), "%s/cache", adir);
  char *const argv[] = {"nacos-agent", "--servers", servers, "--socket", sock, "--cache-dir", cache,
                        "--username", "nacos", "--password-file", open_pw, NULL};
  nc_testproc p;
  assert_int_equal(nc_testproc_start(&p, NC_AGENT_BIN, argv, log), 0);
  NC_TEST_WAIT(!nc_testproc_alive(&p), 5000);
  int rc = nc_testproc_kill(&p, SIGKILL);
  assert_true(rc != 0);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "grep -q 'readable or writable by others' '%s'", log);
  assert_int_equal(system(cmd), 0);
}

static void test_sdk_request_without_a_token_refused(void **st) {
  fx *f = *st;
  nc_tw *anon = nc_tw_open(g_env, f->srv.target, NULL);
  assert_non_null(anon);
  nc_tw_reply r = nc_tw_config_publish(anon, "secret.yaml", "DEFAULT_GROUP", NULL, "x", NULL);
  nc_tw_expect_fail(r, "ConfigPublishResponse", 403, "user not found");
  nc_tw_close(anon);
  nc_ag_login l;
  assert_int_equal(nc_ag_login_http(f->srv.host, f->srv.port, "nacos", "agent-Adm1n", 3000, &l), 0);
  nc_tw_opts o = {.access_token = l.token};
  nc_tw *admin = nc_tw_open(g_env, f->srv.target, &o);
  assert_non_null(admin);
  r = nc_tw_config_publish(admin, "secret.yaml", "DEFAULT_GROUP", NULL, "x", NULL);
  assert_true(nc_tw_ok(&r));
  /* a tampered token is refused too */
  l.token[strlen(l.token) - 2] ^= 1;
  nc_tw_opts bo = {.access_token = l.token};
  nc_tw *bad = nc_tw_open(g_env, f->srv.target, &bo);
  assert_non_null(bad);
  r = nc_tw_config_publish(bad, "secret.yaml", "DEFAULT_GROUP", NULL, "y", NULL);
  nc_tw_expect_fail(r, "ConfigPublishResponse", 403, "token invalid");
  nc_tw_close(bad);
  nc_tw_close(admin);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_agent_logs_in_and_registers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_agent_with_a_wrong_password_stays_out, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_password_file_others_can_read_is_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_sdk_request_without_a_token_refused, setup, teardown),
  };
  nc_grpc_init();
  if (nc_gcli_env_new(1, &g_env) != 0)
    return 1;
  int rc = NC_TEST_MAIN(tests);
  nc_gcli_env_free(g_env);
  nc_grpc_shutdown();
  return rc;
}
