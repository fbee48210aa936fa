/* The namespace id "public" (issue 14 / 15): a 3.x client names the
 * default namespace "public" where a 2.x one sends "" (or nothing); both
 * must reach the same configs everywhere, on the real nacosd: HTTP v1, v2
 * and v3 reads and writes, gRPC publish / query / listen (a listener
 * registered under "public" hears a write made under "" and is told its
 * own tenant back), the v1 long-poll, history, search and the namespace
 * lists (one default namespace, counting every config in it). */
#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_cfg_itest.h"

/* The helpers (http_cfg_itest.h) on the fixture's nacosd. */
#define setup hci_setup
#define teardown hci_teardown
#define req(f, m, p, b) hci_req((f)->srv->port, m, p, NULL, b)
#define json(f, p) hci_json((f)->srv->port, "GET", p, 200)

static const char *content_at(nc_tfx *f, const char *path) {
  const char *b;
  int st = req(f, "GET", path, &b);
  if (st != 200)
    fprintf(stderr, "GET %s: %d %s\n", path, st, b);
  assert_int_equal(st, 200);
  return b;
}

/* Every way to read dataId p.yaml of group G in the default namespace
 * answers content. */
static void assert_everywhere(nc_tfx *f, nc_tw *tw, const char *content) {
  static const char *const v1[] = {
      "/nacos/v1/cs/configs?dataId=p.yaml&group=G",
      "/nacos/v1/cs/configs?dataId=p.yaml&group=G&tenant=",
      "/nacos/v1/cs/configs?dataId=p.yaml&group=G&tenant=public",
  };
  for (size_t i = 0; i < 3; i++)
    assert_string_equal(content_at(f, v1[i]), content);
  static const char *const env[] = {
      "/nacos/v2/cs/config?dataId=p.yaml&group=G&namespaceId=public",
      "/nacos/v2/cs/config?dataId=p.yaml&group=G",
  };
  for (size_t i = 0; i < 2; i++) {
    cJSON *j = json(f, env[i]);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "data")), content);
    cJSON_Delete(j);
  }
  static const char *const v3[] = {
      "/nacos/v3/admin/cs/config?dataId=p.yaml&groupName=G&namespaceId=public",
      "/nacos/v3/client/cs/config?dataId=p.yaml&groupName=G&namespaceId=",
  };
  for (size_t i = 0; i < 2; i++) {
    cJSON *j = json(f, v3[i]);
    cJSON *d = cJSON_GetObjectItem(j, "data");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "content")), content);
    cJSON_Delete(j);
  }
  static const char *const grpc[] = {"", "public", NULL};
  for (size_t i = 0; i < 3; i++) {
    nc_tw_config c = {0};
    nc_tw_expect_ok(nc_tw_config_get(tw, "p.yaml", "G", grpc[i], &c), "ConfigQueryResponse");
    assert_string_equal(c.content, content);
    nc_tw_config_free(&c);
  }
}

static void test_reads_and_writes(void **st) {
  nc_tfx *f = *st;
  const char *b;
  nc_tw *v3 = nc_tfx_connect(f, NULL), *v2 = nc_tfx_connect(f, NULL);
  assert_non_null(v3);
  assert_non_null(v2);
  /* listeners: a 3.x one under "public", a 2.x one under "" */
  nc_tw_expect_ok(nc_tw_listen_one(v3, 1, "p.yaml", "G", "public", NULL),
                  "ConfigChangeBatchListenResponse");
  nc_tw_expect_ok(nc_tw_listen_one(v2, 1, "p.yaml", "G", "", NULL),
                  "ConfigChangeBatchListenResponse");
  int n3 = nc_tw_change_count(v3, "p.yaml"), n2 = nc_tw_change_count(v2, "p.yaml");
  /* a 3.x gRPC publish under "public" */
  nc_tw_expect_ok(nc_tw_config_publish(v3, "p.yaml", "G", "public", "from-3x", NULL),
                  "ConfigPublishResponse");
  nc_tw_change ch;
  assert_true(nc_tw_wait_change(v3, "p.yaml", n3 + 1, 5000, &ch) >= n3 + 1);
  assert_string_equal(ch.tenant, "public"); /* its own tenant back */
  assert_true(nc_tw_wait_change(v2, "p.yaml", n2 + 1, 5000, &ch) >= n2 + 1);
  assert_string_equal(ch.tenant, "");
  assert_everywhere(f, v2, "from-3x");
  /* a 2.x HTTP publish with no tenant reaches the "public" listener */
  assert_int_equal(req(f, "POST", "/nacos/v1/cs/configs?dataId=p.yaml&group=G&content=from-v1",
                       &b), 200);
  assert_true(nc_tw_wait_change(v3, "p.yaml", n3 + 2, 5000, NULL) >= n3 + 2);
  assert_everywhere(f, v3, "from-v1");
  /* a v3 publish under "public" reaches the "" listener */
  assert_int_equal(req(f, "POST", "/nacos/v3/admin/cs/config?dataId=p.yaml&groupName=G"
                                  "&namespaceId=public&content=from-v3", &b), 200);
  assert_true(nc_tw_wait_change(v2, "p.yaml", n2 + 3, 5000, NULL) >= n2 + 3);
  assert_everywhere(f, v2, "from-v3");
  /* one config, one history: three versions whichever id is asked */
  cJSON *h = json(f, "/nacos/v1/cs/history?search=accurate&dataId=p.yaml&group=G&tenant=public");
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(h, "totalCount")), 3);
  cJSON_Delete(h);
  h = json(f, "/nacos/v3/admin/cs/history/list?dataId=p.yaml&groupName=G");
  assert_int_equal(
      (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(h, "data"), "totalCount")),
      3);
  cJSON_Delete(h);
  /* search and the namespace lists: one default namespace holding it */
  h = json(f, "/nacos/v1/cs/configs?search=blur&pageNo=1&pageSize=9&tenant=public");
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(h, "totalCount")), 1);
  cJSON_Delete(h);
  h = json(f, "/nacos/v3/admin/core/namespace/list");
  cJSON *d = cJSON_GetObjectItem(h, "data");
  assert_int_equal(cJSON_GetArraySize(d), 1);
  assert_int_equal(
      (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(d, 0), "configCount")), 1);
  cJSON_Delete(h);
  h = json(f, "/nacos/v1/console/namespaces");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(h, "data")), 1);
  cJSON_Delete(h);
  /* "public" cannot be created as a namespace of its own */
  assert_int_equal(req(f, "POST", "/nacos/v2/console/namespace?namespaceId=public"
                                  "&namespaceName=again", &b), 500);
  /* removal under "public" removes the one config */
  assert_int_equal(req(f, "DELETE", "/nacos/v2/cs/config?dataId=p.yaml&group=G&namespaceId=public",
                       &b), 200);
  assert_int_equal(req(f, "GET", "/nacos/v1/cs/configs?dataId=p.yaml&group=G", &b), 404);
  nc_tfx_close(f, v3);
  nc_tfx_close(f, v2);
}

/* The v1 long-poll with the key's tenant "public" hears a gRPC write under "". */
static void test_long_poll_public(void **st) {
  nc_tfx *f = *st;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  int fd = hci_poll_send(f->srv->port, "q%02G%02%02public%01");
  /* held (the listener query sees it), then a 2.x gRPC publish under "" */
  int held = 0;
  for (int i = 0; i < 50 && !held; i++) {
    cJSON *j = json(f, "/nacos/v1/cs/configs/listener?dataId=q&group=G&tenant=public");
    held = cJSON_GetArraySize(cJSON_GetObjectItem(j, "lisentersGroupkeyStatus")) == 1;
    cJSON_Delete(j);
    if (!held)
      usleep(100 * 1000);
  }
  assert_true(held);
  nc_tw_expect_ok(nc_tw_config_publish(tw, "q", "G", "", "v", NULL), "ConfigPublishResponse");
  char ans[4096];
  hci_poll_answer(fd, ans, sizeof(ans));
  assert_non_null(strstr(ans, "200"));
  assert_non_null(strstr(ans, "q%02G%02public%01"));
  nc_tfx_close(f, tw);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reads_and_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_poll_public, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
