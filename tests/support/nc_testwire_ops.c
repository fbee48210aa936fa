/* nc_testwire_ops: the typed naming and config requests and the parsed
 * pushes of nc_testwire (nacos-wire-protocol.md §5, §6). */
#include "nc_testwire.h"
#include "nc_testwire_int.h"

#include "nc_err.h"
#include "nc_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- naming ---- */

cJSON *nc_tw_naming_body(const nc_tw *tw, const char *svc) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "namespace", nc_tw__ns(tw));
  cJSON_AddStringToObject(b, "serviceName", svc);
  cJSON_AddStringToObject(b, "groupName", nc_tw__group(tw));
  cJSON_AddStringToObject(b, "module", "naming");
  cJSON_AddObjectToObject(b, "headers");
  return b;
}

/* The Instance JSON of §5.3. */
static cJSON *instance_json(const nc_tw_instance *in) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "ip", in->ip ? in->ip : "");
  cJSON_AddNumberToObject(o, "port", in->port);
  cJSON_AddNumberToObject(o, "weight", in->weight > 0 ? in->weight : 1.0);
  cJSON_AddBoolToObject(o, "healthy", !in->unhealthy);
  cJSON_AddBoolToObject(o, "enabled", !in->disabled);
  cJSON_AddBoolToObject(o, "ephemeral", 1);
  cJSON_AddStringToObject(o, "clusterName", in->cluster ? in->cluster : "DEFAULT");
  cJSON *md = cJSON_AddObjectToObject(o, "metadata");
  for (size_t i = 0; in->metadata && in->metadata[i] && in->metadata[i + 1]; i += 2)
    cJSON_AddStringToObject(md, in->metadata[i], in->metadata[i + 1]);
  return o;
}

cJSON *nc_tw_instance_body(const nc_tw *tw, const char *svc, const char *type,
                           const nc_tw_instance *in) {
  cJSON *b = nc_tw_naming_body(tw, svc);
  cJSON_AddStringToObject(b, "type", type);
  cJSON_AddItemToObject(b, "instance", instance_json(in));
  return b;
}

nc_tw_reply nc_tw_register(nc_tw *tw, const char *svc, const nc_tw_instance *in) {
  return nc_tw_call_reply(tw, "InstanceRequest",
                          nc_tw_instance_body(tw, svc, "registerInstance", in));
}

nc_tw_reply nc_tw_deregister(nc_tw *tw, const char *svc, const nc_tw_instance *in) {
  return nc_tw_call_reply(tw, "InstanceRequest",
                          nc_tw_instance_body(tw, svc, "deregisterInstance", in));
}

nc_tw_reply nc_tw_batch_register(nc_tw *tw, const char *svc, const nc_tw_instance *in, int n) {
  cJSON *b = nc_tw_naming_body(tw, svc);
  cJSON_AddStringToObject(b, "type", "batchRegisterInstance");
  cJSON *arr = cJSON_AddArrayToObject(b, "instances");
  for (int i = 0; i < n; i++)
    cJSON_AddItemToArray(arr, instance_json(&in[i]));
  return nc_tw_call_reply(tw, "BatchInstanceRequest", b);
}

void nc_tw_service_free(nc_tw_service *s) {
  if (!s)
    return;
  free(s->hosts);
  cJSON_Delete(s->info);
  memset(s, 0, sizeof(*s));
}

/* Fills out from a serviceInfo object (borrowed; copied into out->info). */
static void parse_service(const cJSON *si, nc_tw_service *out) {
  memset(out, 0, sizeof(*out));
  out->nhosts = -1;
  if (!cJSON_IsObject(si))
    return;
  out->info = cJSON_Duplicate(si, 1);
  snprintf(out->name, sizeof(out->name), "%s", nc_json_str(si, "name", ""));
  snprintf(out->group, sizeof(out->group), "%s", nc_json_str(si, "groupName", ""));
  snprintf(out->clusters, sizeof(out->clusters), "%s", nc_json_str(si, "clusters", ""));
  out->last_ref_time = nc_json_int(si, "lastRefTime", 0);
  out->cache_millis = nc_json_int(si, "cacheMillis", 0);
  const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(si, "hosts");
  if (!cJSON_IsArray(hosts))
    return;
  int n = cJSON_GetArraySize(hosts);
  out->hosts = calloc(n > 0 ? (size_t)n : 1, sizeof(*out->hosts));
  if (!out->hosts)
    return;
  out->nhosts = n;
  for (int i = 0; i < n; i++) {
    const cJSON *h = cJSON_GetArrayItem(hosts, i);
    nc_tw_host *o = &out->hosts[i];
    snprintf(o->ip, sizeof(o->ip), "%s", nc_json_str(h, "ip", ""));
    o->port = (int)nc_json_int(h, "port", 0);
    o->weight = nc_json_num(h, "weight", 0);
    o->healthy = nc_json_bool(h, "healthy", 0);
    o->enabled = nc_json_bool(h, "enabled", 0);
    snprintf(o->cluster, sizeof(o->cluster), "%s", nc_json_str(h, "clusterName", ""));
    snprintf(o->instance_id, sizeof(o->instance_id), "%s", nc_json_str(h, "instanceId", ""));
  }
}

/* Sends body as type and parses the reply's serviceInfo into out. */
static nc_tw_reply service_call(nc_tw *tw, const char *type, cJSON *body, nc_tw_service *out) {
  nc_msg *m = nc_tw_call(tw, type, body);
  nc_tw_reply r = nc_tw_reply_of(m);
  if (out)
    parse_service(m ? cJSON_GetObjectItemCaseSensitive(m->body, "serviceInfo") : NULL, out);
  nc_msg_free(m);
  return r;
}

nc_tw_reply nc_tw_query(nc_tw *tw, const char *svc, nc_tw_service *out) {
  return service_call(tw, "ServiceQueryRequest", nc_tw_naming_body(tw, svc), out);
}

int nc_tw_query_hosts(nc_tw *tw, const char *svc) {
  nc_tw_service s;
  nc_tw_reply r = nc_tw_query(tw, svc, &s);
  int n = nc_tw_ok(&r) ? s.nhosts : -1;
  nc_tw_service_free(&s);
  return n;
}

nc_tw_reply nc_tw_subscribe(nc_tw *tw, const char *svc, int subscribe, nc_tw_service *out) {
  cJSON *b = nc_tw_naming_body(tw, svc);
  cJSON_AddBoolToObject(b, "subscribe", subscribe);
  cJSON_AddStringToObject(b, "clusters", "");
  return service_call(tw, "SubscribeServiceRequest", b, out);
}

nc_tw_reply nc_tw_service_list(nc_tw *tw, int page_no, int page_size, long long *count,
                               cJSON **names) {
  cJSON *b = nc_tw_naming_body(tw, "");
  cJSON_AddNumberToObject(b, "pageNo", page_no);
  cJSON_AddNumberToObject(b, "pageSize", page_size);
  nc_msg *m = nc_tw_call(tw, "ServiceListRequest", b);
  nc_tw_reply r = nc_tw_reply_of(m);
  if (count)
    *count = m ? nc_json_int(m->body, "count", -1) : -1;
  if (names) {
    cJSON *arr = m ? cJSON_GetObjectItemCaseSensitive(m->body, "serviceNames") : NULL;
    *names = arr ? cJSON_Duplicate(arr, 1) : NULL;
  }
  nc_msg_free(m);
  return r;
}

/* ---- config ---- */

cJSON *nc_tw_config_body(const char *data_id, const char *group, const char *tenant) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddObjectToObject(b, "headers");
  cJSON_AddStringToObject(b, "requestId", "");
  cJSON_AddStringToObject(b, "module", "config");
  if (data_id)
    cJSON_AddStringToObject(b, "dataId", data_id);
  if (group)
    cJSON_AddStringToObject(b, "group", group);
  if (tenant)
    cJSON_AddStringToObject(b, "tenant", tenant);
  return b;
}

nc_tw_reply nc_tw_config_publish(nc_tw *tw, const char *data_id, const char *group,
                                 const char *tenant, const char *content, const char *cas_md5) {
  cJSON *b = nc_tw_config_body(data_id, group, tenant);
  if (content)
    cJSON_AddStringToObject(b, "content", content);
  if (cas_md5)
    cJSON_AddStringToObject(b, "casMd5", cas_md5);
  /* What Java sends: nulls inside additionMap are legal. */
  cJSON *am = cJSON_AddObjectToObject(b, "additionMap");
  cJSON_AddNullToObject(am, "tag");
  cJSON_AddNullToObject(am, "betaIps");
  cJSON_AddStringToObject(am, "appName", "itest");
  cJSON_AddStringToObject(am, "encryptedDataKey", "");
  return nc_tw_call_reply(tw, "ConfigPublishRequest", b);
}

void nc_tw_config_free(nc_tw_config *c) {
  if (!c)
    return;
  free(c->content);
  cJSON_Delete(c->body);
  memset(c, 0, sizeof(*c));
}

nc_tw_reply nc_tw_config_get(nc_tw *tw, const char *data_id, const char *group,
                             const char *tenant, nc_tw_config *out) {
  nc_msg *m = nc_tw_call(tw, "ConfigQueryRequest", nc_tw_config_body(data_id, group, tenant));
  nc_tw_reply r = nc_tw_reply_of(m);
  if (out) {
    memset(out, 0, sizeof(*out));
    const cJSON *c = m ? cJSON_GetObjectItemCaseSensitive(m->body, "content") : NULL;
    if (cJSON_IsString(c))
      out->content = strdup(c->valuestring);
    snprintf(out->md5, sizeof(out->md5), "%s", nc_json_str(m ? m->body : NULL, "md5", ""));
    snprintf(out->content_type, sizeof(out->content_type), "%s",
             nc_json_str(m ? m->body : NULL, "contentType", ""));
    out->last_modified = nc_json_int(m ? m->body : NULL, "lastModified", 0);
    if (m && m->body) {
      out->body = m->body; /* handed over */
      m->body = NULL;
    }
  }
  nc_msg_free(m);
  return r;
}

nc_tw_reply nc_tw_config_remove(nc_tw *tw, const char *data_id, const char *group,
                                const char *tenant) {
  return nc_tw_call_reply(tw, "ConfigRemoveRequest", nc_tw_config_body(data_id, group, tenant));
}

nc_tw_reply nc_tw_config_listen(nc_tw *tw, int listen, const nc_tw_listen *ctx, int n,
                                int *nchanged, cJSON **changed) {
  cJSON *b = nc_tw_config_body(NULL, NULL, NULL);
  cJSON_AddBoolToObject(b, "listen", listen);
  cJSON *arr = cJSON_AddArrayToObject(b, "configListenContexts");
  for (int i = 0; i < n; i++) {
    cJSON *c = cJSON_CreateObject();
    if (ctx[i].data_id)
      cJSON_AddStringToObject(c, "dataId", ctx[i].data_id);
    if (ctx[i].group)
      cJSON_AddStringToObject(c, "group", ctx[i].group);
    if (ctx[i].tenant)
      cJSON_AddStringToObject(c, "tenant", ctx[i].tenant);
    if (ctx[i].md5)
      cJSON_AddStringToObject(c, "md5", ctx[i].md5);
    cJSON_AddItemToArray(arr, c);
  }
  nc_msg *m = nc_tw_call(tw, "ConfigBatchListenRequest", b);
  nc_tw_reply r = nc_tw_reply_of(m);
  const cJSON *ch = m ? cJSON_GetObjectItemCaseSensitive(m->body, "changedConfigs") : NULL;
  if (nchanged)
    *nchanged = cJSON_IsArray(ch) ? cJSON_GetArraySize(ch) : -1;
  if (changed)
    *changed = ch ? cJSON_Duplicate(ch, 1) : NULL;
  nc_msg_free(m);
  return r;
}

nc_tw_reply nc_tw_listen_one(nc_tw *tw, int listen, const char *data_id, const char *group,
                             const char *tenant, const char *md5) {
  nc_tw_listen ctx = {data_id, group, tenant, md5 ? md5 : ""};
  return nc_tw_config_listen(tw, listen, &ctx, 1, NULL, NULL);
}

/* ---- parsed pushes ---- */

static int is_service(const cJSON *body, const void *svc) {
  const cJSON *si = cJSON_GetObjectItemCaseSensitive(body, "serviceInfo");
  return strcmp(nc_json_str(si, "name", ""), (const char *)svc) == 0;
}

int nc_tw_notify_count(nc_tw *tw, const char *svc) {
  return nc_tw__push_match_count(tw, "NotifySubscriberRequest", is_service, svc);
}

int nc_tw_wait_notify(nc_tw *tw, const char *svc, int want, int timeout_ms, nc_tw_service *last) {
  int n = nc_tw__wait_match(tw, "NotifySubscriberRequest", is_service, svc, want, timeout_ms);
  if (last) {
    cJSON *b = nc_tw__push_match_get(tw, "NotifySubscriberRequest", is_service, svc, -1, NULL, 0);
    parse_service(cJSON_GetObjectItemCaseSensitive(b, "serviceInfo"), last);
    cJSON_Delete(b);
  }
  return n;
}

static int is_data_id(const cJSON *body, const void *data_id) {
  return !data_id || strcmp(nc_json_str(body, "dataId", ""), (const char *)data_id) == 0;
}

int nc_tw_change_count(nc_tw *tw, const char *data_id) {
  return nc_tw__push_match_count(tw, "ConfigChangeNotifyRequest", is_data_id, data_id);
}

int nc_tw_wait_change(nc_tw *tw, const char *data_id, int want, int timeout_ms,
                      nc_tw_change *last) {
  int n = nc_tw__wait_match(tw, "ConfigChangeNotifyRequest", is_data_id, data_id, want,
                            timeout_ms);
  if (last) {
    char rid[32] = "";
    cJSON *b = nc_tw__push_match_get(tw, "ConfigChangeNotifyRequest", is_data_id, data_id, -1,
                                     rid, sizeof(rid));
    memset(last, 0, sizeof(*last));
    snprintf(last->data_id, sizeof(last->data_id), "%s", nc_json_str(b, "dataId", ""));
    snprintf(last->group, sizeof(last->group), "%s", nc_json_str(b, "group", ""));
    snprintf(last->tenant, sizeof(last->tenant), "%s", nc_json_str(b, "tenant", ""));
    snprintf(last->module, sizeof(last->module), "%s", nc_json_str(b, "module", ""));
    snprintf(last->request_id, sizeof(last->request_id), "%s", rid);
    cJSON_Delete(b);
  }
  return n;
}
