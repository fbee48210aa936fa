/* nc_ipc_ops: typed wrappers that build params objects for nc_ipc_call().
 * Argument checks mirror the agent's so an app gets INVAL locally instead
 * of a round trip; the agent still has the last word. */
#include "nc_ipc_ops.h"
#include "nc_ipc_priv.h"

#include <stdlib.h>
#include <string.h>

void nc_ipc_instance_init(nc_ipc_instance *inst) {
  memset(inst, 0, sizeof(*inst));
  inst->weight = 1.0;
  inst->healthy = 1;
  inst->enabled = 1;
  inst->ephemeral = 1;
}

/* Adds key: val when val is a non-empty string; 0 or -1 (out of memory). */
static int add_opt_str(cJSON *o, const char *key, const char *val) {
  if (!val || !*val)
    return 0;
  return cJSON_AddStringToObject(o, key, val) ? 0 : -1;
}

/* Params for ops keyed by (namespace, group, name_key=name). */
static cJSON *keyed(const char *ns, const char *group, const char *name_key, const char *name) {
  cJSON *o = cJSON_CreateObject();
  if (!o || add_opt_str(o, "namespace", ns) || add_opt_str(o, "group", group) ||
      !cJSON_AddStringToObject(o, name_key, name)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* Runs op with params (consumed). A NULL params means the builder ran out
 * of memory. */
static int run(nc_ipc *c, const char *op, cJSON *params, int timeout_ms, cJSON **result) {
  if (result)
    *result = NULL;
  if (!params)
    return NC_IPC_E_NOMEM;
  int err = nc_ipc_call(c, op, params, timeout_ms, result);
  cJSON_Delete(params);
  return err;
}

static int bad_arg(nc_ipc *c, const char *what) {
  return nc_ipc__fail(c, NC_IPC_E_INVAL, "invalid argument: %s", what);
}

int nc_ipc_hello(nc_ipc *c, const char *app, int timeout_ms, cJSON **result) {
  cJSON *p = cJSON_CreateObject(), *r = NULL;
  if (p &&
      (add_opt_str(p, "app", app) || !cJSON_AddNumberToObject(p, "protocol", NC_IPC_PROTOCOL))) {
    cJSON_Delete(p);
    p = NULL;
  }
  int err = run(c, "agent.hello", p, timeout_ms, &r);
  const cJSON *proto = cJSON_GetObjectItemCaseSensitive(r, "protocol");
  if (!err && cJSON_IsNumber(proto) && proto->valueint != NC_IPC_PROTOCOL)
    err = nc_ipc__fail(c, NC_IPC_E_PROTOCOL, "agent speaks protocol %d, this library %d",
                       proto->valueint, NC_IPC_PROTOCOL);
  if (!err && result)
    *result = r;
  else
    cJSON_Delete(r);
  return err;
}

int nc_ipc_status(nc_ipc *c, int timeout_ms, cJSON **result) {
  return nc_ipc_call(c, "agent.status", NULL, timeout_ms, result);
}

static cJSON *instance_params(const nc_ipc_instance *in, int full) {
  cJSON *o = keyed(in->ns, in->group, "service", in->service);
  if (!o)
    return NULL;
  if (add_opt_str(o, "cluster", in->cluster) || !cJSON_AddStringToObject(o, "ip", in->ip) ||
      !cJSON_AddNumberToObject(o, "port", in->port))
    goto fail;
  if (full) {
    if ((in->detached && !cJSON_AddBoolToObject(o, "detached", 1)) ||
        !cJSON_AddNumberToObject(o, "weight", in->weight) ||
        !cJSON_AddBoolToObject(o, "healthy", in->healthy) ||
        !cJSON_AddBoolToObject(o, "enabled", in->enabled) ||
        !cJSON_AddBoolToObject(o, "ephemeral", in->ephemeral))
      goto fail;
    if (in->metadata) {
      cJSON *m = cJSON_Duplicate(in->metadata, 1);
      if (!m || !cJSON_AddItemToObject(o, "metadata", m)) {
        cJSON_Delete(m);
        goto fail;
      }
    }
  }
  return o;
fail:
  cJSON_Delete(o);
  return NULL;
}

static int instance_ok(const nc_ipc_instance *in) {
  return in && in->service && *in->service && in->ip && *in->ip && in->port > 0 &&
         in->port <= 65535 && in->weight >= 0 && (!in->metadata || cJSON_IsObject(in->metadata));
}

int nc_ipc_register(nc_ipc *c, const nc_ipc_instance *inst, int timeout_ms, char **instance_id,
                    int *applied) {
  cJSON *r = NULL;
  int err;
  if (instance_id)
    *instance_id = NULL;
  if (!instance_ok(inst))
    return bad_arg(c, "instance needs service, ip, port 1..65535, weight >= 0, metadata object");
  err = run(c, "naming.register", instance_params(inst, 1), timeout_ms, &r);
  if (err)
    goto out;
  if (applied) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "applied");
    *applied = a ? cJSON_IsTrue(a) : 1;
  }
  if (instance_id) {
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "instance_id"));
    *instance_id = strdup(id ? id : "");
    if (!*instance_id)
      err = NC_IPC_E_NOMEM;
  }
out:
  cJSON_Delete(r);
  return err;
}

int nc_ipc_deregister(nc_ipc *c, const nc_ipc_instance *inst, int timeout_ms) {
  if (!instance_ok(inst))
    return bad_arg(c, "instance needs service, ip, port 1..65535, weight >= 0, metadata object");
  return run(c, "naming.deregister", instance_params(inst, 0), timeout_ms, NULL);
}

int nc_ipc_subscribe(nc_ipc *c, const char *ns, const char *group, const char *service,
                     const char *const *clusters, int timeout_ms, cJSON **result) {
  if (!service || !*service)
    return bad_arg(c, "service is required");
  cJSON *p = keyed(ns, group, "service", service);
  if (p && clusters) {
    cJSON *arr = cJSON_AddArrayToObject(p, "clusters");
    for (size_t i = 0; arr && clusters[i]; i++) {
      cJSON *s = cJSON_CreateString(clusters[i]);
      if (!s || !cJSON_AddItemToArray(arr, s)) {
        cJSON_Delete(s);
        arr = NULL;
      }
    }
    if (!arr) {
      cJSON_Delete(p);
      p = NULL;
    }
  }
  return run(c, "naming.subscribe", p, timeout_ms, result);
}

int nc_ipc_unsubscribe(nc_ipc *c, const char *ns, const char *group, const char *service,
                       int timeout_ms) {
  if (!service || !*service)
    return bad_arg(c, "service is required");
  return run(c, "naming.unsubscribe", keyed(ns, group, "service", service), timeout_ms, NULL);
}

int nc_ipc_instances(nc_ipc *c, const char *ns, const char *group, const char *service,
                     int healthy_only, int timeout_ms, cJSON **result) {
  if (!service || !*service)
    return bad_arg(c, "service is required");
  cJSON *p = keyed(ns, group, "service", service);
  if (p && healthy_only && !cJSON_AddBoolToObject(p, "healthy_only", 1)) {
    cJSON_Delete(p);
    p = NULL;
  }
  return run(c, "naming.instances", p, timeout_ms, result);
}

static int config_op(nc_ipc *c, const char *op, const char *ns, const char *group,
                     const char *data_id, int timeout_ms, cJSON **result) {
  if (!data_id || !*data_id)
    return bad_arg(c, "data_id is required");
  return run(c, op, keyed(ns, group, "data_id", data_id), timeout_ms, result);
}

int nc_ipc_config_get(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                      int timeout_ms, cJSON **result) {
  return config_op(c, "config.get", ns, group, data_id, timeout_ms, result);
}

int nc_ipc_config_publish(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                          const char *content, const char *cas_md5, int timeout_ms,
                          cJSON **result) {
  if (!data_id || !*data_id || !content)
    return bad_arg(c, "data_id and content are required");
  cJSON *p = keyed(ns, group, "data_id", data_id);
  if (p &&
      (!cJSON_AddStringToObject(p, "content", content) || add_opt_str(p, "cas_md5", cas_md5))) {
    cJSON_Delete(p);
    p = NULL;
  }
  return run(c, "config.publish", p, timeout_ms, result);
}

int nc_ipc_config_remove(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                         int timeout_ms) {
  return nc_ipc_config_remove_ex(c, ns, group, data_id, timeout_ms, NULL);
}

int nc_ipc_config_remove_ex(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                            int timeout_ms, int *existed) {
  cJSON *r = NULL;
  int err = config_op(c, "config.remove", ns, group, data_id, timeout_ms, existed ? &r : NULL);
  if (existed) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "existed");
    *existed = cJSON_IsBool(e) ? cJSON_IsTrue(e) : -1;
  }
  cJSON_Delete(r);
  return err;
}

int nc_ipc_config_listen(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                         int timeout_ms, cJSON **result) {
  return config_op(c, "config.listen", ns, group, data_id, timeout_ms, result);
}

int nc_ipc_config_unlisten(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                           int timeout_ms) {
  return config_op(c, "config.unlisten", ns, group, data_id, timeout_ms, NULL);
}

/* Adds the paging fields; 0 or -1 (out of memory). */
static int add_paging(cJSON *o, int page_no, int page_size) {
  if (page_no > 0 && !cJSON_AddNumberToObject(o, "pageNo", page_no))
    return -1;
  if (page_size > 0 && !cJSON_AddNumberToObject(o, "pageSize", page_size))
    return -1;
  return 0;
}

/* Params {namespace?, group?, dataId?, paging} of the config listings. */
static cJSON *listing(const char *ns, const char *group, const char *data_id, int page_no,
                      int page_size) {
  cJSON *o = cJSON_CreateObject();
  if (!o || add_opt_str(o, "namespace", ns) || add_opt_str(o, "group", group) ||
      add_opt_str(o, "dataId", data_id) || add_paging(o, page_no, page_size)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static int paging_ok(int page_no, int page_size) {
  return page_no >= 0 && page_size >= 0 && page_size <= 1000;
}

int nc_ipc_services(nc_ipc *c, const char *ns, const char *group, int page_no, int page_size,
                    int timeout_ms, cJSON **result) {
  if (!paging_ok(page_no, page_size))
    return bad_arg(c, "page_no >= 0, page_size 0..1000");
  return run(c, "naming.services", listing(ns, group, NULL, page_no, page_size), timeout_ms,
             result);
}

int nc_ipc_config_list(nc_ipc *c, const char *ns, const char *group, const char *data_id_glob,
                       int page_no, int page_size, int timeout_ms, cJSON **result) {
  if (!paging_ok(page_no, page_size))
    return bad_arg(c, "page_no >= 0, page_size 0..1000");
  return run(c, "config.list", listing(ns, group, data_id_glob, page_no, page_size), timeout_ms,
             result);
}

int nc_ipc_config_history(nc_ipc *c, const char *ns, const char *group, const char *data_id,
                          int page_size, int timeout_ms, cJSON **result) {
  if (!data_id || !*data_id)
    return bad_arg(c, "data_id is required");
  if (!paging_ok(0, page_size))
    return bad_arg(c, "page_size 0..1000");
  return run(c, "config.history", listing(ns, group, data_id, 0, page_size), timeout_ms, result);
}
