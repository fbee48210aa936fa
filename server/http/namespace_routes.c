/* namespace_routes: see namespace_routes.h. Parameter names, texts and
 * codes follow Nacos's NamespaceController, NamespaceControllerV2 and
 * NamespaceOperationService; validation is config_ns.c's. */
#include "namespace_routes.h"

#include "config_ns.h"
#include "nc_err.h"
#include "oapi_result.h"
#include "srv_http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

struct nc_nsroutes {
  nc_config_service *cs;
};

int nc_nsroutes_new(nc_config_service *cs, nc_nsroutes **out) {
  nc_nsroutes *ns = calloc(1, sizeof(*ns));
  if (!ns)
    return NC_ENOMEM;
  ns->cs = cs;
  *out = ns;
  return 0;
}
void nc_nsroutes_free(nc_nsroutes *ns) { free(ns); }

/* What a held request answers once the store replied. */
typedef enum {
  A_LIST_V1, A_LIST_V2, A_ONE_V1, A_ONE_V2, A_EXISTS, A_WRITE_V1, A_WRITE_V2, A_COUNT_V3,
  A_EXIST_V3
} answer;

typedef struct pending {
  nc_http_req *r; /* NULL once the server dropped the request */
  nc_nsroutes *ns;
  answer a;
  char *id; /* A_ONE_*, A_EXISTS, A_COUNT_V3: the namespace asked for */
  int v3;   /* a /v3/admin/core path: the default namespace is named "public" */
} pending;

static void on_abort(void *ud, nc_http_req *r) {
  (void)r;
  ((pending *)ud)->r = NULL;
}

static pending *hold(nc_http_req *r, nc_nsroutes *ns, answer a, const char *id) {
  pending *p = calloc(1, sizeof(*p));
  if (p && id && !(p->id = strdup(id))) {
    free(p);
    p = NULL;
  }
  if (!p) {
    nc_oapi_fail(r, a != A_LIST_V1 && a != A_ONE_V1 && a != A_EXISTS && a != A_WRITE_V1, 500,
                 NC_OAPI_SERVER, "out of memory");
    return NULL;
  }
  p->r = r;
  p->ns = ns;
  p->a = a;
  nc_http_hold_abort(r, on_abort, p);
  return p;
}

/* Takes p; the request it held, or NULL when dropped. */
static nc_http_req *release(pending *p) {
  nc_http_req *r = p->r;
  if (r)
    nc_http_hold_abort(r, NULL, NULL);
  free(p->id);
  free(p);
  return r;
}

static void reply_text(nc_http_req *r, const char *s) {
  nc_http_reply(r, 200, "text/plain;charset=UTF-8", s, strlen(s));
}

/* A Namespace / NamespaceAllInfo object. */
static cJSON *ns_json(nc_nsroutes *ns, const char *id, const char *name, const char *desc,
                      int type) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddStringToObject(o, "namespace", id);
  cJSON_AddStringToObject(o, "namespaceShowName", name);
  cJSON_AddStringToObject(o, "namespaceDesc", desc);
  cJSON_AddNumberToObject(o, "quota", 200);
  cJSON_AddNumberToObject(o, "configCount", (double)nc_config_ns_configs(ns->cs, id));
  cJSON_AddNumberToObject(o, "type", type);
  return o;
}

static cJSON *public_json(nc_nsroutes *ns, const char *id) {
  return ns_json(ns, id, "public", "Public Namespace", 0);
}

/* v1 list: RestResult {code 200, data}; "message" is null in Nacos and
 * left out here (nacos-c never sends null). */
static void reply_v1_list(nc_http_req *r, cJSON *arr) {
  cJSON *o = cJSON_CreateObject();
  if (o) {
    cJSON_AddNumberToObject(o, "code", 200);
    cJSON_AddItemToObject(o, "data", arr);
    arr = NULL;
  }
  cJSON_Delete(arr);
  nc_oapi_ok_json(r, 0, o);
}

static void list_done(void *ud, int code, const char *message, const nc_cfg_ns *rows, size_t n) {
  pending *p = ud;
  nc_nsroutes *ns = p->ns;
  answer a = p->a;
  int v3 = p->v3;
  char *id = p->id ? strdup(p->id) : NULL;
  nc_http_req *r = release(p);
  if (!r)
    goto out;
  int v2 = a == A_LIST_V2 || a == A_ONE_V2 || a == A_COUNT_V3 || a == A_EXIST_V3;
  if (code) {
    nc_oapi_fail(r, v2, 500, NC_OAPI_SERVER, message);
    goto out;
  }
  if (a == A_LIST_V1 || a == A_LIST_V2) {
    cJSON *arr = cJSON_CreateArray();
    /* 2.x names the default namespace "", 3.x "public" */
    cJSON_AddItemToArray(arr, public_json(ns, v3 ? "public" : ""));
    for (size_t i = 0; i < n; i++)
      cJSON_AddItemToArray(arr, ns_json(ns, rows[i].id, rows[i].name, rows[i].desc, 2));
    if (a == A_LIST_V1)
      reply_v1_list(r, arr);
    else
      nc_oapi_ok_json(r, 1, arr);
    goto out;
  }
  const nc_cfg_ns *hit = NULL;
  for (size_t i = 0; i < n && !hit && id; i++)
    if (!strcmp(rows[i].id, id))
      hit = &rows[i];
  if (a == A_EXISTS) {
    reply_text(r, hit ? "true" : "false");
    goto out;
  }
  if (a == A_COUNT_V3) { /* Nacos: the number of stored rows with that id */
    nc_oapi_ok_json(r, 1, cJSON_CreateNumber(hit ? 1 : 0));
    goto out;
  }
  if (a == A_EXIST_V3) {
    nc_oapi_ok_json(r, 1, cJSON_CreateBool(hit != NULL));
    goto out;
  }
  if (!hit) {
    char why[200];
    snprintf(why, sizeof(why), "namespaceId [ %.128s ] not exist", id ? id : "");
    if (v2)
      nc_oapi_fail(r, 1, 404, NC_OAPI_NS_NOT_EXIST, why);
    else
      nc_oapi_fail(r, 0, 500, NC_OAPI_SERVER, why);
    goto out;
  }
  nc_oapi_ok_json(r, v2, ns_json(ns, hit->id, hit->name, hit->desc, 2));
out:
  free(id);
}

static void write_done(void *ud, int code, const char *message) {
  pending *p = ud;
  int v2 = p->a == A_WRITE_V2;
  nc_http_req *r = release(p);
  if (!r)
    return;
  if (!code) {
    if (v2)
      nc_oapi_ok_json(r, 1, cJSON_CreateBool(1));
    else
      reply_text(r, "true");
    return;
  }
  if (!v2 && (code == NC_EINVAL || code == NC_EEXISTS || code == NC_ENOTFOUND)) {
    reply_text(r, "false"); /* NamespaceController's answer for a refused write */
    return;
  }
  if (code == NC_EINVAL)
    nc_oapi_fail(r, 1, 400, NC_OAPI_NS_ILLEGAL, message);
  else if (code == NC_EEXISTS)
    nc_oapi_fail(r, 1, 500, NC_OAPI_NS_EXIST, message);
  else if (code == NC_ENOTFOUND)
    nc_oapi_fail(r, 1, 404, NC_OAPI_NS_NOT_EXIST, message);
  else
    nc_oapi_fail(r, v2, 500, NC_OAPI_SERVER, message);
}

/* A required parameter, or NULL answered: v1 Spring's missing-parameter
 * text (400), v2 Nacos's "required parameter '<p>' is missing" (10000). */
static const char *need(nc_http_req *r, int v2, const char *name) {
  const char *v = v2 ? nc_oapi_param(r, name) : nc_http_param(r, name);
  if (v)
    return v;
  char why[128];
  if (v2)
    snprintf(why, sizeof(why), "required parameter '%s' is missing", name);
  else
    snprintf(why, sizeof(why), "Required parameter '%s' type String is not present", name);
  nc_oapi_fail(r, v2, 400, NC_OAPI_PARAM_MISSING, why);
  return NULL;
}

/* One namespace's JSON: the default one at once, else after a list. */
static void get_one(nc_nsroutes *ns, nc_http_req *r, int v2, const char *id) {
  if (nc_config_ns_is_default(id)) {
    nc_oapi_ok_json(r, v2, public_json(ns, id));
    return;
  }
  pending *p = hold(r, ns, v2 ? A_ONE_V2 : A_ONE_V1, id);
  if (p)
    nc_config_ns_list(ns->cs, list_done, p);
}

static void write_op(nc_nsroutes *ns, nc_http_req *r, int v2, nc_cfg_ns_op op, const char *id,
                     const char *name, const char *desc) {
  pending *p = hold(r, ns, v2 ? A_WRITE_V2 : A_WRITE_V1, NULL);
  if (p)
    nc_config_ns_write(ns->cs, op, id, name, desc, write_done, p);
}

/* A random (version 4) UUID, as Nacos makes up for a blank id. */
static void make_uuid(char out[37]) {
  uint8_t b[16] = {0};
  if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
    for (size_t i = 0; i < sizeof(b); i++) /* no getrandom: still unique enough here */
      b[i] = (uint8_t)(rand() & 0xff);
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

static void h_v1_get(void *ud, nc_http_req *r) {
  nc_nsroutes *ns = ud;
  const char *show = nc_http_param(r, "show"), *check = nc_http_param(r, "checkNamespaceIdExist");
  if (show && !strcmp(show, "all")) {
    const char *id = nc_http_param(r, "namespaceId");
    get_one(ns, r, 0, id ? id : "");
  } else if (check && !strcasecmp(check, "true")) {
    const char *id = nc_oapi_param(r, "customNamespaceId");
    if (!id || nc_config_ns_is_default(id)) { /* Nacos: a blank id "exists" = false */
      reply_text(r, id ? "true" : "false");
      return;
    }
    pending *p = hold(r, ns, A_EXISTS, id);
    if (p)
      nc_config_ns_list(ns->cs, list_done, p);
  } else {
    pending *p = hold(r, ns, A_LIST_V1, NULL);
    if (p)
      nc_config_ns_list(ns->cs, list_done, p);
  }
}

/* Create from customNamespaceId (blank: made up) and namespaceName: the
 * v1 console's and the 3.x console's form. */
static void create_custom(void *ud, nc_http_req *r, int v2) {
  const char *name = need(r, v2, "namespaceName");
  if (!name)
    return;
  const char *id = nc_oapi_param(r, "customNamespaceId");
  char uuid[37];
  if (!id) {
    make_uuid(uuid);
    id = uuid;
  }
  write_op(ud, r, v2, NC_NS_CREATE, id, name, nc_http_param(r, "namespaceDesc"));
}
static void h_v1_post(void *ud, nc_http_req *r) { create_custom(ud, r, 0); }

static void h_v1_put(void *ud, nc_http_req *r) {
  const char *id = need(r, 0, "namespace"), *name = id ? need(r, 0, "namespaceShowName") : NULL;
  if (name)
    write_op(ud, r, 0, NC_NS_UPDATE, id, name, nc_http_param(r, "namespaceDesc"));
}

static void h_v1_delete(void *ud, nc_http_req *r) {
  const char *id = need(r, 0, "namespaceId");
  if (id)
    write_op(ud, r, 0, NC_NS_DELETE, id, NULL, NULL);
}

static void h_v2_list(void *ud, nc_http_req *r) {
  pending *p = hold(r, ud, A_LIST_V2, NULL);
  if (p)
    nc_config_ns_list(((nc_nsroutes *)ud)->cs, list_done, p);
}

static void h_v2_get(void *ud, nc_http_req *r) {
  const char *id = need(r, 1, "namespaceId");
  if (id)
    get_one(ud, r, 1, id);
}

static void h_v2_write(void *ud, nc_http_req *r, nc_cfg_ns_op op) {
  const char *id = need(r, 1, "namespaceId");
  const char *name = id && op != NC_NS_DELETE ? need(r, 1, "namespaceName") : NULL;
  if (id && (name || op == NC_NS_DELETE))
    write_op(ud, r, 1, op, id, name, nc_http_param(r, "namespaceDesc"));
}
static void h_v2_put(void *ud, nc_http_req *r) { h_v2_write(ud, r, NC_NS_UPDATE); }
static void h_v2_delete(void *ud, nc_http_req *r) { h_v2_write(ud, r, NC_NS_DELETE); }

/* ---- 3.x admin (NamespaceControllerV3): v2's answers, the default
 * namespace named "public", and /check counting the stored rows with
 * the id ---- */

static void h_v3_list(void *ud, nc_http_req *r) {
  pending *p = hold(r, ud, A_LIST_V2, NULL);
  if (p) {
    p->v3 = 1;
    nc_config_ns_list(((nc_nsroutes *)ud)->cs, list_done, p);
  }
}

static void h_v3_get(void *ud, nc_http_req *r) {
  const char *id = nc_http_param(r, "namespaceId"); /* present but "": the default */
  if (!id && !(id = need(r, 1, "namespaceId")))
    return;
  if (nc_config_ns_is_default(id))
    id = "public";
  get_one(ud, r, 1, id);
}

/* v2 and v3 create (NamespaceControllerV2/V3): namespaceId must be given,
 * and a blank one is made up. */
static void h_v23_post(void *ud, nc_http_req *r) {
  const char *id = nc_http_param(r, "namespaceId");
  if (!id) {
    need(r, 1, "namespaceId");
    return;
  }
  const char *name = need(r, 1, "namespaceName");
  if (!name)
    return;
  char uuid[37];
  while (*id == ' ')
    id++;
  if (!*id) {
    make_uuid(uuid);
    id = uuid;
  }
  write_op(ud, r, 1, NC_NS_CREATE, id, name, nc_http_param(r, "namespaceDesc"));
}

static void h_v3_check(void *ud, nc_http_req *r) {
  const char *id = need(r, 1, "namespaceId");
  if (!id)
    return;
  if (nc_config_ns_is_default(id)) { /* never stored, always there */
    nc_oapi_ok_json(r, 1, cJSON_CreateNumber(1));
    return;
  }
  pending *p = hold(r, ud, A_COUNT_V3, id);
  if (p)
    nc_config_ns_list(((nc_nsroutes *)ud)->cs, list_done, p);
}

/* ---- 3.x console (ConsoleNamespaceController): create takes
 * customNamespaceId (blank: made up), /exist answers a boolean ---- */

static void h_c3_post(void *ud, nc_http_req *r) { create_custom(ud, r, 1); }

static void h_c3_exist(void *ud, nc_http_req *r) {
  const char *id = nc_oapi_param(r, "customNamespaceId");
  if (!id || nc_config_ns_is_default(id)) { /* blank: a new one would be made up */
    nc_oapi_ok_json(r, 1, cJSON_CreateBool(id != NULL));
    return;
  }
  pending *p = hold(r, ud, A_EXIST_V3, id);
  if (p)
    nc_config_ns_list(((nc_nsroutes *)ud)->cs, list_done, p);
}

#define V1 "/nacos/v1/console/namespaces"
#define V2 "/nacos/v2/console/namespace"
#define V3 "/nacos/v3/admin/core/namespace"
#define C3 "/nacos/v3/console/core/namespace"
/* Reads: any valid token (flags 0); writes: a global admin, as Nacos's
 * @Secured console resource "namespaces" with action WRITE resolves for
 * the built-in roles. */
const nc_http_route nc_namespace_routes[] = {
    {V1, NC_HTTP_GET, h_v1_get, 0},
    {V1, NC_HTTP_POST, h_v1_post, NC_SHTTP_ADMIN},
    {V1, NC_HTTP_PUT, h_v1_put, NC_SHTTP_ADMIN},
    {V1, NC_HTTP_DELETE, h_v1_delete, NC_SHTTP_ADMIN},
    {V2, NC_HTTP_GET, h_v2_get, 0},
    {V2, NC_HTTP_POST, h_v23_post, NC_SHTTP_ADMIN},
    {V2, NC_HTTP_PUT, h_v2_put, NC_SHTTP_ADMIN},
    {V2, NC_HTTP_DELETE, h_v2_delete, NC_SHTTP_ADMIN},
    {V2 "/list", NC_HTTP_GET, h_v2_list, 0},
    {V3, NC_HTTP_GET, h_v3_get, 0},
    {V3, NC_HTTP_POST, h_v23_post, NC_SHTTP_ADMIN},
    {V3, NC_HTTP_PUT, h_v2_put, NC_SHTTP_ADMIN},
    {V3, NC_HTTP_DELETE, h_v2_delete, NC_SHTTP_ADMIN},
    {V3 "/list", NC_HTTP_GET, h_v3_list, 0},
    {V3 "/check", NC_HTTP_GET, h_v3_check, 0},
    {C3, NC_HTTP_GET, h_v3_get, 0},
    {C3, NC_HTTP_POST, h_c3_post, NC_SHTTP_ADMIN},
    {C3, NC_HTTP_PUT, h_v2_put, NC_SHTTP_ADMIN},
    {C3, NC_HTTP_DELETE, h_v2_delete, NC_SHTTP_ADMIN},
    {C3 "/list", NC_HTTP_GET, h_v3_list, 0},
    {C3 "/exist", NC_HTTP_GET, h_c3_exist, 0},
};
const size_t nc_namespace_n_routes = sizeof(nc_namespace_routes) / sizeof(nc_namespace_routes[0]);
