/* naming_meta_work: naming_meta's worker thread (see naming_meta_int.h),
 * the shape of naming_pstore_work.c: one mutex guards the queue; results
 * go back to the loop through an nc_evq. */
#include "naming_meta_int.h"

#include "nc_err.h"
#include "nc_log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct nc_nmwork {
  nc_nmeta_db *db; /* worker thread only */
  char *backend, *data_dir, *db_url;
  nc_evq *evq;
  nc_nmwork_complete_fn complete;
  void *ud;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  nmjob *head, *tail; /* guarded by mu */
  int stopping;       /* guarded by mu */
};

void nc_nmjob_free(nmjob *j) {
  if (!j)
    return;
  for (size_t i = 0; i < j->nops; i++) {
    free(j->ops[i].mkey);
    free(j->ops[i].text);
    cJSON_Delete(j->ops[i].val);
  }
  free(j->ops);
  free(j->ns);
  free(j->group);
  free(j->name);
  nc_nmeta_rows_free(j->rows, j->nrows);
  free(j);
}

static int do_write(nc_nmeta_db *db, nmjob *j) {
  nc_nmeta_dbop small[8], *ops = j->nops <= 8 ? small : calloc(j->nops, sizeof(*ops));
  if (!ops)
    return NC_ENOMEM;
  for (size_t i = 0; i < j->nops; i++)
    ops[i] = (nc_nmeta_dbop){j->ops[i].kind, j->ops[i].mkey, j->ops[i].text};
  int rc = nc_nmeta_db_write(db, j->ns, j->group, j->name, ops, j->nops);
  if (ops != small)
    free(ops);
  return rc;
}

static void exec(nc_nmwork *w, nmjob *j) {
  switch (j->kind) {
  case NMJ_OPEN:
    if (!w->db) {
      nc_nmeta_opts o = {.backend = w->backend, .data_dir = w->data_dir, .db_url = w->db_url};
      if ((j->rc = nc_nmeta_db_open(&o, &w->db)))
        break;
    }
    /* the schema is made at open: a store that cannot be read yet is
     * opened again next time */
    if ((j->rc = nc_nmeta_db_load(w->db, &j->rows, &j->nrows))) {
      nc_nmeta_db_close(w->db);
      w->db = NULL;
    }
    break;
  case NMJ_LOAD:
    j->rc = w->db ? nc_nmeta_db_load(w->db, &j->rows, &j->nrows) : NC_EUNAVAIL;
    break;
  case NMJ_WRITE:
    j->rc = w->db ? do_write(w->db, j) : NC_EUNAVAIL;
    break;
  }
}

static void *run(void *arg) {
  nc_nmwork *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->head && !w->stopping)
      pthread_cond_wait(&w->cv, &w->mu);
    if (w->stopping)
      break; /* the queued rest is cancelled by stop */
    nmjob *j = w->head;
    w->head = j->next;
    if (!w->head)
      w->tail = NULL;
    pthread_mutex_unlock(&w->mu);
    exec(w, j);
    if (nc_evq_push(w->evq, &j->node) != 0)
      nc_nmjob_free(j); /* cannot happen before stop closed the queue */
    pthread_mutex_lock(&w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static void on_done(void *ud, nc_evq_node *node) {
  nc_nmwork *w = ud;
  w->complete(w->ud, (nmjob *)node);
}

static void work_free(nc_nmwork *w) {
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  nc_nmeta_db_close(w->db);
  free(w->backend);
  free(w->data_dir);
  free(w->db_url);
  free(w);
}

static char *dup_opt(const char *s, int *oom) {
  char *d = s ? strdup(s) : NULL;
  if (s && !d)
    *oom = 1;
  return d;
}

int nc_nmwork_start(uv_loop_t *loop, nc_nmeta_db *db, const nc_nmeta_opts *o,
                    nc_nmwork_complete_fn fn, void *ud, nc_nmwork **out) {
  nc_nmwork *w = calloc(1, sizeof(*w));
  if (!w) {
    nc_nmeta_db_close(db);
    return NC_ENOMEM;
  }
  int oom = 0;
  w->db = db;
  w->backend = dup_opt(o->backend, &oom);
  w->data_dir = dup_opt(o->data_dir, &oom);
  w->db_url = dup_opt(o->db_url, &oom);
  w->complete = fn;
  w->ud = ud;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  int rc = oom ? NC_ENOMEM : nc_evq_new(loop, on_done, w, &w->evq);
  if (!rc && pthread_create(&w->thread, NULL, run, w) != 0) {
    nc_evq_close(w->evq, NULL);
    rc = NC_ENOMEM;
  }
  if (rc) {
    work_free(w);
    return rc;
  }
  *out = w;
  return 0;
}

int nc_nmwork_submit(nc_nmwork *w, nmjob *j) {
  j->next = NULL;
  pthread_mutex_lock(&w->mu);
  int closed = w->stopping;
  if (!closed) {
    if (w->tail)
      w->tail->next = j;
    else
      w->head = j;
    w->tail = j;
    pthread_cond_signal(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return closed ? NC_ECLOSED : 0;
}

static nc_nmwork *dropping; /* nc_nmwork_stop's, for drop (loop thread only) */

static void drop(nc_evq_node *node) { dropping->complete(dropping->ud, (nmjob *)node); }

void nc_nmwork_stop(nc_nmwork *w) {
  if (!w)
    return;
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  nmjob *rest = w->head;
  w->head = w->tail = NULL;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  /* finished jobs first (they ran before anything cancelled was due) */
  dropping = w;
  nc_evq_close(w->evq, drop);
  dropping = NULL;
  while (rest) {
    nmjob *j = rest;
    rest = j->next;
    j->rc = NC_ECLOSED;
    w->complete(w->ud, j);
  }
  work_free(w);
}
