/* The agent object: wiring of socket server, state, cache and upstream;
 * request dispatch; replies; agent.* ops; upstream state changes. */
#include "agent_core.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- replies ---- */

static uint64_t err_replies;

uint64_t nc_ag_err_count(void) { return err_replies; }

void nc_ag_ok(nc_ipc_client *c, const cJSON *id, cJSON *extra) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    goto out;
  cJSON_AddItemToObject(o, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
  cJSON_AddBoolToObject(o, "ok", 1);
  if (extra) {
    while (extra->child) {
      cJSON *it = extra->child;
      cJSON_DetachItemViaPointer(extra, it);
      cJSON_AddItemToObject(o, it->string, it);
    }
  }
  nc_ipc_client_send_json(c, o);
out:
  cJSON_Delete(o);
  cJSON_Delete(extra);
}

void nc_ag_err(nc_ipc_client *c, const cJSON *id, const char *code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  err_replies++;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return;
  cJSON_AddItemToObject(o, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
  cJSON_AddBoolToObject(o, "ok", 0);
  cJSON *e = cJSON_AddObjectToObject(o, "error");
  if (e) {
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
  }
  nc_ipc_client_send_json(c, o);
  cJSON_Delete(o);
}

int nc_ag_resp_ok(const nc_msg *resp) {
  if (!resp || resp->body_error || !resp->body)
    return 0;
  return nc_json_int(resp->body, "resultCode", 200) == 200 &&
         nc_json_int(resp->body, "errorCode", 0) == 0;
}

void nc_ag_err_upstream(nc_ipc_client *c, const cJSON *id, int status, const nc_msg *resp) {
  if (status == NC_ETIMEOUT) {
    nc_ag_err(c, id, "TIMEOUT", "upstream request timed out");
  } else if (status == NC_EBUSY) {
    nc_ag_err(c, id, "UNAVAILABLE", "too many requests waiting for the upstream server");
  } else if (status == NC_EUNAVAIL || status == NC_ECLOSED) {
    nc_ag_err(c, id, "UNAVAILABLE", "no upstream connection");
  } else if (status) {
    nc_ag_err(c, id, "UNAVAILABLE", "upstream failure: %s", nc_strerror(status));
  } else {
    const cJSON *b = resp && !resp->body_error ? resp->body : NULL;
    int ec = (int)nc_json_int(b, "errorCode", 0);
    int rc = (int)nc_json_int(b, "resultCode", 0);
    const char *m = nc_json_str(b, "message", "");
    const char *code = "INTERNAL";
    if (ec == 403 || rc == 403)
      code = "FORBIDDEN";
    else if (ec == 400 || ec == 302)
      code = "BAD_REQUEST";
    nc_ag_err(c, id, code, "server error %d: %s", ec ? ec : rc, m);
  }
}

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

nc_ag_waiter *nc_ag_waiter_new(nc_ipc_client *c, const cJSON *id) {
  nc_ag_waiter *w = calloc(1, sizeof(*w));
  if (!w)
    return NULL;
  w->id = id ? cJSON_Duplicate(id, 1) : NULL;
  w->c = c;
  nc_ipc_client_ref(c);
  return w;
}

void nc_ag_waiter_free(nc_ag_waiter *w) {
  if (!w)
    return;
  nc_ipc_client_unref(w->c);
  cJSON_Delete(w->id);
  cJSON_Delete(w->clusters);
  free(w);
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

/* ---- request fields ---- */

const char *nc_ag_req_name(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char *key,
                           const char *def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
  if (!v || cJSON_IsNull(v)) {
    if (!def)
      nc_ag_err(c, id, "BAD_REQUEST", "missing field '%s'", key);
    return def;
  }
  if (!cJSON_IsString(v)) {
    nc_ag_err(c, id, "BAD_REQUEST", "field '%s' must be a string", key);
    return NULL;
  }
  const char *s = v->valuestring;
  size_t n = strlen(s);
  if (n == 0 && def == NULL) {
    nc_ag_err(c, id, "BAD_REQUEST", "field '%s' must not be empty", key);
    return NULL;
  }
  if (n > 512) {
    nc_ag_err(c, id, "BAD_REQUEST", "field '%s' is longer than 512 bytes", key);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
      nc_ag_err(c, id, "BAD_REQUEST", "field '%s' contains control characters", key);
      return NULL;
    }
  }
  if (n == 0)
    return def; /* "" for an optional name means its default */
  return s;
}

const char *nc_ag_req_ns(nc_ipc_client *c, const cJSON *id, const cJSON *req, int *bad) {
  const char *ns = nc_ag_req_name(c, id, req, "namespace", "");
  *bad = ns == NULL;
  if (ns && !strcmp(ns, "public"))
    ns = "";
  return ns;
}

/* ---- naming identity fields ---- */

int nc_ag_key_set(nc_ag_key *k, const char *ns, const char *group, const char *service) {
  k->ns = strdup(ns);
  k->group = strdup(group);
  k->service = strdup(service);
  return k->ns && k->group && k->service ? 0 : NC_ENOMEM;
}

void nc_ag_key_clear(nc_ag_key *k) {
  free(k->ns);
  free(k->group);
  free(k->service);
}


int nc_ag_read_ident(nc_ipc_client *c, const cJSON *id, const cJSON *req, nc_ag_ident *o) {
  int bad = 0;
  o->ns = nc_ag_req_ns(c, id, req, &bad);
  if (bad)
    return -1;
  if (!(o->group = nc_ag_req_name(c, id, req, "group", "DEFAULT_GROUP")))
    return -1;
  if (!(o->service = nc_ag_req_name(c, id, req, "service", NULL)))
    return -1;
  if (strstr(o->service, "@@") || strstr(o->group, "@@")) {
    nc_ag_err(c, id, "BAD_REQUEST", "'service' and 'group' must not contain '@@'");
    return -1;
  }
  return 0;
}

static int cluster_ok(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '-' || *s == '_'))
      return 0;
  return 1;
}

/* ip, port and cluster: the identity of an instance within a service. */
int nc_ag_read_addr(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char **ip,
                    int *port, const char **cluster) {
  if (!(*ip = nc_ag_req_name(c, id, req, "ip", NULL)))
    return -1;
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "port");
  if (!p || cJSON_IsNull(p)) {
    nc_ag_err(c, id, "BAD_REQUEST", "missing field 'port'");
    return -1;
  }
  if (!cJSON_IsNumber(p) || p->valuedouble != (double)(int)p->valuedouble || p->valueint < 1 ||
      p->valueint > 65535) {
    nc_ag_err(c, id, "BAD_REQUEST", "field 'port' must be an integer 1..65535");
    return -1;
  }
  *port = p->valueint;
  if (!(*cluster = nc_ag_req_name(c, id, req, "cluster", "DEFAULT")))
    return -1;
  if (!cluster_ok(*cluster)) {
    nc_ag_err(c, id, "BAD_REQUEST", "field 'cluster' may hold only letters, digits, '-', '_'");
    return -1;
  }
  return 0;
}

int nc_ag_read_bool(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char *key,
                    int def, int *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
  if (!v || cJSON_IsNull(v)) {
    *out = def;
    return 0;
  }
  if (!cJSON_IsBool(v)) {
    nc_ag_err(c, id, "BAD_REQUEST", "field '%s' must be a boolean", key);
    return -1;
  }
  *out = cJSON_IsTrue(v);
  return 0;
}


/* ---- agent.* ---- */

void nc_ag_add_server(nc_agent *ag, cJSON *o) {
  if (ag->connected)
    cJSON_AddStringToObject(o, "server", ag->server);
  else
    cJSON_AddNullToObject(o, "server");
}

static void op_hello(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  const cJSON *app = cJSON_GetObjectItemCaseSensitive(req, "app");
  const cJSON *proto = cJSON_GetObjectItemCaseSensitive(req, "protocol");
  if (app && !cJSON_IsNull(app) && !cJSON_IsString(app)) {
    nc_ag_err(c, id, "BAD_REQUEST", "field 'app' must be a string");
    return;
  }
  if (proto && !cJSON_IsNull(proto) && (!cJSON_IsNumber(proto) || proto->valuedouble != 1)) {
    nc_ag_err(c, id, "BAD_REQUEST", "unsupported protocol version (this agent speaks 1)");
    return;
  }
  if (cJSON_IsString(app)) {
    nc_ipc_client_set_app(c, app->valuestring);
    nc_info("ipc: client %llu is app '%s'", (unsigned long long)nc_ipc_client_id(c),
            app->valuestring);
  }
  cJSON *r = cJSON_CreateObject();
  if (!r)
    return;
  cJSON_AddStringToObject(r, "agent", "nacos-agent/" NC_AGENT_VERSION);
  cJSON_AddNumberToObject(r, "protocol", 1);
  cJSON_AddBoolToObject(r, "connected", ag->connected);
  nc_ag_add_server(ag, r);
  nc_ag_ok(c, id, r);
}

/* ---- dispatch ---- */

typedef void (*op_fn)(nc_agent *, nc_ipc_client *, const cJSON *, const cJSON *);
static const struct {
  const char *name;
  op_fn fn;
} ops[] = {
    {"agent.hello", op_hello},
    {"naming.register", nc_ag_naming_register},
    {"naming.deregister", nc_ag_naming_deregister},
    {"naming.subscribe", nc_ag_naming_subscribe},
    {"naming.unsubscribe", nc_ag_naming_unsubscribe},
    {"naming.instances", nc_ag_naming_instances},
    {"config.get", nc_ag_config_get},
    {"config.publish", nc_ag_config_publish},
    {"config.remove", nc_ag_config_remove},
    {"config.listen", nc_ag_config_listen},
    {"config.unlisten", nc_ag_config_unlisten},
};

static void on_line(void *ud, nc_ipc_client *c, char *line, size_t len) {
  nc_agent *ag = ud;
  cJSON *req = cJSON_ParseWithLength(line, len);
  const cJSON *id = NULL;
  ag->ipc_requests++;
  if (!req || !cJSON_IsObject(req)) {
    nc_ag_err(c, NULL, "BAD_REQUEST", "malformed JSON: one JSON object per line expected");
    goto out;
  }
  id = cJSON_GetObjectItemCaseSensitive(req, "id");
  if (id && !cJSON_IsNumber(id) && !cJSON_IsString(id)) {
    id = NULL;
    nc_ag_err(c, NULL, "BAD_REQUEST", "field 'id' must be a number or a string");
    goto out;
  }
  const cJSON *op = cJSON_GetObjectItemCaseSensitive(req, "op");
  if (!op) {
    nc_ag_err(c, id, "BAD_REQUEST", "missing field 'op'");
    goto out;
  }
  if (!cJSON_IsString(op)) {
    nc_ag_err(c, id, "BAD_REQUEST", "field 'op' must be a string");
    goto out;
  }
  nc_trace("ipc: client %llu: %s", (unsigned long long)nc_ipc_client_id(c), op->valuestring);
  if (!strcmp(op->valuestring, "agent.status")) {
    nc_ag_status(ag, c, id);
    goto out;
  }
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    if (!strcmp(op->valuestring, ops[i].name)) {
      ops[i].fn(ag, c, id, req);
      goto out;
    }
  }
  nc_ag_err(c, id, "BAD_REQUEST", "unknown op '%.100s'", op->valuestring);
out:
  cJSON_Delete(req);
}

static void drop_reg(void *ud, nc_st_reg *r) { nc_ag_naming_reg_changed(ud, r); }
static void drop_svc(void *ud, nc_st_svc *s) { nc_ag_naming_svc_unused(ud, s); }
static void drop_cfg(void *ud, nc_st_cfg *c) { nc_ag_config_cfg_unused(ud, c); }

static void on_client_close(void *ud, nc_ipc_client *c) {
  nc_agent *ag = ud;
  nc_st_drop_cbs cbs = {drop_reg, drop_svc, drop_cfg, ag};
  nc_st_drop_owner(ag->st, c, &cbs);
}

/* ---- upstream ---- */

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

/* Housekeeping, once a second. Bursts of upstream traffic (a redo, many
 * subscribes) leave freed memory scattered over the allocator's per-thread
 * arenas (the upstream and gRPC threads allocate responses, the loop frees
 * them); give it back to the system once things are quiet again. */
static void on_housekeeping(uv_timer_t *t) {
  nc_agent *ag = t->data;
  ag->ticks++;
  if (ag->ticks % 3 == 0) {
    nc_ag_naming_tick(ag);
    nc_ag_config_tick(ag, ag->ticks % 180 == 0);
  }
  if (ag->up_events != ag->up_events_seen) {
    ag->up_events_seen = ag->up_events;
    ag->trimmed = 0;
    return; /* still busy: wait for a quiet second */
  }
  if (!ag->trimmed) {
    malloc_trim(0);
    ag->trimmed = 1;
  }
}

static void up_connected(void *ud, uint64_t gen, const char *server, const char *conn_id) {
  nc_agent *ag = ud;
  ag->connected = 1;
  ag->gen = gen;
  snprintf(ag->server, sizeof(ag->server), "%s", server);
  snprintf(ag->conn_id, sizeof(ag->conn_id), "%s", conn_id);
  if (ag->connects++)
    ag->reconnects++;
  upstream_event(ag, "connected");
  /* Redo: the new connection holds nothing yet; replay everything. */
  nc_ag_naming_redo(ag);
  nc_ag_config_redo(ag);
}

static void up_disconnected(void *ud, uint64_t gen, const char *reason) {
  nc_agent *ag = ud;
  (void)reason;
  if (gen != ag->gen || !ag->connected)
    return;
  ag->connected = 0;
  nc_ag_naming_disconnected(ag);
  nc_ag_config_disconnected(ag);
  upstream_event(ag, "disconnected");
}

static void up_push(void *ud, uint64_t gen, const char *type, const cJSON *body) {
  nc_agent *ag = ud;
  ag->up_events++;
  (void)gen;
  if (!strcmp(type, "NotifySubscriberRequest"))
    nc_ag_naming_push(ag, body);
  else if (!strcmp(type, "ConfigChangeNotifyRequest"))
    nc_ag_config_push(ag, body);
}

/* ---- lifecycle ---- */

static void on_signal(uv_signal_t *h, int signum) {
  nc_agent *ag = h->data;
  nc_info("agent: signal %d, shutting down", signum);
  nc_agent_stop(ag);
}

int nc_agent_new(uv_loop_t *loop, const nc_agent_cfg *cfg, nc_agent **out) {
  int rc = NC_ENOMEM;
  nc_server_addr *servers = NULL;
  size_t n_servers = 0;
  uid_t *uids = NULL;
  size_t n_uids = 0;
  char err[300];
  nc_agent *ag = calloc(1, sizeof(*ag));
  if (!ag)
    return NC_ENOMEM;
  ag->loop = loop;
  ag->cfg = cfg;
  ag->start_ms = uv_now(loop);
  if ((rc = nc_agent_parse_servers(cfg->servers, &servers, &n_servers, err, sizeof(err))) != 0) {
    nc_error("agent: --servers: %s", err);
    goto fail;
  }
  if ((rc = nc_agent_parse_uids(cfg->allowed_uids, &uids, &n_uids)) != 0) {
    nc_error("agent: --allowed-uids: expected a comma list of numeric uids");
    goto fail;
  }
  if (!(ag->st = nc_st_new())) {
    rc = NC_ENOMEM;
    goto fail;
  }
  if ((rc = nc_cache_open(cfg->cache_dir, &ag->cache)) != 0)
    goto fail;
  if ((rc = nc_gcli_env_new(1, &ag->env)) != 0) {
    nc_error("agent: cannot start the gRPC client: %s", nc_strerror(rc));
    goto fail;
  }
  nc_up_opts uo = {servers,
                   n_servers,
                   (int)cfg->health_interval_ms,
                   (int)cfg->request_timeout_ms,
                   cfg->app_name,
                   cfg->client_ip};
  nc_up_cbs ucbs = {up_connected, up_disconnected, up_push, ag};
  if ((rc = nc_up_new(loop, ag->env, &uo, &ucbs, &ag->up)) != 0)
    goto fail;
  nc_ipc_srv_opts so = {0};
  so.path = cfg->socket;
  so.max_line = (size_t)cfg->max_line;
  so.allowed_uids = uids;
  so.n_allowed = n_uids;
  so.group = cfg->socket_group;
  nc_ipc_srv_cbs scbs = {on_line, on_client_close, ag};
  if ((rc = nc_ipc_srv_new(loop, &so, &scbs, &ag->srv)) != 0 ||
      (rc = nc_ag_metrics_start(ag)) != 0)
    goto fail;
  uv_signal_init(loop, &ag->sigterm);
  uv_signal_init(loop, &ag->sigint);
  ag->sigterm.data = ag->sigint.data = ag;
  uv_signal_start(&ag->sigterm, on_signal, SIGTERM);
  uv_signal_start(&ag->sigint, on_signal, SIGINT);
  uv_timer_init(loop, &ag->housekeeping);
  ag->housekeeping.data = ag;
  uv_timer_start(&ag->housekeeping, on_housekeeping, 1000, 1000);
  if ((rc = nc_up_start(ag->up)) != 0)
    goto fail;
  free(servers);
  free(uids);
  *out = ag;
  return 0;
fail:
  free(servers);
  free(uids);
  nc_agent_stop(ag);
  uv_run(loop, UV_RUN_DEFAULT);
  nc_agent_free(ag);
  return rc;
}

void nc_agent_stop(nc_agent *ag) {
  if (ag->stopping)
    return;
  ag->stopping = 1;
  if (ag->up)
    nc_up_stop(ag->up);
  if (ag->srv) {
    nc_ipc_srv_close(ag->srv);
    ag->srv = NULL;
  }
  nc_ag_metrics_stop(ag);
  if (ag->up) {
    /* Closing the evq hands queued completions back (their callbacks
     * release client references). */
    nc_up_free(ag->up);
    ag->up = NULL;
  }
  if (ag->sigterm.loop) {
    uv_close((uv_handle_t *)&ag->sigterm, NULL);
    uv_close((uv_handle_t *)&ag->sigint, NULL);
  }
  if (ag->housekeeping.loop)
    uv_close((uv_handle_t *)&ag->housekeeping, NULL);
}

void nc_agent_free(nc_agent *ag) {
  if (!ag)
    return;
  nc_st_free(ag->st);
  nc_cache_close(ag->cache);
  if (ag->env)
    nc_gcli_env_free(ag->env);
  free(ag);
}
