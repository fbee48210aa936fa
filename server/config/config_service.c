/* config_service: the four config handlers, the cache of current configs
 * and the glue between the writer thread and the notifier.
 *
 * Design note. Reads are served from an in-memory cache owned by the loop
 * thread (loaded from the store at start), so ConfigQuery never touches
 * SQLite. Writes are validated here, md5'ed, and handed to the writer thread,
 * which group-commits them; only when a write's batch committed does its
 * completion come back here, update the cache, answer the client and notify
 * listeners. So an acked publish is durable, and a query after the ack sees
 * it (read-your-writes). CAS is checked by the writer against the store,
 * inside the transaction, because several writes to one key may be queued
 * and the cache only knows committed state. */
#include "config_service.h"

#include "config_int.h"

#include "config_listen.h"
#include "nc_md5.h"
#include "config_store.h"
#include "config_util.h"
#include "nc_strmap.h"
#include "config_writer.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char CAS_FAIL_MSG[] = "Cas publish fail, server md5 may have changed.";

/* A queued write and what is needed to answer it. */
typedef struct wjob {
  nc_cfg_job job; /* first member */
  nc_config_service *cs;
  nc_req *req;
  char *gk;
  char *data_id, *group, *tenant, *content, *cas_md5, *type, *app_name, *src_user, *src_ip, *edk;
  char md5[33];
} wjob;

static void wjob_free(wjob *j) {
  free(j->gk);
  free(j->data_id);
  free(j->group);
  free(j->tenant);
  free(j->content);
  free(j->cas_md5);
  free(j->type);
  free(j->app_name);
  free(j->src_user);
  free(j->src_ip);
  free(j->edk);
  free(j);
}

static const char *resp_type(nc_cfg_op op) {
  return op == NC_CFG_PUT ? "ConfigPublishResponse" : "ConfigRemoveResponse";
}

/* The writer shut down before this completion was delivered. */
static void wjob_release(nc_cfg_job *job) {
  wjob *j = (wjob *)job;
  nc_req_fail(j->req, resp_type(j->job.w.op), 500, "server is shutting down");
  wjob_free(j);
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

/* ---- writes ---- */

static void submit(nc_config_service *cs, wjob *j) {
  int rc = nc_cfg_writer_submit(cs->writer, &j->job);
  if (rc != 0) {
    nc_req_fail(j->req, resp_type(j->job.w.op), 500, "server is shutting down");
    wjob_free(j);
  }
}

static wjob *wjob_new(nc_config_service *cs, nc_req *r, nc_cfg_op op, const nc_cfg_key *k) {
  wjob *j = calloc(1, sizeof(*j));
  if (!j)
    return NULL;
  j->cs = cs;
  j->req = r;
  j->job.release = wjob_release;
  j->gk = nc_cfg_group_key(k->data_id, k->group, k->tenant);
  j->data_id = strdup(k->data_id);
  j->group = strdup(k->group);
  j->tenant = strdup(k->tenant);
  if (!j->gk || !j->data_id || !j->group || !j->tenant) {
    wjob_free(j);
    return NULL;
  }
  j->job.w.op = op;
  j->job.w.data_id = j->data_id;
  j->job.w.group = j->group;
  j->job.w.tenant = j->tenant;
  j->job.w.ts_ms = (int64_t)nc_now_ms();
  return j;
}

static const char *source_ip(nc_req *r, const nc_msg *m) {
  if (m->client_ip && *m->client_ip)
    return m->client_ip;
  nc_conn *c = nc_req_conn(r);
  return c ? nc_conn_remote_ip(c) : "";
}

static void h_publish(void *ud, nc_req *r, const nc_msg *m) {
  nc_config_service *cs = ud;
  const char *rt = "ConfigPublishResponse";
  char buf[200];
  nc_cfg_key k;
  cs->stats.publishes++;
  const char *err = nc_cfg_check_key(m->body, &k, buf, sizeof(buf));
  if (err) {
    nc_req_fail(r, rt, 400, err);
    return;
  }
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(m->body, "content");
  if (!cJSON_IsString(content) || nc_cfg_blank(content->valuestring)) {
    nc_req_fail(r, rt, 400, "content is blank");
    return;
  }
  size_t len = strlen(content->valuestring);
  if ((long)len > cs->opts.max_content_bytes) {
    snprintf(buf, sizeof(buf), "content too large: %zu bytes, the limit is %ld", len,
             cs->opts.max_content_bytes);
    nc_req_fail(r, rt, 400, buf);
    return;
  }
  const cJSON *am = cJSON_GetObjectItemCaseSensitive(m->body, "additionMap");
  /* Gray releases (tag / beta) would need rule evaluation on every query;
   * refusing them beats silently overwriting the main config. */
  if (!nc_cfg_blank(nc_json_str(am, "tag", NULL)) || !nc_cfg_blank(nc_json_str(am, "betaIps", NULL))) {
    nc_req_fail(r, rt, 400, "tag and beta (gray) publishes are not supported");
    return;
  }
  const char *app = nc_json_str(am, "appName", NULL);
  if (nc_cfg_blank(app))
    app = nc_msg_header(m, "Client-AppName");
  if (nc_cfg_blank(app) && nc_req_conn(r))
    app = nc_conn_app(nc_req_conn(r));
  const char *type = nc_json_str(am, "type", NULL);
  if (!type)
    type = nc_json_str(m->body, "type", NULL);
  const char *cas = nc_json_str(m->body, "casMd5", NULL);

  wjob *j = wjob_new(cs, r, NC_CFG_PUT, &k);
  if (!j) {
    nc_req_fail(r, rt, 500, "out of memory");
    return;
  }
  j->content = strdup(content->valuestring);
  j->cas_md5 = nc_cfg_blank(cas) ? NULL : strdup(cas);
  j->type = strdup(nc_cfg_content_type(type));
  j->app_name = dup_or_empty(app);
  j->src_user = dup_or_empty(nc_json_str(am, "src_user", NULL));
  j->src_ip = dup_or_empty(source_ip(r, m));
  j->edk = dup_or_empty(nc_json_str(am, "encryptedDataKey", NULL));
  if (!j->content || (!nc_cfg_blank(cas) && !j->cas_md5) || !j->type || !j->app_name ||
      !j->src_user || !j->src_ip || !j->edk) {
    wjob_free(j);
    nc_req_fail(r, rt, 500, "out of memory");
    return;
  }
  nc_md5_hex(j->content, len, j->md5);
  nc_cfg_write *w = &j->job.w;
  w->content = j->content;
  w->content_len = len;
  w->md5 = j->md5;
  w->cas_md5 = j->cas_md5;
  w->type = j->type;
  w->app_name = j->app_name;
  w->src_user = j->src_user;
  w->src_ip = j->src_ip;
  w->encrypted_data_key = j->edk;
  submit(cs, j);
}

static void h_remove(void *ud, nc_req *r, const nc_msg *m) {
  nc_config_service *cs = ud;
  char buf[200];
  nc_cfg_key k;
  cs->stats.removes++;
  const char *err = nc_cfg_check_key(m->body, &k, buf, sizeof(buf));
  if (err) {
    nc_req_fail(r, "ConfigRemoveResponse", 400, err);
    return;
  }
  wjob *j = wjob_new(cs, r, NC_CFG_REMOVE, &k);
  if (j && (j->src_ip = strdup(source_ip(r, m))) != NULL) {
    j->job.w.src_ip = j->src_ip;
    j->job.w.app_name = nc_req_conn(r) ? nc_conn_app(nc_req_conn(r)) : NULL;
    if (j->job.w.app_name && !(j->app_name = strdup(j->job.w.app_name))) {
      wjob_free(j);
      j = NULL;
    } else {
      j->job.w.app_name = j->app_name;
    }
  } else if (j) {
    wjob_free(j);
    j = NULL;
  }
  if (!j) {
    nc_req_fail(r, "ConfigRemoveResponse", 500, "out of memory");
    return;
  }
  submit(cs, j);
}

/* Committed (or failed) write back on the loop thread. */
static void on_write_done(void *ud, nc_cfg_job *job) {
  nc_config_service *cs = ud;
  wjob *j = (wjob *)job;
  nc_cfg_write *w = &j->job.w;
  const char *rt = resp_type(w->op);
  const char *what = w->op == NC_CFG_PUT ? "publish" : "remove";
  if (w->result == 0)
    nc_info("config: conn %s: %s %s%s", nc_req_conn_id(j->req), what, NC_LOG_ESC(j->gk),
            w->op == NC_CFG_PUT ? "" : (w->existed ? "" : " (did not exist)"));
  if (w->result == NC_ECONFLICT) {
    nc_req_fail(j->req, rt, 500, CAS_FAIL_MSG);
  } else if (w->result != 0) {
    /* Nacos answers a failed remove with errorCode 0 (§5.13). */
    nc_req_fail(j->req, rt, w->op == NC_CFG_PUT ? 500 : 0, "storage failure: change not saved");
  } else if (w->op == NC_CFG_PUT) {
    nc_cfg_item *it = calloc(1, sizeof(*it));
    if (it) {
      /* Move the job's strings into the cache entry. */
      it->data_id = j->data_id, j->data_id = NULL;
      it->group = j->group, j->group = NULL;
      it->tenant = j->tenant, j->tenant = NULL;
      it->content = j->content, j->content = NULL;
      it->content_len = w->content_len;
      memcpy(it->md5, j->md5, sizeof(it->md5));
      it->type = j->type, j->type = NULL;
      it->app_name = j->app_name, j->app_name = NULL;
      it->src_user = j->src_user, j->src_user = NULL;
      it->src_ip = j->src_ip, j->src_ip = NULL;
      it->encrypted_data_key = j->edk, j->edk = NULL;
      it->created_ms = w->created_ms;
      it->modified_ms = w->ts_ms;
    }
    void *old = NULL;
    if (!it || nc_strmap_put(cs->cache, j->gk, it, &old) != 0) {
      /* Durable but not cached: the cache would now serve stale data. */
      nc_error("config: out of memory caching %s; cache is stale until restart", j->gk);
      nc_cfg_item_free(it);
    }
    nc_cfg_item_free(old);
    nc_req_reply(j->req, rt, NULL);
    nc_cfg_listen_changed(cs->listen, j->gk);
  } else {
    nc_cfg_item_free(nc_strmap_del(cs->cache, j->gk));
    nc_req_reply(j->req, rt, NULL);
    if (w->existed)
      nc_cfg_listen_changed(cs->listen, j->gk);
  }
  wjob_free(j);
}

/* ---- reads ---- */

static void h_query(void *ud, nc_req *r, const nc_msg *m) {
  nc_config_service *cs = ud;
  const char *rt = "ConfigQueryResponse";
  char buf[200];
  nc_cfg_key k;
  cs->stats.queries++;
  const char *err = nc_cfg_check_key(m->body, &k, buf, sizeof(buf));
  if (err) {
    nc_req_fail(r, rt, 400, err);
    return;
  }
  char *gk = nc_cfg_group_key(k.data_id, k.group, k.tenant);
  if (!gk) {
    nc_req_fail(r, rt, 500, "out of memory");
    return;
  }
  const nc_cfg_item *it = nc_strmap_get(cs->cache, gk);
  free(gk);
  if (!it) {
    nc_req_fail(r, rt, 300, "config data not exist");
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
  /* Validate everything first so a bad entry changes nothing. */
  const cJSON *c;
  nc_cfg_key k;
  cJSON_ArrayForEach(c, ctxs) {
    const char *err = cJSON_IsObject(c) ? nc_cfg_check_key(c, &k, buf, sizeof(buf)) : "bad listen context";
    if (err) {
      nc_req_fail(r, rt, 400, err);
      return;
    }
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
  if (nc_strmap_put(cs->cache, gk, it, NULL) != 0)
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
  if (!(cs->data_dir = strdup(opts->data_dir)) || !(cs->cache = nc_strmap_new()))
    goto fail;
  cs->opts.data_dir = cs->data_dir;
  nc_cfg_store_opts so = {.data_dir = cs->data_dir, .history_keep = cs->opts.history_keep};
  if ((rc = nc_cfg_store_open("sqlite", &so, &cs->store)) != 0)
    goto fail;
  if ((rc = nc_cfg_store_scan(cs->store, load_item, cs)) != 0)
    goto fail;
  nc_cfg_push_ops ops = {.push = push_via_srv, .drop_conn = drop_via_srv, .ud = srv};
  nc_cfg_listen_opts lo = {.timeout_ms = opts->notify_timeout_ms,
                           .max_retries = opts->notify_max_retries,
                           .retry_base_ms = opts->notify_retry_base_ms};
  if ((rc = nc_cfg_listen_new(nc_srv_loop(srv), &ops, &lo, &cs->listen)) != 0)
    goto fail;
  /* The writer owns the store from here on. */
  if ((rc = nc_cfg_writer_new(nc_srv_loop(srv), cs->store, opts->batch_max, on_write_done, cs,
                              &cs->writer)) != 0)
    goto fail;
  if ((rc = NC_SRV_HANDLERS(srv, config_handlers, cs)) || (rc = nc_config_admin_register(cs)) ||
      (rc = nc_srv_add_conn_listener(srv, on_conn, cs)))
    goto fail;
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
  if (cs)
    nc_cfg_writer_stop(cs->writer);
}

void nc_config_free(nc_config_service *cs) {
  if (!cs)
    return;
  if (cs->writer) {
    nc_cfg_writer_stats ws;
    nc_cfg_writer_stop(cs->writer); /* commits and answers what is queued */
    nc_cfg_writer_get_stats(cs->writer, &ws);
    nc_info("config: %llu writes in %llu commits (largest batch %llu, %llu failed commits)",
            (unsigned long long)ws.jobs, (unsigned long long)ws.commits,
            (unsigned long long)ws.max_batch, (unsigned long long)ws.commit_failures);
  }
  nc_cfg_writer_free(cs->writer);
  nc_cfg_listen_free(cs->listen);
  nc_cfg_store_close(cs->store);
  nc_strmap_free(cs->cache, cache_item_free);
  free(cs->data_dir);
  free(cs);
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
