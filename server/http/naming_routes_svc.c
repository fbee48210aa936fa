/* naming_routes_svc: the read side of Nacos's service API (v1
 * ServiceController, v2 ServiceControllerV2): GET /nacos/v{1,2}/ns/service
 * and /service/list over naming's registry; and OperatorController's
 * GET /nacos/v{1,2}/ns/operator/metrics (SDK health probes). A service exists while it has
 * publishers or subscribers (and for --empty-service-ttl-ms after), as in
 * the registry, or while its metadata is stored (naming_routes_meta.c
 * serves create, update and delete). */
#include "naming_routes_int.h"

#include "naming_pstore.h"
#include "nc_err.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void service_get(void *ud, nc_http_req *r, int v2) {
  nc_nroutes *nr = ud;
  svc_ref s;
  if (nc_nrt_parse_svc(r, v2, &s) || !nc_nrt_permitted(nr, r, &s, 'r'))
    return;
  if (!nc_nrt_service_known(nr, &s)) {
    char why[4 * NAME_CAP + 64];
    snprintf(why, sizeof(why), "service not found, namespace: %s, serviceName: %s", s.ns,
             s.grouped);
    nc_nrt_fail(r, v2, v2 ? 404 : 400, v2 ? E_SERVICE_NOT_EXIST : E_NOT_FOUND, why);
    return;
  }
  cJSON *info = nc_naming_service_info(nr->naming, s.ns, s.group, s.name, NULL, 0);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "namespaceId", s.ns);
  cJSON_AddStringToObject(o, "groupName", s.group);
  cJSON_AddStringToObject(o, "name", s.name);
  /* stored metadata (naming_meta.h), else Nacos's defaults */
  const cJSON *mv = nr->meta ? nc_nmeta_get(nr->meta, NC_NMETA_SERVICE, s.ns, s.group, s.name, "")
                             : NULL;
  const cJSON *pt = cJSON_GetObjectItem(mv, "protectThreshold");
  const cJSON *md = cJSON_GetObjectItem(mv, "metadata");
  const cJSON *sl = cJSON_GetObjectItem(mv, "selector");
  cJSON_AddNumberToObject(o, "protectThreshold", cJSON_IsNumber(pt) ? pt->valuedouble : 0.0);
  cJSON_AddItemToObject(o, "metadata",
                        cJSON_IsObject(md) ? cJSON_Duplicate(md, 1) : cJSON_CreateObject());
  if (cJSON_IsObject(sl)) {
    cJSON_AddItemToObject(o, "selector", cJSON_Duplicate(sl, 1));
  } else {
    cJSON *sel = cJSON_AddObjectToObject(o, "selector");
    cJSON_AddStringToObject(sel, "type", "none");
  }
  cJSON *clusters = cJSON_AddArrayToObject(o, "clusters");
  const cJSON *h;
  cJSON_ArrayForEach(h, cJSON_GetObjectItem(info, "hosts")) {
    const char *cn = cJSON_GetStringValue(cJSON_GetObjectItem(h, "clusterName"));
    int seen = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, clusters) if (cn && !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(
                                                  c, "name")), cn)) seen = 1;
    if (!cn || seen)
      continue;
    cJSON *c2 = cJSON_CreateObject();
    cJSON_AddStringToObject(c2, "name", cn);
    cJSON_AddItemToObject(c2, "healthChecker", cJSON_CreateObject());
    cJSON_AddStringToObject(cJSON_GetObjectItem(c2, "healthChecker"), "type", "TCP");
    cJSON_AddItemToObject(c2, "metadata", cJSON_CreateObject());
    cJSON_AddItemToArray(clusters, c2);
  }
  cJSON_Delete(info);
  nc_nrt_ok_json(r, v2, o);
}
void nc_nrt_service_get_v1(void *ud, nc_http_req *r) { service_get(ud, r, 0); }
void nc_nrt_service_get_v2(void *ud, nc_http_req *r) { service_get(ud, r, 1); }

/* A page parameter: *out, or def when absent (v1: required). 0, or answered. */
static int page_param(nc_http_req *r, int v2, const char *name, int def, int *out) {
  const char *v = nc_nrt_param(r, name);
  if (!v && !v2) {
    char why[64];
    snprintf(why, sizeof(why), "Param '%s' is required.", name);
    nc_nrt_fail(r, v2, 400, E_PARAM_MISSING, why);
    return -1;
  }
  if (!v) {
    *out = def;
    return 0;
  }
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || *end || x < 1 || x > 100000) {
    char why[80];
    snprintf(why, sizeof(why), "Param '%s' must be an integer 1..100000", name);
    nc_nrt_fail(r, v2, 400, E_PARAM_VALIDATE, why);
    return -1;
  }
  *out = (int)x;
  return 0;
}

static void add_stored(void *ud, const char *name, const cJSON *val) {
  (void)val;
  cJSON *all = ud;
  const cJSON *it;
  cJSON_ArrayForEach(it, all) if (!strcmp(it->valuestring, name)) return;
  cJSON_AddItemToArray(all, cJSON_CreateString(name));
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* {"all": [every name], "page": [names of the page]}: the registry's
 * services and those only stored (created, no instance yet), by name. */
static cJSON *list_names(nc_nroutes *nr, const svc_ref *s, int page_no, int page_size) {
  cJSON *o = cJSON_CreateObject(), *all = cJSON_AddArrayToObject(o, "all");
  cJSON *page = cJSON_AddArrayToObject(o, "page");
  cJSON *tmp = cJSON_CreateArray();
  size_t total = nc_naming_list(nr->naming, s->ns, s->group, 1, 0, tmp);
  nc_naming_list(nr->naming, s->ns, s->group, 1, (int)(total ? total : 1), all);
  cJSON_Delete(tmp);
  if (nr->meta)
    nc_nmeta_each_service(nr->meta, s->ns, s->group, add_stored, all);
  int n = cJSON_GetArraySize(all);
  const char **v = n ? malloc((size_t)n * sizeof(*v)) : NULL;
  int k = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, all) if (v) v[k++] = it->valuestring;
  if (v)
    qsort(v, (size_t)k, sizeof(*v), by_name);
  long first = (long)(page_no - 1) * page_size;
  for (long i = first; v && i < k && i < first + page_size; i++)
    cJSON_AddItemToArray(page, cJSON_CreateString(v[i]));
  free(v);
  return o;
}

/* v1 {"count":N,"doms":[names]}, v2 data {"count":N,"services":[names]}. */
static void service_list(void *ud, nc_http_req *r, int v2) {
  nc_nroutes *nr = ud;
  svc_ref s = {0};
  const char *ns = nc_nrt_param(r, "namespaceId");
  const char *gn = nc_nrt_param(r, "groupName");
  int page_no, page_size;
  if (page_param(r, v2, "pageNo", 1, &page_no) || page_param(r, v2, "pageSize", 20, &page_size))
    return;
  if ((ns && strlen(ns) >= NAME_CAP) || (gn && strlen(gn) >= NAME_CAP)) {
    nc_nrt_fail(r, v2, 400, E_PARAM_VALIDATE, "namespaceId or groupName too long");
    return;
  }
  snprintf(s.ns, sizeof(s.ns), "%s", ns ? ns : "public");
  snprintf(s.group, sizeof(s.group), "%s", gn ? gn : "DEFAULT_GROUP");
  if (!nc_nrt_permitted(nr, r, &s, 'r'))
    return;
  cJSON *o = cJSON_CreateObject();
  cJSON *names = list_names(nr, &s, page_no, page_size);
  cJSON_AddNumberToObject(o, "count", (double)cJSON_GetArraySize(cJSON_GetObjectItem(names, "all")));
  cJSON_AddItemToObject(o, v2 ? "services" : "doms", cJSON_DetachItemFromObject(names, "page"));
  cJSON_Delete(names);
  nc_nrt_ok_json(r, v2, o);
}
void nc_nrt_service_list_v1(void *ud, nc_http_req *r) { service_list(ud, r, 0); }
void nc_nrt_service_list_v2(void *ud, nc_http_req *r) { service_list(ud, r, 1); }

/* Fraction of memory in use (MemAvailable of MemTotal); 0 when unknown. */
static double mem_used(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  double total = 0, avail = -1;
  char line[256];
  while (f && fgets(line, sizeof(line), f)) {
    double v;
    if (sscanf(line, "MemTotal: %lf", &v) == 1)
      total = v;
    else if (sscanf(line, "MemAvailable: %lf", &v) == 1)
      avail = v;
  }
  if (f)
    fclose(f);
  return total > 0 && avail >= 0 ? 1.0 - avail / total : 0.0;
}

void nc_nrt_naming_counts(nc_nroutes *nr, cJSON *o) {
  nc_nreg_stats rs;
  nc_npush_stats ps;
  nc_nbeat_stats bs;
  nc_naming_get_stats(nr->naming, &rs, &ps);
  nc_nbeat_get_stats(nr->beat, &bs);
  nc_npstore *pst = nc_naming_pstore(nr->naming);
  size_t persistent = pst ? nc_npstore_count(pst) : 0;
  size_t native = rs.clients >= rs.synced_clients ? rs.clients - rs.synced_clients : 0;
  size_t ip_port = bs.clients + persistent; /* the rest of the native ones are connections */
  cJSON_AddNumberToObject(o, "serviceCount", (double)rs.services);
  cJSON_AddNumberToObject(o, "instanceCount", (double)rs.instances);
  cJSON_AddNumberToObject(o, "subscribeCount", (double)rs.subscribers);
  cJSON_AddNumberToObject(o, "clientCount", (double)rs.clients);
  cJSON_AddNumberToObject(o, "connectionBasedClientCount",
                          (double)(native >= ip_port ? native - ip_port : 0));
  cJSON_AddNumberToObject(o, "ephemeralIpPortClientCount", (double)bs.clients);
  cJSON_AddNumberToObject(o, "persistentIpPortClientCount", (double)persistent);
  cJSON_AddNumberToObject(o, "responsibleClientCount", (double)native);
}

/* Nacos's naming metrics object: status and the registry's counts. */
static void operator_metrics(void *ud, nc_http_req *r, int v2) {
  nc_nroutes *nr = ud;
  double load = 0;
  if (getloadavg(&load, 1) != 1 || !isfinite(load))
    load = 0;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "status", "UP");
  nc_nrt_naming_counts(nr, o);
  cJSON_AddNumberToObject(o, "cpu", 0); /* not sampled */
  cJSON_AddNumberToObject(o, "load", load);
  cJSON_AddNumberToObject(o, "mem", mem_used());
  nc_nrt_ok_json(r, v2, o);
}
void nc_nrt_operator_metrics_v1(void *ud, nc_http_req *r) { operator_metrics(ud, r, 0); }
void nc_nrt_operator_metrics_v2(void *ud, nc_http_req *r) { operator_metrics(ud, r, 1); }
