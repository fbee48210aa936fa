/* nc_auth_store: see nc_auth_store.h. */
#include "nc_auth_store.h"

#include "nc_err.h"
#include "nc_log.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_SCHEMA 1

struct nc_auth_store {
  sqlite3 *db;  /* standalone */
  PGconn *pg;   /* a cluster's PostgreSQL (tables from the config store's schema 2) */
  char *conninfo;
};

/* Nacos's DDL (mysql/schema.sql) in SQLite's words. */
static const char SCHEMA_1[] =
    "CREATE TABLE IF NOT EXISTS users (username TEXT NOT NULL PRIMARY KEY,"
    " password TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1);"
    "CREATE TABLE IF NOT EXISTS roles (username TEXT NOT NULL, role TEXT NOT NULL,"
    " UNIQUE (username, role));"
    "CREATE TABLE IF NOT EXISTS permissions (role TEXT NOT NULL, resource TEXT NOT NULL,"
    " action TEXT NOT NULL, UNIQUE (role, resource, action));"
    "CREATE TABLE IF NOT EXISTS nc_auth_schema (version INTEGER NOT NULL);";

static int db_fail(nc_auth_store *s, const char *what) {
  nc_error("auth store: %s: %s", what, sqlite3_errmsg(s->db));
  return NC_EDB;
}

static int migrate(nc_auth_store *s) {
  sqlite3_stmt *st = NULL;
  int version = 0, rc = 0;
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE;", NULL, NULL, NULL) != SQLITE_OK)
    return db_fail(s, "begin");
  if (sqlite3_exec(s->db, SCHEMA_1, NULL, NULL, NULL) != SQLITE_OK) {
    rc = db_fail(s, "create tables");
    goto out;
  }
  if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM nc_auth_schema", -1, &st, NULL) !=
      SQLITE_OK) {
    rc = db_fail(s, "read schema version");
    goto out;
  }
  if (sqlite3_step(st) == SQLITE_ROW)
    version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (version > AUTH_SCHEMA) {
    nc_error("auth store: schema %d is newer than this nacosd's %d", version, AUTH_SCHEMA);
    rc = NC_EDB;
    goto out;
  }
  if (version < AUTH_SCHEMA &&
      sqlite3_exec(s->db, "DELETE FROM nc_auth_schema; INSERT INTO nc_auth_schema VALUES (1);",
                   NULL, NULL, NULL) != SQLITE_OK)
    rc = db_fail(s, "write schema version");
out:
  sqlite3_exec(s->db, rc ? "ROLLBACK;" : "COMMIT;", NULL, NULL, NULL);
  return rc;
}

int nc_auth_store_open(const char *data_dir, nc_auth_store **out) {
  char path[4096];
  nc_auth_store *s = calloc(1, sizeof(*s));
  if (!s)
    return NC_ENOMEM;
  snprintf(path, sizeof(path), "%s/config.db", data_dir);
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                      SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    nc_error("auth store: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "no memory");
    nc_auth_store_close(s);
    return NC_EDB;
  }
  sqlite3_busy_timeout(s->db, 5000);
  sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL);
  if (migrate(s) != 0) {
    nc_auth_store_close(s);
    return NC_EDB;
  }
  *out = s;
  return 0;
}

/* A connection with deadlines: connect_timeout and statement_timeout, so
 * a database that stops answering costs an admin call seconds, not a hang. */
static PGconn *pg_connect(const char *conninfo) {
  const char *keys[] = {"dbname", "connect_timeout", "options", "application_name", NULL};
  const char *vals[] = {conninfo, "5", "-c statement_timeout=5000", "nacosd-auth", NULL};
  PGconn *c = PQconnectdbParams(keys, vals, 1);
  if (c && PQstatus(c) != CONNECTION_OK) {
    nc_error("auth store: cannot connect to PostgreSQL: %s", PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  return c;
}

int nc_auth_store_open_pg(const char *conninfo, nc_auth_store **out) {
  nc_auth_store *s = calloc(1, sizeof(*s));
  if (!s || !(s->conninfo = strdup(conninfo ? conninfo : ""))) {
    free(s);
    return NC_ENOMEM;
  }
  if (!(s->pg = pg_connect(s->conninfo))) {
    nc_auth_store_close(s);
    return NC_EDB;
  }
  *out = s;
  return 0;
}

int nc_auth_store_shared(const nc_auth_store *s) { return s && s->conninfo; }

void nc_auth_store_close(nc_auth_store *s) {
  if (!s)
    return;
  if (s->db)
    sqlite3_close(s->db);
  if (s->pg)
    PQfinish(s->pg);
  free(s->conninfo);
  free(s);
}

/* ---- PostgreSQL ---- */

/* Runs sql with n text parameters; the result (caller clears) or NULL after
 * a logged failure. A broken connection is reopened once. */
static PGresult *pg_run(nc_auth_store *s, const char *sql, int n, const char *const *p) {
  for (int attempt = 0; attempt < 2; attempt++) {
    if (!s->pg || PQstatus(s->pg) != CONNECTION_OK) {
      if (s->pg)
        PQfinish(s->pg);
      if (!(s->pg = pg_connect(s->conninfo)))
        return NULL;
    }
    PGresult *r = PQexecParams(s->pg, sql, n, NULL, p, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
      return r;
    int broken = PQstatus(s->pg) != CONNECTION_OK;
    nc_error("auth store: PostgreSQL: %s", PQresultErrorMessage(r));
    PQclear(r);
    if (!broken)
      return NULL;
  }
  return NULL;
}

static int pg_load(nc_auth_store *s, const nc_auth_store_rows *rows) {
  static const char *const q[3] = {
      "SELECT username, password FROM users WHERE enabled",
      "SELECT username, role FROM roles",
      "SELECT role, resource, action FROM permissions",
  };
  for (int k = 0; k < 3; k++) {
    PGresult *r = pg_run(s, q[k], 0, NULL);
    if (!r)
      return NC_EDB;
    for (int i = 0; i < PQntuples(r); i++) {
      if (k == 0)
        rows->user(rows->ud, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
      else if (k == 1)
        rows->role(rows->ud, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
      else
        rows->perm(rows->ud, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    }
    PQclear(r);
  }
  return 0;
}

int nc_auth_store_load_fresh(const char *conninfo, const nc_auth_store_rows *rows) {
  nc_auth_store t = {.conninfo = (char *)conninfo};
  if (!(t.pg = pg_connect(conninfo)))
    return NC_EDB;
  int rc = pg_load(&t, rows);
  PQfinish(t.pg);
  return rc;
}

static int pg_exec3(nc_auth_store *s, const char *sql, const char *a, const char *b,
                    const char *c) {
  const char *p[3] = {a, b, c};
  int n = c ? 3 : b ? 2 : 1;
  PGresult *r = pg_run(s, sql, n, p);
  PQclear(r);
  return r ? 0 : NC_EDB;
}

enum { USERS, ROLES, PERMS };

static int load_table(nc_auth_store *s, const char *sql, int kind,
                      const nc_auth_store_rows *rows) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
    return db_fail(s, "load");
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *c[3] = {"", "", ""};
    for (int i = 0; i < sqlite3_column_count(st) && i < 3; i++) {
      const unsigned char *v = sqlite3_column_text(st, i);
      c[i] = v ? (const char *)v : "";
    }
    if (kind == USERS)
      rows->user(rows->ud, c[0], c[1]);
    else if (kind == ROLES)
      rows->role(rows->ud, c[0], c[1]);
    else
      rows->perm(rows->ud, c[0], c[1], c[2]);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : db_fail(s, "load");
}

int nc_auth_store_load(nc_auth_store *s, const nc_auth_store_rows *rows) {
  int rc;
  if (s->conninfo)
    return pg_load(s, rows);
  if ((rc = load_table(s, "SELECT username, password FROM users WHERE enabled <> 0", USERS,
                       rows)) ||
      (rc = load_table(s, "SELECT username, role FROM roles", ROLES, rows)) ||
      (rc = load_table(s, "SELECT role, resource, action FROM permissions", PERMS, rows)))
    return rc;
  return 0;
}

/* Runs sql with up to three text parameters (NULL binds NULL). */
static int exec3(nc_auth_store *s, const char *sql, const char *a, const char *b, const char *c) {
  sqlite3_stmt *st = NULL;
  const char *p[3] = {a, b, c};
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
    return db_fail(s, "prepare");
  for (int i = 0; i < sqlite3_bind_parameter_count(st) && i < 3; i++)
    sqlite3_bind_text(st, i + 1, p[i], -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : db_fail(s, "write");
}

int nc_auth_store_put_user(nc_auth_store *s, const char *name, const char *hash) {
  if (s->conninfo)
    return pg_exec3(s,
                    "INSERT INTO users (username, password, enabled) VALUES ($1, $2, true)"
                    " ON CONFLICT (username) DO UPDATE SET password = EXCLUDED.password",
                    name, hash, NULL);
  return exec3(s,
               "INSERT INTO users (username, password, enabled) VALUES (?1, ?2, 1)"
               " ON CONFLICT (username) DO UPDATE SET password = excluded.password",
               name, hash, NULL);
}

int nc_auth_store_del_user(nc_auth_store *s, const char *name) {
  if (s->conninfo) {
    int rc = pg_exec3(s, "DELETE FROM users WHERE username = $1", name, NULL, NULL);
    return rc ? rc : pg_exec3(s, "DELETE FROM roles WHERE username = $1", name, NULL, NULL);
  }
  int rc = exec3(s, "DELETE FROM users WHERE username = ?1", name, NULL, NULL);
  return rc ? rc : exec3(s, "DELETE FROM roles WHERE username = ?1", name, NULL, NULL);
}

int nc_auth_store_put_role(nc_auth_store *s, const char *user, const char *role) {
  if (s->conninfo)
    return pg_exec3(s,
                    "INSERT INTO roles (username, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    user, role, NULL);
  return exec3(s, "INSERT OR IGNORE INTO roles (username, role) VALUES (?1, ?2)", user, role,
               NULL);
}

int nc_auth_store_del_role(nc_auth_store *s, const char *user, const char *role) {
  if (s->conninfo) {
    const char *p[2] = {user, role};
    PGresult *r = pg_run(s,
                         "DELETE FROM roles WHERE ($1::text IS NULL OR username = $1) AND "
                         "($2::text IS NULL OR role = $2)",
                         2, p);
    PQclear(r);
    return r ? 0 : NC_EDB;
  }
  return exec3(s,
               "DELETE FROM roles WHERE (?1 IS NULL OR username = ?1) AND (?2 IS NULL OR role = ?2)",
               user, role, NULL);
}

int nc_auth_store_put_perm(nc_auth_store *s, const char *role, const char *res, const char *act) {
  if (s->conninfo)
    return pg_exec3(s,
                    "INSERT INTO permissions (role, resource, action) VALUES ($1, $2, $3)"
                    " ON CONFLICT DO NOTHING",
                    role, res, act);
  return exec3(s, "INSERT OR IGNORE INTO permissions (role, resource, action) VALUES (?1, ?2, ?3)",
               role, res, act);
}

int nc_auth_store_del_perm(nc_auth_store *s, const char *role, const char *res, const char *act) {
  if (s->conninfo)
    return pg_exec3(s,
                    "DELETE FROM permissions WHERE role = $1 AND resource = $2 AND action = $3",
                    role, res, act);
  return exec3(s, "DELETE FROM permissions WHERE role = ?1 AND resource = ?2 AND action = ?3",
               role, res, act);
}
