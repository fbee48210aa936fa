/* The agent's HTTPS exchanges (agent/http1.c over common/tls/nc_tls_cli):
 * against an OpenSSL server (tls_test_util.h) a GET and the login
 * (auth_login.c) work with the right CA; another CA or a name the
 * certificate does not carry is refused with the verification reason,
 * which reaches the login's message; a server requiring a client
 * certificate gets it; a key file others can read is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth_login.h"
#include "http1.h"
#include "nc_err.h"
#include "nc_tls_cli.h"
#include "nc_testwait.h"

#include "tls_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static tt_certs g_certs;
static int g_have_certs;

#define NEED_CERTS()                                                                               \
  do {                                                                                             \
    if (!g_have_certs) {                                                                           \
      skip();                                                                                      \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

static const char k_nodes[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              "Connection: close\r\n\r\n{\"code\":200,\"data\":[]}";
static const char k_login[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              "Connection: close\r\n\r\n"
                              "{\"accessToken\":\"tok-123\",\"tokenTtl\":600,\"globalAdmin\":true}";
static const char k_get[] = "GET /nacos/v1/core/cluster/nodes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Connection: close\r\n\r\n";

static nc_tls_cli *cli(const char *ca, const char *name, const char *cert, const char *key) {
  nc_tls_cli_opts o = {
      .ca_file = ca, .server_name = name, .cert_file = cert, .key_file = key, .key_private = 1};
  nc_tls_cli *t = NULL;
  char err[256];
  int rc = nc_tls_cli_new(&o, &t, err, sizeof(err));
  if (rc != 0)
    fprintf(stderr, "nc_tls_cli_new: %s\n", err);
  assert_int_equal(rc, 0);
  return t;
}

static int get(const nc_tls_cli *t, int port, int *status, char *why, size_t cap) {
  char *resp = NULL, *body = NULL;
  int rc = nc_ag_http1_tls(t, "127.0.0.1", port, k_get, strlen(k_get), 3000, status, &resp, &body,
                           why, cap);
  if (rc == 0)
    assert_string_equal(body, "{\"code\":200,\"data\":[]}");
  free(resp);
  return rc;
}

static void test_https_get_and_login(void **state) {
  (void)state;
  NEED_CERTS();
  tt_srv *s = tt_srv_start(g_certs.srv_cert, g_certs.srv_key, NULL, 0, k_nodes);
  nc_tls_cli *t = cli(g_certs.ca, NULL, NULL, NULL);
  int status = 0;
  char why[256];
  assert_int_equal(get(t, s->port, &status, why, sizeof(why)), 0);
  assert_int_equal(status, 200);
  assert_string_equal(why, "");
  assert_int_equal(tt_get(s, &s->requests), 1);
  assert_int_equal(tt_get(s, &s->alpn_h2), 0); /* no ALPN on the HTTP/1.1 link */
  tt_srv_stop(s);

  s = tt_srv_start(g_certs.srv_cert, g_certs.srv_key, NULL, 0, k_login);
  nc_ag_login l;
  assert_int_equal(nc_ag_login_http_tls(t, "127.0.0.1", s->port, "nacos", "pw", 3000, &l), 0);
  assert_string_equal(l.token, "tok-123");
  assert_int_equal(l.ttl_s, 600);
  /* the same server refuses cleartext: no answer is an HTTP answer */
  assert_int_not_equal(nc_ag_login_http("127.0.0.1", s->port, "nacos", "pw", 1000, &l), 0);
  nc_tls_cli_free(t);
  tt_srv_stop(s);
}

static void test_wrong_ca_or_name_refused_with_the_reason(void **state) {
  (void)state;
  NEED_CERTS();
  tt_srv *s = tt_srv_start(g_certs.srv_cert, g_certs.srv_key, NULL, 0, k_login);
  nc_tls_cli *t = cli(g_certs.other_ca, NULL, NULL, NULL);
  int status = 0;
  char why[256];
  assert_int_equal(get(t, s->port, &status, why, sizeof(why)), NC_EUNAVAIL);
  assert_non_null(strstr(why, "TLS: certificate verify failed: "));
  nc_ag_login l;
  assert_int_equal(nc_ag_login_http_tls(t, "127.0.0.1", s->port, "nacos", "pw", 3000, &l),
                   NC_EUNAVAIL);
  assert_non_null(strstr(l.message, "TLS: certificate verify failed: "));
  nc_tls_cli_free(t);

  t = cli(g_certs.ca, "nacos.example.com", NULL, NULL);
  assert_int_equal(get(t, s->port, &status, why, sizeof(why)), NC_EUNAVAIL);
  assert_string_equal(why, "TLS: certificate verify failed: hostname mismatch");
  nc_tls_cli_free(t);
  t = cli(g_certs.ca, "localhost", NULL, NULL); /* a DNS SAN it has */
  assert_int_equal(nc_ag_login_http_tls(t, "127.0.0.1", s->port, "nacos", "pw", 3000, &l), 0);
  nc_tls_cli_free(t);
  assert_int_equal(tt_get(s, &s->requests), 1); /* the refused ones sent nothing */
  tt_srv_stop(s);
}

static void test_client_certificate_when_required(void **state) {
  (void)state;
  NEED_CERTS();
  tt_srv *s = tt_srv_start(g_certs.srv_cert, g_certs.srv_key, g_certs.ca, 0, k_nodes);
  nc_tls_cli *t = cli(g_certs.ca, NULL, NULL, NULL);
  int status = 0;
  char why[256];
  assert_int_not_equal(get(t, s->port, &status, why, sizeof(why)), 0);
  if (!strstr(why, "certificate required"))
    fail_msg("why: %s", why);
  nc_tls_cli_free(t);
  t = cli(g_certs.ca, NULL, g_certs.cli_cert, g_certs.cli_key);
  assert_int_equal(get(t, s->port, &status, why, sizeof(why)), 0);
  assert_int_equal(status, 200);
  char cn[80];
  tt_get_str(s, s->peer_cn, cn, sizeof(cn));
  assert_string_equal(cn, "tt-client");
  nc_tls_cli_free(t);
  tt_srv_stop(s);
}

static void test_key_others_can_read_is_refused(void **state) {
  (void)state;
  NEED_CERTS();
  char open_key[128], cmd[600], err[256];
  snprintf(open_key, sizeof(open_key), "%s/open.key", g_certs.dir);
  snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 644 '%s'", g_certs.cli_key, open_key,
           open_key);
  assert_int_equal(system(cmd), 0);
  nc_tls_cli_opts o = {
      .ca_file = g_certs.ca, .cert_file = g_certs.cli_cert, .key_file = open_key, .key_private = 1};
  nc_tls_cli *t = NULL;
  assert_int_equal(nc_tls_cli_new(&o, &t, err, sizeof(err)), NC_EPERM);
  assert_null(t);
  assert_non_null(strstr(err, "chmod 600"));
  o.key_private = 0; /* the test clients' choice: accepted */
  assert_int_equal(nc_tls_cli_new(&o, &t, err, sizeof(err)), 0);
  nc_tls_cli_free(t);
  o.ca_file = "/nonexistent.pem";
  assert_int_equal(nc_tls_cli_new(&o, &t, err, sizeof(err)), NC_EIO);
  assert_non_null(strstr(err, "/nonexistent.pem"));
}

static int group_setup(void **state) {
  (void)state;
  g_have_certs = tt_certs_make(&g_certs) == 0;
  if (!g_have_certs)
    fprintf(stderr, "openssl failed: TLS tests skipped\n");
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  tt_certs_free(&g_certs);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_https_get_and_login),
      cmocka_unit_test(test_wrong_ca_or_name_refused_with_the_reason),
      cmocka_unit_test(test_client_certificate_when_required),
      cmocka_unit_test(test_key_others_can_read_is_refused),
  };
  nc_test_main_init();
  return _cmocka_run_group_tests("test_agent_http1_tls", tests, sizeof(tests) / sizeof(tests[0]),
                                 group_setup, group_teardown);
}
