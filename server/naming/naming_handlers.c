/* naming_handlers: see naming_handlers.h. Request/response shapes follow
 * nacos-wire-protocol.md §5.2-§5.9. */
#include "naming_handlers.h"
#include "naming_fuzzy.h"
#include "naming_migrate.h"
#include "naming_pstore.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 256
#define MAX_BATCH 1024

struct nc_naming {
  nc_srv *srv;
  nc_nreg *reg;
  nc_npush *push;
  uint64_t sync_expire_ms;
  nc_naming_opts lim; /* the max_* bounds */
  nc_nmig *mig;       /* the migrating grace of moved connections (naming_migrate.h) */
  nc_npstore *pstore; /* persistent instances (naming_pstore.h); NULL = refused */
  nc_nfz *fz;         /* fuzzy watch of services (naming_fuzzy.h) */
  /* refusals (loop thread) */
  uint64_t rej_invalid, rej_metadata, rej_services, rej_instances, rej_subs;
};

#define SYNC_EXPIRE_MS 180000

typedef struct names {
  const char *ns, *group, *name;
} names;

/* Common naming fields (§5.2); a business error is answered here. */
static int get_names(nc_req *r, const nc_msg *m, const char *resp, names *out) {
  out->ns = nc_json_str(m->body, "namespace", "");
  out->group = nc_json_str(m->body, "groupName", "");
  out->name = nc_json_str(m->body, "serviceName", "");
  if (!*out->group)
    out->group = "DEFAULT_GROUP";
  if (!*out->name) {
    nc_req_fail(r, resp, 400, "Param 'serviceName' is illegal, serviceName is blank");
    return -1;
  }
  if (strlen(out->ns) > MAX_NAME || strlen(out->group) > MAX_NAME ||
      strlen(out->name) > MAX_NAME) {
    nc_req_fail(r, resp, 400, "namespace, group or service name too long");
    return -1;
  }
  return 0;
}

/* Nacos creates its per-connection naming client only for connections
 * labelled module=naming (§4.4, §7.4) and answers InstanceRequest,
 * BatchInstanceRequest and SubscribeServiceRequest on any other with
 * -401 (§3.3). We refuse only when the label is present and names another
 * module (e.g. module=config, the SDKs' config connections, which never
 * send naming writes): the Java, Go and Python SDKs label their naming
 * connections module=naming, and so do nacos-agent (one connection for
 * naming and config alike) and nc_wc by default, so none of them is
 * affected; a hand-written client that sends no module label at all keeps
 * working. Queries (ServiceQuery, ServiceList) need no naming client in
 * Nacos either. Answered like Nacos's handler exception: an ErrorResponse
 * with resultCode = errorCode = -401. Returns 0 when the request may go on. */
static int check_naming_conn(nc_req *r) {
  nc_conn *c = nc_req_conn(r);
  const char *mod = c ? nc_conn_label(c, "module") : NULL;
  if (!mod || strcmp(mod, "naming") == 0)
    return 0;
  nc_req_reply(r, "ErrorResponse",
               nc_resp_new(-401, -401,
                           "connection is not a naming connection (label module is not naming)"));
  return -1;
}

static cJSON *typed_ok(const char *type) {
  cJSON *b = nc_resp_ok();
  if (b)
    cJSON_AddStringToObject(b, "type", type);
  return b;
}

/* The per-instance metadata bound and the per-connection service and
 * instance bounds for conn_id replacing its set in the service with
 * list[0..cnt). Refused as a typed 400 (retrying cannot help); only growth
 * is refused, so a connection over a lowered bound can still shrink. */
static int check_publish(nc_naming *n, nc_req *r, const char *resp, const names *nm,
                         nc_ninst *const *list, size_t cnt) {
  char msg[160];
  const nc_naming_opts *o = &n->lim;
  for (size_t i = 0; i < cnt; i++) {
    size_t keys, bytes;
    nc_ninst_metadata_size(list[i], &keys, &bytes);
    if ((o->max_metadata_keys > 0 && keys > (size_t)o->max_metadata_keys) ||
        (o->max_metadata_bytes > 0 && bytes > (size_t)o->max_metadata_bytes)) {
      n->rej_metadata++;
      snprintf(msg, sizeof(msg),
               "instance metadata too large: %zu keys, %zu bytes (limits %d keys, %d bytes)", keys,
               bytes, o->max_metadata_keys, o->max_metadata_bytes);
      nc_req_fail(r, resp, 400, msg);
      return -1;
    }
  }
  if (!o->max_services_per_conn && !o->max_instances_per_conn)
    return 0;
  nc_nreg_usage u;
  nc_nreg_client_usage(n->reg, nc_req_conn_id(r), nm->ns, nm->group, nm->name, &u);
  if (o->max_services_per_conn > 0 && cnt && !u.in_svc &&
      u.services >= (size_t)o->max_services_per_conn) {
    n->rej_services++;
    snprintf(msg, sizeof(msg), "too many services registered by this connection (limit %d)",
             o->max_services_per_conn);
    nc_req_fail(r, resp, 400, msg);
    return -1;
  }
  size_t after = u.instances - u.svc_instances + cnt;
  if (o->max_instances_per_conn > 0 && cnt > u.svc_instances &&
      after > (size_t)o->max_instances_per_conn) {
    n->rej_instances++;
    snprintf(msg, sizeof(msg), "too many instances registered by this connection (limit %d)",
             o->max_instances_per_conn);
    nc_req_fail(r, resp, 400, msg);
    return -1;
  }
  return 0;
}

/* An ephemeral register into a persistent service: Nacos throws a
 * NacosRuntimeException(400), which its gRPC layer answers as an
 * ErrorResponse with resultCode = errorCode = 400. */
static void kind_refused(nc_req *r, const names *nm, const char *what) {
  char msg[1200];
  nc_req_reply(r, "ErrorResponse",
               nc_resp_new(400, 400, nc_npstore_kind_msg(msg, sizeof(msg), nm->group, nm->name,
                                                         1, what)));
}

static void h_instance(void *ud, nc_req *r, const nc_msg *m) {
  nc_naming *n = ud;
  names nm;
  if (check_naming_conn(r) || get_names(r, m, "InstanceResponse", &nm))
    return;
  const char *type = nc_json_str(m->body, "type", "");
  int reg = strcmp(type, "registerInstance") == 0;
  if (!reg && strcmp(type, "deregisterInstance") != 0) {
    nc_req_error(r, 400, "Unsupported request type");
    return;
  }
  nc_ninst *in = NULL;
  const char *err = NULL;
  if (reg) {
    int rc = nc_ninst_parse(cJSON_GetObjectItemCaseSensitive(m->body, "instance"), nm.group,
                            nm.name, &in, &err);
    if (rc) {
      if (rc == NC_EINVAL)
        n->rej_invalid++;
      nc_req_error(r, rc == NC_EINVAL ? 400 : 500, rc == NC_EINVAL ? err : "out of memory");
      return;
    }
    nc_ninst_set_ephemeral(in, 1); /* connection-bound: ephemeral (Nacos) */
    if (check_publish(n, r, "InstanceResponse", &nm, &in, 1)) {
      nc_ninst_free(in);
      return;
    }
  }
  int rc = nc_naming_publish(n, nc_req_conn_id(r), nm.ns, nm.group, nm.name, &in, reg ? 1 : 0);
  if (rc == NC_ECONFLICT) {
    kind_refused(r, &nm, "register ephemeral instance");
    return;
  }
  if (rc) {
    nc_req_fail(r, "InstanceResponse", 500, nc_strerror(rc));
    return;
  }
  nc_req_reply(r, "InstanceResponse", typed_ok(type));
}

static void h_batch(void *ud, nc_req *r, const nc_msg *m) {
  nc_naming *n = ud;
  names nm;
  nc_ninst **list = NULL;
  size_t cnt = 0;
  if (check_naming_conn(r) || get_names(r, m, "BatchInstanceResponse", &nm))
    return;
  const char *type = nc_json_str(m->body, "type", "");
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(m->body, "instances");
  if (strcmp(type, "batchRegisterInstance") != 0) {
    nc_req_error(r, 400, "Unsupported request type");
    return;
  }
  if (arr && !cJSON_IsArray(arr) && !cJSON_IsNull(arr)) {
    nc_req_error(r, 400, "instances must be an array");
    return;
  }
  size_t total = arr && cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0;
  if (total > MAX_BATCH) {
    nc_req_error(r, 400, "too many instances in one batch");
    return;
  }
  list = calloc(total ? total : 1, sizeof(*list));
  if (!list) {
    nc_req_fail(r, "BatchInstanceResponse", 500, "out of memory");
    return;
  }
  const cJSON *it;
  if (total)
    cJSON_ArrayForEach(it, arr) {
      const char *err = NULL;
      int rc = nc_ninst_parse(it, nm.group, nm.name, &list[cnt], &err);
      if (rc) {
        if (rc == NC_EINVAL)
          n->rej_invalid++;
        nc_req_error(r, rc == NC_EINVAL ? 400 : 500, rc == NC_EINVAL ? err : "out of memory");
        goto out;
      }
      nc_ninst_set_ephemeral(list[cnt], 1);
      cnt++;
    }
  if (check_publish(n, r, "BatchInstanceResponse", &nm, list, cnt))
    goto out;
  int rc = nc_naming_publish(n, nc_req_conn_id(r), nm.ns, nm.group, nm.name, list, cnt);
  cnt = 0; /* consumed */
  if (rc == NC_ECONFLICT)
    kind_refused(r, &nm, "batch register ephemeral instance");
  else if (rc)
    nc_req_fail(r, "BatchInstanceResponse", 500, nc_strerror(rc));
  else
    nc_req_reply(r, "BatchInstanceResponse", typed_ok(type));
out:
  for (size_t i = 0; i < cnt; i++)
    nc_ninst_free(list[i]);
  free(list);
}

typedef struct reply_kind {
  const char *type, *msg;
} reply_kind;

static int encode_reply(void *ud, const char *json, size_t len, uint8_t **out, size_t *out_len) {
  const reply_kind *k = ud;
  return nc_srv_encode_splice(k->type, k->msg, "serviceInfo", json, len, out, out_len);
}

/* Answers with the encoded reply kept with the registry's serialized view
 * of the service (built once per revision and variant, shared with
 * pushes); NC_ENOTFOUND (unknown service: the caller builds its empty
 * ServiceInfo) or an error when not answered. */
static int reply_cached(nc_naming *n, nc_req *r, const char *type, const char *msg,
                        const names *nm, const char *clusters, int healthy) {
  reply_kind k = {type, msg};
  const uint8_t *buf = NULL;
  size_t len = 0;
  /* slot 0: the query's reply, 1: the subscribe's (its message differs) */
  int rc = nc_nreg_info_derived(n->reg, nm->ns, nm->group, nm->name, clusters, healthy,
                                msg ? 1 : 0, encode_reply, &k, &buf, &len);
  if (rc == 0)
    nc_req_reply_encoded(r, buf, len);
  return rc;
}

static void h_query(void *ud, nc_req *r, const nc_msg *m) {
  nc_naming *n = ud;
  names nm;
  if (get_names(r, m, "QueryServiceResponse", &nm))
    return;
  const char *clusters = nc_json_str(m->body, "cluster", "");
  int healthy = nc_json_bool(m->body, "healthyOnly", 0);
  if (reply_cached(n, r, "QueryServiceResponse", NULL, &nm, clusters, healthy) == 0)
    return;
  cJSON *info = nc_naming_service_info(n, nm.ns, nm.group, nm.name, clusters, healthy);
  cJSON *b = nc_resp_ok();
  if (!info || !b) {
    cJSON_Delete(info);
    cJSON_Delete(b);
    nc_req_fail(r, "QueryServiceResponse", 500, "out of memory");
    return;
  }
  cJSON_AddItemToObject(b, "serviceInfo", info);
  nc_req_reply(r, "QueryServiceResponse", b);
}

static void h_subscribe(void *ud, nc_req *r, const nc_msg *m) {
  nc_naming *n = ud;
  names nm;
  if (check_naming_conn(r) || get_names(r, m, "SubscribeServiceResponse", &nm))
    return;
  const char *clusters = nc_json_str(m->body, "clusters", "");
  int sub = nc_json_bool(m->body, "subscribe", 1);
  if (sub && n->lim.max_subscriptions_per_conn > 0) {
    nc_nreg_usage u;
    nc_nreg_client_usage(n->reg, nc_req_conn_id(r), nm.ns, nm.group, nm.name, &u);
    if (!u.subscribed && u.subscriptions >= (size_t)n->lim.max_subscriptions_per_conn) {
      char msg[128];
      n->rej_subs++;
      snprintf(msg, sizeof(msg), "too many subscriptions on this connection (limit %d)",
               n->lim.max_subscriptions_per_conn);
      nc_req_fail(r, "SubscribeServiceResponse", 400, msg);
      return;
    }
  }
  int rc = nc_naming_subscribe(n, nc_req_conn_id(r), nm.ns, nm.group, nm.name, clusters, sub);
  if (rc) {
    nc_req_fail(r, "SubscribeServiceResponse", 500, nc_strerror(rc));
    return;
  }
  if (reply_cached(n, r, "SubscribeServiceResponse", "success", &nm, clusters, 0) == 0)
    return;
  cJSON *info = nc_naming_service_info(n, nm.ns, nm.group, nm.name, clusters, 0);
  cJSON *b = nc_resp_new(200, 0, "success");
  if (!info || !b) {
    cJSON_Delete(info);
    cJSON_Delete(b);
    nc_req_fail(r, "SubscribeServiceResponse", 500, "out of memory");
    return;
  }
  cJSON_AddItemToObject(b, "serviceInfo", info);
  nc_req_reply(r, "SubscribeServiceResponse", b);
}

static void h_list(void *ud, nc_req *r, const nc_msg *m) {
  nc_naming *n = ud;
  const char *ns = nc_json_str(m->body, "namespace", "");
  const char *group = nc_json_str(m->body, "groupName", "");
  if (!*group)
    group = "DEFAULT_GROUP";
  int page_no = (int)nc_json_int(m->body, "pageNo", 1);
  int page_size = (int)nc_json_int(m->body, "pageSize", 10);
  if (page_size > 10000)
    page_size = 10000;
  cJSON *b = nc_resp_new(200, 0, "success");
  cJSON *names_arr = cJSON_CreateArray();
  if (!b || !names_arr) {
    cJSON_Delete(b);
    cJSON_Delete(names_arr);
    nc_req_fail(r, "ServiceListResponse", 500, "out of memory");
    return;
  }
  size_t count = nc_naming_list(n, ns, group, page_no, page_size, names_arr);
  cJSON_AddNumberToObject(b, "count", (double)count);
  cJSON_AddItemToObject(b, "serviceNames", names_arr);
  nc_req_reply(r, "ServiceListResponse", b);
}

/* PersistentInstanceRequest (§5.6, 2.3+): served by the persistent
 * instance store (naming_pstore.h) under the client "ip:port#false", not
 * bound to this connection; like Nacos's handler it needs no naming client
 * on the connection. Refusals as Nacos makes them: an invalid instance or
 * a service of the other kind is its NacosRuntimeException(400), an
 * ErrorResponse with resultCode = errorCode = 400; a store failure is a
 * typed 500. Without a store (naming built alone, in unit tests) the
 * request is refused as a typed failure. */
typedef struct preq {
  nc_req *r;
  const char *type; /* static */
} preq;

static void persistent_done(void *ud, int rc, const char *msg) {
  preq *p = ud;
  if (!rc)
    nc_req_reply(p->r, "InstanceResponse", typed_ok(p->type));
  else if (rc == NC_EINVAL || rc == NC_ECONFLICT)
    nc_req_reply(p->r, "ErrorResponse", nc_resp_new(400, 400, msg));
  else
    nc_req_fail(p->r, "InstanceResponse", 500, msg);
  free(p);
}

static void h_persistent(void *ud, nc_req *r, const nc_msg *m) {
  nc_naming *n = ud;
  names nm;
  if (!n->pstore) {
    nc_req_fail(r, "InstanceResponse", 400, "persistent instances are not served here");
    return;
  }
  if (get_names(r, m, "InstanceResponse", &nm))
    return;
  const char *type = nc_json_str(m->body, "type", "");
  int reg = strcmp(type, "registerInstance") == 0;
  if (!reg && strcmp(type, "deregisterInstance") != 0) {
    char msg[200];
    snprintf(msg, sizeof(msg), "errCode: 400, errMsg: Unsupported request type %.64s ", type);
    nc_req_reply(r, "ErrorResponse", nc_resp_new(400, 400, msg));
    return;
  }
  const cJSON *inst = cJSON_GetObjectItemCaseSensitive(m->body, "instance");
  const cJSON *ip = cJSON_GetObjectItemCaseSensitive(inst, "ip");
  const cJSON *port = cJSON_GetObjectItemCaseSensitive(inst, "port");
  if (!cJSON_IsObject(inst) || !cJSON_IsString(ip) || !*ip->valuestring ||
      strlen(ip->valuestring) > 128 || !cJSON_IsNumber(port) || port->valuedouble < 0 ||
      port->valuedouble > 65535) {
    nc_req_reply(r, "ErrorResponse",
                 nc_resp_new(400, 400, "instance with an ip and a port 0..65535 is required"));
    return;
  }
  preq *p = malloc(sizeof(*p));
  if (!p) {
    nc_req_fail(r, "InstanceResponse", 500, "out of memory");
    return;
  }
  p->r = r;
  p->type = reg ? "registerInstance" : "deregisterInstance";
  if (reg)
    nc_npstore_register(n->pstore, nm.ns, nm.group, nm.name, inst, persistent_done, p);
  else
    nc_npstore_deregister(n->pstore, nm.ns, nm.group, nm.name, ip->valuestring,
                          (int)port->valuedouble, persistent_done, p);
}

static void on_conn(void *ud, nc_conn *c, nc_conn_event ev) {
  nc_naming *n = ud;
  if (ev != NC_CONN_DOWN)
    return;
  if (n->mig && nc_nmig_hold(n->mig, n->reg, nc_conn_id(c), nc_now_ms())) {
    nc_npush_conn_gone(n->push, nc_conn_id(c)); /* its publications wait (naming_migrate.h) */
    return;
  }
  nc_naming_drop_client(n, nc_conn_id(c));
}

static void mig_drop(void *ud, const char *id) { nc_naming_drop_client(ud, id); }

void nc_naming_expect_move(nc_naming *n, const char *conn_id, uint64_t window_ms,
                           uint64_t grace_ms) {
  if (n->mig && grace_ms)
    nc_nmig_expect(n->mig, conn_id, nc_now_ms() + window_ms, grace_ms);
}

uint64_t nc_naming_migrating_held(const nc_naming *n) {
  nc_nmig_stats st = {0};
  if (n->mig)
    nc_nmig_get_stats(n->mig, &st);
  return st.held;
}

static void on_change(void *ud, const char *svc_key) {
  nc_naming *n = ud;
  nc_npush_service_changed(n->push, svc_key);
}

static void on_tick(void *ud) {
  nc_naming *n = ud;
  nc_naming_sync_expire_now(n);
  if (n->mig)
    nc_nmig_tick(n->mig, nc_now_ms(), mig_drop, n);
  size_t gone = nc_nreg_sweep(n->reg, nc_now_ms());
  if (gone)
    nc_debug("forgot %zu empty service(s)", gone);
}

static int send_push(void *ud, const char *conn_id, const char *body, size_t len, int timeout_ms,
                     nc_push_cb cb, void *cb_ud) {
  return nc_srv_push_raw(ud, conn_id, "NotifySubscriberRequest", body, len, timeout_ms, cb, cb_ud);
}

/* ---- operations ---- */

int nc_naming_publish(nc_naming *n, const char *client_id, const char *ns, const char *group,
                      const char *svc, nc_ninst **insts, size_t cnt) {
  if (cnt && n->pstore && !nc_nreg_is_persistent_id(client_id) &&
      nc_npstore_has_service(n->pstore, ns, group, svc)) {
    for (size_t i = 0; i < cnt; i++) {
      nc_ninst_free(insts[i]);
      insts[i] = NULL;
    }
    return NC_ECONFLICT; /* the service is persistent */
  }
  return nc_nreg_publish(n->reg, client_id, ns, group, svc, insts, cnt);
}

void nc_naming_drop_client(nc_naming *n, const char *client_id) {
  /* Deliveries first (a connection's in-flight pushes were resolved as
   * GONE by the core), then the registry, whose change listeners queue
   * pushes to the remaining subscribers. */
  nc_npush_conn_gone(n->push, client_id);
  nc_nreg_drop_conn(n->reg, client_id);
}

int nc_naming_subscribe(nc_naming *n, const char *conn_id, const char *ns, const char *group,
                        const char *svc, const char *clusters, int subscribe) {
  char kb[1024];
  const char *key = nc_nreg_key(kb, sizeof(kb), ns, group, svc);
  if (!key)
    return NC_EINVAL;
  if (!subscribe) {
    nc_nreg_unsubscribe(n->reg, conn_id, ns, group, svc);
    nc_npush_unsubscribed(n->push, conn_id, key);
    return 0;
  }
  int first = 0;
  int rc = nc_nreg_subscribe(n->reg, conn_id, ns, group, svc, clusters, &first);
  if (!rc && first)
    nc_npush_subscribed(n->push, conn_id, key);
  return rc;
}

cJSON *nc_naming_service_info(nc_naming *n, const char *ns, const char *group, const char *svc,
                              const char *clusters, int healthy_only) {
  return nc_nreg_service_info(n->reg, ns, group, svc, clusters, healthy_only);
}

int nc_naming_info_derived(nc_naming *n, const char *ns, const char *group, const char *svc,
                           const char *clusters, int healthy_only, int slot,
                           nc_nreg_derive_fn fn, void *ud, const uint8_t **out, size_t *len) {
  return nc_nreg_info_derived(n->reg, ns, group, svc, clusters, healthy_only, slot, fn, ud, out,
                              len);
}

size_t nc_naming_list(nc_naming *n, const char *ns, const char *group, int page_no,
                      int page_size, cJSON *names) {
  return nc_nreg_list(n->reg, ns, group, page_no, page_size, names);
}

int nc_naming_add_listener(nc_naming *n, nc_naming_change_fn fn, void *ud) {
  return nc_nreg_add_listener(n->reg, fn, ud);
}

int nc_naming_add_client_listener(nc_naming *n, nc_nreg_client_fn fn, void *ud) {
  return nc_nreg_add_client_listener(n->reg, fn, ud);
}

int nc_naming_sync_apply(nc_naming *n, const char *client_id, const char *owner, uint64_t rev,
                         nc_nreg_entry *e, size_t cnt) {
  return nc_nreg_sync_apply(n->reg, client_id, owner, rev, e, cnt, nc_now_ms());
}

int nc_naming_sync_delete(nc_naming *n, const char *client_id) {
  return nc_nreg_sync_delete(n->reg, client_id);
}

int nc_naming_sync_verify(nc_naming *n, const char *client_id, uint64_t rev) {
  return nc_nreg_sync_verify(n->reg, client_id, rev, nc_now_ms());
}

int nc_naming_sync_demote(nc_naming *n, const char *client_id, const char *owner) {
  return nc_nreg_sync_demote(n->reg, client_id, owner, nc_now_ms());
}

int nc_naming_sync_adopt(nc_naming *n, const char *client_id) {
  return nc_nreg_sync_adopt(n->reg, client_id);
}

size_t nc_naming_sync_retain(nc_naming *n, const char *owner,
                             int (*listed)(void *ud, const char *id), void *ud,
                             uint64_t min_age_ms, uint64_t grace_ms) {
  uint64_t now = nc_now_ms();
  size_t marked = nc_nreg_sync_retain(n->reg, owner, listed, ud,
                                      now > min_age_ms ? now - min_age_ms : 0, now + grace_ms);
  if (marked)
    nc_info("%zu synced client(s) of %s no longer asserted: they go in %llu ms", marked, owner,
            (unsigned long long)grace_ms);
  return marked;
}

void nc_naming_set_sync_expire(nc_naming *n, uint64_t expire_ms) {
  n->sync_expire_ms = expire_ms ? expire_ms : SYNC_EXPIRE_MS;
}

size_t nc_naming_sync_expire_now(nc_naming *n) {
  size_t gone = nc_nreg_sync_expire(n->reg, nc_now_ms(), n->sync_expire_ms);
  if (gone)
    nc_info("dropped %zu synced client(s): not renewed or their member is down", gone);
  return gone;
}

void nc_naming_owner_down(nc_naming *n, const char *owner, uint64_t grace_ms) {
  nc_nreg_owner_down(n->reg, owner, nc_now_ms() + grace_ms);
}

void nc_naming_owner_up(nc_naming *n, const char *owner) { nc_nreg_owner_up(n->reg, owner); }

nc_nreg *nc_naming_registry(nc_naming *n) { return n->reg; }

void nc_naming_set_pstore(nc_naming *n, nc_npstore *ps) { n->pstore = ps; }
nc_npstore *nc_naming_pstore(nc_naming *n) { return n->pstore; }

#define W (NC_H_CONN | NC_H_NAMING | NC_H_WRITE)
#define R (NC_H_CONN | NC_H_NAMING)
static const nc_handler_def naming_handlers[] = {
    {"InstanceRequest", "InstanceResponse", h_instance, W},
    {"BatchInstanceRequest", "BatchInstanceResponse", h_batch, W},
    {"PersistentInstanceRequest", "InstanceResponse", h_persistent, W},
    {"ServiceQueryRequest", "QueryServiceResponse", h_query, R},
    {"SubscribeServiceRequest", "SubscribeServiceResponse", h_subscribe, R},
    {"ServiceListRequest", "ServiceListResponse", h_list, R},
};
#undef W
#undef R

int nc_naming_init(nc_srv *srv, const nc_naming_opts *opts, nc_naming **out) {
  nc_naming *n = calloc(1, sizeof(*n));
  if (!n)
    return NC_ENOMEM;
  n->srv = srv;
  n->sync_expire_ms = SYNC_EXPIRE_MS;
  n->lim = *opts;
  nc_npush_opts po = {
      .merge_ms = opts->merge_ms < 0 ? 0 : opts->merge_ms,
      .timeout_ms = opts->push_timeout_ms > 0 ? opts->push_timeout_ms : 5000,
      .retry_ms = opts->push_retry_ms > 0 ? opts->push_retry_ms : 1000,
  };
  int rc = nc_nreg_new(&n->reg);
  if (!rc)
    rc = nc_npush_new(nc_srv_loop(srv), n->reg, &po, send_push, srv, &n->push);
  if (rc) {
    nc_nreg_free(n->reg);
    free(n);
    return rc;
  }
  if (!(n->mig = nc_nmig_new()) || nc_nreg_add_listener(n->reg, on_change, n)) {
    nc_naming_free(n);
    return NC_ENOMEM;
  }
  nc_nreg_set_empty_ttl(n->reg,
                        opts->empty_service_ttl_ms > 0 ? (uint64_t)opts->empty_service_ttl_ms : 0);
  if (NC_SRV_HANDLERS(srv, naming_handlers, n) || nc_srv_add_conn_listener(srv, on_conn, n) ||
      nc_srv_add_tick_fn(srv, on_tick, n)) {
    nc_naming_free(n);
    return NC_ENOMEM;
  }
  nc_nfz_opts fzo = {.max_patterns = opts->fuzzy_max_patterns,
                     .max_matches = opts->fuzzy_max_matches,
                     .timeout_ms = po.timeout_ms,
                     .retry_ms = po.retry_ms};
  if ((rc = nc_nfz_new(srv, n->reg, &fzo, &n->fz))) {
    nc_naming_free(n);
    return rc;
  }
  *out = n;
  return 0;
}

void nc_naming_free(nc_naming *n) {
  if (!n)
    return;
  nc_nfz_free(n->fz);
  nc_npush_free(n->push);
  nc_nreg_free(n->reg);
  nc_nmig_free(n->mig);
  free(n);
}

void nc_naming_get_stats(const nc_naming *n, nc_nreg_stats *reg, nc_npush_stats *push) {
  if (reg)
    nc_nreg_get_stats(n->reg, reg);
  if (push)
    nc_npush_get_stats(n->push, push);
}

void nc_naming_render_metrics(const nc_naming *n, nc_metrics_text *t) {
  nc_nreg_stats rs = {0};
  nc_npush_stats ps = {0};
  nc_naming_get_stats(n, &rs, &ps);
#define C(name, help, v) nc_metrics_add(t, "nacosd_", name, help, (uint64_t)(v))
  C("naming_services", "Services in the naming registry.", rs.services);
  C("naming_instances", "Instances in the naming registry.", rs.instances);
  C("naming_subscribers", "Service subscriptions held by connections.", rs.subscribers);
  C("naming_synced_clients", "Clients held as copies of cluster members' clients.",
    rs.synced_clients);
  C("naming_pushes_sent_total", "NotifySubscriberRequests sent, retries included.", ps.sent);
  C("naming_pushes_acked_total", "NotifySubscriberRequests acknowledged.", ps.acked);
  C("naming_pushes_retried_total", "NotifySubscriberRequests sent again after a timeout or error.",
    ps.retried);
  C("naming_pushes_failed_total", "NotifySubscriberRequests given up on.", ps.failed);
  C("naming_invalid_instances_total",
    "Instance registrations refused as invalid (weight, port, cluster, ...).", n->rej_invalid);
  C("naming_metadata_refused_total",
    "Instance registrations refused for metadata over --instance-metadata-max-*.",
    n->rej_metadata);
  C("naming_conn_services_refused_total",
    "Registrations refused: the connection held --max-services-per-conn services.",
    n->rej_services);
  C("naming_conn_instances_refused_total",
    "Registrations refused: the connection would hold over --max-instances-per-conn.",
    n->rej_instances);
  C("naming_conn_subscriptions_refused_total",
    "Subscriptions refused: the connection held --max-subscriptions-per-conn.", n->rej_subs);
  C("naming_migrating_held_total",
    "Moved connections whose instances were kept for the migrating grace after they closed.",
    nc_naming_migrating_held(n));
#undef C
  nc_nfz_render_metrics(n->fz, t);
}
