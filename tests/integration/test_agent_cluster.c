/* The agent on a cluster (issue 10, Agent): with --servers A,B,C where A is
 * still starting (held not ready) and B refuses connections, agents are on
 * C within about a second (a not-ready node answers ServerCheck with
 * errorCode 300 and is skipped at once instead of polled until the request
 * timeout); and after a kill -9 of the node agents are on, they move to the
 * ready survivor (never trying the not-ready node first: the member list
 * learned from the server ranks it last) and redo their registrations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_testagent.h"
#include "nc_testproc.h"
#include "distro_itest.h"

#include <signal.h>

#define AGENTS 4
#define INSTANCES 5

static const char *const hold[] = {"--cluster-hold-ready-ms", "30000", NULL};

/* 3 nodes knowing each other; node `held` stays not ready for 30 s. */
static nc_tcluster *start_held(int held) {
  nc_tcluster_opts o = {.nodes = 3, .args_fn = cit_members_args};
  o.node_args[held] = hold;
  nc_tcluster *c = NULL;
  assert_int_equal(nc_tcluster_start(&o, &c), 0);
  if (nc_tcluster_same_host(c)) {
    nc_tcluster_stop(c);
    skip();
  }
  return c;
}

static void servers_of(nc_tcluster *c, char *buf, size_t cap) {
  size_t n = 0;
  for (int i = 0; i < 3 && n < cap; i++) {
    const nc_test_nacosd *s = nc_tcluster_node(c, i);
    n += (size_t)snprintf(buf + n, cap - n, "%s%s:%d#%d", i ? "," : "", s->host, s->port,
                          s->grpc_port);
  }
}

/* The node whose main address is addr ("host:port"), or -1. */
static int node_named(nc_tcluster *c, const char *addr) {
  char a[80];
  for (int i = 0; i < nc_tcluster_size(c); i++)
    if (!strcmp(cit_addr(c, i, a, sizeof(a)), addr))
      return i;
  return -1;
}

/* The node the agent says it is connected to, -1 while it is not. */
static int agent_node(nc_tcluster *c, nc_tc *app) {
  cJSON *st = nc_tc_call(app, 900, "{\"id\":900,\"op\":\"agent.status\"}");
  int on = cJSON_IsTrue(cJSON_GetObjectItem(st, "connected"))
               ? node_named(c, nc_json_str(st, "server", ""))
               : -1;
  cJSON_Delete(st);
  return on;
}

/* Lines of the agent's log that contain want. */
static int log_lines(const nc_test_agent *ag, const char *want) {
  FILE *f = fopen(ag->proc.log_path, "r");
  char line[2048];
  int n = 0;
  while (f && fgets(line, sizeof(line), f))
    n += strstr(line, want) != NULL;
  if (f)
    fclose(f);
  return n;
}

/* Lines of the agent's log naming a failed connect to target. */
static int failed_connects(const nc_test_agent *ag, const char *target) {
  char want[200];
  snprintf(want, sizeof(want), "connect to %s failed", target);
  return log_lines(ag, want);
}

#define REDO_LINE "naming: redo 1 service registrations"

typedef struct fleet {
  char dir[AGENTS][256];
  nc_test_agent ag[AGENTS];
  nc_tc *app[AGENTS];
} fleet;

/* Starts AGENTS agents on servers one after another; returns the slowest
 * time from an agent's start (the process spawned) to its connection. */
static long long fleet_start(fleet *f, const char *servers) {
  long long slowest = 0;
  for (int i = 0; i < AGENTS; i++) {
    assert_int_equal(nc_test_mkdtemp(f->dir[i], sizeof(f->dir[i])), 0);
    long long t0 = dit_now_ms();
    assert_int_equal(nc_test_agent_start(&f->ag[i], f->dir[i], servers, NULL), 0);
    assert_true(nc_test_agent_wait_connected(&f->ag[i], 10000) >= 0);
    long long t = dit_now_ms() - t0;
    slowest = t > slowest ? t : slowest;
    assert_non_null(f->app[i] = nc_tc_open(f->ag[i].sock));
  }
  return slowest;
}

static void fleet_stop(fleet *f) {
  for (int i = 0; i < AGENTS; i++) {
    nc_tc_close(f->app[i]);
    assert_int_equal(nc_test_agent_stop(&f->ag[i]), 0);
    nc_test_rmtree(f->dir[i]);
  }
}

static void test_skips_starting_and_refusing_nodes(void **state) {
  (void)state;
  nc_tcluster *c = start_held(0);
  assert_int_equal(nc_tcluster_stop_node(c, 1), 0); /* B refuses */
  nc_tw *ready = dit_open(c, 2, 20000);             /* C serves */
  assert_non_null(ready);
  nc_tw_close(ready);
  char servers[400];
  servers_of(c, servers, sizeof(servers));
  fleet f;
  long long slowest = fleet_start(&f, servers);
  for (int i = 0; i < AGENTS; i++)
    assert_int_equal(agent_node(c, f.app[i]), 2);
  int tried_a = 0;
  for (int i = 0; i < AGENTS; i++)
    tried_a += failed_connects(&f.ag[i], nc_tcluster_node(c, 0)->target) > 0;
  fprintf(stderr,
          "agent cluster: %d agents with A starting, B refusing: on C at most %lld ms after "
          "the agent's start (%d tried A first)\n",
          AGENTS, slowest, tried_a);
  /* a stall on A (the request timeout, 3 s) would show; the agent's own
   * start is part of the figure */
  assert_true(slowest <= nc_test_timeout_ms(1500));
  fleet_stop(&f);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

static void test_fails_over_to_the_ready_member(void **state) {
  (void)state;
  nc_tcluster *c = start_held(2);
  for (int i = 0; i < 2; i++) {
    nc_tw *t = dit_open(c, i, 20000);
    assert_non_null(t);
    nc_tw_close(t);
  }
  char servers[400];
  servers_of(c, servers, sizeof(servers));
  fleet f;
  fleet_start(&f, servers);
  int on[AGENTS], count0 = 0;
  for (int i = 0; i < AGENTS; i++) {
    for (int j = 0; j < INSTANCES; j++)
      assert_true(nc_tc_call_ok(f.app[i], j + 1,
                                "{\"id\":%d,\"op\":\"naming.register\",\"service\":\"csvc%d\","
                                "\"ip\":\"10.2.0.%d\",\"port\":%d}",
                                j + 1, i, i + 1, 3000 + j));
    on[i] = agent_node(c, f.app[i]);
    assert_true(on[i] == 0 || on[i] == 1);
    count0 += on[i] == 0;
  }
  int k = count0 >= AGENTS - count0 ? 0 : 1, moved = 0;
  for (int i = 0; i < AGENTS; i++)
    moved += on[i] == k;
  const char *held = nc_tcluster_node(c, 2)->target;
  int before[AGENTS], redos[AGENTS];
  for (int i = 0; i < AGENTS; i++) {
    before[i] = failed_connects(&f.ag[i], held);
    redos[i] = log_lines(&f.ag[i], REDO_LINE);
  }
  cit_sleep_ms(600); /* the member lists are read ~100 ms after connecting */
  long long writes0 = nc_tcluster_metric(c, 1 - k, "nacosd_write_requests_total");
  assert_int_equal(nc_tcluster_kill_node(c, k, SIGKILL), 128 + SIGKILL);
  long long t0 = dit_now_ms();
  for (int i = 0; i < AGENTS; i++)
    NC_TEST_WAIT(agent_node(c, f.app[i]) == 1 - k, 5000);
  long long took = dit_now_ms() - t0;
  /* the redo: every moved agent re-sent its registration to the survivor
   * (which sees only those writes now) and every instance is there */
  for (int i = 0; i < AGENTS; i++)
    NC_TEST_WAIT(log_lines(&f.ag[i], REDO_LINE) == redos[i] + (on[i] == k), 5000);
  NC_TEST_WAIT(nc_tcluster_metric(c, 1 - k, "nacosd_write_requests_total") - writes0 >= moved,
               5000);
  nc_tw *q = dit_open(c, 1 - k, 5000);
  assert_non_null(q);
  for (int i = 0; i < AGENTS; i++) {
    char svc[32];
    snprintf(svc, sizeof(svc), "csvc%d", i);
    NC_TEST_WAIT(dit_hosts(q, svc) == INSTANCES, 5000);
  }
  int tried_held = 0;
  for (int i = 0; i < AGENTS; i++)
    tried_held += failed_connects(&f.ag[i], held) - before[i];
  fprintf(stderr,
          "agent cluster: %d of %d agents on the killed node moved to the ready one in %lld ms; "
          "connects to the not-ready node after the kill: %d\n",
          moved, AGENTS, took, tried_held);
  assert_true(took <= nc_test_timeout_ms(3000));
  assert_int_equal(tried_held, 0);
  nc_tw_close(q);
  fleet_stop(&f);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

/* Any node answering readiness 200. */
static int any_ready(nc_tcluster *c) {
  for (int i = 0; i < nc_tcluster_size(c); i++) {
    int st = 0;
    cJSON_Delete(cit_get_json(c, i, "/nacos/v1/console/health/readiness", &st));
    if (st == 200)
      return 1;
  }
  return 0;
}

/* A full restart: every node starting (held 6 s). The agent keeps trying
 * with short pauses while nodes answer "starting", so it is on the first
 * ready node soon after it is ready, not after a back-off grown to 2-4 s. */
static void test_on_the_first_ready_node_after_a_full_restart(void **state) {
  (void)state;
  static const char *const hold6[] = {"--cluster-hold-ready-ms", "6000", NULL};
  nc_tcluster_opts o = {.nodes = 3, .args = hold6, .args_fn = cit_members_args};
  nc_tcluster *c = NULL;
  assert_int_equal(nc_tcluster_start(&o, &c), 0);
  if (nc_tcluster_same_host(c)) {
    nc_tcluster_stop(c);
    skip();
  }
  char servers[400], dir[256];
  servers_of(c, servers, sizeof(servers));
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, dir, servers, NULL), 0);
  nc_tc *app = nc_tc_open(ag.sock);
  assert_non_null(app);
  long long t0 = dit_now_ms(), ready = -1, on = -1;
  while (on < 0 && dit_now_ms() - t0 < 20000) {
    if (ready < 0 && any_ready(c))
      ready = dit_now_ms() - t0;
    if (agent_node(c, app) >= 0)
      on = dit_now_ms() - t0;
    cit_sleep_ms(20);
  }
  fprintf(stderr, "agent cluster: full restart: first node ready at %lld ms, agent on it at %lld ms\n",
          ready, on);
  assert_true(ready >= 0 && on >= 0);
  assert_true(on - ready <= nc_test_timeout_ms(800));
  nc_tc_close(app);
  assert_int_equal(nc_test_agent_stop(&ag), 0);
  nc_test_rmtree(dir);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_skips_starting_and_refusing_nodes),
      cmocka_unit_test(test_fails_over_to_the_ready_member),
      cmocka_unit_test(test_on_the_first_ready_node_after_a_full_restart),
  };
  DIT_MAIN(tests);
}
