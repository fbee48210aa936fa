/* Internals shared by the agent's request handlers (agent.c,
 * agent_reg.c, agent_naming.c, agent_hosts_out.c, agent_config.c,
 * agent_config_out.c, agent_metrics.c). Not a public header: only these files include it.
 * Loop thread only. */
#ifndef NC_AGENT_CORE_H
#define NC_AGENT_CORE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "agent.h"
#include "cache.h"
#include "ipc_server.h"
#include "nc_grpc_client.h"
#include "nc_metrics.h"
#include "state.h"
#include "upstream.h"

#define NC_AGENT_VERSION "0.1.0"
/* Upstream requests allowed to wait in the queue. */
#define NC_AG_MAX_QUEUED 65536

struct nc_agent {
  uv_loop_t *loop;
  const nc_agent_cfg *cfg;
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

  /* Upstream connection as the loop sees it. */
  int connected;
  uint64_t gen;
  char server[300];
  char conn_id[128];
  uint64_t reconnects, connects;
  uint64_t start_ms;

  /* Observability (agent_metrics.c): request lines read from apps, and
   * the HTTP /metrics listener (NULL and 0 when metrics-listen is off). */
  uint64_t ipc_requests;
  nc_metrics *metrics;
  int metrics_port;

  /* Registration redo of the current connection (agent_reg.c). */
  uint64_t redo_epoch;
  size_t redo_left;
  void (*redo_then)(nc_agent *ag);
};

/* ---- replies (agent.c) ---- */
/* {"id": id, "ok": true} plus the fields of extra (moved in; may be NULL). */
void nc_ag_ok(nc_ipc_client *c, const cJSON *id, cJSON *extra);
void nc_ag_err(nc_ipc_client *c, const cJSON *id, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps an nc_up status / Nacos response to an error reply. */
void nc_ag_err_upstream(nc_ipc_client *c, const cJSON *id, int status, const nc_msg *resp);
/* Sends obj to every open client. */
void nc_ag_broadcast(nc_agent *ag, const cJSON *obj);
/* 1 when the Nacos response says success. */
int nc_ag_resp_ok(const nc_msg *resp);
/* Error replies sent so far (every nc_ag_err). Process-wide: one agent
 * per process, loop thread only. */
uint64_t nc_ag_err_count(void);
/* Adds "server": the upstream "host:port" while connected, else null. */
void nc_ag_add_server(nc_agent *ag, cJSON *o);

/* A reply that waits for an upstream round trip: holds a client ref. */
typedef struct nc_ag_waiter {
  struct nc_ag_waiter *next;
  nc_ipc_client *c;
  cJSON *id;
  cJSON *clusters; /* naming.subscribe only */
  int healthy_only;
} nc_ag_waiter;
nc_ag_waiter *nc_ag_waiter_new(nc_ipc_client *c, const cJSON *id);
void nc_ag_waiter_free(nc_ag_waiter *w);

/* Sends a request upstream on the current connection (fails with
 * NC_EUNAVAIL when there is none). cb runs exactly once, later; while the
 * agent stops (NC_ECLOSED) or when the queue is full (NC_EBUSY) it runs
 * synchronously, so call this last. */
int nc_ag_up(nc_agent *ag, const char *type, cJSON *body, nc_up_done_cb cb, void *ud);

/* ---- request field helpers (agent.c) ---- */
/* Reads a required/optional string; on a problem replies BAD_REQUEST and
 * returns NULL / -1. Names are checked (no control characters, length). */
const char *nc_ag_req_name(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char *key,
                           const char *def);
/* namespace: "" and "public" are the same default namespace. */
const char *nc_ag_req_ns(nc_ipc_client *c, const cJSON *id, const cJSON *req, int *bad);

/* Identifies a service (or config key) across an upstream round trip:
 * entries may be gone (or re-created) by the time the answer comes, so
 * callbacks look them up again by name. */
typedef struct nc_ag_key {
  char *ns, *group, *service;
} nc_ag_key;
int nc_ag_key_set(nc_ag_key *k, const char *ns, const char *group, const char *service);
void nc_ag_key_clear(nc_ag_key *k);

/* The identity fields of every naming op (borrowed from the request):
 * namespace, group (default DEFAULT_GROUP), service (required). */
typedef struct nc_ag_ident {
  const char *ns, *group, *service;
} nc_ag_ident;
/* Each returns 0, or -1 after replying BAD_REQUEST. */
int nc_ag_read_ident(nc_ipc_client *c, const cJSON *id, const cJSON *req, nc_ag_ident *o);
/* ip, port (1..65535) and cluster (default DEFAULT, [0-9A-Za-z_-]). */
int nc_ag_read_addr(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char **ip,
                    int *port, const char **cluster);
int nc_ag_read_bool(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char *key,
                    int def, int *out);

/* ---- registrations (agent_reg.c) ---- */
void nc_ag_naming_register(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req);
void nc_ag_naming_deregister(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req);
void nc_ag_naming_reg_changed(nc_agent *ag, nc_st_reg *r);
/* Replays every registration set on a new connection; returns how many.
 * then(ag) runs once all of them are answered (at once when there are
 * none), if the connection is still up. */
size_t nc_ag_reg_redo(nc_agent *ag, void (*then)(nc_agent *ag));
void nc_ag_reg_tick(nc_agent *ag);
void nc_ag_reg_disconnected(nc_agent *ag);

/* ---- naming (agent_naming.c) ---- */
void nc_ag_naming_subscribe(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req);
void nc_ag_naming_unsubscribe(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req);
void nc_ag_naming_instances(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req);
void nc_ag_naming_push(nc_agent *ag, const cJSON *body);
void nc_ag_naming_redo(nc_agent *ag);
void nc_ag_naming_disconnected(nc_agent *ag);
void nc_ag_naming_tick(nc_agent *ag);
/* nc_st_drop_owner callback for a closing client's last subscription. */
void nc_ag_naming_svc_unused(nc_agent *ag, nc_st_svc *s);

/* ---- host lists to subscribers (agent_hosts_out.c) ---- */
/* 1 when a list stamped ref (nc_hosts_ref_time) is older than the one s
 * already holds from this connection (a subscribe or query answer
 * overtaken by a push). */
int nc_ag_hosts_older(const nc_st_svc *s, long long ref);
/* New hosts for a subscribed service (moved in): memory, disk, and
 * naming.changed to every subscriber whose view changed, except those in
 * waiting (apps whose subscribe reply is still outstanding get the list
 * there). A list older than the one held is dropped. */
void nc_ag_hosts_apply(nc_agent *ag, nc_st_svc *s, cJSON *hosts, long long ref,
                       const nc_ag_waiter *waiting);
/* Replies with hosts (borrowed) filtered by clusters and healthy_only;
 * *hash (may be NULL) gets the fingerprint of what was sent. */
void nc_ag_hosts_reply(nc_ipc_client *c, const cJSON *id, const cJSON *hosts,
                       const cJSON *clusters, int healthy_only, int stale, uint64_t *hash);
/* The same with the list stored in s. */
void nc_ag_hosts_reply_svc(nc_ipc_client *c, const cJSON *id, const nc_st_svc *s,
                           const cJSON *clusters, int healthy_only, int stale, uint64_t *hash);

/* ---- config (agent_config.c) ---- */
void nc_ag_config_get(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req);
void nc_ag_config_publish(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req);
void nc_ag_config_remove(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req);
void nc_ag_config_listen(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req);
void nc_ag_config_unlisten(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req);
void nc_ag_config_push(nc_agent *ag, const cJSON *body);
void nc_ag_config_redo(nc_agent *ag);
void nc_ag_config_disconnected(nc_agent *ag);
/* all: re-listen every key, not only the unconfirmed ones. */
void nc_ag_config_tick(nc_agent *ag, int all);
void nc_ag_config_cfg_unused(nc_agent *ag, nc_st_cfg *cfg);

/* ---- what the agent reports about itself (agent_metrics.c) ---- */
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
/* The agent.status reply. */
void nc_ag_status(nc_agent *ag, nc_ipc_client *c, const cJSON *id);
/* Starts the HTTP listener when cfg->metrics_listen is set and not empty
 * (0 otherwise, and when off). A bad value or a failed bind is an error:
 * the operator asked for metrics. */
int nc_ag_metrics_start(nc_agent *ag);
/* Closes the listener (its memory goes in close callbacks); no-op if off. */
void nc_ag_metrics_stop(nc_agent *ag);

/* ---- config content to listeners (agent_config_out.c) ---- */
/* Replies with content (borrowed; NULL: the key does not exist) and its
 * md5; listen adds `exists` to a found key's reply. */
void nc_ag_cfgout_reply(nc_ipc_client *c, const cJSON *id, const char *content, const char *md5,
                        int stale, int listen);
/* Sends config.changed with cfg's content to its listeners, except those
 * in skip (borrowed, may be NULL). */
void nc_ag_cfgout_changed(nc_st_cfg *cfg, const nc_ag_waiter *skip);
/* Stores what the server said about a key (content borrowed; NULL: absent):
 * memory (if listened) and disk. A config.get answer (from_get) leaves a
 * listened key alone. Returns 0 when nothing changed for a listened entry,
 * 1 when it was not known before and exists, 2 when its content changed. */
int nc_ag_cfgout_store(nc_agent *ag, const char *ns, const char *group, const char *data_id,
                       const char *content, int from_get);

#endif
