/* rebalance_move: which connections move and how fast (rebalance.h).
 * A connection may be picked when it came in on the SDK port, its client
 * follows redirects (version prefix), it is older than the minimum age
 * (its handshake and redo are done) and this node did not tell it to move
 * within the cool-down. A move is one ConnectResetRequest with the
 * target's address, sent asynchronously (3 s ack timeout), never a close:
 * a client that ignores it stays (and stays in the cool-down). Resets go
 * out at the period's budget / period (tokens on a 100 ms timer), spread
 * round-robin over the targets; candidates are shuffled so that one
 * client host does not go first. */
#include "rebalance_int.h"

#include "nc_err.h"
#include "nc_log.h"
#include "srv_each.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESET_TIMEOUT_MS 3000
#define MOVE_WINDOW_MS 30000 /* a move closes within this after the reset */
#define DRAIN_MIN_AGE_MS 3000 /* draining still spares connections in their first seconds */
#define PACE_MS 100

static int version_follows(const char *clients, const char *version) {
  if (!version || !*version)
    return 0;
  for (const char *p = clients; *p;) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    while (n && isspace((unsigned char)*p)) {
      p++;
      n--;
    }
    while (n && isspace((unsigned char)p[n - 1]))
      n--;
    if (n && strncasecmp(version, p, n) == 0)
      return 1;
    if (!comma)
      break;
    p = comma + 1;
  }
  return 0;
}

static int pickable(nc_rebal *rb, nc_conn *c, uint64_t now_wall) {
  if (nc_conn_is_cluster(c) || !version_follows(rb->clients, nc_conn_version(c)))
    return 0;
  uint64_t age_min = (uint64_t)(rb->draining && rb->o.min_conn_age_ms > DRAIN_MIN_AGE_MS
                                    ? DRAIN_MIN_AGE_MS
                                    : rb->o.min_conn_age_ms);
  uint64_t created = nc_conn_created_ms(c);
  if (now_wall < created || now_wall - created < age_min)
    return 0;
  return nc_strmap_get(rb->moved, nc_conn_id(c)) == NULL;
}

typedef struct count_ctx {
  nc_rebal *rb;
  uint64_t now;
  long n;
} count_ctx;

static void count_one(void *ud, nc_conn *c) {
  count_ctx *x = ud;
  x->n += pickable(x->rb, c, x->now);
}

long nc_rebal_movable(nc_rebal *rb) {
  uint64_t now = uv_now(rb->loop);
  /* cached briefly: reports and the cluster view ask often */
  if (rb->movable_at && now - rb->movable_at < 500)
    return rb->movable_cache;
  count_ctx x = {rb, nc_now_ms(), 0};
  nc_srv_each_conn(rb->srv, count_one, &x);
  rb->movable_at = now ? now : 1;
  rb->movable_cache = x.n;
  return x.n;
}

typedef struct collect_ctx {
  nc_rebal *rb;
  uint64_t now;
  char **ids;
  size_t n, cap;
} collect_ctx;

static void collect_one(void *ud, nc_conn *c) {
  collect_ctx *x = ud;
  if (!pickable(x->rb, c, x->now))
    return;
  if (x->n == x->cap) {
    size_t cap = x->cap ? x->cap * 2 : 64;
    char **ids = realloc(x->ids, cap * sizeof(*ids));
    if (!ids)
      return;
    x->ids = ids;
    x->cap = cap;
  }
  if ((x->ids[x->n] = strdup(nc_conn_id(c))))
    x->n++;
}

static void cand_free(nc_rebal *rb) {
  for (size_t i = rb->i_cand; i < rb->n_cand; i++)
    free(rb->cand[i]);
  free(rb->cand);
  rb->cand = NULL;
  rb->n_cand = rb->i_cand = 0;
}

void nc_rebal_moves_clear(nc_rebal *rb) {
  uv_timer_stop(&rb->pace_t);
  cand_free(rb);
  rb->n_tg = rb->next_tg = 0;
  rb->tokens = rb->rate = 0;
}

static void on_reset(void *ud, const char *conn_id, nc_push_result res) {
  nc_rebal_anchor *an = ud;
  nc_rebal *rb = an->rb;
  an->refs--;
  if (!rb) {
    if (!an->refs)
      free(an);
    return;
  }
  switch (res) {
  case NC_PUSH_ACKED:
    rb->st.acked++;
    break;
  case NC_PUSH_NACKED:
    rb->st.nacked++;
    break;
  case NC_PUSH_TIMEOUT:
    rb->st.timeout++;
    break;
  default:
    rb->st.gone++;
    break;
  }
  nc_debug("rebalance: reset of %s %s", conn_id,
           res == NC_PUSH_ACKED ? "acked" : res == NC_PUSH_GONE ? "(connection gone)" : "not acked");
}

/* Arrivals at the target lag the departure a little (the client's
 * handshake and redo), and a report shows what its sender had a moment
 * before we got it. */
#define ARRIVAL_MARGIN_MS 2000

long nc_rebal_in_flight(nc_rebal *rb, const char *address, uint64_t report_wall_ms) {
  uint64_t now = uv_now(rb->loop);
  uint64_t since = report_wall_ms > ARRIVAL_MARGIN_MS ? report_wall_ms - ARRIVAL_MARGIN_MS : 0;
  long n = 0;
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, rb->moved);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    const nc_rebal_moved *mv = v;
    if (strcmp(mv->target, address) != 0)
      continue;
    /* still here (until it outstays the window) or gone after its report */
    n += mv->left_wall ? mv->left_wall >= since : now - mv->at < MOVE_WINDOW_MS + RESET_TIMEOUT_MS;
  }
  return n;
}

void nc_rebal_on_conn(void *ud, nc_conn *c, nc_conn_event ev) {
  nc_rebal *rb = ud;
  if (ev != NC_CONN_DOWN || rb->stopped)
    return;
  nc_rebal_moved *mv = nc_strmap_get(rb->moved, nc_conn_id(c));
  if (mv && !mv->left_wall) {
    mv->left_wall = nc_now_ms();
    rb->st.left++;
    rb->movable_at = 0;
  }
}

long nc_rebal_moves_leaving(nc_rebal *rb) {
  uint64_t now = uv_now(rb->loop);
  long n = 0;
  nc_strmap_iter it;
  const char *id;
  void *v;
  nc_strmap_iter_init(&it, rb->moved);
  while (nc_strmap_iter_next(&it, &id, &v)) {
    const nc_rebal_moved *mv = v;
    (void)id;
    n += !mv->left_wall && now - mv->at < MOVE_WINDOW_MS + RESET_TIMEOUT_MS;
  }
  return n;
}

static int send_one(nc_rebal *rb, const char *conn_id, const char *target) {
  char ip[256], port[16];
  int p = 0;
  if (nc_srv_parse_redirect(target, ip, sizeof(ip), &p))
    return NC_EINVAL;
  snprintf(port, sizeof(port), "%d", p);
  cJSON *b = cJSON_CreateObject();
  if (!b || !cJSON_AddObjectToObject(b, "headers") || !cJSON_AddStringToObject(b, "serverIp", ip) ||
      !cJSON_AddStringToObject(b, "serverPort", port) /* a string on the wire */ ||
      !cJSON_AddStringToObject(b, "connectionId", conn_id) ||
      !cJSON_AddStringToObject(b, "module", "internal")) {
    cJSON_Delete(b);
    return NC_ENOMEM;
  }
  nc_rebal_moved *mv = calloc(1, sizeof(*mv));
  if (!mv || nc_strmap_put(rb->moved, conn_id, mv, NULL)) {
    free(mv);
    cJSON_Delete(b);
    return NC_ENOMEM;
  }
  mv->at = uv_now(rb->loop);
  snprintf(mv->target, sizeof(mv->target), "%s", target);
  rb->movable_at = 0;
  /* if it closes soon, its instances stay visible while it registers again
   * on the target (the ack itself may race the close, so from now on) */
  if (rb->naming)
    nc_naming_expect_move(rb->naming, conn_id, RESET_TIMEOUT_MS + MOVE_WINDOW_MS,
                          (uint64_t)rb->o.migrate_grace_ms);
  rb->anchor->refs++;
  int rc = nc_srv_push(rb->srv, conn_id, "ConnectResetRequest", b, RESET_TIMEOUT_MS, on_reset,
                       rb->anchor);
  if (rc) {
    rb->anchor->refs--;
    rb->st.not_sent++;
    return rc;
  }
  rb->st.sent++;
  rb->st.sent_drain += (uint64_t)rb->draining;
  nc_info("rebalance: move %s to %s (%s, self %zu, average %.1f)", conn_id, target,
          rb->draining ? "drain" : "rebalance", nc_srv_sdk_conn_count(rb->srv), rb->avg);
  return 0;
}

/* The next candidate still here and still pickable, or NULL (owned). */
static char *next_cand(nc_rebal *rb) {
  uint64_t now = nc_now_ms();
  while (rb->i_cand < rb->n_cand) {
    char *id = rb->cand[rb->i_cand++];
    nc_conn *c = nc_srv_find_conn(rb->srv, id);
    if (c && pickable(rb, c, now))
      return id;
    free(id);
  }
  return NULL;
}

static nc_rebal_tgt *next_target(nc_rebal *rb) {
  for (size_t k = 0; k < rb->n_tg; k++) {
    nc_rebal_tgt *t = &rb->tg[rb->next_tg++ % rb->n_tg];
    if (t->left > 0)
      return t;
  }
  return NULL;
}

static void on_pace(uv_timer_t *h) {
  nc_rebal *rb = h->data;
  uint64_t now = uv_now(rb->loop);
  rb->tokens += rb->rate * (double)(now - rb->pace_last) / 1000.0;
  rb->pace_last = now;
  while (rb->tokens >= 1.0) {
    nc_rebal_tgt *t = next_target(rb);
    char *id = t ? next_cand(rb) : NULL;
    if (!id) {
      nc_rebal_moves_clear(rb); /* this period's moves are done */
      return;
    }
    rb->tokens -= 1.0;
    t->left--;
    send_one(rb, id, t->address);
    free(id);
  }
}

void nc_rebal_moves_begin(nc_rebal *rb, const nc_rebal_plan *plan, int period_ms) {
  nc_rebal_moves_clear(rb);
  for (size_t i = 0; i < plan->n_targets && i < NC_REBAL_MAX_TARGETS; i++) {
    snprintf(rb->tg[i].address, sizeof(rb->tg[i].address), "%s", plan->targets[i].address);
    rb->tg[i].left = plan->targets[i].count;
    rb->n_tg++;
  }
  collect_ctx x = {rb, nc_now_ms(), NULL, 0, 0};
  nc_srv_each_conn(rb->srv, collect_one, &x);
  for (size_t i = x.n; i > 1; i--) { /* Fisher-Yates */
    size_t j = (size_t)rand_r(&rb->seed) % i;
    char *tmp = x.ids[i - 1];
    x.ids[i - 1] = x.ids[j];
    x.ids[j] = tmp;
  }
  rb->cand = x.ids;
  rb->n_cand = x.n;
  rb->i_cand = 0;
  /* the budget spread over the period; the first reset goes at once */
  rb->rate = (double)plan->budget * 1000.0 / (period_ms > 0 ? period_ms : 1000);
  rb->tokens = 1.0;
  rb->pace_last = uv_now(rb->loop);
  if (rb->n_tg && rb->n_cand)
    uv_timer_start(&rb->pace_t, on_pace, 0, PACE_MS);
  else
    nc_rebal_moves_clear(rb);
}

void nc_rebal_moves_prune(nc_rebal *rb) {
  uint64_t now = uv_now(rb->loop), wall = nc_now_ms();
  nc_strmap_iter it;
  const char *id;
  void *v;
  nc_strmap_iter_init(&it, rb->moved);
  while (nc_strmap_iter_next(&it, &id, &v)) {
    nc_rebal_moved *mv = v;
    if (mv->left_wall) {
      /* kept a while for nc_rebal_in_flight; its id never comes back */
      if (wall - mv->left_wall < MOVE_WINDOW_MS)
        continue;
    } else if (now - mv->at < (uint64_t)rb->o.cooldown_ms) {
      /* once, when it outstayed the move window: it ignored the reset */
      if (now - mv->at >= MOVE_WINDOW_MS + RESET_TIMEOUT_MS && !mv->stayed) {
        rb->st.stayed++;
        mv->stayed = 1;
      }
      continue;
    }
    free(nc_strmap_del(rb->moved, id));
  }
}
