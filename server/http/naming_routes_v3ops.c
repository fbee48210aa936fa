/* naming_routes_v3ops: the rest of Nacos 3.x's naming admin API
 * (naming/controllers/v3 of Nacos 3.x), in its Result envelope:
 *   GET /nacos/v3/admin/ns/service/subscribers  Page<SubscriberInfo> of
 *     the connections of this node subscribed to the service
 *     (ServiceControllerV3; aggregation over the members is not done).
 *   PUT /nacos/v3/admin/ns/health/instance  the health of a persistent
 *     instance whose cluster's health checker is NONE (HealthControllerV3;
 *     otherwise the checks own it: 400 "health check is still working");
 *     GET /health/checkers the checker types with their defaults.
 *   GET /nacos/v3/admin/ns/ops/metrics (onlyStatus=true: the status
 *     alone) and /ops/switches (OperatorControllerV3): MetricsInfo and
 *     Nacos's SwitchDomain as this server behaves (read only here).
 * The client paths are naming_routes_v3cli.c. With auth on, the service
 * paths need the service's permission and the operator paths an admin
 * (their resource is no namespace's). */
#include "naming_routes_int.h"

#include "auth_routes.h"
#include "naming_pstore.h"
#include "nc_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int nc_nrt_v3_admin_only(nc_nroutes *nr, nc_http_req *r) {
  if (!nc_auth_enabled(nr->auth))
    return 1;
  char user[NC_AUTH_USER_MAX];
  nc_auth_result ar = nc_auth_identify(nr->auth, nc_auth_http_token(r), user);
  if (ar == NC_AUTH_OK && !nc_auth_is_admin(nr->auth, user))
    ar = NC_AUTH_FORBIDDEN;
  if (ar == NC_AUTH_OK)
    return 1;
  const char *why = nc_auth_result_msg(ar);
  nc_http_reply(r, 403, "text/plain", why, strlen(why));
  return 0;
}

/* ---- subscribers ---- */

typedef struct subs {
  nc_nroutes *nr;
  const svc_ref *s;
  cJSON *list;
} subs;

static void on_subscriber(void *ud, const char *conn_id) {
  subs *x = ud;
  nc_conn *c = x->nr->srv ? nc_srv_find_conn(x->nr->srv, conn_id) : NULL;
  const char *ip = c ? nc_conn_client_ip(c) : NULL;
  if (!ip || !*ip)
    ip = c ? nc_conn_remote_ip(c) : "";
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "namespaceId", x->s->ns);
  cJSON_AddStringToObject(o, "groupName", x->s->group);
  cJSON_AddStringToObject(o, "serviceName", x->s->name);
  cJSON_AddStringToObject(o, "ip", ip ? ip : "");
  cJSON_AddNumberToObject(o, "port", c ? nc_conn_remote_port(c) : 0);
  cJSON_AddStringToObject(o, "agent", c && nc_conn_version(c) ? nc_conn_version(c) : "");
  cJSON_AddStringToObject(o, "appName", c && nc_conn_app(c) ? nc_conn_app(c) : "");
  cJSON_AddItemToArray(x->list, o);
}

void nc_nrt_v3_subscribers(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  svc_ref s;
  int page_no, page_size;
  if (nc_nrt_parse_svc(r, 1, &s) || nc_nrt_v3_page_form(r, 100, &page_no, &page_size) ||
      !nc_nrt_permitted(nr, r, &s, 'r'))
    return;
  char kb[4 * NAME_CAP];
  const char *key = nc_nreg_key(kb, sizeof(kb), s.ns, s.group, s.name);
  subs x = {nr, &s, cJSON_CreateArray()};
  if (key && x.list)
    nc_nreg_each_subscriber(nc_naming_registry(nr->naming), key, on_subscriber, &x);
  if (!x.list) {
    nc_nrt_fail(r, 1, 500, E_SERVER, "out of memory");
    return;
  }
  nc_nrt_ok_json(r, 1, nc_nrt_v3_page(x.list, page_no, page_size));
}

/* ---- health of a persistent instance ---- */

/* Spring's Boolean conversion: 1 / 0, or -1 when not a boolean. */
static int spring_bool(const char *v) {
  static const char *t[] = {"true", "on", "yes", "1"}, *f[] = {"false", "off", "no", "0"};
  for (size_t i = 0; i < 4; i++) {
    if (!strcasecmp(v, t[i]))
      return 1;
    if (!strcasecmp(v, f[i]))
      return 0;
  }
  return -1;
}

void nc_nrt_v3_missing(nc_http_req *r, const char *name, const char *type) {
  char why[128];
  snprintf(why, sizeof(why), "Required parameter '%s' type %s is not present", name, type);
  nc_nrt_fail(r, 1, 400, E_PARAM_MISSING, why);
}

/* healthy, serviceName, ip, port (required, checked in Nacos's order),
 * namespaceId, groupName, clusterName (DEFAULT). */
void nc_nrt_v3_health_instance(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  const char *hv = nc_nrt_param(r, "healthy"), *ip = nc_nrt_param(r, "ip");
  const char *pv = nc_nrt_param(r, "port"), *cl = nc_nrt_param(r, "clusterName");
  svc_ref s;
  if (!hv) {
    nc_nrt_v3_missing(r, "healthy", "Boolean");
    return;
  }
  if (nc_nrt_parse_svc(r, 1, &s))
    return;
  if (!ip) {
    nc_nrt_v3_missing(r, "ip", "String");
    return;
  }
  if (!pv) {
    nc_nrt_v3_missing(r, "port", "Integer");
    return;
  }
  int healthy = spring_bool(hv);
  char *end;
  errno = 0;
  long port = strtol(pv, &end, 10);
  if (healthy < 0 || errno || *end || port < 0 || port > 65535 || strlen(ip) >= NAME_CAP ||
      (cl && strlen(cl) >= NAME_CAP)) {
    nc_nrt_fail(r, 1, 400, E_PARAM_VALIDATE,
                healthy < 0 ? "Param 'healthy' is illegal, it should be true or false"
                            : "Param 'ip', 'port' or 'clusterName' is illegal");
    return;
  }
  if (!cl)
    cl = "DEFAULT";
  if (!nc_nrt_permitted(nr, r, &s, 'w'))
    return;
  nc_npstore *ps = nc_naming_pstore(nr->naming);
  const char *js = ps ? nc_npstore_checker_json(ps, s.ns, s.group, s.name, cl) : NULL;
  cJSON *cfg = js ? cJSON_Parse(js) : NULL;
  const char *type = nc_json_str(cJSON_GetObjectItem(cfg, "healthChecker"), "type", "TCP");
  int none = !strcasecmp(type, "NONE");
  cJSON_Delete(cfg);
  if (!none) {
    /* a NacosException: its status 400 with SERVER_ERROR, as Nacos answers */
    char why[3 * NAME_CAP + 80];
    snprintf(why, sizeof(why), "health check is still working, service: %s, cluster: %s",
             s.grouped, cl);
    nc_nrt_fail(r, 1, 400, E_SERVER, why);
    return;
  }
  /* an unknown instance is no error in Nacos either */
  nc_npstore_set_health(ps, s.ns, s.group, s.name, ip, (int)port, healthy);
  nc_nrt_ok_json(r, 1, cJSON_CreateString("ok"));
}

/* HealthOperatorV2Impl's checkers: a default instance of each type. */
void nc_nrt_v3_health_checkers(void *ud, nc_http_req *r) {
  if (!nc_nrt_v3_admin_only(ud, r))
    return;
  static const char *types[] = {"TCP", "HTTP", "MYSQL", "NONE"};
  cJSON *o = cJSON_CreateObject();
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    cJSON *c = cJSON_AddObjectToObject(o, types[i]);
    cJSON_AddStringToObject(c, "type", types[i]);
    if (!strcmp(types[i], "HTTP")) { /* MYSQL's user, pwd, cmd are null: left out */
      cJSON_AddStringToObject(c, "path", "");
      cJSON_AddStringToObject(c, "headers", "");
      cJSON_AddNumberToObject(c, "expectedResponseCode", 200);
    }
  }
  nc_nrt_ok_json(r, 1, o);
}

/* ---- operator ---- */

void nc_nrt_v3_ops_metrics(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  if (!nc_nrt_v3_admin_only(nr, r))
    return;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "status", "UP");
  if (!nc_nrt_to_bool(nc_nrt_param(r, "onlyStatus"), 1))
    nc_nrt_naming_counts(nr, o);
  nc_nrt_ok_json(r, 1, o);
}

static void add_params(cJSON *o, const char *key, int max, int min, double factor) {
  cJSON *p = cJSON_AddObjectToObject(o, key);
  cJSON_AddNumberToObject(p, "max", max);
  cJSON_AddNumberToObject(p, "min", min);
  cJSON_AddNumberToObject(p, "factor", factor);
}

/* Nacos's SwitchDomain with its defaults, which are how nacosd behaves
 * (3 check times, health checks and push on, ephemeral by default). */
void nc_nrt_v3_ops_switches(void *ud, nc_http_req *r) {
  if (!nc_nrt_v3_admin_only(ud, r))
    return;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", "00-00---000-NACOS_SWITCH_DOMAIN-000---00-00");
  cJSON_AddItemToObject(o, "adWeightMap", cJSON_CreateObject());
  cJSON_AddNumberToObject(o, "defaultPushCacheMillis", 10000);
  cJSON_AddNumberToObject(o, "clientBeatInterval", 5000);
  cJSON_AddNumberToObject(o, "defaultCacheMillis", 3000);
  cJSON_AddNumberToObject(o, "distroThreshold", 0.7);
  static const char *on[] = {"healthCheckEnabled", "autoChangeHealthCheckEnabled", "distroEnabled",
                             "enableStandalone", "pushEnabled"};
  for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++)
    cJSON_AddTrueToObject(o, on[i]);
  cJSON_AddNumberToObject(o, "checkTimes", 3);
  add_params(o, "httpHealthParams", 5000, 500, 0.85);
  add_params(o, "tcpHealthParams", 5000, 1000, 0.75);
  add_params(o, "mysqlHealthParams", 3000, 2000, 0.65);
  cJSON_AddItemToObject(o, "incrementalList", cJSON_CreateArray());
  cJSON_AddNumberToObject(o, "serverStatusSynchronizationPeriodMillis", 2000);
  cJSON_AddNumberToObject(o, "serviceStatusSynchronizationPeriodMillis", 5000);
  cJSON_AddFalseToObject(o, "disableAddIP");
  cJSON_AddFalseToObject(o, "sendBeatOnly");
  cJSON_AddTrueToObject(o, "lightBeatEnabled");
  cJSON_AddItemToObject(o, "limitedUrlMap", cJSON_CreateObject());
  cJSON_AddNumberToObject(o, "distroServerExpiredMillis", 10000);
  cJSON_AddStringToObject(o, "pushVersionOfGo", "0.1.0");
  cJSON_AddStringToObject(o, "pushVersionOfJava", "0.1.0");
  cJSON_AddStringToObject(o, "pushVersionOfPython", "0.4.3");
  cJSON_AddStringToObject(o, "pushVersionOfC", "1.0.12");
  cJSON_AddStringToObject(o, "pushVersionOfCsharp", "0.9.0");
  cJSON_AddFalseToObject(o, "enableAuthentication");
  cJSON_AddTrueToObject(o, "defaultInstanceEphemeral");
  cJSON_AddItemToObject(o, "healthCheckWhiteList", cJSON_CreateArray());
  nc_nrt_ok_json(r, 1, o);
}
