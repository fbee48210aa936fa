/* The test layer's wait helpers: NC_TEST_WAIT/NC_TEST_POLL poll until the
 * condition holds, time out after the scaled deadline, and the multiplier
 * from NC_TEST_TIMEOUT_MULTIPLIER scales every deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "nc_testwait.h"

static int g_calls;

static int true_on_fifth_call(void *arg) {
  (void)arg;
  return ++g_calls >= 5;
}

static void test_wait_returns_once_condition_holds(void **state) {
  (void)state;
  g_calls = 0;
  NC_TEST_WAIT(true_on_fifth_call(NULL), 5000);
  assert_int_equal(g_calls, 5);
  g_calls = 0;
  long long took = nc_test_wait_fn(true_on_fifth_call, NULL, 5000);
  assert_true(took >= 0 && took < 1000);
  assert_int_equal(g_calls, 5);
}

static void test_poll_times_out_after_scaled_deadline(void **state) {
  (void)state;
  /* main() set the multiplier to 2: a 100 ms deadline lasts 200 ms. */
  assert_int_equal(nc_test_timeout_ms(100), 200);
  nc_test_deadline d = nc_test_deadline_start(100);
  long long took = 0;
  int evals = 0;
  NC_TEST_POLL((++evals, 0), 100, took);
  assert_int_equal(took, -1);
  long long spent = nc_test_deadline_elapsed(&d);
  assert_true(spent >= 200 && spent < 1000);
  assert_true(evals > 5); /* polled every few ms, not once */
}

static void test_wait_failure_fails_the_test(void **state) {
  (void)state;
  NC_TEST_WAIT(0 == 1, 20);
}

int main(void) {
  setenv("NC_TEST_TIMEOUT_MULTIPLIER", "2", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wait_returns_once_condition_holds),
      cmocka_unit_test(test_poll_times_out_after_scaled_deadline),
  };
  /* A timed-out NC_TEST_WAIT must fail its test: run it alone and expect
   * exactly one failure. */
  const struct CMUnitTest must_fail[] = {
      cmocka_unit_test(test_wait_failure_fails_the_test),
  };
  int rc = NC_TEST_MAIN(tests);
  if (getenv("NC_TEST_FILTER"))
    return rc;
  fprintf(stderr, "(the next test is meant to fail: a timed-out wait must fail its test)\n");
  int failed = NC_TEST_MAIN(must_fail);
  return rc != 0 || failed != 1;
}
