/* srv_limits: the run-time limit of SDK connections (see srv_rpc.h). The
 * loader API sets it; keeping it across restarts is the caller's business
 * (server/cluster/loader.c writes data/connection/limitRule). Loop thread
 * only; see srv_priv.h. */
#include "srv_priv.h"

#include "nc_log.h"

void nc_srv_set_conn_limit(nc_srv *srv, long limit) {
  long old = srv->conn_limit_set ? srv->conn_limit : -1;
  srv->conn_limit_set = limit >= 0;
  srv->conn_limit = limit >= 0 ? limit : -1;
  if (old != srv->conn_limit)
    nc_info("SDK connection limit %ld -> %ld (%zu SDK connections now)", old, srv->conn_limit,
            nc_srv_sdk_conn_count(srv));
}

long nc_srv_conn_limit(nc_srv *srv) { return srv->conn_limit_set ? srv->conn_limit : -1; }

int nc_cm_over_limit(nc_srv *srv, const char **which) {
  size_t n = nc_srv_sdk_conn_count(srv);
  if (srv->o.max_connections > 0 && n >= (size_t)srv->o.max_connections) {
    *which = "cap";
    return 1;
  }
  if (srv->conn_limit_set && n >= (size_t)srv->conn_limit) {
    *which = "limit";
    return 1;
  }
  return 0;
}

int nc_srv_at_conn_limit(nc_srv *srv) {
  const char *w;
  return nc_cm_over_limit(srv, &w);
}
