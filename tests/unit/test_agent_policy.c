/* The agent's --uid-policy (agent/policy.c): parsing and refusals, which
 * ops need which mode, who is not restricted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "policy.h"

static void test_grants(void **state) {
  (void)state;
  nc_ag_policy *p = NULL;
  char err[200];
  assert_int_equal(nc_ag_policy_parse("1000:rw:dev;1000:r:public;1001:r:*", &p, err, sizeof(err)),
                   0);
  assert_non_null(p);
  assert_true(nc_ag_policy_allows(p, 1000, "dev", 'w'));
  assert_true(nc_ag_policy_allows(p, 1000, "dev", 'r'));
  assert_true(nc_ag_policy_allows(p, 1000, "public", 'r'));
  assert_true(nc_ag_policy_allows(p, 1000, "", 'r')); /* "" is public */
  assert_false(nc_ag_policy_allows(p, 1000, "public", 'w'));
  assert_false(nc_ag_policy_allows(p, 1000, "prod", 'r'));
  assert_true(nc_ag_policy_allows(p, 1001, "prod", 'r'));
  assert_false(nc_ag_policy_allows(p, 1001, "prod", 'w'));
  assert_true(nc_ag_policy_allows(p, 4242, "prod", 'w')); /* unlisted: not restricted */
  assert_true(nc_ag_policy_allows(p, 0, "prod", 'w'));    /* root */
  assert_false(nc_ag_policy_allows(p, -1, "prod", 'r'));  /* unknown peer */
  nc_ag_policy_free(p);
  assert_true(nc_ag_policy_allows(NULL, 1000, "x", 'w'));
}

static void test_bad_specs(void **state) {
  (void)state;
  nc_ag_policy *p = (nc_ag_policy *)1;
  char err[200];
  const char *bad[] = {"1000", "1000:rw", "x:rw:dev", "1000:w:dev", "1000:rw:", "1000:rw:a,,b",
                       ":rw:dev"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    assert_int_equal(nc_ag_policy_parse(bad[i], &p, err, sizeof(err)), NC_EINVAL);
    assert_null(p);
    assert_true(err[0] != '\0');
  }
  assert_int_equal(nc_ag_policy_parse("", &p, err, sizeof(err)), 0);
  assert_null(p);
}

static void test_op_modes(void **state) {
  (void)state;
  assert_int_equal(nc_ag_policy_op_mode("naming.register"), 'w');
  assert_int_equal(nc_ag_policy_op_mode("config.publish"), 'w');
  assert_int_equal(nc_ag_policy_op_mode("config.rollback"), 'w');
  assert_int_equal(nc_ag_policy_op_mode("config.get"), 'r');
  assert_int_equal(nc_ag_policy_op_mode("naming.subscribe"), 'r');
  assert_int_equal(nc_ag_policy_op_mode("agent.status"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grants),
      cmocka_unit_test(test_bad_specs),
      cmocka_unit_test(test_op_modes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
