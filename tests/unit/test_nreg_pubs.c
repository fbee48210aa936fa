/* A service's publishers: the first inline, the publisher map made by the
 * second and freed when the service is back to one (or none); arrival
 * order survives the oldest leaving (it drives which duplicate host shows),
 * replaces keep their place, and a re-publish by the same client stays one
 * publisher. */
#include "naming_reg_int.h"
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

static void pub_ip(nc_nreg *r, const char *client, const char *ip) {
  char js[200];
  snprintf(js, sizeof(js), "{\"ip\":\"%s\",\"port\":80,\"clusterName\":\"DEFAULT\"}", ip);
  cJSON *j = cJSON_Parse(js);
  nc_ninst *in = NULL;
  const char *err = NULL;
  assert_int_equal(nc_ninst_parse(j, "G", "s", &in, &err), 0);
  cJSON_Delete(j);
  assert_int_equal(nc_nreg_publish(r, client, "public", "G", "s", &in, 1), 0);
}

static nc_nsvc *svc(nc_nreg *r) {
  char kb[NC_NREG_KEY_MAX];
  return nc_strmap_get(r->svcs, nc_nreg_key(kb, sizeof(kb), "public", "G", "s"));
}

typedef struct order {
  char ids[8][16];
  int n;
} order;

static void collect(void *ud, const char *id) {
  order *o = ud;
  snprintf(o->ids[o->n++], sizeof(o->ids[0]), "%s", id);
}

static void assert_order(nc_nreg *r, const char *a, const char *b, const char *c) {
  char kb[NC_NREG_KEY_MAX];
  order o = {0};
  nc_nreg_each_publisher(r, nc_nreg_key(kb, sizeof(kb), "public", "G", "s"), collect, &o);
  const char *want[3] = {a, b, c};
  int n = (a != NULL) + (b != NULL) + (c != NULL);
  assert_int_equal(o.n, n);
  for (int i = 0; i < n; i++)
    assert_string_equal(o.ids[i], want[i]);
}

/* ip of the first host the service shows */
static void assert_first_host(nc_nreg *r, const char *ip, int hosts) {
  cJSON *info = nc_nreg_service_info(r, "public", "G", "s", "", 0);
  cJSON *h = cJSON_GetObjectItem(info, "hosts");
  assert_int_equal(cJSON_GetArraySize(h), hosts);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(h, 0), "ip")->valuestring, ip);
  cJSON_Delete(info);
}

static void test_publisher_map_made_by_second_freed_at_one(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  pub_ip(r, "a", "10.0.0.1");
  assert_non_null(svc(r)->pub0);
  assert_null(svc(r)->pubs); /* one publisher: no map */
  pub_ip(r, "a", "10.0.0.2"); /* a replace is still one */
  assert_null(svc(r)->pubs);
  assert_int_equal(nc_nreg_npubs(svc(r)), 1);
  pub_ip(r, "b", "10.0.0.3");
  pub_ip(r, "c", "10.0.0.4");
  assert_non_null(svc(r)->pubs);
  assert_int_equal(nc_nreg_npubs(svc(r)), 3);
  assert_order(r, "a", "b", "c");
  assert_first_host(r, "10.0.0.2", 3);
  /* the oldest leaves: the next oldest takes its place, order kept */
  nc_nreg_drop_conn(r, "a");
  assert_order(r, "b", "c", NULL);
  assert_string_equal(nc_nreg_pub_id(svc(r)->pub0), "b");
  assert_first_host(r, "10.0.0.3", 2);
  /* a replace by a non-first publisher keeps its place */
  pub_ip(r, "c", "10.0.0.5");
  assert_order(r, "b", "c", NULL);
  /* back to one: the map is freed */
  assert_int_equal(nc_nreg_publish(r, "b", "public", "G", "s", NULL, 0), 0);
  assert_null(svc(r)->pubs);
  assert_order(r, "c", NULL, NULL);
  assert_first_host(r, "10.0.0.5", 1);
  /* none: the service goes (empty TTL 0) */
  nc_nreg_drop_conn(r, "c");
  assert_null(svc(r));
  nc_nreg_stats st;
  nc_nreg_get_stats(r, &st);
  assert_int_equal(st.instances, 0);
  assert_int_equal(st.clients, 0);
  nc_nreg_free(r);
}

static void test_middle_publisher_leaves(void **state) {
  (void)state;
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  pub_ip(r, "a", "10.0.0.1");
  pub_ip(r, "b", "10.0.0.2");
  pub_ip(r, "c", "10.0.0.3");
  nc_nreg_drop_conn(r, "b");
  assert_order(r, "a", "c", NULL);
  nc_nreg_usage u;
  nc_nreg_client_usage(r, "c", "public", "G", "s", &u);
  assert_int_equal(u.svc_instances, 1);
  nc_nreg_client_usage(r, "b", "public", "G", "s", &u);
  assert_int_equal(u.svc_instances, 0);
  nc_nreg_drop_conn(r, "a");
  assert_null(svc(r)->pubs);
  assert_string_equal(nc_nreg_pub_id(svc(r)->pub0), "c");
  nc_nreg_free(r); /* frees the rest */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_publisher_map_made_by_second_freed_at_one),
      cmocka_unit_test(test_middle_publisher_leaves),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
