/* nc_up: the agent's one long connection to the cluster.
 *
 * A dedicated upstream thread owns the nc_wc connection: it picks a server
 * (upstream_pick.h: members last seen UP and ready first, ties random),
 * runs the blocking handshake, executes queued requests one at a
 * time (so requests reach the server in the order the loop queued them),
 * sends HealthCheckRequest after health_ms of silence, and on stream end,
 * errorCode 301, a failed health check or a ConnectResetRequest closes the
 * connection and moves to the next server. A server that refuses, times
 * out or is still starting (ServerCheck errorCode 300: given up at once)
 * costs one attempt; only a round in which every server failed is
 * followed by jittered back-off (about 100 ms growing to 4 s), forever.
 * While connected it reads the server's member list over HTTP
 * (upstream_members.h) ~100 ms after connecting and every 10 s. Pushes
 * are acked by nc_wc; their bodies and all results are handed to the loop
 * thread through an nc_evq.
 *
 * Every successful connect gets a new generation number. A request queued
 * for generation g is failed with NC_EUNAVAIL if the connection it would
 * go out on is not g: the redo that follows every connect re-sends the
 * full desired state, so a stale snapshot must never overtake it.
 *
 * Threading: nc_up_* functions are called on the loop thread; callbacks
 * run on the loop thread. */
#ifndef NC_UPSTREAM_H
#define NC_UPSTREAM_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <uv.h>

#include "agent_opts.h"
#include "nc_grpc_client.h"
#include "nc_payload.h"

typedef struct nc_up nc_up;

typedef struct nc_up_cbs {
  /* server is "host:port" (the main port), conn_id the server's id. */
  void (*on_connected)(void *ud, uint64_t gen, const char *server, const char *conn_id);
  void (*on_disconnected)(void *ud, uint64_t gen, const char *reason);
  /* A server push (already acked). type/body borrowed. */
  void (*on_push)(void *ud, uint64_t gen, const char *type, const cJSON *body);
  void *ud;
} nc_up_cbs;

typedef struct nc_up_opts {
  const nc_server_addr *servers; /* copied */
  size_t n_servers;
  int health_ms;   /* idle time before a health check; default 5000 */
  int timeout_ms;  /* request / health-check timeout; default 3000 */
  const char *app_name, *client_ip;
  /* nacosd --auth on: log in as username before each connect (HTTP, the
   * server's main port) and carry the token on every request, renewed
   * half way to its expiry. NULL = no login. Copied. */
  const char *username, *password;
  /* TLS to every server, its gRPC port (h2, ALPN) and its HTTP port (login,
   * member list): certificates verified as nc_gcli_tls says, the key file
   * refused unless private to the agent. NULL = plain text. Copied. */
  const nc_gcli_tls *tls;
} nc_up_opts;

/* status: 0 (resp non-NULL, owned by the callee, whatever its resultCode),
 * NC_EUNAVAIL (not connected / generation gone), NC_ETIMEOUT, NC_ECLOSED
 * (agent stopping) or another transport error. */
typedef void (*nc_up_done_cb)(void *ud, int status, nc_msg *resp);

/* NC_EINVAL / NC_EPERM / NC_EIO for TLS options that cannot be used (logged
 * with the reason). */
int nc_up_new(uv_loop_t *loop, nc_gcli_env *env, const nc_up_opts *opts, const nc_up_cbs *cbs,
              nc_up **out);
/* Starts the upstream thread. */
int nc_up_start(nc_up *up);
/* Queues a request. body is moved in. gen 0 = whatever connection is
 * current when it is sent. Requests leave in queue order and are
 * pipelined (up to 128 in flight); one with an ordering key is not sent
 * before the previous request with the same key has been answered, so
 * changes to one service or config reach the server in order. key NULL
 * (reads) = may overtake anything. cb runs exactly once (also on
 * failure). */
int nc_up_request(nc_up *up, uint64_t gen, const char *type, cJSON *body, const char *key,
                  nc_up_done_cb cb, void *ud);
/* Requests queued but not yet sent. */
size_t nc_up_queued(nc_up *up);
/* Why the servers failed since the last good connect, each server's
 * latest reason in --servers order, "; "-separated ("" once connected, or
 * before any attempt), e.g. "127.0.0.1:9848: TLS: certificate verify
 * failed: ...; 127.0.0.1:9850: connection refused". Any thread. */
void nc_up_last_error(nc_up *up, char *buf, size_t cap);
/* Stops the thread (waits for an in-flight request at most its timeout)
 * and fails everything queued with NC_ECLOSED. */
void nc_up_stop(nc_up *up);
/* After nc_up_stop; closes the evq (run the loop once more to free it). */
void nc_up_free(nc_up *up);

#endif
