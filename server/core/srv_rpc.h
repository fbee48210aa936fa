/* srv_rpc: the server's request/push core, shared by naming and config.
 *
 * Owns the loop thread's view of connections (ids, labels, liveness), the
 * handler table for unary request types, and server->client pushes with
 * ack matching by (connection, requestId). Everything here runs on the
 * server's libuv loop thread; no gRPC type leaks through this header.
 *
 * Implemented by srv_rpc.c (with conn_manager.c); naming.c and config.c
 * plug in through nc_srv_register_handler / nc_srv_add_conn_listener /
 * nc_srv_push. */
#ifndef SRV_RPC_H
#define SRV_RPC_H

#include "nc_metrics.h"
#include "nc_payload.h"

#include <stdint.h>
#include <uv.h>

typedef struct nc_srv nc_srv;       /* the server core */
typedef struct nc_conn nc_conn;     /* one registered long connection */
typedef struct nc_req nc_req;       /* one unary request being served */

/* ---- connections ---- */
const char *nc_conn_id(const nc_conn *c);        /* "<millis>_<ip>_<port>" */
const char *nc_conn_client_ip(const nc_conn *c); /* Metadata.clientIp of the setup */
const char *nc_conn_remote_ip(const nc_conn *c);
int nc_conn_remote_port(const nc_conn *c);
const char *nc_conn_label(const nc_conn *c, const char *key); /* NULL if absent */
const char *nc_conn_version(const nc_conn *c);
const char *nc_conn_app(const nc_conn *c);
const char *nc_conn_tenant(const nc_conn *c);
uint64_t nc_conn_created_ms(const nc_conn *c);
uint64_t nc_conn_last_active_ms(const nc_conn *c);
/* The connection came in on the cluster port (its source label grants
 * nothing: an SDK-port connection labelled source=cluster is an SDK one). */
int nc_conn_is_cluster(const nc_conn *c);

/* Looks up a live connection; borrowed pointer valid until the next return
 * to the loop. */
nc_conn *nc_srv_find_conn(nc_srv *srv, const char *conn_id);
size_t nc_srv_conn_count(nc_srv *srv);

typedef enum { NC_CONN_UP = 1, NC_CONN_DOWN = 2 } nc_conn_event;
/* Called after a connection registers (UP) and while it unregisters (DOWN,
 * before it is freed: drop every state keyed by it). */
typedef void (*nc_conn_listener_fn)(void *ud, nc_conn *c, nc_conn_event ev);
int nc_srv_add_conn_listener(nc_srv *srv, nc_conn_listener_fn fn, void *ud);

/* Unregisters a connection and closes its stream (status UNAVAILABLE). */
void nc_srv_drop_conn(nc_srv *srv, const char *conn_id, const char *why);

/* ---- unary requests ---- */
/* A handler gets the decoded request (borrowed for the call) and must
 * answer exactly once with nc_req_reply / nc_req_fail / nc_req_error, now or
 * later (e.g. after a durable write): the nc_req stays valid until then.
 * req->body is a JSON object (body errors are answered by the core). */
typedef void (*nc_handler_fn)(void *ud, nc_req *r, const nc_msg *req);

/* What the core checks before a handler runs, and what it records. */
enum {
  NC_H_CONN = 1u << 0,    /* needs a registered connection: else ErrorResponse 301,
                           * which tells an SDK to reconnect */
  NC_H_WRITE = 1u << 1,   /* changes state (counted; the hook for write permission) */
  NC_H_CLUSTER = 1u << 2, /* peers only: served on the cluster port, 302 elsewhere */
  NC_H_NAMING = 1u << 3,  /* the module a request belongs to (permissions, metrics) */
  NC_H_CONFIG = 1u << 4,
};

/* One row of a module's handler table. */
typedef struct nc_handler_def {
  const char *type;      /* Metadata.type, e.g. "InstanceRequest" */
  const char *resp_type; /* its response type: nc_req_reply/nc_req_fail use it for NULL */
  nc_handler_fn fn;
  unsigned flags;        /* NC_H_* */
} nc_handler_def;

/* Registers n handlers (tab copied), each called with ud. A type
 * registered again replaces the earlier handler (logged). */
int nc_srv_register_handlers(nc_srv *srv, const nc_handler_def *tab, size_t n, void *ud);
#define NC_SRV_HANDLERS(srv, tab, ud)                                                             \
  nc_srv_register_handlers((srv), (tab), sizeof(tab) / sizeof((tab)[0]), (ud))

/* Request authorization (server/auth's nc_auth_grpc): called on the SDK
 * port for every table request except HealthCheckRequest, after the
 * connection check, with the handler row's flags. Returns 0 to serve the
 * request, else the errorCode (403) of a refusal and *msg (static text),
 * answered as the handler's response type, as Nacos's auth filter does.
 * Cluster-port requests are not checked here. fn NULL = no check. */
typedef int (*nc_srv_auth_fn)(void *ud, const nc_msg *req, unsigned flags, const char **msg);
void nc_srv_set_auth(nc_srv *srv, nc_srv_auth_fn fn, void *ud);
/* Peer identity (cluster.h): every request on the cluster port except
 * ServerCheckRequest is served only when fn(ud, req) returns 1; else an
 * ErrorResponse 403 "server identity required" and a log line. NULL fn:
 * no check (auth off). */
typedef int (*nc_srv_peer_fn)(void *ud, const nc_msg *req);
void nc_srv_set_peer_check(nc_srv *srv, nc_srv_peer_fn fn, void *ud);

nc_conn *nc_req_conn(nc_req *r);       /* the registered connection; may be gone (NULL) for deferred replies */
const char *nc_req_conn_id(const nc_req *r);
nc_srv *nc_req_srv(nc_req *r);
/* Replies with a typed response (resp_type NULL: the table's). body is
 * consumed (may be NULL = base fields only); resultCode/errorCode/success
 * are added when absent. Failures (resultCode != 200) get a log line. */
void nc_req_reply(nc_req *r, const char *resp_type, cJSON *body);
/* A success reply (resultCode 200, errorCode 0, success true, message
 * when non-NULL) whose body ends with "key": json, a serialized JSON value
 * spliced in unparsed (borrowed): how a cached ServiceInfo is answered
 * without a cJSON tree. */
void nc_req_reply_splice(nc_req *r, const char *resp_type, const char *message, const char *key,
                         const char *json, size_t len);
/* The Payload nc_req_reply_splice sends (resp_type must be given), for a
 * caller that caches it: *out is malloc'ed, the caller's. 0 or NC_ENOMEM. */
int nc_srv_encode_splice(const char *resp_type, const char *message, const char *key,
                         const char *json, size_t len, uint8_t **out, size_t *out_len);
/* Replies with an encoded Payload (borrowed; the transport copies it). */
void nc_req_reply_encoded(nc_req *r, const uint8_t *buf, size_t len);
/* Typed response with resultCode 500 + errorCode + message (business error). */
void nc_req_fail(nc_req *r, const char *resp_type, int error_code, const char *message);
/* ErrorResponse (protocol-level failure; Java clients retry these). */
void nc_req_error(nc_req *r, int error_code, const char *message);

/* ---- pushes ---- */
typedef enum {
  NC_PUSH_ACKED = 0,    /* client answered with resultCode 200 */
  NC_PUSH_NACKED,       /* client answered with a failure */
  NC_PUSH_TIMEOUT,      /* no answer within timeout_ms */
  NC_PUSH_GONE,         /* connection gone before an answer */
  NC_PUSH_BUSY,         /* stream queue full, not sent */
} nc_push_result;

/* Called once per push, on the loop thread. */
typedef void (*nc_push_cb)(void *ud, const char *conn_id, nc_push_result res);

/* Sends a request on the connection's bidi stream. body is consumed; the
 * core adds a fresh decimal "requestId" and waits for the ack matching
 * (connection, requestId), whatever the ack's type. Returns 0 when queued
 * (cb will run exactly once), or NC_ECLOSED/NC_EBUSY/NC_ENOMEM (cb not
 * run). With nc_srv_opts.send_thread the write happens on a sender thread
 * and a full stream queue is reported through cb as NC_PUSH_BUSY instead. */
int nc_srv_push(nc_srv *srv, const char *conn_id, const char *type, cJSON *body, int timeout_ms,
                nc_push_cb cb, void *ud);

uv_loop_t *nc_srv_loop(nc_srv *srv);
uint64_t nc_now_ms(void); /* wall clock, epoch millis */

/* ---- metrics ---- */
typedef struct nc_srv_stats {
  uint64_t conns_opened, conns_closed, conns_probed, conns_dropped_idle;
  uint64_t pushes_sent, pushes_acked, pushes_nacked, pushes_timeout, pushes_gone, pushes_busy;
  uint64_t requests, request_errors;
  uint64_t conns_rejected; /* setups refused by the connection cap */
  uint64_t conns_rejected_ip;     /* setups refused by max_conns_per_ip */
  uint64_t streams_setup_timeout; /* streams closed: no setup in setup_timeout_ms */
  uint64_t streams_rejected;      /* streams closed: over max_pending_streams */
  uint64_t conns_reset;    /* ConnectResetRequests sent (console, load target) */
  uint64_t writes;         /* requests of NC_H_WRITE handlers dispatched */
  uint64_t requests_too_large; /* SDK-port bodies over max_body_bytes, refused unparsed */
  /* the run-time connection limit (srv_limits.c): refusals at
   * ServerCheckRequest (the SDK moves on at once) and, for a client that
   * skipped or raced the check, at ConnectionSetupRequest */
  uint64_t checks_rejected_limit, conns_rejected_limit;
  uint64_t loader_resets_failed; /* loader ConnectResetRequests not acked / not sent */
} nc_srv_stats;
const nc_srv_stats *nc_srv_get_stats(nc_srv *srv);
/* Appends the core's families (connections, pushes, requests) to t. */
void nc_srv_render_metrics(nc_srv *srv, nc_metrics_text *t);


/* ---- extensions (naming helper): lifecycle, raw pushes, counters ---- */

typedef struct nc_srv_opts {
  const char *bind;     /* listen address, e.g. "0.0.0.0" */
  int grpc_port;        /* SDK port; 0 = pick a free one */
  int cluster_port;     /* peer port; 0 = free one, -1 = do not listen */
  int grpc_threads;     /* completion-queue threads per port; 0 = 1 */
  int idle_probe_ms;    /* probe connections idle this long; 0 = 20000 */
  int probe_timeout_ms; /* drop when the probe is not acked in time; 0 = 5000 */
  int send_thread;      /* 1: stream writes on a sender thread (see srv_outbox.h) */
  int max_connections;  /* SDK-port connection cap (cluster port exempt); 0 = none */
  /* Bounds on anonymous clients (issue 12); 0 = none. */
  int setup_timeout_ms;    /* a stream without ConnectionSetupRequest is closed after this */
  int max_pending_streams; /* streams open without a setup per transport */
  int max_conns_per_ip;    /* registered SDK-port connections per remote ip */
  size_t max_body_bytes;   /* SDK-port Payload JSON body, checked before it is parsed */
  /* TLS (nc_gsrv_opts.tls): borrowed, must outlive the core; NULL = plain */
  const struct nc_tls_srv *tls_sdk, *tls_cluster;
  int tls_plaintext;            /* SDK port: plain text served too */
  int tls_handshake_timeout_ms; /* 0 = 10 s */
} nc_srv_opts;

/* Creates the core on loop (loop thread). opts copied. */
int nc_srv_new(uv_loop_t *loop, const nc_srv_opts *opts, nc_srv **out);
/* Binds and starts the transports; the actual ports are returned. */
int nc_srv_start(nc_srv *srv, int *grpc_port, int *cluster_port);
/* Shutdown is two steps so that modules answering requests late (config's
 * writer) can still reply while the transports run:
 * 1. nc_srv_drop_all: unregisters every connection (pending pushes resolve
 *    with NC_PUSH_GONE, DOWN listeners run). Then free such modules.
 * 2. nc_srv_shutdown: closes the event queue (queued unary calls get an
 *    error reply) and stops the transports; no handler or listener runs
 *    afterwards. Calls nc_srv_drop_all first if needed. Idempotent. */
void nc_srv_drop_all(nc_srv *srv);
void nc_srv_shutdown(nc_srv *srv);
/* Frees the core (after nc_srv_shutdown); run the loop once afterwards so
 * closed handles release their memory. NULL is a no-op. */
void nc_srv_free(nc_srv *srv);

/* nc_srv_push with a pre-serialized JSON object body (borrowed; must start
 * with '{'): the core splices in "requestId" as the first key, so a
 * fan-out can serialize the body once. */
int nc_srv_push_raw(nc_srv *srv, const char *conn_id, const char *type, const char *json,
                    size_t len, int timeout_ms, nc_push_cb cb, void *ud);

/* ---- connection console (nacos-wire-protocol.md §7.3; srv_loader.c) ---- */

/* JSON object connectionId -> {"metaInfo":{connectionId, clientIp,
 * remoteIp, remotePort, localPort, connectType, version, appName, tenant,
 * labels, createTime, lastActiveTime, sdkSource}, "abilityTable":{the
 * client's from its setup, or {}}, "traced":false} (malloc'ed text; NULL on OOM). */
char *nc_srv_loader_current(nc_srv *srv);
/* Splits a redirect address "ip:port" / "[v6]:port" (port 1..65535).
 * Returns 0 or NC_EINVAL. */
int nc_srv_parse_redirect(const char *addr, char *ip, size_t cap, int *port);
/* Sends one ConnectResetRequest (§6.6) to conn_id; with a redirect
 * ("ip:mainPort", validated by the caller) serverIp, serverPort (string)
 * and connectionId are filled. NC_ENOTFOUND for an unknown connection. */
int nc_srv_reload_client(nc_srv *srv, const char *conn_id, const char *redirect);
/* Sets the load target: from the next periodic run, SDK connections get a
 * ConnectResetRequest (redirect optional) until at most count remain; the
 * target is then cleared (or after 30 s). NC_EINVAL for count < 0. */
int nc_srv_reload_current(nc_srv *srv, long count, const char *redirect);
/* Registered connections that came in on the SDK port. */
size_t nc_srv_sdk_conn_count(nc_srv *srv);
/* The connection map as a cJSON object (caller owns; NULL on OOM), with
 * the fields of Nacos's Connection (createTime an ISO-8601 string,
 * lastActiveTime epoch ms, appLabels, connected, tlsProtected, ...); v3 = 1
 * names the namespace metaInfo.namespaceId (3.x), else tenant (2.x). */
cJSON *nc_srv_loader_current_json(nc_srv *srv, int v3);
/* Resets the load target still has to send (0 when idle). */
long nc_srv_reload_pending(nc_srv *srv);
/* The loader's reset rate: at most per_sec ConnectResetRequests a second
 * from the load target (<= 0: 100). */
void nc_srv_set_reset_rate(nc_srv *srv, int per_sec);
/* Checked before every batch of the load target's resets: fn(ud, redirect)
 * 0 ends the target (its redirect is no longer a member that is UP and
 * ready, cluster.h), so no reset names it. NULL fn: no check. */
void nc_srv_set_redirect_check(nc_srv *srv, int (*fn)(void *ud, const char *addr), void *ud);

/* ---- run-time connection limit (srv_limits.c) ----
 * Besides the static cap (nc_srv_opts.max_connections), a limit an
 * operator sets at run time (loader API): -1 = none. A node at either
 * refuses new SDK connections: ServerCheckRequest on the SDK port gets an
 * ErrorResponse (errorCode 503, "over connection limit"), so Java, Go and
 * nacos-agent try their next server at once; a setup that raced past the
 * check is refused (stream closed, as Nacos). Existing connections stay. */
void nc_srv_set_conn_limit(nc_srv *srv, long limit);
long nc_srv_conn_limit(nc_srv *srv);
/* 1 when a new SDK connection would be refused now (limit or cap). */
int nc_srv_at_conn_limit(nc_srv *srv);

/* Readiness gate (cluster.h): while fn(ud) returns 0, ServerCheckRequest on
 * the SDK port is answered with ErrorResponse errorCode 300 "server is
 * starting", so SDKs try another member; the cluster port is always
 * served. NULL fn removes the gate. */
void nc_srv_set_serve_gate(nc_srv *srv, int (*fn)(void *ud), void *ud);

/* Runs fn(ud) about once a second from the core's periodic timer (loop
 * thread), e.g. for sweeps. */
int nc_srv_add_tick_fn(nc_srv *srv, void (*fn)(void *ud), void *ud);

/* Requests served per Metadata.type (unknown types are counted under
 * "unknown"), for the metrics endpoint. */
void nc_srv_each_request_count(nc_srv *srv, void (*fn)(void *ud, const char *type, uint64_t n),
                               void *ud);

#endif
