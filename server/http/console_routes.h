/* console_routes: the naming endpoints Nacos serves only to its web
 * console, with Nacos's JSON (its CatalogController and the subscriber
 * list of ServiceController), over naming's registry and the server
 * core's connections:
 *
 *   GET /nacos/v1/ns/catalog/services   a page of a namespace's services
 *       over every group: {"count":N,"serviceList":[{"name","groupName",
 *       "clusterCount","ipCount","healthyInstanceCount","triggerFlag"}]};
 *       namespaceId, serviceNameParam / groupNameParam (substring match),
 *       hasIpCount=true (only services with instances), pageNo (1),
 *       pageSize (10, at most 1000). A service is listed while an
 *       instance is published into it (by any client, also a synced one),
 *       or, in DEFAULT_GROUP and the group searched for, while it has
 *       subscribers or was created (naming_meta.h) without instances.
 *   GET /nacos/v1/ns/catalog/instances  a page of one service's instances
 *       as queries show them but disabled ones too (Nacos's console shows
 *       them; SDK queries do not): {"count":N,"list":[Instance]}; namespaceId,
 *       serviceName (required; group@@name or with groupName), clusterName
 *       (optional filter), pageNo (1), pageSize (100).
 *   GET /nacos/v1/ns/service/subscribers  the connections of this node
 *       subscribed to the service: {"count":N,"subscribers":[{"addrStr",
 *       "agent","app","ip","port","namespaceId","serviceName","cluster"}]};
 *       serviceName, groupName, namespaceId, pageNo (1), pageSize (1000).
 *       Only this node's subscribers (Nacos's aggregation=false).
 *
 * Errors are Nacos's v1 "caused: <why>;" with 400. With auth on a valid
 * token is needed (srv_http), and a service is shown only when the caller
 * may read it ('r' on "<ns>:<group>:naming/<name>"); the instance and
 * subscriber lists answer 403 otherwise. ud of the routes = an
 * nc_conroutes. Loop thread only. */
#ifndef CONSOLE_ROUTES_H
#define CONSOLE_ROUTES_H

#include "naming_handlers.h"
#include "nc_auth.h"
#include "nc_http.h"
#include "srv_rpc.h"

typedef struct nc_conroutes nc_conroutes;
struct nc_nmeta; /* naming_meta.h */

/* The routes' context; naming, srv and auth (NULL: no checks) are
 * borrowed and must outlive it. *out owned by the caller. */
int nc_conroutes_new(nc_naming *naming, nc_srv *srv, nc_auth *auth, nc_conroutes **out);
void nc_conroutes_free(nc_conroutes *cr);
/* The naming metadata store (borrowed, NULL: none): services created
 * without instances are listed from it too. */
void nc_conroutes_set_meta(nc_conroutes *cr, struct nc_nmeta *meta);

extern const nc_http_route nc_console_routes[];
extern const size_t nc_console_n_routes;

#endif
