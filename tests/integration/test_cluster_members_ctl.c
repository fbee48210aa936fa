/* nacosctl cluster against 3 real nodes: with --server HOST:PORT (no agent
 * needed) the table lists every member UP and ready with its version, and
 * --json one Member per line; without --server it asks the agent which
 * server it is connected to; an unreachable server exits 3, a port that
 * is not nacosd's main port exits 1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster_itest.h"
#include "nc_testagent.h"
#include "nc_testrun.h"
#include "nc_testwait.h"

#include <sys/stat.h>

static nc_tcluster *g_c;
static char g_addr[3][80];

static int setup(void **state) {
  (void)state;
  g_c = cit_start(3, NULL);
  for (int i = 0; i < 3; i++)
    cit_addr(g_c, i, g_addr[i], sizeof(g_addr[i]));
  NC_TEST_WAIT(cit_all_up(g_c, 3), 8000);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  return nc_tcluster_stop(g_c) == 0 ? 0 : -1;
}

/* Runs nacosctl with args; its exit code, output in r. */
static int ctl(nc_trun *r, const char *const *args) {
  const char *argv[16] = {NC_NACOSCTL_BIN};
  int n = 1;
  for (int i = 0; args[i] && n < 15; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  assert_int_equal(nc_trun_spawn(r, argv, NULL, NULL), 0);
  return nc_trun_finish(r, nc_test_timeout_ms(10000));
}

static void assert_table(const char *out) {
  assert_non_null(strstr(out, "ADDRESS"));
  assert_non_null(strstr(out, "LAST REFRESH"));
  for (int i = 0; i < 3; i++) {
    const char *line = strstr(out, g_addr[i]);
    assert_non_null(line);
    const char *eol = strchr(line, '\n');
    char row[256];
    snprintf(row, sizeof(row), "%.*s", (int)(eol ? eol - line : (long)strlen(line)), line);
    assert_non_null(strstr(row, " UP "));
    assert_non_null(strstr(row, " yes "));
    assert_non_null(strstr(row, NC_VERSION));
  }
}

static void test_cluster_with_server(void **state) {
  (void)state;
  static nc_trun r;
  const char *args[] = {"cluster", "--server", g_addr[1], NULL};
  assert_int_equal(ctl(&r, args), 0);
  assert_table(r.obuf);
  const char *jargs[] = {"cluster", "--server", g_addr[1], "--json", NULL};
  assert_int_equal(ctl(&r, jargs), 0);
  int lines = 0;
  for (char *p = r.obuf, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
    *nl = '\0';
    cJSON *m = cJSON_Parse(p);
    assert_non_null(m);
    assert_string_equal(nc_json_str(m, "address", ""), g_addr[lines]);
    assert_string_equal(nc_json_str(m, "state", ""), "UP");
    cJSON_Delete(m);
    lines++;
  }
  assert_int_equal(lines, 3);
}

static void test_cluster_through_agent(void **state) {
  (void)state;
  static nc_trun r;
  char dir[600], servers[256];
  snprintf(dir, sizeof(dir), "%s/agent", nc_tcluster_dir(g_c));
  assert_int_equal(mkdir(dir, 0700), 0);
  nc_test_agent_servers(servers, sizeof(servers), nc_tcluster_node(g_c, 2), NULL);
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, dir, servers, NULL), 0);
  assert_true(nc_test_agent_wait_connected(&ag, 10000) >= 0);
  const char *args[] = {"cluster", "--socket", ag.sock, NULL};
  assert_int_equal(ctl(&r, args), 0);
  assert_table(r.obuf);
  assert_int_equal(nc_test_agent_stop(&ag), 0);
}

static void test_cluster_errors(void **state) {
  (void)state;
  static nc_trun r;
  const char *dead[] = {"cluster", "--server", "127.0.0.1:1", NULL};
  assert_int_equal(ctl(&r, dead), 3);
  assert_non_null(strstr(r.ebuf, "cannot connect to 127.0.0.1:1"));
  /* the SDK gRPC port answers no HTTP member list */
  char grpc[80];
  snprintf(grpc, sizeof(grpc), "%s:%d", nc_tcluster_node(g_c, 0)->host,
           nc_tcluster_node(g_c, 0)->grpc_port);
  const char *wrong[] = {"cluster", "--server", grpc, "--timeout", "2000", NULL};
  assert_int_not_equal(ctl(&r, wrong), 0);
  const char *bad[] = {"cluster", "--server", "no-port", NULL};
  assert_int_equal(ctl(&r, bad), 3);
  assert_non_null(strstr(r.ebuf, "bad server address"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cluster_with_server),
      cmocka_unit_test(test_cluster_through_agent),
      cmocka_unit_test(test_cluster_errors),
  };
  return NC_TEST_RUN_GROUP(tests, setup, teardown);
}
