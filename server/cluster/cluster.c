/* cluster: lifecycle, the member table, readiness holds, member listeners
 * and metrics (cluster.h). Peer connections are in cluster_peer.c, the
 * MemberReport exchange in cluster_report.c, Member JSON in
 * cluster_json.c. Loop thread only. */
#include "cluster_int.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *nc_member_state_name(nc_member_state s) {
  switch (s) {
  case NC_MEMBER_UP:
    return "UP";
  case NC_MEMBER_SUSPICIOUS:
    return "SUSPICIOUS";
  case NC_MEMBER_DOWN:
    return "DOWN";
  }
  return "UP";
}

nc_cmember *nc_cl_find(nc_cluster *cl, const char *address) {
  for (size_t i = 0; address && i < cl->n; i++)
    if (strcmp(cl->members[i]->address, address) == 0)
      return cl->members[i];
  return NULL;
}

static void member_free(nc_cmember *m) {
  if (!m)
    return;
  nc_cl_peer_free(m->peer);
  cJSON_Delete(m->ext);
  free(m->address);
  free(m->ip);
  free(m);
}

static int add_member(nc_cluster *cl, const char *address) {
  char host[256];
  int port = 0;
  nc_cmember *m = calloc(1, sizeof(*m));
  if (!m)
    return NC_ENOMEM;
  cl->members[cl->n++] = m;
  if (cl->standalone) { /* self only; its port may be 0 (ephemeral) */
    snprintf(host, sizeof(host), "%s", cl->o.advertise_ip && *cl->o.advertise_ip
                                           ? cl->o.advertise_ip : "127.0.0.1");
    port = cl->o.main_port;
  } else if (nc_cluster_split_addr(address, cl->o.main_port, host, sizeof(host), &port) != 0) {
    return NC_EINVAL;
  }
  m->address = strdup(address);
  m->ip = strdup(host);
  m->port = port;
  m->is_self = strcmp(address, cl->self) == 0;
  m->state = NC_MEMBER_UP; /* as Nacos: members parsed from the list start UP */
  if (!m->address || !m->ip || !(m->ext = nc_cl_default_ext(m)))
    return NC_ENOMEM;
  if (m->is_self)
    cl->me = m;
  return 0;
}

/* Reads the list and finds self; standalone without one. */
static int load_members(nc_cluster *cl) {
  nc_cluster_list l = {0};
  char err[1024] = "";
  int rc;
  cl->standalone = !cl->o.cluster_conf && !cl->o.members;
  if (cl->standalone) {
    snprintf(cl->self, sizeof(cl->self), "%s:%d",
             cl->o.advertise_ip && *cl->o.advertise_ip ? cl->o.advertise_ip : "127.0.0.1",
             cl->o.main_port);
    cl->members = calloc(1, sizeof(*cl->members));
    return cl->members ? add_member(cl, cl->self) : NC_ENOMEM;
  }
  rc = cl->o.cluster_conf
           ? nc_cluster_conf_read(cl->o.cluster_conf, cl->o.main_port, &l, err, sizeof(err))
           : nc_cluster_members_parse(cl->o.members, cl->o.main_port, &l, err, sizeof(err));
  if (rc == 0)
    rc = nc_cluster_find_self(&l, cl->o.advertise_ip, cl->o.main_port, cl->self,
                              sizeof(cl->self), err, sizeof(err));
  if (rc != 0) {
    nc_error("cluster: %s", err);
    goto out;
  }
  if (!(cl->members = calloc(l.n, sizeof(*cl->members)))) {
    rc = NC_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < l.n && rc == 0; i++)
    rc = add_member(cl, l.addr[i]);
  if (rc == 0)
    nc_info("cluster: %zu members, self %s", l.n, cl->self);
out:
  nc_cluster_list_free(&l);
  return rc;
}

static int serve_gate(void *ud) { return nc_cluster_ready(ud, NULL, 0); }

/* The cluster port: the request names this cluster's identity. Compared
 * in constant time (length leaks nothing useful: the value is fixed). */
static int identity_ok(void *ud, const nc_msg *m) {
  nc_cluster *cl = ud;
  const char *v = nc_msg_header(m, cl->identity[0]);
  const char *want = cl->identity[1];
  if (!v || strlen(v) != strlen(want))
    return 0;
  unsigned char d = 0;
  for (size_t i = 0; want[i]; i++)
    d |= (unsigned char)(v[i] ^ want[i]);
  return d == 0;
}

int nc_cluster_new(uv_loop_t *loop, nc_srv *srv, const nc_cluster_opts *opts, nc_cluster **out) {
  nc_cluster *cl = calloc(1, sizeof(*cl));
  int rc = NC_ENOMEM;
  *out = NULL;
  if (!cl)
    return rc;
  cl->loop = loop;
  cl->srv = srv;
  cl->o = *opts;
  if (cl->o.report_interval_ms <= 0)
    cl->o.report_interval_ms = 2000;
  if (cl->o.unhealthy_interval_ms <= 0)
    cl->o.unhealthy_interval_ms = 5000;
  if (cl->o.request_timeout_ms <= 0)
    cl->o.request_timeout_ms = 3000;
  if (cl->o.fail_threshold <= 0)
    cl->o.fail_threshold = 3;
  rc = load_members(cl);
  /* the strings are the caller's: none is kept beyond load_members */
  cl->o.cluster_conf = cl->o.members = cl->o.advertise_ip = NULL;
  cl->o.identity_key = cl->o.identity_value = NULL;
  if (!rc && opts->identity_key && *opts->identity_key &&
      (!(cl->identity[0] = strdup(opts->identity_key)) ||
       !(cl->identity[1] = strdup(opts->identity_value ? opts->identity_value : ""))))
    rc = NC_ENOMEM;
  if (rc != 0)
    goto fail;
  if (!(cl->info_buf = calloc(cl->n, sizeof(*cl->info_buf))) ||
      (rc = nc_evq_new(loop, nc_cl_on_event, cl, &cl->q)) != 0) {
    rc = rc ? rc : NC_ENOMEM;
    goto fail;
  }
  if ((rc = nc_cl_report_init(cl)) != 0)
    goto fail;
  nc_srv_set_serve_gate(srv, serve_gate, cl);
  if (cl->identity[0])
    nc_srv_set_peer_check(srv, identity_ok, cl);
  *out = cl;
  return 0;
fail:
  nc_cluster_stop(cl);
  nc_cluster_free(cl);
  return rc;
}

static void on_hold_timer(uv_timer_t *t) {
  nc_cluster *cl = t->data;
  if (cl->test_hold) {
    nc_info("cluster: test readiness hold ends");
    nc_cluster_release_ready(cl, cl->test_hold);
    cl->test_hold = NULL;
  }
}

int nc_cluster_start(nc_cluster *cl) {
  int rc = 0;
  if (cl->started)
    return 0;
  cl->started = 1;
  uv_timer_t *timers[] = {&cl->hold_timer, &cl->report_timer, &cl->unhealthy_timer};
  for (size_t i = 0; i < 3; i++) {
    uv_timer_init(cl->loop, timers[i]);
    timers[i]->data = cl;
  }
  cl->timers_on = 3;
  if (cl->o.hold_ready_ms > 0) {
    cl->test_hold = nc_cluster_hold_ready(cl, "test hold (--cluster-hold-ready-ms)");
    uv_timer_start(&cl->hold_timer, on_hold_timer, (uint64_t)cl->o.hold_ready_ms, 0);
  }
  if (cl->standalone)
    return 0;
  if ((rc = nc_gcli_env_new(1, &cl->env)) != 0)
    return rc;
  if ((rc = nc_cl_peers_start(cl)) != 0)
    return rc;
  nc_cl_report_start(cl);
  return 0;
}

static void timer_closed(uv_handle_t *h) {
  nc_cluster *cl = h->data;
  if (--cl->timers_on == 0 && cl->stopped == 2)
    free(cl);
}

void nc_cluster_stop(nc_cluster *cl) {
  if (!cl || cl->stopped)
    return;
  cl->stopped = 1;
  uv_timer_t *timers[] = {&cl->hold_timer, &cl->report_timer, &cl->unhealthy_timer};
  for (size_t i = 0; cl->timers_on && i < 3; i++) {
    uv_timer_stop(timers[i]);
    uv_close((uv_handle_t *)timers[i], timer_closed);
  }
  nc_cl_peers_stop(cl);
  if (cl->q)
    nc_evq_close(cl->q, nc_cl_drop_event);
  cl->q = NULL;
  if (cl->env)
    nc_gcli_env_free(cl->env);
  cl->env = NULL;
}

void nc_cluster_free(nc_cluster *cl) {
  if (!cl)
    return;
  nc_cluster_stop(cl);
  for (size_t i = 0; i < cl->n; i++)
    member_free(cl->members[i]);
  free(cl->members);
  free(cl->listeners);
  free(cl->info_buf);
  free(cl->identity[0]);
  free(cl->identity[1]);
  while (cl->holds) {
    struct nc_cluster_hold *h = cl->holds;
    cl->holds = h->next;
    free(h);
  }
  cl->stopped = 2;
  if (cl->timers_on == 0)
    free(cl); /* else the last timer's close callback frees it */
}

int nc_cluster_is_standalone(const nc_cluster *cl) { return cl->standalone; }
const char *nc_cluster_self(const nc_cluster *cl) { return cl->self; }

void nc_cl_member_info(const nc_cmember *m, nc_member_info *out) {
  const cJSON *rd = cJSON_GetObjectItemCaseSensitive(m->ext, "nc.ready");
  const cJSON *cn = cJSON_GetObjectItemCaseSensitive(m->ext, "nc.connections");
  memset(out, 0, sizeof(*out));
  out->address = m->address;
  out->ip = m->ip;
  out->port = m->port;
  out->is_self = m->is_self;
  out->state = m->state;
  /* a Java peer sends no nc.ready: one that answered is taken as ready */
  out->ready = cJSON_IsBool(rd) ? cJSON_IsTrue(rd) : m->reported;
  out->connected = m->peer && m->peer->wc;
  out->last_refresh_ms = m->last_refresh_ms;
  out->fail_count = m->fail_count;
  out->version = nc_json_str(m->ext, "version", "");
  out->connections = cJSON_IsNumber(cn) ? (long long)cn->valuedouble : -1;
}

size_t nc_cluster_members(nc_cluster *cl, nc_member_info *out, size_t cap) {
  for (size_t i = 0; i < cl->n && i < cap; i++) {
    nc_cl_member_info(cl->members[i], &out[i]);
    if (cl->members[i]->is_self) {
      out[i].ready = nc_cluster_ready(cl, NULL, 0);
      out[i].version = NC_VERSION;
      out[i].connections = (long long)nc_srv_sdk_conn_count(cl->srv);
      out[i].last_refresh_ms = nc_now_ms();
    }
  }
  return cl->n;
}

cJSON *nc_cluster_member_json(nc_cluster *cl, const char *address) {
  nc_cmember *m = nc_cl_find(cl, address);
  return m ? nc_cl_member_to_json(cl, m) : NULL;
}

cJSON *nc_cluster_members_json(nc_cluster *cl) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < cl->n; i++) {
    cJSON *j = nc_cl_member_to_json(cl, cl->members[i]);
    if (!j || !cJSON_AddItemToArray(a, j)) {
      cJSON_Delete(j);
      cJSON_Delete(a);
      return NULL;
    }
  }
  return a;
}

/* ---- readiness ---- */

nc_cluster_hold *nc_cluster_hold_ready(nc_cluster *cl, const char *why) {
  nc_cluster_hold *h = calloc(1, sizeof(*h));
  if (!h)
    return NULL;
  snprintf(h->why, sizeof(h->why), "%s", why ? why : "starting");
  /* appended, so the reason shown is the oldest hold's */
  nc_cluster_hold **pp = &cl->holds;
  while (*pp)
    pp = &(*pp)->next;
  *pp = h;
  nc_info("cluster: readiness held (%s)", h->why);
  if (!h->next && cl->holds == h)
    nc_cl_report_all(cl); /* peers learn nc.ready=false now, not in 2 s */
  return h;
}

void nc_cluster_release_ready(nc_cluster *cl, nc_cluster_hold *h) {
  for (nc_cluster_hold **pp = &cl->holds; h && *pp; pp = &(*pp)->next)
    if (*pp == h) {
      *pp = h->next;
      nc_info("cluster: readiness hold released (%s)%s", h->why,
              cl->holds ? "" : "; this node is ready");
      free(h);
      if (!cl->holds)
        nc_cl_report_all(cl);
      return;
    }
}

int nc_cluster_ready(const nc_cluster *cl, char *why, size_t cap) {
  if (!cl->holds)
    return 1;
  if (why && cap)
    snprintf(why, cap, "%s", cl->holds->why);
  return 0;
}

/* ---- listeners ---- */

int nc_cluster_add_member_listener(nc_cluster *cl, nc_cluster_member_fn fn, void *ud) {
  nc_cl_listener *l = realloc(cl->listeners, (cl->n_listeners + 1) * sizeof(*l));
  if (!l)
    return NC_ENOMEM;
  cl->listeners = l;
  l[cl->n_listeners++] = (nc_cl_listener){fn, ud};
  return 0;
}

void nc_cl_notify(nc_cluster *cl, nc_cmember *m, nc_member_state old) {
  nc_member_info info;
  if (old != m->state)
    nc_info("cluster: member %s %s -> %s (failures %d)", m->address, nc_member_state_name(old),
            nc_member_state_name(m->state), m->fail_count);
  nc_cl_member_info(m, &info);
  for (size_t i = 0; i < cl->n_listeners; i++)
    cl->listeners[i].fn(cl->listeners[i].ud, &info, old);
}

/* ---- metrics ---- */

#define P "nacosd_"

void nc_cluster_render_metrics(nc_cluster *cl, nc_metrics_text *t) {
  nc_metrics_add(t, P, "cluster_ready", "1 when this node may serve SDK clients",
                 (uint64_t)nc_cluster_ready(cl, NULL, 0));
  nc_metrics_add(t, P, "cluster_members", "members in the cluster list (self included)", cl->n);
  nc_metrics_family(t, P, "cluster_member_state",
                    "member state as this node sees it: 0 UP, 1 SUSPICIOUS, 2 DOWN");
  for (size_t i = 0; i < cl->n; i++)
    nc_metrics_add_labelled(t, P, "cluster_member_state", "member", cl->members[i]->address,
                            (uint64_t)cl->members[i]->state);
  nc_metrics_family(t, P, "cluster_member_connected",
                    "1 while this node's connection to the member is up");
  for (size_t i = 0; i < cl->n; i++)
    if (!cl->members[i]->is_self)
      nc_metrics_add_labelled(t, P, "cluster_member_connected", "member",
                              cl->members[i]->address, cl->members[i]->peer &&
                                                           cl->members[i]->peer->wc);
  nc_metrics_add(t, P, "cluster_reports_sent_total", "MemberReportRequests sent to peers",
                 cl->reports_sent);
  nc_metrics_add(t, P, "cluster_reports_failed_total",
                 "MemberReportRequests that failed (not connected, timeout, error reply)",
                 cl->reports_failed);
  nc_metrics_add(t, P, "cluster_reports_received_total",
                 "MemberReportRequests answered for peers", cl->reports_received);
}
