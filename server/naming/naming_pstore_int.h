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

/* ---- the mirror (naming_pstore_mirror.c): what naming_pstore.c holds ---- */

#include "nc_strmap.h"

typedef struct pent {
  char *ns, *group, *name, *ip, *cluster;
  int port;
  char *inst; /* the Instance JSON as stored */
  int healthy;
  int seen; /* reload mark */
} pent;

typedef struct psvc {
  char *ns, *group, *name;
  nc_strmap *ents; /* "ip:port" -> pent* */
} psvc;

struct nc_npstore {
  uv_loop_t *loop;
  nc_srv *srv;
  nc_naming *naming;
  nc_npdb *db;
  nc_npwork *work;
  uv_timer_t timer;
  nc_strmap *svcs; /* svc key -> psvc* */
  nc_strmap *chks; /* svc key "\x01" cluster -> char* (its settings' JSON) */
  size_t n_inst;
  int stopped, loading_all;
  uint64_t reload_every; /* ms between full reloads */
  int timer_ready;       /* timer initialised */
  nc_npstore_notify_fn notify;
  void *notify_ud;
  nc_npstore_stats st;
};

void nc_npm_pent_free(void *v);
void nc_npm_psvc_free(void *v);
/* "ip:port#false" into buf. */
const char *nc_npm_client_id(char *buf, size_t cap, const char *ip, int port);
/* "ip:port" (an entry's key in its service) into buf. */
const char *nc_npm_addr_key(char *buf, size_t cap, const char *ip, int port);
/* The service's entry map (created when create); NULL when absent / OOM. */
psvc *nc_npm_svc(nc_npstore *ps, const char *ns, const char *group, const char *name,
                 int create);
/* Forgets s (freed) once it holds no entry. */
void nc_npm_svc_gc(nc_npstore *ps, psvc *s);
/* Publishes e as its client's instance, healthy per e / takes it back. */
void nc_npm_publish(nc_npstore *ps, const pent *e);
void nc_npm_unpublish(nc_npstore *ps, const pent *e);
/* Makes the mirror hold row r (published when it changed); marks it seen. */
void nc_npm_upsert(nc_npstore *ps, const nc_nprow *r);
/* Unpublishes and forgets the entry ak of s (s stays). */
void nc_npm_remove(nc_npstore *ps, psvc *s, const char *ak);
/* Removes the unseen entries of s and resets the marks; s may be freed. */
void nc_npm_sweep(nc_npstore *ps, psvc *s);
/* A LOAD_ALL / LOAD_SVC result: the mirror becomes what was read. */
void nc_npm_apply_load(nc_npstore *ps, npjob *j);
/* The cluster-settings key of (service, cluster) into buf, NULL if too long. */
const char *nc_npm_chk_key(char *buf, size_t cap, const char *ns, const char *group,
                           const char *name, const char *cluster);
/* The cluster settings become exactly v[0..n). */
void nc_npm_apply_checkers(nc_npstore *ps, const nc_npchk *v, size_t n);

#endif
