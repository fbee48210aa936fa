/* What the agent reports about itself (agent_metrics.c): agent.status
 * and GET /metrics, GET /health. Loop thread only. */
#ifndef NC_AG_METRICS_H
#define NC_AG_METRICS_H

#include "agent_int.h"

/* One snapshot feeds both agent.status and GET /metrics, so the two never
 * disagree. */
typedef struct nc_ag_stats {
  int connected;
  uint64_t apps, instances, subscriptions, config_listeners;
  uint64_t local_subscriptions, local_config_listeners;
  uint64_t uptime_s, reconnects, upstream_queued, up_events;
  uint64_t ipc_requests, ipc_errors;
  uint64_t heap_bytes; /* handed out by the allocator, all arenas */
} nc_ag_stats;
void nc_ag_stats_get(nc_agent *ag, nc_ag_stats *s);
/* agent.status. */
extern const nc_ag_op nc_ag_metrics_ops[];
/* Starts the HTTP server (nc_http: GET /metrics, GET /health) when
 * cfg->metrics_listen is set and not empty (0 otherwise, and when off). A
 * bad value or a failed bind is an error: the operator asked for metrics. */
int nc_ag_metrics_start(nc_agent *ag);
/* Stops the HTTP server (its memory goes in close callbacks); no-op if off. */
void nc_ag_metrics_stop(nc_agent *ag);

#endif
