/* naming_pstore_pg: persistent instances in the cluster's PostgreSQL, the
 * one the config store uses (--db-url), on a connection of their own. The
 * connection is made lazily and made again after it broke, at most once a
 * second, so a database that is down costs a failed call, not a hang loop.
 * Every statement runs under statement_timeout; the connect under
 * connect_timeout (both the handle's timeout). The table is created at the
 * first connect, under an advisory lock so nodes starting together do not
 * race on the catalog. Blocking calls: worker thread only. */
#include "naming_pstore_db.h"

#include "nc_err.h"
#include "nc_log.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct pgi {
  char *conninfo;
  PGconn *conn;
  int timeout_ms;
  int64_t retry_at; /* monotonic ms: no connect attempt before */
  int schema_ok;
} pgi;

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char schema[] =
    "BEGIN; SELECT pg_advisory_xact_lock(7261011);"
    "CREATE TABLE IF NOT EXISTS nc_persistent_instance("
    " namespace_id VARCHAR(128) NOT NULL, group_name VARCHAR(128) NOT NULL,"
    " service_name VARCHAR(512) NOT NULL, ip VARCHAR(128) NOT NULL, port INTEGER NOT NULL,"
    " instance TEXT NOT NULL, healthy SMALLINT NOT NULL, gmt_modified BIGINT NOT NULL,"
    " PRIMARY KEY(namespace_id, group_name, service_name, ip, port));"
    "CREATE TABLE IF NOT EXISTS nc_cluster_health("
    " namespace_id VARCHAR(128) NOT NULL, group_name VARCHAR(128) NOT NULL,"
    " service_name VARCHAR(512) NOT NULL, cluster_name VARCHAR(128) NOT NULL,"
    " checker TEXT NOT NULL, gmt_modified BIGINT NOT NULL,"
    " PRIMARY KEY(namespace_id, group_name, service_name, cluster_name)); COMMIT;";

static void drop(pgi *p, const char *why) {
  nc_warn("persistent instances: PostgreSQL: %s", why);
  PQfinish(p->conn);
  p->conn = NULL;
  p->retry_at = mono_ms() + 1000;
}

static void quiet(void *ud, const char *msg) {
  (void)ud;
  (void)msg;
}

/* Connected with the schema in place: 0, NC_EUNAVAIL. */
static int ensure(pgi *p) {
  if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
    return 0;
  if (p->conn)
    drop(p, "connection lost");
  if (mono_ms() < p->retry_at)
    return NC_EUNAVAIL;
  char to[16];
  snprintf(to, sizeof(to), "%d", (p->timeout_ms + 999) / 1000);
  const char *keys[] = {"dbname", "connect_timeout", NULL};
  const char *vals[] = {p->conninfo, to, NULL};
  /* expand_dbname: conninfo may be a URL or key=value string; the
   * handle's connect_timeout comes after it and so wins */
  p->conn = PQconnectdbParams(keys, vals, 1);
  if (!p->conn || PQstatus(p->conn) != CONNECTION_OK) {
    char why[300];
    snprintf(why, sizeof(why), "connect: %s", p->conn ? PQerrorMessage(p->conn) : "out of memory");
    why[strcspn(why, "\n")] = '\0';
    drop(p, why);
    return NC_EUNAVAIL;
  }
  PQsetNoticeProcessor(p->conn, quiet, NULL); /* "already exists, skipping" */
  char set[64];
  snprintf(set, sizeof(set), "SET statement_timeout = %d", p->timeout_ms);
  PGresult *r = PQexec(p->conn, set);
  PQclear(r);
  if (!p->schema_ok) {
    r = PQexec(p->conn, schema);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
      nc_error("persistent instances: create table: %s", PQerrorMessage(p->conn));
    PQclear(r);
    if (!ok) {
      PQclear(PQexec(p->conn, "ROLLBACK"));
      return NC_EDB;
    }
    p->schema_ok = 1;
  }
  return 0;
}

static int pg_open(const nc_npdb_opts *o, void **impl) {
  pgi *p = calloc(1, sizeof(*p));
  if (!p || !(p->conninfo = strdup(o->db_url ? o->db_url : ""))) {
    free(p);
    return NC_ENOMEM;
  }
  p->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
  int rc = ensure(p); /* start-up: the table must exist; a down database is retried later */
  if (rc == NC_EDB) {
    PQfinish(p->conn);
    free(p->conninfo);
    free(p);
    return rc;
  }
  *impl = p;
  return 0;
}

static void pg_close(void *impl) {
  pgi *p = impl;
  PQfinish(p->conn);
  free(p->conninfo);
  free(p);
}

/* Runs sql with text parameters once; *out (may be NULL) the result.
 * *lost = 1 when the connection broke under it. */
static int run_once(pgi *p, const char *what, const char *sql, int n, const char *const *v,
                    PGresult **out, int *lost) {
  int rc = ensure(p);
  *lost = 0;
  if (rc)
    return rc;
  PGresult *r = PQexecParams(p->conn, sql, n, NULL, v, NULL, NULL, 0);
  ExecStatusType s = PQresultStatus(r);
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
    char why[300];
    snprintf(why, sizeof(why), "%s: %s", what, PQerrorMessage(p->conn));
    why[strcspn(why, "\n")] = '\0';
    PQclear(r);
    if (PQstatus(p->conn) != CONNECTION_OK) {
      drop(p, why);
      *lost = 1;
      return NC_EUNAVAIL;
    }
    nc_error("persistent instances: %s", why);
    return NC_EDB;
  }
  if (out)
    *out = r;
  else
    PQclear(r);
  return 0;
}

/* run_once, and once more on a new connection when an established one
 * broke under the statement (the database restarted since the last call):
 * every statement here is idempotent (upserts, keyed deletes and updates,
 * reads), so running it again is safe. */
static int run(pgi *p, const char *what, const char *sql, int n, const char *const *v,
               PGresult **out) {
  int lost = 0;
  int rc = run_once(p, what, sql, n, v, out, &lost);
  if (rc && lost) {
    p->retry_at = 0; /* no back-off for this one retry */
    rc = run_once(p, what, sql, n, v, out, &lost);
  }
  return rc;
}

static int pg_load(void *impl, const char *ns, const char *group, const char *name,
                   nc_nprow **rows, size_t *n) {
  PGresult *r = NULL;
  const char *v[3] = {ns, group, name};
  const char *sql =
      name ? "SELECT namespace_id,group_name,service_name,ip,port,instance,healthy,gmt_modified"
             " FROM nc_persistent_instance WHERE namespace_id=$1 AND group_name=$2"
             " AND service_name=$3"
           : "SELECT namespace_id,group_name,service_name,ip,port,instance,healthy,gmt_modified"
             " FROM nc_persistent_instance";
  int rc = run(impl, "load", sql, name ? 3 : 0, name ? v : NULL, &r);
  if (rc)
    return rc;
  size_t cap = 0;
  for (int i = 0; !rc && i < PQntuples(r); i++) {
    nc_nprow *row = nc_nprow_push(rows, n, &cap);
    if (!row || !(row->ns = strdup(PQgetvalue(r, i, 0))) ||
        !(row->group = strdup(PQgetvalue(r, i, 1))) || !(row->name = strdup(PQgetvalue(r, i, 2))) ||
        !(row->ip = strdup(PQgetvalue(r, i, 3))) || !(row->inst = strdup(PQgetvalue(r, i, 5)))) {
      rc = NC_ENOMEM;
      break;
    }
    row->port = atoi(PQgetvalue(r, i, 4));
    row->healthy = atoi(PQgetvalue(r, i, 6)) != 0;
    row->modified_ms = strtoll(PQgetvalue(r, i, 7), NULL, 10);
  }
  PQclear(r);
  if (rc) {
    nc_nprow_free(*rows, *n);
    *rows = NULL;
    *n = 0;
  }
  return rc;
}

static int pg_put(void *impl, const nc_nprow *row) {
  char port[16], healthy[4], ts[24];
  snprintf(port, sizeof(port), "%d", row->port);
  snprintf(healthy, sizeof(healthy), "%d", row->healthy ? 1 : 0);
  snprintf(ts, sizeof(ts), "%lld", (long long)row->modified_ms);
  const char *v[8] = {row->ns, row->group, row->name, row->ip, port, row->inst, healthy, ts};
  return run(impl, "put",
             "INSERT INTO nc_persistent_instance(namespace_id,group_name,service_name,ip,port,"
             "instance,healthy,gmt_modified) VALUES($1,$2,$3,$4,$5::int,$6,$7::smallint,$8::bigint)"
             " ON CONFLICT(namespace_id,group_name,service_name,ip,port) DO UPDATE SET"
             " instance=excluded.instance, healthy=excluded.healthy,"
             " gmt_modified=excluded.gmt_modified",
             8, v, NULL);
}

#define KEY_WHERE                                                                                  \
  " WHERE namespace_id=$1 AND group_name=$2 AND service_name=$3 AND ip=$4 AND port=$5::int"

static int changed(pgi *p, const char *what, const char *sql, int n, const char *const *v,
                   int *existed) {
  PGresult *r = NULL;
  int rc = run(p, what, sql, n, v, &r);
  if (rc)
    return rc;
  const char *t = PQcmdTuples(r);
  *existed = t && atoi(t) > 0;
  PQclear(r);
  return 0;
}

static int pg_del(void *impl, const char *ns, const char *group, const char *name,
                  const char *ip, int port, int *existed) {
  char ps[16];
  snprintf(ps, sizeof(ps), "%d", port);
  const char *v[5] = {ns, group, name, ip, ps};
  return changed(impl, "delete", "DELETE FROM nc_persistent_instance" KEY_WHERE, 5, v, existed);
}

static int pg_set_health(void *impl, const char *ns, const char *group, const char *name,
                         const char *ip, int port, int healthy, int64_t ts_ms, int *existed) {
  char ps[16], hs[4], ts[24];
  snprintf(ps, sizeof(ps), "%d", port);
  snprintf(hs, sizeof(hs), "%d", healthy ? 1 : 0);
  snprintf(ts, sizeof(ts), "%lld", (long long)ts_ms);
  const char *v[7] = {ns, group, name, ip, ps, hs, ts};
  return changed(impl, "set health",
                 "UPDATE nc_persistent_instance SET healthy=$6::smallint,"
                 " gmt_modified=$7::bigint" KEY_WHERE,
                 7, v, existed);
}

static int pg_load_checkers(void *impl, nc_npchk **out, size_t *n) {
  PGresult *r = NULL;
  int rc = run(impl, "load checkers",
               "SELECT namespace_id,group_name,service_name,cluster_name,checker"
               " FROM nc_cluster_health",
               0, NULL, &r);
  if (rc)
    return rc;
  size_t cap = 0;
  for (int i = 0; !rc && i < PQntuples(r); i++) {
    nc_npchk *c = nc_npchk_push(out, n, &cap);
    if (!c || !(c->ns = strdup(PQgetvalue(r, i, 0))) || !(c->group = strdup(PQgetvalue(r, i, 1))) ||
        !(c->name = strdup(PQgetvalue(r, i, 2))) || !(c->cluster = strdup(PQgetvalue(r, i, 3))) ||
        !(c->json = strdup(PQgetvalue(r, i, 4))))
      rc = NC_ENOMEM;
  }
  PQclear(r);
  if (rc) {
    nc_npchk_free(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

static int pg_put_checker(void *impl, const nc_npchk *c, int64_t ts_ms) {
  char ts[24];
  snprintf(ts, sizeof(ts), "%lld", (long long)ts_ms);
  const char *v[6] = {c->ns, c->group, c->name, c->cluster, c->json, ts};
  return run(impl, "put checker",
             "INSERT INTO nc_cluster_health(namespace_id,group_name,service_name,cluster_name,"
             "checker,gmt_modified) VALUES($1,$2,$3,$4,$5,$6::bigint)"
             " ON CONFLICT(namespace_id,group_name,service_name,cluster_name) DO UPDATE SET"
             " checker=excluded.checker, gmt_modified=excluded.gmt_modified",
             6, v, NULL);
}

const nc_npdb_vt nc_npdb_pg = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .load = pg_load,
    .put = pg_put,
    .del = pg_del,
    .set_health = pg_set_health,
    .load_checkers = pg_load_checkers,
    .put_checker = pg_put_checker,
};
