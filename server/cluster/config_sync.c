/* config_sync: see config_sync.h. */
#include "config_sync.h"

#include "config_ops.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"
#include "nc_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_REQ "ConfigChangeClusterSyncRequest"
#define SYNC_RESP "ConfigChangeClusterSyncResponse"
#define TICK_MS 100

/* One (peer, key) message until the peer acks it. */
typedef struct task {
  nc_cfg_sync *s;
  char *mapkey, *member, *data_id, *group, *tenant;
  int64_t last_modified; /* newest change of the key to tell */
  int fails;
  uint64_t due_ms, born_ms;
  int inflight, again; /* again: a newer change came while in flight */
} task;

struct nc_cfg_sync {
  uv_loop_t *loop;
  nc_srv *srv;
  nc_cluster *cl;
  nc_config_service *cs;
  nc_cfg_sync_opts opts;
  nc_strmap *tasks; /* "<member>\x01<dataId>\x01<group>\x01<tenant>" -> task */
  uv_timer_t timer;
  int timer_live, stopped;
  nc_cfg_sync_stats stats;
};

static void task_free(task *t) {
  free(t->mapkey);
  free(t->member);
  free(t->data_id);
  free(t->group);
  free(t->tenant);
  free(t);
}

static void task_done(task *t) {
  nc_cfg_sync *s = t->s;
  if (nc_strmap_get(s->tasks, t->mapkey) == t)
    nc_strmap_del(s->tasks, t->mapkey);
  task_free(t);
}

/* Nacos: 500 ms + fails^2 s, fails counted up to 6. */
static uint64_t backoff_ms(int fails) {
  int f = fails > 6 ? 6 : fails;
  return 500 + (uint64_t)f * (uint64_t)f * 1000;
}

static int member_down(nc_cfg_sync *s, const char *addr) {
  nc_member_info m[64];
  size_t n = nc_cluster_members(s->cl, m, 64);
  for (size_t i = 0; i < n && i < 64; i++)
    if (strcmp(m[i].address, addr) == 0)
      return m[i].state == NC_MEMBER_DOWN;
  return 1; /* no longer a member */
}

static void send_task(task *t);

static void on_resp(void *ud, int status, const nc_msg *resp) {
  task *t = ud;
  nc_cfg_sync *s = t->s;
  t->inflight = 0;
  int ok = status == 0 && resp && resp->body && nc_json_int(resp->body, "resultCode", 200) == 200;
  if (s->stopped) {
    task_done(t);
    return;
  }
  if (ok) {
    s->stats.acked++;
    if (!t->again) {
      task_done(t);
      return;
    }
    t->again = 0; /* tell the newer change too */
    t->fails = 0;
    send_task(t);
    return;
  }
  t->fails++;
  t->due_ms = nc_now_ms() + backoff_ms(t->fails);
  if (t->fails == 1 || t->fails % 10 == 0)
    nc_warn("config sync: %s did not take the change of %s/%s (%s); retrying",
            NC_LOG_ESC(t->member), NC_LOG_ESC(t->group), NC_LOG_ESC(t->data_id),
            status ? nc_strerror(status) : nc_json_str(resp ? resp->body : NULL, "message", "?"));
}

static void send_task(task *t) {
  nc_cfg_sync *s = t->s;
  cJSON *b = cJSON_CreateObject();
  if (!b || !cJSON_AddObjectToObject(b, "headers") || nc_json_add_str(b, "dataId", t->data_id) ||
      nc_json_add_str(b, "group", t->group) || nc_json_add_str(b, "tenant", t->tenant) ||
      !cJSON_AddNumberToObject(b, "lastModified", (double)t->last_modified) ||
      !cJSON_AddBoolToObject(b, "beta", 0) || nc_json_add_str(b, "module", "config")) {
    cJSON_Delete(b);
    t->due_ms = nc_now_ms() + backoff_ms(1);
    return;
  }
  if (t->fails)
    s->stats.retried++;
  t->inflight = 1;
  if (nc_cluster_send(s->cl, t->member, SYNC_REQ, b, s->opts.timeout_ms, on_resp, t) != 0) {
    t->inflight = 0; /* not connected: the body was consumed */
    t->fails++;
    t->due_ms = nc_now_ms() + backoff_ms(t->fails);
    return;
  }
  s->stats.sent++;
}

/* Sends what is due; gives up on what is too old. */
static void on_tick(uv_timer_t *h) {
  nc_cfg_sync *s = h->data;
  uint64_t now = nc_now_ms();
  nc_strmap_iter it;
  const char *k;
  void *v;
  nc_strmap_iter_init(&it, s->tasks);
  while (nc_strmap_iter_next(&it, &k, &v)) {
    task *t = v;
    if (t->inflight || t->due_ms > now)
      continue;
    if (now - t->born_ms > (uint64_t)s->opts.max_age_ms) {
      s->stats.given_up++;
      nc_warn("config sync: gave up telling %s of %s/%s after %d attempts; its poll of the "
              "store repairs it",
              NC_LOG_ESC(t->member), NC_LOG_ESC(t->group), NC_LOG_ESC(t->data_id), t->fails);
      nc_strmap_del(s->tasks, k);
      task_free(t);
      continue;
    }
    if (member_down(s, t->member)) {
      t->due_ms = now + backoff_ms(t->fails ? t->fails : 1);
      continue;
    }
    send_task(t);
  }
}

/* The config service committed a write here: tell every peer. */
static void on_commit(void *ud, const char *data_id, const char *group, const char *tenant,
                      int64_t modified_ms) {
  nc_cfg_sync *s = ud;
  if (s->stopped || nc_cluster_is_standalone(s->cl))
    return;
  nc_member_info m[64];
  size_t n = nc_cluster_members(s->cl, m, 64);
  for (size_t i = 0; i < n && i < 64; i++) {
    if (m[i].is_self)
      continue;
    char *mk = NULL;
    if (asprintf(&mk, "%s\x01%s\x01%s\x01%s", m[i].address, data_id, group, tenant) < 0)
      continue;
    task *t = nc_strmap_get(s->tasks, mk);
    if (t) { /* merged: one message carries the newest time */
      free(mk);
      if (modified_ms > t->last_modified)
        t->last_modified = modified_ms;
      if (t->inflight)
        t->again = 1;
      continue;
    }
    t = calloc(1, sizeof(*t));
    if (!t || !(t->member = strdup(m[i].address)) || !(t->data_id = strdup(data_id)) ||
        !(t->group = strdup(group)) || !(t->tenant = strdup(tenant)) ||
        nc_strmap_put(s->tasks, mk, t, NULL) != 0) {
      free(mk);
      if (t)
        task_free(t);
      nc_error("config sync: out of memory; %s learns of %s/%s from its poll", m[i].address,
               NC_LOG_ESC(group), NC_LOG_ESC(data_id));
      continue;
    }
    t->s = s;
    t->mapkey = mk;
    t->last_modified = modified_ms;
    t->born_ms = t->due_ms = nc_now_ms();
    if (m[i].state == NC_MEMBER_DOWN)
      t->due_ms += backoff_ms(1);
    else
      send_task(t);
  }
}

static void h_sync(void *ud, nc_req *r, const nc_msg *m) {
  nc_cfg_sync *s = ud;
  s->stats.received++;
  nc_config_key k = {.data_id = nc_json_str(m->body, "dataId", ""),
                     .group = nc_json_str(m->body, "group", ""),
                     .tenant = nc_json_str(m->body, "tenant", "")};
  long long lm = nc_json_int(m->body, "lastModified", 0);
  if (nc_config_changed_elsewhere(s->cs, &k, lm) == NC_EINVAL) {
    nc_req_fail(r, SYNC_RESP, 400, "invalid dataId, group or tenant");
    return;
  }
  nc_req_reply(r, SYNC_RESP, NULL);
}

static const nc_handler_def sync_handlers[] = {
    {SYNC_REQ, SYNC_RESP, h_sync, NC_H_CLUSTER | NC_H_CONFIG},
};

int nc_cfg_sync_new(uv_loop_t *loop, nc_srv *srv, nc_cluster *cl, nc_config_service *cs,
                    const nc_cfg_sync_opts *opts, nc_cfg_sync **out) {
  nc_cfg_sync *s = calloc(1, sizeof(*s));
  if (!s || !(s->tasks = nc_strmap_new())) {
    free(s);
    return NC_ENOMEM;
  }
  s->loop = loop;
  s->srv = srv;
  s->cl = cl;
  s->cs = cs;
  if (opts)
    s->opts = *opts;
  if (s->opts.timeout_ms <= 0)
    s->opts.timeout_ms = 1000;
  if (s->opts.max_age_ms <= 0)
    s->opts.max_age_ms = 600000;
  int rc = NC_SRV_HANDLERS(srv, sync_handlers, s);
  if (rc) {
    nc_strmap_free(s->tasks, NULL);
    free(s);
    return rc;
  }
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  s->timer_live = 1;
  uv_timer_start(&s->timer, on_tick, TICK_MS, TICK_MS);
  nc_config_set_commit_hook(cs, on_commit, s);
  *out = s;
  return 0;
}

static void timer_closed(uv_handle_t *h) { free(h->data); }

void nc_cfg_sync_stop(nc_cfg_sync *s) {
  if (!s || s->stopped)
    return;
  s->stopped = 1;
  nc_config_set_commit_hook(s->cs, NULL, NULL);
  uv_timer_stop(&s->timer);
}

/* By now the cluster has stopped, which resolved every send in flight. */
static void free_task(void *val) { task_free(val); }

void nc_cfg_sync_free(nc_cfg_sync *s) {
  if (!s)
    return;
  nc_cfg_sync_stop(s);
  nc_strmap_free(s->tasks, free_task);
  s->tasks = NULL;
  /* The timer's memory is the module's: free it once libuv let go. */
  s->timer.data = s;
  uv_close((uv_handle_t *)&s->timer, timer_closed);
}

void nc_cfg_sync_get_stats(nc_cfg_sync *s, nc_cfg_sync_stats *out) {
  *out = s->stats;
  out->pending = nc_strmap_count(s->tasks);
}

void nc_cfg_sync_render_metrics(nc_cfg_sync *s, nc_metrics_text *t) {
  nc_cfg_sync_stats st;
  nc_cfg_sync_get_stats(s, &st);
#define C(name, help, v) nc_metrics_add(t, "nacosd_", name, help, (uint64_t)(v))
  C("config_sync_sent_total", "ConfigChangeClusterSyncRequests sent to peers (retries too).",
    st.sent);
  C("config_sync_acked_total", "ConfigChangeClusterSyncRequests peers acknowledged.", st.acked);
  C("config_sync_retried_total", "ConfigChangeClusterSyncRequests sent again after a failure.",
    st.retried);
  C("config_sync_given_up_total", "Peer notifications abandoned after the retry window.",
    st.given_up);
  C("config_sync_received_total", "ConfigChangeClusterSyncRequests received from peers.",
    st.received);
  C("config_sync_pending", "(peer, config) notifications not yet acknowledged.", st.pending);
#undef C
}
