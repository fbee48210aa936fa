/* console_routes: see console_routes.h. The service catalogue walks the
 * registry's clients (their publications name every service with an
 * instance) rather than keeping an index of its own: the console asks for
 * a page now and then, and a walk over the clients costs less than a
 * second copy of every service key kept up to date on each register. */
#include "console_routes.h"

#include "auth_routes.h"
#include "naming_instance.h"
#include "naming_meta.h"
#include "naming_routes_int.h"
#include "nc_auth_perm.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_strmap.h"
#include "oapi_result.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nc_conroutes {
  nc_naming *naming;
  nc_srv *srv;
  nc_auth *auth;
  nc_nmeta *meta; /* may be NULL */
};

int nc_conroutes_new(nc_naming *naming, nc_srv *srv, nc_auth *auth, nc_conroutes **out) {
  nc_conroutes *cr = calloc(1, sizeof(*cr));
  if (!cr)
    return NC_ENOMEM;
  *cr = (nc_conroutes){naming, srv, auth, NULL};
  *out = cr;
  return 0;
}

void nc_conroutes_free(nc_conroutes *cr) { free(cr); }

void nc_conroutes_set_meta(nc_conroutes *cr, nc_nmeta *meta) { cr->meta = meta; }

static void fail(nc_http_req *r, int status, const char *why) {
  nc_oapi_fail(r, 0, status, NC_OAPI_PARAM_VALIDATE, why);
}

/* A positive integer parameter no larger than max; def when absent. 0, or
 * answered 400. */
static int int_param(nc_http_req *r, const char *name, long def, long max, long *out) {
  const char *v = nc_oapi_param(r, name);
  if (!v) {
    *out = def;
    return 0;
  }
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || *end || x < 1 || x > max) {
    char why[96];
    snprintf(why, sizeof(why), "Param '%s' must be an integer 1..%ld", name, max);
    fail(r, 400, why);
    return -1;
  }
  *out = x;
  return 0;
}

/* 1 when the caller may read the service (auth off: always). */
static int may_read(nc_conroutes *cr, nc_http_req *r, const char *ns, const char *group,
                    const char *name) {
  if (!nc_auth_enabled(cr->auth))
    return 1;
  char res[NC_AUTH_RES_MAX], user[NC_AUTH_USER_MAX];
  return nc_auth_resource(res, sizeof(res), ns, group, "naming", name) == 0 &&
         nc_auth_check(cr->auth, nc_auth_http_token(r), res, 'r', user) == NC_AUTH_OK;
}

static int refuse(nc_http_req *r) {
  const char *why = nc_auth_result_msg(NC_AUTH_FORBIDDEN);
  nc_http_reply(r, 403, "text/plain", why, strlen(why));
  return 0;
}

/* ---- the service catalogue ---- */

typedef struct catalog {
  const char *ns, *group; /* group: add_group's, for on_stored */
  nc_strmap *keys; /* "group@@name" of the namespace's services -> (void *)1 */
  cJSON *ids;      /* client ids, walked after the client iteration */
} catalog;

static void add_key(catalog *c, const char *group, const char *name) {
  char k[2 * NAME_CAP + 2];
  if ((size_t)snprintf(k, sizeof(k), "%s@@%s", group, name) < sizeof(k) &&
      !nc_strmap_get(c->keys, k))
    nc_strmap_put(c->keys, k, (void *)1, NULL);
}

static void on_client(void *ud, const char *id, int synced, const char *owner, uint64_t rev) {
  (void)synced, (void)owner, (void)rev;
  cJSON_AddItemToArray(((catalog *)ud)->ids, cJSON_CreateString(id));
}

static void on_pub(void *ud, const char *ns, const char *group, const char *name,
                   nc_ninst *const *insts, size_t n) {
  catalog *c = ud;
  (void)insts;
  if (n && !strcmp(ns, c->ns))
    add_key(c, group, name);
}

static void on_stored(void *ud, const char *name, const cJSON *val) {
  catalog *c = ud;
  (void)val;
  add_key(c, c->group, name);
}

/* The bare names of (ns, group) services the registry lists (those with
 * only subscribers too) and the metadata store holds into the catalogue. */
static void add_group(nc_conroutes *cr, catalog *c, const char *group) {
  c->group = group;
  if (cr->meta)
    nc_nmeta_each_service(cr->meta, c->ns, group, on_stored, c);
  cJSON *names = cJSON_CreateArray();
  size_t total = nc_naming_list(cr->naming, c->ns, group, 1, 0, names);
  nc_naming_list(cr->naming, c->ns, group, 1, (int)(total < 1 ? 1 : total), names);
  const cJSON *it;
  cJSON_ArrayForEach(it, names) if (cJSON_IsString(it)) add_key(c, group, it->valuestring);
  cJSON_Delete(names);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- a service's instances, disabled ones included ----
 * Queries (nc_naming_service_info) leave out disabled instances, as Nacos
 * serves SDKs; its console shows them. So the console's list is built from
 * the publishers' own instances, once per ip:port:cluster (the oldest
 * copy, as queries do), with naming_meta's override applied as queries
 * apply it (weight and enabled replaced, metadata keys added). */

typedef struct hosts {
  nc_conroutes *cr;
  const char *ns, *group, *name, *key, *clusters;
  nc_strmap *seen;
  cJSON *ids, *out;
} hosts;

static void on_publisher(void *ud, const char *client_id) {
  cJSON_AddItemToArray(((hosts *)ud)->ids, cJSON_CreateString(client_id));
}

/* 1 when cluster is one of the comma list (NULL / "": all). */
static int in_list(const char *list, const char *cluster) {
  size_t n = strlen(cluster);
  for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
    if (strcspn(p, ",") == n && !strncmp(p, cluster, n))
      return 1;
  }
  return !list || !*list;
}

static void override(hosts *x, cJSON *h) {
  char mk[400];
  snprintf(mk, sizeof(mk), "%s:%d:%s", nc_json_str(h, "ip", ""), (int)nc_json_int(h, "port", 0),
           nc_json_str(h, "clusterName", ""));
  const cJSON *ov = x->cr->meta ? nc_nmeta_get(x->cr->meta, NC_NMETA_INSTANCE, x->ns, x->group,
                                                x->name, mk)
                                : NULL;
  const cJSON *w = cJSON_GetObjectItem(ov, "weight"), *en = cJSON_GetObjectItem(ov, "enabled");
  const cJSON *kv;
  if (cJSON_IsNumber(w))
    cJSON_ReplaceItemInObject(h, "weight", cJSON_CreateNumber(w->valuedouble));
  if (cJSON_IsBool(en))
    cJSON_ReplaceItemInObject(h, "enabled", cJSON_CreateBool(cJSON_IsTrue(en)));
  cJSON *hm = cJSON_GetObjectItem(h, "metadata");
  cJSON_ArrayForEach(kv, cJSON_GetObjectItem(ov, "metadata")) {
    if (cJSON_IsString(kv) && cJSON_IsObject(hm)) {
      cJSON_DeleteItemFromObjectCaseSensitive(hm, kv->string);
      cJSON_AddStringToObject(hm, kv->string, kv->valuestring);
    }
  }
}

static void on_inst_pub(void *ud, const char *ns, const char *group, const char *name,
                        nc_ninst *const *insts, size_t n) {
  hosts *x = ud;
  char kb[4 * NAME_CAP], id[600];
  const char *key = nc_nreg_key(kb, sizeof(kb), ns, group, name);
  for (size_t i = 0; key && !strcmp(key, x->key) && i < n; i++) {
    if (!in_list(x->clusters, nc_ninst_cluster(insts[i])) ||
        !nc_ninst_addr_key(insts[i], id, sizeof(id)) || nc_strmap_get(x->seen, id))
      continue;
    nc_strmap_put(x->seen, id, (void *)1, NULL);
    cJSON *h = nc_ninst_to_json(insts[i], x->group, x->name);
    if (h) {
      override(x, h);
      cJSON_AddItemToArray(x->out, h);
    }
  }
}

/* Every instance of the service (clusters: comma list filter, NULL all)
 * as a new array, NULL on OOM. */
static cJSON *all_hosts(nc_conroutes *cr, const char *ns, const char *group, const char *name,
                        const char *clusters) {
  char kb[4 * NAME_CAP];
  hosts x = {cr, ns, group, name, nc_nreg_key(kb, sizeof(kb), ns, group, name), clusters,
             nc_strmap_new(), cJSON_CreateArray(), cJSON_CreateArray()};
  nc_nreg *reg = nc_naming_registry(cr->naming);
  if (x.key && x.seen && x.ids && x.out) {
    nc_nreg_each_publisher(reg, x.key, on_publisher, &x);
    const cJSON *id;
    cJSON_ArrayForEach(id, x.ids) nc_nreg_client_pubs(reg, id->valuestring, NULL, NULL, on_inst_pub, &x);
  }
  nc_strmap_free(x.seen, NULL);
  cJSON_Delete(x.ids);
  if (!x.seen || !x.ids) {
    cJSON_Delete(x.out);
    return NULL;
  }
  return x.out;
}

/* One serviceList entry from the service's instances. */
static cJSON *service_entry(nc_conroutes *cr, const char *ns, const char *group,
                            const char *name, int *ip_count) {
  cJSON *all = all_hosts(cr, ns, group, name, NULL);
  cJSON *clusters = cJSON_CreateObject(), *o = cJSON_CreateObject();
  int ips = 0, healthy = 0, nclusters = 0;
  const cJSON *h;
  cJSON_ArrayForEach(h, all) {
    const char *cn = nc_json_str(h, "clusterName", "DEFAULT");
    ips++;
    healthy += cJSON_IsTrue(cJSON_GetObjectItem(h, "healthy"));
    if (!cJSON_GetObjectItem(clusters, cn)) {
      cJSON_AddTrueToObject(clusters, cn);
      nclusters++;
    }
  }
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddStringToObject(o, "groupName", group);
  cJSON_AddNumberToObject(o, "clusterCount", nclusters);
  cJSON_AddNumberToObject(o, "ipCount", ips);
  cJSON_AddNumberToObject(o, "healthyInstanceCount", healthy);
  /* the protect threshold is reached (Nacos's triggerFlag) */
  const cJSON *svc = cr->meta ? nc_nmeta_get(cr->meta, NC_NMETA_SERVICE, ns, group, name, "") : NULL;
  double thr = nc_json_num(svc, "protectThreshold", 0);
  cJSON_AddStringToObject(o, "triggerFlag", ips && (double)healthy / ips <= thr ? "true" : "false");
  cJSON_Delete(clusters);
  cJSON_Delete(all);
  *ip_count = ips;
  return o;
}

static void h_catalog_services(void *ud, nc_http_req *r) {
  nc_conroutes *cr = ud;
  const char *ns = nc_oapi_param(r, "namespaceId");
  const char *sq = nc_oapi_param(r, "serviceNameParam"), *gq = nc_oapi_param(r, "groupNameParam");
  const char *has = nc_oapi_param(r, "hasIpCount");
  long page_no, page_size;
  if (int_param(r, "pageNo", 1, 100000, &page_no) || int_param(r, "pageSize", 10, 1000, &page_size))
    return;
  if ((ns && strlen(ns) >= NAME_CAP) || (sq && strlen(sq) >= NAME_CAP) ||
      (gq && strlen(gq) >= NAME_CAP)) {
    fail(r, 400, "namespaceId, serviceNameParam or groupNameParam too long");
    return;
  }
  catalog c = {ns ? ns : "public", NULL, nc_strmap_new(), cJSON_CreateArray()};
  const char **keys = NULL;
  cJSON *out = NULL;
  if (!c.keys || !c.ids)
    goto out;
  nc_nreg *reg = nc_naming_registry(cr->naming);
  nc_nreg_each_client(reg, 0, NULL, on_client, &c);
  const cJSON *id;
  cJSON_ArrayForEach(id, c.ids) nc_nreg_client_pubs(reg, id->valuestring, NULL, NULL, on_pub, &c);
  add_group(cr, &c, "DEFAULT_GROUP");
  if (gq && strcmp(gq, "DEFAULT_GROUP"))
    add_group(cr, &c, gq);
  size_t n = nc_strmap_count(c.keys), k = 0;
  keys = calloc(n ? n : 1, sizeof(*keys));
  if (!keys)
    goto out;
  nc_strmap_iter it;
  const char *key;
  nc_strmap_iter_init(&it, c.keys);
  while (k < n && nc_strmap_iter_next(&it, &key, NULL))
    keys[k++] = key;
  qsort(keys, n, sizeof(*keys), cmp_str); /* group, then name: a stable order to page over */
  out = cJSON_CreateObject();
  cJSON *list = cJSON_CreateArray();
  long count = 0, first = (page_no - 1) * page_size;
  for (size_t i = 0; i < n; i++) {
    char group[NAME_CAP];
    const char *at = strstr(keys[i], "@@"), *name = at + 2;
    snprintf(group, sizeof(group), "%.*s", (int)(at - keys[i]), keys[i]);
    if ((gq && !strstr(group, gq)) || (sq && !strstr(name, sq)) ||
        !may_read(cr, r, c.ns, group, name))
      continue;
    int ips = 0;
    cJSON *e = service_entry(cr, c.ns, group, name, &ips);
    if (has && !strcmp(has, "true") && !ips) {
      cJSON_Delete(e);
      continue;
    }
    if (count >= first && count < first + page_size)
      cJSON_AddItemToArray(list, e);
    else
      cJSON_Delete(e);
    count++;
  }
  cJSON_AddNumberToObject(out, "count", (double)count);
  cJSON_AddItemToObject(out, "serviceList", list);
out:
  free(keys);
  nc_strmap_free(c.keys, NULL);
  cJSON_Delete(c.ids);
  if (out)
    nc_oapi_ok_json(r, 0, out);
  else
    nc_http_reply_error(r, 500, "out of memory");
}

/* ---- one service ---- */

/* The service the request names, readable by the caller, and the page
 * asked for (pageSize default def_size): 0, or answered. */
static int the_service(nc_conroutes *cr, nc_http_req *r, svc_ref *s, long def_size, long *page_no,
                       long *page_size) {
  if (nc_nrt_parse_svc(r, 0, s))
    return -1;
  if (!may_read(cr, r, s->ns, s->group, s->name))
    return refuse(r) - 1;
  return int_param(r, "pageNo", 1, 100000, page_no) ||
                 int_param(r, "pageSize", def_size, 10000, page_size)
             ? -1
             : 0;
}

/* {"count": items, <name>: page page_no of items}; takes items (NULL: none). */
static cJSON *paged(cJSON *items, const char *name, long page_no, long page_size) {
  cJSON *out = cJSON_CreateObject(), *page = cJSON_CreateArray(), *e;
  long count = 0, first = (page_no - 1) * page_size;
  while (items && (e = cJSON_DetachItemViaPointer(items, items->child)) != NULL) {
    if (count >= first && count < first + page_size)
      cJSON_AddItemToArray(page, e);
    else
      cJSON_Delete(e);
    count++;
  }
  cJSON_Delete(items);
  cJSON_AddNumberToObject(out, "count", (double)count);
  cJSON_AddItemToObject(out, name, page);
  return out;
}

static void h_catalog_instances(void *ud, nc_http_req *r) {
  nc_conroutes *cr = ud;
  svc_ref s;
  long page_no, page_size;
  if (the_service(cr, r, &s, 100, &page_no, &page_size))
    return;
  cJSON *all = all_hosts(cr, s.ns, s.group, s.name, nc_oapi_param(r, "clusterName"));
  if (!all) {
    nc_http_reply_error(r, 500, "out of memory");
    return;
  }
  nc_oapi_ok_json(r, 0, paged(all, "list", page_no, page_size));
}

typedef struct subs {
  nc_conroutes *cr;
  const svc_ref *s;
  const char *key;
  cJSON *list;
} subs;

static void on_subscriber(void *ud, const char *conn_id) {
  subs *x = ud;
  nc_conn *c = nc_srv_find_conn(x->cr->srv, conn_id);
  const char *clusters = NULL;
  nc_nreg_subscriber(nc_naming_registry(x->cr->naming), x->key, conn_id, &clusters);
  const char *ip = c ? nc_conn_client_ip(c) : NULL;
  if (!ip || !*ip)
    ip = c ? nc_conn_remote_ip(c) : "";
  int port = c ? nc_conn_remote_port(c) : 0;
  char addr[300];
  snprintf(addr, sizeof(addr), "%s:%d", ip, port);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "addrStr", addr);
  cJSON_AddStringToObject(o, "agent", c && nc_conn_version(c) ? nc_conn_version(c) : "");
  cJSON_AddStringToObject(o, "app", c && nc_conn_app(c) ? nc_conn_app(c) : "");
  cJSON_AddStringToObject(o, "ip", ip);
  cJSON_AddNumberToObject(o, "port", port);
  cJSON_AddStringToObject(o, "namespaceId", x->s->ns);
  cJSON_AddStringToObject(o, "serviceName", x->s->grouped);
  cJSON_AddStringToObject(o, "cluster", clusters ? clusters : "");
  cJSON_AddItemToArray(x->list, o);
}

static void h_subscribers(void *ud, nc_http_req *r) {
  nc_conroutes *cr = ud;
  svc_ref s;
  long page_no, page_size;
  if (the_service(cr, r, &s, 1000, &page_no, &page_size))
    return;
  char kb[4 * NAME_CAP];
  const char *key = nc_nreg_key(kb, sizeof(kb), s.ns, s.group, s.name);
  subs x = {cr, &s, key, cJSON_CreateArray()};
  if (key)
    nc_nreg_each_subscriber(nc_naming_registry(cr->naming), key, on_subscriber, &x);
  nc_oapi_ok_json(r, 0, paged(x.list, "subscribers", page_no, page_size));
}

/* flags 0: with auth on srv_http wants a valid token; the handlers then
 * check the service permission. */
const nc_http_route nc_console_routes[] = {
    {"/nacos/v1/ns/catalog/services", NC_HTTP_GET, h_catalog_services, 0},
    {"/nacos/v1/ns/catalog/instances", NC_HTTP_GET, h_catalog_instances, 0},
    {"/nacos/v1/ns/service/subscribers", NC_HTTP_GET, h_subscribers, 0},
};
const size_t nc_console_n_routes = sizeof(nc_console_routes) / sizeof(nc_console_routes[0]);
