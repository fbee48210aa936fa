/* naming_fuzzy: Nacos 3.x fuzzy watch of services (docs/fuzzy-watch.md)
 * on the shared engine (core/srv_fuzzy.h): the NamingFuzzyWatchRequest
 * handler, NamingFuzzyWatchSyncRequest / NamingFuzzyWatchChangeNotifyRequest
 * pushes keyed "namespace@@group@@service".
 *
 * A service exists for fuzzy watch while it has at least one instance
 * (from any client: SDK connections, HTTP beats, or clients synced from
 * cluster members by Distro); it is ADD_SERVICE when it gets its first and
 * DELETE_SERVICE when it loses its last, as Nacos's publisher index. It
 * hears of changes through the registry's change listener. Loop thread. */
#ifndef NAMING_FUZZY_H
#define NAMING_FUZZY_H

#include "naming_registry.h"
#include "srv_fuzzy.h"
#include "srv_rpc.h"

typedef struct nc_nfz nc_nfz;

typedef struct nc_nfz_opts {
  int max_patterns;    /* per connection; 0 = 20 (Nacos's default), < 0 unlimited */
  int max_matches;     /* services per pattern; 0 = 500, < 0 unlimited */
  int timeout_ms;      /* push ack timeout; 0 = 5000 */
  int retry_ms;        /* 0 = 1000 */
} nc_nfz_opts;

/* Serves NamingFuzzyWatchRequest (nc_fz_serve) and adds a registry listener.
 * *out owned by the caller: free after nc_srv_drop_all. */
int nc_nfz_new(nc_srv *srv, nc_nreg *reg, const nc_nfz_opts *o, nc_nfz **out);
void nc_nfz_free(nc_nfz *z);
nc_fz *nc_nfz_engine(nc_nfz *z);
void nc_nfz_render_metrics(const nc_nfz *z, nc_metrics_text *t);

#endif
