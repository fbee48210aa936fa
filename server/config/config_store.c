/* Backend dispatch for config_store.h. */
#include "config_store.h"

#include "nc_err.h"

#include <stdlib.h>
#include <string.h>

struct nc_cfg_store {
  const nc_cfg_store_vt *vt;
  void *impl;
};

void nc_cfg_item_free(nc_cfg_item *it) {
  if (!it)
    return;
  free(it->data_id);
  free(it->group);
  free(it->tenant);
  free(it->content);
  free(it->type);
  free(it->app_name);
  free(it->src_user);
  free(it->src_ip);
  free(it->encrypted_data_key);
  free(it);
}

void nc_cfg_hist_free(nc_cfg_hist *h, size_t n) {
  if (!h)
    return;
  for (size_t i = 0; i < n; i++) {
    free(h[i].src_ip);
    free(h[i].src_user);
    free(h[i].app_name);
    free(h[i].type);
    free(h[i].content);
  }
  free(h);
}

int nc_cfg_store_open(const char *backend, const nc_cfg_store_opts *opts, nc_cfg_store **out) {
  const nc_cfg_store_vt *vt = NULL;
  if (!backend || strcmp(backend, "sqlite") == 0)
    vt = &nc_cfg_store_sqlite;
  else if (strcmp(backend, "postgresql") == 0)
    vt = &nc_cfg_store_pg;
  if (!vt || !opts)
    return NC_EINVAL;
  nc_cfg_store *s = calloc(1, sizeof(*s));
  if (!s)
    return NC_ENOMEM;
  s->vt = vt;
  int rc = vt->open(opts, &s->impl);
  if (rc != 0) {
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void nc_cfg_store_close(nc_cfg_store *s) {
  if (!s)
    return;
  s->vt->close(s->impl);
  free(s);
}

int nc_cfg_store_scan(nc_cfg_store *s, void (*fn)(void *ud, const nc_cfg_item *it), void *ud) {
  return s->vt->scan(s->impl, fn, ud);
}

int nc_cfg_store_get(nc_cfg_store *s, const char *data_id, const char *group, const char *tenant,
                     nc_cfg_item **out) {
  return s->vt->get(s->impl, data_id, group, tenant, out);
}

int nc_cfg_store_apply(nc_cfg_store *s, nc_cfg_write *ops, size_t n) {
  return s->vt->apply(s->impl, ops, n);
}

int nc_cfg_store_put(nc_cfg_store *s, nc_cfg_write *w) {
  w->op = NC_CFG_PUT;
  int rc = s->vt->apply(s->impl, w, 1);
  return rc ? rc : w->result;
}

int nc_cfg_store_remove(nc_cfg_store *s, const char *data_id, const char *group,
                        const char *tenant, int64_t ts_ms, int *existed) {
  nc_cfg_write w = {.op = NC_CFG_REMOVE, .data_id = data_id, .group = group, .tenant = tenant,
                    .ts_ms = ts_ms};
  int rc = s->vt->apply(s->impl, &w, 1);
  if (existed)
    *existed = w.existed;
  return rc ? rc : w.result;
}

int nc_cfg_store_history_get(nc_cfg_store *s, const char *data_id, const char *group,
                             const char *tenant, int64_t id, nc_cfg_hist **out) {
  if (!s->vt->history_get)
    return NC_EINVAL;
  return s->vt->history_get(s->impl, data_id, group, tenant, id, out);
}

const nc_cfg_store_vt *nc_cfg_store_vtable(const nc_cfg_store *s) { return s->vt; }

void *nc_cfg_store_impl(nc_cfg_store *s) { return s->impl; }

int nc_cfg_store_history(nc_cfg_store *s, const char *data_id, const char *group,
                         const char *tenant, size_t max, nc_cfg_hist **out, size_t *n_out) {
  return s->vt->history(s->impl, data_id, group, tenant, max, out, n_out);
}
