/* rebalance: automatic connection rebalance and drain between cluster
 * members (nacos-cluster.md §5.7, issue 13).
 *
 * - Load exchange: every member report (cluster_report.c) carries this
 *   node's movable SDK load in extendInfo keys nc.sdkConCount, nc.movable,
 *   nc.draining, nc.rebalance, nc.movesOut, nc.ts (Java peers copy them
 *   verbatim and ignore them); a value older than three report periods is
 *   unknown.
 * - Decision every period_ms +- 20 % jitter on each node alone: when the
 *   node is warmed up, Distro loaded, every member UP, ready and fresh for
 *   stable_ms, and its load is above the average by more than tolerance
 *   (percent and absolute), it sends ConnectResetRequest with a redirect
 *   to members below average, at most its share of the cluster-wide
 *   moves/s cap. It keeps going until within stop_pct of the average
 *   (hysteresis), never pushes a target above the average.
 * - Victims: SDK connections older than min_conn_age_ms, not moved within
 *   cooldown_ms (by client ip + app), whose client follows a redirect
 *   (nacos-agent, Java, Go); never cluster connections.
 * - Drain: the node stops being a target (peers see nc.draining=1) and
 *   moves every movable connection off at the capped rate to the
 *   least-loaded UP ready members; undrain ends it.
 * Every move is counted in /metrics and logged.
 *
 * Threading: loop thread only (the HTTP and control-request handlers of
 * the loader call it on the loop). */
#ifndef NC_REBALANCE_H
#define NC_REBALANCE_H

#include "cluster.h"
#include "naming_handlers.h"
#include "nc_metrics.h"
#include "srv_rpc.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <uv.h>

typedef struct nc_rebal nc_rebal;
/* nc_naming from naming_handlers.h */

typedef enum { NC_REBAL_OFF = 0, NC_REBAL_AUTO = 1 } nc_rebal_mode;
/* "off" / "auto". */
const char *nc_rebal_mode_name(nc_rebal_mode m);
/* Parses "auto" | "off" (also "true"/"false", "on"); 0 or NC_EINVAL. */
int nc_rebal_parse_mode(const char *s, nc_rebal_mode *out);

/* Every threshold; 0 means the production default in brackets. */
typedef struct nc_rebal_opts {
  nc_rebal_mode mode;   /* start-up mode */
  int tolerance_pct;    /* act above avg * (1 + pct/100) [10] */
  int tolerance_abs;    /* ... and at least this many above avg [20] */
  int stop_pct;         /* once acting, stop within this percent of avg [3] */
  int period_ms;        /* decision period, +- 20 % jitter [10000] */
  int warmup_ms;        /* self up this long before acting [120000] */
  int stable_ms;        /* members UP/ready/fresh this long [60000] */
  int min_conn_age_ms;  /* connections younger are left alone [600000] */
  int cooldown_ms;      /* the same client ip+app not moved again [1800000] */
  int moves_per_sec;    /* cluster-wide cap on moves per second [30] */
  int report_stale_ms;  /* peer load older than this is unknown [6000; at least
                         * 3 s x (members - 1): reports go round-robin] */
  int migrate_grace_ms; /* instances of a moved client kept this long [5000]; -1 none */
  /* Clients that follow a ConnectResetRequest's redirect, as prefixes of
   * their ConnectionSetupRequest clientVersion, comma-separated, matched
   * without case; NULL: NC_REBAL_DEFAULT_CLIENTS. Others are counted in
   * the load but never picked. Copied. */
  const char *clients;
} nc_rebal_opts;

/* Java and Go SDKs follow serverIp (nacos-wire-protocol.md §6.6);
 * Nacos-C-Client is nacos-c's wire client: nacos-agent and nacosctl.
 * Python (2.0.x, 3.x) cannot parse the request and is left out. */
#define NC_REBAL_DEFAULT_CLIENTS "Nacos-Java-Client,Nacos-Go-Client,Nacos-C-Client"

/* Creates the engine (nothing runs until start). srv, cl must outlive it;
 * naming may be NULL (no migrating grace). opts copied. */
int nc_rebal_new(uv_loop_t *loop, nc_srv *srv, nc_cluster *cl, nc_naming *naming,
                 const nc_rebal_opts *opts, nc_rebal **out);
/* Starts the decision timer and hooks the member reports. */
int nc_rebal_start(nc_rebal *rb);
/* Stops timers; idempotent. */
void nc_rebal_stop(nc_rebal *rb);
/* NULL is a no-op. Stops first. */
void nc_rebal_free(nc_rebal *rb);

/* Automatic rebalance on this node, at run time. */
nc_rebal_mode nc_rebal_get_mode(const nc_rebal *rb);
void nc_rebal_set_mode(nc_rebal *rb, nc_rebal_mode m);

/* Drain: 1 = this node stops being a target and moves every movable
 * connection off at the capped rate; 0 = undrain. Logged. */
int nc_rebal_draining(const nc_rebal *rb);
void nc_rebal_set_draining(nc_rebal *rb, int on);

/* SDK connections of this node that follow a redirect (now). */
long nc_rebal_movable(nc_rebal *rb);
/* Moves per second the whole cluster allows (the cap option). */
int nc_rebal_moves_per_sec_cap(const nc_rebal *rb);
/* Resets this node sent for rebalance or drain, total. */
uint64_t nc_rebal_moves_out(const nc_rebal *rb);

/* This node's status for the cluster view's "nc" extras (caller owns):
 * {"rebalance":"auto"|"off","draining":bool,"movesOut":N,"excess":N
 *  (self load - cluster avg at the last decision, signed),
 *  "movable":N,"movesPerSecCap":N} */
cJSON *nc_rebal_status_json(nc_rebal *rb);
/* What member address last reported (same keys as nc_rebal_status_json
 * as far as reports carry them: rebalance, draining, movesOut, movable,
 * sdkConCount), or NULL when unknown/stale (self: nc_rebal_status_json). */
cJSON *nc_rebal_member_status_json(nc_rebal *rb, const char *address);

/* nacos_rebalance_* families. */
void nc_rebal_render_metrics(nc_rebal *rb, nc_metrics_text *t);

#endif
