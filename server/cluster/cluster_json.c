/* cluster_json: the Member object as Nacos serialises it (nacos-cluster.md
 * §1.4), for MemberReportRequest/Response and the HTTP member lists. The
 * extendInfo keys are written in Java's TreeMap order (sorted). nacos-c
 * adds "nc.ready" (readiness, cluster.h) and "nc.connections" (SDK
 * connections) to its own extendInfo; a Java peer keeps them as opaque
 * metadata. */
#include "cluster_int.h"

#include "nc_json.h"

#include <stdio.h>

cJSON *nc_cl_default_ext(const nc_cmember *m) {
  char raft[16];
  cJSON *e = cJSON_CreateObject();
  snprintf(raft, sizeof(raft), "%d", m->port - 1000);
  if (!e || !cJSON_AddStringToObject(e, "adWeight", "0") ||
      !cJSON_AddStringToObject(e, "raftPort", raft) ||
      !cJSON_AddBoolToObject(e, "readyToUpgrade", 1) ||
      !cJSON_AddStringToObject(e, "site", "unknow") || /* sic, Nacos's default */
      !cJSON_AddStringToObject(e, "weight", "1")) {
    cJSON_Delete(e);
    return NULL;
  }
  return e;
}

static cJSON *self_ext(nc_cluster *cl, const nc_cmember *m) {
  char raft[16];
  cJSON *e = cJSON_CreateObject();
  snprintf(raft, sizeof(raft), "%d", m->port - 1000);
  if (!e || !cJSON_AddStringToObject(e, "adWeight", "0") ||
      !cJSON_AddNumberToObject(e, "lastRefreshTime", (double)nc_now_ms()) ||
      !cJSON_AddNumberToObject(e, "nc.connections", (double)nc_srv_sdk_conn_count(cl->srv)) ||
      !cJSON_AddBoolToObject(e, "nc.ready", nc_cluster_ready(cl, NULL, 0)) ||
      !cJSON_AddStringToObject(e, "raftPort", raft) ||
      !cJSON_AddBoolToObject(e, "readyToUpgrade", 1) ||
      !cJSON_AddStringToObject(e, "site", "unknow") ||
      /* gray configs are refused by this server: peers must not send them */
      !cJSON_AddBoolToObject(e, "supportGrayModel", 0) ||
      !cJSON_AddStringToObject(e, "version", NC_VERSION) ||
      !cJSON_AddStringToObject(e, "weight", "1")) {
    cJSON_Delete(e);
    return NULL;
  }
  if (cl->self_ext_fn) /* the rebalance engine's load keys */
    cl->self_ext_fn(cl->self_ext_ud, e);
  return e;
}

static cJSON *abilities(void) {
  cJSON *a = cJSON_CreateObject(), *x;
  if (!a || !(x = cJSON_AddObjectToObject(a, "remoteAbility")) ||
      !cJSON_AddBoolToObject(x, "supportRemoteConnection", 1) ||
      !cJSON_AddBoolToObject(x, "grpcReportEnabled", 1) ||
      !(x = cJSON_AddObjectToObject(a, "configAbility")) ||
      !cJSON_AddBoolToObject(x, "supportRemoteMetrics", 0) ||
      !(x = cJSON_AddObjectToObject(a, "namingAbility")) ||
      !cJSON_AddBoolToObject(x, "supportJraft", 0)) {
    cJSON_Delete(a);
    return NULL;
  }
  return a;
}

cJSON *nc_cl_member_to_json(nc_cluster *cl, const nc_cmember *m) {
  cJSON *o = cJSON_CreateObject();
  cJSON *ext = m->is_self ? self_ext(cl, m) : cJSON_Duplicate(m->ext, 1);
  cJSON *ab = abilities();
  if (!o || !ext || !ab || !cJSON_AddStringToObject(o, "ip", m->ip) ||
      !cJSON_AddNumberToObject(o, "port", m->port) ||
      !cJSON_AddStringToObject(o, "state", nc_member_state_name(m->is_self ? NC_MEMBER_UP
                                                                            : m->state)) ||
      !cJSON_AddItemToObject(o, "extendInfo", ext)) {
    cJSON_Delete(ext);
    goto fail;
  }
  if (!cJSON_AddStringToObject(o, "address", m->address) ||
      !cJSON_AddNumberToObject(o, "failAccessCnt", m->is_self ? 0 : m->fail_count) ||
      !cJSON_AddItemToObject(o, "abilities", ab))
    goto fail;
  ab = NULL;
  if (!cJSON_AddBoolToObject(o, "grpcReportEnabled", 1))
    goto fail;
  return o;
fail:
  cJSON_Delete(ab);
  cJSON_Delete(o);
  return NULL;
}
