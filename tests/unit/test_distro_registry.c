/* Unit tests of the registry's synced clients (naming_sync.c): remote data
 * never touches a native client, upserts replace in place, verify/expiry,
 * native revisions and client events, and the failover dedupe (an instance
 * held by a dead owner's synced copy and asserted by its new owner shows
 * once, before, during and after the grace). */
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

static int n_changes;
static void on_change(void *ud, const char *key) {
  (void)ud;
  (void)key;
  n_changes++;
}

static char last_client[128];
static int n_client_events, last_gone;
static void on_client(void *ud, const char *id, int gone) {
  (void)ud;
  snprintf(last_client, sizeof(last_client), "%s", id);
  last_gone = gone;
  n_client_events++;
}

static nc_ninst *inst(const char *ip, int port) {
  char js[128];
  snprintf(js, sizeof(js), "{\"ip\":\"%s\",\"port\":%d}", ip, port);
  cJSON *j = cJSON_Parse(js);
  nc_ninst *in = NULL;
  const char *err = NULL;
  assert_int_equal(nc_ninst_parse(j, "DEFAULT_GROUP", "svc", &in, &err), 0);
  cJSON_Delete(j);
  return in;
}

static int nhosts(nc_nreg *r, const char *svc) {
  cJSON *i = nc_nreg_service_info(r, "public", "DEFAULT_GROUP", svc, "", 0);
  int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(i, "hosts"));
  cJSON_Delete(i);
  return n;
}

/* Applies one service "svc" with n instances 10.0.0.<base+i>:80. */
static int apply(nc_nreg *r, const char *id, const char *owner, uint64_t rev, int base, int n,
                 uint64_t now) {
  nc_ninst *ins[8] = {0};
  for (int i = 0; i < n; i++) {
    char ip[32];
    snprintf(ip, sizeof(ip), "10.0.0.%d", base + i);
    ins[i] = inst(ip, 80);
  }
  nc_nreg_entry e = {.ns = "public", .group = "DEFAULT_GROUP", .name = "svc", .insts = ins,
                     .n = (size_t)n};
  int rc = nc_nreg_sync_apply(r, id, owner, rev, &e, 1, now);
  for (int i = 0; i < n; i++)
    assert_null(ins[i]);
  return rc;
}

static nc_nreg *fresh(void) {
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  assert_int_equal(nc_nreg_add_listener(r, on_change, NULL), 0);
  assert_int_equal(nc_nreg_add_client_listener(r, on_client, NULL), 0);
  n_changes = n_client_events = 0;
  return r;
}

static void publish(nc_nreg *r, const char *id, const char *ip) {
  nc_ninst *in = inst(ip, 80);
  assert_int_equal(nc_nreg_publish(r, id, "public", "DEFAULT_GROUP", "svc", &in, 1), 0);
}

static void test_remote_data_never_touches_native(void **state) {
  (void)state;
  nc_nreg *r = fresh();
  publish(r, "c1", "10.0.0.1");
  assert_int_equal(n_client_events, 1);
  /* a CHANGE or snapshot entry for the same id (Nacos #15857) */
  assert_int_equal(apply(r, "c1", "10.1.1.1:8848", 7, 50, 2, 1000), NC_EEXISTS);
  assert_int_equal(apply(r, "c1", "10.1.1.1:8848", 7, 50, 0, 1000), NC_EEXISTS);
  assert_int_equal(nc_nreg_sync_delete(r, "c1"), NC_EEXISTS);
  assert_int_equal(nc_nreg_sync_expire(r, 10000000, 1), 0);
  assert_int_equal(nhosts(r, "svc"), 1);
  uint64_t rev = 0;
  int synced = 1;
  assert_int_equal(nc_nreg_client_pubs(r, "c1", &rev, &synced, NULL, NULL), 0);
  assert_int_equal(synced, 0);
  assert_int_equal(rev, 1);
  /* remote events were not reported as native changes */
  assert_int_equal(n_client_events, 1);
  nc_nreg_free(r);
}

static void test_native_revision_and_events(void **state) {
  (void)state;
  nc_nreg *r = fresh();
  publish(r, "c1", "10.0.0.1");
  publish(r, "c1", "10.0.0.1"); /* replay: no change, no bump */
  publish(r, "c1", "10.0.0.2");
  uint64_t rev = 0;
  assert_int_equal(nc_nreg_client_pubs(r, "c1", &rev, NULL, NULL, NULL), 0);
  assert_int_equal(rev, 2);
  assert_int_equal(n_client_events, 2);
  assert_string_equal(last_client, "c1");
  assert_int_equal(last_gone, 0);
  assert_int_equal(nc_nreg_publish(r, "c1", "public", "DEFAULT_GROUP", "svc", NULL, 0), 0);
  assert_int_equal(n_client_events, 3);
  assert_int_equal(last_gone, 1); /* nothing left: the client is forgotten */
  publish(r, "c2", "10.0.0.3");
  nc_nreg_drop_conn(r, "c2");
  assert_int_equal(n_client_events, 5);
  assert_int_equal(last_gone, 1);
  nc_nreg_free(r);
}

static void test_upsert_in_place(void **state) {
  (void)state;
  nc_nreg *r = fresh();
  assert_int_equal(apply(r, "p1", "A", 3, 1, 2, 1000), 0);
  assert_int_equal(nhosts(r, "svc"), 2);
  assert_int_equal(n_changes, 1);
  /* a replay changes nothing */
  assert_int_equal(apply(r, "p1", "A", 3, 1, 2, 1000), 0);
  assert_int_equal(n_changes, 1);
  /* new instances replace the old ones in one change (no empty state) */
  assert_int_equal(apply(r, "p1", "A", 4, 2, 3, 1000), 0);
  assert_int_equal(n_changes, 2);
  assert_int_equal(nhosts(r, "svc"), 3);
  uint64_t rev = 0;
  int synced = 0;
  assert_int_equal(nc_nreg_client_pubs(r, "p1", &rev, &synced, NULL, NULL), 0);
  assert_int_equal(rev, 4);
  assert_int_equal(synced, 1);
  /* a second service arrives, then the first disappears from the payload */
  nc_ninst *o = inst("10.9.9.9", 1);
  nc_nreg_entry e = {.ns = "", .group = "DEFAULT_GROUP", .name = "other", .insts = &o, .n = 1};
  assert_int_equal(nc_nreg_sync_apply(r, "p1", "A", 5, &e, 1, 1000), 0);
  assert_int_equal(nhosts(r, "svc"), 0);
  assert_int_equal(nhosts(r, "other"), 1);
  nc_nreg_stats st;
  nc_nreg_get_stats(r, &st);
  assert_int_equal(st.synced_clients, 1);
  assert_int_equal(st.instances, 1);
  /* synced changes are not native events */
  assert_int_equal(n_client_events, 0);
  assert_int_equal(nc_nreg_sync_delete(r, "p1"), 0);
  assert_int_equal(nc_nreg_sync_delete(r, "p1"), NC_ENOTFOUND);
  assert_int_equal(nhosts(r, "other"), 0);
  nc_nreg_get_stats(r, &st);
  assert_int_equal(st.synced_clients, 0);
  nc_nreg_free(r);
}

static void test_verify_and_expiry(void **state) {
  (void)state;
  nc_nreg *r = fresh();
  assert_int_equal(apply(r, "p1", "A", 3, 1, 1, 1000), 0);
  assert_int_equal(apply(r, "p2", "A", 9, 5, 1, 1000), 0);
  assert_int_equal(nc_nreg_sync_verify(r, "p1", 3, 5000), 0);
  assert_int_equal(nc_nreg_sync_verify(r, "p1", 0, 5000), 0); /* 0 always verifies */
  assert_int_equal(nc_nreg_sync_verify(r, "p2", 8, 5000), NC_ENOTFOUND);
  assert_int_equal(nc_nreg_sync_verify(r, "nope", 1, 5000), NC_ENOTFOUND);
  /* CHANGE does not renew: p2 (created at 1000) expires, p1 (renewed at 5000) stays */
  assert_int_equal(apply(r, "p2", "A", 10, 5, 1, 4000), 0);
  assert_int_equal(nc_nreg_sync_expire(r, 5000, 4000), 1);
  assert_int_equal(nhosts(r, "svc"), 1);
  assert_int_equal(nc_nreg_sync_expire(r, 9000, 4000), 1);
  assert_int_equal(nhosts(r, "svc"), 0);
  nc_nreg_free(r);
}

static char seen_ids[256];
static void each_id(void *ud, const char *id, int synced, const char *owner, uint64_t rev) {
  (void)ud;
  char b[64];
  snprintf(b, sizeof(b), "%s/%d/%s/%llu ", id, synced, owner, (unsigned long long)rev);
  strncat(seen_ids, b, sizeof(seen_ids) - strlen(seen_ids) - 1);
}

static int pub_calls;
static void each_pub(void *ud, const char *ns, const char *group, const char *name,
                     nc_ninst *const *insts, size_t n) {
  (void)ud;
  assert_string_equal(ns, "public");
  assert_string_equal(group, "DEFAULT_GROUP");
  assert_string_equal(name, "svc");
  assert_int_equal(n, 1);
  assert_string_equal(nc_ninst_cluster(insts[0]), "DEFAULT");
  pub_calls++;
}

static void test_each_client_and_pubs(void **state) {
  (void)state;
  nc_nreg *r = fresh();
  publish(r, "n1", "10.0.0.1");
  assert_int_equal(apply(r, "pA", "A", 4, 2, 1, 1000), 0);
  assert_int_equal(apply(r, "pB", "B", 5, 3, 1, 1000), 0);
  int first = 0;
  assert_int_equal(nc_nreg_subscribe(r, "subonly", "", "DEFAULT_GROUP", "svc", "", &first), 0);
  seen_ids[0] = 0;
  nc_nreg_each_client(r, 1, NULL, each_id, NULL);
  assert_string_equal(seen_ids, "n1/0//1 ");
  seen_ids[0] = 0;
  nc_nreg_each_client(r, 0, "B", each_id, NULL); /* a snapshot for B skips B's own */
  assert_string_equal(seen_ids, "n1/0//1 pA/1/A/4 ");
  pub_calls = 0;
  assert_int_equal(nc_nreg_client_pubs(r, "pA", NULL, NULL, each_pub, NULL), 0);
  assert_int_equal(nc_nreg_client_pubs(r, "nope", NULL, NULL, each_pub, NULL), NC_ENOTFOUND);
  assert_int_equal(pub_calls, 1);
  nc_nreg_free(r);
}

/* Failover without a flap: the old owner's copy is held for the grace; the
 * new owner's identical instance dedupes with it; at the end of the grace
 * only what nobody else asserts disappears. */
static void test_failover_dedupe_and_grace(void **state) {
  (void)state;
  nc_nreg *r = fresh();
  assert_int_equal(apply(r, "old", "A", 2, 1, 2, 1000), 0); /* 10.0.0.1, .2 */
  assert_int_equal(nhosts(r, "svc"), 2);
  nc_nreg_owner_down(r, "A", 20000);
  assert_int_equal(nc_nreg_sync_expire(r, 19999, 180000), 0);
  /* the client failed over to B and re-asserts 10.0.0.1 only */
  assert_int_equal(apply(r, "new", "B", 1, 1, 1, 15000), 0);
  assert_int_equal(nhosts(r, "svc"), 2);
  /* native on this node: dedupes the same way */
  publish(r, "mine", "10.0.0.1");
  assert_int_equal(nhosts(r, "svc"), 2);
  assert_int_equal(nc_nreg_sync_expire(r, 20000, 180000), 1);
  assert_int_equal(nhosts(r, "svc"), 1); /* .2 was only A's */
  nc_nreg_drop_conn(r, "mine");
  assert_int_equal(nhosts(r, "svc"), 1); /* still asserted by B */
  /* a member coming back before the grace ends keeps its clients */
  assert_int_equal(apply(r, "c3", "C", 1, 7, 1, 20000), 0);
  nc_nreg_owner_down(r, "C", 30000);
  nc_nreg_owner_up(r, "C");
  assert_int_equal(nc_nreg_sync_expire(r, 40000, 180000), 0);
  /* a renew (VERIFY) also cancels the grace */
  nc_nreg_owner_down(r, "C", 50000);
  assert_int_equal(nc_nreg_sync_verify(r, "c3", 1, 45000), 0);
  assert_int_equal(nc_nreg_sync_expire(r, 60000, 180000), 0);
  assert_int_equal(nhosts(r, "svc"), 2);
  nc_nreg_free(r);
}

static int listed_only_b(void *ud, const char *id) {
  (void)ud;
  return strcmp(id, "b") == 0;
}

/* A digest lists every client of its owner: the owner's synced clients it
 * does not list get the grace (unless applied recently: a CHANGE that
 * overtook the digest), the listed ones and other owners' stay. */
static void test_digest_retain(void **state) {
  (void)state;
  nc_nreg *r = fresh();
  assert_int_equal(apply(r, "a", "R", 1, 1, 1, 1000), 0);
  assert_int_equal(apply(r, "b", "R", 1, 2, 1, 1000), 0);
  assert_int_equal(apply(r, "new", "R", 1, 3, 1, 9000), 0);
  assert_int_equal(apply(r, "other", "S", 1, 4, 1, 1000), 0);
  assert_int_equal(nc_nreg_sync_retain(r, "R", listed_only_b, NULL, 5000, 20000), 1);
  /* marked once: a later digest does not push the deadline back */
  assert_int_equal(nc_nreg_sync_retain(r, "R", listed_only_b, NULL, 5000, 90000), 0);
  assert_int_equal(nhosts(r, "svc"), 4);
  assert_int_equal(nc_nreg_sync_expire(r, 19999, 180000), 0);
  assert_int_equal(nc_nreg_sync_expire(r, 20000, 180000), 1);
  assert_int_equal(nhosts(r, "svc"), 3);
  assert_int_equal(nc_nreg_client_pubs(r, "a", NULL, NULL, NULL, NULL), NC_ENOTFOUND);
  nc_nreg_free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_remote_data_never_touches_native),
      cmocka_unit_test(test_native_revision_and_events),
      cmocka_unit_test(test_upsert_in_place),
      cmocka_unit_test(test_verify_and_expiry),
      cmocka_unit_test(test_each_client_and_pubs),
      cmocka_unit_test(test_failover_dedupe_and_grace),
      cmocka_unit_test(test_digest_retain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
