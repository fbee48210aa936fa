#include "config_listen.h"

#include "config_util.h"
#include "nc_strmap.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

enum { L_IDLE = 0, L_SENT, L_WAIT };

typedef struct key_ent key_ent;
typedef struct conn_ent conn_ent;

typedef struct lsn {
  struct lsn *kprev, *knext; /* key_ent list; limbo list once dead */
  struct lsn *cprev, *cnext; /* conn_ent list */
  struct lsn *rprev, *rnext; /* retry list while WAIT */
  key_ent *key;
  conn_ent *conn;
  nc_cfg_listen *owner;
  char *data_id, *group, *tenant;
  char *pk;   /* its key in the pairs map (owned), so removal never allocates */
  char *json; /* the notify body, built once per registration */
  size_t json_len;
  char md5[33];
  int state;
  int pending;  /* a change arrived while SENT */
  int attempts; /* sends of the current change */
  int dead;     /* unregistered while SENT; the push callback frees it */
  uint64_t due_ms;
} lsn;

struct key_ent {
  lsn *head;
  size_t n;
  char *gk;
};

struct conn_ent {
  lsn *head;
  size_t n;
  char *conn_id;
};

struct nc_cfg_listen {
  uv_loop_t *loop;
  nc_cfg_push_ops ops;
  nc_cfg_listen_opts opts;
  nc_strmap *by_key;  /* gk -> key_ent */
  nc_strmap *by_conn; /* conn_id -> conn_ent */
  nc_strmap *pairs;   /* conn_id "\n" gk -> lsn */
  lsn *retry;          /* registrations waiting for a retry */
  lsn *limbo;          /* dead registrations with a push in flight */
  size_t count;
  uv_timer_t *timer;   /* heap: freed in its close callback */
  int timer_on;
  nc_cfg_listen_stats stats;
};

static char *pair_key(const char *conn_id, const char *gk) {
  size_t a = strlen(conn_id), b = strlen(gk);
  char *k = malloc(a + b + 2);
  if (!k)
    return NULL;
  memcpy(k, conn_id, a);
  k[a] = '\n';
  memcpy(k + a + 1, gk, b + 1);
  return k;
}

static void lsn_free(lsn *x) {
  free(x->pk);
  cJSON_free(x->json);
  free(x->data_id);
  free(x->group);
  free(x->tenant);
  free(x);
}

static void retry_unlink(nc_cfg_listen *l, lsn *x) {
  if (x->rprev)
    x->rprev->rnext = x->rnext;
  else
    l->retry = x->rnext;
  if (x->rnext)
    x->rnext->rprev = x->rprev;
  x->rprev = x->rnext = NULL;
}

static void on_timer(uv_timer_t *t);

static void retry_schedule(nc_cfg_listen *l, lsn *x, uint64_t delay_ms) {
  x->state = L_WAIT;
  x->due_ms = uv_now(l->loop) + delay_ms;
  x->rprev = NULL;
  x->rnext = l->retry;
  if (l->retry)
    l->retry->rprev = x;
  l->retry = x;
  if (!l->timer_on) {
    /* One coarse timer serves all retries; back-offs are seconds. */
    uv_timer_start(l->timer, on_timer, 100, 100);
    l->timer_on = 1;
  }
}

/* Unlinks x from every index; frees it unless a push is in flight. */
static void lsn_remove(nc_cfg_listen *l, lsn *x) {
  key_ent *k = x->key;
  conn_ent *c = x->conn;
  nc_strmap_del(l->pairs, x->pk);
  if (x->kprev)
    x->kprev->knext = x->knext;
  else
    k->head = x->knext;
  if (x->knext)
    x->knext->kprev = x->kprev;
  if (--k->n == 0) {
    nc_strmap_del(l->by_key, k->gk);
    free(k->gk);
    free(k);
  }
  if (x->cprev)
    x->cprev->cnext = x->cnext;
  else
    c->head = x->cnext;
  if (x->cnext)
    x->cnext->cprev = x->cprev;
  if (--c->n == 0) {
    nc_strmap_del(l->by_conn, c->conn_id);
    free(c->conn_id);
    free(c);
  }
  if (x->state == L_WAIT)
    retry_unlink(l, x);
  l->count--;
  x->key = NULL;
  x->conn = NULL;
  if (x->state == L_SENT) {
    x->dead = 1;
    x->kprev = NULL;
    x->knext = l->limbo;
    if (l->limbo)
      l->limbo->kprev = x;
    l->limbo = x;
    return;
  }
  lsn_free(x);
}

static void on_push(void *ud, const char *conn_id, nc_push_result res);

/* Returns 1 when the send failed and this was the last allowed attempt:
 * the caller must drop the connection (not here, callers may be iterating). */
static int lsn_send(nc_cfg_listen *l, lsn *x) {
  x->attempts++;
  x->pending = 0;
  x->state = L_SENT;
  l->stats.sent++;
  int rc = l->ops.push(l->ops.ud, x->conn->conn_id, "ConfigChangeNotifyRequest", x->json,
                       x->json_len, l->opts.timeout_ms, on_push, x);
  if (rc == 0)
    return 0;
  x->state = L_IDLE;
  if (rc == NC_ECLOSED)
    return 0; /* the connection is going; its DOWN event cleans up */
  if (x->attempts >= l->opts.max_retries)
    return 1;
  l->stats.retried++;
  retry_schedule(l, x, (uint64_t)x->attempts * (uint64_t)l->opts.retry_base_ms);
  return 0;
}

/* Drops a connection whose notifies failed too often. Fires the DOWN
 * listener, which frees the connection's registrations: callers must hold
 * no pointer into them. */
static void drop_conn(nc_cfg_listen *l, const char *conn_id) {
  char *cid = strdup(conn_id);
  if (!cid)
    return;
  nc_warn("config notify to %s undelivered after %d attempts; dropping connection", cid,
          l->opts.max_retries);
  l->stats.dropped_conns++;
  l->ops.drop_conn(l->ops.ud, cid, "config notify not acked");
  free(cid);
}

/* Sends x and drops its connection right away if that was the last try.
 * Only for callers that iterate no registration list. */
static void lsn_send_or_drop(nc_cfg_listen *l, lsn *x) {
  if (lsn_send(l, x))
    drop_conn(l, x->conn->conn_id);
}

/* Connection ids to drop once an iteration over registrations is over. */
typedef struct drop_list {
  char **ids;
  size_t n, cap;
} drop_list;

static void drop_list_add(drop_list *d, const char *id) {
  for (size_t i = 0; i < d->n; i++)
    if (strcmp(d->ids[i], id) == 0)
      return;
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    char **ids = realloc(d->ids, cap * sizeof(*ids));
    if (!ids)
      return; /* the next retry round tries again */
    d->ids = ids;
    d->cap = cap;
  }
  if ((d->ids[d->n] = strdup(id)) != NULL)
    d->n++;
}

static void drop_list_run(nc_cfg_listen *l, drop_list *d) {
  for (size_t i = 0; i < d->n; i++) {
    drop_conn(l, d->ids[i]);
    free(d->ids[i]);
  }
  free(d->ids);
}

static void on_push(void *ud, const char *conn_id, nc_push_result res) {
  lsn *x = ud;
  nc_cfg_listen *l = x->owner;
  if (x->dead) {
    if (x->kprev)
      x->kprev->knext = x->knext;
    else
      l->limbo = x->knext;
    if (x->knext)
      x->knext->kprev = x->kprev;
    lsn_free(x);
    return;
  }
  x->state = L_IDLE;
  switch (res) {
  case NC_PUSH_ACKED:
  case NC_PUSH_NACKED:
    /* Delivered: an answer with our requestId came back. Go acks config
     * pushes with success:false, so a NACK is not a delivery failure. */
    if (res == NC_PUSH_NACKED)
      nc_debug("config notify to %s nacked; counted as delivered", conn_id);
    l->stats.acked++;
    x->attempts = 0;
    if (x->pending)
      lsn_send_or_drop(l, x);
    return;
  case NC_PUSH_GONE:
    x->attempts = 0;
    return;
  case NC_PUSH_TIMEOUT:
  case NC_PUSH_BUSY:
  default:
    break;
  }
  if (x->attempts >= l->opts.max_retries) {
    drop_conn(l, conn_id); /* frees x */
    return;
  }
  l->stats.retried++;
  retry_schedule(l, x, (uint64_t)x->attempts * (uint64_t)l->opts.retry_base_ms);
}

static void on_timer(uv_timer_t *t) {
  nc_cfg_listen *l = t->data;
  uint64_t now = uv_now(l->loop);
  lsn *due = NULL;
  /* Collect first: sending may schedule (prepend to) the retry list. */
  for (lsn *x = l->retry, *next; x; x = next) {
    next = x->rnext;
    if (x->due_ms <= now) {
      retry_unlink(l, x);
      x->rnext = due;
      due = x;
    }
  }
  drop_list drops = {0};
  while (due) {
    lsn *x = due;
    due = x->rnext;
    x->rnext = NULL;
    x->state = L_IDLE;
    if (lsn_send(l, x))
      drop_list_add(&drops, x->conn->conn_id);
  }
  drop_list_run(l, &drops);
  if (!l->retry && l->timer_on) {
    uv_timer_stop(l->timer);
    l->timer_on = 0;
  }
}

int nc_cfg_listen_new(uv_loop_t *loop, const nc_cfg_push_ops *ops, const nc_cfg_listen_opts *opts,
                      nc_cfg_listen **out) {
  nc_cfg_listen *l = calloc(1, sizeof(*l));
  if (!l)
    return NC_ENOMEM;
  l->loop = loop;
  l->ops = *ops;
  if (opts)
    l->opts = *opts;
  if (l->opts.timeout_ms <= 0)
    l->opts.timeout_ms = 3000;
  if (l->opts.max_retries <= 0)
    l->opts.max_retries = 50;
  if (l->opts.retry_base_ms <= 0)
    l->opts.retry_base_ms = 2000;
  l->by_key = nc_strmap_new();
  l->by_conn = nc_strmap_new();
  l->pairs = nc_strmap_new();
  l->timer = calloc(1, sizeof(*l->timer));
  if (!l->by_key || !l->by_conn || !l->pairs || !l->timer) {
    nc_strmap_free(l->by_key, NULL);
    nc_strmap_free(l->by_conn, NULL);
    nc_strmap_free(l->pairs, NULL);
    free(l->timer);
    free(l);
    return NC_ENOMEM;
  }
  uv_timer_init(loop, l->timer);
  l->timer->data = l;
  *out = l;
  return 0;
}

static void close_free(uv_handle_t *h) { free(h); }

static void free_conn_ent(void *ud, const char *key, void *val) {
  (void)key;
  nc_cfg_listen *l = ud;
  conn_ent *c = val;
  (void)l;
  for (lsn *x = c->head, *next; x; x = next) {
    next = x->cnext;
    lsn_free(x);
  }
  free(c->conn_id);
  free(c);
}

static void free_key_ent(void *val) {
  key_ent *k = val;
  free(k->gk);
  free(k);
}

void nc_cfg_listen_free(nc_cfg_listen *l) {
  if (!l)
    return;
  nc_strmap_foreach(l->by_conn, free_conn_ent, l);
  nc_strmap_free(l->by_conn, NULL);
  nc_strmap_free(l->by_key, free_key_ent);
  nc_strmap_free(l->pairs, NULL);
  for (lsn *x = l->limbo, *next; x; x = next) {
    next = x->knext;
    lsn_free(x);
  }
  uv_timer_stop(l->timer);
  uv_close((uv_handle_t *)l->timer, close_free);
  free(l);
}

/* The body of §6.5 with the client's own strings; the core adds requestId. */
static int build_json(lsn *x) {
  cJSON *body = cJSON_CreateObject();
  if (!body || !cJSON_AddObjectToObject(body, "headers") ||
      nc_json_add_str(body, "dataId", x->data_id) || nc_json_add_str(body, "group", x->group) ||
      nc_json_add_str(body, "tenant", x->tenant) || nc_json_add_str(body, "module", "config") ||
      !(x->json = cJSON_PrintUnformatted(body))) {
    cJSON_Delete(body);
    return NC_ENOMEM;
  }
  cJSON_Delete(body);
  x->json_len = strlen(x->json);
  return 0;
}

int nc_cfg_listen_add(nc_cfg_listen *l, const char *conn_id, const char *group_key,
                      const char *data_id, const char *group, const char *tenant,
                      const char *md5) {
  int rc = NC_ENOMEM;
  char *pk = pair_key(conn_id, group_key);
  lsn *x = NULL;
  key_ent *k = NULL;
  conn_ent *c = NULL;
  int new_k = 0, new_c = 0;
  if (!pk)
    return NC_ENOMEM;
  if ((x = nc_strmap_get(l->pairs, pk)) != NULL) {
    /* Refresh: keep the delivery state, update the client's md5 and, if it
     * now spells the tenant differently ("" vs "public"), the echo. */
    free(pk);
    snprintf(x->md5, sizeof(x->md5), "%s", md5 ? md5 : "");
    if (strcmp(x->tenant, tenant ? tenant : "") != 0) {
      lsn tmp = *x;
      tmp.tenant = strdup(tenant ? tenant : "");
      tmp.json = NULL;
      if (!tmp.tenant || build_json(&tmp) != 0) {
        free(tmp.tenant);
        return NC_ENOMEM;
      }
      free(x->tenant);
      cJSON_free(x->json);
      x->tenant = tmp.tenant;
      x->json = tmp.json;
      x->json_len = tmp.json_len;
    }
    return 0;
  }
  x = calloc(1, sizeof(*x));
  if (!x)
    goto fail;
  x->owner = l;
  x->data_id = strdup(data_id);
  x->group = strdup(group);
  x->tenant = strdup(tenant ? tenant : "");
  snprintf(x->md5, sizeof(x->md5), "%s", md5 ? md5 : "");
  if (!x->data_id || !x->group || !x->tenant || build_json(x) != 0)
    goto fail;
  if (!(k = nc_strmap_get(l->by_key, group_key))) {
    if (!(k = calloc(1, sizeof(*k))))
      goto fail;
    new_k = 1;
    if (!(k->gk = strdup(group_key)) || nc_strmap_put(l->by_key, group_key, k, NULL))
      goto fail;
  }
  if (!(c = nc_strmap_get(l->by_conn, conn_id))) {
    if (!(c = calloc(1, sizeof(*c))))
      goto fail;
    new_c = 1;
    if (!(c->conn_id = strdup(conn_id)) || nc_strmap_put(l->by_conn, conn_id, c, NULL))
      goto fail;
  }
  if (nc_strmap_put(l->pairs, pk, x, NULL))
    goto fail;
  x->pk = pk; /* owned by x from here */
  x->key = k;
  x->conn = c;
  x->knext = k->head;
  if (k->head)
    k->head->kprev = x;
  k->head = x;
  k->n++;
  x->cnext = c->head;
  if (c->head)
    c->head->cprev = x;
  c->head = x;
  c->n++;
  l->count++;
  return 0;
fail:
  /* Undo partial inserts so the registry is exactly as before. */
  if (new_c) {
    if (nc_strmap_get(l->by_conn, conn_id) == c)
      nc_strmap_del(l->by_conn, conn_id);
    free(c->conn_id);
    free(c);
  }
  if (new_k) {
    if (nc_strmap_get(l->by_key, group_key) == k)
      nc_strmap_del(l->by_key, group_key);
    free(k->gk);
    free(k);
  }
  if (x)
    lsn_free(x);
  free(pk);
  return rc;
}

int nc_cfg_listen_remove(nc_cfg_listen *l, const char *conn_id, const char *group_key) {
  char *pk = pair_key(conn_id, group_key);
  if (!pk)
    return 0;
  lsn *x = nc_strmap_get(l->pairs, pk);
  free(pk);
  if (!x)
    return 0;
  lsn_remove(l, x);
  return 1;
}

void nc_cfg_listen_drop_conn(nc_cfg_listen *l, const char *conn_id) {
  conn_ent *c = nc_strmap_get(l->by_conn, conn_id);
  if (!c)
    return;
  /* lsn_remove frees c together with its last registration. */
  while (c) {
    lsn *x = c->head;
    int last = c->n == 1;
    lsn_remove(l, x);
    if (last)
      break;
  }
}

void nc_cfg_listen_changed(nc_cfg_listen *l, const char *group_key) {
  key_ent *k = nc_strmap_get(l->by_key, group_key);
  if (!k)
    return;
  drop_list drops = {0};
  uint64_t t0 = uv_hrtime();
  size_t n = k->n;
  for (lsn *x = k->head; x; x = x->knext) {
    if (x->state == L_IDLE) {
      x->attempts = 0;
      if (lsn_send(l, x))
        drop_list_add(&drops, x->conn->conn_id);
    } else {
      /* SENT: resend after the ack; WAIT: the retry carries this change. */
      if (x->state == L_SENT)
        x->pending = 1;
      l->stats.superseded++;
    }
  }
  if (n >= 1000)
    nc_info("config: change of %s queued to %zu listeners in %.1f ms", group_key, n,
            (double)(uv_hrtime() - t0) / 1e6);
  drop_list_run(l, &drops);
}

size_t nc_cfg_listen_count(const nc_cfg_listen *l) { return l->count; }

size_t nc_cfg_listen_key_count(const nc_cfg_listen *l, const char *group_key) {
  key_ent *k = nc_strmap_get(l->by_key, group_key);
  return k ? k->n : 0;
}

size_t nc_cfg_listen_conn_count(const nc_cfg_listen *l, const char *conn_id) {
  conn_ent *c = nc_strmap_get(l->by_conn, conn_id);
  return c ? c->n : 0;
}

int nc_cfg_listen_has(const nc_cfg_listen *l, const char *conn_id, const char *group_key) {
  char *pk = pair_key(conn_id, group_key);
  int has = pk && nc_strmap_get(l->pairs, pk) != NULL;
  free(pk);
  return has;
}

const nc_cfg_listen_stats *nc_cfg_listen_get_stats(const nc_cfg_listen *l) { return &l->stats; }

static void visit_key(const key_ent *k, nc_cfg_listen_visit_fn fn, void *ud) {
  for (const lsn *x = k->head; x; x = x->knext)
    fn(ud, x->conn->conn_id, x->data_id, x->group, x->tenant, x->md5);
}

void nc_cfg_listen_foreach(const nc_cfg_listen *l, const char *group_key,
                           nc_cfg_listen_visit_fn fn, void *ud) {
  if (group_key) {
    const key_ent *k = nc_strmap_get(l->by_key, group_key);
    if (k)
      visit_key(k, fn, ud);
    return;
  }
  nc_strmap_iter it;
  const char *gk;
  void *v;
  nc_strmap_iter_init(&it, l->by_key);
  while (nc_strmap_iter_next(&it, &gk, &v))
    visit_key(v, fn, ud);
}
