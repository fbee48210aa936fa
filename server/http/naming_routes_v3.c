/* naming_routes_v3: the naming paths of Nacos 3.x over the v2 handlers
 * (naming/controllers/v3 of Nacos 3.x):
 *   /nacos/v3/client/ns/instance (InstanceOpenApiController): POST
 *     registers, or with heartBeat=true beats ("ok", or code 21003 when
 *     the instance is unknown, so the client registers again); DELETE
 *     deregisters; GET /list answers the enabled hosts themselves as data
 *     (not a ServiceInfo).
 *   /nacos/v3/admin/ns/instance (InstanceControllerV3): writes as v2 (the
 *     same forms; namespace "public"); GET answers the Instance itself,
 *     GET /list a cluster's Instances.
 *   PUT /nacos/v3/admin/ns/instance/partial: only the fields given change
 *     the instance's override (as PATCH /v1/ns/instance).
 *   /nacos/v3/admin/ns/service (ServiceControllerV3): POST, PUT, DELETE as
 *     v2; GET answers Nacos 3.x's ServiceDetailInfo, GET /list a
 *     Page<ServiceView> (withInstances=true: Page<ServiceDetailInfo> with
 *     each cluster's hosts), GET /selector/types the selector types.
 * The rest of the v3 admin API is naming_routes_v3ops.c. Writes go to the
 * responsible member like the v1/v2 ones. */
#include "naming_routes_int.h"

#include "auth_routes.h"
#include "naming_pstore.h"
#include "nc_auth_perm.h"
#include "nc_json.h"
#include "nc_strmap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nc_nrt_v3_client_instance(void *ud, nc_http_req *r) {
  if (!strcmp(nc_http_method(r), "DELETE"))
    nc_nrt_dispatch(ud, r, 1, NRT_DEREGISTER);
  else if (nc_nrt_to_bool(nc_nrt_param(r, "heartBeat"), 0))
    nc_nrt_dispatch(ud, r, 1, NRT_HEARTBEAT);
  else
    nc_nrt_dispatch(ud, r, 1, NRT_REGISTER);
}

void nc_nrt_v3_admin_partial(void *ud, nc_http_req *r) { nc_nrt_dispatch(ud, r, 1, NRT_PATCH); }

void nc_nrt_v3_client_list(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  svc_ref s;
  if (nc_nrt_parse_svc(r, 1, &s) || !nc_nrt_permitted(nr, r, &s, 'r'))
    return;
  cJSON *info = nc_naming_service_info(nr->naming, s.ns, s.group, s.name,
                                       nc_nrt_param(r, "clusterName"), 0);
  cJSON *hosts = info ? cJSON_DetachItemFromObject(info, "hosts") : NULL;
  cJSON_Delete(info);
  if (!hosts) {
    nc_nrt_fail(r, 1, 500, E_SERVER, "out of memory");
    return;
  }
  nc_nrt_ok_json(r, 1, hosts);
}

/* ---- InstanceControllerV3's reads ---- */

/* GET: the Instance ip:port of clusterName (DEFAULT) as queries show it;
 * 404 20004 as Nacos's getInstance. Nacos secures it as a write. */
static void instance_detail(nc_nroutes *nr, nc_http_req *r) {
  svc_ref s;
  const char *ip;
  int port;
  nrt_call c = NRT_HTTP(r, 1);
  if (nc_nrt_cparse_svc(&c, &s) || nc_nrt_parse_addr(&c, &ip, &port) ||
      !nc_nrt_permitted(nr, r, &s, 'w'))
    return;
  const char *cl = nc_nrt_param(r, "clusterName");
  if (!cl)
    cl = "DEFAULT";
  cJSON *info = nc_naming_service_info(nr->naming, s.ns, s.group, s.name, NULL, 0);
  cJSON *hosts = cJSON_GetObjectItem(info, "hosts"), *h, *found = NULL;
  cJSON_ArrayForEach(h, hosts) {
    if (!found && !strcmp(nc_json_str(h, "clusterName", ""), cl) &&
        !strcmp(nc_json_str(h, "ip", ""), ip) && (int)nc_json_num(h, "port", -1) == port)
      found = h;
  }
  if (found) {
    nc_nrt_ok_json(r, 1, cJSON_Duplicate(found, 1));
  } else {
    char why[4 * NAME_CAP + 64];
    if (cJSON_GetArraySize(hosts))
      snprintf(why, sizeof(why), "no matched ip found!");
    else
      snprintf(why, sizeof(why), "no ips found for cluster %s in service %s", cl, s.grouped);
    nc_nrt_fail(r, 1, 404, E_NOT_FOUND, why);
  }
  cJSON_Delete(info);
}

void nc_nrt_v3_admin_instance(void *ud, nc_http_req *r) {
  const char *m = nc_http_method(r);
  if (!strcmp(m, "GET"))
    instance_detail(ud, r);
  else
    nc_nrt_dispatch(ud, r, 1, !strcmp(m, "POST")     ? NRT_REGISTER
                              : !strcmp(m, "DELETE") ? NRT_DEREGISTER
                                                     : NRT_UPDATE);
}

/* GET /list: the Instances of clusterName (DEFAULT) of a known service
 * (Nacos's listInstances; healthyOnly). Unknown service or cluster: a
 * NacosException, so 404 with 30000. */
void nc_nrt_v3_admin_list(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  svc_ref s;
  if (nc_nrt_parse_svc(r, 1, &s) || !nc_nrt_permitted(nr, r, &s, 'r'))
    return;
  const char *cl = nc_nrt_param(r, "clusterName");
  if (!cl)
    cl = "DEFAULT";
  char why[4 * NAME_CAP + 64];
  if (!nc_nrt_service_known(nr, &s)) {
    snprintf(why, sizeof(why), "service %s is not found!", s.grouped);
    nc_nrt_fail(r, 1, 404, E_SERVER, why);
    return;
  }
  cJSON *info = nc_naming_service_info(nr->naming, s.ns, s.group, s.name, cl, 0);
  cJSON *hosts = info ? cJSON_DetachItemFromObject(info, "hosts") : NULL;
  cJSON_Delete(info);
  if (!cJSON_GetArraySize(hosts)) {
    cJSON_Delete(hosts);
    snprintf(why, sizeof(why), "cluster %s is not found!", cl);
    nc_nrt_fail(r, 1, 404, E_SERVER, why);
    return;
  }
  if (nc_nrt_to_bool(nc_nrt_param(r, "healthyOnly"), 0))
    for (int i = cJSON_GetArraySize(hosts) - 1; i >= 0; i--)
      if (!cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(hosts, i), "healthy")))
        cJSON_DeleteItemFromArray(hosts, i);
  nc_nrt_ok_json(r, 1, hosts);
}

/* ---- pages (Nacos's PageForm and Page) ---- */

static int page_int(nc_http_req *r, const char *name, int def, int *out) {
  const char *v = nc_nrt_param(r, name);
  char *end = NULL;
  errno = 0;
  long x = v ? strtol(v, &end, 10) : def;
  if (v && (errno || *end || x > 1000000000L))
    x = 0;
  if (x < 1) {
    char why[128];
    snprintf(why, sizeof(why), "Required parameter '%s' should be positive integer, current is %s",
             name, v ? v : "0");
    nc_nrt_fail(r, 1, 400, E_PARAM_VALIDATE, why);
    return -1;
  }
  *out = (int)x;
  return 0;
}

int nc_nrt_v3_page_form(nc_http_req *r, int def_size, int *page_no, int *page_size) {
  return page_int(r, "pageNo", 1, page_no) || page_int(r, "pageSize", def_size, page_size) ? -1
                                                                                           : 0;
}

cJSON *nc_nrt_v3_page(cJSON *all, int page_no, int page_size) {
  int total = cJSON_GetArraySize(all);
  cJSON *o = cJSON_CreateObject(), *items = cJSON_CreateArray();
  long first = (long)(page_no - 1) * page_size;
  for (long i = first; i < total && i < first + page_size; i++)
    cJSON_AddItemToArray(items, cJSON_DetachItemFromArray(all, (int)first));
  cJSON_AddNumberToObject(o, "totalCount", total);
  cJSON_AddNumberToObject(o, "pageNumber", page_no);
  cJSON_AddNumberToObject(o, "pagesAvailable", (total + page_size - 1) / page_size);
  cJSON_AddItemToObject(o, "pageItems", items);
  cJSON_Delete(all);
  return o;
}

/* ---- ServiceDetailInfo ---- */

/* Nacos's ClusterInfo of one cluster: the stored health-check settings
 * (naming_pstore.h), else ClusterMetadata's defaults (TCP, port 80, the
 * instance's port). */
static cJSON *cluster_info(nc_nroutes *nr, const svc_ref *s, const char *cn) {
  nc_npstore *ps = nc_naming_pstore(nr->naming);
  const char *js = ps ? nc_npstore_checker_json(ps, s->ns, s->group, s->name, cn) : NULL;
  cJSON *cfg = js ? cJSON_Parse(js) : NULL;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "clusterName", cn);
  cJSON *hc = cJSON_DetachItemFromObject(cfg, "healthChecker");
  if (!cJSON_IsObject(hc)) {
    cJSON_Delete(hc);
    hc = cJSON_CreateObject();
    cJSON_AddStringToObject(hc, "type", "TCP");
  }
  cJSON_AddItemToObject(o, "healthChecker", hc);
  cJSON_AddNumberToObject(o, "healthyCheckPort", nc_json_num(cfg, "checkPort", 80));
  cJSON_AddBoolToObject(o, "useInstancePortForCheck",
                        !cJSON_IsFalse(cJSON_GetObjectItem(cfg, "useInstancePort4Check")));
  cJSON_AddItemToObject(o, "metadata", cJSON_CreateObject());
  cJSON_Delete(cfg);
  return o;
}

/* The ServiceDetailInfo of a known service; hosts: each cluster lists its
 * instances (the catalog page of /service/list?withInstances=true). */
static cJSON *service_detail(nc_nroutes *nr, const svc_ref *s, int hosts) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "namespaceId", s->ns);
  cJSON_AddStringToObject(o, "serviceName", s->name);
  cJSON_AddStringToObject(o, "groupName", s->group);
  cJSON *cmap = cJSON_AddObjectToObject(o, "clusterMap");
  cJSON *info = nc_naming_service_info(nr->naming, s->ns, s->group, s->name, NULL, 0);
  cJSON *h;
  cJSON_ArrayForEach(h, cJSON_GetObjectItem(info, "hosts")) {
    const char *cn = nc_json_str(h, "clusterName", "DEFAULT");
    cJSON *c = cJSON_GetObjectItem(cmap, cn);
    if (!c)
      cJSON_AddItemToObject(cmap, cn, c = cluster_info(nr, s, cn));
    if (!hosts)
      continue;
    cJSON *list = cJSON_GetObjectItem(c, "hosts");
    if (!list)
      list = cJSON_AddArrayToObject(c, "hosts");
    cJSON_AddItemToArray(list, cJSON_Duplicate(h, 1));
  }
  cJSON_Delete(info);
  /* stored metadata (naming_meta.h), else ServiceMetadata's defaults */
  const cJSON *mv = nr->meta ? nc_nmeta_get(nr->meta, NC_NMETA_SERVICE, s->ns, s->group, s->name,
                                            "")
                             : NULL;
  const cJSON *md = cJSON_GetObjectItem(mv, "metadata");
  const cJSON *sl = cJSON_GetObjectItem(mv, "selector");
  cJSON_AddItemToObject(o, "metadata",
                        cJSON_IsObject(md) ? cJSON_Duplicate(md, 1) : cJSON_CreateObject());
  cJSON_AddNumberToObject(o, "protectThreshold", nc_json_num(mv, "protectThreshold", 0));
  cJSON *sel = cJSON_IsObject(sl) ? cJSON_Duplicate(sl, 1) : cJSON_CreateObject();
  if (!cJSON_GetObjectItem(sel, "type"))
    cJSON_AddStringToObject(sel, "type", "none");
  /* Jackson writes the selector's getContextType() too: NONE, or CMDB for label */
  if (!cJSON_GetObjectItem(sel, "contextType"))
    cJSON_AddStringToObject(sel, "contextType",
                            strcmp(nc_json_str(sel, "type", ""), "label") ? "NONE" : "CMDB");
  cJSON_AddItemToObject(o, "selector", sel);
  nc_npstore *ps = nc_naming_pstore(nr->naming);
  cJSON_AddBoolToObject(o, "ephemeral",
                        !(ps && nc_npstore_has_service(ps, s->ns, s->group, s->name)));
  return o;
}

void nc_nrt_v3_admin_service(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  if (strcmp(nc_http_method(r), "GET")) {
    nc_nrt_service_v2(ud, r); /* create, update, delete: as v2 */
    return;
  }
  svc_ref s;
  if (nc_nrt_parse_svc(r, 1, &s) || !nc_nrt_permitted(nr, r, &s, 'r'))
    return;
  if (!nc_nrt_service_known(nr, &s)) {
    char why[4 * NAME_CAP + 64];
    snprintf(why, sizeof(why), "service not found, namespace: %s, serviceName: %s", s.ns,
             s.grouped);
    nc_nrt_fail(r, 1, 400, E_SERVICE_NOT_EXIST, why);
    return;
  }
  nc_nrt_ok_json(r, 1, service_detail(nr, &s, 0));
}

/* ---- the service list ---- */

typedef struct svc_walk {
  const char *ns, *group; /* group: of the names add_names is given */
  nc_strmap *keys;        /* "group@@name" -> (void *)1 */
  cJSON *ids;
} svc_walk;

static void walk_add(svc_walk *w, const char *group, const char *name) {
  char k[2 * NAME_CAP + 2];
  if ((size_t)snprintf(k, sizeof(k), "%s@@%s", group, name) < sizeof(k) &&
      !nc_strmap_get(w->keys, k))
    nc_strmap_put(w->keys, k, (void *)1, NULL);
}
static void walk_client(void *ud, const char *id, int synced, const char *owner, uint64_t rev) {
  (void)synced, (void)owner, (void)rev;
  cJSON_AddItemToArray(((svc_walk *)ud)->ids, cJSON_CreateString(id));
}
static void walk_pub(void *ud, const char *ns, const char *group, const char *name,
                     nc_ninst *const *insts, size_t n) {
  svc_walk *w = ud;
  (void)insts;
  if (n && !strcmp(ns, w->ns))
    walk_add(w, group, name);
}
static void walk_stored(void *ud, const char *name, const cJSON *val) {
  (void)val;
  walk_add(ud, ((svc_walk *)ud)->group, name);
}
static void walk_persistent(void *ud, const nc_npstore_inst *in) {
  svc_walk *w = ud;
  if (!strcmp(in->ns, w->ns))
    walk_add(w, in->group, in->name);
}
/* The services of (ns, group) the registry lists (subscribed-only ones
 * too) and the metadata store holds. */
static void walk_group(nc_nroutes *nr, svc_walk *w, const char *group) {
  w->group = group;
  if (nr->meta)
    nc_nmeta_each_service(nr->meta, w->ns, group, walk_stored, w);
  cJSON *names = cJSON_CreateArray();
  size_t total = nc_naming_list(nr->naming, w->ns, group, 1, 0, names);
  nc_naming_list(nr->naming, w->ns, group, 1, (int)(total ? total : 1), names);
  const cJSON *it;
  cJSON_ArrayForEach(it, names) if (cJSON_IsString(it)) walk_add(w, group, it->valuestring);
  cJSON_Delete(names);
}

static int by_key(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every "group@@name" of the namespace, sorted (caller frees the array
 * and the map): published into by any client (also a synced or persistent
 * one), or in DEFAULT_GROUP and the group asked for, subscribed or created. */
static const char **all_services(nc_nroutes *nr, svc_walk *w, const char *gq, size_t *n) {
  nc_nreg *reg = nc_naming_registry(nr->naming);
  nc_nreg_each_client(reg, 0, NULL, walk_client, w);
  const cJSON *id;
  cJSON_ArrayForEach(id, w->ids) nc_nreg_client_pubs(reg, id->valuestring, NULL, NULL, walk_pub, w);
  nc_npstore *ps = nc_naming_pstore(nr->naming);
  if (ps)
    nc_npstore_each(ps, walk_persistent, w);
  walk_group(nr, w, "DEFAULT_GROUP");
  if (gq && strcmp(gq, "DEFAULT_GROUP"))
    walk_group(nr, w, gq);
  *n = nc_strmap_count(w->keys);
  const char **keys = calloc(*n ? *n : 1, sizeof(*keys));
  nc_strmap_iter it;
  const char *key;
  size_t k = 0;
  nc_strmap_iter_init(&it, w->keys);
  while (keys && k < *n && nc_strmap_iter_next(&it, &key, NULL))
    keys[k++] = key;
  if (keys)
    qsort(keys, k, sizeof(*keys), by_key);
  *n = k;
  return keys;
}

/* Nacos's ServiceView of a service; *ips its instance count. */
static cJSON *service_view(nc_nroutes *nr, const svc_ref *s, int *ips) {
  cJSON *info = nc_naming_service_info(nr->naming, s->ns, s->group, s->name, NULL, 0);
  cJSON *seen = cJSON_CreateObject(), *o = cJSON_CreateObject();
  int n = 0, healthy = 0, clusters = 0;
  const cJSON *h;
  cJSON_ArrayForEach(h, cJSON_GetObjectItem(info, "hosts")) {
    const char *cn = nc_json_str(h, "clusterName", "DEFAULT");
    n++;
    healthy += cJSON_IsTrue(cJSON_GetObjectItem(h, "healthy"));
    if (!cJSON_GetObjectItem(seen, cn) && cJSON_AddTrueToObject(seen, cn))
      clusters++;
  }
  const cJSON *mv = nr->meta ? nc_nmeta_get(nr->meta, NC_NMETA_SERVICE, s->ns, s->group, s->name,
                                            "")
                             : NULL;
  double thr = nc_json_num(mv, "protectThreshold", 0);
  cJSON_AddStringToObject(o, "name", s->name);
  cJSON_AddStringToObject(o, "groupName", s->group);
  cJSON_AddNumberToObject(o, "clusterCount", clusters);
  cJSON_AddNumberToObject(o, "ipCount", n);
  cJSON_AddNumberToObject(o, "healthyInstanceCount", healthy);
  /* Nacos divides healthy by ipCount: 0/0 is NaN, never <= the threshold */
  cJSON_AddStringToObject(o, "triggerFlag", n && (double)healthy / n <= thr ? "true" : "false");
  cJSON_Delete(seen);
  cJSON_Delete(info);
  *ips = n;
  return o;
}

/* namespaceId, serviceNameParam / groupNameParam (substring match),
 * ignoreEmptyService, withInstances, pageNo (1), pageSize (100). */
void nc_nrt_v3_admin_service_list(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  const char *ns = nc_nrt_param(r, "namespaceId");
  const char *sq = nc_nrt_param(r, "serviceNameParam"), *gq = nc_nrt_param(r, "groupNameParam");
  int ignore_empty = nc_nrt_to_bool(nc_nrt_param(r, "ignoreEmptyService"), 0);
  int with_insts = nc_nrt_to_bool(nc_nrt_param(r, "withInstances"), 0);
  int page_no, page_size;
  if (nc_nrt_v3_page_form(r, 100, &page_no, &page_size))
    return;
  if ((ns && strlen(ns) >= NAME_CAP) || (sq && strlen(sq) >= NAME_CAP) ||
      (gq && strlen(gq) >= NAME_CAP)) {
    nc_nrt_fail(r, 1, 400, E_PARAM_VALIDATE,
                "namespaceId, serviceNameParam or groupNameParam too long");
    return;
  }
  svc_walk w = {ns ? ns : "public", NULL, nc_strmap_new(), cJSON_CreateArray()};
  size_t n = 0;
  const char **keys = w.keys && w.ids ? all_services(nr, &w, gq, &n) : NULL;
  cJSON *all = keys ? cJSON_CreateArray() : NULL;
  for (size_t i = 0; all && i < n; i++) {
    svc_ref s;
    const char *at = strstr(keys[i], "@@");
    snprintf(s.ns, sizeof(s.ns), "%s", w.ns);
    snprintf(s.group, sizeof(s.group), "%.*s", (int)(at - keys[i]), keys[i]);
    snprintf(s.name, sizeof(s.name), "%s", at + 2);
    if ((gq && !strstr(s.group, gq)) || (sq && !strstr(s.name, sq)))
      continue;
    if (nc_auth_enabled(nr->auth)) { /* shown only when the caller may read it */
      char res[NC_AUTH_RES_MAX], user[NC_AUTH_USER_MAX];
      if (nc_auth_resource(res, sizeof(res), s.ns, s.group, "naming", s.name) ||
          nc_auth_check(nr->auth, nc_auth_http_token(r), res, 'r', user) != NC_AUTH_OK)
        continue;
    }
    int ips = 0;
    cJSON *v = with_insts ? service_detail(nr, &s, 1) : service_view(nr, &s, &ips);
    if (!with_insts && ignore_empty && !ips)
      cJSON_Delete(v);
    else
      cJSON_AddItemToArray(all, v);
  }
  free(keys);
  nc_strmap_free(w.keys, NULL);
  cJSON_Delete(w.ids);
  if (!all) {
    nc_nrt_fail(r, 1, 500, E_SERVER, "out of memory");
    return;
  }
  nc_nrt_ok_json(r, 1, nc_nrt_v3_page(all, page_no, page_size));
}

/* SelectorManager's types, in the order Nacos 3.x lists them. */
void nc_nrt_v3_selector_types(void *ud, nc_http_req *r) {
  (void)ud;
  cJSON *a = cJSON_CreateArray();
  cJSON_AddItemToArray(a, cJSON_CreateString("label"));
  cJSON_AddItemToArray(a, cJSON_CreateString("none"));
  nc_nrt_ok_json(r, 1, a);
}
