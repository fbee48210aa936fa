/* naming_migrate: the migrating grace of a moved connection
 * (nacos-cluster.md §5.7, issue 13). When a connection this node sent a
 * ConnectResetRequest (for a rebalance or drain move) acked it and then
 * closes within the expectation window, its publications are held for a
 * grace period instead of being dropped at once: no push of the shrunk
 * service and no Distro DELETE (both follow the drop). Meanwhile the
 * client re-registers on its new node; the registry shows one host per
 * ip:port over all clients, so when the held copy finally goes, the
 * instance registered again elsewhere keeps it visible. Subscriptions and
 * deliveries of the closed connection go at once (nobody to push to).
 * Private to naming; nc_naming_expect_move (naming_handlers.h) is the
 * entry point. Loop thread only. */
#ifndef NAMING_MIGRATE_H
#define NAMING_MIGRATE_H

#include "naming_registry.h"

#include <stdint.h>

typedef struct nc_nmig nc_nmig;

typedef struct nc_nmig_stats {
  uint64_t expected; /* expectations recorded */
  uint64_t held;     /* closed connections held */
  uint64_t released; /* held ones dropped after their grace */
  size_t holding;    /* held now */
} nc_nmig_stats;

nc_nmig *nc_nmig_new(void);
void nc_nmig_free(nc_nmig *m);
/* id may close until until_ms (wall) and is then held grace_ms. */
int nc_nmig_expect(nc_nmig *m, const char *id, uint64_t until_ms, uint64_t grace_ms);
/* Connection id went (now wall ms): 1 = held (its subscriptions were
 * removed from r, its publications stay); 0 = not expected, drop it. */
int nc_nmig_hold(nc_nmig *m, nc_nreg *r, const char *id, uint64_t now);
/* Calls drop(ud, id) for every held client whose grace is over and forgets
 * expectations past their window. */
void nc_nmig_tick(nc_nmig *m, uint64_t now, void (*drop)(void *ud, const char *id), void *ud);
void nc_nmig_get_stats(const nc_nmig *m, nc_nmig_stats *st);

#endif
