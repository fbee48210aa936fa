/* naming_registry: see naming_registry.h. */
#include "naming_registry.h"
#include "naming_reg_int.h"

#include "nc_err.h"
#include "nc_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_MAX NC_NREG_KEY_MAX

typedef nc_nreg_pub pub;
typedef nc_nreg_client client;

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *norm_ns(const char *ns) { return (!ns || !*ns) ? "public" : ns; }

const char *nc_nreg_key(char *buf, size_t cap, const char *ns, const char *group,
                        const char *name) {
  int n = snprintf(buf, cap, "%s\x01%s\x01%s", norm_ns(ns), group, name);
  return (n < 0 || (size_t)n >= cap) ? NULL : buf;
}

static void pub_free(void *v) {
  pub *p = v;
  if (!p)
    return;
  for (size_t i = 0; i < p->n; i++)
    nc_ninst_free(p->insts[i]);
  free(p); /* insts and id live in the same block (pub_new) */
}

/* One allocation: the pub, its n instance slots (filled by the caller)
 * and a copy of the client id. */
static pub *pub_new(size_t n, const char *id) {
  size_t il = strlen(id) + 1;
  pub *p = calloc(1, sizeof(*p) + n * sizeof(*p->insts) + il);
  if (!p)
    return NULL;
  p->insts = (nc_ninst **)(p + 1);
  p->n = n;
  memcpy(p->insts + n, id, il);
  return p;
}

const char *nc_nreg_pub_id(const nc_nreg_pub *p) { return (const char *)(p->insts + p->n); }

nc_nreg_pub *nc_nreg_pub_get(const nc_nsvc *s, const char *id) {
  if (s->pub0 && strcmp(nc_nreg_pub_id(s->pub0), id) == 0)
    return s->pub0;
  return s->pubs ? nc_strmap_get(s->pubs, id) : NULL;
}

size_t nc_nreg_npubs(const nc_nsvc *s) {
  return (s->pub0 != NULL) + (s->pubs ? nc_strmap_count(s->pubs) : 0);
}

void nc_nreg_pubit_init(nc_nreg_pubit *it, const nc_nsvc *s) {
  it->s = s;
  it->started = 0;
  it->it.next = NULL;
}

nc_nreg_pub *nc_nreg_pubit_next(nc_nreg_pubit *it) {
  if (!it->started) {
    it->started = 1;
    if (it->s->pubs)
      nc_strmap_iter_init(&it->it, it->s->pubs);
    if (it->s->pub0)
      return it->s->pub0;
  }
  void *v = NULL;
  return it->s->pubs && nc_strmap_iter_next(&it->it, NULL, &v) ? v : NULL;
}

/* Stores p as its client's publication in s, replacing (in place) the one
 * it had: *old receives that or NULL. Only a new publisher allocates, so
 * putting back a replaced record cannot fail. 0 or NC_ENOMEM (s as it
 * was). */
static int pub_set(nc_nsvc *s, pub *p, pub **old) {
  const char *id = nc_nreg_pub_id(p);
  *old = NULL;
  if (!s->pub0) { /* invariant: no pub0, no others */
    s->pub0 = p;
    return 0;
  }
  if (strcmp(nc_nreg_pub_id(s->pub0), id) == 0) {
    *old = s->pub0;
    s->pub0 = p;
    return 0;
  }
  int made = !s->pubs;
  if (made && !(s->pubs = nc_strmap_new()))
    return NC_ENOMEM;
  void *o = NULL;
  if (nc_strmap_put(s->pubs, id, p, &o)) {
    if (made) {
      nc_strmap_free(s->pubs, NULL);
      s->pubs = NULL;
    }
    return NC_ENOMEM;
  }
  *old = o;
  return 0;
}

/* Removes client id's publication from s and returns it (NULL if none);
 * the next oldest becomes pub0. */
static pub *pub_del(nc_nsvc *s, const char *id) {
  pub *p = NULL;
  if (s->pub0 && strcmp(nc_nreg_pub_id(s->pub0), id) == 0) {
    p = s->pub0;
    s->pub0 = NULL;
    if (s->pubs) {
      nc_strmap_iter it;
      void *v = NULL;
      nc_strmap_iter_init(&it, s->pubs);
      if (nc_strmap_iter_next(&it, NULL, &v)) {
        s->pub0 = v;
        nc_strmap_del(s->pubs, nc_nreg_pub_id(v));
      }
    }
  } else if (s->pubs) {
    p = nc_strmap_del(s->pubs, id);
  }
  if (s->pubs && nc_strmap_count(s->pubs) == 0) {
    nc_strmap_free(s->pubs, NULL);
    s->pubs = NULL;
  }
  return p;
}

/* ---- services and clients ---- */

static void svc_free(void *v) {
  nc_nsvc *s = v;
  if (!s)
    return;
  pub_free(s->pub0);
  nc_strmap_free(s->pubs, pub_free);
  nc_strmap_free(s->subs, free);
  nc_nreg_views_free(s);
  free(s);
}

static nc_nsvc *svc_get(nc_nreg *r, const char *key, const char *ns, const char *group,
                        const char *name, int create) {
  nc_nsvc *s = nc_strmap_get(r->svcs, key);
  if (s && create)
    s->empty_since = 0; /* about to gain a publisher or subscriber */
  if (s || !create)
    return s;
  /* the names live in the service's own block; subs is made by the first
   * subscriber (most services have none), to keep a service small */
  ns = norm_ns(ns);
  size_t kl = strlen(key) + 1, nl = strlen(ns) + 1, gl = strlen(group) + 1, ml = strlen(name) + 1;
  s = calloc(1, sizeof(*s) + kl + nl + gl + ml);
  if (!s)
    return NULL;
  memcpy(s->key, key, kl);
  s->ns = memcpy(s->key + kl, ns, nl);
  s->group = memcpy(s->key + kl + nl, group, gl);
  s->name = memcpy(s->key + kl + nl + gl, name, ml);
  if (nc_strmap_put(r->svcs, key, s, NULL)) {
    svc_free(s);
    return NULL;
  }
  return s;
}

/* A service with neither publishers nor subscribers is kept for the
 * empty-service TTL (Nacos: nacos.naming.clean.empty-service.*, 60 s), so
 * ServiceListRequest still lists it and a quick re-register finds it;
 * nc_nreg_sweep forgets it afterwards. With TTL 0 it goes at once. */
static void svc_maybe_gc(nc_nreg *r, nc_nsvc *s) {
  if (nc_nreg_npubs(s) != 0 || (s->subs && nc_strmap_count(s->subs) != 0))
    return;
  if (r->empty_ttl_ms) {
    if (!s->empty_since)
      s->empty_since = wall_ms();
    return;
  }
  nc_strmap_del(r->svcs, s->key);
  svc_free(s);
}

void nc_nreg_set_empty_ttl(nc_nreg *r, uint64_t ttl_ms) { r->empty_ttl_ms = ttl_ms; }

size_t nc_nreg_sweep(nc_nreg *r, uint64_t now_ms) {
  size_t n = 0;
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, r->svcs);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    nc_nsvc *s = v;
    if (s->empty_since && now_ms >= s->empty_since + r->empty_ttl_ms) {
      nc_strmap_del(r->svcs, s->key);
      svc_free(s);
      n++;
    }
  }
  return n;
}

static void client_free(void *v) {
  client *c = v;
  if (!c)
    return;
  nc_strmap_free(c->pubs, NULL);
  nc_strmap_free(c->subs, NULL);
  free(c->owner);
  free(c);
}

nc_nreg_client *nc_nreg_client_get(nc_nreg *r, const char *conn_id, int create) {
  client *c = nc_strmap_get(r->clients, conn_id);
  if (c || !create)
    return c;
  c = calloc(1, sizeof(*c));
  if (!c || !(c->pubs = nc_strmap_new()) || !(c->subs = nc_strmap_new()) ||
      nc_strmap_put(r->clients, conn_id, c, NULL)) {
    client_free(c);
    return NULL;
  }
  return c;
}

#define client_get nc_nreg_client_get

static void client_maybe_gc(nc_nreg *r, const char *conn_id, client *c) {
  if (nc_strmap_count(c->pubs) == 0 && nc_strmap_count(c->subs) == 0) {
    nc_strmap_del(r->clients, conn_id);
    if (c->synced)
      r->n_synced--;
    client_free(c);
  }
}

int nc_nreg_new(nc_nreg **out) {
  nc_nreg *r = calloc(1, sizeof(*r));
  if (!r || !(r->svcs = nc_strmap_new()) || !(r->clients = nc_strmap_new())) {
    nc_nreg_free(r);
    return NC_ENOMEM;
  }
  *out = r;
  return 0;
}

void nc_nreg_free(nc_nreg *r) {
  if (!r)
    return;
  nc_strmap_free(r->svcs, svc_free);
  nc_strmap_free(r->clients, client_free);
  free(r);
}

int nc_nreg_add_listener(nc_nreg *r, nc_nreg_change_fn fn, void *ud) {
  if (r->n_ls == NC_NREG_MAX_LISTENERS)
    return NC_EBUSY;
  r->ls[r->n_ls].fn = fn;
  r->ls[r->n_ls].ud = ud;
  r->n_ls++;
  return 0;
}

int nc_nreg_add_client_listener(nc_nreg *r, nc_nreg_client_fn fn, void *ud) {
  if (r->n_cls == NC_NREG_MAX_LISTENERS)
    return NC_EBUSY;
  r->cls[r->n_cls].fn = fn;
  r->cls[r->n_cls].ud = ud;
  r->n_cls++;
  return 0;
}

int nc_nreg_is_persistent_id(const char *id) {
  size_t n = strlen(id);
  return n > 6 && strcmp(id + n - 6, "#false") == 0;
}

void nc_nreg_tell_client(nc_nreg *r, const char *id, int gone) {
  if (nc_nreg_is_persistent_id(id))
    return; /* not replicated by Distro */
  for (size_t i = 0; i < r->n_cls; i++)
    r->cls[i].fn(r->cls[i].ud, id, gone);
}

static void notify(nc_nreg *r, const char *key) {
  for (size_t i = 0; i < r->n_ls; i++)
    r->ls[i].fn(r->ls[i].ud, key);
}

static void changed(nc_nreg *r, nc_nsvc *s, const char *key) {
  if (s) {
    s->revision++;
    nc_nreg_views_free(s); /* built for the old revision (naming_view.c) */
  }
  notify(r, key);
}

/* Does the visible state differ? Disabled instances are invisible, but a
 * flip of `enabled` is a change, so compare everything. */
static int pub_equal(const pub *a, nc_ninst **insts, size_t n) {
  if (!a || a->n != n)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!nc_ninst_equal(a->insts[i], insts[i]))
      return 0;
  return 1;
}

int nc_nreg_put(nc_nreg *r, const char *conn_id, const char *ns, const char *group,
                const char *name, nc_ninst **insts, size_t n, int *did_change) {
  char kb[KEY_MAX];
  int rc = 0;
  *did_change = 0;
  pub *np = NULL;
  const char *key = nc_nreg_key(kb, sizeof(kb), ns, group, name);
  if (!key) {
    rc = NC_EINVAL;
    goto out;
  }
  nc_nsvc *s = svc_get(r, key, ns, group, name, n > 0);
  if (!s)
    goto out; /* deregister of an unknown service: silent success */
  pub *old = nc_nreg_pub_get(s, conn_id);
  if ((n == 0 && !old) || (old && pub_equal(old, insts, n)))
    goto out; /* idempotent replay */
  client *c = client_get(r, conn_id, 1);
  if (!c) {
    rc = NC_ENOMEM;
    svc_maybe_gc(r, s);
    goto out;
  }
  if (n > 0) {
    pub *was = NULL;
    np = pub_new(n, conn_id);
    int set = np && pub_set(s, np, &was) == 0;
    if (!set || nc_strmap_put(c->pubs, key, s, NULL)) {
      if (set) { /* put back what was there */
        if (was)
          pub_set(s, was, &was); /* a replace: cannot fail */
        else
          pub_del(s, conn_id);
      }
      if (np)
        np->n = 0; /* the caller's instances are freed below, not here */
      pub_free(np);
      np = NULL;
      rc = NC_ENOMEM;
      client_maybe_gc(r, conn_id, c);
      svc_maybe_gc(r, s);
      goto out;
    }
    for (size_t i = 0; i < n; i++) {
      np->insts[i] = insts[i];
      insts[i] = NULL;
    }
    r->n_instances += n;
    c->n_instances += n;
  } else {
    pub_del(s, conn_id);
    nc_strmap_del(c->pubs, key);
  }
  if (old) {
    r->n_instances -= old->n;
    c->n_instances -= old->n;
    pub_free(old);
  }
  *did_change = 1;
  changed(r, s, key);
  client_maybe_gc(r, conn_id, c);
  svc_maybe_gc(r, s);
out:
  for (size_t i = 0; i < n; i++) {
    nc_ninst_free(insts[i]);
    insts[i] = NULL;
  }
  return rc;
}

/* The native path: a publish here makes the client native (a synced copy
 * under the same id, which only a confused peer could create, is taken
 * over) and bumps its revision on every change (§3.4). */
int nc_nreg_publish(nc_nreg *r, const char *conn_id, const char *ns, const char *group,
                    const char *name, nc_ninst **insts, size_t n) {
  client *c = client_get(r, conn_id, 0);
  if (c && c->synced) {
    c->synced = 0;
    c->grace_until = 0;
    r->n_synced--;
  }
  int did = 0;
  int rc = nc_nreg_put(r, conn_id, ns, group, name, insts, n, &did);
  if (rc || !did)
    return rc;
  c = client_get(r, conn_id, 0);
  if (c)
    c->revision++;
  nc_nreg_tell_client(r, conn_id, c == NULL);
  return 0;
}

int nc_nreg_subscribe(nc_nreg *r, const char *conn_id, const char *ns, const char *group,
                      const char *name, const char *clusters, int *first) {
  char kb[KEY_MAX];
  const char *key = nc_nreg_key(kb, sizeof(kb), ns, group, name);
  *first = 0;
  if (!key)
    return NC_EINVAL;
  nc_nsvc *s = svc_get(r, key, ns, group, name, 1);
  if (!s)
    return NC_ENOMEM;
  client *c = client_get(r, conn_id, 1);
  char *cl = strdup(clusters ? clusters : "");
  void *old = NULL;
  if (!c || !cl || (!s->subs && !(s->subs = nc_strmap_new())) ||
      nc_strmap_put(s->subs, conn_id, cl, &old)) {
    free(cl);
    if (c)
      client_maybe_gc(r, conn_id, c);
    svc_maybe_gc(r, s);
    return NC_ENOMEM;
  }
  if (nc_strmap_put(c->subs, key, s, NULL)) {
    if (old)
      nc_strmap_put(s->subs, conn_id, old, NULL);
    else
      nc_strmap_del(s->subs, conn_id);
    free(cl);
    client_maybe_gc(r, conn_id, c);
    svc_maybe_gc(r, s);
    return NC_ENOMEM;
  }
  if (old)
    free(old);
  else
    r->n_subscribers++;
  *first = old == NULL;
  return 0;
}

void nc_nreg_unsubscribe(nc_nreg *r, const char *conn_id, const char *ns, const char *group,
                         const char *name) {
  char kb[KEY_MAX];
  const char *key = nc_nreg_key(kb, sizeof(kb), ns, group, name);
  nc_nsvc *s = key ? nc_strmap_get(r->svcs, key) : NULL;
  if (!s)
    return;
  char *cl = s->subs ? nc_strmap_del(s->subs, conn_id) : NULL;
  if (cl) {
    free(cl);
    r->n_subscribers--;
  }
  client *c = client_get(r, conn_id, 0);
  if (c) {
    nc_strmap_del(c->subs, key);
    client_maybe_gc(r, conn_id, c);
  }
  svc_maybe_gc(r, s);
}

void nc_nreg_drop_conn(nc_nreg *r, const char *conn_id) { nc_nreg_drop(r, conn_id, 1); }

void nc_nreg_drop(nc_nreg *r, const char *conn_id, int tell_clients) {
  client *c = nc_strmap_del(r->clients, conn_id);
  if (!c)
    return;
  if (c->synced)
    r->n_synced--;
  int tell = tell_clients && !c->synced && nc_strmap_count(c->pubs) > 0;
  nc_strmap_iter it;
  const char *key;
  void *v;
  nc_strmap_iter_init(&it, c->subs);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    nc_nsvc *s = v;
    char *cl = s->subs ? nc_strmap_del(s->subs, conn_id) : NULL;
    if (cl) {
      free(cl);
      r->n_subscribers--;
    }
  }
  /* Collect keys first: the listener may look services up. */
  nc_strmap_iter_init(&it, c->pubs);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    nc_nsvc *s = v;
    pub *p = pub_del(s, conn_id);
    if (p) {
      r->n_instances -= p->n;
      pub_free(p);
      s->revision++;
    }
  }
  nc_strmap_iter_init(&it, c->pubs);
  while (nc_strmap_iter_next(&it, &key, NULL))
    notify(r, key);
  /* Now forget services that became empty (subs and pubs alike). */
  nc_strmap *both[2] = {c->subs, c->pubs};
  for (int k = 0; k < 2; k++)
    for (nc_strmap_iter_init(&it, both[k]); nc_strmap_iter_next(&it, &key, NULL);) {
      nc_nsvc *s = nc_strmap_get(r->svcs, key);
      if (s)
        svc_maybe_gc(r, s);
    }
  client_free(c);
  if (tell)
    nc_nreg_tell_client(r, conn_id, 1);
}

/* ---- output ---- */

static int in_clusters(const char *clusters, const char *cluster) {
  if (!clusters || !*clusters)
    return 1;
  size_t cl = strlen(cluster);
  const char *p = clusters;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len == cl && strncmp(p, cluster, len) == 0)
      return 1;
    if (!comma)
      break;
    p = comma + 1;
  }
  return 0;
}

static uint64_t stamp(nc_nsvc *s) {
  uint64_t now = wall_ms();
  s->last_ref = now > s->last_ref ? now : s->last_ref + 1;
  return s->last_ref;
}

void nc_nreg_set_host_hook(nc_nreg *r, const nc_nreg_host_hook *h) {
  r->hook = h ? *h : (nc_nreg_host_hook){0};
}

int nc_nreg_touch(nc_nreg *r, const char *svc_key) {
  nc_nsvc *s = nc_strmap_get(r->svcs, svc_key);
  if (!s)
    return NC_ENOTFOUND;
  changed(r, s, svc_key);
  return 0;
}

static cJSON *build_info(nc_nreg *r, nc_nsvc *s, const char *group, const char *name,
                         const char *clusters, int healthy_only, uint64_t ref) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddStringToObject(o, "groupName", group);
  cJSON_AddStringToObject(o, "clusters", clusters ? clusters : "");
  cJSON_AddNumberToObject(o, "cacheMillis", 10000);
  cJSON *hosts = cJSON_AddArrayToObject(o, "hosts");
  /* One host per ip:port:cluster over every client: a failed-over
   * instance held by its old owner's synced copy and asserted by its new
   * owner shows once, the oldest copy (insertion order), so subscribers
   * see no change when either copy comes or goes. Only needed with more
   * than one publisher. */
  nc_strmap *seen = s && nc_nreg_npubs(s) > 1 ? nc_strmap_new() : NULL;
  int hook = s && r->hook.has && r->hook.has(r->hook.ud, s->key); /* overrides (naming_meta) */
  /* Nacos's protectThreshold: with one stored, healthy_only waits for the
   * count below */
  double th = s && r->hook.threshold ? r->hook.threshold(r->hook.ud, s->key) : -1;
  int hf = healthy_only && th < 0;
  nc_nreg_pubit pit;
  const pub *p;
  if (s && hosts)
    for (nc_nreg_pubit_init(&pit, s); (p = nc_nreg_pubit_next(&pit));) {
      for (size_t i = 0; i < p->n; i++) {
        const nc_ninst *in = p->insts[i];
        if ((!hook && !nc_ninst_enabled(in)) || (hf && !nc_ninst_healthy(in)) ||
            !in_clusters(clusters, nc_ninst_cluster(in)))
          continue;
        if (seen) {
          char id[600];
          if (nc_strmap_get(seen, nc_ninst_addr_key(in, id, sizeof(id))))
            continue;
          nc_strmap_put(seen, id, (void *)in, NULL);
        }
        cJSON *h = nc_ninst_to_json(in, group, name);
        if (hook && h) {
          r->hook.apply(r->hook.ud, s->key, h);
          if (!cJSON_IsTrue(cJSON_GetObjectItem(h, "enabled"))) {
            cJSON_Delete(h);
            continue;
          }
        }
        cJSON_AddItemToArray(hosts, h);
      }
    }
  nc_strmap_free(seen, NULL);
  cJSON_AddNumberToObject(o, "lastRefTime", (double)ref);
  cJSON_AddStringToObject(o, "checksum", "");
  cJSON_AddBoolToObject(o, "allIPs", 0);
  /* Protection threshold (§5.7, Nacos's ServiceUtil): when the healthy
   * share of the hosts is at most the service's stored threshold, all of
   * them are returned, marked healthy; else healthy_only filters. Services
   * without stored metadata never trigger. */
  int reach = 0;
  if (th >= 0 && hosts) {
    int n = cJSON_GetArraySize(hosts), healthy = 0;
    cJSON *h;
    cJSON_ArrayForEach(h, hosts) healthy += cJSON_IsTrue(cJSON_GetObjectItem(h, "healthy"));
    reach = n > 0 && (double)healthy / n <= th;
    for (int i = n - 1; i >= 0; i--) {
      h = cJSON_GetArrayItem(hosts, i);
      if (reach)
        cJSON_ReplaceItemInObject(h, "healthy", cJSON_CreateBool(1));
      else if (healthy_only && !cJSON_IsTrue(cJSON_GetObjectItem(h, "healthy")))
        cJSON_DeleteItemFromArray(hosts, i);
    }
  }
  cJSON_AddBoolToObject(o, "reachProtectionThreshold", reach);
  cJSON_AddBoolToObject(o, "valid", 1);
  return o;
}

cJSON *nc_nreg_service_info(nc_nreg *r, const char *ns, const char *group, const char *name,
                            const char *clusters, int healthy_only) {
  char kb[KEY_MAX];
  const char *key = nc_nreg_key(kb, sizeof(kb), ns, group, name);
  nc_nsvc *s = key ? nc_strmap_get(r->svcs, key) : NULL;
  return build_info(r, s, group, name, clusters, healthy_only, s ? stamp(s) : wall_ms());
}

/* For naming_view.c, which caches what this builds. */
uint64_t nc_nreg_stamp(nc_nsvc *s) { return stamp(s); }
cJSON *nc_nreg_build_info(nc_nreg *r, nc_nsvc *s, const char *clusters, int healthy_only) {
  
  return build_info(r, s, s->group, s->name, clusters, healthy_only, stamp(s));
}

uint64_t nc_nreg_revision(nc_nreg *r, const char *svc_key) {
  nc_nsvc *s = nc_strmap_get(r->svcs, svc_key);
  return s ? s->revision : 0;
}

int nc_nreg_subscriber(nc_nreg *r, const char *svc_key, const char *conn_id,
                       const char **clusters) {
  nc_nsvc *s = nc_strmap_get(r->svcs, svc_key);
  const char *cl = s && s->subs ? nc_strmap_get(s->subs, conn_id) : NULL;
  if (!cl)
    return 0;
  if (clusters)
    *clusters = cl;
  return 1;
}

void nc_nreg_each_subscriber(nc_nreg *r, const char *svc_key,
                             void (*fn)(void *ud, const char *conn_id), void *ud) {
  nc_nsvc *s = nc_strmap_get(r->svcs, svc_key);
  if (!s || !s->subs)
    return;
  nc_strmap_iter it;
  const char *conn_id;
  nc_strmap_iter_init(&it, s->subs);
  while (nc_strmap_iter_next(&it, &conn_id, NULL))
    fn(ud, conn_id);
}

void nc_nreg_each_publisher(nc_nreg *r, const char *svc_key,
                            void (*fn)(void *ud, const char *client_id), void *ud) {
  nc_nsvc *s = nc_strmap_get(r->svcs, svc_key);
  if (!s)
    return;
  nc_nreg_pubit it;
  const pub *p;
  for (nc_nreg_pubit_init(&it, s); (p = nc_nreg_pubit_next(&it));)
    fn(ud, nc_nreg_pub_id(p));
}

size_t nc_nreg_list(nc_nreg *r, const char *ns, const char *group, int page_no, int page_size,
                    cJSON *names) {
  size_t total = 0;
  ns = norm_ns(ns);
  if (page_no < 1)
    page_no = 1;
  size_t start = page_size > 0 ? (size_t)(page_no - 1) * (size_t)page_size : 0;
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, r->svcs);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    const nc_nsvc *s = v;
    if (strcmp(s->ns, ns) != 0 || strcmp(s->group, group) != 0)
      continue;
    if (page_size > 0 && total >= start && total < start + (size_t)page_size)
      cJSON_AddItemToArray(names, cJSON_CreateString(s->name));
    total++;
  }
  return total;
}

void nc_nreg_client_usage(nc_nreg *r, const char *id, const char *ns, const char *group,
                          const char *name, nc_nreg_usage *u) {
  memset(u, 0, sizeof(*u));
  client *c = nc_strmap_get(r->clients, id);
  if (!c)
    return;
  char kb[KEY_MAX];
  const char *key = nc_nreg_key(kb, sizeof(kb), ns, group, name);
  u->services = nc_strmap_count(c->pubs);
  u->subscriptions = nc_strmap_count(c->subs);
  u->subscribed = key && nc_strmap_get(c->subs, key) != NULL;
  /* O(1): a register must not cost a walk over the connection's services */
  u->instances = c->n_instances;
  const nc_nsvc *s = key ? nc_strmap_get(c->pubs, key) : NULL;
  const nc_nreg_pub *p = s ? nc_nreg_pub_get(s, id) : NULL;
  u->in_svc = s != NULL;
  u->svc_instances = p ? p->n : 0;
}

void nc_nreg_get_stats(const nc_nreg *r, nc_nreg_stats *st) {
  st->services = nc_strmap_count(r->svcs);
  st->clients = nc_strmap_count(r->clients);
  st->instances = r->n_instances;
  st->subscribers = r->n_subscribers;
  st->synced_clients = r->n_synced;
}
