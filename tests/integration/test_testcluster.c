/* The test layer itself: nc_testcluster starts N real nacosd nodes (each on
 * its own 127.A.B.x with the Nacos ports, or on 127.0.0.1), every node serves
 * registrations and config through nc_testwire, one node is killed and
 * restarted on its ports with its data, per-node and hook arguments reach
 * the processes, and NC_TEST_FILTER selects tests of a program that calls
 * cmocka_run_group_tests directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_testcluster.h"
#include "nc_testrun.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static nc_gcli_env *g_env;

/* The process's command line, arguments joined by spaces. */
static void cmdline(pid_t pid, char *buf, size_t cap) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;
  if (fd >= 0)
    close(fd);
  buf[n > 0 ? n : 0] = '\0';
  for (ssize_t i = 0; i + 1 < n; i++)
    if (buf[i] == '\0')
      buf[i] = ' ';
}

/* Registers svc on node i and publishes key = content there, checking both
 * are served back by that node. */
static void node_serves(nc_tcluster *c, int i, const char *svc, const char *key,
                        const char *content) {
  nc_tw *tw = nc_tw_open(g_env, nc_tcluster_node(c, i)->target, NULL);
  assert_non_null(tw);
  nc_tw_instance in = {.ip = "10.7.0.1", .port = 8000 + i};
  nc_tw_reply r = nc_tw_register(tw, svc, &in);
  assert_true(nc_tw_ok(&r));
  nc_tw_service s;
  r = nc_tw_query(tw, svc, &s);
  assert_true(nc_tw_ok(&r));
  assert_int_equal(s.nhosts, 1);
  assert_int_equal(s.hosts[0].port, 8000 + i);
  nc_tw_service_free(&s);
  r = nc_tw_config_publish(tw, key, "G", "", content, NULL);
  assert_true(nc_tw_ok(&r));
  nc_tw_config cfg;
  r = nc_tw_config_get(tw, key, "G", "", &cfg);
  assert_true(nc_tw_ok(&r));
  assert_string_equal(cfg.content, content);
  nc_tw_config_free(&cfg);
  nc_tw_close(tw);
}

/* Content of key on node i, or NULL when missing (caller frees). */
static char *node_config(nc_tcluster *c, int i, const char *key) {
  nc_tw *tw = nc_tw_open(g_env, nc_tcluster_node(c, i)->target, NULL);
  assert_non_null(tw);
  nc_tw_config cfg;
  nc_tw_reply r = nc_tw_config_get(tw, key, "G", "", &cfg);
  char *out = nc_tw_ok(&r) && cfg.content ? strdup(cfg.content) : NULL;
  nc_tw_config_free(&cfg);
  nc_tw_close(tw);
  return out;
}

static void test_three_nodes_each_serve_naming_and_config(void **state) {
  (void)state;
  nc_tcluster_opts o = {.nodes = 3};
  nc_tcluster *c = NULL;
  assert_int_equal(nc_tcluster_start(&o, &c), 0);
  assert_int_equal(nc_tcluster_size(c), 3);
  char want[256] = "";
  for (int i = 0; i < 3; i++) {
    const nc_test_nacosd *n = nc_tcluster_node(c, i);
    size_t l = strlen(want);
    snprintf(want + l, sizeof(want) - l, "%s%s:%d", i ? "," : "", n->host, n->port);
    if (!nc_tcluster_same_host(c)) {
      /* own address, the Nacos ports (or a base chosen after a clash) */
      assert_string_not_equal(n->host, "127.0.0.1");
      assert_int_equal(n->grpc_port, n->port + 1000);
      assert_int_equal(n->cluster_port, n->port + 1001);
      if (i)
        assert_string_not_equal(n->host, nc_tcluster_node(c, 0)->host);
    }
    /* the layout under the one temp dir */
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/n%d", nc_tcluster_dir(c), i);
    assert_string_equal(n->dir, dir);
    assert_int_equal(access(n->proc.log_path, R_OK), 0);
    assert_true(nc_tcluster_metric(c, i, "nacosd_connections") >= 0);
  }
  assert_string_equal(nc_tcluster_members(c), want);
  for (int i = 0; i < 3; i++) {
    char svc[32], key[32];
    snprintf(svc, sizeof(svc), "svc-%d", i);
    snprintf(key, sizeof(key), "key-%d", i);
    node_serves(c, i, svc, key, svc);
  }
  /* no cluster flags yet: each node holds only its own data */
  char *other = node_config(c, 1, "key-0");
  assert_null(other);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

static void test_restart_keeps_ports_and_data(void **state) {
  (void)state;
  nc_tcluster_opts o = {.nodes = 3};
  nc_tcluster *c = NULL;
  assert_int_equal(nc_tcluster_start(&o, &c), 0);
  node_serves(c, 1, "before", "kept", "v1");
  nc_test_nacosd before = *nc_tcluster_node(c, 1);
  assert_int_equal(nc_tcluster_kill_node(c, 1, SIGKILL), 128 + SIGKILL);
  assert_false(nc_tcluster_node_alive(c, 1));
  /* the others keep serving */
  node_serves(c, 0, "while-down", "k0", "x");
  node_serves(c, 2, "while-down", "k2", "y");
  assert_int_equal(nc_tcluster_restart_node(c, 1), 0);
  const nc_test_nacosd *after = nc_tcluster_node(c, 1);
  assert_true(nc_tcluster_node_alive(c, 1));
  assert_int_not_equal(after->proc.pid, before.proc.pid);
  assert_string_equal(after->host, before.host);
  assert_int_equal(after->port, before.port);
  assert_int_equal(after->grpc_port, before.grpc_port);
  assert_int_equal(after->cluster_port, before.cluster_port);
  assert_string_equal(after->target, before.target);
  /* same data dir: the config published before the kill is there */
  char *v = node_config(c, 1, "kept");
  assert_non_null(v);
  assert_string_equal(v, "v1");
  free(v);
  node_serves(c, 1, "after", "k1", "z");
  /* a graceful stop and a restart work too; the log holds both runs */
  assert_int_equal(nc_tcluster_stop_node(c, 1), 0);
  assert_int_equal(nc_tcluster_restart_node(c, 1), 0);
  assert_int_equal(nc_tcluster_restart_node(c, 1), NC_ESTATE); /* already running */
  FILE *f = fopen(after->proc.log_path, "r");
  assert_non_null(f);
  char line[1024];
  int restarts = 0;
  while (fgets(line, sizeof(line), f))
    restarts += strcmp(line, "----- restart -----\n") == 0;
  fclose(f);
  assert_int_equal(restarts, 2);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

typedef struct hook_seen {
  char members[3][256];
  int calls;
} hook_seen;

/* What a cluster test will do with --members: here a harmless flag that
 * carries node-specific data, and a record of what the hook saw. */
static void add_members(void *ud, const nc_tcluster *c, int index, nc_targv *av) {
  hook_seen *seen = ud;
  snprintf(seen->members[index], sizeof(seen->members[index]), "%s", nc_tcluster_members(c));
  seen->calls++;
  nc_targv_addf(av, "--push-merge-ms=%d", 100 + index);
}

static void test_args_reach_each_node_and_hook_knows_members(void **state) {
  (void)state;
  const char *all[] = {"--log-level", "debug", NULL};
  const char *second[] = {"--empty-service-ttl-ms=1234", NULL};
  hook_seen seen = {0};
  nc_tcluster_opts o = {.nodes = 3, .args = all, .args_fn = add_members, .ud = &seen};
  o.node_args[1] = second;
  nc_tcluster *c = NULL;
  assert_int_equal(nc_tcluster_start(&o, &c), 0);
  assert_true(seen.calls >= 3); /* once per node (and per retried start) */
  for (int i = 0; i < 3; i++) {
    /* the whole member list was known before the first node started */
    assert_string_equal(seen.members[i], nc_tcluster_members(c));
    char cl[2048], want[64];
    cmdline(nc_tcluster_node(c, i)->proc.pid, cl, sizeof(cl));
    assert_non_null(strstr(cl, "--log-level debug"));
    snprintf(want, sizeof(want), "--push-merge-ms=%d", 100 + i);
    assert_non_null(strstr(cl, want));
    assert_true((strstr(cl, "--empty-service-ttl-ms=1234") != NULL) == (i == 1));
  }
  /* a restart gets the same arguments */
  assert_int_equal(nc_tcluster_kill_node(c, 2, SIGKILL), 128 + SIGKILL);
  assert_int_equal(nc_tcluster_restart_node(c, 2), 0);
  char cl[2048];
  cmdline(nc_tcluster_node(c, 2)->proc.pid, cl, sizeof(cl));
  assert_non_null(strstr(cl, "--push-merge-ms=102"));
  assert_int_equal(nc_tcluster_stop(c), 0);
}

static void test_same_host_and_port0_modes(void **state) {
  (void)state;
  for (int mode = 0; mode < 2; mode++) {
    nc_tcluster_opts o = {.nodes = 2, .same_host = mode == 0, .port0 = mode == 1};
    nc_tcluster *c = NULL;
    assert_int_equal(nc_tcluster_start(&o, &c), 0);
    assert_true(nc_tcluster_same_host(c));
    const nc_test_nacosd *a = nc_tcluster_node(c, 0), *b = nc_tcluster_node(c, 1);
    assert_string_equal(a->host, "127.0.0.1");
    assert_string_equal(b->host, "127.0.0.1");
    assert_int_not_equal(a->port, b->port);
    assert_int_not_equal(a->grpc_port, b->grpc_port);
    char want[128];
    snprintf(want, sizeof(want), "127.0.0.1:%d,127.0.0.1:%d", a->port, b->port);
    assert_string_equal(nc_tcluster_members(c), want);
    node_serves(c, 0, "s", "k", "a");
    node_serves(c, 1, "s", "k", "b");
    /* port0: the restart reuses the ports read back at the first start */
    int port = b->port;
    assert_int_equal(nc_tcluster_kill_node(c, 1, SIGKILL), 128 + SIGKILL);
    assert_int_equal(nc_tcluster_restart_node(c, 1), 0);
    assert_int_equal(nc_tcluster_node(c, 1)->port, port);
    assert_int_equal(nc_tcluster_stop(c), 0);
  }
}

/* A listener on 0.0.0.0:8848 (a developer's nacosd with default flags)
 * takes 8848 on every 127.A.B.x: the probes see it and the cluster moves to
 * another base port instead of failing to start. */
static void test_wildcard_listener_on_8848_moves_the_base(void **state) {
  (void)state;
  int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(8848)};
  assert_true(fd >= 0);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  /* when this bind fails, 8848 is held by someone else: maybe a wildcard
   * listener (the same situation), maybe only one 127.x address (another
   * cluster), so the base is checked only for a listener of our own */
  int mine = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 1) == 0;
  nc_tcluster_opts o = {.nodes = 2};
  nc_tcluster *c = NULL;
  int rc = nc_tcluster_start(&o, &c);
  close(fd);
  assert_int_equal(rc, 0);
  fprintf(stderr, "wildcard 8848 %s; nodes on %s\n", mine ? "held by the test" : "already taken",
          nc_tcluster_members(c));
  for (int i = 0; i < 2; i++) {
    const nc_test_nacosd *n = nc_tcluster_node(c, i);
    if (mine)
      assert_int_not_equal(n->port, 8848);
    if (!nc_tcluster_same_host(c))
      assert_int_equal(n->grpc_port, n->port + 1000);
    node_serves(c, i, "moved", "k", "v");
  }
  assert_int_equal(nc_tcluster_stop(c), 0);
}

/* A node that died on its own makes the cluster's stop fail (and dumps
 * its log), so a crash is not lost. */
static void test_node_that_died_fails_the_stop(void **state) {
  (void)state;
  nc_tcluster_opts o = {.nodes = 2};
  nc_tcluster *c = NULL;
  assert_int_equal(nc_tcluster_start(&o, &c), 0);
  kill(nc_tcluster_node(c, 1)->proc.pid, SIGKILL); /* not through the helper */
  NC_TEST_WAIT(!nc_tcluster_node_alive(c, 1), 5000);
  fprintf(stderr, "(a node log dump follows: expected)\n");
  assert_int_equal(nc_tcluster_stop(c), -1);
}

/* ---- NC_TEST_FILTER on this very program ---- */

static void demo_a(void **state) { (void)state; }
static void demo_b(void **state) { (void)state; }

static void test_filter_env_selects_tests(void **state) {
  (void)state;
  static nc_trun r;
  const char *argv[] = {"/proc/self/exe", "--demo", NULL};
  assert_int_equal(nc_trun_spawn(&r, argv, "NC_TEST_FILTER", "demo_b"), 0);
  assert_int_equal(nc_trun_finish(&r, 20000), 0);
  assert_null(strstr(r.obuf, "[ RUN      ] demo_a\n"));
  assert_non_null(strstr(r.obuf, "[ RUN      ] demo_b\n"));
  assert_non_null(strstr(r.obuf, "1 test(s) run."));
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--demo") == 0) {
    const struct CMUnitTest demo[] = {cmocka_unit_test(demo_a), cmocka_unit_test(demo_b)};
    return cmocka_run_group_tests(demo, NULL, NULL);
  }
  nc_grpc_init();
  if (nc_gcli_env_new(1, &g_env) != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_three_nodes_each_serve_naming_and_config),
      cmocka_unit_test(test_restart_keeps_ports_and_data),
      cmocka_unit_test(test_args_reach_each_node_and_hook_knows_members),
      cmocka_unit_test(test_same_host_and_port0_modes),
      cmocka_unit_test(test_wildcard_listener_on_8848_moves_the_base),
      cmocka_unit_test(test_node_that_died_fails_the_stop),
      cmocka_unit_test(test_filter_env_selects_tests),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_gcli_env_free(g_env);
  nc_grpc_shutdown();
  return rc;
}
