/* config_service: the gRPC adapters of the four SDK config requests and
 * the service's wiring (init, stop, free, stats).
 *
 * Query, publish and remove read the request body, call the transport-
 * neutral operation (config_ops.h) and answer from its result; the answers'
 * codes and messages are the ones the SDKs have always seen. Listen stays
 * here: its registrations belong to gRPC connections (config_listen.c), and
 * that registry hears of committed changes as the first of the service's
 * change listeners. */
#include "config_service.h"

#include "config_fuzzy.h"
#include "config_int.h"

#include "config_listen.h"
#include "config_store.h"
#include "config_util.h"
#include "nc_strmap.h"
#include "config_writer.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writes ---- */

static const char *source_ip(nc_req *r, const nc_msg *m) {
  if (m->client_ip && *m->client_ip)
    return m->client_ip;
  nc_conn *c = nc_req_conn(r);
  return c ? nc_conn_remote_ip(c) : "";
}

static void reply_write(nc_req *r, const char *rt, const nc_config_result *res, int db_code) {
  if (res->code == 0)
    nc_req_reply(r, rt, NULL);
  else
    nc_req_fail(r, rt, res->code == NC_EINVAL ? 400 : res->code == NC_EDB ? db_code : 500,
                res->message);
}

static void publish_done(void *ud, const nc_config_result *res) {
  reply_write(ud, "ConfigPublishResponse", res, 500);
}

/* Nacos answers a failed remove with errorCode 0 (§5.13). */
static void remove_done(void *ud, const nc_config_result *res) {
  reply_write(ud, "ConfigRemoveResponse", res, 0);
}

static void h_publish(void *ud, nc_req *r, const nc_msg *m) {
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(m->body, "content");
  const cJSON *am = cJSON_GetObjectItemCaseSensitive(m->body, "additionMap");
  const char *app = nc_json_str(am, "appName", NULL);
  if (nc_cfg_blank(app))
    app = nc_msg_header(m, "Client-AppName");
  if (nc_cfg_blank(app) && nc_req_conn(r))
    app = nc_conn_app(nc_req_conn(r));
  const char *type = nc_json_str(am, "type", NULL);
  nc_config_publish p = {
      .key = {.data_id = nc_json_str(m->body, "dataId", ""),
              .group = nc_json_str(m->body, "group", ""),
              .tenant = nc_json_str(m->body, "tenant", "")},
      .content = cJSON_IsString(content) ? content->valuestring : NULL,
      .cas_md5 = nc_json_str(m->body, "casMd5", NULL),
      .type = type ? type : nc_json_str(m->body, "type", NULL),
      .app_name = app,
      .src_user = nc_json_str(am, "src_user", NULL),
      .src_ip = source_ip(r, m),
      .encrypted_data_key = nc_json_str(am, "encryptedDataKey", NULL),
      .tag = nc_json_str(am, "tag", NULL),
      .beta_ips = nc_json_str(am, "betaIps", NULL),
      .origin = nc_req_conn_id(r),
  };
  nc_config_publish_op(ud, &p, publish_done, r);
}

static void h_remove(void *ud, nc_req *r, const nc_msg *m) {
  nc_config_remove rm = {
      .key = {.data_id = nc_json_str(m->body, "dataId", ""),
              .group = nc_json_str(m->body, "group", ""),
              .tenant = nc_json_str(m->body, "tenant", "")},
      .app_name = nc_req_conn(r) ? nc_conn_app(nc_req_conn(r)) : NULL,
      .src_ip = source_ip(r, m),
      .origin = nc_req_conn_id(r),
  };
  nc_config_remove_op(ud, &rm, remove_done, r);
}

/* ---- reads ---- */

static void h_query(void *ud, nc_req *r, const nc_msg *m) {
  const char *rt = "ConfigQueryResponse";
  char err[NC_CONFIG_ERR_CAP];
  nc_config_key k = {.data_id = nc_json_str(m->body, "dataId", ""),
                     .group = nc_json_str(m->body, "group", ""),
                     .tenant = nc_json_str(m->body, "tenant", "")};
  const nc_cfg_item *it;
  int rc = nc_config_get(ud, &k, &it, err, sizeof(err));
  if (rc) {
    nc_req_fail(r, rt, rc == NC_EINVAL ? 400 : rc == NC_ENOTFOUND ? 300 : 500, err);
    return;
  }
  /* No `tag` key: Go decodes it as a bool (§9.7). `beta` is Java's isBeta. */
  cJSON *b = nc_resp_ok();
  if (!b || nc_json_add_str(b, "content", it->content) || nc_json_add_str(b, "md5", it->md5) ||
      !cJSON_AddNumberToObject(b, "lastModified", (double)it->modified_ms) ||
      nc_json_add_str(b, "contentType", *it->type ? it->type : "text") ||
      !cJSON_AddBoolToObject(b, "beta", 0) ||
      (*it->encrypted_data_key && nc_json_add_str(b, "encryptedDataKey", it->encrypted_data_key))) {
    cJSON_Delete(b);
    nc_req_fail(r, rt, 500, "out of memory");
    return;
  }
  nc_req_reply(r, rt, b);
}

/* ---- listen ---- */

static void h_listen(void *ud, nc_req *r, const nc_msg *m) {
  nc_config_service *cs = ud;
  const char *rt = "ConfigChangeBatchListenResponse";
  char buf[200];
  cs->stats.listen_requests++;
  int listen = nc_json_bool(m->body, "listen", 1);
  const cJSON *ctxs = cJSON_GetObjectItemCaseSensitive(m->body, "configListenContexts");
  if (ctxs && !cJSON_IsArray(ctxs) && !cJSON_IsNull(ctxs)) {
    nc_req_fail(r, rt, 400, "configListenContexts must be an array");
    return;
  }
  /* One request may not hold the whole table: each key costs a listen
   * entry and, when stale, an entry in the answer. The Java and Go SDKs send
   * at most 3,000 per request. */
  int nctx = cJSON_IsArray(ctxs) ? cJSON_GetArraySize(ctxs) : 0;
  if (cs->opts.max_listen_keys > 0 && nctx > cs->opts.max_listen_keys) {
    cs->stats.listen_refused_keys++;
    snprintf(buf, sizeof(buf), "too many keys in one listen request: %d (limit %d)", nctx,
             cs->opts.max_listen_keys);
    nc_req_fail(r, rt, 400, buf);
    return;
  }
  /* Validate everything first so a bad entry changes nothing; count the
   * keys the connection does not listen to yet. */
  const cJSON *c;
  nc_cfg_key k;
  size_t fresh = 0;
  int count_fresh = listen && cs->opts.max_listeners_per_conn > 0 && nc_req_conn(r);
  cJSON_ArrayForEach(c, ctxs) {
    const char *err = cJSON_IsObject(c) ? nc_cfg_check_key(c, &k, buf, sizeof(buf)) : "bad listen context";
    if (err) {
      nc_req_fail(r, rt, 400, err);
      return;
    }
    if (count_fresh) {
      char *gk = nc_cfg_group_key(k.data_id, k.group, k.tenant);
      if (!gk) {
        nc_req_fail(r, rt, 500, "out of memory");
        return;
      }
      fresh += !nc_cfg_listen_has(cs->listen, nc_req_conn_id(r), gk);
      free(gk);
    }
  }
  if (count_fresh &&
      nc_cfg_listen_conn_count(cs->listen, nc_req_conn_id(r)) + fresh >
          (size_t)cs->opts.max_listeners_per_conn) {
    cs->stats.listen_refused_conn++;
    snprintf(buf, sizeof(buf), "too many config listeners on this connection (limit %d)",
             cs->opts.max_listeners_per_conn);
    nc_req_fail(r, rt, 400, buf);
    return;
  }
  /* Registrations must belong to a live connection: its DOWN event is what
   * cleans them up, and that has already run for a dead one. */
  if (listen && !nc_req_conn(r)) {
    nc_req_fail(r, rt, 301, "Connection is unregistered.");
    return;
  }
  const char *conn_id = nc_req_conn_id(r);
  cJSON *b = nc_resp_ok();
  cJSON *changed = b ? cJSON_AddArrayToObject(b, "changedConfigs") : NULL;
  if (!changed)
    goto oom;
  /* Matching uses the normalised tenant (2.x Nacos keys BatchListen by the
   * raw one, so a "public" listener there never hears of "" changes); the
   * raw string is what goes back to the client, in changedConfigs and in
   * every later ConfigChangeNotifyRequest. */
  cJSON_ArrayForEach(c, ctxs) {
    nc_cfg_check_key(c, &k, buf, sizeof(buf));
    char *gk = nc_cfg_group_key(k.data_id, k.group, k.tenant);
    if (!gk)
      goto oom;
    if (!listen) {
      nc_cfg_listen_remove(cs->listen, conn_id, gk);
      free(gk);
      continue;
    }
    const char *client_md5 = nc_json_str(c, "md5", "");
    const nc_cfg_item *it = nc_strmap_get(cs->cache, gk);
    int rc = nc_cfg_listen_add(cs->listen, conn_id, gk, k.data_id, k.group, k.raw_tenant,
                               client_md5);
    free(gk);
    if (rc)
      goto oom;
    if (strcmp(client_md5, it ? it->md5 : "") != 0) {
      /* Echo the client's own strings: it looks the entry up by them. */
      cJSON *e = cJSON_CreateObject();
      if (!e || nc_json_add_str(e, "group", k.group) || nc_json_add_str(e, "dataId", k.data_id) ||
          nc_json_add_str(e, "tenant", k.raw_tenant)) {
        cJSON_Delete(e);
        goto oom;
      }
      cJSON_AddItemToArray(changed, e);
    }
  }
  nc_req_reply(r, rt, b);
  return;
oom:
  cJSON_Delete(b);
  nc_req_fail(r, rt, 500, "out of memory");
}

/* ---- wiring ---- */

/* The gRPC listen registry as a change listener. */
static void listen_changed(void *ud, const char *data_id, const char *group, const char *tenant,
                           const char *md5) {
  (void)md5;
  nc_config_service *cs = ud;
  char *gk = nc_cfg_group_key(data_id, group, tenant);
  if (!gk) {
    nc_error("config: out of memory notifying listeners of %s", NC_LOG_ESC(data_id));
    return;
  }
  nc_cfg_listen_changed(cs->listen, gk);
  free(gk);
}

static void on_conn(void *ud, nc_conn *c, nc_conn_event ev) {
  nc_config_service *cs = ud;
  if (ev == NC_CONN_DOWN)
    nc_cfg_listen_drop_conn(cs->listen, nc_conn_id(c));
}

static int push_via_srv(void *ud, const char *conn_id, const char *type, const char *json,
                        size_t len, int timeout_ms, nc_push_cb cb, void *cb_ud) {
  return nc_srv_push_raw(ud, conn_id, type, json, len, timeout_ms, cb, cb_ud);
}

static void drop_via_srv(void *ud, const char *conn_id, const char *why) {
  nc_srv_drop_conn(ud, conn_id, why);
}

static void load_item(void *ud, const nc_cfg_item *src) {
  nc_config_service *cs = ud;
  char *gk = nc_cfg_group_key(src->data_id, src->group, src->tenant);
  nc_cfg_item *it = calloc(1, sizeof(*it));
  if (!gk || !it)
    goto fail;
  *it = *src;
  it->data_id = strdup(src->data_id);
  it->group = strdup(src->group);
  it->tenant = strdup(src->tenant);
  it->content = malloc(src->content_len + 1);
  it->type = strdup(src->type);
  it->app_name = strdup(src->app_name);
  it->src_user = strdup(src->src_user);
  it->src_ip = strdup(src->src_ip);
  it->encrypted_data_key = strdup(src->encrypted_data_key);
  if (!it->data_id || !it->group || !it->tenant || !it->content || !it->type || !it->app_name ||
      !it->src_user || !it->src_ip || !it->encrypted_data_key)
    goto fail;
  memcpy(it->content, src->content, src->content_len + 1);
  if (nc_config_cache_put(cs, gk, it, NULL) != 0)
    goto fail;
  free(gk);
  return;
fail:
  nc_error("config: out of memory loading %s", src->data_id);
  free(gk);
  nc_cfg_item_free(it);
}

static void cache_item_free(void *val) { nc_cfg_item_free(val); }

#define W (NC_H_CONN | NC_H_CONFIG | NC_H_WRITE)
#define R (NC_H_CONN | NC_H_CONFIG)
static const nc_handler_def config_handlers[] = {
    {"ConfigQueryRequest", "ConfigQueryResponse", h_query, R},
    {"ConfigPublishRequest", "ConfigPublishResponse", h_publish, W},
    {"ConfigRemoveRequest", "ConfigRemoveResponse", h_remove, W},
    {"ConfigBatchListenRequest", "ConfigChangeBatchListenResponse", h_listen, R},
};
#undef W
#undef R

int nc_config_init(nc_srv *srv, const nc_config_opts *opts, nc_config_service **out) {
  int rc = NC_ENOMEM;
  nc_config_service *cs = NULL;
  if (!srv || !opts || !opts->data_dir || !*opts->data_dir)
    return NC_EINVAL;
  if (!(cs = calloc(1, sizeof(*cs))))
    return NC_ENOMEM;
  cs->srv = srv;
  cs->opts = *opts;
  if (cs->opts.max_content_bytes <= 0)
    cs->opts.max_content_bytes = NC_CONFIG_DEFAULT_MAX_CONTENT;
  if (cs->opts.history_keep <= 0)
    cs->opts.history_keep = 30;
  if (!(cs->data_dir = strdup(opts->data_dir)) || !(cs->cache = nc_strmap_new()) ||
      !(cs->ns_counts = nc_strmap_new()) || !(cs->ns_use = nc_strmap_new()))
    goto fail;
  cs->opts.data_dir = cs->data_dir;
  cs->store_name = opts->store && *opts->store ? opts->store : "sqlite";
  if (!(cs->db_url = strdup(opts->db_url ? opts->db_url : "")))
    goto fail;
  cs->opts.db_url = cs->db_url;
  cs->opts.store = NULL; /* store_name holds it; opts' strings are the caller's */
  nc_cfg_store_opts so = {.data_dir = cs->data_dir,
                          .db_url = cs->db_url,
                          .history_keep = cs->opts.history_keep,
                          .timeout_ms = opts->db_timeout_ms};
  if ((rc = nc_cfg_store_open(cs->store_name, &so, &cs->store)) != 0)
    goto fail;
  cs->store_name = nc_cfg_store_vtable(cs->store)->name; /* static */
  if ((rc = nc_cfg_store_scan(cs->store, load_item, cs)) != 0)
    goto fail;
  nc_cfg_push_ops ops = {.push = push_via_srv, .drop_conn = drop_via_srv, .ud = srv};
  nc_cfg_listen_opts lo = {.timeout_ms = opts->notify_timeout_ms,
                           .max_retries = opts->notify_max_retries,
                           .retry_base_ms = opts->notify_retry_base_ms};
  if ((rc = nc_cfg_listen_new(nc_srv_loop(srv), &ops, &lo, &cs->listen)) != 0)
    goto fail;
  /* The writer owns the store from here on. */
  if ((rc = nc_cfg_writer_new(nc_srv_loop(srv), cs->store, opts->batch_max, nc_config_write_done,
                              cs, &cs->writer)) != 0)
    goto fail;
  if ((rc = nc_config_add_listener(cs, listen_changed, cs)) != 0)
    goto fail;
  if (nc_cfg_store_vtable(cs->store)->wait_changes &&
      (rc = nc_cfg_feed_start(cs, cs->store_name, &so, opts->poll_ms, &cs->feed)) != 0)
    goto fail;
  if ((rc = NC_SRV_HANDLERS(srv, config_handlers, cs)) || (rc = nc_config_admin_register(cs)) ||
      (rc = nc_srv_add_conn_listener(srv, on_conn, cs)) || (rc = nc_cfz_new(cs, &cs->fz)))
    goto fail;
  if (cs->feed)
    nc_info("config: %zu configs loaded from PostgreSQL (content cap %ld bytes, history %ld, "
            "change poll every %d ms)",
            nc_strmap_count(cs->cache), cs->opts.max_content_bytes, cs->opts.history_keep,
            opts->poll_ms > 0 ? opts->poll_ms : 30000);
  else
    nc_info("config: %zu configs loaded from %s/config.db (content cap %ld bytes, history %ld)",
            nc_strmap_count(cs->cache), cs->data_dir, cs->opts.max_content_bytes,
            cs->opts.history_keep);
  *out = cs;
  return 0;
fail:
  nc_error("config: init failed: %s", nc_strerror(rc));
  nc_config_free(cs);
  return rc;
}

void nc_config_stop(nc_config_service *cs) {
  if (!cs)
    return;
  nc_cfg_feed_stop(cs->feed); /* no more reloads queued behind the last writes */
  cs->feed = NULL;
  nc_cfg_writer_stop(cs->writer);
}

void nc_config_free(nc_config_service *cs) {
  if (!cs)
    return;
  if (cs->writer) {
    nc_cfg_writer_stats ws;
    nc_cfg_writer_stop(cs->writer); /* commits and answers what is queued */
    nc_cfg_writer_get_stats(cs->writer, &ws);
    nc_info("config: %llu writes: %llu transactions committed, %llu failed (largest batch %llu)",
            (unsigned long long)ws.jobs, (unsigned long long)ws.commits,
            (unsigned long long)ws.commit_failures, (unsigned long long)ws.max_batch);
  }
  nc_cfg_feed_stop(cs->feed);
  nc_cfz_free(cs->fz);
  nc_cfg_writer_free(cs->writer);
  nc_cfg_listen_free(cs->listen);
  nc_cfg_store_close(cs->store);
  nc_strmap_free(cs->cache, cache_item_free);
  nc_strmap_free(cs->ns_counts, NULL);
  nc_strmap_free(cs->ns_use, free);
  free(cs->listeners);
  free(cs->data_dir);
  free(cs->db_url);
  free(cs);
}

int nc_config_store_up(nc_config_service *cs) {
  const nc_cfg_store_vt *vt = nc_cfg_store_vtable(cs->store);
  return vt->is_up ? vt->is_up(nc_cfg_store_impl(cs->store)) : 1;
}

const char *nc_config_store_name(nc_config_service *cs) { return cs->store_name; }

void nc_config_render_store_metrics(nc_config_service *cs, nc_metrics_text *t) {
  nc_cfg_feed_stats fs = {0};
  if (cs->feed)
    nc_cfg_feed_get_stats(cs->feed, &fs);
#define C(name, help, v) nc_metrics_add(t, "nacosd_", name, help, (uint64_t)(v))
  C("config_store_up", "1 while the config store takes writes (PostgreSQL: connected).",
    nc_config_store_up(cs));
  if (cs->feed) {
    C("config_feed_up", "1 while the change feed's PostgreSQL connection (LISTEN) is up.", fs.up);
    C("config_feed_notifications_total", "Config changes heard through PostgreSQL NOTIFY.",
      fs.notifications);
    C("config_feed_own_notifications_total",
      "Of those, this node's own writes (handled by its commit path, not re-read).",
      fs.own_skipped);
    C("config_feed_polls_total", "Polls of PostgreSQL for config changes.", fs.polls);
    C("config_feed_poll_failures_total", "Polls of PostgreSQL for config changes that failed.",
      fs.poll_failures);
    C("config_feed_reloads_total", "Configs re-read because the store differed from the cache.",
      fs.reloads);
  }
#undef C
}

static void ns_adj(nc_config_service *cs, const char *tenant, int d) {
  size_t n = (size_t)(uintptr_t)nc_strmap_get(cs->ns_counts, tenant);
  n = d < 0 ? (n ? n - 1 : 0) : n + 1;
  if (!n)
    nc_strmap_del(cs->ns_counts, tenant);
  else /* failing to grow only loses count (the bound gets looser) */
    nc_strmap_put(cs->ns_counts, tenant, (void *)(uintptr_t)n, NULL);
}

nc_config_ns_use *nc_config_ns_use_of(nc_config_service *cs, const char *tenant, int create) {
  nc_config_ns_use *u = nc_strmap_get(cs->ns_use, tenant ? tenant : "");
  if (u || !create)
    return u;
  if (!(u = calloc(1, sizeof(*u))) || nc_strmap_put(cs->ns_use, tenant ? tenant : "", u, NULL)) {
    free(u);
    return NULL;
  }
  return u;
}

/* Committed bytes of tenant moved by add - sub (failing to grow only
 * loses count: the bound gets looser). */
static void ns_bytes_adj(nc_config_service *cs, const char *tenant, size_t add, size_t sub) {
  nc_config_ns_use *u = nc_config_ns_use_of(cs, tenant, 1);
  if (!u)
    return;
  u->bytes += add;
  u->bytes = u->bytes > sub ? u->bytes - sub : 0;
  if (!u->bytes && !u->reserved)
    free(nc_strmap_del(cs->ns_use, tenant));
}

int nc_config_cache_put(nc_config_service *cs, const char *gk, nc_cfg_item *it, void **old) {
  void *prev = NULL;
  int rc = nc_strmap_put(cs->cache, gk, it, &prev);
  if (old)
    *old = prev;
  if (!rc) {
    const char *t = it->tenant ? it->tenant : "";
    if (!prev)
      ns_adj(cs, t, 1);
    ns_bytes_adj(cs, t, it->content_len, prev ? ((nc_cfg_item *)prev)->content_len : 0);
  }
  return rc;
}

nc_cfg_item *nc_config_cache_del(nc_config_service *cs, const char *gk) {
  nc_cfg_item *it = nc_strmap_del(cs->cache, gk);
  if (it) {
    ns_adj(cs, it->tenant ? it->tenant : "", -1);
    ns_bytes_adj(cs, it->tenant ? it->tenant : "", 0, it->content_len);
  }
  return it;
}

size_t nc_config_ns_count(nc_config_service *cs, const char *tenant) {
  return (size_t)(uintptr_t)nc_strmap_get(cs->ns_counts, tenant ? tenant : "");
}

const nc_config_stats *nc_config_get_stats(nc_config_service *cs) {
  nc_cfg_writer_stats ws = {0};
  if (cs->writer)
    nc_cfg_writer_get_stats(cs->writer, &ws);
  const nc_cfg_listen_stats *ls = nc_cfg_listen_get_stats(cs->listen);
  cs->stats.configs = nc_strmap_count(cs->cache);
  cs->stats.listeners = nc_cfg_listen_count(cs->listen);
  cs->stats.commits = ws.commits;
  cs->stats.commit_failures = ws.commit_failures;
  cs->stats.notifies_sent = ls->sent;
  cs->stats.notifies_acked = ls->acked;
  cs->stats.notifies_retried = ls->retried;
  cs->stats.notifies_dropped_conns = ls->dropped_conns;
  return &cs->stats;
}
