/* cluster_routes: the member list and readiness on nacosd's main port
 * (nacos-cluster.md §1.7), all GET, handlers take the nc_cluster as ud:
 *
 *   /nacos/v1/core/cluster/nodes[?keyword=prefix]
 *       RestResult {"code":200,"message":null,"data":[Member...]} sorted by
 *       address; keyword keeps members whose address starts with it
 *   /nacos/v1/core/cluster/self          RestResult, data = self Member
 *   /nacos/v1/core/cluster/simple/nodes  RestResult, data = ["ip:port" of UP members]
 *   /nacos/v1/core/cluster/health        RestResult, data = "UP" (this node)
 *   /nacos/v2/core/cluster/node/self/health  Result, data = "UP"
 *   /nacos/v2/core/cluster/node/list[?address=prefix&state=UP|...]
 *       Result {"code":0,"message":"success","data":[Member...]}; a state
 *       that is no Nacos NodeState (case-insensitive) -> HTTP 400,
 *       {"code":23000,"message":"illegal state","data":"Illegal state: X"}
 *   /nacos/v2/core/cluster/node/self     Result, data = self Member
 *   /nacos/v3/admin/core/cluster/node/list, /node/self  as v2's (3.x admin API)
 *   /nacos/v3/console/core/cluster/nodes[?keyword=]    v1's list in the Result
 * (readiness is srv_http.c's: it also reports the config store)
 *
 * The v1 envelope keeps Nacos's "message":null (Spring includes nulls on
 * HTTP; consoles read it). Loop thread only. */
#ifndef CLUSTER_ROUTES_H
#define CLUSTER_ROUTES_H

#include "nc_http.h"

#include <stddef.h>

extern const nc_http_route nc_cluster_routes[];
extern const size_t nc_cluster_n_routes;

#endif
