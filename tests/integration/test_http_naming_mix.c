/* HTTP and gRPC naming are one registry on every node of a 3-node cluster
 * (issue 14): a gRPC subscriber on each node is pushed an instance
 * registered over HTTP on another node, and a weight change made over
 * HTTP on node 0 for an instance registered over gRPC on node 2 (an
 * override, naming_meta); service metadata created on one node is served
 * by the others, stored once in the shared PostgreSQL and loaded by a
 * restarted node; overrides written on a node that is not responsible for
 * the instances are forwarded and answered once stored there. Without PostgreSQL (nc_testpg unavailable) the nodes
 * keep SQLite each and the restart part is skipped. */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cluster_itest.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_testpg.h"
#include "nc_testwire.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
  nc_tcluster *c;
  nc_testpg *pg;
  nc_gcli_env *env;
  nc_tw *tw[4];
  char url_arg[512];
} g;

static int teardown(void **st) {
  (void)st;
  for (int i = 0; i < 4; i++)
    nc_tw_close(g.tw[i]);
  int rc = g.c ? nc_tcluster_stop(g.c) : 0;
  nc_gcli_env_free(g.env);
  nc_testpg_free(g.pg);
  return rc == 0 ? 0 : -1;
}

static int call(int i, const char *method, const char *path, char **body) {
  int status = 0;
  if (nc_test_http_req(nc_tcluster_node(g.c, i)->port, method, path, NULL, NULL, &status, body))
    status = -1;
  return status;
}

/* The newest push of svc to tw shows ip with weight w; waits up to timeout. */
static int pushed(nc_tw *tw, const char *svc, const char *ip, double w, int timeout_ms) {
  long long t0 = nc_test_now_ms();
  while (nc_test_now_ms() - t0 < timeout_ms) {
    nc_tw_service cur = {0};
    nc_tw_wait_notify(tw, svc, 1, 200, &cur);
    int ok = 0;
    for (int i = 0; cur.info && i < cur.nhosts; i++)
      ok |= !strcmp(cur.hosts[i].ip, ip) && cur.hosts[i].weight == w;
    nc_tw_service_free(&cur);
    if (ok)
      return 1;
    nc_test_sleep_ms(50);
  }
  return 0;
}

/* protectThreshold of service svc as node i serves it; -1 when absent. */
static double threshold_on(int i, const char *svc) {
  char path[256];
  snprintf(path, sizeof(path), "/nacos/v1/ns/service?serviceName=%s", svc);
  int st = 0;
  cJSON *j = cit_get_json(g.c, i, path, &st);
  double v = st == 200 ? cJSON_GetNumberValue(cJSON_GetObjectItem(j, "protectThreshold")) : -1;
  cJSON_Delete(j);
  return v;
}

static int wait_threshold(int i, const char *svc, double want, int timeout_ms) {
  long long t0 = nc_test_now_ms();
  while (threshold_on(i, svc) != want) {
    if (nc_test_now_ms() - t0 > timeout_ms)
      return 0;
    nc_test_sleep_ms(50);
  }
  return 1;
}

static void test_http_and_grpc_mixed_on_every_node(void **st) {
  (void)st;
  int have_pg = nc_testpg_available(NULL, 0);
  const char *extra[8] = {"--push-merge-ms", "50", "--distro-delay-ms", "100", NULL};
  if (have_pg) {
    assert_int_equal(nc_testpg_start(&g.pg), 0);
    snprintf(g.url_arg, sizeof(g.url_arg), "--db-url=%s", nc_testpg_url(g.pg));
    extra[4] = g.url_arg;
  }
  g.c = cit_start_opts(3, extra, 1);
  assert_int_equal(nc_gcli_env_new(1, &g.env), 0);
  for (int i = 0; i < 3; i++) {
    assert_non_null(g.tw[i] = nc_tw_open(g.env, nc_tcluster_node(g.c, i)->target, NULL));
    nc_tw_service s = {0};
    nc_tw_expect_ok(nc_tw_subscribe(g.tw[i], "mx", 1, &s), "SubscribeServiceResponse");
    nc_tw_service_free(&s);
  }
  /* registered over HTTP on node 1: every node's subscriber is pushed it */
  char *b = NULL;
  assert_int_equal(call(1, "POST", "/nacos/v1/ns/instance?serviceName=mx&ip=9.9.9.9&port=99"
                                   "&weight=2", &b), 200);
  assert_string_equal(b, "ok");
  free(b);
  for (int i = 0; i < 3; i++)
    assert_true(pushed(g.tw[i], "mx", "9.9.9.9", 2.0, 5000));

  /* registered over gRPC on node 2, its weight changed over HTTP on node 0 */
  assert_non_null(g.tw[3] = nc_tw_open(g.env, nc_tcluster_node(g.c, 2)->target, NULL));
  nc_tw_instance in = {.ip = "4.4.4.4", .port = 44};
  nc_tw_expect_ok(nc_tw_register(g.tw[3], "mx", &in), "InstanceResponse");
  for (int i = 0; i < 3; i++)
    assert_true(pushed(g.tw[i], "mx", "4.4.4.4", 1.0, 5000));
  b = NULL;
  assert_int_equal(call(0, "PUT", "/nacos/v1/ns/instance?serviceName=mx&ip=4.4.4.4&port=44"
                                  "&weight=5", &b), 200);
  assert_string_equal(b, "ok");
  free(b);
  for (int i = 0; i < 3; i++)
    assert_true(pushed(g.tw[i], "mx", "4.4.4.4", 5.0, 5000));

  /* service metadata created on node 2 is served by nodes 0 and 1 */
  b = NULL;
  assert_int_equal(call(2, "POST", "/nacos/v1/ns/service?serviceName=mxs&protectThreshold=0.25",
                        &b), 200);
  free(b);
  assert_true(wait_threshold(0, "mxs", 0.25, 5000));
  assert_true(wait_threshold(1, "mxs", 0.25, 5000));
  b = NULL;
  assert_int_equal(call(1, "POST", "/nacos/v1/ns/service?serviceName=mxs", &b), 400);
  free(b);
  /* overrides written on node 0 for gRPC instances another node is
   * responsible for are forwarded there and answered once stored */
  nc_tw_instance many[6];
  for (int i = 0; i < 6; i++)
    many[i] = (nc_tw_instance){.ip = "5.5.5.5", .port = 5501 + i};
  nc_tw_reply r = nc_tw_batch_register(g.tw[3], "mxf", many, 6);
  assert_true(nc_tw_ok(&r));
  for (int i = 0; i < 3; i++) {
    long long t0 = nc_test_now_ms();
    while (nc_tw_query_hosts(g.tw[i], "mxf") != 6 && nc_test_now_ms() - t0 < 5000)
      nc_test_sleep_ms(50);
    assert_int_equal(nc_tw_query_hosts(g.tw[i], "mxf"), 6);
  }
  long long fwd0 = nc_tcluster_metric(g.c, 0, "nacosd_naming_http_forwarded_total");
  for (int i = 0; i < 6; i++) {
    char path[160];
    snprintf(path, sizeof(path), "/nacos/v1/ns/instance?serviceName=mxf&ip=5.5.5.5&port=%d"
                                 "&weight=3", 5501 + i);
    b = NULL;
    assert_int_equal(call(0, "PUT", path, &b), 200);
    assert_string_equal(b, "ok");
    free(b);
  }
  assert_true(nc_tcluster_metric(g.c, 0, "nacosd_naming_http_forwarded_total") > fwd0);
  nc_tw_service fs = {0};
  nc_tw_expect_ok(nc_tw_query(g.tw[1], "mxf", &fs), "QueryServiceResponse");
  int w3 = 0;
  for (int i = 0; fs.info && i < fs.nhosts; i++)
    w3 += fs.hosts[i].weight == 3.0;
  nc_tw_service_free(&fs);
  assert_int_equal(w3, 6);
  if (!have_pg)
    return;
  /* stored once, shared: a restarted node loads both */
  char n[16] = "";
  assert_int_equal(nc_testpg_sql(g.pg, "SELECT count(*) FROM nc_naming_meta WHERE service_name "
                                       "<> 'mxf'", n, sizeof(n)), 0);
  assert_string_equal(n, "2");
  nc_tw_close(g.tw[1]);
  g.tw[1] = NULL;
  assert_int_equal(nc_tcluster_stop_node(g.c, 1), 0);
  assert_int_equal(nc_tcluster_restart_node(g.c, 1), 0);
  assert_true(threshold_on(1, "mxs") == 0.25);
  assert_non_null(g.tw[1] = nc_tw_open(g.env, nc_tcluster_node(g.c, 1)->target, NULL));
  long long t0 = nc_test_now_ms();
  int w5 = 0;
  while (!w5 && nc_test_now_ms() - t0 < 8000) { /* Distro brings node 2's client back */
    nc_tw_service s = {0};
    nc_tw_query(g.tw[1], "mx", &s);
    for (int i = 0; s.info && i < s.nhosts; i++)
      w5 |= !strcmp(s.hosts[i].ip, "4.4.4.4") && s.hosts[i].weight == 5.0;
    nc_tw_service_free(&s);
    if (!w5)
      nc_test_sleep_ms(100);
  }
  assert_true(w5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_http_and_grpc_mixed_on_every_node, teardown),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
