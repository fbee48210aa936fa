/* Integration: the real nacosd on ephemeral loopback ports, driven by the
 * repo's wire client (nc_wc) and raw transport client (nc_gcli): handshake,
 * 301/302/400/502 answers, register -> push -> ack, deregister, merge
 * window, kill -9 of a client, retry until acked, idle probing. */
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_json.h"
#include "nc_payload.h"
#include "nc_testfx.h"
#include "nc_testproc.h"
#include "nc_testwait.h"
#include "nc_testwire.h"
#include "nc_wire_client.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- fixture ---- */

static int start_fx(void **state, const char *const *args) {
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(args, &f);
  *state = f;
  return rc == 0 ? 0 : -1;
}

static int teardown(void **state) {
  return nc_tfx_stop(*state) == 0 ? 0 : -1; /* a leak or crash of nacosd fails the test */
}

static int setup_fast(void **state) {
  const char *args[] = {"--push-merge-ms", "50", NULL};
  return start_fx(state, args);
}
/* default timings, pushes written from the sender thread */
static int setup_default(void **state) {
  const char *args[] = {"--send-thread=true", NULL};
  return start_fx(state, args);
}
static int setup_retry(void **state) {
  const char *args[] = {"--push-merge-ms", "0",   "--push-timeout-ms",  "300",
                        "--push-retry-ms", "200", "--send-thread=true", NULL};
  return start_fx(state, args);
}
static int setup_idle(void **state) {
  const char *args[] = {"--idle-probe-ms", "500", "--probe-timeout-ms", "500", NULL};
  return start_fx(state, args);
}

static nc_tw *connect_wc(nc_tfx *f, int no_auto_ack) {
  nc_tw_opts o = {.no_auto_ack = no_auto_ack};
  nc_tw *tw = nc_tfx_connect(f, &o);
  assert_non_null(tw);
  return tw;
}

/* ---- request helpers ---- */

#define NOTIFY "NotifySubscriberRequest"

static void reg(nc_tw *tw, const char *svc, const char *ip, int port, double w) {
  nc_tw_instance in = {.ip = ip, .port = port, .weight = w};
  nc_tw_expect_ok(nc_tw_register(tw, svc, &in), "InstanceResponse");
}

static void subscribe(nc_tw *tw, const char *svc, int sub) {
  nc_tw_service s;
  nc_tw_expect_ok(nc_tw_subscribe(tw, svc, sub, &s), "SubscribeServiceResponse");
  assert_non_null(s.info);
  nc_tw_service_free(&s);
}

/* Number of hosts a ServiceQueryRequest returns. */
static int query_hosts(nc_tw *tw, const char *svc) {
  nc_tw_service s;
  nc_tw_reply r = nc_tw_query(tw, svc, &s);
  assert_string_equal(r.type, "QueryServiceResponse");
  int n = s.nhosts;
  nc_tw_service_free(&s);
  assert_true(n >= 0);
  return n;
}

/* Waits for the want-th push of svc; returns the count, the newest push's
 * host count into *hosts and (when set) its first weight and lastRefTime. */
static int wait_notify(nc_tw *tw, const char *svc, int want, int ms, int *hosts, double *w0,
                       long long *ref) {
  nc_tw_service s;
  int n = nc_tw_wait_notify(tw, svc, want, ms, &s);
  if (hosts)
    *hosts = s.nhosts;
  if (w0)
    *w0 = s.nhosts > 0 ? s.hosts[0].weight : -1;
  if (ref)
    *ref = s.last_ref_time;
  nc_tw_service_free(&s);
  return n;
}

/* A counter from /metrics (it must be there). */
static long long metric(nc_tfx *f, const char *name) {
  long long v = nc_tfx_metric(f, name);
  assert_true(v >= 0);
  return v;
}

/* ---- raw transport: handshake by hand so tests can send any bytes ---- */

static void noop_msg(void *ud, const uint8_t *d, size_t l) {
  (void)ud;
  (void)d;
  (void)l;
}
static void noop_closed(void *ud, int st) {
  (void)ud;
  (void)st;
}

static nc_msg *raw_call(nc_gcli *c, const uint8_t *data, size_t len) {
  uint8_t *resp = NULL;
  size_t rl = 0;
  assert_int_equal(nc_gcli_unary(c, data, len, 5000, &resp, &rl), 0);
  nc_msg *m = NULL;
  assert_int_equal(nc_payload_decode(resp, rl, &m), 0);
  free(resp);
  return m;
}

static nc_msg *raw_json_call(nc_gcli *c, const char *type, const char *json) {
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(
      nc_payload_encode(type, "127.0.0.1", NULL, 0, json, json ? strlen(json) : 0, &buf, &len), 0);
  nc_msg *m = raw_call(c, buf, len);
  free(buf);
  return m;
}

/* 1 when a HealthCheckRequest on the raw transport is answered as such. */
static int health_ok(nc_gcli *c) {
  nc_msg *m = raw_json_call(c, "HealthCheckRequest", "{}");
  int ok = strcmp(m->type, "HealthCheckResponse") == 0;
  nc_msg_free(m);
  return ok;
}

static void expect_error(nc_msg *m, int code) {
  assert_string_equal(m->type, "ErrorResponse");
  assert_int_equal(nc_json_int(m->body, "errorCode", 0), code);
  assert_false(nc_json_bool(m->body, "success", 1));
  nc_msg_free(m);
}

/* ---- tests ---- */

static void test_handshake_and_health_check(void **state) {
  nc_tfx *f = *state;
  nc_tw *wc = connect_wc(f, 0);
  const char *id = nc_tw_id(wc);
  /* <millis>_<ip>_<port> */
  long long ms = 0;
  int port = 0;
  char ip[64] = "";
  assert_int_equal(sscanf(id, "%lld_%63[^_]_%d", &ms, ip, &port), 3);
  assert_true(ms > 1600000000000LL);
  assert_string_equal(ip, "127.0.0.1");
  assert_true(port > 0);
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "module", "internal");
  nc_tw_expect_ok(nc_tw_call_reply(wc, "HealthCheckRequest", b), "HealthCheckResponse");
  assert_int_equal(metric(f, "nacosd_connections"), 1);
  nc_tfx_close(f, wc);
  /* the stream ended: the server forgets the connection at once */
  NC_TEST_WAIT(metric(f, "nacosd_connections") == 0, 1000);
}

static void test_unregistered_call_gets_301_unknown_type_302(void **state) {
  nc_tfx *f = *state;
  nc_gcli *c = NULL;
  assert_int_equal(nc_gcli_new(f->env, f->srv->target, NULL, &c), 0);
  nc_msg *m = raw_json_call(c, "ServerCheckRequest", "{\"headers\":{},\"module\":\"internal\"}");
  assert_string_equal(m->type, "ServerCheckResponse");
  assert_int_equal(nc_json_int(m->body, "resultCode", 0), 200);
  assert_true(strlen(nc_json_str(m->body, "connectionId", "")) > 10);
  /* as 2.3+/3.x servers (test_server_ability: the SetupAck it promises) */
  assert_true(nc_json_bool(m->body, "supportAbilityNegotiation", 0));
  nc_msg_free(m);
  /* no ConnectionSetupRequest yet */
  expect_error(raw_json_call(c, "HealthCheckRequest", "{}"), 301);
  expect_error(raw_json_call(c, "InstanceRequest", "{\"serviceName\":\"x\"}"), 301);
  /* an unknown type wins over the registration check */
  expect_error(raw_json_call(c, "NoSuchThingRequest", "{}"), 302);
  /* now set up: the same transport becomes usable */
  nc_gcli_stream_cbs cbs = {noop_msg, noop_closed};
  assert_int_equal(nc_gcli_stream_open(c, &cbs, NULL), 0);
  uint8_t *buf = NULL;
  size_t len = 0;
  const char *setup = "{\"clientVersion\":\"test\",\"labels\":{\"source\":\"sdk\",\"module\":"
                      "\"naming\"},\"module\":\"internal\",\"headers\":{}}";
  assert_int_equal(nc_payload_encode("ConnectionSetupRequest", "127.0.0.1", NULL, 0, setup,
                                     strlen(setup), &buf, &len),
                   0);
  assert_int_equal(nc_gcli_stream_send(c, buf, len), 0);
  free(buf);
  long long took;
  NC_TEST_POLL(health_ok(c), 3000, took);
  assert_true(took >= 0);
  nc_gcli_free(c);
}

static void test_malformed_input_gets_error_and_state_survives(void **state) {
  nc_tfx *f = *state;
  nc_tw *wc = connect_wc(f, 0);
  reg(wc, "svc-malformed", "10.0.0.1", 8080, 1.0);
  nc_gcli *c = NULL;
  assert_int_equal(nc_gcli_new(f->env, f->srv->target, NULL, &c), 0);
  /* bytes that are not a Payload */
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
  expect_error(raw_call(c, junk, sizeof(junk)), 502);
  /* unknown type and unregistered transport still answered in order */
  expect_error(raw_json_call(c, "BogusRequest", "{}"), 302);
  nc_gcli_free(c);
  /* on the registered connection: unknown type, then a broken JSON body
   * (sent raw on the stream as well: it must be ignored) */
  nc_msg *r = nc_tw_call(wc, "BogusRequest", NULL);
  assert_non_null(r);
  expect_error(r, 302);
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(
      nc_payload_encode("InstanceRequest", "127.0.0.1", NULL, 0, "{not json", 9, &buf, &len), 0);
  assert_int_equal(nc_wc_stream_send_raw(nc_tw_wc(wc), junk, sizeof(junk)), 0);
  assert_int_equal(nc_wc_stream_send_raw(nc_tw_wc(wc), buf, len), 0);
  free(buf);
  /* a body that is valid JSON but breaks the rules: 400, state kept */
  nc_tw_instance in = {.ip = "10.0.0.2", .port = 8080};
  cJSON *bad = nc_tw_instance_body(wc, "svc-malformed", "registerInstance", &in);
  cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(bad, "instance"), "clusterName",
                            cJSON_CreateString("bad cluster!"));
  assert_int_equal(nc_tw_call_reply(wc, "InstanceRequest", bad).error_code, 400);
  nc_tw_reply rr = nc_tw_call_reply(wc, "InstanceRequest", cJSON_CreateString("not an object"));
  assert_int_equal(rr.error_code, 400);
  /* connection and state intact */
  assert_int_equal(query_hosts(wc, "svc-malformed"), 1);
  nc_tw_expect_ok(nc_tw_call_reply(wc, "HealthCheckRequest", NULL), "HealthCheckResponse");
}

static void test_register_push_ack_deregister(void **state) {
  nc_tfx *f = *state;
  nc_tw *sub = connect_wc(f, 0);
  nc_tw *pub = connect_wc(f, 0);
  subscribe(sub, "svc-a", 1);
  int hosts = -1;
  double w0 = 0;
  long long ref0 = 0, ref = 0;
  /* the first subscription gets the current (empty) state */
  assert_int_equal(wait_notify(sub, "svc-a", 1, 3000, &hosts, NULL, &ref0), 1);
  assert_int_equal(hosts, 0);
  reg(pub, "svc-a", "10.0.0.7", 8080, 2.0);
  assert_int_equal(wait_notify(sub, "svc-a", 2, 3000, &hosts, &w0, &ref), 2);
  assert_int_equal(hosts, 1);
  assert_true(w0 == 2.0);
  assert_true(ref > ref0);
  char rid[32];
  cJSON_Delete(nc_tw_push_get(sub, NOTIFY, -1, rid, sizeof(rid)));
  assert_true(atoll(rid) > 0);
  /* acked (auto ack) */
  NC_TEST_WAIT(metric(f, "nacosd_pushes_acked_total") >= 2, 2000);
  /* query shape */
  nc_tw_service s;
  nc_tw_expect_ok(nc_tw_query(pub, "svc-a", &s), "QueryServiceResponse");
  assert_string_equal(s.name, "svc-a");
  assert_string_equal(s.group, "DEFAULT_GROUP");
  assert_int_equal(s.cache_millis, 10000);
  assert_true(nc_json_bool(s.info, "valid", 0));
  assert_int_equal(s.nhosts, 1);
  assert_string_equal(s.hosts[0].instance_id, "10.0.0.7#8080#DEFAULT#DEFAULT_GROUP@@svc-a");
  const cJSON *h0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s.info, "hosts"), 0);
  assert_string_equal(nc_json_str(h0, "serviceName", ""), "DEFAULT_GROUP@@svc-a");
  assert_int_equal(nc_json_int(h0, "instanceHeartBeatInterval", 0), 5000);
  nc_tw_service_free(&s);
  /* an InstanceRequest is connection-bound, so ephemeral whatever its
   * instance says (Nacos lists the service's kind; nacos-sdk-go sends
   * Ephemeral as the app set it) */
  nc_tw *odd = connect_wc(f, 0);
  nc_tw_instance oi = {.ip = "10.0.0.8", .port = 8080};
  cJSON *body = nc_tw_instance_body(odd, "svc-eph", "registerInstance", &oi);
  cJSON *inst = cJSON_GetObjectItemCaseSensitive(body, "instance");
  cJSON_ReplaceItemInObjectCaseSensitive(inst, "ephemeral", cJSON_CreateFalse());
  if (!cJSON_GetObjectItemCaseSensitive(inst, "ephemeral"))
    cJSON_AddFalseToObject(inst, "ephemeral");
  nc_tw_expect_ok(nc_tw_call_reply(odd, "InstanceRequest", body), "InstanceResponse");
  nc_tw_expect_ok(nc_tw_query(pub, "svc-eph", &s), "QueryServiceResponse");
  assert_int_equal(s.nhosts, 1);
  const cJSON *eh = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s.info, "hosts"), 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(eh, "ephemeral")));
  nc_tw_service_free(&s);
  /* "" and "public" are the same namespace */
  nc_tw_opts empty_ns = {.ns = ""};
  nc_tw *other = nc_tfx_connect(f, &empty_ns);
  assert_non_null(other);
  assert_int_equal(query_hosts(other, "svc-a"), 1);
  /* service list */
  long long count = 0;
  nc_tw_expect_ok(nc_tw_service_list(pub, 1, 10, &count, NULL), "ServiceListResponse");
  assert_int_equal(count, 2); /* svc-a and svc-eph */
  /* idempotent re-register: no push */
  reg(pub, "svc-a", "10.0.0.7", 8080, 2.0);
  /* deregister */
  nc_tw_instance in = {.ip = "10.0.0.7", .port = 8080};
  nc_tw_expect_ok(nc_tw_deregister(pub, "svc-a", &in), "InstanceResponse");
  assert_int_equal(wait_notify(sub, "svc-a", 3, 3000, &hosts, NULL, NULL), 3);
  assert_int_equal(hosts, 0);
  assert_int_equal(query_hosts(pub, "svc-a"), 0);
  nc_test_quiet_ms(300);
  assert_int_equal(nc_tw_push_count(sub, NOTIFY), 3);
}

/* n instances 10.1.0.<i+1>:80 in cluster c1; the last one in bad_cluster
 * when set. */
static nc_tw_reply batch(nc_tw *tw, const char *svc, int n, const char *bad_cluster) {
  nc_tw_instance in[4];
  char ips[4][32];
  for (int i = 0; i < n && i < 4; i++) {
    snprintf(ips[i], sizeof(ips[i]), "10.1.0.%d", i + 1);
    in[i] = (nc_tw_instance){
        .ip = ips[i], .port = 80, .cluster = i == n - 1 && bad_cluster ? bad_cluster : "c1"};
  }
  return nc_tw_batch_register(tw, svc, in, n);
}

static void test_batch_register_and_unsubscribe(void **state) {
  nc_tfx *f = *state;
  nc_tw *sub = connect_wc(f, 0);
  nc_tw *pub = connect_wc(f, 0);
  subscribe(sub, "svc-b", 1);
  assert_int_equal(wait_notify(sub, "svc-b", 1, 3000, NULL, NULL, NULL), 1);
  nc_tw_expect_ok(batch(pub, "svc-b", 3, NULL), "BatchInstanceResponse");
  assert_int_equal(query_hosts(pub, "svc-b"), 3);
  int hosts = -1;
  assert_int_equal(wait_notify(sub, "svc-b", 2, 3000, &hosts, NULL, NULL), 2);
  assert_int_equal(hosts, 3);
  /* a batch replaces the connection's whole set */
  nc_tw_expect_ok(batch(pub, "svc-b", 1, NULL), "BatchInstanceResponse");
  assert_int_equal(query_hosts(pub, "svc-b"), 1);
  /* one bad instance rejects the batch and keeps the state */
  assert_int_equal(batch(pub, "svc-b", 2, "bad_cluster").error_code, 400);
  assert_int_equal(query_hosts(pub, "svc-b"), 1);
  assert_int_equal(wait_notify(sub, "svc-b", 3, 3000, NULL, NULL, NULL), 3);
  /* unsubscribed: no more pushes */
  subscribe(sub, "svc-b", 0);
  nc_tw_expect_ok(batch(pub, "svc-b", 2, NULL), "BatchInstanceResponse");
  nc_test_quiet_ms(400);
  assert_int_equal(nc_tw_push_count(sub, NOTIFY), 3);
}

static void test_changes_in_one_window_merge(void **state) {
  nc_tfx *f = *state; /* default 500 ms window */
  nc_tw *sub = connect_wc(f, 0);
  nc_tw *pub = connect_wc(f, 0);
  reg(pub, "svc-m", "10.0.0.8", 80, 1.0);
  subscribe(sub, "svc-m", 1);
  assert_int_equal(wait_notify(sub, "svc-m", 1, 3000, NULL, NULL, NULL), 1);
  long long t0 = nc_test_now_ms();
  for (int i = 1; i <= 100; i++)
    reg(pub, "svc-m", "10.0.0.8", 80, 1.0 + i);
  long long took = nc_test_now_ms() - t0;
  nc_test_quiet_ms(1500);
  double w0 = 0;
  int n = wait_notify(sub, "svc-m", 1, 0, NULL, &w0, NULL) - 1;
  fprintf(stderr, "100 changes in %lld ms -> %d pushes\n", took, n);
  assert_true(n >= 1);
  if (took < 450)
    assert_true(n <= 2);
  assert_true(w0 == 101.0); /* the last state won */
}

/* child mode: register one instance, report, then wait to be killed */
static int child_main(const char *target, const char *svc) {
  nc_grpc_init();
  nc_gcli_env *env = NULL;
  if (nc_gcli_env_new(1, &env))
    return 3;
  nc_tw *tw = nc_tw_open(env, target, NULL);
  if (!tw)
    return 3;
  nc_tw_instance in = {.ip = "10.9.9.9", .port = 9999};
  nc_tw_reply r = nc_tw_register(tw, svc, &in);
  if (!nc_tw_ok(&r))
    return 4;
  printf("registered\n");
  fflush(stdout);
  for (;;)
    pause();
}

static void test_killed_client_instances_removed_and_pushed(void **state) {
  nc_tfx *f = *state; /* default 500 ms window */
  nc_tw *sub = connect_wc(f, 0);
  subscribe(sub, "svc-k", 1);
  assert_int_equal(wait_notify(sub, "svc-k", 1, 3000, NULL, NULL, NULL), 1);
  char log[300];
  snprintf(log, sizeof(log), "%s/child.log", f->srv->dir);
  char *argv[] = {"test_server_naming", "--child-register", f->srv->target, "svc-k", NULL};
  nc_testproc child;
  assert_int_equal(nc_testproc_start(&child, "/proc/self/exe", argv, log), 0);
  int hosts = -1;
  assert_true(wait_notify(sub, "svc-k", 2, 5000, &hosts, NULL, NULL) >= 2);
  assert_int_equal(hosts, 1);
  int before = nc_tw_notify_count(sub, "svc-k");
  long long t0 = nc_test_now_ms();
  assert_int_equal(nc_testproc_kill(&child, SIGKILL), 128 + SIGKILL);
  assert_int_equal(wait_notify(sub, "svc-k", before + 1, 2000, &hosts, NULL, NULL), before + 1);
  long long dt = nc_test_now_ms() - t0;
  fprintf(stderr, "kill -9 -> push without the instance after %lld ms\n", dt);
  assert_int_equal(hosts, 0);
  assert_true(dt <= nc_test_timeout_ms(2000));
  assert_int_equal(query_hosts(sub, "svc-k"), 0);
}

static void test_unacked_push_retried_until_acked(void **state) {
  nc_tfx *f = *state; /* window 0, timeout 300, retry 200 */
  nc_tw *sub = connect_wc(f, 1);
  nc_tw *pub = connect_wc(f, 0);
  reg(pub, "svc-r", "10.0.0.9", 80, 1.0);
  subscribe(sub, "svc-r", 1);
  int hosts = -1;
  assert_int_equal(wait_notify(sub, "svc-r", 3, 4000, &hosts, NULL, NULL), 3);
  /* three attempts of the same push, each with a fresh requestId */
  char rid[3][32];
  for (int i = 0; i < 3; i++)
    cJSON_Delete(nc_tw_push_get(sub, NOTIFY, i, rid[i], sizeof(rid[i])));
  assert_string_not_equal(rid[0], rid[1]);
  assert_string_not_equal(rid[1], rid[2]);
  assert_int_equal(hosts, 1);
  assert_int_equal(nc_tw_ack(sub, "NotifySubscriberResponse", rid[2], 1), 0);
  nc_test_quiet_ms(150);
  int n = nc_tw_push_count(sub, NOTIFY);
  nc_test_quiet_ms(1200); /* > timeout + retry: nothing more may come */
  assert_int_equal(nc_tw_push_count(sub, NOTIFY), n);
  assert_true(n <= 4); /* at most one attempt raced the ack */
  assert_true(metric(f, "nacosd_pushes_timeout_total") >= 2);
  assert_true(metric(f, "nacosd_pushes_acked_total") >= 1);
}

static void test_idle_client_not_answering_is_dropped(void **state) {
  nc_tfx *f = *state; /* probe after 500 ms idle, 500 ms to answer */
  nc_tw *mute = connect_wc(f, 1);
  nc_tw *live = connect_wc(f, 0);
  reg(mute, "svc-i", "10.0.0.10", 80, 1.0);
  assert_int_equal(query_hosts(live, "svc-i"), 1);
  NC_TEST_WAIT(nc_tw_closed(mute), 5000); /* the server ended the mute client's stream */
  assert_true(nc_tw_push_count(mute, "ClientDetectionRequest") >= 1);
  assert_true(nc_tw_push_count(live, "ClientDetectionRequest") >= 1);
  assert_false(nc_tw_closed(live)); /* the answering one stays */
  assert_int_equal(query_hosts(live, "svc-i"), 0);
  assert_true(metric(f, "nacosd_connections_dropped_idle_total") >= 1);
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "--child-register") == 0)
    return child_main(argv[2], argv[3]);
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_handshake_and_health_check, setup_fast, teardown),
      cmocka_unit_test_setup_teardown(test_unregistered_call_gets_301_unknown_type_302, setup_fast,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_malformed_input_gets_error_and_state_survives,
                                      setup_fast, teardown),
      cmocka_unit_test_setup_teardown(test_register_push_ack_deregister, setup_fast, teardown),
      cmocka_unit_test_setup_teardown(test_batch_register_and_unsubscribe, setup_fast, teardown),
      cmocka_unit_test_setup_teardown(test_changes_in_one_window_merge, setup_default, teardown),
      cmocka_unit_test_setup_teardown(test_killed_client_instances_removed_and_pushed,
                                      setup_default, teardown),
      cmocka_unit_test_setup_teardown(test_unacked_push_retried_until_acked, setup_retry, teardown),
      cmocka_unit_test_setup_teardown(test_idle_client_not_answering_is_dropped, setup_idle,
                                      teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
