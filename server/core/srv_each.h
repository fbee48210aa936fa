/* srv_each: walking the core's registered connections, for modules that
 * choose among them (the rebalance engine picks connections to move).
 * Kept apart from srv_rpc.h so that it can grow without touching the
 * core's main interface. Loop thread only. */
#ifndef SRV_EACH_H
#define SRV_EACH_H

#include "srv_rpc.h"

/* Calls fn for every registered connection (SDK and cluster port), in map
 * order. fn must not register or drop connections (collect ids and act
 * afterwards). */
void nc_srv_each_conn(nc_srv *srv, void (*fn)(void *ud, nc_conn *c), void *ud);

#endif
