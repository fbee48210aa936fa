/* config_feed: see config_feed.h. */
#include "config_feed.h"

#include "config_int.h"
#include "nc_err.h"
#include "nc_evq.h"
#include "nc_log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One change on its way to the loop thread. */
typedef struct feed_ev {
  nc_evq_node node; /* first member */
  char *data_id, *group, *tenant;
  char md5[33];
  int has_md5;
  int64_t modified_ms;
} feed_ev;

struct nc_cfg_feed {
  nc_config_service *cs;
  char *backend, *db_url, *data_dir;
  nc_cfg_store_opts so;
  int poll_ms;
  nc_evq *q;
  pthread_t thread;
  pthread_mutex_t lock; /* guards stop and stats */
  int stop;
  nc_cfg_feed_stats stats;
};

static void ev_free(feed_ev *e) {
  free(e->data_id);
  free(e->group);
  free(e->tenant);
  free(e);
}

static void drop_ev(nc_evq_node *n) { ev_free((feed_ev *)n); }

static void reload_done(void *ud, const nc_config_result *res) {
  (void)ud;
  (void)res; /* nc_config_reload logs a failure; the next poll retries */
}

/* Loop thread: reload the key when the cache does not already agree. */
static void on_ev(void *ud, nc_evq_node *node) {
  nc_cfg_feed *f = ud;
  feed_ev *e = (feed_ev *)node;
  nc_config_service *cs = f->cs;
  char *gk = nc_cfg_group_key(e->data_id, e->group, e->tenant);
  const nc_cfg_item *cached = gk ? nc_strmap_get(cs->cache, gk) : NULL;
  int same;
  if (e->has_md5) /* a poll row */
    same = cached && strcmp(cached->md5, e->md5) == 0;
  else if (e->modified_ms > 0) /* a notification of a write */
    same = cached && cached->modified_ms >= e->modified_ms;
  else /* a removal */
    same = cached == NULL;
  free(gk);
  if (!same) {
    nc_config_key k = {.data_id = e->data_id, .group = e->group, .tenant = e->tenant};
    pthread_mutex_lock(&f->lock);
    f->stats.reloads++;
    pthread_mutex_unlock(&f->lock);
    nc_config_reload(cs, &k, reload_done, NULL);
  }
  ev_free(e);
}

/* Feed thread: a change reported by the store. */
static void on_change(void *ud, const nc_cfg_change *c) {
  nc_cfg_feed *f = ud;
  feed_ev *e = calloc(1, sizeof(*e));
  if (!e || !(e->data_id = strdup(c->data_id)) || !(e->group = strdup(c->group)) ||
      !(e->tenant = strdup(c->tenant ? c->tenant : ""))) {
    if (e)
      ev_free(e);
    return; /* the next poll reports it again */
  }
  if (c->md5) {
    snprintf(e->md5, sizeof(e->md5), "%s", c->md5);
    e->has_md5 = 1;
  }
  e->modified_ms = c->modified_ms;
  if (nc_evq_push(f->q, &e->node) != 0)
    ev_free(e);
}

static void on_notify(void *ud, const nc_cfg_change *c) {
  nc_cfg_feed *f = ud;
  /* This node's own writer: its commit path updates the cache and the
   * listeners (the notification may even arrive before that completion,
   * when the cache would still look stale). */
  const nc_cfg_store_vt *vt = nc_cfg_store_vtable(f->cs->store);
  int own = c->origin && vt->session && c->origin == vt->session(nc_cfg_store_impl(f->cs->store));
  pthread_mutex_lock(&f->lock);
  f->stats.notifications++;
  if (own)
    f->stats.own_skipped++;
  pthread_mutex_unlock(&f->lock);
  if (!own)
    on_change(ud, c);
}

static int stopping(nc_cfg_feed *f) {
  pthread_mutex_lock(&f->lock);
  int s = f->stop;
  pthread_mutex_unlock(&f->lock);
  return s;
}

static void nap(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_up(nc_cfg_feed *f, int up) {
  pthread_mutex_lock(&f->lock);
  f->stats.up = up;
  pthread_mutex_unlock(&f->lock);
}

/* Waits in slices so stop is noticed within ~250 ms. */
#define SLICE_MS 250

static void *feed_main(void *arg) {
  nc_cfg_feed *f = arg;
  nc_cfg_store *st = NULL;
  int64_t cursor = 0, next_poll = 0;
  int need_poll = 1;
  while (!stopping(f)) {
    if (!st && nc_cfg_store_open(f->backend, &f->so, &st) != 0) {
      st = NULL;
      nap(SLICE_MS * 2);
      continue;
    }
    const nc_cfg_store_vt *vt = nc_cfg_store_vtable(st);
    void *impl = nc_cfg_store_impl(st);
    /* LISTEN is in place after this, so the poll below cannot miss a
     * change that no notification reports. */
    int rc = vt->wait_changes(impl, 0, on_notify, f);
    set_up(f, rc == 0 && vt->is_up(impl));
    if (rc != 0) {
      need_poll = 1; /* notifications were lost while it was down */
      nap(SLICE_MS);
      continue;
    }
    if (need_poll || mono_ms() >= next_poll) {
      rc = vt->poll_changes(impl, &cursor, on_change, f);
      pthread_mutex_lock(&f->lock);
      f->stats.polls++;
      if (rc)
        f->stats.poll_failures++;
      pthread_mutex_unlock(&f->lock);
      need_poll = rc != 0;
      next_poll = mono_ms() + f->poll_ms;
      continue;
    }
    int64_t left = next_poll - mono_ms();
    rc = vt->wait_changes(impl, left < SLICE_MS ? (int)(left > 0 ? left : 0) : SLICE_MS,
                          on_notify, f);
    if (rc)
      need_poll = 1;
  }
  nc_cfg_store_close(st);
  return NULL;
}

int nc_cfg_feed_start(nc_config_service *cs, const char *backend, const nc_cfg_store_opts *so,
                      int poll_ms, nc_cfg_feed **out) {
  nc_cfg_feed *f = calloc(1, sizeof(*f));
  if (!f)
    return NC_ENOMEM;
  f->cs = cs;
  f->poll_ms = poll_ms > 0 ? poll_ms : 30000;
  f->so = *so;
  if (!(f->backend = strdup(backend)) || !(f->db_url = strdup(so->db_url ? so->db_url : "")) ||
      !(f->data_dir = strdup(so->data_dir ? so->data_dir : "")))
    goto oom;
  f->so.db_url = f->db_url;
  f->so.data_dir = f->data_dir;
  if (nc_evq_new(nc_srv_loop(cs->srv), on_ev, f, &f->q) != 0)
    goto oom;
  pthread_mutex_init(&f->lock, NULL);
  if (pthread_create(&f->thread, NULL, feed_main, f) != 0) {
    pthread_mutex_destroy(&f->lock);
    nc_evq_close(f->q, drop_ev);
    goto oom;
  }
  *out = f;
  return 0;
oom:
  free(f->backend);
  free(f->db_url);
  free(f->data_dir);
  free(f);
  return NC_ENOMEM;
}

void nc_cfg_feed_stop(nc_cfg_feed *f) {
  if (!f)
    return;
  pthread_mutex_lock(&f->lock);
  f->stop = 1;
  pthread_mutex_unlock(&f->lock);
  pthread_join(f->thread, NULL);
  nc_evq_close(f->q, drop_ev);
  pthread_mutex_destroy(&f->lock);
  free(f->backend);
  free(f->db_url);
  free(f->data_dir);
  free(f);
}

void nc_cfg_feed_get_stats(nc_cfg_feed *f, nc_cfg_feed_stats *out) {
  pthread_mutex_lock(&f->lock);
  *out = f->stats;
  pthread_mutex_unlock(&f->lock);
}
