/* loader: the cluster half of Nacos's loader API (nacos-cluster.md §5)
 * and nacos-c's control plane on top of it (issue 13):
 *
 * - the cluster request types Nacos members exchange:
 *   ServerLoaderInfoRequest -> ServerLoaderInfoResponse {"loaderMetrics":
 *   {"conCount","sdkConCount","load","cpu"} (strings)} plus an "nc" object
 *   Java peers ignore (limit, memoryBytes, rebalance status), and
 *   ServerReloadRequest {"reloadCount","reloadServer"} -> message ok|ignore;
 * - NcLoaderControlRequest {"op","params":{...},"who"}: a member asks this
 *   node to run one operation locally; the answer carries the same result
 *   the local call gives ({"status":HTTP,"result":{code,message,data}});
 * - the operations themselves (nc_loader_op), run here or forwarded to the
 *   member named by params.address over the cluster gRPC link;
 * - the per-node SDK connection limit, temporary (until restart) or
 *   persistent (<data_dir>/connection/limitRule, Nacos's
 *   {"countLimit":N,"monitorIpList":[]}, written atomically, loaded at
 *   start);
 * - the rule that a reset only ever names a member that is UP and ready.
 *
 * Results follow Nacos's v3 Result: {"code":0,"message":"success","data":..}
 * or an error code of Nacos's ErrorCode (10000 parameter missing, 20002
 * parameter validate error, 20004 resource not found, 30000 server error)
 * with the detail in data. The HTTP routes (server/http/loader_routes.c)
 * wrap them for v3 and turn them into Nacos's raw 2.x answers.
 *
 * Threading: loop thread only; callbacks run on the loop. */
#ifndef NC_LOADER_H
#define NC_LOADER_H

#include "cluster.h"
#include "nc_metrics.h"
#include "srv_rpc.h"

#include <cjson/cJSON.h>
#include <uv.h>

typedef struct nc_loader nc_loader;
typedef struct nc_rebal nc_rebal;

typedef struct nc_loader_opts {
  const char *data_dir; /* the persistent limit lives under <data_dir>/connection/ */
  int reset_rate;       /* loader ConnectResetRequests per second at most; 0 = 100 */
} nc_loader_opts;

/* Registers the cluster handlers on srv and loads the persistent limit.
 * srv and cl must outlive the loader. */
int nc_loader_new(uv_loop_t *loop, nc_srv *srv, nc_cluster *cl, const nc_loader_opts *o,
                  nc_loader **out);
/* The rebalance engine (rebalance.h) for drain/undrain/rebalance and the
 * cluster view's extras; NULL until it exists (those ops then fail). */
void nc_loader_set_rebal(nc_loader *l, nc_rebal *rb);
/* No new operations; pending gathers still end through their cluster
 * callbacks (run the cluster's stop after this). Idempotent. */
void nc_loader_stop(nc_loader *l);
/* After the cluster stopped. NULL is a no-op. */
void nc_loader_free(nc_loader *l);

/* Called once with the HTTP status and the Result object (borrowed for the
 * call). May run before nc_loader_op returns. */
typedef void (*nc_loader_done_fn)(void *ud, int status, const cJSON *result);

/* Runs op with params (an object of strings, borrowed; "v3":"true" selects
 * 3.x shapes): current, cluster, reloadCurrent, reloadClient,
 * smartReloadCluster, limit, drain, undrain, rebalance. With
 * params.address naming another member, current / reloadCurrent /
 * reloadClient / limit / drain / undrain / rebalance are forwarded there;
 * rebalance without an address goes to every member. who ("user@peer")
 * goes into the log line of every change. cb runs exactly once. */
void nc_loader_op(nc_loader *l, const char *op, const cJSON *params, const char *who,
                  nc_loader_done_fn cb, void *ud);

/* nacosd_loader_* and nacosd_connection_limit families. */
void nc_loader_render_metrics(nc_loader *l, nc_metrics_text *t);

#endif
