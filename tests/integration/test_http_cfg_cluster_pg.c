/* HTTP and gRPC config clients on a 3-node cluster over one real
 * PostgreSQL (issue 14): a v1 HTTP publish on node A is heard by a gRPC
 * listener on node C; a held v1 long-poll on node B is answered when a
 * gRPC client publishes on node C; the history written through A and C is
 * listed over HTTP on B (the shared store), and an HTTP rollback on B
 * reaches C's gRPC listener with the old content. Skipped when no
 * PostgreSQL is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "distro_itest.h"
#include "nc_testhttp.h"
#include "nc_testpg.h"
#include "http_cfg_itest.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

static nc_testpg *g_pg;
static nc_tcluster *g_c;
static nc_tw *g_tw[2];

static int teardown(void **st) {
  (void)st;
  for (int i = 0; i < 2; i++) {
    nc_tw_close(g_tw[i]);
    g_tw[i] = NULL;
  }
  int rc = g_c ? nc_tcluster_stop(g_c) : 0;
  g_c = NULL;
  nc_testpg_free(g_pg);
  g_pg = NULL;
  return rc;
}

static int http(int node, const char *method, const char *path, char *out, size_t cap) {
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(nc_tcluster_node(g_c, node)->port, method, path, NULL, NULL,
                                    &status, &b), 0);
  if (out)
    snprintf(out, cap, "%s", b ? b : "");
  free(b);
  return status;
}

/* 1 once node holds a poll (its listener query lists one). */
static int poll_held(int node) {
  char b[2048];
  return http(node, "GET", "/nacos/v1/cs/configs/listener?dataId=x.yaml&group=G", b,
              sizeof(b)) == 200 &&
         strstr(b, "\"127.0.0.1\"") != NULL;
}

/* 1 when tw's node answers x.yaml/G with content. */
static int grpc_has(nc_tw *tw, const char *content) {
  nc_tw_config cf = {0};
  nc_tw_reply r = nc_tw_config_get(tw, "x.yaml", "G", NULL, &cf);
  int ok = nc_tw_ok(&r) && cf.content && !strcmp(cf.content, content);
  nc_tw_config_free(&cf);
  return ok;
}

static void test_http_and_grpc_across_nodes(void **st) {
  (void)st;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  assert_int_equal(nc_testpg_start(&g_pg), 0);
  char url[256];
  snprintf(url, sizeof(url), "--db-url=%s", nc_testpg_url(g_pg));
  const char *extra[] = {url, "--config-poll-ms=1000", "--db-timeout-ms=2000", NULL};
  g_c = cit_start_opts(3, extra, 1);
  NC_TEST_WAIT(cit_all_up(g_c, 3), 10000);
  nc_tw *lis = g_tw[0] = dit_open(g_c, 2, 20000), *pub = g_tw[1] = dit_open(g_c, 2, 20000);
  assert_non_null(lis);
  assert_non_null(pub);
  nc_tw_expect_ok(nc_tw_listen_one(lis, 1, "x.yaml", "G", NULL, ""),
                  "ConfigChangeBatchListenResponse");

  /* HTTP publish on A -> gRPC listener on C */
  char b[8192];
  long long t0 = dit_now_ms();
  assert_int_equal(http(0, "POST", "/nacos/v1/cs/configs?dataId=x.yaml&group=G&content=one", b,
                        sizeof(b)), 200);
  assert_string_equal(b, "true");
  assert_true(nc_tw_wait_change(lis, "x.yaml", 1, 5000, NULL) >= 1);
  fprintf(stderr, "HTTP publish on A heard by gRPC on C after %lld ms\n", dit_now_ms() - t0);
  nc_tw_config cf = {0};
  nc_tw_expect_ok(nc_tw_config_get(pub, "x.yaml", "G", NULL, &cf), "ConfigQueryResponse");
  assert_string_equal(cf.content, "one");
  char md5[40];
  snprintf(md5, sizeof(md5), "%s", cf.md5);
  nc_tw_config_free(&cf);

  /* a long-poll on B with the current md5 is held ... */
  NC_TEST_WAIT((http(1, "GET", "/nacos/v1/cs/configs?dataId=x.yaml&group=G", b, sizeof(b)) == 200 &&
                !strcmp(b, "one")),
               5000);
  char keys[128];
  snprintf(keys, sizeof(keys), "x.yaml%%02G%%02%s%%01", md5);
  int fd = hci_poll_send(nc_tcluster_node(g_c, 1)->port, keys);
  NC_TEST_WAIT(poll_held(1), 5000);
  /* ... until a gRPC publish on C */
  t0 = dit_now_ms();
  nc_tw_expect_ok(nc_tw_config_publish(pub, "x.yaml", "G", NULL, "two", NULL),
                  "ConfigPublishResponse");
  char ans[4096];
  hci_poll_answer(fd, ans, sizeof(ans));
  long long took = dit_now_ms() - t0;
  fprintf(stderr, "gRPC publish on C answered the long-poll on B after %lld ms\n", took);
  assert_non_null(strstr(ans, " 200 "));
  assert_non_null(strstr(ans, "x.yaml%02G%01"));
  assert_true(took < nc_test_timeout_ms(5000));
  assert_true(nc_tw_wait_change(lis, "x.yaml", 2, 5000, NULL) >= 2);

  /* history written through A and C, listed over HTTP on B */
  assert_int_equal(http(1, "GET", "/nacos/v1/cs/history?search=accurate&dataId=x.yaml&group=G", b,
                        sizeof(b)), 200);
  cJSON *p = cJSON_Parse(b);
  assert_non_null(p);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(p, "totalCount")), 2);
  cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItem(p, "pageItems"), 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(top, "opType")), "U         ");
  long long id = atoll(cJSON_GetStringValue(cJSON_GetObjectItem(top, "id")));
  cJSON_Delete(p);
  /* an HTTP rollback on B (to what the update replaced) reaches C */
  char path[256];
  snprintf(path, sizeof(path), "/nacos/v2/cs/history/rollback?dataId=x.yaml&group=G&nid=%lld", id);
  assert_int_equal(http(1, "POST", path, b, sizeof(b)), 200);
  assert_true(nc_tw_wait_change(lis, "x.yaml", 3, 5000, NULL) >= 3);
  NC_TEST_WAIT(grpc_has(pub, "one"), 5000);
  NC_TEST_WAIT((http(0, "GET", "/nacos/v1/cs/configs?dataId=x.yaml&group=G", b, sizeof(b)) == 200 &&
                !strcmp(b, "one")),
               5000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_http_and_grpc_across_nodes, teardown),
  };
  DIT_MAIN(tests);
}
