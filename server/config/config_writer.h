/* config_writer: the dedicated thread that group-commits config writes.
 *
 * The loop thread submits jobs; the writer takes everything queued (up to
 * batch_max), applies it to the store in ONE transaction, then hands each
 * job back to the loop thread through an nc_evq, in submission order. While
 * one transaction fsyncs, new jobs pile up and form the next batch, so the
 * commit rate adapts to the load without a timer.
 *
 * Threading: submit/new/free on the loop thread; the store is touched only
 * by the writer thread once it runs. */
#ifndef CONFIG_WRITER_H
#define CONFIG_WRITER_H

#include "config_store.h"
#include "nc_evq.h"

#include <uv.h>

typedef struct nc_cfg_job {
  nc_evq_node node;           /* completion hand-off; first member */
  struct nc_cfg_job *next;    /* writer queue link */
  nc_cfg_write w;             /* the op; results filled by the writer */
  struct nc_cfg_writer *writer; /* set by submit */
  /* Frees the job when it can no longer be completed (writer shut down). */
  void (*release)(struct nc_cfg_job *job);
  /* A read job (history): when set, the writer runs it alone on its thread,
   * in submission order after the writes queued before it, instead of
   * applying w; w is unused. */
  void (*run)(struct nc_cfg_job *job, nc_cfg_store *store);
  /* When set, the completion goes here instead of the writer's done fn. */
  void (*complete)(struct nc_cfg_job *job);
} nc_cfg_job;

typedef struct nc_cfg_writer nc_cfg_writer;

/* Runs on the loop thread for every job after its batch was applied (see
 * job->w.result); owns job from then on. */
typedef void (*nc_cfg_done_fn)(void *ud, nc_cfg_job *job);

/* The writer borrows store until nc_cfg_writer_free returns. */
int nc_cfg_writer_new(uv_loop_t *loop, nc_cfg_store *store, int batch_max, nc_cfg_done_fn done,
                      void *ud, nc_cfg_writer **out);
/* Queues a job (ownership passes to the writer until done runs).
 * NC_ECLOSED after shutdown began (caller keeps the job). */
int nc_cfg_writer_submit(nc_cfg_writer *w, nc_cfg_job *job);
/* Commits what is queued, joins the thread and delivers every remaining
 * completion through done, synchronously. Later submits get NC_ECLOSED.
 * Idempotent. Run the loop once more afterwards (evq close). */
void nc_cfg_writer_stop(nc_cfg_writer *w);
/* Stops (if not yet) and frees. */
void nc_cfg_writer_free(nc_cfg_writer *w);

typedef struct nc_cfg_writer_stats {
  uint64_t commits, commit_failures, jobs;
  uint64_t max_batch;
} nc_cfg_writer_stats;
/* Snapshot; any thread. */
void nc_cfg_writer_get_stats(nc_cfg_writer *w, nc_cfg_writer_stats *out);

#endif
