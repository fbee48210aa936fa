/* srv_priv: internals shared by srv_rpc.c (transport events, dispatch,
 * pushes), conn_manager.c (connection table, liveness) and srv_loader.c
 * (connection console, load shedding). Not for use outside those files.
 * Loop thread only. */
#ifndef SRV_PRIV_H
#define SRV_PRIV_H

#include "nc_grpc_server.h"
#include "nc_strmap.h"
#include "srv_outbox.h"
#include "srv_rpc.h"

/* One server->client request awaiting its ack. */
typedef struct nc_pend {
  struct nc_pend *prev, *next; /* srv deadline list, sorted by deadline */
  nc_conn *conn;
  char reqid[24];
  uint64_t deadline; /* uv_now ms */
  nc_push_cb cb;
  void *ud;
} nc_pend;

struct nc_conn {
  char *id;
  char *peer_key; /* "<port index>|<transport peer>" */
  char *client_ip, *remote_ip, *version, *app, *tenant;
  int remote_port;
  cJSON *labels; /* object of strings */
  uint64_t created_ms, last_active_ms; /* wall clock */
  nc_gsrv *g;
  uint64_t stream_id;
  nc_strmap *pending; /* requestId -> nc_pend */
  int probing;
  int reset_sent; /* a ConnectResetRequest went out (srv_loader.c) */
  int cluster;    /* came in on the cluster port */
  cJSON *abilities; /* the setup's abilityTable (srv_ability.c); NULL = none sent */
};

/* A transport seen by a unary call (ServerCheck) or a stream: the
 * connection id is minted once per transport. */
typedef struct nc_peer {
  char *conn_id;
  uint64_t seen_ms;
  nc_conn *conn; /* registered connection, or NULL */
} nc_peer;

typedef struct nc_stream {
  nc_gsrv *g;
  uint64_t id;
  char *peer_key;
  nc_conn *conn; /* registered on this stream, or NULL until setup */
  uint64_t opened_ms; /* uv_now */
  int pending;        /* counted in srv->pending_streams (open, not set up) */
  int closing;        /* closed by a limit; its STREAM_CLOSED is still to come */
} nc_stream;

typedef struct nc_listener {
  nc_conn_listener_fn fn;
  void *ud;
} nc_listener;

typedef struct nc_tickfn {
  void (*fn)(void *ud);
  void *ud;
} nc_tickfn;

typedef struct nc_handler {
  nc_handler_def def;
  void *ud;
  uint64_t count;
} nc_handler;

struct nc_srv {
  uv_loop_t *loop;
  nc_srv_opts o;
  char *bind;
  nc_gsrv *g[2]; /* SDK port, cluster port */
  nc_evq *q;
  nc_outbox *ob; /* stream writes happen on its thread */
  uv_timer_t tick;
  uint64_t tick_n;
  nc_strmap *conns;    /* id -> nc_conn */
  nc_strmap *peers;    /* peer key -> nc_peer */
  nc_strmap *streams;  /* "<stream id>" -> nc_stream */
  /* counts stored as (void *)(uintptr_t)n; absent = 0 (nc_cm_count_adj) */
  nc_strmap *pending_streams; /* peer key -> streams open without a setup */
  nc_strmap *conns_by_ip;     /* remote ip -> registered SDK-port connections */
  nc_strmap *handlers; /* type -> nc_handler */
  uint64_t unknown_count;
  nc_listener *listeners;
  size_t n_listeners;
  nc_tickfn *tickfns;
  size_t n_tickfns;
  nc_pend *dl_head, *dl_tail; /* all pending pushes by deadline */
  uint64_t push_seq;
  int shut;
  nc_srv_stats st;
  /* srv_dispatch.c: refusal log lines of the current second */
  uint64_t reject_sec, reject_lines, reject_suppressed;
  int ports[2];     /* bound SDK / cluster ports */
  size_t n_cluster; /* registered connections of the cluster port */
  nc_srv_auth_fn auth; /* nc_srv_set_auth */
  void *auth_ud;
  nc_srv_peer_fn peer_check; /* nc_srv_set_peer_check */
  void *peer_check_ud;
  int (*serve_gate)(void *ud); /* nc_srv_set_serve_gate */
  void *serve_gate_ud;
  /* srv_loader.c: shed SDK connections down to load_target (-1 = none) */
  long load_target;
  char *load_redirect;
  uint64_t load_deadline; /* uv_now ms */
  long eject_left;        /* resets the load target still sends (bounded rate) */
  int reset_rate;         /* of those per second; 0 = default */
  uint64_t loader_sec;    /* uv_now / 1000 of the last load-target step */
  int (*redirect_ok)(void *ud, const char *addr); /* nc_srv_set_redirect_check */
  void *redirect_ok_ud;
  /* srv_limits.c: run-time limit of SDK connections, when set */
  int conn_limit_set;
  long conn_limit;
};

/* conn_manager.c */
nc_peer *nc_cm_peer(nc_srv *srv, const char *peer_key, const char *peer, int create);
/* Registers a connection for a ConnectionSetupRequest on stream s. */
int nc_cm_register(nc_srv *srv, nc_stream *s, const char *peer, const nc_msg *setup);
/* Unregisters c: resolves its pushes with GONE, runs DOWN listeners,
 * optionally closes the stream, frees c. */
void nc_cm_unregister(nc_srv *srv, nc_conn *c, int close_stream, const char *why);
/* Periodic duties (timeouts, probes, peer expiry); armed by srv_rpc.c. */
void nc_cm_tick(nc_srv *srv);
void nc_cm_touch(nc_conn *c);
/* Frees the peer table entries (shutdown). */
void nc_cm_free_all(nc_srv *srv);
/* Adds d to the count under key in m (entry removed at 0); returns the new
 * count (the old one when the map cannot grow). */
size_t nc_cm_count_adj(nc_strmap *m, const char *key, long d);
size_t nc_cm_count(const nc_strmap *m, const char *key);
/* A stream leaves the open-without-setup count (setup done or closed). */
void nc_cm_stream_unpend(nc_srv *srv, nc_stream *s);
/* 1 for the 1st, 2nd, 4th, 8th ... event of a counter: log lines for
 * refusals a client can cause by the thousand. */
int nc_cm_log_this(uint64_t n);

/* srv_loader.c: every core tick (100 ms) */
void nc_srv_loader_tick(nc_srv *srv);
/* srv_limits.c: 1 when the SDK-port connection count is at the static cap
 * (*which = "cap") or the run-time limit (*which = "limit"). */
int nc_cm_over_limit(nc_srv *srv, const char **which);

/* srv_rpc.c */
void nc_srv_pend_resolve(nc_srv *srv, nc_pend *p, nc_push_result res);
/* "<port index>|<transport peer>": one entry per transport in srv->peers. */
void nc_srv_peer_key(char *buf, size_t cap, nc_srv *srv, const nc_gsrv_ev *ev);

/* srv_dispatch.c */
/* Registers the core's own handlers (HealthCheckRequest). */
int nc_srv_dispatch_init(nc_srv *srv);
/* Decodes, checks and dispatches one unary call (or answers it). */
void nc_srv_dispatch_unary(nc_srv *srv, nc_gsrv_ev *ev);

#endif
