/* Persistent instances on one nacosd (issue 15, docs/persistent.md):
 * registered over gRPC (PersistentInstanceRequest) and HTTP v1/v2/v3 admin
 * (ephemeral=false), pushed to a subscriber, health-checked by TCP connect
 * (the listener closed: pushed healthy:false; back: healthy:true), kept
 * when the registering connection closes and across a restart, removed
 * only by a deregister, and a service keeps its kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "persistent_itest.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **st) {
  static const char *const args[] = {"--push-merge-ms", "50", NULL};
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(args, &f);
  *st = f;
  return rc;
}
static int teardown(void **st) { return nc_tfx_stop(*st) == 0 ? 0 : -1; }

/* An HTTP call on the node: status, and the body into out (may be NULL). */
static int http(nc_tfx *f, const char *method, const char *path, char *out, size_t cap) {
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(f->srv->port, method, path, NULL, NULL, &status, &b), 0);
  if (out)
    snprintf(out, cap, "%s", b ? b : "");
  free(b);
  return status;
}

static void test_grpc_register_pushed_and_health_checked(void **st) {
  nc_tfx *f = *st;
  pit_listener l = {0};
  assert_int_equal(pit_listen(&l, 0), 0);
  nc_tw *sub = nc_tfx_connect(f, NULL);
  nc_tw *reg = nc_tfx_connect(f, NULL);
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(sub, "p.grpc", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  nc_tw_expect_ok(pit_persistent(reg, "p.grpc", "registerInstance", "127.0.0.1", l.port),
                  "InstanceResponse");
  assert_true(pit_wait_health(sub, "p.grpc", l.port, 1, 5000));
  char body[4096];
  assert_int_equal(http(f, "GET", "/nacos/v1/ns/instance/list?serviceName=p.grpc", body,
                        sizeof(body)), 200);
  assert_non_null(strstr(body, "\"ephemeral\":false"));
  /* the registering connection goes: the instance stays */
  nc_tfx_close(f, reg);
  nc_test_sleep_ms(300);
  assert_int_equal(nc_tw_query_hosts(sub, "p.grpc"), 1);
  /* checks reach the listener; closed, the next check is refused */
  long long t0 = nc_test_now_ms();
  while (atomic_load(&l.accepts) == 0 && nc_test_now_ms() - t0 < 9000)
    nc_test_sleep_ms(100);
  assert_true(atomic_load(&l.accepts) > 0);
  pit_close(&l);
  t0 = nc_test_now_ms();
  assert_true(pit_wait_health(sub, "p.grpc", l.port, 0, PIT_UNHEALTHY_MS));
  fprintf(stderr, "healthy:false pushed %lld ms after the listener closed\n",
          nc_test_now_ms() - t0);
  /* back: checkTimes (3) passing checks make it healthy again */
  assert_int_equal(pit_listen(&l, l.port), 0);
  t0 = nc_test_now_ms();
  assert_true(pit_wait_health(sub, "p.grpc", l.port, 1, 15000));
  fprintf(stderr, "healthy:true pushed %lld ms after the listener came back\n",
          nc_test_now_ms() - t0);
  pit_close(&l);
  assert_true(nc_tfx_metric(f, "nacosd_naming_health_marked_unhealthy_total") >= 1);
  assert_true(nc_tfx_metric(f, "nacosd_naming_health_marked_healthy_total") >= 1);
}

static void test_http_register_list_deregister(void **st) {
  nc_tfx *f = *st;
  char body[4096];
  assert_int_equal(http(f, "POST", "/nacos/v1/ns/instance?serviceName=p.http&ip=10.9.0.1"
                                   "&port=81&ephemeral=false&weight=2", body, sizeof(body)), 200);
  assert_string_equal(body, "ok");
  assert_int_equal(http(f, "POST", "/nacos/v2/ns/instance?serviceName=p.http&ip=10.9.0.2"
                                   "&port=81&ephemeral=false", body, sizeof(body)), 200);
  assert_non_null(strstr(body, "\"code\":0"));
  nc_tw *q = nc_tfx_connect(f, NULL);
  assert_int_equal(nc_tw_query_hosts(q, "p.http"), 2);
  assert_int_equal(http(f, "GET", "/nacos/v2/ns/instance/list?serviceName=p.http", body,
                        sizeof(body)), 200);
  assert_non_null(strstr(body, "\"ephemeral\":false"));
  assert_null(strstr(body, "\"ephemeral\":true"));
  /* a deregister without ephemeral=false is for an ephemeral one: a no-op (Nacos) */
  assert_int_equal(http(f, "DELETE", "/nacos/v1/ns/instance?serviceName=p.http&ip=10.9.0.1"
                                     "&port=81", NULL, 0), 200);
  assert_int_equal(nc_tw_query_hosts(q, "p.http"), 2);
  assert_int_equal(http(f, "DELETE", "/nacos/v1/ns/instance?serviceName=p.http&ip=10.9.0.1"
                                     "&port=81&ephemeral=false", body, sizeof(body)), 200);
  assert_int_equal(nc_tw_query_hosts(q, "p.http"), 1);
  /* a bad instance is refused and nothing changes */
  assert_int_equal(http(f, "POST", "/nacos/v1/ns/instance?serviceName=p.http&ip=10.9.0.3"
                                   "&port=81&ephemeral=false&clusterName=bad_name!", NULL, 0),
                   400);
  assert_int_equal(nc_tw_query_hosts(q, "p.http"), 1);
}

static void test_kind_mixing_refused(void **st) {
  nc_tfx *f = *st;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  nc_tw_instance eph = {.ip = "10.8.0.1", .port = 80};
  nc_tw_expect_ok(nc_tw_register(tw, "k.eph", &eph), "InstanceResponse");
  nc_tw_reply r = pit_persistent(tw, "k.eph", "registerInstance", "10.8.0.2", 80);
  assert_string_equal(r.type, "ErrorResponse");
  assert_int_equal(r.error_code, 400);
  assert_non_null(strstr(r.message, "Current service DEFAULT_GROUP@@k.eph is ephemeral service, "
                                    "can't register persistent instance."));
  nc_tw_expect_ok(pit_persistent(tw, "k.per", "registerInstance", "10.8.0.3", 80),
                  "InstanceResponse");
  r = nc_tw_register(tw, "k.per", &eph);
  assert_string_equal(r.type, "ErrorResponse");
  assert_int_equal(r.error_code, 400);
  assert_non_null(strstr(r.message, "is persistent service, can't register ephemeral instance."));
  r = nc_tw_batch_register(tw, "k.per", &eph, 1);
  assert_non_null(strstr(r.message, "can't batch register ephemeral instance."));
  char body[1024];
  assert_int_equal(http(f, "POST", "/nacos/v1/ns/instance?serviceName=k.per&ip=10.8.0.4&port=80",
                        body, sizeof(body)), 400);
  assert_non_null(strstr(body, "is persistent service, can't register ephemeral instance."));
  assert_int_equal(http(f, "POST", "/nacos/v1/ns/instance?serviceName=k.eph&ip=10.8.0.5&port=80"
                                   "&ephemeral=false", body, sizeof(body)), 400);
  assert_non_null(strstr(body, "is ephemeral service, can't register persistent instance."));
  /* nothing of the refused kind got in */
  assert_int_equal(nc_tw_query_hosts(tw, "k.eph"), 1);
  assert_int_equal(nc_tw_query_hosts(tw, "k.per"), 1);
}

static void test_restart_keeps_instances(void **st) {
  nc_tfx *f = *st;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  nc_tw_expect_ok(pit_persistent(tw, "r.keep", "registerInstance", "10.7.0.1", 80),
                  "InstanceResponse");
  nc_tw_expect_ok(pit_persistent(tw, "r.keep", "registerInstance", "10.7.0.2", 80),
                  "InstanceResponse");
  nc_tw_expect_ok(pit_persistent(tw, "r.keep", "deregisterInstance", "10.7.0.2", 80),
                  "InstanceResponse");
  nc_tfx_close(f, tw);
  assert_int_equal(nc_tcluster_stop_node(f->cl, 0), 0);
  assert_int_equal(nc_tcluster_restart_node(f->cl, 0), 0);
  tw = nc_tfx_connect(f, NULL);
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_query(tw, "r.keep", &s), "QueryServiceResponse");
  assert_int_equal(s.nhosts, 1);
  assert_string_equal(s.hosts[0].ip, "10.7.0.1");
  nc_tw_service_free(&s);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_persistent_instances"), 1);
}

static void test_http_checker_of_a_cluster(void **st) {
  nc_tfx *f = *st;
  pit_listener l = {.path = "/health"};
  atomic_store(&l.http_code, 200);
  assert_int_equal(pit_listen(&l, 0), 0);
  nc_tw *sub = nc_tfx_connect(f, NULL);
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(sub, "h.web", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  /* bad settings are refused */
  assert_int_equal(http(f, "PUT", "/nacos/v1/ns/cluster?serviceName=h.web&clusterName=DEFAULT"
                                  "&checkPort=0&useInstancePort4Check=true"
                                  "&healthChecker=%7B%22type%22%3A%22MYSQL%22%7D", NULL, 0), 400);
  assert_int_equal(http(f, "PUT", "/nacos/v1/ns/cluster?serviceName=h.web&clusterName=DEFAULT"
                                  "&useInstancePort4Check=true"
                                  "&healthChecker=%7B%22type%22%3A%22TCP%22%7D", NULL, 0), 400);
  /* {"type":"HTTP","path":"/health"} */
  char body[256];
  assert_int_equal(http(f, "PUT", "/nacos/v1/ns/cluster?serviceName=h.web&clusterName=DEFAULT"
                                  "&checkPort=0&useInstancePort4Check=true&healthChecker="
                                  "%7B%22type%22%3A%22HTTP%22%2C%22path%22%3A%22%2Fhealth%22%7D",
                        body, sizeof(body)), 200);
  assert_string_equal(body, "ok");
  char path[256];
  snprintf(path, sizeof(path), "/nacos/v1/ns/instance?serviceName=h.web&ip=127.0.0.1&port=%d"
                               "&ephemeral=false", l.port);
  assert_int_equal(http(f, "POST", path, NULL, 0), 200);
  assert_true(pit_wait_health(sub, "h.web", l.port, 1, 5000));
  long long t0 = nc_test_now_ms();
  while (atomic_load(&l.gets) == 0 && nc_test_now_ms() - t0 < 9000)
    nc_test_sleep_ms(100);
  assert_true(atomic_load(&l.gets) > 0); /* GET /health, not a bare connect */
  /* 500: unhealthy at once (Nacos's checkFailNow) */
  atomic_store(&l.http_code, 500);
  assert_true(pit_wait_health(sub, "h.web", l.port, 0, PIT_UNHEALTHY_MS));
  pit_close(&l);
}

/* The data of a v3 answer (code 0 checked); caller frees the whole. */
static cJSON *v3_data(const char *body, cJSON **whole) {
  *whole = cJSON_Parse(body);
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(*whole, "code");
  assert_true(cJSON_IsNumber(code));
  assert_int_equal((int)code->valuedouble, 0);
  return cJSON_GetObjectItemCaseSensitive(*whole, "data");
}

/* useInstancePort4Check=false: checkPort is checked, not the instance's
 * port; the HTTP checker's headers are sent and its expectedResponseCode
 * is the only pass (settings stored, read back by the checker). */
static void test_cluster_check_port_headers_expected_code(void **st) {
  nc_tfx *f = *st;
  pit_listener l = {.path = "/hc", .want = "\r\nX-Probe: p1\r\n"};
  atomic_store(&l.http_code, 204);
  assert_int_equal(pit_listen(&l, 0), 0);
  pit_listener gone = {0}; /* the instance's own port: closed */
  assert_int_equal(pit_listen(&gone, 0), 0);
  pit_close(&gone);
  nc_tw *sub = nc_tfx_connect(f, NULL);
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(sub, "h.port", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  /* {"type":"HTTP","path":"/hc","headers":"X-Probe:p1","expectedResponseCode":204} */
  char path[512];
  snprintf(path, sizeof(path), "/nacos/v1/ns/cluster?serviceName=h.port&clusterName=DEFAULT"
                               "&checkPort=%d&useInstancePort4Check=false&healthChecker="
                               "%%7B%%22type%%22%%3A%%22HTTP%%22%%2C%%22path%%22%%3A%%22%%2Fhc"
                               "%%22%%2C%%22headers%%22%%3A%%22X-Probe%%3Ap1%%22%%2C"
                               "%%22expectedResponseCode%%22%%3A204%%7D", l.port);
  assert_int_equal(http(f, "PUT", path, NULL, 0), 200);
  snprintf(path, sizeof(path), "/nacos/v1/ns/instance?serviceName=h.port&ip=127.0.0.1&port=%d"
                               "&ephemeral=false", gone.port);
  assert_int_equal(http(f, "POST", path, NULL, 0), 200);
  assert_true(pit_wait_health(sub, "h.port", gone.port, 1, 5000));
  long long t0 = nc_test_now_ms();
  while (atomic_load(&l.wanted) < 2 && nc_test_now_ms() - t0 < 12000)
    nc_test_sleep_ms(100);
  assert_true(atomic_load(&l.wanted) >= 2); /* GET /hc with the header, at checkPort */
  assert_int_equal(atomic_load(&l.gets), atomic_load(&l.wanted));
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_health_marked_unhealthy_total"), 0);
  /* 200 is not the expected 204: unhealthy at once */
  atomic_store(&l.http_code, 200);
  t0 = nc_test_now_ms();
  assert_true(pit_wait_health(sub, "h.port", gone.port, 0, PIT_UNHEALTHY_MS));
  fprintf(stderr, "healthy:false pushed %lld ms after the code changed\n", nc_test_now_ms() - t0);
  pit_close(&l);
}

static void test_v3_admin_register_list_deregister(void **st) {
  nc_tfx *f = *st;
  char body[4096];
  const char *q = "serviceName=p.v3&groupName=G3&ip=10.6.0.1&port=8080&ephemeral=false";
  char path[256];
  snprintf(path, sizeof(path), "/nacos/v3/admin/ns/instance?%s&weight=3", q);
  assert_int_equal(http(f, "POST", path, body, sizeof(body)), 200);
  cJSON *j = NULL;
  assert_string_equal(cJSON_GetStringValue(v3_data(body, &j)), "ok");
  cJSON_Delete(j);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_persistent_instances"), 1);
  /* listed as a persistent instance, with what was registered */
  assert_int_equal(http(f, "GET", "/nacos/v3/admin/ns/instance/list?serviceName=p.v3"
                                  "&groupName=G3", body, sizeof(body)), 200);
  const cJSON *list = v3_data(body, &j);
  assert_int_equal(cJSON_GetArraySize(list), 1);
  const cJSON *in = cJSON_GetArrayItem(list, 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(in, "ip")), "10.6.0.1");
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(in, "port")), 8080);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(in, "ephemeral")));
  assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(in, "weight")) == 3.0);
  cJSON_Delete(j);
  snprintf(path, sizeof(path), "/nacos/v3/admin/ns/instance?%s", q);
  assert_int_equal(http(f, "GET", path, body, sizeof(body)), 200);
  in = v3_data(body, &j);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(in, "ephemeral")));
  cJSON_Delete(j);
  /* a DELETE without ephemeral=false means an ephemeral one: it stays */
  assert_int_equal(http(f, "DELETE", "/nacos/v3/admin/ns/instance?serviceName=p.v3"
                                     "&groupName=G3&ip=10.6.0.1&port=8080", NULL, 0), 200);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_persistent_instances"), 1);
  assert_int_equal(http(f, "DELETE", path, body, sizeof(body)), 200);
  assert_string_equal(cJSON_GetStringValue(v3_data(body, &j)), "ok");
  cJSON_Delete(j);
  assert_int_equal(nc_tfx_metric(f, "nacosd_naming_persistent_instances"), 0);
  assert_int_equal(http(f, "GET", "/nacos/v3/admin/ns/instance/list?serviceName=p.v3"
                                  "&groupName=G3", NULL, 0), 404);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_grpc_register_pushed_and_health_checked, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_http_register_list_deregister, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kind_mixing_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_restart_keeps_instances, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_checker_of_a_cluster, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cluster_check_port_headers_expected_code, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_v3_admin_register_list_deregister, setup, teardown),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
