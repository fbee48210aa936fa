/* The agent object: wiring of socket server, state, cache and upstream;
 * request dispatch over the handler modules' op tables; agent.hello; the
 * order in which modules hear of upstream state changes. */
#include "agent_admin.h"
#include "agent_config.h"
#include "agent_config_write.h"
#include "agent_int.h"
#include "auth_login.h"
#include "policy.h"
#include "agent_metrics.h"
#include "agent_naming.h"
#include "agent_reg.h"
#include "link.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"
#include "reply.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- agent.* ---- */
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
            NC_LOG_ESC(app->valuestring));
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

static const nc_ag_op agent_ops[] = {
    {"agent.hello", op_hello},
    {NULL, NULL},
};

/* Every op the agent serves, one table per handler module: agent.hello
 * (here), agent.status (agent_metrics.c), naming.register/deregister
 * (agent_reg.c), naming.subscribe/unsubscribe/instances (agent_naming.c),
 * config.get/listen/unlisten (agent_config.c), config.publish/remove
 * (agent_config_write.c), naming.services, config.list/history
 * (agent_admin.c). */
static const nc_ag_op *const op_tables[] = {
    agent_ops,       nc_ag_metrics_ops,       nc_ag_reg_ops,  nc_ag_naming_ops,
    nc_ag_config_ops, nc_ag_config_write_ops, nc_ag_admin_ops,
};

static nc_ag_op_fn find_op(const char *name) {
  for (size_t t = 0; t < sizeof(op_tables) / sizeof(op_tables[0]); t++)
    for (const nc_ag_op *o = op_tables[t]; o->name; o++)
      if (!strcmp(o->name, name))
        return o->fn;
  return NULL;
}

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
  /* One debug line per call (info would be a line per request). */
  nc_debug("ipc: client %llu: %s", (unsigned long long)nc_ipc_client_id(c),
           NC_LOG_ESC(op->valuestring));
  nc_ag_op_fn fn = find_op(op->valuestring);
  char mode = fn && ag->policy ? nc_ag_policy_op_mode(op->valuestring) : 0;
  if (mode) {
    const char *ns = nc_json_str(req, "namespace", "public");
    long uid = nc_ipc_client_uid(c);
    if (!nc_ag_policy_allows(ag->policy, uid, ns, mode)) {
      nc_ag_err(c, id, "FORBIDDEN", "uid %ld may not %s namespace '%.100s' (--uid-policy)", uid,
                mode == 'w' ? "write to" : "read", ns[0] ? ns : "public");
      goto out;
    }
  }
  if (fn) {
    fn(ag, c, id, req);
    goto out;
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
  nc_ag_link_connected(ag, gen, server, conn_id);
  /* Redo: the new connection holds nothing yet; replay everything. */
  nc_ag_naming_redo(ag);
  nc_ag_config_redo(ag);
}

static void up_disconnected(void *ud, uint64_t gen, const char *reason) {
  nc_agent *ag = ud;
  (void)reason;
  if (!nc_ag_link_disconnected(ag, gen))
    return;
  nc_ag_naming_disconnected(ag);
  nc_ag_config_disconnected(ag);
  nc_ag_link_announce_down(ag);
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
  if ((rc = nc_ag_policy_parse(cfg->uid_policy, &ag->policy, err, sizeof(err))) != 0) {
    nc_error("agent: %s", err);
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
  char password[512] = "", perr[256];
  if (cfg->username && *cfg->username) {
    if (!cfg->password_file ||
        (rc = nc_ag_read_secret_file(cfg->password_file, password, sizeof(password), perr,
                                     sizeof(perr))) != 0) {
      nc_error("agent: --username needs --password-file: %s",
               cfg->password_file ? perr : "not given");
      rc = rc ? rc : NC_EINVAL;
      goto fail;
    }
  }
  nc_up_opts uo = {servers,
                   n_servers,
                   (int)cfg->health_interval_ms,
                   (int)cfg->request_timeout_ms,
                   cfg->app_name,
                   cfg->client_ip,
                   cfg->username && *cfg->username ? cfg->username : NULL,
                   password,
                   NULL};
  nc_gcli_tls tls = {cfg->tls_ca, cfg->tls_cert, cfg->tls_key, cfg->tls_server_name};
  if (cfg->tls && !strcasecmp(cfg->tls, "on"))
    uo.tls = &tls;
  else if (cfg->tls_ca || cfg->tls_cert || cfg->tls_key || cfg->tls_server_name)
    nc_warn("agent: --tls is off: the --tls-* options are ignored");
  nc_up_cbs ucbs = {up_connected, up_disconnected, up_push, ag};
  rc = nc_up_new(loop, ag->env, &uo, &ucbs, &ag->up);
  explicit_bzero(password, sizeof(password)); /* nc_up keeps its own copy */
  if (rc != 0)
    goto fail;
  /* Signals before the socket exists: a SIGTERM sent as soon as it
   * accepts must stop the agent cleanly. */
  uv_signal_init(loop, &ag->sigterm);
  uv_signal_init(loop, &ag->sigint);
  ag->sigterm.data = ag->sigint.data = ag;
  uv_signal_start(&ag->sigterm, on_signal, SIGTERM);
  uv_signal_start(&ag->sigint, on_signal, SIGINT);
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
  nc_ag_policy_free(ag->policy);
  nc_st_free(ag->st);
  nc_cache_close(ag->cache);
  if (ag->env)
    nc_gcli_env_free(ag->env);
  free(ag);
}
