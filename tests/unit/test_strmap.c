/* Unit tests: nc_strmap (put/get/replace/delete across growth, deleting
 * while iterating, insertion order kept across growth and deletes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nc_strmap.h"

static void count_cb(void *ud, const char *key, void *val) {
  (void)key;
  *(size_t *)ud += (size_t)(uintptr_t)val;
}

static void test_map_put_get_del_grow(void **state) {
  (void)state;
  nc_strmap *m = nc_strmap_new();
  assert_non_null(m);
  char key[32];
  for (uintptr_t i = 1; i <= 1000; i++) {
    snprintf(key, sizeof(key), "k%lu", (unsigned long)i);
    assert_int_equal(nc_strmap_put(m, key, (void *)i, NULL), 0);
  }
  assert_int_equal(nc_strmap_count(m), 1000);
  void *old = NULL;
  assert_int_equal(nc_strmap_put(m, "k5", (void *)5000, &old), 0);
  assert_ptr_equal(old, (void *)5);
  assert_int_equal(nc_strmap_count(m), 1000);
  assert_ptr_equal(nc_strmap_get(m, "k999"), (void *)999);
  assert_ptr_equal(nc_strmap_del(m, "k999"), (void *)999);
  assert_null(nc_strmap_get(m, "k999"));
  assert_null(nc_strmap_del(m, "nope"));
  size_t sum = 0;
  nc_strmap_foreach(m, count_cb, &sum);
  assert_int_equal(sum, 1000 * 1001 / 2 - 5 + 5000 - 999);
  nc_strmap_free(m, NULL);
}

static void test_strmap_put_get_delete_while_iterating(void **state) {
  (void)state;
  nc_strmap *m = nc_strmap_new();
  char k[32];
  for (long i = 0; i < 1000; i++) {
    snprintf(k, sizeof(k), "key%ld", i);
    assert_int_equal(nc_strmap_put(m, k, (void *)(i + 1), NULL), 0);
  }
  assert_int_equal(nc_strmap_count(m), 1000);
  assert_ptr_equal(nc_strmap_get(m, "key500"), (void *)501);
  nc_strmap_iter it;
  const char *key;
  void *v;
  size_t seen = 0;
  nc_strmap_iter_init(&it, m);
  while (nc_strmap_iter_next(&it, &key, &v)) {
    seen++;
    if ((long)v % 2)
      nc_strmap_del(m, key);
  }
  assert_int_equal(seen, 1000);
  assert_int_equal(nc_strmap_count(m), 500);
  assert_null(nc_strmap_get(m, "key0"));
  assert_ptr_equal(nc_strmap_get(m, "key1"), (void *)2);
  nc_strmap_free(m, NULL);
}

/* Iteration follows insertion order even after the table grew and entries
 * were deleted; replacing a value keeps its place. */
static void test_strmap_insertion_order(void **state) {
  (void)state;
  nc_strmap *m = nc_strmap_new();
  assert_non_null(m);
  char k[32];
  for (long i = 0; i < 100; i++) {
    snprintf(k, sizeof(k), "o%ld", i);
    assert_int_equal(nc_strmap_put(m, k, (void *)(i + 1), NULL), 0);
  }
  assert_ptr_equal(nc_strmap_del(m, "o0"), (void *)1);
  assert_ptr_equal(nc_strmap_del(m, "o50"), (void *)51);
  assert_int_equal(nc_strmap_put(m, "o10", (void *)11, NULL), 0);
  nc_strmap_iter it;
  nc_strmap_iter_init(&it, m);
  const char *key;
  void *v;
  long want = 1;
  while (nc_strmap_iter_next(&it, &key, &v)) {
    if (want == 50)
      want++;
    snprintf(k, sizeof(k), "o%ld", want);
    assert_string_equal(key, k);
    assert_ptr_equal(v, (void *)(want + 1));
    want++;
  }
  assert_int_equal(want, 100);
  nc_strmap_free(m, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_map_put_get_del_grow),
      cmocka_unit_test(test_strmap_put_get_delete_while_iterating),
      cmocka_unit_test(test_strmap_insertion_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
