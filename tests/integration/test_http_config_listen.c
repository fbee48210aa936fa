/* The 1.x HTTP config long-poll, POST /nacos/v1/cs/configs/listener (issue
 * 14), on the real nacosd: a stale md5 is answered at once with the
 * URL-encoded key; a current one is held until the key changes (an HTTP or
 * a gRPC publish, or a remove answers it at once) or the timeout (Nacos's
 * max(10 s, timeout - 500 ms), empty body); errors wait 1 s; 500 polls
 * held at once on raw sockets cost no thread and are all answered by one
 * publish (their memory is measured and printed). */
#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int setup(void **st) {
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(NULL, &f);
  *st = f;
  return rc ? -1 : 0;
}
/* every poll of test_many_held_polls comes from 127.0.0.1 */
static int setup_many(void **st) {
  nc_tfx *f = NULL;
  const char *args[] = {"--http-max-connections-per-ip", "1000", NULL};
  int rc = nc_tfx_start(args, &f);
  *st = f;
  return rc ? -1 : 0;
}
static int teardown(void **st) { return nc_tfx_stop(*st) == 0 ? 0 : -1; }

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A raw HTTP/1.1 poll on its own socket: sent now, read later. */
static int poll_send(int port, const char *form, const char *timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  char req[2048];
  int n = snprintf(req, sizeof(req),
                   "POST /nacos/v1/cs/configs/listener HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Type: application/x-www-form-urlencoded; charset=utf8\r\n"
                   "%s%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   timeout_ms ? "Long-Pulling-Timeout: " : "", timeout_ms ? timeout_ms : "",
                   timeout_ms ? "\r\n" : "", strlen(form), form);
  assert_int_equal(write(fd, req, (size_t)n), n);
  return fd;
}
/* Reads the answer to the end; returns the status, body into buf. */
static int poll_read(int fd, char *buf, size_t cap) {
  char all[8192];
  size_t len = 0;
  ssize_t k;
  while (len + 1 < sizeof(all) && (k = read(fd, all + len, sizeof(all) - 1 - len)) > 0)
    len += (size_t)k;
  all[len] = '\0';
  close(fd);
  int status = 0;
  sscanf(all, "HTTP/1.%*d %d", &status);
  const char *b = strstr(all, "\r\n\r\n");
  snprintf(buf, cap, "%s", b ? b + 4 : "");
  return status;
}

static int req(nc_tfx *f, const char *method, const char *path, const char *form) {
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(f->srv->port, method, path, form, NULL, &status, &b), 0);
  free(b);
  return status;
}
/* The config's md5 (gRPC query); "" when absent. */
static void md5_of(nc_tw *tw, const char *data_id, const char *tenant, char *out) {
  nc_tw_config c = {0};
  nc_tw_reply r = nc_tw_config_get(tw, data_id, "G", tenant, &c);
  snprintf(out, 40, "%s", nc_tw_ok(&r) ? c.md5 : "");
  nc_tw_config_free(&c);
}

static void test_stale_md5_answers_at_once(void **st) {
  nc_tfx *f = *st;
  char body[4096];
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", "dataId=a&group=G&content=1"), 200);
  double t0 = now_s();
  /* a.G with a wrong md5, b.G absent with "" (unchanged) */
  int fd = poll_send(f->srv->port, "Listening-Configs=a%02G%02wrong%01b%02G%02%01", "30000");
  assert_int_equal(poll_read(fd, body, sizeof(body)), 200);
  assert_true(now_s() - t0 < 2.0);
  assert_string_equal(body, "a%02G%01");
  /* a namespace's key carries its tenant */
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", "dataId=a&group=G&tenant=dev&content=1"),
                   200);
  fd = poll_send(f->srv->port, "Listening-Configs=a%02G%02%02dev%01&tenant=dev", "30000");
  assert_int_equal(poll_read(fd, body, sizeof(body)), 200);
  assert_string_equal(body, "a%02G%02dev%01");
  /* no Long-Pulling-Timeout (a very old client): answered now, empty when current */
  fd = poll_send(f->srv->port, "Listening-Configs=b%02G%02%01", NULL);
  assert_int_equal(poll_read(fd, body, sizeof(body)), 200);
  assert_string_equal(body, "");
}

static void test_change_answers_held_polls(void **st) {
  nc_tfx *f = *st;
  char body[4096], md5[40], form[256];
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", "dataId=h&group=G&content=1"), 200);
  md5_of(tw, "h", NULL, md5);
  assert_int_equal(strlen(md5), 32);
  snprintf(form, sizeof(form), "Listening-Configs=h%%02G%%02%s%%01other%%02G%%02%%01", md5);
  /* an HTTP publish answers it */
  int fd = poll_send(f->srv->port, form, "30000");
  usleep(500 * 1000);
  assert_int_equal(nc_tfx_metric(f, "nacosd_http_held"), 1);
  double t0 = now_s();
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", "dataId=h&group=G&content=2"), 200);
  assert_int_equal(poll_read(fd, body, sizeof(body)), 200);
  assert_true(now_s() - t0 < 1.0);
  assert_string_equal(body, "h%02G%01");
  /* a gRPC publish answers it too */
  md5_of(tw, "h", NULL, md5);
  snprintf(form, sizeof(form), "Listening-Configs=h%%02G%%02%s%%01", md5);
  fd = poll_send(f->srv->port, form, "30000");
  usleep(300 * 1000);
  nc_tw_expect_ok(nc_tw_config_publish(tw, "h", "G", NULL, "3", NULL), "ConfigPublishResponse");
  assert_int_equal(poll_read(fd, body, sizeof(body)), 200);
  assert_string_equal(body, "h%02G%01");
  /* and a remove; a change of another key does not */
  md5_of(tw, "h", NULL, md5);
  snprintf(form, sizeof(form), "Listening-Configs=h%%02G%%02%s%%01", md5);
  fd = poll_send(f->srv->port, form, "30000");
  usleep(300 * 1000);
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", "dataId=unrelated&group=G&content=x"),
                   200);
  usleep(300 * 1000);
  assert_int_equal(nc_tfx_metric(f, "nacosd_http_held"), 1);
  assert_int_equal(req(f, "DELETE", "/nacos/v1/cs/configs?dataId=h&group=G", NULL), 200);
  assert_int_equal(poll_read(fd, body, sizeof(body)), 200);
  assert_string_equal(body, "h%02G%01");
  assert_int_equal(nc_tfx_metric(f, "nacosd_http_held"), 0);
}

static void test_timeout_and_errors(void **st) {
  nc_tfx *f = *st;
  char body[4096];
  /* asked 10.5 s: held 10 s, then an empty body */
  double t0 = now_s();
  int fd = poll_send(f->srv->port, "Listening-Configs=t%02G%02%01", "10500");
  assert_int_equal(poll_read(fd, body, sizeof(body)), 200);
  double held = now_s() - t0;
  assert_true(held >= 9.8 && held < 12.0);
  assert_string_equal(body, "");
  /* errors: not at once (a client re-polls at once), and state untouched */
  t0 = now_s();
  fd = poll_send(f->srv->port, "tenant=x", "30000");
  assert_int_equal(poll_read(fd, body, sizeof(body)), 400);
  assert_true(now_s() - t0 >= 0.9);
  assert_string_equal(body, "caused: invalid probeModify;");
  fd = poll_send(f->srv->port, "Listening-Configs=only-one-field%01", "30000");
  assert_int_equal(poll_read(fd, body, sizeof(body)), 400);
  fd = poll_send(f->srv->port, "Listening-Configs=bad%20id%02G%02%01", "30000");
  assert_int_equal(poll_read(fd, body, sizeof(body)), 400);
  assert_int_equal(nc_tfx_metric(f, "nacosd_http_held"), 0);
}

static long rss_kb(pid_t pid) {
  char path[64], line[256];
  long kb = -1;
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *fp = fopen(path, "r");
  while (fp && fgets(line, sizeof(line), fp))
    if (!strncmp(line, "VmRSS:", 6))
      kb = atol(line + 6);
  if (fp)
    fclose(fp);
  return kb;
}

#define MANY 500

static void test_many_held_polls(void **st) {
  nc_tfx *f = *st;
  static int fds[MANY];
  char body[4096];
  long before = rss_kb(f->srv->proc.pid);
  for (int i = 0; i < MANY; i++)
    fds[i] = poll_send(f->srv->port, "Listening-Configs=m%02G%02%01", "30000");
  for (int i = 0; i < 100 && nc_tfx_metric(f, "nacosd_http_held") < MANY; i++)
    usleep(50 * 1000);
  assert_int_equal(nc_tfx_metric(f, "nacosd_http_held"), MANY);
  long during = rss_kb(f->srv->proc.pid);
  printf("# %d held polls: nacosd RSS %ld -> %ld kB (%.1f kB a poll, ASan build)\n", MANY,
         before, during, (double)(during - before) / MANY);
  double t0 = now_s();
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", "dataId=m&group=G&content=go"), 200);
  for (int i = 0; i < MANY; i++) {
    assert_int_equal(poll_read(fds[i], body, sizeof(body)), 200);
    assert_string_equal(body, "m%02G%01");
  }
  printf("# all %d answered %.0f ms after the publish\n", MANY, (now_s() - t0) * 1000);
  assert_int_equal(nc_tfx_metric(f, "nacosd_http_held"), 0);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_stale_md5_answers_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_change_answers_held_polls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout_and_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_held_polls, setup_many, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
