/* naming_meta: see naming_meta.h. */
#include "naming_meta.h"

#include "nc_err.h"
#include "nc_log.h"
#include "nc_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 1600

/* One stored value. */
typedef struct item {
  int kind;
  char *ns, *group, *name, *mkey;
  cJSON *val;
} item;

struct nc_nmeta {
  nc_naming *naming;
  nc_nmeta_db *db;
  nc_strmap *items;  /* "kind\nsvc_key\nmkey" -> item* */
  nc_strmap *counts; /* svc_key -> instance overrides held (uintptr_t) */
  nc_nmeta_change_fn fn;
  void *ud;
};

static const char *norm_ns(const char *ns) { return ns && *ns ? ns : "public"; }

static const char *item_key(char *buf, size_t cap, int kind, const char *svc_key,
                            const char *mkey) {
  int n = snprintf(buf, cap, "%c\n%s\n%s", kind, svc_key, mkey ? mkey : "");
  return n > 0 && (size_t)n < cap ? buf : NULL;
}

static void item_free(void *v) {
  item *it = v;
  if (!it)
    return;
  free(it->ns);
  free(it->group);
  free(it->name);
  free(it->mkey);
  cJSON_Delete(it->val);
  free(it);
}

static void count(nc_nmeta *m, const char *svc_key, int delta) {
  uintptr_t c = (uintptr_t)nc_strmap_get(m->counts, svc_key);
  c = (uintptr_t)((intptr_t)c + delta);
  if (c)
    nc_strmap_put(m->counts, svc_key, (void *)c, NULL);
  else
    nc_strmap_del(m->counts, svc_key);
}

/* Memory only: val (taken; NULL removes). Bumps the service when it
 * exists in the registry (its subscribers are pushed). */
static int set_mem(nc_nmeta *m, int kind, const char *ns, const char *group, const char *name,
                   const char *mkey, cJSON *val) {
  char sk[KEY_MAX], ik[KEY_MAX + 400];
  const char *svc = nc_nreg_key(sk, sizeof(sk), ns, group, name);
  const char *key = svc ? item_key(ik, sizeof(ik), kind, svc, mkey) : NULL;
  if (!key) {
    cJSON_Delete(val);
    return NC_EINVAL;
  }
  item *old = nc_strmap_get(m->items, key);
  if (!val) {
    if (old) {
      nc_strmap_del(m->items, key);
      item_free(old);
      if (kind == NC_NMETA_INSTANCE)
        count(m, svc, -1);
    }
  } else if (old) {
    cJSON_Delete(old->val);
    old->val = val;
  } else {
    item *it = calloc(1, sizeof(*it));
    if (!it || !(it->ns = strdup(ns)) || !(it->group = strdup(group)) ||
        !(it->name = strdup(name)) || !(it->mkey = strdup(mkey ? mkey : "")) ||
        nc_strmap_put(m->items, key, it, NULL)) {
      item_free(it);
      cJSON_Delete(val);
      return NC_ENOMEM;
    }
    it->kind = kind;
    it->val = val;
    if (kind == NC_NMETA_INSTANCE)
      count(m, svc, +1);
  }
  nc_nreg_touch(nc_naming_registry(m->naming), svc);
  return 0;
}

/* ---- the registry hook: Nacos's InstanceUtil.updateInstanceMetadata ---- */

static int hook_has(void *ud, const char *svc_key) {
  nc_nmeta *m = ud;
  return nc_strmap_get(m->counts, svc_key) != NULL;
}

static void hook_apply(void *ud, const char *svc_key, cJSON *host) {
  nc_nmeta *m = ud;
  char mk[400], ik[KEY_MAX + 400];
  const char *ip = cJSON_GetStringValue(cJSON_GetObjectItem(host, "ip"));
  const char *cl = cJSON_GetStringValue(cJSON_GetObjectItem(host, "clusterName"));
  int port = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(host, "port"));
  snprintf(mk, sizeof(mk), "%s:%d:%s", ip ? ip : "", port, cl ? cl : "");
  const item *it = item_key(ik, sizeof(ik), NC_NMETA_INSTANCE, svc_key, mk)
                       ? nc_strmap_get(m->items, ik)
                       : NULL;
  if (!it)
    return;
  const cJSON *w = cJSON_GetObjectItem(it->val, "weight");
  const cJSON *en = cJSON_GetObjectItem(it->val, "enabled");
  const cJSON *md = cJSON_GetObjectItem(it->val, "metadata");
  if (cJSON_IsNumber(w))
    cJSON_ReplaceItemInObject(host, "weight", cJSON_CreateNumber(w->valuedouble));
  if (cJSON_IsBool(en))
    cJSON_ReplaceItemInObject(host, "enabled", cJSON_CreateBool(cJSON_IsTrue(en)));
  cJSON *hm = cJSON_GetObjectItem(host, "metadata");
  const cJSON *kv;
  if (cJSON_IsObject(hm))
    cJSON_ArrayForEach(kv, md) {
      if (!cJSON_IsString(kv))
        continue;
      cJSON_DeleteItemFromObjectCaseSensitive(hm, kv->string);
      cJSON_AddStringToObject(hm, kv->string, kv->valuestring);
    }
}

/* The stored protectThreshold (negative ones count as 0, as in Nacos), or
 * -1 for a service without stored metadata. */
static double hook_threshold(void *ud, const char *svc_key) {
  nc_nmeta *m = ud;
  char ik[KEY_MAX + 400];
  const item *it = item_key(ik, sizeof(ik), NC_NMETA_SERVICE, svc_key, "")
                       ? nc_strmap_get(m->items, ik)
                       : NULL;
  if (!it)
    return -1;
  double th = cJSON_GetNumberValue(cJSON_GetObjectItem(it->val, "protectThreshold"));
  return th > 0 ? th : 0;
}

/* ---- public ---- */

int nc_nmeta_open(nc_naming *n, const nc_nmeta_opts *o, nc_nmeta **out) {
  nc_nmeta_row *rows = NULL;
  size_t nrows = 0;
  nc_nmeta *m = calloc(1, sizeof(*m));
  int rc = NC_ENOMEM;
  if (!m || !(m->items = nc_strmap_new()) || !(m->counts = nc_strmap_new()))
    goto fail;
  m->naming = n;
  if ((rc = nc_nmeta_db_open(o, &m->db)) || (rc = nc_nmeta_db_load(m->db, &rows, &nrows)))
    goto fail;
  for (size_t i = 0; i < nrows; i++) {
    cJSON *v = cJSON_Parse(rows[i].value);
    if (!cJSON_IsObject(v)) {
      nc_warn("naming metadata: skipping a row of %s@@%s that is not a JSON object",
              NC_LOG_ESC(rows[i].group), NC_LOG_ESC(rows[i].name));
      cJSON_Delete(v);
      continue;
    }
    set_mem(m, rows[i].kind, norm_ns(rows[i].ns), rows[i].group, rows[i].name, rows[i].mkey, v);
  }
  nc_nmeta_rows_free(rows, nrows);
  nc_nreg_host_hook h = {hook_has, hook_apply, hook_threshold, m};
  nc_nreg_set_host_hook(nc_naming_registry(n), &h);
  nc_info("naming metadata: %zu service(s) and instance override(s) loaded (%s)",
          nc_strmap_count(m->items), nc_nmeta_backend(m));
  *out = m;
  return 0;
fail:
  nc_nmeta_free(m);
  return rc;
}

void nc_nmeta_free(nc_nmeta *m) {
  if (!m)
    return;
  if (m->db && m->naming)
    nc_nreg_set_host_hook(nc_naming_registry(m->naming), NULL);
  nc_nmeta_db_close(m->db);
  nc_strmap_free(m->items, item_free);
  nc_strmap_free(m->counts, NULL);
  free(m);
}

const cJSON *nc_nmeta_get(nc_nmeta *m, int kind, const char *ns, const char *group,
                          const char *name, const char *mkey) {
  char sk[KEY_MAX], ik[KEY_MAX + 400];
  const char *svc = nc_nreg_key(sk, sizeof(sk), norm_ns(ns), group, name);
  const item *it = svc && item_key(ik, sizeof(ik), kind, svc, mkey) ? nc_strmap_get(m->items, ik)
                                                                    : NULL;
  return it ? it->val : NULL;
}

static int put(nc_nmeta *m, int kind, const char *ns, const char *group, const char *name,
               const char *mkey, const cJSON *val, int store) {
  if ((kind != NC_NMETA_SERVICE && kind != NC_NMETA_INSTANCE) || !group || !name ||
      (val && !cJSON_IsObject(val)))
    return NC_EINVAL;
  ns = norm_ns(ns);
  mkey = mkey ? mkey : "";
  if (strlen(ns) > 128 || strlen(group) > 128 || strlen(name) > 512 || strlen(mkey) > 320)
    return NC_EINVAL;
  cJSON *copy = val ? cJSON_Duplicate(val, 1) : NULL;
  char *text = copy ? cJSON_PrintUnformatted(copy) : NULL;
  int rc = val && !text ? NC_ENOMEM : 0;
  if (!rc && store)
    rc = nc_nmeta_db_put(m->db, kind, ns, group, name, mkey, text);
  free(text);
  if (rc) {
    cJSON_Delete(copy);
    return rc;
  }
  return set_mem(m, kind, ns, group, name, mkey, copy);
}

int nc_nmeta_put(nc_nmeta *m, int kind, const char *ns, const char *group, const char *name,
                 const char *mkey, const cJSON *val) {
  int rc = put(m, kind, ns, group, name, mkey, val, 1);
  if (!rc && m->fn)
    m->fn(m->ud, kind, norm_ns(ns), group, name, mkey ? mkey : "", val);
  return rc;
}

int nc_nmeta_apply_remote(nc_nmeta *m, int kind, const char *ns, const char *group,
                          const char *name, const char *mkey, const cJSON *val) {
  /* a shared database already has it: the member wrote it */
  return put(m, kind, ns, group, name, mkey, val, !nc_nmeta_db_shared(m->db));
}

void nc_nmeta_set_listener(nc_nmeta *m, nc_nmeta_change_fn fn, void *ud) {
  m->fn = fn;
  m->ud = ud;
}

size_t nc_nmeta_instance_count(nc_nmeta *m, const char *ns, const char *group, const char *name) {
  char sk[KEY_MAX];
  const char *svc = nc_nreg_key(sk, sizeof(sk), norm_ns(ns), group, name);
  return svc ? (size_t)(uintptr_t)nc_strmap_get(m->counts, svc) : 0;
}

void nc_nmeta_each_service(nc_nmeta *m, const char *ns, const char *group,
                           void (*fn)(void *ud, const char *name, const cJSON *val), void *ud) {
  nc_strmap_iter it;
  void *v;
  ns = norm_ns(ns);
  for (nc_strmap_iter_init(&it, m->items); nc_strmap_iter_next(&it, NULL, &v);) {
    const item *x = v;
    if (x->kind == NC_NMETA_SERVICE && !strcmp(x->ns, ns) && (!group || !strcmp(x->group, group)))
      fn(ud, x->name, x->val);
  }
}

const char *nc_nmeta_backend(const nc_nmeta *m) {
  return nc_nmeta_db_shared(m->db) ? "postgresql" : "sqlite";
}
