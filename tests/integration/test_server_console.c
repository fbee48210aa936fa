/* Integration: the real nacosd driven by the wire client (nc_testwire) and plain
 * HTTP GETs on its main port — the connection console (§7.3: /current,
 * reloadClient, reloadCurrent, bad parameters), the connection cap
 * (--max-connections), the module label rule for naming writes (-401) and
 * empty services kept for --empty-service-ttl-ms. */
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_json.h"
#include "nc_payload.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define RESET "ConnectResetRequest"

static int start_fx(void **state, const char *const *args) {
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(args, &f);
  *state = f;
  return rc == 0 ? 0 : -1;
}

static int setup_plain(void **state) {
  const char *args[] = {"--push-merge-ms", "50", "--empty-service-ttl-ms", "1500", NULL};
  return start_fx(state, args);
}
static int setup_capped(void **state) {
  const char *args[] = {"--max-connections", "2", NULL};
  return start_fx(state, args);
}

static int teardown(void **state) { return nc_tfx_stop(*state) == 0 ? 0 : -1; }

static int try_connect(nc_tfx *f, const char *module, const char *app, nc_tw **out) {
  nc_tw_opts o = {.module = module, .app_name = app, .timeout_ms = 3000};
  return nc_tfx_try_connect(f, &o, out);
}

static nc_tw *connect_wc(nc_tfx *f, const char *module, const char *app) {
  nc_tw_opts o = {.module = module, .app_name = app, .timeout_ms = 3000};
  nc_tw *wc = nc_tfx_connect(f, &o);
  assert_non_null(wc);
  return wc;
}

static nc_tw_reply register_one(nc_tw *wc, const char *svc, int reg) {
  nc_tw_instance in = {.ip = "10.9.0.1", .port = 80};
  return reg ? nc_tw_register(wc, svc, &in) : nc_tw_deregister(wc, svc, &in);
}

static long long service_count(nc_tw *wc) {
  long long n = -1;
  nc_tw_reply r = nc_tw_service_list(wc, 1, 100, &n, NULL);
  assert_string_equal(r.type, "ServiceListResponse");
  return n;
}

static char *get(nc_tfx *f, const char *path, int *status) {
  char *body = NULL;
  assert_int_equal(nc_test_http_get_at(f->srv->host, f->srv->port, path, status, &body), 0);
  assert_non_null(body);
  return body;
}

static int get_status(nc_tfx *f, const char *path) {
  int st = 0;
  free(get(f, path, &st));
  return st;
}

static long long metric(nc_tfx *f, const char *name) { return nc_tfx_metric(f, name); }

/* Connections listed by /current. */
static int current_count(nc_tfx *f, cJSON **out) {
  int st = 0;
  char *b = get(f, "/nacos/v2/core/loader/current", &st);
  assert_int_equal(st, 200);
  cJSON *o = cJSON_Parse(b);
  free(b);
  assert_true(cJSON_IsObject(o));
  int n = cJSON_GetArraySize(o);
  if (out)
    *out = o;
  else
    cJSON_Delete(o);
  return n;
}

static int resets(nc_tw *wc) { return nc_tw_push_count(wc, RESET); }

/* ---- tests ---- */

static void test_current_lists_connections_with_meta(void **state) {
  nc_tfx *f = *state;
  nc_tw *a = connect_wc(f, "naming", "app-a");
  nc_tw *b = connect_wc(f, "config", "app-b");
  cJSON *all = NULL;
  assert_int_equal(current_count(f, &all), 2);
  const cJSON *ca = cJSON_GetObjectItemCaseSensitive(all, nc_tw_id(a));
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(ca, "metaInfo");
  assert_non_null(m);
  assert_string_equal(nc_json_str(m, "connectionId", ""), nc_tw_id(a));
  assert_string_equal(nc_json_str(m, "clientIp", ""), "127.0.0.1");
  assert_string_equal(nc_json_str(m, "remoteIp", ""), "127.0.0.1");
  assert_true(nc_json_int(m, "remotePort", 0) > 0);
  assert_int_equal(nc_json_int(m, "localPort", 0), f->srv->grpc_port);
  assert_string_equal(nc_json_str(m, "appName", ""), "app-a");
  assert_true(strlen(nc_json_str(m, "version", "")) > 0);
  assert_string_equal(nc_json_str(cJSON_GetObjectItemCaseSensitive(m, "labels"), "module", ""),
                      "naming");
  /* as Nacos's Jackson writes them: createTime an ISO-8601 string with
   * millis and offset, lastActiveTime epoch millis */
  int y = 0, mo = 0, d = 0, hh, mi, ss, ms;
  char sign = 0;
  assert_int_equal(sscanf(nc_json_str(m, "createTime", ""), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y,
                          &mo, &d, &hh, &mi, &ss, &ms, &sign),
                   8);
  assert_true(y >= 2024 && (sign == '+' || sign == '-'));
  assert_true(nc_json_int(m, "lastActiveTime", 0) > 1600000000000LL);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "tlsProtected")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "sdkSource")));
  const cJSON *cb = cJSON_GetObjectItemCaseSensitive(all, nc_tw_id(b));
  assert_string_equal(
      nc_json_str(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cb, "metaInfo"),
                                                   "labels"),
                  "module", ""),
      "config");
  cJSON_Delete(all);
}

static void test_reload_client_sends_connect_reset(void **state) {
  nc_tfx *f = *state;
  nc_tw *a = connect_wc(f, "naming", "a");
  nc_tw *b = connect_wc(f, "naming", "b");
  char path[512];
  const char *id = nc_tw_id(a);
  int st = 0;
  /* a redirect must name an UP, ready member: a standalone node has none
   * (the redirect itself is tested with a cluster, test_loader_cluster) */
  snprintf(path, sizeof(path),
           "/nacos/v2/core/loader/reloadClient?connectionId=%s&redirectAddress=127.0.0.1:18848",
           id);
  char *body = get(f, path, &st);
  assert_int_equal(st, 400);
  assert_non_null(strstr(body, "not a member"));
  free(body);
  /* without a redirect: no target, the client picks one itself */
  snprintf(path, sizeof(path), "/nacos/v2/core/loader/reloadClient?connectionId=%s", id);
  body = get(f, path, &st);
  assert_int_equal(st, 200);
  assert_string_equal(body, "success");
  free(body);
  assert_int_equal(nc_tw_wait_pushes(a, RESET, 1, 3000), 1);
  cJSON *p = nc_tw_push_get(a, RESET, 0, NULL, 0);
  assert_false(cJSON_HasObjectItem(p, "serverIp"));
  assert_false(cJSON_HasObjectItem(p, "connectionId"));
  cJSON_Delete(p);
  assert_int_equal(resets(b), 0); /* only the one named */
  /* the ack arrived, nothing else changed: both still served */
  assert_int_equal(metric(f, "nacosd_connections_reset_total"), 1);
  assert_int_equal(current_count(f, NULL), 2);
}

/* Every sample has its # HELP and # TYPE lines (Prometheus text format). */
static void test_metrics_have_help_and_type(void **state) {
  nc_tfx *f = *state;
  int st = 0;
  char *b = get(f, "/metrics", &st);
  assert_int_equal(st, 200);
  assert_non_null(b);
  assert_true(nc_test_metrics_samples(b, "nacosd_") >= 20);
  free(b);
}

static void test_bad_console_parameters_get_400(void **state) {
  nc_tfx *f = *state;
  nc_tw *a = connect_wc(f, "naming", "a");
  char path[512];
  int st = 0;
  char *body = get(f, "/nacos/v2/core/loader/reloadClient", &st);
  assert_int_equal(st, 400);
  assert_non_null(strstr(body, "connectionId"));
  free(body);
  assert_int_equal(get_status(f, "/nacos/v2/core/loader/reloadClient?connectionId=nope"), 404);
  snprintf(path, sizeof(path),
           "/nacos/v2/core/loader/reloadClient?connectionId=%s&redirectAddress=1.2.3.4",
           nc_tw_id(a));
  assert_int_equal(get_status(f, path), 400);
  snprintf(path, sizeof(path),
           "/nacos/v2/core/loader/reloadClient?connectionId=%s&redirectAddress=h:99999",
           nc_tw_id(a));
  assert_int_equal(get_status(f, path), 400);
  assert_int_equal(get_status(f, "/nacos/v2/core/loader/reloadClient?connectionId=%zz"), 400);
  body = get(f, "/nacos/v2/core/loader/reloadCurrent", &st);
  assert_int_equal(st, 400);
  assert_non_null(strstr(body, "count"));
  free(body);
  assert_int_equal(get_status(f, "/nacos/v2/core/loader/reloadCurrent?count=-1"), 400);
  assert_int_equal(get_status(f, "/nacos/v2/core/loader/reloadCurrent?count=abc"), 400);
  assert_int_equal(get_status(f, "/nacos/v2/core/loader/reloadCurrent?count=1&redirectAddress=x"),
                   400);
  assert_int_equal(get_status(f, "/nacos/v2/core/loader/nothing"), 404);
  /* nothing was sent, the connection is intact */
  nc_test_quiet_ms(1200);
  assert_int_equal(resets(a), 0);
  assert_int_equal(current_count(f, NULL), 1);
}

static int total_resets(nc_tw *const *w, int n) {
  int total = 0;
  for (int i = 0; i < n; i++)
    total += w[i] ? resets(w[i]) : 0;
  return total;
}

static void test_reload_current_sheds_down_to_count(void **state) {
  nc_tfx *f = *state;
  nc_tw *w[5];
  for (int i = 0; i < 5; i++)
    w[i] = connect_wc(f, "naming", "shed");
  int st = 0;
  char *body = get(f, "/nacos/v2/core/loader/reloadCurrent?count=2", &st);
  assert_int_equal(st, 200);
  assert_string_equal(body, "success");
  free(body);
  /* the next periodic run resets exactly 5 - 2 of them */
  long long took;
  NC_TEST_POLL(total_resets(w, 5) >= 3, 4000, took);
  (void)took;
  assert_int_equal(total_resets(w, 5), 3);
  /* the reset ones leave (as SDKs do after acking); the target is then met */
  int left = 0;
  for (int i = 0; i < 5; i++)
    if (resets(w[i])) {
      nc_tfx_close(f, w[i]);
      w[i] = NULL;
      left++;
    }
  assert_int_equal(left, 3);
  NC_TEST_WAIT(current_count(f, NULL) == 2, 3000);
  nc_test_quiet_ms(2200); /* two more periodic runs: nobody else is reset */
  assert_int_equal(total_resets(w, 5), 0);
  assert_int_equal(metric(f, "nacosd_connections_reset_total"), 3);
}

static void test_connection_cap_refuses_setup_keeps_others(void **state) {
  nc_tfx *f = *state;
  nc_tw *a = connect_wc(f, "naming", "a");
  nc_tw *b = connect_wc(f, "naming", "b");
  nc_tw *c = NULL;
  assert_int_not_equal(try_connect(f, "naming", "c", &c), 0);
  assert_null(c);
  assert_true(metric(f, "nacosd_connections_rejected_total") >= 1);
  assert_int_equal(current_count(f, NULL), 2);
  /* the existing ones keep working */
  assert_int_equal(register_one(a, "cap", 1).result_code, 200);
  assert_int_equal(nc_tw_query(b, "cap", NULL).result_code, 200);
  /* room again once one leaves */
  nc_tfx_close(f, b);
  NC_TEST_WAIT(current_count(f, NULL) == 1, 3000);
  c = connect_wc(f, "naming", "c");
  assert_int_equal(current_count(f, NULL), 2);
}

/* module=config connections get -401 for naming writes; naming ones and
 * queries are served. A PersistentInstanceRequest is kept (docs/persistent.md). */
static void test_naming_writes_need_module_naming(void **state) {
  nc_tfx *f = *state;
  nc_tw *cfg = connect_wc(f, "config", "cfg");
  nc_tw *nam = connect_wc(f, "naming", "nam");
  nc_tw_reply r = register_one(cfg, "m", 1);
  assert_string_equal(r.type, "ErrorResponse");
  assert_int_equal(r.error_code, -401);
  assert_false(r.success);
  assert_int_equal(nc_tw_subscribe(cfg, "m", 1, NULL).result_code, -401);
  assert_int_equal(nc_tw_batch_register(cfg, "m", NULL, 0).result_code, -401);
  r = nc_tw_query(cfg, "m", NULL);
  assert_int_equal(r.result_code, 200);
  assert_string_equal(r.type, "QueryServiceResponse");
  assert_int_equal(service_count(cfg), 0); /* nothing was registered */
  assert_int_equal(register_one(nam, "m", 1).result_code, 200);
  assert_int_equal(service_count(cfg), 1);
  /* a persistent instance (docs/persistent.md) is kept: a second service */
  nc_tw_instance in = {.ip = "10.9.0.1", .port = 80};
  r = nc_tw_call_reply(nam, "PersistentInstanceRequest",
                       nc_tw_instance_body(nam, "pm", "registerInstance", &in));
  assert_string_equal(r.type, "InstanceResponse");
  assert_int_equal(r.result_code, 200);
  assert_int_equal(service_count(cfg), 2);
}

/* A service whose last instance went is still listed for the TTL (1.5 s
 * here), then forgotten. */
static void test_empty_service_kept_for_ttl(void **state) {
  nc_tfx *f = *state;
  nc_tw *a = connect_wc(f, "naming", "a");
  assert_int_equal(register_one(a, "ttl", 1).result_code, 200);
  assert_int_equal(service_count(a), 1);
  assert_int_equal(register_one(a, "ttl", 0).result_code, 200);
  assert_int_equal(service_count(a), 1);
  long long took;
  NC_TEST_POLL(service_count(a) == 0, 5000, took);
  assert_int_equal(service_count(a), 0);
  assert_true(took >= 1000); /* not at once */
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_current_lists_connections_with_meta, setup_plain,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_reload_client_sends_connect_reset, setup_plain,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_bad_console_parameters_get_400, setup_plain, teardown),
      cmocka_unit_test_setup_teardown(test_metrics_have_help_and_type, setup_plain, teardown),
      cmocka_unit_test_setup_teardown(test_reload_current_sheds_down_to_count, setup_plain,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_connection_cap_refuses_setup_keeps_others,
                                      setup_capped, teardown),
      cmocka_unit_test_setup_teardown(test_naming_writes_need_module_naming, setup_plain,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_empty_service_kept_for_ttl, setup_plain, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
