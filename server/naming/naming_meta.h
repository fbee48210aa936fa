/* naming_meta: what Nacos's NamingMetadataManager keeps beside the
 * instances: service metadata (protectThreshold, metadata, selector) and
 * per-instance overrides (weight, enabled, metadata) keyed by the
 * instance's metadataId "ip:port:cluster" (Nacos's InstanceMetadata).
 *
 * - Durable: rows of nacos-c's own table nc_naming_meta in the database
 *   the config store uses (<data_dir>/config.db standalone, the cluster's
 *   PostgreSQL with --db-url), on a connection of this module's own
 *   (naming does not depend on config). Loaded whole at start; every
 *   write goes to the database first and to memory only when it was
 *   stored. Writes are rare admin calls and run on the loop (a slow
 *   database stalls the loop up to its statement timeout, 2 s).
 * - Cluster-wide: a local change is told to the change listener (the
 *   HTTP layer sends it to every member); nc_nmeta_apply_remote takes a
 *   member's change into memory, and into the local database only when it
 *   is not shared (SQLite).
 * - Applied: an instance override changes what queries and pushes show
 *   of every client's copy of that instance (gRPC or HTTP), as Nacos's
 *   InstanceUtil.updateInstanceMetadata does: enabled and weight
 *   replaced, metadata keys added over the instance's own. A change bumps
 *   the service, so its subscribers are pushed.
 *
 * Values are JSON objects: a service {"protectThreshold": n, "metadata":
 * {..}, "selector": {..}}, an instance {"weight": n, "enabled": b,
 * "metadata": {..}} (each field optional: only those present apply). Namespace "" is "public". Loop thread only. */
#ifndef NAMING_META_H
#define NAMING_META_H

#include "naming_handlers.h"

#include <cjson/cJSON.h>

typedef struct nc_nmeta nc_nmeta;

enum { NC_NMETA_SERVICE = 's', NC_NMETA_INSTANCE = 'i' };

typedef struct nc_nmeta_opts {
  const char *backend;  /* "sqlite" (NULL too) or "postgresql" */
  const char *data_dir; /* sqlite: <data_dir>/config.db */
  const char *db_url;   /* postgresql: libpq conninfo or URL; "" = PG* environment */
} nc_nmeta_opts;

/* Opens the store, loads every row and hooks the overrides into naming's
 * registry. NC_EDB / NC_EUNAVAIL when the database cannot be used. *out
 * owned by the caller; n must outlive it. */
int nc_nmeta_open(nc_naming *n, const nc_nmeta_opts *o, nc_nmeta **out);
/* Unhooks and closes. NULL ok. */
void nc_nmeta_free(nc_nmeta *m);

/* The stored value (borrowed until the next write), or NULL. mkey: ""
 * for a service, "ip:port:cluster" for an instance. */
const cJSON *nc_nmeta_get(nc_nmeta *m, int kind, const char *ns, const char *group,
                          const char *name, const char *mkey);

/* Stores val (copied; NULL deletes) durably, then in memory, bumps the
 * service and tells the listener. 0, NC_EDB/NC_EUNAVAIL (nothing
 * changed), NC_EINVAL (a name too long), NC_ENOMEM. */
int nc_nmeta_put(nc_nmeta *m, int kind, const char *ns, const char *group, const char *name,
                 const char *mkey, const cJSON *val);
/* A member's change (see above): no listener call. */
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
/* value NULL deletes the row. */
int nc_nmeta_db_put(nc_nmeta_db *db, int kind, const char *ns, const char *group,
                    const char *name, const char *mkey, const char *value);

#endif
