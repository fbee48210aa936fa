/* srv_loader: the connection console of the server core
 * (nacos-wire-protocol.md §7.3, ServerLoaderController): the current
 * connections as JSON, ConnectResetRequest to one connection, and the
 * load target that sheds SDK connections from the periodic timer. The
 * connection cap (--max-connections) is checked in conn_manager.c.
 * Loop thread only; see srv_priv.h. */
#include "srv_priv.h"

#include "nc_err.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESET_TIMEOUT_MS 3000   /* as Nacos's loader */
#define LOAD_GIVE_UP_MS 30000   /* a target nobody reaches is dropped */

int nc_srv_parse_redirect(const char *addr, char *ip, size_t cap, int *port) {
  const char *colon = addr ? strrchr(addr, ':') : NULL;
  if (!colon || colon == addr || (size_t)(colon - addr) >= cap || !colon[1])
    return NC_EINVAL;
  char *end = NULL;
  long p = strtol(colon + 1, &end, 10);
  if (*end || p < 1 || p > 65535)
    return NC_EINVAL;
  size_t n = (size_t)(colon - addr);
  if (addr[0] == '[' && colon[-1] == ']') { /* [v6]:port */
    addr++;
    n -= 2;
  }
  if (!n)
    return NC_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (addr[i] == ' ' || addr[i] == '/' || addr[i] == '"' || addr[i] == '\\')
      return NC_EINVAL;
  memcpy(ip, addr, n);
  ip[n] = 0;
  *port = (int)p;
  return 0;
}

char *nc_srv_loader_current(nc_srv *srv) {
  cJSON *all = cJSON_CreateObject();
  if (!all)
    return NULL;
  nc_strmap_iter it;
  void *cv;
  nc_strmap_iter_init(&it, srv->conns);
  while (nc_strmap_iter_next(&it, NULL, &cv)) {
    const nc_conn *c = cv;
    cJSON *o = cJSON_AddObjectToObject(all, c->id);
    cJSON *m = o ? cJSON_AddObjectToObject(o, "metaInfo") : NULL;
    if (!m) {
      cJSON_Delete(all);
      return NULL;
    }
    cJSON_AddStringToObject(m, "connectionId", c->id);
    cJSON_AddStringToObject(m, "clientIp", c->client_ip);
    cJSON_AddStringToObject(m, "remoteIp", c->remote_ip);
    cJSON_AddNumberToObject(m, "remotePort", c->remote_port);
    cJSON_AddNumberToObject(m, "localPort", c->g == srv->g[1] ? srv->ports[1] : srv->ports[0]);
    cJSON_AddStringToObject(m, "connectType", "GRPC");
    cJSON_AddStringToObject(m, "version", c->version);
    cJSON_AddStringToObject(m, "appName", c->app);
    cJSON_AddStringToObject(m, "tenant", c->tenant);
    cJSON_AddItemToObject(m, "labels", cJSON_Duplicate(c->labels, 1));
    cJSON_AddNumberToObject(m, "createTime", (double)c->created_ms);
    cJSON_AddNumberToObject(m, "lastActiveTime", (double)c->last_active_ms);
    cJSON_AddBoolToObject(m, "sdkSource", !nc_conn_is_cluster(c));
    cJSON_AddObjectToObject(o, "abilityTable");
    cJSON_AddBoolToObject(o, "traced", 0);
  }
  char *s = cJSON_PrintUnformatted(all);
  cJSON_Delete(all);
  return s;
}

static void on_reset_result(void *ud, const char *conn_id, nc_push_result res) {
  (void)ud;
  nc_debug("ConnectResetRequest to %s: %s", conn_id,
           res == NC_PUSH_ACKED ? "acked" : res == NC_PUSH_GONE ? "connection gone" : "not acked");
}

/* ConnectResetRequest (§6.6). As Nacos, the target fields are filled only
 * with a redirect; without one clients pick another server themselves. */
static int send_reset(nc_srv *srv, nc_conn *c, const char *redirect) {
  char ip[256], port[16];
  int p = 0;
  cJSON *b = cJSON_CreateObject();
  if (!b)
    return NC_ENOMEM;
  cJSON_AddObjectToObject(b, "headers");
  if (redirect && nc_srv_parse_redirect(redirect, ip, sizeof(ip), &p) == 0) {
    snprintf(port, sizeof(port), "%d", p);
    cJSON_AddStringToObject(b, "serverIp", ip);
    cJSON_AddStringToObject(b, "serverPort", port); /* a string on the wire */
    cJSON_AddStringToObject(b, "connectionId", c->id);
  }
  cJSON_AddStringToObject(b, "module", "internal");
  int rc = nc_srv_push(srv, c->id, "ConnectResetRequest", b, RESET_TIMEOUT_MS, on_reset_result,
                       NULL);
  if (rc == 0) {
    c->reset_sent = 1;
    srv->st.conns_reset++;
    nc_info("ConnectResetRequest sent to %s (redirect %s)", c->id, redirect ? redirect : "-");
  }
  return rc;
}

int nc_srv_reload_client(nc_srv *srv, const char *conn_id, const char *redirect) {
  nc_conn *c = conn_id ? nc_strmap_get(srv->conns, conn_id) : NULL;
  if (!c)
    return NC_ENOTFOUND;
  return send_reset(srv, c, redirect);
}

int nc_srv_reload_current(nc_srv *srv, long count, const char *redirect) {
  if (count < 0)
    return NC_EINVAL;
  char *r = NULL;
  if (redirect && *redirect && !(r = strdup(redirect)))
    return NC_ENOMEM;
  free(srv->load_redirect);
  srv->load_redirect = r;
  srv->load_target = count;
  srv->load_deadline = uv_now(srv->loop) + LOAD_GIVE_UP_MS;
  nc_info("load target set: %ld SDK connections (redirect %s)", count, r ? r : "-");
  return 0;
}

static void load_clear(nc_srv *srv, const char *why) {
  nc_info("load target %ld cleared (%s)", srv->load_target, why);
  srv->load_target = -1;
  free(srv->load_redirect);
  srv->load_redirect = NULL;
}

size_t nc_srv_sdk_conn_count(nc_srv *srv) { return nc_strmap_count(srv->conns) - srv->n_cluster; }

/* Once a second while a target is set: reset SDK connections until their
 * count is down to the target. A connection is reset once; those already
 * reset and still here count as leaving, so a slow client is not reset
 * again and again. The target is cleared when reached or after
 * LOAD_GIVE_UP_MS (clients that ack but stay, e.g. Go with no redirect). */
void nc_srv_loader_tick(nc_srv *srv) {
  if (srv->load_target < 0)
    return;
  size_t sdk = nc_srv_sdk_conn_count(srv), leaving = 0;
  if (sdk <= (size_t)srv->load_target) {
    load_clear(srv, "reached");
    return;
  }
  if (uv_now(srv->loop) >= srv->load_deadline) {
    load_clear(srv, "not reached in time");
    return;
  }
  nc_strmap_iter it;
  void *cv;
  nc_strmap_iter_init(&it, srv->conns);
  while (nc_strmap_iter_next(&it, NULL, &cv)) {
    const nc_conn *c = cv;
    leaving += c->reset_sent && !nc_conn_is_cluster(c);
  }
  size_t want = sdk - (size_t)srv->load_target;
  /* The iterator holds the next entry: a failed push may drop c. */
  nc_strmap_iter_init(&it, srv->conns);
  while (leaving < want && nc_strmap_iter_next(&it, NULL, &cv)) {
    nc_conn *c = cv;
    if (c->reset_sent || nc_conn_is_cluster(c))
      continue;
    if (send_reset(srv, c, srv->load_redirect) == 0)
      leaving++;
  }
}
