/* The agent over TLS to a real nacosd (issue 12): nacosd with --tls-cert /
 * --tls-key (TLS on the SDK gRPC port, HTTPS on the HTTP port) and auth
 * on; the agent with --tls on --tls-ca logs in over HTTPS with
 * --username/--password-file, connects over TLS, and an app's register and
 * subscribe through the agent socket work end to end. An agent trusting
 * another CA never connects and agent.status says why (the gRPC handshake
 * and, with a login, the HTTPS one); an agent whose --tls-key others can
 * read refuses to start. Certificates come from nc_testtls at test time. */
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef nc_test_tls_node fx;

/* nacosd --auth on with TLS on both ports (nc_testtlsnode.h). */
static int setup(void **st) {
  fx *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  *st = f;
  assert_int_equal(nc_test_tls_node_start(f, "tls-Adm1n-pw", 0, NULL), 0);
  return 0;
}

/* Every fixture of this file: nc_test_tls_node_stop undoes what any of
 * them started. */
static int teardown(void **st) {
  int rc = nc_test_tls_node_stop(*st);
  free(*st);
  return rc;
}

#define NEED_TLS(f) NC_TEST_NEED_TLS(f)

static void agent_dir(const fx *f, const char *name, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", f->dir, name);
  mkdir(out, 0700);
}

/* agent.status's upstream_error ("" when absent). */
static void status_error(nc_tc *c, char *out, size_t cap) {
  cJSON *r = nc_tc_call(c, 77, "{\"id\":77,\"op\":\"agent.status\"}");
  const cJSON *v = cJSON_GetObjectItem(r, "upstream_error");
  snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
  cJSON_Delete(r);
}

static int log_has(const char *log, const char *pattern) {
  char cmd[800];
  snprintf(cmd, sizeof(cmd), "grep -q -- '%s' '%s'", pattern, log);
  return system(cmd) == 0;
}

static void test_agent_over_tls_logs_in_registers_and_subscribes(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  char servers[128], adir[300];
  nc_test_agent_servers(servers, sizeof(servers), &f->srv, NULL);
  agent_dir(f, "agent", adir, sizeof(adir));
  const char *extra[] = {"--tls",      "on",    "--tls-ca",        f->tls.ca_cert,
                         "--username", "nacos", "--password-file", f->pw,
                         NULL};
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, extra), 0);
  long long ms = nc_test_agent_wait_connected(&ag, 10000);
  assert_true(ms >= 0);
  printf("agent connected over TLS (HTTPS login + gRPC handshake) %lld ms after its socket "
         "accepted\n",
         ms);
  /* both links were TLS: the gRPC handshake and the HTTPS login */
  assert_true(log_has(ag.proc.log_path, "gcli: TLS to "));
  assert_true(log_has(ag.proc.log_path, "connected to .* (TLS)"));
  nc_tc *sub = nc_tc_open(ag.sock), *app = nc_tc_open(ag.sock);
  assert_non_null(sub);
  assert_non_null(app);
  char why[300];
  status_error(sub, why, sizeof(why));
  assert_string_equal(why, ""); /* connected: nothing to explain */
  cJSON *r = nc_tc_call(sub, 1, "{\"id\":1,\"op\":\"naming.subscribe\",\"service\":\"tlssvc\"}");
  assert_true(nc_tc_ok(r));
  assert_int_equal(nc_tc_hosts_count(r), 0);
  cJSON_Delete(r);
  assert_true(nc_tc_call_ok(app, 1,
                            "{\"id\":1,\"op\":\"naming.register\",\"service\":\"tlssvc\","
                            "\"ip\":\"10.7.0.1\",\"port\":8443}"));
  /* the push came back from nacosd over the TLS stream */
  assert_int_equal(nc_tc_wait_changed_hosts(sub, "tlssvc", 5000), 1);
  nc_tc_close(sub);
  nc_tc_close(app);
  assert_int_equal(nc_test_agent_stop(&ag), 0);
}

/* Without a login the gRPC handshake is the first thing refused; with one
 * the HTTPS login is. Either way: never connected, and the status says
 * why. */
static void test_agent_trusting_another_ca_never_connects(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  char servers[128], adir[300], why[300];
  nc_test_agent_servers(servers, sizeof(servers), &f->srv, NULL);
  agent_dir(f, "agent-grpc", adir, sizeof(adir));
  const char *extra[] = {"--tls", "on", "--tls-ca", f->tls.other_ca_cert, NULL};
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, extra), 0);
  nc_tc *c = nc_tc_open(ag.sock);
  assert_non_null(c);
  long long took;
  NC_TEST_POLL((status_error(c, why, sizeof(why)), why[0] != 0), 5000, took);
  assert_true(took >= 0);
  assert_non_null(strstr(why, "TLS: certificate verify failed: "));
  assert_non_null(strstr(why, f->srv.target + strcspn(f->srv.target, ":"))); /* which server */
  usleep(1500 * 1000); /* retries (back-off) keep failing */
  assert_int_equal(nc_tc_status_int(c, "connected"), 0);
  assert_int_equal(nc_tc_status_int(c, "reconnects"), 0);
  nc_tc_close(c);
  assert_true(log_has(ag.proc.log_path, "upstream: connect to .* failed: TLS: certificate verify"));
  assert_int_equal(nc_test_agent_stop(&ag), 0);

  agent_dir(f, "agent-login", adir, sizeof(adir));
  const char *extra2[] = {"--tls",      "on",    "--tls-ca",        f->tls.other_ca_cert,
                          "--username", "nacos", "--password-file", f->pw,
                          NULL};
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, extra2), 0);
  c = nc_tc_open(ag.sock);
  assert_non_null(c);
  NC_TEST_POLL((status_error(c, why, sizeof(why)), why[0] != 0), 5000, took);
  assert_true(took >= 0);
  assert_non_null(strstr(why, "login to "));
  assert_non_null(strstr(why, "TLS: certificate verify failed: "));
  assert_int_equal(nc_tc_status_int(c, "connected"), 0);
  nc_tc_close(c);
  assert_int_equal(nc_test_agent_stop(&ag), 0);
}

static void test_agent_tls_key_others_can_read_is_refused(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  char servers[128], key[300], log[400], sock[400], cache[400], cmd[900];
  nc_test_agent_servers(servers, sizeof(servers), &f->srv, NULL);
  snprintf(key, sizeof(key), "%s/open.key", f->dir);
  snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 644 '%s'", f->tls.client_key, key, key);
  assert_int_equal(system(cmd), 0);
  snprintf(log, sizeof(log), "%s/agent-key.log", f->dir);
  snprintf(sock, sizeof(sock), "%s/k.sock", f->dir);
  snprintf(cache, sizeof(cache), "%s/k-cache", f->dir);
  char *const argv[] = {"nacos-agent", "--servers",  servers,  "--socket",
                        sock,          "--cache-dir", cache,    "--tls",
                        "on",          "--tls-ca",    f->tls.ca_cert, "--tls-cert",
                        f->tls.client_cert, "--tls-key", key,   NULL};
  nc_testproc p;
  assert_int_equal(nc_testproc_start(&p, NC_AGENT_BIN, argv, log), 0);
  NC_TEST_WAIT(!nc_testproc_alive(&p), 5000);
  assert_true(nc_testproc_kill(&p, SIGKILL) != 0); /* it exited with an error */
  assert_true(log_has(log, "readable or writable by others"));
}

/* nacosd --tls-client-ca: the SDK port wants a client certificate. The
 * agent presents --tls-cert/--tls-key and connects; without them it stays
 * out and says why. (Auth off: this is about the certificate alone.) */
static int setup_mutual(void **st) {
  fx *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  *st = f;
  if (!nc_test_tls_available() || nc_test_tls_make(&f->tls) != 0)
    return 0;
  assert_int_equal(nc_test_mkdtemp(f->dir, sizeof(f->dir)), 0);
  const char *args[] = {"--tls-cert", f->tls.server_cert, "--tls-key", f->tls.server_key,
                        "--tls-client-ca", f->tls.ca_cert, NULL};
  nc_test_nacosd_opts o = {.dir = f->dir, .args = args};
  assert_int_equal(nc_test_nacosd_start_opts(&o, &f->srv), 0);
  f->up = 1;
  return 0;
}

static void test_agent_presents_its_certificate_when_required(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  char servers[128], adir[300], why[300];
  nc_test_agent_servers(servers, sizeof(servers), &f->srv, NULL);
  agent_dir(f, "agent-mtls", adir, sizeof(adir));
  const char *extra[] = {"--tls",      "on",  "--tls-ca",  f->tls.ca_cert, "--tls-cert",
                         f->tls.client_cert, "--tls-key", f->tls.client_key, NULL};
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, extra), 0);
  assert_true(nc_test_agent_wait_connected(&ag, 10000) >= 0);
  nc_tc *c = nc_tc_open(ag.sock);
  assert_non_null(c);
  assert_true(nc_tc_call_ok(c, 1,
                            "{\"id\":1,\"op\":\"naming.register\",\"service\":\"mtls\","
                            "\"ip\":\"10.7.0.2\",\"port\":8443}"));
  nc_tc_close(c);
  assert_int_equal(nc_test_agent_stop(&ag), 0);

  agent_dir(f, "agent-nocert", adir, sizeof(adir));
  const char *bare[] = {"--tls", "on", "--tls-ca", f->tls.ca_cert, NULL};
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, bare), 0);
  c = nc_tc_open(ag.sock);
  assert_non_null(c);
  long long took;
  NC_TEST_POLL((status_error(c, why, sizeof(why)), why[0] != 0), 5000, took);
  assert_true(took >= 0);
  /* TLS 1.3: the server's verdict arrives after the client's handshake is
   * done, as an alert (or, when the close beats it, a closed connection) */
  printf("agent without a client certificate: %s\n", why);
  assert_true(strstr(why, "certificate required") || strstr(why, "closed"));
  assert_int_equal(nc_tc_status_int(c, "connected"), 0);
  nc_tc_close(c);
  assert_int_equal(nc_test_agent_stop(&ag), 0);
}

/* Two servers: A's certificate comes from another CA, B's from the one the
 * agent trusts. A refused certificate is a failed connect like any other:
 * the agent ends on B, moves on to A when B goes (and is refused there,
 * saying so), and comes back to B when it returns on the same ports. */
static void test_refused_certificate_fails_over_like_a_failed_connect(void **st) {
  fx *f = *st;
  NEED_TLS(f);
  char bdir[300], servers[200], adir[300], want[64], why[300];
  snprintf(bdir, sizeof(bdir), "%s/b", f->dir);
  mkdir(bdir, 0700);
  const char *bargs[] = {"--tls-cert", f->tls.server_cert, "--tls-key", f->tls.server_key, NULL};
  nc_test_nacosd_opts bo = {.dir = bdir, .args = bargs};
  nc_test_nacosd b;
  assert_int_equal(nc_test_nacosd_start_opts(&bo, &b), 0);
  nc_test_agent_servers(servers, sizeof(servers), &f->srv, &b); /* A (f->srv) and B */
  agent_dir(f, "agent-fo", adir, sizeof(adir));
  const char *extra[] = {"--tls", "on", "--tls-ca", f->tls.ca_cert, NULL};
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, extra), 0);
  assert_true(nc_test_agent_wait_connected(&ag, 10000) >= 0);
  nc_tc *c = nc_tc_open(ag.sock);
  assert_non_null(c);
  snprintf(want, sizeof(want), "127.0.0.1:%d", b.port);
  cJSON *r = nc_tc_call(c, 1, "{\"id\":1,\"op\":\"agent.status\"}");
  assert_string_equal(cJSON_GetObjectItem(r, "server")->valuestring, want);
  cJSON_Delete(r);

  /* B goes: A is tried, and refused for its certificate; the status has
   * each server's reason (B's refused port does not hide A's) */
  assert_int_equal(nc_test_nacosd_stop(&b), 0);
  char a_fail[128], b_fail[64];
  snprintf(a_fail, sizeof(a_fail), "127.0.0.1:%d: TLS: certificate verify failed",
           f->srv.grpc_port);
  snprintf(b_fail, sizeof(b_fail), "127.0.0.1:%d: connection refused", b.grpc_port);
  long long took;
  NC_TEST_POLL((status_error(c, why, sizeof(why)), strstr(why, a_fail) && strstr(why, b_fail)),
               10000, took);
  if (took < 0)
    fail_msg("upstream_error: '%s'", why);
  assert_int_equal(nc_tc_status_int(c, "connected"), 0);
  assert_true(log_has(ag.proc.log_path, "failed: TLS: certificate verify failed"));

  /* B is back on its ports: the agent returns to it */
  bo.port = b.port;
  bo.grpc_port = b.grpc_port;
  bo.cluster_port = b.cluster_port;
  bo.append_log = 1;
  assert_int_equal(nc_test_nacosd_start_opts(&bo, &b), 0);
  assert_true(nc_tc_wait_status(c, "connected", 1, 15000) >= 0);
  r = nc_tc_call(c, 2, "{\"id\":2,\"op\":\"agent.status\"}");
  assert_string_equal(cJSON_GetObjectItem(r, "server")->valuestring, want);
  assert_null(cJSON_GetObjectItem(r, "upstream_error")); /* connected: nothing to explain */
  cJSON_Delete(r);
  nc_tc_close(c);
  assert_int_equal(nc_test_agent_stop(&ag), 0);
  assert_int_equal(nc_test_nacosd_stop(&b), 0);
}

/* A: nacosd with a certificate of the other CA (auth off). */
static int setup_foreign(void **st) {
  fx *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  *st = f;
  if (!nc_test_tls_available() || nc_test_tls_make(&f->tls) != 0)
    return 0;
  assert_int_equal(nc_test_mkdtemp(f->dir, sizeof(f->dir)), 0);
  const char *args[] = {"--tls-cert", f->tls.other_cert, "--tls-key", f->tls.other_key, NULL};
  nc_test_nacosd_opts o = {.dir = f->dir, .args = args};
  assert_int_equal(nc_test_nacosd_start_opts(&o, &f->srv), 0);
  f->up = 1;
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_agent_over_tls_logs_in_registers_and_subscribes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_agent_trusting_another_ca_never_connects, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_agent_tls_key_others_can_read_is_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_agent_presents_its_certificate_when_required,
                                      setup_mutual, teardown),
      cmocka_unit_test_setup_teardown(test_refused_certificate_fails_over_like_a_failed_connect,
                                      setup_foreign, teardown),
  };
  return NC_TEST_MAIN(tests);
}
