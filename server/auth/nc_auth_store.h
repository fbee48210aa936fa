/* nc_auth_store: where users, roles and permissions persist.
 *
 * Nacos's own tables and columns: users(username, password, enabled),
 * roles(username, role), permissions(role, resource, action). Here in the
 * SQLite database of the data dir (config.db, next to the config tables;
 * WAL, so the config writer and this handle do not block each other for
 * long); the auth tables' schema version is kept in their own table
 * nc_auth_schema, apart from the config store's user_version. On
 * PostgreSQL the same tables are created by the config store's schema 2.
 *
 * Writes are rare admin calls and run synchronously. Loop thread only. */
#ifndef NC_AUTH_STORE_H
#define NC_AUTH_STORE_H

typedef struct nc_auth_store nc_auth_store;

/* Row callbacks of nc_auth_store_load; strings borrowed for the call. */
typedef struct nc_auth_store_rows {
  void (*user)(void *ud, const char *name, const char *hash);
  void (*role)(void *ud, const char *user, const char *role);
  void (*perm)(void *ud, const char *role, const char *resource, const char *action);
  void *ud;
} nc_auth_store_rows;

/* Opens (creating or migrating the tables) <data_dir>/config.db. Returns
 * 0, NC_EDB (with a log line), NC_ENOMEM. */
int nc_auth_store_open(const char *data_dir, nc_auth_store **out);
/* The same tables in a cluster's PostgreSQL (conninfo as --db-url; the
 * config store created them: its schema 2). Every node reads and writes
 * them; nc_auth reloads them periodically. 0, NC_EDB, NC_ENOMEM. */
int nc_auth_store_open_pg(const char *conninfo, nc_auth_store **out);
/* 1 for a store other nodes write too (PostgreSQL). */
int nc_auth_store_shared(const nc_auth_store *s);
/* Loads every row over a connection of its own (any thread: a reload on
 * the thread pool). 0 or NC_EDB. */
int nc_auth_store_load_fresh(const char *conninfo, const nc_auth_store_rows *rows);
void nc_auth_store_close(nc_auth_store *s);

/* Calls back every row, users first. 0 or NC_EDB. */
int nc_auth_store_load(nc_auth_store *s, const nc_auth_store_rows *rows);

/* Each returns 0 or NC_EDB. Puts are upserts; deletes of absent rows
 * succeed. A NULL role/user in a delete means every row of the other. */
int nc_auth_store_put_user(nc_auth_store *s, const char *name, const char *hash);
int nc_auth_store_del_user(nc_auth_store *s, const char *name); /* and its role rows */
int nc_auth_store_put_role(nc_auth_store *s, const char *user, const char *role);
int nc_auth_store_del_role(nc_auth_store *s, const char *user, const char *role);
int nc_auth_store_put_perm(nc_auth_store *s, const char *role, const char *res, const char *act);
int nc_auth_store_del_perm(nc_auth_store *s, const char *role, const char *res, const char *act);

#endif
