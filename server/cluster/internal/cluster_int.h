/* cluster_int: internals shared by the files of the cluster module:
 * cluster.c (lifecycle, members, readiness, listeners, metrics),
 * cluster_peer.c (one connection thread per peer, sends),
 * cluster_report.c (MemberReportRequest both ways, states),
 * cluster_json.c (Member JSON). Loop thread only unless a field says so. */
#ifndef NC_CLUSTER_INT_H
#define NC_CLUSTER_INT_H

#include "cluster.h"
#include "cluster_conf.h"
#include "nc_evq.h"
#include "nc_grpc_client.h"
#include "nc_wire_client.h"

#include <pthread.h>

typedef struct nc_cpeer nc_cpeer;

typedef struct nc_cmember {
  char *address, *ip;
  int port, is_self;
  nc_member_state state;
  int fail_count;
  uint64_t last_refresh_ms; /* wall clock */
  int reported;             /* a report from or to it succeeded once */
  cJSON *ext;               /* extendInfo as it last reported it (remote members) */
  int report_inflight;
  nc_cpeer *peer;           /* NULL for self */
} nc_cmember;

/* One peer connection, made and closed on the peer's own thread (nc_wc
 * connects block); the loop borrows the live nc_wc. */
struct nc_cpeer {
  nc_cluster *cl;
  nc_cmember *m;
  char target[300]; /* ip:(port+1001) */
  pthread_t th;
  int th_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* under mu */
  int stop;         /* the thread ends */
  int have_conn;    /* the thread made a connection the loop has not given back */
  nc_wc *to_close;  /* given back by the loop: the thread closes it */
  nc_wc *thread_wc; /* the live connection (closed by the thread at stop) */
  uint64_t gen;     /* connection generation */
  nc_wc *early_closed; /* its stream ended before the thread recorded it */
  /* loop only */
  nc_wc *wc;        /* live connection, or NULL */
  uint64_t wc_gen;
  int refused;      /* the last connect attempt was refused */
};

typedef struct nc_cl_listener {
  nc_cluster_member_fn fn;
  void *ud;
} nc_cl_listener;

struct nc_cluster_hold {
  struct nc_cluster_hold *next;
  char why[128];
};

struct nc_cluster {
  uv_loop_t *loop;
  nc_srv *srv;
  nc_cluster_opts o;
  char *identity[3]; /* key, value, NULL: the peers' nc_wc headers; key NULL = none */
  int standalone;
  char self[300];
  nc_cmember **members; /* sorted by address; self included */
  size_t n;
  nc_cmember *me;
  nc_gcli_env *env;
  nc_evq *q;
  uv_timer_t report_timer, unhealthy_timer, hold_timer;
  int timers_on, started, stopped;
  size_t rr; /* round-robin cursor over peers */
  nc_cl_listener *listeners;
  size_t n_listeners;
  struct nc_cluster_hold *holds;
  struct nc_cluster_hold *test_hold;
  uint64_t reports_sent, reports_failed, reports_received;
  nc_member_info *info_buf; /* nc_cluster_members' scratch for listeners */
  nc_cluster_ext_fn self_ext_fn; /* nc_cluster_set_self_ext */
  void *self_ext_ud;
};

/* cluster.c */
nc_cmember *nc_cl_find(nc_cluster *cl, const char *address);
void nc_cl_member_info(const nc_cmember *m, nc_member_info *out);
/* Calls every member listener when m's state (old) or connection changed. */
void nc_cl_notify(nc_cluster *cl, nc_cmember *m, nc_member_state old);

/* cluster_peer.c */
int nc_cl_peers_start(nc_cluster *cl);
/* Joins the threads (connections closed; in-flight sends resolve). */
void nc_cl_peers_stop(nc_cluster *cl);
void nc_cl_peer_free(nc_cpeer *p);
/* The loop side of the event queue. */
void nc_cl_on_event(void *ud, nc_evq_node *node);
void nc_cl_drop_event(nc_evq_node *node);

/* cluster_report.c */
int nc_cl_report_init(nc_cluster *cl);
/* Starts the two report timers (initialised by cluster.c, which closes them). */
void nc_cl_report_start(nc_cluster *cl);
/* Sends one MemberReportRequest to m now (unless one is in flight). */
void nc_cl_report_member(nc_cluster *cl, nc_cmember *m);
/* The same to every connected peer (this node's readiness changed). */
void nc_cl_report_all(nc_cluster *cl);

/* cluster_json.c */
/* Member JSON of m (§1.4); caller owns. */
cJSON *nc_cl_member_to_json(nc_cluster *cl, const nc_cmember *m);
/* Default extendInfo of a member parsed from the list. */
cJSON *nc_cl_default_ext(const nc_cmember *m);

#endif
