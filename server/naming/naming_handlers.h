/* naming_handlers: the naming service of nacosd — wires the request
 * handlers (InstanceRequest, BatchInstanceRequest, ServiceQueryRequest,
 * SubscribeServiceRequest, ServiceListRequest) and a connection listener
 * into the server core, on top of naming_registry and naming_push.
 * Loop thread only. */
#ifndef NAMING_HANDLERS_H
#define NAMING_HANDLERS_H

#include "naming_push.h"
#include "naming_registry.h"
#include "srv_rpc.h"

typedef struct nc_naming nc_naming;

typedef struct nc_naming_opts {
  int merge_ms;        /* push merge window; 0 allowed */
  int push_timeout_ms; /* 0 = 5000 */
  int push_retry_ms;   /* 0 = 1000 */
  int empty_service_ttl_ms; /* keep a service without instances/subscribers; 0 = drop at once */
} nc_naming_opts;

/* Registers the handlers and the connection listener on srv. *out is owned
 * by the caller; free it after nc_srv_shutdown and before nc_srv_free. */
int nc_naming_init(nc_srv *srv, const nc_naming_opts *opts, nc_naming **out);
void nc_naming_free(nc_naming *n);

void nc_naming_get_stats(const nc_naming *n, nc_nreg_stats *reg, nc_npush_stats *push);
/* Appends naming's Prometheus families to t. */
void nc_naming_render_metrics(const nc_naming *n, nc_metrics_text *t);

#endif
