/* naming_pstore: see naming_pstore.h. The operations, the jobs' results
 * back on the loop, the peers' notices and the life cycle; the in-memory
 * mirror of the rows is naming_pstore_mirror.c. */
#include "naming_pstore.h"
#include "naming_pstore_int.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"
#include "nc_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *nc_npstore_kind_msg(char *buf, size_t cap, const char *group, const char *name,
                                int svc_persistent, const char *what) {
  /* NacosRuntimeException's text: "errCode: %d, errMsg: %s " */
  snprintf(buf, cap, "errCode: 400, errMsg: Current service %s@@%s is %s service, can't %s. ",
           group, name, svc_persistent ? "persistent" : "ephemeral", what);
  return buf;
}

static const char *store_msg(int rc) {
  return rc == NC_ECLOSED    ? "server is shutting down"
         : rc == NC_EUNAVAIL ? "persistent instance store unavailable"
         : rc == NC_ENOMEM   ? "out of memory"
                             : "persistent instance store failure";
}

static void tell_peers(nc_npstore *ps, const nc_nprow *r) {
  if (ps->notify)
    ps->notify(ps->notify_ud, r->ns, r->group, r->name);
}

static void on_timer(uv_timer_t *t) { nc_npstore_reload_all(t->data); }

/* A reload failed: a full one in a second (then the usual period again),
 * at most one a second while the store stays down. */
static void retry_soon(nc_npstore *ps) {
  if (!ps->stopped && ps->timer_ready)
    uv_timer_start(&ps->timer, on_timer, 1000, ps->reload_every);
}

/* A job back on the loop (or cancelled at stop). */
static void complete(void *ud, npjob *j) {
  nc_npstore *ps = ud;
  char ak[200];
  const nc_nprow *r = &j->row;
  if (j->kind == NPJ_LOAD_ALL || j->kind == NPJ_LOAD_SVC) {
    if (j->rc != NC_ECLOSED)
      nc_npm_apply_load(ps, j);
    if (j->rc && j->rc != NC_ECLOSED)
      retry_soon(ps); /* a peer's notice would be lost until the next full reload */
    if (j->kind == NPJ_LOAD_ALL && !j->rc && !j->chk_rc)
      nc_npm_apply_checkers(ps, j->chks, j->nchk);
    nc_npjob_free(j);
    return;
  }
  if (j->kind == NPJ_LOAD_CHK) {
    if (!j->rc)
      nc_npm_apply_checkers(ps, j->chks, j->nchk);
    nc_npjob_free(j);
    return;
  }
  if (j->rc) {
    ps->st.write_failures++;
    if (j->rc != NC_ECLOSED)
      nc_warn("persistent instance %s:%d of %s@@%s: write failed: %s", r->ip, r->port, r->group,
              NC_LOG_ESC(r->name), nc_strerror(j->rc));
  } else {
    ps->st.writes++;
    psvc *s = nc_npm_svc(ps, r->ns, r->group, r->name, 0);
    if (j->kind == NPJ_PUT) {
      nc_npm_upsert(ps, r);
      if ((s = nc_npm_svc(ps, r->ns, r->group, r->name, 0)) != NULL) {
        pent *e = nc_strmap_get(s->ents, nc_npm_addr_key(ak, sizeof(ak), r->ip, r->port));
        if (e)
          e->seen = 0;
      }
    } else if (j->kind == NPJ_DEL && s) {
      nc_npm_remove(ps, s, nc_npm_addr_key(ak, sizeof(ak), r->ip, r->port));
      nc_npm_svc_gc(ps, s);
    } else if (j->kind == NPJ_PUT_CHK) {
      char kb[1200];
      const char *k = nc_npm_chk_key(kb, sizeof(kb), r->ns, r->group, r->name, j->chk.cluster);
      char *json = strdup(j->chk.json);
      void *old = NULL;
      if (k && json && !nc_strmap_put(ps->chks, k, json, &old))
        free(old);
      else
        free(json);
      nc_info("persistent instances: health checker of %s@@%s cluster %s set: %s", r->group,
              NC_LOG_ESC(r->name), NC_LOG_ESC(j->chk.cluster), NC_LOG_ESC(j->chk.json));
    } else if (j->kind == NPJ_HEALTH && s) {
      pent *e = nc_strmap_get(s->ents, nc_npm_addr_key(ak, sizeof(ak), r->ip, r->port));
      if (e && j->existed && e->healthy != r->healthy) {
        e->healthy = r->healthy;
        ps->st.health_changes++;
        nc_info("persistent instance %s:%d of %s@@%s is now %s", r->ip, r->port, r->group,
                NC_LOG_ESC(r->name), r->healthy ? "healthy" : "unhealthy");
        nc_npm_publish(ps, e);
        tell_peers(ps, r);
      }
    }
    if (j->kind != NPJ_HEALTH)
      tell_peers(ps, r);
  }
  if (j->done)
    j->done(j->ud, j->rc, j->rc ? store_msg(j->rc) : NULL);
  nc_npjob_free(j);
}

/* ---- jobs ---- */

static npjob *job_new(npjob_kind kind, const char *ns, const char *group, const char *name,
                      const char *ip, int port) {
  npjob *j = calloc(1, sizeof(*j));
  if (!j)
    return NULL;
  j->kind = kind;
  j->row.ns = strdup(ns && *ns ? ns : "public");
  j->row.group = strdup(group ? group : "");
  j->row.name = strdup(name ? name : "");
  j->row.ip = strdup(ip ? ip : "");
  j->row.port = port;
  j->row.modified_ms = (int64_t)nc_now_ms();
  if (!j->row.ns || !j->row.group || !j->row.name || !j->row.ip) {
    nc_npjob_free(j);
    return NULL;
  }
  return j;
}

/* Queues j, or answers it NC_ECLOSED when stopped. */
static void submit(nc_npstore *ps, npjob *j) {
  if (ps->stopped || nc_npwork_submit(ps->work, j) != 0) {
    j->rc = NC_ECLOSED;
    if (j->done)
      j->done(j->ud, NC_ECLOSED, store_msg(NC_ECLOSED));
    nc_npjob_free(j);
  }
}

/* Queues a write for a caller (ok 0: building it ran out of memory). */
static void submit_for(nc_npstore *ps, npjob *j, int ok, nc_npstore_done_fn done, void *ud) {
  if (!j || !ok) {
    nc_npjob_free(j);
    done(ud, NC_ENOMEM, store_msg(NC_ENOMEM));
    return;
  }
  j->done = done;
  j->ud = ud;
  submit(ps, j);
}

/* Does the registry hold ephemeral (not "#false") publishers in the service? */
typedef struct eph_probe {
  int found;
} eph_probe;
static void eph_pub(void *ud, const char *client) {
  size_t n = strlen(client);
  if (n < 6 || strcmp(client + n - 6, "#false") != 0)
    ((eph_probe *)ud)->found = 1;
}

void nc_npstore_register(nc_npstore *ps, const char *ns, const char *group, const char *name,
                         const cJSON *inst, nc_npstore_done_fn done, void *ud) {
  char msg[1200];
  nc_ninst *probe = NULL;
  const char *err = NULL;
  int rc = nc_ninst_parse(inst, group, name, &probe, &err);
  if (rc) {
    done(ud, rc, rc == NC_EINVAL ? err : store_msg(rc));
    return;
  }
  nc_ninst_free(probe);
  eph_probe ep = {0};
  char kb[1024];
  const char *key = nc_nreg_key(kb, sizeof(kb), ns, group, name);
  if (key)
    nc_nreg_each_publisher(nc_naming_registry(ps->naming), key, eph_pub, &ep);
  if (ep.found) {
    done(ud, NC_ECONFLICT,
         nc_npstore_kind_msg(msg, sizeof(msg), group, name, 0, "register persistent instance"));
    return;
  }
  const cJSON *ipj = cJSON_GetObjectItemCaseSensitive(inst, "ip");
  int port = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(inst, "port"));
  cJSON *copy = cJSON_Duplicate(inst, 1);
  npjob *j = copy ? job_new(NPJ_PUT, ns, group, name, ipj->valuestring, port) : NULL;
  if (j) {
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(copy, "healthy");
    j->row.healthy = !cJSON_IsBool(h) || cJSON_IsTrue(h);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "ephemeral");
    cJSON_AddBoolToObject(copy, "ephemeral", 0);
    j->row.inst = cJSON_PrintUnformatted(copy);
  }
  cJSON_Delete(copy);
  submit_for(ps, j, j && j->row.inst, done, ud);
}

void nc_npstore_deregister(nc_npstore *ps, const char *ns, const char *group, const char *name,
                           const char *ip, int port, nc_npstore_done_fn done, void *ud) {
  submit_for(ps, job_new(NPJ_DEL, ns, group, name, ip, port), 1, done, ud);
}

void nc_npstore_set_health(nc_npstore *ps, const char *ns, const char *group, const char *name,
                           const char *ip, int port, int healthy) {
  char ak[200];
  psvc *s = nc_npm_svc(ps, ns, group, name, 0);
  pent *e = s ? nc_strmap_get(s->ents, nc_npm_addr_key(ak, sizeof(ak), ip, port)) : NULL;
  if (!e || e->healthy == !!healthy)
    return;
  npjob *j = job_new(NPJ_HEALTH, ns, group, name, ip, port);
  if (!j)
    return;
  j->row.healthy = !!healthy;
  submit(ps, j);
}

int nc_npstore_has_service(nc_npstore *ps, const char *ns, const char *group, const char *name) {
  psvc *s = nc_npm_svc(ps, ns, group, name, 0);
  return s && nc_strmap_count(s->ents) > 0;
}

void nc_npstore_reload_service(nc_npstore *ps, const char *ns, const char *group,
                               const char *name) {
  npjob *j = job_new(NPJ_LOAD_SVC, ns, group, name, NULL, 0);
  if (j)
    submit(ps, j);
}

void nc_npstore_reload_all(nc_npstore *ps) {
  if (ps->loading_all)
    return;
  npjob *j = job_new(NPJ_LOAD_ALL, NULL, NULL, NULL, NULL, 0);
  if (!j)
    return;
  ps->loading_all = 1;
  submit(ps, j);
}

void nc_npstore_set_checker(nc_npstore *ps, const char *ns, const char *group, const char *name,
                            const char *cluster, const char *json, nc_npstore_done_fn done,
                            void *ud) {
  npjob *j = job_new(NPJ_PUT_CHK, ns, group, name, NULL, 0);
  if (j) {
    j->chk.ns = strdup(j->row.ns);
    j->chk.group = strdup(j->row.group);
    j->chk.name = strdup(j->row.name);
    j->chk.cluster = strdup(cluster);
    j->chk.json = strdup(json);
  }
  submit_for(ps, j, j && j->chk.ns && j->chk.group && j->chk.name && j->chk.cluster && j->chk.json,
             done, ud);
}

void nc_npstore_set_notify(nc_npstore *ps, nc_npstore_notify_fn fn, void *ud) {
  ps->notify = fn;
  ps->notify_ud = ud;
}

/* ---- peers ---- */

static void h_sync(void *ud, nc_req *r, const nc_msg *m) {
  nc_npstore *ps = ud;
  const char *name = nc_json_str(m->body, "serviceName", "");
  const char *group = nc_json_str(m->body, "groupName", "");
  if (!*name || !*group || strlen(name) > 512 || strlen(group) > 256) {
    nc_req_fail(r, NULL, 400, "serviceName and groupName are required");
    return;
  }
  ps->st.peer_notices++;
  nc_npstore_reload_service(ps, nc_json_str(m->body, "namespace", ""), group, name);
  npjob *j = job_new(NPJ_LOAD_CHK, NULL, NULL, NULL, NULL, 0); /* a cluster setting may be new */
  if (j)
    submit(ps, j);
  nc_req_reply(r, NULL, NULL);
}

static const nc_handler_def handlers[] = {
    {"NcPersistentInstanceSyncRequest", "NcPersistentInstanceSyncResponse", h_sync,
     NC_H_CLUSTER | NC_H_NAMING},
};

/* ---- life cycle ---- */

int nc_npstore_new(uv_loop_t *loop, nc_srv *srv, nc_naming *n, const nc_npstore_opts *o,
                   nc_npstore **out) {
  nc_npstore *ps = calloc(1, sizeof(*ps));
  if (!ps || !(ps->svcs = nc_strmap_new()) || !(ps->chks = nc_strmap_new())) {
    if (ps)
      nc_strmap_free(ps->svcs, NULL);
    free(ps);
    return NC_ENOMEM;
  }
  ps->loop = loop;
  ps->srv = srv;
  ps->naming = n;
  nc_npdb_opts dbo = {o->backend, o->data_dir, o->db_url, o->timeout_ms};
  int rc = nc_npdb_open(&dbo, &ps->db);
  if (rc) {
    nc_strmap_free(ps->svcs, NULL);
    nc_strmap_free(ps->chks, NULL);
    free(ps);
    return rc;
  }
  /* Start-up load on the loop, before anything is served. */
  npjob *j = job_new(NPJ_LOAD_ALL, NULL, NULL, NULL, NULL, 0);
  if (j) {
    j->rc = nc_npdb_load(ps->db, NULL, NULL, NULL, &j->rows, &j->n);
    j->chk_rc = nc_npdb_load_checkers(ps->db, &j->chks, &j->nchk);
    complete(ps, j);
  }
  nc_info("persistent instances: %zu loaded from %s", ps->n_inst, nc_npdb_backend(ps->db));
  rc = nc_npwork_start(loop, ps->db, complete, ps, &ps->work);
  if (!rc)
    rc = NC_SRV_HANDLERS(srv, handlers, ps);
  if (rc) {
    nc_npwork_stop(ps->work);
    nc_npdb_close(ps->db);
    nc_strmap_free(ps->svcs, nc_npm_psvc_free);
    nc_strmap_free(ps->chks, free);
    free(ps);
    return rc;
  }
  ps->reload_every = (uint64_t)(o->reload_ms > 0 ? o->reload_ms : 30000);
  uv_timer_init(loop, &ps->timer);
  ps->timer.data = ps;
  ps->timer_ready = 1;
  /* a failed start-up load (store down) is tried again in a second */
  uv_timer_start(&ps->timer, on_timer, ps->st.reload_failures ? 1000 : ps->reload_every,
                 ps->reload_every);
  uv_unref((uv_handle_t *)&ps->timer);
  *out = ps;
  return 0;
}

void nc_npstore_stop(nc_npstore *ps) {
  if (!ps || ps->stopped)
    return;
  ps->stopped = 1;
  uv_timer_stop(&ps->timer);
  nc_npwork_stop(ps->work);
  ps->work = NULL;
  nc_npdb_close(ps->db);
  ps->db = NULL;
}

static void on_closed(uv_handle_t *h) {
  nc_npstore *ps = h->data;
  nc_strmap_free(ps->svcs, nc_npm_psvc_free);
  nc_strmap_free(ps->chks, free);
  free(ps);
}

void nc_npstore_free(nc_npstore *ps) {
  if (!ps)
    return;
  nc_npstore_stop(ps);
  uv_close((uv_handle_t *)&ps->timer, on_closed);
}

void nc_npstore_get_stats(const nc_npstore *ps, nc_npstore_stats *st) {
  *st = ps->st;
  st->instances = ps->n_inst;
  st->services = nc_strmap_count(ps->svcs);
}

void nc_npstore_render_metrics(const nc_npstore *ps, nc_metrics_text *t) {
  nc_npstore_stats s;
  nc_npstore_get_stats(ps, &s);
#define C(name, help, v) nc_metrics_add(t, "nacosd_", name, help, (uint64_t)(v))
  C("naming_persistent_instances", "Persistent (ephemeral=false) instances held.", s.instances);
  C("naming_persistent_writes_total", "Persistent instance writes committed by this node.",
    s.writes);
  C("naming_persistent_write_failures_total",
    "Persistent instance writes that failed (store down or refused).", s.write_failures);
  C("naming_persistent_health_changes_total",
    "Health changes of persistent instances decided by this node's checks.", s.health_changes);
  C("naming_persistent_reloads_total", "Reloads of persistent instances from the store.",
    s.reloads);
  C("naming_persistent_reload_failures_total", "Reloads that failed (store unavailable).",
    s.reload_failures);
  C("naming_persistent_peer_notices_total",
    "NcPersistentInstanceSyncRequests received from peers.", s.peer_notices);
#undef C
}
