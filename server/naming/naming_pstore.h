/* naming_pstore: persistent (non-ephemeral) naming instances, the way
 * Nacos models them (nacos-wire-protocol.md §5.6; docs/persistent.md):
 * one client per address with the id "ip:port#false" (Nacos's
 * IpPortBasedClient), owned by no connection, removed only by an explicit
 * deregister. Registered over gRPC (PersistentInstanceRequest) and HTTP
 * (ephemeral=false).
 *
 * Durable: every write goes to the database first (naming_pstore_db.h, on
 * a worker thread of this module), then into the in-memory mirror here and
 * naming's registry, where each address is published as its client, so
 * queries, subscriptions and pushes treat it like any other instance. The
 * registry never reports "#false" clients to Distro: nodes share them
 * through the database instead. After a write this node tells its peers
 * (the notify hook: the service's key), which reload that service; a full
 * reload every reload_ms (and at start) repairs a missed notification.
 *
 * A service keeps its kind: a persistent instance is refused in a service
 * that has ephemeral instances and, through nc_naming_publish, the reverse
 * (NC_ECONFLICT with Nacos's message).
 *
 * Loop thread only, except the worker, which touches only the database
 * handle and its job queue. */
#ifndef NAMING_PSTORE_H
#define NAMING_PSTORE_H

#include "naming_handlers.h"
#include "nc_metrics.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct nc_npstore nc_npstore;

typedef struct nc_npstore_opts {
  const char *backend;  /* "sqlite" or "postgresql" (the config store's) */
  const char *data_dir; /* sqlite: <data_dir>/config.db */
  const char *db_url;   /* postgresql */
  int timeout_ms;       /* database calls; 0 = 5000 */
  int reload_ms;        /* full reload period; 0 = 30000 */
} nc_npstore_opts;

/* Opens the database, loads every row into naming (a database that is
 * down is logged and retried by the reload timer), registers the peer
 * handler (NcPersistentInstanceSyncRequest, cluster port only) on srv and
 * starts the worker. n and srv must outlive ps. */
int nc_npstore_new(uv_loop_t *loop, nc_srv *srv, nc_naming *n, const nc_npstore_opts *o,
                   nc_npstore **out);
/* Joins the worker; queued writes are answered NC_ECLOSED, finished ones
 * are applied. Later calls are answered NC_ECLOSED at once. Idempotent. */
void nc_npstore_stop(nc_npstore *ps);
/* Stops, then frees once the timer is closed (run the loop). NULL ok. */
void nc_npstore_free(nc_npstore *ps);

/* Called exactly once on the loop thread; msg is a static or temporary
 * text (valid for the call), NULL on success. rc: 0, NC_EINVAL (bad
 * instance), NC_ECONFLICT (the service is ephemeral), NC_EDB/NC_EUNAVAIL
 * (store), NC_ECLOSED (stopping), NC_ENOMEM. */
typedef void (*nc_npstore_done_fn)(void *ud, int rc, const char *msg);

/* Registers (or replaces) the instance (Instance JSON, §5.3; its
 * "ephemeral" is forced false) of ip:port in the service. inst copied. */
void nc_npstore_register(nc_npstore *ps, const char *ns, const char *group, const char *name,
                         const cJSON *inst, nc_npstore_done_fn done, void *ud);
/* Removes ip:port's instance from the service (0 also when absent). */
void nc_npstore_deregister(nc_npstore *ps, const char *ns, const char *group, const char *name,
                           const char *ip, int port, nc_npstore_done_fn done, void *ud);
/* A health check's verdict (naming_health.h): written, published, peers
 * told. No-op when it is already so or the instance is gone. */
void nc_npstore_set_health(nc_npstore *ps, const char *ns, const char *group, const char *name,
                           const char *ip, int port, int healthy);

/* Nacos's cluster settings of (service, cluster) (PUT /nacos/v1/ns/cluster):
 * json = {"healthChecker":{...},"checkPort":N,"useInstancePort4Check":b}
 * (validated by the caller, naming_health.h), stored, shared like the
 * instances; the health checks use it from their next check. */
void nc_npstore_set_checker(nc_npstore *ps, const char *ns, const char *group, const char *name,
                            const char *cluster, const char *json, nc_npstore_done_fn done,
                            void *ud);
/* The stored settings JSON (borrowed until the next return to the loop),
 * or NULL: the defaults (TCP on the instance's port). */
const char *nc_npstore_checker_json(nc_npstore *ps, const char *ns, const char *group,
                                    const char *name, const char *cluster);

/* 1 when the service holds persistent instances (its kind is persistent). */
int nc_npstore_has_service(nc_npstore *ps, const char *ns, const char *group, const char *name);
/* Nacos's refusal text for mixing kinds into buf: svc_persistent says
 * which kind the service has, what what was refused ("register ephemeral
 * instance", ...). */
const char *nc_npstore_kind_msg(char *buf, size_t cap, const char *group, const char *name,
                                int svc_persistent, const char *what);

/* Re-reads one service / everything from the database (a peer wrote). */
void nc_npstore_reload_service(nc_npstore *ps, const char *ns, const char *group,
                               const char *name);
void nc_npstore_reload_all(nc_npstore *ps);

/* After each write this node made: tell the peers (main.c sends
 * NcPersistentInstanceSyncRequest {namespace, groupName, serviceName} to
 * every member). fn NULL: standalone. */
typedef void (*nc_npstore_notify_fn)(void *ud, const char *ns, const char *group,
                                     const char *name);
void nc_npstore_set_notify(nc_npstore *ps, nc_npstore_notify_fn fn, void *ud);

/* Every persistent instance now held (strings borrowed for the call; fn
 * must not call back into ps). */
typedef struct nc_npstore_inst {
  const char *ns, *group, *name, *ip, *cluster;
  int port, healthy;
} nc_npstore_inst;
void nc_npstore_each(nc_npstore *ps, void (*fn)(void *ud, const nc_npstore_inst *in), void *ud);
size_t nc_npstore_count(const nc_npstore *ps);

typedef struct nc_npstore_stats {
  size_t instances, services;
  uint64_t writes, write_failures, health_changes, reloads, reload_failures, peer_notices;
} nc_npstore_stats;
void nc_npstore_get_stats(const nc_npstore *ps, nc_npstore_stats *st);
void nc_npstore_render_metrics(const nc_npstore *ps, nc_metrics_text *t);

#endif
