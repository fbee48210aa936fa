/* config_routes_search: the config reads beyond a plain get, from the cache
 * (synchronous): Nacos's v1 search (GET /nacos/v1/cs/configs?search=
 * accurate|blur) and detail (show=all), and the 3.x paths GET
 * /nacos/v3/admin/cs/config (ConfigDetailInfo), /v3/admin/cs/config/list
 * and the client read /v3/client/cs/config (a ConfigQueryResponse in the
 * Result envelope). With auth on a list holds only the configs the caller
 * may read. Also the small helpers the config route files share.
 * Loop thread only. */
#include "config_routes_int.h"

#include "config_util.h"
#include "nc_auth_perm.h"
#include "nc_err.h"
#include "nc_json.h"
#include "oapi_result.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- shared helpers ---- */

void nc_crt_iso_time(int64_t ms, char *buf, size_t cap) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  char day[24] = "1970-01-01T00:00:00";
  if (gmtime_r(&s, &tm))
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, cap, "%s.%03d+00:00", day, (int)(ms % 1000));
}

const char *nc_crt_ns_out(int api, const char *t) {
  if (api == NC_CRT_V3 && (!t || !*t))
    return "public";
  return t ? t : "";
}

int nc_crt_pos_param(nc_http_req *r, int api, const char *name, long long def, long long *out) {
  const char *s = nc_http_param(r, name);
  *out = def;
  if (!s || !*s)
    return 0;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < 1) {
    char why[160];
    snprintf(why, sizeof(why), "Required parameter '%s' should be positive integer, current is %.40s",
             name, s);
    nc_oapi_fail(r, api != NC_CRT_V1, 400, NC_OAPI_PARAM_VALIDATE, why);
    return -1;
  }
  *out = v;
  return 0;
}

const char *nc_crt_ip_of(const char *peer, char *buf, size_t cap) {
  snprintf(buf, cap, "%s", peer);
  char *c = strrchr(buf, ':');
  if (c && (buf[0] != '[' || c[-1] == ']'))
    *c = '\0';
  if (buf[0] == '[') {
    size_t l = strlen(buf);
    if (l > 1 && buf[l - 1] == ']') {
      buf[l - 1] = '\0';
      memmove(buf, buf + 1, l - 1);
    }
  }
  return buf;
}

int nc_crt_ns_items(nc_croutes *cr, nc_http_req *r, const char *t, const nc_cfg_item ***out,
                    size_t *n) {
  const nc_cfg_item **all = NULL;
  size_t len = 0, capn = 0;
  char err[NC_CONFIG_ERR_CAP];
  int rc = 0;
  for (long long page = 1;; page++) {
    nc_config_list_query q = {.tenant = t, .page_no = page, .page_size = NC_CONFIG_LIST_MAX_PAGE};
    nc_config_list_page pg;
    rc = nc_config_list(cr->cs, &q, &pg, err, sizeof(err));
    if (rc)
      goto out;
    for (size_t i = 0; i < pg.n; i++) {
      const nc_cfg_item *it = pg.items[i];
      nc_config_key k = {it->data_id, it->group, it->tenant};
      if (!nc_crt_may(cr, r, &k, 'r'))
        continue;
      if (len == capn) {
        size_t nc = capn ? capn * 2 : 64;
        const nc_cfg_item **na = realloc(all, nc * sizeof(*na));
        if (!na) {
          nc_config_list_page_free(&pg);
          rc = NC_ENOMEM;
          goto out;
        }
        all = na;
        capn = nc;
      }
      all[len++] = it;
    }
    int last = (size_t)page >= pg.pages;
    nc_config_list_page_free(&pg);
    if (last)
      break;
  }
out:
  if (rc) {
    free(all);
    all = NULL;
    len = 0;
  }
  *out = all;
  *n = len;
  return rc;
}

/* ---- search ---- */

typedef struct search_q {
  int blur;
  const char *data_id, *group, *app, *content, *tags, *types;
} search_q;

/* accurate: equal; blur: Nacos's LIKE with '*' as its wildcard. Blank
 * matches everything. */
static int field_match(int blur, const char *want, const char *have) {
  if (nc_cfg_blank(want))
    return 1;
  return blur ? nc_auth_glob(want, have) : !strcmp(want, have);
}

/* types: a comma-separated list of content types. */
static int type_match(const char *types, const char *type) {
  if (nc_cfg_blank(types))
    return 1;
  size_t tl = strlen(type);
  for (const char *p = types; *p;) {
    const char *c = strchr(p, ',');
    size_t l = c ? (size_t)(c - p) : strlen(p);
    if (l == tl && !strncmp(p, type, l))
      return 1;
    p += l + (c ? 1 : 0);
  }
  return 0;
}

static int matches(const search_q *q, const nc_cfg_item *it) {
  /* tags are not stored: a tag filter finds nothing, as in Nacos for
   * configs without tags */
  if (!nc_cfg_blank(q->tags))
    return 0;
  if (!field_match(q->blur, q->data_id, it->data_id) || !field_match(q->blur, q->group, it->group) ||
      !field_match(0, q->app, it->app_name) || !type_match(q->types, it->type))
    return 0;
  if (nc_cfg_blank(q->content))
    return 1;
  /* content: a substring (strstr: linear for the usual query), '*' as a
   * wildcard inside it */
  if (!strchr(q->content, '*'))
    return strstr(it->content ? it->content : "", q->content) != NULL;
  char pat[1100];
  snprintf(pat, sizeof(pat), "*%.1024s*", q->content);
  return nc_auth_glob(pat, it->content ? it->content : "");
}

/* One search hit: v1 ConfigInfo (with content), v3 ConfigBasicInfo. */
static cJSON *hit_json(int api, const nc_cfg_item *it) {
  const char *t = nc_crt_ns_out(api, it->tenant);
  cJSON *o = cJSON_CreateObject();
  int bad = !o || !cJSON_AddNumberToObject(o, "id", 0);
  if (!bad && api == NC_CRT_V3)
    bad = nc_json_add_str(o, "namespaceId", t) || nc_json_add_str(o, "groupName", it->group) ||
          nc_json_add_str(o, "dataId", it->data_id) || nc_json_add_str(o, "md5", it->md5) ||
          nc_json_add_str(o, "type", it->type) || nc_json_add_str(o, "appName", it->app_name) ||
          !cJSON_AddNumberToObject(o, "createTime", (double)it->created_ms) ||
          !cJSON_AddNumberToObject(o, "modifyTime", (double)it->modified_ms);
  else if (!bad)
    bad = nc_json_add_str(o, "dataId", it->data_id) || nc_json_add_str(o, "group", it->group) ||
          nc_json_add_str(o, "content", it->content) || nc_json_add_str(o, "md5", it->md5) ||
          nc_json_add_str(o, "encryptedDataKey", it->encrypted_data_key) ||
          nc_json_add_str(o, "tenant", t) || nc_json_add_str(o, "appName", it->app_name) ||
          nc_json_add_str(o, "type", it->type);
  if (bad) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static void search(nc_croutes *cr, nc_http_req *r, int api, const search_q *q, long long page_no,
                   long long page_size) {
  int env = api != NC_CRT_V1;
  const char *t = nc_crt_ns_param(r, api);
  if (!nc_cfg_valid_tenant(nc_cfg_norm_tenant(t))) {
    nc_oapi_fail(r, env, 400, NC_OAPI_TENANT_PARAM, "invalid tenant");
    return;
  }
  const nc_cfg_item **items = NULL;
  size_t n = 0, hits = 0;
  cJSON *o = NULL, *arr = NULL;
  if (nc_crt_ns_items(cr, r, t, &items, &n))
    goto oom;
  for (size_t i = 0; i < n; i++) /* keep the hits, in order */
    if (matches(q, items[i]))
      items[hits++] = items[i];
  size_t from = (unsigned long long)(page_no - 1) <= hits / (size_t)page_size
                    ? (size_t)(page_no - 1) * (size_t)page_size
                    : hits;
  if (!(o = cJSON_CreateObject()) || !cJSON_AddNumberToObject(o, "totalCount", (double)hits) ||
      !cJSON_AddNumberToObject(o, "pageNumber", (double)page_no) ||
      !cJSON_AddNumberToObject(o, "pagesAvailable",
                               (double)((hits + (size_t)page_size - 1) / (size_t)page_size)) ||
      !(arr = cJSON_AddArrayToObject(o, "pageItems")))
    goto oom;
  for (size_t i = from; i < hits && i < from + (size_t)page_size; i++) {
    cJSON *h = hit_json(api, items[i]);
    if (!h)
      goto oom;
    cJSON_AddItemToArray(arr, h);
  }
  free(items);
  nc_oapi_ok_json(r, env, o);
  return;
oom:
  free(items);
  cJSON_Delete(o);
  nc_oapi_fail(r, env, 500, NC_OAPI_SERVER, "out of memory");
}

/* ---- detail ---- */

/* v1 ConfigAllInfo or v3 ConfigDetailInfo of it. */
static cJSON *detail_json(int api, const nc_cfg_item *it) {
  cJSON *o = hit_json(api, it);
  if (!o)
    return NULL;
  int bad = 0;
  if (api == NC_CRT_V3)
    bad = nc_json_add_str(o, "content", it->content) ||
          nc_json_add_str(o, "encryptedDataKey", it->encrypted_data_key);
  else
    bad = !cJSON_AddNumberToObject(o, "createTime", (double)it->created_ms) ||
          !cJSON_AddNumberToObject(o, "modifyTime", (double)it->modified_ms);
  if (!bad)
    bad = nc_json_add_str(o, "createUser", it->src_user) ||
          nc_json_add_str(o, "createIp", it->src_ip);
  if (bad) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* The cached item of r's key, or NULL answered (404 with not_found). */
static const nc_cfg_item *lookup(nc_croutes *cr, nc_http_req *r, int api, int status404,
                                 const char *not_found) {
  nc_config_key k;
  if (nc_crt_parse_key(r, api, &k) || !nc_crt_permitted(cr, r, &k, 'r'))
    return NULL;
  const nc_cfg_item *it = NULL;
  char err[NC_CONFIG_ERR_CAP];
  int rc = nc_config_get(cr->cs, &k, &it, err, sizeof(err));
  int env = api != NC_CRT_V1;
  if (rc == NC_ENOTFOUND && !env)
    nc_http_reply(r, 404, "text/plain;charset=UTF-8", "config data not exist\n", 22);
  else if (rc == NC_ENOTFOUND)
    nc_oapi_fail(r, 1, status404, NC_OAPI_NOT_FOUND, not_found);
  else if (rc == NC_EINVAL)
    nc_oapi_fail(r, env, 400,
                 !strncmp(err, "invalid tenant", 14) ? NC_OAPI_TENANT_PARAM : NC_OAPI_PARAM_VALIDATE,
                 err);
  else if (rc)
    nc_oapi_fail(r, env, 500, NC_OAPI_SERVER, err);
  return rc ? NULL : it;
}

void nc_crt_v3_detail(nc_croutes *cr, nc_http_req *r) {
  const nc_cfg_item *it =
      lookup(cr, r, NC_CRT_V3, 404, "Config not exist, please publish Config first.");
  if (it)
    nc_oapi_ok_json(r, 1, detail_json(NC_CRT_V3, it));
}

void nc_crt_v3_client_get(void *ud, nc_http_req *r) {
  /* Nacos answers a missing config with Result.failure: HTTP 200, code 20004 */
  const nc_cfg_item *it = lookup(ud, r, NC_CRT_V3, 200, "config data not exist");
  if (!it)
    return;
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddNumberToObject(o, "resultCode", 200) ||
      !cJSON_AddNumberToObject(o, "errorCode", 0) || !cJSON_AddBoolToObject(o, "success", 1) ||
      nc_json_add_str(o, "content", it->content) ||
      nc_json_add_str(o, "encryptedDataKey", it->encrypted_data_key) ||
      nc_json_add_str(o, "contentType", it->type) || nc_json_add_str(o, "md5", it->md5) ||
      !cJSON_AddNumberToObject(o, "lastModified", (double)it->modified_ms) ||
      !cJSON_AddBoolToObject(o, "beta", 0)) {
    cJSON_Delete(o);
    o = NULL;
  }
  nc_oapi_ok_json(r, 1, o);
}

int nc_crt_v1_get_extra(nc_croutes *cr, nc_http_req *r) {
  const char *s = nc_http_param(r, "search"), *show = nc_http_param(r, "show");
  if (s) {
    if (strcmp(s, "accurate") && strcmp(s, "blur")) {
      nc_oapi_fail(r, 0, 400, NC_OAPI_PARAM_VALIDATE, "search must be accurate or blur");
      return 1;
    }
    /* v1 wants pageNo and pageSize (Spring's required int parameters) */
    long long page_no, page_size;
    static const char *const req[] = {"pageNo", "pageSize"};
    for (int i = 0; i < 2; i++)
      if (!nc_http_param(r, req[i])) {
        char why[96];
        snprintf(why, sizeof(why), "Required parameter '%s' type int is not present", req[i]);
        nc_oapi_fail(r, 0, 400, NC_OAPI_PARAM_MISSING, why);
        return 1;
      }
    if (nc_crt_pos_param(r, NC_CRT_V1, "pageNo", 1, &page_no) ||
        nc_crt_pos_param(r, NC_CRT_V1, "pageSize", 100, &page_size))
      return 1;
    search_q q = {.blur = !strcmp(s, "blur"),
                  .data_id = nc_http_param(r, "dataId"),
                  .group = nc_http_param(r, "group"),
                  .app = nc_http_param(r, "appName"),
                  .content = nc_http_param(r, "config_detail"),
                  .tags = nc_http_param(r, "config_tags"),
                  .types = nc_http_param(r, "types")};
    search(cr, r, NC_CRT_V1, &q, page_no, page_size > 500 ? 500 : page_size);
    return 1;
  }
  if (show && !strcmp(show, "all")) {
    const nc_cfg_item *it = lookup(cr, r, NC_CRT_V1, 404, "config data not exist");
    if (it)
      nc_oapi_ok_json(r, 0, detail_json(NC_CRT_V1, it));
    return 1;
  }
  return 0;
}

void nc_crt_v3_list(void *ud, nc_http_req *r) {
  const char *s = nc_http_param(r, "search");
  long long page_no, page_size;
  if (s && strcmp(s, "accurate") && strcmp(s, "blur")) {
    nc_oapi_fail(r, 1, 400, NC_OAPI_PARAM_VALIDATE, "search must be accurate or blur");
    return;
  }
  if (nc_crt_pos_param(r, NC_CRT_V3, "pageNo", 1, &page_no) ||
      nc_crt_pos_param(r, NC_CRT_V3, "pageSize", 100, &page_size))
    return;
  search_q q = {.blur = !s || !strcmp(s, "blur"),
                .data_id = nc_http_param(r, "dataId"),
                .group = nc_http_param(r, "groupName"),
                .app = nc_http_param(r, "appName"),
                .content = nc_http_param(r, "configDetail"),
                .tags = nc_http_param(r, "configTags"),
                .types = nc_http_param(r, "type")};
  search(ud, r, NC_CRT_V3, &q, page_no, page_size > 500 ? 500 : page_size);
}
