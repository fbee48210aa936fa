/* naming.register / naming.deregister: the desired instances per service
 * and keeping the server's copy equal to them (a BatchInstanceRequest with
 * the full set, a deregisterInstance when it empties). Per service at most
 * one request is out: changes meanwhile are parked with their replies and
 * go out as ONE request when it is answered, so a burst of N registers
 * costs about two requests, not N. */
#include "agent_reg.h"
#include "link.h"
#include "reply.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

/* One app waiting for the verdict on its register. */
typedef struct reg_wait {
  struct reg_wait *next;
  nc_ag_waiter *w;
  char *ip, *cluster; /* identity of the registered instance */
  int port;
  void *owner; /* whose hold it is (the app's client, or the agent: detached) */
  int solo; /* parked to be tried on its own (its instance is HELD) */
} reg_wait;

/* One upstream request for a service. */
typedef struct reg_ctx {
  nc_agent *ag;
  nc_ag_key k;
  reg_wait *waits;     /* answered by this request, owned */
  uint64_t gen;        /* the entry's gen this request carries */
  uint64_t redo_epoch; /* part of that redo (0: not a redo) */
  int solo;            /* waits is one instance tried on its own */
} reg_ctx;

static void wait_free(reg_wait *q) {
  nc_ag_waiter_free(q->w);
  free(q->ip);
  free(q->cluster);
  free(q);
}

static void waits_free(reg_wait *q) {
  while (q) {
    reg_wait *next = q->next;
    wait_free(q);
    q = next;
  }
}

static void reg_ctx_free(reg_ctx *x) {
  nc_ag_key_clear(&x->k);
  waits_free(x->waits);
  free(x);
}

static reg_ctx *ctx_new(nc_agent *ag, const nc_st_reg *r, uint64_t redo_epoch) {
  reg_ctx *x = calloc(1, sizeof(*x));
  if (!x || nc_ag_key_set(&x->k, r->ns, r->group, r->service)) {
    free(x);
    return NULL;
  }
  x->ag = ag;
  x->redo_epoch = redo_epoch;
  return x;
}

/* The verdict for one register: ok, or no connection (status != 0; the redo
 * applies it later) → applied true/false; a refusal → the server's error. */
static void wait_reply(const nc_ag_key *k, reg_wait *q, int status, const nc_msg *resp, int ok) {
  if (status == 0 && !ok) {
    nc_ag_err_upstream(q->w->c, q->w->id, status, resp);
  } else {
    cJSON *res = cJSON_CreateObject();
    char *iid = nc_st_instance_id(q->ip, q->port, q->cluster, k->group, k->service);
    if (res && iid) {
      cJSON_AddStringToObject(res, "instance_id", iid);
      cJSON_AddBoolToObject(res, "applied", ok);
    }
    free(iid);
    nc_ag_ok(q->w->c, q->w->id, res);
  }
  wait_free(q);
}

static void reply_all(const nc_ag_key *k, reg_wait *q, int status, const nc_msg *resp, int ok) {
  while (q) {
    reg_wait *next = q->next;
    wait_reply(k, q, status, resp, ok);
    q = next;
  }
}

static void append(reg_wait **list, reg_wait *q) {
  while (*list)
    list = &(*list)->next;
  *list = q;
}

static void reg_sent(void *ud, int status, nc_msg *resp);
static void redo_answered(nc_agent *ag, uint64_t epoch);

/* Sends the full current set of r upstream (or a deregister when empty),
 * answering x's waits when it is answered. Every request carries the whole
 * set, so it also covers every change parked so far (resync). */
static void send_req(nc_agent *ag, nc_st_reg *r, reg_ctx *x) {
  const char *type = NULL;
  cJSON *body = NULL;
  x->gen = r->gen;
  r->inflight++;
  r->resync = 0;
  if (nc_st_reg_request(r, &type, &body) != 0) {
    reg_sent(x, NC_ENOMEM, NULL);
    return;
  }
  nc_ag_up(ag, type, body, reg_sent, x);
}

/* A new request with the current set, unless one is out already (then the
 * change waits for its answer: Nacos keeps one set per service and
 * connection, so only the last request of a burst matters). */
static void sync_reg(nc_agent *ag, nc_st_reg *r, reg_wait *q) {
  if (r->inflight) {
    if (q)
      append((reg_wait **)&r->parked, q);
    r->resync = 1;
    return;
  }
  reg_ctx *x = ctx_new(ag, r, 0);
  if (!x) {
    if (q) {
      nc_ag_err(q->w->c, q->w->id, "INTERNAL", "out of memory");
      wait_free(q);
    }
    return;
  }
  x->waits = q;
  send_req(ag, r, x);
}

/* Once nothing is in flight for the service: the next lone attempt, or one
 * request for everything parked. Without a connection the parked replies
 * go out at once (applied: false) and the redo on connect sends the set. */
static void flush(nc_agent *ag, const nc_ag_key *k) {
  nc_st_reg *r;
  while ((r = nc_st_reg_get(ag->st, k->ns, k->group, k->service)) && r->inflight == 0) {
    reg_wait *q = r->parked;
    if (!ag->connected) {
      r->parked = NULL;
      r->resync = 0;
      for (size_t i = 0; i < r->n; i++)
        if (r->insts[i].held)
          r->insts[i].held = NC_ST_HELD_NONE;
      reply_all(k, q, NC_EUNAVAIL, NULL, 0);
      nc_st_reg_gc(ag->st, r);
      return;
    }
    if (!q && !r->resync)
      return;
    reg_ctx *x = ctx_new(ag, r, 0);
    if (!x) {
      r->parked = NULL;
      while (q) {
        reg_wait *next = q->next;
        nc_ag_err(q->w->c, q->w->id, "INTERNAL", "out of memory");
        wait_free(q);
        q = next;
      }
      return;
    }
    if (q && q->solo) {
      r->parked = q->next;
      q->next = NULL;
      nc_st_inst *in = nc_st_reg_find(r, q->ip, q->port, q->cluster);
      if (!in) { /* deregistered meanwhile: nothing to try */
        reply_all(k, q, NC_EUNAVAIL, NULL, 0);
        reg_ctx_free(x);
        continue;
      }
      in->held = NC_ST_HELD_TRYING;
      x->solo = 1;
    } else {
      r->parked = NULL;
    }
    x->waits = q;
    send_req(ag, r, x); /* may answer (and free r) at once: look it up again */
  }
}

/* A merged set was refused and the server does not say for which instance:
 * every register in it (and every one parked behind it) is held back and
 * then tried on its own, so each app gets its own verdict and the valid
 * ones are not failed for another app's bad one. */
static void split(nc_st_reg *r, reg_wait *waits) {
  reg_wait *q;
  append(&waits, r->parked);
  r->parked = waits;
  for (q = waits; q; q = q->next) {
    nc_st_inst *in = nc_st_reg_find(r, q->ip, q->port, q->cluster);
    if (in)
      in->held = NC_ST_HELD;
    q->solo = 1;
  }
  r->resync = 1;
}

static void reg_sent(void *ud, int status, nc_msg *resp) {
  reg_ctx *x = ud;
  nc_agent *ag = x->ag;
  int ok = status == 0 && nc_ag_resp_ok(resp);
  nc_st_reg *r = nc_st_reg_get(ag->st, x->k.ns, x->k.group, x->k.service);
  if (r) {
    r->inflight--;
    /* A refusal is final (retrying cannot help); a transport failure is
     * retried by the periodic redo. */
    if (status == 0 && x->gen > r->applied_gen && ag->connected)
      r->applied_gen = x->gen;
  }
  if (status == 0 && !ok) {
    nc_warn("naming: server rejected the instances of %s@@%s: %s", NC_LOG_ESC(x->k.group),
            NC_LOG_ESC(x->k.service),
            NC_LOG_ESC(nc_json_str(resp->body_error ? NULL : resp->body, "message", "?")));
  }
  reg_wait *q = x->waits;
  x->waits = NULL;
  if (r && status == 0 && !ok && q && q->next && !x->solo) {
    split(r, q);
  } else if (r && status == 0 && !ok && q) {
    /* The server refused this one instance: take it back out so that the
     * rest of the set keeps going through (resync), and say why. */
    nc_st_inst *in = nc_st_reg_find(r, q->ip, q->port, q->cluster);
    nc_st_reg *rr = NULL;
    if (in && (!x->solo || in->held == NC_ST_HELD_TRYING) &&
        nc_st_deregister(ag->st, x->k.ns, x->k.group, x->k.service, q->ip, q->port,
                         q->cluster, q->owner, &rr) == 0)
      r->resync = 1;
    wait_reply(&x->k, q, status, resp, ok);
  } else {
    if (r && x->solo) {
      nc_st_inst *in = nc_st_reg_find(r, q->ip, q->port, q->cluster);
      if (in && in->held == NC_ST_HELD_TRYING)
        in->held = NC_ST_HELD_NONE;
      /* An earlier lone attempt may have confirmed this gen without the
       * instance: let the tick send the set again. */
      if (status != 0)
        r->applied_gen = 0;
    }
    reply_all(&x->k, q, status, resp, ok);
  }
  if (r)
    flush(ag, &x->k);
  /* An empty set has now been deregistered (or there is no connection to
   * hold it): forget the entry unless someone registered again meanwhile
   * (or a request for it is still out). */
  r = nc_st_reg_get(ag->st, x->k.ns, x->k.group, x->k.service);
  if (r && r->n == 0 && (ok || !ag->connected))
    nc_st_reg_gc(ag->st, r);
  uint64_t epoch = x->redo_epoch;
  nc_msg_free(resp);
  reg_ctx_free(x);
  if (epoch)
    redo_answered(ag, epoch);
}

/* One registration of the redo answered (or given up). */
static void redo_answered(nc_agent *ag, uint64_t epoch) {
  if (epoch != ag->redo_epoch || !ag->redo_left || --ag->redo_left)
    return;
  void (*then)(nc_agent *) = ag->redo_then;
  ag->redo_then = NULL;
  if (then && ag->connected)
    then(ag);
}

static void nc_ag_naming_register(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ident k;
  const char *ip, *cluster;
  int port;
  nc_st_inst in = {0};
  int detached;
  if (nc_ag_read_ident(c, id, req, &k) || nc_ag_read_addr(c, id, req, &ip, &port, &cluster))
    return;
  if (nc_ag_read_bool(c, id, req, "detached", 0, &detached) ||
      nc_ag_read_bool(c, id, req, "healthy", 1, &in.healthy) ||
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
    /* Written so NaN fails too; 1e999 parses as inf. */
    if (!cJSON_IsNumber(w) || !(w->valuedouble >= 0 && w->valuedouble <= 10000)) {
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
  /* An instance belongs to the local user who registered it: another
   * user's app may not take it over (change its weight or metadata, or
   * keep it alive). Root may. The same user's apps share (restarts). */
  long uid = nc_ipc_client_uid(c);
  nc_st_reg *have = nc_st_reg_get(ag->st, k.ns, k.group, k.service);
  long other = have && uid != 0 ? nc_st_reg_other_uid(have, ip, port, cluster, uid) : -1;
  if (other >= 0) {
    nc_ag_err(c, id, "FORBIDDEN", "%s:%d is registered by another local user (uid %ld)", ip,
              port, other);
    return;
  }
  in.owner_uid = uid;
  in.ip = strdup(ip);
  in.cluster = strdup(cluster);
  in.port = port;
  /* A detached hold belongs to the agent: it outlives the app's socket and
   * ends with an explicit deregister (or the agent). */
  in.owner = detached ? (void *)ag : (void *)c;
  in.metadata = md && cJSON_IsObject(md) ? cJSON_Duplicate(md, 1) : cJSON_CreateObject();
  reg_wait *q = calloc(1, sizeof(*q));
  nc_st_reg *r = NULL;
  if (!in.ip || !in.cluster || !in.metadata || !q || !(q->ip = strdup(ip)) ||
      !(q->cluster = strdup(cluster)) || !(q->w = nc_ag_waiter_new(c, id)) ||
      nc_st_register(ag->st, k.ns, k.group, k.service, &in, &r) != 0) {
    nc_st_inst_clear(&in);
    if (q)
      wait_free(q);
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  q->port = port;
  q->owner = detached ? (void *)ag : (void *)c; /* in.owner: moved into the state */
  nc_debug("naming: register %s:%d in %s@@%s (%zu holds)", NC_LOG_ESC(ip), port,
           NC_LOG_ESC(k.group), NC_LOG_ESC(k.service), r->n);
  if (!ag->connected) {
    nc_ag_key kk = {(char *)k.ns, (char *)k.group, (char *)k.service};
    wait_reply(&kk, q, NC_EUNAVAIL, NULL, 0); /* the redo on connect applies it */
    return;
  }
  reg_wait *head = r->parked;
  if (r->inflight && head && head->solo) {
    /* Lone attempts are under way: this one joins them (a merged set
     * would mix it into their verdicts). */
    nc_st_inst *in2 = nc_st_reg_find(r, ip, port, cluster);
    if (in2)
      in2->held = NC_ST_HELD;
    q->solo = 1;
  }
  sync_reg(ag, r, q);
}

/* Releases one hold: the caller's own, else the detached one (a detached
 * registration is released by any app of the user who made it, or root); with
 * "detached": true only the detached one. Another app's hold is never
 * touched: the instance stays upstream while any hold is left. */
static void nc_ag_naming_deregister(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ident k;
  const char *ip, *cluster;
  int port, detached, rc = NC_ENOTFOUND;
  nc_st_reg *r = NULL;
  if (nc_ag_read_ident(c, id, req, &k) || nc_ag_read_addr(c, id, req, &ip, &port, &cluster) ||
      nc_ag_read_bool(c, id, req, "detached", 0, &detached))
    return;
  if (!detached)
    rc = nc_st_deregister(ag->st, k.ns, k.group, k.service, ip, port, cluster, c, &r);
  if (rc == NC_ENOTFOUND) {
    /* The detached hold is its user's: another user's app may not end it. */
    nc_st_reg *have = nc_st_reg_get(ag->st, k.ns, k.group, k.service);
    long uid = nc_ipc_client_uid(c);
    long huid = have ? nc_st_reg_hold_uid(have, ip, port, cluster, ag) : -2;
    if (huid >= 0 && uid != 0 && uid != huid) {
      nc_ag_err(c, id, "FORBIDDEN", "%s:%d was registered by another local user (uid %ld)", ip,
                port, huid);
      return;
    }
    rc = nc_st_deregister(ag->st, k.ns, k.group, k.service, ip, port, cluster, ag, &r);
  }
  if (rc != 0) {
    nc_st_reg *have = nc_st_reg_get(ag->st, k.ns, k.group, k.service);
    size_t holds = have ? nc_st_reg_holds(have, ip, port, cluster) : 0;
    if (holds && detached)
      nc_ag_err(c, id, "NOT_FOUND", "no detached hold on this instance (%zu other hold(s))", holds);
    else if (holds)
      nc_ag_err(c, id, "NOT_FOUND",
                "this connection holds no such instance (%zu other app(s) hold it)", holds);
    else
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

/* The subscriptions wait for the registrations (then): a subscribe answered
 * before this host's own instances are back would show local subscribers a
 * list without them until the next push. Every set goes out now, whatever
 * is still in flight from the old connection; replies parked for a merged
 * request ride along. */
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
    reg_ctx *x = ctx_new(ag, r, epoch);
    if (!x)
      continue;
    reg_wait *q = r->parked;
    if (q && !q->solo) {
      x->waits = q;
      r->parked = NULL;
    }
    ag->redo_left++;
    send_req(ag, r, x);
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
      sync_reg(ag, r, NULL);
  }
}

void nc_ag_reg_disconnected(nc_agent *ag) {
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, nc_st_regs(ag->st));
  while (nc_strmap_iter_next(&it, NULL, &v))
    ((nc_st_reg *)v)->applied_gen = 0;
}

const nc_ag_op nc_ag_reg_ops[] = {
    {"naming.register", nc_ag_naming_register},
    {"naming.deregister", nc_ag_naming_deregister},
    {NULL, NULL},
};
