/* config_admin: the gRPC adapters for nacos-c's own config requests for
 * operators and nacosctl (official SDKs never send them), over
 * nc_config_list and nc_config_history (config_read.c):
 *   NcConfigListRequest    {tenant, group, dataId (glob, '*'), pageNo, pageSize}
 *     -> NcConfigListResponse {totalCount, pageNumber, pagesAvailable,
 *                              pageItems: [{dataId, group, tenant, md5, lastModified}]}
 *   NcConfigHistoryRequest {dataId, group, tenant, pageSize}
 *     -> NcConfigHistoryResponse {pageItems: [{id, opType, md5, lastModifiedTime,
 *                                              srcIp, srcUser, type, rollbackOf?}]}
 *        newest first; a row is a version (config_store.h): 'I' the content
 *        created, 'U'/'D' the content replaced; rollbackOf only when nonzero
 *   NcConfigHistoryGetRequest {dataId, group, tenant, id}
 *     -> NcConfigHistoryGetResponse {id, opType, md5, lastModifiedTime, srcIp,
 *                                    srcUser, type, content, rollbackOf}
 *        (content null for a row recorded before versions were kept)
 *   NcConfigRollbackRequest {dataId, group, tenant, id}
 *     -> NcConfigRollbackResponse {md5}: publishes version id again
 * and config's metrics. errorCode: 400 bad input, 404 unknown history id,
 * else 500. */
#include "config_fuzzy.h"
#include "config_int.h"
#include "nc_err.h"
#include "nc_json.h"

#include <stdlib.h>

/* gRPC errorCode of an operation's result: 400 for bad input, 404 for a
 * history id the key does not have, else 500. */
static int grpc_code(int rc) { return rc == NC_EINVAL ? 400 : rc == NC_ENOTFOUND ? 404 : 500; }

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

/* A history row's fields into o (a list row; one version adds its
 * content); 0 or -1 on OOM. */
static int hist_fields(cJSON *o, const nc_cfg_hist *h) {
  char op[2] = {h->op, 0};
  if (!cJSON_AddNumberToObject(o, "id", (double)h->id) || nc_json_add_str(o, "opType", op) ||
      nc_json_add_str(o, "md5", h->md5) ||
      !cJSON_AddNumberToObject(o, "lastModifiedTime", (double)h->ts_ms) ||
      nc_json_add_str(o, "srcIp", h->src_ip ? h->src_ip : "") ||
      nc_json_add_str(o, "srcUser", h->src_user ? h->src_user : "") ||
      nc_json_add_str(o, "type", h->type ? h->type : ""))
    return -1;
  return 0;
}

static cJSON *hist_row_json(const nc_cfg_hist *h) {
  cJSON *o = cJSON_CreateObject();
  if (!o || hist_fields(o, h) ||
      (h->rollback_of && !cJSON_AddNumberToObject(o, "rollbackOf", (double)h->rollback_of))) {
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

/* ---- one version ---- */

static const char HGET_RT[] = "NcConfigHistoryGetResponse";

static void history_get_done(void *ud, int code, const char *message, const nc_cfg_hist *row) {
  nc_req *r = ud;
  if (code) {
    nc_req_fail(r, HGET_RT, grpc_code(code), message);
    return;
  }
  cJSON *b = nc_resp_ok();
  /* content null: a row recorded before versions were kept */
  cJSON *content = row->content ? cJSON_CreateString(row->content) : cJSON_CreateNull();
  if (!b || !content || hist_fields(b, row) || !cJSON_AddItemToObject(b, "content", content) ||
      !cJSON_AddNumberToObject(b, "rollbackOf", (double)row->rollback_of)) {
    if (!b || !cJSON_GetObjectItemCaseSensitive(b, "content"))
      cJSON_Delete(content);
    cJSON_Delete(b);
    nc_req_fail(r, HGET_RT, 500, "out of memory");
    return;
  }
  nc_req_reply(r, HGET_RT, b);
}

/* The history id of a request: a positive integer, else 0 (refused as
 * bad input by the operation). */
static int64_t req_id(const nc_msg *m) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->body, "id");
  if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9007199254740992.0 ||
      v->valuedouble != (double)(int64_t)v->valuedouble)
    return 0;
  return (int64_t)v->valuedouble;
}

static void h_history_get(void *ud, nc_req *r, const nc_msg *m) {
  nc_config_key k = {.data_id = nc_json_str(m->body, "dataId", ""),
                     .group = nc_json_str(m->body, "group", ""),
                     .tenant = nc_json_str(m->body, "tenant", "")};
  nc_config_history_get(ud, &k, req_id(m), history_get_done, r);
}

/* ---- rollback ---- */

static const char RB_RT[] = "NcConfigRollbackResponse";

static void rollback_done(void *ud, const nc_config_result *res) {
  nc_req *r = ud;
  cJSON *b;
  if (res->code) {
    nc_req_fail(r, RB_RT, grpc_code(res->code), res->message);
    return;
  }
  if (!(b = nc_resp_ok()) || nc_json_add_str(b, "md5", res->md5 ? res->md5 : "")) {
    cJSON_Delete(b);
    nc_req_fail(r, RB_RT, 500, "out of memory");
    return;
  }
  nc_req_reply(r, RB_RT, b);
}

static void h_rollback(void *ud, nc_req *r, const nc_msg *m) {
  nc_conn *c = nc_req_conn(r);
  const char *ip = m->client_ip && *m->client_ip ? m->client_ip : c ? nc_conn_remote_ip(c) : "";
  nc_config_rollback_req rb = {
      .key = {.data_id = nc_json_str(m->body, "dataId", ""),
              .group = nc_json_str(m->body, "group", ""),
              .tenant = nc_json_str(m->body, "tenant", "")},
      .id = req_id(m),
      .app_name = c ? nc_conn_app(c) : NULL,
      .src_ip = ip,
      .origin = nc_req_conn_id(r),
  };
  nc_config_rollback(ud, &rb, rollback_done, r);
}

#define R (NC_H_CONN | NC_H_CONFIG)
static const nc_handler_def admin_handlers[] = {
    {"NcConfigListRequest", "NcConfigListResponse", h_list, R},
    {"NcConfigHistoryRequest", "NcConfigHistoryResponse", h_history, R},
    {"NcConfigHistoryGetRequest", "NcConfigHistoryGetResponse", h_history_get, R},
    {"NcConfigRollbackRequest", "NcConfigRollbackResponse", h_rollback, R | NC_H_WRITE},
};
#undef R

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
  C("config_listen_refused_keys_total",
    "ConfigBatchListenRequests refused: more keys than --config-max-listen-keys.",
    s->listen_refused_keys);
  C("config_listen_refused_conn_total",
    "ConfigBatchListenRequests refused: the connection would listen to more than "
    "--config-max-listeners-per-conn keys.",
    s->listen_refused_conn);
  C("config_namespace_full_total",
    "Publishes of a new config refused: its namespace held --config-max-per-namespace.",
    s->ns_full_refused);
  C("config_namespace_bytes_refused_total",
    "Publishes refused: they would grow their namespace's content past --config-max-ns-bytes.",
    s->ns_bytes_refused);
#undef C
  if (cs->fz)
    nc_cfz_render_metrics(cs->fz, t);
}
