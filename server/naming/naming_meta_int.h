/* naming_meta_int: the worker thread of naming_meta (naming_meta_work.c)
 * and the jobs it runs against the store, shared with naming_meta.c. Not
 * for other modules.
 *
 * The worker owns the database handle from nc_nmwork_start to
 * nc_nmwork_stop; the loop only hands it jobs. Jobs run one at a time in
 * submission order and complete on the loop in that order, so a reload
 * queued after a write reads it, and one queued before it is applied
 * before the write is. */
#ifndef NAMING_META_INT_H
#define NAMING_META_INT_H

#include "naming_meta.h"
#include "nc_evq.h"

typedef enum {
  NMJ_OPEN = 1, /* open the store when it is not, then load */
  NMJ_LOAD,     /* every row */
  NMJ_WRITE,    /* ops of one service, one transaction */
} nmjob_kind;

/* One row of a write: text (JSON) for the database, val for memory. */
typedef struct nmop {
  int kind;
  char *mkey, *text; /* text NULL: delete */
  cJSON *val;        /* owned until applied */
} nmop;

typedef struct nmjob {
  nc_evq_node node; /* completion hand-off; first member */
  struct nmjob *next;
  nmjob_kind kind;
  char *ns, *group, *name; /* WRITE */
  nmop *ops;
  size_t nops;
  int remote;            /* WRITE: a member's change (no listener call) */
  nc_nmeta_row *rows;    /* OPEN, LOAD: the result */
  size_t nrows;
  uint64_t remote_seq;   /* LOAD: the loop's remote-change count when queued */
  int rc;                /* set by the worker; NC_ECLOSED when cancelled */
  nc_nmeta_done_fn done; /* WRITE; may be NULL */
  void *ud;
} nmjob;

/* Frees the job and what it owns. NULL ok. */
void nc_nmjob_free(nmjob *j);

typedef struct nc_nmwork nc_nmwork;
/* Runs on the loop for every job (done or cancelled); owns it from then. */
typedef void (*nc_nmwork_complete_fn)(void *ud, nmjob *j);

/* Starts the worker with db (taken; NULL: not open yet, an OPEN job opens
 * it with o, copied). */
int nc_nmwork_start(uv_loop_t *loop, nc_nmeta_db *db, const nc_nmeta_opts *o,
                    nc_nmwork_complete_fn fn, void *ud, nc_nmwork **out);
/* Queues j: 0, or NC_ECLOSED after stop (caller keeps j). */
int nc_nmwork_submit(nc_nmwork *w, nmjob *j);
/* Lets the running job finish, joins, completes the finished jobs and
 * then the queued ones (NC_ECLOSED) synchronously, closes the store and
 * frees w. NULL ok. */
void nc_nmwork_stop(nc_nmwork *w);

#endif
