/* Who listens to a config, over HTTP (issue 14), on the real nacosd: the
 * v1 GET /nacos/v1/cs/configs/listener (by key) and /nacos/v1/cs/listener
 * (by ip) and the v3 admin /cs/config/listener and /cs/listener list both
 * a gRPC listener and a held v1 long-poll with the md5 each reported,
 * field by field; by ip, another namespace's keys only with all=true or
 * that namespace; a closed connection is no longer listed; errors for
 * missing parameters. */
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

#define setup hci_setup
#define teardown hci_teardown

#define get(f, path, status) hci_json((f)->srv->port, "GET", path, status)

/* v1's map, collectStatus checked. */
static cJSON *v1_map(cJSON *j) {
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "collectStatus")), 200);
  cJSON *m = cJSON_GetObjectItem(j, "lisentersGroupkeyStatus");
  assert_true(cJSON_IsObject(m));
  return m;
}
/* v3's map, the envelope and queryType checked. */
static cJSON *v3_map(cJSON *j, const char *type) {
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "code")), 0);
  cJSON *d = cJSON_GetObjectItem(j, "data");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "queryType")), type);
  cJSON *m = cJSON_GetObjectItem(d, "listenersStatus");
  assert_true(cJSON_IsObject(m));
  return m;
}
static const char *val(const cJSON *m, const char *k) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, k));
  if (!s)
    fprintf(stderr, "no %s in %s\n", k, cJSON_PrintUnformatted(m));
  assert_non_null(s);
  return s;
}

static void test_grpc_and_long_poll_listeners(void **st) {
  nc_tfx *f = *st;
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(f->srv->port, "POST", "/nacos/v1/cs/configs",
                                    "dataId=a&group=G&tenant=dev&content=x", NULL, &status, &b),
                   0);
  assert_int_equal(status, 200);
  free(b);
  nc_tw *lis = nc_tfx_connect(f, NULL);
  assert_non_null(lis);
  nc_tw_expect_ok(nc_tw_listen_one(lis, 1, "a", "G", "dev", "0123456789abcdef0123456789abcdef"),
                  "ConfigChangeBatchListenResponse");
  /* by key: the gRPC listener's ip and the md5 it reported */
  cJSON *j = get(f, "/nacos/v1/cs/configs/listener?dataId=a&group=G&tenant=dev", 200);
  cJSON *m = v1_map(j);
  assert_int_equal(cJSON_GetArraySize(m), 1);
  assert_string_equal(val(m, "127.0.0.1"), "0123456789abcdef0123456789abcdef");
  cJSON_Delete(j);
  j = get(f, "/nacos/v3/admin/cs/config/listener?dataId=a&groupName=G&namespaceId=dev", 200);
  assert_string_equal(val(v3_map(j, "config"), "127.0.0.1"), "0123456789abcdef0123456789abcdef");
  cJSON_Delete(j);
  /* a key nobody listens to */
  j = get(f, "/nacos/v1/cs/configs/listener?dataId=a&group=G", 200);
  assert_int_equal(cJSON_GetArraySize(v1_map(j)), 0);
  cJSON_Delete(j);
  /* a held long-poll on b/G (public) */
  int fd = hci_poll_send(f->srv->port, "b%02G%02%01"); /* b/G, md5 "" */
  int seen = 0;
  for (int i = 0; i < 50 && !seen; i++) {
    j = get(f, "/nacos/v1/cs/configs/listener?dataId=b&group=G", 200);
    seen = cJSON_GetArraySize(v1_map(j)) == 1;
    if (seen)
      assert_string_equal(val(v1_map(j), "127.0.0.1"), "");
    cJSON_Delete(j);
    if (!seen)
      usleep(100 * 1000);
  }
  assert_true(seen);
  /* by ip: the default namespace's keys; dev's only with all or tenant=dev */
  j = get(f, "/nacos/v1/cs/listener?ip=127.0.0.1", 200);
  m = v1_map(j);
  assert_int_equal(cJSON_GetArraySize(m), 1);
  assert_string_equal(val(m, "b+G"), "");
  cJSON_Delete(j);
  j = get(f, "/nacos/v1/cs/listener?ip=127.0.0.1&all=true", 200);
  m = v1_map(j);
  assert_int_equal(cJSON_GetArraySize(m), 2);
  assert_string_equal(val(m, "a+G+dev"), "0123456789abcdef0123456789abcdef");
  cJSON_Delete(j);
  j = get(f, "/nacos/v1/cs/listener?ip=127.0.0.1&tenant=dev", 200);
  assert_int_equal(cJSON_GetArraySize(v1_map(j)), 2);
  cJSON_Delete(j);
  j = get(f, "/nacos/v3/admin/cs/listener?ip=127.0.0.1&all=true", 200);
  assert_int_equal(cJSON_GetArraySize(v3_map(j, "ip")), 2);
  cJSON_Delete(j);
  j = get(f, "/nacos/v1/cs/listener?ip=10.9.9.9&all=true", 200);
  assert_int_equal(cJSON_GetArraySize(v1_map(j)), 0);
  cJSON_Delete(j);
  /* errors */
  j = get(f, "/nacos/v3/admin/cs/listener", 400);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "code")), 10000);
  cJSON_Delete(j);
  j = get(f, "/nacos/v3/admin/cs/config/listener?dataId=a", 400);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "code")), 10000);
  cJSON_Delete(j);
  assert_int_equal(nc_test_http_req(f->srv->port, "GET", "/nacos/v1/cs/listener", NULL, NULL,
                                    &status, &b), 0);
  assert_int_equal(status, 400);
  assert_string_equal(b, "caused: Required parameter 'ip' type String is not present;");
  free(b);
  assert_int_equal(nc_test_http_req(f->srv->port, "GET", "/nacos/v1/cs/configs/listener?group=G",
                                    NULL, NULL, &status, &b), 0);
  assert_int_equal(status, 400);
  free(b);
  /* the poll is answered by a publish of b; the closed gRPC connection goes */
  assert_int_equal(nc_test_http_req(f->srv->port, "POST", "/nacos/v1/cs/configs",
                                    "dataId=b&group=G&content=y", NULL, &status, &b), 0);
  free(b);
  char ans[4096];
  hci_poll_answer(fd, ans, sizeof(ans));
  assert_non_null(strstr(ans, "b%02G%01"));
  nc_tfx_close(f, lis);
  int gone = 0;
  for (int i = 0; i < 50 && !gone; i++) {
    j = get(f, "/nacos/v1/cs/listener?ip=127.0.0.1&all=true", 200);
    gone = cJSON_GetArraySize(v1_map(j)) == 0;
    cJSON_Delete(j);
    if (!gone)
      usleep(100 * 1000);
  }
  assert_true(gone);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_grpc_and_long_poll_listeners, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
