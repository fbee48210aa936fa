/* nc_up: the loop-thread API and the event queue from the upstream thread
 * (upstream.h); the thread itself is upstream.c. */
#include "upstream_int.h"
#include "nc_err.h"
#include "nc_log.h"
#include "nc_tls_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void nc_up_ev_free(ev *e) {
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

void nc_up_post(nc_up *up, ev *e) {
  /* The loop is shutting down when the push fails; nobody is left to tell. */
  if (nc_evq_push(up->evq, &e->node) != 0)
    nc_up_ev_free(e);
}

void nc_up_post_simple(nc_up *up, int kind, uint64_t gen, const char *a, const char *b) {
  ev *e = calloc(1, sizeof(*e));
  if (!e)
    return;
  e->kind = kind;
  e->gen = gen;
  e->a = a ? strdup(a) : NULL;
  e->b = b ? strdup(b) : NULL;
  nc_up_post(up, e);
}

void nc_up_post_done(nc_up *up, cmd *c, int status, nc_msg *resp) {
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
  nc_up_post(up, e);
}

static void on_ev(void *ud, nc_evq_node *node) {
  nc_up *up = ud;
  ev *e = (ev *)node;
  switch (e->kind) {
  case EV_CONNECTED:
    up->cbs.on_connected(up->cbs.ud, e->gen, e->a, e->b ? e->b : "");
    /* the callback queued the redo: once it is answered, a connection
     * kept open across a ConnectResetRequest may go (upstream.c) */
    pthread_mutex_lock(&up->lock);
    up->redo_gen = e->gen;
    pthread_cond_broadcast(&up->cond);
    pthread_mutex_unlock(&up->lock);
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
  nc_up_ev_free(e);
}

static void drop_ev(nc_evq_node *node) {
  ev *e = (ev *)node;
  if (e->kind == EV_DONE) {
    e->c->cb(e->c->ud, NC_ECLOSED, NULL);
  }
  nc_up_ev_free(e);
}

/* ---- loop-thread API ---- */

static void tls_free(nc_up *up) {
  nc_tls_cli_free(up->http_tls);
  free((char *)up->tls.ca_file);
  free((char *)up->tls.cert_file);
  free((char *)up->tls.key_file);
  free((char *)up->tls.server_name);
  memset(&up->tls, 0, sizeof(up->tls));
  up->http_tls = NULL;
}

/* Copies t and makes the HTTP port's context, which checks the files now:
 * a bad CA or a key others can read stops the agent at start-up, not at
 * its first connect. */
static int tls_setup(nc_up *up, const nc_gcli_tls *t) {
  char err[300];
  const char *in[4] = {t->ca_file, t->cert_file, t->key_file, t->server_name};
  const char **dst[4] = {&up->tls.ca_file, &up->tls.cert_file, &up->tls.key_file,
                         &up->tls.server_name};
  for (int i = 0; i < 4; i++)
    if (in[i] && !(*dst[i] = strdup(in[i])))
      return NC_ENOMEM;
  nc_tls_cli_opts o = {.ca_file = t->ca_file,
                       .cert_file = t->cert_file,
                       .key_file = t->key_file,
                       .server_name = t->server_name,
                       .key_private = 1};
  int rc = nc_tls_cli_new(&o, &up->http_tls, err, sizeof(err));
  if (rc != 0) {
    nc_error("agent: --tls: %s", err);
    return rc;
  }
  up->use_tls = 1;
  return 0;
}

void nc_up_note_error(nc_up *up, int idx, const char *why) {
  if (!why) {
    for (size_t i = 0; i < up->n_servers; i++)
      up->srv_error[i][0] = '\0';
  } else if (idx >= 0 && (size_t)idx < up->n_servers) {
    snprintf(up->srv_error[idx], sizeof(up->srv_error[idx]), "%s", why);
  }
}

/* Every server's reason, in --servers order: one server refusing our
 * certificate is not hidden by another that is down. */
void nc_up_last_error(nc_up *up, char *buf, size_t cap) {
  size_t n = 0;
  if (!cap)
    return;
  buf[0] = '\0';
  pthread_mutex_lock(&up->lock);
  for (size_t i = 0; i < up->n_servers && n + 1 < cap; i++) {
    if (!up->srv_error[i][0])
      continue;
    int k = snprintf(buf + n, cap - n, "%s%s", n ? "; " : "", up->srv_error[i]);
    if (k < 0)
      break;
    n += (size_t)k < cap - n ? (size_t)k : cap - n - 1;
  }
  pthread_mutex_unlock(&up->lock);
}

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
  if (opts->username) {
    up->username = strdup(opts->username);
    up->password = strdup(opts->password ? opts->password : "");
    if (!up->username || !up->password)
      goto fail;
  }
  if (!up->servers || !up->app_name || !up->client_ip || opts->n_servers == 0 ||
      !(up->srv_error = calloc(opts->n_servers, sizeof(*up->srv_error))))
    goto fail;
  if (opts->tls && (rc = tls_setup(up, opts->tls)) != 0)
    goto fail;
  memcpy(up->servers, opts->servers, opts->n_servers * sizeof(nc_server_addr));
  up->n_servers = opts->n_servers;
  if (!(up->pick = nc_upick_new(up->servers, up->n_servers, up->seed * 2654435761u)))
    goto fail;
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
  tls_free(up);
  free(up->srv_error);
  nc_upick_free(up->pick);
  nc_pushbox_free(up->box);
  free(up->servers);
  free(up->app_name);
  free(up->client_ip);
  free(up->username);
  if (up->password)
    explicit_bzero(up->password, strlen(up->password));
  free(up->password);
  free(up);
  return rc ? rc : NC_EINVAL;
}

int nc_up_start(nc_up *up) {
  if (pthread_create(&up->thread, NULL, nc_up_thread_main, up) != 0)
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
    nc_up_post_done(up, c, up->stop ? NC_ECLOSED : NC_EUNAVAIL, NULL);
  } else if (!up->cur) {
    nc_up_post_done(up, c, NC_EUNAVAIL, NULL);
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
  nc_upick_free(up->pick);
  pthread_mutex_destroy(&up->lock);
  pthread_cond_destroy(&up->cond);
  tls_free(up);
  free(up->srv_error);
  free(up->servers);
  free(up->app_name);
  free(up->client_ip);
  free(up->username);
  if (up->password)
    explicit_bzero(up->password, strlen(up->password));
  free(up->password);
  free(up);
}
