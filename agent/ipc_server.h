/* nc_ipc_srv: the agent's local Unix stream socket on a libuv loop:
 * listening (mode 0660, optional group), peer credentials (SO_PEERCRED,
 * logged, optionally restricted to a uid list), newline framing with the
 * hard line cap (nc_linebuf), bounded output queues, orderly close.
 *
 * A client object is reference counted: the server holds one reference
 * while the socket is open; code that answers a request later (after an
 * upstream round trip) takes its own with nc_ipc_client_ref. Sending to a
 * closed client is a no-op. Loop thread only. */
#ifndef NC_IPC_SERVER_H
#define NC_IPC_SERVER_H

/* The longest request line by default: nacosd's 4 MiB config content cap
 * x 6 (worst-case JSON escaping) + 64 KiB for the envelope. */
#define NC_IPC_SRV_DEFAULT_MAX_LINE ((size_t)4 * 1024 * 1024 * 6 + 64 * 1024)

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

typedef struct nc_ipc_srv nc_ipc_srv;
typedef struct nc_ipc_client nc_ipc_client;

typedef struct nc_ipc_srv_cbs {
  /* One complete request line (NUL-terminated, borrowed). */
  void (*on_line)(void *ud, nc_ipc_client *c, char *line, size_t len);
  /* The client is going away (socket closed by either side). Runs once,
   * before the server drops its reference. */
  void (*on_close)(void *ud, nc_ipc_client *c);
  void *ud;
} nc_ipc_srv_cbs;

typedef struct nc_ipc_srv_opts {
  const char *path;
  size_t max_line; /* 0 = NC_IPC_SRV_DEFAULT_MAX_LINE */
  const uid_t *allowed_uids; /* NULL = everyone */
  size_t n_allowed;
  const char *group;         /* name or numeric gid; NULL = leave as is */
  size_t max_outq;           /* bytes queued to a slow client before it is dropped */
} nc_ipc_srv_opts;

int nc_ipc_srv_new(uv_loop_t *loop, const nc_ipc_srv_opts *opts, const nc_ipc_srv_cbs *cbs,
                   nc_ipc_srv **out);
/* Closes the listener and every client (on_close runs for each), removes
 * the socket file. Memory is released in close callbacks: run the loop. */
void nc_ipc_srv_close(nc_ipc_srv *s);
size_t nc_ipc_srv_clients(const nc_ipc_srv *s);
/* Calls fn for every open client. */
void nc_ipc_srv_foreach(nc_ipc_srv *s, void (*fn)(void *ud, nc_ipc_client *c), void *ud);

void nc_ipc_client_ref(nc_ipc_client *c);
void nc_ipc_client_unref(nc_ipc_client *c);
int nc_ipc_client_is_open(const nc_ipc_client *c);
uint64_t nc_ipc_client_id(const nc_ipc_client *c);
/* The peer's uid (SO_PEERCRED), -1 when unknown. */
long nc_ipc_client_uid(const nc_ipc_client *c);
/* App name from agent.hello (copied); "" until then. */
void nc_ipc_client_set_app(nc_ipc_client *c, const char *app);
const char *nc_ipc_client_app(const nc_ipc_client *c);
/* Rate limit for log lines about what this client sent: 1 when a line may
 * be written now (then *suppressed is how many were left out since the
 * last one, to be reported first), 0 when the client is over its budget
 * (the line is counted instead). What is still suppressed when the client
 * goes is reported then. */
int nc_ipc_client_log_allow(nc_ipc_client *c, uint64_t *suppressed);

/* Queues data plus '\n' (copied). */
int nc_ipc_client_send(nc_ipc_client *c, const char *data, size_t len);
/* Sends an event that a later one with the same key supersedes (a
 * subscription's host list, a listened config's content). While the
 * client's socket queue is long, events wait in the agent with only the
 * newest per key kept, so a slow reader costs one pending event per key
 * and its replies are not stuck behind a pile of stale events. data is
 * copied; key names the subscription. */
int nc_ipc_client_send_event(nc_ipc_client *c, const char *key, const char *data, size_t len);
int nc_ipc_client_send_json(nc_ipc_client *c, const cJSON *obj);
/* Flushes what is queued, then closes. */
void nc_ipc_client_close(nc_ipc_client *c);

#endif
