/* Integration: the real nacosd driven by the wire client (nc_wc) and plain
 * HTTP GETs on its main port — the connection console (§7.3: /current,
 * reloadClient, reloadCurrent, bad parameters), the connection cap
 * (--max-connections), the module label rule for naming writes (-401) and
 * empty services kept for --empty-service-ttl-ms. */
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_json.h"
#include "nc_payload.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"
#include "nc_wire_client.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NCLI 6

typedef struct cli {
  pthread_mutex_t mu;
  int resets;
  char ip[64], port[16], conn_id[160];
  int has_ip;
} cli;

typedef struct fx {
  char dir[128];
  nc_test_nacosd srv;
  nc_gcli_env *env;
  cli cs[NCLI];
} fx;

static void on_push(void *ud, nc_wc *wc, const nc_msg *m) {
  cli *c = ud;
  (void)wc;
  if (strcmp(m->type, "ConnectResetRequest") != 0)
    return;
  pthread_mutex_lock(&c->mu);
  c->resets++;
  c->has_ip = cJSON_HasObjectItem(m->body, "serverIp");
  snprintf(c->ip, sizeof(c->ip), "%s", nc_json_str(m->body, "serverIp", ""));
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(m->body, "serverPort");
  snprintf(c->port, sizeof(c->port), "%s", cJSON_IsString(p) ? p->valuestring : "(not a string)");
  snprintf(c->conn_id, sizeof(c->conn_id), "%s", nc_json_str(m->body, "connectionId", ""));
  pthread_mutex_unlock(&c->mu);
}

static int resets(cli *c) {
  pthread_mutex_lock(&c->mu);
  int n = c->resets;
  pthread_mutex_unlock(&c->mu);
  return n;
}

static int start_fx(void **state, const char *const *args) {
  fx *f = calloc(1, sizeof(*f));
  if (!f || nc_test_mkdtemp(f->dir, sizeof(f->dir)) != 0)
    return -1;
  for (int i = 0; i < NCLI; i++)
    pthread_mutex_init(&f->cs[i].mu, NULL);
  if (nc_test_nacosd_start(f->dir, args, &f->srv) != 0 || nc_gcli_env_new(1, &f->env) != 0)
    return -1;
  *state = f;
  return 0;
}

static int setup_plain(void **state) {
  const char *args[] = {"--push-merge-ms", "50", "--empty-service-ttl-ms", "1500", NULL};
  return start_fx(state, args);
}
static int setup_capped(void **state) {
  const char *args[] = {"--max-connections", "2", NULL};
  return start_fx(state, args);
}

static int teardown(void **state) {
  fx *f = *state;
  if (!f)
    return 0;
  nc_gcli_env_free(f->env);
  int rc = nc_test_nacosd_stop(&f->srv);
  nc_test_rmtree(f->dir);
  for (int i = 0; i < NCLI; i++)
    pthread_mutex_destroy(&f->cs[i].mu);
  free(f);
  return rc == 0 ? 0 : -1;
}

static int try_connect(fx *f, int idx, const char *module, const char *app, nc_wc **out) {
  nc_wc_opts o = {.target = f->srv.target, .module = module, .app_name = app, .timeout_ms = 3000};
  return nc_wc_connect(f->env, &o, on_push, NULL, &f->cs[idx], out);
}

static nc_wc *connect_wc(fx *f, int idx, const char *module, const char *app) {
  nc_wc *wc = NULL;
  int rc = try_connect(f, idx, module, app, &wc);
  if (rc)
    nc_testproc_dump_log(&f->srv.proc);
  assert_int_equal(rc, 0);
  return wc;
}

static cJSON *naming_body(const char *svc) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "namespace", "public");
  cJSON_AddStringToObject(b, "serviceName", svc);
  cJSON_AddStringToObject(b, "groupName", "DEFAULT_GROUP");
  cJSON_AddStringToObject(b, "module", "naming");
  cJSON_AddObjectToObject(b, "headers");
  return b;
}

static nc_msg *request(nc_wc *wc, const char *type, cJSON *body) {
  nc_msg *r = NULL;
  int rc = nc_wc_request(wc, type, body, 5000, &r);
  cJSON_Delete(body);
  assert_int_equal(rc, 0);
  assert_non_null(r);
  return r;
}

static cJSON *register_body(const char *svc, const char *type) {
  cJSON *b = naming_body(svc);
  cJSON_AddStringToObject(b, "type", type);
  cJSON *in = cJSON_AddObjectToObject(b, "instance");
  cJSON_AddStringToObject(in, "ip", "10.9.0.1");
  cJSON_AddNumberToObject(in, "port", 80);
  cJSON_AddBoolToObject(in, "ephemeral", 1);
  return b;
}

/* resultCode of the reply (and its type into t). */
static long long call_rc(nc_wc *wc, const char *type, cJSON *body, char *t, size_t cap) {
  nc_msg *r = request(wc, type, body);
  long long rc = nc_json_int(r->body, "resultCode", 0);
  if (t)
    snprintf(t, cap, "%s", r->type);
  nc_msg_free(r);
  return rc;
}

static long long service_count(nc_wc *wc) {
  cJSON *b = naming_body("");
  cJSON_AddNumberToObject(b, "pageNo", 1);
  cJSON_AddNumberToObject(b, "pageSize", 100);
  nc_msg *r = request(wc, "ServiceListRequest", b);
  assert_string_equal(r->type, "ServiceListResponse");
  long long n = nc_json_int(r->body, "count", -1);
  nc_msg_free(r);
  return n;
}

static char *get(fx *f, const char *path, int *status) {
  char *body = NULL;
  assert_int_equal(nc_test_http_get(f->srv.port, path, status, &body), 0);
  assert_non_null(body);
  return body;
}

static int get_status(fx *f, const char *path) {
  int st = 0;
  free(get(f, path, &st));
  return st;
}

static long long metric(fx *f, const char *name) {
  int st = 0;
  char *b = get(f, "/metrics", &st);
  long long v = -1;
  size_t nl = strlen(name);
  for (char *p = b; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (!strncmp(p, name, nl) && p[nl] == ' ')
      v = atoll(p + nl + 1);
  free(b);
  return v;
}

/* Connections listed by /current. */
static int current_count(fx *f, cJSON **out) {
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

static int wait_resets(cli *c, int want, int timeout_ms) {
  long long end = nc_test_now_ms() + timeout_ms;
  while (resets(c) < want && nc_test_now_ms() < end)
    nc_test_sleep_ms(20);
  return resets(c);
}

/* ---- tests ---- */

static void test_current_lists_connections_with_meta(void **state) {
  fx *f = *state;
  nc_wc *a = connect_wc(f, 0, "naming", "app-a");
  nc_wc *b = connect_wc(f, 1, "config", "app-b");
  cJSON *all = NULL;
  assert_int_equal(current_count(f, &all), 2);
  const cJSON *ca = cJSON_GetObjectItemCaseSensitive(all, nc_wc_connection_id(a));
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(ca, "metaInfo");
  assert_non_null(m);
  assert_string_equal(nc_json_str(m, "connectionId", ""), nc_wc_connection_id(a));
  assert_string_equal(nc_json_str(m, "clientIp", ""), "127.0.0.1");
  assert_string_equal(nc_json_str(m, "remoteIp", ""), "127.0.0.1");
  assert_true(nc_json_int(m, "remotePort", 0) > 0);
  assert_int_equal(nc_json_int(m, "localPort", 0), f->srv.grpc_port);
  assert_string_equal(nc_json_str(m, "appName", ""), "app-a");
  assert_true(strlen(nc_json_str(m, "version", "")) > 0);
  assert_string_equal(nc_json_str(cJSON_GetObjectItemCaseSensitive(m, "labels"), "module", ""),
                      "naming");
  assert_true(nc_json_int(m, "createTime", 0) > 1600000000000LL);
  assert_true(nc_json_int(m, "lastActiveTime", 0) >= nc_json_int(m, "createTime", 0));
  const cJSON *cb = cJSON_GetObjectItemCaseSensitive(all, nc_wc_connection_id(b));
  assert_string_equal(
      nc_json_str(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cb, "metaInfo"),
                                                   "labels"),
                  "module", ""),
      "config");
  cJSON_Delete(all);
  nc_wc_close(a);
  nc_wc_close(b);
}

static void test_reload_client_sends_connect_reset(void **state) {
  fx *f = *state;
  nc_wc *a = connect_wc(f, 0, "naming", "a");
  nc_wc *b = connect_wc(f, 1, "naming", "b");
  char path[512];
  const char *id = nc_wc_connection_id(a);
  int st = 0;
  snprintf(path, sizeof(path),
           "/nacos/v2/core/loader/reloadClient?connectionId=%s&redirectAddress=127.0.0.1:18848",
           id);
  char *body = get(f, path, &st);
  assert_int_equal(st, 200);
  assert_string_equal(body, "success");
  free(body);
  assert_int_equal(wait_resets(&f->cs[0], 1, 3000), 1);
  pthread_mutex_lock(&f->cs[0].mu);
  assert_string_equal(f->cs[0].ip, "127.0.0.1");
  assert_string_equal(f->cs[0].port, "18848");
  assert_string_equal(f->cs[0].conn_id, id);
  pthread_mutex_unlock(&f->cs[0].mu);
  assert_int_equal(resets(&f->cs[1]), 0); /* only the one named */
  /* without a redirect: no target, the client picks one itself */
  snprintf(path, sizeof(path), "/nacos/v2/core/loader/reloadClient?connectionId=%s",
           nc_wc_connection_id(b));
  assert_int_equal(get_status(f, path), 200);
  assert_int_equal(wait_resets(&f->cs[1], 1, 3000), 1);
  pthread_mutex_lock(&f->cs[1].mu);
  assert_false(f->cs[1].has_ip);
  pthread_mutex_unlock(&f->cs[1].mu);
  /* the acks arrived, nothing else changed: both still served */
  assert_int_equal(metric(f, "nacosd_connections_reset_total"), 2);
  assert_int_equal(current_count(f, NULL), 2);
  nc_wc_close(a);
  nc_wc_close(b);
}

/* Every sample has its # HELP and # TYPE lines (Prometheus text format). */
static void test_metrics_have_help_and_type(void **state) {
  fx *f = *state;
  int st = 0;
  char *b = get(f, "/metrics", &st);
  assert_int_equal(st, 200);
  assert_non_null(b);
  assert_true(nc_test_metrics_samples(b, "nacosd_") >= 20);
  free(b);
}

static void test_bad_console_parameters_get_400(void **state) {
  fx *f = *state;
  nc_wc *a = connect_wc(f, 0, "naming", "a");
  char path[512];
  int st = 0;
  char *body = get(f, "/nacos/v2/core/loader/reloadClient", &st);
  assert_int_equal(st, 400);
  assert_non_null(strstr(body, "connectionId"));
  free(body);
  assert_int_equal(get_status(f, "/nacos/v2/core/loader/reloadClient?connectionId=nope"), 404);
  snprintf(path, sizeof(path),
           "/nacos/v2/core/loader/reloadClient?connectionId=%s&redirectAddress=1.2.3.4",
           nc_wc_connection_id(a));
  assert_int_equal(get_status(f, path), 400);
  snprintf(path, sizeof(path),
           "/nacos/v2/core/loader/reloadClient?connectionId=%s&redirectAddress=h:99999",
           nc_wc_connection_id(a));
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
  nc_test_sleep_ms(1200);
  assert_int_equal(resets(&f->cs[0]), 0);
  assert_int_equal(current_count(f, NULL), 1);
  nc_wc_close(a);
}

static void test_reload_current_sheds_down_to_count(void **state) {
  fx *f = *state;
  nc_wc *w[5];
  for (int i = 0; i < 5; i++)
    w[i] = connect_wc(f, i, "naming", "shed");
  int st = 0;
  char *body = get(f, "/nacos/v2/core/loader/reloadCurrent?count=2", &st);
  assert_int_equal(st, 200);
  assert_string_equal(body, "success");
  free(body);
  /* the next periodic run resets exactly 5 - 2 of them */
  long long end = nc_test_now_ms() + 4000;
  int total = 0;
  while (nc_test_now_ms() < end) {
    total = 0;
    for (int i = 0; i < 5; i++)
      total += resets(&f->cs[i]);
    if (total >= 3)
      break;
    nc_test_sleep_ms(20);
  }
  assert_int_equal(total, 3);
  /* the reset ones leave (as SDKs do after acking); the target is then met */
  for (int i = 0; i < 5; i++)
    if (resets(&f->cs[i])) {
      nc_wc_close(w[i]);
      w[i] = NULL;
    }
  end = nc_test_now_ms() + 3000;
  while (current_count(f, NULL) != 2 && nc_test_now_ms() < end)
    nc_test_sleep_ms(50);
  assert_int_equal(current_count(f, NULL), 2);
  nc_test_sleep_ms(2200); /* two more periodic runs: nobody else is reset */
  total = 0;
  for (int i = 0; i < 5; i++)
    total += resets(&f->cs[i]);
  assert_int_equal(total, 3);
  assert_int_equal(metric(f, "nacosd_connections_reset_total"), 3);
  for (int i = 0; i < 5; i++)
    if (w[i])
      nc_wc_close(w[i]);
}

static void test_connection_cap_refuses_setup_keeps_others(void **state) {
  fx *f = *state;
  nc_wc *a = connect_wc(f, 0, "naming", "a");
  nc_wc *b = connect_wc(f, 1, "naming", "b");
  nc_wc *c = NULL;
  assert_int_not_equal(try_connect(f, 2, "naming", "c", &c), 0);
  assert_null(c);
  assert_true(metric(f, "nacosd_connections_rejected_total") >= 1);
  assert_int_equal(current_count(f, NULL), 2);
  /* the existing ones keep working */
  char t[64];
  assert_int_equal(call_rc(a, "InstanceRequest", register_body("cap", "registerInstance"), t,
                           sizeof(t)),
                   200);
  assert_int_equal(call_rc(b, "ServiceQueryRequest", naming_body("cap"), t, sizeof(t)), 200);
  /* room again once one leaves */
  nc_wc_close(b);
  long long end = nc_test_now_ms() + 3000;
  while (current_count(f, NULL) != 1 && nc_test_now_ms() < end)
    nc_test_sleep_ms(50);
  c = connect_wc(f, 2, "naming", "c");
  assert_int_equal(current_count(f, NULL), 2);
  nc_wc_close(a);
  nc_wc_close(c);
}

/* module=config connections get -401 for naming writes; naming ones and
 * queries are served. PersistentInstanceRequest gets a typed failure. */
static void test_naming_writes_need_module_naming(void **state) {
  fx *f = *state;
  nc_wc *cfg = connect_wc(f, 0, "config", "cfg");
  nc_wc *nam = connect_wc(f, 1, "naming", "nam");
  char t[64];
  nc_msg *r = request(cfg, "InstanceRequest", register_body("m", "registerInstance"));
  assert_string_equal(r->type, "ErrorResponse");
  assert_int_equal(nc_json_int(r->body, "errorCode", 0), -401);
  assert_false(nc_json_bool(r->body, "success", 1));
  nc_msg_free(r);
  cJSON *sb = naming_body("m");
  cJSON_AddBoolToObject(sb, "subscribe", 1);
  assert_int_equal(call_rc(cfg, "SubscribeServiceRequest", sb, t, sizeof(t)), -401);
  cJSON *bb = naming_body("m");
  cJSON_AddStringToObject(bb, "type", "batchRegisterInstance");
  cJSON_AddArrayToObject(bb, "instances");
  assert_int_equal(call_rc(cfg, "BatchInstanceRequest", bb, t, sizeof(t)), -401);
  assert_int_equal(call_rc(cfg, "ServiceQueryRequest", naming_body("m"), t, sizeof(t)), 200);
  assert_string_equal(t, "QueryServiceResponse");
  assert_int_equal(service_count(cfg), 0); /* nothing was registered */
  assert_int_equal(call_rc(nam, "InstanceRequest", register_body("m", "registerInstance"), t,
                           sizeof(t)),
                   200);
  assert_int_equal(service_count(cfg), 1);
  /* persistent instances: a clear typed failure, state untouched */
  nc_msg *p = request(nam, "PersistentInstanceRequest", register_body("pm", "registerInstance"));
  assert_string_equal(p->type, "InstanceResponse");
  assert_int_equal(nc_json_int(p->body, "resultCode", 0), 500);
  assert_int_equal(nc_json_int(p->body, "errorCode", 0), 400);
  assert_non_null(strstr(nc_json_str(p->body, "message", ""), "persistent"));
  nc_msg_free(p);
  assert_int_equal(service_count(cfg), 1);
  nc_wc_close(cfg);
  nc_wc_close(nam);
}

/* A service whose last instance went is still listed for the TTL (1.5 s
 * here), then forgotten. */
static void test_empty_service_kept_for_ttl(void **state) {
  fx *f = *state;
  nc_wc *a = connect_wc(f, 0, "naming", "a");
  char t[64];
  assert_int_equal(call_rc(a, "InstanceRequest", register_body("ttl", "registerInstance"), t,
                           sizeof(t)),
                   200);
  assert_int_equal(service_count(a), 1);
  assert_int_equal(call_rc(a, "InstanceRequest", register_body("ttl", "deregisterInstance"), t,
                           sizeof(t)),
                   200);
  assert_int_equal(service_count(a), 1);
  long long t0 = nc_test_now_ms();
  while (service_count(a) != 0 && nc_test_now_ms() - t0 < 5000)
    nc_test_sleep_ms(100);
  long long took = nc_test_now_ms() - t0;
  assert_int_equal(service_count(a), 0);
  assert_true(took >= 1000); /* not at once */
  nc_wc_close(a);
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
