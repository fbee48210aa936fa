/* nc_testagent: the agent side of the integration-test harness — start and
 * stop the real nacos-agent from the build tree, its --servers list for
 * nacosds started with nc_testproc.h, and a small blocking JSON-lines
 * client for the agent's socket (events seen while waiting for a reply are
 * queued, not lost).
 *
 * Used by tests/integration/test_agent_*.c (through agent_itest.h, which
 * keeps their short names) and test_nacosctl.c. Functions return 0 or -1
 * unless stated; nothing here is thread-safe (one test thread per client). */
#ifndef NC_TESTAGENT_H
#define NC_TESTAGENT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "nc_testproc.h"

typedef struct nc_test_agent {
  nc_testproc proc;
  char sock[300];  /* <dir>/agent.sock */
  char cache[300]; /* <dir>/cache */
} nc_test_agent;

/* Starts NC_AGENT_BIN with --servers servers, the socket and cache under dir
 * (a cache dir that exists is reused), --health-interval-ms 1000, debug log
 * in <dir>/agent.log, plus extra (NULL-terminated, may be NULL); waits (10 s)
 * until the socket accepts. On failure dumps the log. */
int nc_test_agent_start(nc_test_agent *a, const char *dir, const char *servers,
                        const char *const *extra);
/* SIGTERM; 0 when the agent exited cleanly (ASan leak reports make the exit
 * code non-zero) and removed its socket, else non-zero (log dumped). */
int nc_test_agent_stop(nc_test_agent *a);
/* Waits until agent.status says connected; returns the ms it took or -1. */
long long nc_test_agent_wait_connected(const nc_test_agent *a, int timeout_ms);

/* The agent's --servers value for one nacosd (b NULL) or two:
 * "<host>:<port>#<grpc_port>[,...]". */
void nc_test_agent_servers(char *buf, size_t cap, const nc_test_nacosd *a,
                           const nc_test_nacosd *b);

/* ---- JSON-lines client (opaque; free with nc_tc_close) ---- */

typedef struct nc_tc nc_tc;

/* Connects to the agent socket at path; NULL on failure. */
nc_tc *nc_tc_open(const char *path);
/* Closes and frees queued events. NULL is a no-op. */
void nc_tc_close(nc_tc *c);
/* 1 once the agent closed the connection. */
int nc_tc_eof(const nc_tc *c);
int nc_tc_send_raw(nc_tc *c, const char *data, size_t len);
/* Sends one line built from fmt (a newline is appended). */
int nc_tc_sendf(nc_tc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Next message (reply or event) within timeout_ms, or NULL (owned by the
 * caller). */
cJSON *nc_tc_read(nc_tc *c, int timeout_ms);
/* Sends a request built from fmt (must contain "id":<id>) and returns the
 * reply with that numeric id within 10 s (scaled by the multiplier; owned
 * by the caller), or NULL;
 * events meanwhile are queued for nc_tc_wait_event. */
cJSON *nc_tc_call(nc_tc *c, int id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Waits for an event named ev (and, when key is set, with string key ==
 * val); queued events are checked first. Returns it (owned by the caller)
 * or NULL. */
cJSON *nc_tc_wait_event(nc_tc *c, const char *ev, const char *key, const char *val,
                        int timeout_ms);

/* nc_tc_call, then 1 when the reply had "ok":true (the reply is freed). */
int nc_tc_call_ok(nc_tc *c, int id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Waits for the next naming.changed event of service; returns the size of
 * its hosts array, or -1 when none came within timeout_ms. */
int nc_tc_wait_changed_hosts(nc_tc *c, const char *service, int timeout_ms);

/* 1 when r is a reply with "ok":true. */
int nc_tc_ok(const cJSON *r);
/* error.code of a reply, or "" (never NULL). */
const char *nc_tc_errcode(const cJSON *r);
/* Size of o's "hosts" array (0 when absent). */
int nc_tc_hosts_count(const cJSON *o);
/* agent.status key as an int (booleans 1/0), -1 when missing. */
int nc_tc_status_int(nc_tc *c, const char *key);
/* Waits until agent.status key == want; returns the ms it took or -1
 * (timeout_ms scaled by NC_TEST_TIMEOUT_MULTIPLIER). */
long long nc_tc_wait_status(nc_tc *c, const char *key, int want, int timeout_ms);

/* One nacosd and one agent pointed at it, both in one temp dir. */
typedef struct nc_test_stack {
  char dir[256];
  nc_test_nacosd srv;
  nc_test_agent ag;
} nc_test_stack;

/* Creates the temp dir, starts nacosd (nacosd_args) and the agent
 * (agent_args; either may be NULL) and waits (10 s) until the agent is
 * connected. Returns 0 or -1 (what started is left for nc_test_stack_stop). */
int nc_test_stack_start(nc_test_stack *st, const char *const *nacosd_args,
                        const char *const *agent_args);
/* Stops the agent and nacosd, removes the dir; 0 when both exited cleanly. */
int nc_test_stack_stop(nc_test_stack *st);

#endif
