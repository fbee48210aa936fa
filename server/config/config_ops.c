/* config_ops: publish and remove without a transport, the commit path and
 * the change listeners (config_ops.h).
 *
 * Design note. Writes are validated here, md5'ed, and handed to the writer
 * thread, which group-commits them; only when a write's batch committed does
 * its completion come back here, update the cache, run the caller's done
 * callback and then every change listener. So an acknowledged publish is
 * durable, and a read after the acknowledgement sees it (read-your-writes).
 * CAS is checked by the writer against the store, inside the transaction,
 * because several writes to one key may be queued and the cache only knows
 * committed state. The caller is just (done, ud): a gRPC request, an HTTP
 * request or a cluster peer look the same from here. */
#include "config_int.h"
#include "config_util.h"
#include "nc_err.h"
#include "nc_log.h"
#include "nc_md5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char CAS_FAIL_MSG[] = "Cas publish fail, server md5 may have changed.";
static const char SHUTDOWN_MSG[] = "server is shutting down";
static const char OOM_MSG[] = "out of memory";

/* A queued write and whom to tell when it is done. */
typedef struct wjob {
  nc_cfg_job job; /* first member */
  nc_config_service *cs;
  nc_config_done_fn done;
  void *ud;
  char *gk, *origin;
  char *data_id, *group, *tenant, *content, *cas_md5, *type, *app_name, *src_user, *src_ip, *edk;
  char md5[33];
  size_t reserved; /* namespace growth this publish reserved (nc_config_ns_use) */
} wjob;

/* Gives back the namespace growth j reserved; before take_item moves
 * j->tenant into the cache. */
static void unreserve(wjob *j) {
  nc_config_ns_use *u = j->reserved && j->tenant ? nc_config_ns_use_of(j->cs, j->tenant, 0) : NULL;
  if (u)
    u->reserved = u->reserved > j->reserved ? u->reserved - j->reserved : 0;
  j->reserved = 0;
}

static void wjob_free(wjob *j) {
  unreserve(j);
  char **s[] = {&j->gk,   &j->origin,  &j->data_id,  &j->group,    &j->tenant,  &j->content,
                &j->cas_md5, &j->type, &j->app_name, &j->src_user, &j->src_ip, &j->edk};
  for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
    free(*s[i]);
  free(j);
}

static void finish(nc_config_done_fn done, void *ud, int code, const char *msg) {
  nc_config_result res = {.code = code, .message = msg};
  done(ud, &res);
}

/* The writer shut down before this completion was delivered. */
static void wjob_release(nc_cfg_job *job) {
  wjob *j = (wjob *)job;
  finish(j->done, j->ud, NC_ECLOSED, SHUTDOWN_MSG);
  wjob_free(j);
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

/* A job for a valid key with the fields every write has; NULL on OOM. */
static wjob *wjob_new(nc_config_service *cs, nc_cfg_op op, const nc_cfg_key *k, const char *origin,
                      const char *app_name, const char *src_user, const char *src_ip) {
  wjob *j = calloc(1, sizeof(*j));
  if (!j)
    return NULL;
  j->cs = cs;
  j->job.release = wjob_release;
  j->gk = nc_cfg_group_key(k->data_id, k->group, k->tenant);
  j->origin = strdup(origin && *origin ? origin : "-");
  j->data_id = strdup(k->data_id);
  j->group = strdup(k->group);
  j->tenant = strdup(k->tenant);
  j->app_name = dup_or_empty(app_name);
  j->src_user = dup_or_empty(src_user);
  j->src_ip = dup_or_empty(src_ip);
  if (!j->gk || !j->origin || !j->data_id || !j->group || !j->tenant || !j->app_name ||
      !j->src_user || !j->src_ip) {
    wjob_free(j);
    return NULL;
  }
  nc_cfg_write *w = &j->job.w;
  w->op = op;
  w->data_id = j->data_id;
  w->group = j->group;
  w->tenant = j->tenant;
  w->app_name = j->app_name;
  w->src_user = j->src_user;
  w->src_ip = j->src_ip;
  w->ts_ms = (int64_t)nc_now_ms();
  return j;
}

static void submit(nc_config_service *cs, wjob *j, nc_config_done_fn done, void *ud) {
  j->done = done;
  j->ud = ud;
  if (nc_cfg_writer_submit(cs->writer, &j->job) != 0)
    wjob_release(&j->job);
}

/* The growth of k's namespace a publish of len bytes would make, if that
 * keeps it within --config-max-ns-bytes (*grow, reserved by the caller),
 * else a refusal in buf. Queued publishes count with the growth they
 * reserved, so concurrent ones cannot pass the bound together; all of this
 * runs on the loop thread, and the writer applies what was admitted. */
static const char *ns_bytes_refusal(nc_config_service *cs, const nc_cfg_key *k, size_t len,
                                    size_t *grow, int *near, char *buf, size_t cap) {
  *grow = 0;
  *near = 0;
  if (cs->opts.max_ns_bytes <= 0)
    return NULL;
  char *gk = nc_cfg_group_key(k->data_id, k->group, k->tenant);
  const nc_cfg_item *cur = gk ? nc_strmap_get(cs->cache, gk) : NULL;
  free(gk);
  size_t had = cur ? cur->content_len : 0;
  if (len <= had)
    return NULL; /* shrinking or equal: always allowed */
  const nc_config_ns_use *u = nc_config_ns_use_of(cs, k->tenant, 0);
  unsigned long long used = u ? u->bytes + u->reserved : 0, max = (unsigned long long)cs->opts.max_ns_bytes;
  if (used + (len - had) > max) {
    cs->stats.ns_bytes_refused++;
    snprintf(buf, cap,
             "namespace '%s' is full: its configs hold %llu bytes, this publish adds %zu, the "
             "limit is %llu",
             *k->tenant ? k->tenant : "public", used, len - had, max);
    return buf;
  }
  *grow = len - had;
  /* Within a quarter of the bound: a shared store checks it again (below). */
  *near = used + *grow > max - max / 4;
  return NULL;
}

/* Why a publish is refused before it is queued (NULL when it is not). */
static const char *publish_refusal(nc_config_service *cs, const nc_config_publish *p, nc_cfg_key *k,
                                   char *buf, size_t cap) {
  const char *err = nc_cfg_check_names(p->key.data_id, p->key.group, p->key.tenant, k, buf, cap);
  if (err)
    return err;
  if (nc_cfg_blank(p->content))
    return "content is blank";
  size_t len = strlen(p->content);
  if ((long)len > cs->opts.max_content_bytes) {
    snprintf(buf, cap, "content too large: %zu bytes, the limit is %ld", len,
             cs->opts.max_content_bytes);
    return buf;
  }
  if (!nc_cfg_blank(p->tag) || !nc_cfg_blank(p->beta_ips))
    return "tag and beta (gray) publishes are not supported";
  /* A new key in a full namespace (writes still queued are not counted:
   * at most one batch over). */
  if (cs->opts.max_per_namespace > 0) {
    char *gk = nc_cfg_group_key(k->data_id, k->group, k->tenant);
    int fresh = gk && !nc_strmap_get(cs->cache, gk);
    free(gk);
    if (fresh && nc_config_ns_count(cs, k->tenant) >= (size_t)cs->opts.max_per_namespace) {
      cs->stats.ns_full_refused++;
      snprintf(buf, cap, "too many configs in namespace '%s' (limit %ld)",
               *k->tenant ? k->tenant : "public", cs->opts.max_per_namespace);
      return buf;
    }
  }
  return NULL;
}

void nc_config_publish_op(nc_config_service *cs, const nc_config_publish *p, nc_config_done_fn done,
                          void *ud) {
  char buf[NC_CONFIG_ERR_CAP];
  nc_cfg_key k;
  cs->stats.publishes++;
  const char *err = publish_refusal(cs, p, &k, buf, sizeof(buf));
  size_t grow = 0;
  int near = 0;
  if (!err)
    err = ns_bytes_refusal(cs, &k, strlen(p->content), &grow, &near, buf, sizeof(buf));
  if (err) {
    finish(done, ud, NC_EINVAL, err);
    return;
  }
  int cas = !nc_cfg_blank(p->cas_md5);
  wjob *j = wjob_new(cs, NC_CFG_PUT, &k, p->origin, p->app_name, p->src_user, p->src_ip);
  if (j && (!(j->content = strdup(p->content)) || (cas && !(j->cas_md5 = strdup(p->cas_md5))) ||
            !(j->type = strdup(nc_cfg_content_type(p->type))) ||
            !(j->edk = dup_or_empty(p->encrypted_data_key)))) {
    wjob_free(j);
    j = NULL;
  }
  if (!j) {
    finish(done, ud, NC_ENOMEM, OOM_MSG);
    return;
  }
  if (grow) { /* held until the write is done (wjob_free), committed or not */
    nc_config_ns_use *u = nc_config_ns_use_of(cs, k.tenant, 1);
    if (u) {
      u->reserved += grow;
      j->reserved = grow;
    }
  }
  nc_cfg_write *w = &j->job.w;
  w->content = j->content;
  w->content_len = strlen(j->content);
  nc_md5_hex(j->content, w->content_len, j->md5);
  w->md5 = j->md5;
  w->cas_md5 = j->cas_md5;
  w->type = j->type;
  w->encrypted_data_key = j->edk;
  w->rollback_of = p->rollback_of;
  /* Other nodes write the same namespace of a shared store, and this
   * node hears of their writes only after they committed: once this node
   * counts the namespace within a quarter of the bound, the store checks
   * the bound again in its transaction, exactly, under a per-namespace
   * lock (config_store.h). Below that the check costs nothing (measured:
   * the sum over 10,000 configs of 1 KB takes 20-50 ms per batch); only
   * writes elsewhere that this node has not heard of yet and that add up
   * to over a quarter of the bound could pass it. */
  w->ns_max_bytes = near ? cs->opts.max_ns_bytes : 0;
  submit(cs, j, done, ud);
}

void nc_config_remove_op(nc_config_service *cs, const nc_config_remove *r, nc_config_done_fn done,
                         void *ud) {
  char buf[NC_CONFIG_ERR_CAP];
  nc_cfg_key k;
  cs->stats.removes++;
  const char *err = nc_cfg_check_names(r->key.data_id, r->key.group, r->key.tenant, &k, buf,
                                       sizeof(buf));
  if (err) {
    finish(done, ud, NC_EINVAL, err);
    return;
  }
  wjob *j = wjob_new(cs, NC_CFG_REMOVE, &k, r->origin, r->app_name, r->src_user, r->src_ip);
  if (!j) {
    finish(done, ud, NC_ENOMEM, OOM_MSG);
    return;
  }
  submit(cs, j, done, ud);
}

/* ---- commit path ---- */

/* Moves the committed publish's strings into a cache entry (NULL on OOM). */
static nc_cfg_item *take_item(wjob *j) {
  nc_cfg_item *it = calloc(1, sizeof(*it));
  if (!it)
    return NULL;
  nc_cfg_write *w = &j->job.w;
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
  it->modified_ms = w->modified_ms ? w->modified_ms : w->ts_ms;
  return it;
}

static void cache_put(nc_config_service *cs, wjob *j) {
  nc_cfg_item *it = take_item(j);
  void *old = NULL;
  if (!it || nc_config_cache_put(cs, j->gk, it, &old) != 0) {
    /* Durable but not cached: the cache would now serve stale data. */
    nc_error("config: out of memory caching %s; cache is stale until restart", NC_LOG_ESC(j->gk));
    if (it) { /* the listeners still need the key */
      j->data_id = it->data_id, it->data_id = NULL;
      j->group = it->group, it->group = NULL;
      j->tenant = it->tenant, it->tenant = NULL;
    }
    nc_cfg_item_free(it);
  }
  nc_cfg_item_free(old);
}

static void notify(nc_config_service *cs, const char *data_id, const char *group,
                   const char *tenant, const char *md5) {
  for (size_t i = 0; i < cs->n_listeners; i++)
    cs->listeners[i].fn(cs->listeners[i].ud, data_id, group, tenant, md5);
}

void nc_config_write_done(void *ud, nc_cfg_job *job) {
  nc_config_service *cs = ud;
  wjob *j = (wjob *)job;
  nc_cfg_write *w = &j->job.w;
  int put = w->op == NC_CFG_PUT;
  nc_config_result res = {.code = w->result, .existed = w->existed, .md5 = put ? j->md5 : NULL};
  unreserve(j); /* committed growth is counted by the cache from here */
  if (w->result == 0)
    nc_info("config: conn %s: %s %s%s", NC_LOG_ESC(j->origin), put ? "publish" : "remove",
            NC_LOG_ESC(j->gk), put || w->existed ? "" : " (did not exist)");
  char full[NC_CONFIG_ERR_CAP];
  if (w->result == NC_ECONFLICT) {
    res.message = CAS_FAIL_MSG;
  } else if (w->result == NC_ETOOBIG) { /* the store's count, with other nodes' writes */
    cs->stats.ns_bytes_refused++;
    res.code = NC_EINVAL;
    snprintf(full, sizeof(full),
             "namespace '%s' is full: this publish would grow its configs past %lld bytes",
             j->tenant && *j->tenant ? j->tenant : "public", w->ns_max_bytes);
    res.message = full;
  } else if (w->result == NC_EUNAVAIL) {
    res.code = NC_EDB;
    res.message = "config store unavailable (database connection down): change not saved";
  } else if (w->result != 0) {
    res.code = NC_EDB;
    res.message = "storage failure: change not saved";
  }
  if (w->result != 0) {
    j->done(j->ud, &res);
    wjob_free(j);
    return;
  }
  /* Keep the key for the listeners: a publish moves the job's strings into
   * the cache entry, which stays in place until a later commit. */
  const char *data_id = w->data_id, *group = w->group, *tenant = w->tenant;
  if (put)
    cache_put(cs, j);
  else
    nc_cfg_item_free(nc_config_cache_del(cs, j->gk));
  j->done(j->ud, &res);
  if (put || w->existed) {
    notify(cs, data_id, group, tenant, put ? j->md5 : NULL);
    if (cs->commit_hook)
      cs->commit_hook(cs->commit_ud, data_id, group, tenant,
                      w->modified_ms ? w->modified_ms : w->ts_ms);
  }
  wjob_free(j);
}

/* ---- reload (cluster sync) ---- */

typedef struct rjob {
  nc_cfg_job job; /* first member */
  nc_config_service *cs;
  nc_config_done_fn done;
  void *ud;
  char *gk;
  nc_config_okey k;
  nc_cfg_item *item; /* what the store holds now; NULL when absent */
  int rc;
} rjob;

static void rjob_free(rjob *j) {
  nc_cfg_item_free(j->item);
  free(j->gk);
  nc_config_okey_clear(&j->k);
  free(j);
}

/* Writer thread. */
static void rjob_run(nc_cfg_job *job, nc_cfg_store *store) {
  rjob *j = (rjob *)job;
  j->rc = nc_cfg_store_get(store, j->k.data_id, j->k.group, j->k.tenant, &j->item);
  if (j->rc == NC_ENOTFOUND)
    j->rc = 0;
}

static void rjob_release(nc_cfg_job *job) {
  rjob *j = (rjob *)job;
  finish(j->done, j->ud, NC_ECLOSED, SHUTDOWN_MSG);
  rjob_free(j);
}

/* Loop thread: the store answered; make the cache agree with it. */
static void rjob_complete(nc_cfg_job *job) {
  rjob *j = (rjob *)job;
  nc_config_service *cs = j->cs;
  if (j->rc) {
    nc_warn("config: reload of %s failed: %s", NC_LOG_ESC(j->gk), nc_strerror(j->rc));
    finish(j->done, j->ud, NC_EDB, "storage failure: config not read");
    rjob_free(j);
    return;
  }
  const nc_cfg_item *old = nc_strmap_get(cs->cache, j->gk);
  int changed = j->item ? !old || strcmp(old->md5, j->item->md5) != 0 : old != NULL;
  char md5[33] = "";
  if (j->item)
    memcpy(md5, j->item->md5, sizeof(md5));
  nc_config_result res = {.existed = j->item != NULL, .md5 = j->item ? md5 : NULL};
  if (j->item) {
    void *prev = NULL;
    if (nc_config_cache_put(cs, j->gk, j->item, &prev) != 0) {
      nc_error("config: out of memory caching %s; cache is stale", NC_LOG_ESC(j->gk));
      res.code = NC_ENOMEM;
      res.message = OOM_MSG;
      changed = 0;
    } else {
      j->item = NULL; /* the cache owns it */
    }
    nc_cfg_item_free(prev);
  } else {
    nc_cfg_item_free(nc_config_cache_del(cs, j->gk));
  }
  if (changed)
    nc_info("config: reloaded %s (%s)", NC_LOG_ESC(j->gk), res.md5 ? "changed" : "removed");
  j->done(j->ud, &res);
  if (changed)
    notify(cs, j->k.data_id, j->k.group, j->k.tenant, res.md5);
  rjob_free(j);
}

void nc_config_reload(nc_config_service *cs, const nc_config_key *key, nc_config_done_fn done,
                      void *ud) {
  char buf[NC_CONFIG_ERR_CAP];
  nc_cfg_key k;
  const char *err = nc_cfg_check_names(key->data_id, key->group, key->tenant, &k, buf, sizeof(buf));
  if (err) {
    finish(done, ud, NC_EINVAL, err);
    return;
  }
  rjob *j = calloc(1, sizeof(*j));
  if (!j || !(j->gk = nc_cfg_group_key(k.data_id, k.group, k.tenant)) ||
      nc_config_okey_set(&j->k, &k) != 0) {
    if (j)
      rjob_free(j);
    finish(done, ud, NC_ENOMEM, OOM_MSG);
    return;
  }
  j->cs = cs;
  j->done = done;
  j->ud = ud;
  j->job.run = rjob_run;
  j->job.complete = rjob_complete;
  j->job.release = rjob_release;
  if (nc_cfg_writer_submit(cs->writer, &j->job) != 0)
    rjob_release(&j->job);
}

/* ---- listeners ---- */

int nc_config_add_listener(nc_config_service *cs, nc_config_listener_fn fn, void *ud) {
  if (!fn)
    return NC_EINVAL;
  if (cs->n_listeners == cs->cap_listeners) {
    size_t cap = cs->cap_listeners ? cs->cap_listeners * 2 : 4;
    nc_config_listener *l = realloc(cs->listeners, cap * sizeof(*l));
    if (!l)
      return NC_ENOMEM;
    cs->listeners = l;
    cs->cap_listeners = cap;
  }
  cs->listeners[cs->n_listeners++] = (nc_config_listener){fn, ud};
  return 0;
}

int nc_config_remove_listener(nc_config_service *cs, nc_config_listener_fn fn, void *ud) {
  for (size_t i = 0; i < cs->n_listeners; i++) {
    if (cs->listeners[i].fn == fn && cs->listeners[i].ud == ud) {
      memmove(&cs->listeners[i], &cs->listeners[i + 1],
              (cs->n_listeners - i - 1) * sizeof(cs->listeners[0]));
      cs->n_listeners--;
      return 1;
    }
  }
  return 0;
}

/* ---- cluster sync ---- */

void nc_config_set_commit_hook(nc_config_service *cs, nc_config_commit_fn fn, void *ud) {
  cs->commit_hook = fn;
  cs->commit_ud = ud;
}

static void elsewhere_done(void *ud, const nc_config_result *res) {
  (void)ud;
  (void)res; /* a failed re-read is logged; the change feed's poll repairs it */
}

int nc_config_changed_elsewhere(nc_config_service *cs, const nc_config_key *key,
                                int64_t modified_ms) {
  char buf[NC_CONFIG_ERR_CAP];
  nc_cfg_key k;
  if (nc_cfg_check_names(key->data_id, key->group, key->tenant, &k, buf, sizeof(buf)))
    return NC_EINVAL;
  char *gk = nc_cfg_group_key(k.data_id, k.group, k.tenant);
  const nc_cfg_item *cached = gk ? nc_strmap_get(cs->cache, gk) : NULL;
  free(gk);
  if (cached && modified_ms > 0 && cached->modified_ms >= modified_ms)
    return 0; /* Nacos: "timestamp is outdated" */
  nc_config_reload(cs, key, elsewhere_done, NULL);
  return 1;
}
