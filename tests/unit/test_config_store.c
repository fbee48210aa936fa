/* Unit tests of the SQLite config store on a temp dir: put/get, CAS,
 * remove, history retention, batch semantics and persistence across a
 * close/reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nc_md5.h"
#include "config_store.h"
#include "nc_err.h"

typedef struct fx {
  char dir[64];
  nc_cfg_store *st;
} fx;

static int open_store(fx *f, long keep) {
  nc_cfg_store_opts o = {.data_dir = f->dir, .history_keep = keep};
  return nc_cfg_store_open("sqlite", &o, &f->st);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/nc_cfgstore_XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  if (open_store(f, 3) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  nc_cfg_store_close(f->st);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  if (system(cmd) != 0)
    return -1;
  free(f);
  return 0;
}

static int put(fx *f, const char *d, const char *g, const char *t, const char *content,
               const char *cas, int64_t ts) {
  char md5[33];
  nc_md5_hex(content, strlen(content), md5);
  nc_cfg_write w = {.data_id = d, .group = g, .tenant = t, .content = content,
                    .content_len = strlen(content), .md5 = md5, .cas_md5 = cas, .type = "yaml",
                    .app_name = "app", .src_ip = "10.0.0.1", .ts_ms = ts};
  return nc_cfg_store_put(f->st, &w);
}

static void test_put_get_roundtrip(void **state) {
  fx *f = *state;
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), NC_ENOTFOUND);
  assert_int_equal(put(f, "d", "g", "", "k: v", NULL, 1000), 0);
  assert_int_equal(put(f, "d", "g", "ns1", "other", NULL, 1001), 0);
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), 0);
  assert_string_equal(it->content, "k: v");
  assert_int_equal(it->content_len, 4);
  char md5[33];
  nc_md5_hex("k: v", 4, md5);
  assert_string_equal(it->md5, md5);
  assert_string_equal(it->type, "yaml");
  assert_string_equal(it->app_name, "app");
  assert_int_equal(it->modified_ms, 1000);
  nc_cfg_item_free(it);
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "ns1", &it), 0);
  assert_string_equal(it->content, "other");
  nc_cfg_item_free(it);
}

static void test_cas_mismatch_rejected_and_state_kept(void **state) {
  fx *f = *state;
  char md5[33];
  assert_int_equal(put(f, "d", "g", "", "v1", NULL, 1), 0);
  nc_md5_hex("v1", 2, md5);
  assert_int_equal(put(f, "d", "g", "", "v2", "0123456789abcdef0123456789abcdef", 2), NC_ECONFLICT);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), 0);
  assert_string_equal(it->content, "v1");
  nc_cfg_item_free(it);
  assert_int_equal(put(f, "d", "g", "", "v2", md5, 3), 0);
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), 0);
  assert_string_equal(it->content, "v2");
  assert_int_equal(it->created_ms, 1);
  assert_int_equal(it->modified_ms, 3);
  nc_cfg_item_free(it);
}

static void test_remove_and_remove_missing(void **state) {
  fx *f = *state;
  int existed = -1;
  assert_int_equal(nc_cfg_store_remove(f->st, "nope", "g", "", 5, &existed), 0);
  assert_int_equal(existed, 0);
  assert_int_equal(put(f, "d", "g", "", "v", NULL, 1), 0);
  assert_int_equal(nc_cfg_store_remove(f->st, "d", "g", "", 6, &existed), 0);
  assert_int_equal(existed, 1);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), NC_ENOTFOUND);
}

static void test_history_bounded_newest_first(void **state) {
  fx *f = *state; /* keep = 3 */
  char content[16];
  for (int i = 0; i < 10; i++) {
    snprintf(content, sizeof(content), "v%d", i);
    assert_int_equal(put(f, "d", "g", "", content, NULL, 100 + i), 0);
  }
  assert_int_equal(put(f, "other", "g", "", "x", NULL, 1), 0);
  nc_cfg_hist *h = NULL;
  size_t n = 0;
  assert_int_equal(nc_cfg_store_history(f->st, "d", "g", "", 100, &h, &n), 0);
  assert_int_equal(n, 3);
  char md5[33];
  nc_md5_hex("v9", 2, md5);
  assert_string_equal(h[0].md5, md5);
  assert_int_equal(h[0].op, 'U');
  assert_int_equal(h[0].ts_ms, 109);
  assert_int_equal(h[2].ts_ms, 107);
  assert_string_equal(h[0].src_ip, "10.0.0.1");
  nc_cfg_hist_free(h, n);
  int existed;
  assert_int_equal(nc_cfg_store_remove(f->st, "d", "g", "", 200, &existed), 0);
  assert_int_equal(nc_cfg_store_history(f->st, "d", "g", "", 100, &h, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(h[0].op, 'D');
  assert_string_equal(h[0].md5, md5); /* the md5 that was removed */
  nc_cfg_hist_free(h, n);
  assert_int_equal(nc_cfg_store_history(f->st, "other", "g", "", 100, &h, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(h[0].op, 'I');
  nc_cfg_hist_free(h, n);
}

/* A batch with one CAS conflict commits the others; results are per op. */
static void test_batch_per_op_results(void **state) {
  fx *f = *state;
  assert_int_equal(put(f, "c", "g", "", "v", NULL, 1), 0);
  nc_cfg_write ops[3] = {
      {.op = NC_CFG_PUT, .data_id = "a", .group = "g", .content = "1", .content_len = 1, .md5 = "x", .ts_ms = 2},
      {.op = NC_CFG_PUT, .data_id = "c", .group = "g", .content = "2", .content_len = 1, .md5 = "y",
       .cas_md5 = "bad", .ts_ms = 2},
      {.op = NC_CFG_REMOVE, .data_id = "c", .group = "g", .ts_ms = 2},
  };
  assert_int_equal(nc_cfg_store_apply(f->st, ops, 3), 0);
  assert_int_equal(ops[0].result, 0);
  assert_int_equal(ops[0].existed, 0);
  assert_int_equal(ops[1].result, NC_ECONFLICT);
  assert_int_equal(ops[2].result, 0);
  assert_int_equal(ops[2].existed, 1);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "a", "g", "", &it), 0);
  assert_string_equal(it->type, "text");
  nc_cfg_item_free(it);
  assert_int_equal(nc_cfg_store_get(f->st, "c", "g", "", &it), NC_ENOTFOUND);
}

static void count_item(void *ud, const nc_cfg_item *it) {
  (void)it;
  (*(int *)ud)++;
}

static void test_persists_across_reopen(void **state) {
  fx *f = *state;
  assert_int_equal(put(f, "d", "g", "", "durable", NULL, 1), 0);
  assert_int_equal(put(f, "e", "g", "t", "two", NULL, 1), 0);
  nc_cfg_store_close(f->st);
  f->st = NULL;
  assert_int_equal(open_store(f, 3), 0);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "d", "g", "", &it), 0);
  assert_string_equal(it->content, "durable");
  nc_cfg_item_free(it);
  int n = 0;
  assert_int_equal(nc_cfg_store_scan(f->st, count_item, &n), 0);
  assert_int_equal(n, 2);
}

static void test_open_bad_dir_fails_cleanly(void **state) {
  (void)state;
  nc_cfg_store *s = NULL;
  nc_cfg_store_opts o = {.data_dir = "/proc/nope/nc"};
  assert_int_not_equal(nc_cfg_store_open("sqlite", &o, &s), 0);
  assert_null(s);
  o.data_dir = "/tmp";
  assert_int_equal(nc_cfg_store_open("postgres-not-built", &o, &s), NC_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_put_get_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cas_mismatch_rejected_and_state_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_remove_and_remove_missing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_history_bounded_newest_first, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_per_op_results, setup, teardown),
      cmocka_unit_test_setup_teardown(test_persists_across_reopen, setup, teardown),
      cmocka_unit_test(test_open_bad_dir_fails_cleanly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
