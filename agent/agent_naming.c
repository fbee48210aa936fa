/* naming.subscribe / unsubscribe / instances, naming pushes and the
 * naming redo (registrations live in agent_reg.c; host lists reach the
 * apps through agent_hosts_out.c). */
#include "agent_naming.h"
#include "agent_hosts_out.h"
#include "agent_reg.h"
#include "link.h"
#include "reply.h"
#include "hosts.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

static const char *up_ns(const char *ns) { return ns[0] ? ns : "public"; }

static cJSON *naming_body(const char *ns, const char *group, const char *service) {
  cJSON *b = cJSON_CreateObject();
  if (!b || !cJSON_AddObjectToObject(b, "headers") ||
      !cJSON_AddStringToObject(b, "namespace", up_ns(ns)) ||
      !cJSON_AddStringToObject(b, "serviceName", service) ||
      !cJSON_AddStringToObject(b, "groupName", group) ||
      !cJSON_AddStringToObject(b, "module", "naming")) {
    cJSON_Delete(b);
    return NULL;
  }
  return b;
}

/* An upstream subscribe in flight (s->pending) and the apps waiting for
 * its answer. */
typedef struct sub_ctx {
  nc_agent *ag;
  nc_ag_key k;
  nc_ag_waiter *waiters;
  int subscribe;
} sub_ctx;

/* Hosts for s from upstream (moved in), see nc_ag_hosts_apply: the apps
 * waiting on the subscribe in flight are answered by sub_done. */
static void apply_hosts(nc_agent *ag, nc_st_svc *s, cJSON *hosts, long long ref) {
  const sub_ctx *x = s->pending;
  nc_ag_hosts_apply(ag, s, hosts, ref, x ? x->waiters : NULL);
}

/* ---- subscriptions ---- */

static void sub_ctx_free(sub_ctx *x) {
  while (x->waiters) {
    nc_ag_waiter *w = x->waiters;
    x->waiters = w->next;
    nc_ag_waiter_free(w);
  }
  nc_ag_key_clear(&x->k);
  free(x);
}

/* Answers a subscriber from what the agent has without upstream: memory,
 * then disk. Returns 0 when answered. */
static int answer_stale(nc_agent *ag, nc_st_svc *s, nc_ipc_client *c, const cJSON *id,
                        const cJSON *clusters, int healthy_only, uint64_t *hash) {
  if (!s->hosts_json) {
    cJSON *h = NULL;
    if (nc_cache_get_hosts(ag->cache, s->ns, s->group, s->service, &h) != 0)
      return -1;
    int rc = nc_st_svc_set_hosts(s, h);
    cJSON_Delete(h);
    if (rc)
      return -1;
  }
  nc_ag_hosts_reply_svc(c, id, s, clusters, healthy_only, 1, hash);
  return 0;
}

/* Answers a subscriber the upstream cannot answer now (none, or a request
 * that failed on the way): from what the agent has, else an empty list,
 * both marked stale. Its subscription stays recorded: the redo on connect
 * (or the tick while connected) subscribes upstream, and the list that
 * comes back reaches the app as naming.changed unless it is the one it was
 * told here. */
static void answer_offline(nc_agent *ag, nc_st_svc *s, nc_ipc_client *c, const cJSON *id,
                           const cJSON *clusters) {
  nc_st_sub *sub = nc_st_svc_find(s, c);
  uint64_t hash = 0;
  if (answer_stale(ag, s, c, id, clusters, 0, &hash) != 0) {
    cJSON *none = cJSON_CreateArray();
    if (none)
      nc_ag_hosts_reply(c, id, none, NULL, 0, 1, &hash);
    else
      nc_ag_err(c, id, "INTERNAL", "out of memory");
    cJSON_Delete(none);
  }
  if (sub)
    sub->last_hash = hash;
}

static void sub_done(void *ud, int status, nc_msg *resp) {
  sub_ctx *x = ud;
  nc_agent *ag = x->ag;
  nc_st_svc *s = nc_st_svc_get(ag->st, x->k.ns, x->k.group, x->k.service);
  int ok = status == 0 && nc_ag_resp_ok(resp);
  if (s && s->pending == x) {
    s->pending = NULL;
    s->up_state = ok ? NC_ST_UP_DONE : NC_ST_UP_NONE;
  }
  if (ok) {
    const cJSON *si = cJSON_GetObjectItemCaseSensitive(resp->body, "serviceInfo");
    cJSON *hosts = nc_hosts_from_service_info(si);
    if (hosts && !s) {
      /* Every app unsubscribed while this was in flight (the upstream
       * unsubscribe is on its way): their subscribe still succeeded. */
      for (nc_ag_waiter *w = x->waiters; w; w = w->next)
        nc_ag_hosts_reply(w->c, w->id, hosts, w->clusters, 0, 0, NULL);
      cJSON_Delete(hosts);
      goto out;
    }
    if (hosts && nc_ag_hosts_older(s, nc_hosts_ref_time(si))) {
      /* A push overtook this answer: the waiters get the newer list held. */
      for (nc_ag_waiter *w = x->waiters; w; w = w->next) {
        nc_st_sub *sub = nc_st_svc_find(s, w->c);
        nc_ag_hosts_reply_svc(w->c, w->id, s, w->clusters, 0, 0, sub ? &sub->last_hash : NULL);
      }
      cJSON_Delete(hosts);
      goto out;
    }
    if (hosts) {
      /* Waiters get the list in their reply; mark them as told first so
       * the fan-out does not send them the same list as an event. */
      for (nc_ag_waiter *w = x->waiters; w; w = w->next) {
        nc_st_sub *sub = nc_st_svc_find(s, w->c);
        cJSON *f = nc_hosts_filter(hosts, w->clusters, 0);
        if (sub && f)
          sub->last_hash = nc_hosts_hash(f);
        if (f)
          nc_ag_hosts_reply(w->c, w->id, f, NULL, 0, 0, NULL);
        cJSON_Delete(f);
      }
      apply_hosts(ag, s, hosts, nc_hosts_ref_time(si));
      goto out;
    }
  }
  if (!ok)
    nc_log(status == NC_EUNAVAIL || status == NC_ECLOSED ? NC_LOG_DEBUG : NC_LOG_WARN,
           "naming: subscribe %s@@%s failed: %s", x->k.group, x->k.service,
           status ? nc_strerror(status) : "server error");
  /* A transport failure (timeout, connection gone, queue full) says nothing
   * about the subscription itself: it is kept and retried. A refusal by the
   * server, or the agent stopping, ends it. */
  int transient = status != 0 && status != NC_ECLOSED;
  for (nc_ag_waiter *w = x->waiters; w; w = w->next) {
    nc_st_sub *sub = s ? nc_st_svc_find(s, w->c) : NULL;
    uint64_t hash = 0;
    if (sub && transient) {
      answer_offline(ag, s, w->c, w->id, w->clusters);
      continue;
    }
    if (s && answer_stale(ag, s, w->c, w->id, w->clusters, 0, &hash) == 0) {
      if (sub)
        sub->last_hash = hash;
      continue;
    }
    if (status == 0)
      nc_ag_err_upstream(w->c, w->id, status, resp);
    else
      nc_ag_err(w->c, w->id, "UNAVAILABLE", "no upstream connection and nothing cached");
    /* The app was told no: do not keep its subscription. */
    int last = 0;
    if (s && nc_st_unsubscribe(ag->st, s, w->c, &last) == 0 && last) {
      nc_st_svc_remove(ag->st, s);
      s = NULL;
    }
  }
out:
  nc_msg_free(resp);
  sub_ctx_free(x);
}

static void unsub_done(void *ud, int status, nc_msg *resp) {
  sub_ctx *x = ud;
  if (status == 0 && !nc_ag_resp_ok(resp))
    nc_warn("naming: unsubscribe %s@@%s refused by the server", NC_LOG_ESC(x->k.group),
            NC_LOG_ESC(x->k.service));
  nc_msg_free(resp);
  sub_ctx_free(x);
}

static void send_subscribe(nc_agent *ag, nc_st_svc *s, int subscribe, nc_ag_waiter *w) {
  sub_ctx *x = calloc(1, sizeof(*x));
  cJSON *b = naming_body(s->ns, s->group, s->service);
  if (!x || !b || nc_ag_key_set(&x->k, s->ns, s->group, s->service) ||
      !cJSON_AddBoolToObject(b, "subscribe", subscribe) ||
      !cJSON_AddStringToObject(b, "clusters", "")) {
    cJSON_Delete(b);
    if (x)
      sub_ctx_free(x);
    if (w) {
      nc_ag_err(w->c, w->id, "INTERNAL", "out of memory");
      nc_ag_waiter_free(w);
    }
    return;
  }
  x->ag = ag;
  x->subscribe = subscribe;
  x->waiters = w;
  if (subscribe) {
    s->pending = x;
    s->up_state = NC_ST_UP_SENT;
    nc_ag_up(ag, "SubscribeServiceRequest", b, sub_done, x);
  } else {
    nc_ag_up(ag, "SubscribeServiceRequest", b, unsub_done, x);
  }
}

static int read_clusters(nc_ipc_client *c, const cJSON *id, const cJSON *req, cJSON **out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "clusters");
  const cJSON *e;
  *out = NULL;
  if (!v || cJSON_IsNull(v))
    return 0;
  if (!cJSON_IsArray(v))
    goto bad;
  cJSON_ArrayForEach(e, v) {
    if (!cJSON_IsString(e))
      goto bad;
  }
  if (cJSON_GetArraySize(v) == 0)
    return 0;
  *out = cJSON_Duplicate(v, 1);
  return 0;
bad:
  nc_ag_err(c, id, "BAD_REQUEST", "field 'clusters' must be an array of strings");
  return -1;
}

static void nc_ag_naming_subscribe(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ident k;
  cJSON *clusters = NULL;
  nc_st_svc *s = NULL;
  int first = 0;
  if (nc_ag_read_ident(c, id, req, &k) || read_clusters(c, id, req, &clusters))
    return;
  cJSON *mine = clusters ? cJSON_Duplicate(clusters, 1) : NULL;
  if (nc_st_subscribe(ag->st, k.ns, k.group, k.service, c, clusters, &s, &first) != 0) {
    cJSON_Delete(clusters);
    cJSON_Delete(mine);
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  nc_st_sub *sub = nc_st_svc_find(s, c);
  if (first)
    nc_debug("naming: first local subscriber of %s@@%s", NC_LOG_ESC(k.group),
             NC_LOG_ESC(k.service));
  if (s->fresh && s->hosts_json) {
    nc_ag_hosts_reply_svc(c, id, s, mine, 0, 0, &sub->last_hash);
    cJSON_Delete(mine);
    return;
  }
  if (ag->connected) {
    nc_ag_waiter *w = nc_ag_waiter_new(c, id);
    if (!w) {
      cJSON_Delete(mine);
      nc_ag_err(c, id, "INTERNAL", "out of memory");
      return;
    }
    w->clusters = mine;
    if (s->pending) {
      /* One upstream subscription per service: join the one in flight. */
      sub_ctx *x = s->pending;
      w->next = x->waiters;
      x->waiters = w;
      return;
    }
    send_subscribe(ag, s, 1, w);
    return;
  }
  /* No upstream: recorded for the redo, answered from what we have. */
  answer_offline(ag, s, c, id, mine);
  cJSON_Delete(mine);
}

void nc_ag_naming_svc_unused(nc_agent *ag, nc_st_svc *s) {
  if (ag->connected && s->up_state != NC_ST_UP_NONE)
    send_subscribe(ag, s, 0, NULL);
  nc_st_svc_remove(ag->st, s);
}

static void nc_ag_naming_unsubscribe(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ident k;
  int last = 0;
  if (nc_ag_read_ident(c, id, req, &k))
    return;
  nc_st_svc *s = nc_st_svc_get(ag->st, k.ns, k.group, k.service);
  if (!s || nc_st_unsubscribe(ag->st, s, c, &last) != 0) {
    nc_ag_err(c, id, "NOT_FOUND", "not subscribed to %s@@%s", k.group, k.service);
    return;
  }
  nc_ag_ok(c, id, NULL);
  if (last)
    nc_ag_naming_svc_unused(ag, s);
}

/* ---- one-off queries ---- */

typedef struct q_ctx {
  nc_agent *ag;
  nc_ag_key k;
  nc_ag_waiter *w;
} q_ctx;

static void query_done(void *ud, int status, nc_msg *resp) {
  q_ctx *x = ud;
  nc_agent *ag = x->ag;
  nc_ag_waiter *w = x->w;
  if (status == 0 && nc_ag_resp_ok(resp)) {
    const cJSON *si = cJSON_GetObjectItemCaseSensitive(resp->body, "serviceInfo");
    cJSON *hosts = nc_hosts_from_service_info(si);
    if (hosts) {
      nc_st_svc *s = nc_st_svc_get(ag->st, x->k.ns, x->k.group, x->k.service);
      /* A subscribed service's list (and its cache file) follows the
       * pushes; a query answer may be older than the last push. */
      if (!s)
        nc_cache_put_hosts(ag->cache, x->k.ns, x->k.group, x->k.service, hosts);
      if (w)
        nc_ag_hosts_reply(w->c, w->id, hosts, w->clusters, w->healthy_only, 0, NULL);
      /* Without a waiter this was a refresh of a subscribed service. */
      if (!w && s) {
        apply_hosts(ag, s, hosts, nc_hosts_ref_time(si));
        hosts = NULL;
      }
      cJSON_Delete(hosts);
      goto out;
    }
  }
  if (w) {
    cJSON *h = NULL;
    if (status != 0 &&
        nc_cache_get_hosts(ag->cache, x->k.ns, x->k.group, x->k.service, &h) == 0) {
      nc_ag_hosts_reply(w->c, w->id, h, w->clusters, w->healthy_only, 1, NULL);
      cJSON_Delete(h);
    } else if (status != 0) {
      nc_ag_err(w->c, w->id, status == NC_ETIMEOUT ? "TIMEOUT" : "UNAVAILABLE",
                "no upstream answer and nothing cached");
    } else {
      nc_ag_err_upstream(w->c, w->id, status, resp);
    }
  }
out:
  nc_msg_free(resp);
  nc_ag_key_clear(&x->k);
  nc_ag_waiter_free(x->w);
  free(x);
}

static void send_query(nc_agent *ag, const char *ns, const char *group, const char *service,
                       nc_ag_waiter *w) {
  q_ctx *x = calloc(1, sizeof(*x));
  cJSON *b = naming_body(ns, group, service);
  if (!x || !b || nc_ag_key_set(&x->k, ns, group, service) ||
      !cJSON_AddStringToObject(b, "cluster", "") || !cJSON_AddBoolToObject(b, "healthyOnly", 0) ||
      !cJSON_AddNumberToObject(b, "udpPort", 0)) {
    cJSON_Delete(b);
    if (x) {
      nc_ag_key_clear(&x->k);
      free(x);
    }
    if (w)
      nc_ag_err(w->c, w->id, "INTERNAL", "out of memory");
    nc_ag_waiter_free(w);
    return;
  }
  x->ag = ag;
  x->w = w;
  nc_ag_up(ag, "ServiceQueryRequest", b, query_done, x);
}

static void nc_ag_naming_instances(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ident k;
  int healthy_only = 0;
  cJSON *clusters = NULL;
  if (nc_ag_read_ident(c, id, req, &k) || nc_ag_read_bool(c, id, req, "healthy_only", 0, &healthy_only) ||
      read_clusters(c, id, req, &clusters))
    return;
  nc_st_svc *s = nc_st_svc_get(ag->st, k.ns, k.group, k.service);
  if (s && s->hosts_json && (s->fresh || !ag->connected)) {
    /* A subscribed service is kept current by pushes: no round trip. */
    nc_ag_hosts_reply_svc(c, id, s, clusters, healthy_only, !s->fresh, NULL);
    cJSON_Delete(clusters);
    return;
  }
  if (!ag->connected) {
    cJSON *h = NULL;
    if (nc_cache_get_hosts(ag->cache, k.ns, k.group, k.service, &h) == 0) {
      nc_ag_hosts_reply(c, id, h, clusters, healthy_only, 1, NULL);
      cJSON_Delete(h);
    } else {
      nc_ag_err(c, id, "UNAVAILABLE", "no upstream connection and nothing cached");
    }
    cJSON_Delete(clusters);
    return;
  }
  nc_ag_waiter *w = nc_ag_waiter_new(c, id);
  if (!w) {
    cJSON_Delete(clusters);
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  w->clusters = clusters;
  w->healthy_only = healthy_only;
  send_query(ag, k.ns, k.group, k.service, w);
}

/* ---- pushes, redo ---- */

void nc_ag_naming_push(nc_agent *ag, const cJSON *body) {
  const cJSON *si = cJSON_GetObjectItemCaseSensitive(body, "serviceInfo");
  const char *name = nc_json_str(si, "name", NULL);
  const char *group = nc_json_str(si, "groupName", "DEFAULT_GROUP");
  if (!name || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(si, "hosts")))
    return; /* as the Java SDK: a push without hosts is ignored */
  /* Old-style "group@@name" in `name`. */
  const char *at = strstr(name, "@@");
  char gbuf[600];
  if (at && (size_t)(at - name) < sizeof(gbuf)) {
    memcpy(gbuf, name, (size_t)(at - name));
    gbuf[at - name] = '\0';
    group = gbuf;
    name = at + 2;
  }
  /* Pushes carry no namespace. One match: use the pushed list; several
   * namespaces with the same group/service: ask for each one. */
  nc_st_svc *match[8];
  size_t n = 0;
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, nc_st_svcs(ag->st));
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    nc_st_svc *s = v;
    if (!strcmp(s->service, name) && !strcmp(s->group, group) && n < 8)
      match[n++] = s;
  }
  if (n == 1) {
    cJSON *hosts = nc_hosts_from_service_info(si);
    if (hosts)
      apply_hosts(ag, match[0], hosts, nc_hosts_ref_time(si));
  } else {
    for (size_t i = 0; i < n; i++)
      send_query(ag, match[i]->ns, match[i]->group, match[i]->service, NULL);
  }
}

static void redo_subscriptions(nc_agent *ag) {
  nc_strmap_iter it;
  void *v;
  size_t ns = 0;
  nc_strmap_iter_init(&it, nc_st_svcs(ag->st));
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    nc_st_svc *s = v;
    nc_ag_waiter *w = NULL;
    if (s->pending) {
      /* A subscribe still in flight belongs to the old connection and
       * will fail; its waiters move to the new one. */
      sub_ctx *old = s->pending;
      w = old->waiters;
      old->waiters = NULL;
    }
    send_subscribe(ag, s, 1, w);
    ns++;
  }
  nc_info("naming: redo %zu subscriptions", ns);
}

void nc_ag_naming_redo(nc_agent *ag) {
  size_t nr = nc_ag_reg_redo(ag, redo_subscriptions);
  nc_info("naming: redo %zu service registrations", nr);
}

void nc_ag_naming_disconnected(nc_agent *ag) {
  nc_strmap_iter it;
  void *v;
  nc_ag_reg_disconnected(ag);
  nc_strmap_iter_init(&it, nc_st_svcs(ag->st));
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    nc_st_svc *s = v;
    s->fresh = 0;
    s->last_ref = 0; /* another server's clock: stamps restart */
    if (!s->pending)
      s->up_state = NC_ST_UP_NONE;
  }
}

/* Every 3 s while connected (nacos-wire-protocol.md §12 agent 4): replay
 * what the server has not confirmed on this connection, e.g. after a
 * request timed out without the connection breaking. */
void nc_ag_naming_tick(nc_agent *ag) {
  nc_strmap_iter it;
  void *v;
  if (!ag->connected)
    return;
  nc_ag_reg_tick(ag);
  nc_strmap_iter_init(&it, nc_st_svcs(ag->st));
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    nc_st_svc *s = v;
    if (s->up_state == NC_ST_UP_NONE && !s->pending && s->n)
      send_subscribe(ag, s, 1, NULL);
  }
}

const nc_ag_op nc_ag_naming_ops[] = {
    {"naming.subscribe", nc_ag_naming_subscribe},
    {"naming.unsubscribe", nc_ag_naming_unsubscribe},
    {"naming.instances", nc_ag_naming_instances},
    {NULL, NULL},
};
