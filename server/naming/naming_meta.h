/* naming_meta: what Nacos's NamingMetadataManager keeps beside the
 * instances: service metadata (protectThreshold, metadata, selector) and
 * per-instance overrides (weight, enabled, metadata) keyed by the
 * instance's metadataId "ip:port:cluster" (Nacos's InstanceMetadata).
 *
 * - Durable: rows of nacos-c's own table nc_naming_meta in the database
 *   the config store uses (<data_dir>/config.db standalone, the cluster's
 *   PostgreSQL with --db-url), on a connection of this module's own
 *   (naming does not depend on config), owned by a worker thread
 *   (naming_meta_work.c): the loop never waits for the database. Loaded
 *   whole at start (on the loop, before anything is served); a write goes
 *   to the database first and to memory only when it was committed, and
 *   its caller is told then. A store that cannot be opened is retried in
 *   the background; writes are refused (NC_EUNAVAIL) meanwhile.
 * - Cluster-wide: a local change is told to the change listener (the
 *   HTTP layer sends it to every member); nc_nmeta_apply_remote takes a
 *   member's change into memory, and into the local database only when it
 *   is not shared (SQLite). With PostgreSQL the whole table is read again
 *   every reload_ms, so a member that missed a notice converges; only the
 *   services whose values differ are bumped.
 * - Expiring: an instance override whose instance the registry has not
 *   shown for expire_ms is deleted (Nacos's ExpiredMetadataCleaner); a
 *   service delete takes its overrides with it.
 * - Applied: an instance override changes what queries and pushes show
 *   of every client's copy of that instance (gRPC or HTTP), as Nacos's
 *   InstanceUtil.updateInstanceMetadata does: enabled and weight
 *   replaced, metadata keys added over the instance's own. A change bumps
 *   the service, so its subscribers are pushed.
 *
 * Values are JSON objects: a service {"protectThreshold": n, "metadata":
 * {..}, "selector": {..}}, an instance {"weight": n, "enabled": b,
 * "metadata": {..}} (each field optional: only those present apply).
 * Namespace "" is "public". Loop thread only (the worker is internal). */
#ifndef NAMING_META_H
#define NAMING_META_H

#include "naming_handlers.h"

#include <cjson/cJSON.h>
#include <uv.h>

#include "nc_metrics.h"

typedef struct nc_nmeta nc_nmeta;

enum { NC_NMETA_SERVICE = 's', NC_NMETA_INSTANCE = 'i' };

typedef struct nc_nmeta_opts {
  const char *backend;  /* "sqlite" (NULL too) or "postgresql" */
  const char *data_dir; /* sqlite: <data_dir>/config.db */
  const char *db_url;   /* postgresql: libpq conninfo or URL; "" = PG* environment */
  int reload_ms;        /* postgresql: full reload period; 0 = 30000 */
  int retry_ms;         /* an unavailable store is opened again this often; 0 = 2000 */
  int expire_ms;        /* an instance override outlives its instance this long; 0 = 60000 */
} nc_nmeta_opts;

/* Opens the store and loads every row (a store that cannot be opened is
 * retried in the background), starts the worker and hooks the overrides
 * into naming's registry. NC_EINVAL (unknown backend), NC_ENOMEM. *out
 * owned by the caller; loop and n must outlive it. */
int nc_nmeta_open(uv_loop_t *loop, nc_naming *n, const nc_nmeta_opts *o, nc_nmeta **out);
/* Unhooks, completes queued writes with NC_ECLOSED, joins the worker and
 * closes; the memory goes once the loop has closed the timer. NULL ok. */
void nc_nmeta_free(nc_nmeta *m);
/* 1 once the store is open (writes are taken). */
int nc_nmeta_available(const nc_nmeta *m);

/* The stored value (borrowed until the next write), or NULL. mkey: ""
 * for a service, "ip:port:cluster" for an instance. */
const cJSON *nc_nmeta_get(nc_nmeta *m, int kind, const char *ns, const char *group,
                          const char *name, const char *mkey);

/* A write's end, on the loop: 0 (committed, in memory, listener told),
 * NC_EDB / NC_EUNAVAIL (the database refused or is unreachable: memory
 * unchanged), NC_ECLOSED (shut down first). */
typedef void (*nc_nmeta_done_fn)(void *ud, int rc);

/* One row of a write: val NULL deletes (borrowed for the call). */
typedef struct nc_nmeta_op {
  int kind;
  const char *mkey;
  const cJSON *val;
} nc_nmeta_op;

/* Stores ops[0..n) of service (ns, group, name) in one transaction, then
 * in memory, bumps the service and tells the listener; done (may be NULL)
 * runs later exactly once. Returns 0 when queued; else done is not called
 * and nothing changes: NC_EUNAVAIL (store not open), NC_EINVAL (a name
 * too long, a bad kind or value), NC_ENOMEM. */
int nc_nmeta_write(nc_nmeta *m, const char *ns, const char *group, const char *name,
                   const nc_nmeta_op *ops, size_t n, nc_nmeta_done_fn done, void *ud);
/* One row (nc_nmeta_write). */
int nc_nmeta_put(nc_nmeta *m, int kind, const char *ns, const char *group, const char *name,
                 const char *mkey, const cJSON *val, nc_nmeta_done_fn done, void *ud);
/* The service's record and every instance override it holds (Nacos
 * removes both with the service). */
int nc_nmeta_delete_service(nc_nmeta *m, const char *ns, const char *group, const char *name,
                            nc_nmeta_done_fn done, void *ud);
/* A member's change (see above): no listener call. Shared store: memory
 * now; SQLite: queued like a write. 0, or nc_nmeta_write's errors. */
int nc_nmeta_apply_remote(nc_nmeta *m, int kind, const char *ns, const char *group,
                          const char *name, const char *mkey, const cJSON *val);

/* Local changes, after they were stored (val NULL: deleted). One listener. */
typedef void (*nc_nmeta_change_fn)(void *ud, int kind, const char *ns, const char *group,
                                   const char *name, const char *mkey, const cJSON *val);
void nc_nmeta_set_listener(nc_nmeta *m, nc_nmeta_change_fn fn, void *ud);

/* Instance overrides held for the service (ns, group, name). */
size_t nc_nmeta_instance_count(nc_nmeta *m, const char *ns, const char *group, const char *name);
/* Calls fn for every service record of (ns, group) (group NULL: all
 * groups). fn must not write m. */
void nc_nmeta_each_service(nc_nmeta *m, const char *ns, const char *group,
                           void (*fn)(void *ud, const char *name, const cJSON *val), void *ud);
const char *nc_nmeta_backend(const nc_nmeta *m);

typedef struct nc_nmeta_stats {
  uint64_t writes, write_failures;   /* write jobs committed / refused by the database */
  uint64_t reloads, reload_failures; /* store reads (open, periodic) done / failed */
  uint64_t expired;                  /* overrides of gone instances deleted */
} nc_nmeta_stats;
/* nacosd_naming_meta_* (naming_meta_hook.c). */
void nc_nmeta_render_metrics(const nc_nmeta *m, nc_metrics_text *t);

/* ---- the store (naming_meta_db.c) ---- */
typedef struct nc_nmeta_db nc_nmeta_db;
/* One row as loaded; strings owned by the caller's array (nc_nmeta_rows_free). */
typedef struct nc_nmeta_row {
  int kind;
  char *ns, *group, *name, *mkey, *value; /* value: JSON text */
} nc_nmeta_row;
void nc_nmeta_rows_free(nc_nmeta_row *rows, size_t n);
int nc_nmeta_db_open(const nc_nmeta_opts *o, nc_nmeta_db **out);
void nc_nmeta_db_close(nc_nmeta_db *db);
int nc_nmeta_db_shared(const nc_nmeta_db *db); /* 1: PostgreSQL (every member's) */
int nc_nmeta_db_load(nc_nmeta_db *db, nc_nmeta_row **rows, size_t *n);
/* One row of a write: value (JSON text) NULL deletes it. */
typedef struct nc_nmeta_dbop {
  int kind;
  const char *mkey, *value;
} nc_nmeta_dbop;
/* ops[0..n) of one service, in one transaction. Blocks (worker thread). */
int nc_nmeta_db_write(nc_nmeta_db *db, const char *ns, const char *group, const char *name,
                      const nc_nmeta_dbop *ops, size_t n);

#endif
