/* nc_ipc: client side of the nacos-agent local protocol for apps on the
 * host. The protocol: docs/ipc-protocol.md in the nacos-c sources, installed
 * with this header as <docdir>/ipc-protocol.md (/usr/share/doc/nacos-c/
 * from the .deb).
 *
 * The library owns one Unix stream connection to the agent. Requests are
 * one JSON line each with a fresh numeric id; a blocking call waits for the
 * response carrying its id and stores whatever else arrives meanwhile:
 * events go to a bounded FIFO delivered later by nc_ipc_process(), responses
 * to other outstanding ids are kept until nc_ipc_wait() collects them, and
 * responses nobody waits for any more (a call that timed out) are dropped.
 *
 * Events reach the app through a callback that the app drives from its own
 * loop: poll nc_ipc_fd() for POLLIN and call nc_ipc_process() when it is
 * readable. nc_ipc_fd() is an epoll descriptor that is readable both when
 * the socket has data and when events were queued during a blocking call,
 * so a plain poll() loop never sleeps on events it already holds.
 *
 * Dependencies: libc and cJSON only. Linux only (epoll, eventfd).
 * Threading: a handle is not thread-safe; use it from one thread at a time.
 * The event callback may issue blocking calls on the same handle (events
 * that arrive meanwhile are queued), but must not call nc_ipc_free(). */
#ifndef NC_IPC_H
#define NC_IPC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NC_IPC_DEFAULT_SOCKET "/run/nacos-agent/agent.sock"
#define NC_IPC_SOCKET_ENV "NACOS_AGENT_SOCKET"
#define NC_IPC_PROTOCOL 1
/* Requests: the agent's default maximum line (docs/ipc-protocol.md,
 * Transport: the agent's --max-line default, 25231360 bytes);
 * a longer one would make the agent hang up, so it is refused locally. */
/* 4 MiB (nacosd's config content cap) x 6 (worst-case JSON escaping)
 * + 64 KiB: any content the server accepts fits in one request. */
#define NC_IPC_DEFAULT_MAX_REQUEST ((size_t)4 * 1024 * 1024 * 6 + 64 * 1024)
/* Lines read from the agent: replies carry whole host lists and config
 * contents (the same 4 MiB, escaped), so this cap is larger still; it only
 * guards against a runaway peer. */
#define NC_IPC_DEFAULT_MAX_LINE (32 * 1024 * 1024)
#define NC_IPC_DEFAULT_TIMEOUT_MS 5000
/* Events held while the app is busy in blocking calls; the oldest is
 * dropped beyond this (naming.changed carries the full list, so a later
 * event supersedes an earlier one for the same key). */
#define NC_IPC_MAX_QUEUED_EVENTS 4096

/* timeout_ms arguments: > 0 milliseconds, or one of these. */
#define NC_IPC_TIMEOUT_DEFAULT 0   /* the handle's default (nc_ipc_set_timeout) */
#define NC_IPC_TIMEOUT_INFINITE -1 /* wait until the response or an error */

/* Error codes. The first group are the protocol's error codes as sent by
 * the agent ("code" of a failure response); the second group are local. */
#define NC_IPC_ERR_MAP(X)                                                                          \
  X(BAD_REQUEST, "bad request")                                                                    \
  X(TOO_LARGE, "request too large")                                                                \
  X(NOT_FOUND, "not found")                                                                        \
  X(CONFLICT, "conflict")                                                                          \
  X(FORBIDDEN, "forbidden")                                                                        \
  X(UNAVAILABLE, "unavailable")                                                                    \
  X(TIMEOUT, "timed out")                                                                          \
  X(INTERNAL, "internal error")                                                                    \
  X(UNKNOWN, "unknown error code from agent")                                                      \
  X(CONNECT, "cannot connect to agent")                                                            \
  X(CLOSED, "connection to agent closed")                                                          \
  X(PROTOCOL, "malformed message from agent")                                                      \
  X(NOMEM, "out of memory")                                                                        \
  X(INVAL, "invalid argument")                                                                     \
  X(IO, "i/o error")

typedef enum {
  NC_IPC_OK = 0,
  NC_IPC__ERR_FIRST = -100,
#define NC_IPC__ENUM(name, msg) NC_IPC_E_##name,
  NC_IPC_ERR_MAP(NC_IPC__ENUM)
#undef NC_IPC__ENUM
  NC_IPC__ERR_LAST
} nc_ipc_err;

/* "BAD_REQUEST", "CLOSED", ... ; static string, "OK" for 0, never NULL. */
const char *nc_ipc_err_name(int err);
/* Short static description, never NULL. */
const char *nc_ipc_strerror(int err);
/* Protocol code string -> enum (NC_IPC_E_UNKNOWN for anything else). */
int nc_ipc_err_from_code(const char *code);

typedef struct nc_ipc nc_ipc;

/* An event: name is the "event" field, msg the whole event object. Both are
 * borrowed for the duration of the call only. */
typedef void (*nc_ipc_event_cb)(nc_ipc *c, const char *name, const cJSON *msg, void *ud);

/* Socket path to use: explicit if non-NULL and non-empty, else
 * $NACOS_AGENT_SOCKET if set and non-empty, else NC_IPC_DEFAULT_SOCKET.
 * Returns a borrowed pointer (explicit, the environment, or a literal). */
const char *nc_ipc_socket_path(const char *explicit_path);

/* A new, unconnected handle; NULL only when out of memory. Owned by the
 * caller, released with nc_ipc_free(). */
nc_ipc *nc_ipc_new(void);
/* Closes the connection and frees the handle, queued events and stored
 * responses. NULL is accepted. */
void nc_ipc_free(nc_ipc *c);

/* Settings; may be changed at any time. max_line bounds every line read
 * from the agent (a longer one closes the connection), max_request every
 * request written (a longer one fails with NC_IPC_E_TOO_LARGE and the
 * connection stays); both at least 64 bytes. Raise max_request together
 * with the agent's max-line option. */
void nc_ipc_set_event_cb(nc_ipc *c, nc_ipc_event_cb cb, void *ud);
void nc_ipc_set_max_line(nc_ipc *c, size_t max_line);
void nc_ipc_set_max_request(nc_ipc *c, size_t max_request);
void nc_ipc_set_timeout(nc_ipc *c, int timeout_ms);

/* Connects to path (resolved with nc_ipc_socket_path). Returns 0 or
 * NC_IPC_E_CONNECT / NC_IPC_E_INVAL (already connected, path too long)
 * with the reason in nc_ipc_errmsg().
 *
 * Reconnecting: after the connection was lost (nc_ipc_connected() == 0),
 * call nc_ipc_connect() again on the same handle. nc_ipc_fd() stays the
 * same descriptor and events queued before the loss stay queued; requests
 * that were outstanding are forgotten. The agent dropped everything the
 * old connection held (instances, subscriptions, config listeners), so the
 * app registers, subscribes and listens again. */
int nc_ipc_connect(nc_ipc *c, const char *path);

/* The last failure on this handle: code (protocol code string such as
 * "NOT_FOUND", or a local name such as "CLOSED") and message. Borrowed,
 * valid until the next call on the handle; "" when none. */
const char *nc_ipc_errcode(const nc_ipc *c);
const char *nc_ipc_errmsg(const nc_ipc *c);

/* One blocking request. params (may be NULL) stays owned by the caller and
 * is not modified; keys "id" and "op" in it are ignored. On success returns
 * 0 and, if result is non-NULL, stores in *result a new object with the
 * response's fields minus "id" and "ok" (caller frees with cJSON_Delete).
 * On failure returns a negative nc_ipc_err, sets *result to NULL and
 * records code and message for nc_ipc_errcode()/nc_ipc_errmsg(). Errors
 * the agent sent, and local timeouts, leave the connection usable (a late
 * response is discarded). Errors of the connection itself (peer gone, an
 * oversized line from the agent, i/o failure) close it: nc_ipc_connected()
 * turns 0 and later calls fail with NC_IPC_E_CLOSED. When the agent names
 * its reason before hanging up (TOO_LARGE for a line over its cap, sent
 * with "id": null), that code is returned instead of NC_IPC_E_CLOSED. */
int nc_ipc_call(nc_ipc *c, const char *op, const cJSON *params, int timeout_ms, cJSON **result);

/* Pipelining: nc_ipc_send writes a request and returns its id in *id
 * without waiting; nc_ipc_wait blocks for that id (responses to other ids
 * are stored for their own waits). Same ownership and errors as
 * nc_ipc_call. Each sent id must be waited for exactly once; a wait that
 * times out forgets the id. */
int nc_ipc_send(nc_ipc *c, const char *op, const cJSON *params, int64_t *id);
int nc_ipc_wait(nc_ipc *c, int64_t id, int timeout_ms, cJSON **result);

/* For the app's own poll loop: wait for POLLIN on this descriptor, then
 * call nc_ipc_process(). -1 before a successful nc_ipc_connect(); after
 * that the same descriptor until nc_ipc_free(), readable for good once the
 * connection is gone (nc_ipc_process() then reports the error). Owned by
 * the handle: do not close it. */
int nc_ipc_fd(const nc_ipc *c);

/* Never blocks: reads what the socket has, then hands every queued event to
 * the callback (dropped if none is set). Returns the number of events
 * dispatched (>= 0), or a negative error once the connection is gone (after
 * dispatching what was queued before it went). */
int nc_ipc_process(nc_ipc *c);

/* Events queued and not yet dispatched; events dropped because the queue
 * was full (cumulative). */
size_t nc_ipc_pending(const nc_ipc *c);
uint64_t nc_ipc_dropped_events(const nc_ipc *c);

/* 1 while the connection is usable. */
int nc_ipc_connected(const nc_ipc *c);

#ifdef __cplusplus
}
#endif

#endif
