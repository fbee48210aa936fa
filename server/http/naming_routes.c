/* naming_routes: see naming_routes.h. Parameter names, defaults, v1
 * bodies and v2 codes follow Nacos's InstanceController (v1) and
 * InstanceControllerV2; v1 errors are Nacos's "caused: <why>;" text. */
#include "naming_routes.h"
#include "naming_routes_int.h"
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
  *nr = (nc_nroutes){naming, beat, auth};
  *out = nr;
  return 0;
}
void nc_nroutes_free(nc_nroutes *nr) { free(nr); }

/* The envelopes are oapi_result.h's (shared with the config routes). */
void nc_nrt_fail(nc_http_req *r, int v2, int status, int code, const char *why) {
  nc_oapi_fail(r, v2, status, code, why);
}
void nc_nrt_ok_json(nc_http_req *r, int v2, cJSON *data) { nc_oapi_ok_json(r, v2, data); }
static void ok_text(nc_http_req *r, int v2, const char *text) {
  if (v2)
    nc_nrt_ok_json(r, 1, cJSON_CreateString(text));
  else
    nc_http_reply(r, 200, "text/plain;charset=UTF-8", text, strlen(text));
}

/* ---- parameters ---- */

/* Nacos's ConvertUtils.toBoolean: true, on, yes, y, t (any case). */
static int to_bool(const char *s, int def) {
  if (!s || !*s)
    return def;
  static const char *yes[] = {"true", "on", "yes", "y", "t"};
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
    if (!strcasecmp(s, yes[i]))
      return 1;
  return 0;
}

const char *nc_nrt_param(nc_http_req *r, const char *name) { return nc_oapi_param(r, name); }

/* namespaceId (default public), serviceName (required; "group@@name"
 * allowed), groupName (default DEFAULT_GROUP). 0, or answered. */
int nc_nrt_parse_svc(nc_http_req *r, int v2, svc_ref *s) {
  const char *ns = nc_nrt_param(r, "namespaceId");
  const char *sn = nc_nrt_param(r, "serviceName");
  const char *gn = nc_nrt_param(r, "groupName");
  if (!sn) {
    nc_nrt_fail(r, v2, 400, E_PARAM_MISSING,
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
    nc_nrt_fail(r, v2, 400, E_PARAM_VALIDATE, why);
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

/* ip (required) and port (required, 0..65535). 0, or answered. */
static int parse_addr(nc_http_req *r, int v2, const char **ip, int *port) {
  const char *p = nc_nrt_param(r, "port");
  *ip = nc_nrt_param(r, "ip");
  if (!*ip || !p) {
    const char *what = !*ip ? "ip" : "port";
    char why[128];
    if (v2)
      snprintf(why, sizeof(why), "Required parameter '%s' type %s is not present", what,
               !*ip ? "String" : "Integer");
    else
      snprintf(why, sizeof(why), "Param '%s' is required.", what);
    nc_nrt_fail(r, v2, 400, E_PARAM_MISSING, why);
    return -1;
  }
  if (strlen(*ip) > 128) {
    nc_nrt_fail(r, v2, 400, E_PARAM_VALIDATE, "Param 'ip' is longer than 128 characters");
    return -1;
  }
  char *end;
  errno = 0;
  long v = strtol(p, &end, 10);
  if (errno || *end || v < 0 || v > 65535) {
    nc_nrt_fail(r, v2, 400, E_PARAM_VALIDATE, "Param 'port' must be an integer 0..65535");
    return -1;
  }
  *port = (int)v;
  return 0;
}

/* metadata: a JSON object, or Nacos's "k=v,k2=v2" form. NULL = invalid. */
static cJSON *parse_metadata(const char *s) {
  if (!s)
    return cJSON_CreateObject();
  cJSON *j = cJSON_Parse(s);
  if (j)
    return cJSON_IsObject(j) ? j : (cJSON_Delete(j), NULL);
  cJSON *o = cJSON_CreateObject();
  char *copy = strdup(s), *save = NULL;
  for (char *kv = strtok_r(copy, ",", &save); kv && o; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
      cJSON_Delete(o);
      o = NULL;
      break;
    }
    *eq = '\0';
    cJSON_DeleteItemFromObjectCaseSensitive(o, kv);
    cJSON_AddStringToObject(o, kv, eq + 1);
  }
  free(copy);
  return o;
}

/* The Instance JSON of a register/update request, with base (the stored
 * instance, may be NULL) supplying what the request leaves out. NULL when
 * answered. */
static cJSON *build_instance(nc_http_req *r, int v2, const char *ip, int port,
                             const cJSON *base) {
  const char *w = nc_nrt_param(r, "weight");
  const char *md = nc_nrt_param(r, "metadata");
  const char *cl = nc_nrt_param(r, "clusterName");
  const char *en = nc_nrt_param(r, "enabled");
  if (!en)
    en = nc_nrt_param(r, "enable");
  double weight = base ? cJSON_GetNumberValue(cJSON_GetObjectItem(base, "weight")) : 1.0;
  if (w) {
    char *end;
    weight = strtod(w, &end);
    if (*end || !isfinite(weight) || weight < 0 || weight > 10000) {
      nc_nrt_fail(r, v2, 400, E_WEIGHT, "instance format invalid: The weights range from 0.0 to 10000.0");
      return NULL;
    }
  }
  cJSON *meta = md ? parse_metadata(md)
                   : (base ? cJSON_Duplicate(cJSON_GetObjectItem(base, "metadata"), 1)
                           : cJSON_CreateObject());
  if (!meta) {
    nc_nrt_fail(r, v2, 400, E_METADATA, "instance metadata must be a JSON object or k=v,k=v");
    return NULL;
  }
  const cJSON *bcl = base ? cJSON_GetObjectItem(base, "clusterName") : NULL;
  cJSON *in = cJSON_CreateObject();
  cJSON_AddStringToObject(in, "ip", ip);
  cJSON_AddNumberToObject(in, "port", port);
  cJSON_AddNumberToObject(in, "weight", weight);
  cJSON_AddBoolToObject(in, "healthy", to_bool(nc_nrt_param(r, "healthy"), 1));
  int def_en = base ? cJSON_IsTrue(cJSON_GetObjectItem(base, "enabled")) : 1;
  cJSON_AddBoolToObject(in, "enabled", to_bool(en, def_en));
  cJSON_AddBoolToObject(in, "ephemeral", 1);
  cJSON_AddStringToObject(in, "clusterName",
                          cl ? cl : (cJSON_IsString(bcl) ? bcl->valuestring : "DEFAULT"));
  cJSON_AddItemToObject(in, "metadata", meta);
  return in;
}

/* ephemeral=false asks for a persistent instance, which nacosd does not
 * keep yet: refused rather than silently made ephemeral. */
static int refuse_persistent(nc_http_req *r, int v2) {
  if (to_bool(nc_nrt_param(r, "ephemeral"), 1))
    return 0;
  nc_nrt_fail(r, v2, 400, E_PARAM_VALIDATE,
       "persistent instances (ephemeral=false) are not supported by this server");
  return 1;
}

static int svc_addr(nc_nroutes *nr, nc_http_req *r, int v2, svc_ref *s, const char **ip,
                    int *port, char action) {
  return nc_nrt_parse_svc(r, v2, s) == 0 && parse_addr(r, v2, ip, port) == 0 &&
         nc_nrt_permitted(nr, r, s, action);
}

/* ---- handlers ---- */

static void do_register(nc_nroutes *nr, nc_http_req *r, int v2) {
  svc_ref s;
  const char *ip, *err = NULL;
  int port;
  if (!svc_addr(nr, r, v2, &s, &ip, &port, 'w') || refuse_persistent(r, v2))
    return;
  cJSON *in = build_instance(r, v2, ip, port, NULL);
  if (!in)
    return;
  int rc = nc_nbeat_register(nr->beat, s.ns, s.group, s.name, in, &err);
  cJSON_Delete(in);
  if (rc == NC_EINVAL)
    nc_nrt_fail(r, v2, 400, E_INSTANCE, err ? err : "invalid instance");
  else if (rc)
    nc_nrt_fail(r, v2, 500, E_SERVER, nc_strerror(rc));
  else
    ok_text(r, v2, "ok");
}

static void do_deregister(nc_nroutes *nr, nc_http_req *r, int v2) {
  svc_ref s;
  const char *ip;
  int port;
  if (!svc_addr(nr, r, v2, &s, &ip, &port, 'w'))
    return;
  /* Nacos answers ok for an instance it does not hold. */
  nc_nbeat_deregister(nr->beat, s.ns, s.group, s.name, ip, port);
  ok_text(r, v2, "ok");
}

static void do_update(nc_nroutes *nr, nc_http_req *r, int v2) {
  svc_ref s;
  const char *ip, *err = NULL;
  int port;
  if (!svc_addr(nr, r, v2, &s, &ip, &port, 'w') || refuse_persistent(r, v2))
    return;
  const cJSON *base = nc_nbeat_get(nr->beat, s.ns, s.group, s.name, ip, port);
  if (!base) {
    char why[4 * NAME_CAP + 400];
    snprintf(why, sizeof(why), "instance not found: %s:%d in service %s of namespace %s (only "
             "instances registered over HTTP can be updated here)", ip, port, s.grouped, s.ns);
    nc_nrt_fail(r, v2, v2 ? 404 : 400, E_NOT_FOUND, why);
    return;
  }
  cJSON *in = build_instance(r, v2, ip, port, base);
  if (!in)
    return;
  int rc = nc_nbeat_register(nr->beat, s.ns, s.group, s.name, in, &err);
  cJSON_Delete(in);
  if (rc == NC_EINVAL)
    nc_nrt_fail(r, v2, 400, E_INSTANCE, err ? err : "invalid instance");
  else if (rc)
    nc_nrt_fail(r, v2, 500, E_SERVER, nc_strerror(rc));
  else
    ok_text(r, v2, "ok");
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
  if (!svc_addr(nr, r, v2, &s, &ip, &port, 'r'))
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

static void do_list(nc_nroutes *nr, nc_http_req *r, int v2) {
  svc_ref s;
  if (nc_nrt_parse_svc(r, v2, &s) || !nc_nrt_permitted(nr, r, &s, 'r'))
    return;
  /* v1 names the filter clusters, v2 clusterName */
  const char *cl = nc_nrt_param(r, v2 ? "clusterName" : "clusters");
  if (!cl)
    cl = nc_nrt_param(r, v2 ? "clusters" : "clusterName");
  int healthy_only = to_bool(nc_nrt_param(r, "healthyOnly"), 0);
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

/* PUT .../instance/beat: the beat JSON (ip, port, cluster, weight,
 * metadata) or ip/port/clusterName parameters. A known instance is renewed
 * (code 10200); an unknown one is registered from the beat JSON (10200,
 * as Nacos does) or, without one, answered 20404 so the client registers
 * again. */
static void do_beat(nc_nroutes *nr, nc_http_req *r, int v2) {
  svc_ref s;
  if (nc_nrt_parse_svc(r, v2, &s) || !nc_nrt_permitted(nr, r, &s, 'w'))
    return;
  const char *beat_s = nc_nrt_param(r, "beat");
  cJSON *beat = beat_s ? cJSON_Parse(beat_s) : NULL;
  if (beat_s && !cJSON_IsObject(beat)) {
    cJSON_Delete(beat);
    nc_nrt_fail(r, v2, 400, E_PARAM_VALIDATE, "Param 'beat' must be a JSON object");
    return;
  }
  const char *ip = nc_nrt_param(r, "ip");
  long port = nc_nrt_param(r, "port") ? strtol(nc_nrt_param(r, "port"), NULL, 10) : 0;
  const char *cl = nc_nrt_param(r, "clusterName");
  if (beat) {
    ip = cJSON_GetStringValue(cJSON_GetObjectItem(beat, "ip"));
    port = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(beat, "port"));
    const char *bc = cJSON_GetStringValue(cJSON_GetObjectItem(beat, "cluster"));
    if (bc && *bc)
      cl = bc;
  }
  if (!ip || !*ip || strlen(ip) > 128 || port <= 0 || port > 65535) {
    cJSON_Delete(beat);
    nc_nrt_fail(r, v2, 400, E_PARAM_MISSING, "Param 'ip' and 'port' (or 'beat') are required.");
    return;
  }
  int code = 10200;
  if (nc_nbeat_beat(nr->beat, s.ns, s.group, s.name, ip, (int)port) == NC_ENOTFOUND) {
    if (!beat) {
      code = 20404;
    } else {
      const cJSON *w = cJSON_GetObjectItem(beat, "weight");
      const cJSON *md = cJSON_GetObjectItem(beat, "metadata");
      cJSON *in = cJSON_CreateObject();
      cJSON_AddStringToObject(in, "ip", ip);
      cJSON_AddNumberToObject(in, "port", (double)port);
      cJSON_AddNumberToObject(in, "weight", cJSON_IsNumber(w) ? w->valuedouble : 1.0);
      cJSON_AddBoolToObject(in, "healthy", 1);
      cJSON_AddBoolToObject(in, "enabled", 1);
      cJSON_AddBoolToObject(in, "ephemeral", 1);
      cJSON_AddStringToObject(in, "clusterName", cl ? cl : "DEFAULT");
      cJSON_AddItemToObject(in, "metadata",
                            cJSON_IsObject(md) ? cJSON_Duplicate(md, 1) : cJSON_CreateObject());
      const char *err = NULL;
      int rc = nc_nbeat_register(nr->beat, s.ns, s.group, s.name, in, &err);
      cJSON_Delete(in);
      if (rc) {
        cJSON_Delete(beat);
        nc_nrt_fail(r, v2, 400, E_INSTANCE, err ? err : nc_strerror(rc));
        return;
      }
      nc_info("naming: beat from unknown %s:%ld registered it in %s", ip, port, s.grouped);
    }
  }
  cJSON_Delete(beat);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "clientBeatInterval", (double)nc_nbeat_interval_ms(nr->beat));
  cJSON_AddNumberToObject(o, "code", code);
  cJSON_AddBoolToObject(o, "lightBeatEnabled", 1);
  nc_nrt_ok_json(r, v2, o);
}

/* ---- route table ---- */

static void h_instance(void *ud, nc_http_req *r, int v2) {
  const char *m = nc_http_method(r);
  if (!strcmp(m, "POST"))
    do_register(ud, r, v2);
  else if (!strcmp(m, "DELETE"))
    do_deregister(ud, r, v2);
  else if (!strcmp(m, "PUT"))
    do_update(ud, r, v2);
  else
    do_get(ud, r, v2);
}
static void h_instance_v1(void *ud, nc_http_req *r) { h_instance(ud, r, 0); }
static void h_instance_v2(void *ud, nc_http_req *r) { h_instance(ud, r, 1); }
static void h_list_v1(void *ud, nc_http_req *r) { do_list(ud, r, 0); }
static void h_list_v2(void *ud, nc_http_req *r) { do_list(ud, r, 1); }
static void h_beat_v1(void *ud, nc_http_req *r) { do_beat(ud, r, 0); }
static void h_beat_v2(void *ud, nc_http_req *r) { do_beat(ud, r, 1); }

#define ALL (NC_HTTP_GET | NC_HTTP_POST | NC_HTTP_PUT | NC_HTTP_DELETE)
/* flags 0: with auth on srv_http wants a valid token; the handlers then
 * check the namespace permission. */
const nc_http_route nc_naming_routes[] = {
    {"/nacos/v1/ns/instance", ALL, h_instance_v1, 0},
    {"/nacos/v1/ns/instance/list", NC_HTTP_GET, h_list_v1, 0},
    {"/nacos/v1/ns/instance/beat", NC_HTTP_PUT, h_beat_v1, 0},
    {"/nacos/v2/ns/instance", ALL, h_instance_v2, 0},
    {"/nacos/v2/ns/instance/list", NC_HTTP_GET, h_list_v2, 0},
    {"/nacos/v2/ns/instance/beat", NC_HTTP_PUT, h_beat_v2, 0},
    {"/nacos/v1/ns/service", NC_HTTP_GET, nc_nrt_service_get_v1, 0},
    {"/nacos/v1/ns/service/list", NC_HTTP_GET, nc_nrt_service_list_v1, 0},
    {"/nacos/v2/ns/service", NC_HTTP_GET, nc_nrt_service_get_v2, 0},
    {"/nacos/v2/ns/service/list", NC_HTTP_GET, nc_nrt_service_list_v2, 0},
    {"/nacos/v1/ns/operator/metrics", NC_HTTP_GET, nc_nrt_operator_metrics_v1, 0},
    {"/nacos/v2/ns/operator/metrics", NC_HTTP_GET, nc_nrt_operator_metrics_v2, 0},
};
const size_t nc_naming_n_routes = sizeof(nc_naming_routes) / sizeof(nc_naming_routes[0]);
