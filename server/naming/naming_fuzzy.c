/* naming_fuzzy: see naming_fuzzy.h. */
#include "naming_fuzzy.h"

#include "naming_reg_int.h"
#include "nc_err.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nc_nfz {
  nc_srv *srv;
  nc_nreg *reg;
  nc_fz *fz;
};

static const char *norm_ns(const char *ns) { return (!ns || !*ns) ? "public" : ns; }

/* A service counts while some client publishes an instance into it. */
static int has_instances(const nc_nsvc *s) {
  nc_nreg_pubit it;
  const nc_nreg_pub *p;
  for (nc_nreg_pubit_init(&it, s); (p = nc_nreg_pubit_next(&it));)
    if (p->n > 0)
      return 1;
  return 0;
}

static void svc_key(char *buf, size_t cap, const char *ns, const char *group, const char *name) {
  snprintf(buf, cap, "%s@@%s@@%s", norm_ns(ns), group, name);
}

static void each_service(void *ud, const char *ns, nc_fz_emit_fn emit, void *ctx) {
  nc_nfz *z = ud;
  char key[NC_NREG_KEY_MAX + 8];
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, z->reg->svcs);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    const nc_nsvc *s = v;
    if (strcmp(norm_ns(s->ns), ns) != 0 || !has_instances(s))
      continue;
    svc_key(key, sizeof(key), s->ns, s->group, s->name);
    emit(ctx, key, norm_ns(s->ns), s->group, s->name);
  }
}

/* The registry's key is "ns\x01group\x01name" (nc_nreg_key). */
static void on_change(void *ud, const char *key) {
  nc_nfz *z = ud;
  char ns[NC_NREG_KEY_MAX], *group, *name, wire[NC_NREG_KEY_MAX + 8];
  if (!nc_fz_active(z->fz) || strlen(key) >= sizeof(ns))
    return;
  strcpy(ns, key);
  if (!(group = strchr(ns, '\x01')) || !(name = strchr(group + 1, '\x01')))
    return;
  *group++ = '\0';
  *name++ = '\0';
  const nc_nsvc *s = nc_strmap_get(z->reg->svcs, key);
  svc_key(wire, sizeof(wire), ns, group, name);
  nc_fz_changed(z->fz, wire, norm_ns(ns), group, name, s && has_instances(s));
}

int nc_nfz_new(nc_srv *srv, nc_nreg *reg, const nc_nfz_opts *o, nc_nfz **out) {
  *out = NULL;
  nc_nfz *z = calloc(1, sizeof(*z));
  if (!z)
    return NC_ENOMEM;
  z->srv = srv;
  z->reg = reg;
  nc_fz_kind kind = {
      .module = "naming",
      .sync_type = "NamingFuzzyWatchSyncRequest",
      .notify_type = "NamingFuzzyWatchChangeNotifyRequest",
      .key_field = "serviceKey",
      .notify_field = "changedType",
      .notify_sync = "FUZZY_WATCH_RESOURCE_CHANGED",
      .add = "ADD_SERVICE",
      .del = "DELETE_SERVICE",
      .notify_add = "ADD_SERVICE",
      .batch = 10, /* NamingFuzzyWatchSyncNotifier.BATCH_SIZE */
      .each = each_service,
      .ud = z,
  };
  nc_fz_opts fo = {
      .max_patterns = o && o->max_patterns ? o->max_patterns : 20,
      .max_matches = o && o->max_matches ? o->max_matches : 500,
      .timeout_ms = o ? o->timeout_ms : 0,
      .retry_ms = o ? o->retry_ms : 0,
  };
  int rc = nc_fz_new(nc_srv_loop(srv), srv, &kind, &fo, &z->fz);
  if (!rc)
    rc = nc_fz_serve(z->fz, "NamingFuzzyWatchRequest", "NamingFuzzyWatchResponse",
                     NC_H_CONN | NC_H_NAMING);
  if (!rc && nc_nreg_add_listener(reg, on_change, z))
    rc = NC_ENOMEM;
  if (rc) {
    nc_nfz_free(z);
    return rc;
  }
  *out = z;
  return 0;
}

void nc_nfz_free(nc_nfz *z) {
  if (!z)
    return;
  nc_fz_free(z->fz);
  free(z);
}

nc_fz *nc_nfz_engine(nc_nfz *z) { return z->fz; }

void nc_nfz_render_metrics(const nc_nfz *z, nc_metrics_text *t) { nc_fz_render_metrics(z->fz, t); }
