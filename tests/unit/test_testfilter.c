/* NC_TEST_FILTER and NC_TEST_SKIP reach a test program that calls
 * cmocka_run_group_tests() directly and uses nothing else from
 * nc_test_support's nc_testwait.o: the program re-runs itself with the
 * variables set and reads which tests ran. Before the constructor
 * (nc_test_autoinit, linked by -u), all three child tests ran. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nc_testrun.h"

static void child_alpha(void **state) { (void)state; }
static void child_beta_one(void **state) { (void)state; }
static void child_beta_two(void **state) { (void)state; }

static int child_main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(child_alpha),
      cmocka_unit_test(child_beta_one),
      cmocka_unit_test(child_beta_two),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Runs the child with name=val set; its stdout into out. */
static int run_child(const char *name, const char *val, nc_trun *r) {
  const char *argv[] = {"/proc/self/exe", "--child", NULL};
  assert_int_equal(nc_trun_spawn(r, argv, name, val), 0);
  return nc_trun_finish(r, 20000);
}

static int ran(const nc_trun *r, const char *test) {
  char line[128];
  snprintf(line, sizeof(line), "[ RUN      ] %s\n", test);
  return strstr(r->obuf, line) != NULL;
}

static void test_filter_runs_only_matching_tests(void **state) {
  (void)state;
  static nc_trun r;
  assert_int_equal(run_child("NC_TEST_FILTER", "*beta*", &r), 0);
  assert_false(ran(&r, "child_alpha"));
  assert_true(ran(&r, "child_beta_one"));
  assert_true(ran(&r, "child_beta_two"));
  assert_non_null(strstr(r.obuf, "2 test(s) run."));
}

static void test_skip_filter_skips_matching_tests(void **state) {
  (void)state;
  static nc_trun r;
  assert_int_equal(run_child("NC_TEST_SKIP", "child_beta_t*", &r), 0);
  assert_true(ran(&r, "child_alpha"));
  assert_true(ran(&r, "child_beta_one"));
  assert_false(ran(&r, "child_beta_two")); /* cmocka 1.1 leaves it out */
}

static void test_without_filter_all_run(void **state) {
  (void)state;
  static nc_trun r;
  assert_int_equal(run_child(NULL, NULL, &r), 0);
  assert_true(ran(&r, "child_alpha") && ran(&r, "child_beta_one") && ran(&r, "child_beta_two"));
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--child") == 0)
    return child_main();
  /* applied to this program already (before main); the children get only
   * what each test sets */
  unsetenv("NC_TEST_FILTER");
  unsetenv("NC_TEST_SKIP");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter_runs_only_matching_tests),
      cmocka_unit_test(test_skip_filter_skips_matching_tests),
      cmocka_unit_test(test_without_filter_all_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
