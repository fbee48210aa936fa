/* Service create/update/delete and instance update over the naming open
 * API (issue 14), v1 and v2, against one nacosd: Nacos's answers and
 * errors (ServiceOperatorV2Impl, ErrorCode 21005-21009), the stored
 * metadata in the service detail and list, an instance override applied
 * to a gRPC-registered instance and pushed to a gRPC subscriber, and both
 * kept across a restart (SQLite). */
#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const args[] = {"--push-merge-ms", "50", NULL};

static int setup(void **st) {
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(args, &f);
  *st = f;
  return rc ? -1 : 0;
}
static int teardown(void **st) { return nc_tfx_stop(*st) == 0 ? 0 : -1; }

/* One request: status, *body (static, overwritten per call). */
static int req(nc_tfx *f, const char *method, const char *path, const char **body) {
  static char *last;
  int status = 0;
  free(last);
  last = NULL;
  assert_int_equal(nc_test_http_req(f->srv->port, method, path, NULL, NULL, &status, &last), 0);
  if (body)
    *body = last;
  return status;
}
static cJSON *req_json(nc_tfx *f, const char *method, const char *path, int want) {
  const char *b;
  int st = req(f, method, path, &b);
  if (st != want)
    fprintf(stderr, "%s %s: %d %s\n", method, path, st, b);
  assert_int_equal(st, want);
  cJSON *j = cJSON_Parse(b);
  assert_non_null(j);
  return j;
}
static void expect(nc_tfx *f, const char *method, const char *path, int status, const char *body) {
  const char *b;
  int st = req(f, method, path, &b);
  if (st != status || strcmp(b, body))
    fprintf(stderr, "%s %s: %d %s\n", method, path, st, b);
  assert_int_equal(st, status);
  assert_string_equal(b, body);
}
/* A v2 answer: status, code, message, data (a string). */
static void expect2(nc_tfx *f, const char *method, const char *path, int status, int code,
                    const char *message, const char *data) {
  cJSON *j = req_json(f, method, path, status);
  assert_int_equal(cJSON_GetObjectItem(j, "code")->valueint, code);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "message")), message);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "data")), data);
  cJSON_Delete(j);
}
static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  assert_true(cJSON_IsNumber(v));
  return v->valuedouble;
}
static const char *str(const cJSON *o, const char *k) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
  assert_non_null(s);
  return s;
}

static void test_service_crud_v1(void **st) {
  nc_tfx *f = *st;
  expect(f, "POST", "/nacos/v1/ns/service?serviceName=ms&protectThreshold=0.5&metadata=k%3Dv", 200,
         "ok");
  expect(f, "POST", "/nacos/v1/ns/service?serviceName=ms", 400,
         "caused: specified service DEFAULT_GROUP@@ms already exists!;");
  /* the detail, field by field */
  cJSON *j = req_json(f, "GET", "/nacos/v1/ns/service?serviceName=ms", 200);
  assert_string_equal(str(j, "namespaceId"), "public");
  assert_string_equal(str(j, "groupName"), "DEFAULT_GROUP");
  assert_string_equal(str(j, "name"), "ms");
  assert_true(num(j, "protectThreshold") == 0.5);
  assert_string_equal(str(cJSON_GetObjectItem(j, "metadata"), "k"), "v");
  assert_string_equal(str(cJSON_GetObjectItem(j, "selector"), "type"), "none");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "clusters")), 0);
  cJSON_Delete(j);
  /* listed although it has no instance yet */
  j = req_json(f, "GET", "/nacos/v1/ns/service/list?pageNo=1&pageSize=10", 200);
  assert_true(num(j, "count") >= 1);
  const cJSON *it;
  int seen = 0;
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "doms")) seen += !strcmp(it->valuestring, "ms");
  assert_int_equal(seen, 1);
  cJSON_Delete(j);
  /* update: every field from the request (or its default) */
  expect(f, "PUT", "/nacos/v1/ns/service?serviceName=ms&protectThreshold=0.2&metadata=%7B%22a%22"
                   "%3A%22b%22%7D&selector=%7B%22type%22%3A%22label%22%2C%22expression%22%3A%22x"
                   "%22%7D", 200, "ok");
  j = req_json(f, "GET", "/nacos/v1/ns/service?serviceName=ms", 200);
  assert_true(num(j, "protectThreshold") == 0.2);
  assert_string_equal(str(cJSON_GetObjectItem(j, "metadata"), "a"), "b");
  assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "k"));
  assert_string_equal(str(cJSON_GetObjectItem(j, "selector"), "type"), "label");
  cJSON_Delete(j);
  /* errors: state untouched */
  expect(f, "PUT", "/nacos/v1/ns/service?serviceName=nope", 400,
         "caused: service DEFAULT_GROUP@@nope not found!;");
  expect(f, "PUT", "/nacos/v1/ns/service?serviceName=ms&selector=%7B%22type%22%3A%22x%22%7D", 400,
         "caused: not match any type of selector!;");
  expect(f, "PUT", "/nacos/v1/ns/service?serviceName=ms&protectThreshold=abc", 400,
         "caused: Param 'protectThreshold' must be a number;");
  expect(f, "POST", "/nacos/v1/ns/service", 400, "caused: Param 'serviceName' is required.;");
  expect(f, "POST", "/nacos/v1/ns/service?serviceName=m2&metadata=%5B1%5D", 400,
         "caused: service metadata must be a JSON object or k=v,k=v;");
  j = req_json(f, "GET", "/nacos/v1/ns/service?serviceName=ms", 200);
  assert_true(num(j, "protectThreshold") == 0.2);
  cJSON_Delete(j);
  expect(f, "GET", "/nacos/v1/ns/service?serviceName=m2", 400,
         "caused: service not found, namespace: public, serviceName: DEFAULT_GROUP@@m2;");
  /* delete refuses a service with instances */
  expect(f, "POST", "/nacos/v1/ns/instance?serviceName=ms&ip=1.1.1.1&port=1", 200, "ok");
  expect(f, "DELETE", "/nacos/v1/ns/service?serviceName=ms", 400,
         "caused: Service DEFAULT_GROUP@@ms is not empty, can't be delete. Please unregister "
         "instance first;");
  expect(f, "DELETE", "/nacos/v1/ns/instance?serviceName=ms&ip=1.1.1.1&port=1", 200, "ok");
  expect(f, "DELETE", "/nacos/v1/ns/service?serviceName=ms", 200, "ok");
  /* Nacos answers ok for a service it does not know */
  expect(f, "DELETE", "/nacos/v1/ns/service?serviceName=never", 200, "ok");
  /* another namespace and group are other services */
  expect(f, "POST", "/nacos/v1/ns/service?namespaceId=dev&groupName=G&serviceName=ms", 200, "ok");
  j = req_json(f, "GET", "/nacos/v1/ns/service?namespaceId=dev&serviceName=G%40%40ms", 200);
  assert_string_equal(str(j, "namespaceId"), "dev");
  assert_string_equal(str(j, "groupName"), "G");
  cJSON_Delete(j);
}

static void test_service_crud_v2(void **st) {
  nc_tfx *f = *st;
  expect2(f, "POST", "/nacos/v2/ns/service?serviceName=v2s&protectThreshold=0.3", 200, 0,
          "success", "ok");
  expect2(f, "POST", "/nacos/v2/ns/service?serviceName=v2s", 400, 21007, "service already exist",
          "specified service DEFAULT_GROUP@@v2s already exists!");
  cJSON *j = req_json(f, "GET", "/nacos/v2/ns/service?serviceName=v2s", 200);
  const cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_int_equal(cJSON_GetObjectItem(j, "code")->valueint, 0);
  assert_true(num(d, "protectThreshold") == 0.3);
  assert_string_equal(str(d, "name"), "v2s");
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v2/ns/service/list", 200);
  assert_true(num(cJSON_GetObjectItem(j, "data"), "count") >= 1);
  cJSON_Delete(j);
  expect2(f, "PUT", "/nacos/v2/ns/service?serviceName=v2s&metadata=x%3Dy", 200, 0, "success", "ok");
  expect2(f, "PUT", "/nacos/v2/ns/service?serviceName=none", 404, 21008, "service not exist",
          "service DEFAULT_GROUP@@none not found!");
  expect2(f, "PUT", "/nacos/v2/ns/service?serviceName=v2s&selector=%7B%7D", 400, 21006,
          "selector error", "not match any type of selector!");
  expect2(f, "POST", "/nacos/v2/ns/service", 400, 10000, "parameter missing",
          "Required parameter 'serviceName' type String is not present");
  expect2(f, "POST", "/nacos/v2/ns/instance?serviceName=v2s&ip=2.2.2.2&port=2", 200, 0, "success",
          "ok");
  expect2(f, "DELETE", "/nacos/v2/ns/service?serviceName=v2s", 400, 21009,
          "service delete failure",
          "Service DEFAULT_GROUP@@v2s is not empty, can't be delete. Please unregister instance "
          "first");
  expect2(f, "DELETE", "/nacos/v2/ns/instance?serviceName=v2s&ip=2.2.2.2&port=2", 200, 0,
          "success", "ok");
  expect2(f, "DELETE", "/nacos/v2/ns/service?serviceName=v2s", 200, 0, "success", "ok");
}

/* The host ip of a push / query, or NULL. */
static const nc_tw_host *host(const nc_tw_service *s, const char *ip) {
  for (int i = 0; i < s->nhosts; i++)
    if (!strcmp(s->hosts[i].ip, ip))
      return &s->hosts[i];
  return NULL;
}

/* The newest push of svc to tw has host ip with weight w (w < 0: no such
 * host) within timeout; 1 when it came. */
static int pushed_weight(nc_tw *tw, const char *svc, const char *ip, double w, int timeout_ms) {
  long long t0 = nc_test_now_ms();
  while (nc_test_now_ms() - t0 < timeout_ms) {
    nc_tw_service cur = {0};
    nc_tw_wait_notify(tw, svc, 1, 200, &cur);
    const nc_tw_host *h = cur.info ? host(&cur, ip) : NULL;
    int ok = cur.info && (w < 0 ? h == NULL : (h && h->weight == w));
    nc_tw_service_free(&cur);
    if (ok)
      return 1;
    nc_test_sleep_ms(50);
  }
  return 0;
}

/* A weight change over HTTP on an instance registered over gRPC is an
 * override: the subscriber is pushed it, queries show it, the metadata
 * keys are added; disabling hides the instance. */
static void test_override_of_grpc_instance_pushed(void **st) {
  nc_tfx *f = *st;
  nc_tw *reg = nc_tfx_connect(f, NULL), *sub = nc_tfx_connect(f, NULL);
  assert_non_null(reg);
  assert_non_null(sub);
  const char *const md[] = {"own", "1", NULL};
  nc_tw_instance in = {.ip = "5.5.5.5", .port = 55, .metadata = md};
  nc_tw_expect_ok(nc_tw_register(reg, "gs", &in), "InstanceResponse");
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(sub, "gs", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  expect(f, "PUT", "/nacos/v1/ns/instance?serviceName=gs&ip=5.5.5.5&port=55&weight=3"
                   "&metadata=zone%3Da", 200, "ok");
  assert_true(pushed_weight(sub, "gs", "5.5.5.5", 3.0, 5000));
  cJSON *j = req_json(f, "GET", "/nacos/v1/ns/instance/list?serviceName=gs", 200);
  const cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "hosts"), 0);
  assert_true(num(h, "weight") == 3.0);
  assert_string_equal(str(cJSON_GetObjectItem(h, "metadata"), "zone"), "a");
  assert_string_equal(str(cJSON_GetObjectItem(h, "metadata"), "own"), "1");
  cJSON_Delete(j);
  /* the gRPC client's own query sees it too */
  nc_tw_expect_ok(nc_tw_query(reg, "gs", &s), "QueryServiceResponse");
  assert_true(host(&s, "5.5.5.5") && host(&s, "5.5.5.5")->weight == 3.0);
  nc_tw_service_free(&s);
  /* v2, disabled: hidden from queries and pushes; enabled again: back */
  expect2(f, "PUT", "/nacos/v2/ns/instance?serviceName=gs&ip=5.5.5.5&port=55&enabled=false", 200,
          0, "success", "ok");
  assert_true(pushed_weight(sub, "gs", "5.5.5.5", -1, 5000));
  expect2(f, "PUT", "/nacos/v2/ns/instance?serviceName=gs&ip=5.5.5.5&port=55&weight=7", 200, 0,
          "success", "ok");
  assert_true(pushed_weight(sub, "gs", "5.5.5.5", 7.0, 5000));
  /* errors */
  expect(f, "PUT", "/nacos/v1/ns/instance?serviceName=gs&ip=5.5.5.5&port=55&weight=-2", 400,
         "caused: instance format invalid: The weights range from 0.0 to 10000.0;");
  expect2(f, "PUT", "/nacos/v2/ns/instance?serviceName=gs&ip=6.6.6.6&port=55", 404, 20004,
          "resource not found", "instance not found: 6.6.6.6:55 in service DEFAULT_GROUP@@gs of "
                                "namespace public");
  expect(f, "PUT", "/nacos/v1/ns/instance?serviceName=zz&ip=5.5.5.5&port=55", 400,
         "caused: service not found, namespace: public, service: DEFAULT_GROUP@@zz;");
  /* a new registration of the same instance gets the override too */
  nc_tw_expect_ok(nc_tw_deregister(reg, "gs", &in), "InstanceResponse");
  in.weight = 1.0;
  nc_tw_expect_ok(nc_tw_register(reg, "gs", &in), "InstanceResponse");
  assert_true(pushed_weight(sub, "gs", "5.5.5.5", 7.0, 5000));
  nc_tfx_close(f, reg);
  nc_tfx_close(f, sub);
}

/* Stored metadata and overrides survive a restart (SQLite in the data dir). */
static void test_kept_across_restart(void **st) {
  nc_tfx *f = *st;
  expect(f, "POST", "/nacos/v1/ns/service?serviceName=keep&protectThreshold=0.7", 200, "ok");
  nc_tw *reg = nc_tfx_connect(f, NULL);
  nc_tw_instance in = {.ip = "8.8.8.8", .port = 88};
  nc_tw_expect_ok(nc_tw_register(reg, "keep", &in), "InstanceResponse");
  expect(f, "PUT", "/nacos/v1/ns/instance?serviceName=keep&ip=8.8.8.8&port=88&weight=4", 200,
         "ok");
  nc_tfx_close(f, reg);
  assert_int_equal(nc_tcluster_stop_node(f->cl, 0), 0);
  assert_int_equal(nc_tcluster_restart_node(f->cl, 0), 0);
  cJSON *j = req_json(f, "GET", "/nacos/v1/ns/service?serviceName=keep", 200);
  assert_true(num(j, "protectThreshold") == 0.7);
  cJSON_Delete(j);
  reg = nc_tfx_connect(f, NULL);
  assert_non_null(reg);
  nc_tw_expect_ok(nc_tw_register(reg, "keep", &in), "InstanceResponse");
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_query(reg, "keep", &s), "QueryServiceResponse");
  assert_true(host(&s, "8.8.8.8") && host(&s, "8.8.8.8")->weight == 4.0);
  nc_tw_service_free(&s);
  nc_tfx_close(f, reg);
}

/* hosts listed (healthyOnly when ho), how many healthy, and the flag. */
static int listed(nc_tfx *f, int ho, int *healthy, int *reach) {
  cJSON *j = req_json(f, "GET", ho ? "/nacos/v1/ns/instance/list?serviceName=pt&healthyOnly=true"
                                   : "/nacos/v1/ns/instance/list?serviceName=pt", 200);
  const cJSON *h;
  *healthy = 0;
  cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hosts")) *healthy +=
      cJSON_IsTrue(cJSON_GetObjectItem(h, "healthy"));
  *reach = cJSON_IsTrue(cJSON_GetObjectItem(j, "reachProtectionThreshold"));
  int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "hosts"));
  cJSON_Delete(j);
  return n;
}

/* Nacos's protectThreshold: at or below it, every host is returned
 * healthy and reachProtectionThreshold is true; above, healthyOnly filters. */
static void test_protect_threshold(void **st) {
  nc_tfx *f = *st;
  int healthy, reach;
  expect(f, "POST", "/nacos/v1/ns/instance?serviceName=pt&ip=1.0.0.1&port=1", 200, "ok");
  expect(f, "POST", "/nacos/v1/ns/instance?serviceName=pt&ip=1.0.0.2&port=1&healthy=false", 200,
         "ok");
  /* no stored metadata: never */
  assert_int_equal(listed(f, 1, &healthy, &reach), 1);
  assert_int_equal(reach, 0);
  expect(f, "POST", "/nacos/v1/ns/service?serviceName=pt&protectThreshold=0.6", 400,
         "caused: specified service DEFAULT_GROUP@@pt already exists!;");
  expect(f, "PUT", "/nacos/v1/ns/service?serviceName=pt&protectThreshold=0.6", 200, "ok");
  assert_int_equal(listed(f, 1, &healthy, &reach), 2); /* 1/2 <= 0.6 */
  assert_int_equal(healthy, 2);
  assert_int_equal(reach, 1);
  assert_int_equal(listed(f, 0, &healthy, &reach), 2);
  assert_int_equal(reach, 1);
  expect(f, "PUT", "/nacos/v1/ns/service?serviceName=pt&protectThreshold=0.4", 200, "ok");
  assert_int_equal(listed(f, 1, &healthy, &reach), 1);
  assert_int_equal(reach, 0);
  assert_int_equal(listed(f, 0, &healthy, &reach), 2);
  assert_int_equal(healthy, 1);
}

/* PUT/DELETE .../instance/metadata/batch: keys added to / removed from the
 * listed instances' overrides (all shown ones when none is listed), their
 * weight kept; data {"updated": [...]}. */
static void test_metadata_batch(void **st) {
  nc_tfx *f = *st;
  expect(f, "POST", "/nacos/v1/ns/instance?serviceName=mb&ip=2.0.0.1&port=1&weight=3", 200, "ok");
  expect(f, "POST", "/nacos/v1/ns/instance?serviceName=mb&ip=2.0.0.2&port=1", 200, "ok");
  /* v2, one listed instance */
  cJSON *j = req_json(f, "PUT", "/nacos/v2/ns/instance/metadata/batch?serviceName=mb&metadata=a%3D1"
                                "&instances=%5B%7B%22ip%22%3A%222.0.0.1%22%2C%22port%22%3A1%7D%5D",
                      200);
  const cJSON *up = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "updated");
  assert_int_equal(cJSON_GetArraySize(up), 1);
  assert_string_equal(cJSON_GetArrayItem(up, 0)->valuestring, "2.0.0.1:1:DEFAULT");
  cJSON_Delete(j);
  /* v1, every instance */
  j = req_json(f, "PUT", "/nacos/v1/ns/instance/metadata/batch?serviceName=mb&metadata=b%3D2", 200);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "updated")), 2);
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v1/ns/instance?serviceName=mb&ip=2.0.0.1&port=1", 200);
  assert_true(num(j, "weight") == 3.0);
  assert_string_equal(str(cJSON_GetObjectItem(j, "metadata"), "a"), "1");
  assert_string_equal(str(cJSON_GetObjectItem(j, "metadata"), "b"), "2");
  cJSON_Delete(j);
  /* DELETE removes the keys again */
  j = req_json(f, "DELETE", "/nacos/v2/ns/instance/metadata/batch?serviceName=mb&metadata=a%3D1",
               200);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"),
                                                          "updated")), 2);
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v1/ns/instance?serviceName=mb&ip=2.0.0.1&port=1", 200);
  assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "a"));
  assert_string_equal(str(cJSON_GetObjectItem(j, "metadata"), "b"), "2");
  cJSON_Delete(j);
  /* errors */
  expect2(f, "PUT", "/nacos/v2/ns/instance/metadata/batch?serviceName=mb", 400, 10000,
          "parameter missing", "Required parameter 'metadata' type String is not present");
  expect2(f, "PUT", "/nacos/v2/ns/instance/metadata/batch?serviceName=mb&metadata=a%3D1"
                    "&instances=x", 400, 20002, "parameter validate error",
          "Param 'instances' must be a JSON array of {ip, port, clusterName}");
}

static int host_count(nc_tfx *f, const char *svc) {
  char path[128];
  snprintf(path, sizeof(path), "/nacos/v1/ns/instance/list?serviceName=%s", svc);
  cJSON *j = req_json(f, "GET", path, 200);
  int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "hosts"));
  cJSON_Delete(j);
  return n;
}

/* PATCH /v1/ns/instance and PUT /v3/admin/ns/instance/partial change only
 * the fields they are given. */
static void test_patch_and_partial(void **st) {
  nc_tfx *f = *st;
  expect(f, "POST", "/nacos/v1/ns/instance?serviceName=pa&ip=3.0.0.1&port=1&weight=3"
                    "&metadata=k%3Dv", 200, "ok");
  expect(f, "PATCH", "/nacos/v1/ns/instance?serviceName=pa&ip=3.0.0.1&port=1&enabled=false", 200,
         "ok");
  assert_int_equal(host_count(f, "pa"), 0);
  expect(f, "PATCH", "/nacos/v1/ns/instance?serviceName=pa&ip=3.0.0.1&port=1&enabled=true", 200,
         "ok");
  cJSON *j = req_json(f, "GET", "/nacos/v1/ns/instance?serviceName=pa&ip=3.0.0.1&port=1", 200);
  assert_true(num(j, "weight") == 3.0); /* not given: kept */
  cJSON_Delete(j);
  expect2(f, "PUT", "/nacos/v3/admin/ns/instance/partial?serviceName=pa&ip=3.0.0.1&port=1"
                    "&weight=8&metadata=x%3D1", 200, 0, "success", "ok");
  j = req_json(f, "GET", "/nacos/v1/ns/instance?serviceName=pa&ip=3.0.0.1&port=1", 200);
  assert_true(num(j, "weight") == 8.0);
  assert_string_equal(str(cJSON_GetObjectItem(j, "metadata"), "x"), "1");
  assert_string_equal(str(cJSON_GetObjectItem(j, "metadata"), "k"), "v");
  cJSON_Delete(j);
  expect(f, "PATCH", "/nacos/v1/ns/instance?serviceName=pa&ip=3.0.0.9&port=1&weight=2", 400,
         "caused: instance not found: 3.0.0.9:1 in service DEFAULT_GROUP@@pa of namespace "
         "public;");
  expect(f, "PATCH", "/nacos/v1/ns/instance?serviceName=pa&ip=3.0.0.1&port=1&weight=x", 400,
         "caused: instance format invalid: The weights range from 0.0 to 10000.0;");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_service_crud_v1, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_crud_v2, setup, teardown),
      cmocka_unit_test_setup_teardown(test_override_of_grpc_instance_pushed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kept_across_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_protect_threshold, setup, teardown),
      cmocka_unit_test_setup_teardown(test_metadata_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_patch_and_partial, setup, teardown),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
