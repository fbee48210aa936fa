/* nacos-agent's Prometheus endpoint (--metrics-listen) against a real
 * nacosd: the port shows in agent.status, every sample has # HELP and
 * # TYPE lines, the values are the ones agent.status reports and follow
 * what apps do, /health answers 200 only while the agent has an upstream
 * (503 otherwise), both on the shared HTTP/1.1 server (keep-alive, 404/405);
 * without the option the agent listens on
 * no TCP port at all, and a bad value stops it at start-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"
#include "nc_testwait.h"

#include <dirent.h>
#include <sys/wait.h>

static nc_test_stack st;

static int setup_metrics(void **state) {
  (void)state;
  static const char *const args[] = {"--metrics-listen", "127.0.0.1:0", NULL};
  return nc_test_stack_start(&st, NULL, args);
}

static int setup_plain(void **state) {
  (void)state;
  return nc_test_stack_start(&st, NULL, NULL);
}

static int teardown(void **state) {
  (void)state;
  return nc_test_stack_stop(&st);
}

/* The value of one sample of the agent's /metrics, or -1. */
static long long agent_metric(int port, const char *name) {
  return nc_test_nacosd_metric(port, name);
}

/* Inodes of listening TCP sockets (state 0A) in /proc/net/tcp{,6}. */
static size_t listening_inodes(unsigned long *out, size_t cap) {
  static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
  size_t n = 0;
  for (size_t i = 0; i < 2; i++) {
    FILE *f = fopen(files[i], "r");
    char line[512];
    if (!f)
      continue;
    while (fgets(line, sizeof(line), f)) {
      unsigned st_hex = 0;
      unsigned long inode = 0;
      /* sl local rem st tx:rx tr:when retr uid timeout inode */
      if (sscanf(line, "%*s %*s %*s %x %*s %*s %*s %*s %*s %lu", &st_hex, &inode) == 2 &&
          st_hex == 0x0A && n < cap)
        out[n++] = inode;
    }
    fclose(f);
  }
  return n;
}

/* How many listening TCP sockets process pid holds. */
static int tcp_listeners_of(pid_t pid) {
  unsigned long inodes[4096];
  size_t ni = listening_inodes(inodes, 4096);
  char path[64], link[128];
  int found = 0;
  snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char fdp[128];
    unsigned long ino;
    snprintf(fdp, sizeof(fdp), "%s/%.32s", path, e->d_name);
    ssize_t l = readlink(fdp, link, sizeof(link) - 1);
    if (l <= 0)
      continue;
    link[l] = '\0';
    if (sscanf(link, "socket:[%lu]", &ino) != 1)
      continue;
    for (size_t i = 0; i < ni; i++)
      if (inodes[i] == ino)
        found++;
  }
  closedir(d);
  return found;
}

/* 1 when pid has a library whose path contains name mapped. */
static int maps_library(int pid, const char *name) {
  char path[64], line[1024];
  snprintf(path, sizeof(path), "/proc/%d/maps", pid);
  FILE *f = fopen(path, "r");
  int found = 0;
  assert_non_null(f);
  while (!found && fgets(line, sizeof(line), f))
    found = strstr(line, name) != NULL;
  fclose(f);
  return found;
}

static void test_metrics_port_in_status_and_samples_have_help_and_type(void **state) {
  (void)state;
  tc *a = tc_open(st.ag.sock);
  int port = status_int(a, "metrics_port");
  assert_true(port > 0 && port < 65536);
  assert_int_equal(tcp_listeners_of(st.ag.proc.pid), 1);
  assert_int_equal(maps_library(st.ag.proc.pid, "libmicrohttpd"), 1);

  int code = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_get(port, "/metrics", &code, &b), 0);
  assert_int_equal(code, 200);
  assert_non_null(b);
  assert_true(nc_test_metrics_samples(b, "nacos_agent_") >= 12);
  assert_non_null(strstr(b, "\nnacos_agent_upstream_connected 1\n"));
  assert_non_null(strstr(b, "\nnacos_agent_resident_memory_bytes "));
  assert_null(strstr(b, "\nnacos_agent_resident_memory_bytes 0\n"));
  free(b);
  b = NULL;

  assert_int_equal(nc_test_http_get(port, "/health", &code, &b), 0);
  assert_int_equal(code, 200);
  assert_string_equal(b, "ok\n");
  free(b);
  b = NULL;
  assert_int_equal(nc_test_http_get(port, "/nope", &code, NULL), 0);
  assert_int_equal(code, 404);
  tc_close(a);
}

/* Sends one raw HTTP request on fd and reads one response head (and the
 * body when Content-Length says so) into buf; returns the status or -1. */
static int http_exchange(int fd, const char *req, char *buf, size_t cap) {
  size_t len = 0;
  if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
    return -1;
  long long end = nc_test_now_ms() + nc_test_timeout_ms(5000);
  while (len + 1 < cap && nc_test_now_ms() < end) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
      continue;
    ssize_t n = read(fd, buf + len, cap - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
    buf[len] = '\0';
    const char *head_end = strstr(buf, "\r\n\r\n");
    const char *cl = strcasestr(buf, "content-length:");
    if (head_end && cl && len >= (size_t)(head_end + 4 - buf) + strtoul(cl + 15, NULL, 10))
      break;
  }
  buf[len] = '\0';
  int code = -1;
  return sscanf(buf, "HTTP/1.%*d %d", &code) == 1 ? code : -1;
}

/* The endpoints sit on the shared HTTP/1.1 server (nc_http): one kept-alive
 * connection serves several requests, a known path with another method is
 * 405, an unknown one 404 with a JSON error body. The old GET-only
 * responder closed after one answer and knew no 405. */
static void test_http_server_keeps_alive_and_knows_methods(void **state) {
  (void)state;
  tc *a = tc_open(st.ag.sock);
  int port = status_int(a, "metrics_port");
  tc_close(a);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  static char buf[65536];
  assert_int_equal(http_exchange(fd, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n", buf, sizeof(buf)),
                   200);
  assert_non_null(strstr(buf, "nacos_agent_upstream_connected 1"));
  assert_int_equal(http_exchange(fd, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n", buf, sizeof(buf)),
                   200);
  assert_non_null(strstr(buf, "\r\n\r\nok\n"));
  assert_int_equal(http_exchange(fd, "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
                                 buf, sizeof(buf)),
                   405);
  assert_int_equal(http_exchange(fd, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", buf, sizeof(buf)),
                   404);
  assert_non_null(strstr(buf, "\"code\""));
  close(fd);
}

/* A readiness probe that says ok without an upstream would send traffic to
 * an agent that cannot serve it. */
static int health_code(int port) {
  int code = 0;
  return nc_test_http_get(port, "/health", &code, NULL) == 0 ? code : -1;
}

static void test_health_is_503_without_upstream(void **state) {
  (void)state;
  tc *a = tc_open(st.ag.sock);
  int port = status_int(a, "metrics_port");
  tc_close(a);
  int code = 0;
  char *b = NULL;
  assert_int_equal(health_code(port), 200);
  assert_int_equal(nc_test_nacosd_stop(&st.srv), 0);
  NC_TEST_WAIT(health_code(port) == 503, 10000);
  assert_int_equal(nc_test_http_get(port, "/health", &code, &b), 0);
  assert_int_equal(code, 503);
  assert_non_null(strstr(b, "no upstream"));
  free(b);
  /* /metrics keeps answering (and says why) */
  assert_int_equal(nc_test_nacosd_metric(port, "nacos_agent_upstream_connected"), 0);
  /* back to 200 once the agent has reconnected */
  assert_int_equal(nc_test_nacosd_restart(&st.srv, NULL), 0);
  NC_TEST_WAIT(health_code(port) == 200, 15000);
}

static void test_metrics_follow_subscriptions_and_ipc_errors(void **state) {
  (void)state;
  tc *a = tc_open(st.ag.sock), *b = tc_open(st.ag.sock);
  int port = status_int(a, "metrics_port");
  assert_true(port > 0);
  assert_int_equal(agent_metric(port, "nacos_agent_subscriptions"), 0);
  assert_int_equal(agent_metric(port, "nacos_agent_local_subscriptions"), 0);
  /* the harness's own status probe may still be closing */
  assert_true(nc_test_nacosd_wait_metric(port, "nacos_agent_apps", 2, 5000) >= 0);
  long long events0 = agent_metric(port, "nacos_agent_upstream_events_total");
  long long reqs0 = agent_metric(port, "nacos_agent_ipc_requests_total");
  long long errs0 = agent_metric(port, "nacos_agent_ipc_errors_total");
  assert_true(events0 >= 0 && reqs0 >= 0 && errs0 >= 0);

  assert_true(tc_call_ok(a, 1, "{\"id\":1,\"op\":\"naming.subscribe\",\"service\":\"m.svc\"}"));
  assert_true(tc_call_ok(b, 1, "{\"id\":1,\"op\":\"naming.subscribe\",\"service\":\"m.svc\"}"));
  /* one upstream subscription shared by two local ones, as agent.status */
  assert_int_equal(agent_metric(port, "nacos_agent_subscriptions"), 1);
  assert_int_equal(agent_metric(port, "nacos_agent_local_subscriptions"), 2);
  assert_int_equal(status_int(a, "subscriptions"), 1);
  assert_true(agent_metric(port, "nacos_agent_upstream_events_total") > events0);

  cJSON *r = tc_call(a, 2, "{\"id\":2,\"op\":\"no.such.op\"}");
  assert_string_equal(tc_errcode(r), "BAD_REQUEST");
  cJSON_Delete(r);
  assert_int_equal(agent_metric(port, "nacos_agent_ipc_errors_total"), errs0 + 1);
  /* a, b's subscribes, a's status call and the bad op at least */
  assert_true(agent_metric(port, "nacos_agent_ipc_requests_total") >= reqs0 + 4);

  tc_close(a);
  tc_close(b);
  assert_true(nc_test_nacosd_wait_metric(port, "nacos_agent_subscriptions", 0, 5000) >= 0);
  assert_true(nc_test_nacosd_wait_metric(port, "nacos_agent_apps", 0, 5000) >= 0);
}

static void test_no_listener_without_option(void **state) {
  (void)state;
  tc *a = tc_open(st.ag.sock);
  assert_int_equal(status_int(a, "connected"), 1);
  assert_int_equal(status_int(a, "metrics_port"), -1); /* absent */
  assert_int_equal(tcp_listeners_of(st.ag.proc.pid), 0);
  /* libmicrohttpd (and the GnuTLS it pulls in) is loaded only for an HTTP
   * listener: an agent without one stays small */
  assert_int_equal(maps_library(st.ag.proc.pid, "libmicrohttpd"), 0);
  assert_int_equal(maps_library(st.ag.proc.pid, "libgnutls"), 0);
  tc_close(a);
}

/* Runs the agent with one --metrics-listen value; returns its exit code,
 * or -1 while it was still running after 10 s (it is then stopped). */
static int exit_code_with(const char *dir, const char *value) {
  char sock[300], cache[300], log[300];
  snprintf(sock, sizeof(sock), "%s/bad.sock", dir);
  snprintf(cache, sizeof(cache), "%s/bad-cache", dir);
  snprintf(log, sizeof(log), "%s/bad.log", dir);
  char *argv[] = {(char *)NC_AGENT_BIN, "--servers", "127.0.0.1:1", "--socket", sock,
                  "--cache-dir", cache, "--metrics-listen", (char *)value, NULL};
  nc_testproc p;
  assert_int_equal(nc_testproc_start(&p, NC_AGENT_BIN, argv, log), 0);
  long long deadline = nc_test_now_ms() + 10000;
  while (nc_testproc_alive(&p) && nc_test_now_ms() < deadline)
    nc_test_sleep_ms(20);
  if (nc_testproc_alive(&p)) {
    nc_testproc_stop(&p);
    return -1;
  }
  return WIFEXITED(p.status) ? WEXITSTATUS(p.status) : 128;
}

static void test_bad_metrics_listen_stops_startup(void **state) {
  (void)state;
  char dir[128];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  static const char *const bad[] = {"127.0.0.1", "127.0.0.1:x", "127.0.0.1:70000", ":80",
                                    "::1:80", "not-an-ip:0"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int rc = exit_code_with(dir, bad[i]);
    if (rc != 1)
      fprintf(stderr, "--metrics-listen '%s': exit %d\n", bad[i], rc);
    assert_int_equal(rc, 1);
  }
  nc_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_metrics_port_in_status_and_samples_have_help_and_type,
                                      setup_metrics, teardown),
      cmocka_unit_test_setup_teardown(test_health_is_503_without_upstream, setup_metrics,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_http_server_keeps_alive_and_knows_methods,
                                      setup_metrics, teardown),
      cmocka_unit_test_setup_teardown(test_metrics_follow_subscriptions_and_ipc_errors,
                                      setup_metrics, teardown),
      cmocka_unit_test_setup_teardown(test_no_listener_without_option, setup_plain, teardown),
      cmocka_unit_test(test_bad_metrics_listen_stops_startup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
