/* rebalance_int: internals shared by rebalance.c (lifecycle, load keys,
 * decision, status) and rebalance_move.c (victims, pacing, resets). Loop
 * thread only. */
#ifndef NC_REBALANCE_INT_H
#define NC_REBALANCE_INT_H

#include "nc_strmap.h"
#include "rebalance.h"
#include "rebalance_plan.h"

/* Reset callbacks may come after the engine is freed (connections are
 * dropped after it at shutdown): they hold the anchor, not the engine. */
typedef struct nc_rebal_anchor {
  nc_rebal *rb; /* NULL once freed */
  size_t refs;  /* resets in flight */
} nc_rebal_anchor;

typedef struct nc_rebal_stats {
  uint64_t sent, sent_drain;                      /* resets sent */
  uint64_t acked, nacked, timeout, gone, not_sent; /* their outcome */
  uint64_t left, stayed;                          /* the connection went / stayed 30 s */
} nc_rebal_stats;

/* A connection this node told to move (the cool-down). */
typedef struct nc_rebal_moved {
  uint64_t at;        /* uv_now of the reset */
  uint64_t left_wall; /* wall ms when the connection went; 0 = still here */
  int stayed;         /* counted as stayed */
  char target[80];    /* where it was sent */
} nc_rebal_moved;

typedef struct nc_rebal_tgt {
  char address[300];
  long left; /* moves still to send there this period */
} nc_rebal_tgt;

struct nc_rebal {
  uv_loop_t *loop;
  nc_srv *srv;
  nc_cluster *cl;
  nc_naming *naming;
  nc_rebal_opts o;
  char *clients; /* version prefixes, comma-separated (owned) */
  nc_rebal_mode mode;
  int draining;
  uv_timer_t decide_t, pace_t;
  int started, stopped, closing;
  unsigned seed;
  uint64_t started_at, stable_since; /* uv_now */
  int acting;                        /* hysteresis state */
  int last_verdict;                  /* of the previous decision (log once per spell) */
  size_t n_members;                  /* at the last decision (staleness scales with it) */
  double avg;
  long excess;
  uint64_t decisions, no_target;
  nc_rebal_stats st;
  nc_rebal_anchor *anchor;
  /* this period's moves (rebalance_move.c) */
  nc_rebal_tgt tg[NC_REBAL_MAX_TARGETS];
  size_t n_tg, next_tg;
  char **cand; /* candidate connection ids, shuffled */
  size_t n_cand, i_cand;
  double rate, tokens; /* resets per second; accumulated */
  uint64_t pace_last;  /* uv_now */
  nc_strmap *moved;    /* conn id -> nc_rebal_moved (cool-down) */
  uint64_t movable_at; /* uv_now of the cached count */
  long movable_cache;
};

/* rebalance.c */
void nc_rebal_decide_cb(uv_timer_t *t);

/* rebalance_move.c */
/* Starts sending plan's moves over the next period_ms. */
void nc_rebal_moves_begin(nc_rebal *rb, const nc_rebal_plan *plan, int period_ms);
/* Stops the moves of this period (nothing more is sent). */
void nc_rebal_moves_clear(nc_rebal *rb);
/* Forgets cool-down entries that are over, counts moved / stayed ones. */
void nc_rebal_moves_prune(nc_rebal *rb);
/* Connections told to move that are still here, within the move window. */
long nc_rebal_moves_leaving(nc_rebal *rb);
/* Moves to address its report (received at report_wall_ms) may not show
 * yet: still here, or gone since shortly before the report. */
long nc_rebal_in_flight(nc_rebal *rb, const char *address, uint64_t report_wall_ms);
/* Connection listener: a moved connection went. */
void nc_rebal_on_conn(void *ud, nc_conn *c, nc_conn_event ev);

#endif
