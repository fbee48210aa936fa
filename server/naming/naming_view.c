/* naming_view: the serialized ServiceInfo of a service, cached per service
 * revision and per variant (cluster filter, healthy-only), shared by query
 * and subscribe replies and by pushes (naming_registry.h,
 * nc_nreg_info_json / nc_nreg_push_body). Loop thread only, like the
 * registry.
 *
 * Design: a service keeps a short most-recently-used list of views, all of
 * its current revision. The registry frees the list whenever the revision
 * moves (changed()); a view whose revision does not match (a bump from a
 * path that only counts) is never served either, so a stale body cannot
 * escape. A view is built with one cJSON pass and printed once; a 1,000-host
 * service's query then costs a lookup and a copy instead of a cJSON tree of
 * 1,000 hosts. The push body ({"headers":{},"serviceInfo":...,
 * "module":"naming"}) is spliced from the same text the first time a push
 * asks for it.
 *
 * Bounded: every view is also on the registry's LRU list with its bytes
 * counted; past the budget (nc_nreg_set_view_budget) the least recently
 * used views of any service are dropped and rebuilt when asked again, so
 * the cache cannot outgrow a fixed share of memory however many services
 * are queried. */
#include "naming_reg_int.h"
#include "naming_registry.h"

#include "nc_err.h"
#include "nc_strmap.h"

#include <stdlib.h>
#include <string.h>

/* Variants kept per service: subscribers of one service rarely use more
 * than a couple of cluster filters; beyond this the least recently used
 * view is rebuilt on demand. */
#define VIEWS_MAX 4

typedef struct nc_nreg_view {
  struct nc_nreg_view *next;               /* in its service's list */
  struct nc_nreg_view *lru_prev, *lru_next; /* in the registry's, most recent first */
  nc_nreg *r;
  nc_nsvc *s;
  size_t bytes; /* counted in r->view_bytes */
  uint64_t rev;
  int healthy_only;
  char *clusters;
  char *info; /* the ServiceInfo object, serialized */
  size_t info_len;
  char *push; /* the NotifySubscriberRequest body; NULL until a push asks */
  size_t push_len;
  uint8_t *derived[NC_NREG_DERIVED]; /* e.g. encoded replies (nc_nreg_info_derived) */
  size_t derived_len[NC_NREG_DERIVED];
} nc_nreg_view;

static void lru_unlink(nc_nreg_view *v) {
  nc_nreg *r = v->r;
  if (!v->lru_prev && r->lru_head != v)
    return; /* not on the list (yet) */
  if (v->lru_prev)
    v->lru_prev->lru_next = v->lru_next;
  else
    r->lru_head = v->lru_next;
  if (v->lru_next)
    v->lru_next->lru_prev = v->lru_prev;
  else
    r->lru_tail = v->lru_prev;
  v->lru_prev = v->lru_next = NULL;
}

static void lru_front(nc_nreg_view *v) {
  nc_nreg *r = v->r;
  lru_unlink(v);
  v->lru_next = r->lru_head;
  if (r->lru_head)
    r->lru_head->lru_prev = v;
  r->lru_head = v;
  if (!r->lru_tail)
    r->lru_tail = v;
}

static void account(nc_nreg_view *v, size_t bytes) {
  v->bytes += bytes;
  v->r->view_bytes += bytes;
}

static void view_free(nc_nreg_view *v) {
  if (!v)
    return;
  if (v->r) {
    lru_unlink(v);
    v->r->view_bytes -= v->bytes;
  }
  free(v->clusters);
  free(v->info);
  free(v->push);
  for (int i = 0; i < NC_NREG_DERIVED; i++)
    free(v->derived[i]);
  free(v);
}

void nc_nreg_views_free(nc_nsvc *s) {
  nc_nreg_view *v = s->views;
  while (v) {
    nc_nreg_view *next = v->next;
    view_free(v);
    v = next;
  }
  s->views = NULL;
}

void nc_nreg_set_view_budget(nc_nreg *r, size_t bytes) { r->view_budget = bytes; }

/* Drops least recently used views (never keep) while over the budget. */
static void trim(nc_nreg *r, const nc_nreg_view *keep) {
  size_t budget = r->view_budget ? r->view_budget : NC_NREG_VIEW_BUDGET;
  while (r->view_bytes > budget && r->lru_tail && r->lru_tail != keep) {
    nc_nreg_view *v = r->lru_tail, **pp = &v->s->views;
    while (*pp && *pp != v)
      pp = &(*pp)->next;
    if (*pp)
      *pp = v->next;
    view_free(v);
  }
}

/* The view of s for the variant, built when missing; NULL on OOM. */
static nc_nreg_view *view_get(nc_nreg *r, nc_nsvc *s, const char *clusters, int healthy_only) {
  if (!clusters)
    clusters = "";
  healthy_only = healthy_only != 0;
  if (s->views && s->views->rev != s->revision)
    nc_nreg_views_free(s);
  nc_nreg_view **pp = &s->views, *v;
  for (; (v = *pp) != NULL; pp = &v->next)
    if (v->healthy_only == healthy_only && strcmp(v->clusters, clusters) == 0) {
      *pp = v->next; /* to the front */
      v->next = s->views;
      s->views = v;
      lru_front(v);
      return v;
    }
  size_t n = 0;
  for (v = s->views; v; v = v->next)
    if (++n == VIEWS_MAX - 1 && v->next) { /* make room: drop the least recent */
      nc_nreg_view *tail = v->next;
      v->next = NULL;
      while (tail) {
        nc_nreg_view *next = tail->next;
        view_free(tail);
        tail = next;
      }
      break;
    }
  cJSON *info = NULL;
  v = calloc(1, sizeof(*v));
  if (!v || !(v->clusters = strdup(clusters)) ||
      !(info = nc_nreg_build_info(r, s, clusters, healthy_only)) ||
      !(v->info = cJSON_PrintUnformatted(info))) {
    cJSON_Delete(info);
    view_free(v);
    return NULL;
  }
  cJSON_Delete(info);
  v->info_len = strlen(v->info);
  v->rev = s->revision;
  v->healthy_only = healthy_only;
  v->next = s->views;
  s->views = v;
  v->r = r;
  v->s = s;
  lru_front(v);
  account(v, v->info_len);
  trim(r, v);
  return v;
}

static int view_find(nc_nreg *r, const char *ns, const char *group, const char *name,
                     const char *clusters, int healthy_only, nc_nreg_view **out) {
  char kb[NC_NREG_KEY_MAX];
  const char *key = nc_nreg_key(kb, sizeof(kb), ns, group, name);
  if (!key)
    return NC_EINVAL;
  nc_nsvc *s = nc_strmap_get(r->svcs, key);
  if (!s)
    return NC_ENOTFOUND;
  *out = view_get(r, s, clusters, healthy_only);
  return *out ? 0 : NC_ENOMEM;
}

int nc_nreg_info_json(nc_nreg *r, const char *ns, const char *group, const char *name,
                      const char *clusters, int healthy_only, const char **json, size_t *len) {
  nc_nreg_view *v = NULL;
  int rc = view_find(r, ns, group, name, clusters, healthy_only, &v);
  if (rc)
    return rc;
  *json = v->info;
  *len = v->info_len;
  return 0;
}

int nc_nreg_info_derived(nc_nreg *r, const char *ns, const char *group, const char *name,
                         const char *clusters, int healthy_only, int slot, nc_nreg_derive_fn fn,
                         void *ud, const uint8_t **out, size_t *out_len) {
  nc_nreg_view *v = NULL;
  if (slot < 0 || slot >= NC_NREG_DERIVED)
    return NC_EINVAL;
  int rc = view_find(r, ns, group, name, clusters, healthy_only, &v);
  if (!rc && !v->derived[slot]) {
    rc = fn(ud, v->info, v->info_len, &v->derived[slot], &v->derived_len[slot]);
    if (!rc) {
      account(v, v->derived_len[slot]);
      trim(r, v);
    }
  }
  if (rc)
    return rc;
  *out = v->derived[slot];
  *out_len = v->derived_len[slot];
  return 0;
}

const char *nc_nreg_push_body(nc_nreg *r, const char *svc_key, const char *clusters, size_t *len) {
  static const char head[] = "{\"headers\":{},\"serviceInfo\":", tail[] = ",\"module\":\"naming\"}";
  nc_nsvc *s = nc_strmap_get(r->svcs, svc_key);
  nc_nreg_view *v = s ? view_get(r, s, clusters, 0) : NULL;
  if (!v)
    return NULL;
  if (!v->push) {
    size_t n = sizeof(head) - 1 + v->info_len + sizeof(tail) - 1;
    char *b = malloc(n + 1);
    if (!b)
      return NULL;
    memcpy(b, head, sizeof(head) - 1);
    memcpy(b + sizeof(head) - 1, v->info, v->info_len);
    memcpy(b + sizeof(head) - 1 + v->info_len, tail, sizeof(tail)); /* with the NUL */
    v->push = b;
    v->push_len = n;
    account(v, n);
    trim(r, v);
  }
  *len = v->push_len;
  return v->push;
}
