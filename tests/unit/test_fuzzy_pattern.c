/* Fuzzy-watch patterns (srv_fuzzy.c) against Nacos 3.x's
 * FuzzyGroupKeyPattern: "namespace>>group>>name" split like Java's
 * split(">>"), the namespace literal, and for group and name: exact
 * without '*', "*" for anything, '*' first and last = contains, first =
 * suffix, last = prefix (every '*' removed from the text), '*' only in
 * the middle = nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nc_err.h"
#include "srv_fuzzy.h"

#include <string.h>

static int item(const char *pat, const char *s) { return nc_fz_item_match(pat, strlen(pat), s); }

static int match(const char *pattern, const char *ns, const char *group, const char *name) {
  nc_fz_parts p;
  assert_int_equal(nc_fz_split(pattern, &p), 0);
  return nc_fz_match(&p, ns, group, name);
}

static void test_split_takes_three_parts(void **state) {
  (void)state;
  nc_fz_parts p;
  assert_int_equal(nc_fz_split("public>>DEFAULT_GROUP>>svc*", &p), 0);
  assert_int_equal(p.ns_len, 6);
  assert_memory_equal(p.ns, "public", 6);
  assert_int_equal(p.group_len, 13);
  assert_memory_equal(p.group, "DEFAULT_GROUP", 13);
  assert_int_equal(p.name_len, 4);
  assert_memory_equal(p.name, "svc*", 4);
  /* separators are found left to right, as Java's regex split does */
  assert_int_equal(nc_fz_split("a>>>b>>c", &p), 0);
  assert_int_equal(p.ns_len, 1);
  assert_int_equal(p.group_len, 2);
  assert_memory_equal(p.group, ">b", 2);
  assert_memory_equal(p.name, "c", 1);
  /* single '>' is an ordinary character */
  assert_int_equal(nc_fz_split("n>s>>g>x>>*", &p), 0);
  assert_int_equal(p.ns_len, 3);
}

static void test_split_refuses_malformed_patterns(void **state) {
  (void)state;
  nc_fz_parts p;
  static const char *const bad[] = {"", "public", "public>>g", "a>>b>>c>>d", ">>g>>s",
                                    "ns>>>>s", "ns>>g>>", ">>>>", "a>>b>>c>>"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(nc_fz_split(bad[i], &p), NC_EINVAL);
    assert_null(p.ns); /* nothing half-filled */
  }
  assert_int_equal(nc_fz_split(NULL, &p), NC_EINVAL);
  char big[NC_FZ_PATTERN_MAX + 2];
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  memcpy(big, "n>>g>>", 6);
  assert_int_equal(nc_fz_split(big, &p), NC_EINVAL);
  big[NC_FZ_PATTERN_MAX] = '\0'; /* exactly the maximum is fine */
  assert_int_equal(nc_fz_split(big, &p), 0);
}

static void test_item_exact_without_star(void **state) {
  (void)state;
  assert_true(item("abc", "abc"));
  assert_false(item("abc", "abcd"));
  assert_false(item("abc", "ab"));
  assert_false(item("abc", "ABC")); /* case matters */
  assert_false(item("abc", ""));
  assert_false(item("abc", NULL));
}

static void test_item_star_alone_matches_anything(void **state) {
  (void)state;
  assert_true(item("*", "abc"));
  assert_true(item("*", ""));
  assert_true(item("**", "x")); /* first and last: contains "" */
  assert_true(item("***", ""));
}

static void test_item_prefix_suffix_contains(void **state) {
  (void)state;
  assert_true(item("ab*", "abc"));
  assert_true(item("ab*", "ab"));
  assert_false(item("ab*", "xab"));
  assert_true(item("*bc", "abc"));
  assert_true(item("*bc", "bc"));
  assert_false(item("*bc", "bcx"));
  assert_true(item("*b*", "abc"));
  assert_true(item("*b*", "b"));
  assert_false(item("*b*", "ac"));
  assert_false(item("*long*", "lon"));
}

static void test_item_inner_stars_are_removed_or_match_nothing(void **state) {
  (void)state;
  /* only in the middle: Nacos matches nothing */
  assert_false(item("a*c", "abc"));
  assert_false(item("a*c", "ac"));
  /* with a leading/trailing star, inner ones are dropped from the text */
  assert_true(item("*a*b", "xxab"));
  assert_false(item("*a*b", "axb"));
  assert_true(item("a*b*", "abz"));
  assert_false(item("a*b*", "axbz"));
  assert_true(item("*a*b*", "zabz"));
  assert_false(item("*a*b*", "azb"));
  assert_true(item("a**", "a"));
}

static void test_namespace_is_literal_and_defaults_to_public(void **state) {
  (void)state;
  assert_true(match("public>>DEFAULT_GROUP>>svc", "", "DEFAULT_GROUP", "svc"));
  assert_true(match("public>>DEFAULT_GROUP>>svc", NULL, "DEFAULT_GROUP", "svc"));
  assert_true(match("public>>DEFAULT_GROUP>>svc", "public", "DEFAULT_GROUP", "svc"));
  assert_false(match("dev>>DEFAULT_GROUP>>svc", "", "DEFAULT_GROUP", "svc"));
  assert_true(match("dev>>DEFAULT_GROUP>>svc", "dev", "DEFAULT_GROUP", "svc"));
  /* no wildcard in the namespace part */
  assert_false(match("*>>DEFAULT_GROUP>>svc", "dev", "DEFAULT_GROUP", "svc"));
  assert_true(match("*>>DEFAULT_GROUP>>svc", "*", "DEFAULT_GROUP", "svc"));
  assert_false(match("devx>>g>>s", "dev", "g", "s"));
  assert_false(match("de>>g>>s", "dev", "g", "s"));
}

static void test_group_and_name_both_must_match(void **state) {
  (void)state;
  assert_true(match("public>>*>>order-*", "", "ANY", "order-api"));
  assert_false(match("public>>*>>order-*", "", "ANY", "pay-api"));
  assert_true(match("public>>team-*>>*", "", "team-a", "x"));
  assert_false(match("public>>team-*>>*", "", "DEFAULT_GROUP", "x"));
  assert_false(match("public>>g>>s", "", "s", "g")); /* order of the parts */
  /* a name that itself contains ">" */
  assert_true(match("public>>g>>a>b", "", "g", "a>b"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_split_takes_three_parts),
      cmocka_unit_test(test_split_refuses_malformed_patterns),
      cmocka_unit_test(test_item_exact_without_star),
      cmocka_unit_test(test_item_star_alone_matches_anything),
      cmocka_unit_test(test_item_prefix_suffix_contains),
      cmocka_unit_test(test_item_inner_stars_are_removed_or_match_nothing),
      cmocka_unit_test(test_namespace_is_literal_and_defaults_to_public),
      cmocka_unit_test(test_group_and_name_both_must_match),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
