/* nc_wc: a Nacos 2.x wire client on top of nc_gcli: the handshake
 * (ServerCheckRequest, bidi stream, ConnectionSetupRequest), typed unary
 * requests, and server pushes with acks. Used by nacos-agent, the tests
 * and the benches; follows nacos-wire-protocol.md §4 and §12 (agent).
 *
 * Threading: callbacks run on a completion-queue thread of the env and
 * must not block; nc_wc_request (blocking) must not be called from them. */
#ifndef NC_WIRE_CLIENT_H
#define NC_WIRE_CLIENT_H

#include "nc_grpc_client.h"
#include "nc_payload.h"

typedef struct nc_wc nc_wc;

typedef struct nc_wc_opts {
  const char *target;         /* "host:grpcPort" */
  const char *client_version; /* default "Nacos-C-Client:v<version>" */
  const char *module;         /* connection label `module`; default "naming" */
  const char *app_name;       /* label `AppName`; default "unknown" */
  const char *client_ip;      /* Metadata.clientIp; default "127.0.0.1" */
  const char *tenant;         /* ConnectionSetupRequest.tenant; default omitted */
  int timeout_ms;             /* handshake/request timeout; default 3000 */
  int no_auto_ack;            /* 1: pushes are not acked automatically */
  const char *source;         /* label `source`; default "sdk". "cluster" (a nacosd peer,
                               * nacos-cluster.md §2.2) omits the module and AppName labels */
  const char *const *labels;  /* extra labels: key, value, ..., NULL; may be NULL */
  const char *access_token;   /* sent as the accessToken Metadata header on every request
                               * (nacosd with --auth on), as the SDKs do; NULL = none */
  const char *const *headers; /* more Metadata headers for every request after the
                               * handshake: key, value, ..., NULL (a peer's server
                               * identity); copied; may be NULL */
  int not_ready_fails_fast;   /* 1: a server still starting (ServerCheck errorCode 300, a
                               * cluster node before its snapshot) fails the connect at once
                               * with NC_ESTATE, so a caller with other servers moves on;
                               * 0 (default): ServerCheck is retried every 100 ms until the
                               * timeout */
  const nc_gcli_tls *tls;     /* TLS to the server (nc_gcli_opts.tls); NULL = plain text;
                               * borrowed during nc_wc_connect */
  const cJSON *ability_table; /* sent as ConnectionSetupRequest.abilityTable, as Java 2.3+/3.x
                               * and Python 3.x do (nacosd then answers with a SetupAckRequest,
                               * docs/protocol-3x.md); borrowed during nc_wc_connect; NULL =
                               * none (an empty clientAbilities, as the Go SDK sends) */
  int setup_ack_as_push;      /* 1: a SetupAckRequest (it has no requestId) is handed to
                               * on_push too, never acked; 0: ignored, as before */
  char *error;                /* when a connect fails: why, in the transport's words
                               * ("TLS: certificate verify failed: ..."), else the
                               * status; error_cap bytes; NULL = not wanted */
  size_t error_cap;
} nc_wc_opts;

/* A server push (NotifySubscriberRequest, ConfigChangeNotifyRequest,
 * ClientDetectionRequest, ConnectResetRequest, ...): any stream message whose
 * type ends in "Request" and whose body has a string requestId (so
 * SetupAckRequest is not one). push is borrowed.
 * Unless no_auto_ack, the client acks it after the callback returns with the
 * matching "...Response" type and the push's requestId. */
typedef void (*nc_wc_push_cb)(void *ud, nc_wc *wc, const nc_msg *push);
/* The stream ended (server closed it, or the transport died). At most once;
 * not called for a close the owner makes with nc_wc_close. */
typedef void (*nc_wc_closed_cb)(void *ud, nc_wc *wc, int status);

/* Replaces the access token later requests carry (a refreshed login);
 * NULL = none. Any thread. 0 or NC_ENOMEM. */
int nc_wc_set_access_token(nc_wc *wc, const char *token);

/* Blocking: connects and completes the handshake; returns once unary calls
 * are accepted (not 301). Callbacks may be NULL. */
int nc_wc_connect(nc_gcli_env *env, const nc_wc_opts *opts, nc_wc_push_cb on_push,
                  nc_wc_closed_cb on_closed, void *ud, nc_wc **out);

/* The connection id the server reported in ServerCheckResponse. */
const char *nc_wc_connection_id(const nc_wc *wc);

/* Blocking unary request. body is borrowed (requestId is not required).
 * On success *resp is the decoded response (owned by the caller,
 * nc_msg_free) whatever its resultCode; transport failures return NC_E*. */
int nc_wc_request(nc_wc *wc, const char *type, const cJSON *body, int timeout_ms, nc_msg **resp);

typedef void (*nc_wc_resp_cb)(void *ud, int status, nc_msg *resp /* owned by the callee */);
int nc_wc_request_async(nc_wc *wc, const char *type, const cJSON *body, int timeout_ms,
                        nc_wc_resp_cb cb, void *ud);

/* Sends an ack on the stream for a push: type `resp_type`, the given
 * requestId, resultCode 200 when ok else 500. */
int nc_wc_ack(nc_wc *wc, const char *resp_type, const char *request_id, int ok);

/* Sends raw Payload bytes on the stream (tests use this for malformed input). */
int nc_wc_stream_send_raw(nc_wc *wc, const uint8_t *data, size_t len);

/* Closes the stream and the channel; no callback runs after it returns. */
void nc_wc_close(nc_wc *wc);

#endif
