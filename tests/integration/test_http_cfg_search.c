/* Config search and detail over HTTP (issue 14) on the real nacosd: v1
 * GET /nacos/v1/cs/configs?search=accurate|blur (dataId / group with '*',
 * appName, config_detail content search, types, config_tags) as a Nacos
 * Page of ConfigInfo, show=all (ConfigAllInfo), and the 3.x paths
 * /nacos/v3/admin/cs/config (publish, ConfigDetailInfo, delete),
 * /v3/admin/cs/config/list and /v3/client/cs/config, field by field, with
 * their errors; the default namespace is "" in v1 answers and "public" in
 * v3 ones, and either id reaches it. */
#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_cfg_itest.h"

/* The helpers (http_cfg_itest.h) on the fixture's nacosd. */
#define setup hci_setup
#define teardown hci_teardown
#define req(f, m, p, form, b) hci_req((f)->srv->port, m, p, form, b)
#define json(f, m, p, st) hci_json((f)->srv->port, m, p, st)
#define env(f, m, p, st, c) hci_env((f)->srv->port, m, p, st, c)
#define jstr hci_str
#define jnum hci_num


static void publish(nc_tfx *f, const char *form) {
  const char *b;
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", form, &b), 200);
  assert_string_equal(b, "true");
}

/* The dataIds of a page's items, comma-joined, into buf. */
static const char *ids_of(const cJSON *page, char *buf, size_t cap) {
  buf[0] = '\0';
  const cJSON *it;
  cJSON_ArrayForEach(it, cJSON_GetObjectItem(page, "pageItems")) {
    size_t l = strlen(buf);
    snprintf(buf + l, cap - l, "%s%s", l ? "," : "", jstr(it, "dataId"));
  }
  return buf;
}

#define S1 "/nacos/v1/cs/configs?pageNo=1&pageSize=10&tenant=dev"

static void seed(nc_tfx *f) {
  publish(f, "dataId=app.yaml&group=ORDER&tenant=dev&type=yaml&appName=shop&content=port%3A%2080");
  publish(f, "dataId=app.json&group=ORDER&tenant=dev&type=json&content=%7B%22port%22%3A81%7D");
  publish(f, "dataId=db.properties&group=STOCK&tenant=dev&type=properties&content=url%3Djdbc");
  publish(f, "dataId=app.yaml&group=STOCK&tenant=dev&content=other");
  publish(f, "dataId=app.yaml&group=ORDER&content=in%20public");
}

static void test_v1_search(void **st) {
  nc_tfx *f = *st;
  char ids[256];
  const char *b;
  seed(f);
  /* blur with '*': by group, then dataId */
  cJSON *p = json(f, "GET", S1 "&search=blur&dataId=app*&group=", 200);
  assert_int_equal((int)jnum(p, "totalCount"), 3);
  assert_int_equal((int)jnum(p, "pageNumber"), 1);
  assert_int_equal((int)jnum(p, "pagesAvailable"), 1);
  assert_string_equal(ids_of(p, ids, sizeof(ids)), "app.json,app.yaml,app.yaml");
  cJSON *it = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "pageItems"), 1);
  assert_string_equal(jstr(it, "group"), "ORDER");
  assert_string_equal(jstr(it, "tenant"), "dev");
  assert_string_equal(jstr(it, "content"), "port: 80");
  assert_string_equal(jstr(it, "type"), "yaml");
  assert_string_equal(jstr(it, "appName"), "shop");
  assert_int_equal(strlen(jstr(it, "md5")), 32);
  assert_true(cJSON_IsNumber(cJSON_GetObjectItem(it, "id")));
  cJSON_Delete(p);
  p = json(f, "GET", S1 "&search=blur&dataId=*&group=*TOCK", 200);
  assert_string_equal(ids_of(p, ids, sizeof(ids)), "app.yaml,db.properties");
  cJSON_Delete(p);
  /* blur without '*' is exact (Nacos's LIKE without a wildcard) */
  p = json(f, "GET", S1 "&search=blur&dataId=app", 200);
  assert_int_equal((int)jnum(p, "totalCount"), 0);
  cJSON_Delete(p);
  /* accurate */
  p = json(f, "GET", S1 "&search=accurate&dataId=app.yaml&group=ORDER", 200);
  assert_int_equal((int)jnum(p, "totalCount"), 1);
  cJSON_Delete(p);
  p = json(f, "GET", S1 "&search=accurate&dataId=app*", 200);
  assert_int_equal((int)jnum(p, "totalCount"), 0);
  cJSON_Delete(p);
  p = json(f, "GET", S1 "&search=accurate&appName=shop", 200);
  assert_string_equal(ids_of(p, ids, sizeof(ids)), "app.yaml");
  cJSON_Delete(p);
  /* content search (config_detail), types, tags (none stored) */
  p = json(f, "GET", S1 "&search=blur&config_detail=port", 200);
  assert_string_equal(ids_of(p, ids, sizeof(ids)), "app.json,app.yaml");
  cJSON_Delete(p);
  p = json(f, "GET", S1 "&search=blur&config_detail=port*80", 200); /* '*' inside */
  assert_string_equal(ids_of(p, ids, sizeof(ids)), "app.yaml");
  cJSON_Delete(p);
  p = json(f, "GET", S1 "&search=blur&types=json,properties", 200);
  assert_string_equal(ids_of(p, ids, sizeof(ids)), "app.json,db.properties");
  cJSON_Delete(p);
  p = json(f, "GET", S1 "&search=blur&config_tags=t1", 200);
  assert_int_equal((int)jnum(p, "totalCount"), 0);
  cJSON_Delete(p);
  /* the default namespace: tenant absent, "" or "public" */
  p = json(f, "GET", "/nacos/v1/cs/configs?search=blur&pageNo=1&pageSize=10&tenant=public", 200);
  assert_string_equal(ids_of(p, ids, sizeof(ids)), "app.yaml");
  assert_string_equal(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "pageItems"), 0), "tenant"),
                      "");
  cJSON_Delete(p);
  p = json(f, "GET", "/nacos/v1/cs/configs?search=blur&pageNo=1&pageSize=10", 200);
  assert_int_equal((int)jnum(p, "totalCount"), 1);
  cJSON_Delete(p);
  /* pages */
  p = json(f, "GET", "/nacos/v1/cs/configs?search=blur&pageNo=2&pageSize=3&tenant=dev", 200);
  assert_int_equal((int)jnum(p, "totalCount"), 4);
  assert_int_equal((int)jnum(p, "pagesAvailable"), 2);
  assert_string_equal(ids_of(p, ids, sizeof(ids)), "db.properties");
  cJSON_Delete(p);
  /* errors */
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?search=blur&pageSize=3", NULL, &b), 400);
  assert_string_equal(b, "caused: Required parameter 'pageNo' type int is not present;");
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?search=blur&pageNo=1", NULL, &b), 400);
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?search=blur&pageNo=0&pageSize=3", NULL,
                       &b), 400);
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?search=fuzzy&pageNo=1&pageSize=3", NULL,
                       &b), 400);
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?search=blur&pageNo=1&pageSize=3&tenant=a%2Fb",
                       NULL, &b), 400);
}

static void test_v1_show_all(void **st) {
  nc_tfx *f = *st;
  const char *b;
  seed(f);
  cJSON *d = json(f, "GET", "/nacos/v1/cs/configs?show=all&dataId=app.yaml&group=ORDER&tenant=dev",
                  200);
  assert_string_equal(jstr(d, "dataId"), "app.yaml");
  assert_string_equal(jstr(d, "group"), "ORDER");
  assert_string_equal(jstr(d, "tenant"), "dev");
  assert_string_equal(jstr(d, "content"), "port: 80");
  assert_string_equal(jstr(d, "type"), "yaml");
  assert_string_equal(jstr(d, "appName"), "shop");
  assert_int_equal(strlen(jstr(d, "md5")), 32);
  assert_true(jnum(d, "createTime") > 1e12);
  assert_true(jnum(d, "modifyTime") >= jnum(d, "createTime"));
  assert_string_equal(jstr(d, "createIp"), "127.0.0.1");
  assert_true(cJSON_IsString(cJSON_GetObjectItem(d, "createUser")));
  cJSON_Delete(d);
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?show=all&dataId=nope&group=ORDER", NULL,
                       &b), 404);
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?show=all&group=ORDER", NULL, &b), 400);
  /* any other show value is a plain get */
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?show=x&dataId=app.yaml&group=ORDER", NULL,
                       &b), 200);
  assert_string_equal(b, "in public");
}

#define A3 "/nacos/v3/admin/cs/config"

static void test_v3_paths(void **st) {
  nc_tfx *f = *st;
  const char *b;
  /* publish in "public" over v3; v1 reads it in "" */
  cJSON *j = env(f, "POST", A3 "?dataId=v3.yaml&groupName=G&namespaceId=public&content=a%3A%201"
                            "&type=yaml&appName=ap",
                 200, 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "data")));
  cJSON_Delete(j);
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?dataId=v3.yaml&group=G", NULL, &b), 200);
  assert_string_equal(b, "a: 1");
  /* ConfigDetailInfo */
  j = env(f, "GET", A3 "?dataId=v3.yaml&groupName=G", 200, 0);
  cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_string_equal(jstr(d, "namespaceId"), "public");
  assert_string_equal(jstr(d, "groupName"), "G");
  assert_string_equal(jstr(d, "dataId"), "v3.yaml");
  assert_string_equal(jstr(d, "content"), "a: 1");
  assert_string_equal(jstr(d, "type"), "yaml");
  assert_string_equal(jstr(d, "appName"), "ap");
  assert_int_equal(strlen(jstr(d, "md5")), 32);
  assert_true(jnum(d, "createTime") > 1e12);
  assert_true(jnum(d, "modifyTime") > 1e12);
  assert_true(cJSON_IsString(cJSON_GetObjectItem(d, "encryptedDataKey")));
  cJSON_Delete(j);
  j = env(f, "GET", A3 "?dataId=none&groupName=G", 404, 20004);
  assert_string_equal(jstr(j, "data"), "Config not exist, please publish Config first.");
  cJSON_Delete(j);
  j = env(f, "GET", A3 "?dataId=v3.yaml&group=G", 400, 10000);
  assert_string_equal(jstr(j, "data"), "Required parameter 'groupName' type String is not present");
  cJSON_Delete(j);
  /* list: blur by default, ConfigBasicInfo */
  j = env(f, "GET", A3 "/list?dataId=v3*&pageNo=1&pageSize=5", 200, 0);
  d = cJSON_GetObjectItem(j, "data");
  assert_int_equal((int)jnum(d, "totalCount"), 1);
  cJSON *it = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "pageItems"), 0);
  assert_string_equal(jstr(it, "namespaceId"), "public");
  assert_string_equal(jstr(it, "groupName"), "G");
  assert_null(cJSON_GetObjectItem(it, "content"));
  cJSON_Delete(j);
  j = env(f, "GET", A3 "/list?search=accurate&dataId=v3*", 200, 0);
  assert_int_equal((int)jnum(cJSON_GetObjectItem(j, "data"), "totalCount"), 0);
  cJSON_Delete(j);
  j = env(f, "GET", A3 "/list?pageSize=0", 400, 20002);
  cJSON_Delete(j);
  /* the client read: a ConfigQueryResponse */
  j = env(f, "GET", "/nacos/v3/client/cs/config?dataId=v3.yaml&groupName=G&namespaceId=", 200, 0);
  d = cJSON_GetObjectItem(j, "data");
  assert_string_equal(jstr(d, "content"), "a: 1");
  assert_string_equal(jstr(d, "contentType"), "yaml");
  assert_int_equal((int)jnum(d, "resultCode"), 200);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "success")));
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(d, "beta")));
  assert_true(jnum(d, "lastModified") > 1e12);
  cJSON_Delete(j);
  /* a missing config: Nacos's Result.failure, HTTP 200 with code 20004 */
  j = env(f, "GET", "/nacos/v3/client/cs/config?dataId=none&groupName=G", 200, 20004);
  cJSON_Delete(j);
  /* delete over v3 */
  j = env(f, "DELETE", A3 "?dataId=v3.yaml&groupName=G&namespaceId=public", 200, 0);
  cJSON_Delete(j);
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?dataId=v3.yaml&group=G", NULL, &b), 404);
  j = env(f, "POST", A3 "?dataId=v3.yaml&groupName=G", 400, 10000);
  cJSON_Delete(j);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_v1_search, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_show_all, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v3_paths, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
