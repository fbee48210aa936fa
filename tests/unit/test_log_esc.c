/* nc_log_esc: client-supplied strings cannot split or forge a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_log.h"

#include <string.h>

static void test_plain_copied(void **state) {
  (void)state;
  char buf[64];
  assert_string_equal(nc_log_esc("demo.svc@@DEFAULT_GROUP", buf, sizeof buf),
                      "demo.svc@@DEFAULT_GROUP");
  /* UTF-8 passes through untouched. */
  assert_string_equal(nc_log_esc("caf\xc3\xa9", buf, sizeof buf), "caf\xc3\xa9");
  assert_string_equal(nc_log_esc("", buf, sizeof buf), "");
  assert_string_equal(nc_log_esc(NULL, buf, sizeof buf), "(null)");
}

static void test_controls_escaped(void **state) {
  (void)state;
  char buf[128];
  const char *out =
      nc_log_esc("a\nb\r\tc\\d\"e\x01\x7f\x1b[31m", buf, sizeof buf);
  assert_string_equal(out, "a\\nb\\r\\tc\\\\d\\\"e\\x01\\x7f\\x1b[31m");
  for (const char *p = out; *p; p++)
    assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
  /* A forged line is one line after escaping. */
  out = nc_log_esc("svc\n12:00:00.000 nacos-agent[1] error forged", buf, sizeof buf);
  assert_null(strchr(out, '\n'));
}

static void test_embedded_nul_with_n(void **state) {
  (void)state;
  char buf[32];
  assert_string_equal(nc_log_esc_n("a\0b", 3, buf, sizeof buf), "a\\x00b");
}

static void test_truncation_keeps_whole_escapes(void **state) {
  (void)state;
  char buf[8];
  /* Fits exactly: 7 bytes of output. */
  assert_string_equal(nc_log_esc("abcdefg", buf, sizeof buf), "abcdefg");
  assert_string_equal(nc_log_esc("abcdefgh", buf, sizeof buf), "abcd...");
  /* The cut never splits \x01 into \x0 or similar. */
  assert_string_equal(nc_log_esc("ab\x01zzzzz", buf, sizeof buf), "ab...");
  assert_string_equal(nc_log_esc("a\x01zzzzzz", buf, sizeof buf), "a...");
  char tiny[3];
  assert_string_equal(nc_log_esc("abc", tiny, sizeof tiny), "");
  /* The macro's buffer: long input ends in "..." within the cap. */
  char big[1000];
  memset(big, '\n', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  const char *m = NC_LOG_ESC(big);
  assert_true(strlen(m) < NC_LOG_ESC_MAX);
  assert_string_equal(m + strlen(m) - 3, "...");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_copied),
      cmocka_unit_test(test_controls_escaped),
      cmocka_unit_test(test_embedded_nul_with_n),
      cmocka_unit_test(test_truncation_keeps_whole_escapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
