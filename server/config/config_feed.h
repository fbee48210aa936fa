/* config_feed: keeps this node's config cache in step with a store that
 * other nodes write too (PostgreSQL in a cluster).
 *
 * A thread of its own, on a store handle of its own, listens for the
 * store's change notifications (LISTEN/NOTIFY: at once) and polls for
 * changes every poll_ms (repairs what a lost notification, a crashed writer
 * or a partition missed), and after every reconnect. Each change it sees
 * goes to the loop thread, which compares it with the cache (md5, or the
 * store's modification time) and, when they differ, re-reads the key
 * through nc_config_reload: the one path that updates the cache and
 * notifies listeners for changes from elsewhere, so a listener hears of a
 * change once however many of the three channels report it.
 *
 * Threading: start/stop on the loop thread. */
#ifndef CONFIG_FEED_H
#define CONFIG_FEED_H

#include "config_service.h"
#include "config_store.h"

#include <stdint.h>

typedef struct nc_cfg_feed nc_cfg_feed;

typedef struct nc_cfg_feed_stats {
  uint64_t notifications; /* changes heard through LISTEN/NOTIFY */
  uint64_t own_skipped;   /* of those, this node's own writes (not re-read) */
  uint64_t polls, poll_failures;
  uint64_t reloads;       /* keys re-read because the store differed from the cache */
  int up;                 /* the feed's connection is up */
} nc_cfg_feed_stats;

/* Opens a second handle with so (copied) on backend and starts the thread.
 * A store that cannot be reached yet is retried by the thread. */
int nc_cfg_feed_start(nc_config_service *cs, const char *backend, const nc_cfg_store_opts *so,
                      int poll_ms, nc_cfg_feed **out);
/* Joins the thread, drops undelivered changes, frees. NULL is a no-op. */
void nc_cfg_feed_stop(nc_cfg_feed *f);
void nc_cfg_feed_get_stats(nc_cfg_feed *f, nc_cfg_feed_stats *out);

#endif
