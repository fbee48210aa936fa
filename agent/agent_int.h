/* The agent object's fields and the shape of an op table. Types only (no
 * functions, so it belongs to no module and closes no include circle):
 * agent.c builds the object, link.c keeps the upstream view in it, the
 * handler modules read and update their parts. Not a public header.
 * Loop thread only. */
#ifndef NC_AGENT_INT_H
#define NC_AGENT_INT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "agent.h"
#include "cache.h"
#include "ipc_server.h"
#include "nc_grpc_client.h"
#include "nc_http.h"
#include "state.h"
#include "upstream.h"

#define NC_AGENT_VERSION "0.1.0"
/* Upstream requests allowed to wait in the queue. */
#define NC_AG_MAX_QUEUED 65536

struct nc_agent {
  uv_loop_t *loop;
  const nc_agent_cfg *cfg;
  struct nc_ag_policy *policy; /* --uid-policy; NULL = none */
  nc_ipc_srv *srv;
  nc_st *st;
  nc_cache *cache;
  nc_up *up;
  nc_gcli_env *env;
  uv_signal_t sigterm, sigint;
  uv_timer_t housekeeping;
  uint64_t up_events, up_events_seen; /* upstream requests + pushes */
  int trimmed;
  uint64_t ticks;
  int stopping;

  /* Upstream connection as the loop sees it (link.c). */
  int connected;
  uint64_t gen;
  char server[300];
  char conn_id[128];
  uint64_t reconnects, connects;
  uint64_t start_ms;

  /* Observability (agent_metrics.c): request lines read from apps, and
   * the HTTP server of /metrics and /health (NULL and 0 when
   * metrics-listen is off). */
  uint64_t ipc_requests;
  nc_http *metrics;
  int metrics_port;

  /* Registration redo of the current connection (agent_reg.c). */
  uint64_t redo_epoch;
  size_t redo_left;
  void (*redo_then)(nc_agent *ag);
};

/* One local-protocol op: req is the whole request object (borrowed), id
 * its "id" (borrowed, may be NULL). The handler replies exactly once, now
 * or later. */
typedef void (*nc_ag_op_fn)(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req);
/* Each handler module exports a table of these, ended by {NULL, NULL};
 * agent.c looks ops up in the tables instead of naming them. */
typedef struct nc_ag_op {
  const char *name;
  nc_ag_op_fn fn;
} nc_ag_op;

#endif
