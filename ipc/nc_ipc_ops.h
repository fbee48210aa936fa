/* nc_ipc_ops: typed helpers for every op of the agent's local protocol
 * (docs/ipc-protocol.md, "Ops"), built on nc_ipc_call().
 *
 * Common rules: string arguments may be NULL (or "") to leave the field out
 * and get the protocol's default (namespace "" = public, group
 * DEFAULT_GROUP, cluster DEFAULT). Every helper is blocking with timeout_ms
 * as in nc_ipc_call() and returns 0 or a negative nc_ipc_err. Where a
 * helper takes `cJSON **result` it may be NULL; otherwise on success
 * *result is a new object owned by the caller (cJSON_Delete) holding the
 * result fields, e.g. "hosts" for naming.instances. */
#ifndef NC_IPC_OPS_H
#define NC_IPC_OPS_H

#include "nc_ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An instance to register or deregister. Strings and metadata are borrowed
 * for the duration of the call. Initialise with nc_ipc_instance_init() so
 * optional fields carry the protocol defaults. */
typedef struct nc_ipc_instance {
  const char *ns; /* namespace */
  const char *group;
  const char *service; /* required */
  const char *cluster;
  const char *ip;        /* required */
  int port;              /* required, 1..65535 */
  double weight;         /* 1.0 */
  int healthy;           /* 1 */
  int enabled;           /* 1 */
  int ephemeral;         /* 1 */
  const cJSON *metadata; /* object of strings, or NULL */
  int detached;          /* 0; 1: held by the agent itself, not by this
                            socket: it outlives the connection and goes only
                            with naming.deregister (from any app) or agent
                            shutdown (register only) */
} nc_ipc_instance;

void nc_ipc_instance_init(nc_ipc_instance *inst);

/* agent.hello: app may be NULL. Checks the agent speaks NC_IPC_PROTOCOL. */
int nc_ipc_hello(nc_ipc *c, const char *app, int timeout_ms, cJSON **result);
int nc_ipc_status(nc_ipc *c, int timeout_ms, cJSON **result);

/* naming.register: on success *instance_id (if non-NULL) is a malloc'd copy
 * of the agent's instance id (caller frees) and *applied (if non-NULL) is
 * 0 while the agent has no upstream. */
int nc_ipc_register(nc_ipc *c, const nc_ipc_instance *inst, int timeout_ms, char **instance_id,
                    int *applied);
/* naming.deregister: uses the identity fields of inst. */
int nc_ipc_deregister(nc_ipc *c, const nc_ipc_instance *inst, int timeout_ms);

/* naming.subscribe; clusters is a NULL-terminated array or NULL. */
int nc_ipc_subscribe(nc_ipc *c, const char *ns, const char *group, const char *service,
                     const char *const *clusters, int timeout_ms, cJSON **result);
int nc_ipc_unsubscribe(nc_ipc *c, const char *ns, const char *group, const char *service,
                       int timeout_ms);
int nc_ipc_instances(nc_ipc *c, const char *ns, const char *group, const char *service,
                     int healthy_only, int timeout_ms, cJSON **result);

int nc_ipc_config_get(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                      int timeout_ms, cJSON **result);
/* cas_md5: NULL for an unconditional publish. */
int nc_ipc_config_publish(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                          const char *content, const char *cas_md5, int timeout_ms, cJSON **result);
int nc_ipc_config_remove(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                         int timeout_ms);
/* config.remove reporting whether the key existed before: *existed (if
 * non-NULL) is 1 or 0, or -1 when the agent did not say (an older agent). */
int nc_ipc_config_remove_ex(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                            int timeout_ms, int *existed);
int nc_ipc_config_listen(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                         int timeout_ms, cJSON **result);
int nc_ipc_config_unlisten(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                           int timeout_ms);

/* Listings (upstream admin requests; UNAVAILABLE while the agent has no
 * upstream: nothing is served from its cache). page_no 0 = the first page
 * (pages count from 1); page_size 0 = the agent's default, at most 1000.
 *
 * naming.services: names of the services in a namespace and group.
 * Result: count (every matching service, not just this page), services
 * (array of names). */
int nc_ipc_services(nc_ipc *c, const char *ns, const char *group, int page_no, int page_size,
                    int timeout_ms, cJSON **result);
/* config.list: configs whose dataId matches data_id_glob ('*' matches any
 * run; NULL or "" = all). Result: totalCount, pageNumber, pagesAvailable,
 * items [{dataId, group, namespace, md5, lastModified (ms since epoch)}]. */
int nc_ipc_config_list(nc_ipc *c, const char *ns, const char *group, const char *data_id_glob,
                       int page_no, int page_size, int timeout_ms, cJSON **result);
/* config.history: the key's recorded changes, newest first, at most
 * page_size (0 = 30). Result: items [{id, opType ("I", "U" or "D"), md5,
 * lastModifiedTime (ms since epoch), srcIp, srcUser}]. */
int nc_ipc_config_history(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                          int page_size, int timeout_ms, cJSON **result);

#ifdef __cplusplus
}
#endif

#endif
