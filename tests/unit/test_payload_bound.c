/* nc_payload_decode_max: a body over the bound decodes without being
 * parsed (body_error 2, body NULL, its length kept), one at the bound or
 * under parses, 0 means no bound. */
#include "nc_err.h"
#include "nc_payload.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

static void encode(const char *json, uint8_t **buf, size_t *len) {
  nc_kv h = {.key = "accessToken", .value = "T"};
  assert_int_equal(nc_payload_encode("ConfigPublishRequest", "10.0.0.1", &h, 1, json,
                                     strlen(json), buf, len),
                   0);
}

static void test_over_the_bound_is_not_parsed(void **st) {
  (void)st;
  const char *json = "{\"dataId\":\"a\",\"content\":\"0123456789\"}"; /* 37 bytes */
  uint8_t *buf = NULL;
  size_t len = 0;
  nc_msg *m = NULL;
  encode(json, &buf, &len);
  assert_int_equal(nc_payload_decode_max(buf, len, 36, &m), 0);
  assert_int_equal(m->body_error, 2);
  assert_null(m->body);
  assert_int_equal(m->body_len, strlen(json));
  /* the metadata is still there: the refusal can name the type */
  assert_string_equal(m->type, "ConfigPublishRequest");
  assert_string_equal(nc_msg_header(m, "accessToken"), "T");
  nc_msg_free(m);
  /* at the bound, and without one: parsed */
  assert_int_equal(nc_payload_decode_max(buf, len, strlen(json), &m), 0);
  assert_int_equal(m->body_error, 0);
  assert_string_equal(cJSON_GetObjectItem(m->body, "content")->valuestring, "0123456789");
  nc_msg_free(m);
  assert_int_equal(nc_payload_decode_max(buf, len, 0, &m), 0);
  assert_int_equal(m->body_error, 0);
  assert_int_equal(m->body_len, strlen(json));
  nc_msg_free(m);
  assert_int_equal(nc_payload_decode(buf, len, &m), 0);
  assert_int_equal(m->body_error, 0);
  nc_msg_free(m);
  free(buf);
}

static void test_bad_json_under_the_bound_still_error_1(void **st) {
  (void)st;
  uint8_t *buf = NULL;
  size_t len = 0;
  nc_msg *m = NULL;
  encode("[1,2]", &buf, &len);
  assert_int_equal(nc_payload_decode_max(buf, len, 100, &m), 0);
  assert_int_equal(m->body_error, 1);
  nc_msg_free(m);
  free(buf);
  assert_int_equal(nc_payload_decode_max((const uint8_t *)"\xff\xff\xff", 3, 10, &m), NC_EPARSE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_over_the_bound_is_not_parsed),
      cmocka_unit_test(test_bad_json_under_the_bound_still_error_1),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
