/* Unit tests of the group-commit writer thread against a real SQLite store:
 * every job completes once, in order, on the loop thread; many jobs share
 * one transaction; CAS results come back per job; stop delivers what is
 * still queued. Run under TSan too (build-config-tsan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_store.h"
#include "config_writer.h"
#include "nc_err.h"

typedef struct tjob {
  nc_cfg_job job;
  int seq;
  char data_id[32];
} tjob;

typedef struct fx {
  char dir[64];
  uv_loop_t loop;
  nc_cfg_store *st;
  nc_cfg_writer *w;
  int done, next_seq, conflicts, out_of_order;
  pthread_t loop_thread;
} fx;

static void on_done(void *ud, nc_cfg_job *job) {
  fx *f = ud;
  tjob *t = (tjob *)job;
  assert_true(pthread_equal(pthread_self(), f->loop_thread));
  if (t->seq != f->next_seq)
    f->out_of_order++;
  f->next_seq = t->seq + 1;
  if (t->job.w.result == NC_ECONFLICT)
    f->conflicts++;
  f->done++;
  free(t);
}

static void release(nc_cfg_job *job) { free(job); }

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/nc_cfgwr_XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  uv_loop_init(&f->loop);
  f->loop_thread = pthread_self();
  nc_cfg_store_opts o = {.data_dir = f->dir, .history_keep = 5};
  if (nc_cfg_store_open(NULL, &o, &f->st) != 0)
    return -1;
  if (nc_cfg_writer_new(&f->loop, f->st, 256, on_done, f, &f->w) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  nc_cfg_writer_free(f->w);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  nc_cfg_store_close(f->st);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  if (system(cmd) != 0)
    return -1;
  free(f);
  return 0;
}

static tjob *mk(int seq, const char *data_id, const char *cas) {
  tjob *t = calloc(1, sizeof(*t));
  t->seq = seq;
  snprintf(t->data_id, sizeof(t->data_id), "%s", data_id);
  t->job.release = release;
  t->job.w = (nc_cfg_write){.op = NC_CFG_PUT, .data_id = t->data_id, .group = "g", .tenant = "",
                            .content = "v", .content_len = 1, .md5 = "m", .cas_md5 = cas,
                            .ts_ms = seq};
  return t;
}

static void test_all_jobs_complete_in_order_batched(void **state) {
  fx *f = *state;
  const int N = 5000;
  char id[32];
  for (int i = 0; i < N; i++) {
    snprintf(id, sizeof(id), "d%d", i % 100);
    assert_int_equal(nc_cfg_writer_submit(f->w, &mk(i, id, NULL)->job), 0);
  }
  while (f->done < N)
    uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(f->out_of_order, 0);
  nc_cfg_writer_stats s;
  nc_cfg_writer_get_stats(f->w, &s);
  assert_int_equal(s.jobs, N);
  assert_true(s.commits < (uint64_t)N / 4); /* group commit happened */
  assert_true(s.max_batch > 1);
  nc_cfg_item *it = NULL;
  assert_int_equal(nc_cfg_store_get(f->st, "d42", "g", "", &it), 0);
  nc_cfg_item_free(it);
}

static void test_cas_results_per_job(void **state) {
  fx *f = *state;
  nc_cfg_writer_submit(f->w, &mk(0, "k", NULL)->job);       /* md5 "m" */
  nc_cfg_writer_submit(f->w, &mk(1, "k", "wrong")->job);    /* conflict */
  nc_cfg_writer_submit(f->w, &mk(2, "k", "m")->job);        /* ok */
  while (f->done < 3)
    uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(f->conflicts, 1);
}

static void test_stop_delivers_queued_then_refuses(void **state) {
  fx *f = *state;
  for (int i = 0; i < 300; i++)
    assert_int_equal(nc_cfg_writer_submit(f->w, &mk(i, "s", NULL)->job), 0);
  nc_cfg_writer_stop(f->w); /* no loop run: completions delivered synchronously */
  assert_int_equal(f->done, 300);
  assert_int_equal(f->out_of_order, 0);
  tjob *t = mk(300, "s", NULL);
  assert_int_equal(nc_cfg_writer_submit(f->w, &t->job), NC_ECLOSED);
  free(t);
  nc_cfg_writer_stop(f->w); /* idempotent */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_all_jobs_complete_in_order_batched, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cas_results_per_job, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_delivers_queued_then_refuses, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
