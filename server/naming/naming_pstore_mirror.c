/* naming_pstore_mirror: naming_pstore's in-memory mirror of the rows (see
 * naming_pstore_int.h): per service key (nc_nreg_key) a map of "ip:port"
 * -> entry holding the row as stored; every entry is published as its
 * "ip:port#false" client's one instance in that service, healthy as last
 * checked; and the cluster health-check settings. Loop thread only. */
#include "naming_pstore_int.h"

#include "nc_err.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nc_npm_pent_free(void *v) {
  pent *e = v;
  if (!e)
    return;
  free(e->ns);
  free(e->group);
  free(e->name);
  free(e->ip);
  free(e->cluster);
  free(e->inst);
  free(e);
}

void nc_npm_psvc_free(void *v) {
  psvc *s = v;
  if (!s)
    return;
  nc_strmap_free(s->ents, nc_npm_pent_free);
  free(s->ns);
  free(s->group);
  free(s->name);
  free(s);
}

const char *nc_npm_client_id(char *buf, size_t cap, const char *ip, int port) {
  snprintf(buf, cap, "%s:%d#false", ip, port);
  return buf;
}

/* ---- the mirror and the registry ---- */

/* Publishes e as its client's instance (healthy per e). */
void nc_npm_publish(nc_npstore *ps, const pent *e) {
  char id[200];
  cJSON *j = cJSON_Parse(e->inst);
  nc_ninst *in = NULL;
  const char *err = NULL;
  if (j) {
    cJSON_DeleteItemFromObjectCaseSensitive(j, "healthy");
    cJSON_AddBoolToObject(j, "healthy", e->healthy);
  }
  if (!j || nc_ninst_parse(j, e->group, e->name, &in, &err) != 0) {
    nc_warn("persistent instance %s:%d of %s@@%s: stored instance unusable: %s", e->ip, e->port,
            e->group, NC_LOG_ESC(e->name), err ? err : "bad JSON");
    cJSON_Delete(j);
    return;
  }
  cJSON_Delete(j);
  int rc = nc_naming_publish(ps->naming, nc_npm_client_id(id, sizeof(id), e->ip, e->port), e->ns,
                             e->group, e->name, &in, 1);
  if (rc)
    nc_warn("persistent instance %s: publish failed: %s", id, nc_strerror(rc));
}

void nc_npm_unpublish(nc_npstore *ps, const pent *e) {
  char id[200];
  nc_naming_publish(ps->naming, nc_npm_client_id(id, sizeof(id), e->ip, e->port), e->ns, e->group,
                    e->name, NULL, 0);
}

psvc *nc_npm_svc(nc_npstore *ps, const char *ns, const char *group, const char *name,
                     int create) {
  char kb[1024];
  const char *key = nc_nreg_key(kb, sizeof(kb), ns, group, name);
  if (!key)
    return NULL;
  psvc *s = nc_strmap_get(ps->svcs, key);
  if (s || !create)
    return s;
  s = calloc(1, sizeof(*s));
  if (!s || !(s->ns = strdup(ns && *ns ? ns : "public")) || !(s->group = strdup(group)) ||
      !(s->name = strdup(name)) || !(s->ents = nc_strmap_new()) ||
      nc_strmap_put(ps->svcs, key, s, NULL)) {
    nc_npm_psvc_free(s);
    return NULL;
  }
  return s;
}

void nc_npm_svc_gc(nc_npstore *ps, psvc *s) {
  if (nc_strmap_count(s->ents))
    return;
  char kb[1024];
  const char *key = nc_nreg_key(kb, sizeof(kb), s->ns, s->group, s->name);
  if (key)
    nc_strmap_del(ps->svcs, key);
  nc_npm_psvc_free(s);
}

const char *nc_npm_addr_key(char *buf, size_t cap, const char *ip, int port) {
  snprintf(buf, cap, "%s:%d", ip, port);
  return buf;
}

/* Makes the mirror hold row r (published when it changed); marks it seen. */
void nc_npm_upsert(nc_npstore *ps, const nc_nprow *r) {
  char ak[200];
  psvc *s = nc_npm_svc(ps, r->ns, r->group, r->name, 1);
  if (!s)
    return;
  pent *e = nc_strmap_get(s->ents, nc_npm_addr_key(ak, sizeof(ak), r->ip, r->port));
  if (e && e->healthy == r->healthy && !strcmp(e->inst, r->inst)) {
    e->seen = 1;
    return;
  }
  char *inst = strdup(r->inst);
  cJSON *j = cJSON_Parse(r->inst);
  const char *cl = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "clusterName"));
  char *cluster = strdup(cl && *cl ? cl : "DEFAULT");
  cJSON_Delete(j);
  if (!inst || !cluster) {
    free(inst);
    free(cluster);
    return;
  }
  if (!e) {
    e = calloc(1, sizeof(*e));
    if (!e || !(e->ns = strdup(s->ns)) || !(e->group = strdup(r->group)) ||
        !(e->name = strdup(r->name)) || !(e->ip = strdup(r->ip)) ||
        nc_strmap_put(s->ents, ak, e, NULL)) {
      nc_npm_pent_free(e);
      free(inst);
      free(cluster);
      nc_npm_svc_gc(ps, s);
      return;
    }
    e->port = r->port;
    ps->n_inst++;
  }
  free(e->inst);
  free(e->cluster);
  e->inst = inst;
  e->cluster = cluster;
  e->healthy = r->healthy;
  e->seen = 1;
  nc_npm_publish(ps, e);
}

void nc_npm_remove(nc_npstore *ps, psvc *s, const char *ak) {
  pent *e = nc_strmap_del(s->ents, ak);
  if (!e)
    return;
  nc_npm_unpublish(ps, e);
  nc_npm_pent_free(e);
  ps->n_inst--;
}

/* Removes the unseen entries of s (every entry when clear) and resets the
 * marks; s may be freed. */
void nc_npm_sweep(nc_npstore *ps, psvc *s) {
  nc_strmap_iter it;
  const char *k;
  void *v;
  for (nc_strmap_iter_init(&it, s->ents); nc_strmap_iter_next(&it, &k, &v);) {
    pent *e = v;
    if (!e->seen)
      nc_npm_remove(ps, s, k); /* deleting the current entry is allowed */
    else
      e->seen = 0;
  }
  nc_npm_svc_gc(ps, s);
}

void nc_npm_apply_load(nc_npstore *ps, npjob *j) {
  if (j->kind == NPJ_LOAD_ALL)
    ps->loading_all = 0;
  if (j->rc) {
    ps->st.reload_failures++;
    nc_warn("persistent instances: reload failed: %s (kept what is held)", nc_strerror(j->rc));
    return;
  }
  ps->st.reloads++;
  for (size_t i = 0; i < j->n; i++)
    nc_npm_upsert(ps, &j->rows[i]);
  if (j->kind == NPJ_LOAD_SVC) {
    psvc *s = nc_npm_svc(ps, j->row.ns, j->row.group, j->row.name, 0);
    if (s)
      nc_npm_sweep(ps, s);
    return;
  }
  nc_strmap_iter it;
  void *v;
  for (nc_strmap_iter_init(&it, ps->svcs); nc_strmap_iter_next(&it, NULL, &v);)
    nc_npm_sweep(ps, v); /* may delete the current service: allowed */
}

const char *nc_npm_chk_key(char *buf, size_t cap, const char *ns, const char *group,
                           const char *name, const char *cluster) {
  char kb[1024];
  const char *k = nc_nreg_key(kb, sizeof(kb), ns, group, name);
  int n = k ? snprintf(buf, cap, "%s\x01%s", k, cluster) : -1;
  return n > 0 && (size_t)n < cap ? buf : NULL;
}

/* The cluster settings become exactly v[0..n). */
void nc_npm_apply_checkers(nc_npstore *ps, const nc_npchk *v, size_t n) {
  nc_strmap *m = nc_strmap_new();
  char kb[1200];
  for (size_t i = 0; m && i < n; i++) {
    char *j = strdup(v[i].json);
    const char *k = nc_npm_chk_key(kb, sizeof(kb), v[i].ns, v[i].group, v[i].name, v[i].cluster);
    void *old = NULL;
    if (!j || !k || nc_strmap_put(m, k, j, &old)) {
      free(j);
      continue;
    }
    free(old);
  }
  if (!m)
    return;
  nc_strmap_free(ps->chks, free);
  ps->chks = m;
}

const char *nc_npstore_checker_json(nc_npstore *ps, const char *ns, const char *group,
                                    const char *name, const char *cluster) {
  char kb[1200];
  const char *k = nc_npm_chk_key(kb, sizeof(kb), ns, group, name, cluster);
  return k ? nc_strmap_get(ps->chks, k) : NULL;
}

void nc_npstore_each(nc_npstore *ps, void (*fn)(void *ud, const nc_npstore_inst *in), void *ud) {
  nc_strmap_iter si, ei;
  void *sv, *ev;
  for (nc_strmap_iter_init(&si, ps->svcs); nc_strmap_iter_next(&si, NULL, &sv);) {
    psvc *s = sv;
    for (nc_strmap_iter_init(&ei, s->ents); nc_strmap_iter_next(&ei, NULL, &ev);) {
      pent *e = ev;
      nc_npstore_inst in = {s->ns, s->group, s->name, e->ip, e->cluster, e->port, e->healthy};
      fn(ud, &in);
    }
  }
}

size_t nc_npstore_count(const nc_npstore *ps) { return ps->n_inst; }
