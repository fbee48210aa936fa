/* naming.services, config.list, config.history, config.rollback: one
 * upstream request each (ServiceListRequest; nacos-c's NcConfigListRequest,
 * NcConfigHistoryRequest or, with an id, NcConfigHistoryGetRequest, and
 * NcConfigRollbackRequest), its answer reshaped into the local protocol's
 * names. Inputs are checked here, so a bad page size is a BAD_REQUEST from
 * the agent, not a round trip; without an upstream the answer is
 * UNAVAILABLE at once (nothing of this is cached). The server's 404 (a
 * history id the key does not have) is NOT_FOUND. */
#include "agent_admin.h"
#include "link.h"
#include "reply.h"
#include "nc_err.h"
#include "nc_json.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAGE_SIZE 1000

/* Builds the reply's fields (into out) from the server's answer body. */
typedef int (*reshape_fn)(const cJSON *body, cJSON *out);

typedef struct adm_ctx {
  nc_ag_waiter *w;
  reshape_fn reshape;
} adm_ctx;

static void adm_done(void *ud, int status, nc_msg *resp) {
  adm_ctx *x = ud;
  nc_ag_waiter *w = x->w;
  if (status == 0 && resp && !resp->body_error && !nc_ag_resp_ok(resp) &&
      nc_json_int(resp->body, "errorCode", 0) == 404) {
    nc_ag_err(w->c, w->id, "NOT_FOUND", "%s", nc_json_str(resp->body, "message", "not found"));
  } else if (status == 0 && nc_ag_resp_ok(resp)) {
    cJSON *out = cJSON_CreateObject();
    if (!out || x->reshape(resp->body, out) != 0) {
      cJSON_Delete(out);
      nc_ag_err(w->c, w->id, "INTERNAL", "out of memory");
    } else {
      nc_ag_ok(w->c, w->id, out);
    }
  } else {
    nc_ag_err_upstream(w->c, w->id, status, resp);
  }
  nc_msg_free(resp);
  nc_ag_waiter_free(w);
  free(x);
}

/* Sends body (owned) as type; the answer goes through reshape to c. */
static void adm_send(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const char *type,
                     cJSON *body, reshape_fn reshape) {
  if (!ag->connected) {
    cJSON_Delete(body);
    nc_ag_err(c, id, "UNAVAILABLE", "no upstream connection");
    return;
  }
  adm_ctx *x = calloc(1, sizeof(*x));
  if (!body || !x || !(x->w = nc_ag_waiter_new(c, id))) {
    cJSON_Delete(body);
    free(x);
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  x->reshape = reshape;
  nc_ag_up(ag, type, body, adm_done, x);
}

/* One field of a row: copied from the server's name to ours. */
typedef struct field_map {
  const char *from, *to;
  int number;
} field_map;

/* Copies the fields of map from row to o (strings default to "", numbers
 * to 0: never null). */
static int copy_fields(const cJSON *row, cJSON *o, const field_map *map) {
  for (const field_map *f = map; f->from; f++) {
    if (f->number ? !cJSON_AddNumberToObject(o, f->to, (double)nc_json_int(row, f->from, 0))
                  : nc_json_add_str(o, f->to, nc_json_str(row, f->from, "")))
      return -1;
  }
  return 0;
}

/* Copies the rows of body[key] into a new array out[to], each row with the
 * fields of map (strings default to "", numbers to 0: never null). */
static int copy_rows(const cJSON *body, const char *key, cJSON *out, const char *to,
                     const field_map *map) {
  cJSON *arr = cJSON_AddArrayToObject(out, to);
  const cJSON *row;
  if (!arr)
    return -1;
  cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(body, key)) {
    cJSON *o = cJSON_CreateObject();
    if (!o)
      return -1;
    cJSON_AddItemToArray(arr, o);
    if (copy_fields(row, o, map))
      return -1;
  }
  return 0;
}

/* The paging fields every listing takes. */
static int read_page(nc_ipc_client *c, const cJSON *id, const cJSON *req, int def_size,
                     int *page_no, int *page_size) {
  if (page_no && nc_ag_read_int(c, id, req, "pageNo", 1, 1, INT_MAX, page_no))
    return -1;
  return nc_ag_read_int(c, id, req, "pageSize", def_size, 1, MAX_PAGE_SIZE, page_size);
}

/* ---- naming.services ---- */

static int services_reshape(const cJSON *body, cJSON *out) {
  cJSON *names = cJSON_CreateArray();
  const cJSON *e;
  if (!names || !cJSON_AddNumberToObject(out, "count", (double)nc_json_int(body, "count", 0))) {
    cJSON_Delete(names);
    return -1;
  }
  cJSON_AddItemToObject(out, "services", names);
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(body, "serviceNames")) {
    cJSON *s = cJSON_IsString(e) ? cJSON_CreateString(e->valuestring) : NULL;
    if (cJSON_IsString(e) && !s)
      return -1;
    if (s)
      cJSON_AddItemToArray(names, s);
  }
  return 0;
}

static void op_services(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  int bad = 0, page_no, page_size;
  const char *ns = nc_ag_req_ns(c, id, req, &bad), *group;
  if (bad || !(group = nc_ag_req_name(c, id, req, "group", "DEFAULT_GROUP")) ||
      read_page(c, id, req, 100, &page_no, &page_size))
    return;
  cJSON *b = cJSON_CreateObject();
  /* Naming namespaces go upstream as "public" for the default one. */
  if (b && (!cJSON_AddObjectToObject(b, "headers") ||
            !cJSON_AddStringToObject(b, "namespace", ns[0] ? ns : "public") ||
            !cJSON_AddStringToObject(b, "groupName", group) ||
            !cJSON_AddNumberToObject(b, "pageNo", page_no) ||
            !cJSON_AddNumberToObject(b, "pageSize", page_size) ||
            !cJSON_AddStringToObject(b, "selector", "") ||
            !cJSON_AddStringToObject(b, "module", "naming"))) {
    cJSON_Delete(b);
    b = NULL;
  }
  adm_send(ag, c, id, "ServiceListRequest", b, services_reshape);
}

/* ---- config.list ---- */

static const field_map list_fields[] = {
    {"dataId", "dataId", 0}, {"group", "group", 0},        {"tenant", "namespace", 0},
    {"md5", "md5", 0},       {"lastModified", "lastModified", 1}, {NULL, NULL, 0},
};

static int list_reshape(const cJSON *body, cJSON *out) {
  if (!cJSON_AddNumberToObject(out, "totalCount", (double)nc_json_int(body, "totalCount", 0)) ||
      !cJSON_AddNumberToObject(out, "pageNumber", (double)nc_json_int(body, "pageNumber", 1)) ||
      !cJSON_AddNumberToObject(out, "pagesAvailable",
                               (double)nc_json_int(body, "pagesAvailable", 0)))
    return -1;
  return copy_rows(body, "pageItems", out, "items", list_fields);
}

static void op_config_list(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  int bad = 0, page_no, page_size;
  const char *ns = nc_ag_req_ns(c, id, req, &bad), *group, *pattern;
  /* group "" = every group, dataId "" = every key ('*' globs). */
  if (bad || !(group = nc_ag_req_name(c, id, req, "group", "")) ||
      !(pattern = nc_ag_req_data_id(c, id, req, "")) ||
      read_page(c, id, req, 100, &page_no, &page_size))
    return;
  cJSON *b = nc_ag_config_body(ns, group, pattern);
  if (b && (!cJSON_AddNumberToObject(b, "pageNo", page_no) ||
            !cJSON_AddNumberToObject(b, "pageSize", page_size))) {
    cJSON_Delete(b);
    b = NULL;
  }
  adm_send(ag, c, id, "NcConfigListRequest", b, list_reshape);
}

/* ---- config.history ---- */

static const field_map hist_fields[] = {
    {"id", "id", 1},
    {"opType", "opType", 0},
    {"md5", "md5", 0},
    {"lastModifiedTime", "lastModifiedTime", 1},
    {"srcIp", "srcIp", 0},
    {"srcUser", "srcUser", 0},
    {"type", "type", 0},
    {"rollbackOf", "rollbackOf", 1},
    {NULL, NULL, 0},
};

static int hist_reshape(const cJSON *body, cJSON *out) {
  return copy_rows(body, "pageItems", out, "items", hist_fields);
}

/* One version: {version: a row's fields and its content (null when the
 * server did not record it)}. Nested because a reply's own "id" is the
 * request's. */
static int version_reshape(const cJSON *body, cJSON *out) {
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(body, "content");
  cJSON *v = cJSON_AddObjectToObject(out, "version");
  if (!v || copy_fields(body, v, hist_fields))
    return -1;
  cJSON *c = cJSON_IsString(content) ? cJSON_CreateString(content->valuestring)
                                     : cJSON_CreateNull();
  if (!c)
    return -1;
  cJSON_AddItemToObject(v, "content", c);
  return 0;
}

/* "historyId" of config.history / config.rollback ("id" is the request's
 * own): a positive integer (a JSON number holds ids up to 2^53 exactly).
 * *out = 0 when absent and not required. 0, or -1 after replying
 * BAD_REQUEST. */
static int read_hist_id(nc_ipc_client *c, const cJSON *id, const cJSON *req, int required,
                        int64_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "historyId");
  *out = 0;
  if (!v && !required)
    return 0;
  if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9007199254740992.0 ||
      v->valuedouble != (double)(int64_t)v->valuedouble) {
    nc_ag_err(c, id, "BAD_REQUEST", "'historyId' must be an integer >= 1");
    return -1;
  }
  *out = (int64_t)v->valuedouble;
  return 0;
}

/* A config body with the history id; NULL on OOM. */
static cJSON *hist_id_body(const nc_ag_ckey *k, int64_t hid) {
  cJSON *b = nc_ag_config_body(k->ns, k->group, k->data_id);
  if (b && !cJSON_AddNumberToObject(b, "id", (double)hid)) {
    cJSON_Delete(b);
    b = NULL;
  }
  return b;
}

static void op_config_history(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ckey k;
  int page_size;
  int64_t hid;
  if (nc_ag_read_ckey(c, id, req, &k) || read_hist_id(c, id, req, 0, &hid))
    return;
  if (hid) { /* one version, with its content */
    adm_send(ag, c, id, "NcConfigHistoryGetRequest", hist_id_body(&k, hid), version_reshape);
    return;
  }
  if (read_page(c, id, req, 30, NULL, &page_size))
    return;
  cJSON *b = nc_ag_config_body(k.ns, k.group, k.data_id);
  if (b && !cJSON_AddNumberToObject(b, "pageSize", page_size)) {
    cJSON_Delete(b);
    b = NULL;
  }
  adm_send(ag, c, id, "NcConfigHistoryRequest", b, hist_reshape);
}

/* ---- config.rollback ---- */

static int rollback_reshape(const cJSON *body, cJSON *out) {
  return nc_json_add_str(out, "md5", nc_json_str(body, "md5", ""));
}

static void op_config_rollback(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ckey k;
  int64_t hid;
  if (nc_ag_read_ckey(c, id, req, &k) || read_hist_id(c, id, req, 1, &hid))
    return;
  adm_send(ag, c, id, "NcConfigRollbackRequest", hist_id_body(&k, hid), rollback_reshape);
}

const nc_ag_op nc_ag_admin_ops[] = {
    {"naming.services", op_services},
    {"config.list", op_config_list},
    {"config.history", op_config_history},
    {"config.rollback", op_config_rollback},
    {NULL, NULL},
};
