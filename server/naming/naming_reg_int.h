/* naming_reg_int: the registry's private structures, shared by
 * naming_registry.c (native publications, subscriptions, output) and
 * naming_sync.c (clients synced from cluster members). Not for other
 * modules: they use naming_registry.h. */
#ifndef NAMING_REG_INT_H
#define NAMING_REG_INT_H

#include "naming_registry.h"
#include "nc_strmap.h"

#define NC_NREG_KEY_MAX 1024

/* What one client publishes into one service. One block: the record, its
 * n instance slots, then the client id (nc_nreg_pub_id). */
typedef struct nc_nreg_pub {
  size_t n;
  nc_ninst **insts;
} nc_nreg_pub;

/* One allocation: the fields, then key, ns, group and name back to back
 * in key[] (a service is mostly its names; issue 16). */
struct nc_nsvc {
  /* Publishers in arrival order: the oldest inline (most services have
   * one), the others in pubs (client id -> nc_nreg_pub*), a map made by
   * the second publisher and freed when it empties. pub0 NULL = none.
   * Use nc_nreg_pub_get / nc_nreg_npubs / nc_nreg_pubit. */
  nc_nreg_pub *pub0;
  nc_strmap *pubs;
  nc_strmap *subs; /* conn id -> char* clusters; NULL until the first subscriber */
  uint64_t last_ref;
  uint64_t revision;
  uint64_t empty_since; /* wall ms when it lost its last publisher/subscriber; 0 = in use */
  struct nc_nreg_view *views; /* serialized ServiceInfo of this revision (naming_view.c) */
  const char *ns, *group, *name; /* into key[] */
  char key[];
};

/* A client: native (a connection or local id of this node) or synced from
 * a cluster member (nacos-cluster.md §3.1). Remote data never touches a
 * native client (§6.3). */
typedef struct nc_nreg_client {
  nc_strmap *pubs; /* svc key -> nc_nsvc* */
  nc_strmap *subs; /* svc key -> nc_nsvc* */
  size_t n_instances; /* over all its pubs: the per-connection limit reads it in O(1) */
  int synced;
  char *owner;          /* synced: the member it came from ("" unknown) */
  uint64_t revision;    /* native: bumped on every publish change; synced: the owner's */
  uint64_t renew_ms;    /* synced: creation or last matching VERIFY (wall ms) */
  uint64_t applied_ms;  /* synced: last CHANGE / snapshot entry applied (wall ms) */
  uint64_t grace_until; /* synced: removal deadline after its owner went DOWN; 0 none */
} nc_nreg_client;

typedef struct nc_nreg_listener {
  nc_nreg_change_fn fn;
  void *ud;
} nc_nreg_listener;
typedef struct nc_nreg_clistener {
  nc_nreg_client_fn fn;
  void *ud;
} nc_nreg_clistener;

struct nc_nreg {
  nc_strmap *svcs;    /* key -> nc_nsvc* */
  nc_strmap *clients; /* client id -> nc_nreg_client* */
  nc_nreg_listener ls[NC_NREG_MAX_LISTENERS];   /* service listeners, in order */
  size_t n_ls;
  nc_nreg_clistener cls[NC_NREG_MAX_LISTENERS]; /* native client listeners, in order */
  size_t n_cls;
  size_t n_instances, n_subscribers, n_synced;
  uint64_t empty_ttl_ms; /* 0 = forget empty services at once */
  nc_nreg_host_hook hook; /* instance overrides (nc_nreg_set_host_hook) */
  /* naming_view.c: every cached view, most recently used first, and their bytes */
  struct nc_nreg_view *lru_head, *lru_tail;
  size_t view_bytes, view_budget; /* budget 0 = NC_NREG_VIEW_BUDGET */
};

/* A service's publishers (see struct nc_nsvc). The id is the client's,
 * in the record's own block. */
const char *nc_nreg_pub_id(const nc_nreg_pub *p);
nc_nreg_pub *nc_nreg_pub_get(const nc_nsvc *s, const char *client_id);
size_t nc_nreg_npubs(const nc_nsvc *s);
/* Iteration in arrival order; the service must not change meanwhile. */
typedef struct nc_nreg_pubit {
  const nc_nsvc *s;
  int started;
  nc_strmap_iter it;
} nc_nreg_pubit;
void nc_nreg_pubit_init(nc_nreg_pubit *it, const nc_nsvc *s);
/* Returns the next record or NULL at the end. */
nc_nreg_pub *nc_nreg_pubit_next(nc_nreg_pubit *it);

/* Replaces what client id publishes into the service (see nc_nreg_publish)
 * without touching the client's kind or revision; the client is created
 * (native) when absent. *changed = 1 when the visible set changed. Takes
 * the instances. */
int nc_nreg_put(nc_nreg *r, const char *id, const char *ns, const char *group, const char *name,
                nc_ninst **insts, size_t n, int *changed);
nc_nreg_client *nc_nreg_client_get(nc_nreg *r, const char *id, int create);
/* Removes every publication and subscription of id, telling the service
 * listeners; the client listeners too when tell_clients (native ones). */
void nc_nreg_drop(nc_nreg *r, const char *id, int tell_clients);
void nc_nreg_tell_client(nc_nreg *r, const char *id, int gone);

/* naming_view.c: the serialized ServiceInfo of a service, per variant
 * (clusters, healthy-only), built once per revision; all views of a
 * service are of its current revision (changed() frees them). */
void nc_nreg_views_free(nc_nsvc *s);
/* naming_registry.c: a fresh lastRefTime for s (strictly increasing), and
 * the ServiceInfo object of s for the variant, stamped with one (owned by
 * the caller; NULL on OOM). */
uint64_t nc_nreg_stamp(nc_nsvc *s);
cJSON *nc_nreg_build_info(nc_nreg *r, nc_nsvc *s, const char *clusters, int healthy_only);

#endif
