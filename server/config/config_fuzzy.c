/* config_fuzzy: see config_fuzzy.h. */
#include "config_fuzzy.h"

#include "config_int.h"
#include "nc_err.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

struct nc_cfz {
  nc_config_service *cs;
  nc_fz *fz;
};

/* The cache spells the default namespace ""; fuzzy watch says "public". */
static const char *wire_ns(const char *tenant) { return (!tenant || !*tenant) ? "public" : tenant; }

static void each_config(void *ud, const char *ns, nc_fz_emit_fn emit, void *ctx) {
  nc_cfz *z = ud;
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, z->cs->cache);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    const nc_cfg_item *item = v;
    if (strcmp(wire_ns(item->tenant), ns) != 0)
      continue;
    char *key = nc_cfg_group_key(item->data_id, item->group, ns);
    if (!key)
      continue; /* OOM: this one is left out of the match */
    emit(ctx, key, ns, item->group, item->data_id);
    free(key);
  }
}

static void on_change(void *ud, const char *data_id, const char *group, const char *tenant,
                      const char *md5) {
  nc_cfz *z = ud;
  if (!nc_fz_active(z->fz))
    return;
  const char *ns = wire_ns(tenant);
  char *key = nc_cfg_group_key(data_id, group, ns);
  if (!key) {
    nc_warn("fuzzy config: change of %s/%s not matched: out of memory", group, data_id);
    return;
  }
  nc_fz_changed(z->fz, key, ns, group, data_id, md5 != NULL);
  free(key);
}

int nc_cfz_new(nc_config_service *cs, nc_cfz **out) {
  *out = NULL;
  nc_cfz *z = calloc(1, sizeof(*z));
  if (!z)
    return NC_ENOMEM;
  z->cs = cs;
  nc_fz_kind kind = {
      .module = "config",
      .sync_type = "ConfigFuzzyWatchSyncRequest",
      .notify_type = "ConfigFuzzyWatchChangeNotifyRequest",
      .key_field = "groupKey",
      .notify_field = "changeType",
      .notify_sync = NULL,
      .add = "ADD_CONFIG",
      .del = "DELETE_CONFIG",
      .notify_add = "CONFIG_CHANGED",
      .batch = 20, /* nacos.config.push.batchSize */
      .each = each_config,
      .ud = z,
  };
  const nc_config_opts *o = &cs->opts;
  /* Nacos's config notify tasks: 3 s timeout, retried after attempts x 2 s,
   * the connection dropped after 50 (the same options as listen notifies). */
  nc_fz_opts fo = {
      .max_patterns = o->fuzzy_max_patterns ? o->fuzzy_max_patterns : 20,
      .max_matches = o->fuzzy_max_matches ? o->fuzzy_max_matches : 500,
      .timeout_ms = o->notify_timeout_ms > 0 ? o->notify_timeout_ms : 3000,
      .retry_ms = o->notify_retry_base_ms > 0 ? o->notify_retry_base_ms : 2000,
      .backoff = 1,
      .max_attempts = o->notify_max_retries > 0 ? o->notify_max_retries : 50,
  };
  int rc = nc_fz_new(nc_srv_loop(cs->srv), cs->srv, &kind, &fo, &z->fz);
  if (!rc)
    rc = nc_fz_serve(z->fz, "ConfigFuzzyWatchRequest", "ConfigFuzzyWatchResponse",
                     NC_H_CONN | NC_H_CONFIG);
  if (!rc && nc_config_add_listener(cs, on_change, z))
    rc = NC_ENOMEM;
  if (rc) {
    nc_cfz_free(z);
    return rc;
  }
  *out = z;
  return 0;
}

void nc_cfz_free(nc_cfz *z) {
  if (!z)
    return;
  nc_config_remove_listener(z->cs, on_change, z);
  nc_fz_free(z->fz);
  free(z);
}

nc_fz *nc_cfz_engine(nc_cfz *z) { return z->fz; }

void nc_cfz_render_metrics(const nc_cfz *z, nc_metrics_text *t) { nc_fz_render_metrics(z->fz, t); }
