/* config_routes_lquery: who listens to configs, as Nacos's listener queries
 * answer it, over both kinds of listener this node holds: gRPC listen
 * registrations (config_ops.h nc_config_listeners_foreach) and held v1
 * long-polls (config_routes_listen.c):
 *   GET /nacos/v1/cs/configs/listener?dataId&group[&tenant]   (POST = the long-poll)
 *     -> {"collectStatus":200,"lisentersGroupkeyStatus":{ip: md5}}
 *   GET /nacos/v1/cs/listener?ip[&all][&tenant]
 *     -> {"collectStatus":200,"lisentersGroupkeyStatus":{groupKey: md5}}
 *   GET /nacos/v3/admin/cs/config/listener?dataId&groupName[&namespaceId]
 *     -> data {"queryType":"config","listenersStatus":{ip: md5}}
 *   GET /nacos/v3/admin/cs/listener?ip[&all][&namespaceId]
 *     -> data {"queryType":"ip","listenersStatus":{groupKey: md5}}
 * ("lisenters" is Nacos's own spelling.) md5 is the one the client last
 * reported. By ip, a key of another namespace is listed only with all=true
 * or when the namespace is asked for, as in Nacos. With auth on, by key
 * needs 'r' on it; by ip lists only the keys the caller may read.
 * This node's listeners only (Nacos samples every member). Loop thread. */
#include "config_routes_int.h"

#include "config_util.h"
#include "nc_err.h"
#include "oapi_result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lq {
  nc_croutes *cr;
  nc_http_req *r;
  cJSON *map;      /* what the answer lists */
  const char *ip;  /* by ip: the ip asked for; NULL = by key */
  const char *ns;  /* by ip: the namespace asked for (normalised), "" = none */
  int all;
  int oom;
} lq;

static void put(lq *q, const char *name, const char *md5) {
  cJSON *v = cJSON_CreateString(md5 ? md5 : "");
  if (!v) {
    q->oom = 1;
    return;
  }
  if (cJSON_GetObjectItemCaseSensitive(q->map, name))
    cJSON_ReplaceItemInObjectCaseSensitive(q->map, name, v);
  else
    cJSON_AddItemToObject(q->map, name, v);
}

static void visit(void *ud, const char *ip, const char *data_id, const char *group,
                  const char *tenant, const char *md5) {
  lq *q = ud;
  if (!q->ip) { /* by key: the key was the filter */
    put(q, ip, md5);
    return;
  }
  if (strcmp(ip, q->ip))
    return;
  const char *t = nc_cfg_norm_tenant(tenant);
  if (!(*q->ns && strstr(t, q->ns)) && !q->all && *t)
    return;
  nc_config_key k = {data_id, group, t};
  if (!nc_crt_may(q->cr, q->r, &k, 'r'))
    return;
  char *gk = nc_cfg_group_key(data_id, group, t);
  if (!gk) {
    q->oom = 1;
    return;
  }
  put(q, gk, md5);
  free(gk);
}

static void visit_held(void *ud, const char *peer, const char *data_id, const char *group,
                       const char *tenant, const char *md5) {
  char ip[80];
  visit(ud, nc_crt_ip_of(peer, ip, sizeof(ip)), data_id, group, tenant, md5);
}

/* Answers the collected map in api's shape; consumes q->map. */
static void answer(lq *q, int api) {
  cJSON *o = cJSON_CreateObject();
  int env = api != NC_CRT_V1;
  if (!o || q->oom)
    goto oom;
  if (env ? !cJSON_AddStringToObject(o, "queryType", q->ip ? "ip" : "config")
          : !cJSON_AddNumberToObject(o, "collectStatus", 200))
    goto oom;
  cJSON_AddItemToObject(o, env ? "listenersStatus" : "lisentersGroupkeyStatus", q->map);
  nc_oapi_ok_json(q->r, env, o);
  return;
oom:
  cJSON_Delete(o);
  cJSON_Delete(q->map);
  nc_oapi_fail(q->r, env, 500, NC_OAPI_SERVER, "out of memory");
}

static void by_key(nc_croutes *cr, nc_http_req *r, int api) {
  nc_config_key k;
  if (nc_crt_parse_key(r, api, &k))
    return;
  if (nc_cfg_blank(k.group)) /* Nacos: a blank group is DEFAULT_GROUP */
    k.group = "DEFAULT_GROUP";
  if (!nc_crt_permitted(cr, r, &k, 'r'))
    return;
  nc_cfg_key ck;
  char err[NC_CONFIG_ERR_CAP];
  const char *msg = nc_cfg_check_names(k.data_id, k.group, k.tenant, &ck, err, sizeof(err));
  if (msg) {
    nc_oapi_fail(r, api != NC_CRT_V1, 400,
                 !strncmp(msg, "invalid tenant", 14) ? NC_OAPI_TENANT_PARAM
                                                     : NC_OAPI_PARAM_VALIDATE,
                 msg);
    return;
  }
  lq q = {.cr = cr, .r = r, .map = cJSON_CreateObject()};
  char *gk = nc_cfg_group_key(ck.data_id, ck.group, ck.tenant);
  if (!gk || !q.map)
    q.oom = 1;
  else {
    nc_config_listeners_foreach(cr->cs, &k, visit, &q);
    nc_crt_held_foreach(cr, gk, visit_held, &q);
  }
  free(gk);
  answer(&q, api);
}

static void by_ip(nc_croutes *cr, nc_http_req *r, int api) {
  const char *ip = nc_http_param(r, "ip");
  if (!ip) {
    nc_oapi_fail(r, api != NC_CRT_V1, 400, NC_OAPI_PARAM_MISSING,
                 "Required parameter 'ip' type String is not present");
    return;
  }
  const char *all = nc_http_param(r, "all");
  lq q = {.cr = cr,
          .r = r,
          .map = cJSON_CreateObject(),
          .ip = ip,
          .ns = nc_cfg_norm_tenant(nc_crt_ns_param(r, api)),
          .all = all && !strcmp(all, "true")};
  if (!q.map)
    q.oom = 1;
  else {
    nc_config_listeners_foreach(cr->cs, NULL, visit, &q);
    nc_crt_held_foreach(cr, NULL, visit_held, &q);
  }
  answer(&q, api);
}

void nc_crt_h_listener_v1(void *ud, nc_http_req *r) {
  if (!strcmp(nc_http_method(r), "POST"))
    nc_crt_listener(ud, r);
  else
    by_key(ud, r, NC_CRT_V1);
}
void nc_crt_h_listener_ip_v1(void *ud, nc_http_req *r) { by_ip(ud, r, NC_CRT_V1); }
void nc_crt_h_listener_v3(void *ud, nc_http_req *r) { by_key(ud, r, NC_CRT_V3); }
void nc_crt_h_listener_ip_v3(void *ud, nc_http_req *r) { by_ip(ud, r, NC_CRT_V3); }
