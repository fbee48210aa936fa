#include "config_writer.h"

#include "nc_err.h"
#include "nc_log.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct nc_cfg_writer {
  nc_cfg_store *store;
  nc_evq *done_q;
  nc_cfg_done_fn done;
  void *ud;
  int batch_max;

  pthread_t thread;
  pthread_mutex_t lock; /* guards the fields below */
  pthread_cond_t cond;
  nc_cfg_job *head, *tail;
  int stopping;
  int joined; /* loop thread only */
  nc_cfg_writer_stats stats;

  nc_cfg_write *ops; /* writer thread only: batch scratch */
  int64_t last_fail_log_ms; /* writer thread only: failure log rate limit */
  uint64_t fail_batches, fail_writes;
};

static void on_done(void *ud, nc_evq_node *node) {
  nc_cfg_writer *w = ud;
  nc_cfg_job *job = (nc_cfg_job *)node;
  if (job->complete)
    job->complete(job);
  else
    w->done(w->ud, job);
}

/* At most one line a second while the store keeps failing (a database
 * that is down fails every batch at once). Writer thread. */
static void log_failure(nc_cfg_writer *w, size_t n, int rc) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  w->fail_batches++;
  w->fail_writes += n;
  if (now - w->last_fail_log_ms < 1000)
    return;
  nc_error("config writer: %llu batches (%llu writes) failed since the last report: %s",
           (unsigned long long)w->fail_batches, (unsigned long long)w->fail_writes,
           nc_strerror(rc));
  w->last_fail_log_ms = now;
  w->fail_batches = w->fail_writes = 0;
}

static void *writer_main(void *arg) {
  nc_cfg_writer *w = arg;
  nc_cfg_job **batch = calloc((size_t)w->batch_max, sizeof(*batch));
  for (;;) {
    pthread_mutex_lock(&w->lock);
    while (!w->head && !w->stopping)
      pthread_cond_wait(&w->cond, &w->lock);
    size_t n = 0;
    /* Writes batch together; a read job goes alone, after them. */
    while (w->head && n < (size_t)w->batch_max && batch && !(n > 0 && w->head->run)) {
      batch[n++] = w->head;
      w->head = w->head->next;
      if (batch[n - 1]->run)
        break;
    }
    if (!w->head)
      w->tail = NULL;
    int stop = w->stopping && n == 0;
    pthread_mutex_unlock(&w->lock);
    if (stop)
      break;
    if (!batch) { /* OOM at start: nothing safe to do but idle until stop */
      pthread_mutex_lock(&w->lock);
      w->stopping = 1;
      pthread_mutex_unlock(&w->lock);
      continue;
    }
    if (batch[0]->run) {
      batch[0]->run(batch[0], w->store);
      batch[0]->next = NULL;
      if (nc_evq_push(w->done_q, &batch[0]->node) != 0 && batch[0]->release)
        batch[0]->release(batch[0]);
      continue;
    }
    /* The store wants a contiguous op array; copy in and results out. */
    for (size_t i = 0; i < n; i++)
      w->ops[i] = batch[i]->w;
    int rc = nc_cfg_store_apply(w->store, w->ops, n);
    if (rc)
      log_failure(w, n, rc);
    for (size_t i = 0; i < n; i++) {
      batch[i]->w = w->ops[i];
      batch[i]->next = NULL;
    }
    pthread_mutex_lock(&w->lock);
    w->stats.jobs += n;
    if (rc)
      w->stats.commit_failures++;
    else
      w->stats.commits++;
    if (n > w->stats.max_batch)
      w->stats.max_batch = n;
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < n; i++)
      if (nc_evq_push(w->done_q, &batch[i]->node) != 0 && batch[i]->release)
        batch[i]->release(batch[i]);
  }
  free(batch);
  return NULL;
}

int nc_cfg_writer_new(uv_loop_t *loop, nc_cfg_store *store, int batch_max, nc_cfg_done_fn done,
                      void *ud, nc_cfg_writer **out) {
  int rc = NC_ENOMEM;
  nc_cfg_writer *w = calloc(1, sizeof(*w));
  if (!w)
    return NC_ENOMEM;
  w->store = store;
  w->done = done;
  w->ud = ud;
  w->batch_max = batch_max > 0 ? batch_max : 2048;
  w->ops = calloc((size_t)w->batch_max, sizeof(*w->ops));
  if (!w->ops)
    goto fail;
  if ((rc = nc_evq_new(loop, on_done, w, &w->done_q)) != 0)
    goto fail;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->cond, NULL);
  if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    nc_evq_close(w->done_q, NULL);
    rc = NC_EIO;
    goto fail;
  }
  *out = w;
  return 0;
fail:
  free(w->ops);
  free(w);
  return rc;
}

int nc_cfg_writer_submit(nc_cfg_writer *w, nc_cfg_job *job) {
  job->next = NULL;
  job->writer = w;
  pthread_mutex_lock(&w->lock);
  if (w->stopping) {
    pthread_mutex_unlock(&w->lock);
    return NC_ECLOSED;
  }
  if (w->tail)
    w->tail->next = job;
  else
    w->head = job;
  w->tail = job;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
  return 0;
}

/* Completion still queued when the evq closes: deliver it now (we are on
 * the loop thread, inside nc_cfg_writer_stop). */
static void drop_job(nc_evq_node *node) {
  on_done(((nc_cfg_job *)node)->writer, node);
}

void nc_cfg_writer_stop(nc_cfg_writer *w) {
  if (!w || w->joined)
    return;
  pthread_mutex_lock(&w->lock);
  w->stopping = 1;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  w->joined = 1;
  /* Everything queued was committed unless the thread could not run at
   * all; such jobs are released unanswered by the store. */
  for (nc_cfg_job *j = w->head, *next; j; j = next) {
    next = j->next;
    if (j->release)
      j->release(j);
  }
  w->head = w->tail = NULL;
  nc_evq_close(w->done_q, drop_job);
}

void nc_cfg_writer_free(nc_cfg_writer *w) {
  if (!w)
    return;
  nc_cfg_writer_stop(w);
  pthread_cond_destroy(&w->cond);
  pthread_mutex_destroy(&w->lock);
  free(w->ops);
  free(w);
}

void nc_cfg_writer_get_stats(nc_cfg_writer *w, nc_cfg_writer_stats *out) {
  pthread_mutex_lock(&w->lock);
  *out = w->stats;
  pthread_mutex_unlock(&w->lock);
}
