/* Unit tests of naming_registry: ownership by connection, idempotent
 * replays, filters, ServiceInfo shape, lastRefTime, paging. */
#include "naming_registry.h"
#include "nc_err.h"
#include "nc_json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <time.h>

typedef struct changes {
  int n;
  char last[256];
} changes;

static void on_change(void *ud, const char *key) {
  changes *c = ud;
  c->n++;
  strncpy(c->last, key, sizeof(c->last) - 1);
}

static nc_ninst *inst(const char *json, const char *group, const char *name) {
  cJSON *j = cJSON_Parse(json);
  nc_ninst *in = NULL;
  const char *err = NULL;
  assert_int_equal(nc_ninst_parse(j, group, name, &in, &err), 0);
  cJSON_Delete(j);
  return in;
}

static int parse_err(const char *json) {
  cJSON *j = cJSON_Parse(json);
  nc_ninst *in = NULL;
  const char *err = NULL;
  int rc = nc_ninst_parse(j, "G", "s", &in, &err);
  cJSON_Delete(j);
  nc_ninst_free(in);
  if (rc)
    assert_non_null(err);
  return rc;
}

static void publish1(nc_nreg *r, const char *conn, const char *ns, const char *svc,
                     const char *json) {
  nc_ninst *in = inst(json, "DEFAULT_GROUP", svc);
  assert_int_equal(nc_nreg_publish(r, conn, ns, "DEFAULT_GROUP", svc, &in, 1), 0);
  assert_null(in);
}

static const cJSON *hosts_of(const cJSON *info) {
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(info, "hosts");
  assert_true(cJSON_IsArray(h));
  return h;
}

static int nhosts(nc_nreg *r, const char *ns, const char *svc, const char *clusters, int healthy) {
  cJSON *i = nc_nreg_service_info(r, ns, "DEFAULT_GROUP", svc, clusters, healthy);
  int n = cJSON_GetArraySize(hosts_of(i));
  cJSON_Delete(i);
  return n;
}

static void test_register_replace_idempotent_deregister(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  changes ch = {0};
  assert_int_equal(nc_nreg_new(&r), 0);
  assert_int_equal(nc_nreg_add_listener(r, on_change, &ch), 0);
  publish1(r, "c1", "public", "svc", "{\"ip\":\"1.1.1.1\",\"port\":80}");
  assert_int_equal(ch.n, 1);
  /* SDK replay of the same register: no change */
  publish1(r, "c1", "public", "svc", "{\"ip\":\"1.1.1.1\",\"port\":80}");
  assert_int_equal(ch.n, 1);
  /* one instance per service per connection: a second register replaces */
  publish1(r, "c1", "public", "svc", "{\"ip\":\"1.1.1.2\",\"port\":81}");
  assert_int_equal(ch.n, 2);
  assert_int_equal(nhosts(r, "public", "svc", "", 0), 1);
  /* another connection adds its own */
  publish1(r, "c2", "", "svc", "{\"ip\":\"1.1.1.3\",\"port\":82}");
  assert_int_equal(nhosts(r, "public", "svc", "", 0), 2);
  nc_nreg_stats st;
  nc_nreg_get_stats(r, &st);
  assert_int_equal(st.instances, 2);
  assert_int_equal(st.services, 1);
  /* deregister removes what c1 published; unknown service is a no-op */
  assert_int_equal(nc_nreg_publish(r, "c1", "public", "DEFAULT_GROUP", "svc", NULL, 0), 0);
  assert_int_equal(nc_nreg_publish(r, "c1", "public", "DEFAULT_GROUP", "nope", NULL, 0), 0);
  assert_int_equal(nhosts(r, "", "svc", "", 0), 1);
  assert_int_equal(ch.n, 4);
  nc_nreg_free(r);
}

static void test_instance_validation(void **state) {
  (void)state;
  assert_int_equal(parse_err("{\"ip\":\"1.1.1.1\",\"port\":80,\"clusterName\":\"a_b\"}"), NC_EINVAL);
  assert_int_equal(parse_err("{\"port\":80}"), NC_EINVAL);
  assert_int_equal(parse_err("{\"ip\":\"1.1.1.1\",\"port\":70000}"), NC_EINVAL);
  assert_int_equal(parse_err("[1]"), NC_EINVAL);
  assert_int_equal(parse_err("{\"ip\":\"1.1.1.1\",\"port\":1,\"metadata\":{"
                             "\"preserved.heart.beat.interval\":\"9000\","
                             "\"preserved.heart.beat.timeout\":\"1000\"}}"),
                   NC_EINVAL);
  assert_int_equal(parse_err("{\"ip\":\"1.1.1.1\",\"port\":1,\"clusterName\":\"c-1\"}"), 0);
  /* Go sends the derived fields as 0: ignored */
  assert_int_equal(parse_err("{\"ip\":\"1.1.1.1\",\"port\":1,\"instanceHeartBeatInterval\":0,"
                             "\"ipDeleteTimeout\":0}"),
                   0);
}

static void test_instance_json_shape(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  publish1(r, "c1", "public", "svc",
           "{\"ip\":\"1.1.1.1\",\"port\":80,\"weight\":2.5,\"metadata\":{\"k\":\"v\",\"n\":3,"
           "\"z\":null}}");
  cJSON *i = nc_nreg_service_info(r, "public", "DEFAULT_GROUP", "svc", NULL, 0);
  assert_string_equal(nc_json_str(i, "name", ""), "svc");
  assert_string_equal(nc_json_str(i, "groupName", ""), "DEFAULT_GROUP");
  assert_string_equal(nc_json_str(i, "clusters", "x"), "");
  assert_int_equal(nc_json_int(i, "cacheMillis", 0), 10000);
  assert_string_equal(nc_json_str(i, "checksum", "x"), "");
  assert_false(nc_json_bool(i, "allIPs", 1));
  assert_false(nc_json_bool(i, "reachProtectionThreshold", 1));
  assert_true(nc_json_bool(i, "valid", 0));
  const cJSON *h = cJSON_GetArrayItem(hosts_of(i), 0);
  /* clusterName omitted: the id says "null", the stored cluster DEFAULT */
  assert_string_equal(nc_json_str(h, "instanceId", ""), "1.1.1.1#80#null#DEFAULT_GROUP@@svc");
  assert_string_equal(nc_json_str(h, "clusterName", ""), "DEFAULT");
  assert_string_equal(nc_json_str(h, "serviceName", ""), "DEFAULT_GROUP@@svc");
  assert_true(nc_json_num(h, "weight", 0) == 2.5);
  assert_true(nc_json_bool(h, "healthy", 0));
  assert_true(nc_json_bool(h, "ephemeral", 0));
  assert_int_equal(nc_json_int(h, "instanceHeartBeatInterval", 0), 5000);
  assert_int_equal(nc_json_int(h, "instanceHeartBeatTimeOut", 0), 15000);
  assert_int_equal(nc_json_int(h, "ipDeleteTimeout", 0), 30000);
  assert_string_equal(nc_json_str(h, "instanceIdGenerator", ""), "simple");
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(h, "metadata");
  assert_string_equal(nc_json_str(md, "k", ""), "v");
  assert_string_equal(nc_json_str(md, "n", ""), "3");
  assert_null(cJSON_GetObjectItemCaseSensitive(md, "z")); /* never echo null */
  cJSON_Delete(i);
  /* a custom id wins */
  publish1(r, "c1", "public", "svc", "{\"ip\":\"1.1.1.1\",\"port\":80,\"instanceId\":\"mine\"}");
  i = nc_nreg_service_info(r, "public", "DEFAULT_GROUP", "svc", NULL, 0);
  assert_string_equal(nc_json_str(cJSON_GetArrayItem(hosts_of(i), 0), "instanceId", ""), "mine");
  cJSON_Delete(i);
  nc_nreg_free(r);
}

static void test_filters_enabled_healthy_clusters(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  nc_ninst *b[3] = {
      inst("{\"ip\":\"1.1.1.1\",\"port\":1,\"clusterName\":\"A\"}", "DEFAULT_GROUP", "s"),
      inst("{\"ip\":\"1.1.1.2\",\"port\":1,\"clusterName\":\"B\",\"healthy\":false}",
           "DEFAULT_GROUP", "s"),
      inst("{\"ip\":\"1.1.1.3\",\"port\":1,\"clusterName\":\"A\",\"enabled\":false}",
           "DEFAULT_GROUP", "s"),
  };
  assert_int_equal(nc_nreg_publish(r, "c1", "public", "DEFAULT_GROUP", "s", b, 3), 0);
  assert_int_equal(nhosts(r, "public", "s", "", 0), 2);     /* disabled hidden */
  assert_int_equal(nhosts(r, "public", "s", "", 1), 1);     /* healthy only */
  assert_int_equal(nhosts(r, "public", "s", "B", 0), 1);    /* cluster filter */
  assert_int_equal(nhosts(r, "public", "s", "A,B", 0), 2);
  assert_int_equal(nhosts(r, "public", "s", "C", 0), 0);
  assert_int_equal(nhosts(r, "other-ns", "s", "", 0), 0);   /* namespaces separate */
  nc_nreg_free(r);
}

static void test_drop_conn_removes_everything(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  changes ch = {0};
  int first = 0;
  assert_int_equal(nc_nreg_new(&r), 0);
  assert_int_equal(nc_nreg_add_listener(r, on_change, &ch), 0);
  publish1(r, "c1", "public", "s1", "{\"ip\":\"1.1.1.1\",\"port\":1}");
  publish1(r, "c1", "public", "s2", "{\"ip\":\"1.1.1.1\",\"port\":2}");
  publish1(r, "c2", "public", "s2", "{\"ip\":\"1.1.1.2\",\"port\":2}");
  assert_int_equal(nc_nreg_subscribe(r, "c1", "public", "DEFAULT_GROUP", "s3", "", &first), 0);
  assert_true(first);
  assert_int_equal(nc_nreg_subscribe(r, "c1", "public", "DEFAULT_GROUP", "s3", "x", &first), 0);
  assert_false(first);
  assert_int_equal(nc_nreg_subscribe(r, "c2", "public", "DEFAULT_GROUP", "s1", "", &first), 0);
  ch.n = 0;
  nc_nreg_drop_conn(r, "c1");
  assert_int_equal(ch.n, 2); /* s1 and s2 changed */
  assert_int_equal(nhosts(r, "public", "s1", "", 0), 0);
  assert_int_equal(nhosts(r, "public", "s2", "", 0), 1);
  char kb[256];
  assert_false(nc_nreg_subscriber(r, nc_nreg_key(kb, sizeof(kb), "", "DEFAULT_GROUP", "s3"), "c1",
                                  NULL));
  const char *cl = NULL;
  assert_true(nc_nreg_subscriber(r, nc_nreg_key(kb, sizeof(kb), "public", "DEFAULT_GROUP", "s1"),
                                 "c2", &cl));
  nc_nreg_stats st;
  nc_nreg_get_stats(r, &st);
  assert_int_equal(st.instances, 1);
  assert_int_equal(st.subscribers, 1);
  assert_int_equal(st.services, 2); /* s3 forgotten, s1 kept by c2's subscription */
  nc_nreg_drop_conn(r, "c2");
  nc_nreg_get_stats(r, &st);
  assert_int_equal(st.services, 0);
  assert_int_equal(st.clients, 0);
  nc_nreg_free(r);
}

/* lastRefTime: every fresh build (nc_nreg_service_info) is newer than the
 * last; the cached reply and the push of one revision share theirs
 * (naming_view.c), and a change makes both strictly newer than anything
 * served before (nacos-sdk-go drops a ServiceInfo that is not newer). */
static void test_last_ref_time_strictly_increases(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  publish1(r, "c1", "public", "s", "{\"ip\":\"1.1.1.1\",\"port\":1}");
  char kb[256];
  const char *key = nc_nreg_key(kb, sizeof(kb), "public", "DEFAULT_GROUP", "s");
  int first;
  assert_int_equal(nc_nreg_subscribe(r, "c9", "public", "DEFAULT_GROUP", "s", "", &first), 0);
  long long prev = 0;
  for (int i = 0; i < 50; i++) {
    cJSON *info = nc_nreg_service_info(r, "public", "DEFAULT_GROUP", "s", "", 0);
    long long ref = nc_json_int(info, "lastRefTime", 0);
    cJSON_Delete(info);
    assert_true(ref > prev);
    prev = ref;
    char j[64];
    snprintf(j, sizeof(j), "{\"ip\":\"1.1.1.1\",\"port\":%d}", i + 2);
    publish1(r, "c1", "public", "s", j); /* a change */
    const char *q = NULL;
    size_t qlen = 0, len = 0;
    assert_int_equal(nc_nreg_info_json(r, "public", "DEFAULT_GROUP", "s", "", 0, &q, &qlen), 0);
    cJSON *qi = cJSON_Parse(q);
    long long qref = nc_json_int(qi, "lastRefTime", 0);
    cJSON_Delete(qi);
    assert_true(qref > prev); /* the reply after a change is newer */
    const char *body = nc_nreg_push_body(r, key, "", &len);
    assert_non_null(body);
    cJSON *b = cJSON_Parse(body);
    ref = nc_json_int(cJSON_GetObjectItemCaseSensitive(b, "serviceInfo"), "lastRefTime", 0);
    assert_string_equal(nc_json_str(b, "module", ""), "naming");
    assert_null(cJSON_GetObjectItemCaseSensitive(b, "requestId"));
    cJSON_Delete(b);
    assert_true(ref == qref); /* the push of that revision shares the reply's */
    prev = ref;
    /* nothing changed: the cached body is reused */
    const char *again = nc_nreg_push_body(r, key, "", &len);
    assert_ptr_equal(again, body);
  }
  nc_nreg_free(r);
}

static void test_service_list_paging(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  char name[32];
  for (int i = 0; i < 25; i++) {
    snprintf(name, sizeof(name), "svc%02d", i);
    publish1(r, "c1", "public", name, "{\"ip\":\"1.1.1.1\",\"port\":1}");
  }
  cJSON *arr = cJSON_CreateArray();
  assert_int_equal(nc_nreg_list(r, "", "DEFAULT_GROUP", 3, 10, arr), 25);
  assert_int_equal(cJSON_GetArraySize(arr), 5);
  cJSON_Delete(arr);
  arr = cJSON_CreateArray();
  assert_int_equal(nc_nreg_list(r, "public", "OTHER", 1, 10, arr), 0);
  cJSON_Delete(arr);
  nc_nreg_free(r);
}

/* Empty services are kept for the TTL (still listed, no hosts), revived by
 * a new publisher, and forgotten by the sweep once the TTL has passed. */
static void test_empty_service_kept_for_ttl(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  nc_nreg_stats st;
  assert_int_equal(nc_nreg_new(&r), 0);
  nc_nreg_set_empty_ttl(r, 60000);
  publish1(r, "c1", "public", "gone", "{\"ip\":\"1.1.1.1\",\"port\":1}");
  publish1(r, "c1", "public", "back", "{\"ip\":\"1.1.1.1\",\"port\":1}");
  nc_nreg_drop_conn(r, "c1");
  int first = 0;
  assert_int_equal(nc_nreg_subscribe(r, "c2", "", "DEFAULT_GROUP", "subonly", "", &first), 0);
  nc_nreg_unsubscribe(r, "c2", "", "DEFAULT_GROUP", "subonly");
  cJSON *arr = cJSON_CreateArray();
  assert_int_equal(nc_nreg_list(r, "", "DEFAULT_GROUP", 1, 10, arr), 3);
  cJSON_Delete(arr);
  assert_int_equal(nhosts(r, "public", "gone", "", 0), 0);
  publish1(r, "c3", "public", "back", "{\"ip\":\"1.1.1.2\",\"port\":2}");
  /* too early: nothing goes */
  assert_int_equal(nc_nreg_sweep(r, (uint64_t)time(NULL) * 1000u), 0);
  /* well past the TTL: the two empty ones go, the revived one stays */
  assert_int_equal(nc_nreg_sweep(r, (uint64_t)time(NULL) * 1000u + 120000u), 2);
  nc_nreg_get_stats(r, &st);
  assert_int_equal(st.services, 1);
  assert_int_equal(nhosts(r, "public", "back", "", 0), 1);
  /* TTL 0: forgotten at once */
  nc_nreg_set_empty_ttl(r, 0);
  assert_int_equal(nc_nreg_publish(r, "c3", "public", "DEFAULT_GROUP", "back", NULL, 0), 0);
  nc_nreg_get_stats(r, &st);
  assert_int_equal(st.services, 0);
  nc_nreg_free(r);
}

/* Every listener hears every change, in the order added; a drop of a
 * client's publications too; the table has a bound. */
static int order_log[16], order_n;
static void first_listener(void *ud, const char *key) {
  (void)key;
  ((changes *)ud)->n++;
  if (order_n < 16)
    order_log[order_n++] = 1;
}
static void second_listener(void *ud, const char *key) {
  changes *c = ud;
  c->n++;
  strncpy(c->last, key, sizeof(c->last) - 1);
  if (order_n < 16)
    order_log[order_n++] = 2;
}

static void test_change_listeners_are_a_list(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  changes a = {0}, b = {0};
  order_n = 0;
  assert_int_equal(nc_nreg_new(&r), 0);
  assert_int_equal(nc_nreg_add_listener(r, first_listener, &a), 0);
  assert_int_equal(nc_nreg_add_listener(r, second_listener, &b), 0);
  publish1(r, "c1", "public", "svc", "{\"ip\":\"1.1.1.1\",\"port\":80}");
  assert_int_equal(a.n, 1);
  assert_int_equal(b.n, 1);
  assert_non_null(strstr(b.last, "svc"));
  nc_nreg_drop_conn(r, "c1");
  assert_int_equal(a.n, 2);
  assert_int_equal(b.n, 2);
  assert_int_equal(order_n, 4);
  assert_int_equal(order_log[0], 1);
  assert_int_equal(order_log[1], 2);
  assert_int_equal(order_log[2], 1);
  assert_int_equal(order_log[3], 2);
  for (int i = 2; i < NC_NREG_MAX_LISTENERS; i++)
    assert_int_equal(nc_nreg_add_listener(r, first_listener, &a), 0);
  assert_int_equal(nc_nreg_add_listener(r, first_listener, &a), NC_EBUSY);
  nc_nreg_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_replace_idempotent_deregister),
      cmocka_unit_test(test_change_listeners_are_a_list),
      cmocka_unit_test(test_instance_validation),
      cmocka_unit_test(test_instance_json_shape),
      cmocka_unit_test(test_filters_enabled_healthy_clusters),
      cmocka_unit_test(test_drop_conn_removes_everything),
      cmocka_unit_test(test_last_ref_time_strictly_increases),
      cmocka_unit_test(test_service_list_paging),
      cmocka_unit_test(test_empty_service_kept_for_ttl),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
