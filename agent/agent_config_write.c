/* config.publish / config.remove: writes go straight upstream (no local
 * state: the listeners hear of the change through the server's notify like
 * everyone else); the disk cache follows an acknowledged write. Each write
 * logs one info line with the app, the key and the result. */
#include "agent_config_write.h"
#include "link.h"
#include "reply.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"
#include "nc_md5.h"

#include <stdlib.h>
#include <string.h>

typedef struct wr_ctx {
  nc_agent *ag;
  char *ns, *group, *data_id;
  nc_ag_waiter *w;
  char *content; /* publish: what was sent */
  int cas;       /* publish: with cas_md5 */
  int existed;   /* remove: what the query before it said */
} wr_ctx;

static void wr_free(wr_ctx *x) {
  nc_ag_waiter_free(x->w);
  free(x->ns);
  free(x->group);
  free(x->data_id);
  free(x->content);
  free(x);
}

/* One line per write: which app, which key, what came of it. Every
 * client-supplied string is escaped (a newline in a name cannot start a
 * forged line). */
static void wr_log(const wr_ctx *x, const char *what, const char *result) {
  nc_info("config: client %llu (app '%s') %s %s/%s/%s: %s",
          (unsigned long long)nc_ipc_client_id(x->w->c), NC_LOG_ESC(nc_ipc_client_app(x->w->c)),
          what, NC_LOG_ESC(x->ns[0] ? x->ns : "public"), NC_LOG_ESC(x->group),
          NC_LOG_ESC(x->data_id), NC_LOG_ESC(result));
}

/* The outcome of an upstream write for the log line. */
static const char *wr_result(int status, const nc_msg *resp, char *buf, size_t cap) {
  if (status)
    snprintf(buf, cap, "failed: %s", nc_strerror(status));
  else
    snprintf(buf, cap, "refused: %s",
             nc_json_str(resp && !resp->body_error ? resp->body : NULL, "message", "?"));
  return buf;
}

/* What publish and remove share once the request is valid: an upstream
 * connection, a context with the app as its waiter and the request body
 * (*body, owned by the caller with the context). Replies the error itself
 * and returns NULL when it cannot. */
static wr_ctx *wr_start(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const nc_ag_ckey *k,
                        cJSON **body) {
  if (!ag->connected) {
    nc_ag_err(c, id, "UNAVAILABLE", "no upstream connection");
    return NULL;
  }
  wr_ctx *x = calloc(1, sizeof(*x));
  cJSON *b = nc_ag_config_body(k->ns, k->group, k->data_id);
  if (!x || !b || !(x->ns = strdup(k->ns)) || !(x->group = strdup(k->group)) ||
      !(x->data_id = strdup(k->data_id)) || !(x->w = nc_ag_waiter_new(c, id))) {
    cJSON_Delete(b);
    if (x)
      wr_free(x);
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return NULL;
  }
  x->ag = ag;
  *body = b;
  return x;
}

/* ---- publish ---- */

static void publish_done(void *ud, int status, nc_msg *resp) {
  wr_ctx *x = ud;
  nc_ag_waiter *w = x->w;
  char buf[300];
  if (status == 0 && nc_ag_resp_ok(resp)) {
    char md5[33];
    nc_md5_hex(x->content, strlen(x->content), md5);
    nc_cache_put_config(x->ag->cache, x->ns, x->group, x->data_id, x->content, md5);
    snprintf(buf, sizeof(buf), "ok, md5 %s, %zu bytes", md5, strlen(x->content));
    wr_log(x, "publish", buf);
    cJSON *r = cJSON_CreateObject();
    if (r)
      cJSON_AddStringToObject(r, "md5", md5);
    nc_ag_ok(w->c, w->id, r);
  } else if (status == 0 && x->cas && !resp->body_error &&
             nc_json_int(resp->body, "errorCode", 0) == 500) {
    wr_log(x, "publish", "conflict: cas_md5 does not match");
    nc_ag_err(w->c, w->id, "CONFLICT", "cas_md5 does not match the current content");
  } else {
    wr_log(x, "publish", wr_result(status, resp, buf, sizeof(buf)));
    nc_ag_err_upstream(w->c, w->id, status, resp);
  }
  nc_msg_free(resp);
  wr_free(x);
}

static void op_publish(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ckey k;
  if (nc_ag_read_ckey(c, id, req, &k))
    return;
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(req, "content");
  const cJSON *cas = cJSON_GetObjectItemCaseSensitive(req, "cas_md5");
  if (!content || cJSON_IsNull(content)) {
    nc_ag_err(c, id, "BAD_REQUEST", "missing field 'content'");
    return;
  }
  if (!cJSON_IsString(content)) {
    nc_ag_err(c, id, "BAD_REQUEST", "field 'content' must be a string");
    return;
  }
  if (cas && !cJSON_IsNull(cas) && !cJSON_IsString(cas)) {
    nc_ag_err(c, id, "BAD_REQUEST", "field 'cas_md5' must be a string");
    return;
  }
  cJSON *b = NULL;
  wr_ctx *x = wr_start(ag, c, id, &k, &b);
  if (!x)
    return;
  x->cas = cJSON_IsString(cas);
  if (!(x->content = strdup(content->valuestring)) ||
      !cJSON_AddStringToObject(b, "content", content->valuestring) ||
      (x->cas && !cJSON_AddStringToObject(b, "casMd5", cas->valuestring)) ||
      !cJSON_AddObjectToObject(b, "additionMap")) {
    cJSON_Delete(b);
    wr_free(x);
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  nc_ag_up(ag, "ConfigPublishRequest", b, publish_done, x);
}

/* ---- remove ---- */

static void remove_done(void *ud, int status, nc_msg *resp) {
  wr_ctx *x = ud;
  nc_ag_waiter *w = x->w;
  char buf[300];
  if (status == 0 && nc_ag_resp_ok(resp)) {
    nc_cache_del_config(x->ag->cache, x->ns, x->group, x->data_id);
    wr_log(x, "remove", x->existed ? "ok, removed" : "ok, did not exist");
    cJSON *r = cJSON_CreateObject();
    if (r)
      cJSON_AddBoolToObject(r, "existed", x->existed);
    nc_ag_ok(w->c, w->id, r);
  } else {
    wr_log(x, "remove", wr_result(status, resp, buf, sizeof(buf)));
    nc_ag_err_upstream(w->c, w->id, status, resp);
  }
  nc_msg_free(resp);
  wr_free(x);
}

/* The query before the remove answered: whether the key existed. Nacos's
 * ConfigRemoveResponse does not say, so this works against any server; it
 * is advisory under concurrent writers (another app may publish or remove
 * the key between the query and the remove). */
static void remove_queried(void *ud, int status, nc_msg *resp) {
  wr_ctx *x = ud;
  const char *content = NULL;
  int found = nc_ag_config_found(status, resp, &content);
  char buf[300];
  if (found < 0) {
    wr_log(x, "remove", wr_result(status, resp, buf, sizeof(buf)));
    nc_ag_err_upstream(x->w->c, x->w->id, status, resp);
    nc_msg_free(resp);
    wr_free(x);
    return;
  }
  nc_msg_free(resp);
  x->existed = found;
  cJSON *b = nc_ag_config_body(x->ns, x->group, x->data_id);
  if (!b) {
    nc_ag_err(x->w->c, x->w->id, "INTERNAL", "out of memory");
    wr_free(x);
    return;
  }
  nc_ag_up(x->ag, "ConfigRemoveRequest", b, remove_done, x);
}

static void op_remove(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  nc_ag_ckey k;
  if (nc_ag_read_ckey(c, id, req, &k))
    return;
  cJSON *b = NULL;
  wr_ctx *x = wr_start(ag, c, id, &k, &b);
  if (x)
    nc_ag_up(ag, "ConfigQueryRequest", b, remove_queried, x);
}

const nc_ag_op nc_ag_config_write_ops[] = {
    {"config.publish", op_publish},
    {"config.remove", op_remove},
    {NULL, NULL},
};
