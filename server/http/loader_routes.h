/* loader_routes: Nacos's loader API on the main port, 2.x and 3.x, and
 * nacos-c's additions (docs/load.md; nacos-cluster.md §5.3). Every route
 * is admin-only when auth is on. The handlers take the nc_loader as ud,
 * build the parameters (query or form) and run nc_loader_op; the answer
 * may come later (forwarding, the cluster view), the request is held.
 *
 * 2.x, all GET, raw answers: /nacos/v2/core/loader/current (the connection
 * map), /cluster (the load view), /reloadCurrent, /reloadClient ("success")
 * and /smartReloadCluster ("Ok" / "Fail"); errors as one line of text with
 * the HTTP status.
 * 3.x, Result envelope {"code","message","data"}: GET
 * /nacos/v3/admin/core/loader/current and /cluster, POST /reloadCurrent,
 * /reloadClient, /smartReloadCluster, and nacos-c's POST /limit, /drain,
 * /undrain, /rebalance; `address` acts on another member (forwarded over
 * the cluster link). Loop thread only. */
#ifndef LOADER_ROUTES_H
#define LOADER_ROUTES_H

#include "loader.h"
#include "nc_http.h"

#include <stddef.h>

extern const nc_http_route nc_loader_routes[];
extern const size_t nc_loader_n_routes;

#endif
