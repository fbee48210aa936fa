/* Config history over HTTP (issue 14) on the real nacosd: the v1, v2 and
 * v3 admin history paths with Nacos's JSON field by field (a Page of
 * ConfigHistoryInfo, one version with its content, the previous version,
 * the configs of a namespace), their errors (missing / invalid parameters,
 * unknown ids, another key's id), and nacos-c's rollback extension, which
 * republishes an old version through the normal publish path (a gRPC
 * listener is notified). Auth on: test_http_cfg_auth.c. */
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
/* A v2/v3 envelope: status and code asserted; returns it (data inside). */
static void publish(nc_tfx *f, const char *form) {
  const char *b;
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs", form, &b), 200);
  assert_string_equal(b, "true");
}
/* "2026-01-02T03:04:05.678+00:00" */
static void assert_iso(const char *s) {
  assert_int_equal(strlen(s), 29);
  assert_true(s[4] == '-' && s[10] == 'T' && s[19] == '.');
  assert_string_equal(s + 23, "+00:00");
}

#define H1 "/nacos/v1/cs/history"
#define KEY "dataId=h.yaml&group=G&tenant=dev"

/* Three publishes and a remove: four versions, newest first. */
static void make_history(nc_tfx *f) {
  const char *b;
  publish(f, KEY "&content=one&appName=app1&src_user=alice");
  publish(f, KEY "&content=two");
  publish(f, KEY "&content=three");
  assert_int_equal(req(f, "DELETE", "/nacos/v1/cs/configs?" KEY, NULL, &b), 200);
}

static void test_v1_list_get_previous(void **st) {
  nc_tfx *f = *st;
  make_history(f);
  cJSON *p = json(f, "GET", H1 "?search=accurate&" KEY, 200);
  assert_int_equal((int)jnum(p, "totalCount"), 4);
  assert_int_equal((int)jnum(p, "pageNumber"), 1);
  assert_int_equal((int)jnum(p, "pagesAvailable"), 1);
  cJSON *items = cJSON_GetObjectItem(p, "pageItems");
  assert_int_equal(cJSON_GetArraySize(items), 4);
  /* newest first: the remove ('D' holds the removed content), then the updates */
  static const char *const ops[] = {"D         ", "U         ", "U         ", "I         "};
  long long ids[4];
  for (int i = 0; i < 4; i++) {
    cJSON *it = cJSON_GetArrayItem(items, i);
    assert_string_equal(jstr(it, "opType"), ops[i]);
    ids[i] = atoll(jstr(it, "id")); /* Nacos writes the id as a string */
    assert_true(ids[i] > 0);
    assert_int_equal((int)jnum(it, "lastId"), -1);
    assert_string_equal(jstr(it, "dataId"), "h.yaml");
    assert_string_equal(jstr(it, "group"), "G");
    assert_string_equal(jstr(it, "tenant"), "dev");
    assert_string_equal(jstr(it, "publishType"), "formal");
    assert_int_equal(strlen(jstr(it, "md5")), 32);
    assert_string_equal(jstr(it, "srcIp"), "127.0.0.1"); /* the ip, no port */
    assert_iso(jstr(it, "createdTime"));
    assert_iso(jstr(it, "lastModifiedTime"));
    assert_null(cJSON_GetObjectItem(it, "content")); /* a list carries no content */
    if (i)
      assert_true(ids[i] < ids[i - 1]);
  }
  assert_string_equal(jstr(cJSON_GetArrayItem(items, 3), "appName"), "app1");
  assert_string_equal(jstr(cJSON_GetArrayItem(items, 3), "srcUser"), "alice");
  cJSON_Delete(p);
  /* pages */
  p = json(f, "GET", H1 "?search=accurate&" KEY "&pageNo=2&pageSize=3", 200);
  assert_int_equal((int)jnum(p, "totalCount"), 4);
  assert_int_equal((int)jnum(p, "pageNumber"), 2);
  assert_int_equal((int)jnum(p, "pagesAvailable"), 2);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "pageItems")), 1);
  cJSON_Delete(p);
  p = json(f, "GET", H1 "?search=accurate&" KEY "&pageNo=9&pageSize=3", 200);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "pageItems")), 0);
  cJSON_Delete(p);
  /* one version: the 'I' row holds what the first publish created */
  char path[256];
  snprintf(path, sizeof(path), H1 "?" KEY "&nid=%lld", ids[3]);
  p = json(f, "GET", path, 200);
  assert_string_equal(jstr(p, "content"), "one");
  assert_string_equal(jstr(p, "opType"), "I         ");
  assert_int_equal(atoll(jstr(p, "id")), ids[3]);
  assert_string_equal(jstr(p, "tenant"), "dev");
  cJSON_Delete(p);
  snprintf(path, sizeof(path), H1 "?" KEY "&nid=%lld", ids[0]);
  p = json(f, "GET", path, 200);
  assert_string_equal(jstr(p, "content"), "three"); /* what the remove took away */
  cJSON_Delete(p);
  /* previous: the version before id */
  snprintf(path, sizeof(path), H1 "/previous?" KEY "&id=%lld", ids[1]);
  p = json(f, "GET", path, 200);
  assert_int_equal(atoll(jstr(p, "id")), ids[2]);
  assert_string_equal(jstr(p, "content"), "one"); /* the first update replaced "one" */
  cJSON_Delete(p);
  const char *b;
  snprintf(path, sizeof(path), H1 "/previous?" KEY "&id=%lld", ids[3]);
  assert_int_equal(req(f, "GET", path, NULL, &b), 404);
  assert_non_null(strstr(b, "previous config history for id ="));
  /* errors */
  assert_int_equal(req(f, "GET", H1 "?search=accurate&group=G", NULL, &b), 400);
  assert_string_equal(b, "caused: Required parameter 'dataId' type String is not present;");
  assert_int_equal(req(f, "GET", H1 "?" KEY, NULL, &b), 400);
  assert_non_null(strstr(b, "'nid'"));
  assert_int_equal(req(f, "GET", H1 "?" KEY "&nid=abc", NULL, &b), 400);
  assert_int_equal(req(f, "GET", H1 "?" KEY "&nid=0", NULL, &b), 400);
  assert_int_equal(req(f, "GET", H1 "?" KEY "&nid=99999999", NULL, &b), 404);
  assert_non_null(strstr(b, "certain config history for nid = 99999999 not exist"));
  /* another key's id is not found under this key */
  snprintf(path, sizeof(path), H1 "?dataId=other&group=G&tenant=dev&nid=%lld", ids[0]);
  assert_int_equal(req(f, "GET", path, NULL, &b), 404);
  assert_int_equal(req(f, "GET", H1 "?search=accurate&" KEY "&pageNo=0", NULL, &b), 400);
  assert_int_equal(req(f, "GET", H1 "?search=accurate&" KEY "&pageSize=x", NULL, &b), 400);
  /* a key without history: an empty page; another namespace is another key */
  p = json(f, "GET", H1 "?search=accurate&dataId=h.yaml&group=G&tenant=nope", 200);
  assert_int_equal((int)jnum(p, "totalCount"), 0);
  cJSON_Delete(p);
  assert_int_equal(req(f, "POST", H1 "?" KEY, NULL, &b), 405);
}

static void test_v1_configs_of_namespace(void **st) {
  nc_tfx *f = *st;
  const char *b;
  publish(f, "dataId=a&group=G1&tenant=dev&content=x&type=yaml&appName=ap");
  publish(f, "dataId=b&group=G2&tenant=dev&content=y");
  publish(f, "dataId=c&group=G1&content=z");
  cJSON *a = json(f, "GET", H1 "/configs?tenant=dev", 200);
  assert_int_equal(cJSON_GetArraySize(a), 2);
  cJSON *it = cJSON_GetArrayItem(a, 0);
  assert_string_equal(jstr(it, "dataId"), "a");
  assert_string_equal(jstr(it, "group"), "G1");
  assert_string_equal(jstr(it, "tenant"), "dev");
  assert_string_equal(jstr(it, "type"), "yaml");
  assert_string_equal(jstr(it, "appName"), "ap");
  assert_true(jnum(it, "lastModified") > 1e12);
  assert_null(cJSON_GetObjectItem(it, "content"));
  cJSON_Delete(a);
  /* "" and "public" are the default namespace */
  a = json(f, "GET", H1 "/configs?tenant=", 200);
  assert_int_equal(cJSON_GetArraySize(a), 1);
  assert_string_equal(jstr(cJSON_GetArrayItem(a, 0), "tenant"), "");
  cJSON_Delete(a);
  a = json(f, "GET", H1 "/configs?tenant=public", 200);
  assert_int_equal(cJSON_GetArraySize(a), 1);
  cJSON_Delete(a);
  assert_int_equal(req(f, "GET", H1 "/configs", NULL, &b), 400);
  assert_non_null(strstr(b, "'tenant'"));
  assert_int_equal(req(f, "GET", H1 "/configs?tenant=a%2Fb", NULL, &b), 400);
  a = json(f, "GET", H1 "/configs?tenant=unknown", 200);
  assert_int_equal(cJSON_GetArraySize(a), 0);
  cJSON_Delete(a);
}

#define KEY2 "dataId=h.yaml&group=G&namespaceId=dev"
#define KEY3 "dataId=h.yaml&groupName=G"

static void test_v2_v3(void **st) {
  nc_tfx *f = *st;
  make_history(f);
  publish(f, "dataId=h.yaml&group=G&content=pub1");
  publish(f, "dataId=h.yaml&group=G&content=pub2");
  /* v2: the same Page inside the envelope */
  cJSON *j = env(f, "GET", "/nacos/v2/cs/history/list?" KEY2 "&pageSize=2", 200, 0);
  cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_int_equal((int)jnum(d, "totalCount"), 4);
  assert_int_equal((int)jnum(d, "pagesAvailable"), 2);
  cJSON *it = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "pageItems"), 1);
  assert_string_equal(jstr(it, "opType"), "U         ");
  assert_string_equal(jstr(it, "tenant"), "dev");
  long long id = atoll(jstr(it, "id"));
  cJSON_Delete(j);
  char path[256];
  snprintf(path, sizeof(path), "/nacos/v2/cs/history?" KEY2 "&nid=%lld", id);
  j = env(f, "GET", path, 200, 0);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "content"), "two");
  cJSON_Delete(j);
  snprintf(path, sizeof(path), "/nacos/v2/cs/history/previous?" KEY2 "&id=%lld", id);
  j = env(f, "GET", path, 200, 0);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "content"), "one");
  cJSON_Delete(j);
  /* detail: the content before and after one change */
  snprintf(path, sizeof(path), "/nacos/v2/cs/history/detail?" KEY2 "&nid=%lld", id);
  j = env(f, "GET", path, 200, 0);
  d = cJSON_GetObjectItem(j, "data");
  assert_int_equal((long long)jnum(d, "id"), id);
  assert_string_equal(jstr(d, "opType"), "U"); /* trimmed, as Nacos's detail */
  assert_string_equal(jstr(d, "originalContent"), "two");
  assert_string_equal(jstr(d, "updatedContent"), "three");
  assert_int_equal(strlen(jstr(d, "updatedMd5")), 32);
  assert_string_equal(jstr(d, "tenant"), "dev");
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v2/cs/history/list?" KEY2 "&pageSize=9", 200, 0);
  cJSON *rows = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "pageItems");
  long long del = atoll(jstr(cJSON_GetArrayItem(rows, 0), "id")),
            ins = atoll(jstr(cJSON_GetArrayItem(rows, 3), "id"));
  cJSON_Delete(j);
  snprintf(path, sizeof(path), "/nacos/v2/cs/history/detail?" KEY2 "&nid=%lld", del);
  j = env(f, "GET", path, 200, 0);
  d = cJSON_GetObjectItem(j, "data");
  assert_string_equal(jstr(d, "opType"), "D");
  assert_string_equal(jstr(d, "originalContent"), "three");
  assert_null(cJSON_GetObjectItem(d, "updatedContent")); /* nothing after a remove */
  cJSON_Delete(j);
  snprintf(path, sizeof(path), "/nacos/v2/cs/history/detail?" KEY2 "&nid=%lld", ins);
  j = env(f, "GET", path, 200, 0);
  d = cJSON_GetObjectItem(j, "data");
  assert_string_equal(jstr(d, "originalContent"), "");
  assert_string_equal(jstr(d, "updatedContent"), "one");
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v2/cs/history/detail?" KEY2 "&nid=999999", 404, 20004);
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v2/cs/history/detail?" KEY2, 400, 10000);
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v2/cs/history/configs?namespaceId=dev", 200, 0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 0); /* removed */
  cJSON_Delete(j);
  /* v2 errors */
  j = env(f, "GET", "/nacos/v2/cs/history/list?group=G", 400, 10000);
  assert_string_equal(jstr(j, "message"), "parameter missing");
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v2/cs/history?" KEY2 "&nid=424242", 404, 20004);
  assert_string_equal(jstr(j, "data"), "certain config history for nid = 424242 not exist");
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v2/cs/history/configs", 400, 10000);
  cJSON_Delete(j);
  /* v3: ConfigHistoryBasicInfo, the default namespace named "public" */
  j = env(f, "GET", "/nacos/v3/admin/cs/history/list?" KEY3 "&namespaceId=public", 200, 0);
  d = cJSON_GetObjectItem(j, "data");
  assert_int_equal((int)jnum(d, "totalCount"), 2);
  it = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "pageItems"), 0);
  id = (long long)jnum(it, "id"); /* a number in v3 */
  assert_string_equal(jstr(it, "namespaceId"), "public");
  assert_string_equal(jstr(it, "groupName"), "G");
  assert_string_equal(jstr(it, "dataId"), "h.yaml");
  assert_string_equal(jstr(it, "type"), "text");
  assert_string_equal(jstr(it, "opType"), "U         ");
  assert_true(jnum(it, "createTime") > 1e12);
  assert_true(jnum(it, "modifyTime") > 1e12);
  assert_null(cJSON_GetObjectItem(it, "createdTime"));
  cJSON_Delete(j);
  /* the newest change's "after" is the current config */
  snprintf(path, sizeof(path), "/nacos/v2/cs/history/detail?dataId=h.yaml&group=G&nid=%lld", id);
  j = env(f, "GET", path, 200, 0);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "originalContent"), "pub1");
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "updatedContent"), "pub2");
  cJSON_Delete(j);
  /* "" is "public" too */
  j = env(f, "GET", "/nacos/v3/admin/cs/history/list?" KEY3, 200, 0);
  assert_int_equal((int)jnum(cJSON_GetObjectItem(j, "data"), "totalCount"), 2);
  cJSON_Delete(j);
  snprintf(path, sizeof(path), "/nacos/v3/admin/cs/history?" KEY3 "&nid=%lld", id);
  j = env(f, "GET", path, 200, 0);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "content"), "pub1");
  cJSON_Delete(j);
  snprintf(path, sizeof(path), "/nacos/v3/admin/cs/history/previous?" KEY3 "&id=%lld", id);
  j = env(f, "GET", path, 200, 0);
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "opType"), "I         ");
  assert_string_equal(jstr(cJSON_GetObjectItem(j, "data"), "content"), "pub1");
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/admin/cs/history/configs?namespaceId=public", 200, 0);
  it = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0);
  assert_string_equal(jstr(it, "namespaceId"), "public");
  assert_string_equal(jstr(it, "groupName"), "G");
  assert_true(jnum(it, "modifyTime") > 1e12);
  cJSON_Delete(j);
  /* v3 checks groupName first */
  j = env(f, "GET", "/nacos/v3/admin/cs/history/list", 400, 10000);
  assert_string_equal(jstr(j, "data"), "Required parameter 'groupName' type String is not present");
  cJSON_Delete(j);
  j = env(f, "GET", "/nacos/v3/admin/cs/history/list?" KEY3 "&pageNo=-1", 400, 20002);
  cJSON_Delete(j);
}

/* Rollback (nacos-c's extension): republish a version; listeners hear it. */
static void test_rollback(void **st) {
  nc_tfx *f = *st;
  const char *b;
  nc_tw *lis = nc_tfx_connect(f, NULL);
  assert_non_null(lis);
  publish(f, KEY "&content=good&type=yaml");
  publish(f, KEY "&content=bad");
  nc_tw_expect_ok(nc_tw_listen_one(lis, 1, "h.yaml", "G", "dev", NULL),
                  "ConfigChangeBatchListenResponse");
  int before = nc_tw_change_count(lis, "h.yaml");
  cJSON *p = json(f, "GET", H1 "?search=accurate&" KEY, 200);
  /* the newest row is the 'U' that replaced "good" */
  long long id = atoll(jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "pageItems"), 0), "id"));
  cJSON_Delete(p);
  char path[256];
  snprintf(path, sizeof(path), H1 "/rollback?" KEY "&nid=%lld", id);
  assert_int_equal(req(f, "POST", path, NULL, &b), 200);
  assert_string_equal(b, "true");
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?" KEY, NULL, &b), 200);
  assert_string_equal(b, "good");
  assert_true(nc_tw_wait_change(lis, "h.yaml", before + 1, 5000, NULL) >= before + 1);
  /* the rollback is itself a version, which says what it restored */
  p = json(f, "GET", H1 "?search=accurate&" KEY, 200);
  cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "pageItems"), 0);
  assert_int_equal((long long)jnum(top, "rollbackOf"), id);
  cJSON_Delete(p);
  /* v2 / v3 */
  snprintf(path, sizeof(path), "/nacos/v2/cs/history/rollback?" KEY2 "&nid=%lld", id);
  cJSON *j = env(f, "POST", path, 200, 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "data")));
  cJSON_Delete(j);
  j = env(f, "POST", "/nacos/v3/admin/cs/history/rollback?" KEY3 "&namespaceId=dev&nid=777777",
          404, 20004);
  cJSON_Delete(j);
  j = env(f, "POST", "/nacos/v2/cs/history/rollback?" KEY2, 400, 10000);
  cJSON_Delete(j);
  assert_int_equal(req(f, "POST", H1 "/rollback?" KEY "&nid=777777", NULL, &b), 404);
  assert_int_equal(req(f, "GET", H1 "/rollback?" KEY "&nid=1", NULL, &b), 405);
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?" KEY, NULL, &b), 200);
  assert_string_equal(b, "good");
  nc_tfx_close(f, lis);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_v1_list_get_previous, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v1_configs_of_namespace, setup, teardown),
      cmocka_unit_test_setup_teardown(test_v2_v3, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
