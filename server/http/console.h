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

/* An nc_http_route_fn (nc_metrics.h); ud is the nc_srv. */
char *nc_console_route(void *ud, const char *target, int *code, const char **ctype);

#endif
