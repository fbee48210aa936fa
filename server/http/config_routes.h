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
 *   POST /nacos/v1/cs/configs/listener (the 1.x long-poll, config_routes_listen.c):
 *     form Listening-Configs = (dataId 0x02 group 0x02 md5 [0x02 tenant] 0x01)...,
 *     header Long-Pulling-Timeout (ms). Keys whose md5 differs are answered
 *     at once; else the request is held on the loop (no thread, a small
 *     record) until one of its keys changes (answered at once, from the
 *     config change listeners) or max(10 s, timeout - 500 ms) passes (empty
 *     body). The answer is the URL-encoded changed keys dataId 0x02 group
 *     [0x02 tenant] 0x01. Errors are answered after 1 s: a client re-polls at
 *     once and would storm.
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

/* cs and auth (NULL: no checks) are borrowed and must outlive it; it
 * listens to cs's changes (for the long-poll) until freed. */
int nc_croutes_new(uv_loop_t *loop, nc_config_service *cs, nc_auth *auth, nc_croutes **out);
/* After the HTTP server stopped (it answered the held polls). Closes a
 * timer: run the loop afterwards. NULL is a no-op. */
void nc_croutes_free(nc_croutes *cr);
/* Polls held now, for metrics. */
size_t nc_croutes_held(const nc_croutes *cr);

extern const nc_http_route nc_config_routes[];
extern const size_t nc_config_n_routes;

#endif
