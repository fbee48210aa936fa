/* naming_registry: the in-memory naming state of one server — services,
 * the ephemeral instances each connection publishes into them, and the
 * subscribers of each service (nacos-wire-protocol.md §5.2-§5.9, §6.3,
 * §7.4).
 *
 * Everything is keyed by connection id strings, never by connection
 * objects, so this module knows nothing about transports and is unit
 * testable on its own. Loop thread only.
 *
 * Services are identified by (namespace, group, bare name); the namespaces
 * "" and "public" are the same default namespace. A service lives while it
 * has a publisher or a subscriber, and for the empty-service TTL after
 * (nc_nreg_set_empty_ttl); nc_nsvc pointers are valid until the next
 * mutating call. */
#ifndef NAMING_REGISTRY_H
#define NAMING_REGISTRY_H

#include "naming_instance.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nc_nreg nc_nreg;
typedef struct nc_nsvc nc_nsvc;

/* Called after the visible instance set of a service changed (register,
 * deregister, connection dropped). svc_key identifies it (nc_nsvc_key). */
typedef void (*nc_nreg_change_fn)(void *ud, const char *svc_key);

int nc_nreg_new(nc_nreg **out);
void nc_nreg_free(nc_nreg *r);
/* Adds a change listener; every listener hears every change, in the order
 * they were added (the push engine, later Distro and the HTTP API).
 * NC_EBUSY beyond NC_NREG_MAX_LISTENERS. */
#define NC_NREG_MAX_LISTENERS 8
int nc_nreg_add_listener(nc_nreg *r, nc_nreg_change_fn fn, void *ud);

/* How long a service without publishers and subscribers is kept (still
 * listed, still queryable with no hosts) before nc_nreg_sweep forgets it;
 * 0 (the default) forgets it at once. */
void nc_nreg_set_empty_ttl(nc_nreg *r, uint64_t ttl_ms);
/* Forgets services empty since at least the TTL before now_ms (wall
 * clock); returns how many. Call periodically. */
size_t nc_nreg_sweep(nc_nreg *r, uint64_t now_ms);

/* A native client's publications changed (gone = 0), or it was dropped
 * with publications (gone = 1): what Distro replicates (CHANGE/DELETE).
 * Synced clients are never reported. NC_EBUSY beyond the maximum. */
typedef void (*nc_nreg_client_fn)(void *ud, const char *client_id, int gone);
int nc_nreg_add_client_listener(nc_nreg *r, nc_nreg_client_fn fn, void *ud);

/* Replaces everything conn_id publishes into the service with insts[0..n)
 * (n = 0 deregisters). Takes ownership of the instances and the array
 * slots (the array itself stays the caller's), also on error. The change
 * listener runs if the visible set changed. Idempotent: re-publishing the
 * same instances changes nothing. */
int nc_nreg_publish(nc_nreg *r, const char *conn_id, const char *ns, const char *group,
                    const char *name, nc_ninst **insts, size_t n);

/* Records (or updates the clusters of) conn_id's subscription to the
 * service. *first = 1 when this connection was not subscribed before. */
int nc_nreg_subscribe(nc_nreg *r, const char *conn_id, const char *ns, const char *group,
                      const char *name, const char *clusters, int *first);
void nc_nreg_unsubscribe(nc_nreg *r, const char *conn_id, const char *ns, const char *group,
                         const char *name);

/* Removes every publication and subscription of conn_id; the listener runs
 * once per service whose instance set changed. */
void nc_nreg_drop_conn(nc_nreg *r, const char *conn_id);

/* Builds a ServiceInfo object (§6.3) for a query or subscribe reply:
 * enabled-only, cluster filter `clusters` (comma list, ""/NULL = all),
 * healthy_only. Works for unknown services (no hosts). Stamps a fresh
 * lastRefTime. Returns a new object owned by the caller, NULL on OOM. */
cJSON *nc_nreg_service_info(nc_nreg *r, const char *ns, const char *group, const char *name,
                            const char *clusters, int healthy_only);

/* The serialized ServiceInfo object of the service for a query or
 * subscribe reply (same filters as nc_nreg_service_info) in *json / *len,
 * borrowed until the next mutating call. Built once per service revision
 * and variant (clusters, healthy_only; the last few variants are kept) and
 * shared with nc_nreg_push_body, so a reply costs no cJSON. Its
 * lastRefTime is the time it was built: every reply and push of one
 * revision carries the same one, and a newer revision's is strictly newer
 * than any served before (what nacos-sdk-go's "out of date" check needs;
 * Nacos's ServiceStorage caches the same way). Returns 0, NC_ENOTFOUND for
 * an unknown service (use nc_nreg_service_info), NC_EINVAL, NC_ENOMEM. */
int nc_nreg_info_json(nc_nreg *r, const char *ns, const char *group, const char *name,
                      const char *clusters, int healthy_only, const char **json, size_t *len);
/* Bytes derived from that view, e.g. an encoded reply: fn(ud, json, len,
 * &out, &out_len) builds them (malloc'ed, taken; 0 or an error) once per
 * view and slot (0 .. NC_NREG_DERIVED - 1, one per use); they live and die
 * with the view. *out borrowed like *json. Errors as nc_nreg_info_json, or
 * fn's. */
/* Slots: 0 the gRPC query reply, 1 the subscribe reply (naming_handlers),
 * 2 and 3 the HTTP v1 and v2 instance lists (server/http/naming_routes). */
#define NC_NREG_DERIVED 4
/* The bytes all views may hold together (texts, push bodies, derived
 * bytes); past it the least recently used views of any service are dropped
 * and rebuilt on demand, so a pointer from nc_nreg_info_json /
 * nc_nreg_info_derived / nc_nreg_push_body is valid until the next call
 * into the registry. 0 restores the default. */
#define NC_NREG_VIEW_BUDGET ((size_t)64 << 20)
void nc_nreg_set_view_budget(nc_nreg *r, size_t bytes);
typedef int (*nc_nreg_derive_fn)(void *ud, const char *json, size_t len, uint8_t **out,
                                 size_t *out_len);
int nc_nreg_info_derived(nc_nreg *r, const char *ns, const char *group, const char *name,
                         const char *clusters, int healthy_only, int slot, nc_nreg_derive_fn fn,
                         void *ud, const uint8_t **out, size_t *out_len);

/* The serialized NotifySubscriberRequest body (without requestId) for
 * pushing the service's current state to a subscriber with `clusters`:
 * the nc_nreg_info_json view (healthy_only 0) wrapped once, so a fan-out
 * builds it once. Borrowed; valid until the next mutating call. NULL when
 * the service does not exist or on OOM. Anything that changes what a
 * ServiceInfo shows must bump the revision (changed(), nc_nreg_touch):
 * that is the only invalidation. */
const char *nc_nreg_push_body(nc_nreg *r, const char *svc_key, const char *clusters, size_t *len);

/* Revision of the service's instance set (bumped on every change); 0 for
 * an unknown service. Lets the push engine skip a push identical to the
 * one just acked. */
uint64_t nc_nreg_revision(nc_nreg *r, const char *svc_key);

/* Per-instance overrides (naming_meta.h) on what queries and pushes show:
 * has(ud, svc_key) says whether the service has any (asked once per
 * build), apply(ud, svc_key, host) edits a host's JSON (weight, enabled,
 * metadata); a host left "enabled": false is not shown. One hook; NULL
 * removes it. Copied. */
typedef struct nc_nreg_host_hook {
  int (*has)(void *ud, const char *svc_key);
  void (*apply)(void *ud, const char *svc_key, cJSON *host);
  /* the service's protectThreshold, < 0 when none is stored; may be NULL */
  double (*threshold)(void *ud, const char *svc_key);
  void *ud;
} nc_nreg_host_hook;
void nc_nreg_set_host_hook(nc_nreg *r, const nc_nreg_host_hook *h);
/* What the hook shows for the service changed: bumps its revision and
 * tells the listeners (subscribers are pushed). NC_ENOTFOUND: unknown. */
int nc_nreg_touch(nc_nreg *r, const char *svc_key);

/* Subscriber lookup for the push engine: 1 and *clusters (borrowed) when
 * conn_id subscribes to svc_key, else 0. */
int nc_nreg_subscriber(nc_nreg *r, const char *svc_key, const char *conn_id,
                       const char **clusters);
/* Calls fn for every subscriber of svc_key. fn must not mutate r. */
void nc_nreg_each_subscriber(nc_nreg *r, const char *svc_key,
                             void (*fn)(void *ud, const char *conn_id), void *ud);

/* Calls fn with the id of every client publishing into svc_key (native
 * and synced). fn must not mutate r. */
void nc_nreg_each_publisher(nc_nreg *r, const char *svc_key,
                            void (*fn)(void *ud, const char *client_id), void *ud);

/* 1 for a persistent client's id ("ip:port#false", naming_pstore.h):
 * nodes share those through the database, so the client listeners
 * (Distro) never hear of them and nc_nreg_each_client skips them. */
int nc_nreg_is_persistent_id(const char *client_id);

/* Appends the bare names of page page_no (1-based) of the services of
 * (ns, group) to names; returns the total number of such services. */
size_t nc_nreg_list(nc_nreg *r, const char *ns, const char *group, int page_no, int page_size,
                    cJSON *names);

/* Service key of (ns, group, name) into buf (ns normalised). */
const char *nc_nreg_key(char *buf, size_t cap, const char *ns, const char *group,
                        const char *name);

/* ---- clients synced from cluster members (naming_sync.c) ----
 * A client (by id) is native (published here: nc_nreg_publish) or synced
 * from a member with the owner's revision and a renew time. Remote data
 * never modifies a native client: those calls return NC_EEXISTS and change
 * nothing (nacos-cluster.md §6.3, Nacos #15857).
 *
 * Hosts in queries and pushes are the union over every client, deduped by
 * ip:port:cluster (the oldest publisher's copy is shown), so an instance
 * asserted by a new owner while the old owner's synced copy is still held
 * does not change what subscribers see. */

/* One service's publications of a client, as ClientSyncData carries them. */
typedef struct nc_nreg_entry {
  const char *ns, *group, *name;
  nc_ninst **insts; /* taken by nc_nreg_sync_apply (slots set to NULL) */
  size_t n;
} nc_nreg_entry;

/* Upserts the synced client id from member owner: its publications become
 * exactly e[0..n) in place (a service whose instances did not change is not
 * touched; services no longer listed are removed), its revision rev. A new
 * client counts as renewed at now_ms; an existing one keeps its renew time
 * but leaves any DOWN grace. Takes every instance, also on error. NC_EEXISTS
 * for a native client (nothing changed). */
int nc_nreg_sync_apply(nc_nreg *r, const char *id, const char *owner, uint64_t rev,
                       nc_nreg_entry *e, size_t n, uint64_t now_ms);
/* Removes the synced client id: 0, NC_ENOTFOUND (unknown), NC_EEXISTS (native, kept). */
int nc_nreg_sync_delete(nc_nreg *r, const char *id);
/* VERIFY: renews the synced client when rev is 0 or its revision (0), else
 * NC_ENOTFOUND (unknown or another revision: the owner should resend).
 * A native client verifies (0) untouched. */
int nc_nreg_sync_verify(nc_nreg *r, const char *id, uint64_t rev, uint64_t now_ms);
/* Responsibility for an ip:port#true client moved (nc_nroutes): demote
 * makes the client (native or synced) a synced one of member owner,
 * renewed at now_ms, its publications untouched (nothing is pushed or
 * replicated); adopt makes it native here and bumps its revision so Distro
 * sends it (owner and all) to the members. NC_ENOTFOUND: unknown id. */
int nc_nreg_sync_demote(nc_nreg *r, const char *id, const char *owner, uint64_t now_ms);
int nc_nreg_sync_adopt(nc_nreg *r, const char *id);
/* Removes synced clients not renewed for expire_ms before now_ms, and
 * those whose DOWN grace ended; returns how many. */
size_t nc_nreg_sync_expire(nc_nreg *r, uint64_t now_ms, uint64_t expire_ms);
/* The member owner listed all its clients (a nacos-c digest): its synced
 * clients not listed (listed() 0) and not applied since applied_before_ms
 * (a CHANGE that overtook the digest) go at deadline_ms, like a DOWN
 * member's, unless asserted first; returns how many were so marked. */
size_t nc_nreg_sync_retain(nc_nreg *r, const char *owner, int (*listed)(void *ud, const char *id),
                           void *ud, uint64_t applied_before_ms, uint64_t deadline_ms);
/* The member owner went DOWN: its synced clients go at deadline_ms unless
 * renewed (VERIFY) or re-sent first. up: it is back, forget the deadlines. */
void nc_nreg_owner_down(nc_nreg *r, const char *owner, uint64_t deadline_ms);
void nc_nreg_owner_up(nc_nreg *r, const char *owner);

/* Client ids with publications, with kind and revision: native only
 * (native_only) or all except those synced from skip_owner (NULL: none). */
typedef void (*nc_nreg_client_each_fn)(void *ud, const char *id, int synced, const char *owner,
                                       uint64_t rev);
void nc_nreg_each_client(nc_nreg *r, int native_only, const char *skip_owner,
                         nc_nreg_client_each_fn fn, void *ud);
/* The publications of client id, one call per service (insts borrowed for
 * the call; fn must not mutate r). NC_ENOTFOUND for an unknown client.
 * *rev (may be NULL) gets its revision, *synced (may be NULL) its kind. */
typedef void (*nc_nreg_pub_fn)(void *ud, const char *ns, const char *group, const char *name,
                               nc_ninst *const *insts, size_t n);
int nc_nreg_client_pubs(nc_nreg *r, const char *id, uint64_t *rev, int *synced,
                        nc_nreg_pub_fn fn, void *ud);

/* What client id holds now, for the per-connection limits: services it
 * publishes into, instances over all of them, subscriptions; and within
 * (ns, group, name) whether it publishes there and how many instances.
 * Zeroes for an unknown client. O(services it publishes into). */
typedef struct nc_nreg_usage {
  size_t services, instances, subscriptions;
  int in_svc;          /* publishes into the service */
  size_t svc_instances; /* its instances there */
  int subscribed;      /* subscribes to the service */
} nc_nreg_usage;
void nc_nreg_client_usage(nc_nreg *r, const char *id, const char *ns, const char *group,
                          const char *name, nc_nreg_usage *u);

typedef struct nc_nreg_stats {
  size_t services, instances, subscribers, clients;
  size_t synced_clients;
} nc_nreg_stats;
void nc_nreg_get_stats(const nc_nreg *r, nc_nreg_stats *st);

#endif
