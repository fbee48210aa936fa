/* naming_routes_int: what naming_routes.c (instances) and
 * naming_routes_svc.c (services) share: the context, the request's
 * service, v1/v2 answers. Not for other modules. */
#ifndef NAMING_ROUTES_INT_H
#define NAMING_ROUTES_INT_H

#include "naming_routes.h"

struct nrt_fwd;

struct nc_nroutes {
  nc_naming *naming;
  nc_nbeat *beat;
  nc_auth *auth;
  struct nrt_fwd *fwd; /* cluster mode: responsibility and forwarding (naming_routes_fwd.c) */
  nc_nmeta *meta;      /* service metadata and instance overrides (naming_routes_meta.c) */
  struct meta_sync *meta_sync;
  nc_srv *srv; /* the server core (nc_nroutes_set_cluster): connections for the v3 client API */
};

/* Nacos's v2 ErrorCode values used here. */
enum {
  E_PARAM_MISSING = 10000,
  E_PARAM_VALIDATE = 20002,
  E_NOT_FOUND = 20004,
  E_WEIGHT = 21001,
  E_METADATA = 21002,
  E_INSTANCE_NOT_FOUND = 21003,
  E_INSTANCE = 21004,
  E_SERVICE_METADATA = 21005,
  E_SELECTOR = 21006,
  E_SERVICE_EXISTS = 21007,
  E_SERVICE_NOT_EXIST = 21008,
  E_SERVICE_DELETE = 21009,
  E_SERVER = 30000,
};

#define NAME_CAP 512

/* The service a request names (name "" for a whole group). */
typedef struct svc_ref {
  char ns[NAME_CAP], group[NAME_CAP], name[NAME_CAP], grouped[2 * NAME_CAP + 2];
} svc_ref;

/* A failure: v1 "caused: why;" with the HTTP status, v2 the envelope
 * {code, its message, data: why}. */
void nc_nrt_fail(nc_http_req *r, int v2, int status, int code, const char *why);
/* Success: v1 data itself, v2 {code 0, "success", data}. Takes data. */
void nc_nrt_ok_json(nc_http_req *r, int v2, cJSON *data);
/* A parameter (query or form), NULL when absent or empty. */
const char *nc_nrt_param(nc_http_req *r, const char *name);
/* namespaceId, serviceName (required; group@@name), groupName: 0, or
 * answered (400). */
int nc_nrt_parse_svc(nc_http_req *r, int v2, svc_ref *s);
/* With auth on, may the caller do action ('r'/'w') on the service (a
 * whole group when name is "")? 1, or answered 403. */
int nc_nrt_permitted(nc_nroutes *nr, nc_http_req *r, const svc_ref *s, char action);

/* One call of a route: a request here (http), or an instance write a
 * member forwarded to this node, its responsible node (params: the
 * request's parameters as strings; the answer is kept in status, ctype
 * and body for the member to relay). */
typedef struct nrt_call {
  nc_http_req *http;
  const cJSON *params;
  int v2;
  int status;
  const char *ctype; /* static */
  char *body;        /* malloc'd; the caller of a forwarded call frees it */
  nc_req *fwd_req;   /* a forwarded call: the member's request */
  int deferred;      /* set by a route that answers fwd_req later (nc_nrt_fwd_answer) */
} nrt_call;
#define NRT_HTTP(r, v2) ((nrt_call){(r), NULL, (v2), 0, NULL, NULL, NULL, 0})

/* The nc_nrt_* answers and parameters above, for a call. */
const char *nc_nrt_cparam(const nrt_call *c, const char *name);
void nc_nrt_cfail(nrt_call *c, int status, int code, const char *why);
void nc_nrt_cok_json(nrt_call *c, cJSON *data);
void nc_nrt_cok_text(nrt_call *c, const char *text);
/* A Result without data {code, message} with status (Nacos's
 * Result.failure(code, null), whose null data is left out here). */
void nc_nrt_cresult(nrt_call *c, int status, int code);
int nc_nrt_cparse_svc(nrt_call *c, svc_ref *s);
/* ip (required) and port (required, 0..65535): 0, or answered (naming_routes_write.c). */
int nc_nrt_parse_addr(nrt_call *c, const char **ip, int *port);
/* weight (0..10000; def when absent) into *out: 0, or answered (21001). */
int nc_nrt_weight(nrt_call *c, double def, double *out);
/* metadata: a JSON object, or Nacos's "k=v,k2=v2" form (NULL: {}); NULL
 * when invalid. Caller owns. */
cJSON *nc_nrt_parse_metadata(const char *s);
/* Nacos's ConvertUtils.toBoolean: true, on, yes, y, t (any case); def when absent. */
int nc_nrt_to_bool(const char *s, int def);

/* The instance writes Nacos's DistroFilter sends to the responsible node. */
/* NRT_HEARTBEAT: the v3 client API's POST heartBeat=true ("ok", or code
 * 21003 so the client registers again). */
typedef enum {
  NRT_REGISTER, NRT_DEREGISTER, NRT_UPDATE, NRT_BEAT, NRT_HEARTBEAT,
  NRT_PATCH, /* PATCH v1 instance, PUT v3 admin instance/partial */
} nrt_op;
/* naming_routes_write.c: runs op here. A forwarded call (http NULL) was
 * permitted by the member that forwarded it. */
void nc_nrt_write(nc_nroutes *nr, nrt_call *c, nrt_op op);
/* naming_routes_fwd.c: op for request r, forwarded to the responsible
 * member when that is another one, else run here. */
void nc_nrt_dispatch(nc_nroutes *nr, nc_http_req *r, int v2, nrt_op op);
void nc_nrt_fwd_free(struct nrt_fwd *f);
/* Relays the answer kept in c (a forwarded call; frees c->body) to the
 * member that forwarded it, for a route that answers later. */
void nc_nrt_fwd_answer(nc_req *req, nrt_call *c);

/* naming_routes_meta.c */
int nc_nrt_service_known(nc_nroutes *nr, const svc_ref *s);
/* PUT instance: the override of ip:port:clusterName in s (answered). */
void nc_nrt_meta_update_instance(nc_nroutes *nr, nrt_call *c, const svc_ref *s, const char *ip,
                                 int port);
void nc_nrt_meta_patch_instance(nc_nroutes *nr, nrt_call *c, const svc_ref *s, const char *ip,
                                int port);
void nc_nrt_service_v1(void *ud, nc_http_req *r); /* GET, POST, PUT, DELETE */
void nc_nrt_metadata_batch_v1(void *ud, nc_http_req *r); /* PUT, DELETE */
void nc_nrt_metadata_batch_v2(void *ud, nc_http_req *r);
void nc_nrt_service_v2(void *ud, nc_http_req *r);
int nc_nrt_meta_cluster(nc_nroutes *nr, nc_srv *srv, struct nc_cluster *cl);
void nc_nrt_meta_free(nc_nroutes *nr);

/* naming_routes_v3.c: the Nacos 3.x paths (rows of nc_naming_routes) */
void nc_nrt_v3_client_instance(void *ud, nc_http_req *r); /* POST, DELETE */
void nc_nrt_v3_client_list(void *ud, nc_http_req *r);
void nc_nrt_v3_admin_instance(void *ud, nc_http_req *r); /* writes as v2; GET an Instance */
void nc_nrt_v3_admin_partial(void *ud, nc_http_req *r);  /* PUT: a patch */
void nc_nrt_v3_admin_list(void *ud, nc_http_req *r); /* a cluster's Instance list */
void nc_nrt_v3_admin_service(void *ud, nc_http_req *r);
void nc_nrt_v3_admin_service_list(void *ud, nc_http_req *r);
void nc_nrt_v3_selector_types(void *ud, nc_http_req *r);
/* Nacos's Page {totalCount, pageNumber, pagesAvailable, pageItems}: page
 * page_no of all (taken). */
cJSON *nc_nrt_v3_page(cJSON *all, int page_no, int page_size);
/* pageNo (1) and pageSize (def) of Nacos's PageForm: 0, or answered 400. */
int nc_nrt_v3_page_form(nc_http_req *r, int def_size, int *page_no, int *page_size);
/* naming_routes_v3ops.c: subscribers, health, operator */
void nc_nrt_v3_subscribers(void *ud, nc_http_req *r);
void nc_nrt_v3_health_instance(void *ud, nc_http_req *r); /* PUT */
void nc_nrt_v3_health_checkers(void *ud, nc_http_req *r);
void nc_nrt_v3_ops_metrics(void *ud, nc_http_req *r);
void nc_nrt_v3_ops_switches(void *ud, nc_http_req *r); /* GET */
/* With auth on: is the caller an admin? 1, or answered 403. */
int nc_nrt_v3_admin_only(nc_nroutes *nr, nc_http_req *r);
/* 400 10000 "Required parameter '<name>' type <type> is not present". */
void nc_nrt_v3_missing(nc_http_req *r, const char *name, const char *type);
/* naming_routes_v3cli.c: the client paths */
void nc_nrt_v3_client_ids(void *ud, nc_http_req *r);
void nc_nrt_v3_client_detail(void *ud, nc_http_req *r);
void nc_nrt_v3_client_publishes(void *ud, nc_http_req *r);
void nc_nrt_v3_service_publishers(void *ud, nc_http_req *r);
void nc_nrt_v3_service_subscribers(void *ud, nc_http_req *r);

/* naming_routes_svc.c */
void nc_nrt_service_get_v1(void *ud, nc_http_req *r);
void nc_nrt_service_get_v2(void *ud, nc_http_req *r);
void nc_nrt_service_list_v1(void *ud, nc_http_req *r);
void nc_nrt_service_list_v2(void *ud, nc_http_req *r);
void nc_nrt_operator_metrics_v1(void *ud, nc_http_req *r);
void nc_nrt_operator_metrics_v2(void *ud, nc_http_req *r);
/* Adds MetricsInfo's counts (serviceCount ... responsibleClientCount) to o. */
void nc_nrt_naming_counts(nc_nroutes *nr, cJSON *o);

#endif
