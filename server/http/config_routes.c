/* config_routes: see config_routes.h. Parameter names and answers follow
 * Nacos's ConfigController (v1) and ConfigControllerV2; validation, limits
 * and CAS are config_ops.c's, with its messages. */
#include "config_routes.h"
#include "config_routes_int.h"

#include "auth_routes.h"
#include "config_util.h"
#include "nc_auth_perm.h"
#include "nc_err.h"
#include "nc_log.h"
#include "oapi_result.h"
#include "srv_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int nc_croutes_new(uv_loop_t *loop, nc_config_service *cs, nc_auth *auth, nc_croutes **out) {
  nc_croutes *cr = calloc(1, sizeof(*cr));
  if (!cr)
    return NC_ENOMEM;
  cr->cs = cs;
  cr->auth = auth;
  int rc = nc_crt_listen_init(cr, loop);
  if (rc) {
    free(cr);
    return rc;
  }
  *out = cr;
  return 0;
}
void nc_croutes_free(nc_croutes *cr) {
  if (cr)
    nc_crt_listen_close(cr);
}

const char *nc_crt_ns_param(nc_http_req *r, int api) {
  return nc_http_param(r, api == NC_CRT_V1 ? "tenant" : "namespaceId");
}

int nc_crt_parse_key(nc_http_req *r, int api, nc_config_key *k) {
  /* v3's ConfigFormV3 checks groupName first, then dataId */
  const char *names[2] = {"dataId", "group"};
  if (api == NC_CRT_V3) {
    names[0] = "groupName";
    names[1] = "dataId";
  }
  const char *v[2];
  for (int i = 0; i < 2; i++) {
    v[i] = nc_http_param(r, names[i]);
    if (!v[i] || (api == NC_CRT_V3 && nc_cfg_blank(v[i]))) {
      char why[128];
      snprintf(why, sizeof(why), "Required parameter '%s' type String is not present", names[i]);
      nc_oapi_fail(r, api != NC_CRT_V1, 400, NC_OAPI_PARAM_MISSING, why);
      return -1;
    }
  }
  k->data_id = api == NC_CRT_V3 ? v[1] : v[0];
  k->group = api == NC_CRT_V3 ? v[0] : v[1];
  k->tenant = nc_crt_ns_param(r, api);
  return 0;
}

static nc_auth_result check(nc_croutes *cr, nc_http_req *r, const nc_config_key *k, char action) {
  char res[NC_AUTH_RES_MAX], user[NC_AUTH_USER_MAX];
  if (nc_auth_resource(res, sizeof(res), k->tenant ? k->tenant : "", k->group, "config",
                       k->data_id))
    return NC_AUTH_FORBIDDEN;
  return nc_auth_check(cr->auth, nc_auth_http_token(r), res, action, user);
}

int nc_crt_may(nc_croutes *cr, nc_http_req *r, const nc_config_key *k, char action) {
  return !nc_auth_enabled(cr->auth) || check(cr, r, k, action) == NC_AUTH_OK;
}

int nc_crt_allowed(nc_croutes *cr, nc_http_req *r, const nc_config_key *k, char action,
                   const char **why) {
  if (!nc_auth_enabled(cr->auth))
    return 1;
  nc_auth_result ar = check(cr, r, k, action);
  if (ar == NC_AUTH_OK)
    return 1;
  *why = nc_auth_result_msg(ar);
  nc_warn("http: %s %s refused (403): %s", nc_http_method(r), NC_LOG_ESC(nc_http_path(r)), *why);
  return 0;
}

int nc_crt_permitted(nc_croutes *cr, nc_http_req *r, const nc_config_key *k, char action) {
  const char *why = NULL;
  if (nc_crt_allowed(cr, r, k, action, &why))
    return 1;
  nc_http_reply(r, 403, "text/plain", why, strlen(why));
  return 0;
}

/* v2's code for a config_ops NC_EINVAL message: a bad namespace is
 * Nacos's TENANT_PARAM_ERROR, the rest PARAMETER_VALIDATE_ERROR. */
static int inval_code(const char *msg) {
  return msg && !strncmp(msg, "invalid tenant", 14) ? NC_OAPI_TENANT_PARAM
                                                    : NC_OAPI_PARAM_VALIDATE;
}

/* The response Content-Type of a config of type t, as Nacos picks it. */
static const char *content_type(const char *t) {
  if (t && !strcmp(t, "json"))
    return "application/json;charset=UTF-8";
  if (t && !strcmp(t, "xml"))
    return "application/xml;charset=UTF-8";
  if (t && !strcmp(t, "html"))
    return "text/html;charset=UTF-8";
  return "text/plain;charset=UTF-8";
}

static void do_get(nc_croutes *cr, nc_http_req *r, int api) {
  int v2 = api != NC_CRT_V1;
  nc_config_key k;
  if (nc_crt_parse_key(r, api, &k) || !nc_crt_permitted(cr, r, &k, 'r'))
    return;
  const nc_cfg_item *it = NULL;
  char err[NC_CONFIG_ERR_CAP];
  /* a gray (tag) version is never stored: nothing to find under a tag */
  int rc = nc_cfg_blank(nc_http_param(r, "tag"))
               ? nc_config_get(cr->cs, &k, &it, err, sizeof(err))
               : (snprintf(err, sizeof(err), "config data not exist"), NC_ENOTFOUND);
  if (rc == NC_ENOTFOUND) {
    /* v1: ConfigServletInner's println, not the "caused:" form */
    if (v2)
      nc_oapi_fail(r, 1, 404, NC_OAPI_NOT_FOUND, "config data not exist");
    else
      nc_http_reply(r, 404, "text/plain;charset=UTF-8", "config data not exist\n", 22);
    return;
  }
  if (rc) {
    nc_oapi_fail(r, v2, rc == NC_EINVAL ? 400 : 500,
                 rc == NC_EINVAL ? inval_code(err) : NC_OAPI_SERVER, err);
    return;
  }
  char lm[32];
  snprintf(lm, sizeof(lm), "%lld", (long long)it->modified_ms);
  nc_http_add_header(r, "Config-Type", it->type ? it->type : "text");
  nc_http_add_header(r, "Content-MD5", it->md5);
  nc_http_add_header(r, "Last-Modified", lm);
  if (it->encrypted_data_key && *it->encrypted_data_key)
    nc_http_add_header(r, "Encrypted-Data-Key", it->encrypted_data_key);
  if (v2) {
    nc_oapi_ok_json(r, 1, cJSON_CreateString(it->content ? it->content : ""));
    return;
  }
  nc_http_reply(r, 200, content_type(it->type), it->content ? it->content : "",
                it->content_len);
}

/* A write in flight: the request held until the commit, or NULL once the
 * server dropped it (nc_http_stop). */
typedef struct pending {
  nc_http_req *r;
  int v2;
} pending;

static void on_abort(void *ud, nc_http_req *r) {
  (void)r;
  ((pending *)ud)->r = NULL;
}

static void write_done(void *ud, const nc_config_result *res) {
  pending *p = ud;
  nc_http_req *r = p->r;
  int v2 = p->v2;
  free(p);
  if (!r)
    return;
  if (res->code == 0) {
    if (v2)
      nc_oapi_ok_json(r, 1, cJSON_CreateBool(1));
    else
      nc_http_reply(r, 200, "text/plain;charset=UTF-8", "true", 4);
  } else if (res->code == NC_ECONFLICT) {
    /* Nacos: ConfigOperationService's CAS failure, 500 RESOURCE_CONFLICT */
    nc_oapi_fail(r, v2, 500, NC_OAPI_CONFLICT, "Cas publish fail, server md5 may have changed.");
  } else if (res->code == NC_EINVAL) {
    nc_oapi_fail(r, v2, 400, inval_code(res->message), res->message);
  } else {
    nc_oapi_fail(r, v2, 500, NC_OAPI_SERVER, res->message ? res->message : nc_strerror(res->code));
  }
}

static pending *hold(nc_http_req *r, int v2) {
  pending *p = calloc(1, sizeof(*p));
  if (!p) {
    nc_oapi_fail(r, v2, 500, NC_OAPI_SERVER, "out of memory");
    return NULL;
  }
  *p = (pending){r, v2};
  nc_http_hold_abort(r, on_abort, p);
  return p;
}

static void do_publish(nc_croutes *cr, nc_http_req *r, int api) {
  int v2 = api != NC_CRT_V1;
  nc_config_key k;
  if (nc_crt_parse_key(r, api, &k))
    return;
  const char *content = nc_http_param(r, "content");
  if (!content) {
    nc_oapi_fail(r, v2, 400, NC_OAPI_PARAM_MISSING,
                 "Required parameter 'content' type String is not present");
    return;
  }
  if (!nc_crt_permitted(cr, r, &k, 'w'))
    return;
  const char *cas = nc_oapi_param(r, "casMd5");
  if (!cas)
    cas = nc_http_header(r, "casMd5");
  char origin[80], ip[80];
  snprintf(origin, sizeof(origin), "http %s", nc_http_peer(r));
  nc_config_publish p = {
      .key = k,
      .content = content,
      .cas_md5 = cas,
      .type = nc_oapi_param(r, "type"),
      .app_name = nc_oapi_param(r, "appName"),
      .src_user = nc_oapi_param(r, v2 ? "srcUser" : "src_user"),
      .src_ip = nc_crt_ip_of(nc_http_peer(r), ip, sizeof(ip)),
      .encrypted_data_key = nc_oapi_param(r, "encryptedDataKey"),
      .tag = nc_http_param(r, "tag"),
      .beta_ips = nc_http_header(r, "betaIps"),
      .origin = origin,
  };
  pending *h = hold(r, v2);
  if (h)
    nc_config_publish_op(cr->cs, &p, write_done, h);
}

static void do_remove(nc_croutes *cr, nc_http_req *r, int api) {
  int v2 = api != NC_CRT_V1;
  nc_config_key k;
  if (nc_crt_parse_key(r, api, &k) || !nc_crt_permitted(cr, r, &k, 'w'))
    return;
  if (!nc_cfg_blank(nc_http_param(r, "tag"))) {
    /* no gray version is ever stored; Nacos answers true for a missing one */
    if (v2)
      nc_oapi_ok_json(r, 1, cJSON_CreateBool(1));
    else
      nc_http_reply(r, 200, "text/plain;charset=UTF-8", "true", 4);
    return;
  }
  char origin[80], ip[80];
  snprintf(origin, sizeof(origin), "http %s", nc_http_peer(r));
  nc_config_remove rm = {.key = k,
                         .app_name = nc_oapi_param(r, "appName"),
                         .src_user = nc_oapi_param(r, v2 ? "srcUser" : "src_user"),
                         .src_ip = nc_crt_ip_of(nc_http_peer(r), ip, sizeof(ip)),
                         .origin = origin};
  pending *h = hold(r, v2);
  if (h)
    nc_config_remove_op(cr->cs, &rm, write_done, h);
}

static void h_configs(void *ud, nc_http_req *r, int api) {
  const char *m = nc_http_method(r);
  if (!strcmp(m, "POST"))
    do_publish(ud, r, api);
  else if (!strcmp(m, "DELETE"))
    do_remove(ud, r, api);
  else if (api == NC_CRT_V3)
    nc_crt_v3_detail(ud, r);
  else if (api == NC_CRT_V2 || !nc_crt_v1_get_extra(ud, r))
    do_get(ud, r, api);
}
static void h_configs_v1(void *ud, nc_http_req *r) { h_configs(ud, r, NC_CRT_V1); }
static void h_config_v2(void *ud, nc_http_req *r) { h_configs(ud, r, NC_CRT_V2); }
static void h_config_v3(void *ud, nc_http_req *r) { h_configs(ud, r, NC_CRT_V3); }

#define RW (NC_HTTP_GET | NC_HTTP_POST | NC_HTTP_DELETE)
/* flags 0: with auth on srv_http wants a valid token; the handlers then
 * check the permission on the key. */
const nc_http_route nc_config_routes[] = {
    {"/nacos/v1/cs/configs", RW, h_configs_v1, 0},
    {"/nacos/v2/cs/config", RW, h_config_v2, 0},
    {"/nacos/v1/cs/configs/listener", NC_HTTP_GET | NC_HTTP_POST, nc_crt_h_listener_v1,
     NC_SHTTP_DELAY_ERRORS},
    {"/nacos/v1/cs/listener", NC_HTTP_GET, nc_crt_h_listener_ip_v1, 0},
    {"/nacos/v3/admin/cs/config/listener", NC_HTTP_GET, nc_crt_h_listener_v3, 0},
    {"/nacos/v3/admin/cs/listener", NC_HTTP_GET, nc_crt_h_listener_ip_v3, 0},
    {"/nacos/v3/admin/cs/config", RW, h_config_v3, 0},
    {"/nacos/v3/admin/cs/config/list", NC_HTTP_GET, nc_crt_v3_list, 0},
    {"/nacos/v3/client/cs/config", NC_HTTP_GET, nc_crt_v3_client_get, 0},
    {"/nacos/v1/cs/history", NC_HTTP_GET, nc_crt_h_hist_v1, 0},
    {"/nacos/v1/cs/history/previous", NC_HTTP_GET, nc_crt_h_prev_v1, 0},
    {"/nacos/v1/cs/history/configs", NC_HTTP_GET, nc_crt_h_configs_v1, 0},
    {"/nacos/v1/cs/history/rollback", NC_HTTP_POST, nc_crt_h_rollback_v1, 0},
    {"/nacos/v2/cs/history", NC_HTTP_GET, nc_crt_h_get_v2, 0},
    {"/nacos/v2/cs/history/list", NC_HTTP_GET, nc_crt_h_list_v2, 0},
    {"/nacos/v2/cs/history/previous", NC_HTTP_GET, nc_crt_h_prev_v2, 0},
    {"/nacos/v2/cs/history/configs", NC_HTTP_GET, nc_crt_h_configs_v2, 0},
    {"/nacos/v2/cs/history/detail", NC_HTTP_GET, nc_crt_h_detail_v2, 0},
    {"/nacos/v2/cs/history/rollback", NC_HTTP_POST, nc_crt_h_rollback_v2, 0},
    {"/nacos/v3/admin/cs/history", NC_HTTP_GET, nc_crt_h_get_v3, 0},
    {"/nacos/v3/admin/cs/history/list", NC_HTTP_GET, nc_crt_h_list_v3, 0},
    {"/nacos/v3/admin/cs/history/previous", NC_HTTP_GET, nc_crt_h_prev_v3, 0},
    {"/nacos/v3/admin/cs/history/configs", NC_HTTP_GET, nc_crt_h_configs_v3, 0},
    {"/nacos/v3/admin/cs/history/rollback", NC_HTTP_POST, nc_crt_h_rollback_v3, 0},
    /* the 3.x console's paths (ConsoleConfigController, ConsoleHistoryController):
     * the admin API's answers */
    {"/nacos/v3/console/cs/config", RW, h_config_v3, 0},
    {"/nacos/v3/console/cs/config/list", NC_HTTP_GET, nc_crt_v3_list, 0},
    {"/nacos/v3/console/cs/config/searchDetail", NC_HTTP_GET, nc_crt_v3_list, 0},
    {"/nacos/v3/console/cs/config/listener", NC_HTTP_GET, nc_crt_h_listener_v3, 0},
    {"/nacos/v3/console/cs/config/listener/ip", NC_HTTP_GET, nc_crt_h_listener_ip_v3, 0},
    {"/nacos/v3/console/cs/history", NC_HTTP_GET, nc_crt_h_get_v3, 0},
    {"/nacos/v3/console/cs/history/list", NC_HTTP_GET, nc_crt_h_list_v3, 0},
    {"/nacos/v3/console/cs/history/previous", NC_HTTP_GET, nc_crt_h_prev_v3, 0},
    {"/nacos/v3/console/cs/history/configs", NC_HTTP_GET, nc_crt_h_configs_v3, 0},
};
const size_t nc_config_n_routes = sizeof(nc_config_routes) / sizeof(nc_config_routes[0]);
