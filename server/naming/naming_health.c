/* naming_health: see naming_health.h. One timer (100 ms) drives every
 * instance's schedule; once a second the task list is re-synced with the
 * source (new instances get a task, gone ones lose theirs, health follows
 * what the source holds). */
#include "naming_health.h"
#include "naming_health_int.h"

#include "nc_err.h"
#include "nc_log.h"
#include "nc_strmap.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TICK_MS 100
#define SYNC_MS 1000
#define MAX_MEMBERS 256

typedef struct task {
  nc_nhealth *h;
  char *ns, *group, *name, *ip, *cluster;
  int port;
  int healthy;            /* as the source holds it (or our verdict, until it does) */
  uint64_t next_ms;       /* loop time of the next check */
  long rt_norm;           /* Nacos's checkRtNormalized; -1 before the first */
  int ok_count, fail_count;
  nhp *probe;             /* in flight */
  nc_nhealth_checker chk; /* of the check in flight */
  int seen;
} task;

struct nc_nhealth {
  uv_loop_t *loop;
  nc_nhealth_src src;
  nc_nhealth_opts o;
  uv_timer_t timer;
  nc_strmap *tasks; /* "ns\x01group\x01name\x01ip:port" -> task* */
  uint64_t last_sync;
  char *self;
  nc_nhealth_members_fn members;
  void *members_ud;
  nc_nhealth_cluster_fn cluster;
  void *cluster_ud;
  size_t responsible;
  /* the members as of this tick, sorted (strings copied: the cluster's
   * are borrowed only until the loop runs again) */
  char *m[MAX_MEMBERS];
  size_t nm;
  nc_nhealth_stats st;
  uint64_t rng; /* first_delay's generator, never 0 */
};

int32_t nc_nhealth_java_hash(const char *s) {
  uint32_t h = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    h = 31u * h + *p; /* 32-bit wrap, as Java's int */
  return (int32_t)h;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* DistroMapper.responsible over v[0..n), sorted. */
static int responsible_sorted(const char *tag, const char *const *v, size_t n, const char *self) {
  if (n == 0)
    return 0;
  long first = -1, last = -1;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(v[i], self)) {
      if (first < 0)
        first = (long)i;
      last = (long)i;
    }
  if (first < 0)
    return 1; /* not in the list: Nacos checks everything then */
  int32_t m = nc_nhealth_java_hash(tag) % 2147483647; /* Integer.MAX_VALUE; sign of the hash */
  long target = (long)(m < 0 ? -m : m) % (long)n;
  return target >= first && target <= last;
}

int nc_nhealth_responsible(const char *tag, const char *const *members, size_t n,
                           const char *self) {
  if (!self || !members)
    return 1; /* standalone */
  if (n > MAX_MEMBERS)
    n = MAX_MEMBERS;
  const char *v[MAX_MEMBERS];
  memcpy(v, members, n * sizeof(*v));
  qsort(v, n, sizeof(*v), cmp_str);
  return responsible_sorted(tag, v, n, self);
}

int nc_nhealth_checker_parse(const char *json, nc_nhealth_checker *out) {
  memset(out, 0, sizeof(*out));
  cJSON *j = cJSON_Parse(json);
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "type"));
  int rc = 0;
  if (!cJSON_IsObject(j) || !type) {
    rc = NC_EINVAL;
  } else if (!strcasecmp(type, "TCP")) {
    out->type = NC_NHC_TCP;
  } else if (!strcasecmp(type, "NONE")) {
    out->type = NC_NHC_NONE;
  } else if (!strcasecmp(type, "HTTP")) {
    out->type = NC_NHC_HTTP;
    const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "path"));
    const char *hd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "headers"));
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "expectedResponseCode");
    if ((path && strlen(path) >= sizeof(out->path)) || (hd && strlen(hd) >= sizeof(out->headers)))
      rc = NC_EINVAL;
    else {
      snprintf(out->path, sizeof(out->path), "%s", path ? path : "");
      snprintf(out->headers, sizeof(out->headers), "%s", hd ? hd : "");
      out->expected_code = cJSON_IsNumber(code) ? (int)code->valuedouble : 200;
    }
  } else {
    rc = NC_EINVAL;
  }
  cJSON_Delete(j);
  return rc;
}

int nc_nhealth_cluster_parse(const char *json, nc_nhealth_checker *out) {
  cJSON *j = cJSON_Parse(json);
  const cJSON *hc = cJSON_GetObjectItemCaseSensitive(j, "healthChecker");
  char *hs = cJSON_IsObject(hc) ? cJSON_PrintUnformatted(hc) : NULL;
  int rc = hs ? nc_nhealth_checker_parse(hs, out) : NC_EINVAL;
  if (!rc) {
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(j, "checkPort");
    const cJSON *use = cJSON_GetObjectItemCaseSensitive(j, "useInstancePort4Check");
    int p = cJSON_IsNumber(port) ? (int)port->valuedouble : 0;
    out->check_port = cJSON_IsFalse(use) && p > 0 && p <= 65535 ? p : 0;
  }
  free(hs);
  cJSON_Delete(j);
  return rc;
}

int nc_nhealth_cluster_pstore(void *ud, const char *ns, const char *group, const char *name,
                              const char *cluster, nc_nhealth_checker *out) {
  const char *json = nc_npstore_checker_json(ud, ns, group, name, cluster);
  return json ? nc_nhealth_cluster_parse(json, out) : NC_ENOTFOUND;
}

/* ---- tasks ---- */

static void task_free(void *v) {
  task *t = v;
  if (!t)
    return;
  nhp_cancel(t->probe);
  free(t->ns);
  free(t->group);
  free(t->name);
  free(t->ip);
  free(t->cluster);
  free(t);
}

/* [0, n) from h's own xorshift64* state: random() unseeded gives every
 * nacosd the same sequence, so the nodes' first checks would line up. */
static long rand_below(nc_nhealth *h, long n) {
  h->rng ^= h->rng >> 12;
  h->rng ^= h->rng << 25;
  h->rng ^= h->rng >> 27;
  uint64_t v = h->rng * 2685821657736338717ull;
  return n > 0 ? (long)((v >> 1) % (uint64_t)n) : 0;
}

/* Nacos's initCheckRt: the first check comes 2 s + random(0, random(0, max)) in. */
static long first_delay(nc_nhealth *h) {
  if (h->o.first_delay_ms >= 0)
    return h->o.first_delay_ms;
  return 2000 + rand_below(h, rand_below(h, h->o.tcp_max_ms));
}

static const char *task_key(char *buf, size_t cap, const nc_npstore_inst *in) {
  int n = snprintf(buf, cap, "%s\x01%s\x01%s\x01%s:%d", in->ns, in->group, in->name, in->ip,
                   in->port);
  return n > 0 && (size_t)n < cap ? buf : NULL;
}

static void sync_one(void *ud, const nc_npstore_inst *in) {
  nc_nhealth *h = ud;
  char kb[1600];
  if (!task_key(kb, sizeof(kb), in))
    return;
  task *t = nc_strmap_get(h->tasks, kb);
  if (!t) {
    t = calloc(1, sizeof(*t));
    if (!t || !(t->ns = strdup(in->ns)) || !(t->group = strdup(in->group)) ||
        !(t->name = strdup(in->name)) || !(t->ip = strdup(in->ip)) ||
        nc_strmap_put(h->tasks, kb, t, NULL)) {
      task_free(t);
      return;
    }
    t->h = h;
    t->port = in->port;
    t->rt_norm = first_delay(h); /* also the first check's delay */
    t->next_ms = uv_now(h->loop) + (uint64_t)t->rt_norm;
  }
  if (!t->cluster || strcmp(t->cluster, in->cluster)) {
    free(t->cluster);
    t->cluster = strdup(in->cluster);
  }
  t->healthy = in->healthy;
  t->seen = 1;
}

static void sync_tasks(nc_nhealth *h) {
  h->src.each(h->src.ud, sync_one, h);
  nc_strmap_iter it;
  const char *k;
  void *v;
  for (nc_strmap_iter_init(&it, h->tasks); nc_strmap_iter_next(&it, &k, &v);) {
    task *t = v;
    if (!t->seen)
      task_free(nc_strmap_del(h->tasks, k)); /* gone: its check is cancelled */
    else
      t->seen = 0;
  }
}

/* ---- verdicts ---- */

static const nc_nhealth_checker *params_of(const task *t, int *min, int *max, double *factor) {
  int http = t->chk.type == NC_NHC_HTTP;
  *min = http ? t->h->o.http_min_ms : t->h->o.tcp_min_ms;
  *max = http ? t->h->o.http_max_ms : t->h->o.tcp_max_ms;
  *factor = http ? 0.85 : 0.75;
  return &t->chk;
}

/* HealthCheckCommonV2.reEvaluateCheckRt */
static void re_evaluate(task *t, long rt) {
  int min, max;
  double f;
  params_of(t, &min, &max, &f);
  long v = (long)(f * (double)t->rt_norm + (1.0 - f) * (double)rt);
  t->rt_norm = v > max ? max : v < min ? min : v;
}

static void members_clear(nc_nhealth *h) {
  for (size_t i = 0; i < h->nm; i++)
    free(h->m[i]);
  h->nm = 0;
}

/* Re-reads the members once per tick. */
static void members_refresh(nc_nhealth *h) {
  if (!h->members)
    return;
  const char *m[MAX_MEMBERS];
  size_t n = h->members(h->members_ud, m, MAX_MEMBERS);
  members_clear(h);
  for (size_t i = 0; i < n && i < MAX_MEMBERS; i++)
    if ((h->m[h->nm] = strdup(m[i])) != NULL)
      h->nm++;
  qsort(h->m, h->nm, sizeof(*h->m), cmp_str);
}

static int is_responsible(nc_nhealth *h, const task *t) {
  if (!h->members)
    return 1;
  char tag[200];
  snprintf(tag, sizeof(tag), "%s:%d", t->ip, t->port);
  return responsible_sorted(tag, (const char *const *)h->m, h->nm, h->self);
}

static void verdict(nc_nhealth *h, task *t, int healthy, const char *msg) {
  nc_npstore_inst in = {t->ns, t->group, t->name, t->ip, t->cluster, t->port, t->healthy};
  nc_info("health check: %s:%d of %s@@%s (%s) %s: %s", t->ip, t->port, t->group,
          NC_LOG_ESC(t->name), t->cluster, healthy ? "healthy again" : "unhealthy", msg);
  if (healthy)
    h->st.marked_healthy++;
  else
    h->st.marked_unhealthy++;
  t->healthy = healthy; /* until the source says otherwise at the next sync */
  h->src.set_health(h->src.ud, &in, healthy);
}

static void on_probe(void *ud, nhp_result res, uint64_t rt, const char *msg) {
  task *t = ud;
  nc_nhealth *h = t->h;
  int min, max;
  double f;
  params_of(t, &min, &max, &f);
  int times = h->o.check_times;
  t->probe = NULL;
  if (res == NHP_OK) {
    h->st.ok++;
    if (!t->healthy && ++t->ok_count >= times && is_responsible(h, t))
      verdict(h, t, 1, msg);
    t->fail_count = 0;
    re_evaluate(t, (long)rt);
    return;
  }
  h->st.failed++;
  if (t->healthy && (res == NHP_FAIL_NOW || ++t->fail_count >= times) && is_responsible(h, t))
    verdict(h, t, 0, msg);
  t->ok_count = 0;
  re_evaluate(t, res == NHP_SLOW ? t->rt_norm * 2 : max);
}

static void check(nc_nhealth *h, task *t) {
  nc_nhealth_checker c = {.type = NC_NHC_TCP};
  if (h->cluster && h->cluster(h->cluster_ud, t->ns, t->group, t->name, t->cluster, &c) != 0)
    c = (nc_nhealth_checker){.type = NC_NHC_TCP};
  t->chk = c;
  if (t->rt_norm < 0)
    t->rt_norm = first_delay(h);
  if (c.type == NC_NHC_NONE)
    return;
  if (t->probe) { /* the last one is still running */
    re_evaluate(t, t->rt_norm * 2);
    return;
  }
  h->st.checks++;
  int rc = nhp_start(h->loop, t->ip, c.check_port > 0 ? c.check_port : t->port, &c,
                     h->o.connect_timeout_ms, h->o.http_timeout_ms, on_probe, t, &t->probe);
  if (rc) {
    t->probe = NULL;
    on_probe(t, NHP_FAIL, 0, rc == NC_EINVAL ? "tcp:error:not an IP address" : "error");
  }
}

static void on_tick(uv_timer_t *tm) {
  nc_nhealth *h = tm->data;
  uint64_t now = uv_now(h->loop);
  members_refresh(h);
  if (now - h->last_sync >= SYNC_MS || !h->last_sync) {
    h->last_sync = now;
    sync_tasks(h);
    size_t resp = 0;
    nc_strmap_iter it;
    void *v;
    for (nc_strmap_iter_init(&it, h->tasks); nc_strmap_iter_next(&it, NULL, &v);)
      resp += (size_t)is_responsible(h, v);
    h->responsible = resp;
  }
  nc_strmap_iter it;
  void *v;
  for (nc_strmap_iter_init(&it, h->tasks); nc_strmap_iter_next(&it, NULL, &v);) {
    task *t = v;
    if (t->next_ms > now)
      continue;
    /* HealthCheckResponsibleInterceptor: not ours, only rescheduled */
    if (is_responsible(h, t))
      check(h, t);
    else if (t->rt_norm < 0)
      t->rt_norm = first_delay(h);
    t->next_ms = now + (uint64_t)(t->rt_norm > 0 ? t->rt_norm : TICK_MS);
  }
}

/* ---- life cycle ---- */

static void src_each(void *ud, void (*fn)(void *fud, const nc_npstore_inst *in), void *fud) {
  nc_npstore_each(ud, fn, fud);
}
static void src_set(void *ud, const nc_npstore_inst *in, int healthy) {
  nc_npstore_set_health(ud, in->ns, in->group, in->name, in->ip, in->port, healthy);
}
nc_nhealth_src nc_nhealth_src_pstore(nc_npstore *ps) {
  return (nc_nhealth_src){src_each, src_set, ps};
}

int nc_nhealth_new(uv_loop_t *loop, const nc_nhealth_src *src, const nc_nhealth_opts *o,
                   nc_nhealth **out) {
  nc_nhealth *h = calloc(1, sizeof(*h));
  if (!h || !(h->tasks = nc_strmap_new())) {
    free(h);
    return NC_ENOMEM;
  }
  h->loop = loop;
  h->src = *src;
  h->rng = (uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32) ^ (uintptr_t)h) | 1;
  h->o = *o;
#define DEF(f, v)                                                                                  \
  if (h->o.f <= 0)                                                                                 \
  h->o.f = (v)
  DEF(check_times, 3);
  DEF(tcp_min_ms, 1000);
  DEF(tcp_max_ms, 5000);
  DEF(http_min_ms, 500);
  DEF(http_max_ms, 5000);
  DEF(connect_timeout_ms, 500);
  DEF(http_timeout_ms, 5000);
#undef DEF
  uv_timer_init(loop, &h->timer);
  h->timer.data = h;
  uv_timer_start(&h->timer, on_tick, TICK_MS, TICK_MS);
  uv_unref((uv_handle_t *)&h->timer);
  *out = h;
  return 0;
}

void nc_nhealth_set_members(nc_nhealth *h, const char *self, nc_nhealth_members_fn fn,
                            void *ud) {
  free(h->self);
  h->self = fn && self ? strdup(self) : NULL;
  h->members = h->self ? fn : NULL;
  h->members_ud = ud;
}

void nc_nhealth_set_cluster_fn(nc_nhealth *h, nc_nhealth_cluster_fn fn, void *ud) {
  h->cluster = fn;
  h->cluster_ud = ud;
}

static void on_closed(uv_handle_t *hd) {
  nc_nhealth *h = hd->data;
  members_clear(h);
  free(h->self);
  free(h);
}

void nc_nhealth_free(nc_nhealth *h) {
  if (!h)
    return;
  uv_timer_stop(&h->timer);
  nc_strmap_free(h->tasks, task_free); /* cancels the checks in flight */
  h->tasks = NULL;
  uv_close((uv_handle_t *)&h->timer, on_closed);
}

void nc_nhealth_get_stats(const nc_nhealth *h, nc_nhealth_stats *st) {
  *st = h->st;
  st->instances = h->tasks ? nc_strmap_count(h->tasks) : 0;
  st->responsible = h->responsible;
}

void nc_nhealth_render_metrics(const nc_nhealth *h, nc_metrics_text *t) {
  nc_nhealth_stats s;
  nc_nhealth_get_stats(h, &s);
#define C(name, help, v) nc_metrics_add(t, "nacosd_", name, help, (uint64_t)(v))
  C("naming_health_checked_instances", "Persistent instances this node health-checks.",
    s.responsible);
  C("naming_health_checks_total", "Health checks (TCP connects, HTTP GETs) started.", s.checks);
  C("naming_health_checks_ok_total", "Health checks that passed.", s.ok);
  C("naming_health_checks_failed_total", "Health checks that failed or timed out.", s.failed);
  C("naming_health_marked_unhealthy_total", "Persistent instances this node marked unhealthy.",
    s.marked_unhealthy);
  C("naming_health_marked_healthy_total", "Persistent instances this node marked healthy again.",
    s.marked_healthy);
#undef C
}
