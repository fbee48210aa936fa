/* naming_meta_db: the rows of naming_meta (see naming_meta.h) in SQLite
 * (<data_dir>/config.db, the config store's file) or PostgreSQL, on a
 * connection of their own. One additive table, created when absent (the
 * config schema's version is not touched; Java Nacos nodes on the same
 * PostgreSQL ignore it). Statements are prepared per call: metadata
 * writes are rare admin calls. */
#include "naming_meta.h"

#include "nc_err.h"
#include "nc_log.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define TIMEOUT_MS 2000
#define CONNECT_TIMEOUT_MS 2000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS nc_naming_meta("
    " kind CHAR(1) NOT NULL, namespace_id VARCHAR(128) NOT NULL, group_name VARCHAR(128) NOT NULL,"
    " service_name VARCHAR(512) NOT NULL, mkey VARCHAR(320) NOT NULL, value TEXT NOT NULL,"
    " gmt_modified BIGINT NOT NULL,"
    " PRIMARY KEY(kind, namespace_id, group_name, service_name, mkey))";

struct nc_nmeta_db {
  sqlite3 *sq;
  PGconn *pg;
};

void nc_nmeta_rows_free(nc_nmeta_row *rows, size_t n) {
  for (size_t i = 0; rows && i < n; i++) {
    free(rows[i].ns);
    free(rows[i].group);
    free(rows[i].name);
    free(rows[i].mkey);
    free(rows[i].value);
  }
  free(rows);
}

/* ---- PostgreSQL ---- */

/* The connection, reconnected when it broke; NULL when unreachable. */
static PGconn *pg_conn(nc_nmeta_db *db) {
  if (PQstatus(db->pg) != CONNECTION_OK) {
    PQreset(db->pg);
    if (PQstatus(db->pg) != CONNECTION_OK)
      return NULL;
  }
  return db->pg;
}

static int pg_exec(nc_nmeta_db *db, const char *sql, int np, const char *const *params,
                   PGresult **out) {
  PGconn *c = pg_conn(db);
  if (!c) {
    nc_warn("naming metadata: PostgreSQL unreachable: %s", PQerrorMessage(db->pg));
    return NC_EUNAVAIL;
  }
  PGresult *res = PQexecParams(c, sql, np, NULL, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    nc_error("naming metadata: %s", PQresultErrorMessage(res));
    PQclear(res);
    return PQstatus(c) == CONNECTION_OK ? NC_EDB : NC_EUNAVAIL;
  }
  if (out)
    *out = res;
  else
    PQclear(res);
  return 0;
}

/* connect_timeout bounds a reconnect to an unreachable host (PQreset
 * reuses these parameters) and the statement timeout rides in the
 * connection's options, so it survives a reset too. */
static int pg_open(const nc_nmeta_opts *o, nc_nmeta_db *db) {
  char ct[16], opt[64];
  snprintf(ct, sizeof(ct), "%d", (CONNECT_TIMEOUT_MS + 999) / 1000);
  snprintf(opt, sizeof(opt), "-c statement_timeout=%d", TIMEOUT_MS);
  const char *keys[] = {"dbname", "connect_timeout", "options", "application_name", NULL};
  const char *vals[] = {o->db_url ? o->db_url : "", ct, opt, "nacosd-naming-meta", NULL};
  db->pg = PQconnectdbParams(keys, vals, 1);
  if (!db->pg)
    return NC_ENOMEM;
  if (PQstatus(db->pg) != CONNECTION_OK) {
    nc_error("naming metadata: cannot connect to PostgreSQL: %s", PQerrorMessage(db->pg));
    return NC_EUNAVAIL;
  }
  int rc = 0;
  /* members starting together race on CREATE TABLE IF NOT EXISTS (a
   * unique violation in pg_type for all but one): the table is there
   * once anyone won, so try again */
  for (int i = 0; i < 5; i++) {
    if (!(rc = pg_exec(db, schema, 0, NULL, NULL)) || rc != NC_EDB || i == 4)
      break;
    usleep(100000);
  }
  return rc;
}

/* ---- SQLite ---- */

static int sq_open(const nc_nmeta_opts *o, nc_nmeta_db *db) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/config.db", o->data_dir ? o->data_dir : ".");
  if (sqlite3_open_v2(path, &db->sq, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                         SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    nc_error("naming metadata: open %s: %s", path,
             db->sq ? sqlite3_errmsg(db->sq) : "out of memory");
    return NC_EDB;
  }
  /* the config writer may hold the write lock for a group commit */
  sqlite3_busy_timeout(db->sq, TIMEOUT_MS);
  if (sqlite3_exec(db->sq, schema, NULL, NULL, NULL) != SQLITE_OK) {
    nc_error("naming metadata: create table in %s: %s", path, sqlite3_errmsg(db->sq));
    return NC_EDB;
  }
  return 0;
}

static char *col(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return strdup(t ? (const char *)t : "");
}

/* ---- both ---- */

int nc_nmeta_db_open(const nc_nmeta_opts *o, nc_nmeta_db **out) {
  nc_nmeta_db *db = calloc(1, sizeof(*db));
  if (!db)
    return NC_ENOMEM;
  int pg = o->backend && !strcasecmp(o->backend, "postgresql");
  if (o->backend && !pg && strcasecmp(o->backend, "sqlite")) {
    free(db);
    return NC_EINVAL;
  }
  int rc = pg ? pg_open(o, db) : sq_open(o, db);
  if (rc) {
    nc_nmeta_db_close(db);
    return rc;
  }
  *out = db;
  return 0;
}

void nc_nmeta_db_close(nc_nmeta_db *db) {
  if (!db)
    return;
  sqlite3_close(db->sq);
  if (db->pg)
    PQfinish(db->pg);
  free(db);
}

int nc_nmeta_db_shared(const nc_nmeta_db *db) { return db->pg != NULL; }

static const char load_sql[] =
    "SELECT kind, namespace_id, group_name, service_name, mkey, value FROM nc_naming_meta";

static int add_row(nc_nmeta_row **rows, size_t *n, size_t *cap, const char *const f[6]) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    nc_nmeta_row *r = realloc(*rows, nc * sizeof(*r));
    if (!r)
      return NC_ENOMEM;
    *rows = r;
    *cap = nc;
  }
  nc_nmeta_row *r = &(*rows)[*n];
  *r = (nc_nmeta_row){f[0][0], strdup(f[1]), strdup(f[2]), strdup(f[3]), strdup(f[4]),
                      strdup(f[5])};
  (*n)++;
  return r->ns && r->group && r->name && r->mkey && r->value ? 0 : NC_ENOMEM;
}

int nc_nmeta_db_load(nc_nmeta_db *db, nc_nmeta_row **rows, size_t *n) {
  size_t cap = 0;
  int rc = 0;
  *rows = NULL;
  *n = 0;
  if (db->pg) {
    PGresult *res = NULL;
    if ((rc = pg_exec(db, load_sql, 0, NULL, &res)) == NC_EUNAVAIL)
      rc = pg_exec(db, load_sql, 0, NULL, &res); /* as nc_nmeta_db_write */
    if (rc)
      return rc;
    for (int i = 0; i < PQntuples(res) && !rc; i++) {
      const char *f[6];
      for (int k = 0; k < 6; k++)
        f[k] = PQgetvalue(res, i, k);
      rc = add_row(rows, n, &cap, f);
    }
    PQclear(res);
  } else {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sq, load_sql, -1, &st, NULL) != SQLITE_OK) {
      nc_error("naming metadata: load: %s", sqlite3_errmsg(db->sq));
      return NC_EDB;
    }
    int s;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
      char *f[6];
      for (int k = 0; k < 6; k++)
        f[k] = col(st, k);
      rc = f[0] && f[0][0] ? add_row(rows, n, &cap, (const char *const *)f) : 0;
      for (int k = 0; k < 6; k++)
        free(f[k]);
    }
    sqlite3_finalize(st);
  }
  if (rc) {
    nc_nmeta_rows_free(*rows, *n);
    *rows = NULL;
    *n = 0;
  }
  return rc;
}

static int pg_write(nc_nmeta_db *db, const char *const *p, int del) {
  static const char del_pg[] = "DELETE FROM nc_naming_meta WHERE kind=$1 AND namespace_id=$2 AND "
                               "group_name=$3 AND service_name=$4 AND mkey=$5";
  static const char put_pg[] =
      "INSERT INTO nc_naming_meta VALUES($1,$2,$3,$4,$5,$6,$7) ON CONFLICT(kind, namespace_id, "
      "group_name, service_name, mkey) DO UPDATE SET value=EXCLUDED.value, "
      "gmt_modified=EXCLUDED.gmt_modified";
  return pg_exec(db, del ? del_pg : put_pg, del ? 5 : 7, p, NULL);
}

static int sq_exec(nc_nmeta_db *db, const char *sql, int np, const char *const *p) {
  sqlite3_stmt *st = NULL;
  int rc = 0;
  if (sqlite3_prepare_v2(db->sq, sql, -1, &st, NULL) != SQLITE_OK) {
    rc = NC_EDB;
    goto out;
  }
  for (int i = 0; i < np; i++)
    sqlite3_bind_text(st, i + 1, p[i], -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st) != SQLITE_DONE)
    rc = NC_EDB;
out:
  if (rc)
    nc_error("naming metadata: write: %s", sqlite3_errmsg(db->sq));
  sqlite3_finalize(st);
  return rc;
}

static int sq_write(nc_nmeta_db *db, const char *const *p, int del) {
  static const char del_sq[] = "DELETE FROM nc_naming_meta WHERE kind=?1 AND namespace_id=?2 AND "
                               "group_name=?3 AND service_name=?4 AND mkey=?5";
  static const char put_sq[] = "INSERT OR REPLACE INTO nc_naming_meta VALUES(?1,?2,?3,?4,?5,?6,?7)";
  return sq_exec(db, del ? del_sq : put_sq, del ? 5 : 7, p);
}

static int tx(nc_nmeta_db *db, const char *sql) {
  return db->pg ? pg_exec(db, sql, 0, NULL, NULL) : sq_exec(db, sql, 0, NULL);
}

static int write_once(nc_nmeta_db *db, const char *ns, const char *group, const char *name,
                      const nc_nmeta_dbop *ops, size_t n) {
  char ts[24];
  snprintf(ts, sizeof(ts), "%lld", (long long)nc_now_ms());
  /* several rows commit together or not at all */
  int rc = n > 1 ? tx(db, db->pg ? "BEGIN" : "BEGIN IMMEDIATE") : 0;
  for (size_t i = 0; !rc && i < n; i++) {
    char k[2] = {(char)ops[i].kind, 0};
    const char *p[7] = {k, ns, group, name, ops[i].mkey, ops[i].value, ts};
    rc = db->pg ? pg_write(db, p, !ops[i].value) : sq_write(db, p, !ops[i].value);
  }
  if (n > 1 && !rc)
    rc = tx(db, "COMMIT");
  if (n > 1 && rc && (!db->pg || PQstatus(db->pg) == CONNECTION_OK))
    tx(db, "ROLLBACK");
  return rc;
}

/* A connection PostgreSQL dropped while idle (a restart) shows only when
 * used: the rows are written again once on a fresh one (idempotent). */
int nc_nmeta_db_write(nc_nmeta_db *db, const char *ns, const char *group, const char *name,
                      const nc_nmeta_dbop *ops, size_t n) {
  int rc = write_once(db, ns, group, name, ops, n);
  if (rc == NC_EUNAVAIL && db->pg)
    rc = write_once(db, ns, group, name, ops, n);
  return rc;
}
