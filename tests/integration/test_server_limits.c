/* Integration (issue 12, limits): a real nacosd refuses what one anonymous
 * client could use to break it or fill it, with a clear error and a
 * counter: an instance weight that is not a number 0..10000 (1e999 parses
 * as inf and used to be pushed as null), a port that is not an integer,
 * instance metadata over its bounds, and more services, instances or
 * subscriptions on one connection than the --max-*-per-conn options allow,
 * more keys in one ConfigBatchListenRequest than --config-max-listen-keys
 * and more listened keys per connection than --config-max-listeners-per-conn,
 * and a new config in a namespace holding --config-max-per-namespace. */
#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testwire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int start_fx(void **state, const char *const *args) {
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(args, &f);
  *state = f;
  return rc == 0 ? 0 : -1;
}

static int teardown(void **state) { return nc_tfx_stop(*state) == 0 ? 0 : -1; }

static int setup_default(void **state) { return start_fx(state, NULL); }

static int setup_small(void **state) {
  const char *args[] = {"--instance-metadata-max-keys",
                        "4",
                        "--instance-metadata-max-bytes",
                        "64",
                        "--max-services-per-conn",
                        "3",
                        "--max-instances-per-conn",
                        "5",
                        "--max-subscriptions-per-conn",
                        "2",
                        NULL};
  return start_fx(state, args);
}

static int setup_listen(void **state) {
  const char *args[] = {"--config-max-listen-keys", "10", "--config-max-listeners-per-conn", "15",
                        NULL};
  return start_fx(state, args);
}

static int setup_ns(void **state) {
  const char *args[] = {"--config-max-per-namespace", "3", NULL};
  return start_fx(state, args);
}

static long long metric(nc_tfx *f, const char *name) {
  long long v = nc_tfx_metric(f, name);
  assert_true(v >= 0);
  return v;
}

/* An InstanceRequest for 10.0.0.1:8080 whose field (weight or port) is the
 * raw JSON text val (cJSON cannot print inf, so the text goes as is). */
static nc_tw_reply reg_raw(nc_tw *tw, const char *svc, const char *field, const char *val) {
  nc_tw_instance in = {.ip = "10.0.0.1", .port = 8080};
  cJSON *b = nc_tw_instance_body(tw, svc, "registerInstance", &in);
  cJSON *inst = cJSON_GetObjectItemCaseSensitive(b, "instance");
  assert_non_null(inst);
  cJSON_DeleteItemFromObjectCaseSensitive(inst, field);
  cJSON_AddItemToObject(inst, field, cJSON_CreateRaw(val));
  return nc_tw_call_reply(tw, "InstanceRequest", b);
}

static void test_bad_weight_and_port_refused(void **state) {
  nc_tfx *f = *state;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  static const char *const bad_weights[] = {"1e999", "-1e999", "-0.5", "10000.5", "\"5\"", "[]"};
  for (size_t i = 0; i < sizeof(bad_weights) / sizeof(*bad_weights); i++) {
    nc_tw_reply r = reg_raw(tw, "svc-w", "weight", bad_weights[i]);
    assert_int_not_equal(r.result_code, 200);
    assert_int_equal(r.error_code, 400);
    assert_non_null(strstr(r.message, "weights range from 0.0 to 10000.0"));
  }
  static const char *const bad_ports[] = {"80.5", "1e20", "-1", "65536", "1e999", "\"80\""};
  for (size_t i = 0; i < sizeof(bad_ports) / sizeof(*bad_ports); i++) {
    nc_tw_reply r = reg_raw(tw, "svc-w", "port", bad_ports[i]);
    assert_int_equal(r.error_code, 400);
    assert_non_null(strstr(r.message, "port"));
  }
  /* nothing of that reached the registry */
  assert_int_equal(nc_tw_query_hosts(tw, "svc-w"), 0);
  /* the bounds themselves are allowed */
  nc_tw_expect_ok(reg_raw(tw, "svc-w", "weight", "10000"), "InstanceResponse");
  nc_tw_expect_ok(reg_raw(tw, "svc-w0", "weight", "0"), "InstanceResponse");
  nc_tw_service s;
  nc_tw_expect_ok(nc_tw_query(tw, "svc-w", &s), "QueryServiceResponse");
  assert_int_equal(s.nhosts, 1);
  assert_true(s.hosts[0].weight == 10000.0);
  nc_tw_service_free(&s);

  /* a batch with one bad weight is refused as a whole */
  nc_tw_instance in = {.ip = "10.0.0.9", .port = 1};
  cJSON *b = nc_tw_naming_body(tw, "svc-batch");
  cJSON_AddStringToObject(b, "type", "batchRegisterInstance");
  cJSON *arr = cJSON_AddArrayToObject(b, "instances");
  for (int i = 0; i < 3; i++) {
    in.port = 100 + i;
    cJSON *one = nc_tw_instance_body(tw, "svc-batch", "registerInstance", &in);
    cJSON *inst = cJSON_DetachItemFromObjectCaseSensitive(one, "instance");
    cJSON_Delete(one);
    if (i == 1) {
      cJSON_DeleteItemFromObjectCaseSensitive(inst, "weight");
      cJSON_AddItemToObject(inst, "weight", cJSON_CreateRaw("1e999"));
    }
    cJSON_AddItemToArray(arr, inst);
  }
  nc_tw_reply r = nc_tw_call_reply(tw, "BatchInstanceRequest", b);
  assert_int_equal(r.error_code, 400);
  assert_int_equal(nc_tw_query_hosts(tw, "svc-batch"), 0);
  assert_true(metric(f, "nacosd_naming_invalid_instances_total") >= 13);
}

static void test_metadata_bounds(void **state) {
  nc_tfx *f = *state;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  const char *five[] = {"a", "1", "b", "2", "c", "3", "d", "4", "e", "5", NULL};
  nc_tw_instance in = {.ip = "10.0.1.1", .port = 80, .metadata = five};
  nc_tw_expect_fail(nc_tw_register(tw, "svc-md", &in), "InstanceResponse", 400,
                    "metadata too large");
  char big[80];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  const char *large[] = {"k", big, NULL};
  in.metadata = large;
  nc_tw_expect_fail(nc_tw_register(tw, "svc-md", &in), "InstanceResponse", 400,
                    "metadata too large");
  assert_int_equal(nc_tw_query_hosts(tw, "svc-md"), 0);
  const char *four[] = {"a", "1", "b", "2", "c", "3", "d", "4", NULL};
  in.metadata = four;
  nc_tw_expect_ok(nc_tw_register(tw, "svc-md", &in), "InstanceResponse");
  assert_int_equal(nc_tw_query_hosts(tw, "svc-md"), 1);
  assert_int_equal(metric(f, "nacosd_naming_metadata_refused_total"), 2);
}

static void test_per_connection_bounds(void **state) {
  nc_tfx *f = *state;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  nc_tw_instance in = {.ip = "10.0.2.1", .port = 80};
  char svc[32];
  for (int i = 1; i <= 3; i++) {
    snprintf(svc, sizeof(svc), "svc-c%d", i);
    nc_tw_expect_ok(nc_tw_register(tw, svc, &in), "InstanceResponse");
  }
  nc_tw_expect_fail(nc_tw_register(tw, "svc-c4", &in), "InstanceResponse", 400,
                    "too many services");
  /* re-registering where it already is stays allowed */
  in.port = 81;
  nc_tw_expect_ok(nc_tw_register(tw, "svc-c1", &in), "InstanceResponse");
  /* instances: 3 held; a batch of 3 into svc-c1 replaces its 1 -> 5 */
  nc_tw_instance three[3] = {{.ip = "10.0.2.2", .port = 1},
                             {.ip = "10.0.2.2", .port = 2},
                             {.ip = "10.0.2.2", .port = 3}};
  nc_tw_expect_ok(nc_tw_batch_register(tw, "svc-c1", three, 3), "BatchInstanceResponse");
  nc_tw_instance four[4] = {{.ip = "10.0.2.3", .port = 1},
                            {.ip = "10.0.2.3", .port = 2},
                            {.ip = "10.0.2.3", .port = 3},
                            {.ip = "10.0.2.3", .port = 4}};
  nc_tw_expect_fail(nc_tw_batch_register(tw, "svc-c1", four, 4), "BatchInstanceResponse", 400,
                    "too many instances");
  assert_int_equal(nc_tw_query_hosts(tw, "svc-c1"), 3);
  /* after a deregister there is room again */
  nc_tw_expect_ok(nc_tw_deregister(tw, "svc-c3", &(nc_tw_instance){.ip = "10.0.2.1", .port = 80}),
                  "InstanceResponse");
  nc_tw_expect_ok(nc_tw_register(tw, "svc-c4", &in), "InstanceResponse");
  /* another connection has its own budget */
  nc_tw *other = nc_tfx_connect(f, NULL);
  assert_non_null(other);
  nc_tw_expect_ok(nc_tw_register(other, "svc-c5", &in), "InstanceResponse");

  /* subscriptions */
  nc_tw_service s;
  nc_tw_expect_ok(nc_tw_subscribe(tw, "svc-c1", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  nc_tw_expect_ok(nc_tw_subscribe(tw, "svc-c2", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  nc_tw_expect_fail(nc_tw_subscribe(tw, "svc-c3", 1, &s), "SubscribeServiceResponse", 400,
                    "too many subscriptions");
  nc_tw_service_free(&s);
  nc_tw_expect_ok(nc_tw_subscribe(tw, "svc-c2", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  nc_tw_expect_ok(nc_tw_subscribe(tw, "svc-c2", 0, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  nc_tw_expect_ok(nc_tw_subscribe(tw, "svc-c3", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);

  assert_int_equal(metric(f, "nacosd_naming_conn_services_refused_total"), 1);
  assert_int_equal(metric(f, "nacosd_naming_conn_instances_refused_total"), 1);
  assert_int_equal(metric(f, "nacosd_naming_conn_subscriptions_refused_total"), 1);
}

/* n listen contexts dataId "<prefix><first..first+n)" in DEFAULT_GROUP. */
static nc_tw_reply listen_n(nc_tw *tw, int listen, const char *prefix, int first, int n) {
  nc_tw_listen ctx[64];
  char ids[64][32];
  assert_true(n <= 64);
  for (int i = 0; i < n; i++) {
    snprintf(ids[i], sizeof(ids[i]), "%s%d", prefix, first + i);
    ctx[i] = (nc_tw_listen){.data_id = ids[i], .group = "DEFAULT_GROUP", .md5 = ""};
  }
  return nc_tw_config_listen(tw, listen, ctx, n, NULL, NULL);
}

static void test_listen_bounds(void **state) {
  nc_tfx *f = *state;
  nc_tw_opts o = {.module = "config"};
  nc_tw *tw = nc_tfx_connect(f, &o);
  assert_non_null(tw);
  const char *rt = "ConfigChangeBatchListenResponse";
  nc_tw_expect_fail(listen_n(tw, 1, "k", 0, 11), rt, 400, "too many keys in one listen request");
  assert_int_equal(metric(f, "nacosd_config_listeners"), 0);
  nc_tw_expect_ok(listen_n(tw, 1, "k", 0, 10), rt);
  /* listening again to the same keys (the SDKs' periodic re-listen) */
  nc_tw_expect_ok(listen_n(tw, 1, "k", 0, 10), rt);
  /* 10 + 6 new > 15: refused whole; 5 new fit */
  nc_tw_expect_fail(listen_n(tw, 1, "k", 10, 6), rt, 400, "too many config listeners");
  assert_int_equal(metric(f, "nacosd_config_listeners"), 10);
  nc_tw_expect_ok(listen_n(tw, 1, "k", 10, 5), rt);
  assert_int_equal(metric(f, "nacosd_config_listeners"), 15);
  /* unlisten makes room */
  nc_tw_expect_ok(listen_n(tw, 0, "k", 0, 5), rt);
  nc_tw_expect_ok(listen_n(tw, 1, "j", 0, 5), rt);
  assert_int_equal(metric(f, "nacosd_config_listeners"), 15);
  /* another connection has its own budget */
  nc_tw *other = nc_tfx_connect(f, &o);
  assert_non_null(other);
  nc_tw_expect_ok(listen_n(other, 1, "k", 0, 10), rt);
  assert_int_equal(metric(f, "nacosd_config_listen_refused_keys_total"), 1);
  assert_int_equal(metric(f, "nacosd_config_listen_refused_conn_total"), 1);
}

static void test_configs_per_namespace(void **state) {
  nc_tfx *f = *state;
  nc_tw_opts o = {.module = "config"};
  nc_tw *tw = nc_tfx_connect(f, &o);
  assert_non_null(tw);
  const char *rt = "ConfigPublishResponse";
  nc_tw_expect_ok(nc_tw_config_publish(tw, "a", "G", NULL, "1", NULL), rt);
  nc_tw_expect_ok(nc_tw_config_publish(tw, "b", "G", NULL, "1", NULL), rt);
  nc_tw_expect_ok(nc_tw_config_publish(tw, "c", "G2", "", "1", NULL), rt);
  nc_tw_expect_fail(nc_tw_config_publish(tw, "d", "G", NULL, "1", NULL), rt, 400,
                    "too many configs in namespace");
  /* "public" is the same namespace as "" */
  nc_tw_expect_fail(nc_tw_config_publish(tw, "d", "G", "public", "1", NULL), rt, 400,
                    "too many configs in namespace");
  /* updates go through; another namespace has its own room */
  nc_tw_expect_ok(nc_tw_config_publish(tw, "a", "G", NULL, "2", NULL), rt);
  nc_tw_expect_ok(nc_tw_config_publish(tw, "d", "G", "ns2", "1", NULL), rt);
  /* a remove makes room */
  nc_tw_expect_ok(nc_tw_config_remove(tw, "b", "G", NULL), "ConfigRemoveResponse");
  nc_tw_expect_ok(nc_tw_config_publish(tw, "d", "G", NULL, "1", NULL), rt);
  nc_tw_expect_fail(nc_tw_config_publish(tw, "e", "G", NULL, "1", NULL), rt, 400,
                    "too many configs in namespace");
  assert_int_equal(metric(f, "nacosd_config_namespace_full_total"), 3);
  assert_int_equal(metric(f, "nacosd_config_configs"), 4);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bad_weight_and_port_refused, setup_default, teardown),
      cmocka_unit_test_setup_teardown(test_metadata_bounds, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_per_connection_bounds, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_listen_bounds, setup_listen, teardown),
      cmocka_unit_test_setup_teardown(test_configs_per_namespace, setup_ns, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
