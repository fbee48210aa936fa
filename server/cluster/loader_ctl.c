/* loader_ctl: the loader operations (loader.h), run here or forwarded to a
 * member with NcLoaderControlRequest; parameter checks with Nacos's codes
 * and texts; a log line for every change (who, what). */
#include "loader_int.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"
#include "rebalance.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORWARD_TIMEOUT_MS 3000

static const char *param(const cJSON *p, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Spring's text for a missing @RequestParam, as Nacos answers it. */
static void missing(nc_loader_done_fn cb, void *ud, const char *name, const char *type) {
  nc_ld_fail(cb, ud, 400, LD_PARAM_MISSING,
             "Required request parameter '%s' for method parameter type %s is not present", name,
             type);
}

/* A whole decimal integer in [lo, hi]. */
static int parse_long(const char *s, long lo, long hi, long *out) {
  char *end = NULL;
  errno = 0;
  long v = s && *s ? strtol(s, &end, 10) : 0;
  if (!s || !*s || *end || errno || v < lo || v > hi)
    return NC_EINVAL;
  *out = v;
  return 0;
}

static int parse_bool(const char *s, int def, int *out) {
  if (!s || !*s)
    *out = def;
  else if (!strcmp(s, "true"))
    *out = 1;
  else if (!strcmp(s, "false"))
    *out = 0;
  else
    return NC_EINVAL;
  return 0;
}

/* Optional redirectAddress: 0 (*out NULL when absent) or answered. */
static int redirect_of(nc_loader *l, const cJSON *p, const char **out, nc_loader_done_fn cb,
                       void *ud) {
  char why[320];
  const char *r = param(p, "redirectAddress");
  *out = NULL;
  if (!r || !*r)
    return 0;
  if (nc_ld_check_redirect(l, r, why, sizeof(why)) != 0) {
    l->redirects_refused++;
    nc_warn("loader: reset refused: %s", why);
    nc_ld_fail(cb, ud, 400, LD_PARAM_INVALID, "%s", why);
    return -1;
  }
  *out = r;
  return 0;
}

static void op_reload_current(nc_loader *l, const cJSON *p, const char *who, nc_loader_done_fn cb,
                              void *ud) {
  const char *v = param(p, "count"), *redirect;
  long n;
  if (!v) {
    missing(cb, ud, "count", "Integer");
    return;
  }
  if (parse_long(v, 0, 100000000, &n) != 0) {
    nc_ld_fail(cb, ud, 400, LD_PARAM_INVALID, "count must be an integer >= 0, not '%s'", v);
    return;
  }
  if (redirect_of(l, p, &redirect, cb, ud) != 0)
    return;
  if (nc_srv_reload_current(l->srv, n, redirect) != 0) {
    nc_ld_fail(cb, ud, 500, LD_SERVER_ERROR, "out of memory");
    return;
  }
  nc_info("loader: reloadCurrent by %s: count %ld, redirect %s (%zu connections now)", who, n,
          redirect ? redirect : "-", nc_srv_conn_count(l->srv));
  nc_ld_reply(cb, ud, 200, LD_OK, NULL);
}

static void op_reload_client(nc_loader *l, const cJSON *p, const char *who, nc_loader_done_fn cb,
                             void *ud) {
  const char *id = param(p, "connectionId"), *redirect;
  if (!id || !*id) {
    missing(cb, ud, "connectionId", "String");
    return;
  }
  /* Ids are "<millis>_<ip>_<port>": a '%' left from a bad escape, a space
   * or a control character make a malformed parameter, not an unknown id. */
  for (const char *c = id; *c; c++)
    if (*c == '%' || (unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f) {
      nc_ld_fail(cb, ud, 400, LD_PARAM_INVALID, "malformed parameter 'connectionId'");
      return;
    }
  if (redirect_of(l, p, &redirect, cb, ud) != 0)
    return;
  int rc = nc_srv_reload_client(l->srv, id, redirect);
  if (rc == NC_ENOTFOUND) {
    nc_ld_fail(cb, ud, 404, LD_NOT_FOUND, "connection %s not found", id);
    return;
  }
  if (rc) {
    nc_ld_fail(cb, ud, 500, LD_SERVER_ERROR, "could not send ConnectResetRequest: %s",
               nc_strerror(rc));
    return;
  }
  nc_info("loader: reloadClient by %s: %s, redirect %s", who, id, redirect ? redirect : "-");
  nc_ld_reply(cb, ud, 200, LD_OK, NULL);
}

static void op_limit(nc_loader *l, const cJSON *p, const char *who, nc_loader_done_fn cb,
                     void *ud) {
  const char *v = param(p, "count");
  long n;
  int persistent;
  if (!v) {
    missing(cb, ud, "count", "Integer");
    return;
  }
  if (parse_long(v, -1, 100000000, &n) != 0) {
    nc_ld_fail(cb, ud, 400, LD_PARAM_INVALID, "count must be an integer >= -1 (-1 = no limit), "
               "not '%s'", v);
    return;
  }
  if (parse_bool(param(p, "persistent"), 0, &persistent) != 0) {
    nc_ld_fail(cb, ud, 400, LD_PARAM_INVALID, "persistent must be true or false");
    return;
  }
  long old = nc_srv_conn_limit(l->srv);
  if (nc_ld_set_limit(l, n, persistent) != 0) {
    nc_ld_fail(cb, ud, 500, LD_SERVER_ERROR, "could not write the limit rule in %s/connection",
               l->data_dir);
    return;
  }
  nc_info("loader: limit by %s: %ld -> %ld SDK connections (%s; %zu now)", who, old, n,
          persistent ? "persistent" : "until restart", nc_srv_sdk_conn_count(l->srv));
  cJSON *d = cJSON_CreateObject();
  if (d) {
    cJSON_AddNumberToObject(d, "limit", (double)n);
    cJSON_AddBoolToObject(d, "limitPersistent", l->limit_persistent);
  }
  nc_ld_reply(cb, ud, 200, LD_OK, d);
}

static void op_rebal(nc_loader *l, ld_op op, const cJSON *p, const char *who,
                     nc_loader_done_fn cb, void *ud) {
  if (!l->rb) {
    nc_ld_fail(cb, ud, 503, LD_SERVER_ERROR, "the rebalance engine does not run on this node");
    return;
  }
  if (op == LD_OP_REBALANCE) {
    const char *v = param(p, "enabled");
    int on;
    if (!v) {
      missing(cb, ud, "enabled", "Boolean");
      return;
    }
    if (parse_bool(v, 0, &on) != 0) {
      nc_ld_fail(cb, ud, 400, LD_PARAM_INVALID, "enabled must be true or false");
      return;
    }
    nc_rebal_set_mode(l->rb, on ? NC_REBAL_AUTO : NC_REBAL_OFF);
    nc_info("loader: rebalance by %s: %s", who, on ? "auto" : "off");
  } else {
    nc_rebal_set_draining(l->rb, op == LD_OP_DRAIN);
    nc_info("loader: %s by %s (%zu SDK connections now)", nc_ld_op_name(op), who,
            nc_srv_sdk_conn_count(l->srv));
  }
  nc_ld_reply(cb, ud, 200, LD_OK, nc_rebal_status_json(l->rb));
}

static int is_v3(const cJSON *p) {
  const char *v = param(p, "v3");
  return v && !strcmp(v, "true");
}

void nc_ld_local_op(nc_loader *l, ld_op op, const cJSON *p, const char *who,
                    nc_loader_done_fn cb, void *ud) {
  switch (op) {
  case LD_OP_CURRENT: {
    cJSON *d = nc_srv_loader_current_json(l->srv, is_v3(p));
    if (d)
      nc_ld_reply(cb, ud, 200, LD_OK, d);
    else
      nc_ld_fail(cb, ud, 500, LD_SERVER_ERROR, "out of memory");
    return;
  }
  case LD_OP_CLUSTER:
    nc_ld_cluster_view(l, is_v3(p), cb, ud);
    return;
  case LD_OP_RELOAD_CURRENT:
    op_reload_current(l, p, who, cb, ud);
    return;
  case LD_OP_RELOAD_CLIENT:
    op_reload_client(l, p, who, cb, ud);
    return;
  case LD_OP_SMART_RELOAD: {
    const char *v = param(p, "loaderFactor");
    char *end = NULL;
    double f = v && *v ? strtod(v, &end) : 0.1;
    if (v && *v && (*end && strcmp(end, "f") && strcmp(end, "F")))
      f = NAN;
    if (!isfinite(f) || f < 0 || f >= 1) {
      nc_ld_fail(cb, ud, 400, LD_PARAM_INVALID, "loaderFactor must be a number in [0, 1), not '%s'",
                 v ? v : "");
      return;
    }
    nc_ld_smart_reload(l, f, who, cb, ud);
    return;
  }
  case LD_OP_LIMIT:
    op_limit(l, p, who, cb, ud);
    return;
  case LD_OP_DRAIN:
  case LD_OP_UNDRAIN:
  case LD_OP_REBALANCE:
    op_rebal(l, op, p, who, cb, ud);
    return;
  default:
    nc_ld_fail(cb, ud, 404, LD_NOT_FOUND, "unknown loader operation");
  }
}

/* ---- counting and forwarding ---- */

typedef struct call {
  nc_loader *l;
  ld_op op;
  nc_loader_done_fn cb;
  void *ud;
  char member[256];
  /* fan-out (rebalance to every member) */
  struct fan *fan;
} call;

typedef struct fan {
  int pending, failed;
  cJSON *each; /* address -> result */
  call *top;
} fan;

static void counted(void *ud, int status, const cJSON *result) {
  call *c = ud;
  if (status != 200)
    c->l->call_errors++;
  c->cb(c->ud, status, result);
  free(c);
}

static void fan_release(fan *f) {
  if (--f->pending)
    return;
  call *top = f->top;
  nc_ld_reply(counted, top, f->failed ? 502 : 200, f->failed ? LD_SERVER_ERROR : LD_OK, f->each);
  free(f);
}

static void fan_add(fan *f, const char *addr, int status, const cJSON *result) {
  if (status != 200)
    f->failed++;
  cJSON *r = result ? cJSON_Duplicate(result, 1) : cJSON_CreateObject();
  if (r)
    cJSON_AddNumberToObject(r, "status", status);
  cJSON_AddItemToObject(f->each, addr, r);
  fan_release(f);
}

static void on_forwarded(void *ud, int status, const nc_msg *resp) {
  call *c = ud;
  const cJSON *res = resp ? cJSON_GetObjectItemCaseSensitive(resp->body, "result") : NULL;
  cJSON *made = NULL;
  int st;
  if (status == 0 && resp && nc_json_int(resp->body, "resultCode", 0) == 200 &&
      cJSON_IsObject(res)) {
    st = (int)nc_json_int(resp->body, "status", 200);
  } else {
    c->l->forward_failed++;
    char buf[400];
    snprintf(buf, sizeof(buf), "member %s did not run %s: %s", c->member, nc_ld_op_name(c->op),
             status ? nc_strerror(status)
                    : resp ? nc_json_str(resp->body, "message", "refused") : "no answer");
    nc_warn("loader: %s", buf);
    made = cJSON_CreateObject();
    if (made) {
      cJSON_AddNumberToObject(made, "code", LD_SERVER_ERROR);
      cJSON_AddStringToObject(made, "message", "server error");
      cJSON_AddStringToObject(made, "data", buf);
    }
    res = made;
    st = 502;
  }
  if (c->fan) {
    fan_add(c->fan, c->member, st, res);
    free(c);
  } else {
    counted(c, st, res);
  }
  cJSON_Delete(made);
}

static void fan_local(void *ud, int status, const cJSON *result) {
  call *c = ud;
  fan_add(c->fan, c->member, status, result);
  free(c);
}

/* Sends op to member; the answer (or the failure) goes to c. */
static void forward(nc_loader *l, call *c, const cJSON *params, const char *who) {
  cJSON *b = cJSON_CreateObject(), *p = cJSON_Duplicate(params, 1);
  if (!b || !p) {
    cJSON_Delete(b);
    cJSON_Delete(p);
    on_forwarded(c, NC_ENOMEM, NULL);
    return;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(p, "address");
  cJSON_AddObjectToObject(b, "headers");
  cJSON_AddStringToObject(b, "op", nc_ld_op_name(c->op));
  cJSON_AddItemToObject(b, "params", p);
  cJSON_AddStringToObject(b, "who", who);
  cJSON_AddStringToObject(b, "module", "internal");
  l->forwarded++;
  nc_info("loader: %s by %s forwarded to %s", nc_ld_op_name(c->op), who, c->member);
  int rc = nc_cluster_send(l->cl, c->member, "NcLoaderControlRequest", b, FORWARD_TIMEOUT_MS,
                           on_forwarded, c);
  if (rc)
    on_forwarded(c, rc, NULL);
}

static void fan_out(nc_loader *l, call *top, const cJSON *params, const char *who) {
  nc_member_info m[LD_MAX_MEMBERS];
  size_t n = nc_cluster_members(l->cl, m, LD_MAX_MEMBERS);
  fan *f = calloc(1, sizeof(*f));
  if (!f || !(f->each = cJSON_CreateObject())) {
    free(f);
    nc_ld_fail(counted, top, 500, LD_SERVER_ERROR, "out of memory");
    return;
  }
  f->top = top;
  f->pending = 1;
  for (size_t i = 0; i < n && i < LD_MAX_MEMBERS; i++) {
    call *c = calloc(1, sizeof(*c));
    if (!c)
      continue;
    *c = (call){.l = l, .op = top->op, .fan = f};
    snprintf(c->member, sizeof(c->member), "%s", m[i].address);
    f->pending++;
    if (m[i].is_self)
      nc_ld_local_op(l, top->op, params, who, fan_local, c);
    else
      forward(l, c, params, who);
  }
  fan_release(f); /* the hold taken while sending */
}

void nc_loader_op(nc_loader *l, const char *name, const cJSON *params, const char *who,
                  nc_loader_done_fn cb, void *ud) {
  ld_op op;
  if (nc_ld_op_parse(name, &op) != 0) {
    nc_ld_fail(cb, ud, 404, LD_NOT_FOUND, "unknown loader operation");
    return;
  }
  if (l->stopped) {
    nc_ld_fail(cb, ud, 503, LD_SERVER_ERROR, "server is stopping");
    return;
  }
  call *c = calloc(1, sizeof(*c));
  if (!c) {
    nc_ld_fail(cb, ud, 500, LD_SERVER_ERROR, "out of memory");
    return;
  }
  *c = (call){.l = l, .op = op, .cb = cb, .ud = ud};
  l->calls[op]++;
  const char *addr = param(params, "address");
  int forwardable = op != LD_OP_CLUSTER && op != LD_OP_SMART_RELOAD;
  if (forwardable && addr && *addr) {
    int self = 0;
    if (!nc_ld_is_member(l, addr, &self)) {
      nc_ld_fail(counted, c, 400, LD_PARAM_INVALID, "address %s is not a member of this cluster",
                 addr);
      return;
    }
    if (!self) {
      snprintf(c->member, sizeof(c->member), "%s", addr);
      forward(l, c, params, who);
      return;
    }
  } else if (op == LD_OP_REBALANCE && !nc_cluster_is_standalone(l->cl)) {
    /* a bad switch is answered here, not once per member */
    const char *v = param(params, "enabled");
    int on;
    if (!v) {
      missing(counted, c, "enabled", "Boolean");
      return;
    }
    if (parse_bool(v, 0, &on) != 0) {
      nc_ld_fail(counted, c, 400, LD_PARAM_INVALID, "enabled must be true or false");
      return;
    }
    fan_out(l, c, params, who);
    return;
  }
  nc_ld_local_op(l, op, params, who, counted, c);
}
