/* Unit tests: nc_strmap (put/get/replace/delete across growth, deleting
 * while iterating, insertion order kept across growth and deletes, names
 * crafted to collide under an unkeyed hash spread over the buckets) and
 * nc_siphash (the paper's test vectors, a per-process key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nc_siphash.h"
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

/* The paper's appendix: key 00..0f, message 00..0e (15 bytes); and the
 * reference implementation's first vector (empty message). Lengths 0..15
 * cover the tail-block path and one full block. */
static void test_siphash_vectors(void **state) {
  (void)state;
  uint8_t key[16], msg[64];
  for (int i = 0; i < 16; i++)
    key[i] = (uint8_t)i;
  for (int i = 0; i < 64; i++)
    msg[i] = (uint8_t)i;
  assert_true(nc_siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
  assert_true(nc_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
  /* Every length gives a different value; one flipped key bit changes it. */
  uint64_t h8 = nc_siphash24(key, msg, 8);
  assert_true(h8 != nc_siphash24(key, msg, 7) && h8 != nc_siphash24(key, msg, 9));
  key[15] ^= 0x80;
  assert_true(nc_siphash24(key, msg, 15) != 0xa129ca6149be45e5ULL);
}

/* The process key is random: not all zero, and a second process (exec'ed
 * again, so a fresh draw) has another one. */
static void test_siphash_key_per_process(void **state) {
  (void)state;
  const uint8_t *k = nc_siphash_process_key();
  uint8_t zero[16] = {0};
  assert_memory_not_equal(k, zero, 16);
  assert_ptr_equal(k, nc_siphash_process_key());
  int fd[2];
  assert_int_equal(pipe(fd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* A child of fork shares the parent's key by design (same process
     * image); what matters is a new process: exec ourselves in key mode. */
    dup2(fd[1], 1);
    execl("/proc/self/exe", "test_strmap", "--print-key", (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  uint8_t other[16];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof(other) && (n = read(fd[0], other + got, sizeof(other) - got)) > 0)
    got += (size_t)n;
  close(fd[0]);
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(got, 16);
  assert_memory_not_equal(k, other, 16);
}

/* 30,000 names whose FNV-1a hashes (nc_strmap's hash before SipHash) agree
 * in the low 16 bits: one bucket under the old hash, so a chain of 30,000
 * and a quadratic insert. Under the keyed hash they spread like any names. */
static void test_strmap_crafted_collisions_spread(void **state) {
  (void)state;
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
  const uint32_t prime = 0x01b3; /* FNV-1a 64's prime mod 2^16 */
  uint32_t inv = 1;
  for (int i = 0; i < 5; i++)
    inv = (inv * (2 - prime * inv)) & 0xffff;
  /* Backwards from a target low-16 state over 3 suffix bytes: which suffix
   * takes each state there. */
  char(*suffix)[4] = calloc(65536, 4);
  assert_non_null(suffix);
  for (int a = 0; a < 64; a++)
    for (int b = 0; b < 64; b++)
      for (int c = 0; c < 64; c++) {
        uint32_t st = 0x1234;
        st = ((st * inv) & 0xffff) ^ (uint8_t)al[c];
        st = ((st * inv) & 0xffff) ^ (uint8_t)al[b];
        st = ((st * inv) & 0xffff) ^ (uint8_t)al[a];
        if (!suffix[st][0]) {
          suffix[st][0] = al[a];
          suffix[st][1] = al[b];
          suffix[st][2] = al[c];
        }
      }
  nc_strmap *m = nc_strmap_new();
  assert_non_null(m);
  char name[64];
  long made = 0;
  for (long i = 0; made < 30000; i++) {
    int len = snprintf(name, sizeof(name), "svc-%ld-", i);
    uint64_t h = 1469598103934665603ULL;
    for (int j = 0; j < len; j++) {
      h ^= (unsigned char)name[j];
      h *= 1099511628211ULL;
    }
    const char *sfx = suffix[h & 0xffff];
    if (!sfx[0])
      continue;
    memcpy(name + len, sfx, 4);
    /* Check the craft: the whole name's FNV-1a lands on the target. */
    uint64_t f = 1469598103934665603ULL;
    for (const char *p = name; *p; p++) {
      f ^= (unsigned char)*p;
      f *= 1099511628211ULL;
    }
    assert_int_equal(f & 0xffff, 0x1234);
    assert_int_equal(nc_strmap_put(m, name, (void *)(i + 1), NULL), 0);
    made++;
  }
  assert_int_equal(nc_strmap_count(m), 30000);
  /* 30,000 keys in 32,768 buckets: a fair hash's longest chain is ~8. */
  size_t longest = nc_strmap_max_chain(m);
  assert_true(longest < 32);
  assert_non_null(nc_strmap_get(m, name));
  nc_strmap_free(m, NULL);
  free(suffix);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--print-key") == 0)
    return fwrite(nc_siphash_process_key(), 1, 16, stdout) == 16 ? 0 : 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_map_put_get_del_grow),
      cmocka_unit_test(test_strmap_put_get_delete_while_iterating),
      cmocka_unit_test(test_strmap_insertion_order),
      cmocka_unit_test(test_siphash_vectors),
      cmocka_unit_test(test_siphash_key_per_process),
      cmocka_unit_test(test_strmap_crafted_collisions_spread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
