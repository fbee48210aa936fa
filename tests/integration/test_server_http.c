/* nacosd's main port is one HTTP/1.1 server (nc_http): keep-alive, methods
 * checked per route (405), JSON 404 bodies, /health and /metrics, the
 * console on the same connection, and a bad request that leaves the server
 * serving. Raw sockets, so what is checked is what goes over the wire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"
#include "nc_testwire.h"
#include "nc_testwait.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int setup(void **state) {
  nc_tfx *f = NULL;
  if (nc_tfx_start(NULL, &f) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) { return nc_tfx_stop(*state) == 0 ? 0 : -1; }

static int dial(const nc_tfx *f) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->srv->port)};
  inet_pton(AF_INET, f->srv->host, &a.sin_addr);
  struct timeval tv = {.tv_sec = 5 * (long)nc_test_timeout_multiplier() + 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  return fd;
}

/* Reads one response (head + Content-Length body) into buf; returns its
 * status, or -1 when the connection closed first. */
static int read_response(int fd, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = 0;
  for (;;) {
    char *end = strstr(buf, "\r\n\r\n");
    if (end) {
      const char *cl = strcasestr(buf, "\r\nContent-Length:");
      size_t want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
      if (len >= want) {
        int code = 0;
        sscanf(buf, "HTTP/1.%*d %d", &code);
        return code;
      }
    }
    ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
    if (n <= 0)
      return -1;
    len += (size_t)n;
    buf[len] = 0;
  }
}

static int request(int fd, const char *method, const char *path, const char *body, char *buf,
                   size_t cap) {
  char req[1024];
  int n = snprintf(req, sizeof(req),
                   "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n\r\n%s",
                   method, path, body ? strlen(body) : 0, body ? body : "");
  assert_int_equal(send(fd, req, (size_t)n, 0), n);
  return read_response(fd, buf, cap);
}

static void test_keep_alive_serves_several_routes_on_one_connection(void **state) {
  nc_tfx *f = *state;
  char buf[65536];
  int fd = dial(f);
  assert_int_equal(request(fd, "GET", "/health", NULL, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\r\n\r\nok"));
  assert_int_equal(request(fd, "GET", "/metrics", NULL, buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "# TYPE nacosd_connections gauge"));
  assert_non_null(strstr(buf, "nacosd_http_requests_total"));
  assert_int_equal(request(fd, "GET", "/nacos/v2/core/loader/current", NULL, buf, sizeof(buf)),
                   200);
  assert_non_null(strstr(buf, "application/json"));
  close(fd);
}

static void test_wrong_method_405_unknown_path_404_json(void **state) {
  nc_tfx *f = *state;
  char buf[8192];
  int fd = dial(f);
  assert_int_equal(request(fd, "POST", "/metrics", "a=1", buf, sizeof(buf)), 405);
  assert_int_equal(request(fd, "DELETE", "/nacos/v2/core/loader/current", NULL, buf, sizeof(buf)),
                   405);
  assert_int_equal(request(fd, "GET", "/nacos/v1/no/such/route", NULL, buf, sizeof(buf)), 404);
  assert_non_null(strstr(buf, "\"code\":404"));
  /* still served on the same connection after the errors */
  assert_int_equal(request(fd, "GET", "/health", NULL, buf, sizeof(buf)), 200);
  close(fd);
}

static void test_malformed_request_leaves_server_serving(void **state) {
  nc_tfx *f = *state;
  char buf[8192];
  int fd = dial(f);
  const char junk[] = "BLAH\x01\x02 not http at all\r\n\r\n";
  assert_int_equal(send(fd, junk, sizeof(junk) - 1, 0), (ssize_t)sizeof(junk) - 1);
  int code = read_response(fd, buf, sizeof(buf));
  assert_true(code == -1 || (code >= 400 && code < 500));
  close(fd);
  /* a malformed parameter is a 400 with a reason, not an unknown id */
  fd = dial(f);
  assert_int_equal(request(fd, "GET", "/nacos/v2/core/loader/reloadClient?connectionId=%zz", NULL,
                           buf, sizeof(buf)),
                   400);
  assert_non_null(strstr(buf, "malformed parameter 'connectionId'"));
  assert_int_equal(request(fd, "GET", "/health", NULL, buf, sizeof(buf)), 200);
  close(fd);
}

/* --http-bind moves the HTTP port alone: it answers on 127.0.0.2 and not
 * on --bind's 127.0.0.1, where gRPC still serves SDKs. */
static void test_http_bind_moves_only_the_http_port(void **state) {
  (void)state;
  nc_test_nacosd srv;
  char dir[64];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  const char *args[] = {"--http-bind", "127.0.0.2", NULL};
  nc_test_nacosd_opts o = {.dir = dir, .args = args};
  assert_int_equal(nc_test_nacosd_start_opts(&o, &srv), 0);
  int status = 0;
  assert_int_equal(nc_test_http_get_at("127.0.0.2", srv.port, "/health", &status, NULL), 0);
  assert_int_equal(status, 200);
  assert_int_equal(nc_test_http_get_at("127.0.0.1", srv.port, "/health", &status, NULL), -1);
  nc_gcli_env *env = NULL;
  assert_int_equal(nc_gcli_env_new(1, &env), 0);
  nc_tw *tw = nc_tw_open(env, srv.target, NULL);
  assert_non_null(tw);
  nc_tw_close(tw);
  nc_gcli_env_free(env);
  assert_int_equal(nc_test_nacosd_stop(&srv), 0);
  nc_test_rmtree(dir);
}

/* HTTPS on the HTTP port with a certificate made for this test: curl with
 * that CA gets /health over TLS, a plain HTTP request gets no HTTP answer.
 * Skipped without openssl and curl. */
static void test_https_with_a_test_certificate(void **state) {
  (void)state;
  if (system("command -v openssl >/dev/null && command -v curl >/dev/null") != 0) {
    fprintf(stderr, "skipped: needs the openssl and curl commands\n");
    skip();
  }
  char dir[64], cmd[1024], crt[128], key[128];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(crt, sizeof(crt), "%s/server.crt", dir);
  snprintf(key, sizeof(key), "%s/server.key", dir);
  snprintf(cmd, sizeof(cmd),
           "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
           "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s 2>/dev/null",
           key, crt);
  assert_int_equal(system(cmd), 0);
  const char *args[] = {"--tls-cert", crt, "--tls-key", key, NULL};
  nc_test_nacosd srv;
  nc_test_nacosd_opts o = {.dir = dir, .args = args};
  assert_int_equal(nc_test_nacosd_start_opts(&o, &srv), 0);
  snprintf(cmd, sizeof(cmd),
           "curl -s --max-time 5 --cacert %s https://127.0.0.1:%d/health | grep -qx ok", crt,
           srv.port);
  assert_int_equal(system(cmd), 0);
  /* the certificate is checked: without the CA curl refuses */
  snprintf(cmd, sizeof(cmd), "curl -s --max-time 5 https://127.0.0.1:%d/health >/dev/null",
           srv.port);
  assert_int_not_equal(system(cmd), 0);
  int status = 0;
  char *body = NULL;
  int rc = nc_test_http_get_at("127.0.0.1", srv.port, "/health", &status, &body);
  assert_true(rc != 0 || status != 200);
  free(body);
  assert_int_equal(nc_test_nacosd_stop(&srv), 0);
  nc_test_rmtree(dir);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_keep_alive_serves_several_routes_on_one_connection,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_method_405_unknown_path_404_json, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_malformed_request_leaves_server_serving, setup,
                                      teardown),
      cmocka_unit_test(test_http_bind_moves_only_the_http_port),
      cmocka_unit_test(test_https_with_a_test_certificate),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
