/* Request size bounds before parsing and the namespace bytes cap (issue 12,
 * limits), on a real nacosd: an SDK request whose JSON body is over
 * --grpc-max-body-bytes gets ErrorResponse 413 without being parsed; an
 * HTTP request whose Content-Length is over --http-max-body-bytes gets 413
 * at once, before its body is sent; a publish that would grow a namespace
 * past --config-max-ns-bytes is refused (shrinking and other namespaces
 * go through), also when many race in at once. Each hit is counted in
 * /metrics. */
#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testproc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static int setup(void **state) {
  const char *args[] = {"--grpc-max-body-bytes", "4096", "--http-max-body-bytes", "2048",
                        "--config-max-ns-bytes", "100", NULL};
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(args, &f);
  *state = f;
  return rc == 0 ? 0 : -1;
}

static int teardown(void **state) { return nc_tfx_stop(*state) == 0 ? 0 : -1; }

static long long metric(nc_tfx *f, const char *name) {
  long long v = nc_tfx_metric(f, name);
  assert_true(v >= 0);
  return v;
}

static char *filled(size_t n, char c) {
  char *s = malloc(n + 1);
  assert_non_null(s);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

static void test_grpc_body_bound(void **state) {
  nc_tfx *f = *state;
  nc_tw_opts o = {.module = "config"};
  nc_tw *tw = nc_tfx_connect(f, &o);
  assert_non_null(tw);
  /* 5000 bytes of content make a body over 4096: refused before parsing */
  char *big = filled(5000, 'x');
  nc_tw_expect_fail(nc_tw_config_publish(tw, "big", "G", "nsbig", big, NULL), "ErrorResponse",
                    413, "request body too large");
  free(big);
  assert_int_equal(metric(f, "nacosd_requests_too_large_total"), 1);
  /* the connection still serves, and a body under the bound parses */
  char *ok = filled(3000, 'y');
  nc_tw_config_publish(tw, "ok", "G", "nsok", "1", NULL);
  nc_tw_reply r = nc_tw_config_get(tw, "ok", "G", "nsok", NULL);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.result_code, 200);
  /* 3000 bytes: under the body bound but over the namespace cap (100) -
   * refused by the config service, i.e. it was parsed */
  nc_tw_expect_fail(nc_tw_config_publish(tw, "mid", "G", "nsmid", ok, NULL),
                    "ConfigPublishResponse", 400, "is full");
  free(ok);
  assert_int_equal(metric(f, "nacosd_requests_too_large_total"), 1);
}

/* Sends only a request head announcing len body bytes; returns the status
 * of the answer that comes without the body (0 when none within 5 s). */
static int head_only(int port, size_t len) {
  char req[512], buf[2048];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  int n = snprintf(req, sizeof(req),
                   "POST /nacos/v1/cs/configs HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   "application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n",
                   len);
  assert_int_equal(write(fd, req, (size_t)n), n);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int status = 0;
  if (poll(&p, 1, 5000) == 1) {
    ssize_t k = read(fd, buf, sizeof(buf) - 1);
    if (k > 0) {
      buf[k] = '\0';
      sscanf(buf, "HTTP/1.%*d %d", &status);
    }
  }
  close(fd);
  return status;
}

static void test_http_body_bound_answers_before_the_body(void **state) {
  nc_tfx *f = *state;
  /* 1 MB announced, nothing sent: 413 at once */
  assert_int_equal(head_only(f->srv->port, 1000000), 413);
  assert_int_equal(metric(f, "nacosd_http_body_too_large_total"), 1);
  /* under the cap the server waits for the body instead (no answer) */
  assert_int_equal(head_only(f->srv->port, 1000), 0);
  assert_int_equal(metric(f, "nacosd_http_body_too_large_total"), 1);
}

static void test_namespace_bytes_cap(void **state) {
  nc_tfx *f = *state;
  nc_tw_opts o = {.module = "config"};
  nc_tw *tw = nc_tfx_connect(f, &o);
  assert_non_null(tw);
  const char *rt = "ConfigPublishResponse";
  char *c60 = filled(60, 'a'), *c50 = filled(50, 'b'), *c30 = filled(30, 'c'),
       *c90 = filled(90, 'd'), *c110 = filled(110, 'e');
  nc_tw_expect_ok(nc_tw_config_publish(tw, "a", "G", "n1", c60, NULL), rt);
  nc_tw_expect_fail(nc_tw_config_publish(tw, "b", "G", "n1", c50, NULL), rt, 400,
                    "namespace 'n1' is full");
  /* growing an existing config past the cap is refused too */
  nc_tw_expect_fail(nc_tw_config_publish(tw, "a", "G", "n1", c110, NULL), rt, 400, "is full");
  nc_tw_expect_ok(nc_tw_config_publish(tw, "a", "G", "n1", c90, NULL), rt); /* 60 -> 90 fits */
  /* shrinking always goes through, and makes room */
  nc_tw_expect_ok(nc_tw_config_publish(tw, "a", "G", "n1", c30, NULL), rt);
  nc_tw_expect_ok(nc_tw_config_publish(tw, "b", "G", "n1", c50, NULL), rt); /* 80 */
  /* another namespace has its own room; "public" is "" */
  nc_tw_expect_ok(nc_tw_config_publish(tw, "a", "G", "n2", c90, NULL), rt);
  nc_tw_expect_ok(nc_tw_config_publish(tw, "a", "G", NULL, c90, NULL), rt);
  nc_tw_expect_fail(nc_tw_config_publish(tw, "b", "G", "public", c30, NULL), rt, 400,
                    "namespace 'public' is full");
  /* a remove makes room */
  nc_tw_expect_ok(nc_tw_config_remove(tw, "b", "G", "n1"), "ConfigRemoveResponse");
  nc_tw_expect_ok(nc_tw_config_publish(tw, "c", "G", "n1", c60, NULL), rt); /* 90 */
  assert_int_equal(metric(f, "nacosd_config_namespace_bytes_refused_total"), 3);
  free(c60);
  free(c50);
  free(c30);
  free(c90);
  free(c110);
}

/* Concurrent publishes: 8 threads each publish a 30-byte config of their
 * own into namespace "race" (cap 100) at once. With queued publishes
 * counted, exactly 3 fit, whatever the writer batches together. */
typedef struct racer {
  nc_tw *tw;
  int id, ok;
  pthread_barrier_t *go;
} racer;

static void *race(void *ud) {
  racer *r = ud;
  char id[16], content[31];
  snprintf(id, sizeof(id), "k%d", r->id);
  memset(content, 'r', 30);
  content[30] = '\0';
  pthread_barrier_wait(r->go);
  nc_tw_reply rep = nc_tw_config_publish(r->tw, id, "G", "race", content, NULL);
  r->ok = nc_tw_ok(&rep);
  return NULL;
}

static void test_namespace_bytes_cap_concurrent(void **state) {
  nc_tfx *f = *state;
  enum { N = 8 };
  nc_tw_opts o = {.module = "config"};
  pthread_t th[N];
  racer rs[N];
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, N);
  for (int i = 0; i < N; i++) {
    rs[i] = (racer){.tw = nc_tfx_connect(f, &o), .id = i, .go = &go};
    assert_non_null(rs[i].tw);
  }
  for (int i = 0; i < N; i++)
    pthread_create(&th[i], NULL, race, &rs[i]);
  int ok = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    ok += rs[i].ok;
  }
  pthread_barrier_destroy(&go);
  assert_int_equal(ok, 3);
  assert_int_equal(metric(f, "nacosd_config_namespace_bytes_refused_total"), N - 3);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_grpc_body_bound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_body_bound_answers_before_the_body, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_namespace_bytes_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_namespace_bytes_cap_concurrent, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
