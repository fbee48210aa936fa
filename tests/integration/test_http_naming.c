/* The Nacos HTTP open API for naming instances (issue 14) on the real
 * nacosd: the quick start's curl commands as written, v1 plain bodies and
 * v2 Result envelopes with their errors (missing / invalid parameters,
 * unknown namespace, unknown instance), query-string and form parameters,
 * beats keeping an HTTP-registered instance alive and their absence making
 * it unhealthy then removing it, and the one registry: a gRPC subscriber
 * is pushed an HTTP registration and an HTTP list shows a gRPC one.
 * Auth on: test_http_naming_auth.c. */
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

static int setup(void **st) {
  nc_tfx *f = NULL;
  const char *args[] = {"--push-merge-ms", "50", NULL};
  int rc = nc_tfx_start(args, &f);
  *st = f;
  return rc ? -1 : 0;
}
/* beats: unhealthy after 1 s without one, removed after 2.5 s */
static int setup_beats(void **st) {
  nc_tfx *f = NULL;
  const char *args[] = {"--http-beat-timeout-ms", "1000", "--http-ip-delete-timeout-ms", "2500",
                        NULL};
  int rc = nc_tfx_start(args, &f);
  *st = f;
  return rc ? -1 : 0;
}
static int teardown(void **st) { return nc_tfx_stop(*st) == 0 ? 0 : -1; }

/* One request; returns the status, *body (static, overwritten per call). */
static int req(nc_tfx *f, const char *method, const char *path, const char *form,
               const char **body) {
  static char *last;
  int status = 0;
  free(last);
  last = NULL;
  assert_int_equal(nc_test_http_req(f->srv->port, method, path, form, NULL, &status, &last), 0);
  if (body)
    *body = last;
  return status;
}
static cJSON *req_json(nc_tfx *f, const char *method, const char *path, const char *form,
                       int want_status) {
  const char *b;
  int st = req(f, method, path, form, &b);
  if (st != want_status)
    fprintf(stderr, "%s %s: %d %s\n", method, path, st, b);
  assert_int_equal(st, want_status);
  cJSON *j = cJSON_Parse(b);
  assert_non_null(j);
  return j;
}
static const char *jstr(const cJSON *o, const char *k) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
  assert_non_null(s);
  return s;
}
static double jnum(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  assert_true(cJSON_IsNumber(v));
  return v->valuedouble;
}
static cJSON *hosts(cJSON *info) {
  cJSON *h = cJSON_GetObjectItem(info, "hosts");
  assert_true(cJSON_IsArray(h));
  return h;
}
/* hosts in the v1 list of path's query */
static int list_count(nc_tfx *f, const char *query) {
  char path[1024];
  snprintf(path, sizeof(path), "/nacos/v1/ns/instance/list?%s", query);
  cJSON *j = req_json(f, "GET", path, NULL, 200);
  int n = cJSON_GetArraySize(hosts(j));
  cJSON_Delete(j);
  return n;
}

/* The lists are served from the registry's view cached per revision: a
 * repeated list is the same bytes, v2 wraps the same object, a change (a
 * registration, a weight override, a cluster filter) is seen at once. */
static void test_cached_lists_follow_changes(void **st) {
  nc_tfx *f = *st;
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=cl&ip=1.1.1.1&port=1", NULL,
                       NULL), 200);
  const char *b;
  assert_int_equal(req(f, "GET", "/nacos/v1/ns/instance/list?serviceName=cl", NULL, &b), 200);
  char *first = strdup(b);
  assert_int_equal(req(f, "GET", "/nacos/v1/ns/instance/list?serviceName=cl", NULL, &b), 200);
  assert_string_equal(first, b);
  cJSON *v1 = cJSON_Parse(first);
  assert_string_equal(jstr(v1, "name"), "DEFAULT_GROUP@@cl");
  cJSON *v2 = req_json(f, "GET", "/nacos/v2/ns/instance/list?serviceName=cl", NULL, 200);
  assert_int_equal((int)jnum(v2, "code"), 0);
  assert_true(cJSON_Compare(cJSON_GetObjectItem(v2, "data"), v1, 1));
  cJSON_Delete(v2);
  cJSON_Delete(v1);
  free(first);
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=cl&ip=1.1.1.2&port=1&weight=3",
                       NULL, NULL), 200);
  assert_int_equal(list_count(f, "serviceName=cl"), 2);
  assert_int_equal(list_count(f, "serviceName=cl&clusters=OTHER"), 0);
  cJSON *j = req_json(f, "GET", "/nacos/v2/ns/instance/list?serviceName=cl&ip=1.1.1.2", NULL, 200);
  cJSON *h = hosts(cJSON_GetObjectItem(j, "data"));
  assert_int_equal(cJSON_GetArraySize(h), 1);
  assert_true(jnum(cJSON_GetArrayItem(h, 0), "weight") == 3);
  cJSON_Delete(j);
}

/* The quick start's commands, verbatim (curl sends no body). */
static void test_quick_start(void **st) {
  nc_tfx *f = *st;
  const char *b;
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=x&ip=1.2.3.4&port=80", NULL,
                       &b), 200);
  assert_string_equal(b, "ok");
  cJSON *j = req_json(f, "GET", "/nacos/v1/ns/instance/list?serviceName=x", NULL, 200);
  assert_string_equal(jstr(j, "name"), "DEFAULT_GROUP@@x");
  assert_string_equal(jstr(j, "groupName"), "DEFAULT_GROUP");
  assert_string_equal(jstr(j, "clusters"), "");
  assert_true(jnum(j, "cacheMillis") > 0);
  assert_true(jnum(j, "lastRefTime") > 0);
  assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "checksum")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "valid")));
  assert_int_equal(cJSON_GetArraySize(hosts(j)), 1);
  cJSON *h = cJSON_GetArrayItem(hosts(j), 0);
  assert_string_equal(jstr(h, "ip"), "1.2.3.4");
  assert_int_equal((int)jnum(h, "port"), 80);
  assert_true(jnum(h, "weight") == 1.0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(h, "healthy")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(h, "enabled")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(h, "ephemeral")));
  assert_string_equal(jstr(h, "clusterName"), "DEFAULT");
  assert_string_equal(jstr(h, "serviceName"), "DEFAULT_GROUP@@x");
  assert_string_equal(jstr(h, "instanceId"), "1.2.3.4#80#DEFAULT#DEFAULT_GROUP@@x");
  cJSON_Delete(j);
  /* one instance, v1 detail */
  j = req_json(f, "GET", "/nacos/v1/ns/instance?serviceName=x&ip=1.2.3.4&port=80", NULL, 200);
  assert_string_equal(jstr(j, "service"), "DEFAULT_GROUP@@x");
  assert_string_equal(jstr(j, "clusterName"), "DEFAULT");
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(j, "metadata")));
  cJSON_Delete(j);
  /* deregister: ok, gone; again: still ok (as Nacos) */
  assert_int_equal(req(f, "DELETE", "/nacos/v1/ns/instance?serviceName=x&ip=1.2.3.4&port=80",
                       NULL, &b), 200);
  assert_string_equal(b, "ok");
  assert_int_equal(list_count(f, "serviceName=x"), 0);
  assert_int_equal(req(f, "DELETE", "/nacos/v1/ns/instance?serviceName=x&ip=1.2.3.4&port=80",
                       NULL, &b), 200);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_http_instances"), 0);
}

/* Form parameters, groupName, group@@name, enable/enabled, metadata (JSON
 * and k=v), clusters filter, healthyOnly, update, namespaces. */
static void test_v1_params(void **st) {
  nc_tfx *f = *st;
  const char *b;
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance",
                       "serviceName=svc&groupName=G1&ip=10.0.0.1&port=8080&weight=2.5"
                       "&clusterName=c1&enable=false&metadata=%7B%22k%22%3A%22v%22%7D",
                       &b), 200);
  /* disabled: not listed, but its detail is there */
  assert_int_equal(list_count(f, "serviceName=G1%40%40svc"), 0);
  cJSON *j = req_json(f, "GET", "/nacos/v1/ns/instance?serviceName=G1%40%40svc&ip=10.0.0.1"
                                "&port=8080", NULL, 200);
  assert_true(jnum(j, "weight") == 2.5);
  assert_string_equal(jstr(j, "clusterName"), "c1");
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "metadata"), "k"), "v");
  cJSON_Delete(j);
  /* PUT with enabled=true (the other spelling) and k=v metadata */
  assert_int_equal(req(f, "PUT", "/nacos/v1/ns/instance?serviceName=svc&groupName=G1"
                                 "&ip=10.0.0.1&port=8080&enabled=true&metadata=a%3D1%2Cb%3D2",
                       NULL, &b), 200);
  assert_string_equal(b, "ok");
  j = req_json(f, "GET", "/nacos/v1/ns/instance/list?serviceName=G1%40%40svc", NULL, 200);
  assert_string_equal(jstr(j, "name"), "G1@@svc");
  assert_int_equal(cJSON_GetArraySize(hosts(j)), 1);
  cJSON *h = cJSON_GetArrayItem(hosts(j), 0);
  assert_true(jnum(h, "weight") == 2.5); /* kept from the registration */
  assert_string_equal(jstr(h, "clusterName"), "c1");
  assert_string_equal(jstr(cJSON_GetObjectItem(h, "metadata"), "b"), "2");
  assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(h, "metadata"), "k"));
  cJSON_Delete(j);
  /* clusters filter echoes the clusters asked */
  assert_int_equal(list_count(f, "serviceName=svc&groupName=G1&clusters=c1"), 1);
  assert_int_equal(list_count(f, "serviceName=svc&groupName=G1&clusters=DEFAULT"), 0);
  j = req_json(f, "GET", "/nacos/v1/ns/instance/list?serviceName=svc&groupName=G1&clusters=c1",
               NULL, 200);
  assert_string_equal(jstr(j, "clusters"), "c1");
  cJSON_Delete(j);
  /* healthy=false registration: listed unless healthyOnly */
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=svc&groupName=G1"
                                  "&ip=10.0.0.2&port=8080&healthy=false", NULL, NULL), 200);
  assert_int_equal(list_count(f, "serviceName=svc&groupName=G1"), 2);
  assert_int_equal(list_count(f, "serviceName=svc&groupName=G1&healthyOnly=true"), 1);
  /* namespaces: "dev" is its own; public and "" are one; an unknown
   * namespace lists nothing (Nacos 2.x does not validate namespaces here) */
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?namespaceId=dev&serviceName=svc"
                                  "&groupName=G1&ip=10.0.0.3&port=1", NULL, NULL), 200);
  assert_int_equal(list_count(f, "namespaceId=dev&serviceName=G1%40%40svc"), 1);
  assert_int_equal(list_count(f, "namespaceId=public&serviceName=G1%40%40svc"), 2);
  assert_int_equal(list_count(f, "namespaceId=&serviceName=G1%40%40svc"), 2);
  assert_int_equal(list_count(f, "namespaceId=nope&serviceName=G1%40%40svc"), 0);
  assert_int_equal(req(f, "GET", "/nacos/v1/ns/instance?namespaceId=nope&serviceName=G1%40%40svc"
                                 "&ip=10.0.0.3&port=1", NULL, &b), 404);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_http_instances"), 3);
}

/* v1 errors: status and Nacos's "caused: ...;" text; state unchanged. */
static void test_v1_errors(void **st) {
  nc_tfx *f = *st;
  const char *b;
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?ip=1.2.3.4&port=80", NULL, &b), 400);
  assert_string_equal(b, "caused: Param 'serviceName' is required.;");
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=e&port=80", NULL, &b), 400);
  assert_string_equal(b, "caused: Param 'ip' is required.;");
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4", NULL, &b),
                   400);
  assert_string_equal(b, "caused: Param 'port' is required.;");
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4&port=abc",
                       NULL, &b), 400);
  assert_non_null(strstr(b, "port"));
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4&port=70000",
                       NULL, &b), 400);
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4&port=1"
                                  "&weight=20000", NULL, &b), 400);
  assert_string_equal(b, "caused: instance format invalid: The weights range from 0.0 to "
                         "10000.0;");
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4&port=1"
                                  "&clusterName=a_b", NULL, &b), 400);
  assert_non_null(strstr(b, "clusterName"));
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4&port=1"
                                  "&metadata=%5B1%5D", NULL, &b), 400);
  assert_non_null(strstr(b, "metadata"));
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=%40%40e&ip=1.2.3.4&port=1",
                       NULL, &b), 400);
  assert_non_null(strstr(b, "serviceName"));
  /* ephemeral=false is a persistent instance now (docs/persistent.md),
   * validated the same way */
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4&port=1"
                                  "&ephemeral=false&clusterName=a_b", NULL, &b), 400);
  assert_non_null(strstr(b, "clusterName"));
  char longip[300];
  memset(longip, '1', 200);
  longip[200] = 0;
  char path[512];
  snprintf(path, sizeof(path), "/nacos/v1/ns/instance?serviceName=e&ip=%s&port=1", longip);
  assert_int_equal(req(f, "POST", path, NULL, &b), 400);
  assert_non_null(strstr(b, "'ip'"));
  assert_int_equal(list_count(f, "serviceName=e"), 0); /* none of them registered */
  /* unknown instance: detail 404, update 400, deregister ok */
  assert_int_equal(req(f, "GET", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4&port=1", NULL,
                       &b), 404);
  assert_string_equal(b, "caused: no matched ip found!;");
  assert_int_equal(req(f, "PUT", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4&port=1", NULL,
                       &b), 400);
  assert_non_null(strstr(b, "not found")); /* service not found, as Nacos */
  assert_int_equal(req(f, "GET", "/nacos/v1/ns/instance/list", NULL, &b), 400);
  assert_string_equal(b, "caused: Param 'serviceName' is required.;");
  /* methods: list is GET only, beat PUT only */
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance/list?serviceName=e", NULL, &b), 405);
  assert_int_equal(req(f, "GET", "/nacos/v1/ns/instance/beat?serviceName=e", NULL, &b), 405);
  /* a bad update leaves the instance as it was */
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4&port=1"
                                  "&weight=3", NULL, &b), 200);
  assert_int_equal(req(f, "PUT", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4&port=1"
                                 "&weight=-1", NULL, &b), 400);
  cJSON *j = req_json(f, "GET", "/nacos/v1/ns/instance?serviceName=e&ip=1.2.3.4&port=1", NULL,
                      200);
  assert_true(jnum(j, "weight") == 3.0);
  cJSON_Delete(j);
}

/* v2: the Result envelope and Nacos's codes. */
static void test_v2(void **st) {
  nc_tfx *f = *st;
  cJSON *j = req_json(f, "POST", "/nacos/v2/ns/instance",
                      "serviceName=v2s&ip=127.0.0.1&port=8090&weight=0.9&ephemeral=true", 200);
  assert_int_equal((int)jnum(j, "code"), 0);
  assert_string_equal(jstr(j, "message"), "success");
  assert_string_equal(jstr(j, "data"), "ok");
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v2/ns/instance?serviceName=v2s&ip=127.0.0.1&port=8090", NULL,
               200);
  cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_string_equal(jstr(d, "serviceName"), "DEFAULT_GROUP@@v2s");
  assert_true(jnum(d, "weight") == 0.9);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "healthy")));
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v2/ns/instance/list?serviceName=v2s", NULL, 200);
  d = cJSON_GetObjectItem(j, "data");
  assert_string_equal(jstr(d, "name"), "DEFAULT_GROUP@@v2s");
  assert_int_equal(cJSON_GetArraySize(hosts(d)), 1);
  cJSON_Delete(j);
  /* ip filter of v2's list */
  j = req_json(f, "GET", "/nacos/v2/ns/instance/list?serviceName=v2s&ip=127.0.0.2", NULL, 200);
  assert_int_equal(cJSON_GetArraySize(hosts(cJSON_GetObjectItem(j, "data"))), 0);
  cJSON_Delete(j);
  j = req_json(f, "PUT", "/nacos/v2/ns/instance", "serviceName=v2s&ip=127.0.0.1&port=8090"
                                                  "&weight=4", 200);
  assert_string_equal(jstr(j, "data"), "ok");
  cJSON_Delete(j);
  j = req_json(f, "PUT", "/nacos/v2/ns/instance/beat", "serviceName=v2s&ip=127.0.0.1&port=8090",
               200);
  d = cJSON_GetObjectItem(j, "data");
  assert_int_equal((int)jnum(d, "code"), 10200);
  assert_int_equal((int)jnum(d, "clientBeatInterval"), 5000);
  cJSON_Delete(j);
  /* errors */
  j = req_json(f, "POST", "/nacos/v2/ns/instance", "ip=1.2.3.4&port=80", 400);
  assert_int_equal((int)jnum(j, "code"), 10000);
  assert_string_equal(jstr(j, "message"), "parameter missing");
  assert_non_null(strstr(jstr(j, "data"), "serviceName"));
  cJSON_Delete(j);
  j = req_json(f, "POST", "/nacos/v2/ns/instance", "serviceName=v2s&port=80", 400);
  assert_int_equal((int)jnum(j, "code"), 10000);
  assert_non_null(strstr(jstr(j, "data"), "'ip'"));
  cJSON_Delete(j);
  j = req_json(f, "POST", "/nacos/v2/ns/instance", "serviceName=v2s&ip=1.2.3.4&port=1&weight=1e9",
               400);
  assert_int_equal((int)jnum(j, "code"), 21001);
  assert_string_equal(jstr(j, "message"), "weight error");
  cJSON_Delete(j);
  j = req_json(f, "POST", "/nacos/v2/ns/instance", "serviceName=v2s&ip=1.2.3.4&port=x", 400);
  assert_int_equal((int)jnum(j, "code"), 20002);
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v2/ns/instance?serviceName=v2s&ip=9.9.9.9&port=1", NULL, 404);
  assert_int_equal((int)jnum(j, "code"), 20004);
  assert_string_equal(jstr(j, "message"), "resource not found");
  cJSON_Delete(j);
  j = req_json(f, "PUT", "/nacos/v2/ns/instance", "serviceName=v2s&ip=9.9.9.9&port=1", 404);
  assert_int_equal((int)jnum(j, "code"), 20004);
  cJSON_Delete(j);
  j = req_json(f, "DELETE", "/nacos/v2/ns/instance?serviceName=v2s&ip=127.0.0.1&port=8090", NULL,
               200);
  assert_string_equal(jstr(j, "data"), "ok");
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v2/ns/instance/list?serviceName=v2s", NULL, 200);
  assert_int_equal(cJSON_GetArraySize(hosts(cJSON_GetObjectItem(j, "data"))), 0);
  cJSON_Delete(j);
}

static int beat(nc_tfx *f, const char *query, const char *form) {
  char path[1024];
  snprintf(path, sizeof(path), "/nacos/v1/ns/instance/beat?%s", query);
  cJSON *j = req_json(f, "PUT", path, form, 200);
  int code = (int)jnum(j, "code");
  assert_int_equal((int)jnum(j, "clientBeatInterval"), 5000);
  cJSON_Delete(j);
  return code;
}

/* Beats keep an instance healthy; without them it turns unhealthy after
 * --http-beat-timeout-ms and goes after --http-ip-delete-timeout-ms; a
 * beat then gets 20404 (register again), or re-registers from its JSON. */
static void test_beats_and_expiry(void **st) {
  nc_tfx *f = *st;
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=hb&ip=1.1.1.1&port=10",
                       NULL, NULL), 200);
  long long t0 = nc_test_now_ms();
  while (nc_test_now_ms() - t0 < 3500) { /* beyond both timeouts, beating every 300 ms */
    assert_int_equal(beat(f, "serviceName=hb&ip=1.1.1.1&port=10", NULL), 10200);
    assert_int_equal(list_count(f, "serviceName=hb&healthyOnly=true"), 1);
    nc_test_sleep_ms(300);
  }
  /* stop beating: unhealthy (still listed without healthyOnly), then gone */
  long long stop = nc_test_now_ms();
  while (list_count(f, "serviceName=hb&healthyOnly=true") == 1 && nc_test_now_ms() - stop < 5000)
    nc_test_sleep_ms(50);
  long long unhealthy_after = nc_test_now_ms() - stop;
  assert_true(unhealthy_after >= 700 && unhealthy_after < 2000);
  assert_int_equal(list_count(f, "serviceName=hb"), 1);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_http_unhealthy"), 1);
  while (list_count(f, "serviceName=hb") == 1 && nc_test_now_ms() - stop < 8000)
    nc_test_sleep_ms(50);
  long long gone_after = nc_test_now_ms() - stop;
  assert_true(gone_after >= 2200 && gone_after < 4000);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_http_expired_total"), 1);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_http_instances"), 0);
  /* a light beat (no JSON) for the removed instance: 20404 */
  assert_int_equal(beat(f, "serviceName=hb&ip=1.1.1.1&port=10", NULL), 20404);
  assert_int_equal(list_count(f, "serviceName=hb"), 0);
  /* a beat with its JSON, as nacos-naming sends it (form body): registered again */
  assert_int_equal(beat(f, "serviceName=DEFAULT_GROUP%40%40hb&namespaceId=public",
                        "beat=%7B%22serviceName%22%3A%22DEFAULT_GROUP%40%40hb%22%2C%22ip%22%3A%22"
                        "1.1.1.1%22%2C%22port%22%3A10%2C%22cluster%22%3A%22c2%22%2C%22weight%22"
                        "%3A2%2C%22metadata%22%3A%7B%22m%22%3A%22n%22%7D%2C%22scheduled%22%3A"
                        "false%7D"),
                   10200);
  cJSON *j = req_json(f, "GET", "/nacos/v1/ns/instance/list?serviceName=hb&healthyOnly=true",
                      NULL, 200);
  assert_int_equal(cJSON_GetArraySize(hosts(j)), 1);
  cJSON *h = cJSON_GetArrayItem(hosts(j), 0);
  assert_string_equal(jstr(h, "clusterName"), "c2");
  assert_true(jnum(h, "weight") == 2.0);
  assert_string_equal(jstr(cJSON_GetObjectItem(h, "metadata"), "m"), "n");
  cJSON_Delete(j);
  /* an unhealthy instance is healthy again with its next beat */
  nc_test_sleep_ms(1500);
  assert_int_equal(list_count(f, "serviceName=hb&healthyOnly=true"), 0);
  assert_int_equal(beat(f, "serviceName=hb&ip=1.1.1.1&port=10", NULL), 10200);
  assert_int_equal(list_count(f, "serviceName=hb&healthyOnly=true"), 1);
  /* an instance's own timeouts (metadata preserved.*) win over the options */
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=hb2&ip=2.2.2.2&port=20"
                                  "&metadata=preserved.heart.beat.interval%3D100%2C"
                                  "preserved.heart.beat.timeout%3D300%2C"
                                  "preserved.ip.delete.timeout%3D600", NULL, NULL), 200);
  long long t1 = nc_test_now_ms();
  while (list_count(f, "serviceName=hb2") == 1 && nc_test_now_ms() - t1 < 5000)
    nc_test_sleep_ms(50);
  assert_true(nc_test_now_ms() - t1 < 1500); /* not the options' 2.5 s */
  /* errors: no serviceName, no ip/port, a beat that is not JSON */
  const char *b;
  assert_int_equal(req(f, "PUT", "/nacos/v1/ns/instance/beat?ip=1.1.1.1&port=10", NULL, &b), 400);
  assert_string_equal(b, "caused: Param 'serviceName' is required.;");
  assert_int_equal(req(f, "PUT", "/nacos/v1/ns/instance/beat?serviceName=hb", NULL, &b), 400);
  assert_int_equal(req(f, "PUT", "/nacos/v1/ns/instance/beat?serviceName=hb&beat=nope", NULL, &b),
                   400);
}

/* One registry: a gRPC subscriber is pushed an HTTP registration and its
 * removal; an HTTP list shows a gRPC registration. */
static void test_grpc_and_http_share_the_registry(void **st) {
  nc_tfx *f = *st;
  nc_tw *sub = nc_tfx_connect(f, NULL);
  assert_non_null(sub);
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(sub, "mixed", 1, &s), "SubscribeServiceResponse");
  assert_int_equal(s.nhosts, 0);
  nc_tw_service_free(&s);
  int before = nc_tw_notify_count(sub, "mixed");
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=mixed&ip=7.7.7.7&port=77"
                                  "&weight=3", NULL, NULL), 200);
  nc_tw_service last = {0};
  assert_true(nc_tw_wait_notify(sub, "mixed", before + 1, 5000, &last) >= before + 1);
  assert_int_equal(last.nhosts, 1);
  assert_string_equal(last.hosts[0].ip, "7.7.7.7");
  assert_int_equal(last.hosts[0].port, 77);
  assert_true(last.hosts[0].weight == 3.0);
  nc_tw_service_free(&last);
  /* a gRPC registration shows in the HTTP list, with the HTTP one */
  nc_tw *pub = nc_tfx_connect(f, NULL);
  nc_tw_instance in = {.ip = "8.8.8.8", .port = 88};
  nc_tw_expect_ok(nc_tw_register(pub, "mixed", &in), "InstanceResponse");
  assert_int_equal(list_count(f, "serviceName=mixed"), 2);
  cJSON *j = req_json(f, "GET", "/nacos/v1/ns/instance?serviceName=mixed&ip=8.8.8.8&port=88",
                      NULL, 200);
  assert_string_equal(jstr(j, "ip"), "8.8.8.8");
  cJSON_Delete(j);
  /* and the gRPC query sees the HTTP one */
  assert_int_equal(nc_tw_query_hosts(pub, "mixed"), 2);
  /* HTTP deregister: the subscriber is pushed the removal */
  int n = nc_tw_notify_count(sub, "mixed");
  assert_int_equal(req(f, "DELETE", "/nacos/v1/ns/instance?serviceName=mixed&ip=7.7.7.7&port=77",
                       NULL, NULL), 200);
  long long t0 = nc_test_now_ms();
  int ok = 0;
  while (!ok && nc_test_now_ms() - t0 < 5000) {
    nc_tw_service cur = {0};
    nc_tw_wait_notify(sub, "mixed", n + 1, 1000, &cur);
    ok = cur.nhosts == 1 && !strcmp(cur.hosts[0].ip, "8.8.8.8");
    nc_tw_service_free(&cur);
    n = nc_tw_notify_count(sub, "mixed");
  }
  assert_true(ok);
}

/* GET service and service/list, v1 and v2, over HTTP and gRPC registrations. */
static void test_services(void **st) {
  nc_tfx *f = *st;
  const char *b;
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=s1&ip=1.0.0.1&port=1"
                                  "&clusterName=east", NULL, NULL), 200);
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=s2&ip=1.0.0.2&port=1",
                       NULL, NULL), 200);
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/instance?serviceName=s3&groupName=G&ip=1.0.0.3"
                                  "&port=1", NULL, NULL), 200);
  nc_tw *pub = nc_tfx_connect(f, NULL);
  nc_tw_instance in = {.ip = "2.0.0.1", .port = 2};
  nc_tw_expect_ok(nc_tw_register(pub, "s4", &in), "InstanceResponse");
  cJSON *j = req_json(f, "GET", "/nacos/v1/ns/service/list?pageNo=1&pageSize=10", NULL, 200);
  assert_int_equal((int)jnum(j, "count"), 3); /* s1, s2, s4 in DEFAULT_GROUP */
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "doms")), 3);
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v1/ns/service/list?pageNo=2&pageSize=2", NULL, 200);
  assert_int_equal((int)jnum(j, "count"), 3);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "doms")), 1);
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v2/ns/service/list?groupName=G", NULL, 200);
  cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_int_equal((int)jnum(d, "count"), 1);
  assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(d, "services"), 0)->valuestring,
                      "s3");
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v1/ns/service/list?pageNo=1&pageSize=10&namespaceId=nope", NULL,
               200);
  assert_int_equal((int)jnum(j, "count"), 0);
  cJSON_Delete(j);
  assert_int_equal(req(f, "GET", "/nacos/v1/ns/service/list?pageSize=10", NULL, &b), 400);
  assert_string_equal(b, "caused: Param 'pageNo' is required.;");
  j = req_json(f, "GET", "/nacos/v2/ns/service/list?pageNo=0", NULL, 400);
  assert_int_equal((int)jnum(j, "code"), 20002);
  cJSON_Delete(j);
  /* one service */
  j = req_json(f, "GET", "/nacos/v1/ns/service?serviceName=s1", NULL, 200);
  assert_string_equal(jstr(j, "name"), "s1");
  assert_string_equal(jstr(j, "groupName"), "DEFAULT_GROUP");
  assert_string_equal(jstr(j, "namespaceId"), "public");
  assert_true(jnum(j, "protectThreshold") == 0.0);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "selector"), "type"), "none");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "clusters")), 1);
  assert_string_equal(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "clusters"), 0), "name"),
                      "east");
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v2/ns/service?serviceName=s4", NULL, 200);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "name"), "s4");
  cJSON_Delete(j);
  assert_int_equal(req(f, "GET", "/nacos/v1/ns/service?serviceName=none", NULL, &b), 400);
  assert_string_equal(b, "caused: service not found, namespace: public, serviceName: "
                         "DEFAULT_GROUP@@none;");
  j = req_json(f, "GET", "/nacos/v2/ns/service?serviceName=none", NULL, 404);
  assert_int_equal((int)jnum(j, "code"), 21008);
  assert_string_equal(jstr(j, "message"), "service not exist");
  cJSON_Delete(j);
  assert_int_equal(req(f, "GET", "/nacos/v1/ns/service", NULL, &b), 400);
  /* operator metrics, the SDKs' health probe */
  j = req_json(f, "GET", "/nacos/v1/ns/operator/metrics", NULL, 200);
  assert_string_equal(jstr(j, "status"), "UP");
  assert_int_equal((int)jnum(j, "serviceCount"), 4);
  assert_int_equal((int)jnum(j, "instanceCount"), 4);
  assert_int_equal((int)jnum(j, "ephemeralIpPortClientCount"), 3);
  assert_int_equal((int)jnum(j, "connectionBasedClientCount"), 1);
  assert_true(jnum(j, "mem") >= 0 && jnum(j, "mem") <= 1);
  cJSON_Delete(j);
  j = req_json(f, "GET", "/nacos/v2/ns/operator/metrics", NULL, 200);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "status"), "UP");
  cJSON_Delete(j);
  /* create/update/delete: test_http_naming_meta */
  assert_int_equal(req(f, "POST", "/nacos/v1/ns/service?serviceName=s9", NULL, &b), 200);
  assert_string_equal(b, "ok");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_quick_start, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cached_lists_follow_changes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_params, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2, setup, teardown),
      cmocka_unit_test_setup_teardown(test_beats_and_expiry, setup_beats, teardown),
      cmocka_unit_test_setup_teardown(test_grpc_and_http_share_the_registry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_services, setup, teardown),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
