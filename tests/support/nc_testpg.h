/* nc_testpg: a real PostgreSQL 15 server for tests, started by the test
 * itself in a temp dir on 127.0.0.1 and a free port, with a database
 * "nacos" and a trusted superuser "nacos".
 *
 * The server runs as a child of the test process in its own process group,
 * with PR_SET_PDEATHSIG so that it dies with the thread that started it
 * (start and restart from a thread that lives as long as the server: the
 * test's main thread). Instances still live at exit() are killed and their
 * dirs removed by an atexit handler; dirs of test processes that died
 * without it are removed by the next process's first use (each dir holds
 * its owner's pid in nc_testpg.owner). As root, initdb and postgres run as
 * the system user "postgres" (else "nobody"); PostgreSQL refuses root.
 *
 * One initdb'ed template (with database nacos) is made per test process on
 * first use and copied for each start. Binaries come from
 * $NC_TESTPG_BINDIR, default /usr/lib/postgresql/15/bin.
 *
 * Not thread-safe: use from one thread. Functions return 0 or a negative
 * NC_E* unless stated. */
#ifndef NC_TESTPG_H
#define NC_TESTPG_H

#include <stddef.h>

typedef struct nc_testpg nc_testpg;

/* 1 when a server can be made here (binaries present, a user to run them
 * as, the template initdb'ed: the result is cached); else 0 with the
 * reason in why (cap bytes, may be NULL). */
int nc_testpg_available(char *why, size_t cap);

/* Copies the template into a fresh /tmp/nc-test-XXXXXX/data, starts
 * postgres on a free port (another one on "address in use", 3 tries) and
 * waits until it accepts connections (30 s, scaled). *out is owned by the
 * caller: nc_testpg_free. On failure the server log goes to stderr. */
int nc_testpg_start(nc_testpg **out);

/* "postgresql://nacos@127.0.0.1:PORT/nacos?connect_timeout=5"; owned by pg. */
const char *nc_testpg_url(const nc_testpg *pg);
int nc_testpg_port(const nc_testpg *pg);
/* The temp dir (data dir in <dir>/data, server log in <dir>/postgres.log). */
const char *nc_testpg_dir(const nc_testpg *pg);

/* Fast shutdown (SIGINT, as pg_ctl stop -m fast) and reap; the data dir
 * stays. NC_ESTATE when not running. */
int nc_testpg_stop(nc_testpg *pg);
/* Starts again on the same port and data dir (after stop or kill9) and
 * waits until it accepts connections; retries while the old port or shared
 * memory lingers. NC_ESTATE when running. */
int nc_testpg_restart(nc_testpg *pg);
/* SIGKILL to the postmaster and its backends (a crash); data dir stays. */
int nc_testpg_kill9(nc_testpg *pg);
/* 1 while the postmaster runs (not yet reaped). */
int nc_testpg_running(nc_testpg *pg);

/* Runs one statement on database nacos over a new connection. The first
 * column of the first row (or "" when none, or NULL) goes into out (cap
 * bytes, may be NULL). NC_EUNAVAIL when it cannot connect, NC_EDB when the
 * statement fails (the message goes into out). */
int nc_testpg_sql(nc_testpg *pg, const char *sql, char *out, size_t cap);

/* Copies the server log to stderr (for failing tests). */
void nc_testpg_dump_log(const nc_testpg *pg);

/* Kills the server (SIGKILL, reaped) and removes its temp dir. NULL ok. */
void nc_testpg_free(nc_testpg *pg);

/* For cmocka tests (include <cmocka.h> first): prints "skipped: <why>"
 * and skips the current test when no server can be made here. */
#define NC_TESTPG_SKIP_IF_UNAVAILABLE()                                                            \
  do {                                                                                             \
    char nc_pg_why_[512];                                                                          \
    if (!nc_testpg_available(nc_pg_why_, sizeof(nc_pg_why_))) {                                    \
      fprintf(stderr, "skipped: %s\n", nc_pg_why_);                                                \
      skip();                                                                                      \
    }                                                                                              \
  } while (0)

#endif
