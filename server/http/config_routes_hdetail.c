/* config_routes_hdetail: GET /nacos/v2/cs/history/detail?dataId&group
 * [&namespaceId]&nid (Nacos 2.3+'s HistoryControllerV2.getConfigHistoryInfoDetail):
 * one change as a pair, the content before it and after it
 * (ConfigHistoryInfoDetail). A history row is a version (config_store.h):
 *   'I' the content the publish created       -> updated = it, original ""
 *   'U' the content the update replaced       -> original = it, updated =
 *        the next newer version of the key, or the current config
 *   'D' the content the remove took away      -> original = it (no updated)
 * as Nacos builds it. Reads run on the writer thread (config_ops.h): the
 * row, then for 'U' the key's history and the next row. Loop thread. */
#include "config_routes_int.h"

#include "config_util.h"
#include "nc_err.h"
#include "nc_json.h"
#include "oapi_result.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A detail read in flight; k's strings are r's (used only while r is
 * there); the row's fields are copied (the store's are borrowed per call). */
typedef struct dreq {
  nc_croutes *cr;
  nc_http_req *r; /* NULL once the server dropped the request */
  nc_config_key k;
  int64_t nid, ts_ms;
  char op;
  char md5[33];
  char *content, *app, *src_ip, *src_user;
} dreq;

static void dreq_free(dreq *d) {
  free(d->content);
  free(d->app);
  free(d->src_ip);
  free(d->src_user);
  free(d);
}

static void on_abort(void *ud, nc_http_req *r) {
  (void)r;
  ((dreq *)ud)->r = NULL;
}

/* Answers the detail with updated (md5, content; NULL = none) and frees d. */
static void answer(dreq *d, const char *up_md5, const char *up_content) {
  char op[2] = {d->op, 0}, ts[40];
  nc_crt_iso_time(d->ts_ms, ts, sizeof(ts));
  int orig = d->op != 'I';
  cJSON *o = cJSON_CreateObject();
  int bad = !o || !cJSON_AddNumberToObject(o, "id", (double)d->nid) ||
            !cJSON_AddNumberToObject(o, "lastId", -1) ||
            nc_json_add_str(o, "dataId", d->k.data_id) || nc_json_add_str(o, "group", d->k.group) ||
            nc_json_add_str(o, "tenant", nc_cfg_norm_tenant(d->k.tenant)) ||
            nc_json_add_str(o, "opType", op) || nc_json_add_str(o, "publishType", "formal") ||
            nc_json_add_str(o, "appName", d->app ? d->app : "") ||
            nc_json_add_str(o, "srcIp", d->src_ip ? d->src_ip : "") ||
            nc_json_add_str(o, "srcUser", d->src_user ? d->src_user : "") ||
            nc_json_add_str(o, "originalMd5", orig ? d->md5 : "") ||
            nc_json_add_str(o, "originalContent", orig && d->content ? d->content : "") ||
            nc_json_add_str(o, "originalEncryptedDataKey", "") ||
            nc_json_add_str(o, "createdTime", ts) || nc_json_add_str(o, "lastModifiedTime", ts);
  if (!bad && up_md5) /* a remove has no "after" (Nacos leaves the fields null: left out) */
    bad = nc_json_add_str(o, "updatedMd5", up_md5) ||
          nc_json_add_str(o, "updatedContent", up_content ? up_content : "") ||
          nc_json_add_str(o, "updatedEncryptedDataKey", "");
  if (bad) {
    cJSON_Delete(o);
    o = NULL;
  }
  nc_oapi_ok_json(d->r, 1, o);
  dreq_free(d);
}

/* The failure of a read (dropped request: nothing to answer); frees d. */
static void fail(dreq *d, int code, const char *message) {
  if (d->r && code == NC_ENOTFOUND) {
    char why[96];
    snprintf(why, sizeof(why), "certain config history for nid = %lld not exist",
             (long long)d->nid);
    nc_oapi_fail(d->r, 1, 404, NC_OAPI_NOT_FOUND, why);
  } else if (d->r && code == NC_EINVAL)
    nc_oapi_fail(d->r, 1, 400, NC_OAPI_PARAM_VALIDATE, message ? message : "invalid parameter");
  else if (d->r)
    nc_oapi_fail(d->r, 1, 500, NC_OAPI_SERVER, message ? message : nc_strerror(code));
  dreq_free(d);
}

static void on_next(void *ud, int code, const char *message, const nc_cfg_hist *row) {
  dreq *d = ud;
  if (!d->r || code)
    fail(d, d->r ? code : 0, message);
  else
    answer(d, row->md5, row->content);
}

/* 'U': the version after this change is the next newer row's content, or
 * the current config when this change is the newest. */
static void on_list(void *ud, int code, const char *message, const nc_cfg_hist *rows, size_t n) {
  dreq *d = ud;
  if (!d->r || code) {
    fail(d, d->r ? code : 0, message);
    return;
  }
  int64_t next = 0;
  for (size_t i = 0; i < n; i++) /* newest first: the last one above nid */
    if (rows[i].id > d->nid)
      next = rows[i].id;
  if (next) {
    nc_config_history_get(d->cr->cs, &d->k, next, on_next, d);
    return;
  }
  const nc_cfg_item *it = NULL;
  char err[NC_CONFIG_ERR_CAP];
  if (nc_config_get(d->cr->cs, &d->k, &it, err, sizeof(err)) == 0)
    answer(d, it->md5, it->content);
  else /* removed meanwhile: nothing after it to show */
    answer(d, "", "");
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void on_row(void *ud, int code, const char *message, const nc_cfg_hist *row) {
  dreq *d = ud;
  if (!d->r || code) {
    fail(d, d->r ? code : 0, message);
    return;
  }
  d->op = row->op;
  d->ts_ms = row->ts_ms;
  snprintf(d->md5, sizeof(d->md5), "%s", row->md5);
  d->content = dup_or_null(row->content);
  d->app = dup_or_null(row->app_name);
  d->src_ip = dup_or_null(row->src_ip);
  d->src_user = dup_or_null(row->src_user);
  if ((row->content && !d->content) || (row->app_name && !d->app) ||
      (row->src_ip && !d->src_ip) || (row->src_user && !d->src_user)) {
    fail(d, NC_ENOMEM, "out of memory");
    return;
  }
  if (d->op == 'U')
    nc_config_history(d->cr->cs, &d->k, NC_CONFIG_HISTORY_MAX, on_list, d);
  else if (d->op == 'I')
    answer(d, d->md5, d->content);
  else
    answer(d, NULL, NULL);
}

void nc_crt_h_detail_v2(void *ud, nc_http_req *r) {
  nc_croutes *cr = ud;
  nc_config_key k;
  if (nc_crt_parse_key(r, NC_CRT_V2, &k))
    return;
  const char *s = nc_http_param(r, "nid");
  if (!s) {
    nc_oapi_fail(r, 1, 400, NC_OAPI_PARAM_MISSING,
                 "Required parameter 'nid' type Long is not present");
    return;
  }
  char *end = NULL;
  errno = 0;
  long long nid = strtoll(s, &end, 10);
  if (errno || end == s || *end || nid < 1) {
    nc_oapi_fail(r, 1, 400, NC_OAPI_PARAM_VALIDATE, "Parameter 'nid' must be a positive integer");
    return;
  }
  if (!nc_crt_permitted(cr, r, &k, 'r'))
    return;
  dreq *d = calloc(1, sizeof(*d));
  if (!d) {
    nc_oapi_fail(r, 1, 500, NC_OAPI_SERVER, "out of memory");
    return;
  }
  d->cr = cr;
  d->r = r;
  d->k = k;
  d->nid = nid;
  nc_http_hold_abort(r, on_abort, d);
  nc_config_history_get(cr->cs, &k, nid, on_row, d);
}
