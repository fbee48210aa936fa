/* naming_meta: see naming_meta.h. Memory, the registry hook and the
 * write path; the database runs on the worker (naming_meta_work.c). */
#include "naming_meta_int.h"

#include "nc_err.h"
#include "nc_log.h"
#include "nc_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *norm_ns(const char *ns) { return ns && *ns ? ns : "public"; }

const char *nc_nmi_key(char *buf, size_t cap, int kind, const char *svc_key,
                       const char *mkey) {
  int n = snprintf(buf, cap, "%c\n%s\n%s", kind, svc_key, mkey ? mkey : "");
  return n > 0 && (size_t)n < cap ? buf : NULL;
}

static void item_free(void *v) {
  item *it = v;
  if (!it)
    return;
  free(it->ns);
  free(it->group);
  free(it->name);
  free(it->mkey);
  cJSON_Delete(it->val);
  free(it);
}

static void count(nc_nmeta *m, const char *svc_key, int delta) {
  uintptr_t c = (uintptr_t)nc_strmap_get(m->counts, svc_key);
  c = (uintptr_t)((intptr_t)c + delta);
  if (c)
    nc_strmap_put(m->counts, svc_key, (void *)c, NULL);
  else
    nc_strmap_del(m->counts, svc_key);
}

/* Memory only: val (taken; NULL removes). Bumps the service when it
 * exists in the registry (its subscribers are pushed). */
static int set_mem(nc_nmeta *m, int kind, const char *ns, const char *group, const char *name,
                   const char *mkey, cJSON *val) {
  char sk[KEY_MAX], ik[KEY_MAX + 400];
  const char *svc = nc_nreg_key(sk, sizeof(sk), ns, group, name);
  const char *key = svc ? nc_nmi_key(ik, sizeof(ik), kind, svc, mkey) : NULL;
  if (!key) {
    cJSON_Delete(val);
    return NC_EINVAL;
  }
  item *old = nc_strmap_get(m->items, key);
  if (!val) {
    if (old) {
      nc_strmap_del(m->items, key);
      item_free(old);
      if (kind == NC_NMETA_INSTANCE)
        count(m, svc, -1);
    }
  } else if (old) {
    cJSON_Delete(old->val);
    old->val = val;
    old->seen_ms = nc_now_ms();
  } else {
    item *it = calloc(1, sizeof(*it));
    if (!it || !(it->ns = strdup(ns)) || !(it->group = strdup(group)) ||
        !(it->name = strdup(name)) || !(it->mkey = strdup(mkey ? mkey : "")) ||
        nc_strmap_put(m->items, key, it, NULL)) {
      item_free(it);
      cJSON_Delete(val);
      return NC_ENOMEM;
    }
    it->kind = kind;
    it->val = val;
    it->seen_ms = nc_now_ms();
    if (kind == NC_NMETA_INSTANCE)
      count(m, svc, +1);
  }
  nc_nreg_touch(nc_naming_registry(m->naming), svc);
  return 0;
}

/* ---- loading: memory becomes the rows read, only differences applied ---- */

/* A member's change may have reached memory after the rows were read
 * (remote_seq moved): the rows are then dropped and read again soon. */
static void apply_rows(nc_nmeta *m, const nc_nmeta_row *rows, size_t n) {
  char sk[KEY_MAX], ik[KEY_MAX + 400];
  size_t changed = 0, removed = 0;
  for (size_t i = 0; i < n; i++) {
    const nc_nmeta_row *r = &rows[i];
    const char *ns = norm_ns(r->ns);
    const char *svc = nc_nreg_key(sk, sizeof(sk), ns, r->group, r->name);
    const char *key = svc ? nc_nmi_key(ik, sizeof(ik), r->kind, svc, r->mkey) : NULL;
    cJSON *v = key ? cJSON_Parse(r->value) : NULL;
    if (!cJSON_IsObject(v)) {
      nc_warn("naming metadata: skipping a row of %s@@%s that is not a JSON object",
              NC_LOG_ESC(r->group), NC_LOG_ESC(r->name));
      cJSON_Delete(v);
      continue;
    }
    item *old = nc_strmap_get(m->items, key);
    if (old && cJSON_Compare(old->val, v, 1)) {
      old->seen = 1;
      cJSON_Delete(v);
      continue;
    }
    if (!set_mem(m, r->kind, ns, r->group, r->name, r->mkey, v)) {
      item *it = nc_strmap_get(m->items, key);
      if (it)
        it->seen = 1;
      changed++;
    }
  }
  /* what the store no longer holds */
  size_t cap = nc_strmap_count(m->items), ng = 0;
  item **gone = cap ? calloc(cap, sizeof(*gone)) : NULL;
  nc_strmap_iter it;
  void *v;
  for (nc_strmap_iter_init(&it, m->items); nc_strmap_iter_next(&it, NULL, &v);) {
    item *x = v;
    if (!x->seen && gone && ng < cap)
      gone[ng++] = x;
    x->seen = 0;
  }
  for (size_t i = 0; i < ng; i++, removed++)
    set_mem(m, gone[i]->kind, gone[i]->ns, gone[i]->group, gone[i]->name, gone[i]->mkey, NULL);
  free(gone);
  if (changed || removed)
    nc_info("naming metadata: store read: %zu value(s) changed, %zu removed", changed, removed);
}

static void on_timer(uv_timer_t *t);

static void schedule(nc_nmeta *m, uint64_t ms) {
  if (!m->stopped)
    uv_timer_start(&m->timer, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *t) {
  nc_nmeta *m = t->data;
  if (m->stopped || m->loading || (m->open && !m->shared))
    return;
  nmjob *j = calloc(1, sizeof(*j));
  if (!j) {
    schedule(m, m->retry_ms);
    return;
  }
  j->kind = m->open ? NMJ_LOAD : NMJ_OPEN;
  j->remote_seq = m->remote_seq;
  if (nc_nmwork_submit(m->work, j)) {
    nc_nmjob_free(j);
    return;
  }
  m->loading = 1;
}

static void loaded(nc_nmeta *m, nmjob *j) {
  m->loading = 0;
  if (j->rc)
    m->st.reload_failures++;
  else
    m->st.reloads++;
  if (j->rc) {
    if (!m->warned)
      nc_warn("naming metadata: store (%s) unavailable: %s; retrying every %llu ms",
              nc_nmeta_backend(m), nc_strerror(j->rc), (unsigned long long)m->retry_ms);
    m->warned = 1;
    schedule(m, m->retry_ms);
    return;
  }
  if (j->kind == NMJ_OPEN) {
    m->open = 1;
    nc_info("naming metadata: store (%s) available", nc_nmeta_backend(m));
  } else if (m->warned) {
    nc_info("naming metadata: store (%s) readable again", nc_nmeta_backend(m));
  }
  m->warned = 0;
  if (j->remote_seq != m->remote_seq) {
    schedule(m, m->retry_ms);
    return;
  }
  apply_rows(m, j->rows, j->nrows);
  if (m->shared)
    schedule(m, m->reload_ms);
}

static void written(nc_nmeta *m, nmjob *j) {
  if (!j->rc)
    m->st.writes++;
  else if (j->rc != NC_ECLOSED)
    m->st.write_failures++;
  for (size_t i = 0; !j->rc && !m->stopped && i < j->nops; i++) {
    nmop *op = &j->ops[i];
    cJSON *val = op->val;
    op->val = NULL;
    if (set_mem(m, op->kind, j->ns, j->group, j->name, op->mkey, val))
      continue;
    if (!j->remote && m->fn)
      m->fn(m->ud, op->kind, j->ns, j->group, j->name, op->mkey,
            nc_nmeta_get(m, op->kind, j->ns, j->group, j->name, op->mkey));
  }
  if (j->rc && j->rc != NC_ECLOSED) {
    nc_error("naming metadata: write of %s@@%s failed: %s", NC_LOG_ESC(j->group),
             NC_LOG_ESC(j->name), nc_strerror(j->rc));
    for (size_t i = 0; !m->stopped && i < j->nops; i++) { /* an expiry is tried again */
      char sk[KEY_MAX], ik[KEY_MAX + 400];
      const char *svc = nc_nreg_key(sk, sizeof(sk), j->ns, j->group, j->name);
      item *it = svc && nc_nmi_key(ik, sizeof(ik), j->ops[i].kind, svc, j->ops[i].mkey)
                     ? nc_strmap_get(m->items, ik)
                     : NULL;
      if (it)
        it->expiring = 0;
    }
  }
  if (j->done)
    j->done(j->ud, j->rc);
}

static void complete(void *ud, nmjob *j) {
  nc_nmeta *m = ud;
  if (j->kind == NMJ_WRITE)
    written(m, j);
  else if (!m->stopped)
    loaded(m, j);
  nc_nmjob_free(j);
}

/* ---- public ---- */

int nc_nmeta_open(uv_loop_t *loop, nc_naming *n, const nc_nmeta_opts *o, nc_nmeta **out) {
  nc_nmeta_row *rows = NULL;
  nc_nmeta_db *db = NULL;
  size_t nrows = 0;
  int pg = o->backend && !strcasecmp(o->backend, "postgresql");
  if (o->backend && !pg && strcasecmp(o->backend, "sqlite"))
    return NC_EINVAL;
  nc_nmeta *m = calloc(1, sizeof(*m));
  if (!m || !(m->items = nc_strmap_new()) || !(m->counts = nc_strmap_new()))
    goto fail;
  m->naming = n;
  m->shared = pg;
  m->reload_ms = (uint64_t)(o->reload_ms > 0 ? o->reload_ms : 30000);
  m->retry_ms = (uint64_t)(o->retry_ms > 0 ? o->retry_ms : 2000);
  m->expire_ms = (uint64_t)(o->expire_ms > 0 ? o->expire_ms : 60000);
  m->now_ms = nc_now_ms();
  /* the start-up load runs here, before anything is served */
  int rc = nc_nmeta_db_open(o, &db);
  if (!rc && (rc = nc_nmeta_db_load(db, &rows, &nrows))) {
    nc_nmeta_db_close(db);
    db = NULL;
  }
  if (rc == NC_ENOMEM)
    goto fail;
  m->open = db != NULL;
  if (m->open)
    m->st.reloads++;
  else
    m->st.reload_failures++;
  apply_rows(m, rows, nrows);
  nc_nmeta_rows_free(rows, nrows);
  if (nc_nmwork_start(loop, db, o, complete, m, &m->work)) /* db taken */
    goto fail;
  uv_timer_init(loop, &m->timer);
  uv_timer_init(loop, &m->sweep);
  m->timer.data = m->sweep.data = m;
  m->closing = 2;
  uv_unref((uv_handle_t *)&m->timer);
  uv_unref((uv_handle_t *)&m->sweep);
  /* Nacos checks every 5 s; a short expiry (tests) is checked more often */
  uint64_t every = m->expire_ms / 2 < 5000 ? m->expire_ms / 2 : 5000;
  uv_timer_start(&m->sweep, nc_nmh_sweep, every > 20 ? every : 20, every > 20 ? every : 20);
  if (!m->open) {
    nc_error("naming metadata store (%s) unavailable: %s; service and instance metadata "
             "writes are refused until it opens (tried every %llu ms)",
             nc_nmeta_backend(m), nc_strerror(rc), (unsigned long long)m->retry_ms);
    m->warned = 1;
    schedule(m, m->retry_ms);
  } else if (m->shared) {
    schedule(m, m->reload_ms);
  }
  nc_nmh_install(m);
  nc_info("naming metadata: %zu service(s) and instance override(s) loaded (%s)",
          nc_strmap_count(m->items), nc_nmeta_backend(m));
  *out = m;
  return 0;
fail:
  if (m) {
    nc_strmap_free(m->items, item_free);
    nc_strmap_free(m->counts, NULL);
  }
  free(m);
  return NC_ENOMEM;
}

static void on_closed(uv_handle_t *h) {
  nc_nmeta *m = h->data;
  if (--m->closing)
    return;
  nc_strmap_free(m->items, item_free);
  nc_strmap_free(m->counts, NULL);
  free(m);
}

void nc_nmeta_free(nc_nmeta *m) {
  if (!m)
    return;
  nc_nreg_set_host_hook(nc_naming_registry(m->naming), NULL);
  m->stopped = 1;
  uv_timer_stop(&m->timer);
  uv_timer_stop(&m->sweep);
  nc_nmwork_stop(m->work); /* queued writes answer NC_ECLOSED */
  m->work = NULL;
  uv_close((uv_handle_t *)&m->timer, on_closed);
  uv_close((uv_handle_t *)&m->sweep, on_closed);
}

int nc_nmeta_available(const nc_nmeta *m) { return m && m->open && !m->stopped; }

const cJSON *nc_nmeta_get(nc_nmeta *m, int kind, const char *ns, const char *group,
                          const char *name, const char *mkey) {
  char sk[KEY_MAX], ik[KEY_MAX + 400];
  const char *svc = nc_nreg_key(sk, sizeof(sk), norm_ns(ns), group, name);
  const item *it = svc && nc_nmi_key(ik, sizeof(ik), kind, svc, mkey) ? nc_strmap_get(m->items, ik)
                                                                    : NULL;
  return it ? it->val : NULL;
}

static int valid(const char *ns, const char *group, const char *name) {
  return group && name && strlen(ns) <= 128 && strlen(group) <= 128 && strlen(name) <= 512;
}

/* The job writing ops (copied), or NULL: *rc says why. */
static nmjob *job_new(const char *ns, const char *group, const char *name,
                      const nc_nmeta_op *ops, size_t n, int *rc) {
  *rc = NC_EINVAL;
  if (!valid(ns, group, name) || !n)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    const char *mk = ops[i].mkey ? ops[i].mkey : "";
    if ((ops[i].kind != NC_NMETA_SERVICE && ops[i].kind != NC_NMETA_INSTANCE) ||
        strlen(mk) > 320 || (ops[i].val && !cJSON_IsObject(ops[i].val)))
      return NULL;
  }
  *rc = NC_ENOMEM;
  nmjob *j = calloc(1, sizeof(*j));
  if (!j || !(j->ops = calloc(n, sizeof(*j->ops))) || !(j->ns = strdup(ns)) ||
      !(j->group = strdup(group)) || !(j->name = strdup(name)))
    goto fail;
  j->kind = NMJ_WRITE;
  for (size_t i = 0; i < n; i++, j->nops++) {
    nmop *op = &j->ops[i];
    op->kind = ops[i].kind;
    if (!(op->mkey = strdup(ops[i].mkey ? ops[i].mkey : "")))
      goto fail;
    if (ops[i].val && (!(op->val = cJSON_Duplicate(ops[i].val, 1)) ||
                       !(op->text = cJSON_PrintUnformatted(op->val))))
      goto fail;
  }
  *rc = 0;
  return j;
fail:
  if (j && j->ops)
    j->nops = n; /* every op slot is zeroed or filled */
  nc_nmjob_free(j);
  return NULL;
}

static int submit(nc_nmeta *m, nmjob *j) {
  int rc = nc_nmwork_submit(m->work, j);
  if (rc)
    nc_nmjob_free(j);
  return rc ? NC_EUNAVAIL : 0;
}

int nc_nmeta_write(nc_nmeta *m, const char *ns, const char *group, const char *name,
                   const nc_nmeta_op *ops, size_t n, nc_nmeta_done_fn done, void *ud) {
  if (!nc_nmeta_available(m))
    return NC_EUNAVAIL;
  int rc;
  nmjob *j = job_new(norm_ns(ns), group, name, ops, n, &rc);
  if (!j)
    return rc;
  j->done = done;
  j->ud = ud;
  return submit(m, j);
}

int nc_nmeta_put(nc_nmeta *m, int kind, const char *ns, const char *group, const char *name,
                 const char *mkey, const cJSON *val, nc_nmeta_done_fn done, void *ud) {
  nc_nmeta_op op = {kind, mkey, val};
  return nc_nmeta_write(m, ns, group, name, &op, 1, done, ud);
}

int nc_nmeta_delete_service(nc_nmeta *m, const char *ns, const char *group, const char *name,
                            nc_nmeta_done_fn done, void *ud) {
  ns = norm_ns(ns);
  if (!valid(ns, group, name))
    return NC_EINVAL;
  size_t cap = 1 + nc_nmeta_instance_count(m, ns, group, name), n = 0;
  nc_nmeta_op *ops = calloc(cap, sizeof(*ops));
  if (!ops)
    return NC_ENOMEM;
  ops[n++] = (nc_nmeta_op){NC_NMETA_SERVICE, "", NULL};
  nc_strmap_iter it;
  void *v;
  for (nc_strmap_iter_init(&it, m->items); nc_strmap_iter_next(&it, NULL, &v);) {
    const item *x = v;
    if (x->kind == NC_NMETA_INSTANCE && n < cap && !strcmp(x->ns, ns) &&
        !strcmp(x->group, group) && !strcmp(x->name, name))
      ops[n++] = (nc_nmeta_op){NC_NMETA_INSTANCE, x->mkey, NULL};
  }
  int rc = nc_nmeta_write(m, ns, group, name, ops, n, done, ud);
  free(ops);
  return rc;
}

int nc_nmeta_apply_remote(nc_nmeta *m, int kind, const char *ns, const char *group,
                          const char *name, const char *mkey, const cJSON *val) {
  nc_nmeta_op op = {kind, mkey, val};
  int rc;
  ns = norm_ns(ns);
  nmjob *j = job_new(ns, group, name, &op, 1, &rc);
  if (!j)
    return rc;
  if (!m->shared) { /* stored here too */
    if (!nc_nmeta_available(m)) {
      nc_nmjob_free(j);
      return NC_EUNAVAIL;
    }
    j->remote = 1;
    return submit(m, j);
  }
  /* a shared database already has it: the member wrote it */
  m->remote_seq++;
  rc = set_mem(m, kind, ns, group, name, j->ops[0].mkey, j->ops[0].val);
  j->ops[0].val = NULL;
  nc_nmjob_free(j);
  return rc;
}

void nc_nmeta_set_listener(nc_nmeta *m, nc_nmeta_change_fn fn, void *ud) {
  m->fn = fn;
  m->ud = ud;
}

size_t nc_nmeta_instance_count(nc_nmeta *m, const char *ns, const char *group, const char *name) {
  char sk[KEY_MAX];
  const char *svc = nc_nreg_key(sk, sizeof(sk), norm_ns(ns), group, name);
  return svc ? (size_t)(uintptr_t)nc_strmap_get(m->counts, svc) : 0;
}

void nc_nmeta_each_service(nc_nmeta *m, const char *ns, const char *group,
                           void (*fn)(void *ud, const char *name, const cJSON *val), void *ud) {
  nc_strmap_iter it;
  void *v;
  ns = norm_ns(ns);
  for (nc_strmap_iter_init(&it, m->items); nc_strmap_iter_next(&it, NULL, &v);) {
    const item *x = v;
    if (x->kind == NC_NMETA_SERVICE && !strcmp(x->ns, ns) && (!group || !strcmp(x->group, group)))
      fn(ud, x->name, x->val);
  }
}

const char *nc_nmeta_backend(const nc_nmeta *m) { return m->shared ? "postgresql" : "sqlite"; }
