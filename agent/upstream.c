#include "upstream.h"
#include "nc_err.h"
#include "nc_evq.h"
#include "pushbox.h"
#include "nc_json.h"
#include "nc_log.h"
#include "nc_wire_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct cmd {
  struct cmd *next;
  char *type;
  cJSON *body;
  uint64_t gen;
  char *key; /* ordering key or NULL */
  nc_up_done_cb cb;
  void *ud;
} cmd;

enum { EV_CONNECTED, EV_DISCONNECTED, EV_PUSH, EV_DONE };

typedef struct ev {
  nc_evq_node node; /* first member */
  int kind;
  uint64_t gen;
  char *a, *b;      /* server + conn id / reason / push type + pushbox key */
  cJSON *body;
  cmd *c;
  int status;
  nc_msg *resp;
} ev;

/* One connection attempt; the ud of nc_wc's callbacks. Freed only after
 * nc_wc_close returned (no callback runs after that). */
typedef struct attempt {
  nc_up *up;
  uint64_t gen;
  int broken;
  const char *reason;
} attempt;

struct nc_up {
  nc_evq *evq;
  nc_pushbox *box; /* host-list pushes waiting for the loop, newest per service */
  nc_gcli_env *env;
  nc_up_cbs cbs;
  nc_server_addr *servers;
  size_t n_servers;
  int health_ms, timeout_ms;
  char *app_name, *client_ip;

  pthread_t thread;
  int started;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* Under lock: */
  cmd *head, *tail;
  size_t queued;
  int stop;
  attempt *cur;       /* the live connection's attempt, or NULL */
  int reset_idx;      /* -2: none; -1: any other server; >= 0: that server */
  int inflight;       /* requests awaiting their answer */
  const char *inflight_keys[128]; /* ordering keys of those (borrowed from their cmd) */
  int n_inflight_keys;
  uint64_t last_active_ms;
  uint64_t gen;
  unsigned seed;
};

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void ev_free(ev *e) {
  if (e->c) {
    cJSON_Delete(e->c->body);
    free(e->c->type);
    free(e->c->key);
    free(e->c);
  }
  nc_msg_free(e->resp);
  cJSON_Delete(e->body);
  free(e->a);
  free(e->b);
  free(e);
}

static void post(nc_up *up, ev *e) {
  /* The loop is shutting down when the push fails; nobody is left to tell. */
  if (nc_evq_push(up->evq, &e->node) != 0)
    ev_free(e);
}

static void post_simple(nc_up *up, int kind, uint64_t gen, const char *a, const char *b) {
  ev *e = calloc(1, sizeof(*e));
  if (!e)
    return;
  e->kind = kind;
  e->gen = gen;
  e->a = a ? strdup(a) : NULL;
  e->b = b ? strdup(b) : NULL;
  post(up, e);
}

static void post_done(nc_up *up, cmd *c, int status, nc_msg *resp) {
  ev *e = calloc(1, sizeof(*e));
  if (!e) {
    /* Cannot happen in practice; the callback must still run, so keep the
     * command and let the loop see a failure on the next drain. */
    nc_msg_free(resp);
    return;
  }
  e->kind = EV_DONE;
  e->c = c;
  e->status = status;
  e->resp = resp;
  post(up, e);
}

static void on_ev(void *ud, nc_evq_node *node) {
  nc_up *up = ud;
  ev *e = (ev *)node;
  switch (e->kind) {
  case EV_CONNECTED:
    up->cbs.on_connected(up->cbs.ud, e->gen, e->a, e->b ? e->b : "");
    break;
  case EV_DISCONNECTED:
    up->cbs.on_disconnected(up->cbs.ud, e->gen, e->a ? e->a : "");
    break;
  case EV_PUSH:
    if (e->b) /* a coalesced push: whatever is newest for its key now */
      e->body = nc_pushbox_take(up->box, e->b);
    if (e->body)
      up->cbs.on_push(up->cbs.ud, e->gen, e->a, e->body);
    break;
  case EV_DONE:
    e->c->cb(e->c->ud, e->status, e->resp);
    e->resp = NULL;
    break;
  }
  ev_free(e);
}

static void drop_ev(nc_evq_node *node) {
  ev *e = (ev *)node;
  if (e->kind == EV_DONE) {
    e->c->cb(e->c->ud, NC_ECLOSED, NULL);
  }
  ev_free(e);
}

/* ---- callbacks from nc_wc (completion-queue thread) ---- */

static int server_index(nc_up *up, const char *ip, const char *port) {
  int by_ip = -1;
  for (size_t i = 0; i < up->n_servers; i++) {
    if (strcmp(up->servers[i].host, ip) != 0)
      continue;
    if (port && atoi(port) == up->servers[i].port)
      return (int)i;
    if (by_ip < 0)
      by_ip = (int)i;
  }
  return by_ip;
}

static void wc_push(void *ud, nc_wc *wc, const nc_msg *push) {
  attempt *a = ud;
  nc_up *up = a->up;
  (void)wc;
  const cJSON *body = push->body_error ? NULL : push->body;
  pthread_mutex_lock(&up->lock);
  up->last_active_ms = now_ms();
  if (!strcmp(push->type, "ConnectResetRequest")) {
    /* nc_wc acks it when we return; the upstream thread then moves to the
     * named server (if it is one of ours) or to another random one. */
    const char *ip = nc_json_str(body, "serverIp", "");
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(body, "serverPort");
    char port[16] = "";
    if (cJSON_IsString(pv))
      snprintf(port, sizeof(port), "%s", pv->valuestring);
    else if (cJSON_IsNumber(pv))
      snprintf(port, sizeof(port), "%d", pv->valueint);
    up->reset_idx = ip[0] ? server_index(up, ip, port[0] ? port : NULL) : -1;
    if (up->reset_idx < 0)
      up->reset_idx = -1;
    a->broken = 1;
    a->reason = "ConnectResetRequest";
    nc_info("upstream: ConnectResetRequest (serverIp '%s' port '%s')", ip, port);
    pthread_cond_broadcast(&up->cond);
  }
  pthread_mutex_unlock(&up->lock);
  int hosts = !strcmp(push->type, "NotifySubscriberRequest");
  if (!hosts && strcmp(push->type, "ConfigChangeNotifyRequest"))
    return;
  ev *e = calloc(1, sizeof(*e));
  cJSON *copy = body ? cJSON_Duplicate(body, 1) : cJSON_CreateObject();
  if (!e || !copy || !(e->a = strdup(push->type))) {
    cJSON_Delete(copy);
    if (e)
      ev_free(e);
    return;
  }
  e->kind = EV_PUSH;
  e->gen = a->gen;
  /* Host lists: one waits per service, a newer one replacing it, so only
   * the first of a run is posted (nc_wc acks every push itself). */
  if (hosts ? nc_pushbox_put_hosts(up->box, copy, &e->b) == 1 : (e->body = copy) != NULL)
    post(up, e);
  else
    ev_free(e);
}

static void wc_closed(void *ud, nc_wc *wc, int status) {
  attempt *a = ud;
  nc_up *up = a->up;
  (void)wc;
  pthread_mutex_lock(&up->lock);
  if (!a->broken) {
    a->broken = 1;
    a->reason = "stream closed";
  }
  nc_debug("upstream: stream closed (%s)", nc_strerror(status));
  pthread_cond_broadcast(&up->cond);
  pthread_mutex_unlock(&up->lock);
}

/* ---- the upstream thread ---- */

static void timed_wait(nc_up *up, uint64_t ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += (time_t)(ms / 1000);
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&up->cond, &up->lock, &ts);
}

/* Under lock. Fails every queued command: used when no connection exists,
 * since the redo after the next connect re-sends the desired state. */
static void fail_queued(nc_up *up, int status) {
  cmd *c = up->head;
  up->head = up->tail = NULL;
  up->queued = 0;
  while (c) {
    cmd *n = c->next;
    c->next = NULL;
    post_done(up, c, status, NULL);
    c = n;
  }
}

static int pick_server(nc_up *up, int last) {
  int n = (int)up->n_servers;
  if (up->reset_idx >= 0 && up->reset_idx < n) {
    int i = up->reset_idx;
    up->reset_idx = -2;
    return i;
  }
  up->reset_idx = -2;
  if (n == 1)
    return 0;
  if (last < 0)
    return (int)(rand_r(&up->seed) % (unsigned)n);
  /* Another server than the one that just failed us. */
  int i = (int)(rand_r(&up->seed) % (unsigned)(n - 1));
  return i >= last ? i + 1 : i;
}

static int resp_code(const nc_msg *m, const char *key, int def) {
  if (!m || m->body_error || !m->body)
    return def;
  return (int)nc_json_int(m->body, key, def);
}

/* Requests in flight together, at most. */
#define MAX_INFLIGHT 128

typedef struct async_req {
  nc_up *up;
  attempt *a;
  cmd *c;
} async_req;

/* Under lock. */
static int key_busy(nc_up *up, const char *key) {
  for (int i = 0; i < up->n_inflight_keys; i++)
    if (!strcmp(up->inflight_keys[i], key))
      return 1;
  return 0;
}

static void key_done(nc_up *up, const char *key) {
  for (int i = 0; i < up->n_inflight_keys; i++) {
    if (up->inflight_keys[i] == key) {
      up->inflight_keys[i] = up->inflight_keys[--up->n_inflight_keys];
      return;
    }
  }
}

/* Completion of a request (completion-queue thread). Runs before
 * nc_wc_close returns, so a is still alive. */
static void async_done(void *ud, int status, nc_msg *resp) {
  async_req *x = ud;
  nc_up *up = x->up;
  pthread_mutex_lock(&up->lock);
  up->inflight--;
  if (x->c->key)
    key_done(up, x->c->key);
  if (status == 0) {
    up->last_active_ms = now_ms();
    if (resp_code(resp, "errorCode", 0) == 301 && !x->a->broken) {
      x->a->broken = 1;
      x->a->reason = "server forgot the connection (301)";
    }
  } else if (!x->a->broken) {
    up->last_active_ms = 0; /* check the connection at once */
  }
  post_done(up, x->c, status, resp);
  pthread_cond_broadcast(&up->cond);
  pthread_mutex_unlock(&up->lock);
  free(x);
}

/* Runs one connection until it breaks. Called and returns with the lock
 * held. */
static void serve(nc_up *up, attempt *a, nc_wc *wc) {
  up->last_active_ms = now_ms();
  while (!up->stop && !a->broken) {
    uint64_t now = now_ms();
    uint64_t due = up->last_active_ms + (uint64_t)up->health_ms;
    /* Nothing answered for health_ms (idle, or requests hanging on a
     * half-open connection): probe before sending anything else. */
    if (now >= due) {
      pthread_mutex_unlock(&up->lock);
      cJSON *b = cJSON_CreateObject();
      if (b) {
        cJSON_AddObjectToObject(b, "headers");
        cJSON_AddStringToObject(b, "module", "internal");
      }
      nc_msg *resp = NULL;
      int rc = b ? nc_wc_request(wc, "HealthCheckRequest", b, up->timeout_ms, &resp) : NC_ENOMEM;
      int ok = rc == 0 && resp_code(resp, "resultCode", 0) == 200;
      cJSON_Delete(b);
      nc_msg_free(resp);
      pthread_mutex_lock(&up->lock);
      if (ok) {
        up->last_active_ms = now_ms();
      } else if (!a->broken) {
        a->broken = 1;
        a->reason = "health check failed";
      }
      continue;
    }
    if (up->head) {
      cmd *c = up->head;
      /* Head-of-line order: the next request waits while the window is
       * full or while an earlier request with its key is unanswered, so
       * changes to one service or config reach the server in order while
       * different keys (and all reads) are pipelined. */
      if (up->inflight >= MAX_INFLIGHT || (c->key && key_busy(up, c->key))) {
        timed_wait(up, due - now < 100 ? due - now : 100);
        continue;
      }
      up->head = c->next;
      if (!up->head)
        up->tail = NULL;
      up->queued--;
      c->next = NULL;
      if (c->gen && c->gen != a->gen) {
        post_done(up, c, NC_EUNAVAIL, NULL);
        continue;
      }
      async_req *x = malloc(sizeof(*x));
      int rc = NC_ENOMEM;
      up->inflight++;
      if (c->key)
        up->inflight_keys[up->n_inflight_keys++] = c->key;
      pthread_mutex_unlock(&up->lock);
      if (x) {
        x->up = up;
        x->a = a;
        x->c = c;
        rc = nc_wc_request_async(wc, c->type, c->body, up->timeout_ms, async_done, x);
      }
      pthread_mutex_lock(&up->lock);
      if (rc != 0) {
        up->inflight--;
        if (c->key)
          key_done(up, c->key);
        free(x);
        post_done(up, c, rc, NULL);
      }
      continue;
    }
    timed_wait(up, due - now);
  }
}

static void *up_main(void *arg) {
  nc_up *up = arg;
  int fails = 0, last = -1;
  pthread_mutex_lock(&up->lock);
  while (!up->stop) {
    int idx = pick_server(up, last);
    const nc_server_addr *s = &up->servers[idx];
    char target[300], server[300];
    snprintf(target, sizeof(target), "%s%s%s:%d", strchr(s->host, ':') ? "[" : "", s->host,
             strchr(s->host, ':') ? "]" : "", s->grpc_port);
    snprintf(server, sizeof(server), "%s:%d", s->host, s->port);
    attempt *a = calloc(1, sizeof(*a));
    if (!a)
      break;
    a->up = up;
    a->gen = ++up->gen;
    pthread_mutex_unlock(&up->lock);

    nc_wc_opts o = {0};
    o.target = target;
    o.module = "naming";
    o.app_name = up->app_name;
    o.client_ip = up->client_ip;
    o.timeout_ms = up->timeout_ms;
    nc_wc *wc = NULL;
    int rc = nc_wc_connect(up->env, &o, wc_push, wc_closed, a, &wc);

    pthread_mutex_lock(&up->lock);
    last = idx;
    if (rc != 0) {
      nc_log(fails ? NC_LOG_DEBUG : NC_LOG_WARN, "upstream: connect to %s failed: %s", target,
             nc_strerror(rc));
      free(a);
      fails++;
    } else {
      up->cur = a;
      fails = 0;
      nc_info("upstream: connected to %s (grpc %s), connection %s", server, target,
              nc_wc_connection_id(wc));
      post_simple(up, EV_CONNECTED, a->gen, server, nc_wc_connection_id(wc));
      serve(up, a, wc);
      up->cur = NULL;
      const char *reason = up->stop ? "agent stopping" : a->reason ? a->reason : "closed";
      int was_reset = up->reset_idx != -2, stopping = up->stop;
      pthread_mutex_unlock(&up->lock);
      if (!stopping)
        nc_warn("upstream: lost %s: %s", server, reason);
      if (was_reset)
        usleep(100 * 1000); /* let the ConnectResetResponse leave first */
      nc_wc_close(wc);
      post_simple(up, EV_DISCONNECTED, a->gen, reason, NULL);
      free(a);
      pthread_mutex_lock(&up->lock);
      if (was_reset)
        continue; /* go to the reset target at once */
    }
    fail_queued(up, NC_EUNAVAIL);
    /* Jittered exponential back-off: 50-100 ms first, up to 2-4 s. */
    uint64_t base = 100;
    for (int i = 0; i < fails && base < 4000; i++)
      base *= 2;
    if (base > 4000)
      base = 4000;
    uint64_t delay = base / 2 + (uint64_t)(rand_r(&up->seed) % (unsigned)(base / 2 + 1));
    uint64_t until = now_ms() + delay;
    while (!up->stop && up->reset_idx == -2) {
      uint64_t now = now_ms();
      if (now >= until)
        break;
      timed_wait(up, until - now);
    }
  }
  fail_queued(up, NC_ECLOSED);
  pthread_mutex_unlock(&up->lock);
  return NULL;
}

/* ---- loop-thread API ---- */

int nc_up_new(uv_loop_t *loop, nc_gcli_env *env, const nc_up_opts *opts, const nc_up_cbs *cbs,
              nc_up **out) {
  int rc = NC_ENOMEM;
  nc_up *up = calloc(1, sizeof(*up));
  if (!up)
    return NC_ENOMEM;
  up->env = env;
  up->cbs = *cbs;
  up->health_ms = opts->health_ms > 0 ? opts->health_ms : 5000;
  up->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 3000;
  up->reset_idx = -2;
  up->seed = (unsigned)time(NULL) ^ (unsigned)getpid();
  up->servers = malloc(opts->n_servers * sizeof(nc_server_addr));
  up->app_name = strdup(opts->app_name ? opts->app_name : "nacos-agent");
  up->client_ip = strdup(opts->client_ip ? opts->client_ip : "127.0.0.1");
  if (!up->servers || !up->app_name || !up->client_ip || opts->n_servers == 0)
    goto fail;
  memcpy(up->servers, opts->servers, opts->n_servers * sizeof(nc_server_addr));
  up->n_servers = opts->n_servers;
  if (!(up->box = nc_pushbox_new()))
    goto fail;
  pthread_mutex_init(&up->lock, NULL);
  pthread_cond_init(&up->cond, NULL);
  if ((rc = nc_evq_new(loop, on_ev, up, &up->evq)) != 0) {
    pthread_mutex_destroy(&up->lock);
    pthread_cond_destroy(&up->cond);
    goto fail;
  }
  *out = up;
  return 0;
fail:
  nc_pushbox_free(up->box);
  free(up->servers);
  free(up->app_name);
  free(up->client_ip);
  free(up);
  return rc ? rc : NC_EINVAL;
}

int nc_up_start(nc_up *up) {
  if (pthread_create(&up->thread, NULL, up_main, up) != 0)
    return NC_EIO;
  up->started = 1;
  return 0;
}

int nc_up_request(nc_up *up, uint64_t gen, const char *type, cJSON *body, const char *key,
                  nc_up_done_cb cb, void *ud) {
  cmd *c = calloc(1, sizeof(*c));
  if (!c || !(c->type = strdup(type)) || (key && !(c->key = strdup(key)))) {
    if (c)
      free(c->type);
    free(c);
    cJSON_Delete(body);
    return NC_ENOMEM;
  }
  c->body = body;
  c->gen = gen;
  c->cb = cb;
  c->ud = ud;
  pthread_mutex_lock(&up->lock);
  if (up->stop || (!up->cur && gen != 0) || (up->cur && gen && gen != up->cur->gen)) {
    /* Nothing to send it on: fail it through the queue so that the
     * callback never runs re-entrantly inside the caller. */
    post_done(up, c, up->stop ? NC_ECLOSED : NC_EUNAVAIL, NULL);
  } else if (!up->cur) {
    post_done(up, c, NC_EUNAVAIL, NULL);
  } else {
    if (up->tail)
      up->tail->next = c;
    else
      up->head = c;
    up->tail = c;
    up->queued++;
    pthread_cond_broadcast(&up->cond);
  }
  pthread_mutex_unlock(&up->lock);
  return 0;
}

size_t nc_up_queued(nc_up *up) {
  pthread_mutex_lock(&up->lock);
  size_t n = up->queued;
  pthread_mutex_unlock(&up->lock);
  return n;
}

void nc_up_stop(nc_up *up) {
  pthread_mutex_lock(&up->lock);
  up->stop = 1;
  pthread_cond_broadcast(&up->cond);
  pthread_mutex_unlock(&up->lock);
  if (up->started) {
    pthread_join(up->thread, NULL);
    up->started = 0;
  }
}

void nc_up_free(nc_up *up) {
  if (!up)
    return;
  nc_evq_close(up->evq, drop_ev);
  nc_pushbox_free(up->box);
  pthread_mutex_destroy(&up->lock);
  pthread_cond_destroy(&up->cond);
  free(up->servers);
  free(up->app_name);
  free(up->client_ip);
  free(up);
}
