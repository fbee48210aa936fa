/* rebalance: the engine (rebalance.h). Each node decides alone, every
 * period (+-20 % jitter; every second while draining), from the load keys
 * its peers put in their member reports; rebalance_plan.c computes the
 * moves, rebalance_move.c picks the connections and paces the resets.
 * This file: lifecycle, the switches, the load keys both ways, the
 * decision, status and metrics. */
#include "rebalance_int.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *nc_rebal_mode_name(nc_rebal_mode m) { return m == NC_REBAL_AUTO ? "auto" : "off"; }

int nc_rebal_parse_mode(const char *s, nc_rebal_mode *out) {
  if (!s)
    return NC_EINVAL;
  if (!strcmp(s, "auto") || !strcmp(s, "on") || !strcmp(s, "true")) {
    *out = NC_REBAL_AUTO;
    return 0;
  }
  if (!strcmp(s, "off") || !strcmp(s, "false")) {
    *out = NC_REBAL_OFF;
    return 0;
  }
  return NC_EINVAL;
}

#define DEF(f, v)                                                                                  \
  do {                                                                                             \
    if (rb->o.f <= 0)                                                                              \
      rb->o.f = (v);                                                                               \
  } while (0)

int nc_rebal_new(uv_loop_t *loop, nc_srv *srv, nc_cluster *cl, nc_naming *naming,
                 const nc_rebal_opts *opts, nc_rebal **out) {
  nc_rebal *rb = calloc(1, sizeof(*rb));
  if (!rb)
    return NC_ENOMEM;
  rb->loop = loop;
  rb->srv = srv;
  rb->cl = cl;
  rb->naming = naming;
  if (opts)
    rb->o = *opts;
  DEF(tolerance_pct, 10);
  DEF(tolerance_abs, 20);
  if (!rb->o.stop_pct)
    rb->o.stop_pct = 3;
  else if (rb->o.stop_pct < 0)
    rb->o.stop_pct = 0;
  DEF(period_ms, 10000);
  DEF(warmup_ms, 120000);
  DEF(stable_ms, 60000);
  DEF(min_conn_age_ms, 600000);
  DEF(cooldown_ms, 1800000);
  DEF(moves_per_sec, 30);
  DEF(report_stale_ms, 6000);
  if (rb->o.migrate_grace_ms < 0)
    rb->o.migrate_grace_ms = 0;
  else if (rb->o.migrate_grace_ms == 0)
    rb->o.migrate_grace_ms = 5000;
  rb->o.clients = NULL;
  rb->mode = rb->o.mode;
  rb->seed = (unsigned)uv_hrtime();
  if (!(rb->clients = strdup(opts && opts->clients ? opts->clients : NC_REBAL_DEFAULT_CLIENTS)) ||
      !(rb->moved = nc_strmap_new()) || !(rb->anchor = calloc(1, sizeof(*rb->anchor)))) {
    free(rb->clients);
    nc_strmap_free(rb->moved, NULL);
    free(rb);
    return NC_ENOMEM;
  }
  rb->anchor->rb = rb;
  /* the core runs it until it shuts down, which is before nc_rebal_free */
  if (nc_srv_add_conn_listener(srv, nc_rebal_on_conn, rb)) {
    free(rb->anchor);
    free(rb->clients);
    nc_strmap_free(rb->moved, NULL);
    free(rb);
    return NC_ENOMEM;
  }
  uv_timer_init(loop, &rb->decide_t);
  uv_timer_init(loop, &rb->pace_t);
  rb->decide_t.data = rb->pace_t.data = rb;
  *out = rb;
  return 0;
}

/* ---- load keys in member reports ---- */

/* Inserts item under key keeping the keys sorted (Java's TreeMap order). */
static void put_sorted(cJSON *obj, const char *key, cJSON *item) {
  int at = 0;
  const cJSON *it;
  if (!item)
    return;
  cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
  cJSON_ArrayForEach(it, obj) {
    if (it->string && strcmp(it->string, key) > 0)
      break;
    at++;
  }
  if (!(item->string = strdup(key)) || !cJSON_InsertItemInArray(obj, at, item)) {
    free(item->string);
    item->string = NULL;
    if (!cJSON_AddItemToObject(obj, key, item))
      cJSON_Delete(item);
  }
}

static void self_ext(void *ud, cJSON *ext) {
  nc_rebal *rb = ud;
  put_sorted(ext, "nc.draining", cJSON_CreateBool(rb->draining));
  put_sorted(ext, "nc.movable", cJSON_CreateNumber((double)nc_rebal_movable(rb)));
  put_sorted(ext, "nc.movesOut", cJSON_CreateNumber((double)nc_rebal_moves_out(rb)));
  put_sorted(ext, "nc.rebalance", cJSON_CreateString(nc_rebal_mode_name(rb->mode)));
  put_sorted(ext, "nc.sdkConCount", cJSON_CreateNumber((double)nc_srv_sdk_conn_count(rb->srv)));
  put_sorted(ext, "nc.ts", cJSON_CreateNumber((double)nc_now_ms()));
}

/* Reports go round-robin, one peer every 2 s: a pair of members hears
 * from each other (a report either way) about every (n - 1) x 2 s, so the
 * three report periods of a 3-node cluster become 1.5 x that in bigger
 * ones; else an 8-node cluster would always look stale and never act. */
static uint64_t stale_ms(const nc_rebal *rb) {
  uint64_t n = rb->n_members > 1 ? (uint64_t)rb->n_members : 2;
  uint64_t by_size = 3000 * (n - 1);
  return by_size > (uint64_t)rb->o.report_stale_ms ? by_size : (uint64_t)rb->o.report_stale_ms;
}

/* A peer's load keys when fresh; 0 when unknown or stale. */
static int peer_load(nc_rebal *rb, const char *address, long *load, long *movable, int *draining,
                     uint64_t *at_out) {
  uint64_t at = 0;
  const cJSON *ext = nc_cluster_member_ext(rb->cl, address, &at);
  const cJSON *sdk = cJSON_GetObjectItemCaseSensitive(ext, "nc.sdkConCount");
  const cJSON *mv = cJSON_GetObjectItemCaseSensitive(ext, "nc.movable");
  uint64_t now = nc_now_ms();
  if (at_out)
    *at_out = at;
  if (!ext || !cJSON_IsNumber(sdk) || !cJSON_IsNumber(mv) || !at ||
      (now > at && now - at > stale_ms(rb)))
    return 0;
  *load = (long)sdk->valuedouble;
  *movable = (long)mv->valuedouble;
  *draining = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ext, "nc.draining"));
  return 1;
}

static void on_member(void *ud, const nc_member_info *m, nc_member_state old) {
  nc_rebal *rb = ud;
  (void)m;
  (void)old;
  rb->stable_since = uv_now(rb->loop); /* membership or state changed: wait stable_ms again */
}

/* ---- the decision ---- */

static void schedule(nc_rebal *rb) {
  if (rb->stopped)
    return;
  uint64_t ms;
  if (rb->draining) {
    ms = 1000;
  } else {
    /* +-20 % so that the nodes do not decide in step */
    uint64_t span = (uint64_t)rb->o.period_ms * 2 / 5;
    ms = (uint64_t)rb->o.period_ms - span / 2 + (span ? (uint64_t)rand_r(&rb->seed) % (span + 1) : 0);
  }
  uv_timer_start(&rb->decide_t, nc_rebal_decide_cb, ms, 0);
}

static void decide(nc_rebal *rb) {
  uint64_t now = uv_now(rb->loop);
  nc_member_info info[NC_REBAL_MAX_TARGETS + 1];
  nc_rebal_node nodes[NC_REBAL_MAX_TARGETS + 1];
  size_t n = nc_cluster_members(rb->cl, info, NC_REBAL_MAX_TARGETS + 1);
  if (n > NC_REBAL_MAX_TARGETS + 1)
    n = NC_REBAL_MAX_TARGETS + 1;
  rb->n_members = n;
  nc_rebal_moves_prune(rb);
  int all_usable = 1;
  for (size_t i = 0; i < n; i++) {
    nc_rebal_node *x = &nodes[i];
    memset(x, 0, sizeof(*x));
    x->address = info[i].address;
    x->is_self = info[i].is_self;
    if (x->is_self) {
      /* those told to move that have not gone yet are leaving; the
       * average takes the loads as counted (each move is then counted
       * once, here), the excess and the targets' room the corrected ones */
      x->avg_load = (long)nc_srv_sdk_conn_count(rb->srv);
      x->load = x->avg_load - nc_rebal_moves_leaving(rb);
      x->movable = nc_rebal_movable(rb);
      x->draining = rb->draining;
      x->usable = 1;
      continue;
    }
    uint64_t at = 0;
    int fresh = peer_load(rb, x->address, &x->load, &x->movable, &x->draining, &at);
    x->avg_load = x->load;
    /* its report does not show the moves we sent it that are still on
     * their way; without this a target fills above the average and sheds
     * back (a first test run: 668 moves for 400, 2 s period) */
    if (fresh)
      x->load += nc_rebal_in_flight(rb, x->address, at);
    x->usable = fresh && info[i].state == NC_MEMBER_UP && info[i].ready && info[i].connected;
    all_usable &= x->usable;
  }
  if (!all_usable)
    rb->stable_since = now;
  nc_rebal_params p = {
      .tolerance_pct = rb->o.tolerance_pct,
      .tolerance_abs = rb->o.tolerance_abs,
      .stop_pct = rb->o.stop_pct,
      .cap_per_sec = rb->o.moves_per_sec,
      .period_ms = rb->draining ? 1000 : rb->o.period_ms,
      .acting = rb->acting,
  };
  nc_rebal_plan plan;
  nc_rebal_plan_compute(&p, nodes, n, &plan);
  rb->avg = plan.avg;
  rb->excess = plan.excess;
  rb->decisions++;
  const char *wait = NULL;
  if (!rb->draining) {
    if (rb->mode != NC_REBAL_AUTO)
      wait = "off";
    else if (!nc_cluster_ready(rb->cl, NULL, 0))
      wait = "not ready";
    else if (now - rb->started_at < (uint64_t)rb->o.warmup_ms)
      wait = "warming up";
    else if (plan.verdict == NC_REBAL_UNSTABLE || now - rb->stable_since < (uint64_t)rb->o.stable_ms)
      wait = "cluster not stable";
  }
  if (wait) {
    rb->acting = 0;
    if (plan.verdict == NC_REBAL_MOVE)
      nc_debug("rebalance: %ld above the average %.1f, waiting (%s)", plan.excess, plan.avg, wait);
    return;
  }
  rb->acting = plan.acting;
  int was = rb->last_verdict;
  rb->last_verdict = (int)plan.verdict;
  if (plan.verdict == NC_REBAL_NO_TARGET) {
    rb->no_target++;
    if (was != NC_REBAL_NO_TARGET) /* once per spell, not every second of a drain */
      nc_info("rebalance: %s %ld connection(s) but no member UP and ready below the average",
              rb->draining ? "draining" : "over by", plan.excess);
    return;
  }
  if (plan.verdict != NC_REBAL_MOVE)
    return;
  long self_load = 0;
  for (size_t i = 0; i < n; i++)
    if (nodes[i].is_self)
      self_load = nodes[i].load;
  nc_info("rebalance: %s: self %ld (not counting those leaving), average %.1f, %d node(s) "
          "shedding: %ld move(s) in the next %d ms",
          rb->draining ? "draining" : "over the average", self_load, plan.avg, plan.n_shedding,
          plan.budget, p.period_ms);
  nc_rebal_moves_begin(rb, &plan, p.period_ms);
}

void nc_rebal_decide_cb(uv_timer_t *t) {
  nc_rebal *rb = t->data;
  decide(rb);
  schedule(rb);
}

int nc_rebal_start(nc_rebal *rb) {
  if (!rb)
    return NC_EINVAL;
  rb->started_at = rb->stable_since = uv_now(rb->loop);
  rb->started = 1;
  nc_cluster_set_self_ext(rb->cl, self_ext, rb);
  if (nc_cluster_add_member_listener(rb->cl, on_member, rb))
    return NC_ENOMEM;
  if (!nc_cluster_is_standalone(rb->cl))
    schedule(rb);
  nc_info("rebalance: %s (tolerance %d%% and %d, period %d ms, warm-up %d ms, cap %d moves/s "
          "cluster-wide, connections older than %d ms, clients %s)",
          nc_rebal_mode_name(rb->mode), rb->o.tolerance_pct, rb->o.tolerance_abs, rb->o.period_ms,
          rb->o.warmup_ms, rb->o.moves_per_sec, rb->o.min_conn_age_ms, rb->clients);
  return 0;
}

void nc_rebal_stop(nc_rebal *rb) {
  if (!rb || rb->stopped)
    return;
  rb->stopped = 1;
  uv_timer_stop(&rb->decide_t);
  uv_timer_stop(&rb->pace_t);
  if (rb->started)
    nc_cluster_set_self_ext(rb->cl, NULL, NULL);
}

static void free_after_close(uv_handle_t *h) {
  nc_rebal *rb = h->data;
  if (--rb->closing == 0)
    free(rb);
}

void nc_rebal_free(nc_rebal *rb) {
  if (!rb)
    return;
  nc_rebal_stop(rb);
  nc_rebal_moves_clear(rb);
  nc_strmap_free(rb->moved, free);
  free(rb->clients);
  /* resets still in flight come back to an anchor that knows we are gone */
  rb->anchor->rb = NULL;
  if (!rb->anchor->refs)
    free(rb->anchor);
  rb->closing = 2;
  uv_close((uv_handle_t *)&rb->decide_t, free_after_close);
  uv_close((uv_handle_t *)&rb->pace_t, free_after_close);
}

/* ---- switches ---- */

nc_rebal_mode nc_rebal_get_mode(const nc_rebal *rb) { return rb->mode; }

void nc_rebal_set_mode(nc_rebal *rb, nc_rebal_mode m) {
  if (rb->mode == m)
    return;
  nc_info("rebalance: automatic rebalance %s", nc_rebal_mode_name(m));
  rb->mode = m;
  rb->acting = 0;
  if (m == NC_REBAL_OFF && !rb->draining)
    nc_rebal_moves_clear(rb); /* moves already planned stop too */
}

int nc_rebal_draining(const nc_rebal *rb) { return rb->draining; }

void nc_rebal_set_draining(nc_rebal *rb, int on) {
  on = on ? 1 : 0;
  if (rb->draining == on)
    return;
  rb->draining = on;
  rb->acting = 0;
  nc_rebal_moves_clear(rb);
  nc_info("rebalance: %s (%zu SDK connection(s), %ld movable)", on ? "draining" : "undrained",
          nc_srv_sdk_conn_count(rb->srv), nc_rebal_movable(rb));
  if (!rb->started || rb->stopped)
    return;
  nc_cluster_report_now(rb->cl); /* peers stop sending us connections at once */
  uv_timer_stop(&rb->decide_t);
  if (on)
    uv_timer_start(&rb->decide_t, nc_rebal_decide_cb, 200, 0); /* after that report */
  else
    schedule(rb);
}

int nc_rebal_moves_per_sec_cap(const nc_rebal *rb) { return rb->o.moves_per_sec; }
uint64_t nc_rebal_moves_out(const nc_rebal *rb) { return rb->st.sent; }

/* ---- status ---- */

cJSON *nc_rebal_status_json(nc_rebal *rb) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  if (!cJSON_AddStringToObject(o, "rebalance", nc_rebal_mode_name(rb->mode)) ||
      !cJSON_AddBoolToObject(o, "draining", rb->draining) ||
      !cJSON_AddNumberToObject(o, "movesOut", (double)rb->st.sent) ||
      !cJSON_AddNumberToObject(o, "excess", (double)rb->excess) ||
      !cJSON_AddNumberToObject(o, "movable", (double)nc_rebal_movable(rb)) ||
      !cJSON_AddNumberToObject(o, "movesPerSecCap", rb->o.moves_per_sec)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

cJSON *nc_rebal_member_status_json(nc_rebal *rb, const char *address) {
  long load = 0, movable = 0;
  int draining = 0;
  if (!address)
    return NULL;
  if (!strcmp(address, nc_cluster_self(rb->cl)))
    return nc_rebal_status_json(rb);
  if (!peer_load(rb, address, &load, &movable, &draining, NULL))
    return NULL;
  const cJSON *ext = nc_cluster_member_ext(rb->cl, address, NULL);
  cJSON *o = cJSON_CreateObject();
  const char *mode = nc_json_str(ext, "nc.rebalance", "off");
  if (!o || !cJSON_AddStringToObject(o, "rebalance", strcmp(mode, "auto") ? "off" : "auto") ||
      !cJSON_AddBoolToObject(o, "draining", draining) ||
      !cJSON_AddNumberToObject(o, "movesOut", (double)nc_json_int(ext, "nc.movesOut", 0)) ||
      !cJSON_AddNumberToObject(o, "movable", (double)movable) ||
      !cJSON_AddNumberToObject(o, "sdkConCount", (double)load)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

void nc_rebal_render_metrics(nc_rebal *rb, nc_metrics_text *t) {
  const char *P = "nacosd_";
  nc_metrics_family(t, P, "rebalance_resets_total",
                    "ConnectResetRequests sent for rebalance or drain, by the client's answer.");
  nc_metrics_add_labelled(t, P, "rebalance_resets_total", "result", "acked", rb->st.acked);
  nc_metrics_add_labelled(t, P, "rebalance_resets_total", "result", "nacked", rb->st.nacked);
  nc_metrics_add_labelled(t, P, "rebalance_resets_total", "result", "timeout", rb->st.timeout);
  nc_metrics_add_labelled(t, P, "rebalance_resets_total", "result", "gone", rb->st.gone);
  nc_metrics_add_labelled(t, P, "rebalance_resets_total", "result", "not_sent", rb->st.not_sent);
  nc_metrics_add(t, P, "rebalance_moves_total",
                 "Connections told to move (rebalance and drain), sent.", rb->st.sent);
  nc_metrics_add(t, P, "rebalance_drain_moves_total", "Of those, sent while draining.",
                 rb->st.sent_drain);
  nc_metrics_add(t, P, "rebalance_moved_total",
                 "Connections told to move that closed here (they went).", rb->st.left);
  nc_metrics_add(t, P, "rebalance_stayed_total",
                 "Connections told to move still here 30 s later (not moved again in the cool-down).",
                 rb->st.stayed);
  nc_metrics_add(t, P, "rebalance_decisions_total", "Rebalance decisions taken.", rb->decisions);
  nc_metrics_add(t, P, "rebalance_no_target_total",
                 "Decisions with connections to move but no member to take them.", rb->no_target);
  nc_metrics_add(t, P, "rebalance_excess",
                 "SDK connections above the cluster average at the last decision (0 when below).",
                 rb->excess > 0 ? (uint64_t)rb->excess : 0);
  nc_metrics_add(t, P, "rebalance_sdk_connections",
                 "SDK connections here (the load rebalance compares).",
                 (uint64_t)nc_srv_sdk_conn_count(rb->srv));
  nc_metrics_add(t, P, "rebalance_movable", "SDK connections a move may pick now.",
                 (uint64_t)nc_rebal_movable(rb));
  nc_metrics_add(t, P, "rebalance_auto", "1 when automatic rebalance is on.",
                 rb->mode == NC_REBAL_AUTO);
  nc_metrics_add(t, P, "rebalance_draining", "1 while this node drains.", (uint64_t)rb->draining);
}
