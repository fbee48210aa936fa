/* nacosctl's server commands over HTTPS (issue 12) against a real nacosd
 * with --auth on and --tls-cert/--tls-key, certificates made at test time
 * (nc_testtls.h):
 * - --server https://127.0.0.1:PORT --tls-ca CA: user list / user create /
 *   login work; so do --server HOST:PORT --tls and a DNS name of the
 *   certificate (localhost, or --tls-server-name localhost for `cluster`);
 * - another CA, the system trust store, a name the certificate does not
 *   carry (DNS or IP): refused, exit 3, the reason on stderr; plain HTTP to
 *   the HTTPS port: exit 3 too;
 * - nacosd --tls-client-ca: works with --tls-cert/--tls-key, refused
 *   without (the server's 403, exit 4) and with another CA's certificate;
 *   a key others can read is refused before anything is sent (exit 2);
 * - without --server, `--tls` makes the agent's upstream HTTPS (the agent
 *   runs with --tls on and its own certificate).
 * Skipped without the openssl command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_testagent.h"
#include "nc_testproc.h"
#include "nc_testrun.h"
#include "nc_testtlsnode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fx {
  nc_test_tls_node n; /* first: f->n.srv etc. */
  char newpw[300], https[64], plain[64], localhost[64];
} fx;

static int start(void **st, int client_ca) {
  fx *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  *st = f;
  assert_int_equal(nc_test_tls_node_start(&f->n, "Tls-Adm1n-pw", client_ca, NULL), 0);
  if (!f->n.up)
    return 0; /* the tests skip */
  snprintf(f->newpw, sizeof(f->newpw), "%s/alice.pw", f->n.dir);
  assert_int_equal(nc_test_write_line(f->newpw, "al1ce-Pw", 0600), 0);
  snprintf(f->https, sizeof(f->https), "https://127.0.0.1:%d", f->n.srv.port);
  snprintf(f->plain, sizeof(f->plain), "127.0.0.1:%d", f->n.srv.port);
  snprintf(f->localhost, sizeof(f->localhost), "https://localhost:%d", f->n.srv.port);
  return 0;
}

static int setup_tls(void **st) { return start(st, 0); }
static int setup_mtls(void **st) { return start(st, 1); }

static int teardown(void **st) {
  fx *f = *st;
  int rc = nc_test_tls_node_stop(&f->n);
  free(f);
  return rc;
}

#define NEED_TLS(f) NC_TEST_NEED_TLS(&(f)->n)

/* Runs nacosctl with args (NULL-terminated); its exit code, output in p. */
static int ctl(nc_trun *p, const char *const *args) {
  const char *argv[40] = {NC_NACOSCTL_BIN};
  int n = 1;
  for (int k = 0; args[k] && n < 39; k++)
    argv[n++] = args[k];
  argv[n] = NULL;
  assert_int_equal(nc_trun_spawn(p, argv, NULL, NULL), 0);
  int rc = nc_trun_finish(p, 20000);
  if (getenv("NC_TEST_VERBOSE"))
    fprintf(stderr, "nacosctl %s %s ...: %d\n--out--\n%s--err--\n%s\n", args[0], args[1], rc,
            p->obuf, p->ebuf);
  return rc;
}

static void test_user_list_and_create_over_https(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  nc_trun p;
  const char *ca = f->n.tls.ca_cert;
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", f->https, "--tls-ca", ca,
                                            "--username", "nacos", "--password-file", f->n.pw,
                                            NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "USERNAME"));
  assert_non_null(strstr(p.obuf, "nacos"));
  assert_int_equal(ctl(&p, (const char *[]){"user", "create", "alice", "--new-password-file",
                                            f->newpw, "--server", f->https, "--tls-ca", ca,
                                            "--username", "nacos", "--password-file", f->n.pw,
                                            NULL}),
                   0);
  /* --tls on a bare HOST:PORT; the new user is there */
  assert_int_equal(ctl(&p, (const char *[]){"--json", "user", "list", "alice", "--server",
                                            f->plain, "--tls", "--tls-ca", ca, "--username",
                                            "nacos", "--password-file", f->n.pw, NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "\"username\":\"alice\""));
  /* she logs in over HTTPS; a DNS name of the certificate verifies too */
  assert_int_equal(ctl(&p, (const char *[]){"login", "--server", f->localhost, "--tls-ca", ca,
                                            "--username", "alice", "--password-file", f->newpw,
                                            NULL}),
                   0);
  assert_true(strlen(p.obuf) > 20);
  /* cluster without credentials: with auth on the server answers 403
   * (which it could only do once the name verified): exit 4 with a hint */
  assert_int_equal(ctl(&p, (const char *[]){"cluster", "--server", f->https, "--tls-ca", ca,
                                            "--tls-server-name", "localhost", NULL}),
                   4);
  assert_non_null(strstr(p.ebuf, "HTTP 403"));
  assert_non_null(strstr(p.ebuf, "--password-file"));
  /* with the admin's credentials: the member list */
  assert_int_equal(ctl(&p, (const char *[]){"--json", "cluster", "--server", f->https, "--tls-ca",
                                            ca, "--tls-server-name", "localhost", "--username",
                                            "nacos", "--password-file", f->n.pw, NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "\"state\":\"UP\""));
}

static void test_wrong_ca_or_name_refused_exit_3(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  nc_trun p;
  /* another CA */
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", f->https, "--tls-ca",
                                            f->n.tls.other_ca_cert, "--username", "nacos",
                                            "--password-file", f->n.pw, NULL}),
                   3);
  assert_non_null(strstr(p.ebuf, "certificate verify failed"));
  assert_non_null(strstr(p.ebuf, f->https));
  /* the system trust store does not know the test CA */
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", f->https, "--username",
                                            "nacos", "--password-file", f->n.pw, NULL}),
                   3);
  assert_non_null(strstr(p.ebuf, "certificate verify failed"));
  /* names the certificate does not carry: a DNS name, an IP address */
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", f->https, "--tls-ca",
                                            f->n.tls.ca_cert, "--tls-server-name", "nacos.example",
                                            "--username", "nacos", "--password-file", f->n.pw,
                                            NULL}),
                   3);
  assert_non_null(strstr(p.ebuf, "certificate verify failed: hostname mismatch"));
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", f->https, "--tls-ca",
                                            f->n.tls.ca_cert, "--tls-server-name", "127.0.0.42",
                                            "--username", "nacos", "--password-file", f->n.pw,
                                            NULL}),
                   3);
  assert_non_null(strstr(p.ebuf, "certificate verify failed: IP address mismatch"));
  /* plain HTTP to the HTTPS port gets no HTTP answer */
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", f->plain, "--username",
                                            "nacos", "--password-file", f->n.pw, NULL}),
                   3);
  assert_non_null(strstr(p.ebuf, "an HTTPS port?"));
  /* nothing was created by the refused attempts */
  assert_int_equal(ctl(&p, (const char *[]){"user", "create", "bob", "--new-password-file",
                                            f->newpw, "--server", f->https, "--tls-ca",
                                            f->n.tls.other_ca_cert, "--username", "nacos",
                                            "--password-file", f->n.pw, NULL}),
                   3);
  assert_int_equal(ctl(&p, (const char *[]){"--json", "user", "list", "--server", f->https,
                                            "--tls-ca", f->n.tls.ca_cert, "--username", "nacos",
                                            "--password-file", f->n.pw, NULL}),
                   0);
  assert_null(strstr(p.obuf, "\"bob\""));
}

static void test_client_certificate_required(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  nc_trun p;
  const char *ca = f->n.tls.ca_cert;
  assert_int_equal(ctl(&p, (const char *[]){"user", "create", "carol", "--new-password-file",
                                            f->newpw, "--server", f->https, "--tls-ca", ca,
                                            "--tls-cert", f->n.tls.client_cert, "--tls-key",
                                            f->n.tls.client_key, "--username", "nacos",
                                            "--password-file", f->n.pw, NULL}),
                   0);
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", f->https, "--tls-ca", ca,
                                            "--tls-cert", f->n.tls.client_cert, "--tls-key",
                                            f->n.tls.client_key, "--username", "nacos",
                                            "--password-file", f->n.pw, NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "carol"));
  /* without a certificate: the server refuses, and says why */
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", f->https, "--tls-ca", ca,
                                            "--username", "nacos", "--password-file", f->n.pw,
                                            NULL}),
                   4);
  assert_non_null(strstr(p.ebuf, "client certificate required"));
  /* another CA's certificate: refused too */
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", f->https, "--tls-ca", ca,
                                            "--tls-cert", f->n.tls.other_cert, "--tls-key",
                                            f->n.tls.other_key, "--username", "nacos",
                                            "--password-file", f->n.pw, NULL}),
                   4);
  assert_non_null(strstr(p.ebuf, "client certificate"));
  /* a key others can read: refused before anything is sent */
  char loose[320], cmd[800];
  snprintf(loose, sizeof(loose), "%s/loose.key", f->n.dir);
  snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", f->n.tls.client_key, loose);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(chmod(loose, 0640), 0);
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", f->https, "--tls-ca", ca,
                                            "--tls-cert", f->n.tls.client_cert, "--tls-key", loose,
                                            "--username", "nacos", "--password-file", f->n.pw,
                                            NULL}),
                   2);
  assert_non_null(strstr(p.ebuf, "chmod 600"));
}

/* No --server: the agent's upstream, over HTTPS with --tls. */
static void test_agent_upstream_over_https(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  nc_trun p;
  char servers[128], adir[300];
  nc_test_agent_servers(servers, sizeof(servers), &f->n.srv, NULL);
  snprintf(adir, sizeof(adir), "%s/agent", f->n.dir);
  mkdir(adir, 0700);
  const char *extra[] = {"--tls",      "on",          "--tls-ca",      f->n.tls.ca_cert,
                         "--tls-cert", f->n.tls.client_cert, "--tls-key", f->n.tls.client_key,
                         "--username", "nacos",       "--password-file", f->n.pw,
                         NULL};
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, extra), 0);
  assert_true(nc_test_agent_wait_connected(&ag, 10000) >= 0);
  assert_int_equal(ctl(&p, (const char *[]){"--socket", ag.sock, "user", "list", "--tls",
                                            "--tls-ca", f->n.tls.ca_cert, "--tls-cert",
                                            f->n.tls.client_cert, "--tls-key", f->n.tls.client_key,
                                            "--username", "nacos", "--password-file", f->n.pw,
                                            NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "nacos"));
  /* --tls-ca without HTTPS chosen is a usage error, not silently plain */
  assert_int_equal(ctl(&p, (const char *[]){"--socket", ag.sock, "user", "list", "--tls-ca",
                                            f->n.tls.ca_cert, "--username", "nacos",
                                            "--password-file", f->n.pw, NULL}),
                   2);
  assert_non_null(strstr(p.ebuf, "--tls-ca is for HTTPS"));
  assert_int_equal(nc_test_agent_stop(&ag), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_user_list_and_create_over_https, setup_tls, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_ca_or_name_refused_exit_3, setup_tls, teardown),
      cmocka_unit_test_setup_teardown(test_client_certificate_required, setup_mtls, teardown),
      cmocka_unit_test_setup_teardown(test_agent_upstream_over_https, setup_mtls, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
