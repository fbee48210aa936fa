/* nc_gsrv: the server side of the gRPC transport, one instance per
 * listening port (SDK port, cluster port).
 *
 * It serves /Request/request (unary) and /BiRequestStream/requestBiStream
 * (bidi) and knows nothing about Nacos beyond those two method paths: it
 * moves serialized Payload bytes. Completion-queue thread(s) deliver events
 * through the on_event callback; the owner (a libuv loop) queues them with
 * nc_evq. Replies and stream sends are thread-safe and may be called from
 * the owner's thread.
 *
 * Streams: a bidi stream is identified by a process-unique stream_id. A
 * RECV_CLOSE_ON_SERVER is kept outstanding on every stream so that a client
 * that dies (kill -9, RST) yields NC_GSRV_EV_STREAM_CLOSED within
 * milliseconds. Outbound messages are queued per stream (one send in flight
 * at a time); the queue is bounded by opts.stream_queue_max. */
#ifndef NC_GRPC_SERVER_H
#define NC_GRPC_SERVER_H

#include "nc_evq.h"

#include <stddef.h>
#include <stdint.h>

typedef struct nc_gsrv nc_gsrv;
typedef struct nc_gsrv_unary nc_gsrv_unary; /* a unary call awaiting its reply */

typedef enum {
  NC_GSRV_EV_UNARY,         /* call + data: reply exactly once (nc_gsrv_unary_reply) */
  NC_GSRV_EV_STREAM_OPEN,   /* stream_id: a bidi stream started */
  NC_GSRV_EV_STREAM_MSG,    /* stream_id + data: one message from the client */
  NC_GSRV_EV_STREAM_CLOSED, /* stream_id: stream over (client gone, cancelled or closed) */
} nc_gsrv_ev_type;

typedef struct nc_gsrv_ev {
  nc_evq_node node; /* free for the owner's queue */
  nc_gsrv_ev_type type;
  nc_gsrv *srv;
  uint64_t stream_id;  /* stream events */
  nc_gsrv_unary *call; /* NC_GSRV_EV_UNARY */
  char peer[96];       /* transport address, e.g. "ipv4:127.0.0.1:51158" */
  uint8_t *data;       /* message bytes, owned by the event */
  size_t len;
} nc_gsrv_ev;

/* Frees the event and its data (not the call: a UNARY event's call must
 * still be answered). */
void nc_gsrv_ev_free(nc_gsrv_ev *ev);

/* Called on a completion-queue thread; takes ownership of ev. */
typedef void (*nc_gsrv_on_event)(void *ud, nc_gsrv_ev *ev);
/* The same for a burst: every event a queue thread found ready at once
 * (at most NC_GSRV_BATCH_MAX), in order, chained through node.next (the
 * last one's is NULL). Takes ownership of them all. */
typedef void (*nc_gsrv_on_batch)(void *ud, nc_gsrv_ev *first);
#define NC_GSRV_BATCH_MAX 64

typedef struct nc_gsrv_opts {
  const char *host;        /* bind address, e.g. "127.0.0.1" or "0.0.0.0" */
  int port;                /* 0 = pick a free one */
  int max_msg_bytes;       /* inbound cap; 0 = 10 MiB as Nacos */
  /* Completion-queue threads; 0 = 1. They are one pool for the process,
   * shared by every server: the first server started sizes it, later ones
   * share it as it is (see nc_grpc_server.c). */
  int threads;
  size_t stream_queue_max; /* queued outbound messages per stream; 0 = 1024 */
  int keepalive_permit_ms; /* min client ping interval tolerated; 0 = 10 s */
  /* TLS on this port (nc_grpc_tls.c), ended by nacosd and relayed to the
   * core over a socketpair. Borrowed: must outlive the server. NULL = plain
   * text. A client certificate is required when the context has a client
   * CA (nc_tls_srv_mutual). */
  const struct nc_tls_srv *tls;
  int tls_plaintext;            /* 1: plain-text HTTP/2 served too (first byte decides) */
  int tls_handshake_timeout_ms; /* connect to handshake done; 0 = 10 s, then closed */
  /* Optional: events are delivered in bursts here instead of one by one to
   * the start callback (which is still required), so an owner that queues
   * them to another thread pays one hand-off per burst. */
  nc_gsrv_on_batch on_batch;
} nc_gsrv_opts;

/* Process-wide limits of every nc_gsrv (descriptors are process-wide).
 * Connections are accepted by nc_gsrv's own loop, not gRPC's (gRPC 1.51's
 * listener dies on EMFILE); see nc_grpc_accept.c. */
typedef struct nc_gsrv_limits {
  /* TCP connections open over all ports at most this many; the cap is
   * min(max_conns, RLIMIT_NOFILE soft limit - fd_reserve), re-read on each
   * accept. 0 = the descriptor-derived cap alone. Connections above it get
   * an HTTP/2 GOAWAY saying so and are closed; one log line per 10 s. */
  int max_conns;
  int fd_reserve; /* descriptors left for everything else; < 0 = 256 */
  /* HTTP/2 keepalive pings from the server on every connection (idle ones
   * included): a peer that does not ack one within keepalive_timeout_ms is
   * dropped (its streams end with STREAM_CLOSED). Applies to servers started
   * after the call. keepalive_ms 0 = NC_GSRV_KEEPALIVE_MS, < 0 = no pings;
   * keepalive_timeout_ms 0 = NC_GSRV_KEEPALIVE_TIMEOUT_MS. */
  int keepalive_ms, keepalive_timeout_ms;
} nc_gsrv_limits;
#define NC_GSRV_KEEPALIVE_MS 6000
#define NC_GSRV_KEEPALIVE_TIMEOUT_MS 4000

/* Replaces the limits (any thread, any time; the cap applies to the next
 * accept). Without a call: {0, 256, 0, 0}. */
void nc_gsrv_set_limits(const nc_gsrv_limits *l);
/* Connections open over all ports (sweeps first), and connections refused
 * since start (cap or descriptor shortage). Any thread. */
long nc_gsrv_open_conns(void);
unsigned long nc_gsrv_refused_total(void);

/* TLS on the gRPC ports, over all of them since start. */
typedef struct nc_gsrv_tls_counts {
  unsigned long handshakes_ok, handshakes_failed, handshakes_timeout;
  unsigned long plaintext; /* plain-text connections served on a TLS port (tls_plaintext) */
} nc_gsrv_tls_counts;
void nc_gsrv_tls_get_counts(nc_gsrv_tls_counts *out);

/* 1 when the client at ip:port (as the transport reported it, without
 * brackets) is connected to srv over TLS. The owner's thread, while srv
 * runs. */
int nc_gsrv_conn_tls(nc_gsrv *srv, const char *ip, int port);

/* Creates, binds and starts the server. *bound_port receives the actual
 * port. Returns 0, NC_EIO when the port cannot be bound, NC_ENOMEM. */
int nc_gsrv_start(const nc_gsrv_opts *opts, nc_gsrv_on_event cb, void *ud, nc_gsrv **out,
                  int *bound_port);

/* Sends the reply and releases the call. data is copied. Any thread; once
 * per call. If the client already went away the reply is dropped. */
int nc_gsrv_unary_reply(nc_gsrv_unary *call, const uint8_t *data, size_t len);

/* Queues one message on a stream. data is copied. Any thread. Returns
 * NC_ECLOSED for an unknown/ended stream, NC_EBUSY when its queue is full. */
int nc_gsrv_stream_send(nc_gsrv *srv, uint64_t stream_id, const uint8_t *data, size_t len);

/* Ends a stream from the server side (status UNAVAILABLE, so SDKs
 * reconnect). A STREAM_CLOSED event follows. Any thread. Messages queued
 * before the close are delivered first (e.g. ConnectResetRequest, then
 * close); later sends return NC_ECLOSED. A client that stops reading can
 * hold this up (HTTP/2 flow control): use nc_gsrv_stream_cancel for peers
 * that are presumed dead. */
int nc_gsrv_stream_close(nc_gsrv *srv, uint64_t stream_id);

/* Ends a stream at once (RST_STREAM, status UNAVAILABLE), dropping whatever
 * is queued. A STREAM_CLOSED event follows within milliseconds. Any thread.
 * Returns NC_ECLOSED for an unknown/ended stream. */
int nc_gsrv_stream_cancel(nc_gsrv *srv, uint64_t stream_id);

/* Messages queued on a stream and not yet handed to gRPC (0 for an unknown
 * stream). Any thread; a hint for push backpressure. */
size_t nc_gsrv_stream_queued(nc_gsrv *srv, uint64_t stream_id);

/* Shuts down: cancels all calls, waits for their last completion, frees
 * everything (the last server to stop also joins the queue threads). No
 * events are delivered once it has started (so no STREAM_CLOSED for the
 * streams it ends). Pending unary calls are released: the owner must not
 * touch a nc_gsrv_unary after calling it (replies racing it return
 * NC_ECLOSED). */
void nc_gsrv_stop(nc_gsrv *srv);

#endif
