/* namespace_routes: Nacos's namespace API on the main port (config_ns.h
 * underneath, so SQLite and PostgreSQL serve the same):
 *   /nacos/v1/console/namespaces  (NamespaceController; RestResult / plain)
 *     GET                  {code 200, data [Namespace...]}, public first
 *     GET ?show=all&namespaceId=X          the NamespaceAllInfo itself
 *     GET ?checkNamespaceIdExist=true&customNamespaceId=X  true | false
 *     POST customNamespaceId (blank: a random UUID), namespaceName, namespaceDesc
 *     PUT namespace, namespaceShowName, namespaceDesc
 *     DELETE namespaceId
 *     writes answer true, or false for a refused id/name/duplicate (as Nacos)
 *   /nacos/v2/console/namespace   (NamespaceControllerV2; Result envelope)
 *     GET namespaceId, POST/PUT namespaceId + namespaceName + namespaceDesc,
 *     DELETE namespaceId; GET /nacos/v2/console/namespace/list
 *     errors 10000 (missing), 22001 (not exist, 404), 22002 (exists, 500),
 *     22003 (illegal id or name, 400)
 * A Namespace is {namespace, namespaceShowName, namespaceDesc, quota 200,
 * configCount, type 0 (public) | 2 (custom)}. With auth on, reads need a
 * token and writes a global admin (srv_http's route flags). Loop thread. */
#ifndef NAMESPACE_ROUTES_H
#define NAMESPACE_ROUTES_H

#include "config_service.h"
#include "nc_http.h"

typedef struct nc_nsroutes nc_nsroutes;

/* cs is borrowed and must outlive it. */
int nc_nsroutes_new(nc_config_service *cs, nc_nsroutes **out);
/* After the HTTP server stopped. NULL is a no-op. */
void nc_nsroutes_free(nc_nsroutes *ns);

extern const nc_http_route nc_namespace_routes[];
extern const size_t nc_namespace_n_routes;

#endif
