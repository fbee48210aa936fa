/* config.get / listen / unlisten, config change pushes and the config
 * re-listen after a reconnect (writes: agent_config_write.c). One upstream listener per key (nc_st_cfg); the last content
 * and MD5 are kept so that a reconnect can tell what changed while away.
 * What reaches the apps (stored content, config.changed, replies) is
 * agent_config_out.c. */
#include "agent_config.h"
#include "agent_config_out.h"
#include "link.h"
#include "reply.h"
#include "nc_md5.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

enum { Q_GET, Q_LISTEN, Q_REFRESH };

typedef struct cfg_ctx {
  nc_agent *ag;
  char *ns, *group, *data_id;
  int mode;
  nc_ag_waiter *waiters;
} cfg_ctx;

static cfg_ctx *ctx_new(nc_agent *ag, const char *ns, const char *group, const char *data_id,
                        int mode) {
  cfg_ctx *x = calloc(1, sizeof(*x));
  if (!x)
    return NULL;
  x->ag = ag;
  x->mode = mode;
  x->ns = strdup(ns);
  x->group = strdup(group);
  x->data_id = strdup(data_id);
  if (!x->ns || !x->group || !x->data_id) {
    free(x->ns);
    free(x->group);
    free(x->data_id);
    free(x);
    return NULL;
  }
  return x;
}

static void ctx_free(cfg_ctx *x) {
  while (x->waiters) {
    nc_ag_waiter *w = x->waiters;
    x->waiters = w->next;
    nc_ag_waiter_free(w);
  }
  free(x->ns);
  free(x->group);
  free(x->data_id);
  free(x);
}

static void send_listen(nc_agent *ag, nc_st_cfg **cfgs, size_t n, int listen);
static void refresh(nc_agent *ag, const char *ns, const char *group, const char *data_id);

/* ---- queries ---- */

static void query_done(void *ud, int status, nc_msg *resp);

static void send_query(nc_agent *ag, cfg_ctx *x) {
  cJSON *b = nc_ag_config_body(x->ns, x->group, x->data_id);
  if (!b) {
    query_done(x, NC_ENOMEM, NULL);
    return;
  }
  nc_ag_up(ag, "ConfigQueryRequest", b, query_done, x);
}

/* Answers waiters without the server: memory, then disk (stale). */
static int answer_cached(nc_agent *ag, cfg_ctx *x, nc_ag_waiter *w, int listen) {
  nc_st_cfg *cfg = nc_st_cfg_get(ag->st, x->ns, x->group, x->data_id);
  if (cfg && cfg->known) {
    nc_ag_cfgout_reply(w->c, w->id, cfg->exists ? cfg->content : NULL, cfg->md5, 1, listen);
    return 0;
  }
  char *content = NULL, md5[33];
  if (nc_cache_get_config(ag->cache, x->ns, x->group, x->data_id, &content, md5) != 0)
    return -1;
  if (cfg && listen) {
    nc_st_cfg_set(cfg, content);
  }
  nc_ag_cfgout_reply(w->c, w->id, content, md5, 1, listen);
  free(content);
  return 0;
}

static void query_done(void *ud, int status, nc_msg *resp) {
  cfg_ctx *x = ud;
  nc_agent *ag = x->ag;
  const char *content = NULL;
  int r = nc_ag_config_found(status, resp, &content);
  nc_st_cfg *cfg = nc_st_cfg_get(ag->st, x->ns, x->group, x->data_id);
  int mine = cfg && cfg->pending == x;
  if (mine)
    cfg->pending = NULL;
  int again = 0;
  if (cfg && (x->mode == Q_REFRESH || x->mode == Q_LISTEN)) {
    again = cfg->refresh_again && status == 0;
    if (x->mode == Q_REFRESH)
      cfg->refreshing = 0;
    cfg->refresh_again = 0;
  }
  if (r >= 0) {
    int changed = nc_ag_cfgout_store(ag, x->ns, x->group, x->data_id, r ? content : NULL,
                                     x->mode == Q_GET);
    char md5[33] = "";
    if (r)
      nc_md5_hex(content, strlen(content), md5);
    for (nc_ag_waiter *w = x->waiters; w; w = w->next) {
      if (x->mode == Q_GET && !r)
        nc_ag_err(w->c, w->id, "NOT_FOUND", "config %s/%s not found", x->group, x->data_id);
      else
        nc_ag_cfgout_reply(w->c, w->id, r ? content : NULL, md5, 0, x->mode == Q_LISTEN);
    }
    /* A listen answer (mode Q_LISTEN) for a key not known before is news
     * only to listeners recorded without an upstream (told it is absent);
     * the waiters have it in their reply. */
    if (cfg && changed) {
      nc_info("config: %s/%s changed (md5 %s)", NC_LOG_ESC(x->group), NC_LOG_ESC(x->data_id),
              cfg->exists ? cfg->md5 : "-");
      nc_ag_cfgout_changed(cfg, x->waiters);
    }
    /* Tell the server which version we now hold (as the Java client does
     * after fetching a change). */
    if (cfg && (x->mode == Q_LISTEN || x->mode == Q_REFRESH) && ag->connected)
      send_listen(ag, &cfg, 1, 1);
    goto out;
  }
  if (status == 0)
    nc_warn("config: query %s/%s refused: %s", NC_LOG_ESC(x->group), NC_LOG_ESC(x->data_id),
            NC_LOG_ESC(nc_json_str(resp && !resp->body_error ? resp->body : NULL, "message", "?")));
  /* A transport failure (timeout, no connection, queue full) keeps the
   * listeners: the tick or the redo listens upstream again. A refusal by the
   * server, or the agent stopping, ends them. */
  int keep = x->mode == Q_LISTEN && status != 0 && status != NC_ECLOSED;
  if (keep && mine)
    cfg->up_state = NC_ST_UP_NONE;
  for (nc_ag_waiter *w = x->waiters; w; w = w->next) {
    if (status != 0 && answer_cached(ag, x, w, x->mode == Q_LISTEN) == 0)
      continue;
    if (keep && cfg) {
      nc_ag_cfgout_reply(w->c, w->id, NULL, "", 1, 1); /* exists: false, stale */
      continue;
    }
    if (status == 0)
      nc_ag_err_upstream(w->c, w->id, status, resp);
    else
      nc_ag_err(w->c, w->id, status == NC_ETIMEOUT ? "TIMEOUT" : "UNAVAILABLE",
                "no upstream answer and nothing cached");
    int last = 0;
    if (x->mode == Q_LISTEN && cfg && nc_st_unlisten(ag->st, cfg, w->c, &last) == 0 && last) {
      nc_st_cfg_remove(ag->st, cfg);
      cfg = NULL;
    }
  }
out:
  if (again && ag->connected)
    refresh(ag, x->ns, x->group, x->data_id);
  nc_msg_free(resp);
  ctx_free(x);
}

static void nc_ag_config_get(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ckey k;
  if (nc_ag_read_ckey(c, id, req, &k))
    return;
  cfg_ctx *x = ctx_new(ag, k.ns, k.group, k.data_id, Q_GET);
  if (!x || !(x->waiters = nc_ag_waiter_new(c, id))) {
    if (x)
      ctx_free(x);
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  if (!ag->connected) {
    if (answer_cached(ag, x, x->waiters, 0) != 0)
      nc_ag_err(c, id, "UNAVAILABLE", "no upstream connection and nothing cached");
    ctx_free(x);
    return;
  }
  send_query(ag, x);
}

/* ---- listeners ---- */

typedef struct listen_ctx {
  nc_agent *ag;
  int listen;
  cJSON *keys; /* copy of configListenContexts (listen only) */
} listen_ctx;

/* A listen that did not get through: the periodic tick retries it. */
static void mark_unlistened(nc_agent *ag, const cJSON *ctxs) {
  const cJSON *e;
  cJSON_ArrayForEach(e, ctxs) {
    nc_st_cfg *cfg = nc_st_cfg_get(ag->st, nc_json_str(e, "tenant", ""),
                                   nc_json_str(e, "group", ""), nc_json_str(e, "dataId", ""));
    if (cfg && !cfg->pending)
      cfg->up_state = NC_ST_UP_NONE;
  }
}

/* Fetches a listened key after a change notice. One refresh per key at a
 * time (queries may overtake each other): a notice arriving meanwhile
 * just asks for one more round once the current one is answered. */
static void refresh(nc_agent *ag, const char *ns, const char *group, const char *data_id) {
  nc_st_cfg *cfg = nc_st_cfg_get(ag->st, ns, group, data_id);
  if (cfg && (cfg->refreshing || cfg->pending)) {
    cfg->refresh_again = 1;
    return;
  }
  cfg_ctx *x = ctx_new(ag, ns, group, data_id, Q_REFRESH);
  if (!x)
    return;
  if (cfg)
    cfg->refreshing = 1;
  send_query(ag, x);
}

static void listen_done(void *ud, int status, nc_msg *resp) {
  listen_ctx *x = ud;
  nc_agent *ag = x->ag;
  if (status == 0 && nc_ag_resp_ok(resp) && x->listen) {
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(resp->body, "changedConfigs");
    const cJSON *e;
    cJSON_ArrayForEach(e, ch) {
      const char *ns = nc_json_str(e, "tenant", "");
      if (!strcmp(ns, "public"))
        ns = "";
      const char *group = nc_json_str(e, "group", "");
      const char *data_id = nc_json_str(e, "dataId", "");
      nc_st_cfg *cfg = nc_st_cfg_get(ag->st, ns, group, data_id);
      if (cfg && !cfg->pending)
        refresh(ag, ns, group, data_id);
    }
  } else if (x->listen) {
    if (status == 0)
      nc_warn("config: batch listen refused: %s",
              NC_LOG_ESC(nc_json_str(resp->body_error ? NULL : resp->body, "message", "?")));
    if (status != NC_ECLOSED)
      mark_unlistened(ag, x->keys);
  }
  nc_msg_free(resp);
  cJSON_Delete(x->keys);
  free(x);
}

static void send_listen_chunk(nc_agent *ag, nc_st_cfg **cfgs, size_t n, int listen) {
  listen_ctx *x = calloc(1, sizeof(*x));
  cJSON *b = cJSON_CreateObject();
  cJSON *arr = b ? cJSON_AddArrayToObject(b, "configListenContexts") : NULL;
  if (!x || !arr || !cJSON_AddObjectToObject(b, "headers") ||
      !cJSON_AddBoolToObject(b, "listen", listen) ||
      !cJSON_AddStringToObject(b, "module", "config"))
    goto fail;
  for (size_t i = 0; i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    if (!o)
      goto fail;
    cJSON_AddItemToArray(arr, o);
    if (!cJSON_AddStringToObject(o, "group", cfgs[i]->group) ||
        !cJSON_AddStringToObject(o, "md5", cfgs[i]->known ? cfgs[i]->md5 : "") ||
        !cJSON_AddStringToObject(o, "dataId", cfgs[i]->data_id) ||
        !cJSON_AddStringToObject(o, "tenant", cfgs[i]->ns))
      goto fail;
    if (listen) {
      cfgs[i]->up_state = NC_ST_UP_DONE;
      cfgs[i]->fresh = 1;
    }
  }
  x->ag = ag;
  x->listen = listen;
  if (listen && !(x->keys = cJSON_Duplicate(arr, 1)))
    goto fail;
  nc_ag_up(ag, "ConfigBatchListenRequest", b, listen_done, x);
  return;
fail:
  cJSON_Delete(b);
  free(x);
}

/* nacosd refuses a listen request of more than --config-max-listen-keys
 * (5,000 by default) keys; the SDKs send at most 3,000, so do we. */
#define LISTEN_CHUNK 3000
static void send_listen(nc_agent *ag, nc_st_cfg **cfgs, size_t n, int listen) {
  for (size_t i = 0; i < n; i += LISTEN_CHUNK)
    send_listen_chunk(ag, cfgs + i, n - i < LISTEN_CHUNK ? n - i : LISTEN_CHUNK, listen);
}

static void nc_ag_config_listen(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ckey k;
  nc_st_cfg *cfg = NULL;
  int first = 0;
  if (nc_ag_read_ckey(c, id, req, &k))
    return;
  if (nc_st_listen(ag->st, k.ns, k.group, k.data_id, c, &cfg, &first) != 0) {
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  if (cfg->known && !cfg->pending && (ag->connected ? cfg->fresh : 0)) {
    nc_ag_cfgout_reply(c, id, cfg->exists ? cfg->content : NULL, cfg->md5, 0, 1);
    return;
  }
  nc_ag_waiter *w = nc_ag_waiter_new(c, id);
  if (!w) {
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  if (cfg->pending) {
    cfg_ctx *x = cfg->pending;
    w->next = x->waiters;
    x->waiters = w;
    return;
  }
  cfg_ctx *x = ctx_new(ag, k.ns, k.group, k.data_id, Q_LISTEN);
  if (!x) {
    nc_ag_waiter_free(w);
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  x->waiters = w;
  if (!ag->connected) {
    /* Recorded for the re-listen on connect; answered from the cache. */
    query_done(x, NC_EUNAVAIL, NULL);
    return;
  }
  cfg->pending = x;
  cfg->up_state = NC_ST_UP_SENT;
  send_query(ag, x);
}

void nc_ag_config_cfg_unused(nc_agent *ag, nc_st_cfg *cfg) {
  if (ag->connected && cfg->up_state != NC_ST_UP_NONE)
    send_listen(ag, &cfg, 1, 0);
  if (cfg->pending) {
    /* The query in flight finds no entry and just answers its waiters. */
    cfg->pending = NULL;
  }
  nc_st_cfg_remove(ag->st, cfg);
}

static void nc_ag_config_unlisten(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ckey k;
  int last = 0;
  if (nc_ag_read_ckey(c, id, req, &k))
    return;
  nc_st_cfg *cfg = nc_st_cfg_get(ag->st, k.ns, k.group, k.data_id);
  if (!cfg || nc_st_unlisten(ag->st, cfg, c, &last) != 0) {
    nc_ag_err(c, id, "NOT_FOUND", "not listening to %s/%s", k.group, k.data_id);
    return;
  }
  nc_ag_ok(c, id, NULL);
  if (last)
    nc_ag_config_cfg_unused(ag, cfg);
}

/* ---- pushes, redo ---- */

void nc_ag_config_push(nc_agent *ag, const cJSON *body) {
  const char *ns = nc_json_str(body, "tenant", "");
  if (!strcmp(ns, "public"))
    ns = "";
  const char *group = nc_json_str(body, "group", "");
  const char *data_id = nc_json_str(body, "dataId", "");
  if (nc_st_cfg_get(ag->st, ns, group, data_id))
    refresh(ag, ns, group, data_id);
}

/* Every listened key into a new array (*n of them; NULL when there are
 * none or no memory), for a pass that may start new queries. */
static nc_st_cfg **all_cfgs(nc_agent *ag, size_t *n) {
  size_t cap = nc_strmap_count(nc_st_cfgs(ag->st)), i = 0;
  nc_st_cfg **v = cap ? calloc(cap, sizeof(*v)) : NULL;
  nc_strmap_iter it;
  void *p;
  *n = 0;
  if (!v)
    return NULL;
  nc_strmap_iter_init(&it, nc_st_cfgs(ag->st));
  while (i < cap && nc_strmap_iter_next(&it, NULL, &p))
    v[i++] = p;
  *n = i;
  return v;
}

void nc_ag_config_redo(nc_agent *ag) {
  size_t n, k = 0;
  nc_st_cfg **v = all_cfgs(ag, &n);
  for (size_t i = 0; i < n; i++) {
    nc_st_cfg *cfg = v[i];
    if (cfg->pending) {
      /* A listen query of the old connection: redo it on this one. */
      cfg_ctx *old = cfg->pending;
      cfg_ctx *x = ctx_new(ag, cfg->ns, cfg->group, cfg->data_id, Q_LISTEN);
      if (x) {
        x->waiters = old->waiters;
        old->waiters = NULL;
        cfg->pending = x;
        send_query(ag, x);
      }
      continue;
    }
    v[k++] = cfg;
  }
  /* ConfigBatchListenRequest answers the keys whose MD5 differs: those
   * changed while we were away and get fetched and announced. */
  if (k)
    send_listen(ag, v, k, 1);
  if (n)
    nc_info("config: re-listen %zu keys", k);
  free(v);
}

void nc_ag_config_disconnected(nc_agent *ag) {
  nc_strmap_iter it;
  void *p;
  nc_strmap_iter_init(&it, nc_st_cfgs(ag->st));
  while (nc_strmap_iter_next(&it, NULL, &p)) {
    nc_st_cfg *cfg = p;
    cfg->fresh = 0;
    cfg->up_state = NC_ST_UP_NONE;
  }
}

/* Periodic duties: keys whose listen never got through are listened again;
 * every 3 minutes all keys are (as the Java client does), which also heals
 * a server that lost its listen table without dropping the connection. */
void nc_ag_config_tick(nc_agent *ag, int all) {
  if (!ag->connected)
    return;
  size_t n, k = 0;
  nc_st_cfg **v = all_cfgs(ag, &n);
  for (size_t i = 0; i < n; i++)
    /* Unknown keys too (recorded without an upstream, or their listen
     * query failed): listened with an empty MD5, the server answers them
     * as changed when they exist. */
    if (!v[i]->pending && (all || v[i]->up_state == NC_ST_UP_NONE))
      v[k++] = v[i];
  if (k)
    send_listen(ag, v, k, 1);
  free(v);
}

const nc_ag_op nc_ag_config_ops[] = {
    {"config.get", nc_ag_config_get},
    {"config.listen", nc_ag_config_listen},
    {"config.unlisten", nc_ag_config_unlisten},
    {NULL, NULL},
};
