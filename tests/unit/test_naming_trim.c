/* naming_trim: the heap is trimmed once after a burst of changes, only when
 * a tick passed without changes, never for a small burst, and the timer
 * runs only while changes are pending (no wake-ups while idle). */
#include "naming_trim.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

typedef struct fx {
  uv_loop_t loop;
  nc_ntrim *t;
  int trims;
} fx;

static void count_trim(void *ud) { ((fx *)ud)->trims++; }

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  nc_ntrim_opts o = {.tick_ms = 10, .min_changes = 50, .trim = count_trim, .trim_ud = f};
  assert_int_equal(nc_ntrim_new(&f->loop, &o, &f->t), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  nc_ntrim_free(f->t);
  uv_run(&f->loop, UV_RUN_DEFAULT); /* the close callback frees it */
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  return 0;
}

static void note(fx *f, int n) {
  for (int i = 0; i < n; i++)
    nc_ntrim_note(f->t);
}

static void test_burst_trims_once_when_quiet(void **state) {
  fx *f = *state;
  assert_int_equal(nc_ntrim_active(f->t), 0);
  note(f, 60);
  assert_int_equal(nc_ntrim_active(f->t), 1);
  assert_int_equal(f->trims, 0); /* not while the burst runs */
  uv_run(&f->loop, UV_RUN_DEFAULT); /* returns once the timer stopped itself */
  assert_int_equal(f->trims, 1);
  assert_int_equal(nc_ntrim_count(f->t), 1);
  assert_int_equal(nc_ntrim_active(f->t), 0);
}

static void test_small_burst_never_trims(void **state) {
  fx *f = *state;
  note(f, 49);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(f->trims, 0);
  assert_int_equal(nc_ntrim_active(f->t), 0);
  /* the quiet tick forgot those 49: another 49 is still small */
  note(f, 49);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(f->trims, 0);
}

typedef struct feeder {
  fx *f;
  int left;
} feeder;

static void on_feed(uv_timer_t *h) {
  feeder *fd = h->data;
  note(fd->f, 20);
  if (--fd->left == 0)
    uv_timer_stop(h);
}

static void test_no_trim_while_changes_keep_coming(void **state) {
  fx *f = *state;
  /* 20 changes every 4 ms for ~80 ms: every 10 ms tick sees new ones */
  uv_timer_t feed;
  feeder fd = {f, 20};
  uv_timer_init(&f->loop, &feed);
  feed.data = &fd;
  uv_timer_start(&feed, on_feed, 0, 4);
  while (fd.left > 0) {
    uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(f->trims, 0);
  }
  uv_close((uv_handle_t *)&feed, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(f->trims, 1); /* one trim for the whole burst, after it */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_burst_trims_once_when_quiet, setup, teardown),
      cmocka_unit_test_setup_teardown(test_small_burst_never_trims, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_trim_while_changes_keep_coming, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
