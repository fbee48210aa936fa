/* naming_routes_meta: the write side of Nacos's service API and instance
 * update over naming_meta (v1 ServiceController / InstanceController,
 * v2 ServiceControllerV2 / InstanceControllerV2, ServiceOperatorV2Impl):
 *   POST|PUT|DELETE /nacos/v{1,2}/ns/service: create (a service that
 *     exists is refused), update (one that does not is refused), delete
 *     (refused while it has instances);
 *   PUT /nacos/v{1,2}/ns/instance: the instance's override (weight,
 *     enabled, metadata: Nacos's updateInstanceMetadata), applied to every
 *     client's copy of ip:port:cluster, gRPC or HTTP.
 * Values and defaults are Nacos's: an update replaces all three fields
 * with the request's or the defaults (weight 1, enabled true, metadata
 * {}), as Nacos builds InstanceMetadata from the request.
 * A write answers once the store committed it (naming_meta's worker): 500
 * when it could not, 503 while the store is not open. In a cluster every
 * change is sent to the members (NcNamingMetaSyncRequest, fire and
 * forget: with PostgreSQL a member that missed one reads it at its next
 * periodic reload, --naming-meta-reload-ms). */
#include "naming_routes_int.h"

#include "cluster.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_REQ "NcNamingMetaSyncRequest"
#define SYNC_RESP "NcNamingMetaSyncResponse"
#define SYNC_TIMEOUT_MS 3000

/* 1 when the registry holds the service or its metadata is stored. */
int nc_nrt_service_known(nc_nroutes *nr, const svc_ref *s) {
  if (nr->meta && nc_nmeta_get(nr->meta, NC_NMETA_SERVICE, s->ns, s->group, s->name, ""))
    return 1;
  char kb[2048];
  const char *key = nc_nreg_key(kb, sizeof(kb), s->ns, s->group, s->name);
  return key && nc_nreg_revision(nc_naming_registry(nr->naming), key) > 0;
}

/* Hosts the service shows now (enabled ones). */
static int host_count(nc_nroutes *nr, const svc_ref *s) {
  cJSON *info = nc_naming_service_info(nr->naming, s->ns, s->group, s->name, NULL, 0);
  int n = cJSON_GetArraySize(cJSON_GetObjectItem(info, "hosts"));
  cJSON_Delete(info);
  return n;
}

/* 1 when the service shows ip:port in cluster cl. */
static int instance_shown(nc_nroutes *nr, const svc_ref *s, const char *ip, int port,
                          const char *cl) {
  cJSON *info = nc_naming_service_info(nr->naming, s->ns, s->group, s->name, cl, 0);
  const cJSON *h;
  int found = 0;
  cJSON_ArrayForEach(h, cJSON_GetObjectItem(info, "hosts")) {
    const char *hip = cJSON_GetStringValue(cJSON_GetObjectItem(h, "ip"));
    if (hip && !strcmp(hip, ip) && (int)cJSON_GetNumberValue(cJSON_GetObjectItem(h, "port")) == port)
      found = 1;
  }
  cJSON_Delete(info);
  return found;
}

/* The service value of a create/update call; NULL when answered. */
static cJSON *service_value(nrt_call *c) {
  const char *pt = nc_nrt_cparam(c, "protectThreshold");
  const char *md = nc_nrt_cparam(c, "metadata");
  const char *sel = nc_nrt_cparam(c, "selector");
  double th = 0;
  if (pt) {
    char *end;
    errno = 0;
    th = strtod(pt, &end);
    if (errno || *end || !isfinite(th)) {
      nc_nrt_cfail(c, 400, E_PARAM_VALIDATE, "Param 'protectThreshold' must be a number");
      return NULL;
    }
  }
  cJSON *meta = nc_nrt_parse_metadata(md);
  if (!meta) {
    nc_nrt_cfail(c, 400, E_SERVICE_METADATA, "service metadata must be a JSON object or k=v,k=v");
    return NULL;
  }
  cJSON *selector = sel ? cJSON_Parse(sel) : NULL;
  const char *type = selector ? cJSON_GetStringValue(cJSON_GetObjectItem(selector, "type")) : NULL;
  /* Nacos's SelectorManager knows none and label */
  if (sel && (!type || (strcmp(type, "none") && strcmp(type, "label")))) {
    cJSON_Delete(meta);
    cJSON_Delete(selector);
    nc_nrt_cfail(c, 400, E_SELECTOR, "not match any type of selector!");
    return NULL;
  }
  if (!selector) {
    selector = cJSON_CreateObject();
    cJSON_AddStringToObject(selector, "type", "none");
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "protectThreshold", th);
  cJSON_AddItemToObject(o, "metadata", meta);
  cJSON_AddItemToObject(o, "selector", selector);
  return o;
}

/* ---- writes answer when the store committed them (naming_meta's worker) ---- */

/* A write in flight: the HTTP request or the member's forwarded call it
 * answers, and the data of its answer (NULL: "ok"). */
typedef struct mcall {
  nc_http_req *http; /* NULL once the server dropped it, or for a forwarded call */
  nc_req *fwd;       /* a forwarded call's request */
  int v2;
  cJSON *data;
} mcall;

static void on_abort(void *ud, nc_http_req *r) {
  (void)r;
  ((mcall *)ud)->http = NULL; /* the server answers it (503); the result is dropped */
}

static void answer(nrt_call *c, int rc, cJSON *data) {
  char why[160];
  if (!rc) {
    if (data)
      nc_nrt_cok_json(c, data);
    else
      nc_nrt_cok_text(c, "ok");
    return;
  }
  cJSON_Delete(data);
  if (rc == NC_EINVAL) {
    nc_nrt_cfail(c, 400, E_PARAM_VALIDATE, "namespace, group, service or instance id too long");
  } else if (rc == NC_ECLOSED) {
    nc_nrt_cfail(c, 503, E_SERVER, "server shutting down: naming metadata not stored");
  } else {
    snprintf(why, sizeof(why), "naming metadata not stored: %s", nc_strerror(rc));
    nc_nrt_cfail(c, 500, E_SERVER, why);
  }
}

static void on_stored(void *ud, int rc) {
  mcall *p = ud;
  if (p->http) {
    nrt_call c = NRT_HTTP(p->http, p->v2);
    answer(&c, rc, p->data);
  } else if (p->fwd) {
    nrt_call c = {NULL, NULL, p->v2, 500, NULL, NULL, NULL, 0};
    answer(&c, rc, p->data);
    nc_nrt_fwd_answer(p->fwd, &c);
  } else {
    cJSON_Delete(p->data);
  }
  free(p);
}

/* Answers a write nc_nmeta_* refused at once (rc, not 0) or holds the
 * call until on_stored (p, taken). */
static void held(nrt_call *c, mcall *p, int rc) {
  if (!rc) {
    if (p->http)
      nc_http_hold_abort(p->http, on_abort, p);
    else
      c->deferred = 1;
    return;
  }
  if (rc == NC_EUNAVAIL) {
    cJSON_Delete(p->data);
    nc_nrt_cfail(c, 503, E_SERVER, "naming metadata store unavailable");
  } else {
    answer(c, rc, p->data);
  }
  free(p);
}

static mcall *mcall_new(nrt_call *c, cJSON *data) {
  mcall *p = calloc(1, sizeof(*p));
  if (!p) {
    cJSON_Delete(data);
    nc_nrt_cfail(c, 500, E_SERVER, "out of memory");
    return NULL;
  }
  p->http = c->http;
  p->fwd = c->http ? NULL : c->fwd_req;
  p->v2 = c->v2;
  p->data = data;
  if (!p->http && !p->fwd) { /* nothing to answer later */
    cJSON_Delete(data);
    free(p);
    nc_nrt_cfail(c, 500, E_SERVER, "a naming metadata write cannot be answered here");
    return NULL;
  }
  return p;
}

/* Stores val (taken; NULL deletes) and answers "ok" or the store error
 * once it is committed. */
static void store(nc_nroutes *nr, nrt_call *c, int kind, const svc_ref *s, const char *mkey,
                  cJSON *val) {
  mcall *p = mcall_new(c, NULL);
  if (p)
    held(c, p, nc_nmeta_put(nr->meta, kind, s->ns, s->group, s->name, mkey, val, on_stored, p));
  cJSON_Delete(val);
}

static int store_ready(nc_nroutes *nr, nrt_call *c) {
  if (!nr->meta || !nc_nmeta_available(nr->meta)) {
    nc_nrt_cfail(c, 503, E_SERVER, "naming metadata store unavailable");
    return 0;
  }
  return 1;
}

static int ready(nc_nroutes *nr, nrt_call *c, svc_ref *s) {
  if (nc_nrt_cparse_svc(c, s) || (c->http && !nc_nrt_permitted(nr, c->http, s, 'w')))
    return 0;
  return store_ready(nr, c);
}

static void service_create(nc_nroutes *nr, nrt_call *c) {
  svc_ref s;
  if (!ready(nr, c, &s))
    return;
  if (nc_nrt_service_known(nr, &s)) {
    char why[3 * NAME_CAP];
    snprintf(why, sizeof(why), "specified service %s already exists!", s.grouped);
    nc_nrt_cfail(c, 400, E_SERVICE_EXISTS, why);
    return;
  }
  cJSON *v = service_value(c);
  if (v)
    store(nr, c, NC_NMETA_SERVICE, &s, "", v);
}

static void service_update(nc_nroutes *nr, nrt_call *c) {
  svc_ref s;
  if (!ready(nr, c, &s))
    return;
  if (!nc_nrt_service_known(nr, &s)) {
    char why[3 * NAME_CAP];
    snprintf(why, sizeof(why), "service %s not found!", s.grouped);
    nc_nrt_cfail(c, c->v2 ? 404 : 400, E_SERVICE_NOT_EXIST, why);
    return;
  }
  cJSON *v = service_value(c);
  if (v)
    store(nr, c, NC_NMETA_SERVICE, &s, "", v);
}

static void service_delete(nc_nroutes *nr, nrt_call *c) {
  svc_ref s;
  if (!ready(nr, c, &s))
    return;
  if (host_count(nr, &s) > 0) {
    char why[3 * NAME_CAP + 100];
    snprintf(why, sizeof(why),
             "Service %s is not empty, can't be delete. Please unregister instance first",
             s.grouped);
    nc_nrt_cfail(c, 400, E_SERVICE_DELETE, why);
    return;
  }
  /* its instance overrides go with it, as in Nacos */
  mcall *p = mcall_new(c, NULL);
  if (p)
    held(c, p, nc_nmeta_delete_service(nr->meta, s.ns, s.group, s.name, on_stored, p));
}

/* The service exists and shows ip:port in cl, or holds its override: 1,
 * else answered (as Nacos for the service; stricter than Nacos, which
 * stores an override for any address, for the instance: a typo). */
static int known_instance(nc_nroutes *nr, nrt_call *c, const svc_ref *s, const char *ip, int port,
                          const char *cl, const char *mkey) {
  if (!store_ready(nr, c))
    return 0;
  if (!nc_nrt_service_known(nr, s)) {
    char why[4 * NAME_CAP];
    snprintf(why, sizeof(why), "service not found, namespace: %s, service: %s", s->ns,
             s->grouped);
    nc_nrt_cfail(c, 400, E_INSTANCE, why);
    return 0;
  }
  if (!instance_shown(nr, s, ip, port, cl) &&
      !nc_nmeta_get(nr->meta, NC_NMETA_INSTANCE, s->ns, s->group, s->name, mkey)) {
    char why[4 * NAME_CAP + 400];
    snprintf(why, sizeof(why), "instance not found: %s:%d in service %s of namespace %s", ip, port,
             s->grouped, s->ns);
    nc_nrt_cfail(c, c->v2 ? 404 : 400, E_NOT_FOUND, why);
    return 0;
  }
  return 1;
}

void nc_nrt_meta_update_instance(nc_nroutes *nr, nrt_call *c, const svc_ref *s, const char *ip,
                                 int port) {
  const char *en = nc_nrt_cparam(c, "enabled");
  const char *cl = nc_nrt_cparam(c, "clusterName");
  if (!en)
    en = nc_nrt_cparam(c, "enable");
  char mkey[400];
  snprintf(mkey, sizeof(mkey), "%s:%d:%s", ip, port, cl ? cl : "DEFAULT");
  if (!known_instance(nr, c, s, ip, port, cl ? cl : "DEFAULT", mkey))
    return;
  double weight;
  if (nc_nrt_weight(c, 1.0, &weight))
    return;
  cJSON *meta = nc_nrt_parse_metadata(nc_nrt_cparam(c, "metadata"));
  if (!meta) {
    nc_nrt_cfail(c, 400, E_METADATA, "instance metadata must be a JSON object or k=v,k=v");
    return;
  }
  cJSON *v = cJSON_CreateObject();
  cJSON_AddNumberToObject(v, "weight", weight);
  cJSON_AddBoolToObject(v, "enabled", nc_nrt_to_bool(en, 1));
  cJSON_AddItemToObject(v, "metadata", meta);
  store(nr, c, NC_NMETA_INSTANCE, s, mkey, v);
}

/* One target of a metadata batch: the override it gets (NULL: skipped). */
static cJSON *batch_value(nc_nroutes *nr, const svc_ref *s, const cJSON *host, const char *mkey,
                          const cJSON *md, int del) {
  const cJSON *old = nc_nmeta_get(nr->meta, NC_NMETA_INSTANCE, s->ns, s->group, s->name, mkey);
  if (!old && (del || !host))
    return NULL;
  /* a new override carries metadata only: weight and enabled stay the
   * instance's own (naming_meta applies what an override holds) */
  cJSON *v = old ? cJSON_Duplicate(old, 1) : cJSON_CreateObject();
  cJSON *vm = cJSON_GetObjectItem(v, "metadata");
  if (!cJSON_IsObject(vm)) {
    cJSON_DeleteItemFromObjectCaseSensitive(v, "metadata");
    vm = cJSON_AddObjectToObject(v, "metadata");
  }
  const cJSON *kv;
  cJSON_ArrayForEach(kv, md) {
    cJSON_DeleteItemFromObjectCaseSensitive(vm, kv->string);
    if (!del && cJSON_IsString(kv))
      cJSON_AddStringToObject(vm, kv->string, kv->valuestring);
  }
  return v;
}

/* PUT|DELETE .../instance/metadata/batch (Nacos's batchUpdateMetadata /
 * batchDeleteMetadata): metadata keys added to (PUT) or removed from
 * (DELETE) the overrides of the instances listed in "instances" (JSON
 * [{ip, port, clusterName}]; absent or empty: every instance the service
 * shows). data {"updated": ["ip:port:cluster", ...]}. */
static void metadata_batch(nc_nroutes *nr, nrt_call *c, int del) {
  svc_ref s;
  if (!ready(nr, c, &s))
    return;
  const char *md_s = nc_nrt_cparam(c, "metadata");
  if (!md_s) {
    nc_nrt_cfail(c, 400, E_PARAM_MISSING, c->v2 ? "Required parameter 'metadata' type String is "
                                                 "not present" : "Param 'metadata' is required.");
    return;
  }
  const char *in_s = nc_nrt_cparam(c, "instances");
  cJSON *md = nc_nrt_parse_metadata(md_s), *targets = in_s ? cJSON_Parse(in_s) : NULL;
  if (!md || (in_s && !cJSON_IsArray(targets))) {
    cJSON_Delete(md);
    cJSON_Delete(targets);
    nc_nrt_cfail(c, 400, md ? E_PARAM_VALIDATE : E_METADATA,
                 md ? "Param 'instances' must be a JSON array of {ip, port, clusterName}"
                    : "instance metadata must be a JSON object or k=v,k=v");
    return;
  }
  cJSON *info = nc_naming_service_info(nr->naming, s.ns, s.group, s.name, NULL, 0);
  cJSON *hosts = cJSON_GetObjectItem(info, "hosts");
  if (!cJSON_GetArraySize(targets)) { /* every instance shown */
    cJSON_Delete(targets);
    targets = cJSON_Duplicate(hosts, 1);
  }
  cJSON *updated = cJSON_CreateArray();
  size_t cap = (size_t)cJSON_GetArraySize(targets), n = 0;
  nc_nmeta_op *ops = cap ? calloc(cap, sizeof(*ops)) : NULL;
  cJSON *vals = cJSON_CreateArray(); /* owns the ops' values */
  const cJSON *t;
  int rc = (cap && !ops) || !updated || !vals ? NC_ENOMEM : 0;
  cJSON_ArrayForEach(t, targets) {
    if (rc || n == cap)
      break;
    const char *ip = cJSON_GetStringValue(cJSON_GetObjectItem(t, "ip"));
    int port = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "port"));
    const char *cl = cJSON_GetStringValue(cJSON_GetObjectItem(t, "clusterName"));
    if (!ip || port <= 0 || port > 65535)
      continue;
    char mkey[400];
    snprintf(mkey, sizeof(mkey), "%s:%d:%s", ip, port, cl && *cl ? cl : "DEFAULT");
    const cJSON *h, *host = NULL;
    cJSON_ArrayForEach(h, hosts) {
      char hk[400];
      snprintf(hk, sizeof(hk), "%s:%d:%s", cJSON_GetStringValue(cJSON_GetObjectItem(h, "ip")),
               (int)cJSON_GetNumberValue(cJSON_GetObjectItem(h, "port")),
               cJSON_GetStringValue(cJSON_GetObjectItem(h, "clusterName")));
      if (!strcmp(hk, mkey))
        host = h;
    }
    cJSON *v = batch_value(nr, &s, host, mkey, md, del);
    if (!v)
      continue;
    cJSON *id = cJSON_CreateString(mkey);
    if (!id || !cJSON_AddItemToArray(updated, id) || !cJSON_AddItemToArray(vals, v)) {
      cJSON_Delete(v);
      rc = NC_ENOMEM;
      break;
    }
    /* the op's key is the string kept in updated */
    ops[n++] = (nc_nmeta_op){NC_NMETA_INSTANCE, id->valuestring, v};
  }
  mcall *p = NULL;
  if (!rc && n) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToObject(o, "updated", updated)) {
      cJSON_Delete(o);
      rc = NC_ENOMEM;
    } else if ((p = mcall_new(c, o))) {
      updated = NULL; /* o, p's */
      held(c, p, nc_nmeta_write(nr->meta, s.ns, s.group, s.name, ops, n, on_stored, p));
    } else {
      updated = NULL; /* freed with o; answered */
    }
  }
  if (!rc && !n) { /* nothing to change: answered now */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "updated", updated);
    updated = NULL;
    nc_nrt_cok_json(c, o);
  }
  if (rc)
    nc_nrt_cfail(c, 500, E_SERVER, nc_strerror(rc));
  free(ops);
  cJSON_Delete(vals);
  cJSON_Delete(updated);
  cJSON_Delete(info);
  cJSON_Delete(targets);
  cJSON_Delete(md);
}

static void h_batch(void *ud, nc_http_req *r, int v2) {
  nrt_call c = NRT_HTTP(r, v2);
  metadata_batch(ud, &c, !strcmp(nc_http_method(r), "DELETE"));
}
void nc_nrt_metadata_batch_v1(void *ud, nc_http_req *r) { h_batch(ud, r, 0); }
void nc_nrt_metadata_batch_v2(void *ud, nc_http_req *r) { h_batch(ud, r, 1); }

/* PATCH /v1/ns/instance, PUT /v3/admin/ns/instance/partial (Nacos's
 * patchInstance): only the fields given change the instance's override
 * (metadata replaces the override's keys); the rest stay. */
void nc_nrt_meta_patch_instance(nc_nroutes *nr, nrt_call *c, const svc_ref *s, const char *ip,
                                int port) {
  const char *cl = nc_nrt_cparam(c, "clusterName");
  const char *en = nc_nrt_cparam(c, "enabled");
  const char *md_s = nc_nrt_cparam(c, "metadata");
  if (!cl)
    cl = nc_nrt_cparam(c, "cluster");
  if (!en)
    en = nc_nrt_cparam(c, "enable");
  char mkey[400];
  snprintf(mkey, sizeof(mkey), "%s:%d:%s", ip, port, cl ? cl : "DEFAULT");
  if (!known_instance(nr, c, s, ip, port, cl ? cl : "DEFAULT", mkey))
    return;
  double weight;
  if (nc_nrt_weight(c, 1.0, &weight))
    return;
  cJSON *md = md_s ? nc_nrt_parse_metadata(md_s) : NULL;
  if (md_s && !md) {
    nc_nrt_cfail(c, 400, E_METADATA, "instance metadata must be a JSON object or k=v,k=v");
    return;
  }
  const cJSON *old = nc_nmeta_get(nr->meta, NC_NMETA_INSTANCE, s->ns, s->group, s->name, mkey);
  cJSON *v = old ? cJSON_Duplicate(old, 1) : cJSON_CreateObject();
  if (nc_nrt_cparam(c, "weight")) {
    cJSON_DeleteItemFromObjectCaseSensitive(v, "weight");
    cJSON_AddNumberToObject(v, "weight", weight);
  }
  if (en) {
    cJSON_DeleteItemFromObjectCaseSensitive(v, "enabled");
    cJSON_AddBoolToObject(v, "enabled", nc_nrt_to_bool(en, 1));
  }
  if (md) {
    cJSON_DeleteItemFromObjectCaseSensitive(v, "metadata");
    cJSON_AddItemToObject(v, "metadata", md);
  }
  store(nr, c, NC_NMETA_INSTANCE, s, mkey, v);
}

/* ---- routes: GET is naming_routes_svc.c's ---- */

static void h_service(void *ud, nc_http_req *r, int v2) {
  const char *m = nc_http_method(r);
  nrt_call c = NRT_HTTP(r, v2);
  if (!strcmp(m, "POST"))
    service_create(ud, &c);
  else if (!strcmp(m, "PUT"))
    service_update(ud, &c);
  else if (!strcmp(m, "DELETE"))
    service_delete(ud, &c);
  else if (v2)
    nc_nrt_service_get_v2(ud, r);
  else
    nc_nrt_service_get_v1(ud, r);
}
void nc_nrt_service_v1(void *ud, nc_http_req *r) { h_service(ud, r, 0); }
void nc_nrt_service_v2(void *ud, nc_http_req *r) { h_service(ud, r, 1); }

/* ---- cluster: every member learns each change ---- */

typedef struct meta_sync {
  nc_cluster *cl;
  uint64_t sent, failed, received;
} meta_sync;

static void on_sent(void *ud, int status, const nc_msg *resp) {
  meta_sync *ms = ud;
  if (status || !resp || nc_json_int(resp->body, "resultCode", 0) != 200) {
    ms->failed++;
    nc_warn("naming metadata: a member did not take a change (%s)",
            status ? nc_strerror(status) : "refused");
  }
}

static void on_change(void *ud, int kind, const char *ns, const char *group, const char *name,
                      const char *mkey, const cJSON *val) {
  meta_sync *ms = ud;
  nc_member_info m[64];
  size_t n = nc_cluster_members(ms->cl, m, 64);
  for (size_t i = 0; i < n && i < 64; i++) {
    if (m[i].is_self)
      continue;
    char k[2] = {(char)kind, 0};
    cJSON *b = cJSON_CreateObject();
    if (!b || nc_json_add_str(b, "kind", k) || nc_json_add_str(b, "namespaceId", ns) ||
        nc_json_add_str(b, "groupName", group) || nc_json_add_str(b, "serviceName", name) ||
        nc_json_add_str(b, "key", mkey) ||
        (val && !cJSON_AddItemToObject(b, "value", cJSON_Duplicate(val, 1)))) {
      cJSON_Delete(b);
      continue;
    }
    if (nc_cluster_send(ms->cl, m[i].address, SYNC_REQ, b, SYNC_TIMEOUT_MS, on_sent, ms))
      ms->failed++;
    else
      ms->sent++;
  }
}

static void h_sync(void *ud, nc_req *req, const nc_msg *m) {
  nc_nroutes *nr = ud;
  const char *k = nc_json_str(m->body, "kind", "");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->body, "value");
  int rc = !nr->meta ? NC_EUNAVAIL
                     : nc_nmeta_apply_remote(nr->meta, k[0], nc_json_str(m->body, "namespaceId", ""),
                                             nc_json_str(m->body, "groupName", NULL),
                                             nc_json_str(m->body, "serviceName", NULL),
                                             nc_json_str(m->body, "key", ""),
                                             cJSON_IsObject(v) ? v : NULL);
  if (rc)
    nc_req_fail(req, SYNC_RESP, rc == NC_EINVAL ? 400 : 500, nc_strerror(rc));
  else
    nc_req_reply(req, SYNC_RESP, NULL);
}

static const nc_handler_def sync_handlers[] = {
    {SYNC_REQ, SYNC_RESP, h_sync, NC_H_CLUSTER | NC_H_WRITE | NC_H_NAMING},
};

int nc_nrt_meta_cluster(nc_nroutes *nr, nc_srv *srv, nc_cluster *cl) {
  int rc = NC_SRV_HANDLERS(srv, sync_handlers, nr);
  if (rc || !nr->meta || nc_cluster_is_standalone(cl))
    return rc;
  meta_sync *ms = calloc(1, sizeof(*ms));
  if (!ms)
    return NC_ENOMEM;
  ms->cl = cl;
  nr->meta_sync = ms;
  nc_nmeta_set_listener(nr->meta, on_change, ms);
  return 0;
}

/* naming_meta may be gone already (it is closed first): not touched. */
void nc_nrt_meta_free(nc_nroutes *nr) {
  free(nr->meta_sync);
  nr->meta_sync = NULL;
}

void nc_nroutes_set_meta(nc_nroutes *nr, nc_nmeta *meta) { nr->meta = meta; }
