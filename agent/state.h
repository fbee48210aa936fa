/* nc_st: the agent's desired state — what local apps asked for, kept so it
 * can be replayed after every upstream (re)connect (redo):
 *   - registrations: instances per service; an instance (ip, port,
 *     cluster) may be held by several owners at once (two apps registering
 *     the same address during a hot restart or a blue/green switch, or a
 *     detached hold): it stays upstream while any hold is left, and the
 *     most recent registration's data is what the server sees. Each hold
 *     is one entry of the service's array; the last entry of an identity
 *     is the effective one. All instances of a service go upstream as ONE
 *     BatchInstanceRequest
 *     (Nacos keeps one published set per service per connection), an empty
 *     set as a deregisterInstance InstanceRequest;
 *   - subscriptions: one entry per service with the local subscribers (a
 *     refcount) and the last host list seen;
 *   - config listeners: one entry per key with the local listeners and the
 *     last content/MD5.
 * Owners are opaque pointers (the agent passes its client objects); the
 * state never dereferences them. Every entry carries a generation number
 * bumped on each change so that a stale snapshot can be recognised.
 * Loop thread only; no I/O. */
#ifndef NC_STATE_H
#define NC_STATE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "nc_strmap.h"

typedef struct nc_st nc_st;

typedef struct nc_st_inst {
  char *ip;
  int port;
  char *cluster;
  double weight;
  int healthy, enabled, ephemeral;
  cJSON *metadata; /* object of strings, owned */
  void *owner;     /* the holder: an app's client, or the agent's detached tag */
  long owner_uid;  /* the local user who made the hold (-1 unknown); a detached hold
                      keeps it, so only that user (or root) may release it */
  int held;        /* NC_ST_HELD_*: left out of the upstream set for now;
                      meaningful on the effective (last) entry only */
} nc_st_inst;

/* An instance the server refused as part of a merged set is tried again on
 * its own (the agent, agent_reg.c): until then it is HELD (not sent), while
 * that lone attempt is out it is TRYING (sent). A replacement by a new
 * register starts out NONE. */
enum { NC_ST_HELD_NONE = 0, NC_ST_HELD, NC_ST_HELD_TRYING };

typedef struct nc_st_reg {
  char *ns, *group, *service;
  nc_st_inst *insts; /* holds in registration order (see above) */
  size_t n, cap;
  uint64_t gen;
  uint64_t applied_gen; /* gen the server confirmed on this connection */
  int inflight;         /* requests for this entry not yet answered */
  int resync;           /* changed since the last request went out */
  void *parked;         /* the agent's replies waiting for the next request;
                           the entry is not freed while this or inflight is set */
} nc_st_reg;

typedef struct nc_st_sub {
  void *owner;
  cJSON *clusters;    /* array of strings or NULL (= all), owned */
  uint64_t last_hash; /* hash of the last list this subscriber was given */
} nc_st_sub;

typedef struct nc_st_svc {
  char *ns, *group, *service;
  nc_st_sub *subs;
  size_t n, cap;
  /* The host list in local form, unfiltered, kept as compact JSON text
   * (a fraction of a cJSON tree's memory; replies splice it in as is).
   * NULL when unknown. */
  char *hosts_json;
  uint64_t hosts_hash; /* nc_hosts_hash of that list */
  long long last_ref;  /* serviceInfo.lastRefTime of that list on the current
                          connection (0 = none); the server stamps strictly
                          increasing times per service, so an older stamp is
                          a late answer, not news */
  int fresh;      /* hosts came from the current upstream connection */
  int up_state;   /* NC_ST_UP_* */
  uint64_t gen;
  void *pending;  /* the agent's deferred replies */
} nc_st_svc;

typedef struct nc_st_cfg {
  char *ns, *group, *data_id;
  void **owners;
  size_t n, cap;
  char *content;  /* NULL when unknown or absent */
  char md5[33];   /* "" when absent/unknown */
  int known;      /* content/md5/exists are meaningful */
  int exists;
  int fresh;      /* confirmed on the current upstream connection */
  int up_state;
  int refreshing, refresh_again; /* a change fetch in flight / wanted again */
  uint64_t gen;
  void *pending;
} nc_st_cfg;

enum { NC_ST_UP_NONE = 0, NC_ST_UP_SENT, NC_ST_UP_DONE };

nc_st *nc_st_new(void);
void nc_st_free(nc_st *st);

/* The three tables, for iteration (values: nc_st_reg*, nc_st_svc*,
 * nc_st_cfg*). Borrowed. */
nc_strmap *nc_st_regs(nc_st *st);
nc_strmap *nc_st_svcs(nc_st *st);
nc_strmap *nc_st_cfgs(nc_st *st);

/* Adds inst->owner's hold on an instance (or replaces it: same ip, port,
 * cluster and owner); either way it becomes the most recent registration
 * of that identity, so its data is what goes upstream. On success the
 * strings and metadata of *inst are moved into the state and *inst is
 * zeroed. */
int nc_st_register(nc_st *st, const char *ns, const char *group, const char *service,
                   nc_st_inst *inst, nc_st_reg **out);
/* Releases owner's hold; the instance leaves the set when it was the last
 * one. NC_ENOTFOUND when owner holds no such instance. */
int nc_st_deregister(nc_st *st, const char *ns, const char *group, const char *service,
                     const char *ip, int port, const char *cluster, const void *owner,
                     nc_st_reg **out);
nc_st_reg *nc_st_reg_get(nc_st *st, const char *ns, const char *group, const char *service);
/* The effective instance of r with that identity (its most recent hold),
 * or NULL. Borrowed. */
nc_st_inst *nc_st_reg_find(nc_st_reg *r, const char *ip, int port, const char *cluster);
/* A uid other than uid holding that identity (-1 when none: only uid, or
 * unknown uids, hold it). */
long nc_st_reg_other_uid(const nc_st_reg *r, const char *ip, int port, const char *cluster,
                         long uid);
/* The uid of owner's hold on that identity, or -2 when owner holds none. */
long nc_st_reg_hold_uid(const nc_st_reg *r, const char *ip, int port, const char *cluster,
                        const void *owner);
/* How many holds r has on that identity (0 when not registered). */
size_t nc_st_reg_holds(const nc_st_reg *r, const char *ip, int port, const char *cluster);
/* Distinct instances of r (identities, not holds). */
size_t nc_st_reg_count(const nc_st_reg *r);
/* Frees the entry when it holds no instance (after the deregister went out)
 * and no request for it is in flight or parked. */
void nc_st_reg_gc(nc_st *st, nc_st_reg *r);
/* The upstream request that makes the server hold exactly r's set:
 * BatchInstanceRequest or, when empty, InstanceRequest(deregisterInstance).
 * HELD instances are left out (only HELD ones: the set counts as empty).
 * *type is static; *body owned by the caller.
 * The local default namespace "" goes upstream as "public", as the Java
 * and Go SDKs send it (naming namespaces are not normalised by Nacos). */
int nc_st_reg_request(const nc_st_reg *r, const char **type, cJSON **body);
/* "ip#port#cluster#group@@service"; malloc'ed. */
char *nc_st_instance_id(const char *ip, int port, const char *cluster, const char *group,
                        const char *service);
void nc_st_inst_clear(nc_st_inst *inst);

/* Adds owner as a subscriber (an existing one just updates clusters, which
 * are moved in). *first is 1 when the entry was created. */
int nc_st_subscribe(nc_st *st, const char *ns, const char *group, const char *service,
                    void *owner, cJSON *clusters, nc_st_svc **out, int *first);
/* NC_ENOTFOUND when owner was not subscribed. *last is 1 when no
 * subscriber is left (the entry stays until nc_st_svc_remove). */
int nc_st_unsubscribe(nc_st *st, nc_st_svc *svc, void *owner, int *last);
nc_st_svc *nc_st_svc_get(nc_st *st, const char *ns, const char *group, const char *service);
nc_st_sub *nc_st_svc_find(nc_st_svc *svc, void *owner);
void nc_st_svc_remove(nc_st *st, nc_st_svc *svc);
/* Replaces the host list (hosts borrowed). Returns 0 or NC_ENOMEM (the
 * old list then stays). */
int nc_st_svc_set_hosts(nc_st_svc *svc, const cJSON *hosts);
/* The host list as a new cJSON array owned by the caller (empty when
 * unknown); NULL on OOM. */
cJSON *nc_st_svc_hosts(const nc_st_svc *svc);

int nc_st_listen(nc_st *st, const char *ns, const char *group, const char *data_id, void *owner,
                 nc_st_cfg **out, int *first);
int nc_st_unlisten(nc_st *st, nc_st_cfg *cfg, void *owner, int *last);
nc_st_cfg *nc_st_cfg_get(nc_st *st, const char *ns, const char *group, const char *data_id);
void nc_st_cfg_remove(nc_st *st, nc_st_cfg *cfg);
/* content NULL = the config does not exist. */
void nc_st_cfg_set(nc_st_cfg *cfg, const char *content);

/* Removes everything owner holds. For each registration set that changed
 * (a hold released, even when another holder keeps the instance: its data
 * may be the one that goes upstream now),
 * on_reg runs; for each subscription / listener entry left without local
 * users, on_svc / on_cfg run (the entries still exist; the callee sends
 * the upstream unsubscribe and removes them). */
typedef struct nc_st_drop_cbs {
  void (*on_reg)(void *ud, nc_st_reg *r);
  void (*on_svc)(void *ud, nc_st_svc *s);
  void (*on_cfg)(void *ud, nc_st_cfg *c);
  void *ud;
} nc_st_drop_cbs;
void nc_st_drop_owner(nc_st *st, void *owner, const nc_st_drop_cbs *cbs);

typedef struct nc_st_counts {
  size_t instances, services_registered;
  size_t subscriptions, local_subscriptions; /* upstream entries / local pairs */
  size_t config_listeners, local_config_listeners;
} nc_st_counts;
void nc_st_get_counts(nc_st *st, nc_st_counts *c);

#endif
