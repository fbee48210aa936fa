/* config_admin: nacos-c's own config requests for operators and nacosctl
 * (official SDKs never send them):
 *   NcConfigListRequest    {tenant, group, dataId (glob, '*'), pageNo, pageSize}
 *     -> NcConfigListResponse {totalCount, pageNumber, pagesAvailable,
 *                              pageItems: [{dataId, group, tenant, md5, lastModified}]}
 *   NcConfigHistoryRequest {dataId, group, tenant, pageSize}
 *     -> NcConfigHistoryResponse {pageItems: [{id, opType, md5, lastModifiedTime,
 *                                              srcIp, srcUser}]} newest first
 * The list is served from the loop thread's cache; history reads the store,
 * so it runs as a job on the writer thread, after the writes queued before
 * it (a history read right after an acked publish shows that publish). */
#include "config_int.h"
#include "config_util.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX_PAGE_SIZE 1000
#define HIST_MAX_ROWS 1000

/* ---- list ---- */

typedef struct list_filter {
  const char *tenant, *group, *pattern;
  const nc_cfg_item **hits;
  size_t n, cap;
  int oom;
} list_filter;

static void list_visit(void *ud, const char *key, void *val) {
  (void)key;
  list_filter *f = ud;
  const nc_cfg_item *it = val;
  if (f->oom || strcmp(it->tenant, f->tenant) != 0 || (*f->group && strcmp(it->group, f->group)) ||
      (*f->pattern && fnmatch(f->pattern, it->data_id, 0) != 0))
    return;
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 64;
    const nc_cfg_item **h = realloc(f->hits, cap * sizeof(*h));
    if (!h) {
      f->oom = 1;
      return;
    }
    f->hits = h;
    f->cap = cap;
  }
  f->hits[f->n++] = it;
}

/* By group, then dataId: a stable order so pages do not overlap. */
static int item_cmp(const void *a, const void *b) {
  const nc_cfg_item *x = *(const nc_cfg_item *const *)a, *y = *(const nc_cfg_item *const *)b;
  int c = strcmp(x->group, y->group);
  return c ? c : strcmp(x->data_id, y->data_id);
}

/* A dataId pattern: name characters and '*'; fnmatch's other magic ([, ?, \)
 * is refused so a pattern means what nacosctl users expect. */
static int valid_pattern(const char *p) {
  if (strlen(p) > NC_CFG_MAX_DATA_ID)
    return 0;
  for (; *p; p++)
    if (!(*p == '*' || *p == '-' || *p == '_' || *p == ':' || *p == '.' ||
          (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
      return 0;
  return 1;
}

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
  list_filter f = {.tenant = nc_cfg_norm_tenant(nc_json_str(m->body, "tenant", "")),
                   .group = nc_json_str(m->body, "group", ""),
                   .pattern = nc_json_str(m->body, "dataId", "")};
  long long page = nc_json_int(m->body, "pageNo", 1), size = nc_json_int(m->body, "pageSize", 100);
  cJSON *b = NULL, *items = NULL;
  if (!nc_cfg_valid_tenant(f.tenant) || (*f.group && !nc_cfg_valid_name(f.group, NC_CFG_MAX_GROUP))) {
    nc_req_fail(r, rt, 400, "invalid tenant or group");
    return;
  }
  if (!valid_pattern(f.pattern)) {
    nc_req_fail(r, rt, 400, "invalid dataId pattern: use [a-zA-Z0-9-_:.] and '*'");
    return;
  }
  if (page < 1 || size < 1 || size > LIST_MAX_PAGE_SIZE) {
    nc_req_fail(r, rt, 400, "pageNo must be >= 1 and pageSize 1-1000");
    return;
  }
  nc_strmap_foreach(cs->cache, list_visit, &f);
  if (f.oom)
    goto oom;
  if (f.n > 1)
    qsort(f.hits, f.n, sizeof(*f.hits), item_cmp);
  if (!(b = nc_resp_ok()) || !(items = cJSON_AddArrayToObject(b, "pageItems")))
    goto oom;
  size_t from = (size_t)(page - 1) * (size_t)size;
  for (size_t i = from; i < f.n && i < from + (size_t)size; i++) {
    cJSON *o = list_item_json(f.hits[i]);
    if (!o)
      goto oom;
    cJSON_AddItemToArray(items, o);
  }
  if (!cJSON_AddNumberToObject(b, "totalCount", (double)f.n) ||
      !cJSON_AddNumberToObject(b, "pageNumber", (double)page) ||
      !cJSON_AddNumberToObject(b, "pagesAvailable", (double)((f.n + (size_t)size - 1) / (size_t)size)))
    goto oom;
  free(f.hits);
  nc_req_reply(r, rt, b);
  return;
oom:
  free(f.hits);
  cJSON_Delete(b);
  nc_req_fail(r, rt, 500, "out of memory");
}

/* ---- history ---- */

typedef struct hjob {
  nc_cfg_job job; /* first member */
  nc_req *req;
  char *data_id, *group, *tenant;
  size_t max;
  nc_cfg_hist *rows;
  size_t n;
  int rc;
} hjob;

static const char HIST_RT[] = "NcConfigHistoryResponse";

static void hjob_free(hjob *j) {
  nc_cfg_hist_free(j->rows, j->n);
  free(j->data_id);
  free(j->group);
  free(j->tenant);
  free(j);
}

/* Writer thread. */
static void hjob_run(nc_cfg_job *job, nc_cfg_store *store) {
  hjob *j = (hjob *)job;
  j->rc = nc_cfg_store_history(store, j->data_id, j->group, j->tenant, j->max, &j->rows, &j->n);
}

static void hjob_release(nc_cfg_job *job) {
  hjob *j = (hjob *)job;
  nc_req_fail(j->req, HIST_RT, 500, "server is shutting down");
  hjob_free(j);
}

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

/* Loop thread: the store answered. */
static void hjob_complete(nc_cfg_job *job) {
  hjob *j = (hjob *)job;
  cJSON *b = NULL, *items;
  if (j->rc) {
    nc_warn("config: history of %s/%s failed: %s", NC_LOG_ESC(j->group), NC_LOG_ESC(j->data_id),
            nc_strerror(j->rc));
    nc_req_fail(j->req, HIST_RT, 500, "history read failed");
    goto out;
  }
  if (!(b = nc_resp_ok()) || !(items = cJSON_AddArrayToObject(b, "pageItems")))
    goto oom;
  for (size_t i = 0; i < j->n; i++) {
    cJSON *o = hist_row_json(&j->rows[i]);
    if (!o)
      goto oom;
    cJSON_AddItemToArray(items, o);
  }
  nc_req_reply(j->req, HIST_RT, b);
  goto out;
oom:
  cJSON_Delete(b);
  nc_req_fail(j->req, HIST_RT, 500, "out of memory");
out:
  hjob_free(j);
}

static void h_history(void *ud, nc_req *r, const nc_msg *m) {
  nc_config_service *cs = ud;
  char buf[200];
  nc_cfg_key k;
  const char *err = nc_cfg_check_key(m->body, &k, buf, sizeof(buf));
  long long max = nc_json_int(m->body, "pageSize", 30);
  if (err || max < 1 || max > HIST_MAX_ROWS) {
    nc_req_fail(r, HIST_RT, 400, err ? err : "pageSize must be 1-1000");
    return;
  }
  hjob *j = calloc(1, sizeof(*j));
  if (!j || !(j->data_id = strdup(k.data_id)) || !(j->group = strdup(k.group)) ||
      !(j->tenant = strdup(k.tenant))) {
    if (j)
      hjob_free(j);
    nc_req_fail(r, HIST_RT, 500, "out of memory");
    return;
  }
  j->req = r;
  j->max = (size_t)max;
  j->job.run = hjob_run;
  j->job.complete = hjob_complete;
  j->job.release = hjob_release;
  if (nc_cfg_writer_submit(cs->writer, &j->job) != 0)
    hjob_release(&j->job);
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
  C("config_publishes_total", "ConfigPublishRequests received.", s->publishes);
  C("config_removes_total", "ConfigRemoveRequests received.", s->removes);
  C("config_commits_total", "Store transactions committed (several writes each).", s->commits);
  C("config_commit_failures_total", "Store transactions that failed.", s->commit_failures);
  C("config_notifies_sent_total", "ConfigChangeNotifyRequests sent, retries included.",
    s->notifies_sent);
  C("config_notifies_acked_total", "ConfigChangeNotifyRequests acknowledged.", s->notifies_acked);
#undef C
}
