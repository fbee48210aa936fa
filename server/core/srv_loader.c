/* srv_loader: the connection console of the server core
 * (nacos-wire-protocol.md §7.3, nacos-cluster.md §5.2): the current
 * connections as Nacos's Connection JSON, ConnectResetRequest to one
 * connection, and the load target that sheds SDK connections at a bounded
 * rate from the periodic timer. The limits are in srv_limits.c.
 * Loop thread only; see srv_priv.h. */
#include "srv_priv.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* createTime as Jackson writes a java.util.Date with Nacos's settings:
 * "2024-03-01T14:12:26.800+08:00" (local time and offset). */
static void iso_time(uint64_t ms, char *buf, size_t cap) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  localtime_r(&t, &tm);
  long off = tm.tm_gmtoff;
  char sign = off < 0 ? '-' : '+';
  if (off < 0)
    off = -off;
  char base[32];
  strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
  /* offsets are below 24 h; the bounds keep -O2's format-truncation check quiet */
  snprintf(buf, cap, "%s.%03u%c%02u:%02u", base, (unsigned)(ms % 1000), sign,
           (unsigned)(off / 3600) % 100u, (unsigned)(off / 60) % 60u);
}

/* Labels "app_<name>" are the connection's app labels, prefix stripped
 * (Nacos's RequestMeta). */
static cJSON *app_labels(const cJSON *labels) {
  cJSON *o = cJSON_CreateObject();
  const cJSON *it;
  if (o && labels)
    cJSON_ArrayForEach(it, labels) if (it->string && cJSON_IsString(it) &&
                                       strncmp(it->string, "app_", 4) == 0)
        cJSON_AddStringToObject(o, it->string + 4, it->valuestring);
  return o;
}

static int add_conn(nc_srv *srv, cJSON *all, const nc_conn *c, int v3) {
  char ts[48];
  cJSON *o = cJSON_AddObjectToObject(all, c->id);
  cJSON *m = o ? cJSON_CreateObject() : NULL;
  if (!m)
    return NC_ENOMEM;
  cJSON_AddBoolToObject(o, "traced", 0);
  /* the client's own table (srv_ability.c); {} when it sent none, never null */
  cJSON_AddItemToObject(o, "abilityTable",
                        c->abilities ? cJSON_Duplicate(c->abilities, 1) : cJSON_CreateObject());
  cJSON_AddItemToObject(o, "labels", cJSON_Duplicate(c->labels, 1));
  cJSON_AddItemToObject(o, "appLabels", app_labels(c->labels));
  cJSON_AddBoolToObject(o, "connected", 1);
  cJSON_AddItemToObject(o, "metaInfo", m);
  cJSON_AddStringToObject(m, "connectType", "GRPC");
  cJSON_AddStringToObject(m, "clientIp", c->client_ip);
  cJSON_AddStringToObject(m, "remoteIp", c->remote_ip);
  cJSON_AddNumberToObject(m, "remotePort", c->remote_port);
  cJSON_AddNumberToObject(m, "localPort", c->g == srv->g[1] ? srv->ports[1] : srv->ports[0]);
  cJSON_AddStringToObject(m, "version", c->version);
  cJSON_AddStringToObject(m, "connectionId", c->id);
  iso_time(c->created_ms, ts, sizeof(ts));
  cJSON_AddStringToObject(m, "createTime", ts);
  cJSON_AddNumberToObject(m, "lastActiveTime", (double)c->last_active_ms);
  cJSON_AddStringToObject(m, "appName", c->app);
  cJSON_AddStringToObject(m, v3 ? "namespaceId" : "tenant", c->tenant);
  cJSON_AddItemToObject(m, "labels", cJSON_Duplicate(c->labels, 1));
  cJSON_AddItemToObject(m, "appLabels", app_labels(c->labels));
  cJSON_AddBoolToObject(m, "sdkSource", !nc_conn_is_cluster(c));
  cJSON_AddBoolToObject(m, "clusterSource", nc_conn_is_cluster(c));
  /* the transport's word, not the client's tls.enable label */
  cJSON_AddBoolToObject(m, "tlsProtected", nc_gsrv_conn_tls(c->g, c->remote_ip, c->remote_port));
  return 0;
}

cJSON *nc_srv_loader_current_json(nc_srv *srv, int v3) {
  cJSON *all = cJSON_CreateObject();
  if (!all)
    return NULL;
  nc_strmap_iter it;
  void *cv;
  nc_strmap_iter_init(&it, srv->conns);
  while (nc_strmap_iter_next(&it, NULL, &cv))
    if (add_conn(srv, all, cv, v3) != 0) {
      cJSON_Delete(all);
      return NULL;
    }
  return all;
}

char *nc_srv_loader_current(nc_srv *srv) {
  cJSON *all = nc_srv_loader_current_json(srv, 0);
  char *s = all ? cJSON_PrintUnformatted(all) : NULL;
  cJSON_Delete(all);
  return s;
}

static void on_reset_result(void *ud, const char *conn_id, nc_push_result res) {
  nc_srv *srv = ud;
  if (res != NC_PUSH_ACKED)
    srv->st.loader_resets_failed++;
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
                       srv);
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

/* Nacos's loadCount (nacos-cluster.md §5.2): only the target is stored;
 * the next loader step acts on it once. */
int nc_srv_reload_current(nc_srv *srv, long count, const char *redirect) {
  if (count < 0)
    return NC_EINVAL;
  char *r = NULL;
  if (redirect && *redirect && !(r = strdup(redirect)))
    return NC_ENOMEM;
  free(srv->load_redirect);
  srv->load_redirect = r;
  srv->load_target = count;
  srv->eject_left = 0; /* a new target replaces what an earlier one still had to send */
  srv->load_deadline = uv_now(srv->loop) + LOAD_GIVE_UP_MS;
  nc_info("load target set: %ld connections (redirect %s)", count, r ? r : "-");
  return 0;
}

size_t nc_srv_sdk_conn_count(nc_srv *srv) { return nc_strmap_count(srv->conns) - srv->n_cluster; }

long nc_srv_reload_pending(nc_srv *srv) { return srv->eject_left; }

void nc_srv_set_reset_rate(nc_srv *srv, int per_sec) { srv->reset_rate = per_sec; }

void nc_srv_set_redirect_check(nc_srv *srv, int (*fn)(void *ud, const char *addr), void *ud) {
  srv->redirect_ok = fn;
  srv->redirect_ok_ud = ud;
}

static void eject_done(nc_srv *srv, const char *why) {
  nc_info("load target: %s", why);
  srv->eject_left = 0;
  free(srv->load_redirect);
  srv->load_redirect = NULL;
}

/* Every core tick (100 ms). Once a second, a stored target becomes a
 * number of resets as Nacos's ejector computes it: every connection
 * (SDK and cluster) above the target, SDK ones reset; count 0 means
 * nothing (loadClient > 0 only). Unlike Nacos's one synchronous 3 s call
 * after another, the resets then go out asynchronously, at most
 * reset_rate a second spread over the ticks, each connection once; one
 * shot per target (a client that ignores its reset stays). */
void nc_srv_loader_tick(nc_srv *srv) {
  uint64_t now = uv_now(srv->loop);
  if (srv->load_target >= 0 && now / 1000 != srv->loader_sec) {
    srv->loader_sec = now / 1000;
    long total = (long)nc_strmap_count(srv->conns);
    long target = srv->load_target;
    srv->load_target = -1;
    if (target > 0 && total > target) {
      srv->eject_left = total - target;
      int r = srv->reset_rate > 0 ? srv->reset_rate : 100;
      srv->load_deadline = now + LOAD_GIVE_UP_MS + (uint64_t)(srv->eject_left / r) * 2000;
      nc_info("load target %ld: %ld connections to reset (%ld now, redirect %s)", target,
              srv->eject_left, total, srv->load_redirect ? srv->load_redirect : "-");
    } else {
      eject_done(srv, target > 0 ? "already met" : "count 0 does nothing (as Nacos)");
    }
  }
  if (srv->eject_left <= 0)
    return;
  if (now >= srv->load_deadline) {
    eject_done(srv, "given up (not done in time)");
    return;
  }
  if (srv->load_redirect && srv->redirect_ok &&
      !srv->redirect_ok(srv->redirect_ok_ud, srv->load_redirect)) {
    nc_warn("load target: %s is no longer an UP, ready member; %ld resets not sent",
            srv->load_redirect, srv->eject_left);
    srv->st.loader_resets_failed += (uint64_t)srv->eject_left;
    eject_done(srv, "redirect target lost");
    return;
  }
  int rate = srv->reset_rate > 0 ? srv->reset_rate : 100;
  long burst = rate / 10 > 0 ? rate / 10 : 1;
  if (rate < 10 && now / 100 % (uint64_t)(10 / rate) != 0)
    return;
  nc_strmap_iter it;
  void *cv;
  /* The iterator holds the next entry: a failed push may drop c. */
  nc_strmap_iter_init(&it, srv->conns);
  long sent = 0, candidates = 0;
  while (sent < burst && srv->eject_left > 0 && nc_strmap_iter_next(&it, NULL, &cv)) {
    nc_conn *c = cv;
    if (c->reset_sent || nc_conn_is_cluster(c))
      continue;
    candidates++;
    if (send_reset(srv, c, srv->load_redirect) == 0) {
      sent++;
      srv->eject_left--;
    } else {
      srv->st.loader_resets_failed++;
    }
  }
  if (srv->eject_left <= 0)
    eject_done(srv, "every reset sent");
  else if (!candidates)
    eject_done(srv, "no SDK connection left to reset");
}
