/* config_read: the read operations of config_ops.h without a transport:
 * get and list are served from the loop thread's cache; history (the list
 * and one version) reads the store, so it runs as a job on the writer
 * thread, after the writes queued before it. */
#include "config_int.h"
#include "config_util.h"
#include "nc_err.h"
#include "nc_log.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- get ---- */

int nc_config_get(nc_config_service *cs, const nc_config_key *key, const nc_cfg_item **out,
                  char *err, size_t cap) {
  nc_cfg_key k;
  cs->stats.queries++;
  const char *msg = nc_cfg_check_names(key->data_id, key->group, key->tenant, &k, err, cap);
  if (msg) {
    if (msg != err)
      snprintf(err, cap, "%s", msg);
    return NC_EINVAL;
  }
  char *gk = nc_cfg_group_key(k.data_id, k.group, k.tenant);
  if (!gk) {
    snprintf(err, cap, "out of memory");
    return NC_ENOMEM;
  }
  *out = nc_strmap_get(cs->cache, gk);
  free(gk);
  if (!*out) {
    snprintf(err, cap, "config data not exist");
    return NC_ENOTFOUND;
  }
  return 0;
}

/* ---- list ---- */

typedef struct list_filter {
  const char *tenant, *group, *pattern;
  const nc_cfg_item **hits;
  size_t n, cap;
  int oom;
} list_filter;

static void list_visit(void *ud, const char *key, void *val) {
  (void)key;
  list_filter *f = ud;
  const nc_cfg_item *it = val;
  if (f->oom || strcmp(it->tenant, f->tenant) != 0 || (*f->group && strcmp(it->group, f->group)) ||
      (*f->pattern && fnmatch(f->pattern, it->data_id, 0) != 0))
    return;
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 64;
    const nc_cfg_item **h = realloc(f->hits, cap * sizeof(*h));
    if (!h) {
      f->oom = 1;
      return;
    }
    f->hits = h;
    f->cap = cap;
  }
  f->hits[f->n++] = it;
}

/* By group, then dataId: a stable order so pages do not overlap. */
static int item_cmp(const void *a, const void *b) {
  const nc_cfg_item *x = *(const nc_cfg_item *const *)a, *y = *(const nc_cfg_item *const *)b;
  int c = strcmp(x->group, y->group);
  return c ? c : strcmp(x->data_id, y->data_id);
}

/* A dataId pattern: name characters and '*'; fnmatch's other magic ([, ?, \)
 * is refused so a pattern means what nacosctl users expect. */
static int valid_pattern(const char *p) {
  if (strlen(p) > NC_CFG_MAX_DATA_ID)
    return 0;
  for (; *p; p++)
    if (!(*p == '*' || *p == '-' || *p == '_' || *p == ':' || *p == '.' ||
          (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
      return 0;
  return 1;
}

static int list_refuse(char *err, size_t cap, const char *msg) {
  snprintf(err, cap, "%s", msg);
  return NC_EINVAL;
}

int nc_config_list(nc_config_service *cs, const nc_config_list_query *q, nc_config_list_page *out,
                   char *err, size_t cap) {
  list_filter f = {.tenant = nc_cfg_norm_tenant(q->tenant),
                   .group = q->group ? q->group : "",
                   .pattern = q->data_id ? q->data_id : ""};
  memset(out, 0, sizeof(*out));
  if (!nc_cfg_valid_tenant(f.tenant) || (*f.group && !nc_cfg_valid_name(f.group, NC_CFG_MAX_GROUP)))
    return list_refuse(err, cap, "invalid tenant or group");
  if (!valid_pattern(f.pattern))
    return list_refuse(err, cap, "invalid dataId pattern: use [a-zA-Z0-9-_:.] and '*'");
  if (q->page_no < 1 || q->page_size < 1 || q->page_size > NC_CONFIG_LIST_MAX_PAGE)
    return list_refuse(err, cap, "pageNo must be >= 1 and pageSize 1-1000");
  nc_strmap_foreach(cs->cache, list_visit, &f);
  if (f.oom) {
    free(f.hits);
    snprintf(err, cap, "out of memory");
    return NC_ENOMEM;
  }
  if (f.n > 1)
    qsort(f.hits, f.n, sizeof(*f.hits), item_cmp);
  size_t size = (size_t)q->page_size;
  /* A page past the end is empty, not an error (Nacos does the same). */
  size_t from = q->page_no - 1 > (long long)(f.n / size) ? f.n : (size_t)(q->page_no - 1) * size;
  if (from < f.n) {
    out->n = f.n - from < size ? f.n - from : size;
    memmove(f.hits, f.hits + from, out->n * sizeof(*f.hits));
  }
  out->items = f.hits;
  out->total = f.n;
  out->page_no = q->page_no;
  out->pages = (f.n + size - 1) / size;
  return 0;
}

void nc_config_list_page_free(nc_config_list_page *p) {
  if (!p)
    return;
  free(p->items);
  memset(p, 0, sizeof(*p));
}

/* ---- history ---- */

int nc_config_okey_set(nc_config_okey *o, const nc_cfg_key *k) {
  o->data_id = strdup(k->data_id);
  o->group = strdup(k->group);
  o->tenant = strdup(k->tenant);
  if (o->data_id && o->group && o->tenant)
    return 0;
  nc_config_okey_clear(o);
  return NC_ENOMEM;
}

void nc_config_okey_clear(nc_config_okey *o) {
  free(o->data_id);
  free(o->group);
  free(o->tenant);
  memset(o, 0, sizeof(*o));
}

typedef struct hjob {
  nc_cfg_job job; /* first member */
  nc_config_history_fn fn;
  void *ud;
  nc_config_okey k;
  size_t max;
  nc_cfg_hist *rows;
  size_t n;
  int rc;
} hjob;

static void hjob_free(hjob *j) {
  nc_cfg_hist_free(j->rows, j->n);
  nc_config_okey_clear(&j->k);
  free(j);
}

/* Writer thread. */
static void hjob_run(nc_cfg_job *job, nc_cfg_store *store) {
  hjob *j = (hjob *)job;
  j->rc = nc_cfg_store_history(store, j->k.data_id, j->k.group, j->k.tenant, j->max, &j->rows,
                               &j->n);
}

static void hjob_release(nc_cfg_job *job) {
  hjob *j = (hjob *)job;
  j->fn(j->ud, NC_ECLOSED, "server is shutting down", NULL, 0);
  hjob_free(j);
}

/* Loop thread: the store answered. */
static void hjob_complete(nc_cfg_job *job) {
  hjob *j = (hjob *)job;
  if (j->rc) {
    nc_warn("config: history of %s/%s failed: %s", NC_LOG_ESC(j->k.group), NC_LOG_ESC(j->k.data_id),
            nc_strerror(j->rc));
    j->fn(j->ud, NC_EDB, "history read failed", NULL, 0);
  } else {
    j->fn(j->ud, 0, NULL, j->rows, j->n);
  }
  hjob_free(j);
}

void nc_config_history(nc_config_service *cs, const nc_config_key *key, long long max,
                       nc_config_history_fn fn, void *ud) {
  char buf[NC_CONFIG_ERR_CAP];
  nc_cfg_key k;
  const char *err = nc_cfg_check_names(key->data_id, key->group, key->tenant, &k, buf, sizeof(buf));
  if (err || max < 1 || max > NC_CONFIG_HISTORY_MAX) {
    fn(ud, NC_EINVAL, err ? err : "pageSize must be 1-1000", NULL, 0);
    return;
  }
  hjob *j = calloc(1, sizeof(*j));
  if (!j || nc_config_okey_set(&j->k, &k) != 0) {
    free(j);
    fn(ud, NC_ENOMEM, "out of memory", NULL, 0);
    return;
  }
  j->fn = fn;
  j->ud = ud;
  j->max = (size_t)max;
  j->job.run = hjob_run;
  j->job.complete = hjob_complete;
  j->job.release = hjob_release;
  if (nc_cfg_writer_submit(cs->writer, &j->job) != 0)
    hjob_release(&j->job);
}

/* ---- one version ---- */

typedef struct gjob {
  nc_cfg_job job; /* first member */
  nc_config_history_get_fn fn;
  void *ud;
  nc_config_okey k;
  int64_t id;
  nc_cfg_hist *row;
  int rc;
} gjob;

static void gjob_free(gjob *j) {
  nc_cfg_hist_free(j->row, 1);
  nc_config_okey_clear(&j->k);
  free(j);
}

/* Writer thread. */
static void gjob_run(nc_cfg_job *job, nc_cfg_store *store) {
  gjob *j = (gjob *)job;
  j->rc = nc_cfg_store_history_get(store, j->k.data_id, j->k.group, j->k.tenant, j->id, &j->row);
}

static void gjob_release(nc_cfg_job *job) {
  gjob *j = (gjob *)job;
  j->fn(j->ud, NC_ECLOSED, "server is shutting down", NULL);
  gjob_free(j);
}

/* Loop thread: the store answered. */
static void gjob_complete(nc_cfg_job *job) {
  gjob *j = (gjob *)job;
  if (j->rc == NC_ENOTFOUND) {
    char msg[NC_CONFIG_ERR_CAP];
    snprintf(msg, sizeof(msg), "history id %lld not found for this config", (long long)j->id);
    j->fn(j->ud, NC_ENOTFOUND, msg, NULL);
  } else if (j->rc == NC_EINVAL) { /* a backend without history_get */
    j->fn(j->ud, NC_EINVAL, "this config store does not keep history versions", NULL);
  } else if (j->rc) {
    nc_warn("config: history %lld of %s/%s failed: %s", (long long)j->id, NC_LOG_ESC(j->k.group),
            NC_LOG_ESC(j->k.data_id), nc_strerror(j->rc));
    j->fn(j->ud, NC_EDB, "history read failed", NULL);
  } else {
    j->fn(j->ud, 0, NULL, j->row);
  }
  gjob_free(j);
}

void nc_config_history_get(nc_config_service *cs, const nc_config_key *key, int64_t id,
                           nc_config_history_get_fn fn, void *ud) {
  char buf[NC_CONFIG_ERR_CAP];
  nc_cfg_key k;
  const char *err = nc_cfg_check_names(key->data_id, key->group, key->tenant, &k, buf, sizeof(buf));
  if (err || id < 1) {
    fn(ud, NC_EINVAL, err ? err : "history id must be >= 1", NULL);
    return;
  }
  gjob *j = calloc(1, sizeof(*j));
  if (!j || nc_config_okey_set(&j->k, &k) != 0) {
    free(j);
    fn(ud, NC_ENOMEM, "out of memory", NULL);
    return;
  }
  j->fn = fn;
  j->ud = ud;
  j->id = id;
  j->job.run = gjob_run;
  j->job.complete = gjob_complete;
  j->job.release = gjob_release;
  if (nc_cfg_writer_submit(cs->writer, &j->job) != 0)
    gjob_release(&j->job);
}

/* ---- listeners ---- */

typedef struct lvisit {
  nc_config_service *cs;
  nc_config_listener_visit_fn fn;
  void *ud;
} lvisit;

static void listener_visit(void *ud, const char *conn_id, const char *data_id, const char *group,
                           const char *tenant, const char *md5) {
  lvisit *v = ud;
  nc_conn *c = nc_srv_find_conn(v->cs->srv, conn_id);
  const char *ip = c ? nc_conn_client_ip(c) : NULL;
  if (c && (!ip || !*ip))
    ip = nc_conn_remote_ip(c);
  if (ip && *ip) /* a connection already gone is not listening any more */
    v->fn(v->ud, ip, data_id, group, tenant, md5);
}

int nc_config_listeners_foreach(nc_config_service *cs, const nc_config_key *key,
                                nc_config_listener_visit_fn fn, void *ud) {
  lvisit v = {cs, fn, ud};
  if (!key) {
    nc_cfg_listen_foreach(cs->listen, NULL, listener_visit, &v);
    return 0;
  }
  nc_cfg_key k;
  char err[NC_CONFIG_ERR_CAP];
  if (nc_cfg_check_names(key->data_id, key->group, key->tenant, &k, err, sizeof(err)))
    return NC_EINVAL;
  char *gk = nc_cfg_group_key(k.data_id, k.group, k.tenant);
  if (!gk)
    return NC_ENOMEM;
  nc_cfg_listen_foreach(cs->listen, gk, listener_visit, &v);
  free(gk);
  return 0;
}
