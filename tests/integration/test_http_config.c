/* The Nacos HTTP open API for configs (issue 14) on the real nacosd: the
 * quick start's config curls as written, v1 plain bodies and v2 Result
 * envelopes with their errors (missing / invalid parameters, unknown and
 * invalid namespace), query-string and form parameters, CAS publishes, and
 * the one store: an HTTP publish / remove notifies a gRPC listener and a
 * gRPC publish is read over HTTP. Auth on: test_http_config_auth.c. */
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
  int rc = nc_tfx_start(NULL, &f);
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
    *body = last ? last : "";
  return status;
}
/* A v2 answer: asserts status and code, returns the parsed envelope. */
static cJSON *v2(nc_tfx *f, const char *method, const char *path, const char *form, int status,
                 int code) {
  const char *b;
  int st = req(f, method, path, form, &b);
  if (st != status)
    fprintf(stderr, "%s %s: %d %s\n", method, path, st, b);
  assert_int_equal(st, status);
  cJSON *j = cJSON_Parse(b);
  assert_non_null(j);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "code")), code);
  assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "message")));
  assert_non_null(cJSON_GetObjectItem(j, "data"));
  return j;
}
static const char *jstr(const cJSON *o, const char *k) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
  assert_non_null(s);
  return s;
}

#define QS "/nacos/v1/cs/configs?dataId=nacos.cfg.dataId&group=test"

/* The quick start's commands, verbatim (curl sends no body). */
static void test_quick_start(void **st) {
  nc_tfx *f = *st;
  const char *b;
  assert_int_equal(req(f, "GET", QS, NULL, &b), 404);
  assert_string_equal(b, "config data not exist\n");
  assert_int_equal(req(f, "POST", QS "&content=HelloWorld", NULL, &b), 200);
  assert_string_equal(b, "true");
  assert_int_equal(req(f, "GET", QS, NULL, &b), 200);
  assert_string_equal(b, "HelloWorld");
  /* tenant "" and "public" are the default namespace; another is not */
  assert_int_equal(req(f, "GET", QS "&tenant=", NULL, &b), 200);
  assert_int_equal(req(f, "GET", QS "&tenant=public", NULL, &b), 200);
  assert_string_equal(b, "HelloWorld");
  assert_int_equal(req(f, "GET", QS "&tenant=nope", NULL, &b), 404);
  assert_int_equal(req(f, "DELETE", QS, NULL, &b), 200);
  assert_string_equal(b, "true");
  assert_int_equal(req(f, "GET", QS, NULL, &b), 404);
  /* removing a missing config is still true, as in Nacos */
  assert_int_equal(req(f, "DELETE", QS, NULL, &b), 200);
  assert_string_equal(b, "true");
}

/* v1: form bodies, namespaces, and parameter errors. */
static void test_v1_params(void **st) {
  nc_tfx *f = *st;
  const char *b;
  /* a form body as the SDKs send it; content with characters to encode */
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs",
                       "dataId=app.yaml&group=G&tenant=dev&type=yaml&appName=a"
                       "&content=k%3A%20v%0Ax%3D1",
                       &b), 200);
  assert_string_equal(b, "true");
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?dataId=app.yaml&group=G&tenant=dev", NULL,
                       &b), 200);
  assert_string_equal(b, "k: v\nx=1");
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?dataId=app.yaml&group=G", NULL, &b), 404);
  /* missing parameters: 400, the config untouched */
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?group=G&tenant=dev", NULL, &b), 400);
  assert_non_null(strstr(b, "'dataId'"));
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", "dataId=app.yaml&tenant=dev&content=x",
                       &b), 400);
  assert_non_null(strstr(b, "'group'"));
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", "dataId=app.yaml&group=G&tenant=dev",
                       &b), 400);
  assert_non_null(strstr(b, "'content'"));
  assert_int_equal(req(f, "DELETE", "/nacos/v1/cs/configs?dataId=app.yaml&tenant=dev", NULL, &b),
                   400);
  /* invalid values: "caused: ...;" */
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs",
                       "dataId=app.yaml&group=G&tenant=dev&content=%20%20", &b), 400);
  assert_string_equal(b, "caused: content is blank;");
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", "dataId=a%20b&group=G&content=x", &b),
                   400);
  assert_non_null(strstr(b, "caused: invalid dataId"));
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?dataId=a&group=G&tenant=a%2Fb", NULL, &b),
                   400);
  assert_non_null(strstr(b, "invalid tenant"));
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", "dataId=a&group=G&content=x&tag=gray",
                       &b), 400);
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?dataId=app.yaml&group=G&tenant=dev", NULL,
                       &b), 200);
  assert_string_equal(b, "k: v\nx=1");
  assert_int_equal(req(f, "PUT", "/nacos/v1/cs/configs?dataId=a&group=G", NULL, &b), 405);
}

/* CAS: a publish with a stale casMd5 is refused and changes nothing; with
 * the current md5 it goes through. The md5 is read over gRPC. */
static void test_cas(void **st) {
  nc_tfx *f = *st;
  const char *b;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", "dataId=cas&group=G&content=one", &b),
                   200);
  nc_tw_config c = {0};
  nc_tw_expect_ok(nc_tw_config_get(tw, "cas", "G", NULL, &c), "ConfigQueryResponse");
  char md5[40];
  snprintf(md5, sizeof(md5), "%s", c.md5);
  nc_tw_config_free(&c);
  assert_int_equal(strlen(md5), 32);
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs",
                       "dataId=cas&group=G&content=two&casMd5=0123456789abcdef0123456789abcdef",
                       &b), 500);
  assert_non_null(strstr(b, "Cas publish fail"));
  cJSON *j = v2(f, "POST", "/nacos/v2/cs/config",
                "dataId=cas&group=G&content=two&casMd5=0123456789abcdef0123456789abcdef", 500,
                20005);
  cJSON_Delete(j);
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?dataId=cas&group=G", NULL, &b), 200);
  assert_string_equal(b, "one");
  char form[256];
  snprintf(form, sizeof(form), "dataId=cas&group=G&content=two&casMd5=%s", md5);
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", form, &b), 200);
  assert_string_equal(b, "true");
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?dataId=cas&group=G", NULL, &b), 200);
  assert_string_equal(b, "two");
  /* the old md5 is stale now */
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", form, &b), 500);
}

/* v2: the Result envelope and Nacos's codes. */
static void test_v2(void **st) {
  nc_tfx *f = *st;
  cJSON *j = v2(f, "GET", "/nacos/v2/cs/config?dataId=d2&group=G&namespaceId=dev", NULL, 404,
                20004);
  assert_string_equal(jstr(j, "message"), "resource not found");
  assert_string_equal(jstr(j, "data"), "config data not exist");
  cJSON_Delete(j);
  j = v2(f, "POST", "/nacos/v2/cs/config", "dataId=d2&group=G&namespaceId=dev&content=v2%20body",
         200, 0);
  assert_string_equal(jstr(j, "message"), "success");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "data")));
  cJSON_Delete(j);
  j = v2(f, "GET", "/nacos/v2/cs/config?dataId=d2&group=G&namespaceId=dev", NULL, 200, 0);
  assert_string_equal(jstr(j, "data"), "v2 body");
  cJSON_Delete(j);
  /* v1's tenant is v2's namespaceId: the same config */
  const char *b;
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?dataId=d2&group=G&tenant=dev", NULL, &b),
                   200);
  assert_string_equal(b, "v2 body");
  /* errors */
  j = v2(f, "GET", "/nacos/v2/cs/config?group=G", NULL, 400, 10000);
  assert_string_equal(jstr(j, "message"), "parameter missing");
  assert_string_equal(jstr(j, "data"), "Required parameter 'dataId' type String is not present");
  cJSON_Delete(j);
  j = v2(f, "POST", "/nacos/v2/cs/config", "dataId=d2&group=G", 400, 10000);
  assert_non_null(strstr(jstr(j, "data"), "'content'"));
  cJSON_Delete(j);
  j = v2(f, "POST", "/nacos/v2/cs/config", "dataId=d2&group=G&content=%20", 400, 20002);
  assert_string_equal(jstr(j, "data"), "content is blank");
  cJSON_Delete(j);
  j = v2(f, "GET", "/nacos/v2/cs/config?dataId=d2&group=G&namespaceId=a%2Fb", NULL, 400, 20001);
  cJSON_Delete(j);
  j = v2(f, "GET", "/nacos/v2/cs/config?dataId=d2&group=G&namespaceId=nope", NULL, 404, 20004);
  cJSON_Delete(j);
  j = v2(f, "DELETE", "/nacos/v2/cs/config?dataId=d2&group=G&namespaceId=dev", NULL, 200, 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "data")));
  cJSON_Delete(j);
  j = v2(f, "GET", "/nacos/v2/cs/config?dataId=d2&group=G&namespaceId=dev", NULL, 404, 20004);
  cJSON_Delete(j);
}

/* One store: HTTP writes notify a gRPC listener; gRPC writes read over HTTP. */
static void test_http_and_grpc(void **st) {
  nc_tfx *f = *st;
  const char *b;
  nc_tw *lis = nc_tfx_connect(f, NULL), *pub = nc_tfx_connect(f, NULL);
  assert_non_null(lis);
  assert_non_null(pub);
  nc_tw_expect_ok(nc_tw_listen_one(lis, 1, "mix", "G", "dev", NULL),
                  "ConfigChangeBatchListenResponse");
  int before = nc_tw_change_count(lis, "mix");
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs",
                       "dataId=mix&group=G&tenant=dev&content=h1", &b), 200);
  nc_tw_change ch;
  assert_true(nc_tw_wait_change(lis, "mix", before + 1, 5000, &ch) >= before + 1);
  assert_string_equal(ch.group, "G");
  assert_string_equal(ch.tenant, "dev");
  nc_tw_config c = {0};
  nc_tw_expect_ok(nc_tw_config_get(pub, "mix", "G", "dev", &c), "ConfigQueryResponse");
  assert_string_equal(c.content, "h1");
  nc_tw_config_free(&c);
  /* a type given over HTTP is the config's type over gRPC */
  assert_int_equal(req(f, "POST", "/nacos/v2/cs/config",
                       "dataId=mix&group=G&namespaceId=dev&type=json&content=%7B%7D", &b), 200);
  assert_true(nc_tw_wait_change(lis, "mix", before + 2, 5000, NULL) >= before + 2);
  nc_tw_expect_ok(nc_tw_config_get(pub, "mix", "G", "dev", &c), "ConfigQueryResponse");
  assert_string_equal(c.content, "{}");
  assert_string_equal(c.content_type, "json");
  nc_tw_config_free(&c);
  /* gRPC publish, HTTP read */
  nc_tw_expect_ok(nc_tw_config_publish(pub, "mix", "G", "dev", "from grpc", NULL),
                  "ConfigPublishResponse");
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?dataId=mix&group=G&tenant=dev", NULL, &b),
                   200);
  assert_string_equal(b, "from grpc");
  /* HTTP remove notifies too */
  assert_true(nc_tw_wait_change(lis, "mix", before + 3, 5000, NULL) >= before + 3);
  assert_int_equal(req(f, "DELETE", "/nacos/v1/cs/configs?dataId=mix&group=G&tenant=dev", NULL,
                       &b), 200);
  assert_true(nc_tw_wait_change(lis, "mix", before + 4, 5000, NULL) >= before + 4);
  nc_tw_expect_fail(nc_tw_config_get(pub, "mix", "G", "dev", NULL), "ConfigQueryResponse", 300,
                    "config data not exist");
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_quick_start, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_params, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cas, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_and_grpc, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
