/* Unit tests of naming_view: the serialized ServiceInfo cached per service
 * revision and variant (nc_nreg_info_json) and the push body built from it
 * (nc_nreg_push_body) show exactly what nc_nreg_service_info builds, are
 * reused while nothing changes, and never outlive a change (publish,
 * deregister, dropped connection, synced client). */
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

#define G "DEFAULT_GROUP"

static nc_ninst *inst(const char *ip, int port, const char *cluster, int healthy) {
  char j[256];
  snprintf(j, sizeof(j),
           "{\"ip\":\"%s\",\"port\":%d,\"clusterName\":\"%s\",\"healthy\":%s,"
           "\"metadata\":{\"k\":\"v\"}}",
           ip, port, cluster, healthy ? "true" : "false");
  cJSON *o = cJSON_Parse(j);
  nc_ninst *in = NULL;
  const char *err = NULL;
  assert_int_equal(nc_ninst_parse(o, G, "svc", &in, &err), 0);
  cJSON_Delete(o);
  return in;
}

/* conn publishes n hosts 10.0.0.<base+i> into svc, clusters A/B/C in turn,
 * every third one unhealthy. */
static void publish(nc_nreg *r, const char *conn, int base, int n) {
  nc_ninst *list[64];
  static const char *cl[] = {"A", "B", "C"};
  for (int i = 0; i < n; i++) {
    char ip[32];
    snprintf(ip, sizeof(ip), "10.0.0.%d", base + i);
    list[i] = inst(ip, 80, cl[i % 3], i % 3 != 2);
  }
  assert_int_equal(nc_nreg_publish(r, conn, "public", G, "svc", list, (size_t)n), 0);
}

static cJSON *view(nc_nreg *r, const char *clusters, int healthy) {
  const char *json = NULL;
  size_t len = 0;
  assert_int_equal(nc_nreg_info_json(r, "", G, "svc", clusters, healthy, &json, &len), 0);
  assert_int_equal(strlen(json), len);
  cJSON *o = cJSON_Parse(json);
  assert_non_null(o);
  return o;
}

/* The cached view equals a freshly built ServiceInfo but for lastRefTime. */
static void assert_same_as_built(nc_nreg *r, const char *clusters, int healthy) {
  cJSON *a = view(r, clusters, healthy);
  cJSON *b = nc_nreg_service_info(r, "public", G, "svc", clusters, healthy);
  assert_non_null(b);
  cJSON_DeleteItemFromObject(a, "lastRefTime");
  cJSON_DeleteItemFromObject(b, "lastRefTime");
  char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
  assert_string_equal(sa, sb);
  free(sa);
  free(sb);
  cJSON_Delete(a);
  cJSON_Delete(b);
}

static int nhosts(nc_nreg *r, const char *clusters, int healthy) {
  cJSON *o = view(r, clusters, healthy);
  int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "hosts"));
  cJSON_Delete(o);
  return n;
}

static long long ref_of(nc_nreg *r, const char *clusters, int healthy) {
  cJSON *o = view(r, clusters, healthy);
  long long v = nc_json_int(o, "lastRefTime", 0);
  cJSON_Delete(o);
  return v;
}

static void test_view_matches_built_service_info_for_every_variant(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  publish(r, "c1", 1, 9);
  publish(r, "c2", 100, 6); /* two publishers: the deduped path */
  const char *filters[] = {"", "A", "B", "A,C", "C,B,A", "X"};
  for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++)
    for (int h = 0; h < 2; h++)
      assert_same_as_built(r, filters[f], h);
  assert_int_equal(nhosts(r, "", 0), 15);
  assert_int_equal(nhosts(r, "", 1), 10);
  assert_int_equal(nhosts(r, "A", 0), 5);
  assert_int_equal(nhosts(r, "X", 0), 0);
  nc_nreg_free(r);
}

static void test_view_reused_until_the_service_changes(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  publish(r, "c1", 1, 3);
  const char *j1 = NULL, *j2 = NULL;
  size_t l1 = 0, l2 = 0;
  assert_int_equal(nc_nreg_info_json(r, "public", G, "svc", "", 0, &j1, &l1), 0);
  assert_int_equal(nc_nreg_info_json(r, "", G, "svc", NULL, 0, &j2, &l2), 0);
  assert_ptr_equal(j1, j2); /* same text: no rebuild, same lastRefTime */
  long long ref = ref_of(r, "", 0);
  /* a replay changes nothing and keeps the view */
  publish(r, "c1", 1, 3);
  assert_int_equal(ref_of(r, "", 0), ref);
  /* a change: new content, strictly newer lastRefTime */
  publish(r, "c1", 1, 4);
  assert_int_equal(nhosts(r, "", 0), 4);
  long long ref2 = ref_of(r, "", 0);
  assert_true(ref2 > ref);
  /* another connection's instances, then its drop */
  publish(r, "c2", 50, 2);
  assert_int_equal(nhosts(r, "", 0), 6);
  long long ref3 = ref_of(r, "", 0);
  assert_true(ref3 > ref2);
  nc_nreg_drop_conn(r, "c2");
  assert_int_equal(nhosts(r, "", 0), 4);
  assert_true(ref_of(r, "", 0) > ref3);
  /* deregister all: the service is forgotten (TTL 0) */
  assert_int_equal(nc_nreg_publish(r, "c1", "public", G, "svc", NULL, 0), 0);
  assert_int_equal(nc_nreg_info_json(r, "", G, "svc", "", 0, &j1, &l1), NC_ENOTFOUND);
  nc_nreg_free(r);
}

static void test_push_body_wraps_the_subscribe_view(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  publish(r, "c1", 1, 5);
  char kb[256];
  const char *key = nc_nreg_key(kb, sizeof(kb), "public", G, "svc");
  const char *info = NULL;
  size_t il = 0, pl = 0;
  assert_int_equal(nc_nreg_info_json(r, "public", G, "svc", "B", 0, &info, &il), 0);
  const char *body = nc_nreg_push_body(r, key, "B", &pl);
  assert_non_null(body);
  assert_int_equal(strlen(body), pl);
  assert_non_null(strstr(body, info)); /* the same text, same lastRefTime */
  cJSON *b = cJSON_Parse(body);
  assert_non_null(b);
  assert_string_equal(nc_json_str(b, "module", ""), "naming");
  assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(b, "headers")));
  assert_null(cJSON_GetObjectItemCaseSensitive(b, "requestId"));
  const cJSON *si = cJSON_GetObjectItemCaseSensitive(b, "serviceInfo");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(si, "hosts")), 2);
  cJSON_Delete(b);
  assert_ptr_equal(nc_nreg_push_body(r, key, "B", &pl), body); /* built once for a fan-out */
  /* after a change the push is newer than everything served before */
  long long before = ref_of(r, "B", 0);
  publish(r, "c1", 1, 6);
  body = nc_nreg_push_body(r, key, "B", &pl);
  b = cJSON_Parse(body);
  si = cJSON_GetObjectItemCaseSensitive(b, "serviceInfo");
  assert_true(nc_json_int(si, "lastRefTime", 0) > before);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(si, "hosts")), 2);
  cJSON_Delete(b);
  assert_null(nc_nreg_push_body(r, "public\x01G\x01nope", "", &pl));
  nc_nreg_free(r);
}

static void test_many_variants_stay_correct_past_the_kept_few(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  publish(r, "c1", 1, 9);
  const char *filters[] = {"A", "B", "C", "A,B", "B,C", "A,C", "A,B,C", "Z"};
  const int want[] = {3, 3, 3, 6, 6, 6, 9, 0};
  for (int round = 0; round < 3; round++)
    for (int f = 0; f < 8; f++) {
      assert_int_equal(nhosts(r, filters[f], 0), want[f]);
      if (round == 1 && f == 3)
        publish(r, "c1", 1, 9); /* replay in the middle: nothing changes */
    }
  nc_nreg_free(r);
}

static void test_synced_client_changes_invalidate(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  publish(r, "c1", 1, 1);
  assert_int_equal(nhosts(r, "", 0), 1);
  nc_ninst *o = inst("10.9.9.9", 80, "A", 1);
  nc_nreg_entry e = {.ns = "public", .group = G, .name = "svc", .insts = &o, .n = 1};
  assert_int_equal(nc_nreg_sync_apply(r, "peer-1", "m2", 1, &e, 1, 1000), 0);
  assert_int_equal(nhosts(r, "", 0), 2);
  assert_int_equal(nc_nreg_sync_delete(r, "peer-1"), 0);
  assert_int_equal(nhosts(r, "", 0), 1);
  nc_nreg_free(r);
}

/* Over the budget the least recently used views go (and come back on
 * demand with the same hosts and a newer lastRefTime); the one in use is
 * never dropped. */
static void test_views_over_the_budget_are_dropped_and_rebuilt(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  publish(r, "c1", 1, 9);
  nc_ninst *o = inst("10.1.1.1", 80, "A", 1);
  assert_int_equal(nc_nreg_publish(r, "c1", "public", G, "other", &o, 1), 0);
  long long ref = ref_of(r, "", 0);
  const char *j = NULL;
  size_t l = 0;
  assert_int_equal(nc_nreg_info_json(r, "", G, "other", "", 0, &j, &l), 0);
  assert_int_equal(ref_of(r, "", 0), ref); /* default budget: both kept */
  nc_nreg_set_view_budget(r, 1); /* every new view pushes out the others */
  assert_int_equal(nc_nreg_info_json(r, "", G, "other", "", 1, &j, &l), 0);
  assert_non_null(strstr(j, "10.1.1.1"));
  long long ref2 = ref_of(r, "", 0); /* rebuilt */
  assert_true(ref2 > ref);
  assert_same_as_built(r, "", 0);
  assert_int_equal(nhosts(r, "", 0), 9);
  char kb[256];
  size_t pl = 0;
  const char *body = nc_nreg_push_body(r, nc_nreg_key(kb, sizeof(kb), "", G, "svc"), "", &pl);
  assert_non_null(body); /* the view in use survives its own push body */
  assert_non_null(strstr(body, "10.0.0.9"));
  nc_nreg_set_view_budget(r, 0); /* the default again: kept */
  ref = ref_of(r, "A", 0);
  assert_int_equal(ref_of(r, "A", 0), ref);
  nc_nreg_free(r);
}

static void test_bad_and_unknown_services(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  const char *j = NULL;
  size_t l = 0;
  assert_int_equal(nc_nreg_info_json(r, "", G, "svc", "", 0, &j, &l), NC_ENOTFOUND);
  char big[2048];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = 0;
  assert_int_equal(nc_nreg_info_json(r, "", G, big, "", 0, &j, &l), NC_EINVAL);
  /* a subscriber alone makes the service known: an empty host list */
  int first = 0;
  assert_int_equal(nc_nreg_subscribe(r, "s1", "", G, "svc", "", &first), 0);
  assert_int_equal(nhosts(r, "", 0), 0);
  assert_same_as_built(r, "", 0);
  nc_nreg_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_view_matches_built_service_info_for_every_variant),
      cmocka_unit_test(test_view_reused_until_the_service_changes),
      cmocka_unit_test(test_push_body_wraps_the_subscribe_view),
      cmocka_unit_test(test_many_variants_stay_correct_past_the_kept_few),
      cmocka_unit_test(test_synced_client_changes_invalidate),
      cmocka_unit_test(test_views_over_the_budget_are_dropped_and_rebuilt),
      cmocka_unit_test(test_bad_and_unknown_services),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
