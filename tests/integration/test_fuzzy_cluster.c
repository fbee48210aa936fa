/* Fuzzy watch across a 3-node cluster (issue 15; docs/fuzzy-watch.md),
 * configs on one real PostgreSQL: watches held on node C hear of a
 * matching service registered on node A (replicated by Distro) and of a
 * matching config published on node B (the shared store, cluster sync),
 * of their removal too, and of nothing that does not match; a watch
 * started on C later gets both in its initial sync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "distro_itest.h"
#include "fuzzy_itest.h"
#include "nc_testpg.h"

#include <stdio.h>
#include <string.h>

#define NPAT "public>>DEFAULT_GROUP>>fzc-*"
#define CPAT "public>>DEFAULT_GROUP>>fzc.*"

static nc_testpg *g_pg;
static nc_tcluster *g_cl;
static nc_tw *g_tw[8];
static int g_ntw;

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < g_ntw; i++)
    nc_tw_close(g_tw[i]);
  g_ntw = 0;
  int rc = g_cl ? nc_tcluster_stop(g_cl) : 0;
  g_cl = NULL;
  nc_testpg_free(g_pg);
  g_pg = NULL;
  return rc == 0 ? 0 : -1;
}

static nc_tw *open_on(int node) {
  nc_tw *tw = dit_open(g_cl, node, 20000);
  assert_non_null(tw);
  g_tw[g_ntw++] = tw;
  return tw;
}

/* The keys of the INIT batches of pattern tw got, "|"-joined. */
static void init_keys(nc_tw *tw, const char *type, const char *field, char *out, size_t cap) {
  out[0] = '\0';
  int n = nc_tw_push_count(tw, type);
  for (int i = 0; i < n; i++) {
    cJSON *b = nc_tw_push_get(tw, type, i, NULL, 0);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(b, "contexts")) {
      size_t len = strlen(out);
      snprintf(out + len, cap - len, "%s%s", len ? "|" : "", nc_json_str(c, field, ""));
    }
    cJSON_Delete(b);
  }
}

static void test_watch_on_c_sees_changes_made_on_a_and_b(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  assert_int_equal(nc_testpg_start(&g_pg), 0);
  char url[256];
  snprintf(url, sizeof(url), "--db-url=%s", nc_testpg_url(g_pg));
  const char *extra[] = {url, "--config-poll-ms=1000", "--db-timeout-ms=2000", NULL};
  g_cl = cit_start(3, extra);
  nc_tw *a = open_on(0), *b = open_on(1), *wn = open_on(2), *wc = open_on(2);

  nc_tw_expect_ok(fit_watch(wn, 1, NPAT, "WATCH", 1, NULL), "NamingFuzzyWatchResponse");
  nc_tw_expect_ok(fit_watch(wc, 0, CPAT, "WATCH", 1, NULL), "ConfigFuzzyWatchResponse");
  assert_int_equal(nc_tw_wait_pushes(wn, "NamingFuzzyWatchSyncRequest", 1, 5000), 1); /* FINISH */
  assert_int_equal(nc_tw_wait_pushes(wc, "ConfigFuzzyWatchSyncRequest", 1, 5000), 1);

  nc_tw_instance in = {.ip = "10.0.8.1", .port = 9000};
  nc_tw_expect_ok(nc_tw_register(a, "other-svc", &in), "InstanceResponse");
  nc_tw_expect_ok(nc_tw_register(a, "fzc-svc", &in), "InstanceResponse");
  fit_expect_last(wn, "NamingFuzzyWatchChangeNotifyRequest", 1, 10000, "serviceKey",
              "public@@DEFAULT_GROUP@@fzc-svc", "changedType", "ADD_SERVICE");

  nc_tw_expect_ok(nc_tw_config_publish(b, "other.cfg", "DEFAULT_GROUP", NULL, "x", NULL),
                  "ConfigPublishResponse");
  nc_tw_expect_ok(nc_tw_config_publish(b, "fzc.cfg", "DEFAULT_GROUP", NULL, "x", NULL),
                  "ConfigPublishResponse");
  fit_expect_last(wc, "ConfigFuzzyWatchChangeNotifyRequest", 1, 10000, "groupKey",
              "fzc.cfg+DEFAULT_GROUP+public", "changeType", "CONFIG_CHANGED");

  nc_tw_expect_ok(nc_tw_deregister(a, "fzc-svc", &in), "InstanceResponse");
  fit_expect_last(wn, "NamingFuzzyWatchChangeNotifyRequest", 2, 10000, "serviceKey",
              "public@@DEFAULT_GROUP@@fzc-svc", "changedType", "DELETE_SERVICE");
  nc_tw_expect_ok(nc_tw_config_remove(b, "fzc.cfg", "DEFAULT_GROUP", NULL), "ConfigRemoveResponse");
  fit_expect_last(wc, "ConfigFuzzyWatchChangeNotifyRequest", 2, 10000, "groupKey",
              "fzc.cfg+DEFAULT_GROUP+public", "changeType", "DELETE_CONFIG");

  /* a watch that starts later on C: what A and B hold is in its initial sync */
  nc_tw_expect_ok(nc_tw_register(a, "fzc-late", &in), "InstanceResponse");
  nc_tw_expect_ok(nc_tw_config_publish(b, "fzc.late", "DEFAULT_GROUP", NULL, "x", NULL),
                  "ConfigPublishResponse");
  assert_int_equal(nc_tw_wait_pushes(wn, "NamingFuzzyWatchChangeNotifyRequest", 3, 10000), 3);
  assert_int_equal(nc_tw_wait_pushes(wc, "ConfigFuzzyWatchChangeNotifyRequest", 3, 10000), 3);
  nc_tw *late = open_on(2);
  nc_tw_expect_ok(fit_watch(late, 1, NPAT, "WATCH", 1, NULL), "NamingFuzzyWatchResponse");
  nc_tw_expect_ok(fit_watch(late, 0, CPAT, "WATCH", 1, NULL), "ConfigFuzzyWatchResponse");
  assert_int_equal(nc_tw_wait_pushes(late, "NamingFuzzyWatchSyncRequest", 2, 5000), 2);
  assert_int_equal(nc_tw_wait_pushes(late, "ConfigFuzzyWatchSyncRequest", 2, 5000), 2);
  char keys[512];
  init_keys(late, "NamingFuzzyWatchSyncRequest", "serviceKey", keys, sizeof(keys));
  assert_string_equal(keys, "public@@DEFAULT_GROUP@@fzc-late");
  init_keys(late, "ConfigFuzzyWatchSyncRequest", "groupKey", keys, sizeof(keys));
  assert_string_equal(keys, "fzc.late+DEFAULT_GROUP+public");

  /* nothing else was reported: the non-matching ones never were */
  nc_test_sleep_ms(500);
  assert_int_equal(nc_tw_push_count(wn, "NamingFuzzyWatchChangeNotifyRequest"), 3);
  assert_int_equal(nc_tw_push_count(wc, "ConfigFuzzyWatchChangeNotifyRequest"), 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_watch_on_c_sees_changes_made_on_a_and_b, teardown),
  };
  DIT_MAIN(tests);
}
