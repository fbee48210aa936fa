/* naming_pstore_int: the worker thread of naming_pstore (naming_pstore_work.c)
 * and the jobs it runs against the database, shared with naming_pstore.c.
 * Not for other modules.
 *
 * Jobs run one at a time, in submission order, so a reload queued after a
 * write sees it and the loop applies completions in the same order. */
#ifndef NAMING_PSTORE_INT_H
#define NAMING_PSTORE_INT_H

#include "naming_pstore.h"
#include "naming_pstore_db.h"
#include "nc_evq.h"

typedef enum {
  NPJ_LOAD_ALL = 1, /* instances and cluster settings */
  NPJ_LOAD_SVC,     /* one service's instances */
  NPJ_LOAD_CHK,     /* cluster settings */
  NPJ_PUT,
  NPJ_DEL,
  NPJ_HEALTH,
  NPJ_PUT_CHK,      /* one cluster's settings (chk) */
} npjob_kind;

typedef struct npjob {
  nc_evq_node node; /* completion hand-off; first member */
  struct npjob *next;
  npjob_kind kind;
  nc_nprow row;   /* the key (ns, group, name, ip, port); PUT: inst, healthy;
                   * HEALTH: healthy; modified_ms = the loop's clock */
  nc_nprow *rows; /* LOAD_*: the result */
  size_t n;
  nc_npchk chk;      /* PUT_CHK: the setting */
  nc_npchk *chks;    /* LOAD_ALL, LOAD_CHK: the result */
  size_t nchk;
  int chk_rc;        /* LOAD_ALL: the settings' load */
  int rc, existed; /* set by the worker; NC_ECLOSED when cancelled */
  nc_npstore_done_fn done; /* PUT/DEL: the caller's; may be NULL */
  void *ud;
} npjob;

/* Frees the job and what it owns. */
void nc_npjob_free(npjob *j);

typedef struct nc_npwork nc_npwork;
/* Runs on the loop for every job (done or cancelled); owns it from then. */
typedef void (*nc_npwork_complete_fn)(void *ud, npjob *j);

/* Starts the worker on db (borrowed; only the worker touches it until
 * stop returns). */
int nc_npwork_start(uv_loop_t *loop, nc_npdb *db, nc_npwork_complete_fn fn, void *ud,
                    nc_npwork **out);
/* Queues j: 0, or NC_ECLOSED after stop (caller keeps j). */
int nc_npwork_submit(nc_npwork *w, npjob *j);
/* Jobs queued and not yet run (for metrics). */
size_t nc_npwork_pending(nc_npwork *w);
/* Lets the running job finish, joins, completes the queued ones with
 * NC_ECLOSED and every finished one, synchronously; frees w. */
void nc_npwork_stop(nc_npwork *w);

#endif
