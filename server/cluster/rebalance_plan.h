/* rebalance_plan: the pure decision of one rebalance period
 * (nacos-cluster.md §5.7 steps 2-4): from every member's load, how many
 * connections this node moves and to whom. No I/O, so unit tests drive it
 * with made-up clusters (tests/unit/test_rebalance_plan.c). */
#ifndef NC_REBALANCE_PLAN_H
#define NC_REBALANCE_PLAN_H

#include <stddef.h>

#define NC_REBAL_MAX_TARGETS 64

/* One member as the planner sees it. */
typedef struct nc_rebal_node {
  const char *address; /* "ip:mainPort"; borrowed */
  long load;           /* SDK connections, corrected for moves in flight */
  long avg_load;       /* what goes into the average (as counted); -1: load */
  long movable;        /* of those, clients that follow a redirect */
  int draining;        /* it is shedding everything (never a target) */
  int usable;          /* UP, ready, connected and its load is fresh (self: 1) */
  int is_self;
} nc_rebal_node;

typedef struct nc_rebal_params {
  int tolerance_pct;  /* enter: load > avg * (1 + pct/100) ... */
  int tolerance_abs;  /* ... and load - avg >= abs */
  int stop_pct;       /* once acting, go on while load > avg * (1 + stop/100) */
  int cap_per_sec;    /* cluster-wide moves per second */
  int period_ms;      /* the budget covers one period */
  int acting;         /* self was acting after the previous period (hysteresis) */
} nc_rebal_params;

typedef struct nc_rebal_target {
  const char *address; /* borrowed from the nodes */
  long count;          /* connections to send there this period */
} nc_rebal_target;

typedef enum {
  NC_REBAL_IDLE = 0,     /* within tolerance: nothing to do */
  NC_REBAL_MOVE,         /* moves planned (rebalance or drain) */
  NC_REBAL_NO_TARGET,    /* over (or draining) but no usable member to take them */
  NC_REBAL_UNSTABLE,     /* a member is not usable: rebalance waits (not drain) */
} nc_rebal_verdict;

typedef struct nc_rebal_plan {
  nc_rebal_verdict verdict;
  double avg;      /* every usable member's load / the non-draining ones */
  long excess;     /* self load - avg, rounded toward zero (signed) */
  int n_shedding;  /* members sharing the cap: over-threshold ones + draining ones */
  long budget;     /* moves this period (sum of the targets' counts) */
  int acting;      /* hysteresis state to pass to the next period */
  size_t n_targets;
  nc_rebal_target targets[NC_REBAL_MAX_TARGETS];
} nc_rebal_plan;

/* Plans self's moves for one period. Rebalance (self not draining): every
 * member usable, self above the threshold (or still acting and above the
 * stop level); budget min(excess, movable, ceil(cap * T / n_shedding));
 * the budget is spread over the members below the average, the least
 * loaded first, never filling one above the average. Drain (self
 * draining): budget min(movable, ceil(cap * T / n_shedding)) spread over
 * the usable non-draining members by water-filling (least loaded first).
 * Returns the verdict (also in out). */
nc_rebal_verdict nc_rebal_plan_compute(const nc_rebal_params *p, const nc_rebal_node *nodes,
                                       size_t n, nc_rebal_plan *out);

#endif
