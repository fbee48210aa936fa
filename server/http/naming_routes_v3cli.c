/* naming_routes_v3cli: the client paths of Nacos 3.x's naming admin API
 * (ClientControllerV3), in the Result envelope:
 *   GET /nacos/v3/admin/ns/client/list   the client ids (ClientManager's)
 *   GET /client?clientId=                ClientSummaryInfo
 *   GET /client/publish/list?clientId=   what it publishes: ClientServiceInfo
 *                                        with publisherInfo {ip, port, clusterName}
 *   GET /client/service/publisher/list   the publishers of a service
 *   GET /client/service/subscriber/list  this node's subscribers of a service
 *     (both: serviceName required, groupName, namespaceId, ip / port filters)
 * A client is one of this node's SDK connections, a publishing client of
 * the registry (HTTP ip:port#true, native or synced from a member) or a
 * persistent ip:port#false. With auth on, an admin only (Nacos's ADMIN_API
 * resource of these paths is no namespace's). */
#include "naming_routes_int.h"

#include "naming_instance.h"
#include "naming_pstore.h"
#include "nc_json.h"
#include "nc_strmap.h"
#include "srv_each.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct client_walk {
  nc_strmap *seen;
  cJSON *ids;
} client_walk;

static void add_id(client_walk *w, const char *id) {
  if (!nc_strmap_get(w->seen, id) && nc_strmap_put(w->seen, id, (void *)1, NULL) == 0)
    cJSON_AddItemToArray(w->ids, cJSON_CreateString(id));
}
static void on_conn(void *ud, nc_conn *c) {
  if (!nc_conn_is_cluster(c))
    add_id(ud, nc_conn_id(c));
}
static void on_client(void *ud, const char *id, int synced, const char *owner, uint64_t rev) {
  (void)synced, (void)owner, (void)rev;
  add_id(ud, id);
}
static void on_persistent(void *ud, const nc_npstore_inst *in) {
  char id[NAME_CAP + 32];
  snprintf(id, sizeof(id), "%s:%d#false", in->ip, in->port);
  add_id(ud, id);
}

/* Every client id, each once. Caller owns; NULL: out of memory. */
static cJSON *client_ids(nc_nroutes *nr) {
  client_walk w = {nc_strmap_new(), cJSON_CreateArray()};
  if (w.seen && w.ids) {
    if (nr->srv)
      nc_srv_each_conn(nr->srv, on_conn, &w);
    nc_nreg_each_client(nc_naming_registry(nr->naming), 0, NULL, on_client, &w);
    nc_npstore *ps = nc_naming_pstore(nr->naming);
    if (ps)
      nc_npstore_each(ps, on_persistent, &w);
  }
  nc_strmap_free(w.seen, NULL);
  if (!w.seen) {
    cJSON_Delete(w.ids);
    return NULL;
  }
  return w.ids;
}

void nc_nrt_v3_client_ids(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  if (!nc_nrt_v3_admin_only(nr, r))
    return;
  cJSON *ids = client_ids(nr);
  if (!ids) {
    nc_nrt_fail(r, 1, 500, E_SERVER, "out of memory");
    return;
  }
  nc_nrt_ok_json(r, 1, ids);
}

/* The clientId parameter of a known client: it, or NULL when answered
 * (400 10000 missing, 404 20004 unknown, as Nacos's checkClientId). */
static const char *known_client(nc_nroutes *nr, nc_http_req *r) {
  if (!nc_nrt_v3_admin_only(nr, r)) /* Nacos's auth filter runs before the form's checks */
    return NULL;
  const char *id = nc_nrt_param(r, "clientId");
  if (!id) {
    nc_nrt_v3_missing(r, "clientId", "String");
    return NULL;
  }
  cJSON *ids = client_ids(nr), *it;
  int known = 0;
  cJSON_ArrayForEach(it, ids) known |= !strcmp(it->valuestring, id);
  cJSON_Delete(ids);
  if (!known) {
    char why[NAME_CAP + 64];
    snprintf(why, sizeof(why), "clientId [ %.*s ] not exist", NAME_CAP, id);
    nc_nrt_fail(r, 1, 404, E_NOT_FOUND, why);
    return NULL;
  }
  return id;
}

void nc_nrt_v3_client_detail(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  const char *id = known_client(nr, r);
  if (!id)
    return;
  nc_conn *c = nr->srv ? nc_srv_find_conn(nr->srv, id) : NULL;
  const char *hash = strrchr(id, '#');
  int ip_port = hash && (!strcmp(hash, "#true") || !strcmp(hash, "#false"));
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "clientId", id);
  cJSON_AddBoolToObject(o, "ephemeral", !(ip_port && !strcmp(hash, "#false")));
  cJSON_AddNumberToObject(o, "lastUpdatedTime", c ? (double)nc_conn_last_active_ms(c) : 0);
  cJSON_AddStringToObject(o, "clientType", ip_port ? "ipPort" : "connection");
  if (c) {
    const char *ip = nc_conn_client_ip(c);
    cJSON_AddStringToObject(o, "connectType", "GRPC");
    cJSON_AddStringToObject(o, "appName", nc_conn_app(c) ? nc_conn_app(c) : "");
    cJSON_AddStringToObject(o, "version", nc_conn_version(c) ? nc_conn_version(c) : "");
    cJSON_AddStringToObject(o, "clientIp", ip && *ip ? ip : nc_conn_remote_ip(c));
    cJSON_AddNumberToObject(o, "clientPort", nc_conn_remote_port(c));
  }
  nc_nrt_ok_json(r, 1, o);
}

/* ---- publications ---- */

typedef struct pubs {
  const svc_ref *only; /* NULL: every service */
  const char *client_id, *ip;
  long port; /* < 0: any */
  cJSON *list;
} pubs;

/* Nacos's ClientPublisherInfo {clientId (when known), ip, port, clusterName}. */
static cJSON *publisher_info(const nc_ninst *in, const char *client_id, const char *ip,
                             long port) {
  cJSON *j = nc_ninst_to_json(in, "", "");
  const char *hip = nc_json_str(j, "ip", "");
  int hport = (int)nc_json_num(j, "port", 0);
  cJSON *o = NULL;
  if ((!ip || !strcmp(ip, hip)) && (port < 0 || port == hport)) {
    o = cJSON_CreateObject();
    if (client_id)
      cJSON_AddStringToObject(o, "clientId", client_id);
    cJSON_AddStringToObject(o, "ip", hip);
    cJSON_AddNumberToObject(o, "port", hport);
    cJSON_AddStringToObject(o, "clusterName", nc_ninst_cluster(in));
  }
  cJSON_Delete(j);
  return o;
}

static void on_pub(void *ud, const char *ns, const char *group, const char *name,
                   nc_ninst *const *insts, size_t n) {
  pubs *p = ud;
  if (p->only && (strcmp(ns, p->only->ns) || strcmp(group, p->only->group) ||
                  strcmp(name, p->only->name)))
    return;
  for (size_t i = 0; i < n; i++) {
    cJSON *pi = publisher_info(insts[i], p->only ? p->client_id : NULL, p->ip, p->port);
    if (!pi)
      continue;
    if (p->only) { /* /service/publisher/list: the publisher itself */
      cJSON_AddItemToArray(p->list, pi);
      continue;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "namespaceId", ns);
    cJSON_AddStringToObject(o, "groupName", group);
    cJSON_AddStringToObject(o, "serviceName", name);
    cJSON_AddItemToObject(o, "publisherInfo", pi);
    cJSON_AddItemToArray(p->list, o);
  }
}

void nc_nrt_v3_client_publishes(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  const char *id = known_client(nr, r);
  if (!id)
    return;
  pubs p = {NULL, id, NULL, -1, cJSON_CreateArray()};
  nc_nreg_client_pubs(nc_naming_registry(nr->naming), id, NULL, NULL, on_pub, &p);
  nc_nrt_ok_json(r, 1, p.list);
}

/* serviceName (required), groupName, namespaceId, ip, port of
 * ClientServiceForm: 0, or answered. */
static int service_form(nc_nroutes *nr, nc_http_req *r, svc_ref *s, const char **ip, long *port) {
  if (!nc_nrt_v3_admin_only(nr, r) || nc_nrt_parse_svc(r, 1, s))
    return -1;
  const char *pv = nc_nrt_param(r, "port");
  char *end = NULL;
  errno = 0;
  *port = pv ? strtol(pv, &end, 10) : -1;
  if (pv && (errno || *end || *port < 0 || *port > 65535)) {
    nc_nrt_fail(r, 1, 400, E_PARAM_VALIDATE, "Param 'port' is illegal");
    return -1;
  }
  *ip = nc_nrt_param(r, "ip");
  return 0;
}

typedef struct svc_pubs {
  nc_nreg *reg;
  pubs *p;
} svc_pubs;

static void on_publisher(void *ud, const char *client_id) {
  svc_pubs *x = ud;
  x->p->client_id = client_id;
  nc_nreg_client_pubs(x->reg, client_id, NULL, NULL, on_pub, x->p);
}

void nc_nrt_v3_service_publishers(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  svc_ref s;
  pubs p = {&s, NULL, NULL, -1, NULL};
  if (service_form(nr, r, &s, &p.ip, &p.port))
    return;
  p.list = cJSON_CreateArray();
  char kb[4 * NAME_CAP];
  const char *key = nc_nreg_key(kb, sizeof(kb), s.ns, s.group, s.name);
  svc_pubs x = {nc_naming_registry(nr->naming), &p};
  if (key)
    nc_nreg_each_publisher(x.reg, key, on_publisher, &x);
  nc_nrt_ok_json(r, 1, p.list);
}

/* ---- subscriptions ---- */

typedef struct svc_subs {
  nc_nroutes *nr;
  const char *ip;
  long port;
  cJSON *list;
} svc_subs;

static void on_subscriber(void *ud, const char *conn_id) {
  svc_subs *x = ud;
  nc_conn *c = x->nr->srv ? nc_srv_find_conn(x->nr->srv, conn_id) : NULL;
  const char *ip = c ? nc_conn_client_ip(c) : NULL;
  if (c && (!ip || !*ip))
    ip = nc_conn_remote_ip(c);
  int port = c ? nc_conn_remote_port(c) : 0;
  if ((x->ip && (!ip || strcmp(x->ip, ip))) || (x->port >= 0 && x->port != port))
    return;
  char addr[NAME_CAP + 16];
  snprintf(addr, sizeof(addr), "%s:%d", ip ? ip : "", port);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "clientId", conn_id);
  cJSON_AddStringToObject(o, "appName", c && nc_conn_app(c) ? nc_conn_app(c) : "");
  cJSON_AddStringToObject(o, "agent", c && nc_conn_version(c) ? nc_conn_version(c) : "");
  cJSON_AddStringToObject(o, "address", addr);
  cJSON_AddItemToArray(x->list, o);
}

void nc_nrt_v3_service_subscribers(void *ud, nc_http_req *r) {
  nc_nroutes *nr = ud;
  svc_ref s;
  svc_subs x = {nr, NULL, -1, NULL};
  if (service_form(nr, r, &s, &x.ip, &x.port))
    return;
  x.list = cJSON_CreateArray();
  char kb[4 * NAME_CAP];
  const char *key = nc_nreg_key(kb, sizeof(kb), s.ns, s.group, s.name);
  if (key)
    nc_nreg_each_subscriber(nc_naming_registry(nr->naming), key, on_subscriber, &x);
  nc_nrt_ok_json(r, 1, x.list);
}
