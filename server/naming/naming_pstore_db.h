/* naming_pstore_db: the durable rows of persistent (non-ephemeral) naming
 * instances, in the database the config store uses: the embedded SQLite
 * file <data_dir>/config.db standalone, the cluster's PostgreSQL
 * (--db-url) in a cluster. nacos-c's own table nc_persistent_instance
 * (nacos-cluster.md §4.4: Nacos keeps these in JRaft, which nacos-c
 * replaces with the shared database), created when absent; Java Nacos
 * nodes on the same PostgreSQL ignore it.
 *
 * One row per (namespace, group, service, ip, port): like Nacos's
 * IpPortBasedClient "ip:port#false", an address publishes one instance
 * per service (registering it again, e.g. with another cluster, replaces
 * it). The row holds the Instance JSON as registered and the health the
 * responsible node last checked.
 *
 * The handle has a connection of its own (not the config writer's), so
 * naming does not depend on the config module. Every call blocks: use a
 * handle from one thread at a time (naming_pstore.c's worker thread).
 * Returns 0 or NC_E*: NC_EDB (statement failed), NC_EUNAVAIL (database
 * unreachable), NC_EINVAL (unknown backend), NC_ENOMEM. */
#ifndef NAMING_PSTORE_DB_H
#define NAMING_PSTORE_DB_H

#include <stddef.h>
#include <stdint.h>

typedef struct nc_npdb nc_npdb;

/* One row. Strings owned by the row (nc_nprow_free). */
typedef struct nc_nprow {
  char *ns, *group, *name, *ip;
  int port;
  char *inst;          /* Instance JSON as registered */
  int healthy;         /* last checked health */
  int64_t modified_ms; /* the writer's clock */
} nc_nprow;

void nc_nprow_free(nc_nprow *rows, size_t n);

typedef struct nc_npdb_opts {
  const char *backend;  /* "sqlite" (NULL too) or "postgresql" */
  const char *data_dir; /* sqlite: <data_dir>/config.db */
  const char *db_url;   /* postgresql: libpq conninfo or URL; "" = PG* environment */
  int timeout_ms;       /* busy wait (sqlite) / statement timeout (postgresql); 0 = 5000 */
} nc_npdb_opts;

/* Opens (postgresql: connects lazily, reconnecting after a failure) and
 * creates the table when absent. *out owned by the caller. */
int nc_npdb_open(const nc_npdb_opts *o, nc_npdb **out);
void nc_npdb_close(nc_npdb *db);
const char *nc_npdb_backend(const nc_npdb *db);

/* Rows of one service (name non-NULL) or of every service (ns, group,
 * name all NULL). *rows owned by the caller. */
int nc_npdb_load(nc_npdb *db, const char *ns, const char *group, const char *name,
                 nc_nprow **rows, size_t *n);
/* Inserts or replaces the row of (ns, group, name, ip, port). */
int nc_npdb_put(nc_npdb *db, const nc_nprow *row);
/* Deletes it; *existed (may be NULL) says whether there was one. */
int nc_npdb_del(nc_npdb *db, const char *ns, const char *group, const char *name,
                const char *ip, int port, int *existed);
/* Sets its health; *existed as above (0: no such row, nothing written). */
int nc_npdb_set_health(nc_npdb *db, const char *ns, const char *group, const char *name,
                       const char *ip, int port, int healthy, int64_t ts_ms, int *existed);

/* ---- cluster health-check settings ----
 * Nacos's ClusterMetadata of one cluster of a service (PUT
 * /nacos/v1/ns/cluster): {"healthChecker":{...},"checkPort":N,
 * "useInstancePort4Check":bool} as one JSON text, in the table
 * nc_cluster_health next to the instances. */
typedef struct nc_npchk {
  char *ns, *group, *name, *cluster, *json;
} nc_npchk;
void nc_npchk_free(nc_npchk *v, size_t n);
/* Every stored setting; *out owned by the caller. */
int nc_npdb_load_checkers(nc_npdb *db, nc_npchk **out, size_t *n);
/* Inserts or replaces the setting of (ns, group, name, cluster). */
int nc_npdb_put_checker(nc_npdb *db, const nc_npchk *c, int64_t ts_ms);

/* ---- backends (naming_pstore_sqlite.c, naming_pstore_pg.c) ---- */
typedef struct nc_npdb_vt {
  const char *name;
  int (*open)(const nc_npdb_opts *o, void **impl);
  void (*close)(void *impl);
  int (*load)(void *impl, const char *ns, const char *group, const char *name, nc_nprow **rows,
              size_t *n);
  int (*put)(void *impl, const nc_nprow *row);
  int (*del)(void *impl, const char *ns, const char *group, const char *name, const char *ip,
             int port, int *existed);
  int (*set_health)(void *impl, const char *ns, const char *group, const char *name,
                    const char *ip, int port, int healthy, int64_t ts_ms, int *existed);
  int (*load_checkers)(void *impl, nc_npchk **out, size_t *n);
  int (*put_checker)(void *impl, const nc_npchk *c, int64_t ts_ms);
} nc_npdb_vt;

extern const nc_npdb_vt nc_npdb_sqlite;
extern const nc_npdb_vt nc_npdb_pg;

/* Grows *rows by one zeroed slot (backends' loaders): its address, or NULL. */
nc_nprow *nc_nprow_push(nc_nprow **rows, size_t *n, size_t *cap);
nc_npchk *nc_npchk_push(nc_npchk **v, size_t *n, size_t *cap);

#endif
