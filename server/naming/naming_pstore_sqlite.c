/* naming_pstore_sqlite: persistent instances in the standalone node's
 * SQLite file (<data_dir>/config.db, the config store's), on a connection
 * of their own. The table is additive (created when absent; the config
 * schema's user_version is not touched). Statements are prepared per call:
 * persistent registrations are rare. */
#include "naming_pstore_db.h"

#include "nc_err.h"
#include "nc_log.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS nc_persistent_instance("
    " namespace_id TEXT NOT NULL, group_name TEXT NOT NULL, service_name TEXT NOT NULL,"
    " ip TEXT NOT NULL, port INTEGER NOT NULL, instance TEXT NOT NULL,"
    " healthy INTEGER NOT NULL, gmt_modified INTEGER NOT NULL,"
    " PRIMARY KEY(namespace_id, group_name, service_name, ip, port));"
    "CREATE TABLE IF NOT EXISTS nc_cluster_health("
    " namespace_id TEXT NOT NULL, group_name TEXT NOT NULL, service_name TEXT NOT NULL,"
    " cluster_name TEXT NOT NULL, checker TEXT NOT NULL, gmt_modified INTEGER NOT NULL,"
    " PRIMARY KEY(namespace_id, group_name, service_name, cluster_name));";

static int sq_open(const nc_npdb_opts *o, void **impl) {
  char path[4096];
  sqlite3 *db = NULL;
  snprintf(path, sizeof(path), "%s/config.db", o->data_dir ? o->data_dir : ".");
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    nc_error("persistent instances: open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return NC_EDB;
  }
  /* the config writer may hold the write lock for a group commit */
  sqlite3_busy_timeout(db, o->timeout_ms > 0 ? o->timeout_ms : 5000);
  if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
    nc_error("persistent instances: create table in %s: %s", path, sqlite3_errmsg(db));
    sqlite3_close(db);
    return NC_EDB;
  }
  *impl = db;
  return 0;
}

static void sq_close(void *impl) { sqlite3_close(impl); }

static char *col(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return strdup(t ? (const char *)t : "");
}

static int fail(sqlite3 *db, const char *what, sqlite3_stmt *st) {
  nc_error("persistent instances: %s: %s", what, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return NC_EDB;
}

static int sq_load(void *impl, const char *ns, const char *group, const char *name,
                   nc_nprow **rows, size_t *n) {
  sqlite3 *db = impl;
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  int step, rc = 0;
  const char *sql =
      name ? "SELECT namespace_id,group_name,service_name,ip,port,instance,healthy,gmt_modified"
             " FROM nc_persistent_instance WHERE namespace_id=?1 AND group_name=?2"
             " AND service_name=?3"
           : "SELECT namespace_id,group_name,service_name,ip,port,instance,healthy,gmt_modified"
             " FROM nc_persistent_instance";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return fail(db, "load", st);
  if (name) {
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
  }
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    nc_nprow *r = nc_nprow_push(rows, n, &cap);
    if (!r || !(r->ns = col(st, 0)) || !(r->group = col(st, 1)) || !(r->name = col(st, 2)) ||
        !(r->ip = col(st, 3)) || !(r->inst = col(st, 5))) {
      rc = NC_ENOMEM;
      goto out;
    }
    r->port = sqlite3_column_int(st, 4);
    r->healthy = sqlite3_column_int(st, 6) != 0;
    r->modified_ms = sqlite3_column_int64(st, 7);
  }
  if (step != SQLITE_DONE)
    rc = fail(db, "load", NULL);
out:
  sqlite3_finalize(st);
  if (rc) {
    nc_nprow_free(*rows, *n);
    *rows = NULL;
    *n = 0;
  }
  return rc;
}

static int sq_put(void *impl, const nc_nprow *r) {
  sqlite3 *db = impl;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO nc_persistent_instance(namespace_id,group_name,service_name,"
                         "ip,port,instance,healthy,gmt_modified) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"
                         " ON CONFLICT(namespace_id,group_name,service_name,ip,port) DO UPDATE"
                         " SET instance=excluded.instance, healthy=excluded.healthy,"
                         " gmt_modified=excluded.gmt_modified",
                         -1, &st, NULL) != SQLITE_OK)
    return fail(db, "put", st);
  sqlite3_bind_text(st, 1, r->ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, r->group, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, r->ip, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 5, r->port);
  sqlite3_bind_text(st, 6, r->inst, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 7, r->healthy ? 1 : 0);
  sqlite3_bind_int64(st, 8, r->modified_ms);
  if (sqlite3_step(st) != SQLITE_DONE)
    return fail(db, "put", st);
  sqlite3_finalize(st);
  return 0;
}

/* One keyed UPDATE or DELETE; *existed = a row changed. */
static int keyed(sqlite3 *db, const char *what, const char *sql, const char *ns,
                 const char *group, const char *name, const char *ip, int port, int healthy,
                 int64_t ts, int *existed) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return fail(db, what, st);
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, group, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, ip, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 5, port);
  if (sqlite3_bind_parameter_count(st) >= 7) {
    sqlite3_bind_int(st, 6, healthy);
    sqlite3_bind_int64(st, 7, ts);
  }
  if (sqlite3_step(st) != SQLITE_DONE)
    return fail(db, what, st);
  *existed = sqlite3_changes(db) > 0;
  sqlite3_finalize(st);
  return 0;
}

#define KEY_WHERE " WHERE namespace_id=?1 AND group_name=?2 AND service_name=?3 AND ip=?4 AND port=?5"

static int sq_del(void *impl, const char *ns, const char *group, const char *name, const char *ip,
                  int port, int *existed) {
  return keyed(impl, "delete", "DELETE FROM nc_persistent_instance" KEY_WHERE, ns, group, name, ip,
               port, 0, 0, existed);
}

static int sq_set_health(void *impl, const char *ns, const char *group, const char *name,
                         const char *ip, int port, int healthy, int64_t ts_ms, int *existed) {
  return keyed(impl, "set health",
               "UPDATE nc_persistent_instance SET healthy=?6, gmt_modified=?7" KEY_WHERE, ns,
               group, name, ip, port, healthy, ts_ms, existed);
}

static int sq_load_checkers(void *impl, nc_npchk **out, size_t *n) {
  sqlite3 *db = impl;
  sqlite3_stmt *st = NULL;
  size_t cap = 0;
  int step, rc = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT namespace_id,group_name,service_name,cluster_name,checker"
                         " FROM nc_cluster_health",
                         -1, &st, NULL) != SQLITE_OK)
    return fail(db, "load checkers", st);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    nc_npchk *c = nc_npchk_push(out, n, &cap);
    if (!c || !(c->ns = col(st, 0)) || !(c->group = col(st, 1)) || !(c->name = col(st, 2)) ||
        !(c->cluster = col(st, 3)) || !(c->json = col(st, 4))) {
      rc = NC_ENOMEM;
      break;
    }
  }
  if (!rc && step != SQLITE_DONE)
    rc = fail(db, "load checkers", NULL);
  sqlite3_finalize(st);
  if (rc) {
    nc_npchk_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

static int sq_put_checker(void *impl, const nc_npchk *c, int64_t ts) {
  sqlite3 *db = impl;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO nc_cluster_health(namespace_id,group_name,service_name,"
                         "cluster_name,checker,gmt_modified) VALUES(?1,?2,?3,?4,?5,?6)"
                         " ON CONFLICT(namespace_id,group_name,service_name,cluster_name)"
                         " DO UPDATE SET checker=excluded.checker,"
                         " gmt_modified=excluded.gmt_modified",
                         -1, &st, NULL) != SQLITE_OK)
    return fail(db, "put checker", st);
  sqlite3_bind_text(st, 1, c->ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, c->group, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, c->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, c->cluster, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, c->json, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, ts);
  if (sqlite3_step(st) != SQLITE_DONE)
    return fail(db, "put checker", st);
  sqlite3_finalize(st);
  return 0;
}

const nc_npdb_vt nc_npdb_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .load = sq_load,
    .put = sq_put,
    .del = sq_del,
    .set_health = sq_set_health,
    .load_checkers = sq_load_checkers,
    .put_checker = sq_put_checker,
};
