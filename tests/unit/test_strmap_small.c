/* nc_strmap's small mode: a map of at most 8 entries has no bucket table
 * (lookups walk the insertion list), the table is made when it passes 8 and
 * freed when it empties, and every operation behaves the same either way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nc_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void key_of(char *buf, size_t cap, int i) { snprintf(buf, cap, "client-%d_10.0.0.1", i); }

static void put_n(nc_strmap *m, int from, int to) {
  char k[64];
  for (int i = from; i < to; i++) {
    key_of(k, sizeof(k), i);
    assert_int_equal(nc_strmap_put(m, k, (void *)(intptr_t)(i + 1), NULL), 0);
  }
}

static void test_small_map_has_no_table_until_ninth_entry(void **state) {
  (void)state;
  nc_strmap *m = nc_strmap_new();
  assert_non_null(m);
  assert_int_equal(nc_strmap_nbuckets(m), 0);
  assert_null(nc_strmap_get(m, "absent"));
  assert_null(nc_strmap_del(m, "absent"));
  put_n(m, 0, 8);
  assert_int_equal(nc_strmap_count(m), 8);
  assert_int_equal(nc_strmap_nbuckets(m), 0);
  char k[64];
  for (int i = 0; i < 8; i++) {
    key_of(k, sizeof(k), i);
    assert_int_equal((intptr_t)nc_strmap_get(m, k), i + 1);
  }
  put_n(m, 8, 9);
  assert_int_equal(nc_strmap_nbuckets(m), 16);
  put_n(m, 9, 100);
  assert_true(nc_strmap_nbuckets(m) >= 100);
  for (int i = 0; i < 100; i++) {
    key_of(k, sizeof(k), i);
    assert_int_equal((intptr_t)nc_strmap_get(m, k), i + 1);
  }
  nc_strmap_free(m, NULL);
}

static void test_emptied_map_frees_its_table(void **state) {
  (void)state;
  nc_strmap *m = nc_strmap_new();
  put_n(m, 0, 20);
  assert_int_not_equal(nc_strmap_nbuckets(m), 0);
  char k[64];
  for (int i = 0; i < 19; i++) {
    key_of(k, sizeof(k), i);
    assert_int_equal((intptr_t)nc_strmap_del(m, k), i + 1);
  }
  assert_int_not_equal(nc_strmap_nbuckets(m), 0); /* not yet empty */
  key_of(k, sizeof(k), 19);
  assert_int_equal((intptr_t)nc_strmap_get(m, k), 20);
  assert_int_equal((intptr_t)nc_strmap_del(m, k), 20);
  assert_int_equal(nc_strmap_count(m), 0);
  assert_int_equal(nc_strmap_nbuckets(m), 0);
  /* usable again, small again */
  put_n(m, 50, 53);
  assert_int_equal(nc_strmap_nbuckets(m), 0);
  key_of(k, sizeof(k), 51);
  assert_int_equal((intptr_t)nc_strmap_get(m, k), 52);
  nc_strmap_free(m, NULL);
}

static void test_small_map_replace_delete_and_order(void **state) {
  (void)state;
  nc_strmap *m = nc_strmap_new();
  put_n(m, 0, 5);
  void *old = NULL;
  char k[64];
  key_of(k, sizeof(k), 2);
  assert_int_equal(nc_strmap_put(m, k, (void *)(intptr_t)99, &old), 0);
  assert_int_equal((intptr_t)old, 3);
  assert_int_equal(nc_strmap_count(m), 5);
  /* delete the entry the iterator just returned, in small mode */
  nc_strmap_iter it;
  const char *key;
  void *v;
  intptr_t seen[5];
  int n = 0;
  nc_strmap_iter_init(&it, m);
  while (nc_strmap_iter_next(&it, &key, &v)) {
    seen[n++] = (intptr_t)v;
    if ((intptr_t)v == 4)
      assert_int_equal((intptr_t)nc_strmap_del(m, key), 4);
  }
  assert_int_equal(n, 5);
  intptr_t want[5] = {1, 2, 99, 4, 5}; /* insertion order; replace kept its place */
  assert_memory_equal(seen, want, sizeof(want));
  assert_int_equal(nc_strmap_count(m), 4);
  key_of(k, sizeof(k), 3);
  assert_null(nc_strmap_get(m, k));
  assert_int_equal(nc_strmap_max_chain(m), 4);
  nc_strmap_free(m, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small_map_has_no_table_until_ninth_entry),
      cmocka_unit_test(test_emptied_map_frees_its_table),
      cmocka_unit_test(test_small_map_replace_delete_and_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
