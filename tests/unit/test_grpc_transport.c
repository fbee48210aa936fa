/* nc_gsrv + nc_gcli + nc_wc over loopback, against an in-process echo owner
 * (and a tiny fake Nacos owner for the wire client): the data path, unary
 * and streamed, the size cap, and the wire client's handshake. No Nacos
 * server logic. test_grpc_transport_ends.c has how streams and connections
 * end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_grpc_server.h"
#include "nc_json.h"
#include "nc_testwait.h"
#include "nc_wire_client.h"

#include "transport_test_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- tests -------------------------------------------------------------- */

static void test_unary_echo(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  uint8_t *resp = NULL;
  size_t len = 0;
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"hello", 5, 3000, &resp, &len), 0);
  assert_int_equal(len, 5);
  assert_memory_equal(resp, "hello", 5);
  free(resp);
  /* An empty message is a valid message. */
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"", 0, 3000, &resp, &len), 0);
  assert_int_equal(len, 0);
  free(resp);
  nc_gcli_free(c);
  owner_stop(o);
}

static void test_unary_async_many_in_flight(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  counter k = {.ok = 0};
  pthread_mutex_init(&k.mu, NULL);
  pthread_cond_init(&k.cond, NULL);
  for (int i = 0; i < 500; i++)
    assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"ping", 4, 5000, count_cb, &k), 0);
  pthread_mutex_lock(&k.mu);
  while (k.ok + k.failed < 500)
    pthread_cond_wait(&k.cond, &k.mu);
  pthread_mutex_unlock(&k.mu);
  assert_int_equal(k.ok, 500);
  nc_gcli_free(c);
  pthread_mutex_destroy(&k.mu);
  pthread_cond_destroy(&k.cond);
  owner_stop(o);
}

static void test_stream_echo_both_directions(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  cstate s;
  cs_open(&s, c);
  assert_int_equal(nc_gcli_stream_open(c, &c_cbs, &s), NC_ESTATE); /* one per client */
  /* client -> server -> echoed back */
  assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)"0", 1), 0);
  assert_int_equal(cs_wait(&s, &s.n_msgs, 1, 3000), 1);
  char last[64];
  assert_string_equal(cs_last(&s, last, sizeof(last)), "0");
  /* server-initiated push */
  assert_int_equal(owner_wait(o, &o->n_opened, 1, 3000), 1);
  assert_int_equal(nc_gsrv_stream_send(o->srv, o->opened[0], (const uint8_t *)"1", 1), 0);
  assert_int_equal(cs_wait(&s, &s.n_msgs, 2, 3000), 2);
  assert_string_equal(cs_last(&s, last, sizeof(last)), "1");
  assert_int_equal(s.in_order, 1);
  nc_gcli_free(c);
  assert_int_equal(s.closed, 0); /* suppressed: the owner closed on purpose */
  cs_destroy(&s);
  owner_stop(o);
}

static void test_stream_many_messages_in_order(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  cstate s;
  cs_open(&s, c);
  enum { N = 3000 };
  char buf[16];
  for (int i = 0; i < N; i++) { /* client sends, server echoes */
    int n = snprintf(buf, sizeof(buf), "%d", i);
    assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)buf, (size_t)n), 0);
  }
  assert_int_equal(cs_wait(&s, &s.n_msgs, N, 20000), N);
  assert_int_equal(owner_wait(o, &o->n_stream_msgs, N, 1000), N);
  assert_int_equal(s.in_order, 1);
  /* server pushes a burst; the per-stream queue keeps them in order. */
  assert_int_equal(owner_wait(o, &o->n_opened, 1, 1000), 1);
  int sent = 0;
  for (int i = N; i < 2 * N; i++) {
    int n = snprintf(buf, sizeof(buf), "%d", i);
    int rc = nc_gsrv_stream_send(o->srv, o->opened[0], (const uint8_t *)buf, (size_t)n);
    while (rc == NC_EBUSY) { /* bounded queue: back off and retry */
      usleep(1000);
      rc = nc_gsrv_stream_send(o->srv, o->opened[0], (const uint8_t *)buf, (size_t)n);
    }
    assert_int_equal(rc, 0);
    sent++;
  }
  assert_int_equal(cs_wait(&s, &s.n_msgs, N + sent, 20000), N + sent);
  assert_int_equal(s.in_order, 1);
  nc_gcli_free(c);
  cs_destroy(&s);
  owner_stop(o);
}

static void test_oversized_message_rejected_server_keeps_serving(void **state) {
  fixture *f = *state;
  owner *o = owner_start(64 * 1024, 0);
  nc_gcli *c = client_for(f->env, o->port);
  size_t big = 200 * 1024;
  uint8_t *buf = calloc(1, big);
  uint8_t *resp = NULL;
  size_t len = 0;
  int rc = nc_gcli_unary(c, buf, big, 3000, &resp, &len);
  assert_int_not_equal(rc, 0);
  assert_null(resp);
  /* the stream variant ends that stream, not the server */
  cstate s;
  cs_open(&s, c);
  assert_int_equal(nc_gcli_stream_send(c, buf, big), 0);
  assert_int_equal(cs_wait(&s, &s.closed, 1, 3000), 1);
  assert_int_not_equal(s.close_status, 0);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  /* still serving, on this and on a fresh connection */
  assert_int_equal(nc_gcli_unary(c, buf, 1000, 3000, &resp, &len), 0);
  assert_int_equal(len, 1000);
  free(resp);
  nc_gcli *c2 = client_for(f->env, o->port);
  assert_int_equal(nc_gcli_unary(c2, (const uint8_t *)"ok", 2, 3000, &resp, &len), 0);
  free(resp);
  nc_gcli_free(c2);
  nc_gcli_free(c);
  cs_destroy(&s);
  free(buf);
  owner_stop(o);
}

/* ---- wire client against a fake Nacos owner ------------------------------ */

typedef struct wstate {
  pthread_mutex_t mu;
  int pushes;
  char push_type[64];
  char push_rid[32];
} wstate;

static void w_on_push(void *ud, nc_wc *wc, const nc_msg *push) {
  (void)wc;
  wstate *w = ud;
  pthread_mutex_lock(&w->mu);
  w->pushes++;
  snprintf(w->push_type, sizeof(w->push_type), "%s", push->type);
  snprintf(w->push_rid, sizeof(w->push_rid), "%s", nc_json_str(push->body, "requestId", ""));
  pthread_mutex_unlock(&w->mu);
}

static void test_wire_client_handshake_request_and_push_ack(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 1);
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", o->port);
  wstate w = {.pushes = 0};
  pthread_mutex_init(&w.mu, NULL);
  nc_wc_opts wo = {.target = target, .module = "naming", .app_name = "demo",
                   .client_ip = "10.1.2.3"};
  nc_wc *wc = NULL;
  assert_int_equal(nc_wc_connect(f->env, &wo, w_on_push, NULL, &w, &wc), 0);
  assert_string_equal(nc_wc_connection_id(wc), "1_127.0.0.1_1");
  /* connect returned only after the setup was registered */
  pthread_mutex_lock(&o->mu);
  assert_int_equal(o->setup_seen, 1);
  assert_string_equal(o->setup_module, "naming");
  assert_string_equal(o->setup_app, "demo");
  assert_string_equal(o->setup_ip, "10.1.2.3");
  assert_int_equal(o->setup_has_tenant, 0);
  pthread_mutex_unlock(&o->mu);

  cJSON *body = cJSON_CreateObject();
  nc_msg *resp = NULL;
  assert_int_equal(nc_wc_request(wc, "HealthCheckRequest", body, 3000, &resp), 0);
  assert_string_equal(resp->type, "HealthCheckResponse");
  assert_int_equal(nc_json_int(resp->body, "resultCode", 0), 200);
  nc_msg_free(resp);
  cJSON_Delete(body);

  /* a push, acked automatically with the matching type and requestId */
  uint8_t *buf = NULL;
  size_t len = 0;
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "requestId", "7");
  cJSON_AddStringToObject(p, "module", "naming");
  assert_int_equal(nc_payload_encode_json("NotifySubscriberRequest", "", p, &buf, &len), 0);
  cJSON_Delete(p);
  assert_int_equal(owner_wait(o, &o->n_opened, 1, 1000), 1);
  pthread_mutex_lock(&o->mu);
  int before = o->n_stream_msgs;
  uint64_t sid = o->opened[0];
  pthread_mutex_unlock(&o->mu);
  assert_int_equal(nc_gsrv_stream_send(o->srv, sid, buf, len), 0);
  free(buf);
  assert_true(owner_wait(o, &o->n_stream_msgs, before + 1, 3000) >= before + 1);
  pthread_mutex_lock(&o->mu);
  assert_string_equal(o->ack_type, "NotifySubscriberResponse");
  assert_string_equal(o->ack_rid, "7");
  assert_int_equal(o->ack_code, 200);
  pthread_mutex_unlock(&o->mu);
  pthread_mutex_lock(&w.mu);
  assert_int_equal(w.pushes, 1);
  assert_string_equal(w.push_type, "NotifySubscriberRequest");
  assert_string_equal(w.push_rid, "7");
  pthread_mutex_unlock(&w.mu);

  nc_wc_close(wc);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  pthread_mutex_destroy(&w.mu);
  owner_stop(o);
}

static void test_wire_client_connect_fails_cleanly_without_server(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 1);
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", o->port);
  owner_stop(o); /* nothing listens on that port now */
  nc_wc_opts wo = {.target = target, .timeout_ms = 500};
  nc_wc *wc = NULL;
  long long t0 = now_ms();
  int rc = nc_wc_connect(f->env, &wo, NULL, NULL, NULL, &wc);
  assert_int_not_equal(rc, 0);
  assert_null(wc);
  assert_true(now_ms() - t0 < 3000);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unary_echo),
      cmocka_unit_test(test_unary_async_many_in_flight),
      cmocka_unit_test(test_stream_echo_both_directions),
      cmocka_unit_test(test_stream_many_messages_in_order),
      cmocka_unit_test(test_oversized_message_rejected_server_keeps_serving),
      cmocka_unit_test(test_wire_client_handshake_request_and_push_ack),
      cmocka_unit_test(test_wire_client_connect_fails_cleanly_without_server),
  };
  int rc = NC_TEST_RUN_GROUP(tests, setup, teardown);
  nc_grpc_shutdown();
  return rc;
}
