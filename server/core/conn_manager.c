/* conn_manager: the connection table of the server core — registration on
 * ConnectionSetupRequest, unregistration, accessors, and the periodic
 * duties (push ack timeouts, idle probes, forgetting transports that never
 * registered). Loop thread only; see srv_priv.h. */
#include "srv_priv.h"
#include "srv_ability.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_EXPIRE_MS 30000 /* a ServerCheck without a stream is forgotten */

size_t nc_cm_count(const nc_strmap *m, const char *key) {
  return (size_t)(uintptr_t)nc_strmap_get(m, key);
}

size_t nc_cm_count_adj(nc_strmap *m, const char *key, long d) {
  size_t n = nc_cm_count(m, key);
  size_t v = d < 0 && (size_t)-d > n ? 0 : (size_t)((long)n + d);
  if (v == 0)
    nc_strmap_del(m, key);
  else if (nc_strmap_put(m, key, (void *)(uintptr_t)v, NULL) != 0)
    return n;
  return v;
}

void nc_cm_stream_unpend(nc_srv *srv, nc_stream *s) {
  if (s->pending) {
    nc_cm_count_adj(srv->pending_streams, s->peer_key, -1);
    s->pending = 0;
  }
}

int nc_cm_log_this(uint64_t n) { return n && (n & (n - 1)) == 0; }

/* ---- accessors ---- */
const char *nc_conn_id(const nc_conn *c) { return c->id; }
const char *nc_conn_client_ip(const nc_conn *c) { return c->client_ip; }
const char *nc_conn_remote_ip(const nc_conn *c) { return c->remote_ip; }
int nc_conn_remote_port(const nc_conn *c) { return c->remote_port; }
const char *nc_conn_label(const nc_conn *c, const char *key) {
  return nc_json_str(c->labels, key, NULL);
}
const char *nc_conn_version(const nc_conn *c) { return c->version; }
const char *nc_conn_app(const nc_conn *c) { return c->app; }
const char *nc_conn_tenant(const nc_conn *c) { return c->tenant; }
uint64_t nc_conn_created_ms(const nc_conn *c) { return c->created_ms; }
uint64_t nc_conn_last_active_ms(const nc_conn *c) { return c->last_active_ms; }
int nc_conn_is_cluster(const nc_conn *c) { return c->cluster; }
void nc_cm_touch(nc_conn *c) { c->last_active_ms = nc_now_ms(); }

nc_conn *nc_srv_find_conn(nc_srv *srv, const char *conn_id) {
  return nc_strmap_get(srv->conns, conn_id);
}
size_t nc_srv_conn_count(nc_srv *srv) { return nc_strmap_count(srv->conns); }

int nc_srv_add_tick_fn(nc_srv *srv, void (*fn)(void *ud), void *ud) {
  nc_tickfn *t = realloc(srv->tickfns, (srv->n_tickfns + 1) * sizeof(*t));
  if (!t)
    return NC_ENOMEM;
  srv->tickfns = t;
  t[srv->n_tickfns].fn = fn;
  t[srv->n_tickfns].ud = ud;
  srv->n_tickfns++;
  return 0;
}

int nc_srv_add_conn_listener(nc_srv *srv, nc_conn_listener_fn fn, void *ud) {
  nc_listener *l = realloc(srv->listeners, (srv->n_listeners + 1) * sizeof(*l));
  if (!l)
    return NC_ENOMEM;
  srv->listeners = l;
  l[srv->n_listeners].fn = fn;
  l[srv->n_listeners].ud = ud;
  srv->n_listeners++;
  return 0;
}

/* "ipv4:1.2.3.4:5", "ipv6:[::1]:5" or "ipv6:%5B::1%5D:5" -> ip, port */
static void split_peer(const char *peer, char *ip, size_t cap, int *port) {
  const char *p = strchr(peer, ':');
  p = p ? p + 1 : peer;
  const char *colon = strrchr(p, ':');
  size_t len = colon ? (size_t)(colon - p) : strlen(p);
  *port = colon ? atoi(colon + 1) : 0;
  if (len >= 2 && p[0] == '[' && p[len - 1] == ']') {
    p++;
    len -= 2;
  } else if (len >= 6 && strncmp(p, "%5B", 3) == 0 && strncmp(p + len - 3, "%5D", 3) == 0) {
    p += 3;
    len -= 6;
  }
  if (len >= cap)
    len = cap - 1;
  memcpy(ip, p, len);
  ip[len] = 0;
}

static char *mint_id(const char *peer) {
  char ip[96], buf[160];
  int port;
  split_peer(peer, ip, sizeof(ip), &port);
  snprintf(buf, sizeof(buf), "%llu_%s_%d", (unsigned long long)nc_now_ms(), ip, port);
  return strdup(buf);
}

static void peer_free(nc_peer *p) {
  if (p) {
    free(p->conn_id);
    free(p);
  }
}

nc_peer *nc_cm_peer(nc_srv *srv, const char *peer_key, const char *peer, int create) {
  nc_peer *p = nc_strmap_get(srv->peers, peer_key);
  if (p || !create)
    return p;
  p = calloc(1, sizeof(*p));
  if (!p || !(p->conn_id = mint_id(peer)) || nc_strmap_put(srv->peers, peer_key, p, NULL)) {
    peer_free(p);
    return NULL;
  }
  p->seen_ms = nc_now_ms();
  return p;
}

static void conn_free(nc_conn *c) {
  if (!c)
    return;
  free(c->id);
  free(c->peer_key);
  free(c->client_ip);
  free(c->remote_ip);
  free(c->version);
  free(c->app);
  free(c->tenant);
  cJSON_Delete(c->labels);
  cJSON_Delete(c->abilities);
  nc_strmap_free(c->pending, NULL);
  free(c);
}

static cJSON *copy_labels(const cJSON *l) {
  cJSON *o = cJSON_CreateObject();
  const cJSON *it;
  if (o && cJSON_IsObject(l))
    cJSON_ArrayForEach(it, l) if (it->string && cJSON_IsString(it))
        cJSON_AddStringToObject(o, it->string, it->valuestring);
  return o;
}

int nc_cm_register(nc_srv *srv, nc_stream *s, const char *peer, const nc_msg *setup) {
  nc_peer *p = nc_cm_peer(srv, s->peer_key, peer, 1);
  if (!p)
    return NC_ENOMEM;
  if (p->conn) {
    /* A second setup on the same transport (new stream): the old
     * registration and everything bound to it go; a fresh id follows. */
    nc_cm_unregister(srv, p->conn, 1, "re-registered");
    p = nc_cm_peer(srv, s->peer_key, peer, 1);
    if (!p)
      return NC_ENOMEM;
  }
  const cJSON *b = setup->body;
  const cJSON *labels = cJSON_GetObjectItemCaseSensitive(b, "labels");
  /* Peers are told apart by the port they came in on, never by their
   * source label: any SDK could send source=cluster (nacos-cluster.md §2.4). */
  int cluster = s->g == srv->g[1];
  /* §4.4 step 2: over the cap, the setup is refused (the caller closes the
   * stream without a message); peers are exempt. */
  const char *which = NULL;
  if (!cluster && nc_cm_over_limit(srv, &which)) {
    int cap = which[0] == 'c';
    uint64_t n = cap ? ++srv->st.conns_rejected : ++srv->st.conns_rejected_limit;
    if (nc_cm_log_this(n))
      nc_warn("connection setup from %s refused: %zu SDK connections, %s %ld (%llu so far)", peer,
              nc_srv_sdk_conn_count(srv), cap ? "--max-connections" : "connection limit",
              cap ? (long)srv->o.max_connections : srv->conn_limit, (unsigned long long)n);
    return NC_EBUSY;
  }
  char ip[96];
  int port;
  split_peer(peer, ip, sizeof(ip), &port);
  /* Per source address (the transport's, not the clientIp it claims), so
   * one host cannot take every slot of --max-connections. */
  if (srv->o.max_conns_per_ip > 0 && !cluster &&
      nc_cm_count(srv->conns_by_ip, ip) >= (size_t)srv->o.max_conns_per_ip) {
    srv->st.conns_rejected_ip++;
    if (nc_cm_log_this(srv->st.conns_rejected_ip))
      nc_warn("connection setup from %s refused: %d connections from %s already (cap per ip; "
              "%llu refused so far)",
              peer, srv->o.max_conns_per_ip, ip, (unsigned long long)srv->st.conns_rejected_ip);
    return NC_EBUSY;
  }
  nc_conn *c = calloc(1, sizeof(*c));
  if (!c)
    return NC_ENOMEM;
  c->id = strdup(p->conn_id);
  c->peer_key = strdup(s->peer_key);
  c->client_ip = strdup(setup->client_ip[0] ? setup->client_ip : ip);
  c->remote_ip = strdup(ip);
  c->remote_port = port;
  c->version = strdup(nc_json_str(b, "clientVersion", ""));
  c->labels = copy_labels(labels);
  const char *app = c->labels ? nc_conn_label(c, "AppName") : NULL;
  c->app = strdup(app ? app : "-");
  c->tenant = strdup(nc_json_str(b, "tenant", ""));
  c->created_ms = c->last_active_ms = nc_now_ms();
  c->g = s->g;
  c->cluster = cluster;
  c->stream_id = s->id;
  if (!c->id || !c->peer_key || !c->client_ip || !c->remote_ip || !c->version || !c->labels ||
      !c->app || !c->tenant || nc_ability_client_table(b, &c->abilities) != 0 ||
      !(c->pending = nc_strmap_new()) ||
      nc_strmap_put(srv->conns, c->id, c, NULL)) {
    conn_free(c);
    return NC_ENOMEM;
  }
  p->conn = c;
  s->conn = c;
  nc_cm_stream_unpend(srv, s);
  if (!cluster)
    nc_cm_count_adj(srv->conns_by_ip, c->remote_ip, 1);
  srv->st.conns_opened++;
  srv->n_cluster += (size_t)cluster;
  nc_info("connection %s registered (peer %s, client %s, version %s, module %s)", c->id, peer,
          c->client_ip, c->version, nc_conn_label(c, "module") ? nc_conn_label(c, "module") : "-");
  /* §4.4 step 4: the SetupAck follows registration (a 3.x client fires its
   * unary calls as soon as it arrives) and goes before any push. */
  if (c->abilities) {
    int rc = nc_ability_send_ack(srv, c);
    if (rc != 0)
      nc_warn("connection %s: SetupAckRequest not sent: %s", c->id, nc_strerror(rc));
  }
  for (size_t i = 0; i < srv->n_listeners; i++)
    srv->listeners[i].fn(srv->listeners[i].ud, c, NC_CONN_UP);
  return 0;
}

void nc_cm_unregister(nc_srv *srv, nc_conn *c, int close_stream, const char *why) {
  nc_strmap_del(srv->conns, c->id);
  srv->n_cluster -= (size_t)nc_conn_is_cluster(c);
  if (!c->cluster)
    nc_cm_count_adj(srv->conns_by_ip, c->remote_ip, -1);
  nc_peer *p = nc_strmap_get(srv->peers, c->peer_key);
  if (p && p->conn == c) {
    nc_strmap_del(srv->peers, c->peer_key);
    peer_free(p);
  }
  char sk[24];
  snprintf(sk, sizeof(sk), "%llu", (unsigned long long)c->stream_id);
  nc_stream *s = nc_strmap_get(srv->streams, sk);
  if (s && s->conn == c)
    s->conn = NULL;
  srv->st.conns_closed++;
  nc_info("connection %s unregistered (%s)", c->id, why);
  /* Pushes first, so their owners see GONE before the DOWN listener frees
   * the state they point into. */
  nc_strmap_iter it;
  void *pv;
  nc_strmap_iter_init(&it, c->pending);
  while (nc_strmap_iter_next(&it, NULL, &pv))
    nc_srv_pend_resolve(srv, pv, NC_PUSH_GONE);
  for (size_t i = 0; i < srv->n_listeners; i++)
    srv->listeners[i].fn(srv->listeners[i].ud, c, NC_CONN_DOWN);
  if (close_stream && c->g)
    nc_gsrv_stream_close(c->g, c->stream_id);
  conn_free(c);
}

void nc_srv_drop_conn(nc_srv *srv, const char *conn_id, const char *why) {
  nc_conn *c = nc_strmap_get(srv->conns, conn_id);
  if (c)
    nc_cm_unregister(srv, c, 1, why ? why : "dropped");
}

static void on_probe(void *ud, const char *conn_id, nc_push_result res) {
  nc_srv *srv = ud;
  nc_conn *c = nc_strmap_get(srv->conns, conn_id);
  if (!c)
    return;
  c->probing = 0;
  if (res == NC_PUSH_ACKED) {
    nc_cm_touch(c);
    return;
  }
  srv->st.conns_dropped_idle++;
  nc_cm_unregister(srv, c, 1, "idle probe not acked");
}

static void probe_idle(nc_srv *srv) {
  uint64_t now = nc_now_ms();
  static const char body[] = "{\"headers\":{},\"module\":\"internal\"}";
  nc_strmap_iter it;
  void *cv;
  nc_strmap_iter_init(&it, srv->conns);
  while (nc_strmap_iter_next(&it, NULL, &cv)) {
    nc_conn *c = cv;
    if (c->probing || now < c->last_active_ms + (uint64_t)srv->o.idle_probe_ms)
      continue;
    int rc = nc_srv_push_raw(srv, c->id, "ClientDetectionRequest", body, sizeof(body) - 1,
                             srv->o.probe_timeout_ms, on_probe, srv);
    if (rc == 0) {
      c->probing = 1;
      srv->st.conns_probed++;
      nc_debug("probing idle connection %s", c->id);
    }
  }
}

/* Streams that never sent ConnectionSetupRequest: an SDK sends it right
 * after opening the stream, so after setup_timeout_ms one that has not is
 * closed (before, 5,000 such streams stayed open for good). */
static void expire_setups(nc_srv *srv) {
  if (srv->o.setup_timeout_ms <= 0)
    return;
  uint64_t now = uv_now(srv->loop);
  nc_strmap_iter it;
  void *sv;
  nc_strmap_iter_init(&it, srv->streams);
  while (nc_strmap_iter_next(&it, NULL, &sv)) {
    nc_stream *s = sv;
    if (s->conn || s->closing || now < s->opened_ms + (uint64_t)srv->o.setup_timeout_ms)
      continue;
    s->closing = 1;
    srv->st.streams_setup_timeout++;
    if (nc_cm_log_this(srv->st.streams_setup_timeout))
      nc_warn("stream %llu from %s closed: no ConnectionSetupRequest within %d ms (%llu so far)",
              (unsigned long long)s->id, s->peer_key, srv->o.setup_timeout_ms,
              (unsigned long long)srv->st.streams_setup_timeout);
    nc_gsrv_stream_close(s->g, s->id);
  }
}

static void expire_peers(nc_srv *srv) {
  uint64_t now = nc_now_ms();
  nc_strmap_iter it;
  const char *key;
  void *pv;
  nc_strmap_iter_init(&it, srv->peers);
  while (nc_strmap_iter_next(&it, &key, &pv)) {
    nc_peer *p = pv;
    if (!p->conn && now > p->seen_ms + PEER_EXPIRE_MS) {
      nc_strmap_del(srv->peers, key);
      peer_free(p);
    }
  }
}

/* The one periodic timer (every 100 ms): ack timeouts and the loader's
 * paced resets each tick; idle probes and peer expiry once a second. */
void nc_cm_tick(nc_srv *srv) {
  uint64_t now = uv_now(srv->loop);
  while (srv->dl_head && srv->dl_head->deadline <= now)
    nc_srv_pend_resolve(srv, srv->dl_head, NC_PUSH_TIMEOUT);
  nc_srv_loader_tick(srv); /* paces its resets over the second */
  if (++srv->tick_n % 10 == 0) {
    probe_idle(srv);
    expire_setups(srv);
    expire_peers(srv);
    for (size_t i = 0; i < srv->n_tickfns && !srv->shut; i++)
      srv->tickfns[i].fn(srv->tickfns[i].ud);
  }
}

void nc_cm_free_all(nc_srv *srv) {
  nc_strmap_iter it;
  void *pv;
  nc_strmap_iter_init(&it, srv->peers);
  while (nc_strmap_iter_next(&it, NULL, &pv))
    peer_free(pv);
}
