/* Codec between Payload bytes and (type, clientIp, headers, JSON body). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_payload.h"

#include <stdlib.h>
#include <string.h>

/* The worked example of nacos-wire-protocol.md §1.1. */
static const uint8_t doc_example[] = {
    0x12, 0x2b, 0x1a, 0x12, 'S', 'e', 'r', 'v', 'e', 'r', 'C', 'h', 'e', 'c', 'k', 'R', 'e',
    'q', 'u', 'e', 's', 't', 0x3a, 0x0b, 0x0a, 0x03, 'a', 'p', 'p', 0x12, 0x04, 'd', 'e', 'm',
    'o', 0x42, 0x08, '1', '0', '.', '0', '.', '0', '.', '7', 0x1a, 0x24, 0x12, 0x22, '{', '"',
    'h', 'e', 'a', 'd', 'e', 'r', 's', '"', ':', '{', '}', ',', '"', 'm', 'o', 'd', 'u', 'l',
    'e', '"', ':', '"', 'i', 'n', 't', 'e', 'r', 'n', 'a', 'l', '"', '}'};

static void test_decode_matches_documented_bytes(void **state) {
  (void)state;
  nc_msg *m = NULL;
  assert_int_equal(nc_payload_decode(doc_example, sizeof(doc_example), &m), 0);
  assert_string_equal(m->type, "ServerCheckRequest");
  assert_string_equal(m->client_ip, "10.0.0.7");
  assert_int_equal(m->n_headers, 1);
  assert_string_equal(nc_msg_header(m, "APP"), "demo");
  assert_int_equal(m->body_error, 0);
  assert_string_equal(cJSON_GetObjectItem(m->body, "module")->valuestring, "internal");
  nc_msg_free(m);
}

static void test_encode_reproduces_documented_bytes(void **state) {
  (void)state;
  nc_kv h = {"app", "demo"};
  const char *json = "{\"headers\":{},\"module\":\"internal\"}";
  uint8_t *out = NULL;
  size_t len = 0;
  assert_int_equal(nc_payload_encode("ServerCheckRequest", "10.0.0.7", &h, 1, json, strlen(json),
                                     &out, &len),
                   0);
  assert_int_equal(len, sizeof(doc_example));
  assert_memory_equal(out, doc_example, len);
  free(out);
}

static void test_garbage_is_parse_error(void **state) {
  (void)state;
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01, 0x02};
  nc_msg *m = (nc_msg *)0x1;
  assert_int_equal(nc_payload_decode(junk, sizeof(junk), &m), NC_EPARSE);
  assert_null(m);
}

static void test_bad_json_body_flags_body_error(void **state) {
  (void)state;
  uint8_t *out = NULL;
  size_t len = 0;
  assert_int_equal(nc_payload_encode("InstanceRequest", "", NULL, 0, "{not json", 9, &out, &len), 0);
  nc_msg *m = NULL;
  assert_int_equal(nc_payload_decode(out, len, &m), 0);
  assert_int_equal(m->body_error, 1);
  assert_null(m->body);
  assert_string_equal(m->type, "InstanceRequest");
  nc_msg_free(m);
  free(out);
  /* A JSON array is not a request object either. */
  assert_int_equal(nc_payload_encode("InstanceRequest", "", NULL, 0, "[1]", 3, &out, &len), 0);
  assert_int_equal(nc_payload_decode(out, len, &m), 0);
  assert_int_equal(m->body_error, 1);
  nc_msg_free(m);
  free(out);
}

static void test_response_base_fields_never_null(void **state) {
  (void)state;
  cJSON *r = nc_resp_new(500, 301, NULL);
  char *s = cJSON_PrintUnformatted(r);
  assert_string_equal(s, "{\"resultCode\":500,\"errorCode\":301,\"success\":false}");
  assert_null(strstr(s, "null"));
  cJSON_free(s);
  cJSON_Delete(r);
  r = nc_resp_ok();
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "success")));
  cJSON_Delete(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_matches_documented_bytes),
      cmocka_unit_test(test_encode_reproduces_documented_bytes),
      cmocka_unit_test(test_garbage_is_parse_error),
      cmocka_unit_test(test_bad_json_body_flags_body_error),
      cmocka_unit_test(test_response_base_fields_never_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
