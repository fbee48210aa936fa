/* nc_auth_cred's verified-pair cache and failure budget, with the time
 * passed in: a put pair is found under its generation until its ttl runs
 * out; another password, another user, a new generation or an expired
 * entry miss (and the stale entry is dropped); a full cache drops its
 * oldest entry; a burst of failures spends the budget, which refills at
 * its rate; the in-flight cap holds; the counters count. */
#include "nc_auth_cred.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>

static void test_hit_miss_and_expiry(void **st) {
  (void)st;
  nc_auth_cred *c = nc_auth_cred_new(4, 1000);
  assert_non_null(c);
  assert_int_equal(nc_auth_cred_get(c, "u", "pw", 1, 0), 0);
  nc_auth_cred_put(c, "u", "pw", 1, 100);
  assert_int_equal(nc_auth_cred_get(c, "u", "pw", 1, 100), 1);
  assert_int_equal(nc_auth_cred_get(c, "u", "pw", 1, 1099), 1);
  assert_int_equal(nc_auth_cred_get(c, "u", "pw2", 1, 200), 0);
  assert_int_equal(nc_auth_cred_get(c, "v", "pw", 1, 200), 0);
  /* the user's length is hashed in: ("u","pw") is not ("up","w") */
  assert_int_equal(nc_auth_cred_get(c, "up", "w", 1, 200), 0);
  /* past the ttl: gone, and it stays gone */
  assert_int_equal(nc_auth_cred_get(c, "u", "pw", 1, 1100), 0);
  assert_int_equal(nc_auth_cred_get(c, "u", "pw", 1, 200), 0);
  nc_auth_cred_stats s;
  nc_auth_cred_get_stats(c, &s);
  assert_int_equal(s.hits, 2);
  nc_auth_cred_free(c);
}

static void test_generation_invalidates(void **st) {
  (void)st;
  nc_auth_cred *c = nc_auth_cred_new(0, 0); /* defaults: 64 entries, 60 s */
  assert_non_null(c);
  nc_auth_cred_put(c, "u", "pw", 7, 0);
  assert_int_equal(nc_auth_cred_get(c, "u", "pw", 7, 59999), 1);
  assert_int_equal(nc_auth_cred_get(c, "u", "pw", 7, 60000), 0);
  nc_auth_cred_put(c, "u", "pw", 7, 0);
  assert_int_equal(nc_auth_cred_get(c, "u", "pw", 8, 1), 0); /* a password changed */
  assert_int_equal(nc_auth_cred_get(c, "u", "pw", 7, 1), 0); /* and the entry was dropped */
  /* a put replaces the pair's old entry */
  nc_auth_cred_put(c, "u", "pw", 7, 0);
  nc_auth_cred_put(c, "u", "pw", 9, 10);
  assert_int_equal(nc_auth_cred_get(c, "u", "pw", 9, 20), 1);
  nc_auth_cred_free(c);
  nc_auth_cred_free(NULL);
}

static void test_full_cache_drops_the_oldest(void **st) {
  (void)st;
  nc_auth_cred *c = nc_auth_cred_new(3, 10000);
  nc_auth_cred_put(c, "a", "1", 1, 10);
  nc_auth_cred_put(c, "b", "1", 1, 5); /* the oldest */
  nc_auth_cred_put(c, "c", "1", 1, 20);
  nc_auth_cred_put(c, "d", "1", 1, 30);
  assert_int_equal(nc_auth_cred_get(c, "b", "1", 1, 40), 0);
  assert_int_equal(nc_auth_cred_get(c, "a", "1", 1, 40), 1);
  assert_int_equal(nc_auth_cred_get(c, "c", "1", 1, 40), 1);
  assert_int_equal(nc_auth_cred_get(c, "d", "1", 1, 40), 1);
  nc_auth_cred_free(c);
}

static void test_failure_budget(void **st) {
  (void)st;
  nc_auth_cred *c = nc_auth_cred_new(0, 0);
  uint64_t t = 1000;
  int admitted = 0;
  for (int i = 0; i < 30; i++)
    if (nc_auth_cred_admit(c, t)) {
      admitted++;
      nc_auth_cred_done(c, 0, t);
    }
  assert_int_equal(admitted, NC_AUTH_CRED_FAIL_BURST);
  /* one second later: NC_AUTH_CRED_FAIL_RATE more */
  t += 1000;
  admitted = 0;
  for (int i = 0; i < 30; i++)
    if (nc_auth_cred_admit(c, t)) {
      admitted++;
      nc_auth_cred_done(c, 0, t);
    }
  assert_int_equal(admitted, NC_AUTH_CRED_FAIL_RATE);
  /* successes spend nothing, but the in-flight cap holds */
  t += 100000;
  for (int i = 0; i < NC_AUTH_CRED_INFLIGHT; i++)
    assert_int_equal(nc_auth_cred_admit(c, t), 1);
  assert_int_equal(nc_auth_cred_admit(c, t), 0);
  for (int i = 0; i < NC_AUTH_CRED_INFLIGHT; i++)
    nc_auth_cred_done(c, 1, t);
  for (int i = 0; i < 50; i++) {
    assert_int_equal(nc_auth_cred_admit(c, t), 1);
    nc_auth_cred_done(c, 1, t);
  }
  nc_auth_cred_stats s;
  nc_auth_cred_get_stats(c, &s);
  assert_int_equal(s.failed, NC_AUTH_CRED_FAIL_BURST + NC_AUTH_CRED_FAIL_RATE);
  assert_int_equal(s.verified, NC_AUTH_CRED_INFLIGHT + 50);
  assert_int_equal(s.throttled, 60 - NC_AUTH_CRED_FAIL_BURST - NC_AUTH_CRED_FAIL_RATE + 1);
  nc_auth_cred_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hit_miss_and_expiry),
      cmocka_unit_test(test_generation_invalidates),
      cmocka_unit_test(test_full_cache_drops_the_oldest),
      cmocka_unit_test(test_failure_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
