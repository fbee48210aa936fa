/* The namespace API (issue 14) against a real nacosd on SQLite, auth off:
 * v1 console (/nacos/v1/console/namespaces) and v2
 * (/nacos/v2/console/namespace[/list]) create/list/show/update/delete with
 * Nacos's parameters and JSON, its refusals (v1 "false", v2 Result codes
 * 10000/22001/22002/22003), the default namespace that cannot be created
 * or removed, and configCount following a config published into the
 * namespace over the config open API. On PostgreSQL (when a server can be
 * started here): a namespace created on one nacosd is Nacos's tenant_info
 * row and is listed by a second nacosd on the same database. */
#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "nc_testpg.h"
#include "nc_testproc.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V1 "/nacos/v1/console/namespaces"
#define V2 "/nacos/v2/console/namespace"

static int setup(void **st) {
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(NULL, &f);
  *st = f;
  return rc ? -1 : 0;
}
static int teardown(void **st) { return nc_tfx_stop(*st) ? -1 : 0; }

static int req(void **st, const char *method, const char *path, const char *form, char *buf,
               size_t cap) {
  int status = 0;
  char *b = NULL;
  assert_int_equal(
      nc_test_http_req(((nc_tfx *)*st)->srv->port, method, path, form, NULL, &status, &b), 0);
  snprintf(buf, cap, "%s", b ? b : "");
  free(b);
  return status;
}

/* The namespace id in a v1 list body, or NULL. Owned by the caller (cJSON). */
static cJSON *find_ns(cJSON *arr, const char *id) {
  cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "namespace")), id))
      return e;
  }
  return NULL;
}

static int num(cJSON *o, const char *k) { return (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, k)); }
static const char *str(cJSON *o, const char *k) { return cJSON_GetStringValue(cJSON_GetObjectItem(o, k)); }

static void test_v1_lifecycle(void **st) {
  char buf[8192];
  /* only public at first, with Nacos's fields */
  assert_int_equal(req(st, "GET", V1, NULL, buf, sizeof(buf)), 200);
  cJSON *o = cJSON_Parse(buf);
  assert_non_null(o);
  assert_int_equal(num(o, "code"), 200);
  cJSON *data = cJSON_GetObjectItem(o, "data");
  assert_int_equal(cJSON_GetArraySize(data), 1);
  cJSON *pub = cJSON_GetArrayItem(data, 0);
  assert_string_equal(str(pub, "namespace"), "");
  assert_string_equal(str(pub, "namespaceShowName"), "public");
  assert_int_equal(num(pub, "quota"), 200);
  assert_int_equal(num(pub, "type"), 0);
  assert_non_null(cJSON_GetObjectItem(pub, "configCount"));
  assert_null(strstr(buf, "null"));
  cJSON_Delete(o);

  assert_int_equal(req(st, "POST", V1, "customNamespaceId=dev&namespaceName=Dev&namespaceDesc=d1",
                       buf, sizeof(buf)),
                   200);
  assert_string_equal(buf, "true");
  /* a blank id gets a UUID */
  assert_int_equal(req(st, "POST", V1, "namespaceName=Anon", buf, sizeof(buf)), 200);
  assert_string_equal(buf, "true");
  assert_int_equal(req(st, "GET", V1 "?checkNamespaceIdExist=true&customNamespaceId=dev", NULL,
                       buf, sizeof(buf)),
                   200);
  assert_string_equal(buf, "true");
  assert_int_equal(req(st, "GET", V1 "?checkNamespaceIdExist=true&customNamespaceId=zz", NULL, buf,
                       sizeof(buf)),
                   200);
  assert_string_equal(buf, "false");

  /* a config published into dev is counted */
  assert_int_equal(req(st, "POST", "/nacos/v1/cs/configs", "dataId=a&group=G&tenant=dev&content=x",
                       buf, sizeof(buf)),
                   200);
  assert_int_equal(req(st, "GET", V1, NULL, buf, sizeof(buf)), 200);
  o = cJSON_Parse(buf);
  data = cJSON_GetObjectItem(o, "data");
  assert_int_equal(cJSON_GetArraySize(data), 3);
  cJSON *dev = find_ns(data, "dev");
  assert_non_null(dev);
  assert_string_equal(str(dev, "namespaceShowName"), "Dev");
  assert_string_equal(str(dev, "namespaceDesc"), "d1");
  assert_int_equal(num(dev, "type"), 2);
  assert_int_equal(num(dev, "configCount"), 1);
  cJSON *anon = NULL, *e; /* the one neither public nor dev (ids sort: anywhere) */
  cJSON_ArrayForEach(e, data) {
    if (*str(e, "namespace") && strcmp(str(e, "namespace"), "dev"))
      anon = e;
  }
  assert_non_null(anon);
  assert_int_equal(strlen(str(anon, "namespace")), 36);
  assert_string_equal(str(anon, "namespaceShowName"), "Anon");
  assert_int_equal(num(find_ns(data, ""), "configCount"), 0);
  cJSON_Delete(o);

  /* show=all: the NamespaceAllInfo itself */
  assert_int_equal(req(st, "GET", V1 "?show=all&namespaceId=dev", NULL, buf, sizeof(buf)), 200);
  o = cJSON_Parse(buf);
  assert_string_equal(str(o, "namespace"), "dev");
  assert_int_equal(num(o, "configCount"), 1);
  cJSON_Delete(o);

  assert_int_equal(req(st, "PUT", V1, "namespace=dev&namespaceShowName=Dev2&namespaceDesc=d2", buf,
                       sizeof(buf)),
                   200);
  assert_string_equal(buf, "true");
  assert_int_equal(req(st, "GET", V1 "?show=all&namespaceId=dev", NULL, buf, sizeof(buf)), 200);
  o = cJSON_Parse(buf);
  assert_string_equal(str(o, "namespaceShowName"), "Dev2");
  assert_string_equal(str(o, "namespaceDesc"), "d2");
  cJSON_Delete(o);

  assert_int_equal(req(st, "DELETE", V1 "?namespaceId=dev", NULL, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "true");
  assert_int_equal(req(st, "GET", V1 "?show=all&namespaceId=dev", NULL, buf, sizeof(buf)), 500);
  assert_string_equal(buf, "caused: namespaceId [ dev ] not exist;");
}

static void test_v1_refusals(void **st) {
  char buf[4096];
  assert_int_equal(req(st, "POST", V1, "customNamespaceId=ok1&namespaceName=Ok", buf, sizeof(buf)),
                   200);
  static const char *const refused[] = {
      "customNamespaceId=ok1&namespaceName=Again",     /* duplicate */
      "customNamespaceId=bad.id&namespaceName=X",      /* charset */
      "customNamespaceId=ok2&namespaceName=a%40b",     /* '@' in the name */
      "customNamespaceId=public&namespaceName=P",      /* the default one */
  };
  for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
    assert_int_equal(req(st, "POST", V1, refused[i], buf, sizeof(buf)), 200);
    assert_string_equal(buf, "false");
  }
  char form[300];
  snprintf(form, sizeof(form), "customNamespaceId=%0129d&namespaceName=Long", 0);
  assert_int_equal(req(st, "POST", V1, form, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "false");
  assert_int_equal(req(st, "POST", V1, "customNamespaceId=ok3", buf, sizeof(buf)), 400);
  assert_string_equal(buf, "caused: Required parameter 'namespaceName' type String is not present;");
  assert_int_equal(req(st, "DELETE", V1, NULL, buf, sizeof(buf)), 400);
  assert_int_equal(req(st, "DELETE", V1 "?namespaceId=public", NULL, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "false");
  assert_int_equal(req(st, "PUT", V1, "namespace=nope&namespaceShowName=N", buf, sizeof(buf)), 200);
  assert_string_equal(buf, "false");
  /* nothing refused was stored */
  assert_int_equal(req(st, "GET", V1, NULL, buf, sizeof(buf)), 200);
  cJSON *o = cJSON_Parse(buf);
  cJSON *data = cJSON_GetObjectItem(o, "data");
  assert_int_equal(cJSON_GetArraySize(data), 2);
  assert_string_equal(str(find_ns(data, "ok1"), "namespaceShowName"), "Ok");
  cJSON_Delete(o);
}

/* status and the v2 envelope's code; data's text into why (may be NULL) */
static int v2(void **st, const char *method, const char *path, const char *form, int *code,
              char *why, size_t cap, cJSON **data) {
  char buf[8192];
  int status = req(st, method, path, form, buf, sizeof(buf));
  cJSON *o = cJSON_Parse(buf);
  assert_non_null(o);
  *code = num(o, "code");
  assert_non_null(str(o, "message"));
  if (why)
    snprintf(why, cap, "%s", str(o, "data") ? str(o, "data") : "");
  if (data)
    *data = cJSON_DetachItemFromObject(o, "data");
  cJSON_Delete(o);
  return status;
}

static void test_v2(void **st) {
  int code;
  char why[256];
  cJSON *d = NULL;
  assert_int_equal(v2(st, "POST", V2, "namespaceId=qa&namespaceName=QA&namespaceDesc=q", &code,
                      NULL, 0, &d),
                   200);
  assert_int_equal(code, 0);
  assert_true(cJSON_IsTrue(d));
  cJSON_Delete(d);
  assert_int_equal(v2(st, "POST", V2, "namespaceId=qa&namespaceName=QA", &code, why, sizeof(why),
                      NULL),
                   500);
  assert_int_equal(code, 22002);
  assert_string_equal(why, "namespaceId [qa] already exist");
  assert_int_equal(v2(st, "POST", V2, "namespaceId=q%20a&namespaceName=QA", &code, why,
                      sizeof(why), NULL),
                   400);
  assert_int_equal(code, 22003);
  assert_string_equal(why, "namespaceId [q a] mismatch the pattern");
  assert_int_equal(v2(st, "POST", V2, "namespaceId=qb&namespaceName=Q%26A", &code, why, sizeof(why),
                      NULL),
                   400);
  assert_int_equal(code, 22003);
  assert_int_equal(v2(st, "POST", V2, "namespaceId=qb", &code, why, sizeof(why), NULL), 400);
  assert_int_equal(code, 10000);
  assert_string_equal(why, "required parameter 'namespaceName' is missing");

  assert_int_equal(v2(st, "GET", V2 "?namespaceId=qa", NULL, &code, NULL, 0, &d), 200);
  assert_int_equal(code, 0);
  assert_string_equal(str(d, "namespace"), "qa");
  assert_string_equal(str(d, "namespaceShowName"), "QA");
  assert_int_equal(num(d, "type"), 2);
  cJSON_Delete(d);
  assert_int_equal(v2(st, "GET", V2 "?namespaceId=zz", NULL, &code, why, sizeof(why), NULL), 404);
  assert_int_equal(code, 22001);
  assert_string_equal(why, "namespaceId [ zz ] not exist");
  assert_int_equal(v2(st, "GET", V2, NULL, &code, NULL, 0, NULL), 400);
  assert_int_equal(code, 10000);

  assert_int_equal(v2(st, "PUT", V2, "namespaceId=qa&namespaceName=QA2&namespaceDesc=q2", &code,
                      NULL, 0, NULL),
                   200);
  assert_int_equal(v2(st, "PUT", V2, "namespaceId=zz&namespaceName=Z", &code, NULL, 0, NULL), 404);
  assert_int_equal(code, 22001);
  assert_int_equal(v2(st, "GET", V2 "/list", NULL, &code, NULL, 0, &d), 200);
  assert_int_equal(cJSON_GetArraySize(d), 2);
  assert_string_equal(str(find_ns(d, "qa"), "namespaceShowName"), "QA2");
  assert_string_equal(str(find_ns(d, "qa"), "namespaceDesc"), "q2");
  assert_int_equal(num(find_ns(d, ""), "type"), 0);
  cJSON_Delete(d);

  assert_int_equal(v2(st, "DELETE", V2 "?namespaceId=public", NULL, &code, NULL, 0, NULL), 400);
  assert_int_equal(code, 22003);
  assert_int_equal(v2(st, "DELETE", V2 "?namespaceId=qa", NULL, &code, NULL, 0, &d), 200);
  assert_true(cJSON_IsTrue(d));
  cJSON_Delete(d);
  assert_int_equal(v2(st, "GET", V2 "/list", NULL, &code, NULL, 0, &d), 200);
  assert_int_equal(cJSON_GetArraySize(d), 1);
  cJSON_Delete(d);
}

static int port_of(nc_tfx *f) { return f->srv->port; }

static void test_pg_shared(void **st) {
  (void)st;
  char why[256], url[256], out[256];
  if (!nc_testpg_available(why, sizeof(why))) {
    fprintf(stderr, "skipped: %s\n", why);
    skip();
  }
  nc_testpg *pg = NULL;
  assert_int_equal(nc_testpg_start(&pg), 0);
  snprintf(url, sizeof(url), "--db-url=%s", nc_testpg_url(pg));
  const char *args[] = {url, NULL};
  nc_tfx *a = NULL, *b = NULL;
  assert_int_equal(nc_tfx_start(args, &a), 0);
  assert_int_equal(nc_tfx_start(args, &b), 0);
  int status = 0;
  char *body = NULL;
  assert_int_equal(nc_test_http_req(port_of(a), "POST", V2,
                                    "namespaceId=shared&namespaceName=Shared&namespaceDesc=s", NULL,
                                    &status, &body),
                   0);
  assert_int_equal(status, 200);
  free(body);
  assert_int_equal(nc_testpg_sql(pg,
                                 "SELECT tenant_name FROM tenant_info WHERE kp='1' AND "
                                 "tenant_id='shared'",
                                 out, sizeof(out)),
                   0);
  assert_string_equal(out, "Shared");
  assert_int_equal(nc_test_http_req(port_of(b), "GET", V1, NULL, NULL, &status, &body), 0);
  assert_int_equal(status, 200);
  assert_non_null(strstr(body, "\"namespace\":\"shared\""));
  free(body);
  /* a duplicate made on the other node is refused by the shared table */
  assert_int_equal(nc_test_http_req(port_of(b), "POST", V2, "namespaceId=shared&namespaceName=S2",
                                    NULL, &status, &body),
                   0);
  assert_int_equal(status, 500);
  assert_non_null(strstr(body, "22002"));
  free(body);
  assert_int_equal(nc_tfx_stop(a), 0);
  assert_int_equal(nc_tfx_stop(b), 0);
  nc_testpg_free(pg);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_v1_lifecycle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2, setup, teardown),
      cmocka_unit_test(test_pg_shared),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
