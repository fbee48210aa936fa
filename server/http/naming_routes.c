/* naming_routes: see naming_routes.h. Parameter names, defaults, v1
 * bodies and v2 codes follow Nacos's InstanceController (v1) and
 * InstanceControllerV2; v1 errors are Nacos's "caused: <why>;" text. */
#include "naming_routes.h"
#include "naming_routes_int.h"
#include "naming_routes_pst.h"
#include "oapi_result.h"

#include "auth_routes.h"
#include "nc_auth_perm.h"
#include "nc_err.h"
#include "nc_log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int nc_nroutes_new(nc_naming *naming, nc_nbeat *beat, nc_auth *auth, nc_nroutes **out) {
  nc_nroutes *nr = calloc(1, sizeof(*nr));
  if (!nr)
    return NC_ENOMEM;
  *nr = (nc_nroutes){naming, beat, auth, NULL, NULL, NULL, NULL};
  *out = nr;
  return 0;
}
void nc_nroutes_free(nc_nroutes *nr) {
  if (!nr)
    return;
  nc_nrt_fwd_free(nr->fwd);
  nc_nrt_meta_free(nr);
  free(nr);
}

/* The envelopes are oapi_result.h's (shared with the config routes). */
void nc_nrt_fail(nc_http_req *r, int v2, int status, int code, const char *why) {
  nc_oapi_fail(r, v2, status, code, why);
}
void nc_nrt_ok_json(nc_http_req *r, int v2, cJSON *data) { nc_oapi_ok_json(r, v2, data); }

/* A call's answers: to its request, or kept for the member that forwarded it. */
void nc_nrt_cfail(nrt_call *c, int status, int code, const char *why) {
  if (c->http) {
    nc_oapi_fail(c->http, c->v2, status, code, why);
    return;
  }
  free(c->body);
  c->body = nc_oapi_fail_body(c->v2, code, why, &c->ctype);
  c->status = c->body ? status : 500;
}
void nc_nrt_cok_json(nrt_call *c, cJSON *data) {
  if (c->http) {
    nc_oapi_ok_json(c->http, c->v2, data);
    return;
  }
  free(c->body);
  c->body = nc_oapi_ok_body(c->v2, data);
  c->status = c->body ? 200 : 500;
  c->ctype = "application/json;charset=UTF-8";
}
void nc_nrt_cresult(nrt_call *c, int status, int code) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "code", code);
  cJSON_AddStringToObject(o, "message", nc_oapi_code_msg(code));
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (c->http) {
    if (s)
      nc_http_reply(c->http, status, "application/json;charset=UTF-8", s, strlen(s));
    else
      nc_http_reply_error(c->http, 500, "out of memory");
    free(s);
    return;
  }
  free(c->body);
  c->body = s;
  c->status = s ? status : 500;
  c->ctype = "application/json;charset=UTF-8";
}
void nc_nrt_cok_text(nrt_call *c, const char *text) {
  if (c->v2) {
    nc_nrt_cok_json(c, cJSON_CreateString(text));
  } else if (c->http) {
    nc_http_reply(c->http, 200, "text/plain;charset=UTF-8", text, strlen(text));
  } else {
    free(c->body);
    c->body = strdup(text);
    c->status = c->body ? 200 : 500;
    c->ctype = "text/plain;charset=UTF-8";
  }
}

/* ---- parameters ---- */

int nc_nrt_to_bool(const char *s, int def) {
  if (!s || !*s)
    return def;
  static const char *yes[] = {"true", "on", "yes", "y", "t"};
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
    if (!strcasecmp(s, yes[i]))
      return 1;
  return 0;
}

const char *nc_nrt_param(nc_http_req *r, const char *name) { return nc_oapi_param(r, name); }
const char *nc_nrt_cparam(const nrt_call *c, const char *name) {
  if (c->http)
    return nc_oapi_param(c->http, name);
  const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c->params, name));
  return v && *v ? v : NULL;
}

/* namespaceId (default public), serviceName (required; "group@@name"
 * allowed), groupName (default DEFAULT_GROUP). 0, or answered. */
int nc_nrt_parse_svc(nc_http_req *r, int v2, svc_ref *s) {
  nrt_call c = NRT_HTTP(r, v2);
  return nc_nrt_cparse_svc(&c, s);
}
int nc_nrt_cparse_svc(nrt_call *c, svc_ref *s) {
  int v2 = c->v2;
  const char *ns = nc_nrt_cparam(c, "namespaceId");
  const char *sn = nc_nrt_cparam(c, "serviceName");
  const char *gn = nc_nrt_cparam(c, "groupName");
  if (!sn) {
    nc_nrt_cfail(c, 400, E_PARAM_MISSING,
         v2 ? "Required parameter 'serviceName' type String is not present"
            : "Param 'serviceName' is required.");
    return -1;
  }
  const char *at = strstr(sn, "@@");
  size_t glen = at ? (size_t)(at - sn) : 0;
  const char *bare = at ? at + 2 : sn;
  if ((at && (!glen || !*bare || strstr(bare, "@@"))) || strlen(sn) >= NAME_CAP ||
      (ns && strlen(ns) >= NAME_CAP) || (gn && strlen(gn) >= NAME_CAP)) {
    char why[NAME_CAP + 64];
    snprintf(why, sizeof(why), "Param 'serviceName' is illegal, it should be like "
                               "'groupName@@serviceName' or 'serviceName'");
    nc_nrt_cfail(c, 400, E_PARAM_VALIDATE, why);
    return -1;
  }
  snprintf(s->ns, sizeof(s->ns), "%s", ns ? ns : "public");
  if (at)
    snprintf(s->group, sizeof(s->group), "%.*s", (int)glen, sn);
  else
    snprintf(s->group, sizeof(s->group), "%s", gn ? gn : "DEFAULT_GROUP");
  snprintf(s->name, sizeof(s->name), "%s", bare);
  snprintf(s->grouped, sizeof(s->grouped), "%s@@%s", s->group, s->name);
  return 0;
}

/* With auth on: may the caller do action on the service? 1, or answered 403. */
int nc_nrt_permitted(nc_nroutes *nr, nc_http_req *r, const svc_ref *s, char action) {
  if (!nc_auth_enabled(nr->auth))
    return 1;
  char res[NC_AUTH_RES_MAX], user[NC_AUTH_USER_MAX];
  nc_auth_result ar = NC_AUTH_FORBIDDEN;
  if (nc_auth_resource(res, sizeof(res), s->ns, s->group, "naming", s->name[0] ? s->name : NULL) ==
      0)
    ar = nc_auth_check(nr->auth, nc_auth_http_token(r), res, action, user);
  if (ar == NC_AUTH_OK)
    return 1;
  const char *why = nc_auth_result_msg(ar);
  nc_warn("http: %s %s refused (403): %s", nc_http_method(r), NC_LOG_ESC(nc_http_path(r)), why);
  nc_http_reply(r, 403, "text/plain", why, strlen(why));
  return 0;
}

/* The host ip:port (cluster, if given) of the service as queries show it,
 * or NULL. info owns the result. */
static cJSON *find_host(cJSON *info, const char *ip, int port, const char *cluster) {
  cJSON *h;
  cJSON_ArrayForEach(h, cJSON_GetObjectItem(info, "hosts")) {
    const char *hip = cJSON_GetStringValue(cJSON_GetObjectItem(h, "ip"));
    double hp = cJSON_GetNumberValue(cJSON_GetObjectItem(h, "port"));
    const char *hc = cJSON_GetStringValue(cJSON_GetObjectItem(h, "clusterName"));
    if (hip && !strcmp(hip, ip) && (int)hp == port && (!cluster || (hc && !strcmp(hc, cluster))))
      return h;
  }
  return NULL;
}

static void do_get(nc_nroutes *nr, nc_http_req *r, int v2) {
  svc_ref s;
  const char *ip;
  int port;
  nrt_call c = NRT_HTTP(r, v2);
  if (nc_nrt_cparse_svc(&c, &s) || nc_nrt_parse_addr(&c, &ip, &port) ||
      !nc_nrt_permitted(nr, r, &s, 'r'))
    return;
  const char *cl = nc_nrt_param(r, "clusterName");
  cJSON *info = nc_naming_service_info(nr->naming, s.ns, s.group, s.name, cl, 0);
  cJSON *h = info ? find_host(info, ip, port, cl) : NULL;
  /* queries show enabled instances only; a disabled HTTP one is still ours */
  const cJSON *mine = h ? NULL : nc_nbeat_get(nr->beat, s.ns, s.group, s.name, ip, port);
  nc_ninst *in = NULL;
  const char *err;
  if (mine && nc_ninst_parse(mine, s.group, s.name, &in, &err) == 0 &&
      (!cl || !strcmp(nc_ninst_cluster(in), cl)) && info)
    cJSON_AddItemToArray(cJSON_GetObjectItem(info, "hosts"),
                         h = nc_ninst_to_json(in, s.group, s.name));
  nc_ninst_free(in);
  if (!h) {
    cJSON_Delete(info);
    nc_nrt_fail(r, v2, 404, E_NOT_FOUND, "no matched ip found!");
    return;
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, v2 ? "serviceName" : "service", s.grouped);
  static const char *keys[] = {"ip", "port", "clusterName", "weight", "healthy", "instanceId",
                               "metadata"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    cJSON *v = cJSON_GetObjectItem(h, keys[i]);
    if (v)
      cJSON_AddItemToObject(o, keys[i], cJSON_Duplicate(v, 1));
  }
  cJSON_Delete(info);
  nc_nrt_ok_json(r, v2, o);
}

/* ---- the instance list, from the registry's cached view ---- */

#define V2_HEAD "{\"code\":0,\"message\":\"success\",\"data\":"

/* The HTTP list body from the serialized ServiceInfo: the same object
 * with "name" grouped (a v1 client's cache key is name@@clusters), and
 * for v2 inside the Result envelope. Built once per service revision and
 * variant (nc_naming_info_derived), so a list of a 1,000-host service is
 * a lookup and one copy instead of a cJSON tree. ud: the grouped name. */
typedef struct list_body {
  const char *grouped;
  int v2;
} list_body;

static int derive_list(void *ud, const char *json, size_t len, uint8_t **out, size_t *out_len) {
  const list_body *lb = ud;
  static const char lead[] = "{\"name\":\"";
  size_t ll = sizeof(lead) - 1, i = ll;
  if (len < ll || memcmp(json, lead, ll))
    return NC_EINVAL; /* not the shape this expects: the caller builds it */
  while (i < len && json[i] != '"')
    i += json[i] == '\\' ? 2 : 1;
  if (i >= len)
    return NC_EINVAL;
  cJSON *name = cJSON_CreateString(lb->grouped);
  char *esc = name ? cJSON_PrintUnformatted(name) : NULL;
  cJSON_Delete(name);
  if (!esc)
    return NC_ENOMEM;
  size_t el = strlen(esc), hl = lb->v2 ? sizeof(V2_HEAD) - 1 : 0, rest = len - (i + 1);
  size_t n = hl + 9 + el + rest + (lb->v2 ? 1 : 0);
  uint8_t *b = malloc(n + 1);
  if (!b) {
    free(esc);
    return NC_ENOMEM;
  }
  size_t o = 0;
  memcpy(b, V2_HEAD, hl);
  o += hl;
  memcpy(b + o, "{\"name\":", 8);
  o += 8;
  memcpy(b + o, esc, el);
  o += el;
  memcpy(b + o, json + i + 1, rest);
  o += rest;
  if (lb->v2)
    b[o++] = '}';
  b[o] = '\0';
  free(esc);
  *out = b;
  *out_len = o;
  return 0;
}

static void do_list(nc_nroutes *nr, nc_http_req *r, int v2) {
  svc_ref s;
  if (nc_nrt_parse_svc(r, v2, &s) || !nc_nrt_permitted(nr, r, &s, 'r'))
    return;
  /* v1 names the filter clusters, v2 clusterName */
  const char *cl = nc_nrt_param(r, v2 ? "clusterName" : "clusters");
  if (!cl)
    cl = nc_nrt_param(r, v2 ? "clusters" : "clusterName");
  int healthy_only = nc_nrt_to_bool(nc_nrt_param(r, "healthyOnly"), 0);
  if (!(v2 && (nc_nrt_param(r, "ip") || nc_nrt_param(r, "port")))) {
    list_body lb = {s.grouped, v2};
    const uint8_t *body = NULL;
    size_t blen = 0;
    if (nc_naming_info_derived(nr->naming, s.ns, s.group, s.name, cl ? cl : "", healthy_only,
                               v2 ? 3 : 2, derive_list, &lb, &body, &blen) == 0) {
      nc_http_reply(r, 200, "application/json;charset=UTF-8", (const char *)body, blen);
      return;
    }
  }
  /* unknown service, or v2's ip/port filter: built for this request */
  cJSON *info = nc_naming_service_info(nr->naming, s.ns, s.group, s.name, cl, healthy_only);
  if (!info) {
    nc_nrt_fail(r, v2, 500, E_SERVER, "out of memory");
    return;
  }
  /* The HTTP ServiceInfo names the service grouped: a v1 client's cache key
   * is name@@clusters. */
  cJSON_ReplaceItemInObject(info, "name", cJSON_CreateString(s.grouped));
  /* v2 filters by ip / port too */
  const char *fip = v2 ? nc_nrt_param(r, "ip") : NULL;
  long fport = v2 && nc_nrt_param(r, "port") ? strtol(nc_nrt_param(r, "port"), NULL, 10) : 0;
  if (fip || fport > 0) {
    cJSON *hosts = cJSON_GetObjectItem(info, "hosts");
    for (int i = cJSON_GetArraySize(hosts) - 1; i >= 0; i--) {
      cJSON *h = cJSON_GetArrayItem(hosts, i);
      const char *hip = cJSON_GetStringValue(cJSON_GetObjectItem(h, "ip"));
      int hp = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(h, "port"));
      if ((fip && (!hip || strcmp(hip, fip))) || (fport > 0 && hp != fport))
        cJSON_DeleteItemFromArray(hosts, i);
    }
  }
  nc_nrt_ok_json(r, v2, info);
}

/* ---- route table ---- */

static void h_instance(void *ud, nc_http_req *r, int v2) {
  const char *m = nc_http_method(r);
  if (!strcmp(m, "POST"))
    nc_nrt_dispatch(ud, r, v2, NRT_REGISTER);
  else if (!strcmp(m, "DELETE"))
    nc_nrt_dispatch(ud, r, v2, NRT_DEREGISTER);
  else if (!strcmp(m, "PUT"))
    nc_nrt_dispatch(ud, r, v2, NRT_UPDATE);
  else if (!strcmp(m, "PATCH"))
    nc_nrt_dispatch(ud, r, v2, NRT_PATCH);
  else
    do_get(ud, r, v2);
}
static void h_instance_v1(void *ud, nc_http_req *r) { h_instance(ud, r, 0); }
static void h_instance_v2(void *ud, nc_http_req *r) { h_instance(ud, r, 1); }
static void h_list_v1(void *ud, nc_http_req *r) { do_list(ud, r, 0); }
static void h_list_v2(void *ud, nc_http_req *r) { do_list(ud, r, 1); }
static void h_beat_v1(void *ud, nc_http_req *r) { nc_nrt_dispatch(ud, r, 0, NRT_BEAT); }
static void h_beat_v2(void *ud, nc_http_req *r) { nc_nrt_dispatch(ud, r, 1, NRT_BEAT); }

#define ALL (NC_HTTP_GET | NC_HTTP_POST | NC_HTTP_PUT | NC_HTTP_DELETE)
/* flags 0: with auth on srv_http wants a valid token; the handlers then
 * check the namespace permission. */
const nc_http_route nc_naming_routes[] = {
    {"/nacos/v1/ns/instance", ALL | NC_HTTP_PATCH, h_instance_v1, 0},
    {"/nacos/v1/ns/instance/list", NC_HTTP_GET, h_list_v1, 0},
    {"/nacos/v1/ns/instance/beat", NC_HTTP_PUT, h_beat_v1, 0},
    {"/nacos/v2/ns/instance", ALL, h_instance_v2, 0},
    {"/nacos/v2/ns/instance/list", NC_HTTP_GET, h_list_v2, 0},
    {"/nacos/v2/ns/instance/beat", NC_HTTP_PUT, h_beat_v2, 0},
    {"/nacos/v1/ns/service", ALL, nc_nrt_service_v1, 0},
    {"/nacos/v1/ns/service/list", NC_HTTP_GET, nc_nrt_service_list_v1, 0},
    {"/nacos/v2/ns/service", ALL, nc_nrt_service_v2, 0},
    {"/nacos/v2/ns/service/list", NC_HTTP_GET, nc_nrt_service_list_v2, 0},
    {"/nacos/v3/client/ns/instance", NC_HTTP_POST | NC_HTTP_DELETE, nc_nrt_v3_client_instance, 0},
    {"/nacos/v3/client/ns/instance/list", NC_HTTP_GET, nc_nrt_v3_client_list, 0},
    {"/nacos/v3/admin/ns/instance", ALL, nc_nrt_v3_admin_instance, 0},
    {"/nacos/v3/admin/ns/instance/list", NC_HTTP_GET, nc_nrt_v3_admin_list, 0},
    {"/nacos/v3/admin/ns/instance/partial", NC_HTTP_PUT, nc_nrt_v3_admin_partial, 0},
    {"/nacos/v1/ns/instance/metadata/batch", NC_HTTP_PUT | NC_HTTP_DELETE, nc_nrt_metadata_batch_v1, 0},
    {"/nacos/v2/ns/instance/metadata/batch", NC_HTTP_PUT | NC_HTTP_DELETE, nc_nrt_metadata_batch_v2, 0},
    {"/nacos/v3/admin/ns/instance/metadata/batch", NC_HTTP_PUT | NC_HTTP_DELETE,
     nc_nrt_metadata_batch_v2, 0},
    {"/nacos/v3/admin/ns/service", ALL, nc_nrt_v3_admin_service, 0},
    {"/nacos/v3/admin/ns/service/list", NC_HTTP_GET, nc_nrt_v3_admin_service_list, 0},
    {"/nacos/v3/admin/ns/service/subscribers", NC_HTTP_GET, nc_nrt_v3_subscribers, 0},
    {"/nacos/v3/admin/ns/service/selector/types", NC_HTTP_GET, nc_nrt_v3_selector_types, 0},
    {"/nacos/v3/admin/ns/health/instance", NC_HTTP_PUT, nc_nrt_v3_health_instance, 0},
    {"/nacos/v3/admin/ns/health/checkers", NC_HTTP_GET, nc_nrt_v3_health_checkers, 0},
    {"/nacos/v3/admin/ns/ops/metrics", NC_HTTP_GET, nc_nrt_v3_ops_metrics, 0},
    {"/nacos/v3/admin/ns/ops/switches", NC_HTTP_GET, nc_nrt_v3_ops_switches, 0},
    {"/nacos/v3/admin/ns/client/list", NC_HTTP_GET, nc_nrt_v3_client_ids, 0},
    {"/nacos/v3/admin/ns/client", NC_HTTP_GET, nc_nrt_v3_client_detail, 0},
    {"/nacos/v3/admin/ns/client/publish/list", NC_HTTP_GET, nc_nrt_v3_client_publishes, 0},
    {"/nacos/v3/admin/ns/client/service/publisher/list", NC_HTTP_GET, nc_nrt_v3_service_publishers,
     0},
    {"/nacos/v3/admin/ns/client/service/subscriber/list", NC_HTTP_GET,
     nc_nrt_v3_service_subscribers, 0},
    {"/nacos/v1/ns/cluster", NC_HTTP_PUT, nc_nrt_pst_cluster_v1, 0},
    {"/nacos/v1/ns/operator/metrics", NC_HTTP_GET, nc_nrt_operator_metrics_v1, 0},
    {"/nacos/v2/ns/operator/metrics", NC_HTTP_GET, nc_nrt_operator_metrics_v2, 0},
};
const size_t nc_naming_n_routes = sizeof(nc_naming_routes) / sizeof(nc_naming_routes[0]);
