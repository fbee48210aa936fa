/* cluster_report: MemberReportRequest / MemberReportResponse both ways
 * (nacos-cluster.md §1.5, §1.6).
 *
 * Sender: every report interval (2 s) to one peer, round-robin, and every
 * unhealthy interval (5 s) to every peer that is not UP; one report in
 * flight per peer. A success (resultCode 200) makes the peer UP, resets
 * its failure count and takes the extendInfo it answered with. A failure
 * (not connected, an error reply, or - unlike Nacos - a timeout) counts:
 * the first makes it SUSPICIOUS, more than fail_threshold (3) make it
 * DOWN, and so does a refused connect at once (Nacos's "Connection
 * refused" rule).
 *
 * Receiver (cluster port only): an illegal node gets resultCode 500 /
 * errorCode 400 "Node information is illegal"; a known member is forced
 * UP with its failures reset and its extendInfo stored with
 * lastRefreshTime = now; an unknown one is ignored (logged), as Nacos does
 * (members come from the list only). The answer carries our self Member. */
#include "cluster_int.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

static void set_state(nc_cluster *cl, nc_cmember *m, nc_member_state st) {
  nc_member_state old = m->state;
  m->state = st;
  if (old != st)
    nc_cl_notify(cl, m, old);
}

/* Sets key in obj, keeping the keys sorted (Java's TreeMap order). */
static void set_sorted_number(cJSON *obj, const char *key, double v) {
  cJSON *n = cJSON_CreateNumber(v);
  int at = 0;
  const cJSON *it;
  if (!n || !obj) {
    cJSON_Delete(n);
    return;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
  cJSON_ArrayForEach(it, obj) {
    if (it->string && strcmp(it->string, key) > 0)
      break;
    at++;
  }
  if (!(n->string = strdup(key)) || !cJSON_InsertItemInArray(obj, at, n)) {
    if (!cJSON_AddItemToObject(obj, key, n)) /* appended: unsorted, never lost */
      cJSON_Delete(n);
  }
}

/* Stores node's extendInfo (when it sent one) with our refresh time. */
static void take_ext(nc_cmember *m, const cJSON *node) {
  const cJSON *ext = cJSON_GetObjectItemCaseSensitive(node, "extendInfo");
  uint64_t now = nc_now_ms();
  if (cJSON_IsObject(ext)) {
    cJSON *d = cJSON_Duplicate(ext, 1);
    if (d) {
      cJSON_Delete(m->ext);
      m->ext = d;
    }
  }
  set_sorted_number(m->ext, "lastRefreshTime", (double)now);
  m->last_refresh_ms = now;
  m->reported = 1;
}

static void on_success(nc_cluster *cl, nc_cmember *m, const cJSON *node) {
  nc_member_info before, after;
  nc_member_state old = m->state;
  nc_cl_member_info(m, &before);
  m->fail_count = 0;
  take_ext(m, node);
  m->state = NC_MEMBER_UP;
  nc_cl_member_info(m, &after);
  /* its readiness matters to Distro (snapshot source) and the agent */
  if (old != m->state || before.ready != after.ready)
    nc_cl_notify(cl, m, old);
}

void nc_cl_report_all(nc_cluster *cl) {
  /* connected peers only: this is news for them, not a liveness probe, so
   * it must not count failures against the others */
  for (size_t i = 0; cl->started && i < cl->n; i++)
    if (cl->members[i]->peer && cl->members[i]->peer->wc)
      nc_cl_report_member(cl, cl->members[i]);
}

static void on_fail(nc_cluster *cl, nc_cmember *m, int refused, const char *why) {
  cl->reports_failed++;
  m->fail_count++;
  nc_debug("cluster: report to %s failed (%s), %d in a row", m->address, why, m->fail_count);
  set_state(cl, m,
            refused || m->fail_count > cl->o.fail_threshold ? NC_MEMBER_DOWN
                                                            : NC_MEMBER_SUSPICIOUS);
}

static void on_report_resp(void *ud, int status, const nc_msg *resp) {
  nc_cmember *m = ud;
  nc_cluster *cl = m->peer->cl;
  m->report_inflight = 0;
  if (cl->stopped)
    return;
  if (status != 0) {
    on_fail(cl, m, 0, nc_strerror(status));
    return;
  }
  long long code = resp->body ? nc_json_int(resp->body, "resultCode", 0) : 0;
  if (code != 200) {
    on_fail(cl, m, 0, resp->type);
    return;
  }
  on_success(cl, m, cJSON_GetObjectItemCaseSensitive(resp->body, "node"));
}

void nc_cl_report_member(nc_cluster *cl, nc_cmember *m) {
  if (m->is_self || m->report_inflight || cl->stopped)
    return;
  cJSON *body = cJSON_CreateObject(), *node = nc_cl_member_to_json(cl, cl->me);
  if (!body || !node || !cJSON_AddObjectToObject(body, "headers") ||
      !cJSON_AddItemToObject(body, "node", node) ||
      !cJSON_AddStringToObject(body, "module", "cluster")) {
    if (!cJSON_GetObjectItemCaseSensitive(body, "node"))
      cJSON_Delete(node);
    cJSON_Delete(body);
    return;
  }
  cl->reports_sent++;
  int rc = nc_cluster_send(cl, m->address, "MemberReportRequest", body, 0, on_report_resp, m);
  if (rc == 0)
    m->report_inflight = 1;
  else
    on_fail(cl, m, rc == NC_EUNAVAIL && m->peer && m->peer->refused, nc_strerror(rc));
}

static void on_report_timer(uv_timer_t *t) {
  nc_cluster *cl = t->data;
  for (size_t k = 0; k < cl->n; k++) {
    nc_cmember *m = cl->members[cl->rr++ % cl->n];
    if (!m->is_self) {
      nc_cl_report_member(cl, m);
      return;
    }
  }
}

static void on_unhealthy_timer(uv_timer_t *t) {
  nc_cluster *cl = t->data;
  for (size_t i = 0; i < cl->n; i++)
    if (!cl->members[i]->is_self && cl->members[i]->state != NC_MEMBER_UP)
      nc_cl_report_member(cl, cl->members[i]);
}

void nc_cl_report_start(nc_cluster *cl) {
  uv_timer_start(&cl->report_timer, on_report_timer, (uint64_t)cl->o.report_interval_ms,
                 (uint64_t)cl->o.report_interval_ms);
  uv_timer_start(&cl->unhealthy_timer, on_unhealthy_timer, (uint64_t)cl->o.unhealthy_interval_ms,
                 (uint64_t)cl->o.unhealthy_interval_ms);
}

/* ---- receiver ---- */

static int node_legal(const cJSON *node) {
  const char *ip = nc_json_str(node, "ip", ""), *addr = nc_json_str(node, "address", "");
  const cJSON *port = cJSON_GetObjectItemCaseSensitive(node, "port");
  return cJSON_IsObject(node) && ip[0] && addr[0] && cJSON_IsNumber(port) &&
         port->valuedouble >= 1 && port->valuedouble <= 65535;
}

static void h_member_report(void *ud, nc_req *r, const nc_msg *req) {
  nc_cluster *cl = ud;
  const cJSON *node = cJSON_GetObjectItemCaseSensitive(req->body, "node");
  if (!node_legal(node)) {
    nc_req_fail(r, NULL, 400, "Node information is illegal");
    return;
  }
  cl->reports_received++;
  const char *addr = nc_json_str(node, "address", "");
  nc_cmember *m = nc_cl_find(cl, addr);
  if (!m || m->is_self)
    nc_warn("cluster: MemberReportRequest from %s, which is not a member (ignored)", addr);
  else if (!cl->stopped)
    on_success(cl, m, node);
  cJSON *b = cJSON_CreateObject(), *self = nc_cl_member_to_json(cl, cl->me);
  if (b && self && cJSON_AddItemToObject(b, "node", self)) {
    nc_req_reply(r, NULL, b);
    return;
  }
  cJSON_Delete(self);
  cJSON_Delete(b);
  nc_req_error(r, 500, "out of memory");
}

static const nc_handler_def report_handlers[] = {
    {"MemberReportRequest", "MemberReportResponse", h_member_report, NC_H_CLUSTER},
};

int nc_cl_report_init(nc_cluster *cl) { return NC_SRV_HANDLERS(cl->srv, report_handlers, cl); }

/* ---- the rebalance engine's load keys (cluster.h) ---- */

void nc_cluster_set_self_ext(nc_cluster *cl, nc_cluster_ext_fn fn, void *ud) {
  cl->self_ext_fn = fn;
  cl->self_ext_ud = ud;
}

const cJSON *nc_cluster_member_ext(nc_cluster *cl, const char *address, uint64_t *refresh_ms) {
  nc_cmember *m = address ? nc_cl_find(cl, address) : NULL;
  if (refresh_ms)
    *refresh_ms = m && m->reported ? m->last_refresh_ms : 0;
  return m && !m->is_self ? m->ext : NULL;
}

void nc_cluster_report_now(nc_cluster *cl) { nc_cl_report_all(cl); }
