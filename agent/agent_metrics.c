/* What the agent reports about itself: the agent.status reply and, when
 * metrics-listen is set, an HTTP server (common/http nc_http, on the
 * agent's own loop) with a route table: GET /metrics in Prometheus text
 * (the nc_metrics_text builder), GET /health (a readiness probe), 404 and
 * 405 for the rest. Both read one snapshot (nc_ag_stats_get). Loop thread
 * only. */
#include "agent_metrics.h"
#include "link.h"
#include "reply.h"
#include "nc_err.h"
#include "nc_log.h"
#include "nc_metrics.h"

#include <ctype.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PFX "nacos_agent_"

void nc_ag_stats_get(nc_agent *ag, nc_ag_stats *s) {
  nc_st_counts n;
  nc_st_get_counts(ag->st, &n);
  memset(s, 0, sizeof(*s));
  s->connected = ag->connected;
  /* srv and up are gone while the agent stops; a scrape then still works */
  s->apps = ag->srv ? nc_ipc_srv_clients(ag->srv) : 0;
  s->instances = n.instances;
  s->subscriptions = n.subscriptions;
  s->config_listeners = n.config_listeners;
  s->local_subscriptions = n.local_subscriptions;
  s->local_config_listeners = n.local_config_listeners;
  s->uptime_s = (uv_now(ag->loop) - ag->start_ms) / 1000;
  s->reconnects = ag->reconnects;
  s->upstream_queued = ag->up ? nc_up_queued(ag->up) : 0;
  s->up_events = ag->up_events;
  s->ipc_requests = ag->ipc_requests;
  s->ipc_errors = nc_ag_err_count();
  /* Bytes the allocator has handed out (all threads' arenas): what the
   * agent's own data costs, unlike RSS which includes shared libraries. */
  struct mallinfo2 mi = mallinfo2();
  s->heap_bytes = mi.uordblks + mi.hblkhd;
}

static void op_status(nc_agent *ag, nc_ipc_client *c, const cJSON *id, const cJSON *req) {
  (void)req;
  nc_ag_stats s;
  nc_ag_stats_get(ag, &s);
  cJSON *r = cJSON_CreateObject();
  if (!r)
    return;
  cJSON_AddBoolToObject(r, "connected", s.connected);
  nc_ag_add_server(ag, r);
  if (s.connected)
    cJSON_AddStringToObject(r, "connection_id", ag->conn_id);
  else
    cJSON_AddNullToObject(r, "connection_id");
  char why[640] = "";
  if (!s.connected && ag->up)
    nc_up_last_error(ag->up, why, sizeof(why));
  if (why[0]) /* why the latest connect failed (a refused certificate, login, ...) */
    cJSON_AddStringToObject(r, "upstream_error", why);
  cJSON_AddNumberToObject(r, "apps", (double)s.apps);
  cJSON_AddNumberToObject(r, "instances", (double)s.instances);
  cJSON_AddNumberToObject(r, "subscriptions", (double)s.subscriptions);
  cJSON_AddNumberToObject(r, "config_listeners", (double)s.config_listeners);
  cJSON_AddNumberToObject(r, "local_subscriptions", (double)s.local_subscriptions);
  cJSON_AddNumberToObject(r, "local_config_listeners", (double)s.local_config_listeners);
  cJSON_AddNumberToObject(r, "uptime_s", (double)s.uptime_s);
  cJSON_AddNumberToObject(r, "reconnects", (double)s.reconnects);
  cJSON_AddNumberToObject(r, "upstream_queued", (double)s.upstream_queued);
  cJSON_AddNumberToObject(r, "heap_kb", (double)s.heap_bytes / 1024.0);
  if (ag->metrics)
    cJSON_AddNumberToObject(r, "metrics_port", ag->metrics_port);
  nc_ag_ok(c, id, r);
}

const nc_ag_op nc_ag_metrics_ops[] = {
    {"agent.status", op_status},
    {NULL, NULL},
};

/* Resident set size from /proc/self/statm (pages), 0 if unreadable. */
static uint64_t rss_bytes(void) {
  unsigned long long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f)
    return 0;
  if (fscanf(f, "%llu %llu", &size, &resident) != 2)
    resident = 0;
  fclose(f);
  long page = sysconf(_SC_PAGESIZE);
  return (uint64_t)resident * (uint64_t)(page > 0 ? page : 4096);
}

static char *render(nc_agent *ag) {
  nc_ag_stats s;
  nc_metrics_text t = {0};
  nc_ag_stats_get(ag, &s);
#define M(name, help, v) nc_metrics_add(&t, PFX, name, help, (uint64_t)(v))
  M("upstream_connected", "1 while the upstream server connection is up, else 0.", s.connected);
  M("reconnects_total", "Upstream connections made after the first one.", s.reconnects);
  M("apps", "Local apps connected to the socket.", s.apps);
  M("instances", "Instances registered by local apps.", s.instances);
  M("subscriptions", "Services subscribed upstream (one per service however many apps).",
    s.subscriptions);
  M("config_listeners", "Config keys listened to upstream (one per key however many apps).",
    s.config_listeners);
  M("local_subscriptions", "Service subscriptions of local apps (app, service pairs).",
    s.local_subscriptions);
  M("local_config_listeners", "Config listeners of local apps (app, key pairs).",
    s.local_config_listeners);
  M("upstream_queued", "Upstream requests waiting to be sent or answered.", s.upstream_queued);
  M("upstream_events_total", "Upstream requests sent plus server pushes received.",
    s.up_events);
  M("ipc_requests_total", "Request lines read from local apps.", s.ipc_requests);
  M("ipc_errors_total", "Error replies sent to local apps.", s.ipc_errors);
  M("uptime_seconds", "Seconds since the agent started.", s.uptime_s);
  M("resident_memory_bytes", "Resident set size of the agent process.", rss_bytes());
  M("heap_bytes", "Bytes the allocator has handed out (all arenas).", s.heap_bytes);
#undef M
  return nc_metrics_text_take(&t);
}

static void h_metrics(void *ud, nc_http_req *r) {
  char *text = render(ud);
  if (text)
    nc_http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
  else
    nc_http_reply_error(r, 500, "out of memory");
  free(text);
}

/* /health is a readiness probe: 200 only while apps' requests can reach a
 * server, else 503 saying why. */
static void h_health(void *ud, nc_http_req *r) {
  const nc_agent *ag = ud;
  static const char ok[] = "ok\n", down[] = "no upstream server connection\n";
  if (ag->connected)
    nc_http_reply(r, 200, "text/plain", ok, sizeof(ok) - 1);
  else
    nc_http_reply(r, 503, "text/plain", down, sizeof(down) - 1);
}

static const nc_http_route routes[] = {
    {"/metrics", NC_HTTP_GET, h_metrics, 0},
    {"/health", NC_HTTP_GET, h_health, 0},
};

static void on_http(void *ud, nc_http_req *r) {
  int status = 404;
  const nc_http_route *rt =
      nc_http_route_find(routes, sizeof(routes) / sizeof(routes[0]), r, &status);
  if (rt)
    rt->fn(ud, r);
  else
    nc_http_reply_error(r, status, status == 405 ? "method not allowed" : "not found");
}

/* "ip:port" or "[v6]:port" -> ip (brackets dropped) and port 0..65535. */
static int parse_listen(const char *v, char *ip, size_t cap, int *port) {
  const char *colon = strrchr(v, ':'), *h = v, *he = colon;
  if (!colon || !colon[1] || strlen(colon + 1) > 5)
    return NC_EINVAL;
  long p = 0;
  for (const char *d = colon + 1; *d; d++) {
    if (!isdigit((unsigned char)*d))
      return NC_EINVAL;
    p = p * 10 + (*d - '0');
  }
  if (p > 65535)
    return NC_EINVAL;
  if (*h == '[') {
    if (he - h < 2 || he[-1] != ']')
      return NC_EINVAL;
    h++;
    he--;
  } else if (memchr(h, ':', (size_t)(he - h))) {
    return NC_EINVAL; /* an IPv6 address needs its brackets */
  }
  if (he == h || (size_t)(he - h) >= cap)
    return NC_EINVAL;
  memcpy(ip, h, (size_t)(he - h));
  ip[he - h] = 0;
  *port = (int)p;
  return 0;
}

int nc_ag_metrics_start(nc_agent *ag) {
  const char *v = ag->cfg->metrics_listen;
  char ip[64];
  int port = 0, rc;
  if (!v || !*v)
    return 0;
  if (parse_listen(v, ip, sizeof(ip), &port) != 0) {
    nc_error("agent: --metrics-listen '%s': expected IP:PORT or [IPv6]:PORT", v);
    return NC_EINVAL;
  }
  nc_http_opts ho = {.bind = ip, .port = port, .max_conns = 64, .idle_timeout_s = 30};
  if ((rc = nc_http_start(ag->loop, &ho, on_http, ag, &ag->metrics)) != 0)
    return rc;
  ag->metrics_port = nc_http_port(ag->metrics);
  nc_info("agent: metrics on http://%s%s%s:%d/metrics", strchr(ip, ':') ? "[" : "", ip,
          strchr(ip, ':') ? "]" : "", ag->metrics_port);
  return 0;
}

void nc_ag_metrics_stop(nc_agent *ag) {
  nc_http_stop(ag->metrics);
  ag->metrics = NULL;
}
