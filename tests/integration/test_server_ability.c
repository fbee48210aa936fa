/* Nacos 3.x ability negotiation at connection setup (issue 15 part 1;
 * nacos-wire-protocol.md §4.3-§4.5, docs/protocol-3x.md) against a real
 * nacosd: ServerCheckResponse says supportAbilityNegotiation:true; a
 * ConnectionSetupRequest with an abilityTable (as Java 3.x / Python 3.x
 * send) is answered within 1 s by a SetupAckRequest with the server's keys
 * (supportPersistentInstanceByGrpc and fuzzyWatch true, lock and mcp
 * false, as srv_ability.c says), the connection then serves naming,
 * and the loader's /current shows the client's table; a setup without one
 * (Go v2.x, Python 2.0.x) gets no SetupAck and works as before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nc_grpc.h"
#include "nc_json.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"
#include "nc_testwire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state) {
  nc_tfx *f = NULL;
  if (nc_tfx_start(NULL, &f) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) { return nc_tfx_stop(*state) == 0 ? 0 : -1; }

/* The /current entry of connection id (owned by the caller), or NULL. */
static cJSON *current_of(const nc_tfx *f, const char *id) {
  int status = 0;
  char *body = NULL;
  assert_int_equal(nc_test_http_get(f->srv->port, "/nacos/v2/core/loader/current", &status, &body),
                   0);
  assert_int_equal(status, 200);
  cJSON *all = cJSON_Parse(body);
  free(body);
  assert_non_null(all);
  cJSON *c = cJSON_DetachItemFromObjectCaseSensitive(all, id);
  cJSON_Delete(all);
  return c;
}

/* Registers one instance of svc and reads it back through the client. */
static void naming_works(nc_tw *tw, const char *svc) {
  nc_tw_instance in = {.ip = "10.0.0.15", .port = 8080};
  nc_tw_expect_ok(nc_tw_register(tw, svc, &in), "InstanceResponse");
  assert_int_equal(nc_tw_query_hosts(tw, svc), 1);
}

static void test_server_check_advertises_negotiation(void **state) {
  nc_tfx *f = *state;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  nc_msg *m = nc_tw_call(tw, "ServerCheckRequest", NULL);
  assert_non_null(m);
  assert_string_equal(m->type, "ServerCheckResponse");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m->body, "supportAbilityNegotiation")));
  assert_string_equal(nc_json_str(m->body, "connectionId", ""), nc_tw_id(tw));
  nc_msg_free(m);
}

static void test_table_gets_setup_ack(void **state) {
  nc_tfx *f = *state;
  cJSON *table = cJSON_Parse("{\"fuzzyWatch\":true,\"lock\":true,\"mcp\":false}");
  assert_non_null(table);
  nc_tw_opts o = {.ability_table = table};
  long long t0 = nc_test_now_ms();
  nc_tw *tw = nc_tfx_connect(f, &o);
  cJSON_Delete(table);
  assert_non_null(tw);
  /* from before the connect: a 3.x client waits at most 5 s for it */
  assert_int_equal(nc_tw_wait_pushes(tw, "SetupAckRequest", 1, 1000), 1);
  long long ms = nc_test_now_ms() - t0;
  print_message("# SetupAckRequest %lld ms after the connect began\n", ms);
  assert_true(ms < 1000);
  char rid[32];
  cJSON *ack = nc_tw_push_get(tw, "SetupAckRequest", 0, rid, sizeof(rid));
  assert_non_null(ack);
  assert_false(cJSON_HasObjectItem(ack, "requestId")); /* no ack expected */
  assert_string_equal(nc_json_str(ack, "module", ""), "internal");
  assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(ack, "headers")));
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(ack, "abilityTable");
  assert_true(cJSON_IsObject(t));
  static const char *const keys[] = {"supportPersistentInstanceByGrpc", "fuzzyWatch", "lock",
                                     "mcp"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, keys[i]);
    assert_true(cJSON_IsBool(v));
    /* lock and mcp are not served */
    if (strcmp(keys[i], "lock") == 0 || strcmp(keys[i], "mcp") == 0)
      assert_false(cJSON_IsTrue(v));
  }
  /* persistent instances (naming_pstore.c) and fuzzy watch are served */
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "supportPersistentInstanceByGrpc")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "fuzzyWatch")));
  assert_int_equal(cJSON_GetArraySize(t), 4);
  cJSON_Delete(ack);
  /* exactly one, and nothing a 2.x client would see as a push */
  nc_test_sleep_ms(200);
  assert_int_equal(nc_tw_push_count(tw, "SetupAckRequest"), 1);
  assert_int_equal(nc_tw_push_count(tw, NULL), 1);
  /* a client that answers it (SetupAckResponse) is not disturbed */
  assert_int_equal(nc_tw_ack(tw, "SetupAckResponse", "", 1), 0);
  naming_works(tw, "ability.with.table");
  cJSON *c = current_of(f, nc_tw_id(tw));
  assert_non_null(c);
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(c, "abilityTable");
  assert_true(cJSON_IsObject(ct));
  assert_int_equal(cJSON_GetArraySize(ct), 3);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ct, "fuzzyWatch")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ct, "lock")));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(ct, "mcp")));
  cJSON_Delete(c);
}

/* Java 2.3-2.5 send {}: still a table, still a SetupAck; values that are
 * not booleans are not abilities and are left out of the stored table. */
static void test_empty_and_odd_tables(void **state) {
  nc_tfx *f = *state;
  cJSON *empty = cJSON_CreateObject();
  nc_tw_opts o = {.ability_table = empty};
  nc_tw *a = nc_tfx_connect(f, &o);
  cJSON_Delete(empty);
  assert_non_null(a);
  assert_int_equal(nc_tw_wait_pushes(a, "SetupAckRequest", 1, 1000), 1);
  cJSON *odd = cJSON_Parse("{\"lock\":\"yes\",\"n\":1,\"x\":null,\"agent\":true,\"o\":{}}");
  assert_non_null(odd);
  o.ability_table = odd;
  nc_tw *b = nc_tfx_connect(f, &o);
  cJSON_Delete(odd);
  assert_non_null(b);
  assert_int_equal(nc_tw_wait_pushes(b, "SetupAckRequest", 1, 1000), 1);
  naming_works(b, "ability.odd");
  cJSON *c = current_of(f, nc_tw_id(a));
  assert_non_null(c);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "abilityTable")), 0);
  cJSON_Delete(c);
  c = current_of(f, nc_tw_id(b));
  assert_non_null(c);
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(c, "abilityTable");
  assert_int_equal(cJSON_GetArraySize(ct), 1);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ct, "agent")));
  cJSON_Delete(c);
}

static void count_setup_acks(void *ud, nc_wc *wc, const nc_msg *m) {
  (void)wc;
  if (strcmp(m->type, "SetupAckRequest") == 0)
    __atomic_add_fetch((int *)ud, 1, __ATOMIC_SEQ_CST);
}

static void test_no_table_no_setup_ack(void **state) {
  nc_tfx *f = *state;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  naming_works(tw, "ability.without.table");
  nc_tw *sub = nc_tfx_connect(f, NULL);
  assert_non_null(sub);
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(sub, "ability.without.table", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  nc_tw_instance in = {.ip = "10.0.0.16", .port = 8080};
  nc_tw_expect_ok(nc_tw_register(tw, "ability.without.table", &in), "InstanceResponse");
  assert_true(nc_tw_wait_notify(sub, "ability.without.table", 1, 5000, NULL) >= 1);
  /* what a 2.x client sees on its stream: the pushes, never a SetupAck
   * (recorded here only if it came, since this client sent no table) */
  assert_int_equal(nc_tw_push_count(tw, NULL), 0);
  /* a bare wire client that would see a SetupAck but sends no table, as
   * the Go SDK (clientAbilities {}) */
  int acks = 0;
  nc_wc_opts wo = {.target = f->srv->target, .setup_ack_as_push = 1};
  nc_wc *wc = NULL;
  assert_int_equal(nc_wc_connect(f->env, &wo, count_setup_acks, NULL, &acks, &wc), 0);
  nc_msg *r = NULL;
  cJSON *q = nc_tw_naming_body(NULL, "ability.without.table");
  int rc = nc_wc_request(wc, "ServiceQueryRequest", q, 5000, &r);
  cJSON_Delete(q);
  nc_test_sleep_ms(300);
  int seen = __atomic_load_n(&acks, __ATOMIC_SEQ_CST);
  const char *rid = nc_wc_connection_id(wc);
  cJSON *wcur = rid ? current_of(f, rid) : NULL;
  nc_wc_close(wc);
  assert_int_equal(rc, 0);
  assert_non_null(r);
  assert_int_equal(nc_json_int(r->body, "resultCode", 0), 200);
  nc_msg_free(r);
  assert_int_equal(seen, 0);
  assert_non_null(wcur);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(wcur, "abilityTable")), 0);
  cJSON_Delete(wcur);
  cJSON *c = current_of(f, nc_tw_id(tw));
  assert_non_null(c);
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(c, "abilityTable");
  assert_true(cJSON_IsObject(ct));
  assert_int_equal(cJSON_GetArraySize(ct), 0);
  cJSON_Delete(c);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_server_check_advertises_negotiation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_table_gets_setup_ack, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_and_odd_tables, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_table_no_setup_ack, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
