/* config_ns_store: the backend-independent half of namespace storage
 * (config_store.h's ns_* entries): the wrappers and nc_cfg_ns_free. The
 * backends are config_ns_store_sqlite.c and config_ns_store_pg.c. */
#include "config_store.h"

#include "nc_err.h"

#include <stdlib.h>

void nc_cfg_ns_free(nc_cfg_ns *ns, size_t n) {
  if (!ns)
    return;
  for (size_t i = 0; i < n; i++) {
    free(ns[i].id);
    free(ns[i].name);
    free(ns[i].desc);
  }
  free(ns);
}

int nc_cfg_store_ns_list(nc_cfg_store *s, nc_cfg_ns **out, size_t *n_out) {
  const nc_cfg_store_vt *vt = nc_cfg_store_vtable(s);
  *out = NULL;
  *n_out = 0;
  if (!vt->ns_list)
    return NC_EINVAL;
  return vt->ns_list(nc_cfg_store_impl(s), out, n_out);
}

int nc_cfg_store_ns_write(nc_cfg_store *s, nc_cfg_ns_op op, const char *id, const char *name,
                          const char *desc, int64_t ts_ms) {
  const nc_cfg_store_vt *vt = nc_cfg_store_vtable(s);
  if (!vt->ns_write)
    return NC_EINVAL;
  return vt->ns_write(nc_cfg_store_impl(s), op, id, name ? name : "", desc ? desc : "", ts_ms);
}
