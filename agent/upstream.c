#include "upstream_int.h"
#include "upstream_members.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"
#include "nc_wire_client.h"

#include <errno.h>
#include "auth_login.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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
  /* only the current connection moves: one kept open across a move is
   * on its way out (make before break) */
  if (!strcmp(push->type, "ConnectResetRequest") && a == up->cur) {
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
      nc_up_ev_free(e);
    return;
  }
  e->kind = EV_PUSH;
  e->gen = a->gen;
  /* Host lists: one waits per service, a newer one replacing it, so only
   * the first of a run is posted (nc_wc acks every push itself). */
  if (hosts ? nc_pushbox_put_hosts(up->box, copy, &e->b) == 1 : (e->body = copy) != NULL)
    nc_up_post(up, e);
  else
    nc_up_ev_free(e);
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
    nc_up_post_done(up, c, status, NULL);
    c = n;
  }
}

/* Under lock. A ConnectResetRequest's target first, else the next server
 * of the round; -1 when the round is used up. */
static int pick_server(nc_up *up) {
  int i = up->reset_idx;
  up->reset_idx = -2;
  if (i >= 0 && i < (int)up->n_servers)
    return i;
  return nc_upick_next(up->pick);
}

/* Member list reads: bounded so that a slow HTTP side cannot hold the
 * requests queued behind it; refreshed so that a node that became ready
 * since the last read is preferred at the next failover. */
#define MEMBERS_TIMEOUT_MS 500
#define MEMBERS_REFRESH_MS 10000
#define MEMBERS_RETRY_MS 60000
#define MEMBERS_FIRST_MS 100

/* Called without the lock (the picker is the upstream thread's own). A
 * standalone nacosd has no member list; the order then stays as it was. */
static int learn_members(nc_up *up, const nc_server_addr *s) {
  cJSON *m = NULL;
  int rc =
      nc_upm_fetch(up->http_tls, s->host, s->port, up->username ? up->token : NULL,
                   MEMBERS_TIMEOUT_MS, &m);
  if (rc == 0)
    nc_debug("upstream: member list of %s:%d names %d of our servers", s->host, s->port,
             nc_upick_learn(up->pick, m));
  else
    nc_debug("upstream: no member list from %s:%d: %s", s->host, s->port, nc_strerror(rc));
  cJSON_Delete(m);
  return rc;
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
  nc_up_post_done(up, x->c, status, resp);
  pthread_cond_broadcast(&up->cond);
  pthread_mutex_unlock(&up->lock);
  free(x);
}

/* nacosd --auth on: a token from server s, renewed half way to its
 * expiry. Called without the lock. 0, or the login's error (logged). */
static int login(nc_up *up, const nc_server_addr *s, char *token, size_t cap) {
  nc_ag_login l;
  int rc = nc_ag_login_http_tls(up->http_tls, s->host, s->port, up->username, up->password,
                                up->timeout_ms, &l);
  if (rc) {
    nc_warn("upstream: login to %s:%d as %s failed: %s", s->host, s->port, up->username,
            l.message);
    pthread_mutex_lock(&up->lock);
    nc_up_note_error(up, (int)(s - up->servers), l.message);
    pthread_mutex_unlock(&up->lock);
    return rc;
  }
  snprintf(token, cap, "%s", l.token);
  snprintf(up->token, sizeof(up->token), "%s", l.token);
  long ttl_ms = (l.ttl_s > 0 ? l.ttl_s : 18000) * 1000L;
  up->token_renew_ms = now_ms() + (uint64_t)(ttl_ms / 2);
  return 0;
}

/* ---- make before break ----
 * A ConnectResetRequest keeps the old connection open (its instances stay
 * registered there) while the thread connects to the target; the old one
 * is closed once the loop's redo on the new connection was queued and
 * answered and SETTLE_MS passed (the new server's Distro has told its
 * peers), or after OLD_MAX_MS whatever happens. If the target cannot be
 * reached, the old one goes at once and failover proceeds as before. */
#define SETTLE_MS 1500
#define OLD_MAX_MS 15000

/* Called and returns with the lock held. */
static void close_old(nc_up *up) {
  nc_wc *wc = up->old_wc;
  attempt *old = up->old_a;
  up->old_wc = NULL;
  up->old_a = NULL;
  up->old_idle = 0;
  if (!wc)
    return;
  pthread_mutex_unlock(&up->lock);
  nc_info("upstream: closing the connection that was told to move (make before break)");
  nc_wc_close(wc);
  /* the loop ignores it when a newer connection is current */
  nc_up_post_simple(up, EV_DISCONNECTED, old->gen, "moved (ConnectResetRequest)", NULL);
  free(old);
  pthread_mutex_lock(&up->lock);
}

/* Under lock: the old connection may go now. */
static int old_done(nc_up *up, const attempt *a, uint64_t now) {
  if (now >= up->old_until)
    return 1;
  if (up->redo_gen != a->gen || up->head || up->inflight) {
    up->old_idle = 0;
    return 0;
  }
  if (!up->old_idle)
    up->old_idle = now;
  return now - up->old_idle >= SETTLE_MS;
}

/* Runs one connection until it breaks. Called and returns with the lock
 * held. */
static void serve(nc_up *up, attempt *a, nc_wc *wc, const nc_server_addr *s) {
  /* Shortly after connecting, once the queue is empty: the redo the loop
   * queues on EV_CONNECTED goes out first. */
  uint64_t members_due = now_ms() + MEMBERS_FIRST_MS;
  up->last_active_ms = now_ms();
  while (!up->stop && !a->broken) {
    uint64_t now = now_ms();
    uint64_t due = up->last_active_ms + (uint64_t)up->health_ms;
    if (up->old_wc && old_done(up, a, now)) {
      close_old(up);
      continue;
    }
    /* Only with nothing queued (a redo goes out first), and rarely where
     * the read fails (no cluster, or an HTTP port that does not answer). */
    if (up->username && now >= up->token_renew_ms) {
      pthread_mutex_unlock(&up->lock);
      char token[NC_AG_TOKEN_MAX];
      if (login(up, s, token, sizeof(token)) == 0)
        nc_wc_set_access_token(wc, token);
      else /* keep the old token; try again in a minute */
        up->token_renew_ms = now_ms() + 60000;
      pthread_mutex_lock(&up->lock);
      continue;
    }
    if (now >= members_due && !up->head) {
      pthread_mutex_unlock(&up->lock);
      int rc = learn_members(up, s);
      pthread_mutex_lock(&up->lock);
      members_due = now_ms() + (rc == 0 ? MEMBERS_REFRESH_MS : MEMBERS_RETRY_MS);
      continue;
    }
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
        nc_up_post_done(up, c, NC_EUNAVAIL, NULL);
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
        nc_up_post_done(up, c, rc, NULL);
      }
      continue;
    }
    uint64_t next = due < members_due ? due : members_due;
    if (up->old_wc && next > now + 100)
      next = now + 100; /* look at the old connection again soon */
    timed_wait(up, next - now);
  }
}

/* Under lock. Jittered exponential back-off after `fails` failed rounds:
 * 100-200 ms first, up to 2-4 s; a ConnectResetRequest ends it. */
static void back_off(nc_up *up, int fails) {
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

/* A round with a starting server backs off 200-400 ms at most (a full
 * restart: the agent is on the first ready node soon after it is). */
#define STARTING_MAX_FAILS 2

/* A connection that lived this long was a good one: fail over at once. */
#define GOOD_CONNECTION_MS 1000

/* Connects in rounds (upstream_pick.h): a failed connect moves to the next
 * server of the round at once (nc_wc gives up at once on a node that is
 * still starting, and a refused port fails fast), so only a round in which
 * every server failed is followed by a back-off. */
void *nc_up_thread_main(void *arg) {
  nc_up *up = arg;
  /* fails: whole rounds failed in a row; starting: a server of this round
   * answered "still starting" (it will serve soon: keep the pause short) */
  int fails = 0, last = -1, starting = 0;
  pthread_mutex_lock(&up->lock);
  nc_upick_round(up->pick, -1);
  while (!up->stop) {
    int idx = pick_server(up);
    if (idx < 0) {
      fails++;
      back_off(up, starting && fails > STARTING_MAX_FAILS ? STARTING_MAX_FAILS : fails);
      nc_upick_round(up->pick, last);
      starting = 0;
      continue;
    }
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

    char token[NC_AG_TOKEN_MAX] = "";
    int lrc = up->username ? login(up, s, token, sizeof(token)) : 0;
    if (lrc != 0) {
      pthread_mutex_lock(&up->lock);
      last = idx;
      free(a);
      close_old(up);
      nc_upick_failed(up->pick, idx);
      fail_queued(up, NC_EUNAVAIL);
      continue;
    }
    nc_wc_opts o = {0};
    o.access_token = up->username ? token : NULL;
    o.target = target;
    o.module = "naming";
    o.app_name = up->app_name;
    o.client_ip = up->client_ip;
    o.timeout_ms = up->timeout_ms;
    o.not_ready_fails_fast = 1; /* another member can take us now */
    char why[200];
    o.tls = up->use_tls ? &up->tls : NULL;
    o.error = why;
    o.error_cap = sizeof(why);
    nc_wc *wc = NULL;
    uint64_t t0 = now_ms();
    int rc = nc_wc_connect(up->env, &o, wc_push, wc_closed, a, &wc);

    pthread_mutex_lock(&up->lock);
    last = idx;
    if (rc != 0) {
      nc_log(fails ? NC_LOG_DEBUG : NC_LOG_WARN, "upstream: connect to %s failed: %s (%llu ms)",
             target, why, (unsigned long long)(now_ms() - t0));
      char e[200];
      snprintf(e, sizeof(e), "%.60s: %.130s", target, why);
      nc_up_note_error(up, idx, e);
      free(a);
      close_old(up); /* the move's target failed: no make before break */
      starting |= rc == NC_ESTATE;
      nc_upick_failed(up->pick, idx);
      fail_queued(up, NC_EUNAVAIL);
      continue;
    }
    up->cur = a;
    nc_up_note_error(up, idx, NULL);
    fails = starting = 0;
    nc_info("upstream: connected to %s (grpc %s), connection %s", server, target,
            nc_wc_connection_id(wc));
    nc_up_post_simple(up, EV_CONNECTED, a->gen, server, nc_wc_connection_id(wc));
    uint64_t since = now_ms();
    serve(up, a, wc, s);
    up->cur = NULL;
    const char *reason = up->stop ? "agent stopping" : a->reason ? a->reason : "closed";
    int was_reset = up->reset_idx != -2, stopping = up->stop;
    close_old(up); /* moved again before the first move settled */
    if (was_reset && !stopping && a->reason && !strcmp(a->reason, "ConnectResetRequest")) {
      /* make before break: keep it until the new connection has the redo */
      nc_info("upstream: %s told us to move: connecting to the target before closing it", server);
      up->old_wc = wc;
      up->old_a = a;
      up->old_until = now_ms() + OLD_MAX_MS;
      up->old_idle = 0;
      fail_queued(up, NC_EUNAVAIL);
      nc_upick_round(up->pick, idx);
      continue;
    }
    pthread_mutex_unlock(&up->lock);
    if (!stopping)
      nc_warn("upstream: lost %s: %s", server, reason);
    if (was_reset)
      usleep(100 * 1000); /* let the ConnectResetResponse leave first */
    nc_wc_close(wc);
    nc_up_post_simple(up, EV_DISCONNECTED, a->gen, reason, NULL);
    free(a);
    pthread_mutex_lock(&up->lock);
    fail_queued(up, NC_EUNAVAIL);
    /* The others first, best first; this one last. */
    nc_upick_round(up->pick, idx);
    if (!was_reset && now_ms() - since < GOOD_CONNECTION_MS)
      back_off(up, 0); /* a connection that breaks at once must not spin */
  }
  close_old(up);
  fail_queued(up, NC_ECLOSED);
  pthread_mutex_unlock(&up->lock);
  return NULL;
}
