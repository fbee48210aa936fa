/* Integration tests of config on the real nacosd over the wire client:
 * publish -> get, not-found, CAS, remove, bad input with state intact,
 * listen -> change pushed and acked (client tenant echoed), unacked notify
 * retried. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <sys/stat.h>

#include "config_itest.h"
#include "nc_md5.h"
#include "nc_grpc.h"

typedef struct fx {
  cfg_srv srv;
  nc_gcli_env *env;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  if (srv_start(&f->srv) != 0 || nc_gcli_env_new(1, &f->env) != 0) {
    srv_cleanup(&f->srv);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  nc_gcli_env_free(f->env);
  /* A graceful stop must exit 0: under ASan that also means no leaks. */
  int st = srv_finish(&f->srv);
  free(f);
  return st != 0 ? -1 : 0;
}

static void expect_ok(nc_msg *m, const char *type) {
  assert_non_null(m);
  assert_string_equal(m->type, type);
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  assert_int_equal(nc_json_int(m->body, "errorCode", -1), 0);
  assert_true(nc_json_bool(m->body, "success", 0));
  nc_msg_free(m);
}

static void expect_fail(nc_msg *m, const char *type, int error_code, const char *msg_part) {
  assert_non_null(m);
  assert_string_equal(m->type, type);
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 500);
  assert_int_equal(nc_json_int(m->body, "errorCode", -1), error_code);
  assert_false(nc_json_bool(m->body, "success", 1));
  if (msg_part)
    assert_non_null(strstr(nc_json_str(m->body, "message", ""), msg_part));
  nc_msg_free(m);
}

static void expect_content(nc_wc *wc, const char *d, const char *g, const char *t,
                           const char *content) {
  nc_msg *m = cfg_query(wc, d, g, t);
  assert_non_null(m);
  assert_string_equal(m->type, "ConfigQueryResponse");
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  assert_string_equal(nc_json_str(m->body, "content", "?"), content);
  char md5[33];
  nc_md5_hex(content, strlen(content), md5);
  assert_string_equal(nc_json_str(m->body, "md5", "?"), md5);
  nc_msg_free(m);
}

static void test_publish_then_get(void **state) {
  fx *f = *state;
  nc_wc *wc = cfg_connect(f->env, &f->srv, NULL, NULL, 0);
  assert_non_null(wc);
  expect_ok(cfg_publish(wc, "app.yaml", "DEFAULT_GROUP", "", "k: v\nname: \xe4\xb8\xad", NULL),
            "ConfigPublishResponse");
  nc_msg *m = cfg_query(wc, "app.yaml", "DEFAULT_GROUP", "");
  assert_non_null(m);
  assert_string_equal(m->type, "ConfigQueryResponse");
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  assert_string_equal(nc_json_str(m->body, "content", ""), "k: v\nname: \xe4\xb8\xad");
  char md5[33];
  nc_md5_hex("k: v\nname: \xe4\xb8\xad", strlen("k: v\nname: \xe4\xb8\xad"), md5);
  assert_string_equal(nc_json_str(m->body, "md5", ""), md5);
  assert_string_equal(nc_json_str(m->body, "contentType", ""), "text");
  assert_true(nc_json_int(m->body, "lastModified", 0) > 1600000000000LL);
  assert_null(cJSON_GetObjectItem(m->body, "tag")); /* Go decodes tag as bool */
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(m->body, "beta")));
  nc_msg_free(m);
  /* 2.x: "public" and "null" are the default namespace. */
  expect_content(wc, "app.yaml", "DEFAULT_GROUP", "public", "k: v\nname: \xe4\xb8\xad");
  expect_content(wc, "app.yaml", "DEFAULT_GROUP", "null", "k: v\nname: \xe4\xb8\xad");
  /* Other namespaces are separate. */
  expect_fail(cfg_query(wc, "app.yaml", "DEFAULT_GROUP", "dev"), "ConfigQueryResponse", 300,
              "config data not exist");
  expect_ok(cfg_publish(wc, "app.yaml", "DEFAULT_GROUP", "dev", "dev: 1", NULL),
            "ConfigPublishResponse");
  expect_content(wc, "app.yaml", "DEFAULT_GROUP", "dev", "dev: 1");
  expect_content(wc, "app.yaml", "DEFAULT_GROUP", "", "k: v\nname: \xe4\xb8\xad");
  nc_wc_close(wc);
}

/* 1 MiB of content with JSON-special characters and UTF-8 survives the
 * round trip byte for byte, md5 included. */
static void test_large_content_roundtrip(void **state) {
  fx *f = *state;
  nc_wc *wc = cfg_connect(f->env, &f->srv, NULL, NULL, 0);
  assert_non_null(wc);
  static const char piece[] = "k=\"v\"\\\n\t\xc3\xa9\xe4\xb8\xad/</>{}[],:";
  size_t plen = sizeof(piece) - 1, len = 1024 * 1024;
  char *big = malloc(len + 1);
  for (size_t i = 0; i < len; i++)
    big[i] = piece[i % plen];
  len -= len % plen; /* whole pieces only: keep the UTF-8 valid */
  big[len] = '\0';
  expect_ok(cfg_publish(wc, "big", "g", "", big, NULL), "ConfigPublishResponse");
  expect_content(wc, "big", "g", "", big);
  free(big);
  nc_wc_close(wc);
}

static void test_query_missing_is_typed_300(void **state) {
  fx *f = *state;
  nc_wc *wc = cfg_connect(f->env, &f->srv, NULL, NULL, 0);
  assert_non_null(wc);
  expect_fail(cfg_query(wc, "nope", "DEFAULT_GROUP", ""), "ConfigQueryResponse", 300,
              "config data not exist");
  nc_wc_close(wc);
}

static void test_cas_mismatch_rejected(void **state) {
  fx *f = *state;
  nc_wc *wc = cfg_connect(f->env, &f->srv, NULL, NULL, 0);
  assert_non_null(wc);
  char md5[33];
  expect_ok(cfg_publish(wc, "cas", "g", "", "v1", NULL), "ConfigPublishResponse");
  nc_md5_hex("v1", 2, md5);
  expect_fail(cfg_publish(wc, "cas", "g", "", "v2", "ffffffffffffffffffffffffffffffff"),
              "ConfigPublishResponse", 500, "Cas publish fail, server md5 may have changed.");
  expect_content(wc, "cas", "g", "", "v1");
  expect_ok(cfg_publish(wc, "cas", "g", "", "v2", md5), "ConfigPublishResponse");
  expect_content(wc, "cas", "g", "", "v2");
  /* The old md5 is stale now. */
  expect_fail(cfg_publish(wc, "cas", "g", "", "v3", md5), "ConfigPublishResponse", 500, "Cas");
  expect_content(wc, "cas", "g", "", "v2");
  nc_wc_close(wc);
}

static void test_remove_existing_and_missing(void **state) {
  fx *f = *state;
  nc_wc *wc = cfg_connect(f->env, &f->srv, NULL, NULL, 0);
  assert_non_null(wc);
  expect_ok(cfg_remove(wc, "never", "g", ""), "ConfigRemoveResponse");
  expect_ok(cfg_publish(wc, "rm", "g", "", "x", NULL), "ConfigPublishResponse");
  expect_ok(cfg_remove(wc, "rm", "g", "public"), "ConfigRemoveResponse");
  expect_fail(cfg_query(wc, "rm", "g", ""), "ConfigQueryResponse", 300, NULL);
  nc_wc_close(wc);
}

static void test_bad_input_rejected_state_intact(void **state) {
  fx *f = *state;
  nc_wc *wc = cfg_connect(f->env, &f->srv, NULL, NULL, 0);
  assert_non_null(wc);
  const char *P = "ConfigPublishResponse";
  expect_ok(cfg_publish(wc, "keep", "g", "", "original", NULL), P);
  expect_fail(cfg_publish(wc, "", "g", "", "x", NULL), P, 400, "dataId");
  expect_fail(cfg_publish(wc, NULL, "g", "", "x", NULL), P, 400, "dataId");
  expect_fail(cfg_publish(wc, "a/b", "g", "", "x", NULL), P, 400, "invalid dataId");
  expect_fail(cfg_publish(wc, "keep", "", "", "x", NULL), P, 400, "group");
  expect_fail(cfg_publish(wc, "keep", "g g", "", "x", NULL), P, 400, "invalid group");
  expect_fail(cfg_publish(wc, "keep", "g", "bad/ns", "x", NULL), P, 400, "tenant");
  expect_fail(cfg_publish(wc, "keep", "g", "", NULL, NULL), P, 400, "content");
  expect_fail(cfg_publish(wc, "keep", "g", "", "   ", NULL), P, 400, "content");
  /* Over the 4 MiB default cap but inside the 10 MiB gRPC message limit. */
  size_t big_len = 4u * 1024 * 1024 + 1;
  char *big = malloc(big_len + 1);
  memset(big, 'x', big_len);
  big[big_len] = '\0';
  expect_fail(cfg_publish(wc, "keep", "g", "", big, NULL), P, 400, "too large");
  free(big);
  expect_fail(cfg_remove(wc, "a+b", "g", ""), "ConfigRemoveResponse", 400, "invalid dataId");
  expect_fail(cfg_query(wc, "keep", "", ""), "ConfigQueryResponse", 400, "group");
  /* A bad context fails the whole listen request and registers nothing. */
  cJSON *b = cfg_body(NULL, NULL, NULL);
  cJSON_AddBoolToObject(b, "listen", 1);
  cJSON *arr = cJSON_AddArrayToObject(b, "configListenContexts");
  cJSON *c1 = cJSON_CreateObject(), *c2 = cJSON_CreateObject();
  cJSON_AddStringToObject(c1, "dataId", "keep");
  cJSON_AddStringToObject(c1, "group", "g");
  cJSON_AddStringToObject(c2, "dataId", "bad id");
  cJSON_AddStringToObject(c2, "group", "g");
  cJSON_AddItemToArray(arr, c1);
  cJSON_AddItemToArray(arr, c2);
  expect_fail(cfg_call(wc, "ConfigBatchListenRequest", b), "ConfigChangeBatchListenResponse", 400,
              "invalid dataId");
  assert_int_equal(srv_metric(&f->srv, "config_listeners"), 0);
  expect_content(wc, "keep", "g", "", "original");
  assert_int_equal(srv_metric(&f->srv, "config_configs"), 1);
  nc_wc_close(wc);
}

typedef struct pushbox {
  pthread_mutex_t mu;
  int n;
  char data_id[64], group[64], tenant[64], module[32], req_id[32];
} pushbox;

static void on_push(void *ud, nc_wc *wc, const nc_msg *push) {
  (void)wc;
  pushbox *p = ud;
  if (strcmp(push->type, "ConfigChangeNotifyRequest") != 0)
    return;
  pthread_mutex_lock(&p->mu);
  p->n++;
  snprintf(p->data_id, sizeof(p->data_id), "%s", nc_json_str(push->body, "dataId", "?"));
  snprintf(p->group, sizeof(p->group), "%s", nc_json_str(push->body, "group", "?"));
  snprintf(p->tenant, sizeof(p->tenant), "%s", nc_json_str(push->body, "tenant", "?"));
  snprintf(p->module, sizeof(p->module), "%s", nc_json_str(push->body, "module", "?"));
  snprintf(p->req_id, sizeof(p->req_id), "%s", nc_json_str(push->body, "requestId", ""));
  pthread_mutex_unlock(&p->mu);
}

static int push_count(pushbox *p) {
  pthread_mutex_lock(&p->mu);
  int n = p->n;
  pthread_mutex_unlock(&p->mu);
  return n;
}

static int wait_pushes(pushbox *p, int want, int ms) {
  uint64_t end = it_now_ms() + (uint64_t)ms;
  while (push_count(p) < want && it_now_ms() < end)
    it_sleep_ms(10);
  return push_count(p);
}

static void test_listen_change_pushed_and_acked(void **state) {
  fx *f = *state;
  pushbox pb = {.mu = PTHREAD_MUTEX_INITIALIZER};
  nc_wc *listener = cfg_connect(f->env, &f->srv, on_push, &pb, 0);
  nc_wc *pub = cfg_connect(f->env, &f->srv, NULL, NULL, 0);
  assert_non_null(listener);
  assert_non_null(pub);
  expect_ok(cfg_publish(pub, "watched", "g", "", "v1", NULL), "ConfigPublishResponse");
  char md5[33];
  nc_md5_hex("v1", 2, md5);
  /* Listening with a stale md5 reports the key, echoing the client's tenant. */
  nc_msg *m = cfg_listen(listener, 1, "watched", "g", "public", "stale");
  assert_non_null(m);
  assert_string_equal(m->type, "ConfigChangeBatchListenResponse");
  assert_int_equal(nc_json_int(m->body, "resultCode", 0), 200);
  cJSON *ch = cJSON_GetObjectItem(m->body, "changedConfigs");
  assert_int_equal(cJSON_GetArraySize(ch), 1);
  assert_string_equal(nc_json_str(cJSON_GetArrayItem(ch, 0), "dataId", ""), "watched");
  assert_string_equal(nc_json_str(cJSON_GetArrayItem(ch, 0), "tenant", ""), "public");
  nc_msg_free(m);
  /* With the current md5 nothing is reported. */
  m = cfg_listen(listener, 1, "watched", "g", "public", md5);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m->body, "changedConfigs")), 0);
  nc_msg_free(m);
  assert_int_equal(srv_metric(&f->srv, "config_listeners"), 1);

  expect_ok(cfg_publish(pub, "watched", "g", "", "v2", NULL), "ConfigPublishResponse");
  assert_int_equal(wait_pushes(&pb, 1, 3000), 1);
  pthread_mutex_lock(&pb.mu);
  assert_string_equal(pb.data_id, "watched");
  assert_string_equal(pb.group, "g");
  assert_string_equal(pb.tenant, "public"); /* the client's own string */
  assert_string_equal(pb.module, "config");
  assert_true(strlen(pb.req_id) > 0);
  pthread_mutex_unlock(&pb.mu);
  assert_true(srv_metric_wait(&f->srv, "config_notifies_acked_total", 1, 3000) >= 1);
  /* Removing the config notifies too. */
  expect_ok(cfg_remove(pub, "watched", "g", ""), "ConfigRemoveResponse");
  assert_int_equal(wait_pushes(&pb, 2, 3000), 2);
  /* Unlisten: no more notifies. */
  expect_ok(cfg_listen(listener, 0, "watched", "g", "public", ""),
            "ConfigChangeBatchListenResponse");
  assert_int_equal(srv_metric(&f->srv, "config_listeners"), 0);
  expect_ok(cfg_publish(pub, "watched", "g", "", "v3", NULL), "ConfigPublishResponse");
  it_sleep_ms(300);
  assert_int_equal(push_count(&pb), 2);
  nc_wc_close(listener);
  nc_wc_close(pub);
}

static void test_listeners_cleaned_when_connection_closes(void **state) {
  fx *f = *state;
  nc_wc *a = cfg_connect(f->env, &f->srv, NULL, NULL, 0);
  assert_non_null(a);
  for (int i = 0; i < 20; i++) {
    char id[16];
    snprintf(id, sizeof(id), "k%d", i);
    nc_msg_free(cfg_listen(a, 1, id, "g", "", ""));
  }
  assert_int_equal(srv_metric(&f->srv, "config_listeners"), 20);
  nc_wc_close(a);
  uint64_t end = it_now_ms() + 3000;
  while (srv_metric(&f->srv, "config_listeners") != 0 && it_now_ms() < end)
    it_sleep_ms(20);
  assert_int_equal(srv_metric(&f->srv, "config_listeners"), 0);
}

/* No ack: the server retries after its 3 s timeout + 2 s back-off. */
static void test_unacked_notify_is_retried(void **state) {
  fx *f = *state;
  pushbox pb = {.mu = PTHREAD_MUTEX_INITIALIZER};
  nc_wc *listener = cfg_connect(f->env, &f->srv, on_push, &pb, 1);
  nc_wc *pub = cfg_connect(f->env, &f->srv, NULL, NULL, 0);
  assert_non_null(listener);
  assert_non_null(pub);
  nc_msg_free(cfg_listen(listener, 1, "retry", "g", "", ""));
  uint64_t t0 = it_now_ms();
  expect_ok(cfg_publish(pub, "retry", "g", "", "v", NULL), "ConfigPublishResponse");
  assert_int_equal(wait_pushes(&pb, 1, 2000), 1);
  char first[32];
  pthread_mutex_lock(&pb.mu);
  snprintf(first, sizeof(first), "%s", pb.req_id);
  pthread_mutex_unlock(&pb.mu);
  assert_int_equal(wait_pushes(&pb, 2, 8000), 2);
  uint64_t dt = it_now_ms() - t0;
  assert_true(dt >= 4500); /* 3 s timeout + 2 s back-off */
  pthread_mutex_lock(&pb.mu);
  char rid[32];
  snprintf(rid, sizeof(rid), "%s", pb.req_id);
  pthread_mutex_unlock(&pb.mu);
  assert_string_not_equal(rid, first); /* a fresh requestId per attempt */
  /* An ack that says failure (as Go's does) still counts as delivered. */
  assert_int_equal(nc_wc_ack(listener, "NotifySubscriberResponse", rid, 0), 0);
  assert_true(srv_metric_wait(&f->srv, "config_notifies_acked_total", 1, 3000) >= 1);
  nc_wc_close(listener);
  nc_wc_close(pub);
}

static atomic_int g_closed;

static void on_closed(void *ud, nc_wc *wc, int status) {
  (void)ud, (void)wc, (void)status;
  atomic_store(&g_closed, 1);
}

/* A listener that never acks is retried max-retries times, then its
 * connection is dropped (server with short notify timings). */
static void test_never_acking_listener_is_dropped(void **state) {
  (void)state;
  cfg_srv srv = {.extra = {"--config-notify-timeout-ms", "200", "--config-notify-max-retries",
                           "3", "--config-notify-retry-ms", "100", NULL}};
  nc_gcli_env *env = NULL;
  assert_int_equal(srv_start(&srv), 0);
  assert_int_equal(nc_gcli_env_new(1, &env), 0);
  pushbox pb = {.mu = PTHREAD_MUTEX_INITIALIZER};
  nc_wc_opts o = {.target = srv.target, .module = "config", .no_auto_ack = 1};
  nc_wc *mute = NULL;
  assert_int_equal(nc_wc_connect(env, &o, on_push, on_closed, &pb, &mute), 0);
  nc_wc *pub = cfg_connect(env, &srv, NULL, NULL, 0);
  assert_non_null(pub);
  nc_msg_free(cfg_listen(mute, 1, "mute", "g", "", ""));
  atomic_store(&g_closed, 0);
  uint64_t t0 = it_now_ms();
  expect_ok(cfg_publish(pub, "mute", "g", "", "v", NULL), "ConfigPublishResponse");
  while (!atomic_load(&g_closed) && it_now_ms() - t0 < 5000)
    it_sleep_ms(10);
  assert_true(atomic_load(&g_closed));
  /* 3 attempts: 200 ms timeouts with 100 and 200 ms back-offs in between. */
  assert_true(it_now_ms() - t0 >= 700);
  assert_int_equal(push_count(&pb), 3);
  assert_int_equal(srv_metric(&srv, "config_listeners"), 0);
  /* The publisher's connection is unaffected. */
  expect_content(pub, "mute", "g", "", "v");
  nc_wc_close(mute);
  nc_wc_close(pub);
  nc_gcli_env_free(env);
  assert_int_equal(srv_finish(&srv), 0);
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
  char *argv[] = {(char *)NC_NACOSD_BIN, "--port", "0", "--data-dir", path, "--port-file", pf, NULL};
  nc_testproc p;
  assert_int_equal(nc_testproc_start(&p, NC_NACOSD_BIN, argv, log), 0);
  uint64_t end = it_now_ms() + 10000;
  while (nc_testproc_alive(&p) && it_now_ms() < end)
    it_sleep_ms(20);
  assert_false(nc_testproc_alive(&p)); /* it exited on its own */
  assert_int_equal(access(pf, F_OK), -1); /* never listened */
  int rc = nc_testproc_kill(&p, SIGKILL);
  assert_int_equal(rc, 1); /* a clean error exit: no crash, no leak report */
  nc_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_publish_then_get, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_content_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_query_missing_is_typed_300, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cas_mismatch_rejected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_remove_existing_and_missing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input_rejected_state_intact, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listen_change_pushed_and_acked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listeners_cleaned_when_connection_closes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_unacked_notify_is_retried, setup, teardown),
      cmocka_unit_test(test_never_acking_listener_is_dropped),
      cmocka_unit_test(test_unusable_store_fails_startup),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
