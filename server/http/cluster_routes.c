/* cluster_routes: see cluster_routes.h. */
#include "cluster_routes.h"

#include "cluster.h"
#include "nc_json.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Replies with envelope {code, message, data}; data consumed. */
static void reply_envelope(nc_http_req *r, int http, int code, const char *message, cJSON *data) {
  cJSON *o = cJSON_CreateObject();
  char *s = NULL;
  if (o && cJSON_AddNumberToObject(o, "code", code) &&
      (message ? cJSON_AddStringToObject(o, "message", message) != NULL
               : cJSON_AddNullToObject(o, "message") != NULL) &&
      data && cJSON_AddItemToObject(o, "data", data)) {
    data = NULL;
    s = cJSON_PrintUnformatted(o);
  }
  cJSON_Delete(data);
  cJSON_Delete(o);
  if (s)
    nc_http_reply(r, http, "application/json;charset=UTF-8", s, strlen(s));
  else
    nc_http_reply_error(r, 500, "out of memory");
  free(s);
}

/* Drops the members of arr for which keep() is 0. */
static cJSON *filter(cJSON *arr, int (*keep)(const cJSON *m, const char *a, const char *b),
                     const char *a, const char *b) {
  for (int i = cJSON_GetArraySize(arr) - 1; arr && i >= 0; i--)
    if (!keep(cJSON_GetArrayItem(arr, i), a, b))
      cJSON_DeleteItemFromArray(arr, i);
  return arr;
}

static int prefix_of(const cJSON *m, const char *prefix) {
  return !prefix || !*prefix ||
         strncmp(nc_json_str(m, "address", ""), prefix, strlen(prefix)) == 0;
}

static int keep_keyword(const cJSON *m, const char *kw, const char *unused) {
  (void)unused;
  return prefix_of(m, kw);
}

static int keep_addr_state(const cJSON *m, const char *addr, const char *state) {
  return prefix_of(m, addr) &&
         (!state || !*state || strcasecmp(nc_json_str(m, "state", ""), state) == 0);
}

static void h_v1_nodes(void *ud, nc_http_req *r) {
  cJSON *a = filter(nc_cluster_members_json(ud), keep_keyword, nc_http_param(r, "keyword"), NULL);
  reply_envelope(r, 200, 200, NULL, a);
}

static void h_v1_self(void *ud, nc_http_req *r) {
  reply_envelope(r, 200, 200, NULL, nc_cluster_member_json(ud, nc_cluster_self(ud)));
}

static int legal_state(const char *s) {
  static const char *const states[] = {"STARTING", "UP", "SUSPICIOUS", "DOWN", "ISOLATION"};
  for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
    if (strcasecmp(s, states[i]) == 0)
      return 1;
  return 0;
}

static void h_v2_list(void *ud, nc_http_req *r) {
  const char *state = nc_http_param(r, "state");
  if (state && *state && !legal_state(state)) {
    char msg[160];
    snprintf(msg, sizeof(msg), "Illegal state: %.120s", state);
    reply_envelope(r, 400, 23000, "illegal state", cJSON_CreateString(msg));
    return;
  }
  cJSON *a = filter(nc_cluster_members_json(ud), keep_addr_state, nc_http_param(r, "address"),
                    state);
  reply_envelope(r, 200, 0, "success", a);
}

/* 3.x console: /v3/console/core/cluster/nodes?keyword=, v1's filter in the Result */
static void h_c3_nodes(void *ud, nc_http_req *r) {
  cJSON *a = filter(nc_cluster_members_json(ud), keep_keyword, nc_http_param(r, "keyword"), NULL);
  reply_envelope(r, 200, 0, "success", a);
}

static void h_v2_self(void *ud, nc_http_req *r) {
  reply_envelope(r, 200, 0, "success", nc_cluster_member_json(ud, nc_cluster_self(ud)));
}

/* The addresses of the UP members (Nacos's memberAddressInfos). */
static void h_v1_simple(void *ud, nc_http_req *r) {
  cJSON *all = nc_cluster_members_json(ud), *out = cJSON_CreateArray();
  const cJSON *m;
  cJSON_ArrayForEach(m, all) {
    if (out && strcmp(nc_json_str(m, "state", ""), "UP") == 0)
      cJSON_AddItemToArray(out, cJSON_CreateString(nc_json_str(m, "address", "")));
  }
  cJSON_Delete(all);
  reply_envelope(r, 200, 200, NULL, out);
}

/* This node's own state: always UP once it answers HTTP, as in Nacos. */
static void h_v1_health(void *ud, nc_http_req *r) {
  (void)ud;
  reply_envelope(r, 200, 200, NULL, cJSON_CreateString("UP"));
}

static void h_v2_health(void *ud, nc_http_req *r) {
  (void)ud;
  reply_envelope(r, 200, 0, "success", cJSON_CreateString("UP"));
}

const nc_http_route nc_cluster_routes[] = {
    {"/nacos/v1/core/cluster/nodes", NC_HTTP_GET, h_v1_nodes, 0},
    {"/nacos/v1/core/cluster/self", NC_HTTP_GET, h_v1_self, 0},
    {"/nacos/v1/core/cluster/simple/nodes", NC_HTTP_GET, h_v1_simple, 0},
    {"/nacos/v1/core/cluster/health", NC_HTTP_GET, h_v1_health, 0},
    {"/nacos/v2/core/cluster/node/self/health", NC_HTTP_GET, h_v2_health, 0},
    {"/nacos/v2/core/cluster/node/list", NC_HTTP_GET, h_v2_list, 0},
    {"/nacos/v2/core/cluster/node/self", NC_HTTP_GET, h_v2_self, 0},
    /* 3.x admin API (NacosClusterControllerV3): v2's answers */
    {"/nacos/v3/admin/core/cluster/node/list", NC_HTTP_GET, h_v2_list, 0},
    {"/nacos/v3/admin/core/cluster/node/self", NC_HTTP_GET, h_v2_self, 0},
    {"/nacos/v3/console/core/cluster/nodes", NC_HTTP_GET, h_c3_nodes, 0},
};
const size_t nc_cluster_n_routes = sizeof(nc_cluster_routes) / sizeof(nc_cluster_routes[0]);
