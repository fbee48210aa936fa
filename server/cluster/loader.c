/* loader: see loader.h. The module, its cluster request handlers, the
 * connection limit and its file, this node's metrics. */
#include "loader_int.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"
#include "rebalance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const op_names[LD_N_OPS] = {
    "current", "cluster", "reloadCurrent", "reloadClient", "smartReloadCluster",
    "limit",   "drain",   "undrain",       "rebalance",
};

const char *nc_ld_op_name(ld_op op) { return op < LD_N_OPS ? op_names[op] : "?"; }

int nc_ld_op_parse(const char *s, ld_op *out) {
  for (int i = 0; s && i < LD_N_OPS; i++)
    if (!strcmp(s, op_names[i])) {
      *out = (ld_op)i;
      return 0;
    }
  return NC_EINVAL;
}

static const char *code_message(int code) {
  switch (code) {
  case LD_OK: return "success";
  case LD_PARAM_MISSING: return "parameter missing";
  case LD_PARAM_INVALID: return "parameter validate error";
  case LD_NOT_FOUND: return "resource not found";
  default: return "server error";
  }
}

void nc_ld_reply(nc_loader_done_fn cb, void *ud, int status, int code, cJSON *data) {
  cJSON *r = cJSON_CreateObject();
  if (r) {
    cJSON_AddNumberToObject(r, "code", code);
    cJSON_AddStringToObject(r, "message", code_message(code));
    if (data)
      cJSON_AddItemToObject(r, "data", data);
  } else {
    cJSON_Delete(data);
  }
  cb(ud, r ? status : 500, r);
  cJSON_Delete(r);
}

void nc_ld_fail(nc_loader_done_fn cb, void *ud, int status, int code, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  nc_ld_reply(cb, ud, status, code, cJSON_CreateString(buf));
}

/* ---- members ---- */

int nc_ld_is_member(nc_loader *l, const char *addr, int *is_self) {
  nc_member_info m[LD_MAX_MEMBERS];
  size_t n = nc_cluster_members(l->cl, m, LD_MAX_MEMBERS);
  for (size_t i = 0; addr && i < n && i < LD_MAX_MEMBERS; i++)
    if (!strcmp(m[i].address, addr)) {
      *is_self = m[i].is_self;
      return 1;
    }
  return 0;
}

int nc_ld_check_redirect(nc_loader *l, const char *addr, char *why, size_t cap) {
  nc_member_info m[LD_MAX_MEMBERS];
  char ip[256];
  int port;
  if (nc_srv_parse_redirect(addr, ip, sizeof(ip), &port) != 0) {
    snprintf(why, cap, "redirectAddress '%s' must be ip:port", addr);
    return NC_EINVAL;
  }
  size_t n = nc_cluster_members(l->cl, m, LD_MAX_MEMBERS);
  for (size_t i = 0; i < n && i < LD_MAX_MEMBERS; i++) {
    if (strcmp(m[i].address, addr))
      continue;
    if (m[i].is_self)
      snprintf(why, cap, "redirectAddress %s is this node", addr);
    else if (m[i].state != NC_MEMBER_UP)
      snprintf(why, cap, "redirectAddress %s is %s, not UP", addr,
               nc_member_state_name(m[i].state));
    else if (!m[i].ready)
      snprintf(why, cap, "redirectAddress %s is not ready", addr);
    else
      return 0;
    return NC_EINVAL;
  }
  snprintf(why, cap, "redirectAddress %s is not a member of this cluster", addr);
  return NC_EINVAL;
}

/* ---- this node's metrics ---- */

/* Java's String.valueOf(float) for the small values load and cpu take:
 * the shortest decimal that reads back, at least one digit after the
 * point ("0.0", "0.52", "1.25"). */
static void java_float(double v, char *buf, size_t cap) {
  float f = (float)v;
  for (int prec = 1; prec <= 9; prec++) {
    snprintf(buf, cap, "%.*f", prec, (double)f);
    if ((float)strtod(buf, NULL) == f)
      break;
  }
  /* drop trailing zeros beyond the first decimal */
  char *dot = strchr(buf, '.');
  if (dot) {
    char *e = buf + strlen(buf) - 1;
    while (e > dot + 1 && *e == '0')
      *e-- = '\0';
  }
}

static void sample_cpu(void *ud) {
  nc_loader *l = ud;
  unsigned long long v[10] = {0};
  FILE *f = fopen("/proc/stat", "r");
  if (!f)
    return;
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  if (n < 4)
    return;
  unsigned long long all = 0, idle = v[3] + v[4]; /* idle + iowait */
  for (int i = 0; i < 8; i++)
    all += v[i];
  unsigned long long busy = all - idle;
  if (l->cpu_all && all > l->cpu_all)
    l->cpu = (double)(busy - l->cpu_busy) / (double)(all - l->cpu_all);
  l->cpu_busy = busy;
  l->cpu_all = all;
}

static long long rss_bytes(void) {
  long long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%lld %lld", &pages, &rss) != 2)
      rss = 0;
    fclose(f);
  }
  return rss * (long long)sysconf(_SC_PAGESIZE);
}

cJSON *nc_ld_self_metrics(nc_loader *l) {
  char buf[48];
  double la[1] = {0};
  cJSON *m = cJSON_CreateObject();
  if (!m)
    return NULL;
  snprintf(buf, sizeof(buf), "%zu", nc_srv_conn_count(l->srv));
  cJSON_AddStringToObject(m, "conCount", buf);
  snprintf(buf, sizeof(buf), "%zu", nc_srv_sdk_conn_count(l->srv));
  cJSON_AddStringToObject(m, "sdkConCount", buf);
  if (getloadavg(la, 1) < 1)
    la[0] = 0;
  java_float(la[0], buf, sizeof(buf));
  cJSON_AddStringToObject(m, "load", buf);
  java_float(l->cpu, buf, sizeof(buf));
  cJSON_AddStringToObject(m, "cpu", buf);
  return m;
}

cJSON *nc_ld_self_extras(nc_loader *l) {
  cJSON *o = l->rb ? nc_rebal_status_json(l->rb) : NULL;
  if (!o)
    o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_DeleteItemFromObject(o, "limit");
  cJSON_AddNumberToObject(o, "limit", (double)nc_srv_conn_limit(l->srv));
  cJSON_AddBoolToObject(o, "limitPersistent", l->limit_persistent);
  cJSON_AddNumberToObject(o, "memoryBytes", (double)rss_bytes());
  cJSON_AddNumberToObject(o, "resetsPending", (double)nc_srv_reload_pending(l->srv));
  return o;
}

/* ---- the limit and its file ---- */

static int limit_file(nc_loader *l, char *path, size_t cap, int mkdirs) {
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s/connection", l->data_dir);
  if (mkdirs && mkdir(dir, 0755) != 0 && errno != EEXIST)
    return NC_EIO;
  int n = snprintf(path, cap, "%s/limitRule", dir);
  return n > 0 && (size_t)n < cap ? 0 : NC_EINVAL;
}

/* temp file, fsync, rename: a crash leaves the old rule or the new one */
static int write_rule(nc_loader *l, long count) {
  char path[4200], tmp[4300], body[128];
  if (limit_file(l, path, sizeof(path), 1) != 0)
    return NC_EIO;
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  int n = snprintf(body, sizeof(body), "{\"countLimit\":%ld,\"monitorIpList\":[]}", count);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0)
    return NC_EIO;
  int ok = write(fd, body, (size_t)n) == n && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    nc_error("loader: cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return NC_EIO;
  }
  return 0;
}

static void load_rule(nc_loader *l) {
  char path[4200], buf[4096];
  l->persist_limit = -1;
  if (limit_file(l, path, sizeof(path), 0) != 0)
    return;
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  cJSON *o = cJSON_Parse(buf);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "countLimit");
  if (cJSON_IsNumber(c) && c->valuedouble >= -1 && c->valuedouble <= 1e8) {
    l->persist_limit = (long)c->valuedouble;
    if (l->persist_limit >= 0) {
      nc_srv_set_conn_limit(l->srv, l->persist_limit);
      l->limit_persistent = 1;
      nc_info("loader: connection limit %ld from %s", l->persist_limit, path);
    }
  } else {
    nc_warn("loader: %s holds no countLimit; ignored", path);
  }
  cJSON_Delete(o);
}

int nc_ld_set_limit(nc_loader *l, long count, int persistent) {
  if (persistent) {
    if (write_rule(l, count) != 0)
      return NC_EIO;
    l->persist_limit = count;
  }
  nc_srv_set_conn_limit(l->srv, count);
  l->limit_persistent = persistent || (count == l->persist_limit && l->persist_limit >= 0);
  return 0;
}

/* The core asks before each batch of a load target's resets. */
static int redirect_still_ok(void *ud, const char *addr) {
  char why[320];
  nc_loader *l = ud;
  if (nc_ld_check_redirect(l, addr, why, sizeof(why)) == 0)
    return 1;
  l->redirects_refused++;
  nc_warn("loader: %s", why);
  return 0;
}

/* ---- cluster request handlers ---- */

static void h_loader_info(void *ud, nc_req *r, const nc_msg *req) {
  nc_loader *l = ud;
  (void)req;
  l->info_served++;
  cJSON *b = cJSON_CreateObject();
  if (b) {
    cJSON_AddItemToObject(b, "loaderMetrics", nc_ld_self_metrics(l));
    cJSON_AddItemToObject(b, "nc", nc_ld_self_extras(l));
  }
  nc_req_reply(r, NULL, b);
}

const char *nc_ld_server_reload(nc_loader *l, long reload_count, const char *server) {
  long sdk = (long)nc_srv_sdk_conn_count(l->srv);
  if (sdk <= reload_count) {
    l->reload_ignored++;
    return "ignore";
  }
  long target = (long)(sdk * 0.9);
  if (target < reload_count)
    target = reload_count;
  nc_srv_reload_current(l->srv, target, server);
  return "ok";
}

static void h_server_reload(void *ud, nc_req *r, const nc_msg *req) {
  nc_loader *l = ud;
  char why[300];
  long count = (long)nc_json_int(req->body, "reloadCount", -1);
  const char *server = nc_json_str(req->body, "reloadServer", NULL);
  l->reload_served++;
  /* a peer may name any address: only an UP, ready member other than us */
  if (server && *server && nc_ld_check_redirect(l, server, why, sizeof(why)) != 0) {
    l->redirects_refused++;
    nc_warn("loader: ServerReloadRequest from a member refused: %s", why);
    nc_req_fail(r, NULL, 400, why);
    return;
  }
  const char *res = nc_ld_server_reload(l, count, server && *server ? server : NULL);
  nc_info("loader: ServerReloadRequest from a member: reloadCount %ld, reloadServer %s: %s", count,
          server ? server : "-", res);
  cJSON *b = cJSON_CreateObject();
  if (b)
    cJSON_AddStringToObject(b, "message", res);
  nc_req_reply(r, NULL, b);
}

typedef struct ctl_call {
  nc_req *r;
} ctl_call;

static void ctl_done(void *ud, int status, const cJSON *result) {
  ctl_call *c = ud;
  cJSON *b = cJSON_CreateObject();
  if (b) {
    cJSON_AddNumberToObject(b, "status", status);
    cJSON_AddItemToObject(b, "result",
                          result ? cJSON_Duplicate(result, 1) : cJSON_CreateObject());
  }
  nc_req_reply(c->r, NULL, b);
  free(c);
}

static void h_control(void *ud, nc_req *r, const nc_msg *req) {
  nc_loader *l = ud;
  ld_op op;
  const char *name = nc_json_str(req->body, "op", "");
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(req->body, "params");
  char who[300];
  snprintf(who, sizeof(who), "%s (via a member)", nc_json_str(req->body, "who", "?"));
  l->ctl_served++;
  if (nc_ld_op_parse(name, &op) != 0 || !cJSON_IsObject(params)) {
    nc_req_fail(r, NULL, 400, "unknown loader operation");
    return;
  }
  ctl_call *c = calloc(1, sizeof(*c));
  if (!c) {
    nc_req_fail(r, NULL, 500, "out of memory");
    return;
  }
  c->r = r;
  nc_ld_local_op(l, op, params, who, ctl_done, c);
}

static const nc_handler_def handlers[] = {
    {"ServerLoaderInfoRequest", "ServerLoaderInfoResponse", h_loader_info, NC_H_CLUSTER},
    {"ServerReloadRequest", "ServerReloadResponse", h_server_reload, NC_H_CLUSTER | NC_H_WRITE},
    {"NcLoaderControlRequest", "NcLoaderControlResponse", h_control, NC_H_CLUSTER | NC_H_WRITE},
};

/* ---- module ---- */

int nc_loader_new(uv_loop_t *loop, nc_srv *srv, nc_cluster *cl, const nc_loader_opts *o,
                  nc_loader **out) {
  nc_loader *l = calloc(1, sizeof(*l));
  if (!l || !(l->data_dir = strdup(o && o->data_dir ? o->data_dir : "."))) {
    free(l);
    return NC_ENOMEM;
  }
  l->loop = loop;
  l->srv = srv;
  l->cl = cl;
  nc_srv_set_reset_rate(srv, o ? o->reset_rate : 0);
  nc_srv_set_redirect_check(srv, redirect_still_ok, l);
  int rc = NC_SRV_HANDLERS(srv, handlers, l);
  if (!rc)
    rc = nc_srv_add_tick_fn(srv, sample_cpu, l);
  if (rc) {
    free(l->data_dir);
    free(l);
    return rc;
  }
  sample_cpu(l);
  load_rule(l);
  *out = l;
  return 0;
}

void nc_loader_set_rebal(nc_loader *l, nc_rebal *rb) { l->rb = rb; }

void nc_loader_stop(nc_loader *l) {
  if (l)
    l->stopped = 1;
}

void nc_loader_free(nc_loader *l) {
  if (!l)
    return;
  free(l->data_dir);
  free(l);
}

void nc_loader_render_metrics(nc_loader *l, nc_metrics_text *t) {
  const nc_srv_stats *s = nc_srv_get_stats(l->srv);
  nc_metrics_add(t, "nacosd_", "connection_limit",
                 "Run-time SDK connection limit of this node (loader API); -1 = none, shown as "
                 "0 when unset.",
                 nc_srv_conn_limit(l->srv) < 0 ? 0 : (uint64_t)nc_srv_conn_limit(l->srv));
  nc_metrics_add(t, "nacosd_", "connection_limit_checks_refused_total",
                 "ServerCheckRequests refused at the connection limit (the SDK moves on).",
                 s->checks_rejected_limit);
  nc_metrics_add(t, "nacosd_", "connection_limit_setups_refused_total",
                 "Connection setups refused at the connection limit.", s->conns_rejected_limit);
  nc_metrics_family(t, "nacosd_", "loader_calls_total", "Loader API operations run, by op.");
  for (int i = 0; i < LD_N_OPS; i++)
    nc_metrics_add_labelled(t, "nacosd_", "loader_calls_total", "op", op_names[i], l->calls[i]);
  nc_metrics_add(t, "nacosd_", "loader_call_errors_total", "Loader API operations refused or failed.",
                 l->call_errors);
  nc_metrics_add(t, "nacosd_", "loader_forwarded_total",
                 "Loader operations forwarded to another member.", l->forwarded);
  nc_metrics_add(t, "nacosd_", "loader_forward_failed_total",
                 "Loader operations whose member did not answer.", l->forward_failed);
  nc_metrics_add(t, "nacosd_", "loader_redirects_refused_total",
                 "Resets refused: the redirect was no UP, ready member.", l->redirects_refused);
  nc_metrics_add(t, "nacosd_", "loader_info_requests_total",
                 "ServerLoaderInfoRequests answered for members.", l->info_served);
  nc_metrics_add(t, "nacosd_", "loader_reload_requests_total",
                 "ServerReloadRequests received from members.", l->reload_served);
  nc_metrics_add(t, "nacosd_", "loader_resets_pending",
                 "ConnectResetRequests the load target still sends.",
                 (uint64_t)nc_srv_reload_pending(l->srv));
  nc_metrics_add(t, "nacosd_", "loader_resets_failed_total",
                 "Loader ConnectResetRequests not acked or not sent.", s->loader_resets_failed);
}
