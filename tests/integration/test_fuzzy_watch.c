/* Fuzzy watch (Nacos 3.x, issue 15; docs/fuzzy-watch.md) on one real
 * nacosd over the gRPC protocol: NamingFuzzyWatchRequest and
 * ConfigFuzzyWatchRequest get the initial sync of the matching keys
 * (FUZZY_WATCH_INIT_NOTIFY batches, then FINISH), then a change
 * notification for each matching service or config that appears or goes,
 * nothing for the others, nothing after CANCEL_WATCH; the pattern and
 * match limits answer Nacos's 50310 / 50311; bad requests 400; a sync that
 * is not acked is sent again; a closed connection leaves nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nc_grpc.h"
#include "fuzzy_itest.h"
#include "nc_json.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSYNC "NamingFuzzyWatchSyncRequest"
#define NNOTIFY "NamingFuzzyWatchChangeNotifyRequest"
#define CSYNC "ConfigFuzzyWatchSyncRequest"
#define CNOTIFY "ConfigFuzzyWatchChangeNotifyRequest"

static int setup(void **state) {
  static const char *const args[] = {"--fuzzy-watch-max-patterns", "3",
                                     "--fuzzy-watch-max-matches", "5",
                                     "--push-timeout-ms", "700",
                                     "--push-retry-ms", "200", NULL};
  nc_tfx *f = NULL;
  if (nc_tfx_start(args, &f) != 0)
    return -1;
  *state = f;
  return 0;
}

/* Nacos's default limits (20 patterns, 500 matches). */
static int setup_defaults(void **state) {
  nc_tfx *f = NULL;
  if (nc_tfx_start(NULL, &f) != 0)
    return -1;
  *state = f;
  return 0;
}

static int setup_auth(void **state) {
  static const char *const args[] = {"--auth", "on", NULL};
  nc_tfx *f = NULL;
  if (nc_tfx_start(args, &f) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) { return nc_tfx_stop(*state) == 0 ? 0 : -1; }

/* Every key field of the contexts of all type pushes for pattern, as one
 * string "k1|k2|..." sorted by arrival; *finish = FINISH pushes seen. */
static int sync_keys(nc_tw *tw, const char *type, const char *field, const char *pattern,
                     const char *want_type, char *out, size_t cap, int *finish) {
  int n = 0, total = nc_tw_push_count(tw, type);
  out[0] = '\0';
  *finish = 0;
  for (int i = 0; i < total; i++) {
    cJSON *b = nc_tw_push_get(tw, type, i, NULL, 0);
    assert_non_null(b);
    if (strcmp(nc_json_str(b, "groupKeyPattern", ""), pattern) == 0) {
      if (strcmp(nc_json_str(b, "syncType", ""), "FINISH_FUZZY_WATCH_INIT_NOTIFY") == 0)
        (*finish)++;
      const cJSON *c;
      cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(b, "contexts")) {
        assert_string_equal(nc_json_str(c, "changedType", ""), want_type);
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%s", len ? "|" : "", nc_json_str(c, field, ""));
        n++;
      }
    }
    cJSON_Delete(b);
  }
  return n;
}

static int has_key(const char *keys, const char *k) {
  size_t n = strlen(k);
  for (const char *p = keys; (p = strstr(p, k)); p += n)
    if ((p == keys || p[-1] == '|') && (p[n] == '\0' || p[n] == '|'))
      return 1;
  return 0;
}

static void reg(nc_tw *tw, const char *svc) {
  nc_tw_instance in = {.ip = "10.0.7.1", .port = 8080};
  nc_tw_expect_ok(nc_tw_register(tw, svc, &in), "InstanceResponse");
}

static void test_naming_sync_notify_cancel(void **state) {
  nc_tfx *f = *state;
  nc_tw *pub = nc_tfx_connect(f, NULL), *w = nc_tfx_connect(f, NULL);
  assert_non_null(pub);
  assert_non_null(w);
  reg(pub, "fz-a1");
  reg(pub, "fz-a2");
  reg(pub, "other-a");
  const char *pat = "public>>DEFAULT_GROUP>>fz-a*";
  nc_tw_expect_ok(fit_watch(w, 1, pat, "WATCH", 1, NULL), "NamingFuzzyWatchResponse");
  assert_true(nc_tw_wait_pushes(w, NSYNC, 2, 5000) >= 2); /* one batch + FINISH */
  char keys[1024];
  int finish = 0;
  assert_int_equal(sync_keys(w, NSYNC, "serviceKey", pat, "ADD_SERVICE", keys, sizeof(keys),
                             &finish), 2);
  assert_true(has_key(keys, "public@@DEFAULT_GROUP@@fz-a1"));
  assert_true(has_key(keys, "public@@DEFAULT_GROUP@@fz-a2"));
  assert_int_equal(finish, 1);
  cJSON *first = nc_tw_push_get(w, NSYNC, 0, NULL, 0);
  assert_string_equal(nc_json_str(first, "syncType", ""), "FUZZY_WATCH_INIT_NOTIFY");
  assert_string_equal(nc_json_str(first, "module", ""), "naming");
  assert_int_equal(nc_json_int(first, "totalBatch", 0), 1);
  cJSON_Delete(first);

  reg(pub, "fz-a3");
  fit_expect_last(w, NNOTIFY, 1, 5000, "serviceKey", "public@@DEFAULT_GROUP@@fz-a3", "changedType",
                "ADD_SERVICE");
  cJSON *n = nc_tw_push_get(w, NNOTIFY, -1, NULL, 0);
  assert_string_equal(nc_json_str(n, "syncType", ""), "FUZZY_WATCH_RESOURCE_CHANGED");
  cJSON_Delete(n);
  reg(pub, "other-b"); /* no match */
  nc_tw_instance in = {.ip = "10.0.7.1", .port = 8080};
  nc_tw_expect_ok(nc_tw_deregister(pub, "fz-a3", &in), "InstanceResponse");
  fit_expect_last(w, NNOTIFY, 2, 5000, "serviceKey", "public@@DEFAULT_GROUP@@fz-a3", "changedType",
                "DELETE_SERVICE");
  /* a second instance of a known service is no fuzzy-watch event */
  nc_tw_instance in2 = {.ip = "10.0.7.2", .port = 8080};
  nc_tw_expect_ok(nc_tw_register(pub, "fz-a1", &in2), "InstanceResponse");

  /* an instance registered over the HTTP open API counts like any other */
  int status = 0;
  char *body = NULL;
  assert_int_equal(nc_test_http_req(f->srv->port, "POST", "/nacos/v1/ns/instance",
                                    "serviceName=fz-a-http&ip=10.0.7.9&port=80", NULL, &status,
                                    &body),
                   0);
  free(body);
  assert_int_equal(status, 200);
  fit_expect_last(w, NNOTIFY, 3, 5000, "serviceKey", "public@@DEFAULT_GROUP@@fz-a-http",
                  "changedType", "ADD_SERVICE");

  nc_tw_expect_ok(fit_watch(w, 1, pat, "CANCEL_WATCH", 0, NULL), "NamingFuzzyWatchResponse");
  reg(pub, "fz-a9");
  nc_test_sleep_ms(800);
  assert_int_equal(nc_tw_push_count(w, NNOTIFY), 3);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_fuzzy_watches"), 0);
}

static void test_config_sync_notify_cancel(void **state) {
  nc_tfx *f = *state;
  nc_tw *pub = nc_tfx_connect(f, NULL), *w = nc_tfx_connect(f, NULL);
  assert_non_null(pub);
  assert_non_null(w);
  nc_tw_expect_ok(nc_tw_config_publish(pub, "fz.c1", "DEFAULT_GROUP", NULL, "v1", NULL),
                  "ConfigPublishResponse");
  nc_tw_expect_ok(nc_tw_config_publish(pub, "x.c1", "DEFAULT_GROUP", NULL, "v1", NULL),
                  "ConfigPublishResponse");
  const char *pat = "public>>DEFAULT_GROUP>>fz.*";
  nc_tw_expect_ok(fit_watch(w, 0, pat, "WATCH", 1, NULL), "ConfigFuzzyWatchResponse");
  assert_true(nc_tw_wait_pushes(w, CSYNC, 2, 5000) >= 2);
  char keys[1024];
  int finish = 0;
  assert_int_equal(sync_keys(w, CSYNC, "groupKey", pat, "ADD_CONFIG", keys, sizeof(keys),
                             &finish), 1);
  assert_string_equal(keys, "fz.c1+DEFAULT_GROUP+public");
  assert_int_equal(finish, 1);

  nc_tw_expect_ok(nc_tw_config_publish(pub, "fz.c2", "DEFAULT_GROUP", NULL, "v1", NULL),
                  "ConfigPublishResponse");
  fit_expect_last(w, CNOTIFY, 1, 5000, "groupKey", "fz.c2+DEFAULT_GROUP+public", "changeType",
                "CONFIG_CHANGED");
  /* new content of a matched config, another group, another name: nothing */
  nc_tw_expect_ok(nc_tw_config_publish(pub, "fz.c2", "DEFAULT_GROUP", NULL, "v2", NULL),
                  "ConfigPublishResponse");
  nc_tw_expect_ok(nc_tw_config_publish(pub, "fz.c3", "OTHER", NULL, "v1", NULL),
                  "ConfigPublishResponse");
  nc_tw_expect_ok(nc_tw_config_publish(pub, "y.c3", "DEFAULT_GROUP", NULL, "v1", NULL),
                  "ConfigPublishResponse");
  nc_tw_expect_ok(nc_tw_config_remove(pub, "fz.c2", "DEFAULT_GROUP", NULL),
                  "ConfigRemoveResponse");
  fit_expect_last(w, CNOTIFY, 2, 5000, "groupKey", "fz.c2+DEFAULT_GROUP+public", "changeType",
                "DELETE_CONFIG");
  /* a re-sync with what the client holds: the diff only */
  nc_tw_expect_ok(fit_watch(w, 0, pat, "WATCH", 0,
                            "[\"fz.c1+DEFAULT_GROUP+public\",\"fz.old+DEFAULT_GROUP+public\"]"),
                  "ConfigFuzzyWatchResponse");
  assert_int_equal(nc_tw_wait_pushes(w, CSYNC, 3, 5000), 3);
  cJSON *d = nc_tw_push_get(w, CSYNC, -1, NULL, 0);
  assert_string_equal(nc_json_str(d, "syncType", ""), "FUZZY_WATCH_DIFF_SYNC_NOTIFY");
  const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(d, "contexts"), 0);
  assert_string_equal(nc_json_str(c, "groupKey", ""), "fz.old+DEFAULT_GROUP+public");
  assert_string_equal(nc_json_str(c, "changedType", ""), "DELETE_CONFIG");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "contexts")), 1);
  cJSON_Delete(d);

  nc_tw_expect_ok(fit_watch(w, 0, pat, "CANCEL_WATCH", 0, NULL), "ConfigFuzzyWatchResponse");
  nc_tw_expect_ok(nc_tw_config_publish(pub, "fz.c9", "DEFAULT_GROUP", NULL, "v1", NULL),
                  "ConfigPublishResponse");
  nc_test_sleep_ms(800);
  assert_int_equal(nc_tw_push_count(w, CNOTIFY), 2);
}

static void test_limits_answer_nacos_codes(void **state) {
  nc_tfx *f = *state;
  nc_tw *pub = nc_tfx_connect(f, NULL), *w = nc_tfx_connect(f, NULL);
  assert_non_null(pub);
  assert_non_null(w);
  char svc[32];
  for (int i = 0; i < 7; i++) {
    snprintf(svc, sizeof(svc), "lim-%d", i);
    reg(pub, svc);
  }
  /* 7 match, the limit is 5: watching anyway, 5 synced, 50311 */
  const char *pat = "public>>DEFAULT_GROUP>>lim-*";
  nc_tw_expect_fail(fit_watch(w, 1, pat, "WATCH", 1, NULL), "NamingFuzzyWatchResponse", 50311,
                    "fuzzy watch pattern matched count over limit");
  assert_true(nc_tw_wait_pushes(w, NSYNC, 2, 5000) >= 2);
  char keys[1024];
  int finish = 0;
  assert_int_equal(sync_keys(w, NSYNC, "serviceKey", pat, "ADD_SERVICE", keys, sizeof(keys),
                             &finish), 5);
  assert_int_equal(finish, 1);
  /* patterns per connection: 3 */
  nc_tw_expect_ok(fit_watch(w, 1, "public>>DEFAULT_GROUP>>p1", "WATCH", 1, NULL),
                  "NamingFuzzyWatchResponse");
  nc_tw_expect_ok(fit_watch(w, 1, "public>>DEFAULT_GROUP>>p2", "WATCH", 1, NULL),
                  "NamingFuzzyWatchResponse");
  nc_tw_expect_fail(fit_watch(w, 1, "public>>DEFAULT_GROUP>>p3", "WATCH", 1, NULL),
                    "NamingFuzzyWatchResponse", 50310, "fuzzy watch pattern over limit");
  /* config counts its own */
  nc_tw_expect_ok(fit_watch(w, 0, "public>>DEFAULT_GROUP>>p3", "WATCH", 1, NULL),
                  "ConfigFuzzyWatchResponse");
  /* a watched pattern may be watched again (the client's periodic re-sync) */
  nc_tw_expect_ok(fit_watch(w, 1, "public>>DEFAULT_GROUP>>p1", "WATCH", 0, NULL),
                  "NamingFuzzyWatchResponse");
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_fuzzy_pattern_limit_refused_total"), 1);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_fuzzy_watches"), 3);
}

static void test_bad_requests_are_400(void **state) {
  nc_tfx *f = *state;
  nc_tw *w = nc_tfx_connect(f, NULL);
  assert_non_null(w);
  static const char *const bad[] = {"public>>DEFAULT_GROUP", "public>>>>x", ">>g>>s",
                                    "a>>b>>c>>d"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    nc_tw_expect_fail(fit_watch(w, 1, bad[i], "WATCH", 1, NULL), "NamingFuzzyWatchResponse", 400,
                      "groupKeyPattern");
  nc_tw_expect_fail(fit_watch(w, 0, "public>>g>>s", "LISTEN", 1, NULL), "ConfigFuzzyWatchResponse",
                    400, "watchType");
  cJSON *b = cJSON_Parse("{\"groupKeyPattern\":\"public>>g>>s\",\"watchType\":\"WATCH\","
                         "\"receivedGroupKeys\":\"x\",\"module\":\"config\",\"headers\":{}}");
  nc_tw_expect_fail(nc_tw_call_reply(w, "ConfigFuzzyWatchRequest", b), "ConfigFuzzyWatchResponse",
                    400, "receivedGroupKeys");
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_fuzzy_watches"), 0);
  assert_int_equal(nc_tfx_metric(f, "nacosd_config_fuzzy_watches"), 0);
  assert_int_equal(nc_tw_push_count(w, NSYNC) + nc_tw_push_count(w, CSYNC), 0);
}

static void test_unacked_sync_is_resent_and_close_cleans(void **state) {
  nc_tfx *f = *state;
  nc_tw *pub = nc_tfx_connect(f, NULL);
  nc_tw_opts o = {.no_auto_ack = 1};
  nc_tw *w = nc_tfx_connect(f, &o);
  assert_non_null(pub);
  assert_non_null(w);
  reg(pub, "rt-1");
  const char *pat = "public>>DEFAULT_GROUP>>rt-*";
  nc_tw_expect_ok(fit_watch(w, 1, pat, "WATCH", 1, NULL), "NamingFuzzyWatchResponse");
  /* not acked: sent again after the 700 ms timeout + 200 ms, and no FINISH yet */
  assert_int_equal(nc_tw_wait_pushes(w, NSYNC, 2, 5000), 2);
  char rid[32];
  cJSON *b = nc_tw_push_get(w, NSYNC, 1, rid, sizeof(rid));
  assert_string_equal(nc_json_str(b, "syncType", ""), "FUZZY_WATCH_INIT_NOTIFY");
  cJSON_Delete(b);
  assert_int_equal(nc_tw_ack(w, "NamingFuzzyWatchSyncResponse", rid, 1), 0);
  assert_int_equal(nc_tw_wait_pushes(w, NSYNC, 3, 5000), 3);
  b = nc_tw_push_get(w, NSYNC, 2, rid, sizeof(rid));
  /* the first copy may still time out and go again before the FINISH */
  int idx = strcmp(nc_json_str(b, "syncType", ""), "FINISH_FUZZY_WATCH_INIT_NOTIFY") == 0 ? 2 : -1;
  cJSON_Delete(b);
  if (idx < 0) {
    for (int tries = 0; tries < 50 && idx < 0; tries++) {
      int n = nc_tw_push_count(w, NSYNC);
      for (int i = 3; i < n && idx < 0; i++) {
        b = nc_tw_push_get(w, NSYNC, i, NULL, 0);
        if (strcmp(nc_json_str(b, "syncType", ""), "FINISH_FUZZY_WATCH_INIT_NOTIFY") == 0)
          idx = i;
        cJSON_Delete(b);
      }
      if (idx < 0)
        nc_test_sleep_ms(100);
    }
  }
  assert_true(idx >= 2);
  assert_true(nc_tfx_metric(f, "nacosd_naming_fuzzy_pushes_retried_total") >= 1);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_fuzzy_watches"), 1);
  nc_tfx_close(f, w);
  for (int i = 0; i < 50 && nc_tfx_metric(f, "nacosd_naming_fuzzy_watches") != 0; i++)
    nc_test_sleep_ms(100);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_fuzzy_watches"), 0);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_fuzzy_patterns"), 0);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_fuzzy_connections"), 0);
}

/* With --auth on the requests are reads like any other: no token, 403. */
static void test_auth_on_needs_a_token(void **state) {
  nc_tfx *f = *state;
  nc_tw *w = nc_tfx_connect(f, NULL);
  assert_non_null(w);
  nc_tw_expect_fail(fit_watch(w, 1, "public>>DEFAULT_GROUP>>*", "WATCH", 1, NULL),
                    "NamingFuzzyWatchResponse", 403, NULL);
  nc_tw_expect_fail(fit_watch(w, 0, "public>>DEFAULT_GROUP>>*", "WATCH", 1, NULL),
                    "ConfigFuzzyWatchResponse", 403, NULL);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_fuzzy_watches"), 0);
  assert_int_equal(nc_tfx_metric(f, "nacosd_config_fuzzy_watches"), 0);
  nc_test_sleep_ms(200);
  assert_int_equal(nc_tw_push_count(w, NSYNC) + nc_tw_push_count(w, CSYNC), 0);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_initial_sync_of_400_services_in_40_batches(void **state) {
  nc_tfx *f = *state;
  nc_tw *pub = nc_tfx_connect(f, NULL), *w = nc_tfx_connect(f, NULL);
  assert_non_null(pub);
  assert_non_null(w);
  char svc[32];
  for (int i = 0; i < 400; i++) {
    snprintf(svc, sizeof(svc), "big-%03d", i);
    reg(pub, svc);
  }
  const char *pat = "public>>DEFAULT_GROUP>>big-*";
  long long t0 = now_ms();
  nc_tw_expect_ok(fit_watch(w, 1, pat, "WATCH", 1, NULL), "NamingFuzzyWatchResponse");
  assert_int_equal(nc_tw_wait_pushes(w, NSYNC, 41, 10000), 41);
  long long dt = now_ms() - t0;
  cJSON *last = nc_tw_push_get(w, NSYNC, 40, NULL, 0);
  assert_string_equal(nc_json_str(last, "syncType", ""), "FINISH_FUZZY_WATCH_INIT_NOTIFY");
  cJSON_Delete(last);
  int seen[41] = {0};
  for (int i = 0; i < 40; i++) {
    cJSON *b = nc_tw_push_get(w, NSYNC, i, NULL, 0);
    assert_int_equal(nc_json_int(b, "totalBatch", 0), 40);
    int cur = (int)nc_json_int(b, "currentBatch", 0);
    assert_true(cur >= 1 && cur <= 40);
    seen[cur]++;
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b, "contexts")), 10);
    cJSON_Delete(b);
  }
  for (int i = 1; i <= 40; i++)
    assert_int_equal(seen[i], 1);
  char keys[400 * 40];
  int finish = 0;
  assert_int_equal(sync_keys(w, NSYNC, "serviceKey", pat, "ADD_SERVICE", keys, sizeof(keys),
                             &finish), 400);
  assert_true(has_key(keys, "public@@DEFAULT_GROUP@@big-000"));
  assert_true(has_key(keys, "public@@DEFAULT_GROUP@@big-399"));
  fprintf(stderr, "# initial sync of 400 services (40 batches + FINISH, each acked): %lld ms\n",
          dt);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_naming_sync_notify_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config_sync_notify_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_limits_answer_nacos_codes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_requests_are_400, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unacked_sync_is_resent_and_close_cleans, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_initial_sync_of_400_services_in_40_batches,
                                      setup_defaults, teardown),
      cmocka_unit_test_setup_teardown(test_auth_on_needs_a_token, setup_auth, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
