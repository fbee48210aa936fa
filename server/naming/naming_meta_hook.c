/* naming_meta_hook: where naming_meta's values meet the registry (see
 * naming_meta.h): the host hook that applies overrides and the stored
 * protectThreshold, the expiry of overrides whose instance is gone, and
 * the module's metrics. Loop thread only. */
#include "naming_meta_int.h"

#include "nc_log.h"
#include "nc_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  item *it = nc_nmi_key(ik, sizeof(ik), NC_NMETA_INSTANCE, svc_key, mk)
                 ? nc_strmap_get(m->items, ik)
                 : NULL;
  if (!it)
    return;
  it->seen_ms = m->now_ms; /* the instance is there */
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
  const item *it = nc_nmi_key(ik, sizeof(ik), NC_NMETA_SERVICE, svc_key, "")
                       ? nc_strmap_get(m->items, ik)
                       : NULL;
  if (!it)
    return -1;
  double th = cJSON_GetNumberValue(cJSON_GetObjectItem(it->val, "protectThreshold"));
  return th > 0 ? th : 0;
}

void nc_nmh_install(nc_nmeta *m) {
  nc_nreg_host_hook h = {hook_has, hook_apply, hook_threshold, m};
  nc_nreg_set_host_hook(nc_naming_registry(m->naming), &h);
}

/* ---- expiry: Nacos's ExpiredMetadataCleaner ---- */

/* An instance override outlives its instance by expire_ms, then goes (a
 * re-registration within that keeps it). Presence is what the registry
 * shows: building a service's hosts passes every instance, disabled ones
 * too, through hook_apply, which stamps its override. */
void nc_nmh_sweep(uv_timer_t *t) {
  nc_nmeta *m = t->data;
  if (m->stopped || !m->open)
    return;
  m->now_ms = nc_now_ms();
  nc_strmap *probed = nc_strmap_new();
  nc_strmap_iter it;
  void *v;
  char sk[KEY_MAX];
  for (nc_strmap_iter_init(&it, m->items); probed && nc_strmap_iter_next(&it, NULL, &v);) {
    const item *x = v;
    const char *svc = x->kind == NC_NMETA_INSTANCE
                          ? nc_nreg_key(sk, sizeof(sk), x->ns, x->group, x->name)
                          : NULL;
    if (!svc || nc_strmap_get(probed, svc) || nc_strmap_put(probed, svc, (void *)1, NULL))
      continue;
    cJSON_Delete(nc_nreg_service_info(nc_naming_registry(m->naming), x->ns, x->group, x->name,
                                      NULL, 0));
  }
  nc_strmap_free(probed, NULL);
  for (nc_strmap_iter_init(&it, m->items); nc_strmap_iter_next(&it, NULL, &v);) {
    item *x = v;
    if (x->kind != NC_NMETA_INSTANCE || x->expiring || m->now_ms - x->seen_ms < m->expire_ms)
      continue;
    /* queued: memory changes when it is committed, not during this walk */
    if (!nc_nmeta_put(m, NC_NMETA_INSTANCE, x->ns, x->group, x->name, x->mkey, NULL, NULL, NULL)) {
      x->expiring = 1;
      m->st.expired++;
      nc_info("naming metadata: override %s of %s@@%s expired (instance gone %llu ms)",
              NC_LOG_ESC(x->mkey), NC_LOG_ESC(x->group), NC_LOG_ESC(x->name),
              (unsigned long long)(m->now_ms - x->seen_ms));
    }
  }
}


void nc_nmeta_render_metrics(const nc_nmeta *m, nc_metrics_text *t) {
#define C(name, help, v) nc_metrics_add(t, "nacosd_", name, help, (uint64_t)(v))
  C("naming_meta_store_available", "1 while the naming metadata store is open (writes taken).",
    nc_nmeta_available(m));
  C("naming_meta_values", "Service metadata records and instance overrides held.",
    nc_strmap_count(m->items));
  C("naming_meta_writes_total", "Naming metadata writes committed by this node.", m->st.writes);
  C("naming_meta_write_failures_total",
    "Naming metadata writes the store refused or could not take (answered 500).",
    m->st.write_failures);
  C("naming_meta_reloads_total", "Reads of the whole naming metadata table (start, periodic).",
    m->st.reloads);
  C("naming_meta_reload_failures_total", "Naming metadata store opens or reads that failed.",
    m->st.reload_failures);
  C("naming_meta_expired_total", "Instance overrides deleted after their instance was gone.",
    m->st.expired);
#undef C
}
