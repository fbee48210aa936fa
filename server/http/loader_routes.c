/* loader_routes: see loader_routes.h. */
#include "loader_routes.h"

#include "auth_routes.h"
#include "nc_err.h"
#include "nc_log.h"
#include "srv_http.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One HTTP call waiting for its operation. */
typedef struct pend {
  nc_http_req *r; /* NULL once the server dropped it */
  int v3, raw_json, in_call, done;
  const char *ok_text; /* 2.x success text: "success", "Ok" */
} pend;

/* "user@peer" for the log: the token's subject (the route's check has
 * verified it when auth is on), else anonymous. */
static void who_of(nc_http_req *r, char *buf, size_t cap) {
  const char *tok = nc_auth_http_token(r);
  char user[128] = "anonymous";
  const char *dot1 = tok ? strchr(tok, '.') : NULL, *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
  if (dot2 && dot2 - dot1 - 1 < 1024) {
    unsigned char bin[1024];
    size_t n = 0;
    if (sodium_base642bin(bin, sizeof(bin) - 1, dot1 + 1, (size_t)(dot2 - dot1 - 1), NULL, &n,
                          NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0) {
      bin[n] = 0;
      cJSON *o = cJSON_Parse((const char *)bin);
      const cJSON *sub = cJSON_GetObjectItemCaseSensitive(o, "sub");
      if (cJSON_IsString(sub))
        snprintf(user, sizeof(user), "%s", sub->valuestring);
      cJSON_Delete(o);
    }
  }
  snprintf(buf, cap, "%s@%s", NC_LOG_ESC(user), nc_http_peer(r));
}

static void reply_json(nc_http_req *r, int status, const cJSON *o) {
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  if (!s) {
    nc_http_reply_error(r, 500, "out of memory");
    return;
  }
  nc_http_reply(r, status, "application/json", s, strlen(s));
  free(s);
}

/* 3.x: the Result as is. 2.x: the data (JSON routes) or the success text;
 * an error as its one-line detail. */
static void answer(pend *p, int status, const cJSON *res) {
  nc_http_req *r = p->r;
  if (p->v3) {
    reply_json(r, status, res);
    return;
  }
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(res, "data");
  if (status == 200 && p->raw_json) {
    reply_json(r, 200, data);
    return;
  }
  if (status == 200) {
    nc_http_reply(r, 200, "text/plain", p->ok_text, strlen(p->ok_text));
    return;
  }
  if (p->ok_text && !strcmp(p->ok_text, "Ok")) { /* smartReloadCluster: "Fail" */
    nc_http_reply(r, status, "text/plain", "Fail", 4);
    return;
  }
  char *s = cJSON_IsString(data) ? NULL : cJSON_PrintUnformatted(data);
  const char *txt = cJSON_IsString(data) ? data->valuestring : s ? s : "error";
  nc_http_reply(r, status, "text/plain", txt, strlen(txt));
  free(s);
}

static void on_done(void *ud, int status, const cJSON *res) {
  pend *p = ud;
  if (p->r)
    answer(p, status, res);
  p->r = NULL;
  p->done = 1;
  if (!p->in_call)
    free(p);
}

static void on_abort(void *ud, nc_http_req *r) {
  pend *p = ud;
  (void)r;
  p->r = NULL; /* the operation's answer is dropped when it comes */
}

static const char *const param_names[] = {"count",    "redirectAddress", "connectionId",
                                          "loaderFactor", "address",     "persistent",
                                          "enabled"};

static void run(nc_loader *l, nc_http_req *r, const char *op, int v3, int raw_json,
                const char *ok_text) {
  char who[400];
  cJSON *params = cJSON_CreateObject();
  pend *p = calloc(1, sizeof(*p));
  if (!params || !p) {
    cJSON_Delete(params);
    free(p);
    nc_http_reply_error(r, 500, "out of memory");
    return;
  }
  for (size_t i = 0; i < sizeof(param_names) / sizeof(param_names[0]); i++) {
    const char *v = nc_http_param(r, param_names[i]);
    if (v)
      cJSON_AddStringToObject(params, param_names[i], v);
  }
  if (v3)
    cJSON_AddStringToObject(params, "v3", "true");
  *p = (pend){.r = r, .v3 = v3, .raw_json = raw_json, .ok_text = ok_text, .in_call = 1};
  who_of(r, who, sizeof(who));
  nc_loader_op(l, op, params, who, on_done, p);
  cJSON_Delete(params);
  p->in_call = 0;
  if (p->done)
    free(p);
  else
    nc_http_hold_abort(r, on_abort, p);
}

#define V2(name, op, raw, ok)                                                                    \
  static void name(void *ud, nc_http_req *r) { run(ud, r, op, 0, raw, ok); }
#define V3(name, op)                                                                             \
  static void name(void *ud, nc_http_req *r) { run(ud, r, op, 1, 0, NULL); }

V2(v2_current, "current", 1, NULL)
V2(v2_cluster, "cluster", 1, NULL)
V2(v2_reload_current, "reloadCurrent", 0, "success")
V2(v2_reload_client, "reloadClient", 0, "success")
V2(v2_smart, "smartReloadCluster", 0, "Ok")
V3(v3_current, "current")
V3(v3_cluster, "cluster")
V3(v3_reload_current, "reloadCurrent")
V3(v3_reload_client, "reloadClient")
V3(v3_smart, "smartReloadCluster")
V3(v3_limit, "limit")
V3(v3_drain, "drain")
V3(v3_undrain, "undrain")
V3(v3_rebalance, "rebalance")

#define P2 "/nacos/v2/core/loader/"
#define P3 "/nacos/v3/admin/core/loader/"
#define A NC_SHTTP_ADMIN
#define AR (NC_SHTTP_ADMIN | NC_SHTTP_REDIRECT)
#define POST NC_HTTP_POST
const nc_http_route nc_loader_routes[] = {
    {P2 "current", NC_HTTP_GET, v2_current, A},
    {P2 "cluster", NC_HTTP_GET, v2_cluster, A},
    {P2 "reloadCurrent", NC_HTTP_GET, v2_reload_current, AR},
    {P2 "reloadClient", NC_HTTP_GET, v2_reload_client, AR},
    {P2 "smartReloadCluster", NC_HTTP_GET, v2_smart, A},
    {P3 "current", NC_HTTP_GET, v3_current, A},
    {P3 "cluster", NC_HTTP_GET, v3_cluster, A},
    {P3 "reloadCurrent", POST, v3_reload_current, AR},
    {P3 "reloadClient", POST, v3_reload_client, AR},
    {P3 "smartReloadCluster", POST, v3_smart, A},
    {P3 "limit", POST, v3_limit, A},
    {P3 "drain", POST, v3_drain, A},
    {P3 "undrain", POST, v3_undrain, A},
    {P3 "rebalance", POST, v3_rebalance, A},
};
const size_t nc_loader_n_routes = sizeof(nc_loader_routes) / sizeof(nc_loader_routes[0]);
