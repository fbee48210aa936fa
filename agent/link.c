/* The loop's view of the upstream link (see link.h): requests sent on
 * it, its up/down state, and what every app is told about it. */
#include "link.h"
#include "nc_err.h"
#include "nc_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bc_line {
  const char *s;
  size_t len;
} bc_line;

static void send_to(void *ud, nc_ipc_client *c) {
  const bc_line *l = ud;
  nc_ipc_client_send(c, l->s, l->len);
}

void nc_ag_broadcast(nc_agent *ag, const cJSON *obj) {
  if (!ag->srv)
    return;
  /* Printed once for all apps, not once per app. */
  char *s = cJSON_PrintUnformatted(obj);
  if (!s)
    return;
  bc_line l = {s, strlen(s)};
  nc_ipc_srv_foreach(ag->srv, send_to, &l);
  free(s);
}

int nc_ag_up(nc_agent *ag, const char *type, cJSON *body, nc_up_done_cb cb, void *ud) {
  if (ag->stopping || !ag->up) {
    cJSON_Delete(body);
    cb(ud, NC_ECLOSED, NULL);
    return NC_ECLOSED;
  }
  /* Tagged with the loop's view of the connection: if that one is gone by
   * the time the request would be sent, it fails rather than racing the
   * redo of the next connection. */
  /* Bounded: apps pipelining faster than the server answers get an error
   * instead of growing the queue without limit. State kept for the redo is
   * not lost by this: the periodic redo re-sends what did not get through. */
  if (nc_up_queued(ag->up) >= NC_AG_MAX_QUEUED) {
    cJSON_Delete(body);
    cb(ud, NC_EBUSY, NULL);
    return NC_EBUSY;
  }
  ag->up_events++;
  /* Ordering keys: writes to one service / config / the listen table are
   * applied in order; queries change nothing and may overtake. */
  char key[1700];
  const char *k = key;
  if (!strcmp(type, "ServiceQueryRequest") || !strcmp(type, "ConfigQueryRequest"))
    k = NULL;
  else if (!strcmp(type, "InstanceRequest") || !strcmp(type, "BatchInstanceRequest") ||
           !strcmp(type, "SubscribeServiceRequest"))
    snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%s",
             type[0] == 'S' ? "sub" : "reg", nc_json_str(body, "namespace", ""),
             nc_json_str(body, "groupName", ""), nc_json_str(body, "serviceName", ""));
  else if (!strcmp(type, "ConfigPublishRequest") || !strcmp(type, "ConfigRemoveRequest"))
    snprintf(key, sizeof(key), "cfg\x1f%s\x1f%s\x1f%s", nc_json_str(body, "tenant", ""),
             nc_json_str(body, "group", ""), nc_json_str(body, "dataId", ""));
  else
    snprintf(key, sizeof(key), "%s", type); /* e.g. all listen changes in order */
  return nc_up_request(ag->up, ag->connected ? ag->gen : UINT64_MAX, type, body, k, cb, ud);
}

void nc_ag_add_server(nc_agent *ag, cJSON *o) {
  if (ag->connected)
    cJSON_AddStringToObject(o, "server", ag->server);
  else
    cJSON_AddNullToObject(o, "server");
}

static void upstream_event(nc_agent *ag, const char *state) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return;
  cJSON_AddStringToObject(o, "event", "agent.upstream");
  cJSON_AddStringToObject(o, "state", state);
  if (ag->server[0])
    cJSON_AddStringToObject(o, "server", ag->server);
  else
    cJSON_AddNullToObject(o, "server");
  nc_ag_broadcast(ag, o);
  cJSON_Delete(o);
}


void nc_ag_link_connected(nc_agent *ag, uint64_t gen, const char *server, const char *conn_id) {
  ag->connected = 1;
  ag->gen = gen;
  snprintf(ag->server, sizeof(ag->server), "%s", server);
  snprintf(ag->conn_id, sizeof(ag->conn_id), "%s", conn_id);
  if (ag->connects++)
    ag->reconnects++;
  upstream_event(ag, "connected");
}

int nc_ag_link_disconnected(nc_agent *ag, uint64_t gen) {
  if (gen != ag->gen || !ag->connected)
    return 0;
  ag->connected = 0;
  return 1;
}

void nc_ag_link_announce_down(nc_agent *ag) { upstream_event(ag, "disconnected"); }
