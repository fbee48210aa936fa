/* Integration (issue 12, limits): nacosd's HTTP port cannot be held by
 * clients that send slowly or open many connections. Raw sockets against a
 * real nacosd: a head trickled a byte at a time is cut after
 * --http-header-timeout-s (the idle timeout restarts on every byte: before,
 * 3,000 half-sent requests stayed open), a body after --http-body-timeout-s,
 * and one address holds at most --http-max-connections-per-ip connections.
 * Each cut or refusal is counted in /metrics; whole requests are served. */
#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testwait.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static int start_fx(void **state, const char *const *args) {
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(args, &f);
  *state = f;
  return rc == 0 ? 0 : -1;
}

static int teardown(void **state) { return nc_tfx_stop(*state) == 0 ? 0 : -1; }

static int setup_deadlines(void **state) {
  const char *args[] = {"--http-header-timeout-s", "1", "--http-body-timeout-s", "1", NULL};
  return start_fx(state, args);
}
static int setup_per_ip(void **state) {
  const char *args[] = {"--http-max-connections-per-ip", "3", "--http-header-timeout-s", "0",
                        NULL};
  return start_fx(state, args);
}

static long long metric(nc_tfx *f, const char *name) {
  long long v = nc_tfx_metric(f, name);
  assert_true(v >= 0);
  return v;
}

static int dial(nc_tfx *f) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->srv->port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  return fd;
}

static void send_str(int fd, const char *s) {
  assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* 1 when the server closed fd within ms (EOF or reset; any answer bytes
 * are read and dropped). */
static int closed_within(int fd, int ms) {
  char buf[4096];
  nc_test_deadline d = nc_test_deadline_start(ms);
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 50) > 0) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET))
        return 1;
    }
    if (!nc_test_deadline_tick(&d))
      return 0;
  }
}

/* Sends the rest of a head one byte each 200 ms until the server closes
 * (1) or n bytes went (0). */
static int trickle(int fd, int n) {
  for (int i = 0; i < n; i++) {
    if (send(fd, "x", 1, MSG_NOSIGNAL) != 1 || closed_within(fd, 200))
      return 1;
  }
  return 0;
}

/* A whole GET /health on a new connection answers 200. */
static void health_ok(nc_tfx *f) {
  int fd = dial(f);
  send_str(fd, "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  char buf[512] = "";
  size_t got = 0;
  ssize_t n;
  while (got < sizeof(buf) - 1 && (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
    got += (size_t)n;
  buf[got] = 0;
  close(fd);
  assert_non_null(strstr(buf, " 200 "));
}

static void test_slow_head_and_body_cut(void **state) {
  nc_tfx *f = *state;
  int head = dial(f);
  send_str(head, "GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: ");
  int body = dial(f);
  send_str(body, "POST /nacos/v1/ns/instance HTTP/1.1\r\nHost: t\r\nContent-Type: "
                 "application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nip=1");
  /* both keep sending, slower than any idle timeout would catch */
  assert_int_equal(trickle(head, 25), 1);
  assert_int_equal(trickle(body, 25), 1);
  close(head);
  close(body);
  /* an idle connection that sends nothing is cut as well */
  int idle = dial(f);
  assert_int_equal(closed_within(idle, 4000), 1);
  close(idle);
  health_ok(f);
  assert_int_equal(metric(f, "nacosd_http_header_timeouts_total"), 2);
  assert_int_equal(metric(f, "nacosd_http_body_timeouts_total"), 1);
}

static void test_connections_per_ip(void **state) {
  nc_tfx *f = *state;
  int fd[3];
  for (int i = 0; i < 3; i++) {
    fd[i] = dial(f);
    send_str(fd[i], "GET /health HTTP/1.1\r\nHost: t\r\n"); /* half a head */
  }
  usleep(200 * 1000);
  /* the kernel accepts the fourth, nacosd closes it at once */
  int extra = dial(f);
  assert_int_equal(closed_within(extra, 3000), 1);
  close(extra);
  /* the three are still open */
  for (int i = 0; i < 3; i++)
    assert_int_equal(closed_within(fd[i], 100), 0);
  close(fd[0]);
  usleep(200 * 1000);
  health_ok(f);
  close(fd[1]);
  close(fd[2]);
  usleep(200 * 1000);
  assert_int_equal(metric(f, "nacosd_http_connections_refused_ip_total"), 1);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_slow_head_and_body_cut, setup_deadlines, teardown),
      cmocka_unit_test_setup_teardown(test_connections_per_ip, setup_per_ip, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
