/* config_routes: the Nacos HTTP open API for configs on the main port,
 * over the same operations as the gRPC handlers (config_ops.h), so an HTTP
 * publish reaches gRPC listeners and a gRPC publish is read here:
 *   GET|POST|DELETE /nacos/v1/cs/configs   (ConfigController: dataId,
 *     group, tenant; GET answers the raw content, 404 "config data not
 *     exist"; POST and DELETE answer "true"; errors "caused: <why>;")
 *   GET|POST|DELETE /nacos/v2/cs/config    (ConfigControllerV2: namespaceId
 *     instead of tenant; the Result envelope, data the content or true)
 * Parameters come from the query string or a form body. A publish with
 * casMd5 (parameter or header, as Nacos reads it) is a compare-and-swap.
 * With auth on, each call needs a token whose user may read ('r', GET) or
 * write ('w', POST/DELETE) "<ns>:<group>:config/<dataId>", as the gRPC side
 * checks it; 403 with Nacos's text otherwise.
 * ud of the routes = an nc_croutes. Loop thread only. */
#ifndef CONFIG_ROUTES_H
#define CONFIG_ROUTES_H

#include "config_ops.h"
#include "nc_auth.h"
#include "nc_http.h"

typedef struct nc_croutes nc_croutes;

/* cs and auth (NULL: no checks) are borrowed and must outlive it. */
int nc_croutes_new(nc_config_service *cs, nc_auth *auth, nc_croutes **out);
void nc_croutes_free(nc_croutes *cr);

extern const nc_http_route nc_config_routes[];
extern const size_t nc_config_n_routes;

#endif
