/* core_routes: Nacos's health, readiness and server-state endpoints of the
 * v1 console, v2 console and v3 admin/console APIs, answered from what the
 * HTTP server was started with (its auth, cluster and degraded-part note):
 *   GET /nacos/v1/console/health/liveness              "OK"
 *   GET /nacos/v2/console/health/liveness|readiness    Result "ok"
 *   GET /nacos/v3/admin/core/state/liveness|readiness  Result "ok"
 *   GET /nacos/v3/console/health/liveness|readiness    Result "ok"
 *   GET /nacos/v1/console/server/state                 {"version":...}
 *   GET /nacos/v3/admin/core/state, /v3/console/server/state  Result {...}
 * A node that is not ready answers readiness with Nacos's Result.failure:
 * HTTP 200, code 30000, message (and data) the reason. (The v1 readiness
 * probe, 200 "OK" / 503, is srv_http.c's.) No token needed, as in Nacos.
 * ud of the routes = the nc_shttp. Loop thread only. */
#ifndef CORE_ROUTES_H
#define CORE_ROUTES_H

#include "nc_http.h"

#include <stddef.h>

extern const nc_http_route nc_core_routes[];
extern const size_t nc_core_n_routes;

#endif
