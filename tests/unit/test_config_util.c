/* Unit tests: groupKey escaping, 2.x tenant normalisation, name validation
 * (MD5 is in test_md5.c, the string map in test_strmap.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_util.h"

static void test_group_key_escaping(void **state) {
  (void)state;
  char *k = nc_cfg_group_key("app.yaml", "DEFAULT_GROUP", "");
  assert_string_equal(k, "app.yaml+DEFAULT_GROUP");
  free(k);
  k = nc_cfg_group_key("a+b", "g%1", "ns");
  assert_string_equal(k, "a%2Bb+g%251+ns");
  free(k);
  k = nc_cfg_group_key("d", "g", NULL);
  assert_string_equal(k, "d+g");
  free(k);
  k = nc_cfg_group_key("%+", "+", "t+%");
  assert_string_equal(k, "%25%2B+%2B+t%2B%25");
  free(k);
}

static void test_tenant_normalisation(void **state) {
  (void)state;
  assert_string_equal(nc_cfg_norm_tenant(NULL), "");
  assert_string_equal(nc_cfg_norm_tenant(""), "");
  assert_string_equal(nc_cfg_norm_tenant("  "), "");
  assert_string_equal(nc_cfg_norm_tenant("public"), "");
  assert_string_equal(nc_cfg_norm_tenant("PUBLIC"), "");
  assert_string_equal(nc_cfg_norm_tenant("null"), "");
  assert_string_equal(nc_cfg_norm_tenant("Null"), "");
  assert_string_equal(nc_cfg_norm_tenant("dev"), "dev");
  assert_string_equal(nc_cfg_norm_tenant("publicx"), "publicx");
}

static void test_name_validation(void **state) {
  (void)state;
  assert_true(nc_cfg_valid_name("app-1_x:y.yaml", 256));
  assert_false(nc_cfg_valid_name("", 256));
  assert_false(nc_cfg_valid_name(NULL, 256));
  assert_false(nc_cfg_valid_name("a b", 256));
  assert_false(nc_cfg_valid_name("a/b", 256));
  assert_false(nc_cfg_valid_name("a+b", 256));
  assert_false(nc_cfg_valid_name("abcd", 3));
  assert_true(nc_cfg_valid_tenant(""));
  assert_true(nc_cfg_valid_tenant("dev-ns_1"));
  assert_false(nc_cfg_valid_tenant("dev.ns"));
  assert_true(nc_cfg_blank(" \t\n"));
  assert_false(nc_cfg_blank(" x "));
  assert_string_equal(nc_cfg_content_type("YAML"), "yaml");
  assert_string_equal(nc_cfg_content_type("exe"), "text");
  assert_string_equal(nc_cfg_content_type(NULL), "text");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_key_escaping),
      cmocka_unit_test(test_tenant_normalisation),
      cmocka_unit_test(test_name_validation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
