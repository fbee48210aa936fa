/* nacos-agent holder sets (issue 9 item 3): two apps that register the same
 * ip:port (+cluster) in one service (a hot restart, a blue/green switch)
 * each hold it; the instance stays on the server while any hold is left,
 * each app's deregister releases only its own hold, and the most recent
 * registration's data is what the server shows. The server's view is read
 * by an app that does not subscribe (naming.instances then asks nacosd). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testwait.h"

static nc_test_stack st;

static int setup(void **s) { return (void)s, nc_test_stack_start(&st, NULL, NULL); }
static int teardown(void **s) { return (void)s, nc_test_stack_stop(&st); }

/* Opens n app connections to the agent. */
static void open_apps(tc **apps, int n) {
  for (int i = 0; i < n; i++) {
    apps[i] = tc_open(st.ag.sock);
    assert_non_null(apps[i]);
  }
}

#define REG_FMT                                                                                    \
  "{\"id\":%d,\"op\":\"naming.register\",\"service\":\"%s\",\"ip\":\"10.9.0.1\",\"port\":80,"     \
  "\"weight\":%d,\"metadata\":{\"color\":\"%s\"}}"
#define DEREG_FMT                                                                                  \
  "{\"id\":%d,\"op\":\"naming.deregister\",\"service\":\"%s\",\"ip\":\"10.9.0.1\",\"port\":80}"

/* The server's list of svc as seen by viewer: the number of hosts, and the
 * first host's color and weight into color/weight when there is one. */
static int server_view(tc *viewer, const char *svc, char *color, size_t cap, int *weight) {
  cJSON *r = tc_call(viewer, 100, "{\"id\":100,\"op\":\"naming.instances\",\"service\":\"%s\"}", svc);
  int n = -1;
  if (color)
    color[0] = '\0';
  if (tc_ok(r)) {
    n = hosts_count(r);
    cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "hosts"), 0);
    const cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(h, "metadata"), "color");
    if (color && cJSON_IsString(c))
      snprintf(color, cap, "%s", c->valuestring);
    const cJSON *w = cJSON_GetObjectItem(h, "weight");
    if (weight && cJSON_IsNumber(w))
      *weight = (int)w->valuedouble;
  }
  cJSON_Delete(r);
  return n;
}

/* Polls until the server shows n hosts and (when want is set) the first
 * one's color is want. */
static int view_is(tc *viewer, const char *svc, int n, const char *want) {
  char color[64];
  int w = 0;
  if (server_view(viewer, svc, color, sizeof(color), &w) != n)
    return 0;
  return !want || !strcmp(color, want);
}

static void test_instance_survives_first_holder_closing(void **state) {
  (void)state;
  tc *apps[3];
  open_apps(apps, 3);
  tc *blue = apps[0], *green = apps[1], *viewer = apps[2];
  assert_true(tc_call_ok(blue, 1, REG_FMT, 1, "bg", 1, "blue"));
  NC_TEST_WAIT(view_is(viewer, "bg", 1, "blue"), 5000);
  /* The second registration's data wins while both hold it. */
  assert_true(tc_call_ok(green, 1, REG_FMT, 1, "bg", 3, "green"));
  NC_TEST_WAIT(view_is(viewer, "bg", 1, "green"), 5000);
  char color[64];
  int weight = 0;
  assert_int_equal(server_view(viewer, "bg", color, sizeof(color), &weight), 1);
  assert_int_equal(weight, 3);
  assert_int_equal(status_int(viewer, "instances"), 1);

  /* The first app exits as apps do (deregister on the way out, then close):
   * green still holds the instance, so it stays (before the fix it vanished
   * from the server here). */
  assert_true(tc_call_ok(blue, 2, DEREG_FMT, 2, "bg"));
  tc_close(blue);
  NC_TEST_WAIT(status_int(viewer, "instances") == 1 && status_int(viewer, "apps") == 2, 5000);
  nc_test_quiet_ms(1000);
  assert_int_equal(server_view(viewer, "bg", color, sizeof(color), &weight), 1);
  assert_string_equal(color, "green");
  assert_int_equal(weight, 3);

  /* green's deregister applies to its own hold (was NOT_FOUND), and the
   * instance leaves with the last hold. */
  assert_true(tc_call_ok(green, 2, DEREG_FMT, 2, "bg"));
  NC_TEST_WAIT(view_is(viewer, "bg", 0, NULL), 5000);
  cJSON *r = tc_call(green, 3, DEREG_FMT, 3, "bg");
  assert_string_equal(tc_errcode(r), "NOT_FOUND");
  cJSON_Delete(r);
  tc_close(green);
  tc_close(viewer);
}

static void test_each_deregister_releases_only_its_own_hold(void **state) {
  (void)state;
  tc *apps[3];
  open_apps(apps, 3);
  tc *a = apps[0], *b = apps[1], *other = apps[2];
  assert_true(tc_call_ok(a, 1, REG_FMT, 1, "own", 1, "a"));
  assert_true(tc_call_ok(b, 1, REG_FMT, 1, "own", 2, "b"));
  NC_TEST_WAIT(view_is(other, "own", 1, "b"), 5000);

  /* An app that holds nothing cannot take the instance away. */
  cJSON *r = tc_call(other, 1, DEREG_FMT, 1, "own");
  assert_string_equal(tc_errcode(r), "NOT_FOUND");
  assert_non_null(strstr(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "error"), "message")
                             ->valuestring, "2 other app(s) hold it"));
  cJSON_Delete(r);

  /* The most recent holder leaves: the instance stays with a's data again. */
  assert_true(tc_call_ok(b, 2, DEREG_FMT, 2, "own"));
  NC_TEST_WAIT(view_is(other, "own", 1, "a"), 5000);
  /* Registering again makes a hold the most recent one: no duplicate. */
  assert_true(tc_call_ok(b, 3, REG_FMT, 3, "own", 2, "b2"));
  NC_TEST_WAIT(view_is(other, "own", 1, "b2"), 5000);
  assert_true(tc_call_ok(b, 4, REG_FMT, 4, "own", 2, "b3"));
  NC_TEST_WAIT(view_is(other, "own", 1, "b3"), 5000);
  assert_true(tc_call_ok(b, 5, DEREG_FMT, 5, "own"));
  NC_TEST_WAIT(view_is(other, "own", 1, "a"), 5000);
  r = tc_call(b, 6, DEREG_FMT, 6, "own");
  assert_string_equal(tc_errcode(r), "NOT_FOUND");
  cJSON_Delete(r);

  /* The last hold goes with its socket. */
  tc_close(a);
  NC_TEST_WAIT(view_is(other, "own", 0, NULL), 5000);
  assert_int_equal(status_int(other, "instances"), 0);
  tc_close(b);
  tc_close(other);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_instance_survives_first_holder_closing),
      cmocka_unit_test(test_each_deregister_releases_only_its_own_hold),
  };
  return NC_TEST_RUN_GROUP(tests, setup, teardown);
}
