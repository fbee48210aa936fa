/* Integration (issue 9 item 12): dead-peer detection without a FIN.
 *
 * nacosd pings every gRPC connection (HTTP/2 keepalive, 6 s, ack within
 * 4 s by default); a peer that stops answering is dropped with its
 * instances. Before, only the idle probe (20 s idle + 5 s + tick) noticed,
 * 25-26 s after the host vanished.
 *
 * The client is this program re-executed with --client (connects,
 * registers one instance, prints READY, then only sleeps). Tests:
 * - test_vanished_host_dropped_within_15s: the client runs in a network
 *   namespace behind a veth pair; the namespace side of the link is set
 *   down (nothing, not even a FIN or RST, reaches nacosd). The instance
 *   must leave a query's view within 15 s. Needs root and iproute2; skipped
 *   with a message otherwise.
 * - test_hung_client_dropped_within_15s: the same with SIGSTOP on a
 *   loopback client (its kernel still ACKs TCP, its HTTP/2 stack answers
 *   nothing): runs everywhere.
 * - test_idle_live_client_kept: with pings every 300 ms an idle but live
 *   client keeps its connection and instance over 20+ ping rounds (no false
 *   drops), pings go on without data on the connection, and it is still
 *   dropped within a few rounds once it stops answering. */
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_testproc.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define DETECT_LIMIT_MS 15000

/* ---- the client (this binary with --client TARGET SERVICE IP) ---------- */

static int client_main(const char *target, const char *svc, const char *ip) {
  nc_grpc_init();
  nc_gcli_env *env = NULL;
  nc_tw_opts o = {.client_ip = ip};
  nc_tw *tw = nc_gcli_env_new(1, &env) == 0 ? nc_tw_open(env, target, &o) : NULL;
  nc_tw_instance in = {.ip = ip, .port = 8080};
  nc_tw_reply r = {.status = -1};
  if (tw)
    r = nc_tw_register(tw, svc, &in);
  if (!nc_tw_ok(&r)) {
    fprintf(stderr, "client: cannot register at %s\n", target);
    return 1;
  }
  printf("READY\n");
  fflush(stdout);
  for (;;)
    pause(); /* killed by the test */
}

/* ---- the test side ------------------------------------------------------- */

typedef struct fx {
  char dir[128];
  nc_test_nacosd srv;
  int srv_up;
  nc_testproc client;
  char ns[32], veth[32], host_if[32]; /* netns test only */
  nc_gcli_env *env;
  nc_tw *sub;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(nc_test_mkdtemp(f->dir, sizeof(f->dir)), 0);
  assert_int_equal(nc_gcli_env_new(1, &f->env), 0);
  *state = f;
  return 0;
}

static void run(const char *fmt, ...) {
  char cmd[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  if (system(cmd) != 0)
    fprintf(stderr, "(cleanup) failed: %s\n", cmd);
}

static int teardown(void **state) {
  fx *f = *state;
  if (f->client.pid) {
    kill(f->client.pid, SIGCONT);
    nc_testproc_kill(&f->client, SIGKILL);
  }
  nc_tw_close(f->sub);
  if (f->srv_up)
    nc_test_nacosd_stop(&f->srv);
  /* Deleting the host end removes the pair at once; the namespace itself
   * may outlive its name while the killed client's socket retransmits. */
  if (f->host_if[0])
    run("ip link del %s", f->host_if);
  if (f->ns[0])
    run("ip netns del %s", f->ns);
  nc_gcli_env_free(f->env);
  nc_test_rmtree(f->dir);
  free(f);
  return 0;
}

static void start_server(fx *f, const char *const *args) {
  assert_int_equal(nc_test_nacosd_start(f->dir, args, &f->srv), 0);
  f->srv_up = 1;
  assert_non_null(f->sub = nc_tw_open(f->env, f->srv.target, NULL));
}

static int query_hosts(fx *f, const char *svc) {
  int n = nc_tw_query_hosts(f->sub, svc);
  assert_true(n >= 0);
  return n;
}

static int log_has(const char *path, const char *needle) {
  char line[1024];
  int found = 0;
  FILE *fp = fopen(path, "r");
  while (fp && !found && fgets(line, sizeof(line), fp))
    found = strstr(line, needle) != NULL;
  if (fp)
    fclose(fp);
  return found;
}

/* Starts the client (via `prefix...` when given) and waits for READY. */
static void start_client(fx *f, char **prefix, int np, const char *target, const char *svc,
                         const char *ip) {
  static char self[512];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  assert_true(n > 0);
  self[n] = 0;
  char *argv[16];
  int k = 0;
  for (int i = 0; i < np; i++)
    argv[k++] = prefix[i];
  argv[k++] = self;
  argv[k++] = "--client";
  argv[k++] = (char *)target;
  argv[k++] = (char *)svc;
  argv[k++] = (char *)ip;
  argv[k] = NULL;
  char log[256];
  snprintf(log, sizeof(log), "%s/client.log", f->dir);
  assert_int_equal(nc_testproc_start(&f->client, np ? prefix[0] : self, argv, log), 0);
  long long ms;
  NC_TEST_POLL(log_has(log, "READY") || !nc_testproc_alive(&f->client), 10000, ms);
  if (ms < 0 || !log_has(log, "READY"))
    nc_testproc_dump_log(&f->client);
  assert_true(log_has(log, "READY"));
}

/* Waits until svc has no host; returns the ms it took (fails past 25 s). */
static long long wait_gone(fx *f, const char *svc) {
  long long t0 = nc_test_now_ms(), ms;
  NC_TEST_POLL(query_hosts(f, svc) == 0, 25000, ms);
  if (ms < 0)
    nc_testproc_dump_log(&f->srv.proc);
  assert_true(ms >= 0);
  return nc_test_now_ms() - t0;
}

static const char *ip_bin(void) {
  static const char *c[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};
  for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
    if (access(c[i], X_OK) == 0)
      return c[i];
  return NULL;
}

static void test_vanished_host_dropped_within_15s(void **state) {
  fx *f = *state;
  const char *ip = ip_bin();
  if (geteuid() != 0 || !ip) {
    fprintf(stderr, "SKIP: needs root and iproute2's ip (network namespace + veth)\n");
    skip();
  }
  int tag = (int)(getpid() % 100000);
  char host_ip[32], ns_ip[32], target[64];
  char *host_if = f->host_if;
  snprintf(f->ns, sizeof(f->ns), "nck%d", tag);
  snprintf(host_if, sizeof(f->host_if), "nckh%d", tag);
  snprintf(f->veth, sizeof(f->veth), "nckn%d", tag);
  snprintf(host_ip, sizeof(host_ip), "10.213.%d.1", tag % 250);
  snprintf(ns_ip, sizeof(ns_ip), "10.213.%d.2", tag % 250);
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "set -e; ip netns add %s; ip link add %s type veth peer name %s; "
           "ip link set %s netns %s; ip addr add %s/30 dev %s; ip link set %s up; "
           "ip -n %s addr add %s/30 dev %s; ip -n %s link set %s up; ip -n %s link set lo up",
           f->ns, host_if, f->veth, f->veth, f->ns, host_ip, host_if, host_if, f->ns, ns_ip,
           f->veth, f->ns, f->veth, f->ns);
  if (system(cmd) != 0) {
    fprintf(stderr, "SKIP: cannot create a network namespace with a veth pair here\n");
    skip();
  }
  const char *args[] = {"--bind", "0.0.0.0", NULL};
  start_server(f, args);
  snprintf(target, sizeof(target), "%s:%d", host_ip, f->srv.grpc_port);
  char *prefix[] = {(char *)ip, "netns", "exec", f->ns};
  start_client(f, prefix, 4, target, "svc-vanish", ns_ip);
  assert_int_equal(query_hosts(f, "svc-vanish"), 1);
  nc_test_sleep_ms(1000);
  /* The host vanishes: its link goes down, no FIN or RST is ever sent. */
  snprintf(cmd, sizeof(cmd), "ip -n %s link set %s down", f->ns, f->veth);
  assert_int_equal(system(cmd), 0);
  long long ms = wait_gone(f, "svc-vanish");
  fprintf(stderr, "instance of the vanished host removed after %lld ms\n", ms);
  assert_true(ms <= DETECT_LIMIT_MS);
}

static void test_hung_client_dropped_within_15s(void **state) {
  fx *f = *state;
  start_server(f, NULL);
  start_client(f, NULL, 0, f->srv.target, "svc-hung", "10.9.9.9");
  assert_int_equal(query_hosts(f, "svc-hung"), 1);
  /* idle past a keepalive round first: a live idle client stays */
  nc_test_sleep_ms(7000);
  assert_int_equal(query_hosts(f, "svc-hung"), 1);
  assert_int_equal(kill(f->client.pid, SIGSTOP), 0);
  long long ms = wait_gone(f, "svc-hung");
  fprintf(stderr, "instance of the stopped client removed after %lld ms\n", ms);
  assert_true(ms <= DETECT_LIMIT_MS);
  assert_int_equal(query_hosts(f, "svc-hung"), 0);
}

static void test_idle_live_client_kept(void **state) {
  fx *f = *state;
  const char *args[] = {"--keepalive-ms", "300", "--keepalive-timeout-ms", "1000", NULL};
  start_server(f, args);
  start_client(f, NULL, 0, f->srv.target, "svc-idle", "10.9.9.8");
  long long conns = nc_test_nacosd_metric(f->srv.port, "nacosd_connections");
  assert_true(conns >= 2); /* the client and our subscriber */
  nc_test_sleep_ms(6000); /* ~20 ping rounds, nothing else on its connection */
  assert_int_equal(query_hosts(f, "svc-idle"), 1);
  assert_int_equal(nc_test_nacosd_metric(f->srv.port, "nacosd_connections"), conns);
  /* pings are still going: a hang is noticed within a round or two */
  assert_int_equal(kill(f->client.pid, SIGSTOP), 0);
  long long ms = wait_gone(f, "svc-idle");
  fprintf(stderr, "stopped client removed after %lld ms (pings every 300 ms)\n", ms);
  assert_true(ms <= 5000);
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "--client") == 0)
    return client_main(argv[2], argv[3], argv[4]);
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_idle_live_client_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hung_client_dropped_within_15s, setup, teardown),
      cmocka_unit_test_setup_teardown(test_vanished_host_dropped_within_15s, setup, teardown),
  };
  int rc = NC_TEST_MAIN(tests);
  nc_grpc_shutdown();
  return rc;
}
