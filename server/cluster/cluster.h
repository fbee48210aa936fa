/* cluster: nacosd's view of its cluster (nacos-cluster.md §1, §2): the
 * static member list (cluster.conf / --members), one long gRPC connection
 * per peer on the peer's cluster port with the Nacos handshake
 * (labels source=cluster), MemberReportRequest liveness with Nacos's
 * states, the cluster-only request handlers, and this node's readiness.
 * Distro (distro.h) and later config sync and the loader sit on top of
 * it: they send requests to peers with nc_cluster_send and hear member
 * state changes through listeners.
 *
 * Standalone (no member list) is a cluster of one: self only, always
 * ready, nc_cluster_send fails with NC_EINVAL.
 *
 * Threading: every function is loop-thread only; callbacks run on the
 * loop thread. Peer connections are made on a thread of the module's own
 * (nc_wc connects block) and hand their results to the loop. */
#ifndef NC_CLUSTER_H
#define NC_CLUSTER_H

#include "nc_metrics.h"
#include "nc_payload.h"
#include "srv_rpc.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct nc_cluster nc_cluster;

/* Nacos's NodeState values as they travel in Member JSON. */
typedef enum {
  NC_MEMBER_UP = 0,
  NC_MEMBER_SUSPICIOUS,
  NC_MEMBER_DOWN,
} nc_member_state;
const char *nc_member_state_name(nc_member_state s); /* "UP", ... */

typedef struct nc_cluster_opts {
  const char *cluster_conf; /* path of a cluster.conf, or NULL */
  const char *members;      /* "ip:port,ip:port", or NULL; neither: standalone */
  const char *advertise_ip; /* this node's ip as the list names it; NULL: found as Nacos does */
  int main_port;            /* this node's main (HTTP) port: members are named by it */
  int report_interval_ms;   /* MemberReportRequest round-robin period; 0 = 2000 */
  int unhealthy_interval_ms;/* reports to every non-UP member; 0 = 5000 */
  int request_timeout_ms;   /* cluster requests; 0 = 3000 */
  int fail_threshold;       /* > this many consecutive failures: DOWN; 0 = 3 */
  int hold_ready_ms;        /* testing: readiness held this long after start; 0 = none */
  /* Peer identity (Nacos's server identity): every request to a peer carries
   * the Metadata header identity_key: identity_value, and the cluster port
   * refuses requests without it (403). NULL key: no identity (auth off).
   * Copied. */
  const char *identity_key, *identity_value;
  /* Mutual TLS to members (--cluster-tls-ca): CA, this node's certificate,
   * the member's address verified against its certificate. Borrowed: must
   * outlive the cluster. NULL = plain text. */
  const struct nc_gcli_tls *peer_tls;
} nc_cluster_opts;

/* Parses the member list and finds self (start-up fails with a clear
 * message, NC_EINVAL, when self is not in a non-empty list); registers the
 * cluster-only handlers on srv. Connects nothing yet. */
int nc_cluster_new(uv_loop_t *loop, nc_srv *srv, const nc_cluster_opts *opts, nc_cluster **out);
/* Starts peer connections and the report timers. */
int nc_cluster_start(nc_cluster *cl);
/* Closes peer connections (pending sends get NC_ECLOSED); idempotent. */
void nc_cluster_stop(nc_cluster *cl);
void nc_cluster_free(nc_cluster *cl);

int nc_cluster_is_standalone(const nc_cluster *cl);
/* This node's address "ip:mainPort", byte-identical to its list entry. */
const char *nc_cluster_self(const nc_cluster *cl);

/* One member as nc_cluster_members reports it (strings borrowed until the
 * next return to the loop). */
typedef struct nc_member_info {
  const char *address; /* "ip:port" (main port) */
  const char *ip;
  int port;
  int is_self;
  nc_member_state state;
  int ready;                 /* the member says it may serve (extendInfo) */
  int connected;             /* our peer connection to it is up */
  uint64_t last_refresh_ms;  /* last report from / to it that succeeded (wall clock) */
  int fail_count;            /* consecutive failures seen by us */
  const char *version;       /* its extendInfo.version, "" when unknown */
  long long connections;     /* its SDK connection count as reported, -1 unknown */
} nc_member_info;
/* Fills up to cap entries sorted by address; returns the member count. */
size_t nc_cluster_members(nc_cluster *cl, nc_member_info *out, size_t cap);
/* Member JSON as Nacos serves it (nacos-cluster.md §1.4) for one member or
 * the array of all (sorted by address); caller owns. */
cJSON *nc_cluster_member_json(nc_cluster *cl, const char *address);
cJSON *nc_cluster_members_json(nc_cluster *cl);

/* ---- readiness ----
 * A node may serve SDK clients once every holder released its hold
 * (Distro's start-up snapshot, config loaded, ...). While not ready the
 * core refuses ServerCheckRequest on the SDK port (clients pick another
 * member) and GET /nacos/v1/console/health/readiness answers 503. */
typedef struct nc_cluster_hold nc_cluster_hold;
nc_cluster_hold *nc_cluster_hold_ready(nc_cluster *cl, const char *why);
void nc_cluster_release_ready(nc_cluster *cl, nc_cluster_hold *h);
/* 1 when ready; else 0 and why (the first hold's reason) into buf. */
int nc_cluster_ready(const nc_cluster *cl, char *why, size_t cap);

/* ---- talking to peers ---- */
/* Sends a cluster request to member (its address) over our connection to
 * it. body is consumed. cb runs exactly once on the loop with status 0 and
 * the response (borrowed for the call; may carry resultCode != 200), or an
 * NC_E* status (NC_EUNAVAIL: not connected, NC_ETIMEOUT, NC_ECLOSED on
 * stop). Returns 0 (cb will run) or an error (cb will not run). */
typedef void (*nc_cluster_resp_fn)(void *ud, int status, const nc_msg *resp);
int nc_cluster_send(nc_cluster *cl, const char *member, const char *type, cJSON *body,
                    int timeout_ms, nc_cluster_resp_fn cb, void *ud);

/* Member state or connection changes (UP -> SUSPICIOUS -> DOWN and back,
 * peer connection up/down): every listener, in the order added. */
typedef void (*nc_cluster_member_fn)(void *ud, const nc_member_info *m, nc_member_state old);
int nc_cluster_add_member_listener(nc_cluster *cl, nc_cluster_member_fn fn, void *ud);

/* ---- extra keys in this node's Member JSON (rebalance.h) ----
 * fn adds keys (named "nc.*": Java peers keep them as opaque metadata) to
 * this node's extendInfo each time it is serialised: member reports both
 * ways and the member lists. One hook; fn NULL removes it. */
typedef void (*nc_cluster_ext_fn)(void *ud, cJSON *ext);
void nc_cluster_set_self_ext(nc_cluster *cl, nc_cluster_ext_fn fn, void *ud);
/* The extendInfo member address last reported (borrowed until the next
 * return to the loop) and in *refresh_ms when we got it (wall ms, 0:
 * never). NULL for self or an unknown address. */
const cJSON *nc_cluster_member_ext(nc_cluster *cl, const char *address, uint64_t *refresh_ms);
/* Reports to every connected peer now (this node has news, e.g. it
 * started draining), besides the periodic round. */
void nc_cluster_report_now(nc_cluster *cl);

/* Per-member state and report counters for /metrics. */
void nc_cluster_render_metrics(nc_cluster *cl, nc_metrics_text *t);

#endif
