/* config_fuzzy: Nacos 3.x fuzzy watch of configs (docs/fuzzy-watch.md) on
 * the shared engine (core/srv_fuzzy.h): the ConfigFuzzyWatchRequest
 * handler, ConfigFuzzyWatchSyncRequest / ConfigFuzzyWatchChangeNotifyRequest
 * pushes keyed by groupKey "dataId+group+namespace" (GroupKey's escaping;
 * the default namespace spelled "public", as 3.x stores it).
 *
 * It hears every committed change through the config change listeners:
 * this node's publishes and removes, and those of other nodes re-read from
 * the shared store (cluster sync, the PostgreSQL feed). As in Nacos, a
 * config that appears is notified CONFIG_CHANGED (ADD_CONFIG in syncs), one
 * removed DELETE_CONFIG; a content change of a config already matched is
 * not a fuzzy-watch event (the client listens to its content the 2.x way).
 * Loop thread. */
#ifndef CONFIG_FUZZY_H
#define CONFIG_FUZZY_H

#include "config_service.h"
#include "srv_fuzzy.h"

typedef struct nc_cfz nc_cfz;

/* Serves ConfigFuzzyWatchRequest (nc_fz_serve) and adds a change listener on
 * cs. Limits and push timing come from cs's options (fuzzy_max_*,
 * notify_*). *out owned by the caller: free before the cache goes. */
int nc_cfz_new(nc_config_service *cs, nc_cfz **out);
void nc_cfz_free(nc_cfz *z);
nc_fz *nc_cfz_engine(nc_cfz *z);
void nc_cfz_render_metrics(const nc_cfz *z, nc_metrics_text *t);

#endif
