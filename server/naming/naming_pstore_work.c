/* naming_pstore_work: the persistent-instance store's worker thread (see
 * naming_pstore_int.h). One mutex guards the queue; results go back to the
 * loop through an nc_evq. */
#include "naming_pstore_int.h"

#include "nc_err.h"
#include "nc_log.h"

#include <pthread.h>
#include <stdlib.h>

struct nc_npwork {
  nc_npdb *db;
  nc_evq *evq;
  nc_npwork_complete_fn complete;
  void *ud;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  npjob *head, *tail; /* guarded by mu */
  size_t queued;      /* guarded by mu */
  int stopping;       /* guarded by mu */
};

void nc_npjob_free(npjob *j) {
  if (!j)
    return;
  free(j->row.ns);
  free(j->row.group);
  free(j->row.name);
  free(j->row.ip);
  free(j->row.inst);
  nc_nprow_free(j->rows, j->n);
  free(j->chk.ns);
  free(j->chk.group);
  free(j->chk.name);
  free(j->chk.cluster);
  free(j->chk.json);
  nc_npchk_free(j->chks, j->nchk);
  free(j);
}

static void exec(nc_npdb *db, npjob *j) {
  nc_nprow *r = &j->row;
  switch (j->kind) {
  case NPJ_LOAD_ALL:
    j->rc = nc_npdb_load(db, NULL, NULL, NULL, &j->rows, &j->n);
    j->chk_rc = nc_npdb_load_checkers(db, &j->chks, &j->nchk);
    break;
  case NPJ_LOAD_CHK:
    j->rc = nc_npdb_load_checkers(db, &j->chks, &j->nchk);
    break;
  case NPJ_PUT_CHK:
    j->rc = nc_npdb_put_checker(db, &j->chk, r->modified_ms);
    break;
  case NPJ_LOAD_SVC:
    j->rc = nc_npdb_load(db, r->ns, r->group, r->name, &j->rows, &j->n);
    break;
  case NPJ_PUT:
    j->rc = nc_npdb_put(db, r);
    j->existed = 1;
    break;
  case NPJ_DEL:
    j->rc = nc_npdb_del(db, r->ns, r->group, r->name, r->ip, r->port, &j->existed);
    break;
  case NPJ_HEALTH:
    j->rc = nc_npdb_set_health(db, r->ns, r->group, r->name, r->ip, r->port, r->healthy,
                               r->modified_ms, &j->existed);
    break;
  }
}

static void *run(void *arg) {
  nc_npwork *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->head && !w->stopping)
      pthread_cond_wait(&w->cv, &w->mu);
    if (w->stopping)
      break; /* the queued rest is cancelled by stop */
    npjob *j = w->head;
    w->head = j->next;
    if (!w->head)
      w->tail = NULL;
    w->queued--;
    pthread_mutex_unlock(&w->mu);
    exec(w->db, j);
    if (nc_evq_push(w->evq, &j->node) != 0)
      nc_npjob_free(j); /* cannot happen before stop closed the queue */
    pthread_mutex_lock(&w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static void on_done(void *ud, nc_evq_node *node) {
  nc_npwork *w = ud;
  w->complete(w->ud, (npjob *)node);
}

int nc_npwork_start(uv_loop_t *loop, nc_npdb *db, nc_npwork_complete_fn fn, void *ud,
                    nc_npwork **out) {
  nc_npwork *w = calloc(1, sizeof(*w));
  if (!w)
    return NC_ENOMEM;
  w->db = db;
  w->complete = fn;
  w->ud = ud;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  int rc = nc_evq_new(loop, on_done, w, &w->evq);
  if (!rc && pthread_create(&w->thread, NULL, run, w) != 0) {
    nc_evq_close(w->evq, NULL);
    rc = NC_ENOMEM;
  }
  if (rc) {
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return rc;
  }
  *out = w;
  return 0;
}

int nc_npwork_submit(nc_npwork *w, npjob *j) {
  j->next = NULL;
  pthread_mutex_lock(&w->mu);
  int closed = w->stopping;
  if (!closed) {
    if (w->tail)
      w->tail->next = j;
    else
      w->head = j;
    w->tail = j;
    w->queued++;
    pthread_cond_signal(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return closed ? NC_ECLOSED : 0;
}

size_t nc_npwork_pending(nc_npwork *w) {
  pthread_mutex_lock(&w->mu);
  size_t n = w->queued;
  pthread_mutex_unlock(&w->mu);
  return n;
}

static nc_npwork *dropping; /* nc_npwork_stop's, for drop (loop thread only) */

static void drop(nc_evq_node *node) { dropping->complete(dropping->ud, (npjob *)node); }

void nc_npwork_stop(nc_npwork *w) {
  if (!w)
    return;
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  npjob *rest = w->head;
  w->head = w->tail = NULL;
  w->queued = 0;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  /* finished jobs first (they ran before anything cancelled was due) */
  dropping = w;
  nc_evq_close(w->evq, drop);
  dropping = NULL;
  while (rest) {
    npjob *j = rest;
    rest = j->next;
    j->rc = NC_ECLOSED;
    w->complete(w->ud, j);
  }
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
}
