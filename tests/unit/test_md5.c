/* Unit tests: nc_md5 against the RFC 1321 appendix A.5 vectors, streaming
 * versus one-shot across the padding boundaries, and UTF-8 content. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nc_md5.h"

static void test_md5_rfc1321_vectors(void **state) {
  (void)state;
  static const struct {
    const char *in, *hex;
  } v[] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"hello", "5d41402abc4b2a76b9719d911017c592"},
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
    nc_md5_hex(v[i].in, strlen(v[i].in), hex);
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
    nc_md5_hex(buf, len, one);
    nc_md5_ctx c;
    uint8_t d[16];
    nc_md5_init(&c);
    for (size_t off = 0; off < len;) {
      size_t step = (off % 7) + 1;
      if (step > len - off)
        step = len - off;
      nc_md5_update(&c, buf + off, step);
      off += step;
    }
    nc_md5_final(&c, d);
    for (int i = 0; i < 16; i++)
      snprintf(two + i * 2, 3, "%02x", d[i]);
    assert_string_equal(one, two);
  }
}

static void test_md5_utf8_content(void **state) {
  (void)state;
  char hex[33];
  /* "中文" in UTF-8: Nacos hashes the UTF-8 bytes. */
  nc_md5_hex("\xe4\xb8\xad\xe6\x96\x87", 6, hex);
  assert_string_equal(hex, "a7bac2239fcdcb3a067903d8077c4a07");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_md5_rfc1321_vectors),
      cmocka_unit_test(test_md5_incremental_matches_oneshot),
      cmocka_unit_test(test_md5_utf8_content),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
