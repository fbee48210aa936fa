/* nc_testfx: see nc_testfx.h. */
#include "nc_testfx.h"

#include "nc_err.h"

#include <stdlib.h>

int nc_tfx_start(const char *const *args, nc_tfx **out) {
  *out = NULL;
  nc_tfx *f = calloc(1, sizeof(*f));
  if (!f)
    return NC_ENOMEM;
  nc_tcluster_opts o = {.nodes = 1, .port0 = 1, .args = args};
  int rc = nc_tcluster_start(&o, &f->cl);
  if (rc == 0 && (rc = nc_gcli_env_new(1, &f->env)) != 0)
    f->env = NULL;
  if (rc) {
    nc_tfx_stop(f);
    return rc;
  }
  f->srv = nc_tcluster_node(f->cl, 0);
  *out = f;
  return 0;
}

nc_tw *nc_tfx_connect(nc_tfx *f, const nc_tw_opts *o) {
  int slot = 0;
  while (slot < NC_TFX_MAX_CLIENTS && f->tw[slot])
    slot++;
  if (slot == NC_TFX_MAX_CLIENTS)
    return NULL;
  nc_tw *tw = nc_tw_open(f->env, f->srv->target, o);
  if (!tw)
    nc_testproc_dump_log(&f->srv->proc);
  f->tw[slot] = tw;
  return tw;
}

void nc_tfx_close(nc_tfx *f, nc_tw *tw) {
  for (int i = 0; tw && i < NC_TFX_MAX_CLIENTS; i++)
    if (f->tw[i] == tw)
      f->tw[i] = NULL;
  nc_tw_close(tw);
}

int nc_tfx_stop(nc_tfx *f) {
  if (!f)
    return 0;
  for (int i = 0; i < NC_TFX_MAX_CLIENTS; i++)
    nc_tw_close(f->tw[i]);
  if (f->env)
    nc_gcli_env_free(f->env);
  int rc = nc_tcluster_stop(f->cl);
  free(f);
  return rc;
}

long long nc_tfx_metric(const nc_tfx *f, const char *name) {
  return nc_tcluster_metric(f->cl, 0, name);
}
