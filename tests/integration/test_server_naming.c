/* Integration: the real nacosd on ephemeral loopback ports, driven by the
 * repo's wire client (nc_wc) and raw transport client (nc_gcli): handshake,
 * 301/302/400/502 answers, register -> push -> ack, deregister, merge
 * window, kill -9 of a client, retry until acked, idle probing. */
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_json.h"
#include "nc_payload.h"
#include "nc_testproc.h"
#include "nc_wire_client.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- fixture ---- */

typedef struct push_rec {
  char rid[32];
  char name[128];
  int hosts;
  double weight0;
  long long ref;
  char type[64];
} push_rec;

typedef struct client_state {
  pthread_mutex_t mu;
  push_rec recs[512];
  int n;
  int closed;
} client_state;

typedef struct fx {
  char dir[128];
  nc_test_nacosd srv;
  nc_gcli_env *env;
  client_state cs[4];
} fx;

static void on_push(void *ud, nc_wc *wc, const nc_msg *m) {
  client_state *cs = ud;
  (void)wc;
  pthread_mutex_lock(&cs->mu);
  if (cs->n < (int)(sizeof(cs->recs) / sizeof(cs->recs[0]))) {
    push_rec *r = &cs->recs[cs->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->type, sizeof(r->type), "%s", m->type);
    snprintf(r->rid, sizeof(r->rid), "%s", nc_json_str(m->body, "requestId", ""));
    const cJSON *si = cJSON_GetObjectItemCaseSensitive(m->body, "serviceInfo");
    snprintf(r->name, sizeof(r->name), "%s", nc_json_str(si, "name", ""));
    const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(si, "hosts");
    r->hosts = cJSON_IsArray(hosts) ? cJSON_GetArraySize(hosts) : -1;
    if (r->hosts > 0)
      r->weight0 = nc_json_num(cJSON_GetArrayItem(hosts, 0), "weight", -1);
    r->ref = nc_json_int(si, "lastRefTime", 0);
  }
  pthread_mutex_unlock(&cs->mu);
}

static void on_closed(void *ud, nc_wc *wc, int status) {
  client_state *cs = ud;
  (void)wc;
  (void)status;
  pthread_mutex_lock(&cs->mu);
  cs->closed = 1;
  pthread_mutex_unlock(&cs->mu);
}

static int count_pushes(client_state *cs, const char *type, push_rec *last) {
  int n = 0;
  pthread_mutex_lock(&cs->mu);
  for (int i = 0; i < cs->n; i++)
    if (strcmp(cs->recs[i].type, type) == 0) {
      n++;
      if (last)
        *last = cs->recs[i];
    }
  pthread_mutex_unlock(&cs->mu);
  return n;
}

/* Polls until count_pushes(type) >= want; returns the count. */
static int wait_pushes(client_state *cs, const char *type, int want, int timeout_ms,
                       push_rec *last) {
  long long end = nc_test_now_ms() + timeout_ms;
  int n;
  while ((n = count_pushes(cs, type, last)) < want && nc_test_now_ms() < end)
    nc_test_sleep_ms(10);
  return n;
}

static int start_fx(void **state, const char *const *args) {
  fx *f = calloc(1, sizeof(*f));
  if (!f || nc_test_mkdtemp(f->dir, sizeof(f->dir)) != 0)
    return -1;
  for (int i = 0; i < 4; i++)
    pthread_mutex_init(&f->cs[i].mu, NULL);
  if (nc_test_nacosd_start(f->dir, args, &f->srv) != 0 || nc_gcli_env_new(1, &f->env) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  if (!f)
    return 0;
  nc_gcli_env_free(f->env);
  int rc = nc_test_nacosd_stop(&f->srv);
  nc_test_rmtree(f->dir);
  for (int i = 0; i < 4; i++)
    pthread_mutex_destroy(&f->cs[i].mu);
  free(f);
  return rc == 0 ? 0 : -1; /* a leak or crash of nacosd fails the test */
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

static nc_wc *connect_wc(fx *f, int idx, int no_auto_ack) {
  nc_wc_opts o = {.target = f->srv.target, .no_auto_ack = no_auto_ack, .timeout_ms = 5000};
  nc_wc *wc = NULL;
  int rc = nc_wc_connect(f->env, &o, on_push, on_closed, &f->cs[idx], &wc);
  if (rc != 0)
    nc_testproc_dump_log(&f->srv.proc);
  assert_int_equal(rc, 0);
  return wc;
}

/* ---- request helpers ---- */

static nc_msg *request(nc_wc *wc, const char *type, cJSON *body) {
  nc_msg *r = NULL;
  int rc = nc_wc_request(wc, type, body, 5000, &r);
  cJSON_Delete(body);
  assert_int_equal(rc, 0);
  assert_non_null(r);
  return r;
}

static cJSON *naming_body(const char *svc) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "namespace", "public");
  cJSON_AddStringToObject(b, "serviceName", svc);
  cJSON_AddStringToObject(b, "groupName", "DEFAULT_GROUP");
  cJSON_AddStringToObject(b, "module", "naming");
  cJSON_AddObjectToObject(b, "headers");
  return b;
}

static cJSON *instance_req(const char *svc, const char *type, const char *ip, int port,
                           double weight) {
  cJSON *b = naming_body(svc);
  cJSON_AddStringToObject(b, "type", type);
  cJSON *in = cJSON_AddObjectToObject(b, "instance");
  cJSON_AddStringToObject(in, "ip", ip);
  cJSON_AddNumberToObject(in, "port", port);
  cJSON_AddNumberToObject(in, "weight", weight);
  cJSON_AddBoolToObject(in, "healthy", 1);
  cJSON_AddBoolToObject(in, "enabled", 1);
  cJSON_AddBoolToObject(in, "ephemeral", 1);
  cJSON_AddStringToObject(in, "clusterName", "DEFAULT");
  cJSON_AddObjectToObject(in, "metadata");
  return b;
}

static void expect_ok(nc_msg *r, const char *type) {
  assert_string_equal(r->type, type);
  assert_int_equal(nc_json_int(r->body, "resultCode", 0), 200);
  assert_int_equal(nc_json_int(r->body, "errorCode", -1), 0);
  assert_true(nc_json_bool(r->body, "success", 0));
  nc_msg_free(r);
}

static void reg(nc_wc *wc, const char *svc, const char *ip, int port, double w) {
  expect_ok(request(wc, "InstanceRequest", instance_req(svc, "registerInstance", ip, port, w)),
            "InstanceResponse");
}

static void subscribe(nc_wc *wc, const char *svc, int sub) {
  cJSON *b = naming_body(svc);
  cJSON_AddBoolToObject(b, "subscribe", sub);
  cJSON_AddStringToObject(b, "clusters", "");
  nc_msg *r = request(wc, "SubscribeServiceRequest", b);
  assert_non_null(cJSON_GetObjectItemCaseSensitive(r->body, "serviceInfo"));
  expect_ok(r, "SubscribeServiceResponse");
}

/* Number of hosts a ServiceQueryRequest returns. */
static int query_hosts(nc_wc *wc, const char *svc) {
  nc_msg *r = request(wc, "ServiceQueryRequest", naming_body(svc));
  assert_string_equal(r->type, "QueryServiceResponse");
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(r->body, "serviceInfo"), "hosts");
  assert_true(cJSON_IsArray(h));
  int n = cJSON_GetArraySize(h);
  nc_msg_free(r);
  return n;
}

/* GET /metrics on the HTTP port; returns the value of one counter. */
static long long metric(fx *f, const char *name) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->srv.port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
  const char *req = "GET /metrics HTTP/1.0\r\n\r\n";
  assert_int_equal(write(s, req, strlen(req)), (ssize_t)strlen(req));
  static char buf[65536];
  size_t len = 0;
  ssize_t n;
  while ((n = read(s, buf + len, sizeof(buf) - 1 - len)) > 0)
    len += (size_t)n;
  close(s);
  buf[len] = 0;
  char key[160];
  snprintf(key, sizeof(key), "\n%s ", name);
  char *p = strstr(buf, key);
  assert_non_null(p);
  return atoll(p + strlen(key));
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

static void expect_error(nc_msg *m, int code) {
  assert_string_equal(m->type, "ErrorResponse");
  assert_int_equal(nc_json_int(m->body, "errorCode", 0), code);
  assert_false(nc_json_bool(m->body, "success", 1));
  nc_msg_free(m);
}

/* ---- tests ---- */

static void test_handshake_and_health_check(void **state) {
  fx *f = *state;
  nc_wc *wc = connect_wc(f, 0, 0);
  const char *id = nc_wc_connection_id(wc);
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
  expect_ok(request(wc, "HealthCheckRequest", b), "HealthCheckResponse");
  assert_int_equal(metric(f, "nacosd_connections"), 1);
  nc_wc_close(wc);
  /* the stream ended: the server forgets the connection at once */
  long long end = nc_test_now_ms() + 1000;
  while (metric(f, "nacosd_connections") != 0 && nc_test_now_ms() < end)
    nc_test_sleep_ms(20);
  assert_int_equal(metric(f, "nacosd_connections"), 0);
}

static void test_unregistered_call_gets_301_unknown_type_302(void **state) {
  fx *f = *state;
  nc_gcli *c = NULL;
  assert_int_equal(nc_gcli_new(f->env, f->srv.target, NULL, &c), 0);
  nc_msg *m = raw_json_call(c, "ServerCheckRequest", "{\"headers\":{},\"module\":\"internal\"}");
  assert_string_equal(m->type, "ServerCheckResponse");
  assert_int_equal(nc_json_int(m->body, "resultCode", 0), 200);
  assert_true(strlen(nc_json_str(m->body, "connectionId", "")) > 10);
  assert_false(nc_json_bool(m->body, "supportAbilityNegotiation", 1));
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
  long long end = nc_test_now_ms() + 3000;
  for (;;) {
    m = raw_json_call(c, "HealthCheckRequest", "{}");
    int ok = strcmp(m->type, "HealthCheckResponse") == 0;
    nc_msg_free(m);
    if (ok)
      break;
    assert_true(nc_test_now_ms() < end);
    nc_test_sleep_ms(20);
  }
  nc_gcli_free(c);
}

static void test_malformed_input_gets_error_and_state_survives(void **state) {
  fx *f = *state;
  nc_wc *wc = connect_wc(f, 0, 0);
  reg(wc, "svc-malformed", "10.0.0.1", 8080, 1.0);
  nc_gcli *c = NULL;
  assert_int_equal(nc_gcli_new(f->env, f->srv.target, NULL, &c), 0);
  /* bytes that are not a Payload */
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
  expect_error(raw_call(c, junk, sizeof(junk)), 502);
  /* unknown type and unregistered transport still answered in order */
  expect_error(raw_json_call(c, "BogusRequest", "{}"), 302);
  nc_gcli_free(c);
  /* on the registered connection: unknown type, then a broken JSON body
   * (sent raw on the stream as well: it must be ignored) */
  nc_msg *r = NULL;
  cJSON *b = cJSON_CreateObject();
  assert_int_equal(nc_wc_request(wc, "BogusRequest", b, 3000, &r), 0);
  cJSON_Delete(b);
  expect_error(r, 302);
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(nc_payload_encode("InstanceRequest", "127.0.0.1", NULL, 0, "{not json", 9, &buf,
                                     &len),
                   0);
  assert_int_equal(nc_wc_stream_send_raw(wc, junk, sizeof(junk)), 0);
  assert_int_equal(nc_wc_stream_send_raw(wc, buf, len), 0);
  free(buf);
  /* a body that is valid JSON but breaks the rules: 400, state kept */
  cJSON *bad = instance_req("svc-malformed", "registerInstance", "10.0.0.2", 8080, 1.0);
  cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(bad, "instance"), "clusterName",
                            cJSON_CreateString("bad cluster!"));
  r = request(wc, "InstanceRequest", bad);
  assert_int_equal(nc_json_int(r->body, "errorCode", 0), 400);
  nc_msg_free(r);
  r = request(wc, "InstanceRequest", cJSON_CreateString("not an object"));
  assert_int_equal(nc_json_int(r->body, "errorCode", 0), 400);
  nc_msg_free(r);
  /* connection and state intact */
  assert_int_equal(query_hosts(wc, "svc-malformed"), 1);
  cJSON *hb = cJSON_CreateObject();
  expect_ok(request(wc, "HealthCheckRequest", hb), "HealthCheckResponse");
  nc_wc_close(wc);
}

static void test_register_push_ack_deregister(void **state) {
  fx *f = *state;
  nc_wc *sub = connect_wc(f, 0, 0);
  nc_wc *pub = connect_wc(f, 1, 0);
  subscribe(sub, "svc-a", 1);
  push_rec last;
  /* the first subscription gets the current (empty) state */
  assert_int_equal(wait_pushes(&f->cs[0], "NotifySubscriberRequest", 1, 3000, &last), 1);
  assert_int_equal(last.hosts, 0);
  long long ref0 = last.ref;
  reg(pub, "svc-a", "10.0.0.7", 8080, 2.0);
  assert_int_equal(wait_pushes(&f->cs[0], "NotifySubscriberRequest", 2, 3000, &last), 2);
  assert_string_equal(last.name, "svc-a");
  assert_int_equal(last.hosts, 1);
  assert_true(last.weight0 == 2.0);
  assert_true(last.ref > ref0);
  assert_true(atoll(last.rid) > 0);
  /* acked (auto ack) */
  long long end = nc_test_now_ms() + 2000;
  while (metric(f, "nacosd_pushes_acked_total") < 2 && nc_test_now_ms() < end)
    nc_test_sleep_ms(20);
  assert_true(metric(f, "nacosd_pushes_acked_total") >= 2);
  /* query shape */
  nc_msg *r = request(pub, "ServiceQueryRequest", naming_body("svc-a"));
  const cJSON *si = cJSON_GetObjectItemCaseSensitive(r->body, "serviceInfo");
  assert_string_equal(nc_json_str(si, "name", ""), "svc-a");
  assert_string_equal(nc_json_str(si, "groupName", ""), "DEFAULT_GROUP");
  assert_int_equal(nc_json_int(si, "cacheMillis", 0), 10000);
  assert_true(nc_json_bool(si, "valid", 0));
  const cJSON *h0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(si, "hosts"), 0);
  assert_string_equal(nc_json_str(h0, "instanceId", ""), "10.0.0.7#8080#DEFAULT#DEFAULT_GROUP@@svc-a");
  assert_string_equal(nc_json_str(h0, "serviceName", ""), "DEFAULT_GROUP@@svc-a");
  assert_int_equal(nc_json_int(h0, "instanceHeartBeatInterval", 0), 5000);
  nc_msg_free(r);
  /* "" and "public" are the same namespace */
  cJSON *q = naming_body("svc-a");
  cJSON_ReplaceItemInObject(q, "namespace", cJSON_CreateString(""));
  r = request(pub, "ServiceQueryRequest", q);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                       cJSON_GetObjectItemCaseSensitive(r->body, "serviceInfo"), "hosts")),
                   1);
  nc_msg_free(r);
  /* service list */
  cJSON *lb = naming_body("ignored");
  cJSON_AddNumberToObject(lb, "pageNo", 1);
  cJSON_AddNumberToObject(lb, "pageSize", 10);
  r = request(pub, "ServiceListRequest", lb);
  assert_int_equal(nc_json_int(r->body, "count", 0), 1);
  nc_msg_free(r);
  /* idempotent re-register: no push */
  reg(pub, "svc-a", "10.0.0.7", 8080, 2.0);
  /* deregister */
  expect_ok(request(pub, "InstanceRequest",
                    instance_req("svc-a", "deregisterInstance", "10.0.0.7", 8080, 1)),
            "InstanceResponse");
  assert_int_equal(wait_pushes(&f->cs[0], "NotifySubscriberRequest", 3, 3000, &last), 3);
  assert_int_equal(last.hosts, 0);
  assert_int_equal(query_hosts(pub, "svc-a"), 0);
  nc_test_sleep_ms(300);
  assert_int_equal(count_pushes(&f->cs[0], "NotifySubscriberRequest", NULL), 3);
  nc_wc_close(pub);
  nc_wc_close(sub);
}

static cJSON *batch_req(const char *svc, int n, const char *bad_cluster) {
  cJSON *b = naming_body(svc);
  cJSON_AddStringToObject(b, "type", "batchRegisterInstance");
  cJSON *arr = cJSON_AddArrayToObject(b, "instances");
  for (int i = 0; i < n; i++) {
    cJSON *in = cJSON_CreateObject();
    char ip[32];
    snprintf(ip, sizeof(ip), "10.1.0.%d", i + 1);
    cJSON_AddStringToObject(in, "ip", ip);
    cJSON_AddNumberToObject(in, "port", 80);
    cJSON_AddStringToObject(in, "clusterName", i == n - 1 && bad_cluster ? bad_cluster : "c1");
    cJSON_AddItemToArray(arr, in);
  }
  return b;
}

static void test_batch_register_and_unsubscribe(void **state) {
  fx *f = *state;
  nc_wc *sub = connect_wc(f, 0, 0);
  nc_wc *pub = connect_wc(f, 1, 0);
  subscribe(sub, "svc-b", 1);
  assert_int_equal(wait_pushes(&f->cs[0], "NotifySubscriberRequest", 1, 3000, NULL), 1);
  nc_msg *r = request(pub, "BatchInstanceRequest", batch_req("svc-b", 3, NULL));
  assert_string_equal(nc_json_str(r->body, "type", ""), "batchRegisterInstance");
  expect_ok(r, "BatchInstanceResponse");
  assert_int_equal(query_hosts(pub, "svc-b"), 3);
  push_rec last;
  assert_int_equal(wait_pushes(&f->cs[0], "NotifySubscriberRequest", 2, 3000, &last), 2);
  assert_int_equal(last.hosts, 3);
  /* a batch replaces the connection's whole set */
  expect_ok(request(pub, "BatchInstanceRequest", batch_req("svc-b", 1, NULL)),
            "BatchInstanceResponse");
  assert_int_equal(query_hosts(pub, "svc-b"), 1);
  /* one bad instance rejects the batch and keeps the state */
  r = request(pub, "BatchInstanceRequest", batch_req("svc-b", 2, "bad_cluster"));
  assert_int_equal(nc_json_int(r->body, "errorCode", 0), 400);
  nc_msg_free(r);
  assert_int_equal(query_hosts(pub, "svc-b"), 1);
  assert_int_equal(wait_pushes(&f->cs[0], "NotifySubscriberRequest", 3, 3000, &last), 3);
  /* unsubscribed: no more pushes */
  subscribe(sub, "svc-b", 0);
  expect_ok(request(pub, "BatchInstanceRequest", batch_req("svc-b", 2, NULL)),
            "BatchInstanceResponse");
  nc_test_sleep_ms(400);
  assert_int_equal(count_pushes(&f->cs[0], "NotifySubscriberRequest", NULL), 3);
  nc_wc_close(pub);
  nc_wc_close(sub);
}

static void test_changes_in_one_window_merge(void **state) {
  fx *f = *state; /* default 500 ms window */
  nc_wc *sub = connect_wc(f, 0, 0);
  nc_wc *pub = connect_wc(f, 1, 0);
  reg(pub, "svc-m", "10.0.0.8", 80, 1.0);
  subscribe(sub, "svc-m", 1);
  assert_int_equal(wait_pushes(&f->cs[0], "NotifySubscriberRequest", 1, 3000, NULL), 1);
  long long t0 = nc_test_now_ms();
  for (int i = 1; i <= 100; i++)
    reg(pub, "svc-m", "10.0.0.8", 80, 1.0 + i);
  long long took = nc_test_now_ms() - t0;
  nc_test_sleep_ms(1500);
  push_rec last;
  int n = count_pushes(&f->cs[0], "NotifySubscriberRequest", &last) - 1;
  fprintf(stderr, "100 changes in %lld ms -> %d pushes\n", took, n);
  assert_true(n >= 1);
  if (took < 450)
    assert_true(n <= 2);
  assert_true(last.weight0 == 101.0); /* the last state won */
  nc_wc_close(pub);
  nc_wc_close(sub);
}

/* child mode: register one instance, report, then wait to be killed */
static int child_main(const char *target, const char *svc) {
  nc_grpc_init();
  nc_gcli_env *env = NULL;
  nc_wc *wc = NULL;
  nc_wc_opts o = {.target = target};
  if (nc_gcli_env_new(1, &env) || nc_wc_connect(env, &o, NULL, NULL, NULL, &wc))
    return 3;
  cJSON *b = instance_req(svc, "registerInstance", "10.9.9.9", 9999, 1.0);
  nc_msg *r = NULL;
  int rc = nc_wc_request(wc, "InstanceRequest", b, 3000, &r);
  cJSON_Delete(b);
  if (rc || nc_json_int(r->body, "resultCode", 0) != 200)
    return 4;
  nc_msg_free(r);
  printf("registered\n");
  fflush(stdout);
  for (;;)
    pause();
}

static void test_killed_client_instances_removed_and_pushed(void **state) {
  fx *f = *state; /* default 500 ms window */
  nc_wc *sub = connect_wc(f, 0, 0);
  subscribe(sub, "svc-k", 1);
  assert_int_equal(wait_pushes(&f->cs[0], "NotifySubscriberRequest", 1, 3000, NULL), 1);
  char log[256];
  snprintf(log, sizeof(log), "%s/child.log", f->dir);
  char *argv[] = {"test_server_naming", "--child-register", f->srv.target, "svc-k", NULL};
  nc_testproc child;
  assert_int_equal(nc_testproc_start(&child, "/proc/self/exe", argv, log), 0);
  push_rec last;
  assert_true(wait_pushes(&f->cs[0], "NotifySubscriberRequest", 2, 5000, &last) >= 2);
  assert_int_equal(last.hosts, 1);
  int before = count_pushes(&f->cs[0], "NotifySubscriberRequest", NULL);
  long long t0 = nc_test_now_ms();
  assert_int_equal(nc_testproc_kill(&child, SIGKILL), 128 + SIGKILL);
  assert_int_equal(wait_pushes(&f->cs[0], "NotifySubscriberRequest", before + 1, 2000, &last),
                   before + 1);
  long long dt = nc_test_now_ms() - t0;
  fprintf(stderr, "kill -9 -> push without the instance after %lld ms\n", dt);
  assert_int_equal(last.hosts, 0);
  assert_true(dt <= 2000);
  assert_int_equal(query_hosts(sub, "svc-k"), 0);
  nc_wc_close(sub);
}

static void test_unacked_push_retried_until_acked(void **state) {
  fx *f = *state; /* window 0, timeout 300, retry 200 */
  nc_wc *sub = connect_wc(f, 0, 1);
  nc_wc *pub = connect_wc(f, 1, 0);
  reg(pub, "svc-r", "10.0.0.9", 80, 1.0);
  subscribe(sub, "svc-r", 1);
  push_rec last;
  assert_int_equal(wait_pushes(&f->cs[0], "NotifySubscriberRequest", 3, 4000, &last), 3);
  /* three attempts of the same push, each with a fresh requestId */
  pthread_mutex_lock(&f->cs[0].mu);
  assert_string_not_equal(f->cs[0].recs[0].rid, f->cs[0].recs[1].rid);
  assert_string_not_equal(f->cs[0].recs[1].rid, f->cs[0].recs[2].rid);
  char rid3[32];
  snprintf(rid3, sizeof(rid3), "%s", f->cs[0].recs[2].rid);
  pthread_mutex_unlock(&f->cs[0].mu);
  assert_int_equal(last.hosts, 1);
  assert_int_equal(nc_wc_ack(sub, "NotifySubscriberResponse", rid3, 1), 0);
  nc_test_sleep_ms(150);
  int n = count_pushes(&f->cs[0], "NotifySubscriberRequest", NULL);
  nc_test_sleep_ms(1200); /* > timeout + retry: nothing more may come */
  assert_int_equal(count_pushes(&f->cs[0], "NotifySubscriberRequest", NULL), n);
  assert_true(n <= 4); /* at most one attempt raced the ack */
  assert_true(metric(f, "nacosd_pushes_timeout_total") >= 2);
  assert_true(metric(f, "nacosd_pushes_acked_total") >= 1);
  nc_wc_close(pub);
  nc_wc_close(sub);
}

static void test_idle_client_not_answering_is_dropped(void **state) {
  fx *f = *state; /* probe after 500 ms idle, 500 ms to answer */
  nc_wc *mute = connect_wc(f, 0, 1);
  nc_wc *live = connect_wc(f, 1, 0);
  reg(mute, "svc-i", "10.0.0.10", 80, 1.0);
  assert_int_equal(query_hosts(live, "svc-i"), 1);
  long long end = nc_test_now_ms() + 5000;
  int closed = 0;
  while (!closed && nc_test_now_ms() < end) {
    nc_test_sleep_ms(50);
    pthread_mutex_lock(&f->cs[0].mu);
    closed = f->cs[0].closed;
    pthread_mutex_unlock(&f->cs[0].mu);
  }
  assert_true(closed); /* the server ended the mute client's stream */
  assert_true(count_pushes(&f->cs[0], "ClientDetectionRequest", NULL) >= 1);
  assert_true(count_pushes(&f->cs[1], "ClientDetectionRequest", NULL) >= 1);
  pthread_mutex_lock(&f->cs[1].mu);
  assert_false(f->cs[1].closed); /* the answering one stays */
  pthread_mutex_unlock(&f->cs[1].mu);
  assert_int_equal(query_hosts(live, "svc-i"), 0);
  assert_true(metric(f, "nacosd_connections_dropped_idle_total") >= 1);
  nc_wc_close(live);
  nc_wc_close(mute);
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
