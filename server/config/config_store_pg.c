/* PostgreSQL backend of config_store.h: the connection, the schema, reads
 * and the change feed. The write path is config_store_pg_apply.c.
 *
 * Tables are Nacos's own (config_info, his_config_info, tenant_info, as in
 * Nacos's PostgreSQL schema), so nacos-c and a Java Nacos can use one
 * database. nacos-c adds two indexes and a version table, nc_schema, which
 * records the schema it migrated to; migrations run at connect under an
 * advisory lock (several nodes start at once) and each is logged.
 *
 * Times: every timestamp nacos-c writes is the database's clock
 * (clock_timestamp(), session TimeZone UTC), read back as epoch ms. Nodes
 * compare those, never their own clocks. */
#include "config_pg.h"
#include "config_ns_int.h"
#include "config_util.h"
#include "nc_err.h"
#include "nc_log.h"
#include "nc_md5.h"

#include <cJSON.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS(x) "(extract(epoch from " x ")*1000)::int8"
#define KEY_WHERE "data_id=$1 AND group_id=$2 AND tenant_id=$3"
#define SCHEMA_VERSION 2

int64_t pgs_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connection ---- */

void pgs_state(const PGresult *r, char state[6]) {
  const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  snprintf(state, 6, "%s", st ? st : "");
}

/* One log line: libpq's messages carry newlines and tabs. */
void pgs_set_err(pg_store *s, const char *msg) {
  snprintf(s->err, sizeof(s->err), "%s", msg && *msg ? msg : "connection lost");
  for (char *p = s->err; *p; p++)
    if (*p == '\n' || *p == '\t')
      *p = ' ';
  size_t n = strlen(s->err);
  while (n && s->err[n - 1] == ' ')
    s->err[--n] = '\0';
}
#define set_err pgs_set_err

void pgs_drop(pg_store *s, const char *why) {
  if (s->conn) {
    set_err(s, why ? why : PQerrorMessage(s->conn));
    nc_warn("config store: PostgreSQL connection lost: %s", s->err);
    PQfinish(s->conn);
    s->conn = NULL;
  }
  s->listening = 0;
  atomic_store(&s->up, 0);
  atomic_store(&s->backend_pid, 0);
  s->backoff_ms = s->backoff_ms ? (s->backoff_ms * 2 > 5000 ? 5000 : s->backoff_ms * 2) : 100;
  s->retry_at_ms = pgs_mono_ms() + s->backoff_ms;
}

/* Waits for the socket; 0 when ready, NC_EDB on timeout or error. */
static int wait_sock(pg_store *s, short events, int64_t deadline) {
  int64_t left = deadline - pgs_mono_ms();
  if (left <= 0)
    return NC_EDB;
  struct pollfd p = {.fd = PQsocket(s->conn), .events = events};
  if (p.fd < 0)
    return NC_EDB;
  int r = poll(&p, 1, (int)left);
  if (r < 0 && errno == EINTR)
    return 0;
  return r > 0 ? 0 : NC_EDB;
}

int pgs_flush(pg_store *s, int64_t deadline) {
  for (;;) {
    int r = PQflush(s->conn);
    if (r == 0)
      return 0;
    if (r < 0 || wait_sock(s, POLLOUT | POLLIN, deadline) != 0 || !PQconsumeInput(s->conn)) {
      pgs_drop(s, r < 0 ? NULL : "timed out sending to PostgreSQL");
      return NC_EDB;
    }
  }
}

PGresult *pgs_next(pg_store *s, int64_t deadline, int *rc) {
  while (PQisBusy(s->conn)) {
    if (wait_sock(s, POLLIN, deadline) != 0) {
      pgs_drop(s, "PostgreSQL did not answer in time");
      *rc = NC_EDB;
      return NULL;
    }
    if (!PQconsumeInput(s->conn)) {
      pgs_drop(s, NULL);
      *rc = NC_EDB;
      return NULL;
    }
  }
  return PQgetResult(s->conn);
}

int pgs_exec(pg_store *s, const char *name, const char *sql, int n, const char *const *vals,
             const int *lens, PGresult **out, char state[6]) {
  int64_t deadline = pgs_mono_ms() + s->timeout_ms;
  int rc = 0, sent;
  PGresult *last = NULL, *r;
  if (state)
    state[0] = '\0';
  if (!s->conn)
    return NC_EDB;
  /* Without parameters: the simple protocol, which takes several commands. */
  sent = name  ? PQsendQueryPrepared(s->conn, name, n, vals, lens, NULL, 0)
         : n   ? PQsendQueryParams(s->conn, sql, n, NULL, vals, lens, NULL, 0)
               : PQsendQuery(s->conn, sql);
  if (!sent) {
    pgs_drop(s, NULL);
    return NC_EDB;
  }
  if ((rc = pgs_flush(s, deadline)) != 0)
    return rc;
  while ((r = pgs_next(s, deadline, &rc)) != NULL) {
    PQclear(last);
    last = r;
  }
  if (rc)
    goto fail;
  ExecStatusType st = last ? PQresultStatus(last) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    if (state)
      pgs_state(last, state);
    set_err(s, last ? PQresultErrorMessage(last) : "no result");
    if (PQstatus(s->conn) == CONNECTION_BAD)
      pgs_drop(s, NULL);
    rc = NC_EDB;
    goto fail;
  }
  if (out)
    *out = last;
  else
    PQclear(last);
  return 0;
fail:
  PQclear(last);
  return rc;
}

/* A command without parameters or rows; logs a failure as what. */
static int run(pg_store *s, const char *sql, const char *what) {
  if (pgs_exec(s, NULL, sql, 0, NULL, NULL, NULL, NULL) == 0)
    return 0;
  nc_error("config store: %s failed: %s", what, s->err);
  return NC_EDB;
}

/* ---- schema ---- */

/* Schema 1: the Nacos tables nacos-c uses (created only when absent: an
 * existing Nacos database is adopted as it is) plus nacos-c's indexes. */
static const char create_v1[] =
    "CREATE TABLE config_info ("
    " id bigserial PRIMARY KEY, data_id varchar(255) NOT NULL, group_id varchar(255),"
    " content text NOT NULL, md5 varchar(32),"
    " gmt_create timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " gmt_modified timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " src_user text, src_ip varchar(20), app_name varchar(128),"
    " tenant_id varchar(128) NOT NULL DEFAULT '', c_desc varchar(256), c_use varchar(64),"
    " effect varchar(64), type varchar(64), c_schema text, encrypted_data_key text NOT NULL);"
    "CREATE UNIQUE INDEX uk_configinfo_datagrouptenant ON config_info (data_id, group_id, tenant_id);"
    "CREATE TABLE his_config_info ("
    " id int8 NOT NULL, nid bigserial PRIMARY KEY, data_id varchar(255) NOT NULL,"
    " group_id varchar(128) NOT NULL, app_name varchar(128), content text NOT NULL,"
    " md5 varchar(32), gmt_create timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " gmt_modified timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP, src_user text,"
    " src_ip varchar(20), op_type char(10), tenant_id varchar(128) NOT NULL DEFAULT '',"
    " encrypted_data_key text NOT NULL, publish_type varchar(50) DEFAULT 'formal',"
    " gray_name varchar(50), ext_info text);"
    "CREATE INDEX idx_did ON his_config_info (data_id);"
    "CREATE INDEX idx_gmt_create ON his_config_info (gmt_create);"
    "CREATE INDEX idx_gmt_modified ON his_config_info (gmt_modified);"
    "CREATE TABLE tenant_info ("
    " id bigserial PRIMARY KEY, kp varchar(128) NOT NULL, tenant_id varchar(128),"
    " tenant_name varchar(128), tenant_desc varchar(256), create_source varchar(32),"
    " gmt_create timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,"
    " gmt_modified timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP);"
    "CREATE UNIQUE INDEX uk_tenant_info_kptenantid ON tenant_info (kp, tenant_id);";

/* Schema 2: Nacos's users, roles and permissions (the auth store's, shared
 * by the cluster), created when absent; Nacos's PostgreSQL users table has
 * no unique key, nacos-c adds one (an upsert needs it). */
static const char create_v2[] =
    "CREATE TABLE IF NOT EXISTS users (username varchar(50) NOT NULL, password varchar(500) NOT "
    "NULL, enabled boolean NOT NULL);"
    "CREATE TABLE IF NOT EXISTS roles (username varchar(50) NOT NULL, role varchar(50) NOT NULL);"
    "CREATE TABLE IF NOT EXISTS permissions (role varchar(50) NOT NULL, resource varchar(512) NOT "
    "NULL, action varchar(8) NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS uk_username_role ON roles (username, role);"
    "CREATE UNIQUE INDEX IF NOT EXISTS uk_role_permission ON permissions (role, resource, action);"
    "CREATE UNIQUE INDEX IF NOT EXISTS nc_users_username ON users (username);";

/* nacos-c's own additions to schema 1 (also on an adopted database). */
static const char extra_v1[] =
    "CREATE INDEX IF NOT EXISTS nc_config_info_modified ON config_info (gmt_modified);"
    "CREATE INDEX IF NOT EXISTS nc_his_config_info_key ON his_config_info "
    "(tenant_id, group_id, data_id, nid);";

static int migrate(pg_store *s) {
  PGresult *r = NULL;
  int rc = NC_EDB, version = 0;
  if (run(s, "BEGIN", "schema: begin") ||
      run(s, "SELECT pg_advisory_xact_lock(7161430531)", "schema: lock") ||
      run(s,
          "CREATE TABLE IF NOT EXISTS nc_schema (component text PRIMARY KEY, version int NOT "
          "NULL, updated timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP)",
          "schema: version table"))
    goto out;
  if (pgs_exec(s, NULL, "SELECT version FROM nc_schema WHERE component='config'", 0, NULL, NULL,
               &r, NULL) != 0)
    goto out;
  if (PQntuples(r) > 0)
    version = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  r = NULL;
  if (version > SCHEMA_VERSION) {
    nc_error("config store: the database has config schema %d, newer than this nacosd knows "
             "(%d); refusing to use it (upgrade nacosd)",
             version, SCHEMA_VERSION);
    set_err(s, "the database's config schema is newer than this nacosd");
    rc = NC_EINVAL;
    goto out;
  }
  if (version == 0) {
    if (pgs_exec(s, NULL, "SELECT to_regclass('config_info') IS NOT NULL", 0, NULL, NULL, &r,
                 NULL) != 0)
      goto out;
    int nacos_db = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    r = NULL;
    if (nacos_db)
      nc_info("config store: adopting the existing Nacos tables (config_info, his_config_info) "
              "as config schema 1");
    else if (run(s, create_v1, "schema: create"))
      goto out;
    else
      nc_info("config store: created config schema 1 (Nacos tables)");
    if (run(s, extra_v1, "schema: indexes") ||
        run(s, "INSERT INTO nc_schema(component, version) VALUES ('config', 1)", "schema: record"))
      goto out;
    version = 1;
  }
  if (version < 2) {
    if (run(s, create_v2, "schema 2: users, roles, permissions") ||
        run(s, "UPDATE nc_schema SET version = 2, updated = now() WHERE component = 'config'",
            "schema: record"))
      goto out;
    nc_info("config store: config schema %d -> 2 (users, roles, permissions)", version);
  }
  rc = run(s, "COMMIT", "schema: commit");
out:
  PQclear(r);
  if (rc && s->conn)
    pgs_exec(s, NULL, "ROLLBACK", 0, NULL, NULL, NULL, NULL);
  return rc;
}

/* ---- statements prepared on every connection ---- */

/* ext_info of a history row: the version's type and the rollback it was
 * (JSON by concatenation: types are validated words, ids numbers). */
#define EXT_INFO(type, rb) "'{\"type\":\"' || " type " || '\",\"nc_rollback_of\":' || " rb " || '}'"

static const struct {
  const char *name, *sql;
} prepared[] = {
    {PGS_LOCK, "SELECT COALESCE(md5,''), " MS("gmt_create") ", octet_length(content) FROM "
               "config_info WHERE " KEY_WHERE " FOR UPDATE"},
    /* One statement per publish: the upsert, the history row (Nacos: 'U'
     * keeps the version replaced, copied from the statement's snapshot of
     * the row; 'I' the version created) and the NOTIFY delivered at commit.
     * $1-$3 key, $4 content, $5 md5, $6 src_user, $7 src_ip, $8 app_name,
     * $9 type, $10 encrypted_data_key, $11 rollback_of. */
    {PGS_PUT,
     "WITH old AS (SELECT id, app_name, content, md5, gmt_create, encrypted_data_key, "
     "COALESCE(type,'text') AS type FROM config_info WHERE " KEY_WHERE "), "
     "up AS (INSERT INTO config_info(data_id,group_id,tenant_id,content,md5,gmt_create,"
     "gmt_modified,src_user,src_ip,app_name,type,encrypted_data_key) VALUES($1,$2,$3,$4,$5,"
     "clock_timestamp(),clock_timestamp(),$6,left($7,20),$8,$9,$10) ON CONFLICT "
     "(data_id,group_id,tenant_id) DO UPDATE SET content=EXCLUDED.content,md5=EXCLUDED.md5,"
     "gmt_modified=EXCLUDED.gmt_modified,src_user=EXCLUDED.src_user,src_ip=EXCLUDED.src_ip,"
     "app_name=EXCLUDED.app_name,type=EXCLUDED.type,encrypted_data_key=EXCLUDED.encrypted_data_key "
     "RETURNING id, gmt_create, gmt_modified, xmax::text <> '0' AS upd), "
     "h AS (INSERT INTO his_config_info(id,data_id,group_id,tenant_id,app_name,content,md5,"
     "gmt_create,gmt_modified,src_user,src_ip,op_type,encrypted_data_key,publish_type,ext_info) "
     "SELECT o.id,$1,$2,$3,o.app_name,o.content,o.md5,o.gmt_create,u.gmt_modified,$6,left($7,20),"
     "'U',o.encrypted_data_key,'formal'," EXT_INFO("o.type", "$11::int8::text") " FROM old o, up u "
     "UNION ALL SELECT u.id,$1,$2,$3,$8,$4,$5,u.gmt_create,u.gmt_modified,$6,left($7,20),'I',$10,"
     "'formal'," EXT_INFO("$9", "$11::int8::text") " FROM up u WHERE NOT EXISTS (SELECT 1 FROM old)), "
     "n AS (SELECT pg_notify('" NC_PG_CHANNEL "', $3 || chr(2) || $2 || chr(2) || $1 || chr(2) || "
     "(SELECT " MS("gmt_modified") " FROM up)::text) AS x) "
     "SELECT " MS("u.gmt_create") ", " MS("u.gmt_modified") ", u.upd, (SELECT count(*) FROM n) "
     "FROM up u"},
    /* One statement per remove of an existing key: the delete, its 'D'
     * history row (the version removed) and the NOTIFY. $1-$3 key,
     * $4 src_user, $5 src_ip. */
    {PGS_REMOVE,
     "WITH d AS (DELETE FROM config_info WHERE " KEY_WHERE " RETURNING id, app_name, content, md5, "
     "gmt_create, encrypted_data_key, COALESCE(type,'text') AS type, clock_timestamp() AS t), "
     "h AS (INSERT INTO his_config_info(id,data_id,group_id,tenant_id,app_name,content,md5,"
     "gmt_create,gmt_modified,src_user,src_ip,op_type,encrypted_data_key,publish_type,ext_info) "
     "SELECT d.id,$1,$2,$3,d.app_name,d.content,d.md5,d.gmt_create,d.t,$4,left($5,20),'D',"
     "d.encrypted_data_key,'formal'," EXT_INFO("d.type", "'0'") " FROM d), "
     "n AS (SELECT pg_notify('" NC_PG_CHANNEL "', $3 || chr(2) || $2 || chr(2) || $1 || chr(2) || "
     "'0') AS x) "
     "SELECT " MS("d.t") ", (SELECT count(*) FROM n) FROM d"},
};

static int prepare_all(pg_store *s) {
  int64_t deadline = pgs_mono_ms() + s->timeout_ms;
  for (size_t i = 0; i < sizeof(prepared) / sizeof(prepared[0]); i++) {
    int rc = 0;
    if (!PQsendPrepare(s->conn, prepared[i].name, prepared[i].sql, 0, NULL) ||
        pgs_flush(s, deadline) != 0) {
      pgs_drop(s, NULL);
      return NC_EDB;
    }
    PGresult *r, *last = NULL;
    while ((r = pgs_next(s, deadline, &rc)) != NULL) {
      PQclear(last);
      last = r;
    }
    int ok = !rc && last && PQresultStatus(last) == PGRES_COMMAND_OK;
    if (!ok && last)
      nc_error("config store: prepare %s: %s", prepared[i].name, PQresultErrorMessage(last));
    PQclear(last);
    if (!ok)
      return NC_EDB;
  }
  return 0;
}

/* ---- connect ---- */

/* Server NOTICEs ("already exists, skipping") go to the debug log, not to
 * stderr raw. */
static void on_notice(void *arg, const char *msg) {
  (void)arg;
  nc_debug("config store: PostgreSQL: %.*s", (int)strcspn(msg, "\n"), msg);
}

static int connect_now(pg_store *s) {
  int64_t deadline = pgs_mono_ms() + s->timeout_ms;
  s->conn = PQconnectStart(s->conninfo);
  if (!s->conn) {
    set_err(s, "out of memory");
    return NC_EDB;
  }
  if (PQstatus(s->conn) == CONNECTION_BAD)
    goto bad;
  for (PostgresPollingStatusType st = PGRES_POLLING_WRITING; st != PGRES_POLLING_OK;) {
    if (st == PGRES_POLLING_FAILED)
      goto bad;
    if (wait_sock(s, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline) != 0) {
      set_err(s, "connect timed out");
      goto fail;
    }
    st = PQconnectPoll(s->conn);
  }
  PQsetNoticeProcessor(s->conn, on_notice, NULL);
  if (PQsetnonblocking(s->conn, 1) != 0)
    goto bad;
  int rc = 0;
  if (run(s, "SET TimeZone='UTC'; SET application_name='nacosd'", "session setup") ||
      (rc = migrate(s)) != 0 || prepare_all(s) ||
      (s->want_listen && run(s, "LISTEN " NC_PG_CHANNEL, "LISTEN"))) {
    if (s->conn && rc == NC_EINVAL) {
      PQfinish(s->conn);
      s->conn = NULL;
      return NC_EINVAL;
    }
    goto fail;
  }
  s->listening = s->want_listen;
  return 0;
bad:
  set_err(s, PQerrorMessage(s->conn));
fail:
  if (s->conn) {
    PQfinish(s->conn);
    s->conn = NULL;
  }
  return NC_EDB;
}

/* An idle connection the server ended (a PostgreSQL restart sends FATAL
 * 57P01 and closes) is readable: found here, before a write is spent on
 * it. Returns 0 when it is still good. */
static int went_stale(pg_store *s) {
  struct pollfd p = {.fd = PQsocket(s->conn), .events = POLLIN};
  if (p.fd < 0)
    return 1;
  if (poll(&p, 1, 0) <= 0)
    return 0;
  /* Notifications are queued for PQnotifies; a closed socket fails here. */
  return !PQconsumeInput(s->conn) || PQstatus(s->conn) != CONNECTION_OK;
}

int pgs_ensure(pg_store *s) {
  if (s->conn && PQstatus(s->conn) == CONNECTION_OK && !went_stale(s))
    return 0;
  if (s->conn) {
    int was_up = atomic_load(&s->up);
    pgs_drop(s, NULL);
    if (was_up) /* it worked until now: reconnect at once, no back-off */
      s->retry_at_ms = 0, s->backoff_ms = 0;
  }
  if (pgs_mono_ms() < s->retry_at_ms)
    return NC_EUNAVAIL;
  int rc = connect_now(s);
  if (rc != 0) {
    pgs_drop(s, NULL); /* starts the back-off */
    nc_warn("config store: cannot connect to PostgreSQL: %s (next attempt in %d ms)", s->err,
            s->backoff_ms);
    return rc;
  }
  if (s->ever_connected)
    nc_info("config store: reconnected to PostgreSQL");
  s->ever_connected = 1;
  s->backoff_ms = 0;
  atomic_store(&s->backend_pid, PQbackendPID(s->conn));
  atomic_store(&s->up, 1);
  return 0;
}

/* ---- vtable: open / close ---- */

static void pg_close(void *impl) {
  pg_store *s = impl;
  if (!s)
    return;
  if (s->conn)
    PQfinish(s->conn);
  free(s->conninfo);
  free(s);
}

static int pg_open(const nc_cfg_store_opts *opts, void **impl) {
  pg_store *s = calloc(1, sizeof(*s));
  if (!s)
    return NC_ENOMEM;
  s->history_keep = opts->history_keep > 0 ? opts->history_keep : 30;
  s->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 5000;
  if (!(s->conninfo = strdup(opts->db_url ? opts->db_url : ""))) {
    free(s);
    return NC_ENOMEM;
  }
  int rc = pgs_ensure(s);
  if (rc) {
    nc_error("config store: PostgreSQL unavailable at start: %s", s->err);
    pg_close(s);
    return rc == NC_EINVAL ? rc : NC_EDB;
  }
  *impl = s;
  return 0;
}

/* ---- reads ---- */

static char *val_dup(const PGresult *r, int row, int col, size_t *len) {
  size_t n = (size_t)PQgetlength(r, row, col);
  char *out = malloc(n + 1);
  if (!out)
    return NULL;
  memcpy(out, PQgetvalue(r, row, col), n);
  out[n] = '\0';
  if (len)
    *len = n;
  return out;
}

static int64_t val_i64(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

#define ITEM_COLS                                                                                \
  "SELECT data_id, COALESCE(group_id,''), tenant_id, content, COALESCE(md5,''),"                 \
  " COALESCE(type,''), COALESCE(app_name,''), COALESCE(src_user,''), COALESCE(src_ip,''),"       \
  " COALESCE(encrypted_data_key,''), " MS("gmt_create") ", " MS("gmt_modified") " FROM config_info"

static nc_cfg_item *row_item(const PGresult *r, int row) {
  nc_cfg_item *it = calloc(1, sizeof(*it));
  if (!it)
    return NULL;
  it->data_id = val_dup(r, row, 0, NULL);
  it->group = val_dup(r, row, 1, NULL);
  /* Nacos 3.x may store the default namespace as "public". */
  it->tenant = strdup(nc_cfg_norm_tenant(PQgetvalue(r, row, 2)));
  it->content = val_dup(r, row, 3, &it->content_len);
  const char *md5 = PQgetvalue(r, row, 4);
  if (*md5)
    snprintf(it->md5, sizeof(it->md5), "%s", md5);
  else if (it->content) /* a row written without one */
    nc_md5_hex(it->content, it->content_len, it->md5);
  const char *type = PQgetvalue(r, row, 5);
  it->type = strdup(*type ? type : "text");
  it->app_name = val_dup(r, row, 6, NULL);
  it->src_user = val_dup(r, row, 7, NULL);
  it->src_ip = val_dup(r, row, 8, NULL);
  it->encrypted_data_key = val_dup(r, row, 9, NULL);
  it->created_ms = val_i64(r, row, 10);
  it->modified_ms = val_i64(r, row, 11);
  if (!it->data_id || !it->group || !it->tenant || !it->content || !it->type || !it->app_name ||
      !it->src_user || !it->src_ip || !it->encrypted_data_key) {
    nc_cfg_item_free(it);
    return NULL;
  }
  return it;
}

static int pg_scan(void *impl, void (*fn)(void *ud, const nc_cfg_item *it), void *ud) {
  pg_store *s = impl;
  PGresult *r = NULL;
  int rc = pgs_ensure(s);
  if (rc || (rc = pgs_exec(s, NULL, ITEM_COLS, 0, NULL, NULL, &r, NULL)) != 0)
    return rc == NC_EUNAVAIL ? rc : NC_EDB;
  for (int i = 0; i < PQntuples(r); i++) {
    nc_cfg_item *it = row_item(r, i);
    if (!it) {
      rc = NC_ENOMEM;
      break;
    }
    fn(ud, it);
    nc_cfg_item_free(it);
  }
  PQclear(r);
  return rc;
}

static int pg_get(void *impl, const char *data_id, const char *group, const char *tenant,
                  nc_cfg_item **out) {
  pg_store *s = impl;
  const char *v[3] = {data_id, group, tenant ? tenant : ""};
  PGresult *r = NULL;
  int rc = pgs_ensure(s);
  if (rc || (rc = pgs_exec(s, NULL, ITEM_COLS " WHERE " KEY_WHERE, 3, v, NULL, &r, NULL)) != 0)
    return rc == NC_EUNAVAIL ? rc : NC_EDB;
  if (PQntuples(r) == 0)
    rc = NC_ENOTFOUND;
  else if (!(*out = row_item(r, 0)))
    rc = NC_ENOMEM;
  PQclear(r);
  return rc;
}

#define HIST_COLS                                                                                \
  "SELECT nid, op_type, COALESCE(md5,''), " MS("gmt_modified") ", COALESCE(src_ip,''),"          \
  " COALESCE(src_user,''), COALESCE(app_name,''), COALESCE(ext_info,'')"
#define HIST_FROM                                                                                \
  " FROM his_config_info WHERE " KEY_WHERE " AND COALESCE(publish_type,'formal')='formal'"

/* ext_info is JSON; nacos-c keeps the version's type and rollback there. */
static int hist_ext(nc_cfg_hist *h, const char *ext) {
  cJSON *j = *ext ? cJSON_Parse(ext) : NULL;
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
  const cJSON *rb = cJSON_GetObjectItemCaseSensitive(j, "nc_rollback_of");
  h->type = strdup(cJSON_IsString(t) ? t->valuestring : "");
  h->rollback_of = cJSON_IsNumber(rb) ? (int64_t)rb->valuedouble : 0;
  cJSON_Delete(j);
  return h->type ? 0 : NC_ENOMEM;
}

static int hist_row(const PGresult *r, int row, nc_cfg_hist *h) {
  h->id = val_i64(r, row, 0);
  const char *op = PQgetvalue(r, row, 1);
  h->op = *op ? op[0] : '?';
  snprintf(h->md5, sizeof(h->md5), "%s", PQgetvalue(r, row, 2));
  h->ts_ms = val_i64(r, row, 3);
  h->src_ip = val_dup(r, row, 4, NULL);
  h->src_user = val_dup(r, row, 5, NULL);
  h->app_name = val_dup(r, row, 6, NULL);
  if (!h->src_ip || !h->src_user || !h->app_name)
    return NC_ENOMEM;
  return hist_ext(h, PQgetvalue(r, row, 7));
}

static int pg_history(void *impl, const char *data_id, const char *group, const char *tenant,
                      size_t max, nc_cfg_hist **out, size_t *n_out) {
  pg_store *s = impl;
  char lim[24]; /* rows past history_keep may wait for the next trim: never shown */
  snprintf(lim, sizeof(lim), "%zu", max < (size_t)s->history_keep ? max : (size_t)s->history_keep);
  const char *v[4] = {data_id, group, tenant ? tenant : "", lim};
  PGresult *r = NULL;
  int rc = pgs_ensure(s);
  if (rc || (rc = pgs_exec(s, NULL, HIST_COLS HIST_FROM " ORDER BY nid DESC LIMIT $4::int8", 4, v,
                           NULL, &r, NULL)) != 0)
    return rc == NC_EUNAVAIL ? rc : NC_EDB;
  int n = PQntuples(r);
  nc_cfg_hist *h = calloc(n ? (size_t)n : 1, sizeof(*h));
  rc = h ? 0 : NC_ENOMEM;
  for (int i = 0; !rc && i < n; i++)
    rc = hist_row(r, i, &h[i]);
  PQclear(r);
  if (rc) {
    nc_cfg_hist_free(h, h ? (size_t)n : 0);
    return rc;
  }
  *out = h;
  *n_out = (size_t)n;
  return 0;
}

static int pg_history_get(void *impl, const char *data_id, const char *group, const char *tenant,
                          int64_t id, nc_cfg_hist **out) {
  pg_store *s = impl;
  char ids[24];
  snprintf(ids, sizeof(ids), "%lld", (long long)id);
  const char *v[4] = {data_id, group, tenant ? tenant : "", ids};
  PGresult *r = NULL;
  int rc = pgs_ensure(s);
  if (rc || (rc = pgs_exec(s, NULL, HIST_COLS ", content" HIST_FROM " AND nid=$4::int8", 4, v, NULL,
                           &r, NULL)) != 0)
    return rc == NC_EUNAVAIL ? rc : NC_EDB;
  nc_cfg_hist *h = NULL;
  if (PQntuples(r) == 0) {
    rc = NC_ENOTFOUND;
  } else if (!(h = calloc(1, sizeof(*h))) || (rc = hist_row(r, 0, h)) != 0 ||
             !(h->content = val_dup(r, 0, 8, &h->content_len))) {
    rc = NC_ENOMEM;
  }
  PQclear(r);
  if (rc) {
    nc_cfg_hist_free(h, h ? 1 : 0);
    return rc;
  }
  *out = h;
  return 0;
}

/* ---- change feed ---- */

static int pg_is_up(void *impl) { return atomic_load(&((pg_store *)impl)->up); }

static int pg_session(void *impl) { return atomic_load(&((pg_store *)impl)->backend_pid); }

/* "<tenant>\x02<group>\x02<dataId>\x02<ms>" -> a change (no md5). */
static void report_notify(const char *payload, int origin, nc_cfg_change_fn fn, void *ud) {
  char buf[1024];
  snprintf(buf, sizeof(buf), "%s", payload);
  char *f[4] = {buf, NULL, NULL, NULL};
  for (int i = 1; i < 4; i++) {
    char *sep = f[i - 1] ? strchr(f[i - 1], '\x02') : NULL;
    if (!sep)
      return; /* not ours */
    *sep = '\0';
    f[i] = sep + 1;
  }
  nc_cfg_change c = {.tenant = nc_cfg_norm_tenant(f[0]), .group = f[1], .data_id = f[2],
                     .modified_ms = strtoll(f[3], NULL, 10), .origin = origin};
  fn(ud, &c);
}

static int pg_wait_changes(void *impl, int timeout_ms, nc_cfg_change_fn fn, void *ud) {
  pg_store *s = impl;
  s->want_listen = 1;
  int rc = pgs_ensure(s);
  if (rc)
    return NC_EDB;
  if (!s->listening) {
    if (run(s, "LISTEN " NC_PG_CHANNEL, "LISTEN"))
      return NC_EDB;
    s->listening = 1;
  }
  struct pollfd p = {.fd = PQsocket(s->conn), .events = POLLIN};
  if (poll(&p, 1, timeout_ms) > 0 && !PQconsumeInput(s->conn)) {
    pgs_drop(s, NULL);
    return NC_EDB;
  }
  PGnotify *n;
  while ((n = PQnotifies(s->conn)) != NULL) {
    report_notify(n->extra, n->be_pid, fn, ud);
    PQfreemem(n);
  }
  return 0;
}

static void report_rows(const PGresult *r, int with_md5, nc_cfg_change_fn fn, void *ud) {
  for (int i = 0; i < PQntuples(r); i++) {
    nc_cfg_change c = {.data_id = PQgetvalue(r, i, 0), .group = PQgetvalue(r, i, 1),
                       .tenant = nc_cfg_norm_tenant(PQgetvalue(r, i, 2))};
    if (with_md5) {
      c.md5 = PQgetvalue(r, i, 3);
      c.modified_ms = val_i64(r, i, 4);
    }
    fn(ud, &c);
  }
}

/* History retention, off the write path: keys with history rows since
 * `since` (epoch ms) keep their history_keep newest formal rows. Every
 * node's poll runs it; it is idempotent. Lists never show more than
 * history_keep rows meanwhile. */
static void trim_history(pg_store *s, const char *since) {
  char keep[24];
  snprintf(keep, sizeof(keep), "%ld", s->history_keep);
  const char *v[2] = {since, keep};
  if (pgs_exec(s, NULL,
               "DELETE FROM his_config_info h USING (SELECT nid FROM (SELECT nid, row_number() "
               "OVER (PARTITION BY tenant_id, group_id, data_id ORDER BY nid DESC) AS rn FROM "
               "his_config_info WHERE COALESCE(publish_type,'formal')='formal' AND (data_id, "
               "group_id, tenant_id) IN (SELECT data_id, group_id, tenant_id FROM his_config_info "
               "WHERE gmt_modified >= timestamp 'epoch' + $1::int8 * interval '1 millisecond')) r "
               "WHERE rn > $2::int8) x WHERE h.nid = x.nid",
               2, v, NULL, NULL, NULL) != 0)
    nc_warn("config store: history trim failed: %s", s->err);
}

static int pg_poll_changes(void *impl, int64_t *cursor, nc_cfg_change_fn fn, void *ud) {
  pg_store *s = impl;
  PGresult *now = NULL, *rows = NULL, *dels = NULL;
  /* Overlap the window by more than a transaction can take between its
   * clock_timestamp() and its commit, so a slow commit is not missed. */
  char since[24];
  snprintf(since, sizeof(since), "%lld",
           (long long)(*cursor > 0 ? *cursor - s->timeout_ms - 2000 : 0));
  const char *v[1] = {since};
  int rc = pgs_ensure(s);
  if (rc || pgs_exec(s, NULL, "SELECT " MS("clock_timestamp()"), 0, NULL, NULL, &now, NULL) ||
      pgs_exec(s, NULL,
               "SELECT data_id, COALESCE(group_id,''), tenant_id, COALESCE(md5,''), " MS(
                   "gmt_modified") " FROM config_info WHERE gmt_modified >= timestamp 'epoch' + "
                                   "$1::int8 * interval '1 millisecond'",
               1, v, NULL, &rows, NULL) ||
      pgs_exec(s, NULL,
               "SELECT DISTINCT data_id, group_id, tenant_id FROM his_config_info WHERE op_type "
               "LIKE 'D%' AND gmt_modified >= timestamp 'epoch' + $1::int8 * interval '1 "
               "millisecond'",
               1, v, NULL, &dels, NULL)) {
    rc = NC_EDB;
    goto out;
  }
  report_rows(rows, 1, fn, ud);
  report_rows(dels, 0, fn, ud);
  *cursor = val_i64(now, 0, 0);
  trim_history(s, since);
out:
  PQclear(now);
  PQclear(rows);
  PQclear(dels);
  return rc;
}

const nc_cfg_store_vt nc_cfg_store_pg = {
    .name = "postgresql",
    .open = pg_open,
    .scan = pg_scan,
    .get = pg_get,
    .apply = pg_apply,
    .history = pg_history,
    .history_get = pg_history_get,
    .close = pg_close,
    .wait_changes = pg_wait_changes,
    .poll_changes = pg_poll_changes,
    .is_up = pg_is_up,
    .session = pg_session,
    .ns_list = nc_pg_ns_list,
    .ns_write = nc_pg_ns_write,
};
