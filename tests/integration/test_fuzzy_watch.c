/* Fuzzy watch (Nacos 3.x, issue 15; docs/fuzzy-watch.md) on one real
 * nacosd over the gRPC protocol: NamingFuzzyWatchRequest and
 * ConfigFuzzyWatchRequest get the initial sync of the matching keys
 * (FUZZY_WATCH_INIT_NOTIFY batches, then FINISH), then a change
 * notification for each matching service or config that appears or goes,
 * nothing for the others, nothing after CANCEL_WATCH; the pattern and
 * match limits answer Nacos's 50310 / 50311 (naming and config); bad
 * requests 400; a sync that is not acked is sent again; an unacked config
 * change notify is sent again and the connection dropped after the retry
 * budget; a pattern of namespace "dev" sees "dev" keys only; a closed
 * connection leaves nothing. */
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

/* Config notifies that give up fast: 600 ms ack timeout, 100 ms x attempt
 * between tries, 3 attempts. */
static int setup_cfg_retry(void **state) {
  static const char *const args[] = {"--config-notify-timeout-ms", "600",
                                     "--config-notify-retry-ms", "100",
                                     "--config-notify-max-retries", "3", NULL};
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

/* A publishing client (*pub) and a watcher that acks nothing by itself. */
static nc_tw *unacked_watcher(nc_tfx *f, nc_tw **pub) {
  *pub = nc_tfx_connect(f, NULL);
  assert_non_null(*pub);
  nc_tw_opts o = {.no_auto_ack = 1};
  nc_tw *w = nc_tfx_connect(f, &o);
  assert_non_null(w);
  return w;
}

/* Acks the index-th push of type, which must be a sync of sync_type. */
static void ack_sync(nc_tw *w, const char *type, int index, const char *sync_type,
                     const char *resp_type) {
  char rid[32];
  cJSON *b = nc_tw_push_get(w, type, index, rid, sizeof(rid));
  assert_non_null(b);
  assert_string_equal(nc_json_str(b, "syncType", ""), sync_type);
  cJSON_Delete(b);
  assert_int_equal(nc_tw_ack(w, resp_type, rid, 1), 0);
}

static void publish(nc_tw *tw, const char *data_id, const char *tenant) {
  nc_tw_expect_ok(nc_tw_config_publish(tw, data_id, "DEFAULT_GROUP", tenant, "v1", NULL),
                  "ConfigPublishResponse");
}

static void test_config_match_limit_50311(void **state) {
  nc_tfx *f = *state;
  nc_tw *pub = nc_tfx_connect(f, NULL), *w = nc_tfx_connect(f, NULL);
  assert_non_null(pub);
  assert_non_null(w);
  char id[32];
  for (int i = 0; i < 7; i++) {
    snprintf(id, sizeof(id), "limc.%d", i);
    publish(pub, id, NULL);
  }
  /* 7 match, the limit is 5: synced with 5 keys and answered 50311 */
  const char *pat = "public>>DEFAULT_GROUP>>limc.*";
  nc_tw_expect_fail(fit_watch(w, 0, pat, "WATCH", 1, NULL), "ConfigFuzzyWatchResponse", 50311,
                    "fuzzy watch pattern matched count over limit");
  assert_true(nc_tw_wait_pushes(w, CSYNC, 2, 5000) >= 2); /* one batch (20 a batch) + FINISH */
  char keys[1024];
  int finish = 0;
  assert_int_equal(sync_keys(w, CSYNC, "groupKey", pat, "ADD_CONFIG", keys, sizeof(keys),
                             &finish), 5);
  assert_int_equal(finish, 1);
  assert_int_equal(nc_tfx_metric(f, "nacosd_config_fuzzy_match_limit_total"), 1);
  assert_int_equal(nc_tfx_metric(f, "nacosd_config_fuzzy_watches"), 1);
  /* the set is full: a new matching config is not reported */
  publish(pub, "limc.new", NULL);
  nc_test_sleep_ms(600);
  assert_int_equal(nc_tw_push_count(w, CNOTIFY), 0);
  /* the pattern is shared: a second watcher is answered 50311 too, 5 keys */
  nc_tw *w2 = nc_tfx_connect(f, NULL);
  assert_non_null(w2);
  nc_tw_expect_fail(fit_watch(w2, 0, pat, "WATCH", 1, NULL), "ConfigFuzzyWatchResponse", 50311,
                    NULL);
  assert_true(nc_tw_wait_pushes(w2, CSYNC, 2, 5000) >= 2);
  assert_int_equal(sync_keys(w2, CSYNC, "groupKey", pat, "ADD_CONFIG", keys, sizeof(keys),
                             &finish), 5);
  assert_int_equal(nc_tfx_metric(f, "nacosd_config_fuzzy_match_limit_total"), 2);
}

/* The n-th CNOTIFY push of tw names key (its groupKey). */
static void expect_cnotify(nc_tw *tw, int index, const char *key, char *rid, size_t cap) {
  cJSON *b = nc_tw_push_get(tw, CNOTIFY, index, rid, cap);
  assert_non_null(b);
  assert_string_equal(nc_json_str(b, "groupKey", ""), key);
  assert_string_equal(nc_json_str(b, "changeType", ""), "CONFIG_CHANGED");
  cJSON_Delete(b);
}

static void test_unacked_config_notify_resent_then_dropped(void **state) {
  nc_tfx *f = *state;
  nc_tw *pub = NULL, *w = unacked_watcher(f, &pub);
  const char *pat = "public>>DEFAULT_GROUP>>rty.*";
  nc_tw_expect_ok(fit_watch(w, 0, pat, "WATCH", 1, NULL), "ConfigFuzzyWatchResponse");
  /* nothing matches: FINISH at once; acked, so only the notify is retried */
  assert_int_equal(nc_tw_wait_pushes(w, CSYNC, 1, 5000), 1);
  ack_sync(w, CSYNC, 0, "FINISH_FUZZY_WATCH_INIT_NOTIFY", "ConfigFuzzyWatchSyncResponse");
  nc_test_sleep_ms(100);
  char rid[32];
  long long retried0 = nc_tfx_metric(f, "nacosd_config_fuzzy_pushes_retried_total");
  assert_int_equal(nc_tfx_metric(f, "nacosd_config_fuzzy_pushes_failed_total"), 0);

  long long t0 = nc_test_now_ms();
  publish(pub, "rty.c1", NULL);
  assert_int_equal(nc_tw_wait_pushes(w, CNOTIFY, 1, 5000), 1);
  expect_cnotify(w, 0, "rty.c1+DEFAULT_GROUP+public", rid, sizeof(rid));
  /* not acked: sent again after 600 ms + 100 ms, then 600 + 200 ms */
  assert_int_equal(nc_tw_wait_pushes(w, CNOTIFY, 3, 8000), 3);
  char rid2[32];
  expect_cnotify(w, 1, "rty.c1+DEFAULT_GROUP+public", rid2, sizeof(rid2));
  assert_string_not_equal(rid, rid2); /* each attempt is a new request */
  expect_cnotify(w, 2, "rty.c1+DEFAULT_GROUP+public", NULL, 0);
  /* the third went unacked too: the budget is spent, the connection goes */
  for (int i = 0; i < 80 && !nc_tw_closed(w); i++)
    nc_test_sleep_ms(100);
  long long ms = nc_test_now_ms() - t0;
  print_message("# config notify: 3 attempts then the connection dropped after %lld ms\n", ms);
  assert_true(nc_tw_closed(w));
  assert_true(ms >= 1800); /* 3 x 600 ms timeouts + 300 ms waits, not earlier */
  assert_int_equal(nc_tw_push_count(w, CNOTIFY), 3);
  assert_int_equal(nc_tfx_metric(f, "nacosd_config_fuzzy_pushes_retried_total") - retried0, 2);
  assert_int_equal(nc_tfx_metric(f, "nacosd_config_fuzzy_pushes_failed_total"), 1);
  for (int i = 0; i < 50 && nc_tfx_metric(f, "nacosd_config_fuzzy_watches") != 0; i++)
    nc_test_sleep_ms(100);
  assert_int_equal(nc_tfx_metric(f, "nacosd_config_fuzzy_watches"), 0);
  assert_int_equal(nc_tfx_metric(f, "nacosd_config_fuzzy_connections"), 0);
  /* a client that acks is unaffected: it hears the next change once */
  nc_tw *w2 = nc_tfx_connect(f, NULL);
  assert_non_null(w2);
  nc_tw_expect_ok(fit_watch(w2, 0, pat, "WATCH", 1, NULL), "ConfigFuzzyWatchResponse");
  assert_true(nc_tw_wait_pushes(w2, CSYNC, 2, 5000) >= 2);
  publish(pub, "rty.c2", NULL);
  fit_expect_last(w2, CNOTIFY, 1, 5000, "groupKey", "rty.c2+DEFAULT_GROUP+public", "changeType",
                  "CONFIG_CHANGED");
  nc_test_sleep_ms(1500);
  assert_int_equal(nc_tw_push_count(w2, CNOTIFY), 1);
  assert_int_equal(nc_tfx_metric(f, "nacosd_config_fuzzy_pushes_failed_total"), 1);
}

/* A pattern names its namespace: "dev>>..." sees the services and configs
 * of "dev", "public>>..." those of the default namespace ("" or "public"),
 * never the other. */
static void test_dev_namespace_pattern(void **state) {
  nc_tfx *f = *state;
  nc_tw_opts dev_o = {.ns = "dev"};
  nc_tw *dev = nc_tfx_connect(f, &dev_o), *pub = nc_tfx_connect(f, NULL);
  nc_tw *wd = nc_tfx_connect(f, &dev_o), *wp = nc_tfx_connect(f, NULL);
  assert_non_null(dev);
  assert_non_null(pub);
  assert_non_null(wd);
  assert_non_null(wp);
  reg(dev, "nsd-svc");
  reg(pub, "nsd-svc");
  reg(pub, "nsd-pub");
  publish(pub, "nsd.c", "dev");
  publish(pub, "nsd.c", NULL);
  const char *dn = "dev>>DEFAULT_GROUP>>nsd-*", *dc = "dev>>DEFAULT_GROUP>>nsd.*";
  const char *pn = "public>>DEFAULT_GROUP>>nsd-*";
  nc_tw_expect_ok(fit_watch_ns(wd, 1, "dev", dn, "WATCH", 1, NULL), "NamingFuzzyWatchResponse");
  nc_tw_expect_ok(fit_watch_ns(wd, 0, "dev", dc, "WATCH", 1, NULL), "ConfigFuzzyWatchResponse");
  nc_tw_expect_ok(fit_watch(wp, 1, pn, "WATCH", 1, NULL), "NamingFuzzyWatchResponse");
  assert_true(nc_tw_wait_pushes(wd, NSYNC, 2, 5000) >= 2);
  assert_true(nc_tw_wait_pushes(wd, CSYNC, 2, 5000) >= 2);
  assert_true(nc_tw_wait_pushes(wp, NSYNC, 2, 5000) >= 2);
  char keys[1024];
  int finish = 0;
  assert_int_equal(sync_keys(wd, NSYNC, "serviceKey", dn, "ADD_SERVICE", keys, sizeof(keys),
                             &finish), 1);
  assert_string_equal(keys, "dev@@DEFAULT_GROUP@@nsd-svc");
  assert_int_equal(sync_keys(wd, CSYNC, "groupKey", dc, "ADD_CONFIG", keys, sizeof(keys),
                             &finish), 1);
  assert_string_equal(keys, "nsd.c+DEFAULT_GROUP+dev");
  assert_int_equal(sync_keys(wp, NSYNC, "serviceKey", pn, "ADD_SERVICE", keys, sizeof(keys),
                             &finish), 2);
  assert_true(has_key(keys, "public@@DEFAULT_GROUP@@nsd-svc"));
  assert_true(has_key(keys, "public@@DEFAULT_GROUP@@nsd-pub"));
  /* changes: a public one first, then a dev one; each watch hears its own */
  reg(pub, "nsd-new");
  publish(pub, "nsd.new", NULL);
  fit_expect_last(wp, NNOTIFY, 1, 5000, "serviceKey", "public@@DEFAULT_GROUP@@nsd-new",
                  "changedType", "ADD_SERVICE");
  reg(dev, "nsd-new");
  publish(pub, "nsd.new", "dev");
  fit_expect_last(wd, NNOTIFY, 1, 5000, "serviceKey", "dev@@DEFAULT_GROUP@@nsd-new", "changedType",
                  "ADD_SERVICE");
  fit_expect_last(wd, CNOTIFY, 1, 5000, "groupKey", "nsd.new+DEFAULT_GROUP+dev", "changeType",
                  "CONFIG_CHANGED");
  /* config of the default namespace: "" and "public" are one tenant */
  const char *pc = "public>>DEFAULT_GROUP>>nsd.*";
  nc_tw_expect_ok(fit_watch(wp, 0, pc, "WATCH", 1, NULL), "ConfigFuzzyWatchResponse");
  assert_true(nc_tw_wait_pushes(wp, CSYNC, 2, 5000) >= 2);
  assert_int_equal(sync_keys(wp, CSYNC, "groupKey", pc, "ADD_CONFIG", keys, sizeof(keys),
                             &finish), 2);
  assert_true(has_key(keys, "nsd.c+DEFAULT_GROUP+public"));
  assert_true(has_key(keys, "nsd.new+DEFAULT_GROUP+public"));
  publish(pub, "nsd.c", "public"); /* the same config again: no event */
  publish(pub, "nsd.pt", "public");
  fit_expect_last(wp, CNOTIFY, 1, 5000, "groupKey", "nsd.pt+DEFAULT_GROUP+public", "changeType",
                  "CONFIG_CHANGED");
  nc_test_sleep_ms(400);
  assert_int_equal(nc_tw_push_count(wd, NNOTIFY), 1);
  assert_int_equal(nc_tw_push_count(wd, CNOTIFY), 1);
  assert_int_equal(nc_tw_push_count(wp, NNOTIFY), 1);
  assert_int_equal(nc_tw_push_count(wp, CNOTIFY), 1);
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
  nc_tw *pub = NULL, *w = unacked_watcher(f, &pub);
  reg(pub, "rt-1");
  const char *pat = "public>>DEFAULT_GROUP>>rt-*";
  nc_tw_expect_ok(fit_watch(w, 1, pat, "WATCH", 1, NULL), "NamingFuzzyWatchResponse");
  /* not acked: sent again after the 700 ms timeout + 200 ms, and no FINISH yet */
  assert_int_equal(nc_tw_wait_pushes(w, NSYNC, 2, 5000), 2);
  ack_sync(w, NSYNC, 1, "FUZZY_WATCH_INIT_NOTIFY", "NamingFuzzyWatchSyncResponse");
  assert_int_equal(nc_tw_wait_pushes(w, NSYNC, 3, 5000), 3);
  cJSON *b = nc_tw_push_get(w, NSYNC, 2, NULL, 0);
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
      cmocka_unit_test_setup_teardown(test_config_match_limit_50311, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unacked_config_notify_resent_then_dropped,
                                      setup_cfg_retry, teardown),
      cmocka_unit_test_setup_teardown(test_dev_namespace_pattern, setup, teardown),
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
