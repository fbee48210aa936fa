/* HTTP-registered instances in a 3-node cluster (issue 14): Distro
 * replicates the ip:port#true client like any native one, so an instance
 * registered over HTTP on node 0 is listed over HTTP on nodes 1 and 2 and
 * pushed to a gRPC subscriber of node 2; its expiry on node 0 (no beats)
 * removes it everywhere. Nodes share 127.0.0.1 (the test HTTP client's
 * address). Every call here goes to node 0, which forwards the writes of
 * an instance it is not responsible for (test_http_naming_owner covers
 * the forwarding itself). */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cluster_itest.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_testwire.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int req(const nc_tcluster *c, int i, const char *method, const char *path) {
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(nc_tcluster_node(c, i)->port, method, path, NULL, NULL,
                                    &status, &b), 0);
  free(b);
  return status;
}

/* hosts of service svc (healthy only when healthy) in node i's v1 list; -1 on error */
static int hosts_on(const nc_tcluster *c, int i, const char *svc, int healthy) {
  char path[512];
  snprintf(path, sizeof(path), "/nacos/v1/ns/instance/list?serviceName=%s%s", svc,
           healthy ? "&healthyOnly=true" : "");
  int st = 0;
  cJSON *j = cit_get_json(c, i, path, &st);
  int n = st == 200 && j ? cJSON_GetArraySize(cJSON_GetObjectItem(j, "hosts")) : -1;
  cJSON_Delete(j);
  return n;
}

static int wait_hosts(const nc_tcluster *c, int i, const char *svc, int healthy, int want,
                      int timeout_ms) {
  long long t0 = nc_test_now_ms();
  int n;
  while ((n = hosts_on(c, i, svc, healthy)) != want && nc_test_now_ms() - t0 < timeout_ms)
    nc_test_sleep_ms(50);
  return n;
}

static void test_replicated_and_expired_everywhere(void **st) {
  (void)st;
  const char *extra[] = {"--http-beat-timeout-ms", "1000", "--http-ip-delete-timeout-ms", "3000",
                         "--distro-delay-ms", "100", "--push-merge-ms", "50", NULL};
  nc_tcluster *c = cit_start_opts(3, extra, 1);
  nc_gcli_env *env = NULL;
  assert_int_equal(nc_gcli_env_new(1, &env), 0);
  nc_tw *sub = nc_tw_open(env, nc_tcluster_node(c, 2)->target, NULL);
  assert_non_null(sub);
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(sub, "hc", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  int pushes = nc_tw_notify_count(sub, "hc");

  assert_int_equal(req(c, 0, "POST", "/nacos/v1/ns/instance?serviceName=hc&ip=3.3.3.3&port=33"),
                   200);
  assert_int_equal(wait_hosts(c, 1, "hc", 1, 1, 5000), 1);
  assert_int_equal(wait_hosts(c, 2, "hc", 1, 1, 5000), 1);
  nc_tw_service last = {0};
  assert_true(nc_tw_wait_notify(sub, "hc", pushes + 1, 5000, &last) > pushes);
  assert_int_equal(last.nhosts, 1);
  assert_string_equal(last.hosts[0].ip, "3.3.3.3");
  nc_tw_service_free(&last);
  /* beats on node 0 keep it healthy everywhere past both timeouts */
  long long t0 = nc_test_now_ms();
  while (nc_test_now_ms() - t0 < 3500) {
    assert_int_equal(req(c, 0, "PUT", "/nacos/v1/ns/instance/beat?serviceName=hc&ip=3.3.3.3"
                                      "&port=33"), 200);
    nc_test_sleep_ms(300);
  }
  assert_int_equal(hosts_on(c, 1, "hc", 1), 1);
  assert_int_equal(hosts_on(c, 2, "hc", 1), 1);
  /* no more beats: unhealthy on the other nodes too, then gone everywhere */
  assert_int_equal(wait_hosts(c, 1, "hc", 1, 0, 5000), 0);
  assert_int_equal(hosts_on(c, 1, "hc", 0), 1);
  assert_int_equal(wait_hosts(c, 0, "hc", 0, 0, 6000), 0);
  assert_int_equal(wait_hosts(c, 1, "hc", 0, 0, 5000), 0);
  assert_int_equal(wait_hosts(c, 2, "hc", 0, 0, 5000), 0);
  t0 = nc_test_now_ms();
  int empty = 0;
  while (!empty && nc_test_now_ms() - t0 < 5000) {
    nc_tw_service cur = {0};
    nc_tw_wait_notify(sub, "hc", 1, 500, &cur); /* the newest push */
    empty = cur.info && cur.nhosts == 0;
    nc_tw_service_free(&cur);
    if (!empty)
      nc_test_sleep_ms(100);
  }
  assert_true(empty);
  nc_tw_close(sub);
  nc_gcli_env_free(env);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_replicated_and_expired_everywhere),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
