/* config_admin: the gRPC adapters for nacos-c's own config requests for
 * operators and nacosctl (official SDKs never send them), over
 * nc_config_list and nc_config_history (config_read.c):
 *   NcConfigListRequest    {tenant, group, dataId (glob, '*'), pageNo, pageSize}
 *     -> NcConfigListResponse {totalCount, pageNumber, pagesAvailable,
 *                              pageItems: [{dataId, group, tenant, md5, lastModified}]}
 *   NcConfigHistoryRequest {dataId, group, tenant, pageSize}
 *     -> NcConfigHistoryResponse {pageItems: [{id, opType, md5, lastModifiedTime,
 *                                              srcIp, srcUser}]} newest first
 * and config's metrics. */
#include "config_int.h"
#include "nc_err.h"
#include "nc_json.h"

#include <stdlib.h>

/* gRPC errorCode of an operation's result: 400 for bad input, else 500. */
static int grpc_code(int rc) { return rc == NC_EINVAL ? 400 : 500; }

/* ---- list ---- */

static cJSON *list_item_json(const nc_cfg_item *it) {
  cJSON *o = cJSON_CreateObject();
  if (!o || nc_json_add_str(o, "dataId", it->data_id) || nc_json_add_str(o, "group", it->group) ||
      nc_json_add_str(o, "tenant", it->tenant) || nc_json_add_str(o, "md5", it->md5) ||
      !cJSON_AddNumberToObject(o, "lastModified", (double)it->modified_ms)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static void h_list(void *ud, nc_req *r, const nc_msg *m) {
  nc_config_service *cs = ud;
  const char *rt = "NcConfigListResponse";
  char err[NC_CONFIG_ERR_CAP];
  nc_config_list_query q = {.tenant = nc_json_str(m->body, "tenant", ""),
                            .group = nc_json_str(m->body, "group", ""),
                            .data_id = nc_json_str(m->body, "dataId", ""),
                            .page_no = nc_json_int(m->body, "pageNo", 1),
                            .page_size = nc_json_int(m->body, "pageSize", 100)};
  nc_config_list_page pg;
  int rc = nc_config_list(cs, &q, &pg, err, sizeof(err));
  if (rc) {
    nc_req_fail(r, rt, grpc_code(rc), err);
    return;
  }
  cJSON *b = nc_resp_ok(), *items = b ? cJSON_AddArrayToObject(b, "pageItems") : NULL;
  if (!items)
    goto oom;
  for (size_t i = 0; i < pg.n; i++) {
    cJSON *o = list_item_json(pg.items[i]);
    if (!o)
      goto oom;
    cJSON_AddItemToArray(items, o);
  }
  if (!cJSON_AddNumberToObject(b, "totalCount", (double)pg.total) ||
      !cJSON_AddNumberToObject(b, "pageNumber", (double)pg.page_no) ||
      !cJSON_AddNumberToObject(b, "pagesAvailable", (double)pg.pages))
    goto oom;
  nc_config_list_page_free(&pg);
  nc_req_reply(r, rt, b);
  return;
oom:
  nc_config_list_page_free(&pg);
  cJSON_Delete(b);
  nc_req_fail(r, rt, 500, "out of memory");
}

/* ---- history ---- */

static const char HIST_RT[] = "NcConfigHistoryResponse";

static cJSON *hist_row_json(const nc_cfg_hist *h) {
  char op[2] = {h->op, 0};
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddNumberToObject(o, "id", (double)h->id) || nc_json_add_str(o, "opType", op) ||
      nc_json_add_str(o, "md5", h->md5) ||
      !cJSON_AddNumberToObject(o, "lastModifiedTime", (double)h->ts_ms) ||
      nc_json_add_str(o, "srcIp", h->src_ip ? h->src_ip : "") ||
      nc_json_add_str(o, "srcUser", h->src_user ? h->src_user : "")) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static void history_done(void *ud, int code, const char *message, const nc_cfg_hist *rows,
                         size_t n) {
  nc_req *r = ud;
  cJSON *b = NULL, *items;
  if (code) {
    nc_req_fail(r, HIST_RT, grpc_code(code), message);
    return;
  }
  if (!(b = nc_resp_ok()) || !(items = cJSON_AddArrayToObject(b, "pageItems")))
    goto oom;
  for (size_t i = 0; i < n; i++) {
    cJSON *o = hist_row_json(&rows[i]);
    if (!o)
      goto oom;
    cJSON_AddItemToArray(items, o);
  }
  nc_req_reply(r, HIST_RT, b);
  return;
oom:
  cJSON_Delete(b);
  nc_req_fail(r, HIST_RT, 500, "out of memory");
}

static void h_history(void *ud, nc_req *r, const nc_msg *m) {
  nc_config_key k = {.data_id = nc_json_str(m->body, "dataId", ""),
                     .group = nc_json_str(m->body, "group", ""),
                     .tenant = nc_json_str(m->body, "tenant", "")};
  nc_config_history(ud, &k, nc_json_int(m->body, "pageSize", 30), history_done, r);
}

static const nc_handler_def admin_handlers[] = {
    {"NcConfigListRequest", "NcConfigListResponse", h_list, NC_H_CONN | NC_H_CONFIG},
    {"NcConfigHistoryRequest", "NcConfigHistoryResponse", h_history, NC_H_CONN | NC_H_CONFIG},
};

int nc_config_admin_register(nc_config_service *cs) {
  return NC_SRV_HANDLERS(cs->srv, admin_handlers, cs);
}

void nc_config_render_metrics(nc_config_service *cs, nc_metrics_text *t) {
  const nc_config_stats *s = nc_config_get_stats(cs);
#define C(name, help, v) nc_metrics_add(t, "nacosd_", name, help, (uint64_t)(v))
  C("config_configs", "Configs in the store.", s->configs);
  C("config_listeners", "Config keys listened to, counted per connection.", s->listeners);
  C("config_publishes_total", "Config publishes received (every caller, refused ones too).", s->publishes);
  C("config_removes_total", "Config removes received (every caller, refused ones too).", s->removes);
  C("config_commits_total", "Store transactions committed (several writes each).", s->commits);
  C("config_commit_failures_total", "Store transactions that failed.", s->commit_failures);
  C("config_notifies_sent_total", "ConfigChangeNotifyRequests sent, retries included.",
    s->notifies_sent);
  C("config_notifies_acked_total", "ConfigChangeNotifyRequests acknowledged.", s->notifies_acked);
#undef C
}
