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

/* ---- naming_meta.c's state, shared with naming_meta_hook.c ---- */

#include "nc_strmap.h"

#define KEY_MAX 1600 /* a service key */

/* One stored value. */
typedef struct nmitem {
  int kind;
  char *ns, *group, *name, *mkey;
  cJSON *val;
  int seen;         /* reload mark */
  int expiring;     /* instance: its delete is queued */
  uint64_t seen_ms; /* instance: when its instance was last seen (Nacos's expired metadata) */
} item;

struct nc_nmeta {
  nc_naming *naming;
  nc_nmwork *work;
  uv_timer_t timer; /* one duty: open the store when it is not, else reload (shared) */
  uv_timer_t sweep; /* overrides of instances gone for expire_ms are deleted */
  uint64_t expire_ms, now_ms; /* now_ms: the sweep's clock, stamped by hook_apply */
  int closing;                /* timers not yet closed */
  int shared;       /* PostgreSQL: every member's rows */
  int open;         /* the store is open: writes are taken */
  int loading;      /* an OPEN or LOAD job is queued */
  int stopped, warned;
  uint64_t reload_ms, retry_ms;
  uint64_t remote_seq; /* members' changes taken into memory (shared store) */
  nc_strmap *items;    /* "kind\nsvc_key\nmkey" -> item* */
  nc_strmap *counts;   /* svc_key -> instance overrides held (uintptr_t) */
  nc_nmeta_change_fn fn;
  void *ud;
  nc_nmeta_stats st;
};

/* "kind\nsvc_key\nmkey" into buf; NULL when too long. */
const char *nc_nmi_key(char *buf, size_t cap, int kind, const char *svc_key, const char *mkey);

/* ---- naming_meta_hook.c ---- */
/* Hooks m's overrides into naming's registry. */
void nc_nmh_install(nc_nmeta *m);
/* The expiry timer's callback (data = m). */
void nc_nmh_sweep(uv_timer_t *t);

#endif
