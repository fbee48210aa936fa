/* naming_handlers: the naming service of nacosd — wires the request
 * handlers (InstanceRequest, BatchInstanceRequest, ServiceQueryRequest,
 * SubscribeServiceRequest, ServiceListRequest) and a connection listener
 * into the server core, on top of naming_registry and naming_push.
 * Loop thread only. */
#ifndef NAMING_HANDLERS_H
#define NAMING_HANDLERS_H

#include "naming_push.h"
#include "naming_registry.h"
#include "srv_rpc.h"

typedef struct nc_naming nc_naming;

typedef struct nc_naming_opts {
  int merge_ms;        /* push merge window; 0 allowed */
  int push_timeout_ms; /* 0 = 5000 */
  int push_retry_ms;   /* 0 = 1000 */
  int empty_service_ttl_ms; /* keep a service without instances/subscribers; 0 = drop at once */
  /* Bounds on what one SDK connection may hold (gRPC requests only; HTTP
   * and cluster sync are not limited here); 0 = unlimited. */
  int max_metadata_keys;          /* per instance */
  int max_metadata_bytes;         /* per instance, keys + values */
  int max_services_per_conn;      /* services it publishes into */
  int max_instances_per_conn;     /* instances over all its services */
  int max_subscriptions_per_conn; /* services it subscribes to */
  /* fuzzy watch (naming_fuzzy.h): patterns per connection, services per
   * pattern; 0 = Nacos's 20 / 500, < 0 unlimited */
  int fuzzy_max_patterns, fuzzy_max_matches;
} nc_naming_opts;

/* Registers the handlers and the connection listener on srv. *out is owned
 * by the caller; free it after nc_srv_shutdown and before nc_srv_free. */
int nc_naming_init(nc_srv *srv, const nc_naming_opts *opts, nc_naming **out);
void nc_naming_free(nc_naming *n);

/* ---- operations without a gRPC request ----
 * For the HTTP API and cluster sync as much as for the gRPC handlers
 * (which are thin adapters over these). client_id owns what it publishes:
 * an SDK connection's id, or any other id (an HTTP client kept alive by
 * beats, a peer's client) whose owner calls nc_naming_drop_client when it
 * goes. A connection's publications are dropped with the connection. */

/* Replaces what client_id publishes into (ns, group, svc) with
 * insts[0..n) (n = 0: deregisters). Takes the instances, also on error.
 * Subscribers are pushed, and listeners told, if the visible set changed. */
int nc_naming_publish(nc_naming *n, const char *client_id, const char *ns, const char *group,
                      const char *svc, nc_ninst **insts, size_t cnt);
/* Removes every publication and subscription of client_id. */
void nc_naming_drop_client(nc_naming *n, const char *client_id);
/* Subscribes (or unsubscribes) the connection conn_id: pushes go to it. */
int nc_naming_subscribe(nc_naming *n, const char *conn_id, const char *ns, const char *group,
                        const char *svc, const char *clusters, int subscribe);
/* ServiceInfo (§6.3) of a service, also for an unknown one; caller owns. */
/* nc_nreg_info_derived on naming's registry: bytes derived once per
 * service revision and variant from its serialized ServiceInfo (slot as
 * naming_registry.h lists them). NC_ENOTFOUND for an unknown service. */
int nc_naming_info_derived(nc_naming *n, const char *ns, const char *group, const char *svc,
                           const char *clusters, int healthy_only, int slot,
                           nc_nreg_derive_fn fn, void *ud, const uint8_t **out, size_t *len);
cJSON *nc_naming_service_info(nc_naming *n, const char *ns, const char *group, const char *svc,
                              const char *clusters, int healthy_only);
/* Page page_no (1-based) of the bare service names of (ns, group) appended
 * to names; returns the total count. */
size_t nc_naming_list(nc_naming *n, const char *ns, const char *group, int page_no,
                      int page_size, cJSON *names);

/* Called after a service's visible instance set changed, with its key
 * (nc_nreg_key): cluster replication, HTTP watchers. Every listener, in
 * the order added; the push engine is the first. */
typedef void (*nc_naming_change_fn)(void *ud, const char *svc_key);
int nc_naming_add_listener(nc_naming *n, nc_naming_change_fn fn, void *ud);

/* ---- clients synced from cluster members (Distro; naming_registry.h) ----
 * Subscribers here are pushed for every change these make. */
/* A native client's publications changed (gone 0) or it went (gone 1). */
int nc_naming_add_client_listener(nc_naming *n, nc_nreg_client_fn fn, void *ud);
/* Upsert / delete / verify a synced client (NC_EEXISTS: the id is native
 * here and was left alone; the caller logs it and answers success). */
int nc_naming_sync_apply(nc_naming *n, const char *client_id, const char *owner, uint64_t rev,
                         nc_nreg_entry *e, size_t cnt);
int nc_naming_sync_delete(nc_naming *n, const char *client_id);
int nc_naming_sync_verify(nc_naming *n, const char *client_id, uint64_t rev);
/* An ip:port#true client's responsible node moved: demote (it is
 * owner's now, kept as a synced copy) or adopt (native here, replicated
 * by Distro). See nc_nreg_sync_demote. */
int nc_naming_sync_demote(nc_naming *n, const char *client_id, const char *owner);
int nc_naming_sync_adopt(nc_naming *n, const char *client_id);
/* owner asserted all its clients: its synced ones not listed and not
 * applied within the last min_age_ms go after grace_ms unless asserted
 * (nc_nreg_sync_retain). */
size_t nc_naming_sync_retain(nc_naming *n, const char *owner,
                             int (*listed)(void *ud, const char *id), void *ud,
                             uint64_t min_age_ms, uint64_t grace_ms);
/* Synced clients not renewed for expire_ms are dropped by the periodic
 * tick (0: 180000, Nacos's nacos.naming.client.expired.time). */
void nc_naming_set_sync_expire(nc_naming *n, uint64_t expire_ms);
/* Drops expired synced clients now; returns how many. */
size_t nc_naming_sync_expire_now(nc_naming *n);
/* Member owner went DOWN: its synced clients go after grace_ms unless
 * renewed or re-sent; up: keep them. */
void nc_naming_owner_down(nc_naming *n, const char *owner, uint64_t grace_ms);
void nc_naming_owner_up(nc_naming *n, const char *owner);
/* The registry, for reading clients (nc_nreg_each_client,
 * nc_nreg_client_pubs); writes go through the nc_naming calls. */
nc_nreg *nc_naming_registry(nc_naming *n);

/* ---- persistent instances (naming_pstore.h) ----
 * With a store set, PersistentInstanceRequest is served by it, and
 * nc_naming_publish refuses instances of any other client id than
 * "ip:port#false" in a service holding persistent ones (NC_ECONFLICT: a
 * service keeps its kind, as in Nacos). Borrowed; NULL unsets. */
typedef struct nc_npstore nc_npstore;
void nc_naming_set_pstore(nc_naming *n, nc_npstore *ps);
nc_npstore *nc_naming_pstore(nc_naming *n);

/* ---- moves (server/cluster/rebalance.h): the migrating grace ----
 * conn_id acked this node's ConnectResetRequest: if it closes within
 * window_ms, its publications stay grace_ms longer (no push, no Distro
 * DELETE) while the client registers again on its new node; its
 * subscriptions go at once (naming_migrate.h). grace_ms 0: no-op. */
void nc_naming_expect_move(nc_naming *n, const char *conn_id, uint64_t window_ms,
                           uint64_t grace_ms);
/* Closed connections held so far. */
uint64_t nc_naming_migrating_held(const nc_naming *n);

void nc_naming_get_stats(const nc_naming *n, nc_nreg_stats *reg, nc_npush_stats *push);
/* Appends naming's Prometheus families to t. */
void nc_naming_render_metrics(const nc_naming *n, nc_metrics_text *t);

#endif
