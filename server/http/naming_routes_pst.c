/* naming_routes_pst: see naming_routes_pst.h. Refusals are Nacos's: a
 * service of the other kind is its NacosRuntimeException(400), which the
 * v1 API answers 400 with the exception's text and the v2 API 400 with
 * Result {code 30000, data: the text}. */
#include "naming_routes_pst.h"
#include "oapi_result.h"

#include "naming_health.h"
#include "naming_pstore.h"
#include "nc_err.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nc_nrt_pst_wanted(const nrt_call *c) {
  return !nc_nrt_to_bool(nc_nrt_cparam(c, "ephemeral"), 1);
}

/* A refusal of Nacos's NacosRuntimeException kind. */
static void refuse_400(nrt_call *c, const char *msg) {
  if (c->http && !c->v2)
    nc_http_reply(c->http, 400, "text/plain;charset=UTF-8", msg, strlen(msg));
  else
    nc_nrt_cfail(c, 400, E_SERVER, msg);
}

void nc_nrt_pst_kind_refused(nrt_call *c, const svc_ref *s, const char *what) {
  char msg[3 * NAME_CAP];
  refuse_400(c, nc_npstore_kind_msg(msg, sizeof(msg), s->group, s->name, 1, what));
}

/* One store call in flight for an HTTP request. */
typedef struct pcall {
  nc_http_req *http; /* NULL once the server dropped it */
  int v2;
} pcall;

static void on_abort(void *ud, nc_http_req *r) {
  (void)r;
  ((pcall *)ud)->http = NULL; /* the server answers it (503); the result is dropped */
}

static void on_done(void *ud, int rc, const char *msg) {
  pcall *p = ud;
  if (p->http) {
    nrt_call c = NRT_HTTP(p->http, p->v2);
    if (!rc)
      nc_nrt_cok_text(&c, "ok");
    else if (rc == NC_ECONFLICT)
      refuse_400(&c, msg);
    else if (rc == NC_EINVAL)
      nc_nrt_cfail(&c, 400, E_INSTANCE, msg ? msg : "invalid instance");
    else
      nc_nrt_cfail(&c, rc == NC_EUNAVAIL || rc == NC_ECLOSED ? 503 : 500, E_SERVER,
                   msg ? msg : nc_strerror(rc));
  }
  free(p);
}

/* The store and a held call, or NULL when answered (no store, no memory,
 * no HTTP request to answer later). */
static pcall *begin(nc_nroutes *nr, nrt_call *c, nc_npstore **ps) {
  *ps = nc_naming_pstore(nr->naming);
  if (!*ps) {
    nc_nrt_cfail(c, 400, E_PARAM_VALIDATE,
                 "persistent instances (ephemeral=false) are not served by this server");
    return NULL;
  }
  if (!c->http) {
    nc_nrt_cfail(c, 500, E_SERVER, "a persistent instance write cannot be forwarded");
    return NULL;
  }
  pcall *p = malloc(sizeof(*p));
  if (!p) {
    nc_nrt_cfail(c, 500, E_SERVER, "out of memory");
    return NULL;
  }
  p->http = c->http;
  p->v2 = c->v2;
  nc_http_hold_abort(c->http, on_abort, p);
  return p;
}

void nc_nrt_pst_register(nc_nroutes *nr, nrt_call *c, const svc_ref *s, cJSON *in) {
  nc_npstore *ps;
  pcall *p = begin(nr, c, &ps);
  if (p)
    nc_npstore_register(ps, s->ns, s->group, s->name, in, on_done, p);
  cJSON_Delete(in);
}

void nc_nrt_pst_deregister(nc_nroutes *nr, nrt_call *c, const svc_ref *s, const char *ip,
                           int port) {
  nc_npstore *ps;
  pcall *p = begin(nr, c, &ps);
  if (p)
    nc_npstore_deregister(ps, s->ns, s->group, s->name, ip, port, on_done, p);
}

int nc_nrt_pst_refuses(nc_nroutes *nr, nrt_call *c, const svc_ref *s) {
  nc_npstore *ps = nc_naming_pstore(nr->naming);
  if (!ps || !nc_npstore_has_service(ps, s->ns, s->group, s->name))
    return 0;
  nc_nrt_pst_kind_refused(c, s, "register ephemeral instance");
  return 1;
}

/* A required parameter, or NULL when answered (Nacos's v1 text). */
static const char *required(nrt_call *c, const char *name) {
  const char *v = nc_nrt_cparam(c, name);
  if (!v) {
    char why[96];
    snprintf(why, sizeof(why), "Param '%s' is required.", name);
    nc_nrt_cfail(c, 400, E_PARAM_MISSING, why);
  }
  return v;
}

void nc_nrt_pst_cluster_v1(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  nrt_call c = NRT_HTTP(r, 0);
  svc_ref s;
  nc_nhealth_checker chk;
  const char *cl, *cp, *use, *hc;
  if (nc_nrt_cparse_svc(&c, &s) || !nc_nrt_permitted(nr, r, &s, 'w') ||
      !(cl = required(&c, "clusterName")) || !(cp = required(&c, "checkPort")) ||
      !(use = required(&c, "useInstancePort4Check")) || !(hc = required(&c, "healthChecker")))
    return;
  char *end;
  long port = strtol(cp, &end, 10);
  if (strlen(cl) > 128 || strspn(cl, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-") != strlen(cl)) {
    nc_nrt_cfail(&c, 400, E_PARAM_VALIDATE, "Param 'clusterName' must match [0-9a-zA-Z-]+");
    return;
  }
  if (*end || port < 0 || port > 65535) {
    nc_nrt_cfail(&c, 400, E_PARAM_VALIDATE, "Param 'checkPort' must be an integer 0..65535");
    return;
  }
  if (nc_nhealth_checker_parse(hc, &chk) != 0) {
    nc_nrt_cfail(&c, 400, E_PARAM_VALIDATE,
                 "Param 'healthChecker' must be a health checker JSON of type TCP, HTTP or NONE");
    return;
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "healthChecker", cJSON_Parse(hc));
  cJSON_AddNumberToObject(o, "checkPort", (double)port);
  cJSON_AddBoolToObject(o, "useInstancePort4Check", nc_nrt_to_bool(use, 1));
  char *json = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  nc_npstore *ps;
  pcall *p = json ? begin(nr, &c, &ps) : NULL;
  if (!json)
    nc_nrt_cfail(&c, 500, E_SERVER, "out of memory");
  else if (p)
    nc_npstore_set_checker(ps, s.ns, s.group, s.name, cl, json, on_done, p);
  free(json);
}
