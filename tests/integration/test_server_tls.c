/* TLS on nacosd's SDK gRPC port (issue 12, TLS): a real gRPC C-core client
 * with SSL credentials (nc_tw over nc_gcli) against a real nacosd with
 * certificates made for the test (nc_testtls.h):
 * - with --tls-cert/--tls-key: ServerCheck, setup and a register over TLS;
 *   /current says tlsProtected and shows the client's real address; plain
 *   text is refused; a client trusting another CA refuses the server;
 * - --tls-plaintext on: plain text and TLS both served, told apart;
 * - --tls-client-ca: no client certificate refused, a certificate of
 *   another CA refused, a good one served;
 * - a socket that connects and sends nothing is closed after
 *   --tls-handshake-timeout-ms; per-IP caps still count TLS clients;
 * - a bad certificate or key file stops nacosd at start with the reason.
 * Skipped without the openssl and curl commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_json.h"
#include "nc_testproc.h"
#include "nc_testtls.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct fx {
  nc_test_tls certs;
  char dir[64];
  nc_test_nacosd srv;
  int running;
  nc_gcli_env *env;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  if (!f || nc_test_tls_make(&f->certs) != 0 || nc_test_mkdtemp(f->dir, sizeof(f->dir)) != 0 ||
      nc_gcli_env_new(1, &f->env) != 0) {
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  /* a clean exit: no sanitizer report, no leak (the log is dumped if not) */
  int rc = f->running ? nc_test_nacosd_stop(&f->srv) : 0;
  nc_gcli_env_free(f->env);
  nc_test_rmtree(f->dir);
  nc_test_tls_free(&f->certs);
  free(f);
  return rc == 0 ? 0 : -1;
}

/* Starts nacosd with the server certificate plus extra (NULL-terminated). */
static void start(fx *f, const char *const *extra) {
  const char *args[24];
  int n = 0;
  args[n++] = "--tls-cert";
  args[n++] = f->certs.server_cert;
  args[n++] = "--tls-key";
  args[n++] = f->certs.server_key;
  for (int i = 0; extra && extra[i] && n < 23; i++)
    args[n++] = extra[i];
  args[n] = NULL;
  nc_test_nacosd_opts o = {.dir = f->dir, .args = args};
  assert_int_equal(nc_test_nacosd_start_opts(&o, &f->srv), 0);
  f->running = 1;
}

/* Connects (ServerCheck + stream + ConnectionSetup); the status. */
static int connect_tw(fx *f, const nc_gcli_tls *tls, nc_tw **out) {
  nc_tw_opts o = {.tls = tls, .timeout_ms = 3000};
  return nc_tw_connect(f->env, f->srv.target, &o, out);
}

/* GET path on the HTTPS port with curl (the test CA); body or NULL. */
/* With the client certificate: under --tls-client-ca the HTTPS port wants
 * one too (test_server_https_mtls); without it, it is not asked for. */
static char *https_get(fx *f, const char *path) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "curl -s --max-time 5 --cacert '%s' --cert '%s' --key '%s' 'https://127.0.0.1:%d%s'",
           f->certs.ca_cert, f->certs.client_cert, f->certs.client_key, f->srv.port, path);
  FILE *p = popen(cmd, "r");
  if (!p)
    return NULL;
  size_t cap = 1 << 20, n = 0;
  char *buf = malloc(cap + 1);
  if (buf)
    n = fread(buf, 1, cap, p);
  pclose(p);
  if (buf)
    buf[n] = 0;
  return buf;
}

/* A metric line's value from /metrics over HTTPS (exact name with labels,
 * e.g. `nacosd_tls_handshakes_total{result="ok"}`), or -1. */
static long long metric(fx *f, const char *name) {
  char *body = https_get(f, "/metrics");
  long long v = -1;
  size_t nl = strlen(name);
  for (char *l = body; l && *l;) {
    char *e = strchr(l, '\n');
    if (strncmp(l, name, nl) == 0 && l[nl] == ' ')
      v = atoll(l + nl + 1);
    l = e ? e + 1 : NULL;
  }
  free(body);
  return v;
}

/* /current's metaInfo of connection id (NULL when absent); owned by *root. */
static const cJSON *current_meta(fx *f, const char *id, cJSON **root) {
  char *body = https_get(f, "/nacos/v2/core/loader/current");
  *root = body ? cJSON_Parse(body) : NULL;
  free(body);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(*root, id);
  return cJSON_GetObjectItemCaseSensitive(c, "metaInfo");
}

static int tls_flag(fx *f, const char *id) {
  cJSON *root = NULL;
  const cJSON *m = current_meta(f, id, &root);
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "tlsProtected");
  int v = t ? cJSON_IsTrue(t) : -1;
  cJSON_Delete(root);
  return v;
}

static void test_sdk_port_serves_grpc_over_tls(void **state) {
  fx *f = *state;
  start(f, NULL);
  nc_gcli_tls tls = {.ca_file = f->certs.ca_cert};
  nc_tw *tw = NULL;
  assert_int_equal(connect_tw(f, &tls, &tw), 0);
  nc_tw_instance in = {.ip = "10.1.2.3", .port = 8080};
  nc_tw_expect_ok(nc_tw_register(tw, "tls-svc", &in), "InstanceResponse");
  nc_tw_service s;
  nc_tw_reply r = nc_tw_query(tw, "tls-svc", &s);
  assert_true(nc_tw_ok(&r));
  assert_int_equal(s.nhosts, 1);
  assert_string_equal(s.hosts[0].ip, "10.1.2.3");
  nc_tw_service_free(&s);
  /* the console sees a TLS connection from the client's own address, not
   * the relay's socketpair */
  cJSON *root = NULL;
  const cJSON *m = current_meta(f, nc_tw_id(tw), &root);
  assert_non_null(m);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "tlsProtected")));
  assert_string_equal(nc_json_str(m, "remoteIp", ""), "127.0.0.1");
  assert_true(nc_json_int(m, "remotePort", 0) > 0);
  cJSON_Delete(root);
  assert_true(metric(f, "nacosd_tls_handshakes_total{result=\"ok\"}") >= 1);
  /* a large value goes through the relay's bounded buffers both ways */
  size_t big = 200 * 1024;
  char *v = malloc(big + 1);
  assert_non_null(v);
  for (size_t i = 0; i < big; i++)
    v[i] = (char)('a' + i % 26);
  v[big] = 0;
  r = nc_tw_config_publish(tw, "tls-big", "DEFAULT_GROUP", NULL, v, NULL);
  assert_true(nc_tw_ok(&r));
  nc_tw_config got;
  r = nc_tw_config_get(tw, "tls-big", "DEFAULT_GROUP", NULL, &got);
  assert_true(nc_tw_ok(&r));
  assert_non_null(got.content);
  assert_int_equal(strlen(got.content), big);
  assert_memory_equal(got.content, v, big);
  nc_tw_config_free(&got);
  free(v);
  nc_tw_close(tw);
}

static void test_plain_text_and_foreign_ca_refused(void **state) {
  fx *f = *state;
  start(f, NULL);
  nc_tw *tw = NULL;
  assert_int_not_equal(connect_tw(f, NULL, &tw), 0);
  assert_null(tw);
  /* the client checks the server: a client trusting another CA refuses it */
  nc_gcli_tls other = {.ca_file = f->certs.other_ca_cert};
  assert_int_not_equal(connect_tw(f, &other, &tw), 0);
  /* and the server's name: a certificate for 127.0.0.x is not one for
   * "example.com" */
  nc_gcli_tls name = {.ca_file = f->certs.ca_cert, .server_name = "example.com"};
  assert_int_not_equal(connect_tw(f, &name, &tw), 0);
  assert_true(metric(f, "nacosd_tls_handshakes_total{result=\"failed\"}") >= 1);
  /* the right CA still works on the same server */
  nc_gcli_tls ok = {.ca_file = f->certs.ca_cert};
  assert_int_equal(connect_tw(f, &ok, &tw), 0);
  nc_tw_close(tw);
}

static void test_plaintext_compat_serves_both(void **state) {
  fx *f = *state;
  start(f, (const char *const[]){"--tls-plaintext", "on", NULL});
  nc_gcli_tls tls = {.ca_file = f->certs.ca_cert};
  nc_tw *t = NULL, *p = NULL;
  assert_int_equal(connect_tw(f, &tls, &t), 0);
  assert_int_equal(connect_tw(f, NULL, &p), 0);
  nc_tw_instance in = {.ip = "10.1.2.4", .port = 8081};
  nc_tw_expect_ok(nc_tw_register(p, "compat-svc", &in), "InstanceResponse");
  nc_tw_service s;
  nc_tw_reply r = nc_tw_query(t, "compat-svc", &s);
  assert_true(nc_tw_ok(&r));
  assert_int_equal(s.nhosts, 1);
  nc_tw_service_free(&s);
  assert_int_equal(tls_flag(f, nc_tw_id(t)), 1);
  assert_int_equal(tls_flag(f, nc_tw_id(p)), 0);
  assert_true(metric(f, "nacosd_tls_plaintext_connections_total") >= 1);
  nc_tw_close(t);
  nc_tw_close(p);
}

static void test_client_ca_requires_a_client_certificate(void **state) {
  fx *f = *state;
  start(f, (const char *const[]){"--tls-client-ca", f->certs.ca_cert, NULL});
  nc_tw *tw = NULL;
  nc_gcli_tls none = {.ca_file = f->certs.ca_cert};
  assert_int_not_equal(connect_tw(f, &none, &tw), 0);
  nc_gcli_tls foreign = {.ca_file = f->certs.ca_cert, .cert_file = f->certs.other_cert,
                         .key_file = f->certs.other_key};
  assert_int_not_equal(connect_tw(f, &foreign, &tw), 0);
  assert_true(metric(f, "nacosd_tls_handshakes_total{result=\"failed\"}") >= 2);
  nc_gcli_tls good = {.ca_file = f->certs.ca_cert, .cert_file = f->certs.client_cert,
                      .key_file = f->certs.client_key};
  assert_int_equal(connect_tw(f, &good, &tw), 0);
  nc_tw_instance in = {.ip = "10.1.2.5", .port = 8082};
  nc_tw_expect_ok(nc_tw_register(tw, "mtls-svc", &in), "InstanceResponse");
  assert_int_equal(tls_flag(f, nc_tw_id(tw)), 1);
  nc_tw_close(tw);
  /* the log says why the others were refused */
  char cmd[700];
  snprintf(cmd, sizeof(cmd), "grep -q 'TLS handshake from ipv4:127.0.0.1:[0-9]* failed' '%s'",
           f->srv.proc.log_path);
  assert_int_equal(system(cmd), 0);
}

/* Connects a raw TCP socket to the gRPC port; fd or -1. */
static int raw_connect(fx *f) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->srv.grpc_port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    fd = -1;
  }
  return fd;
}

/* ms until the server closes fd (EOF or reset), or -1 after wait_ms. */
static long long ms_until_closed(int fd, int wait_ms) {
  long long t0 = nc_test_now_ms();
  struct pollfd p = {.fd = fd, .events = POLLIN};
  char buf[256];
  while (nc_test_now_ms() - t0 < wait_ms) {
    if (poll(&p, 1, 100) > 0) {
      ssize_t r = recv(fd, buf, sizeof(buf), 0);
      if (r <= 0)
        return nc_test_now_ms() - t0;
    }
  }
  return -1;
}

static void test_silent_socket_closed_after_handshake_timeout(void **state) {
  fx *f = *state;
  start(f, (const char *const[]){"--tls-handshake-timeout-ms", "600", NULL});
  int fd = raw_connect(f);
  assert_true(fd >= 0);
  long long ms = ms_until_closed(fd, nc_test_timeout_ms(5000));
  close(fd);
  fprintf(stderr, "silent socket closed after %lld ms\n", ms);
  assert_true(ms >= 400);
  assert_true(ms < nc_test_timeout_ms(3000));
  assert_true(metric(f, "nacosd_tls_handshakes_total{result=\"timeout\"}") >= 1);
  /* a half-sent ClientHello is cut at the same deadline */
  fd = raw_connect(f);
  assert_true(fd >= 0);
  const unsigned char hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
  assert_int_equal(send(fd, hello, sizeof(hello), MSG_NOSIGNAL), (ssize_t)sizeof(hello));
  ms = ms_until_closed(fd, nc_test_timeout_ms(5000));
  close(fd);
  assert_true(ms >= 0);
  assert_true(metric(f, "nacosd_tls_handshakes_total{result=\"timeout\"}") >= 2);
  /* nacosd still serves */
  nc_gcli_tls tls = {.ca_file = f->certs.ca_cert};
  nc_tw *tw = NULL;
  assert_int_equal(connect_tw(f, &tls, &tw), 0);
  nc_tw_close(tw);
}

static void test_per_ip_cap_counts_tls_clients(void **state) {
  fx *f = *state;
  start(f, (const char *const[]){"--max-connections-per-ip", "1", NULL});
  nc_gcli_tls tls = {.ca_file = f->certs.ca_cert};
  nc_tw *a = NULL, *b = NULL;
  assert_int_equal(connect_tw(f, &tls, &a), 0);
  /* the relay hands the core the client's address: a second TLS client
   * from 127.0.0.1 is over the cap */
  assert_int_not_equal(connect_tw(f, &tls, &b), 0);
  nc_tw_close(a);
  NC_TEST_WAIT(connect_tw(f, &tls, &b) == 0, 5000);
  nc_tw_close(b);
}

/* nacosd started with args exits non-zero at start and its log holds want. */
static void expect_start_fails(fx *f, const char *const *args, const char *want) {
  nc_test_nacosd_opts o = {.dir = f->dir, .args = args, .quiet = 1, .timeout_ms = 8000};
  nc_test_nacosd srv;
  assert_int_not_equal(nc_test_nacosd_start_opts(&o, &srv), 0);
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "grep -qF -- '%s' '%s/nacosd.log'", want, f->dir);
  if (system(cmd) != 0) {
    snprintf(cmd, sizeof(cmd), "cat '%s/nacosd.log' >&2", f->dir);
    assert_int_equal(system(cmd), 0);
    fail_msg("the log does not say: %s", want);
  }
}

static void test_bad_certificate_or_key_stops_start(void **state) {
  fx *f = *state;
  char junk[128];
  snprintf(junk, sizeof(junk), "%s/junk.pem", f->dir);
  FILE *j = fopen(junk, "w");
  assert_non_null(j);
  fputs("not a certificate\n", j);
  fclose(j);
  expect_start_fails(f, (const char *const[]){"--tls-cert", junk, "--tls-key", f->certs.server_key,
                                              NULL},
                     "cannot load TLS certificate");
  /* a key of another certificate */
  expect_start_fails(f, (const char *const[]){"--tls-cert", f->certs.server_cert, "--tls-key",
                                              f->certs.other_key, NULL},
                     "does not match certificate");
  expect_start_fails(f, (const char *const[]){"--tls-cert", f->certs.server_cert, "--tls-key",
                                              "/nonexistent/key.pem", NULL},
                     "/nonexistent/key.pem");
  expect_start_fails(f, (const char *const[]){"--tls-cert", f->certs.server_cert, "--tls-key",
                                              f->certs.server_key, "--tls-client-ca", junk, NULL},
                     "cannot load TLS client CA file");
  /* half a pair is refused by option checking */
  expect_start_fails(f, (const char *const[]){"--tls-cert", f->certs.server_cert, NULL},
                     "--tls-cert and --tls-key together");
}

int main(void) {
  if (!nc_test_tls_available() || system("command -v curl >/dev/null 2>&1") != 0) {
    fprintf(stderr, "skipped: needs the openssl and curl commands\n");
    return 0;
  }
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sdk_port_serves_grpc_over_tls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_plain_text_and_foreign_ca_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_plaintext_compat_serves_both, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_ca_requires_a_client_certificate, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_silent_socket_closed_after_handshake_timeout, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_per_ip_cap_counts_tls_clients, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_certificate_or_key_stops_start, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
