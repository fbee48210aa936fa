/* Integration (issue 12, limits): nacos-agent refuses a port that is not an
 * integer 1..65535 (1e20 used to be cast to int: undefined behaviour; 80.5
 * was cut to 80) and a weight that is not a number 0..10000 (1e999 parses
 * as inf), with BAD_REQUEST, before anything goes upstream; the bounds
 * themselves register. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_testagent.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static nc_test_stack st;

static int setup(void **state) {
  (void)state;
  return nc_test_stack_start(&st, NULL, NULL);
}

static int teardown(void **state) {
  (void)state;
  return nc_test_stack_stop(&st);
}

/* naming.register of svc with the raw JSON texts port and weight; returns
 * the error code ("" when ok). */
static const char *reg(nc_tc *a, int id, const char *port, const char *weight, char *buf,
                       size_t cap) {
  cJSON *r = nc_tc_call(a, id,
                        "{\"id\":%d,\"op\":\"naming.register\",\"service\":\"bounds\","
                        "\"ip\":\"10.9.0.1\",\"port\":%s,\"weight\":%s}",
                        id, port, weight);
  assert_non_null(r);
  const char *code = nc_tc_ok(r) ? "" : nc_tc_errcode(r);
  snprintf(buf, cap, "%s", code ? code : "?");
  cJSON_Delete(r);
  return buf;
}

static void test_bad_port_and_weight_refused(void **state) {
  (void)state;
  nc_tc *a = nc_tc_open(st.ag.sock);
  assert_non_null(a);
  char b[64];
  int id = 1;
  static const char *const ports[] = {"1e20", "-1e20", "80.5", "0", "65536", "1e999", "\"80\""};
  for (size_t i = 0; i < sizeof(ports) / sizeof(*ports); i++)
    assert_string_equal(reg(a, id++, ports[i], "1", b, sizeof(b)), "BAD_REQUEST");
  static const char *const weights[] = {"1e999", "-1e999", "-1", "10000.01", "\"1\""};
  for (size_t i = 0; i < sizeof(weights) / sizeof(*weights); i++)
    assert_string_equal(reg(a, id++, "8080", weights[i], b, sizeof(b)), "BAD_REQUEST");
  assert_string_equal(reg(a, id++, "65535", "10000", b, sizeof(b)), "");
  assert_string_equal(reg(a, id++, "1", "0", b, sizeof(b)), "");
  /* the agent is still serving this socket */
  cJSON *r = nc_tc_call(a, 900, "{\"id\":900,\"op\":\"agent.status\"}");
  assert_non_null(r);
  assert_true(nc_tc_ok(r));
  cJSON_Delete(r);
  nc_tc_close(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bad_port_and_weight_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
