/* nc_testwire's request bodies and reply parsing without a server: the
 * shapes the integration tests rely on (nacos-wire-protocol.md §5.2-5.14). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_json.h"
#include "nc_testwire.h"

#include <string.h>

static void test_instance_body_defaults_and_metadata(void **state) {
  (void)state;
  const char *md[] = {"zone", "a", "ver", "2", NULL};
  nc_tw_instance in = {.ip = "10.0.0.1", .port = 80, .metadata = md};
  cJSON *b = nc_tw_instance_body(NULL, "svc", "registerInstance", &in);
  assert_string_equal(nc_json_str(b, "namespace", ""), "public");
  assert_string_equal(nc_json_str(b, "groupName", ""), "DEFAULT_GROUP");
  assert_string_equal(nc_json_str(b, "serviceName", ""), "svc");
  assert_string_equal(nc_json_str(b, "module", ""), "naming");
  assert_string_equal(nc_json_str(b, "type", ""), "registerInstance");
  const cJSON *i = cJSON_GetObjectItemCaseSensitive(b, "instance");
  assert_string_equal(nc_json_str(i, "ip", ""), "10.0.0.1");
  assert_int_equal(nc_json_int(i, "port", 0), 80);
  assert_true(nc_json_num(i, "weight", 0) == 1.0);
  assert_true(nc_json_bool(i, "healthy", 0) && nc_json_bool(i, "enabled", 0));
  assert_true(nc_json_bool(i, "ephemeral", 0));
  assert_string_equal(nc_json_str(i, "clusterName", ""), "DEFAULT");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(i, "metadata");
  assert_int_equal(cJSON_GetArraySize(m), 2);
  assert_string_equal(nc_json_str(m, "ver", ""), "2");
  cJSON_Delete(b);
  nc_tw_instance off = {.ip = "10.0.0.2", .port = 81, .weight = 3, .cluster = "c1",
                        .disabled = 1, .unhealthy = 1};
  b = nc_tw_instance_body(NULL, "svc", "deregisterInstance", &off);
  i = cJSON_GetObjectItemCaseSensitive(b, "instance");
  assert_true(nc_json_num(i, "weight", 0) == 3.0);
  assert_false(nc_json_bool(i, "healthy", 1) || nc_json_bool(i, "enabled", 1));
  assert_string_equal(nc_json_str(i, "clusterName", ""), "c1");
  cJSON_Delete(b);
}

static void test_config_body_omits_null_fields(void **state) {
  (void)state;
  cJSON *b = nc_tw_config_body("d", NULL, "");
  assert_string_equal(nc_json_str(b, "dataId", ""), "d");
  assert_false(cJSON_HasObjectItem(b, "group"));
  assert_true(cJSON_HasObjectItem(b, "tenant"));
  assert_string_equal(nc_json_str(b, "module", ""), "config");
  assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(b, "headers")));
  cJSON_Delete(b);
}

static void test_reply_of_reads_base_fields(void **state) {
  (void)state;
  nc_msg m = {.type = "ConfigQueryResponse", .client_ip = ""};
  m.body = cJSON_Parse("{\"resultCode\":500,\"errorCode\":300,\"success\":false,"
                       "\"message\":\"config data not exist\"}");
  nc_tw_reply r = nc_tw_reply_of(&m);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.type, "ConfigQueryResponse");
  assert_int_equal(r.result_code, 500);
  assert_int_equal(r.error_code, 300);
  assert_false(r.success);
  assert_string_equal(r.message, "config data not exist");
  assert_false(nc_tw_ok(&r));
  nc_tw_expect_fail(r, "ConfigQueryResponse", 300, "not exist");
  cJSON_Delete(m.body);
  r = nc_tw_reply_of(NULL); /* a transport failure */
  assert_int_not_equal(r.status, 0);
  assert_false(nc_tw_ok(&r));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_instance_body_defaults_and_metadata),
      cmocka_unit_test(test_config_body_omits_null_fields),
      cmocka_unit_test(test_reply_of_reads_base_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
