/* naming_push: see naming_push.h. */
#include "naming_push.h"
#include "naming_trim.h"

#include "nc_err.h"
#include "nc_log.h"
#include "nc_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { DLV_IDLE, DLV_QUEUED, DLV_SENT, DLV_RETRY } dlv_state;

static const char *state_name(dlv_state s) {
  static const char *names[] = {"IDLE", "QUEUED", "SENT", "RETRY"};
  return names[s];
}

typedef struct dlv {
  nc_npush *eng;
  char *key;     /* conn \x02 svc */
  char *conn_id; /* points into key copy below */
  char *svc_key;
  dlv_state state;
  int pending;   /* a newer state arrived while SENT */
  int dead;      /* unlinked; freed when the in-flight result arrives */
  uint64_t due;  /* QUEUED/RETRY: when to send (uv_now ms) */
  uint64_t sent_rev; /* service revision of the push in flight */
} dlv;

typedef struct dirty {
  uint64_t due;
} dirty;

struct nc_npush {
  uv_loop_t *loop;
  nc_nreg *reg;
  nc_npush_opts o;
  nc_npush_send_fn send;
  void *send_ud;
  uv_timer_t timer;
  uint64_t armed; /* due time the timer is set for, 0 = not armed */
  nc_strmap *dlvs;    /* key -> dlv */
  nc_strmap *byconn;  /* conn id -> nc_strmap(key -> dlv) */
  nc_strmap *dirty;   /* svc key -> dirty */
  nc_strmap *waiting; /* key -> dlv in QUEUED/RETRY */
  nc_ntrim *trim;     /* hands the heap back after a burst of changes */
  nc_npush_stats st;
};

static void dlv_send(nc_npush *p, dlv *d);

static void dlv_free(dlv *d) {
  if (!d)
    return;
  free(d->key);
  free(d->conn_id);
  free(d->svc_key);
  free(d);
}

static uint64_t now(nc_npush *p) {
  uv_update_time(p->loop);
  return uv_now(p->loop);
}

static void on_timer(uv_timer_t *t);

static void arm(nc_npush *p, uint64_t due) {
  if (p->armed && p->armed <= due)
    return;
  uint64_t n = now(p);
  p->armed = due ? due : 1;
  uv_timer_start(&p->timer, on_timer, due > n ? due - n : 0, 0);
}

/* Unlinks d from every index; frees it unless a result is outstanding. */
static void dlv_remove(nc_npush *p, dlv *d) {
  nc_strmap_del(p->dlvs, d->key);
  nc_strmap_del(p->waiting, d->key);
  nc_strmap *cm = nc_strmap_get(p->byconn, d->conn_id);
  if (cm) {
    nc_strmap_del(cm, d->key);
    if (nc_strmap_count(cm) == 0) {
      nc_strmap_del(p->byconn, d->conn_id);
      nc_strmap_free(cm, NULL);
    }
  }
  p->st.deliveries--;
  if (d->state == DLV_SENT)
    d->dead = 1;
  else
    dlv_free(d);
}

/* The record key "<conn_id>\x02<svc_key>": in buf when it fits (the
 * common case, no allocation per lookup), else malloc'd; NULL on OOM.
 * Release with dlv_key_done. */
static char *dlv_key(const char *conn_id, const char *svc_key, char *buf, size_t cap) {
  size_t cl = strlen(conn_id), kl = cl + strlen(svc_key) + 2;
  char *key = kl <= cap ? buf : malloc(kl);
  if (!key)
    return NULL;
  memcpy(key, conn_id, cl);
  key[cl] = '\x02';
  memcpy(key + cl + 1, svc_key, kl - cl - 1); /* includes the NUL */
  return key;
}

static void dlv_key_done(char *key, const char *buf) {
  if (key != buf)
    free(key);
}

static dlv *dlv_get(nc_npush *p, const char *conn_id, const char *svc_key) {
  char stackbuf[512];
  char *key = dlv_key(conn_id, svc_key, stackbuf, sizeof(stackbuf));
  dlv *d = NULL;
  if (!key)
    return NULL;
  d = nc_strmap_get(p->dlvs, key);
  if (d)
    goto out;
  nc_strmap *cm = nc_strmap_get(p->byconn, conn_id);
  int new_cm = 0;
  if (!cm) {
    if (!(cm = nc_strmap_new()))
      goto out;
    if (nc_strmap_put(p->byconn, conn_id, cm, NULL)) {
      nc_strmap_free(cm, NULL);
      goto out;
    }
    new_cm = 1;
  }
  d = calloc(1, sizeof(*d));
  if (!d || !(d->key = strdup(key)) || !(d->conn_id = strdup(conn_id)) ||
      !(d->svc_key = strdup(svc_key)) || nc_strmap_put(p->dlvs, key, d, NULL)) {
    dlv_free(d);
    d = NULL;
  } else if (nc_strmap_put(cm, key, d, NULL)) {
    nc_strmap_del(p->dlvs, key);
    dlv_free(d);
    d = NULL;
  }
  if (!d && new_cm) {
    nc_strmap_del(p->byconn, conn_id);
    nc_strmap_free(cm, NULL);
  }
  if (d) {
    d->eng = p;
    d->state = DLV_IDLE;
    p->st.deliveries++;
  }
out:
  dlv_key_done(key, stackbuf);
  return d;
}

static void dlv_wait(nc_npush *p, dlv *d, dlv_state st, uint64_t due) {
  d->state = st;
  d->due = due;
  if (nc_strmap_put(p->waiting, d->key, d, NULL) == 0)
    arm(p, due);
  /* On OOM the record stays QUEUED/RETRY without a timer entry; the next
   * change of the service sends it again. */
}

static void on_result(void *ud, const char *conn_id, nc_push_result res) {
  dlv *d = ud;
  nc_npush *p = d->eng;
  (void)conn_id;
  if (d->dead) {
    dlv_free(d);
    return;
  }
  switch (res) {
  case NC_PUSH_ACKED:
    p->st.acked++;
    d->state = DLV_IDLE;
    if (d->pending) {
      d->pending = 0;
      /* a targeted push and a change push often coincide: skip the second
       * when the acked one already carried this revision */
      if (nc_nreg_revision(p->reg, d->svc_key) != d->sent_rev)
        dlv_send(p, d);
    }
    break;
  case NC_PUSH_GONE:
    /* Nacos counts a push to a vanished connection as done. */
    d->state = DLV_IDLE;
    dlv_remove(p, d);
    break;
  default:
    p->st.failed++;
    d->pending = 0; /* the retry carries the newest state anyway */
    nc_debug("push %s to %s failed (%d), retry in %d ms", d->svc_key, d->conn_id, (int)res,
             p->o.retry_ms);
    dlv_wait(p, d, DLV_RETRY, now(p) + (uint64_t)p->o.retry_ms);
    break;
  }
}

static void dlv_send(nc_npush *p, dlv *d) {
  const char *clusters = NULL;
  if (!nc_nreg_subscriber(p->reg, d->svc_key, d->conn_id, &clusters)) {
    dlv_remove(p, d); /* unsubscribed meanwhile */
    return;
  }
  size_t len = 0;
  const char *body = nc_nreg_push_body(p->reg, d->svc_key, clusters, &len);
  d->sent_rev = nc_nreg_revision(p->reg, d->svc_key);
  int rc = body ? p->send(p->send_ud, d->conn_id, body, len, p->o.timeout_ms, on_result, d)
                : NC_ENOMEM;
  if (rc == 0) {
    if (d->state == DLV_RETRY)
      p->st.retried++;
    d->state = DLV_SENT;
    p->st.sent++;
  } else if (rc == NC_ECLOSED) {
    p->st.dropped++;
    dlv_remove(p, d);
  } else {
    p->st.failed++;
    dlv_wait(p, d, DLV_RETRY, now(p) + (uint64_t)p->o.retry_ms);
  }
}

/* Something newer must reach this subscriber. */
static void dlv_touch(nc_npush *p, dlv *d, uint64_t due) {
  switch (d->state) {
  case DLV_SENT:
    d->pending = 1;
    break;
  case DLV_QUEUED:
  case DLV_RETRY:
    if (due < d->due) {
      d->due = due;
      arm(p, due);
    }
    break;
  case DLV_IDLE:
    dlv_wait(p, d, DLV_QUEUED, due);
    break;
  }
}

typedef struct fan {
  nc_npush *p;
  const char *svc_key;
  uint64_t due;
} fan;

static void fan_one(void *ud, const char *conn_id) {
  fan *f = ud;
  dlv *d = dlv_get(f->p, conn_id, f->svc_key);
  if (d)
    dlv_touch(f->p, d, f->due);
}

static void on_timer(uv_timer_t *t) {
  nc_npush *p = t->data;
  uint64_t n = now(p), next = 0;
  nc_strmap_iter it;
  const char *svc_key;
  void *v;
  p->armed = 0;
  /* 1. services whose merge window is over: queue every subscriber now */
  nc_strmap_iter_init(&it, p->dirty);
  while (nc_strmap_iter_next(&it, &svc_key, &v)) {
    dirty *dt = v;
    if (dt->due > n)
      continue;
    fan f = {p, svc_key, n};
    nc_nreg_each_subscriber(p->reg, f.svc_key, fan_one, &f);
    free(nc_strmap_del(p->dirty, f.svc_key));
  }
  /* 2. deliveries that are due (queued, first-subscribe, retries) */
  uint64_t sent0 = p->st.sent;
  nc_strmap_iter_init(&it, p->waiting);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    dlv *d = v;
    if (d->due > n)
      continue;
    nc_strmap_del(p->waiting, d->key);
    nc_trace("push %s -> %s (%s)", d->svc_key, d->conn_id, state_name(d->state));
    dlv_send(p, d);
    /* a send may re-queue d (RETRY) behind the iterator; it is then not due yet */
  }
  if (p->st.sent - sent0 >= 1000)
    nc_info("push: %llu pushes sent in %llu ms", (unsigned long long)(p->st.sent - sent0),
            (unsigned long long)(now(p) - n));
  /* 3. re-arm for the earliest remaining due time */
  nc_strmap_iter_init(&it, p->dirty);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    dirty *dt = v;
    if (!next || dt->due < next)
      next = dt->due;
  }
  nc_strmap_iter_init(&it, p->waiting);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    dlv *d = v;
    if (!next || d->due < next)
      next = d->due;
  }
  if (next)
    arm(p, next);
}

int nc_npush_new(uv_loop_t *loop, nc_nreg *reg, const nc_npush_opts *opts, nc_npush_send_fn send,
                 void *send_ud, nc_npush **out) {
  nc_npush *p = calloc(1, sizeof(*p));
  if (!p)
    return NC_ENOMEM;
  p->loop = loop;
  p->reg = reg;
  p->o = *opts;
  p->send = send;
  p->send_ud = send_ud;
  if (!(p->dlvs = nc_strmap_new()) || !(p->byconn = nc_strmap_new()) ||
      !(p->dirty = nc_strmap_new()) || !(p->waiting = nc_strmap_new()) ||
      nc_ntrim_new(loop, NULL, &p->trim)) {
    nc_strmap_free(p->dlvs, NULL);
    nc_strmap_free(p->byconn, NULL);
    nc_strmap_free(p->dirty, NULL);
    nc_strmap_free(p->waiting, NULL);
    free(p);
    return NC_ENOMEM;
  }
  uv_timer_init(loop, &p->timer);
  p->timer.data = p;
  *out = p;
  return 0;
}

static void dlv_free_final(void *v) {
  dlv *d = v;
  if (d->state == DLV_SENT)
    nc_warn("push engine freed with a push in flight (%s)", d->key);
  dlv_free(d);
}

static void conn_index_free(void *v) { nc_strmap_free(v, NULL); }

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

void nc_npush_free(nc_npush *p) {
  if (!p)
    return;
  nc_strmap_free(p->dlvs, dlv_free_final);
  nc_strmap_free(p->byconn, conn_index_free);
  nc_strmap_free(p->dirty, free);
  nc_strmap_free(p->waiting, NULL);
  nc_ntrim_free(p->trim);
  uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

void nc_npush_service_changed(nc_npush *p, const char *svc_key) {
  /* every registry change passes here, so this is where a burst is seen */
  nc_ntrim_note(p->trim);
  if (nc_strmap_get(p->dirty, svc_key))
    return; /* already waiting: this change merges into that push */
  dirty *dt = malloc(sizeof(*dt));
  if (!dt)
    return;
  dt->due = now(p) + (uint64_t)p->o.merge_ms;
  if (nc_strmap_put(p->dirty, svc_key, dt, NULL)) {
    free(dt);
    return;
  }
  arm(p, dt->due);
}

void nc_npush_subscribed(nc_npush *p, const char *conn_id, const char *svc_key) {
  dlv *d = dlv_get(p, conn_id, svc_key);
  if (d)
    dlv_touch(p, d, now(p) + (uint64_t)p->o.merge_ms);
}

void nc_npush_unsubscribed(nc_npush *p, const char *conn_id, const char *svc_key) {
  char stackbuf[512];
  char *key = dlv_key(conn_id, svc_key, stackbuf, sizeof(stackbuf));
  if (!key)
    return;
  dlv *d = nc_strmap_get(p->dlvs, key);
  dlv_key_done(key, stackbuf);
  if (d)
    dlv_remove(p, d);
}

void nc_npush_conn_gone(nc_npush *p, const char *conn_id) {
  nc_strmap *cm = nc_strmap_get(p->byconn, conn_id);
  if (!cm)
    return;
  /* dlv_remove frees cm with its last record: count down, so the loop
   * never looks at cm after that */
  size_t left = nc_strmap_count(cm);
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, cm);
  while (left && nc_strmap_iter_next(&it, NULL, &v)) {
    left--;
    dlv_remove(p, v);
  }
}

void nc_npush_get_stats(const nc_npush *p, nc_npush_stats *st) { *st = p->st; }
