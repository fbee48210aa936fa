/* naming_routes_pst: the open API's persistent instances (ephemeral=false
 * on POST/PUT/DELETE /nacos/v{1,2}/ns/instance), served by naming's
 * persistent store (naming_pstore.h) on whichever node gets the call (the
 * database is shared; naming_routes_fwd.c does not forward them). The
 * store answers later, so the call must carry its HTTP request (c->http);
 * a server stopping first answers 503 and the late result is dropped.
 * Loop thread only. */
#ifndef NAMING_ROUTES_PST_H
#define NAMING_ROUTES_PST_H

#include "naming_routes_int.h"

/* 1 when the call asks for a persistent instance (ephemeral=false). */
int nc_nrt_pst_wanted(const nrt_call *c);
/* Registers (or replaces) in (taken) as a persistent instance of s, and
 * answers "ok", or Nacos's refusals. */
void nc_nrt_pst_register(nc_nroutes *nr, nrt_call *c, const svc_ref *s, cJSON *in);
/* Removes ip:port's persistent instance from s ("ok" also when absent). */
void nc_nrt_pst_deregister(nc_nroutes *nr, nrt_call *c, const svc_ref *s, const char *ip,
                           int port);
/* An ephemeral register into s: 1 (answered) when s is persistent, so
 * the beat table is not touched; else 0. */
int nc_nrt_pst_refuses(nc_nroutes *nr, nrt_call *c, const svc_ref *s);
/* PUT /nacos/v1/ns/cluster (Nacos's ClusterController.update): a
 * cluster's health checker (healthChecker JSON, checkPort,
 * useInstancePort4Check; all required) for the persistent instances'
 * checks (naming_health.h). ud = nc_nroutes. */
void nc_nrt_pst_cluster_v1(void *ud, nc_http_req *r);
/* Answers an ephemeral register refused because s is persistent. */
void nc_nrt_pst_kind_refused(nrt_call *c, const svc_ref *s, const char *what);

#endif
