/* --tls-client-ca on nacosd's HTTPS port (issue 12, TLS: optional client
 * CA): with it, every HTTPS client must present a certificate signed by
 * that CA, probes included. A real nacosd (--auth on, --tls-cert/--tls-key,
 * --tls-client-ca) and curl, with certificates made at test time
 * (nc_testtls.h):
 * - no client certificate: 403 on a route, on readiness and on /metrics,
 *   and the connection is closed after the answer; a log line and
 *   nacosd_http_client_cert_refused_total say so;
 * - a certificate from the right CA: readiness 200, login, and an
 *   authenticated route 200 with the token (and still 403 without it:
 *   the certificate is no login);
 * - a certificate from another CA: 403, the reason in the body;
 * - nacos-agent with --tls-cert/--tls-key logs in over HTTPS and connects;
 *   without them its login is refused and it says why.
 * Skipped without the openssl and curl commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_testagent.h"
#include "nc_testproc.h"
#include "nc_testtlsnode.h"
#include "nc_testwait.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADMIN_PW "mtls-Adm1n-pw"

typedef nc_test_tls_node fx;

static int setup(void **st) {
  fx *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  *st = f;
  if (system("command -v curl >/dev/null") != 0) {
    fprintf(stderr, "skipped: needs the curl command\n");
    return 0; /* the tests skip */
  }
  assert_int_equal(nc_test_tls_node_start(f, ADMIN_PW, 1, NULL), 0);
  return 0;
}

static int teardown(void **st) {
  int rc = nc_test_tls_node_stop(*st);
  free(*st);
  return rc;
}

#define NEED_TLS(f) NC_TEST_NEED_TLS(f)

typedef enum { CERT_NONE, CERT_GOOD, CERT_OTHER } which_cert;

/* One HTTPS request with curl, trusting the server's CA and presenting the
 * chosen client certificate. Returns the HTTP status (0: no answer, e.g.
 * the TLS handshake failed); the body goes to body, the response head to
 * head (either may be NULL). form != NULL makes it a POST. */
static int https(const fx *f, which_cert c, const char *path, const char *form, char *body,
                 size_t cap, char *head, size_t hcap) {
  char cmd[2048], certs[600] = "", bf[320], hf[320], out[32] = "";
  snprintf(bf, sizeof(bf), "%s/curl.body", f->dir);
  snprintf(hf, sizeof(hf), "%s/curl.head", f->dir);
  if (c == CERT_GOOD)
    snprintf(certs, sizeof(certs), "--cert '%s' --key '%s'", f->tls.client_cert,
             f->tls.client_key);
  else if (c == CERT_OTHER)
    snprintf(certs, sizeof(certs), "--cert '%s' --key '%s'", f->tls.other_cert, f->tls.other_key);
  snprintf(cmd, sizeof(cmd),
           "curl -s --max-time 10 --cacert '%s' %s %s%s%s -D '%s' -o '%s' -w '%%{http_code}' "
           "'https://127.0.0.1:%d%s'",
           f->tls.ca_cert, certs, form ? "--data '" : "", form ? form : "", form ? "'" : "", hf,
           bf, f->srv.port, path);
  unlink(bf);
  unlink(hf);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  if (!fgets(out, sizeof(out), p))
    out[0] = '\0';
  pclose(p);
  const char *files[2] = {bf, hf};
  char *bufs[2] = {body, head};
  size_t caps[2] = {cap, hcap};
  for (int i = 0; i < 2; i++) {
    if (!bufs[i])
      continue;
    bufs[i][0] = '\0';
    FILE *in = fopen(files[i], "r");
    if (in) {
      size_t n = fread(bufs[i], 1, caps[i] - 1, in);
      bufs[i][n] = '\0';
      fclose(in);
    }
  }
  return atoi(out);
}

/* A metric read over HTTPS with the good certificate; -1 when absent. */
static long long metric(const fx *f, const char *name) {
  static char buf[256 * 1024];
  assert_int_equal(https(f, CERT_GOOD, "/metrics", NULL, buf, sizeof(buf), NULL, 0), 200);
  size_t n = strlen(name);
  for (const char *p = buf; (p = strstr(p, name)) != NULL; p += n)
    if ((p == buf || p[-1] == '\n') && p[n] == ' ')
      return atoll(p + n + 1);
  return -1;
}

static int log_has(const char *log, const char *pattern) {
  char cmd[800];
  snprintf(cmd, sizeof(cmd), "grep -q -- '%s' '%s'", pattern, log);
  return system(cmd) == 0;
}

static void test_no_client_certificate_is_refused(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  char body[4096], head[4096];
  long long before = metric(f, "nacosd_http_client_cert_refused_total");
  assert_true(before >= 0);
  /* a probe too: the option means every client presents a certificate */
  assert_int_equal(https(f, CERT_NONE, "/nacos/v1/console/health/readiness", NULL, body,
                         sizeof(body), head, sizeof(head)),
                   403);
  assert_non_null(strstr(body, "client certificate required: no client certificate"));
  assert_non_null(strcasestr(head, "Connection: close")); /* no second request on it */
  assert_int_equal(https(f, CERT_NONE, "/metrics", NULL, body, sizeof(body), NULL, 0), 403);
  /* refused before the body is read or the login looked at */
  assert_int_equal(https(f, CERT_NONE, "/nacos/v1/auth/users/login",
                         "username=nacos&password=" ADMIN_PW, body, sizeof(body), NULL, 0),
                   403);
  assert_null(strstr(body, "accessToken"));
  assert_int_equal(metric(f, "nacosd_http_client_cert_refused_total"), before + 3);
  assert_true(log_has(f->srv.proc.log_path,
                      "http: GET /metrics from 127.0.0.1:[0-9]* refused: no client certificate"));
}

static void test_certificate_from_the_ca_is_served(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  char body[8192];
  long long before = metric(f, "nacosd_http_client_cert_refused_total");
  assert_int_equal(https(f, CERT_GOOD, "/nacos/v1/console/health/readiness", NULL, body,
                         sizeof(body), NULL, 0),
                   200);
  assert_int_equal(https(f, CERT_GOOD, "/health", NULL, body, sizeof(body), NULL, 0), 200);
  /* the certificate is no login: an authenticated route still wants a token */
  assert_int_equal(https(f, CERT_GOOD, "/nacos/v2/core/loader/current", NULL, body,
                         sizeof(body), NULL, 0),
                   403);
  assert_string_equal(body, "user not found!");
  assert_int_equal(https(f, CERT_GOOD, "/nacos/v1/auth/users/login",
                         "username=nacos&password=" ADMIN_PW, body, sizeof(body), NULL, 0),
                   200);
  cJSON *o = cJSON_Parse(body);
  assert_non_null(o);
  const cJSON *t = cJSON_GetObjectItem(o, "accessToken");
  assert_true(cJSON_IsString(t));
  char path[2048];
  snprintf(path, sizeof(path), "/nacos/v2/core/loader/current?accessToken=%s", t->valuestring);
  cJSON_Delete(o);
  assert_int_equal(https(f, CERT_GOOD, path, NULL, body, sizeof(body), NULL, 0), 200);
  assert_int_equal(metric(f, "nacosd_http_client_cert_refused_total"), before);
}

static void test_certificate_from_another_ca_is_refused(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  char body[4096];
  long long before = metric(f, "nacosd_http_client_cert_refused_total");
  assert_int_equal(https(f, CERT_OTHER, "/nacos/v1/console/health/readiness", NULL, body,
                         sizeof(body), NULL, 0),
                   403);
  printf("another CA's certificate: %s\n", body);
  assert_non_null(strstr(body, "not signed by a trusted CA"));
  assert_int_equal(https(f, CERT_OTHER, "/nacos/v1/auth/users/login",
                         "username=nacos&password=" ADMIN_PW, body, sizeof(body), NULL, 0),
                   403);
  assert_int_equal(metric(f, "nacosd_http_client_cert_refused_total"), before + 2);
  assert_true(log_has(f->srv.proc.log_path, "refused: certificate not signed by a trusted CA"));
}

static void status_error(nc_tc *c, char *out, size_t cap) {
  cJSON *r = nc_tc_call(c, 77, "{\"id\":77,\"op\":\"agent.status\"}");
  const cJSON *v = cJSON_GetObjectItem(r, "upstream_error");
  snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
  cJSON_Delete(r);
}

static void test_agent_with_its_certificate_logs_in_over_https(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  char servers[128], adir[300], why[600];
  nc_test_agent_servers(servers, sizeof(servers), &f->srv, NULL);
  snprintf(adir, sizeof(adir), "%s/agent", f->dir);
  mkdir(adir, 0700);
  const char *extra[] = {"--tls",      "on",          "--tls-ca",      f->tls.ca_cert,
                         "--tls-cert", f->tls.client_cert, "--tls-key", f->tls.client_key,
                         "--username", "nacos",       "--password-file", f->pw,
                         NULL};
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, extra), 0);
  long long ms = nc_test_agent_wait_connected(&ag, 10000);
  assert_true(ms >= 0);
  printf("agent logged in over HTTPS with its certificate and connected in %lld ms\n", ms);
  nc_tc *c = nc_tc_open(ag.sock);
  assert_non_null(c);
  status_error(c, why, sizeof(why));
  assert_string_equal(why, "");
  assert_true(nc_tc_call_ok(c, 1,
                            "{\"id\":1,\"op\":\"naming.register\",\"service\":\"httpsmtls\","
                            "\"ip\":\"10.7.0.3\",\"port\":8443}"));
  nc_tc_close(c);
  assert_int_equal(nc_test_agent_stop(&ag), 0);

  /* the same agent without a certificate: the HTTPS login is refused */
  long long before = metric(f, "nacosd_http_client_cert_refused_total");
  snprintf(adir, sizeof(adir), "%s/agent-nocert", f->dir);
  mkdir(adir, 0700);
  const char *bare[] = {"--tls",      "on",    "--tls-ca",        f->tls.ca_cert,
                        "--username", "nacos", "--password-file", f->pw,
                        NULL};
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, bare), 0);
  c = nc_tc_open(ag.sock);
  assert_non_null(c);
  long long took;
  NC_TEST_POLL((status_error(c, why, sizeof(why)), why[0] != 0), 5000, took);
  assert_true(took >= 0);
  printf("agent without a certificate: %s\n", why);
  /* nacosd's 403 reaches the agent's status word for word */
  assert_non_null(strstr(why, "login refused (HTTP 403): client certificate required: "
                              "no client certificate"));
  assert_int_equal(nc_tc_status_int(c, "connected"), 0);
  nc_tc_close(c);
  assert_int_equal(nc_test_agent_stop(&ag), 0);
  assert_true(metric(f, "nacosd_http_client_cert_refused_total") > before);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_client_certificate_is_refused),
      cmocka_unit_test(test_certificate_from_the_ca_is_served),
      cmocka_unit_test(test_certificate_from_another_ca_is_refused),
      cmocka_unit_test(test_agent_with_its_certificate_logs_in_over_https),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
