/* config_store: durable storage of configs behind a small vtable, so a
 * PostgreSQL backend can sit beside the embedded SQLite one
 * (config_store_sqlite.c).
 *
 * A store handle is used by one thread at a time (the config writer thread
 * once the service runs). Writes come in batches applied in ONE transaction
 * (group commit): when apply returns 0 every op of the batch that reports
 * result 0 is durable. Tenants given here are already normalised. */
#ifndef CONFIG_STORE_H
#define CONFIG_STORE_H

#include <stddef.h>
#include <stdint.h>

/* A current config. All strings non-NULL ("" when unset). */
typedef struct nc_cfg_item {
  char *data_id, *group, *tenant;
  char *content;
  size_t content_len;
  char md5[33];
  char *type; /* content type, "text" by default */
  char *app_name, *src_user, *src_ip, *encrypted_data_key;
  int64_t created_ms, modified_ms;
} nc_cfg_item;

void nc_cfg_item_free(nc_cfg_item *it);

typedef enum { NC_CFG_PUT = 1, NC_CFG_REMOVE = 2 } nc_cfg_op;

/* One write. Inputs are borrowed for the duration of apply; strings other
 * than the key may be NULL (= ""). */
typedef struct nc_cfg_write {
  nc_cfg_op op;
  const char *data_id, *group, *tenant;
  const char *content; /* PUT */
  size_t content_len;
  const char *md5;     /* PUT: md5 of content */
  const char *cas_md5; /* PUT: NULL/"" = unconditional; else the md5 the row must have */
  const char *type, *app_name, *src_user, *src_ip, *encrypted_data_key;
  int64_t ts_ms;       /* the node's clock; a shared store stamps its own time instead */
  int64_t rollback_of; /* PUT: the history id this publish restores (0 = none); recorded */
  /* PUT: the tenant's content bytes this may not grow past (0 = no check),
   * result NC_ETOOBIG otherwise. Checked by a shared store (PostgreSQL)
   * inside the transaction, under a per-tenant lock, so publishes on
   * several nodes cannot pass it together; a node-local store leaves it to
   * the caller's own count (config_ops.c). */
  long long ns_max_bytes;
  /* results, set by apply */
  int result;          /* 0, NC_ECONFLICT (cas mismatch), NC_ETOOBIG (ns_max_bytes),
                        * NC_EDB (batch rolled back) */
  int existed;         /* the key had a row before this op */
  int64_t created_ms;  /* PUT: creation time of the row after the op */
  int64_t modified_ms; /* the row's modification time as the store recorded it (the
                        * database's clock for a shared store, ts_ms otherwise) */
} nc_cfg_write;

/* One history row (newest first from nc_cfg_store_history). As in Nacos's
 * his_config_info, a row is a version of the config: for 'I' the content
 * the publish created, for 'U' and 'D' the content the change REPLACED
 * (md5 is that content's). So rolling back to a 'U' row undoes its change. */
typedef struct nc_cfg_hist {
  int64_t id;
  char op;             /* 'I' insert, 'U' update, 'D' delete */
  char md5[33];
  int64_t ts_ms;       /* when the change happened */
  char *src_ip, *src_user, *app_name;
  char *type;          /* content type of the version; "" when unknown */
  int64_t rollback_of; /* the change was a rollback to this history id (0 = no) */
  /* The version's content: NULL from nc_cfg_store_history (lists carry no
   * content), set by nc_cfg_store_history_get; NULL there too for rows
   * written before content was kept (SQLite schema 1). */
  char *content;
  size_t content_len;
} nc_cfg_hist;

void nc_cfg_hist_free(nc_cfg_hist *h, size_t n);

typedef struct nc_cfg_store_opts {
  const char *data_dir; /* SQLite: <data_dir>/config.db */
  const char *db_url;   /* PostgreSQL: a libpq conninfo or URL; "" = libpq's PG* environment */
  long history_keep;    /* rows kept per key; <= 0 = 30 */
  int timeout_ms;       /* PostgreSQL: a statement or connect attempt gives up after this; 0 = 5000 */
} nc_cfg_store_opts;

/* A change seen in a shared store's change feed: a key that may differ
 * from what this node caches (the reader re-reads it). Strings borrowed. */
typedef struct nc_cfg_change {
  const char *data_id, *group, *tenant;
  const char *md5;     /* the row's md5; NULL when the key was removed or unknown (notify) */
  int64_t modified_ms; /* the store's time of the change; 0 when unknown */
  int origin;          /* the writing session (is_up's sibling `session`), 0 = unknown */
} nc_cfg_change;
typedef void (*nc_cfg_change_fn)(void *ud, const nc_cfg_change *c);

/* A namespace (Nacos's tenant_info row, kp '1'). Strings non-NULL. */
typedef struct nc_cfg_ns {
  char *id, *name, *desc;
  int64_t created_ms, modified_ms; /* 0 when the store does not say */
} nc_cfg_ns;

void nc_cfg_ns_free(nc_cfg_ns *ns, size_t n);

/* What a namespace write does. */
typedef enum { NC_NS_CREATE = 1, NC_NS_UPDATE = 2, NC_NS_DELETE = 3 } nc_cfg_ns_op;

typedef struct nc_cfg_store_vt {
  const char *name;
  int (*open)(const nc_cfg_store_opts *opts, void **impl);
  /* Calls fn for every current config; items are borrowed for the call. */
  int (*scan)(void *impl, void (*fn)(void *ud, const nc_cfg_item *it), void *ud);
  int (*get)(void *impl, const char *data_id, const char *group, const char *tenant,
             nc_cfg_item **out);
  int (*apply)(void *impl, nc_cfg_write *ops, size_t n);
  int (*history)(void *impl, const char *data_id, const char *group, const char *tenant,
                 size_t max, nc_cfg_hist **out, size_t *n_out);
  /* One history row of the key with its content; NC_ENOTFOUND. */
  int (*history_get)(void *impl, const char *data_id, const char *group, const char *tenant,
                     int64_t id, nc_cfg_hist **out);
  void (*close)(void *impl);
  /* ---- change feed of a store shared by several nodes; NULL for a
   * node-local store. Used on a handle of its own (its own thread). ---- */
  /* Waits up to timeout_ms for change notifications and reports each.
   * 0 (also on timeout), or NC_EDB when the connection is lost (the next
   * call reconnects). */
  int (*wait_changes)(void *impl, int timeout_ms, nc_cfg_change_fn fn, void *ud);
  /* Reports every key changed or removed since *cursor (0 = report every
   * current key) and advances *cursor, in the store's own time. 0 or NC_EDB. */
  int (*poll_changes)(void *impl, int64_t *cursor, nc_cfg_change_fn fn, void *ud);
  /* 1 when the store answers now, 0 while it is unreachable (no I/O). */
  int (*is_up)(void *impl);
  /* This handle's session as change notifications name their writer
   * (PostgreSQL: the backend pid), 0 while disconnected. Any thread. So the
   * feed can skip what this node's own writer did. */
  int (*session)(void *impl);
  /* ---- namespaces (config_ns_store_*.c); NULL = the store keeps none ---- */
  /* Every namespace but the default one, by id. */
  int (*ns_list)(void *impl, nc_cfg_ns **out, size_t *n_out);
  /* op on the namespace id (name/desc used by CREATE/UPDATE): 0,
   * NC_EEXISTS (create of an id there is), NC_ENOTFOUND (update/delete of
   * one there is not), NC_EDB/NC_EUNAVAIL. */
  int (*ns_write)(void *impl, nc_cfg_ns_op op, const char *id, const char *name,
                  const char *desc, int64_t ts_ms);
} nc_cfg_store_vt;

extern const nc_cfg_store_vt nc_cfg_store_sqlite;
extern const nc_cfg_store_vt nc_cfg_store_pg;

typedef struct nc_cfg_store nc_cfg_store;

/* backend: "sqlite" (NULL = sqlite) or "postgresql". *out owned by the caller. */
int nc_cfg_store_open(const char *backend, const nc_cfg_store_opts *opts, nc_cfg_store **out);
void nc_cfg_store_close(nc_cfg_store *s);
int nc_cfg_store_scan(nc_cfg_store *s, void (*fn)(void *ud, const nc_cfg_item *it), void *ud);
/* NC_ENOTFOUND when absent; else *out is owned by the caller. */
int nc_cfg_store_get(nc_cfg_store *s, const char *data_id, const char *group, const char *tenant,
                     nc_cfg_item **out);
/* Applies ops in one transaction; see nc_cfg_write.result. Returns 0 or
 * NC_EDB (then every op has result NC_EDB and nothing was written). */
int nc_cfg_store_apply(nc_cfg_store *s, nc_cfg_write *ops, size_t n);
/* Single-op conveniences over apply: 0, NC_ECONFLICT or NC_EDB. */
int nc_cfg_store_put(nc_cfg_store *s, nc_cfg_write *w);
int nc_cfg_store_remove(nc_cfg_store *s, const char *data_id, const char *group,
                        const char *tenant, int64_t ts_ms, int *existed);
/* Newest first, at most max rows; *out (array) owned by the caller,
 * nc_cfg_hist_free. */
int nc_cfg_store_history(nc_cfg_store *s, const char *data_id, const char *group,
                         const char *tenant, size_t max, nc_cfg_hist **out, size_t *n_out);
/* One row with content; *out owned by the caller (nc_cfg_hist_free(h, 1)). */
int nc_cfg_store_history_get(nc_cfg_store *s, const char *data_id, const char *group,
                             const char *tenant, int64_t id, nc_cfg_hist **out);
/* Namespaces (see the vtable); NC_EINVAL for a backend without them. */
int nc_cfg_store_ns_list(nc_cfg_store *s, nc_cfg_ns **out, size_t *n_out);
int nc_cfg_store_ns_write(nc_cfg_store *s, nc_cfg_ns_op op, const char *id, const char *name,
                          const char *desc, int64_t ts_ms);
/* The backend's vtable (for the optional change-feed entries). */
const nc_cfg_store_vt *nc_cfg_store_vtable(const nc_cfg_store *s);
void *nc_cfg_store_impl(nc_cfg_store *s);

#endif
