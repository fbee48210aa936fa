/* Embedded SQLite backend of config_store.h.
 *
 * <data_dir>/config.db in WAL mode with synchronous=FULL: the WAL is fsynced
 * at every commit, so a batch is durable (also across power loss) when
 * apply returns. Throughput comes from the caller batching many writes into
 * one transaction, not from weaker syncing.
 *
 * Tables: config (one row per key) and config_history (one row per change,
 * trimmed to history_keep rows per key inside the same transaction). A
 * history row is a version as in Nacos's his_config_info: 'I' holds the
 * content the insert created, 'U' and 'D' the content they replaced. The
 * schema's version is PRAGMA user_version, migrated at open. */
#include "config_store.h"
#include "config_ns_int.h"

#include "nc_err.h"
#include "nc_log.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
  ST_SELECT_MD5,
  ST_UPSERT,
  ST_DELETE,
  ST_HIST_ADD,
  ST_HIST_SNAP,
  ST_HIST_TRIM,
  ST_GET,
  ST_SCAN,
  ST_HISTORY,
  ST_HISTORY_GET,
  ST__COUNT
};

static const char *const sql_text[ST__COUNT] = {
    [ST_SELECT_MD5] = "SELECT md5, created_ms FROM config WHERE tenant=?1 AND grp=?2 AND data_id=?3",
    [ST_UPSERT] =
        "INSERT INTO config(data_id,grp,tenant,content,md5,type,app_name,src_user,src_ip,"
        "encrypted_data_key,created_ms,modified_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?11) "
        "ON CONFLICT(tenant,grp,data_id) DO UPDATE SET content=excluded.content,md5=excluded.md5,"
        "type=excluded.type,app_name=excluded.app_name,src_user=excluded.src_user,"
        "src_ip=excluded.src_ip,encrypted_data_key=excluded.encrypted_data_key,"
        "modified_ms=excluded.modified_ms",
    [ST_DELETE] = "DELETE FROM config WHERE tenant=?1 AND grp=?2 AND data_id=?3",
    /* 'I': the version the publish created. */
    [ST_HIST_ADD] = "INSERT INTO config_history(data_id,grp,tenant,op,md5,src_ip,src_user,"
                    "app_name,ts_ms,content,type,rollback_of) "
                    "VALUES(?1,?2,?3,'I',?4,?5,?6,?7,?8,?9,?10,?11)",
    /* 'U' and 'D': the version the change replaces, copied from the row
     * before it is changed (inside the batch's transaction, so a second
     * change of a key in one batch sees the first one's content). */
    [ST_HIST_SNAP] = "INSERT INTO config_history(data_id,grp,tenant,op,md5,src_ip,src_user,"
                     "app_name,ts_ms,content,type,rollback_of) "
                     "SELECT data_id,grp,tenant,?4,md5,?5,?6,?7,?8,content,type,?9 FROM config "
                     "WHERE tenant=?1 AND grp=?2 AND data_id=?3",
    [ST_HIST_TRIM] = "DELETE FROM config_history WHERE tenant=?1 AND grp=?2 AND data_id=?3 AND "
                     "id <= (SELECT id FROM config_history WHERE tenant=?1 AND grp=?2 AND "
                     "data_id=?3 ORDER BY id DESC LIMIT 1 OFFSET ?4)",
    [ST_GET] = "SELECT data_id,grp,tenant,content,md5,type,app_name,src_user,src_ip,"
               "encrypted_data_key,created_ms,modified_ms FROM config WHERE tenant=?1 AND grp=?2 "
               "AND data_id=?3",
    [ST_SCAN] = "SELECT data_id,grp,tenant,content,md5,type,app_name,src_user,src_ip,"
                "encrypted_data_key,created_ms,modified_ms FROM config",
    [ST_HISTORY] = "SELECT id,op,md5,ts_ms,src_ip,src_user,app_name,type,rollback_of "
                   "FROM config_history WHERE tenant=?1 AND grp=?2 AND data_id=?3 "
                   "ORDER BY id DESC LIMIT ?4",
    [ST_HISTORY_GET] = "SELECT id,op,md5,ts_ms,src_ip,src_user,app_name,type,rollback_of,content "
                       "FROM config_history WHERE tenant=?1 AND grp=?2 AND data_id=?3 AND id=?4",
};

/* Schema versions, kept in PRAGMA user_version. Version 1 is the first
 * release's schema (its databases say user_version 0); each later version
 * is one step in migrations[], so a new database and an upgraded one end
 * with the same tables. */
#define SCHEMA_VERSION 2

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS config("
    " id INTEGER PRIMARY KEY, data_id TEXT NOT NULL, grp TEXT NOT NULL, tenant TEXT NOT NULL,"
    " content BLOB NOT NULL, md5 TEXT NOT NULL, type TEXT NOT NULL, app_name TEXT NOT NULL,"
    " src_user TEXT NOT NULL, src_ip TEXT NOT NULL, encrypted_data_key TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL,"
    " UNIQUE(tenant, grp, data_id));"
    "CREATE TABLE IF NOT EXISTS config_history("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, data_id TEXT NOT NULL, grp TEXT NOT NULL,"
    " tenant TEXT NOT NULL, op TEXT NOT NULL, md5 TEXT NOT NULL, src_ip TEXT NOT NULL,"
    " src_user TEXT NOT NULL, app_name TEXT NOT NULL, ts_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS config_history_key ON config_history(tenant, grp, data_id, id);";

/* migrations[v - 1] takes a database from version v to v + 1. */
static const char *const migrations[SCHEMA_VERSION - 1] = {
    /* 1 -> 2: history rows keep the version's content (NULL in rows
     * written before), its type and what a rollback restored. */
    "ALTER TABLE config_history ADD COLUMN content BLOB;"
    "ALTER TABLE config_history ADD COLUMN type TEXT;"
    "ALTER TABLE config_history ADD COLUMN rollback_of INTEGER DEFAULT 0;",
};

typedef struct sq_store {
  sqlite3 *db;
  sqlite3_stmt *st[ST__COUNT];
  long history_keep;
} sq_store;

static int db_err(sq_store *s, const char *what) {
  nc_error("config store: %s: %s", what, sqlite3_errmsg(s->db));
  return NC_EDB;
}

static void sq_close(void *impl) {
  sq_store *s = impl;
  if (!s)
    return;
  for (int i = 0; i < ST__COUNT; i++)
    sqlite3_finalize(s->st[i]);
  sqlite3_close(s->db);
  free(s);
}

/* An integer from a one-row query; -1 on error. */
static int64_t query_int(sq_store *s, const char *sql) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Brings the database to SCHEMA_VERSION in one transaction (a failed step
 * leaves it as it was). A database newer than this code is refused: its
 * writes could lose what a later version keeps. 0 or NC_EDB. */
static int migrate(sq_store *s, const char *path) {
  char sql[64];
  int rc = NC_EDB;
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return db_err(s, "begin migration");
  int64_t version = query_int(s, "PRAGMA user_version");
  int64_t tables = query_int(s, "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
                                "name IN ('config','config_history')");
  if (version < 0 || tables < 0) {
    db_err(s, "read schema version");
    goto out;
  }
  if (version > SCHEMA_VERSION) {
    nc_error("config store: %s has schema version %lld, newer than this build knows (%d); "
             "refusing to open it",
             path, (long long)version, SCHEMA_VERSION);
    goto out;
  }
  int fresh = version == 0 && tables == 0;
  if (version == 0) { /* a new database, or one of the first release */
    if (sqlite3_exec(s->db, schema_v1, NULL, NULL, NULL) != SQLITE_OK) {
      db_err(s, "create schema");
      goto out;
    }
    version = 1;
  }
  int64_t from = version;
  for (; version < SCHEMA_VERSION; version++)
    if (sqlite3_exec(s->db, migrations[version - 1], NULL, NULL, NULL) != SQLITE_OK) {
      db_err(s, "migrate schema");
      goto out;
    }
  snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", SCHEMA_VERSION);
  if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    db_err(s, "commit migration");
    goto out;
  }
  if (fresh)
    nc_info("config store: created %s (schema %d)", path, SCHEMA_VERSION);
  else if (from < SCHEMA_VERSION)
    nc_info("config store: schema %lld -> %d (%s)", (long long)from, SCHEMA_VERSION, path);
  return 0;
out:
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

static int sq_open(const nc_cfg_store_opts *opts, void **impl) {
  int rc = NC_EDB;
  char *path = NULL;
  sq_store *s = calloc(1, sizeof(*s));
  if (!s)
    return NC_ENOMEM;
  s->history_keep = opts->history_keep > 0 ? opts->history_keep : 30;
  if (!opts->data_dir || !*opts->data_dir) {
    rc = NC_EINVAL;
    goto out;
  }
  mkdir(opts->data_dir, 0750); /* may exist; open() reports the real problem */
  if (asprintf(&path, "%s/config.db", opts->data_dir) < 0) {
    path = NULL;
    rc = NC_ENOMEM;
    goto out;
  }
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    nc_error("config store: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "oom");
    goto out;
  }
  sqlite3_busy_timeout(s->db, 5000);
  /* WAL + FULL: each commit fsyncs the WAL, so an acked publish survives
   * kill -9 and power loss. */
  if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL) !=
      SQLITE_OK) {
    db_err(s, path);
    goto out;
  }
  if ((rc = migrate(s, path)) != 0 || (rc = nc_sq_ns_init(s->db)) != 0)
    goto out;
  rc = NC_EDB;
  for (int i = 0; i < ST__COUNT; i++)
    if (sqlite3_prepare_v3(s->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
        SQLITE_OK) {
      db_err(s, "prepare");
      goto out;
    }
  *impl = s;
  s = NULL;
  rc = 0;
out:
  free(path);
  sq_close(s);
  return rc;
}

static char *col_dup(sqlite3_stmt *st, int i, size_t *len) {
  const unsigned char *p = sqlite3_column_text(st, i);
  size_t n = (size_t)sqlite3_column_bytes(st, i);
  char *out = malloc(n + 1);
  if (!out)
    return NULL;
  if (n)
    memcpy(out, p, n);
  out[n] = '\0';
  if (len)
    *len = n;
  return out;
}

/* Row of ST_GET / ST_SCAN -> item (owned by the caller). */
static nc_cfg_item *row_item(sqlite3_stmt *st) {
  nc_cfg_item *it = calloc(1, sizeof(*it));
  if (!it)
    return NULL;
  it->data_id = col_dup(st, 0, NULL);
  it->group = col_dup(st, 1, NULL);
  it->tenant = col_dup(st, 2, NULL);
  it->content = col_dup(st, 3, &it->content_len);
  const unsigned char *md5 = sqlite3_column_text(st, 4);
  snprintf(it->md5, sizeof(it->md5), "%s", md5 ? (const char *)md5 : "");
  it->type = col_dup(st, 5, NULL);
  it->app_name = col_dup(st, 6, NULL);
  it->src_user = col_dup(st, 7, NULL);
  it->src_ip = col_dup(st, 8, NULL);
  it->encrypted_data_key = col_dup(st, 9, NULL);
  it->created_ms = sqlite3_column_int64(st, 10);
  it->modified_ms = sqlite3_column_int64(st, 11);
  if (!it->data_id || !it->group || !it->tenant || !it->content || !it->type || !it->app_name ||
      !it->src_user || !it->src_ip || !it->encrypted_data_key) {
    nc_cfg_item_free(it);
    return NULL;
  }
  return it;
}

static void bind_key(sqlite3_stmt *st, const char *data_id, const char *group, const char *tenant) {
  sqlite3_bind_text(st, 1, tenant ? tenant : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, group, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, data_id, -1, SQLITE_STATIC);
}

static void done(sqlite3_stmt *st) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

static int sq_scan(void *impl, void (*fn)(void *ud, const nc_cfg_item *it), void *ud) {
  sq_store *s = impl;
  sqlite3_stmt *st = s->st[ST_SCAN];
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    nc_cfg_item *it = row_item(st);
    if (!it) {
      rc = NC_ENOMEM;
      break;
    }
    fn(ud, it);
    nc_cfg_item_free(it);
  }
  if (!rc && step != SQLITE_DONE)
    rc = db_err(s, "scan");
  done(st);
  return rc;
}

static int sq_get(void *impl, const char *data_id, const char *group, const char *tenant,
                  nc_cfg_item **out) {
  sq_store *s = impl;
  sqlite3_stmt *st = s->st[ST_GET];
  int rc;
  bind_key(st, data_id, group, tenant);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    *out = row_item(st);
    rc = *out ? 0 : NC_ENOMEM;
  } else if (step == SQLITE_DONE) {
    rc = NC_ENOTFOUND;
  } else {
    rc = db_err(s, "get");
  }
  done(st);
  return rc;
}

static const char *nz(const char *s) { return s ? s : ""; }

/* Binds the fields every history row takes from the change itself (who,
 * when), from parameter first on. */
static void bind_change(sqlite3_stmt *st, int first, const nc_cfg_write *w) {
  sqlite3_bind_text(st, first, nz(w->src_ip), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, first + 1, nz(w->src_user), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, first + 2, nz(w->app_name), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, first + 3, w->ts_ms);
}

static int hist_trim(sq_store *s, const nc_cfg_write *w) {
  sqlite3_stmt *st = s->st[ST_HIST_TRIM];
  bind_key(st, w->data_id, w->group, w->tenant);
  sqlite3_bind_int64(st, 4, s->history_keep);
  int step = sqlite3_step(st);
  done(st);
  return step == SQLITE_DONE ? 0 : db_err(s, "history trim");
}

/* History of an insert: the version it created. */
static int hist_insert(sq_store *s, const nc_cfg_write *w, const char *type) {
  sqlite3_stmt *st = s->st[ST_HIST_ADD];
  sqlite3_bind_text(st, 1, w->data_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, w->group, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, nz(w->tenant), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, nz(w->md5), -1, SQLITE_STATIC);
  bind_change(st, 5, w);
  sqlite3_bind_text(st, 9, nz(w->content), (int)w->content_len, SQLITE_STATIC);
  sqlite3_bind_text(st, 10, type, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 11, w->rollback_of);
  int step = sqlite3_step(st);
  done(st);
  return step == SQLITE_DONE ? 0 : db_err(s, "history insert");
}

/* History of an update or delete ("U"/"D"): the version it replaces,
 * taken from the row before the change is applied. */
static int hist_snapshot(sq_store *s, const nc_cfg_write *w, const char *op) {
  sqlite3_stmt *st = s->st[ST_HIST_SNAP];
  bind_key(st, w->data_id, w->group, w->tenant);
  sqlite3_bind_text(st, 4, op, -1, SQLITE_STATIC);
  bind_change(st, 5, w);
  sqlite3_bind_int64(st, 9, w->op == NC_CFG_PUT ? w->rollback_of : 0);
  int step = sqlite3_step(st);
  done(st);
  return step == SQLITE_DONE ? 0 : db_err(s, "history insert");
}

/* One op inside the open transaction. Returns NC_EDB on a storage error
 * (the caller rolls back the batch); CAS mismatch is reported in w->result. */
static int apply_one(sq_store *s, nc_cfg_write *w) {
  char old_md5[33] = "";
  sqlite3_stmt *st = s->st[ST_SELECT_MD5];
  bind_key(st, w->data_id, w->group, w->tenant);
  int step = sqlite3_step(st);
  w->existed = step == SQLITE_ROW;
  if (w->existed) {
    snprintf(old_md5, sizeof(old_md5), "%s", (const char *)sqlite3_column_text(st, 0));
    w->created_ms = sqlite3_column_int64(st, 1);
  }
  done(st);
  if (step != SQLITE_ROW && step != SQLITE_DONE)
    return db_err(s, "select");
  w->result = 0;
  if (w->op == NC_CFG_REMOVE) {
    if (!w->existed)
      return 0; /* removing nothing succeeds and leaves no history */
    int rc = hist_snapshot(s, w, "D");
    if (rc)
      return rc;
    st = s->st[ST_DELETE];
    bind_key(st, w->data_id, w->group, w->tenant);
    step = sqlite3_step(st);
    done(st);
    if (step != SQLITE_DONE)
      return db_err(s, "delete");
    return hist_trim(s, w);
  }
  /* Nacos CAS: an existing row must still have casMd5; a missing row is
   * simply inserted. */
  if (w->cas_md5 && *w->cas_md5 && w->existed && strcmp(old_md5, w->cas_md5) != 0) {
    w->result = NC_ECONFLICT;
    return 0;
  }
  if (!w->existed)
    w->created_ms = w->ts_ms;
  w->modified_ms = w->ts_ms;
  const char *type = w->type && *w->type ? w->type : "text";
  if (w->existed) {
    int rc = hist_snapshot(s, w, "U");
    if (rc)
      return rc;
  }
  st = s->st[ST_UPSERT];
  sqlite3_bind_text(st, 1, w->data_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, w->group, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, nz(w->tenant), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, nz(w->content), (int)w->content_len, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, nz(w->md5), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, nz(w->app_name), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, nz(w->src_user), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 9, nz(w->src_ip), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 10, nz(w->encrypted_data_key), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 11, w->ts_ms);
  step = sqlite3_step(st);
  done(st);
  if (step != SQLITE_DONE)
    return db_err(s, "upsert");
  int rc = w->existed ? 0 : hist_insert(s, w, type);
  return rc ? rc : hist_trim(s, w);
}

static int sq_apply(void *impl, nc_cfg_write *ops, size_t n) {
  sq_store *s = impl;
  int rc = 0;
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    rc = db_err(s, "begin");
    goto fail;
  }
  for (size_t i = 0; i < n; i++)
    if ((rc = apply_one(s, &ops[i])) != 0)
      goto rollback;
  if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    rc = db_err(s, "commit");
    goto rollback;
  }
  return 0;
rollback:
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
fail:
  for (size_t i = 0; i < n; i++)
    ops[i].result = NC_EDB;
  return NC_EDB;
}

/* Columns 0-8 of ST_HISTORY / ST_HISTORY_GET into e; NC_ENOMEM. */
static int row_hist(sqlite3_stmt *st, nc_cfg_hist *e) {
  e->id = sqlite3_column_int64(st, 0);
  const unsigned char *op = sqlite3_column_text(st, 1);
  e->op = op ? (char)op[0] : '?';
  const unsigned char *md5 = sqlite3_column_text(st, 2);
  snprintf(e->md5, sizeof(e->md5), "%s", md5 ? (const char *)md5 : "");
  e->ts_ms = sqlite3_column_int64(st, 3);
  e->src_ip = col_dup(st, 4, NULL);
  e->src_user = col_dup(st, 5, NULL);
  e->app_name = col_dup(st, 6, NULL);
  e->type = col_dup(st, 7, NULL); /* NULL in schema-1 rows: "" */
  e->rollback_of = sqlite3_column_int64(st, 8);
  return e->src_ip && e->src_user && e->app_name && e->type ? 0 : NC_ENOMEM;
}

static int sq_history(void *impl, const char *data_id, const char *group, const char *tenant,
                      size_t max, nc_cfg_hist **out, size_t *n_out) {
  sq_store *s = impl;
  sqlite3_stmt *st = s->st[ST_HISTORY];
  int rc = 0, step = SQLITE_DONE;
  size_t n = 0;
  nc_cfg_hist *h = calloc(max ? max : 1, sizeof(*h));
  if (!h)
    return NC_ENOMEM;
  bind_key(st, data_id, group, tenant);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
  while (n < max && (step = sqlite3_step(st)) == SQLITE_ROW)
    if ((rc = row_hist(st, &h[n++])) != 0)
      break;
  if (!rc && n < max && step != SQLITE_DONE)
    rc = db_err(s, "history");
  done(st);
  if (rc) {
    nc_cfg_hist_free(h, n);
    return rc;
  }
  *out = h;
  *n_out = n;
  return 0;
}

static int sq_history_get(void *impl, const char *data_id, const char *group, const char *tenant,
                          int64_t id, nc_cfg_hist **out) {
  sq_store *s = impl;
  sqlite3_stmt *st = s->st[ST_HISTORY_GET];
  int rc = 0;
  nc_cfg_hist *h = calloc(1, sizeof(*h));
  if (!h)
    return NC_ENOMEM;
  bind_key(st, data_id, group, tenant);
  sqlite3_bind_int64(st, 4, id);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    rc = row_hist(st, h);
    /* NULL content: a row from before versions were kept. */
    if (!rc && sqlite3_column_type(st, 9) != SQLITE_NULL &&
        !(h->content = col_dup(st, 9, &h->content_len)))
      rc = NC_ENOMEM;
  } else {
    rc = step == SQLITE_DONE ? NC_ENOTFOUND : db_err(s, "history get");
  }
  done(st);
  if (rc) {
    nc_cfg_hist_free(h, 1);
    return rc;
  }
  *out = h;
  return 0;
}

const nc_cfg_store_vt nc_cfg_store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .scan = sq_scan,
    .get = sq_get,
    .apply = sq_apply,
    .history = sq_history,
    .history_get = sq_history_get,
    .close = sq_close,
    .ns_list = nc_sq_ns_list,
    .ns_write = nc_sq_ns_write,
};

sqlite3 *nc_sq_db(void *impl) { return ((sq_store *)impl)->db; }
