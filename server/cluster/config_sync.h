/* config_sync: config changes across the cluster (nacos-cluster.md §4.1,
 * §4.4), on top of cluster.h and the config service.
 *
 * - Sender: every write this node commits becomes a
 *   ConfigChangeClusterSyncRequest (Nacos JSON: dataId, group, tenant,
 *   lastModified = the store's time of the write) to every peer, acked
 *   with a 1 s timeout and retried with Nacos's back-off (500 ms + fails^2
 *   s, fails capped at 6). Pending messages to one peer are merged per key.
 *   A peer that is DOWN is not contacted until it is back. Unlike Nacos,
 *   retries end after max_age_ms: by then the peer's own poll of the
 *   store (config_feed.h) has repaired it.
 * - Receiver: the request handler (cluster port only) asks the config
 *   service to re-read the key unless its cache already has a change at
 *   least as recent; listeners there are notified by the existing path.
 * Standalone: nothing is sent.
 * Loop thread only. */
#ifndef CONFIG_SYNC_H
#define CONFIG_SYNC_H

#include "cluster.h"
#include "config_service.h"

typedef struct nc_cfg_sync nc_cfg_sync;

typedef struct nc_cfg_sync_opts {
  int timeout_ms; /* per request; 0 = 1000 */
  int max_age_ms; /* give up on a message this old; 0 = 600000 */
} nc_cfg_sync_opts;

typedef struct nc_cfg_sync_stats {
  uint64_t sent, acked, retried, given_up, received;
  size_t pending; /* (peer, key) messages not yet acked */
} nc_cfg_sync_stats;

/* Registers the handler and the config commit hook. Every argument must
 * outlive the module. */
int nc_cfg_sync_new(uv_loop_t *loop, nc_srv *srv, nc_cluster *cl, nc_config_service *cs,
                    const nc_cfg_sync_opts *opts, nc_cfg_sync **out);
/* Stops the retry timer; in-flight sends resolve when the cluster stops. */
void nc_cfg_sync_stop(nc_cfg_sync *s);
void nc_cfg_sync_free(nc_cfg_sync *s);
void nc_cfg_sync_get_stats(nc_cfg_sync *s, nc_cfg_sync_stats *out);
void nc_cfg_sync_render_metrics(nc_cfg_sync *s, nc_metrics_text *t);

#endif
