/* Placeholder until the full service lands: lets main.c link against the
 * entry points early. */
#include "config_service.h"

#include "nc_err.h"

#include <stdlib.h>

struct nc_config_service {
  nc_config_stats stats;
};

int nc_config_init(nc_srv *srv, const nc_config_opts *opts, nc_config_service **out) {
  (void)srv;
  (void)opts;
  nc_config_service *cs = calloc(1, sizeof(*cs));
  if (!cs)
    return NC_ENOMEM;
  *out = cs;
  return 0;
}

void nc_config_free(nc_config_service *cs) { free(cs); }

const nc_config_stats *nc_config_get_stats(const nc_config_service *cs) { return &cs->stats; }
