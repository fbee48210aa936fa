/* naming_routes: the Nacos HTTP open API for naming instances on the main
 * port, v1 (plain bodies, Nacos 1.x/2.x) and v2 (the Result envelope
 * {code, message, data} with Nacos's ErrorCode values):
 *   POST|DELETE|PUT|GET /nacos/v1/ns/instance, GET /nacos/v1/ns/instance/list,
 *   PUT /nacos/v1/ns/instance/beat, GET /nacos/v1/ns/service and
 *   /nacos/v1/ns/service/list (read only: naming_routes_svc.c), GET
 *   /nacos/v1/ns/operator/metrics, and the
 *   same under /nacos/v2/ns/.
 * Parameters come from the query string or a form body. Instances
 * registered here are ephemeral clients kept alive by beats
 * (naming_beat.h), in naming's one registry with the gRPC ones.
 * With auth on, each call needs a token whose user may read ('r', the
 * GETs) or write ('w', the rest) the service's resource
 * "<ns>:<group>:naming/<name>"; 403 with Nacos's text otherwise.
 * ud of the routes = an nc_nroutes. Loop thread only. */
#ifndef NAMING_ROUTES_H
#define NAMING_ROUTES_H

#include "naming_beat.h"
#include "naming_handlers.h"
#include "naming_meta.h"
#include "nc_auth.h"
#include "nc_http.h"

typedef struct nc_cluster nc_cluster;

typedef struct nc_nroutes nc_nroutes;

/* The routes' context; naming, beat and auth (may be NULL: no checks) are
 * borrowed and must outlive it. */
int nc_nroutes_new(nc_naming *naming, nc_nbeat *beat, nc_auth *auth, nc_nroutes **out);
void nc_nroutes_free(nc_nroutes *nr);

/* Cluster mode (naming_routes_fwd.c): instance writes go to the
 * ip:port's responsible member (Nacos's DistroMapper hash), which alone
 * runs the beats and expiry of the client; responsibility follows
 * membership. Registers the forward handler on srv and a member listener
 * on cl (both must outlive nr). Standalone: no-op beyond that. */
int nc_nroutes_set_cluster(nc_nroutes *nr, uv_loop_t *loop, nc_srv *srv, nc_cluster *cl);
/* Service metadata and instance overrides (naming_meta.h; borrowed, must
 * outlive every request): service create/update/delete and instance
 * update are served with it (500 without). Call before
 * nc_nroutes_set_cluster. */
void nc_nroutes_set_meta(nc_nroutes *nr, nc_nmeta *meta);
/* Forwarding counters for /metrics (nothing standalone). */
void nc_nroutes_fwd_stats(const nc_nroutes *nr, nc_metrics_text *t);

extern const nc_http_route nc_naming_routes[];
extern const size_t nc_naming_n_routes;

#endif
