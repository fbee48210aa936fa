/* Replies to apps, request field readers, keys and waiters: the leaf
 * helpers every op handler uses (see reply.h). */
#include "reply.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- replies ---- */

static uint64_t err_replies;

uint64_t nc_ag_err_count(void) { return err_replies; }

void nc_ag_ok(nc_ipc_client *c, const cJSON *id, cJSON *extra) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    goto out;
  cJSON_AddItemToObject(o, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
  cJSON_AddBoolToObject(o, "ok", 1);
  if (extra) {
    while (extra->child) {
      cJSON *it = extra->child;
      cJSON_DetachItemViaPointer(extra, it);
      cJSON_AddItemToObject(o, it->string, it);
    }
  }
  nc_ipc_client_send_json(c, o);
out:
  cJSON_Delete(o);
  cJSON_Delete(extra);
}

/* One warn line per rejected request, with the client and the reason (the
 * message may quote what the app sent: escaped), within the client's log
 * budget. NOT_FOUND is an answer (a key or instance that is not there),
 * not a rejection: debug. */
static void log_rejected(nc_ipc_client *c, const char *code, const char *msg) {
  unsigned long long cid = (unsigned long long)nc_ipc_client_id(c);
  uint64_t suppressed = 0;
  if (!strcmp(code, "NOT_FOUND")) {
    nc_debug("ipc: client %llu: %s: %s", cid, code, NC_LOG_ESC(msg));
    return;
  }
  if (nc_log_current_level < NC_LOG_WARN || !nc_ipc_client_log_allow(c, &suppressed))
    return;
  if (suppressed)
    nc_warn("ipc: client %llu: suppressed %llu more rejected-request lines", cid,
            (unsigned long long)suppressed);
  nc_warn("ipc: client %llu (app '%s') request rejected: %s: %s", cid,
          NC_LOG_ESC(nc_ipc_client_app(c)), code, NC_LOG_ESC(msg));
}

void nc_ag_err(nc_ipc_client *c, const cJSON *id, const char *code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  err_replies++;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  log_rejected(c, code, msg);
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return;
  cJSON_AddItemToObject(o, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
  cJSON_AddBoolToObject(o, "ok", 0);
  cJSON *e = cJSON_AddObjectToObject(o, "error");
  if (e) {
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
  }
  nc_ipc_client_send_json(c, o);
  cJSON_Delete(o);
}

int nc_ag_resp_ok(const nc_msg *resp) {
  if (!resp || resp->body_error || !resp->body)
    return 0;
  return nc_json_int(resp->body, "resultCode", 200) == 200 &&
         nc_json_int(resp->body, "errorCode", 0) == 0;
}

void nc_ag_err_upstream(nc_ipc_client *c, const cJSON *id, int status, const nc_msg *resp) {
  if (status == NC_ETIMEOUT) {
    nc_ag_err(c, id, "TIMEOUT", "upstream request timed out");
  } else if (status == NC_EBUSY) {
    nc_ag_err(c, id, "UNAVAILABLE", "too many requests waiting for the upstream server");
  } else if (status == NC_EUNAVAIL || status == NC_ECLOSED) {
    nc_ag_err(c, id, "UNAVAILABLE", "no upstream connection");
  } else if (status) {
    nc_ag_err(c, id, "UNAVAILABLE", "upstream failure: %s", nc_strerror(status));
  } else {
    const cJSON *b = resp && !resp->body_error ? resp->body : NULL;
    int ec = (int)nc_json_int(b, "errorCode", 0);
    int rc = (int)nc_json_int(b, "resultCode", 0);
    const char *m = nc_json_str(b, "message", "");
    const char *code = "INTERNAL";
    if (ec == 403 || rc == 403)
      code = "FORBIDDEN";
    else if (ec == 400 || ec == 302)
      code = "BAD_REQUEST";
    nc_ag_err(c, id, code, "server error %d: %s", ec ? ec : rc, m);
  }
}

nc_ag_waiter *nc_ag_waiter_new(nc_ipc_client *c, const cJSON *id) {
  nc_ag_waiter *w = calloc(1, sizeof(*w));
  if (!w)
    return NULL;
  w->id = id ? cJSON_Duplicate(id, 1) : NULL;
  w->c = c;
  nc_ipc_client_ref(c);
  return w;
}

void nc_ag_waiter_free(nc_ag_waiter *w) {
  if (!w)
    return;
  nc_ipc_client_unref(w->c);
  cJSON_Delete(w->id);
  cJSON_Delete(w->clusters);
  free(w);
}

/* ---- request fields ---- */

const char *nc_ag_req_name(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char *key,
                           const char *def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
  if (!v || cJSON_IsNull(v)) {
    if (!def)
      nc_ag_err(c, id, "BAD_REQUEST", "missing field '%s'", key);
    return def;
  }
  if (!cJSON_IsString(v)) {
    nc_ag_err(c, id, "BAD_REQUEST", "field '%s' must be a string", key);
    return NULL;
  }
  const char *s = v->valuestring;
  size_t n = strlen(s);
  if (n == 0 && def == NULL) {
    nc_ag_err(c, id, "BAD_REQUEST", "field '%s' must not be empty", key);
    return NULL;
  }
  if (n > 512) {
    nc_ag_err(c, id, "BAD_REQUEST", "field '%s' is longer than 512 bytes", key);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
      nc_ag_err(c, id, "BAD_REQUEST", "field '%s' contains control characters", key);
      return NULL;
    }
  }
  if (n == 0)
    return def; /* "" for an optional name means its default */
  return s;
}

const char *nc_ag_req_ns(nc_ipc_client *c, const cJSON *id, const cJSON *req, int *bad) {
  const char *ns = nc_ag_req_name(c, id, req, "namespace", "");
  *bad = ns == NULL;
  if (ns && !strcmp(ns, "public"))
    ns = "";
  return ns;
}

/* ---- naming identity fields ---- */

int nc_ag_key_set(nc_ag_key *k, const char *ns, const char *group, const char *service) {
  k->ns = strdup(ns);
  k->group = strdup(group);
  k->service = strdup(service);
  return k->ns && k->group && k->service ? 0 : NC_ENOMEM;
}

void nc_ag_key_clear(nc_ag_key *k) {
  free(k->ns);
  free(k->group);
  free(k->service);
}


/* namespace and group (default DEFAULT_GROUP): the start of every key. */
static int read_ns_group(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char **ns,
                         const char **group) {
  int bad = 0;
  *ns = nc_ag_req_ns(c, id, req, &bad);
  if (bad || !(*group = nc_ag_req_name(c, id, req, "group", "DEFAULT_GROUP")))
    return -1;
  return 0;
}

int nc_ag_read_ident(nc_ipc_client *c, const cJSON *id, const cJSON *req, nc_ag_ident *o) {
  if (read_ns_group(c, id, req, &o->ns, &o->group) ||
      !(o->service = nc_ag_req_name(c, id, req, "service", NULL)))
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
int nc_ag_read_addr(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char **ip,
                    int *port, const char **cluster) {
  if (!(*ip = nc_ag_req_name(c, id, req, "ip", NULL)))
    return -1;
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(req, "port");
  if (!p || cJSON_IsNull(p)) {
    nc_ag_err(c, id, "BAD_REQUEST", "missing field 'port'");
    return -1;
  }
  /* Range first: casting an out-of-range double (1e20, inf) to int is
   * undefined behaviour. */
  if (!cJSON_IsNumber(p) || !(p->valuedouble >= 1 && p->valuedouble <= 65535) ||
      p->valuedouble != floor(p->valuedouble)) {
    nc_ag_err(c, id, "BAD_REQUEST", "field 'port' must be an integer 1..65535");
    return -1;
  }
  *port = (int)p->valuedouble;
  if (!(*cluster = nc_ag_req_name(c, id, req, "cluster", "DEFAULT")))
    return -1;
  if (!cluster_ok(*cluster)) {
    nc_ag_err(c, id, "BAD_REQUEST", "field 'cluster' may hold only letters, digits, '-', '_'");
    return -1;
  }
  return 0;
}

int nc_ag_read_bool(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char *key,
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


int nc_ag_read_int(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char *key, int def,
                   int min, int max, int *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, key);
  if (!v || cJSON_IsNull(v)) {
    *out = def;
    return 0;
  }
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= max) ||
      v->valuedouble != floor(v->valuedouble)) {
    nc_ag_err(c, id, "BAD_REQUEST", "field '%s' must be an integer %d..%d", key, min, max);
    return -1;
  }
  *out = (int)v->valuedouble;
  return 0;
}

const char *nc_ag_req_data_id(nc_ipc_client *c, const cJSON *id, const cJSON *req,
                              const char *def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "data_id");
  const cJSON *alt = cJSON_GetObjectItemCaseSensitive(req, "dataId");
  int use_alt = (!v || cJSON_IsNull(v)) && alt && !cJSON_IsNull(alt);
  return nc_ag_req_name(c, id, req, use_alt ? "dataId" : "data_id", def);
}

int nc_ag_read_ckey(nc_ipc_client *c, const cJSON *id, const cJSON *req, nc_ag_ckey *k) {
  if (read_ns_group(c, id, req, &k->ns, &k->group) ||
      !(k->data_id = nc_ag_req_data_id(c, id, req, NULL)))
    return -1;
  return 0;
}

/* ---- upstream config requests ---- */

cJSON *nc_ag_config_body(const char *ns, const char *group, const char *data_id) {
  cJSON *b = cJSON_CreateObject();
  if (!b || !cJSON_AddObjectToObject(b, "headers") ||
      !cJSON_AddStringToObject(b, "dataId", data_id) ||
      !cJSON_AddStringToObject(b, "group", group) || !cJSON_AddStringToObject(b, "tenant", ns) ||
      !cJSON_AddStringToObject(b, "module", "config")) {
    cJSON_Delete(b);
    return NULL;
  }
  return b;
}

int nc_ag_config_found(int status, const nc_msg *resp, const char **content) {
  if (status != 0 || !resp || resp->body_error)
    return -1;
  if (nc_ag_resp_ok(resp)) {
    *content = nc_json_str(resp->body, "content", "");
    return 1;
  }
  return nc_json_int(resp->body, "errorCode", 0) == 300 ? 0 : -1; /* CONFIG_NOT_FOUND */
}
