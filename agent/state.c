#include "state.h"
#include "hosts.h"
#include "nc_md5.h"
#include "nc_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nc_st {
  nc_strmap *regs, *svcs, *cfgs;
};

/* Keys join the parts with a byte that cannot appear in names we accept. */
static char *mkkey(const char *a, const char *b, const char *c) {
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
  char *k = malloc(la + lb + lc + 3);
  if (!k)
    return NULL;
  memcpy(k, a, la);
  k[la] = '\x1f';
  memcpy(k + la + 1, b, lb);
  k[la + 1 + lb] = '\x1f';
  memcpy(k + la + lb + 2, c, lc + 1);
  return k;
}

void nc_st_inst_clear(nc_st_inst *inst) {
  free(inst->ip);
  free(inst->cluster);
  cJSON_Delete(inst->metadata);
  memset(inst, 0, sizeof(*inst));
}

static void reg_free(void *p) {
  nc_st_reg *r = p;
  for (size_t i = 0; i < r->n; i++)
    nc_st_inst_clear(&r->insts[i]);
  free(r->insts);
  free(r->ns);
  free(r->group);
  free(r->service);
  free(r);
}

static void svc_free(void *p) {
  nc_st_svc *s = p;
  for (size_t i = 0; i < s->n; i++)
    cJSON_Delete(s->subs[i].clusters);
  free(s->subs);
  free(s->hosts_json);
  free(s->ns);
  free(s->group);
  free(s->service);
  free(s);
}

static void cfg_free(void *p) {
  nc_st_cfg *c = p;
  free(c->owners);
  free(c->content);
  free(c->ns);
  free(c->group);
  free(c->data_id);
  free(c);
}

nc_st *nc_st_new(void) {
  nc_st *st = calloc(1, sizeof(*st));
  if (!st)
    return NULL;
  st->regs = nc_strmap_new();
  st->svcs = nc_strmap_new();
  st->cfgs = nc_strmap_new();
  if (!st->regs || !st->svcs || !st->cfgs) {
    nc_st_free(st);
    return NULL;
  }
  return st;
}

void nc_st_free(nc_st *st) {
  if (!st)
    return;
  nc_strmap_free(st->regs, reg_free);
  nc_strmap_free(st->svcs, svc_free);
  nc_strmap_free(st->cfgs, cfg_free);
  free(st);
}

nc_strmap *nc_st_regs(nc_st *st) { return st->regs; }
nc_strmap *nc_st_svcs(nc_st *st) { return st->svcs; }
nc_strmap *nc_st_cfgs(nc_st *st) { return st->cfgs; }

/* Allocates the three name strings of an entry. */
static int names(char **a, char **b, char **c, const char *x, const char *y, const char *z) {
  *a = strdup(x);
  *b = strdup(y);
  *c = strdup(z);
  return *a && *b && *c ? 0 : NC_ENOMEM;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
  if (n < *cap)
    return 0;
  size_t nc = *cap ? *cap * 2 : 4;
  void *p = realloc(*arr, nc * elem);
  if (!p)
    return NC_ENOMEM;
  *arr = p;
  *cap = nc;
  return 0;
}

/* ---- registrations ---- */

nc_st_reg *nc_st_reg_get(nc_st *st, const char *ns, const char *group, const char *service) {
  char *k = mkkey(ns, group, service);
  nc_st_reg *r = k ? nc_strmap_get(st->regs, k) : NULL;
  free(k);
  return r;
}

static int same_id(const nc_st_inst *in, const char *ip, int port, const char *cluster) {
  return in->port == port && !strcmp(in->ip, ip) && !strcmp(in->cluster, cluster);
}

/* Index of the last (effective) entry of that identity, or r->n. */
static size_t last_of(const nc_st_reg *r, const char *ip, int port, const char *cluster) {
  for (size_t i = r->n; i-- > 0;)
    if (same_id(&r->insts[i], ip, port, cluster))
      return i;
  return r->n;
}

/* 1 when insts[i] is the effective entry of its identity (no later hold). */
static int effective(const nc_st_reg *r, size_t i) {
  const nc_st_inst *in = &r->insts[i];
  for (size_t j = i + 1; j < r->n; j++)
    if (same_id(&r->insts[j], in->ip, in->port, in->cluster))
      return 0;
  return 1;
}

static void remove_at(nc_st_reg *r, size_t i) {
  nc_st_inst_clear(&r->insts[i]);
  memmove(&r->insts[i], &r->insts[i + 1], (r->n - i - 1) * sizeof(nc_st_inst));
  r->n--;
}

/* Drops the hold at i. When it was the effective one, the identity's next
 * most recent hold takes over, with its HELD state (which belongs to the
 * identity: a lone attempt may be under way for it). */
static void release_at(nc_st_reg *r, size_t i) {
  int held = r->insts[i].held, was_eff = effective(r, i);
  char *ip = r->insts[i].ip, *cluster = r->insts[i].cluster;
  int port = r->insts[i].port;
  r->insts[i].ip = r->insts[i].cluster = NULL;
  remove_at(r, i);
  size_t now = last_of(r, ip, port, cluster);
  if (was_eff && now < r->n)
    r->insts[now].held = held;
  free(ip);
  free(cluster);
}

int nc_st_register(nc_st *st, const char *ns, const char *group, const char *service,
                   nc_st_inst *inst, nc_st_reg **out) {
  int rc = NC_ENOMEM;
  char *k = mkkey(ns, group, service);
  nc_st_reg *r = NULL, *created = NULL;
  if (!k)
    goto out;
  r = nc_strmap_get(st->regs, k);
  if (!r) {
    created = r = calloc(1, sizeof(*r));
    if (!r || names(&r->ns, &r->group, &r->service, ns, group, service) ||
        nc_strmap_put(st->regs, k, r, NULL))
      goto out;
  }
  if (grow((void **)&r->insts, &r->cap, r->n, sizeof(nc_st_inst)))
    goto out;
  /* The identity's current effective entry hands its HELD state on: the
   * split logic tracks the identity, not the holder. */
  size_t prev = last_of(r, inst->ip, inst->port, inst->cluster);
  int held = prev < r->n ? r->insts[prev].held : NC_ST_HELD_NONE;
  for (size_t i = 0; i < r->n; i++) {
    if (r->insts[i].owner == inst->owner && same_id(&r->insts[i], inst->ip, inst->port,
                                                    inst->cluster)) {
      remove_at(r, i); /* re-registered: it moves to the end (most recent) */
      break;
    }
  }
  inst->held = held;
  r->insts[r->n++] = *inst;
  memset(inst, 0, sizeof(*inst));
  r->gen++;
  created = NULL;
  *out = r;
  rc = 0;
out:
  if (created) {
    nc_strmap_del(st->regs, k);
    reg_free(created);
  }
  free(k);
  return rc;
}

int nc_st_deregister(nc_st *st, const char *ns, const char *group, const char *service,
                     const char *ip, int port, const char *cluster, const void *owner,
                     nc_st_reg **out) {
  nc_st_reg *r = nc_st_reg_get(st, ns, group, service);
  if (!r)
    return NC_ENOTFOUND;
  for (size_t i = 0; i < r->n; i++) {
    if (r->insts[i].owner == owner && same_id(&r->insts[i], ip, port, cluster)) {
      release_at(r, i);
      r->gen++;
      *out = r;
      return 0;
    }
  }
  return NC_ENOTFOUND;
}

nc_st_inst *nc_st_reg_find(nc_st_reg *r, const char *ip, int port, const char *cluster) {
  size_t i = last_of(r, ip, port, cluster);
  return i < r->n ? &r->insts[i] : NULL;
}

long nc_st_reg_other_uid(const nc_st_reg *r, const char *ip, int port, const char *cluster,
                         long uid) {
  for (size_t i = 0; i < r->n; i++)
    if (same_id(&r->insts[i], ip, port, cluster) && r->insts[i].owner_uid >= 0 &&
        r->insts[i].owner_uid != uid)
      return r->insts[i].owner_uid;
  return -1;
}

long nc_st_reg_hold_uid(const nc_st_reg *r, const char *ip, int port, const char *cluster,
                        const void *owner) {
  for (size_t i = 0; i < r->n; i++)
    if (r->insts[i].owner == owner && same_id(&r->insts[i], ip, port, cluster))
      return r->insts[i].owner_uid;
  return -2;
}

size_t nc_st_reg_holds(const nc_st_reg *r, const char *ip, int port, const char *cluster) {
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++)
    n += same_id(&r->insts[i], ip, port, cluster);
  return n;
}

size_t nc_st_reg_count(const nc_st_reg *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++)
    n += effective(r, i);
  return n;
}

void nc_st_reg_gc(nc_st *st, nc_st_reg *r) {
  /* An answer still to come (or replies parked for the next request) looks
   * the entry up again; it is collected then. */
  if (r->n || r->inflight || r->parked)
    return;
  char *k = mkkey(r->ns, r->group, r->service);
  if (k && nc_strmap_del(st->regs, k) == r)
    reg_free(r);
  free(k);
}

char *nc_st_instance_id(const char *ip, int port, const char *cluster, const char *group,
                        const char *service) {
  int n = snprintf(NULL, 0, "%s#%d#%s#%s@@%s", ip, port, cluster, group, service);
  char *s = malloc((size_t)n + 1);
  if (s)
    snprintf(s, (size_t)n + 1, "%s#%d#%s#%s@@%s", ip, port, cluster, group, service);
  return s;
}

static cJSON *inst_json(const nc_st_inst *in, const nc_st_reg *r) {
  cJSON *o = cJSON_CreateObject();
  char *id = nc_st_instance_id(in->ip, in->port, in->cluster, r->group, r->service);
  cJSON *md = in->metadata ? cJSON_Duplicate(in->metadata, 1) : cJSON_CreateObject();
  if (!o || !id || !md || !cJSON_AddStringToObject(o, "instanceId", id) ||
      !cJSON_AddStringToObject(o, "ip", in->ip) || !cJSON_AddNumberToObject(o, "port", in->port) ||
      !cJSON_AddNumberToObject(o, "weight", in->weight) ||
      !cJSON_AddBoolToObject(o, "healthy", in->healthy) ||
      !cJSON_AddBoolToObject(o, "enabled", in->enabled) ||
      !cJSON_AddBoolToObject(o, "ephemeral", in->ephemeral) ||
      !cJSON_AddStringToObject(o, "clusterName", in->cluster) ||
      !cJSON_AddStringToObject(o, "serviceName", r->service)) {
    free(id);
    cJSON_Delete(md);
    cJSON_Delete(o);
    return NULL;
  }
  cJSON_AddItemToObject(o, "metadata", md);
  free(id);
  return o;
}

int nc_st_reg_request(const nc_st_reg *r, const char **type, cJSON **body) {
  cJSON *b = cJSON_CreateObject();
  if (!b || !cJSON_AddStringToObject(b, "namespace", r->ns[0] ? r->ns : "public") ||
      !cJSON_AddStringToObject(b, "serviceName", r->service) ||
      !cJSON_AddStringToObject(b, "groupName", r->group) ||
      !cJSON_AddStringToObject(b, "module", "naming") || !cJSON_AddObjectToObject(b, "headers"))
    goto fail;
  size_t live = 0;
  for (size_t i = 0; i < r->n; i++)
    live += r->insts[i].held != NC_ST_HELD && effective(r, i);
  if (live == 0) {
    /* Deregistration removes whatever this connection published for the
     * service; the instance body only needs to be well formed. */
    cJSON *in = cJSON_AddObjectToObject(b, "instance");
    if (!in || !cJSON_AddStringToObject(b, "type", "deregisterInstance") ||
        !cJSON_AddStringToObject(in, "ip", "0.0.0.0") || !cJSON_AddNumberToObject(in, "port", 1) ||
        !cJSON_AddBoolToObject(in, "ephemeral", 1) ||
        !cJSON_AddStringToObject(in, "clusterName", "DEFAULT"))
      goto fail;
    *type = "InstanceRequest";
  } else {
    cJSON *arr = cJSON_AddArrayToObject(b, "instances");
    if (!arr || !cJSON_AddStringToObject(b, "type", "batchRegisterInstance"))
      goto fail;
    for (size_t i = 0; i < r->n; i++) {
      /* One entry per identity: its most recent hold. */
      if (r->insts[i].held == NC_ST_HELD || !effective(r, i))
        continue;
      cJSON *o = inst_json(&r->insts[i], r);
      if (!o)
        goto fail;
      cJSON_AddItemToArray(arr, o);
    }
    *type = "BatchInstanceRequest";
  }
  *body = b;
  return 0;
fail:
  cJSON_Delete(b);
  return NC_ENOMEM;
}

/* ---- subscriptions ---- */

nc_st_svc *nc_st_svc_get(nc_st *st, const char *ns, const char *group, const char *service) {
  char *k = mkkey(ns, group, service);
  nc_st_svc *s = k ? nc_strmap_get(st->svcs, k) : NULL;
  free(k);
  return s;
}

nc_st_sub *nc_st_svc_find(nc_st_svc *svc, void *owner) {
  for (size_t i = 0; i < svc->n; i++)
    if (svc->subs[i].owner == owner)
      return &svc->subs[i];
  return NULL;
}

int nc_st_subscribe(nc_st *st, const char *ns, const char *group, const char *service,
                    void *owner, cJSON *clusters, nc_st_svc **out, int *first) {
  int rc = NC_ENOMEM;
  char *k = mkkey(ns, group, service);
  nc_st_svc *s = NULL, *created = NULL;
  *first = 0;
  if (!k)
    goto out;
  s = nc_strmap_get(st->svcs, k);
  if (!s) {
    created = s = calloc(1, sizeof(*s));
    if (!s || names(&s->ns, &s->group, &s->service, ns, group, service) ||
        nc_strmap_put(st->svcs, k, s, NULL))
      goto out;
  }
  nc_st_sub *sub = nc_st_svc_find(s, owner);
  if (sub) {
    cJSON_Delete(sub->clusters);
    sub->clusters = clusters;
  } else {
    if (grow((void **)&s->subs, &s->cap, s->n, sizeof(nc_st_sub)))
      goto out;
    s->subs[s->n].owner = owner;
    s->subs[s->n].clusters = clusters;
    s->subs[s->n].last_hash = 0;
    s->n++;
  }
  *first = created != NULL;
  created = NULL;
  s->gen++;
  *out = s;
  rc = 0;
out:
  if (created) {
    nc_strmap_del(st->svcs, k);
    svc_free(created);
  }
  free(k);
  return rc;
}

int nc_st_unsubscribe(nc_st *st, nc_st_svc *svc, void *owner, int *last) {
  (void)st;
  nc_st_sub *sub = nc_st_svc_find(svc, owner);
  if (!sub)
    return NC_ENOTFOUND;
  cJSON_Delete(sub->clusters);
  size_t i = (size_t)(sub - svc->subs);
  memmove(&svc->subs[i], &svc->subs[i + 1], (svc->n - i - 1) * sizeof(nc_st_sub));
  svc->n--;
  svc->gen++;
  *last = svc->n == 0;
  return 0;
}

void nc_st_svc_remove(nc_st *st, nc_st_svc *svc) {
  char *k = mkkey(svc->ns, svc->group, svc->service);
  if (k && nc_strmap_del(st->svcs, k) == svc)
    svc_free(svc);
  free(k);
}

int nc_st_svc_set_hosts(nc_st_svc *svc, const cJSON *hosts) {
  char *js = cJSON_PrintUnformatted(hosts);
  if (!js)
    return NC_ENOMEM;
  free(svc->hosts_json);
  svc->hosts_json = js;
  svc->hosts_hash = nc_hosts_hash(hosts);
  return 0;
}

cJSON *nc_st_svc_hosts(const nc_st_svc *svc) {
  cJSON *h = svc->hosts_json ? cJSON_Parse(svc->hosts_json) : NULL;
  if (!cJSON_IsArray(h)) {
    cJSON_Delete(h);
    h = cJSON_CreateArray();
  }
  return h;
}

/* ---- config listeners ---- */

nc_st_cfg *nc_st_cfg_get(nc_st *st, const char *ns, const char *group, const char *data_id) {
  char *k = mkkey(ns, group, data_id);
  nc_st_cfg *c = k ? nc_strmap_get(st->cfgs, k) : NULL;
  free(k);
  return c;
}

int nc_st_listen(nc_st *st, const char *ns, const char *group, const char *data_id, void *owner,
                 nc_st_cfg **out, int *first) {
  int rc = NC_ENOMEM;
  char *k = mkkey(ns, group, data_id);
  nc_st_cfg *c = NULL, *created = NULL;
  *first = 0;
  if (!k)
    goto out;
  c = nc_strmap_get(st->cfgs, k);
  if (!c) {
    created = c = calloc(1, sizeof(*c));
    if (!c || names(&c->ns, &c->group, &c->data_id, ns, group, data_id) ||
        nc_strmap_put(st->cfgs, k, c, NULL))
      goto out;
  }
  size_t i;
  for (i = 0; i < c->n && c->owners[i] != owner; i++)
    ;
  if (i == c->n) {
    if (grow((void **)&c->owners, &c->cap, c->n, sizeof(void *)))
      goto out;
    c->owners[c->n++] = owner;
  }
  *first = created != NULL;
  created = NULL;
  c->gen++;
  *out = c;
  rc = 0;
out:
  if (created) {
    nc_strmap_del(st->cfgs, k);
    cfg_free(created);
  }
  free(k);
  return rc;
}

int nc_st_unlisten(nc_st *st, nc_st_cfg *cfg, void *owner, int *last) {
  (void)st;
  for (size_t i = 0; i < cfg->n; i++) {
    if (cfg->owners[i] == owner) {
      memmove(&cfg->owners[i], &cfg->owners[i + 1], (cfg->n - i - 1) * sizeof(void *));
      cfg->n--;
      cfg->gen++;
      *last = cfg->n == 0;
      return 0;
    }
  }
  return NC_ENOTFOUND;
}

void nc_st_cfg_remove(nc_st *st, nc_st_cfg *cfg) {
  char *k = mkkey(cfg->ns, cfg->group, cfg->data_id);
  if (k && nc_strmap_del(st->cfgs, k) == cfg)
    cfg_free(cfg);
  free(k);
}

void nc_st_cfg_set(nc_st_cfg *cfg, const char *content) {
  free(cfg->content);
  cfg->content = content ? strdup(content) : NULL;
  cfg->known = 1;
  cfg->exists = content != NULL;
  cfg->md5[0] = '\0';
  if (content) {
    nc_md5_hex(content, strlen(content), cfg->md5);
  }
}

/* ---- owners ---- */

void nc_st_drop_owner(nc_st *st, void *owner, const nc_st_drop_cbs *cbs) {
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, st->regs);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    nc_st_reg *r = v;
    size_t before = r->n;
    for (size_t i = r->n; i-- > 0;)
      if (r->insts[i].owner == owner)
        release_at(r, i);
    if (r->n != before) {
      r->gen++;
      if (cbs && cbs->on_reg)
        cbs->on_reg(cbs->ud, r); /* may gc r: the iterator tolerates it */
    }
  }
  nc_strmap_iter_init(&it, st->svcs);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    int last = 0;
    if (nc_st_unsubscribe(st, v, owner, &last) == 0 && last && cbs && cbs->on_svc)
      cbs->on_svc(cbs->ud, v);
  }
  nc_strmap_iter_init(&it, st->cfgs);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    int last = 0;
    if (nc_st_unlisten(st, v, owner, &last) == 0 && last && cbs && cbs->on_cfg)
      cbs->on_cfg(cbs->ud, v);
  }
}

void nc_st_get_counts(nc_st *st, nc_st_counts *c) {
  memset(c, 0, sizeof(*c));
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, st->regs);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    c->instances += nc_st_reg_count(v);
    c->services_registered++;
  }
  nc_strmap_iter_init(&it, st->svcs);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    c->subscriptions++;
    c->local_subscriptions += ((nc_st_svc *)v)->n;
  }
  nc_strmap_iter_init(&it, st->cfgs);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    c->config_listeners++;
    c->local_config_listeners += ((nc_st_cfg *)v)->n;
  }
}
