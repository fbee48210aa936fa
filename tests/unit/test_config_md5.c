/* Unit tests: MD5 (RFC 1321 appendix A.5 vectors), groupKey escaping, 2.x
 * tenant normalisation, name validation and the string map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_md5.h"
#include "config_util.h"

static void test_md5_rfc1321_vectors(void **state) {
  (void)state;
  static const struct {
    const char *in, *hex;
  } v[] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    char hex[33];
    nc_cfg_md5_hex(v[i].in, strlen(v[i].in), hex);
    assert_string_equal(hex, v[i].hex);
  }
}

/* Streaming in odd chunk sizes must equal the one-shot digest, across the
 * 55/56/64-byte padding boundaries. */
static void test_md5_incremental_matches_oneshot(void **state) {
  (void)state;
  char buf[300];
  for (size_t i = 0; i < sizeof(buf); i++)
    buf[i] = (char)('a' + i % 26);
  for (size_t len = 0; len < sizeof(buf); len++) {
    char one[33], two[33];
    nc_cfg_md5_hex(buf, len, one);
    nc_cfg_md5_ctx c;
    uint8_t d[16];
    nc_cfg_md5_init(&c);
    for (size_t off = 0; off < len;) {
      size_t step = (off % 7) + 1;
      if (step > len - off)
        step = len - off;
      nc_cfg_md5_update(&c, buf + off, step);
      off += step;
    }
    nc_cfg_md5_final(&c, d);
    for (int i = 0; i < 16; i++)
      snprintf(two + i * 2, 3, "%02x", d[i]);
    assert_string_equal(one, two);
  }
}

static void test_md5_utf8_content(void **state) {
  (void)state;
  char hex[33];
  /* "中文" in UTF-8: Nacos hashes the UTF-8 bytes. */
  nc_cfg_md5_hex("\xe4\xb8\xad\xe6\x96\x87", 6, hex);
  assert_string_equal(hex, "a7bac2239fcdcb3a067903d8077c4a07");
}

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

static void count_cb(void *ud, const char *key, void *val) {
  (void)key;
  *(size_t *)ud += (size_t)(uintptr_t)val;
}

static void test_map_put_get_del_grow(void **state) {
  (void)state;
  nc_cfg_map *m = nc_cfg_map_new();
  assert_non_null(m);
  char key[32];
  for (uintptr_t i = 1; i <= 1000; i++) {
    snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
    assert_int_equal(nc_cfg_map_put(m, key, (void *)i, NULL), 0);
  }
  assert_int_equal(nc_cfg_map_size(m), 1000);
  void *old = NULL;
  assert_int_equal(nc_cfg_map_put(m, "k5", (void *)5000, &old), 0);
  assert_ptr_equal(old, (void *)5);
  assert_int_equal(nc_cfg_map_size(m), 1000);
  assert_ptr_equal(nc_cfg_map_get(m, "k999"), (void *)999);
  assert_ptr_equal(nc_cfg_map_del(m, "k999"), (void *)999);
  assert_null(nc_cfg_map_get(m, "k999"));
  assert_null(nc_cfg_map_del(m, "nope"));
  size_t sum = 0;
  nc_cfg_map_foreach(m, count_cb, &sum);
  assert_int_equal(sum, 1000 * 1001 / 2 - 5 + 5000 - 999);
  nc_cfg_map_free(m, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_md5_rfc1321_vectors),
      cmocka_unit_test(test_md5_incremental_matches_oneshot),
      cmocka_unit_test(test_md5_utf8_content),
      cmocka_unit_test(test_group_key_escaping),
      cmocka_unit_test(test_tenant_normalisation),
      cmocka_unit_test(test_name_validation),
      cmocka_unit_test(test_map_put_get_del_grow),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
