/* The nghttp2 client over TLS (common/gcli/nc_h2_tls.c): an OpenSSL server
 * (tls_test_util.h) in front of the C-core echo server (h2_client_util.h)
 * carries gRPC over TLS. A unary call and the stream work, with ALPN h2
 * offered; a server certificate from another CA, or one that does not carry
 * the name asked for, fails the connection with the verification reason;
 * a server that requires a client certificate gets the one configured;
 * a silent server hits the handshake timeout; TLS options that cannot be
 * used fail nc_gcli_new. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc_client.h"

#include "h2_client_util.h"
#include "tls_test_util.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tt_certs g_certs;
static int g_have_certs;

#define NEED_CERTS()                                                                               \
  do {                                                                                             \
    if (!g_have_certs) {                                                                           \
      skip();                                                                                      \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

/* A unary call that must fail; returns the client's reason. */
static void expect_refused(nc_gcli *c, char *why, size_t cap) {
  uint8_t *resp = NULL;
  size_t len = 0;
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"x", 1, 5000, &resp, &len), NC_EUNAVAIL);
  assert_null(resp);
  nc_gcli_last_error(c, why, cap);
}

/* ---- 1. the data path --------------------------------------------------- */

static void test_unary_and_stream_over_tls(void **state) {
  fixture *f = *state;
  NEED_CERTS();
  echo_srv *e = echo_start();
  tt_srv *s = tt_srv_start(g_certs.srv_cert, g_certs.srv_key, NULL, e->port, NULL);
  nc_gcli_tls tls = {.ca_file = g_certs.ca};
  nc_gcli_opts o = {.tls = &tls};
  nc_gcli *c = client_at(f->env, "127.0.0.1", s->port, &o);
  char why[256] = "x";
  nc_gcli_last_error(c, why, sizeof(why));
  assert_string_equal(why, ""); /* nothing has gone wrong */
  assert_echo(c, "hello over tls");
  char *large = malloc(100001); /* several TLS records each way */
  assert_non_null(large);
  for (int i = 0; i < 100000; i++)
    large[i] = (char)('a' + i % 26);
  large[100000] = 0;
  assert_echo(c, large);
  free(large);
  assert_int_equal(tt_get(s, &s->alpn_h2), 1);
  char sni[80];
  tt_get_str(s, s->sni, sni, sizeof(sni));
  assert_string_equal(sni, ""); /* no SNI for an IP address */

  waiter w;
  w_init(&w);
  assert_int_equal(nc_gcli_stream_open(c, &w_cbs, &w), 0);
  for (int i = 0; i < 50; i++)
    assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)"m", 1), 0);
  assert_int_equal(w_wait(&w, &w.n, 50, 5000), 50);
  assert_echo(c, "unary beside the stream");
  cli_free(c);
  assert_int_equal(w_get(&w, &w.closed), 0); /* suppressed: the owner closed it */
  w_destroy(&w);
  assert_int_equal(tt_get(s, &s->handshakes), 1); /* one connection for all of it */
  tt_srv_stop(s);
  echo_stop(e);
}

/* A host name is verified against the DNS SANs and sent as SNI. */
static void test_hostname_verified_and_sent_as_sni(void **state) {
  fixture *f = *state;
  NEED_CERTS();
  echo_srv *e = echo_start();
  tt_srv *s = tt_srv_start(g_certs.srv_cert, g_certs.srv_key, NULL, e->port, NULL);
  nc_gcli_tls tls = {.ca_file = g_certs.ca};
  nc_gcli_opts o = {.tls = &tls};
  nc_gcli *c = client_at(f->env, "localhost", s->port, &o);
  assert_echo(c, "by name");
  cli_free(c);
  char sni[80];
  tt_get_str(s, s->sni, sni, sizeof(sni));
  assert_string_equal(sni, "localhost");
  /* server_name replaces the target's host for both */
  tls.server_name = "localhost";
  c = client_at(f->env, "127.0.0.1", s->port, &o);
  assert_echo(c, "named");
  cli_free(c);
  tt_get_str(s, s->sni, sni, sizeof(sni));
  assert_string_equal(sni, "localhost");
  tt_srv_stop(s);
  echo_stop(e);
}

/* ---- 2. refusals -------------------------------------------------------- */

static void test_wrong_ca_fails_verification(void **state) {
  fixture *f = *state;
  NEED_CERTS();
  echo_srv *e = echo_start();
  tt_srv *s = tt_srv_start(g_certs.srv_cert, g_certs.srv_key, NULL, e->port, NULL);
  nc_gcli_tls tls = {.ca_file = g_certs.other_ca};
  nc_gcli_opts o = {.tls = &tls};
  nc_gcli *c = client_at(f->env, "127.0.0.1", s->port, &o);
  char why[256];
  long long t0 = now_ms();
  expect_refused(c, why, sizeof(why));
  assert_true(now_ms() - t0 < 2000); /* refused at once, not timed out */
  assert_non_null(strstr(why, "TLS: certificate verify failed: "));
  assert_non_null(strstr(why, "local issuer certificate"));
  cli_free(c);
  assert_int_equal(atomic_load(&e->n_unary), 0); /* nothing reached the server */
  /* the system trust store does not know the test CA either */
  tls.ca_file = NULL;
  c = client_at(f->env, "127.0.0.1", s->port, &o);
  expect_refused(c, why, sizeof(why));
  assert_non_null(strstr(why, "TLS: certificate verify failed: "));
  cli_free(c);
  tt_srv_stop(s);
  echo_stop(e);
}

static void test_name_mismatch_fails_verification(void **state) {
  fixture *f = *state;
  NEED_CERTS();
  echo_srv *e = echo_start();
  tt_srv *s = tt_srv_start(g_certs.srv_cert, g_certs.srv_key, NULL, e->port, NULL);
  nc_gcli_tls tls = {.ca_file = g_certs.ca, .server_name = "nacos.example.com"};
  nc_gcli_opts o = {.tls = &tls};
  char why[256];
  nc_gcli *c = client_at(f->env, "127.0.0.1", s->port, &o);
  expect_refused(c, why, sizeof(why));
  assert_string_equal(why, "TLS: certificate verify failed: hostname mismatch");
  cli_free(c);
  /* an address the certificate does not list (its CN does not count) */
  tls.server_name = "10.1.2.3";
  c = client_at(f->env, "127.0.0.1", s->port, &o);
  expect_refused(c, why, sizeof(why));
  assert_string_equal(why, "TLS: certificate verify failed: IP address mismatch");
  cli_free(c);
  tls.server_name = "tt-server"; /* the CN, not a SAN: refused */
  c = client_at(f->env, "127.0.0.1", s->port, &o);
  expect_refused(c, why, sizeof(why));
  assert_string_equal(why, "TLS: certificate verify failed: hostname mismatch");
  cli_free(c);
  assert_int_equal(atomic_load(&e->n_unary), 0);
  tt_srv_stop(s);
  echo_stop(e);
}

static void test_client_certificate_presented_when_required(void **state) {
  fixture *f = *state;
  NEED_CERTS();
  echo_srv *e = echo_start();
  tt_srv *s = tt_srv_start(g_certs.srv_cert, g_certs.srv_key, g_certs.ca, e->port, NULL);
  /* without one the server refuses (TLS 1.3: after the client's side of
   * the handshake is done, so the reason comes with the first read) */
  nc_gcli_tls tls = {.ca_file = g_certs.ca};
  nc_gcli_opts o = {.tls = &tls};
  char why[256];
  nc_gcli *c = client_at(f->env, "127.0.0.1", s->port, &o);
  expect_refused(c, why, sizeof(why));
  assert_non_null(strstr(why, "TLS: "));
  assert_non_null(strstr(why, "certificate required"));
  cli_free(c);
  assert_int_equal(atomic_load(&e->n_unary), 0);
  /* with one it is presented and the calls go through */
  tls.cert_file = g_certs.cli_cert;
  tls.key_file = g_certs.cli_key;
  c = client_at(f->env, "127.0.0.1", s->port, &o);
  assert_echo(c, "mutual");
  cli_free(c);
  char cn[80];
  tt_get_str(s, s->peer_cn, cn, sizeof(cn));
  assert_string_equal(cn, "tt-client");
  tt_srv_stop(s);
  echo_stop(e);
}

/* A server that accepts the connection and never answers the ClientHello. */
static void test_handshake_times_out(void **state) {
  fixture *f = *state;
  NEED_CERTS();
  int port, fd = bind_loopback(&port, 1); /* the kernel accepts; nobody reads */
  nc_gcli_tls tls = {.ca_file = g_certs.ca};
  nc_gcli_opts o = {.tls = &tls, .connect_timeout_ms = 300};
  nc_gcli *c = client_at(f->env, "127.0.0.1", port, &o);
  char why[256];
  long long t0 = now_ms();
  expect_refused(c, why, sizeof(why));
  long long took = now_ms() - t0;
  assert_true(took >= 250 && took < 3000);
  assert_string_equal(why, "TLS: handshake timed out");
  cli_free(c);
  close(fd);
}

/* TLS to a cleartext gRPC port: a TLS reason, not a hang. */
static void test_tls_to_a_cleartext_server_fails(void **state) {
  fixture *f = *state;
  NEED_CERTS();
  echo_srv *e = echo_start();
  nc_gcli_tls tls = {.ca_file = g_certs.ca};
  nc_gcli_opts o = {.tls = &tls};
  nc_gcli *c = client_at(f->env, "127.0.0.1", e->port, &o);
  char why[256];
  expect_refused(c, why, sizeof(why));
  assert_true(strncmp(why, "TLS: ", 5) == 0);
  cli_free(c);
  /* and the cleartext client still works there */
  c = client_at(f->env, "127.0.0.1", e->port, NULL);
  assert_echo(c, "plain");
  cli_free(c);
  echo_stop(e);
}

static void test_unusable_tls_options_fail_new(void **state) {
  fixture *f = *state;
  NEED_CERTS();
  nc_gcli *c = NULL;
  nc_gcli_tls bad[] = {
      {.ca_file = "/nonexistent/ca.pem"},
      {.ca_file = g_certs.srv_key}, /* not a certificate */
      {.ca_file = g_certs.ca, .cert_file = g_certs.cli_cert}, /* no key */
      {.ca_file = g_certs.ca, .key_file = g_certs.cli_key},   /* no certificate */
      {.ca_file = g_certs.ca, .cert_file = g_certs.cli_cert, .key_file = g_certs.srv_key},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    nc_gcli_opts o = {.tls = &bad[i]};
    assert_int_equal(nc_gcli_new(f->env, "127.0.0.1:1", &o, &c), NC_EINVAL);
    assert_null(c);
  }
}

/* Clients share the env's context while the files stay the same; a CA file
 * rewritten in place is read again by the next client. */
static void test_context_reused_until_the_file_changes(void **state) {
  fixture *f = *state;
  NEED_CERTS();
  echo_srv *e = echo_start();
  tt_srv *s = tt_srv_start(g_certs.srv_cert, g_certs.srv_key, NULL, e->port, NULL);
  char ca[128], cmd[400], why[256];
  snprintf(ca, sizeof(ca), "%s/rotating-ca.crt", g_certs.dir);
  snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", g_certs.other_ca, ca);
  assert_int_equal(system(cmd), 0);
  nc_gcli_tls tls = {.ca_file = ca};
  nc_gcli_opts o = {.tls = &tls};
  for (int i = 0; i < 2; i++) { /* the second one uses the cached context */
    nc_gcli *c = client_at(f->env, "127.0.0.1", s->port, &o);
    expect_refused(c, why, sizeof(why));
    assert_non_null(strstr(why, "certificate verify failed"));
    cli_free(c);
  }
  usleep(20 * 1000); /* a distinct mtime even on coarse clocks */
  snprintf(cmd, sizeof(cmd), "cat '%s' > '%s'", g_certs.ca, ca); /* same inode, new content */
  assert_int_equal(system(cmd), 0);
  nc_gcli *c = client_at(f->env, "127.0.0.1", s->port, &o);
  assert_echo(c, "the new CA is trusted");
  cli_free(c);
  tt_srv_stop(s);
  echo_stop(e);
}

/* ---- 3. against gRPC's own TLS (the C core as the server) ---------------- */

/* A unary echo server on the gRPC C core with SSL server credentials, on
 * its own completion-queue thread: the TLS and HTTP/2 details (ALPN,
 * :scheme, SETTINGS) as gRPC implementations expect them, which the relay
 * above does not judge. */
typedef struct gpeer {
  grpc_server *srv;
  grpc_completion_queue *cq;
  pthread_t thr;
  int port;
  atomic_int n_unary;
  int shutdown_tag;
} gpeer;

typedef struct gcall {
  gpeer *p;
  int stage; /* 0 waiting for a call, 1 reading its message, 2 replying */
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
  grpc_byte_buffer *in;
  int cancelled;
} gcall;

static void gpeer_request(gpeer *p) {
  gcall *c = calloc(1, sizeof(*c));
  assert_non_null(c);
  c->p = p;
  grpc_call_details_init(&c->details);
  grpc_metadata_array_init(&c->md);
  grpc_server_request_call(p->srv, &c->call, &c->details, &c->md, p->cq, p->cq, c);
}

static void gcall_free(gcall *c) {
  if (c->call)
    grpc_call_unref(c->call);
  if (c->in)
    grpc_byte_buffer_destroy(c->in);
  grpc_call_details_destroy(&c->details);
  grpc_metadata_array_destroy(&c->md);
  free(c);
}

static void gcall_step(gcall *c, int ok) {
  grpc_op ops[3];
  memset(ops, 0, sizeof(ops));
  if (!ok) {
    gcall_free(c);
    return;
  }
  if (c->stage == 0) {
    gpeer_request(c->p); /* the next call */
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_MESSAGE;
    ops[1].data.recv_message.recv_message = &c->in;
    c->stage = 1;
    if (grpc_call_start_batch(c->call, ops, 2, c, NULL) != GRPC_CALL_OK)
      gcall_free(c);
    return;
  }
  if (c->stage == 1) {
    atomic_fetch_add(&c->p->n_unary, 1);
    ops[0].op = GRPC_OP_SEND_MESSAGE;
    ops[0].data.send_message.send_message = c->in; /* echo */
    ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[1].data.send_status_from_server.status = GRPC_STATUS_OK;
    ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[2].data.recv_close_on_server.cancelled = &c->cancelled;
    c->stage = 2;
    if (grpc_call_start_batch(c->call, c->in ? ops : ops + 1, c->in ? 3 : 2, c, NULL) !=
        GRPC_CALL_OK)
      gcall_free(c);
    return;
  }
  gcall_free(c);
}

static void *gpeer_thread(void *arg) {
  gpeer *p = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(p->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      return NULL;
    if (ev.tag == &p->shutdown_tag) {
      grpc_completion_queue_shutdown(p->cq);
      continue;
    }
    gcall_step(ev.tag, ev.success);
  }
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *buf = calloc(1, 65536);
  assert_non_null(buf);
  size_t n = fread(buf, 1, 65535, f);
  fclose(f);
  assert_true(n > 0);
  return buf;
}

static gpeer *gpeer_start(void) {
  gpeer *p = calloc(1, sizeof(*p));
  assert_non_null(p);
  char *cert = slurp(g_certs.srv_cert), *key = slurp(g_certs.srv_key);
  grpc_ssl_pem_key_cert_pair pair = {key, cert};
  grpc_server_credentials *cr = grpc_ssl_server_credentials_create_ex(
      NULL, &pair, 1, GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
  assert_non_null(cr);
  p->srv = grpc_server_create(NULL, NULL);
  p->cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(p->srv, p->cq, NULL);
  p->port = grpc_server_add_http2_port(p->srv, "127.0.0.1:0", cr);
  grpc_server_credentials_release(cr);
  free(cert);
  free(key);
  assert_true(p->port > 0);
  grpc_server_start(p->srv);
  gpeer_request(p);
  assert_int_equal(pthread_create(&p->thr, NULL, gpeer_thread, p), 0);
  return p;
}

static void gpeer_stop(gpeer *p) {
  grpc_server_shutdown_and_notify(p->srv, p->cq, &p->shutdown_tag);
  grpc_server_cancel_all_calls(p->srv);
  pthread_join(p->thr, NULL);
  grpc_server_destroy(p->srv);
  grpc_completion_queue_destroy(p->cq);
  free(p);
}

static void test_unary_against_grpc_core_tls_server(void **state) {
  fixture *f = *state;
  NEED_CERTS();
  gpeer *p = gpeer_start();
  nc_gcli_tls tls = {.ca_file = g_certs.ca};
  nc_gcli_opts o = {.tls = &tls};
  nc_gcli *c = client_at(f->env, "127.0.0.1", p->port, &o);
  assert_echo(c, "to grpc's own TLS");
  assert_echo(c, "and again on the same connection");
  cli_free(c);
  assert_int_equal(atomic_load(&p->n_unary), 2);
  /* the same refusal there as anywhere */
  tls.ca_file = g_certs.other_ca;
  c = client_at(f->env, "localhost", p->port, &o);
  char why[256];
  expect_refused(c, why, sizeof(why));
  assert_non_null(strstr(why, "TLS: certificate verify failed: "));
  cli_free(c);
  assert_int_equal(atomic_load(&p->n_unary), 2);
  gpeer_stop(p);
}

/* ---- 4. what TLS costs (printed, for the record) ------------------------ */

static double calls_per_s(nc_gcli *c, int n) {
  long long t0 = now_ms();
  for (int i = 0; i < n; i++)
    assert_echo(c, "ping-ping-ping-ping-ping-ping-ping-ping");
  long long ms = now_ms() - t0;
  return ms > 0 ? n * 1000.0 / (double)ms : (double)n * 1000.0;
}

static void test_tls_round_trips_measured(void **state) {
  fixture *f = *state;
  NEED_CERTS();
  echo_srv *e = echo_start();
  tt_srv *s = tt_srv_start(g_certs.srv_cert, g_certs.srv_key, NULL, e->port, NULL);
  nc_gcli_tls tls = {.ca_file = g_certs.ca};
  nc_gcli_opts o = {.tls = &tls};
  long long t0 = now_ms();
  nc_gcli *c = client_at(f->env, "127.0.0.1", s->port, &o);
  assert_echo(c, "first");
  long long first_ms = now_ms() - t0;
  double tls_rate = calls_per_s(c, 2000);
  cli_free(c);
  t0 = now_ms();
  c = client_at(f->env, "127.0.0.1", e->port, NULL);
  assert_echo(c, "first");
  long long plain_first_ms = now_ms() - t0;
  double plain_rate = calls_per_s(c, 2000);
  cli_free(c);
  /* the TLS figures include the test server's extra hop (it relays to the
   * cleartext echo server): an upper bound on TLS's own cost */
  printf("connect + first call: TLS %lld ms, plain %lld ms; sequential unary calls/s: TLS "
         "(relayed) %.0f, plain %.0f\n",
         first_ms, plain_first_ms, tls_rate, plain_rate);
  assert_true(tls_rate > 0 && plain_rate > 0);
  tt_srv_stop(s);
  echo_stop(e);
}

static int group_setup(void **state) {
  (void)state;
  g_have_certs = tt_certs_make(&g_certs) == 0;
  if (!g_have_certs)
    fprintf(stderr, "openssl failed (see %s/openssl.log): TLS tests skipped\n", g_certs.dir);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  tt_certs_free(&g_certs);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_unary_and_stream_over_tls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hostname_verified_and_sent_as_sni, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_ca_fails_verification, setup, teardown),
      cmocka_unit_test_setup_teardown(test_name_mismatch_fails_verification, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_certificate_presented_when_required, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_handshake_times_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tls_to_a_cleartext_server_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unusable_tls_options_fail_new, setup, teardown),
      cmocka_unit_test_setup_teardown(test_context_reused_until_the_file_changes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_unary_against_grpc_core_tls_server, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tls_round_trips_measured, setup, teardown),
  };
  nc_grpc_init();
  nc_test_main_init();
  int rc = _cmocka_run_group_tests("test_h2_tls", tests, sizeof(tests) / sizeof(tests[0]),
                                   group_setup, group_teardown);
  nc_grpc_shutdown();
  return rc;
}
