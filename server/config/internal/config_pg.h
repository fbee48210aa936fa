/* config_pg: the PostgreSQL backend's connection and its shared pieces
 * (config_store_pg.c: open, schema, reads and the change feed;
 * config_store_pg_apply.c: the group-commit write path).
 *
 * One handle = one libpq connection, used by one thread. The socket is
 * non-blocking and every wait is a poll() with a deadline, so a database
 * that stops answering (crashed host, SIGSTOP, a partition) costs a write
 * at most timeout_ms, never a hang. A lost connection is closed at once;
 * the next call reconnects, but not before a back-off (100 ms doubling to
 * 5 s) so a database that is down is not hammered and callers fail fast
 * (NC_EUNAVAIL) in between. */
#ifndef CONFIG_PG_H
#define CONFIG_PG_H

#include "config_store.h"

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdint.h>

/* The channel nacos-c's writes notify on; payload
 * "<tenant>\x02<group>\x02<dataId>\x02<gmt_modified ms>". */
#define NC_PG_CHANNEL "nacos_config"

typedef struct pg_store {
  char *conninfo;
  PGconn *conn;
  long history_keep;
  int timeout_ms;
  int want_listen;       /* the change-feed handle: LISTEN after every connect */
  int listening;         /* LISTEN is in place on this connection */
  int backoff_ms;        /* next reconnect delay */
  int64_t retry_at_ms;   /* monotonic; no connect attempt before this */
  atomic_int up;         /* read by is_up from any thread */
  atomic_int backend_pid; /* read by session from any thread; 0 = none */
  int ever_connected;
  char err[256];         /* the last failure, for the log */
} pg_store;

/* Monotonic milliseconds. */
int64_t pgs_mono_ms(void);
/* Connected (reconnecting, migrating nothing, preparing statements when
 * needed): 0; NC_EUNAVAIL inside the back-off; NC_EDB when the attempt
 * failed. */
int pgs_ensure(pg_store *s);
/* Closes a broken connection and starts the back-off; why goes to the log. */
void pgs_drop(pg_store *s, const char *why);
/* Sends everything buffered, waiting at most until deadline. 0 or NC_EDB
 * (the connection was dropped). */
int pgs_flush(pg_store *s, int64_t deadline);
/* The next result of the current query (NULL at its end), waiting at most
 * until deadline; *rc = NC_EDB and the connection dropped on a timeout or a
 * broken connection. */
PGresult *pgs_next(pg_store *s, int64_t deadline, int *rc);
/* Runs one statement: a prepared statement when name is set, else sql with
 * text parameters. *out (may be NULL) is the last result, owned by the
 * caller. 0, or NC_EDB when the statement failed (the SQLSTATE in *state
 * when given, "" for a connection failure). */
int pgs_exec(pg_store *s, const char *name, const char *sql, int n, const char *const *vals,
             const int *lens, PGresult **out, char state[6]);
/* Records msg as the handle's last error, on one line. */
void pgs_set_err(pg_store *s, const char *msg);
/* The SQLSTATE of a failed result ("" when none). */
void pgs_state(const PGresult *r, char state[6]);

/* Prepared statement names (config_store_pg.c prepares them on connect). */
#define PGS_LOCK "nc_lock"
#define PGS_PUT "nc_put"
#define PGS_REMOVE "nc_remove"

int pg_apply(void *impl, nc_cfg_write *ops, size_t n);

#endif
