/* srv_ability's codec (issue 15 part 1, nacos-wire-protocol.md §4.5): the
 * server's table, the client's table taken from a ConnectionSetupRequest
 * body (booleans only, bounded, absent = no negotiation) and the
 * SetupAckRequest payload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nc_json.h"
#include "nc_payload.h"
#include "srv_ability.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *client_table(const char *setup_json) {
  cJSON *b = cJSON_Parse(setup_json);
  assert_non_null(b);
  cJSON *t = (cJSON *)1;
  assert_int_equal(nc_ability_client_table(b, &t), 0);
  cJSON_Delete(b);
  return t;
}

static void test_server_table_has_3x_keys(void **state) {
  (void)state;
  cJSON *t = nc_ability_server_table();
  assert_non_null(t);
  static const char *const keys[] = {"supportPersistentInstanceByGrpc", "fuzzyWatch", "lock",
                                     "mcp"};
  assert_int_equal(cJSON_GetArraySize(t), 4);
  for (size_t i = 0; i < 4; i++)
    assert_true(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(t, keys[i])));
  /* fuzzy watch is served (docs/fuzzy-watch.md); lock and mcp are not */
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "fuzzyWatch")));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(t, "lock")));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(t, "mcp")));
  cJSON_Delete(t);
}

static void test_client_table_absent_means_no_negotiation(void **state) {
  (void)state;
  assert_null(client_table("{\"clientVersion\":\"Nacos-Go-Client:v2.2.3\",\"clientAbilities\":{}}"));
  assert_null(client_table("{\"abilityTable\":null}"));
  assert_null(client_table("{\"abilityTable\":[true]}"));
  assert_null(client_table("{\"abilityTable\":\"fuzzyWatch\"}"));
  /* 2.0-2.2 Java send the old `abilities` object instead: no SetupAck */
  assert_null(client_table("{\"abilities\":{\"remoteAbility\":{\"supportRemoteConnection\":true}}}"));
  cJSON *none = (cJSON *)1;
  assert_int_equal(nc_ability_client_table(NULL, &none), 0);
  assert_null(none);
}

static void test_client_table_keeps_booleans(void **state) {
  (void)state;
  cJSON *t = client_table("{\"abilityTable\":{}}");
  assert_non_null(t); /* Java 2.3-2.5: {} still negotiates */
  assert_int_equal(cJSON_GetArraySize(t), 0);
  cJSON_Delete(t);
  t = client_table("{\"abilityTable\":{\"fuzzyWatch\":true,\"lock\":false,\"n\":1,\"s\":\"x\","
                   "\"z\":null,\"o\":{\"a\":true},\"\":true,\"lock\":true}}");
  assert_non_null(t);
  assert_int_equal(cJSON_GetArraySize(t), 2);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "fuzzyWatch")));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(t, "lock"))); /* first wins */
  cJSON_Delete(t);
}

static void test_client_table_is_bounded(void **state) {
  (void)state;
  cJSON *b = cJSON_CreateObject(), *in = cJSON_AddObjectToObject(b, "abilityTable");
  char key[128];
  for (int i = 0; i < 1000; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    cJSON_AddBoolToObject(in, key, 1);
  }
  memset(key, 'a', NC_ABILITY_KEY_MAX + 1);
  key[NC_ABILITY_KEY_MAX + 1] = '\0';
  cJSON_AddItemToObject(in, key, cJSON_CreateTrue());
  cJSON *t = NULL;
  assert_int_equal(nc_ability_client_table(b, &t), 0);
  assert_int_equal(cJSON_GetArraySize(t), NC_ABILITY_MAX);
  assert_true(cJSON_HasObjectItem(t, "k0"));
  cJSON_Delete(t);
  /* a key one byte over the limit is dropped, one at the limit kept */
  cJSON_Delete(b);
  b = cJSON_CreateObject();
  in = cJSON_AddObjectToObject(b, "abilityTable");
  cJSON_AddItemToObject(in, key, cJSON_CreateTrue());
  key[NC_ABILITY_KEY_MAX] = '\0';
  cJSON_AddItemToObject(in, key, cJSON_CreateTrue());
  assert_int_equal(nc_ability_client_table(b, &t), 0);
  assert_int_equal(cJSON_GetArraySize(t), 1);
  assert_true(cJSON_HasObjectItem(t, key));
  cJSON_Delete(t);
  cJSON_Delete(b);
}

static void test_setup_ack_payload(void **state) {
  (void)state;
  uint8_t *buf = NULL;
  size_t len = 0;
  assert_int_equal(nc_ability_setup_ack(&buf, &len), 0);
  nc_msg *m = NULL;
  assert_int_equal(nc_payload_decode(buf, len, &m), 0);
  free(buf);
  assert_string_equal(m->type, "SetupAckRequest");
  assert_false(m->body_error);
  assert_false(cJSON_HasObjectItem(m->body, "requestId"));
  assert_string_equal(nc_json_str(m->body, "module", ""), "internal");
  assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m->body, "headers")));
  cJSON *want = nc_ability_server_table();
  assert_true(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(m->body, "abilityTable"), want, 1));
  cJSON_Delete(want);
  nc_msg_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_table_has_3x_keys),
      cmocka_unit_test(test_client_table_absent_means_no_negotiation),
      cmocka_unit_test(test_client_table_keeps_booleans),
      cmocka_unit_test(test_client_table_is_bounded),
      cmocka_unit_test(test_setup_ack_payload),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
