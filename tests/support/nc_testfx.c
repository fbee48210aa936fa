/* nc_testfx: see nc_testfx.h. */
#include "nc_testfx.h"

#include "nc_err.h"

#include <stdio.h>
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

int nc_tfx_try_connect(nc_tfx *f, const nc_tw_opts *o, nc_tw **out) {
  int slot = 0;
  *out = NULL;
  while (slot < NC_TFX_MAX_CLIENTS && f->tw[slot])
    slot++;
  if (slot == NC_TFX_MAX_CLIENTS)
    return NC_EBUSY;
  int rc = nc_tw_connect(f->env, f->srv->target, o, &f->tw[slot]);
  *out = f->tw[slot];
  return rc;
}

nc_tw *nc_tfx_connect(nc_tfx *f, const nc_tw_opts *o) {
  nc_tw *tw = NULL;
  int rc = nc_tfx_try_connect(f, o, &tw);
  if (rc) {
    fprintf(stderr, "nc_tfx: connect to %s failed: %s\n", f->srv->target, nc_strerror(rc));
    nc_testproc_dump_log(&f->srv->proc);
  }
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
