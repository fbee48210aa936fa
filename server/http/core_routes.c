/* core_routes: see core_routes.h. */
#include "core_routes.h"

#include "nc_auth.h"
#include "oapi_result.h"
#include "srv_http.h"

#include <stdio.h>
#include <string.h>

/* 1 when the node may serve, else 0 with why. */
static int ready(nc_shttp *h, char *why, size_t cap) {
  const nc_shttp_opts *o = nc_shttp_options(h);
  if (o->cluster && !nc_cluster_ready(o->cluster, why, cap))
    return 0;
  if (o->ready && !o->ready(o->ud, why, cap))
    return 0;
  return 1;
}

static void h_v1_liveness(void *ud, nc_http_req *r) {
  (void)ud;
  nc_http_reply(r, 200, "text/plain;charset=UTF-8", "OK", 2);
}

static void h_liveness(void *ud, nc_http_req *r) {
  (void)ud;
  nc_oapi_ok_json(r, 1, cJSON_CreateString("ok"));
}

static void h_readiness(void *ud, nc_http_req *r) {
  char why[200] = "not ready";
  if (ready(ud, why, sizeof(why))) {
    nc_oapi_ok_json(r, 1, cJSON_CreateString("ok"));
    return;
  }
  /* Result.failure(message): code 30000 with the reason as its message */
  cJSON *o = cJSON_CreateObject();
  char *s = NULL;
  if (o && cJSON_AddNumberToObject(o, "code", NC_OAPI_SERVER) &&
      cJSON_AddStringToObject(o, "message", why) && cJSON_AddStringToObject(o, "data", why))
    s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (s)
    nc_http_reply(r, 200, "application/json;charset=UTF-8", s, strlen(s));
  else
    nc_http_reply_error(r, 500, "out of memory");
  cJSON_free(s);
}

/* Nacos's module states (sys, auth, console, config): strings only; its
 * function_mode is null for "every function" and is left out. */
static cJSON *state_json(nc_shttp *h) {
  const nc_shttp_opts *o = nc_shttp_options(h);
  int standalone = !o->cluster || nc_cluster_is_standalone(o->cluster);
  int auth = o->auth && nc_auth_enabled(o->auth);
  char port[16];
  snprintf(port, sizeof(port), "%d", nc_shttp_port(h));
  const char *const kv[][2] = {
      {"startup_mode", standalone ? "standalone" : "cluster"},
      {"standalone_mode", standalone ? "standalone" : "cluster"},
      {"version", NC_VERSION},
      {"server_port", port},
      {"auth_enabled", auth ? "true" : "false"},
      {"login_page_enabled", auth ? "true" : "false"},
      {"auth_system_type", "nacos"},
      {"auth_admin_request", "true"},
      {"console_ui_enabled", "true"},
      {"config_retention_days", "30"},
  };
  cJSON *m = cJSON_CreateObject();
  for (size_t i = 0; m && i < sizeof(kv) / sizeof(kv[0]); i++)
    if (!cJSON_AddStringToObject(m, kv[i][0], kv[i][1])) {
      cJSON_Delete(m);
      m = NULL;
    }
  return m;
}

static void h_v1_state(void *ud, nc_http_req *r) { nc_oapi_ok_json(r, 0, state_json(ud)); }
static void h_v3_state(void *ud, nc_http_req *r) { nc_oapi_ok_json(r, 1, state_json(ud)); }

#define G NC_HTTP_GET
#define OPEN NC_SHTTP_OPEN
const nc_http_route nc_core_routes[] = {
    {"/nacos/v1/console/health/liveness", G, h_v1_liveness, OPEN},
    {"/nacos/v2/console/health/liveness", G, h_liveness, OPEN},
    {"/nacos/v2/console/health/readiness", G, h_readiness, OPEN},
    {"/nacos/v3/admin/core/state/liveness", G, h_liveness, OPEN},
    {"/nacos/v3/admin/core/state/readiness", G, h_readiness, OPEN},
    {"/nacos/v3/console/health/liveness", G, h_liveness, OPEN},
    {"/nacos/v3/console/health/readiness", G, h_readiness, OPEN},
    {"/nacos/v1/console/server/state", G, h_v1_state, OPEN},
    {"/nacos/v3/admin/core/state", G, h_v3_state, OPEN},
    {"/nacos/v3/console/server/state", G, h_v3_state, OPEN},
};
const size_t nc_core_n_routes = sizeof(nc_core_routes) / sizeof(nc_core_routes[0]);
