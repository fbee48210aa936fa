/* Mutual TLS between cluster members (issue 12, TLS): three real nodes
 * with --cluster-tls-ca/--cluster-tls-cert/--cluster-tls-key and
 * certificates made for the test (nc_testtls.h) form a cluster over TLS
 * (every member UP in every node's view, reports received) and Distro
 * replicates an instance; on a node's cluster port plain text, TLS without
 * a client certificate and a certificate of another CA are refused, while
 * a certificate of the cluster CA is served. A node whose own certificate
 * is of another CA is not let in: the others keep it DOWN. The nodes share
 * 127.0.0.1 (the test certificate names 127.0.0.1..9, not 127.A.B.x).
 * Skipped without the openssl command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_testtls.h"
#include "distro_itest.h"

static nc_test_tls g_certs;

/* A wire client to node i's cluster port, as a member would connect. */
static int cluster_connect(const nc_tcluster *c, int i, const nc_gcli_tls *tls, nc_tw **out) {
  const nc_test_nacosd *n = nc_tcluster_node(c, i);
  char target[96];
  snprintf(target, sizeof(target), "%s:%d", n->host, n->cluster_port);
  nc_tw_opts o = {.tls = tls, .timeout_ms = 3000};
  *out = NULL;
  return nc_tw_connect(g_env, target, &o, out);
}

static void test_members_form_over_mutual_tls(void **state) {
  (void)state;
  const char *const args[] = {"--cluster-tls-ca", g_certs.ca_cert, "--cluster-tls-cert",
                              g_certs.server_cert, "--cluster-tls-key", g_certs.server_key,
                              NULL};
  nc_tcluster *c = cit_start_opts(3, args, 1);
  NC_TEST_WAIT(cit_all_up(c, 3), 20000);

  /* Distro over the TLS peer links */
  nc_tw *a = dit_open(c, 0, 20000), *b = dit_open(c, 2, 20000);
  assert_non_null(a);
  assert_non_null(b);
  nc_tw_instance in = {.ip = "10.7.0.1", .port = 7001};
  nc_tw_reply r = nc_tw_register(a, "mtls-distro", &in);
  assert_true(nc_tw_ok(&r));
  NC_TEST_WAIT(dit_hosts(b, "mtls-distro") == 1, 5000);

  /* the cluster port takes members only */
  nc_tw *tw = NULL;
  assert_int_not_equal(cluster_connect(c, 1, NULL, &tw), 0);
  nc_gcli_tls nocert = {.ca_file = g_certs.ca_cert};
  assert_int_not_equal(cluster_connect(c, 1, &nocert, &tw), 0);
  nc_gcli_tls foreign = {.ca_file = g_certs.ca_cert, .cert_file = g_certs.other_cert,
                         .key_file = g_certs.other_key};
  assert_int_not_equal(cluster_connect(c, 1, &foreign, &tw), 0);
  long long failed = nc_tcluster_metric(c, 1, "nacosd_tls_handshakes_total{result=\"failed\"}");
  assert_true(failed >= 2);
  /* the peers' own links are TLS handshakes that succeeded */
  assert_true(nc_tcluster_metric(c, 1, "nacosd_tls_handshakes_total{result=\"ok\"}") >= 2);
  /* a certificate of the cluster CA is what lets a caller in */
  nc_gcli_tls member = {.ca_file = g_certs.ca_cert, .cert_file = g_certs.client_cert,
                        .key_file = g_certs.client_key};
  assert_int_equal(cluster_connect(c, 1, &member, &tw), 0);
  nc_tw_close(tw);
  /* and the SDK port stays plain text (no --tls-cert) */
  nc_tw_close(a);
  nc_tw_close(b);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

/* Node 2 holds a certificate of another CA (and trusts only that CA): it
 * can neither reach nor be reached by the others. */
static void per_node_certs(void *ud, const nc_tcluster *c, int index, nc_targv *av) {
  cit_members_args(NULL, c, index, av);
  (void)ud;
  int odd = index == 2;
  nc_targv_add(av, "--cluster-tls-ca");
  nc_targv_add(av, odd ? g_certs.other_ca_cert : g_certs.ca_cert);
  nc_targv_add(av, "--cluster-tls-cert");
  nc_targv_add(av, odd ? g_certs.other_cert : g_certs.server_cert);
  nc_targv_add(av, "--cluster-tls-key");
  nc_targv_add(av, odd ? g_certs.other_key : g_certs.server_key);
}

static void test_member_of_another_ca_kept_out(void **state) {
  (void)state;
  nc_tcluster_opts o = {.nodes = 3, .args_fn = per_node_certs, .same_host = 1};
  nc_tcluster *c = NULL;
  assert_int_equal(nc_tcluster_start(&o, &c), 0);
  /* 0 and 1 see each other UP, and 2 not UP */
  NC_TEST_WAIT(cit_is(c, 0, 1, "UP") && cit_is(c, 1, 0, "UP"), 20000);
  NC_TEST_WAIT(!cit_is(c, 0, 2, "UP") && !cit_is(c, 1, 2, "UP"), 20000);
  /* it stays out: a few report rounds later still not UP */
  cit_sleep_ms(2500);
  assert_false(cit_is(c, 0, 2, "UP"));
  assert_false(cit_is(c, 2, 0, "UP"));
  assert_true(nc_tcluster_metric(c, 0, "nacosd_tls_handshakes_total{result=\"failed\"}") >= 1);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  if (!nc_test_tls_available()) {
    fprintf(stderr, "skipped: needs the openssl command\n");
    return 0;
  }
  nc_grpc_init();
  if (nc_test_tls_make(&g_certs) != 0 || nc_gcli_env_new(1, &g_env) != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_members_form_over_mutual_tls),
      cmocka_unit_test(test_member_of_another_ca_kept_out),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_gcli_env_free(g_env);
  nc_test_tls_free(&g_certs);
  nc_grpc_shutdown();
  return rc;
}
