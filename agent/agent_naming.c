/* naming.* ops, naming pushes and the naming redo. */
#include "agent_core.h"
#include "hosts.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

/* Identifies a service across an upstream round trip: entries may be gone
 * (or re-created) by the time the answer comes, so look them up again. */
typedef struct svc_key {
  char *ns, *group, *service;
} svc_key;

static int key_set(svc_key *k, const char *ns, const char *group, const char *service) {
  k->ns = strdup(ns);
  k->group = strdup(group);
  k->service = strdup(service);
  return k->ns && k->group && k->service ? 0 : NC_ENOMEM;
}

static void key_clear(svc_key *k) {
  free(k->ns);
  free(k->group);
  free(k->service);
}

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

/* Common identity fields of every naming op. */
typedef struct ident {
  const char *ns, *group, *service;
} ident;

static int read_ident(nc_ipc_client *c, const cJSON *id, const cJSON *req, ident *o) {
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
static int read_addr(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char **ip,
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

static int read_bool(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char *key,
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

/* ---- host lists to subscribers ---- */

static void send_changed(nc_ipc_client *c, const nc_st_svc *s, cJSON *hosts) {
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    cJSON_Delete(hosts);
    return;
  }
  cJSON_AddStringToObject(o, "event", "naming.changed");
  cJSON_AddStringToObject(o, "namespace", s->ns);
  cJSON_AddStringToObject(o, "group", s->group);
  cJSON_AddStringToObject(o, "service", s->service);
  cJSON_AddItemToObject(o, "hosts", hosts);
  nc_ipc_client_send_json(c, o);
  cJSON_Delete(o);
}

/* Tells every subscriber whose view changed; never the same list twice.
 * hosts is the service's new list (borrowed). */
static void fanout(nc_st_svc *s, const cJSON *hosts) {
  for (size_t i = 0; i < s->n; i++) {
    nc_st_sub *sub = &s->subs[i];
    cJSON *h = nc_hosts_filter(hosts, sub->clusters, 0);
    if (!h)
      continue;
    uint64_t hash = nc_hosts_hash(h);
    if (hash == sub->last_hash) {
      cJSON_Delete(h);
      continue;
    }
    sub->last_hash = hash;
    send_changed(sub->owner, s, h);
  }
}

/* New hosts for a subscribed service (moved in): memory, disk, fan-out. */
static void apply_hosts(nc_agent *ag, nc_st_svc *s, cJSON *hosts) {
  if (nc_st_svc_set_hosts(s, hosts) == 0) {
    s->fresh = 1;
    nc_cache_put_hosts(ag->cache, s->ns, s->group, s->service, hosts);
    fanout(s, hosts);
  }
  cJSON_Delete(hosts);
}

static void reply_hosts(nc_ipc_client *c, const cJSON *id, const cJSON *hosts,
                        const cJSON *clusters, int healthy_only, int stale, uint64_t *hash) {
  cJSON *r = cJSON_CreateObject();
  cJSON *h = nc_hosts_filter(hosts, clusters, healthy_only);
  if (!r || !h) {
    cJSON_Delete(r);
    cJSON_Delete(h);
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  if (hash)
    *hash = nc_hosts_hash(h);
  cJSON_AddItemToObject(r, "hosts", h);
  if (stale)
    cJSON_AddBoolToObject(r, "stale", 1);
  nc_ag_ok(c, id, r);
}

/* Answers with a service's stored list. Without a filter the stored JSON
 * text is spliced into the reply: the hot path of naming.instances and
 * naming.subscribe builds no cJSON tree at all. */
static void reply_svc(nc_ipc_client *c, const cJSON *id, const nc_st_svc *s,
                      const cJSON *clusters, int healthy_only, int stale, uint64_t *hash) {
  if (clusters || healthy_only || !s->hosts_json) {
    cJSON *h = nc_st_svc_hosts(s);
    reply_hosts(c, id, h, clusters, healthy_only, stale, hash);
    cJSON_Delete(h);
    return;
  }
  char *ids = id ? cJSON_PrintUnformatted(id) : NULL;
  size_t n = strlen(s->hosts_json) + (ids ? strlen(ids) : 4) + 64;
  char *buf = malloc(n);
  if (buf) {
    int len = snprintf(buf, n, "{\"id\":%s,\"ok\":true,\"hosts\":%s%s}", ids ? ids : "null",
                       s->hosts_json, stale ? ",\"stale\":true" : "");
    nc_ipc_client_send(c, buf, (size_t)len);
    if (hash)
      *hash = s->hosts_hash;
  } else {
    nc_ag_err(c, id, "INTERNAL", "out of memory");
  }
  free(buf);
  free(ids);
}

/* ---- registrations ---- */

typedef struct reg_ctx {
  nc_agent *ag;
  svc_key k;
  nc_ag_waiter *w;     /* register only */
  nc_st_inst probe;    /* identity of the registered instance (ip/port/cluster) */
  void *owner;
  uint64_t gen;        /* the entry's gen this request carries */
} reg_ctx;

static void reg_ctx_free(reg_ctx *x) {
  key_clear(&x->k);
  free(x->probe.ip);
  free(x->probe.cluster);
  nc_ag_waiter_free(x->w);
  free(x);
}

static void reg_sent(void *ud, int status, nc_msg *resp);

/* Sends the full current set of r upstream (or a deregister when empty). */
static void sync_reg(nc_agent *ag, nc_st_reg *r, reg_ctx *x) {
  const char *type = NULL;
  cJSON *body = NULL;
  if (!x) {
    x = calloc(1, sizeof(*x));
    if (!x || key_set(&x->k, r->ns, r->group, r->service)) {
      if (x)
        reg_ctx_free(x);
      return;
    }
    x->ag = ag;
  }
  x->gen = r->gen;
  r->inflight++;
  if (nc_st_reg_request(r, &type, &body) != 0) {
    reg_sent(x, NC_ENOMEM, NULL);
    return;
  }
  nc_ag_up(ag, type, body, reg_sent, x);
}

static void reg_sent(void *ud, int status, nc_msg *resp) {
  reg_ctx *x = ud;
  nc_agent *ag = x->ag;
  int ok = status == 0 && nc_ag_resp_ok(resp);
  nc_st_reg *r = nc_st_reg_get(ag->st, x->k.ns, x->k.group, x->k.service);
  if (r && x->gen) {
    r->inflight--;
    /* A refusal is final (retrying cannot help); a transport failure is
     * retried by the periodic redo. */
    if (status == 0 && x->gen > r->applied_gen && ag->connected)
      r->applied_gen = x->gen;
  }
  if (status == 0 && !ok) {
    nc_warn("naming: server rejected the instances of %s@@%s: %s", x->k.group, x->k.service,
            nc_json_str(resp->body_error ? NULL : resp->body, "message", "?"));
  }
  if (x->w) {
    if (ok || status != 0) {
      /* status != 0: no connection now; the redo on connect applies it. */
      cJSON *res = cJSON_CreateObject();
      char *iid = nc_st_instance_id(x->probe.ip, x->probe.port, x->probe.cluster, x->k.group,
                                    x->k.service);
      if (res && iid) {
        cJSON_AddStringToObject(res, "instance_id", iid);
        cJSON_AddBoolToObject(res, "applied", ok);
      }
      free(iid);
      nc_ag_ok(x->w->c, x->w->id, res);
    } else {
      /* The server refused it: take it back out so that the rest of the
       * set keeps going through, and say why. */
      nc_ag_err_upstream(x->w->c, x->w->id, status, resp);
      nc_st_reg *rr = NULL;
      if (r && nc_st_deregister(ag->st, x->k.ns, x->k.group, x->k.service, x->probe.ip,
                                x->probe.port, x->probe.cluster, &rr) == 0) {
        nc_msg_free(resp);
        nc_ag_waiter_free(x->w);
        x->w = NULL;
        sync_reg(ag, rr, x);
        return;
      }
    }
  }
  /* An empty set has now been deregistered (or there is no connection to
   * hold it): forget the entry unless someone registered again meanwhile. */
  if (r && r->n == 0 && (ok || !ag->connected))
    nc_st_reg_gc(ag->st, r);
  nc_msg_free(resp);
  reg_ctx_free(x);
}

void nc_ag_naming_register(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  ident k;
  const char *ip, *cluster;
  int port;
  nc_st_inst in = {0};
  if (read_ident(c, id, req, &k) || read_addr(c, id, req, &ip, &port, &cluster))
    return;
  if (read_bool(c, id, req, "healthy", 1, &in.healthy) ||
      read_bool(c, id, req, "enabled", 1, &in.enabled) ||
      read_bool(c, id, req, "ephemeral", 1, &in.ephemeral))
    return;
  if (!in.ephemeral) {
    nc_ag_err(c, id, "BAD_REQUEST", "only ephemeral instances can be registered via the agent");
    return;
  }
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(req, "weight");
  in.weight = 1.0;
  if (w && !cJSON_IsNull(w)) {
    if (!cJSON_IsNumber(w) || w->valuedouble < 0 || w->valuedouble > 10000) {
      nc_ag_err(c, id, "BAD_REQUEST", "field 'weight' must be a number 0..10000");
      return;
    }
    in.weight = w->valuedouble;
  }
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(req, "metadata");
  if (md && !cJSON_IsNull(md)) {
    const cJSON *e;
    if (!cJSON_IsObject(md)) {
      nc_ag_err(c, id, "BAD_REQUEST", "field 'metadata' must be an object of strings");
      return;
    }
    cJSON_ArrayForEach(e, md) {
      if (!cJSON_IsString(e)) {
        nc_ag_err(c, id, "BAD_REQUEST", "metadata '%.100s' must be a string", e->string);
        return;
      }
    }
  }
  in.ip = strdup(ip);
  in.cluster = strdup(cluster);
  in.port = port;
  in.owner = c;
  in.metadata = md && cJSON_IsObject(md) ? cJSON_Duplicate(md, 1) : cJSON_CreateObject();
  reg_ctx *x = calloc(1, sizeof(*x));
  nc_st_reg *r = NULL;
  if (!in.ip || !in.cluster || !in.metadata || !x ||
      key_set(&x->k, k.ns, k.group, k.service) || !(x->probe.ip = strdup(ip)) ||
      !(x->probe.cluster = strdup(cluster)) ||
      nc_st_register(ag->st, k.ns, k.group, k.service, &in, &r) != 0) {
    nc_st_inst_clear(&in);
    if (x)
      reg_ctx_free(x);
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  x->ag = ag;
  x->probe.port = port;
  x->owner = c;
  nc_debug("naming: register %s:%d in %s@@%s (%zu local)", ip, port, k.group, k.service, r->n);
  x->w = nc_ag_waiter_new(c, id);
  if (!ag->connected) {
    reg_sent(x, NC_EUNAVAIL, NULL);
    return;
  }
  sync_reg(ag, r, x);
}

void nc_ag_naming_deregister(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  ident k;
  const char *ip, *cluster;
  int port;
  nc_st_reg *r = NULL;
  if (read_ident(c, id, req, &k) || read_addr(c, id, req, &ip, &port, &cluster))
    return;
  if (nc_st_deregister(ag->st, k.ns, k.group, k.service, ip, port, cluster, &r) != 0) {
    nc_ag_err(c, id, "NOT_FOUND", "no such instance registered via this agent");
    return;
  }
  nc_ag_ok(c, id, NULL);
  nc_ag_naming_reg_changed(ag, r);
}

void nc_ag_naming_reg_changed(nc_agent *ag, nc_st_reg *r) {
  if (!ag->connected) {
    nc_st_reg_gc(ag->st, r);
    return;
  }
  sync_reg(ag, r, NULL);
}

/* ---- subscriptions ---- */

typedef struct sub_ctx {
  nc_agent *ag;
  svc_key k;
  nc_ag_waiter *waiters;
  int subscribe;
} sub_ctx;

static void sub_ctx_free(sub_ctx *x) {
  while (x->waiters) {
    nc_ag_waiter *w = x->waiters;
    x->waiters = w->next;
    nc_ag_waiter_free(w);
  }
  key_clear(&x->k);
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
  reply_svc(c, id, s, clusters, healthy_only, 1, hash);
  return 0;
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
  if (ok && s) {
    const cJSON *si = cJSON_GetObjectItemCaseSensitive(resp->body, "serviceInfo");
    cJSON *hosts = nc_hosts_from_service_info(si);
    if (hosts) {
      /* Waiters get the list in their reply; mark them as told first so
       * the fan-out does not send them the same list as an event. */
      for (nc_ag_waiter *w = x->waiters; w; w = w->next) {
        nc_st_sub *sub = nc_st_svc_find(s, w->c);
        cJSON *f = nc_hosts_filter(hosts, w->clusters, 0);
        if (sub && f)
          sub->last_hash = nc_hosts_hash(f);
        if (f)
          reply_hosts(w->c, w->id, f, NULL, 0, 0, NULL);
        cJSON_Delete(f);
      }
      apply_hosts(ag, s, hosts);
      goto out;
    }
  }
  if (!ok)
    nc_log(status == NC_EUNAVAIL || status == NC_ECLOSED ? NC_LOG_DEBUG : NC_LOG_WARN,
           "naming: subscribe %s@@%s failed: %s", x->k.group, x->k.service,
           status ? nc_strerror(status) : "server error");
  for (nc_ag_waiter *w = x->waiters; w; w = w->next) {
    nc_st_sub *sub = s ? nc_st_svc_find(s, w->c) : NULL;
    uint64_t hash = 0;
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
    nc_warn("naming: unsubscribe %s@@%s refused by the server", x->k.group, x->k.service);
  nc_msg_free(resp);
  sub_ctx_free(x);
}

static void send_subscribe(nc_agent *ag, nc_st_svc *s, int subscribe, nc_ag_waiter *w) {
  sub_ctx *x = calloc(1, sizeof(*x));
  cJSON *b = naming_body(s->ns, s->group, s->service);
  if (!x || !b || key_set(&x->k, s->ns, s->group, s->service) ||
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

void nc_ag_naming_subscribe(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  ident k;
  cJSON *clusters = NULL;
  nc_st_svc *s = NULL;
  int first = 0;
  if (read_ident(c, id, req, &k) || read_clusters(c, id, req, &clusters))
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
    nc_debug("naming: first local subscriber of %s@@%s", k.group, k.service);
  if (s->fresh && s->hosts_json) {
    reply_svc(c, id, s, mine, 0, 0, &sub->last_hash);
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
  if (answer_stale(ag, s, c, id, mine, 0, &sub->last_hash) != 0) {
    int last = 0;
    nc_ag_err(c, id, "UNAVAILABLE", "no upstream connection and nothing cached");
    if (nc_st_unsubscribe(ag->st, s, c, &last) == 0 && last)
      nc_st_svc_remove(ag->st, s);
  }
  cJSON_Delete(mine);
}

void nc_ag_naming_svc_unused(nc_agent *ag, nc_st_svc *s) {
  if (ag->connected && s->up_state != NC_ST_UP_NONE)
    send_subscribe(ag, s, 0, NULL);
  nc_st_svc_remove(ag->st, s);
}

void nc_ag_naming_unsubscribe(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  ident k;
  int last = 0;
  if (read_ident(c, id, req, &k))
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
  svc_key k;
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
      nc_cache_put_hosts(ag->cache, x->k.ns, x->k.group, x->k.service, hosts);
      if (w)
        reply_hosts(w->c, w->id, hosts, w->clusters, w->healthy_only, 0, NULL);
      /* Without a waiter this was a refresh of a subscribed service. */
      nc_st_svc *s = nc_st_svc_get(ag->st, x->k.ns, x->k.group, x->k.service);
      if (!w && s) {
        apply_hosts(ag, s, hosts);
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
      reply_hosts(w->c, w->id, h, w->clusters, w->healthy_only, 1, NULL);
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
  key_clear(&x->k);
  nc_ag_waiter_free(x->w);
  free(x);
}

static void send_query(nc_agent *ag, const char *ns, const char *group, const char *service,
                       nc_ag_waiter *w) {
  q_ctx *x = calloc(1, sizeof(*x));
  cJSON *b = naming_body(ns, group, service);
  if (!x || !b || key_set(&x->k, ns, group, service) ||
      !cJSON_AddStringToObject(b, "cluster", "") || !cJSON_AddBoolToObject(b, "healthyOnly", 0) ||
      !cJSON_AddNumberToObject(b, "udpPort", 0)) {
    cJSON_Delete(b);
    if (x) {
      key_clear(&x->k);
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

void nc_ag_naming_instances(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  ident k;
  int healthy_only = 0;
  cJSON *clusters = NULL;
  if (read_ident(c, id, req, &k) || read_bool(c, id, req, "healthy_only", 0, &healthy_only) ||
      read_clusters(c, id, req, &clusters))
    return;
  nc_st_svc *s = nc_st_svc_get(ag->st, k.ns, k.group, k.service);
  if (s && s->hosts_json && (s->fresh || !ag->connected)) {
    /* A subscribed service is kept current by pushes: no round trip. */
    reply_svc(c, id, s, clusters, healthy_only, !s->fresh, NULL);
    cJSON_Delete(clusters);
    return;
  }
  if (!ag->connected) {
    cJSON *h = NULL;
    if (nc_cache_get_hosts(ag->cache, k.ns, k.group, k.service, &h) == 0) {
      reply_hosts(c, id, h, clusters, healthy_only, 1, NULL);
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
  nc_amap_iter it;
  void *v;
  nc_amap_iter_init(&it, nc_st_svcs(ag->st));
  while (nc_amap_iter_next(&it, NULL, &v)) {
    nc_st_svc *s = v;
    if (!strcmp(s->service, name) && !strcmp(s->group, group) && n < 8)
      match[n++] = s;
  }
  if (n == 1) {
    cJSON *hosts = nc_hosts_from_service_info(si);
    if (hosts)
      apply_hosts(ag, match[0], hosts);
  } else {
    for (size_t i = 0; i < n; i++)
      send_query(ag, match[i]->ns, match[i]->group, match[i]->service, NULL);
  }
}

void nc_ag_naming_redo(nc_agent *ag) {
  nc_amap_iter it;
  void *v;
  size_t nr = 0, ns = 0;
  nc_amap_iter_init(&it, nc_st_regs(ag->st));
  while (nc_amap_iter_next(&it, NULL, &v)) {
    nc_st_reg *r = v;
    if (r->n == 0) {
      nc_st_reg_gc(ag->st, r);
      continue;
    }
    sync_reg(ag, r, NULL);
    nr++;
  }
  nc_amap_iter_init(&it, nc_st_svcs(ag->st));
  while (nc_amap_iter_next(&it, NULL, &v)) {
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
  nc_info("naming: redo %zu service registrations, %zu subscriptions", nr, ns);
}

void nc_ag_naming_disconnected(nc_agent *ag) {
  nc_amap_iter it;
  void *v;
  nc_amap_iter_init(&it, nc_st_regs(ag->st));
  while (nc_amap_iter_next(&it, NULL, &v))
    ((nc_st_reg *)v)->applied_gen = 0;
  nc_amap_iter_init(&it, nc_st_svcs(ag->st));
  while (nc_amap_iter_next(&it, NULL, &v)) {
    nc_st_svc *s = v;
    s->fresh = 0;
    if (!s->pending)
      s->up_state = NC_ST_UP_NONE;
  }
}

/* Every 3 s while connected (nacos-wire-protocol.md §12 agent 4): replay
 * what the server has not confirmed on this connection, e.g. after a
 * request timed out without the connection breaking. */
void nc_ag_naming_tick(nc_agent *ag) {
  nc_amap_iter it;
  void *v;
  if (!ag->connected)
    return;
  nc_amap_iter_init(&it, nc_st_regs(ag->st));
  while (nc_amap_iter_next(&it, NULL, &v)) {
    nc_st_reg *r = v;
    if (r->applied_gen != r->gen && r->inflight == 0)
      sync_reg(ag, r, NULL);
  }
  nc_amap_iter_init(&it, nc_st_svcs(ag->st));
  while (nc_amap_iter_next(&it, NULL, &v)) {
    nc_st_svc *s = v;
    if (s->up_state == NC_ST_UP_NONE && !s->pending && s->n)
      send_subscribe(ag, s, 1, NULL);
  }
}
