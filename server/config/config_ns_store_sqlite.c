/* config_ns_store_sqlite: namespaces in the embedded SQLite store, in a
 * table shaped like Nacos's tenant_info (kp '1', tenant_id unique per kp,
 * tenant_name, tenant_desc, create_source, gmt_create/gmt_modified as
 * milliseconds). Statements are prepared per call: namespace writes are
 * rare console operations. */
#include "config_ns_int.h"

#include "nc_err.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

int nc_sq_ns_init(sqlite3 *db) {
  static const char sql[] =
      "CREATE TABLE IF NOT EXISTS tenant_info("
      " id INTEGER PRIMARY KEY, kp TEXT NOT NULL, tenant_id TEXT NOT NULL,"
      " tenant_name TEXT NOT NULL, tenant_desc TEXT NOT NULL, create_source TEXT NOT NULL,"
      " gmt_create INTEGER NOT NULL, gmt_modified INTEGER NOT NULL,"
      " UNIQUE(kp, tenant_id));";
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
    nc_error("config store: create tenant_info: %s", sqlite3_errmsg(db));
    return NC_EDB;
  }
  return 0;
}

static char *dup_col(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return strdup(t ? (const char *)t : "");
}

int nc_sq_ns_list(void *impl, nc_cfg_ns **out, size_t *n_out) {
  sqlite3 *db = nc_sq_db(impl);
  sqlite3_stmt *st = NULL;
  nc_cfg_ns *v = NULL;
  size_t n = 0, cap = 0;
  int rc = NC_EDB, step;
  if (sqlite3_prepare_v2(db,
                         "SELECT tenant_id,tenant_name,tenant_desc,gmt_create,gmt_modified "
                         "FROM tenant_info WHERE kp='1' ORDER BY tenant_id",
                         -1, &st, NULL) != SQLITE_OK)
    goto fail;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 8;
      nc_cfg_ns *nv = realloc(v, nc * sizeof(*nv));
      if (!nv) {
        rc = NC_ENOMEM;
        goto out;
      }
      v = nv;
      cap = nc;
    }
    nc_cfg_ns *e = &v[n++];
    e->id = dup_col(st, 0);
    e->name = dup_col(st, 1);
    e->desc = dup_col(st, 2);
    e->created_ms = sqlite3_column_int64(st, 3);
    e->modified_ms = sqlite3_column_int64(st, 4);
    if (!e->id || !e->name || !e->desc) {
      rc = NC_ENOMEM;
      goto out;
    }
  }
  if (step != SQLITE_DONE)
    goto fail;
  sqlite3_finalize(st);
  *out = v;
  *n_out = n;
  return 0;
fail:
  nc_error("config store: namespace list: %s", sqlite3_errmsg(db));
out:
  sqlite3_finalize(st);
  nc_cfg_ns_free(v, n);
  return rc;
}

int nc_sq_ns_write(void *impl, nc_cfg_ns_op op, const char *id, const char *name,
                   const char *desc, int64_t ts_ms) {
  sqlite3 *db = nc_sq_db(impl);
  sqlite3_stmt *st = NULL;
  const char *sql =
      op == NC_NS_CREATE
          ? "INSERT INTO tenant_info(kp,tenant_id,tenant_name,tenant_desc,create_source,"
            "gmt_create,gmt_modified) VALUES('1',?1,?2,?3,'nacos',?4,?4) "
            "ON CONFLICT(kp,tenant_id) DO NOTHING"
      : op == NC_NS_UPDATE
          ? "UPDATE tenant_info SET tenant_name=?2,tenant_desc=?3,gmt_modified=?4 "
            "WHERE kp='1' AND tenant_id=?1"
          : "DELETE FROM tenant_info WHERE kp='1' AND tenant_id=?1";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    goto fail;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  if (op != NC_NS_DELETE) {
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, desc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ts_ms);
  }
  if (sqlite3_step(st) != SQLITE_DONE)
    goto fail;
  int changed = sqlite3_changes(db);
  sqlite3_finalize(st);
  if (changed)
    return 0;
  return op == NC_NS_CREATE ? NC_EEXISTS : NC_ENOTFOUND;
fail:
  nc_error("config store: namespace write: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return NC_EDB;
}
