/* config_ns_int: the namespace entries of the two backends
 * (config_ns_store_sqlite.c, config_ns_store_pg.c), wired into their
 * vtables by config_store_sqlite.c and config_store_pg.c. Writer thread
 * (the store's own thread) only. */
#ifndef CONFIG_NS_INT_H
#define CONFIG_NS_INT_H

#include "config_store.h"

#include <sqlite3.h>

/* SQLite: creates the namespace table when absent (at open, inside no
 * transaction). It is additive: a build without namespaces ignores the
 * table, so the schema's user_version does not change for it. 0 or NC_EDB. */
int nc_sq_ns_init(sqlite3 *db);
/* The open handle's connection (config_store_sqlite.c). */
sqlite3 *nc_sq_db(void *impl);
int nc_sq_ns_list(void *impl, nc_cfg_ns **out, size_t *n_out);
int nc_sq_ns_write(void *impl, nc_cfg_ns_op op, const char *id, const char *name,
                   const char *desc, int64_t ts_ms);

/* PostgreSQL: Nacos's own tenant_info (created by the schema). */
int nc_pg_ns_list(void *impl, nc_cfg_ns **out, size_t *n_out);
int nc_pg_ns_write(void *impl, nc_cfg_ns_op op, const char *id, const char *name,
                   const char *desc, int64_t ts_ms);

#endif
