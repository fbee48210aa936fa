/* naming_sync: clients synced from cluster members (see naming_registry.h,
 * "clients synced from cluster members"; nacos-cluster.md §3.5, §3.9). */
#include "naming_reg_int.h"

#include "nc_err.h"

#include <stdlib.h>
#include <string.h>

static void free_entries(nc_nreg_entry *e, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < e[i].n; k++) {
      nc_ninst_free(e[i].insts[k]);
      e[i].insts[k] = NULL;
    }
}

static int set_owner(nc_nreg_client *c, const char *owner) {
  if (c->owner && strcmp(c->owner, owner ? owner : "") == 0)
    return 0;
  char *o = strdup(owner ? owner : "");
  if (!o)
    return NC_ENOMEM;
  free(c->owner);
  c->owner = o;
  return 0;
}

int nc_nreg_sync_apply(nc_nreg *r, const char *id, const char *owner, uint64_t rev,
                       nc_nreg_entry *e, size_t n, uint64_t now_ms) {
  int rc = 0, did = 0;
  nc_strmap *keep = NULL;
  nc_nreg_client *c = nc_nreg_client_get(r, id, 0);
  if (c && !c->synced) {
    rc = NC_EEXISTS; /* never let remote data touch a native client (#15857) */
    goto out;
  }
  if (!(keep = nc_strmap_new())) {
    rc = NC_ENOMEM;
    goto out;
  }
  /* Upserts first, removals after: the client never passes through empty
   * (it would be forgotten), and each service changes at most once. */
  for (size_t i = 0; i < n; i++) {
    char kb[NC_NREG_KEY_MAX];
    const char *key = nc_nreg_key(kb, sizeof(kb), e[i].ns, e[i].group, e[i].name);
    if (!key || nc_strmap_put(keep, key, (void *)1, NULL)) {
      rc = key ? NC_ENOMEM : NC_EINVAL;
      goto out;
    }
    if (e[i].n == 0)
      continue; /* an empty service entry: removed below like an absent one */
    rc = nc_nreg_put(r, id, e[i].ns, e[i].group, e[i].name, e[i].insts, e[i].n, &did);
    if (rc)
      goto out;
    if (!c && (c = nc_nreg_client_get(r, id, 0)) != NULL) {
      c->synced = 1;
      c->renew_ms = now_ms;
      r->n_synced++;
    }
  }
  if (c) {
    /* Collect the services to drop first: dropping edits c->pubs. */
    nc_strmap *drop = nc_strmap_new();
    nc_strmap_iter it;
    const char *key;
    void *v;
    if (!drop) {
      rc = NC_ENOMEM;
      goto out;
    }
    for (nc_strmap_iter_init(&it, c->pubs); nc_strmap_iter_next(&it, &key, &v);)
      if (!nc_strmap_get(keep, key))
        nc_strmap_put(drop, key, v, NULL);
    for (nc_strmap_iter_init(&it, drop); nc_strmap_iter_next(&it, NULL, &v);) {
      nc_nsvc *s = v;
      nc_nreg_put(r, id, s->ns, s->group, s->name, NULL, 0, &did);
    }
    nc_strmap_free(drop, NULL);
    c = nc_nreg_client_get(r, id, 0); /* gone when nothing is left */
  }
  if (c) {
    c->revision = rev;
    c->grace_until = 0;
    c->applied_ms = now_ms;
    if (set_owner(c, owner))
      rc = NC_ENOMEM;
  }
out:
  nc_strmap_free(keep, NULL);
  free_entries(e, n);
  return rc;
}

int nc_nreg_sync_delete(nc_nreg *r, const char *id) {
  nc_nreg_client *c = nc_nreg_client_get(r, id, 0);
  if (!c)
    return NC_ENOTFOUND;
  if (!c->synced)
    return NC_EEXISTS;
  nc_nreg_drop(r, id, 0);
  return 0;
}

int nc_nreg_sync_demote(nc_nreg *r, const char *id, const char *owner, uint64_t now_ms) {
  nc_nreg_client *c = nc_nreg_client_get(r, id, 0);
  if (!c)
    return NC_ENOTFOUND;
  if (set_owner(c, owner))
    return NC_ENOMEM;
  if (!c->synced) {
    c->synced = 1;
    r->n_synced++;
  }
  c->renew_ms = c->applied_ms = now_ms;
  c->grace_until = 0;
  return 0;
}

int nc_nreg_sync_adopt(nc_nreg *r, const char *id) {
  nc_nreg_client *c = nc_nreg_client_get(r, id, 0);
  if (!c)
    return NC_ENOTFOUND;
  if (c->synced) {
    c->synced = 0;
    c->grace_until = 0;
    r->n_synced--;
  }
  c->revision++;
  nc_nreg_tell_client(r, id, 0);
  return 0;
}

int nc_nreg_sync_verify(nc_nreg *r, const char *id, uint64_t rev, uint64_t now_ms) {
  nc_nreg_client *c = nc_nreg_client_get(r, id, 0);
  if (c && !c->synced)
    return 0;
  if (!c || (rev != 0 && rev != c->revision))
    return NC_ENOTFOUND;
  c->renew_ms = now_ms;
  c->grace_until = 0;
  return 0;
}

size_t nc_nreg_sync_expire(nc_nreg *r, uint64_t now_ms, uint64_t expire_ms) {
  size_t n = 0;
  nc_strmap_iter it;
  const char *id;
  void *v;
  nc_strmap *gone = nc_strmap_new();
  if (!gone)
    return 0;
  for (nc_strmap_iter_init(&it, r->clients); nc_strmap_iter_next(&it, &id, &v);) {
    const nc_nreg_client *c = v;
    if (c->synced && (now_ms >= c->renew_ms + expire_ms ||
                      (c->grace_until && now_ms >= c->grace_until)))
      nc_strmap_put(gone, id, (void *)1, NULL);
  }
  for (nc_strmap_iter_init(&it, gone); nc_strmap_iter_next(&it, &id, NULL); n++)
    nc_nreg_drop(r, id, 0);
  nc_strmap_free(gone, NULL);
  return n;
}

size_t nc_nreg_sync_retain(nc_nreg *r, const char *owner, int (*listed)(void *ud, const char *id),
                           void *ud, uint64_t applied_before_ms, uint64_t deadline_ms) {
  size_t n = 0;
  nc_strmap_iter it;
  const char *id;
  void *v;
  for (nc_strmap_iter_init(&it, r->clients); nc_strmap_iter_next(&it, &id, &v);) {
    nc_nreg_client *c = v;
    if (c->synced && !c->grace_until && c->owner && strcmp(c->owner, owner) == 0 &&
        c->applied_ms < applied_before_ms && !listed(ud, id)) {
      c->grace_until = deadline_ms ? deadline_ms : 1;
      n++;
    }
  }
  return n;
}

static void set_grace(nc_nreg *r, const char *owner, uint64_t deadline_ms) {
  nc_strmap_iter it;
  void *v;
  for (nc_strmap_iter_init(&it, r->clients); nc_strmap_iter_next(&it, NULL, &v);) {
    nc_nreg_client *c = v;
    if (c->synced && c->owner && strcmp(c->owner, owner) == 0)
      c->grace_until = deadline_ms;
  }
}

void nc_nreg_owner_down(nc_nreg *r, const char *owner, uint64_t deadline_ms) {
  set_grace(r, owner, deadline_ms ? deadline_ms : 1);
}
void nc_nreg_owner_up(nc_nreg *r, const char *owner) { set_grace(r, owner, 0); }

void nc_nreg_each_client(nc_nreg *r, int native_only, const char *skip_owner,
                         nc_nreg_client_each_fn fn, void *ud) {
  nc_strmap_iter it;
  const char *id;
  void *v;
  for (nc_strmap_iter_init(&it, r->clients); nc_strmap_iter_next(&it, &id, &v);) {
    const nc_nreg_client *c = v;
    if (nc_strmap_count(c->pubs) == 0 || (native_only && c->synced) ||
        nc_nreg_is_persistent_id(id))
      continue;
    if (c->synced && skip_owner && c->owner && strcmp(c->owner, skip_owner) == 0)
      continue;
    fn(ud, id, c->synced, c->synced ? c->owner : "", c->revision);
  }
}

int nc_nreg_client_pubs(nc_nreg *r, const char *id, uint64_t *rev, int *synced,
                        nc_nreg_pub_fn fn, void *ud) {
  nc_nreg_client *c = nc_nreg_client_get(r, id, 0);
  if (!c)
    return NC_ENOTFOUND;
  if (rev)
    *rev = c->revision;
  if (synced)
    *synced = c->synced;
  nc_strmap_iter it;
  void *v;
  for (nc_strmap_iter_init(&it, c->pubs); nc_strmap_iter_next(&it, NULL, &v);) {
    const nc_nsvc *s = v;
    const nc_nreg_pub *p = nc_nreg_pub_get(s, id);
    if (p && fn)
      fn(ud, s->ns, s->group, s->name, p->insts, p->n);
  }
  return 0;
}
