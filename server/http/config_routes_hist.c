/* config_routes_hist: config history over HTTP, as Nacos's HistoryController
 * (v1), HistoryControllerV2 and HistoryControllerV3 (/v3/admin/cs/history)
 * serve it, over config_ops's history reads (the writer thread, after the
 * writes queued before: a read right after an acknowledged publish shows
 * it), plus nacos-c's rollback (Nacos has no rollback endpoint; its console
 * republishes the old content):
 *   GET  .../history?search=accurate (v1) | /list (v2, v3)   a page of versions
 *   GET  .../history?nid=                                    one version + content
 *   GET  .../history/previous?id=                            the version before id
 *   GET  .../history/configs?tenant= | namespaceId=          the namespace's configs
 *   POST .../history/rollback?nid=                           republish version nid
 * A history row is a version (config_store.h): 'I' the content created,
 * 'U'/'D' the content the change replaced. Loop thread only. */
#include "config_routes_int.h"

#include "config_util.h"
#include "nc_err.h"
#include "nc_json.h"
#include "oapi_result.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { H_LIST, H_GET, H_PREV };

/* A history read in flight. r is NULL once the server dropped the request;
 * k's strings are r's, so they are used only while r is there. */
typedef struct hreq {
  nc_croutes *cr;
  nc_http_req *r;
  int api, kind;
  nc_config_key k;
  long long page_no, page_size;
  int64_t id;
} hreq;

static void on_abort(void *ud, nc_http_req *r) {
  (void)r;
  ((hreq *)ud)->r = NULL;
}

/* Nacos's op_type is a CHAR(10) column: "I" comes back as "I         ". */
static void op_type(char op, char out[11]) {
  memset(out, ' ', 10);
  out[0] = op ? op : 'U';
  out[10] = '\0';
}

/* One version as Nacos writes it: v1/v2 ConfigHistoryInfo (id a string,
 * ISO times), v3 ConfigHistoryBasicInfo / DetailInfo (numbers, ms). The
 * content only with detail. NULL on OOM. */
static cJSON *row_json(const hreq *h, const nc_cfg_hist *row, int detail) {
  const nc_config_key *k = &h->k;
  const char *t = nc_crt_ns_out(h->api, nc_cfg_norm_tenant(k->tenant));
  char op[11], id[24], ts[40];
  op_type(row->op, op);
  snprintf(id, sizeof(id), "%lld", (long long)row->id);
  nc_crt_iso_time(row->ts_ms, ts, sizeof(ts));
  cJSON *o = cJSON_CreateObject();
  int bad = !o;
  if (!bad && h->api == NC_CRT_V3)
    bad = !cJSON_AddNumberToObject(o, "id", (double)row->id) ||
          nc_json_add_str(o, "namespaceId", t) || nc_json_add_str(o, "groupName", k->group) ||
          nc_json_add_str(o, "dataId", k->data_id) || nc_json_add_str(o, "md5", row->md5) ||
          nc_json_add_str(o, "type", row->type && *row->type ? row->type : "text") ||
          nc_json_add_str(o, "appName", row->app_name ? row->app_name : "") ||
          !cJSON_AddNumberToObject(o, "createTime", (double)row->ts_ms) ||
          !cJSON_AddNumberToObject(o, "modifyTime", (double)row->ts_ms);
  else if (!bad)
    bad = nc_json_add_str(o, "id", id) || !cJSON_AddNumberToObject(o, "lastId", -1) ||
          nc_json_add_str(o, "dataId", k->data_id) || nc_json_add_str(o, "group", k->group) ||
          nc_json_add_str(o, "tenant", t) ||
          nc_json_add_str(o, "appName", row->app_name ? row->app_name : "") ||
          nc_json_add_str(o, "md5", row->md5);
  if (!bad)
    bad = nc_json_add_str(o, "srcIp", row->src_ip ? row->src_ip : "") ||
          nc_json_add_str(o, "srcUser", row->src_user ? row->src_user : "") ||
          nc_json_add_str(o, "opType", op) || nc_json_add_str(o, "publishType", "formal");
  if (!bad && h->api != NC_CRT_V3)
    bad = nc_json_add_str(o, "createdTime", ts) || nc_json_add_str(o, "lastModifiedTime", ts);
  if (!bad && detail) /* a row from before versions were kept has no content: "" */
    bad = nc_json_add_str(o, "content", row->content ? row->content : "") ||
          nc_json_add_str(o, "encryptedDataKey", "");
  /* nacos-c's own: the version this change restored (a rollback) */
  if (!bad && row->rollback_of)
    bad = !cJSON_AddNumberToObject(o, "rollbackOf", (double)row->rollback_of);
  if (bad) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* An operation's failure, in h's dialect. */
static void fail_code(hreq *h, int code, const char *msg) {
  int env = h->api != NC_CRT_V1;
  if (code == NC_EINVAL)
    nc_oapi_fail(h->r, env, 400, NC_OAPI_PARAM_VALIDATE, msg ? msg : "invalid parameter");
  else if (code == NC_ENOTFOUND) {
    char why[96];
    snprintf(why, sizeof(why), "%s config history for %s = %lld not exist",
             h->kind == H_PREV ? "previous" : "certain", h->kind == H_PREV ? "id" : "nid",
             (long long)h->id);
    nc_oapi_fail(h->r, env, 404, NC_OAPI_NOT_FOUND, why);
  } else
    nc_oapi_fail(h->r, env, 500, NC_OAPI_SERVER, msg ? msg : nc_strerror(code));
}

static void finish(hreq *h, cJSON *data) {
  if (!data)
    nc_oapi_fail(h->r, h->api != NC_CRT_V1, 500, NC_OAPI_SERVER, "out of memory");
  else
    nc_oapi_ok_json(h->r, h->api != NC_CRT_V1, data);
  free(h);
}

/* A read came back: 1 when that settled h (dropped request or a
 * failure, answered; h freed), 0 to go on. */
static int settled(hreq *h, int code, const char *message) {
  if (h->r && code)
    fail_code(h, code, message);
  if (h->r && !code)
    return 0;
  free(h);
  return 1;
}

static void on_get(void *ud, int code, const char *message, const nc_cfg_hist *row) {
  hreq *h = ud;
  if (!settled(h, code, message))
    finish(h, row_json(h, row, 1));
}

/* A Nacos Page {totalCount, pageNumber, pagesAvailable, pageItems} of
 * rows[from, from + n) out of total. NULL on OOM. */
static cJSON *page_json(const hreq *h, const nc_cfg_hist *rows, size_t total) {
  size_t size = (size_t)h->page_size, from = total, n = 0;
  if ((unsigned long long)(h->page_no - 1) < total / size + 1)
    from = (size_t)(h->page_no - 1) * size;
  if (from < total)
    n = total - from < size ? total - from : size;
  cJSON *o = cJSON_CreateObject(), *items = NULL;
  if (!o || !cJSON_AddNumberToObject(o, "totalCount", (double)total) ||
      !cJSON_AddNumberToObject(o, "pageNumber", (double)h->page_no) ||
      !cJSON_AddNumberToObject(o, "pagesAvailable", (double)((total + size - 1) / size)) ||
      !(items = cJSON_AddArrayToObject(o, "pageItems")))
    goto oom;
  for (size_t i = 0; i < n; i++) {
    cJSON *it = row_json(h, &rows[from + i], 0);
    if (!it)
      goto oom;
    cJSON_AddItemToArray(items, it);
  }
  return o;
oom:
  cJSON_Delete(o);
  return NULL;
}

static void on_list(void *ud, int code, const char *message, const nc_cfg_hist *rows, size_t n) {
  hreq *h = ud;
  if (settled(h, code, message))
    return;
  if (h->kind == H_LIST) {
    finish(h, page_json(h, rows, n));
    return;
  }
  /* previous: rows are newest first; the first older than id */
  for (size_t i = 0; i < n; i++)
    if (rows[i].id < h->id) {
      nc_config_history_get(h->cr->cs, &h->k, rows[i].id, on_get, h);
      return;
    }
  fail_code(h, NC_ENOTFOUND, NULL);
  free(h);
}

/* A required positive id parameter; 0, or -1 answered 400. */
static int id_param(nc_http_req *r, int api, const char *name, int64_t *out) {
  const char *s = nc_http_param(r, name);
  char why[96];
  if (!s) {
    snprintf(why, sizeof(why), "Required parameter '%s' type Long is not present", name);
    nc_oapi_fail(r, api != NC_CRT_V1, 400, NC_OAPI_PARAM_MISSING, why);
    return -1;
  }
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < 1) {
    snprintf(why, sizeof(why), "Parameter '%s' must be a positive integer", name);
    nc_oapi_fail(r, api != NC_CRT_V1, 400, NC_OAPI_PARAM_VALIDATE, why);
    return -1;
  }
  *out = v;
  return 0;
}

/* Parses, checks 'r' and starts one read of kind. */
static void start(nc_croutes *cr, nc_http_req *r, int api, int kind) {
  nc_config_key k;
  long long page_no = 1, page_size = 100;
  int64_t id = 0;
  if (nc_crt_parse_key(r, api, &k))
    return;
  if (kind == H_LIST && (nc_crt_pos_param(r, api, "pageNo", 1, &page_no) ||
                         nc_crt_pos_param(r, api, "pageSize", 100, &page_size)))
    return;
  if (kind != H_LIST && id_param(r, api, kind == H_PREV ? "id" : "nid", &id))
    return;
  if (!nc_crt_permitted(cr, r, &k, 'r'))
    return;
  hreq *h = calloc(1, sizeof(*h));
  if (!h) {
    nc_oapi_fail(r, api != NC_CRT_V1, 500, NC_OAPI_SERVER, "out of memory");
    return;
  }
  /* Nacos caps a history page at 500 */
  *h = (hreq){cr, r, api, kind, k, page_no, page_size > 500 ? 500 : page_size, id};
  nc_http_hold_abort(r, on_abort, h);
  if (kind == H_GET)
    nc_config_history_get(cr->cs, &k, id, on_get, h);
  else
    nc_config_history(cr->cs, &k, NC_CONFIG_HISTORY_MAX, on_list, h);
}

void nc_crt_h_hist_v1(void *ud, nc_http_req *r) {
  const char *search = nc_http_param(r, "search");
  if (search && !strcmp(search, "accurate"))
    start(ud, r, NC_CRT_V1, H_LIST);
  else
    start(ud, r, NC_CRT_V1, H_GET);
}
void nc_crt_h_prev_v1(void *ud, nc_http_req *r) { start(ud, r, NC_CRT_V1, H_PREV); }
void nc_crt_h_get_v2(void *ud, nc_http_req *r) { start(ud, r, NC_CRT_V2, H_GET); }
void nc_crt_h_list_v2(void *ud, nc_http_req *r) { start(ud, r, NC_CRT_V2, H_LIST); }
void nc_crt_h_prev_v2(void *ud, nc_http_req *r) { start(ud, r, NC_CRT_V2, H_PREV); }
void nc_crt_h_get_v3(void *ud, nc_http_req *r) { start(ud, r, NC_CRT_V3, H_GET); }
void nc_crt_h_list_v3(void *ud, nc_http_req *r) { start(ud, r, NC_CRT_V3, H_LIST); }
void nc_crt_h_prev_v3(void *ud, nc_http_req *r) { start(ud, r, NC_CRT_V3, H_PREV); }

/* ---- the configs of a namespace ---- */

/* v1/v2 ConfigInfoWrapper (what Nacos's query fills: no content), v3
 * ConfigBasicInfo. */
static cJSON *config_json(int api, const nc_cfg_item *it) {
  const char *t = nc_crt_ns_out(api, it->tenant);
  cJSON *o = cJSON_CreateObject();
  int bad = !o || !cJSON_AddNumberToObject(o, "id", 0) || nc_json_add_str(o, "dataId", it->data_id);
  if (!bad && api == NC_CRT_V3)
    bad = nc_json_add_str(o, "namespaceId", t) || nc_json_add_str(o, "groupName", it->group) ||
          nc_json_add_str(o, "md5", it->md5) || nc_json_add_str(o, "type", it->type) ||
          nc_json_add_str(o, "appName", it->app_name) ||
          !cJSON_AddNumberToObject(o, "createTime", (double)it->created_ms) ||
          !cJSON_AddNumberToObject(o, "modifyTime", (double)it->modified_ms);
  else if (!bad)
    bad = nc_json_add_str(o, "group", it->group) || nc_json_add_str(o, "md5", it->md5) ||
          nc_json_add_str(o, "tenant", t) || nc_json_add_str(o, "appName", it->app_name) ||
          nc_json_add_str(o, "type", it->type) ||
          !cJSON_AddNumberToObject(o, "lastModified", (double)it->modified_ms);
  if (bad) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static void configs(nc_croutes *cr, nc_http_req *r, int api) {
  const char *name = api == NC_CRT_V1 ? "tenant" : "namespaceId";
  const char *t = nc_http_param(r, name);
  int env = api != NC_CRT_V1;
  char why[96];
  if (!t) {
    snprintf(why, sizeof(why), "Required parameter '%s' type String is not present", name);
    nc_oapi_fail(r, env, 400, NC_OAPI_PARAM_MISSING, why);
    return;
  }
  if (!nc_cfg_valid_tenant(nc_cfg_norm_tenant(t))) {
    nc_oapi_fail(r, env, 400, NC_OAPI_TENANT_PARAM, "invalid tenant");
    return;
  }
  const nc_cfg_item **items = NULL;
  size_t n = 0;
  cJSON *a = NULL;
  if (nc_crt_ns_items(cr, r, t, &items, &n) || !(a = cJSON_CreateArray()))
    goto oom;
  for (size_t i = 0; i < n; i++) {
    cJSON *o = config_json(api, items[i]);
    if (!o)
      goto oom;
    cJSON_AddItemToArray(a, o);
  }
  free(items);
  nc_oapi_ok_json(r, env, a);
  return;
oom:
  free(items);
  cJSON_Delete(a);
  nc_oapi_fail(r, env, 500, NC_OAPI_SERVER, "out of memory");
}

void nc_crt_h_configs_v1(void *ud, nc_http_req *r) { configs(ud, r, NC_CRT_V1); }
void nc_crt_h_configs_v2(void *ud, nc_http_req *r) { configs(ud, r, NC_CRT_V2); }
void nc_crt_h_configs_v3(void *ud, nc_http_req *r) { configs(ud, r, NC_CRT_V3); }

/* ---- rollback (nacos-c's extension) ---- */

typedef struct rbreq {
  nc_http_req *r;
  int api;
  int64_t id;
} rbreq;

static void rb_abort(void *ud, nc_http_req *r) {
  (void)r;
  ((rbreq *)ud)->r = NULL;
}

static void rb_done(void *ud, const nc_config_result *res) {
  rbreq *b = ud;
  hreq h = {.r = b->r, .api = b->api, .kind = H_GET, .id = b->id};
  free(b);
  if (!h.r)
    return;
  if (res->code == 0)
    nc_oapi_ok_json(h.r, h.api != NC_CRT_V1, cJSON_CreateBool(1));
  else
    fail_code(&h, res->code, res->message);
}

static void rollback(nc_croutes *cr, nc_http_req *r, int api) {
  nc_config_key k;
  int64_t id = 0;
  if (nc_crt_parse_key(r, api, &k) || id_param(r, api, "nid", &id) ||
      !nc_crt_permitted(cr, r, &k, 'w'))
    return;
  rbreq *b = calloc(1, sizeof(*b));
  if (!b) {
    nc_oapi_fail(r, api != NC_CRT_V1, 500, NC_OAPI_SERVER, "out of memory");
    return;
  }
  *b = (rbreq){r, api, id};
  nc_http_hold_abort(r, rb_abort, b);
  char origin[80], ip[80];
  snprintf(origin, sizeof(origin), "http %s", nc_http_peer(r));
  nc_config_rollback_req rq = {.key = k,
                               .id = id,
                               .app_name = nc_oapi_param(r, "appName"),
                               .src_user = nc_oapi_param(r, api == NC_CRT_V1 ? "src_user"
                                                                             : "srcUser"),
                               .src_ip = nc_crt_ip_of(nc_http_peer(r), ip, sizeof(ip)),
                               .origin = origin};
  nc_config_rollback(cr->cs, &rq, rb_done, b);
}

void nc_crt_h_rollback_v1(void *ud, nc_http_req *r) { rollback(ud, r, NC_CRT_V1); }
void nc_crt_h_rollback_v2(void *ud, nc_http_req *r) { rollback(ud, r, NC_CRT_V2); }
void nc_crt_h_rollback_v3(void *ud, nc_http_req *r) { rollback(ud, r, NC_CRT_V3); }
