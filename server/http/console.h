/* console: the HTTP connection console of nacosd on the main port, as
 * Nacos's ServerLoaderController (nacos-wire-protocol.md §7.3), all GET:
 *
 *   /nacos/v2/core/loader/current
 *       JSON map connectionId -> {"metaInfo":{...},"abilityTable":{},"traced":false}
 *   /nacos/v2/core/loader/reloadClient?connectionId=X[&redirectAddress=ip:port]
 *       one ConnectResetRequest to X; "success", 404 for an unknown id
 *   /nacos/v2/core/loader/reloadCurrent?count=N[&redirectAddress=ip:port]
 *       shed SDK connections down to N from the periodic timer; "success"
 *
 * Bad or missing parameters get HTTP 400 with a one-line reason. No
 * authentication (as Nacos with auth disabled): bind the main port to a
 * trusted interface. Loop thread only. */
#ifndef CONSOLE_H
#define CONSOLE_H

#include "nc_http.h"

#include <stddef.h>

/* The console's routes; their handlers take the nc_srv as ud. */
extern const nc_http_route nc_console_routes[];
extern const size_t nc_console_n_routes;

#endif
