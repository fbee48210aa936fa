/* nc_gcli: the client side of the gRPC transport. One nc_gcli is one
 * channel = one HTTP/2 connection (local subchannel pool, so N clients give
 * N TCP connections); many clients share one nc_gcli_env, which owns the
 * completion-queue thread(s). Moves serialized Payload bytes only.
 *
 * Callbacks run on a completion-queue thread and must not block. The
 * blocking helpers must not be called from a callback. */
#ifndef NC_GRPC_CLIENT_H
#define NC_GRPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct nc_gcli_env nc_gcli_env;
typedef struct nc_gcli nc_gcli;

int nc_gcli_env_new(int threads, nc_gcli_env **out);
/* All clients of the env must have been freed. */
void nc_gcli_env_free(nc_gcli_env *env);

/* TLS for a client's connection (both transports read the same struct).
 * Files are PEM, read when the client is made (nc_gcli_new fails with
 * NC_EINVAL/NC_EIO on a missing or bad file). The server's certificate is
 * verified against ca_file and must name the target's host (an IP literal
 * matches an IP SAN, a name a DNS SAN), or server_name when set. */
typedef struct nc_gcli_tls {
  const char *ca_file;     /* the CA(s) the server's certificate must chain to; NULL =
                            * the system trust store (nghttp2 client; required by the
                            * C-core one) */
  const char *cert_file;   /* client certificate (mutual TLS); NULL = none */
  const char *key_file;    /* its private key; required with cert_file */
  const char *server_name; /* name to verify instead of the target's host; NULL = host */
} nc_gcli_tls;

typedef struct nc_gcli_opts {
  int max_msg_bytes; /* 0 = 10 MiB */
  int keepalive_ms;  /* HTTP/2 ping interval; 0 = 60 s as the Go SDK */
  int connect_timeout_ms; /* 0 = 3 s */
  const nc_gcli_tls *tls; /* NULL = plain text (h2c); borrowed during nc_gcli_new */
  /* gRPC method paths of the unary call and the bidi stream; NULL = Nacos's
   * "/Request/request" and "/BiRequestStream/requestBiStream". Other values
   * let a bench drive another gRPC server (etcd) on the same runtime; the
   * bytes sent are the caller's either way. Copied. */
  const char *unary_method, *stream_method;
} nc_gcli_opts;

/* target "host:port" (the gRPC port). opts may be NULL. */
int nc_gcli_new(nc_gcli_env *env, const char *target, const nc_gcli_opts *opts, nc_gcli **out);

/* Why the connection failed or ended, once it has ("TLS: certificate verify
 * failed: <reason>", "connection refused", ...); "" before that, or when
 * the transport cannot tell (the C-core one). Any thread. */
void nc_gcli_last_error(nc_gcli *c, char *buf, size_t cap);

/* status: 0, NC_ETIMEOUT, NC_EUNAVAIL (no connection), NC_EGRPC; also
 * NC_ETOOBIG (a message over a size cap) and NC_ECLOSED (cancelled, e.g. by
 * nc_gcli_free). data is borrowed for the duration of the callback.
 * Calls fail fast (NC_EUNAVAIL) while the channel cannot connect. */
typedef void (*nc_gcli_unary_cb)(void *ud, int status, const uint8_t *data, size_t len);
int nc_gcli_unary_async(nc_gcli *c, const uint8_t *data, size_t len, int timeout_ms,
                        nc_gcli_unary_cb cb, void *ud);
/* Blocking; *resp is malloc'ed, owned by the caller. */
int nc_gcli_unary(nc_gcli *c, const uint8_t *data, size_t len, int timeout_ms, uint8_t **resp,
                  size_t *resp_len);

typedef struct nc_gcli_stream_cbs {
  void (*on_msg)(void *ud, const uint8_t *data, size_t len); /* data borrowed */
  void (*on_closed)(void *ud, int status);                   /* at most once */
} nc_gcli_stream_cbs;
/* on_closed status: 0 (server finished with OK), NC_EUNAVAIL (server closed
 * it, as nc_gsrv_stream_close does, or no connection), NC_ETOOBIG, NC_EGRPC.
 * Neither on_msg nor on_closed runs once nc_gcli_free has started: a stream
 * the owner closes itself gets no on_closed. */

/* Opens the bidi stream (one per client; NC_ESTATE for a second one, even
 * after the first ended: make a new client to reconnect). */
int nc_gcli_stream_open(nc_gcli *c, const nc_gcli_stream_cbs *cbs, void *ud);
/* Queues a message on the stream; data copied; any thread. NC_ECLOSED if
 * the stream is not open, NC_EBUSY when 16384 messages are already queued. */
int nc_gcli_stream_send(nc_gcli *c, const uint8_t *data, size_t len);

/* Cancels everything, waits until no callback of this client runs or will
 * run, frees. Unary calls still in flight get their callback (NC_ECLOSED)
 * before it returns, so their user data can be released; stream callbacks
 * are suppressed. Does not block on the network (works with the server
 * gone). Must not be called from a callback of any client of the same env. */
void nc_gcli_free(nc_gcli *c);

#endif
