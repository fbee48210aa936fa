/* naming.register / naming.deregister: the desired instances per service
 * and keeping the server's copy equal to them (one BatchInstanceRequest
 * with the full set per change, a deregisterInstance when it empties). */
#include "agent_core.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

typedef struct reg_ctx {
  nc_agent *ag;
  nc_ag_key k;
  nc_ag_waiter *w;     /* register only */
  nc_st_inst probe;    /* identity of the registered instance (ip/port/cluster) */
  void *owner;
  uint64_t gen;        /* the entry's gen this request carries */
  uint64_t redo_epoch; /* part of that redo (0: not a redo) */
} reg_ctx;

static void reg_ctx_free(reg_ctx *x) {
  nc_ag_key_clear(&x->k);
  free(x->probe.ip);
  free(x->probe.cluster);
  nc_ag_waiter_free(x->w);
  free(x);
}

static void reg_sent(void *ud, int status, nc_msg *resp);

/* One registration of the redo answered (or given up). */
static void redo_answered(nc_agent *ag, uint64_t epoch) {
  if (epoch != ag->redo_epoch || !ag->redo_left || --ag->redo_left)
    return;
  void (*then)(nc_agent *) = ag->redo_then;
  ag->redo_then = NULL;
  if (then && ag->connected)
    then(ag);
}

/* Sends the full current set of r upstream (or a deregister when empty). */
static void sync_reg(nc_agent *ag, nc_st_reg *r, reg_ctx *x, uint64_t redo_epoch) {
  const char *type = NULL;
  cJSON *body = NULL;
  if (!x) {
    x = calloc(1, sizeof(*x));
    if (!x || nc_ag_key_set(&x->k, r->ns, r->group, r->service)) {
      if (x)
        reg_ctx_free(x);
      return;
    }
    x->ag = ag;
  }
  x->gen = r->gen;
  x->redo_epoch = redo_epoch;
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
        sync_reg(ag, rr, x, x->redo_epoch);
        return;
      }
    }
  }
  /* An empty set has now been deregistered (or there is no connection to
   * hold it): forget the entry unless someone registered again meanwhile. */
  if (r && r->n == 0 && (ok || !ag->connected))
    nc_st_reg_gc(ag->st, r);
  uint64_t epoch = x->redo_epoch;
  nc_msg_free(resp);
  reg_ctx_free(x);
  if (epoch)
    redo_answered(ag, epoch);
}

void nc_ag_naming_register(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ident k;
  const char *ip, *cluster;
  int port;
  nc_st_inst in = {0};
  if (nc_ag_read_ident(c, id, req, &k) || nc_ag_read_addr(c, id, req, &ip, &port, &cluster))
    return;
  if (nc_ag_read_bool(c, id, req, "healthy", 1, &in.healthy) ||
      nc_ag_read_bool(c, id, req, "enabled", 1, &in.enabled) ||
      nc_ag_read_bool(c, id, req, "ephemeral", 1, &in.ephemeral))
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
      nc_ag_key_set(&x->k, k.ns, k.group, k.service) || !(x->probe.ip = strdup(ip)) ||
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
  sync_reg(ag, r, x, 0);
}

void nc_ag_naming_deregister(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ident k;
  const char *ip, *cluster;
  int port;
  nc_st_reg *r = NULL;
  if (nc_ag_read_ident(c, id, req, &k) || nc_ag_read_addr(c, id, req, &ip, &port, &cluster))
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
  sync_reg(ag, r, NULL, 0);
}

/* The subscriptions wait for the registrations (then): a subscribe answered
 * before this host's own instances are back would show local subscribers a
 * list without them until the next push. */
size_t nc_ag_reg_redo(nc_agent *ag, void (*then)(nc_agent *ag)) {
  nc_strmap_iter it;
  void *v;
  size_t n = 0;
  uint64_t epoch = ++ag->redo_epoch;
  ag->redo_then = then;
  ag->redo_left = 1; /* held until every request is out */
  nc_strmap_iter_init(&it, nc_st_regs(ag->st));
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    nc_st_reg *r = v;
    if (r->n == 0) {
      nc_st_reg_gc(ag->st, r);
      continue;
    }
    ag->redo_left++;
    sync_reg(ag, r, NULL, epoch);
    n++;
  }
  redo_answered(ag, epoch);
  return n;
}

void nc_ag_reg_tick(nc_agent *ag) {
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, nc_st_regs(ag->st));
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    nc_st_reg *r = v;
    if (r->applied_gen != r->gen && r->inflight == 0)
      sync_reg(ag, r, NULL, 0);
  }
}

void nc_ag_reg_disconnected(nc_agent *ag) {
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, nc_st_regs(ag->st));
  while (nc_strmap_iter_next(&it, NULL, &v))
    ((nc_st_reg *)v)->applied_gen = 0;
}
