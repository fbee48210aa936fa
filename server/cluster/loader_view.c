/* loader_view: the cluster load view (Nacos's /loader/cluster, gathered
 * with ServerLoaderInfoRequest, nacos-cluster.md §5.3) with nacos-c's "nc"
 * extras, and smartReloadCluster on top of it (§5.4, exactly). */
#include "loader_int.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"
#include "rebalance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INFO_TIMEOUT_MS 200   /* per member, as Nacos */
#define RELOAD_TIMEOUT_MS 100 /* ServerReloadRequest, as Nacos (async) */

typedef struct gather gather;

typedef struct entry {
  gather *g;
  char address[256];
  int is_self, ready;
  nc_member_state state;
  cJSON *metric; /* loaderMetrics, NULL when the member did not answer */
  cJSON *nc;     /* its "nc" extras (nacos-c members only) */
  long sdk;      /* sdkConCount, -1 unknown */
} entry;

struct gather {
  nc_loader *l;
  int v3, smart, pending;
  double factor;
  char who[300];
  nc_loader_done_fn cb;
  void *ud;
  size_t n;
  entry e[LD_MAX_MEMBERS];
};

static void gather_free(gather *g) {
  for (size_t i = 0; i < g->n; i++) {
    cJSON_Delete(g->e[i].metric);
    cJSON_Delete(g->e[i].nc);
  }
  free(g);
}

static void set_metric(entry *e, cJSON *metric, cJSON *nc) {
  e->metric = metric;
  e->nc = nc;
  const char *s = nc_json_str(metric, "sdkConCount", NULL);
  e->sdk = s ? atol(s) : -1;
}

/* Java's Double.toString for the threshold (e.g. "44.0", "220.00000000000003"):
 * the shortest decimal that reads back, always with a fraction. */
static void java_double(double v, char *buf, size_t cap) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, cap, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  if (!strchr(buf, '.') && !strchr(buf, 'e'))
    strncat(buf, ".0", cap - strlen(buf) - 1);
}

typedef struct view_stats {
  long total, min, max, avg;
  int metrics;
} view_stats;

/* As Nacos's controller: over the members that answered with a count. */
static view_stats stats_of(const gather *g) {
  view_stats s = {.min = -1};
  for (size_t i = 0; i < g->n; i++) {
    const entry *e = &g->e[i];
    if (!e->metric)
      continue;
    s.metrics++;
    if (e->sdk < 0)
      continue;
    if (s.max == 0 || s.max < e->sdk)
      s.max = e->sdk;
    if (s.min == -1 || e->sdk < s.min)
      s.min = e->sdk;
    s.total += e->sdk;
  }
  s.avg = s.metrics ? s.total / s.metrics : 0;
  return s;
}

static cJSON *entry_extras(const gather *g, const entry *e, long avg) {
  cJSON *o = e->nc ? cJSON_Duplicate(e->nc, 1) : cJSON_CreateObject();
  if (!o)
    return NULL;
  static const char *const keys[] = {"state", "ready", "diff", "draining", "rebalance",
                                     "movesOut", "limit", "limitPersistent", "memoryBytes"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
    cJSON_DeleteItemFromObjectCaseSensitive(o, keys[i]);
  const cJSON *src = e->nc;
  cJSON_AddStringToObject(o, "state", nc_member_state_name(e->state));
  cJSON_AddBoolToObject(o, "ready", e->ready);
  cJSON_AddNumberToObject(o, "limit", (double)nc_json_int(src, "limit", -1));
  cJSON_AddBoolToObject(o, "limitPersistent", nc_json_bool(src, "limitPersistent", 0));
  cJSON_AddBoolToObject(o, "draining", nc_json_bool(src, "draining", 0));
  cJSON_AddStringToObject(o, "rebalance", nc_json_str(src, "rebalance", "off"));
  cJSON_AddNumberToObject(o, "memoryBytes", (double)nc_json_int(src, "memoryBytes", 0));
  cJSON_AddNumberToObject(o, "diff", (double)(e->sdk >= 0 ? e->sdk - avg : 0));
  cJSON_AddNumberToObject(o, "movesOut", (double)nc_json_int(src, "movesOut", 0));
  (void)g;
  return o;
}

static cJSON *view_json(const gather *g) {
  view_stats s = stats_of(g);
  char th[64];
  cJSON *d = cJSON_CreateObject(), *detail = cJSON_CreateArray(), *missing = cJSON_CreateArray();
  if (!d || !detail || !missing) {
    cJSON_Delete(d);
    cJSON_Delete(detail);
    cJSON_Delete(missing);
    return NULL;
  }
  int autos = 0, offs = 0;
  for (size_t i = 0; i < g->n; i++) {
    const entry *e = &g->e[i];
    if (!e->metric) {
      cJSON_AddItemToArray(missing, cJSON_CreateString(e->address));
      continue;
    }
    cJSON *x = cJSON_CreateObject();
    if (!x)
      break;
    cJSON_AddStringToObject(x, "address", e->address);
    if (g->v3) { /* 3.x: flattened, counts as ints */
      cJSON_AddNumberToObject(x, "sdkConCount", (double)(e->sdk >= 0 ? e->sdk : 0));
      cJSON_AddNumberToObject(x, "conCount", (double)atol(nc_json_str(e->metric, "conCount", "0")));
      cJSON_AddStringToObject(x, "load", nc_json_str(e->metric, "load", "0.0"));
      cJSON_AddStringToObject(x, "cpu", nc_json_str(e->metric, "cpu", "0.0"));
    } else { /* 2.x: the member's metric map, strings */
      cJSON_AddItemToObject(x, "metric", cJSON_Duplicate(e->metric, 1));
    }
    cJSON *nc = entry_extras(g, e, s.avg);
    if (nc) {
      const char *rb = nc_json_str(nc, "rebalance", "off");
      autos += !strcmp(rb, "auto");
      offs += strcmp(rb, "auto") != 0;
      cJSON_AddItemToObject(x, "nc", nc);
    }
    cJSON_AddItemToArray(detail, x);
  }
  java_double((double)s.avg * 1.1, th, sizeof(th));
  cJSON_AddNumberToObject(d, "total", (double)s.total);
  cJSON_AddNumberToObject(d, "min", (double)s.min);
  cJSON_AddNumberToObject(d, "max", (double)s.max);
  cJSON_AddNumberToObject(d, "avg", (double)s.avg);
  if (g->v3)
    cJSON_AddStringToObject(d, "threshold", th);
  else
    cJSON_AddRawToObject(d, "threshold", th);
  cJSON_AddNumberToObject(d, "memberCount", (double)g->n);
  cJSON_AddNumberToObject(d, "metricsCount", s.metrics);
  cJSON_AddBoolToObject(d, "completed", (size_t)s.metrics == g->n);
  cJSON_AddItemToObject(d, "detail", detail);
  cJSON *nc = cJSON_AddObjectToObject(d, "nc");
  if (nc) {
    cJSON_AddStringToObject(nc, "rebalance", autos && offs ? "mixed" : autos ? "auto" : "off");
    cJSON_AddNumberToObject(nc, "movesPerSecCap",
                            g->l->rb ? nc_rebal_moves_per_sec_cap(g->l->rb) : 0);
    cJSON_AddItemToObject(nc, "missing", missing);
    missing = NULL;
  }
  cJSON_Delete(missing);
  return d;
}

/* A target of smartReloadCluster: UP and ready (self: ready). */
static int target_ok(nc_loader *l, const entry *e) {
  if (e->is_self) {
    char why[64];
    return nc_cluster_ready(l->cl, why, sizeof(why));
  }
  return e->state == NC_MEMBER_UP && e->ready;
}

static void on_reload_sent(void *ud, int status, const nc_msg *resp) {
  char *addr = ud;
  nc_info("loader: ServerReloadRequest to %s: %s", addr,
          status ? nc_strerror(status)
                 : resp ? nc_json_str(resp->body, "message", "answered") : "answered");
  free(addr);
}

static int cmp_desc(const void *a, const void *b) {
  long x = (*(entry *const *)a)->sdk, y = (*(entry *const *)b)->sdk;
  return x < y ? 1 : x > y ? -1 : 0;
}
static int cmp_asc(const void *a, const void *b) { return -cmp_desc(a, b); }

/* §5.4: overloaded members (sdk > (int)(avg(1+f))) shed towards the
 * underloaded ones (sdk < (int)(avg(1-f))), pairwise, heaviest to lightest;
 * each shed is at most 10 % of that member's SDK connections. */
static int smart_reload(gather *g) {
  nc_loader *l = g->l;
  view_stats s = stats_of(g);
  long over = (long)((double)s.avg * (1 + g->factor)), low = (long)((double)s.avg * (1 - g->factor));
  entry *hi[LD_MAX_MEMBERS], *lo[LD_MAX_MEMBERS];
  size_t nh = 0, nl = 0;
  for (size_t i = 0; i < g->n; i++) {
    entry *e = &g->e[i];
    if (!e->metric || e->sdk < 0)
      continue;
    if (e->sdk > over)
      hi[nh++] = e;
    else if (e->sdk < low && target_ok(l, e))
      lo[nl++] = e;
  }
  qsort(hi, nh, sizeof(hi[0]), cmp_desc);
  qsort(lo, nl, sizeof(lo[0]), cmp_asc);
  nc_info("loader: smartReloadCluster by %s: avg %ld, factor %g, over %ld, low %ld, %zu over, "
          "%zu under",
          g->who, s.avg, g->factor, over, low, nh, nl);
  int ok = 1;
  for (size_t i = 0; i < nh && i < nl; i++) {
    if (hi[i]->is_self) {
      const char *res = nc_ld_server_reload(l, over, lo[i]->address);
      nc_info("loader: reload self to %ld towards %s: %s", over, lo[i]->address, res);
      continue;
    }
    cJSON *b = cJSON_CreateObject();
    char *addr = strdup(hi[i]->address);
    if (!b || !addr) {
      cJSON_Delete(b);
      free(addr);
      ok = 0;
      continue;
    }
    cJSON_AddObjectToObject(b, "headers");
    cJSON_AddNumberToObject(b, "reloadCount", (double)over);
    cJSON_AddStringToObject(b, "reloadServer", lo[i]->address);
    cJSON_AddStringToObject(b, "module", "internal");
    if (nc_cluster_send(l->cl, hi[i]->address, "ServerReloadRequest", b, RELOAD_TIMEOUT_MS,
                        on_reload_sent, addr) != 0) {
      nc_warn("loader: ServerReloadRequest to %s not sent", hi[i]->address);
      free(addr);
      ok = 0;
    }
  }
  return ok;
}

static void finish(gather *g) {
  if (g->smart) {
    if (smart_reload(g))
      nc_ld_reply(g->cb, g->ud, 200, LD_OK, NULL);
    else
      nc_ld_fail(g->cb, g->ud, 500, LD_SERVER_ERROR, "Smart reload failed, please try again later.");
  } else {
    cJSON *d = view_json(g);
    if (d)
      nc_ld_reply(g->cb, g->ud, 200, LD_OK, d);
    else
      nc_ld_fail(g->cb, g->ud, 500, LD_SERVER_ERROR, "out of memory");
  }
  gather_free(g);
}

static void on_info(void *ud, int status, const nc_msg *resp) {
  entry *e = ud;
  gather *g = e->g;
  if (status == 0 && resp && nc_json_int(resp->body, "resultCode", 0) == 200) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(resp->body, "loaderMetrics");
    const cJSON *nc = cJSON_GetObjectItemCaseSensitive(resp->body, "nc");
    if (cJSON_IsObject(m))
      set_metric(e, cJSON_Duplicate(m, 1), cJSON_IsObject(nc) ? cJSON_Duplicate(nc, 1) : NULL);
  } else {
    nc_debug("loader: no load metrics from %s: %s", e->address,
             status ? nc_strerror(status) : "refused");
  }
  if (--g->pending == 0)
    finish(g);
}

static void start(nc_loader *l, gather *g) {
  nc_member_info m[LD_MAX_MEMBERS];
  size_t n = nc_cluster_members(l->cl, m, LD_MAX_MEMBERS);
  g->l = l;
  g->pending = 1; /* held while the requests go out */
  for (size_t i = 0; i < n && i < LD_MAX_MEMBERS; i++) {
    entry *e = &g->e[g->n++];
    e->g = g;
    e->sdk = -1;
    snprintf(e->address, sizeof(e->address), "%s", m[i].address);
    e->is_self = m[i].is_self;
    e->state = m[i].state;
    e->ready = m[i].is_self ? nc_cluster_ready(l->cl, (char[8]){0}, 8) : m[i].ready;
    if (e->is_self) {
      set_metric(e, nc_ld_self_metrics(l), nc_ld_self_extras(l));
      continue;
    }
    cJSON *b = cJSON_CreateObject();
    if (!b)
      continue;
    cJSON_AddObjectToObject(b, "headers");
    cJSON_AddStringToObject(b, "module", "internal");
    g->pending++;
    if (nc_cluster_send(l->cl, e->address, "ServerLoaderInfoRequest", b, INFO_TIMEOUT_MS, on_info,
                        e) != 0)
      g->pending--;
  }
  if (--g->pending == 0)
    finish(g);
}

void nc_ld_cluster_view(nc_loader *l, int v3, nc_loader_done_fn cb, void *ud) {
  gather *g = calloc(1, sizeof(*g));
  if (!g) {
    nc_ld_fail(cb, ud, 500, LD_SERVER_ERROR, "out of memory");
    return;
  }
  g->v3 = v3;
  g->cb = cb;
  g->ud = ud;
  start(l, g);
}

void nc_ld_smart_reload(nc_loader *l, double factor, const char *who, nc_loader_done_fn cb,
                        void *ud) {
  gather *g = calloc(1, sizeof(*g));
  if (!g) {
    nc_ld_fail(cb, ud, 500, LD_SERVER_ERROR, "out of memory");
    return;
  }
  g->smart = 1;
  g->factor = factor;
  snprintf(g->who, sizeof(g->who), "%s", who ? who : "-");
  g->cb = cb;
  g->ud = ud;
  start(l, g);
}
