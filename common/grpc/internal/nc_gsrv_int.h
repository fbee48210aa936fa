/* Private to nc_grpc_server.c and nc_grpc_stream.c: the server's shared
 * types (tags, request slots, streams, the server itself) and the few
 * functions one file calls in the other. Not part of the transport API. */
#ifndef NC_GSRV_INT_H
#define NC_GSRV_INT_H

#include "nc_grpc_server.h"
#include "nc_grpc_util.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <pthread.h>
#include <stdatomic.h>

#define GS_UNARY_REQS 16 /* outstanding request_call per queue and method */
#define GS_STREAM_REQS 8
#define GS_MAX_THREADS 16
#define GS_LINGER 64 /* refused sockets kept until the client read the GOAWAY */

enum { T_REQ = 1, T_UNARY_DONE, T_GENERIC_DONE, T_S_RECV, T_S_CLOSE, T_S_SEND, T_S_STATUS, T_SHUTDOWN };
enum { M_UNARY, M_STREAM, M_GENERIC };

/* A completion queue and its thread. They are shared by every server of
 * the process (nc_grpc_server.c, "queue pool"): with gRPC's epoll1 poller
 * any thread blocked in grpc_completion_queue_next may be the one that
 * reads a socket, so a second port's idle thread would read the first
 * port's requests and wake its thread for each one. An event names its
 * server through its tag's object. */
typedef struct gs_cq {
  grpc_completion_queue *cq;
  pthread_t thr;
  int started;
  /* The burst being collected for on_batch (this thread only): events, and
   * unary calls kept referenced until they have been handed over. */
  nc_gsrv_ev *b_head, *b_tail;
  int b_n, b_nheld;
  struct nc_gsrv_unary *b_held[NC_GSRV_BATCH_MAX];
} gs_cq;

typedef struct gs_req { /* one outstanding request_call */
  nc_gtag tag;
  nc_gsrv *srv;
  gs_cq *q;
  int method;
  grpc_call *call;
  gpr_timespec deadline;
  grpc_metadata_array md;
  grpc_call_details details; /* generic only */
  grpc_byte_buffer *payload; /* unary only */
} gs_req;

typedef struct gs_stream {
  nc_gtag t_recv, t_close, t_send, t_status;
  nc_gsrv *srv;
  uint64_t id;
  grpc_call *call;
  atomic_int refs; /* outstanding batches + 1 while in the map */
  struct gs_stream *hnext;
  char peer[96];
  /* receive side: CQ thread only */
  grpc_byte_buffer *recv_bb;
  int recv_cancelled;
  int closed_emitted;
  /* send side: under mu */
  pthread_mutex_t mu;
  nc_bbq q; /* queued messages */
  grpc_byte_buffer *inflight;
  int sending, close_req, status_sent, dead;
  grpc_status_code close_code;
} gs_stream;

typedef struct gs_tls gs_tls; /* nc_grpc_tls.c: the TLS relay of one port */
struct nc_tls_srv;
struct sockaddr_storage;

typedef struct gs_linger {
  int fd; /* -1: free */
  uint64_t until;
} gs_linger;

struct nc_gsrv {
  grpc_server *server;
  /* listener (nc_grpc_accept.c): only its thread touches these after start */
  int port, lfd, wake_fd, reserve_fd, a_started;
  pthread_t athr;
  grpc_server_credentials *creds;
  gs_linger linger[GS_LINGER];
  /* TLS (nc_grpc_tls.c): set before start, read-only after */
  const struct nc_tls_srv *tls; /* NULL: plain text */
  int tls_plaintext, tls_hs_ms;
  gs_tls *relay;
  uint64_t last_refusal_log;
  unsigned long refused_since_log;
  char last_why[200];

  void *m_unary, *m_stream;
  nc_gsrv_on_event cb;
  nc_gsrv_on_batch on_batch;
  void *ud;
  atomic_int batched; /* events of this server in a queue thread's burst */
  size_t queue_max;
  int nq;
  gs_cq *qs; /* the process's queue pool (borrowed while the server runs) */
  gs_req *reqs;
  size_t n_reqs;
  nc_gtag t_shutdown;

  pthread_rwlock_t api_lock; /* read: API calls starting batches; write: stop */
  atomic_int stopping;

  pthread_mutex_t mu; /* live, pending, shutdown_done */
  pthread_cond_t cond;
  long live;
  int shutdown_done;
  nc_gsrv_unary *pending;

  pthread_mutex_t map_mu;
  gs_stream **buckets;
  size_t n_buckets, n_streams;
};

/* nc_grpc_accept.c */
/* Marks the listener fields unused; first thing after allocation. */
void nc_gsrv__listen_init(nc_gsrv *srv);
/* Binds and listens on host:port (0 = any free port); *bound gets the port.
 * NC_EIO when it cannot bind. Sets up the fields the others use. */
int nc_gsrv__listen(nc_gsrv *srv, const char *host, int port, int *bound);
/* Starts the accept thread; the gRPC server must be started. */
int nc_gsrv__listen_start(nc_gsrv *srv);
/* Stops the accept thread (before the gRPC server shuts down) and closes
 * the listener; safe after a failed or no nc_gsrv__listen_start. */
void nc_gsrv__listen_stop(nc_gsrv *srv);
/* The call's peer as "ipv4:a.b.c.d:port" (gRPC says "fd:N" for sockets
 * handed over by descriptor). */
void nc_gsrv__peer(grpc_call *call, char *out, size_t cap);
void nc_gsrv__get_limits(nc_gsrv_limits *out);
/* Records fd (the core's end of a TLS connection's socketpair) as carrying
 * peer, for nc_gsrv__peer; not counted (the TLS socket is). */
void nc_gsrv__alias(int fd, const char *peer);

/* nc_grpc_tls.c, called by the accept loop */
/* Starts the relay thread of a port with srv->tls set. On failure the
 * caller still calls nc_gsrv__tls_stop. */
int nc_gsrv__tls_start(nc_gsrv *srv);
/* Takes an accepted and admitted socket (non-blocking) of that port: TLS
 * handshake (or the plain-text sniff), then the relay. */
void nc_gsrv__tls_take(nc_gsrv *srv, int fd, const struct sockaddr_storage *ss,
                       const char *peer);
/* Stops the thread and closes every connection it holds; safe without a
 * relay. Before the gRPC server shuts down. */
void nc_gsrv__tls_stop(nc_gsrv *srv);
/* "ip:port" of a client address, as nc_gsrv_conn_tls is asked. */
void nc_gsrv__peer_key(const struct sockaddr_storage *ss, char *out, size_t cap);

/* nc_grpc_server.c */
void nc_gsrv__live_add(nc_gsrv *srv, long d);
/* Delivers one event to the owner (nothing once stopping); bb is copied. */
void nc_gsrv__emit(nc_gsrv *srv, nc_gsrv_ev_type type, uint64_t sid, nc_gsrv_unary *call,
                   const char *peer, grpc_byte_buffer *bb);

/* nc_grpc_server.c, on a queue thread: one completion; a burst to its
 * owners (opts.on_batch). */
void nc_gsrv__dispatch(grpc_event ev);
void nc_gsrv__burst_flush(gs_cq *q);

/* nc_grpc_pool.c */
/* Takes a reference on the pool (creating it with `threads` queues, at
 * most GS_MAX_THREADS, when none exists); qs and nq get its queues.
 * NC_ENOMEM when a thread cannot be created. */
int nc_gsrv__pool_acquire(int threads, gs_cq **qs, int *nq);
/* Drops it; the last reference shuts the queues down and joins their
 * threads. No server may still use them. Never on a queue thread. */
void nc_gsrv__pool_release(void);
/* The calling thread's queue when it is a pool thread, else NULL. */
gs_cq *nc_gsrv__this_queue(void);

/* nc_grpc_stream.c, all on the stream's queue thread */
void nc_gsrv__stream_arrived(nc_gsrv *srv, grpc_call *call);
void nc_gsrv__stream_on_recv(gs_stream *s, int ok);
void nc_gsrv__stream_on_close(gs_stream *s);
void nc_gsrv__stream_on_send(gs_stream *s, int ok);

#endif
