/* Integration tests of config on the real nacosd over the wire client:
 * publish -> get, not-found, CAS, remove, bad input with state intact,
 * listen -> change pushed and acked (client tenant echoed), unacked notify
 * retried. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "config_itest.h"
#include "nc_grpc.h"
#include "nc_md5.h"

static void expect_content(nc_tw *wc, const char *d, const char *g, const char *t,
                           const char *content) {
  nc_tw_config c;
  nc_tw_expect_ok(nc_tw_config_get(wc, d, g, t, &c), "ConfigQueryResponse");
  assert_non_null(c.content);
  assert_string_equal(c.content, content);
  char md5[33];
  nc_md5_hex(content, strlen(content), md5);
  assert_string_equal(c.md5, md5);
  nc_tw_config_free(&c);
}

static void test_publish_then_get(void **state) {
  nc_tfx *f = *state;
  nc_tw *wc = cfg_connect(f, 0);
  assert_non_null(wc);
  nc_tw_expect_ok(
      nc_tw_config_publish(wc, "app.yaml", "DEFAULT_GROUP", "", "k: v\nname: \xe4\xb8\xad", NULL),
      "ConfigPublishResponse");
  nc_tw_config c;
  nc_tw_expect_ok(nc_tw_config_get(wc, "app.yaml", "DEFAULT_GROUP", "", &c), "ConfigQueryResponse");
  assert_string_equal(c.content, "k: v\nname: \xe4\xb8\xad");
  char md5[33];
  nc_md5_hex("k: v\nname: \xe4\xb8\xad", strlen("k: v\nname: \xe4\xb8\xad"), md5);
  assert_string_equal(c.md5, md5);
  assert_string_equal(c.content_type, "text");
  assert_true(c.last_modified > 1600000000000LL);
  assert_null(cJSON_GetObjectItem(c.body, "tag")); /* Go decodes tag as bool */
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(c.body, "beta")));
  nc_tw_config_free(&c);
  /* 2.x: "public" and "null" are the default namespace. */
  expect_content(wc, "app.yaml", "DEFAULT_GROUP", "public", "k: v\nname: \xe4\xb8\xad");
  expect_content(wc, "app.yaml", "DEFAULT_GROUP", "null", "k: v\nname: \xe4\xb8\xad");
  /* Other namespaces are separate. */
  nc_tw_expect_fail(nc_tw_config_get(wc, "app.yaml", "DEFAULT_GROUP", "dev", NULL),
                    "ConfigQueryResponse", 300, "config data not exist");
  nc_tw_expect_ok(nc_tw_config_publish(wc, "app.yaml", "DEFAULT_GROUP", "dev", "dev: 1", NULL),
                  "ConfigPublishResponse");
  expect_content(wc, "app.yaml", "DEFAULT_GROUP", "dev", "dev: 1");
  expect_content(wc, "app.yaml", "DEFAULT_GROUP", "", "k: v\nname: \xe4\xb8\xad");
  nc_tfx_close(f, wc);
}

/* 1 MiB of content with JSON-special characters and UTF-8 survives the
 * round trip byte for byte, md5 included. */
static void test_large_content_roundtrip(void **state) {
  nc_tfx *f = *state;
  nc_tw *wc = cfg_connect(f, 0);
  assert_non_null(wc);
  static const char piece[] = "k=\"v\"\\\n\t\xc3\xa9\xe4\xb8\xad/</>{}[],:";
  size_t plen = sizeof(piece) - 1, len = 1024 * 1024;
  char *big = malloc(len + 1);
  for (size_t i = 0; i < len; i++)
    big[i] = piece[i % plen];
  len -= len % plen; /* whole pieces only: keep the UTF-8 valid */
  big[len] = '\0';
  nc_tw_expect_ok(nc_tw_config_publish(wc, "big", "g", "", big, NULL), "ConfigPublishResponse");
  expect_content(wc, "big", "g", "", big);
  free(big);
  nc_tfx_close(f, wc);
}

static void test_query_missing_is_typed_300(void **state) {
  nc_tfx *f = *state;
  nc_tw *wc = cfg_connect(f, 0);
  assert_non_null(wc);
  nc_tw_expect_fail(nc_tw_config_get(wc, "nope", "DEFAULT_GROUP", "", NULL), "ConfigQueryResponse",
                    300, "config data not exist");
  nc_tfx_close(f, wc);
}

static void test_cas_mismatch_rejected(void **state) {
  nc_tfx *f = *state;
  nc_tw *wc = cfg_connect(f, 0);
  assert_non_null(wc);
  char md5[33];
  nc_tw_expect_ok(nc_tw_config_publish(wc, "cas", "g", "", "v1", NULL), "ConfigPublishResponse");
  nc_md5_hex("v1", 2, md5);
  nc_tw_expect_fail(
      nc_tw_config_publish(wc, "cas", "g", "", "v2", "ffffffffffffffffffffffffffffffff"),
      "ConfigPublishResponse", 500, "Cas publish fail, server md5 may have changed.");
  expect_content(wc, "cas", "g", "", "v1");
  nc_tw_expect_ok(nc_tw_config_publish(wc, "cas", "g", "", "v2", md5), "ConfigPublishResponse");
  expect_content(wc, "cas", "g", "", "v2");
  /* The old md5 is stale now. */
  nc_tw_expect_fail(nc_tw_config_publish(wc, "cas", "g", "", "v3", md5), "ConfigPublishResponse",
                    500, "Cas");
  expect_content(wc, "cas", "g", "", "v2");
  nc_tfx_close(f, wc);
}

static void test_remove_existing_and_missing(void **state) {
  nc_tfx *f = *state;
  nc_tw *wc = cfg_connect(f, 0);
  assert_non_null(wc);
  nc_tw_expect_ok(nc_tw_config_remove(wc, "never", "g", ""), "ConfigRemoveResponse");
  nc_tw_expect_ok(nc_tw_config_publish(wc, "rm", "g", "", "x", NULL), "ConfigPublishResponse");
  nc_tw_expect_ok(nc_tw_config_remove(wc, "rm", "g", "public"), "ConfigRemoveResponse");
  nc_tw_expect_fail(nc_tw_config_get(wc, "rm", "g", "", NULL), "ConfigQueryResponse", 300, NULL);
  nc_tfx_close(f, wc);
}

static void test_bad_input_rejected_state_intact(void **state) {
  nc_tfx *f = *state;
  nc_tw *wc = cfg_connect(f, 0);
  assert_non_null(wc);
  const char *P = "ConfigPublishResponse";
  nc_tw_expect_ok(nc_tw_config_publish(wc, "keep", "g", "", "original", NULL), P);
  nc_tw_expect_fail(nc_tw_config_publish(wc, "", "g", "", "x", NULL), P, 400, "dataId");
  nc_tw_expect_fail(nc_tw_config_publish(wc, NULL, "g", "", "x", NULL), P, 400, "dataId");
  nc_tw_expect_fail(nc_tw_config_publish(wc, "a/b", "g", "", "x", NULL), P, 400, "invalid dataId");
  nc_tw_expect_fail(nc_tw_config_publish(wc, "keep", "", "", "x", NULL), P, 400, "group");
  nc_tw_expect_fail(nc_tw_config_publish(wc, "keep", "g g", "", "x", NULL), P, 400,
                    "invalid group");
  nc_tw_expect_fail(nc_tw_config_publish(wc, "keep", "g", "bad/ns", "x", NULL), P, 400, "tenant");
  nc_tw_expect_fail(nc_tw_config_publish(wc, "keep", "g", "", NULL, NULL), P, 400, "content");
  nc_tw_expect_fail(nc_tw_config_publish(wc, "keep", "g", "", "   ", NULL), P, 400, "content");
  /* Over the 4 MiB default cap but inside the 10 MiB gRPC message limit. */
  size_t big_len = 4u * 1024 * 1024 + 1;
  char *big = malloc(big_len + 1);
  memset(big, 'x', big_len);
  big[big_len] = '\0';
  nc_tw_expect_fail(nc_tw_config_publish(wc, "keep", "g", "", big, NULL), P, 400, "too large");
  free(big);
  nc_tw_expect_fail(nc_tw_config_remove(wc, "a+b", "g", ""), "ConfigRemoveResponse", 400,
                    "invalid dataId");
  nc_tw_expect_fail(nc_tw_config_get(wc, "keep", "", "", NULL), "ConfigQueryResponse", 400,
                    "group");
  /* A bad context fails the whole listen request and registers nothing. */
  nc_tw_listen ctx[2] = {{"keep", "g", NULL, NULL}, {"bad id", "g", NULL, NULL}};
  nc_tw_expect_fail(nc_tw_config_listen(wc, 1, ctx, 2, NULL, NULL),
                    "ConfigChangeBatchListenResponse", 400, "invalid dataId");
  assert_int_equal(srv_metric(f, "config_listeners"), 0);
  expect_content(wc, "keep", "g", "", "original");
  assert_int_equal(srv_metric(f, "config_configs"), 1);
  nc_tfx_close(f, wc);
}

static void test_listen_change_pushed_and_acked(void **state) {
  nc_tfx *f = *state;
  nc_tw *listener = cfg_connect(f, 0);
  nc_tw *pub = cfg_connect(f, 0);
  assert_non_null(listener);
  assert_non_null(pub);
  nc_tw_expect_ok(nc_tw_config_publish(pub, "watched", "g", "", "v1", NULL),
                  "ConfigPublishResponse");
  char md5[33];
  nc_md5_hex("v1", 2, md5);
  /* Listening with a stale md5 reports the key, echoing the client's tenant. */
  nc_tw_listen ctx = {"watched", "g", "public", "stale"};
  cJSON *ch = NULL;
  int n = 0;
  nc_tw_expect_ok(nc_tw_config_listen(listener, 1, &ctx, 1, &n, &ch),
                  "ConfigChangeBatchListenResponse");
  assert_int_equal(n, 1);
  assert_string_equal(nc_json_str(cJSON_GetArrayItem(ch, 0), "dataId", ""), "watched");
  assert_string_equal(nc_json_str(cJSON_GetArrayItem(ch, 0), "tenant", ""), "public");
  cJSON_Delete(ch);
  /* With the current md5 nothing is reported. */
  ctx.md5 = md5;
  nc_tw_expect_ok(nc_tw_config_listen(listener, 1, &ctx, 1, &n, NULL),
                  "ConfigChangeBatchListenResponse");
  assert_int_equal(n, 0);
  assert_int_equal(srv_metric(f, "config_listeners"), 1);

  nc_tw_expect_ok(nc_tw_config_publish(pub, "watched", "g", "", "v2", NULL),
                  "ConfigPublishResponse");
  nc_tw_change last;
  assert_int_equal(nc_tw_wait_change(listener, NULL, 1, 3000, &last), 1);
  assert_string_equal(last.data_id, "watched");
  assert_string_equal(last.group, "g");
  assert_string_equal(last.tenant, "public"); /* the client's own string */
  assert_string_equal(last.module, "config");
  assert_true(strlen(last.request_id) > 0);
  assert_true(srv_metric_wait(f, "config_notifies_acked_total", 1, 3000) >= 1);
  /* Removing the config notifies too. */
  nc_tw_expect_ok(nc_tw_config_remove(pub, "watched", "g", ""), "ConfigRemoveResponse");
  assert_int_equal(nc_tw_wait_change(listener, "watched", 2, 3000, NULL), 2);
  /* Unlisten: no more notifies. */
  nc_tw_expect_ok(nc_tw_listen_one(listener, 0, "watched", "g", "public", ""),
                  "ConfigChangeBatchListenResponse");
  assert_int_equal(srv_metric(f, "config_listeners"), 0);
  nc_tw_expect_ok(nc_tw_config_publish(pub, "watched", "g", "", "v3", NULL),
                  "ConfigPublishResponse");
  nc_test_quiet_ms(300);
  assert_int_equal(nc_tw_change_count(listener, NULL), 2);
  nc_tfx_close(f, listener);
  nc_tfx_close(f, pub);
}

static void test_listeners_cleaned_when_connection_closes(void **state) {
  nc_tfx *f = *state;
  nc_tw *a = cfg_connect(f, 0);
  assert_non_null(a);
  for (int i = 0; i < 20; i++) {
    char id[16];
    snprintf(id, sizeof(id), "k%d", i);
    nc_tw_listen_one(a, 1, id, "g", "", "");
  }
  assert_int_equal(srv_metric(f, "config_listeners"), 20);
  nc_tfx_close(f, a);
  NC_TEST_WAIT(srv_metric(f, "config_listeners") == 0, 3000);
}

/* No ack: the server retries after its 3 s timeout + 2 s back-off. */
static void test_unacked_notify_is_retried(void **state) {
  nc_tfx *f = *state;
  nc_tw *listener = cfg_connect(f, 1);
  nc_tw *pub = cfg_connect(f, 0);
  assert_non_null(listener);
  assert_non_null(pub);
  nc_tw_listen_one(listener, 1, "retry", "g", "", "");
  long long t0 = nc_test_now_ms();
  nc_tw_expect_ok(nc_tw_config_publish(pub, "retry", "g", "", "v", NULL), "ConfigPublishResponse");
  nc_tw_change first, second;
  assert_int_equal(nc_tw_wait_change(listener, "retry", 1, 2000, &first), 1);
  assert_int_equal(nc_tw_wait_change(listener, "retry", 2, 8000, &second), 2);
  long long dt = nc_test_now_ms() - t0;
  assert_true(dt >= 4500); /* 3 s timeout + 2 s back-off */
  /* a fresh requestId per attempt */
  assert_string_not_equal(second.request_id, first.request_id);
  /* An ack that says failure (as Go's does) still counts as delivered. */
  assert_int_equal(nc_tw_ack(listener, "NotifySubscriberResponse", second.request_id, 0), 0);
  assert_true(srv_metric_wait(f, "config_notifies_acked_total", 1, 3000) >= 1);
  nc_tfx_close(f, listener);
  nc_tfx_close(f, pub);
}

/* A listener that never acks is retried max-retries times, then its
 * connection is dropped (server with short notify timings). */
static void test_never_acking_listener_is_dropped(void **state) {
  (void)state;
  const char *args[] = {"--config-notify-timeout-ms", "200", "--config-notify-max-retries", "3",
                        "--config-notify-retry-ms",   "100", NULL};
  nc_tfx *f = NULL;
  assert_int_equal(nc_tfx_start(args, &f), 0);
  nc_tw *mute = cfg_connect(f, 1);
  nc_tw *pub = cfg_connect(f, 0);
  assert_non_null(mute);
  assert_non_null(pub);
  nc_tw_listen_one(mute, 1, "mute", "g", "", "");
  long long t0 = nc_test_now_ms();
  nc_tw_expect_ok(nc_tw_config_publish(pub, "mute", "g", "", "v", NULL), "ConfigPublishResponse");
  NC_TEST_WAIT(nc_tw_closed(mute), 5000);
  /* 3 attempts: 200 ms timeouts with 100 and 200 ms back-offs in between. */
  assert_true(nc_test_now_ms() - t0 >= 700);
  assert_int_equal(nc_tw_change_count(mute, "mute"), 3);
  assert_int_equal(srv_metric(f, "config_listeners"), 0);
  /* The publisher's connection is unaffected. */
  expect_content(pub, "mute", "g", "", "v");
  assert_int_equal(nc_tfx_stop(f), 0);
}

/* An unusable store stops nacosd at start instead of serving without it. */
static void test_unusable_store_fails_startup(void **state) {
  (void)state;
  char dir[64], path[160], pf[128], log[128];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(path, sizeof(path), "%s/data", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(path, sizeof(path), "%s/data/config.db", dir);
  assert_int_equal(mkdir(path, 0700), 0); /* a directory where the db file goes */
  snprintf(path, sizeof(path), "%s/data", dir);
  snprintf(pf, sizeof(pf), "%s/ports.json", dir);
  snprintf(log, sizeof(log), "%s/nacosd.log", dir);
  char *argv[] = {(char *)NC_NACOSD_BIN, "--port", "0", "--data-dir", path, "--auth", "off",
                  "--port-file",         pf,       NULL};
  nc_testproc p;
  assert_int_equal(nc_testproc_start(&p, NC_NACOSD_BIN, argv, log), 0);
  NC_TEST_WAIT(!nc_testproc_alive(&p), 10000); /* it exited on its own */
  assert_int_equal(access(pf, F_OK), -1);      /* never listened */
  int rc = nc_testproc_kill(&p, SIGKILL);
  assert_int_equal(rc, 1); /* a clean error exit: no crash, no leak report */
  nc_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_publish_then_get, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_large_content_roundtrip, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_query_missing_is_typed_300, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_cas_mismatch_rejected, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_remove_existing_and_missing, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_bad_input_rejected_state_intact, cfg_setup,
                                      cfg_teardown),
      cmocka_unit_test_setup_teardown(test_listen_change_pushed_and_acked, cfg_setup, cfg_teardown),
      cmocka_unit_test_setup_teardown(test_listeners_cleaned_when_connection_closes, cfg_setup,
                                      cfg_teardown),
      cmocka_unit_test_setup_teardown(test_unacked_notify_is_retried, cfg_setup, cfg_teardown),
      cmocka_unit_test(test_never_acking_listener_is_dropped),
      cmocka_unit_test(test_unusable_store_fails_startup),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
