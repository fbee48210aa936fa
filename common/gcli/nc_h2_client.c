/* nc_gcli over nghttp2 + libuv: the same client API as nc_grpc_client.c
 * without the gRPC C core, for nacos-agent (one connection, a handful of
 * calls; the C core alone maps ~11 MB of shared libraries into it).
 *
 * Design notes
 * - An env is one thread running a libuv loop. A client is one TCP
 *   connection speaking gRPC over HTTP/2 cleartext (prior knowledge) or,
 *   with opts->tls, over TLS (ALPN h2, nc_h2_tls.c); the nghttp2 session,
 *   the SSL, the socket and all callbacks live on that thread.
 * - Other threads talk to a client through c->mu: new unary calls go on
 *   c->pending, stream messages on c->q, then the client is put on the env's
 *   dirty list and the loop is woken; service() moves the work into nghttp2.
 *   Nothing calls user callbacks with a lock held, so callbacks may start
 *   new calls or send on the stream.
 * - Unlike a gRPC channel this client does not reconnect: once its
 *   connection has ended (or failed to open) every call fails with
 *   NC_EUNAVAIL. nc_wc, the only user, makes a new client per connection.
 * - nc_gcli_free marks the client, wakes the loop and waits; the loop fails
 *   what is in flight (unary callbacks get NC_ECLOSED, stream callbacks are
 *   suppressed), closes its handles and only then signals. */
#include "nc_err.h"
#include "nc_h2_priv.h"
#include "nc_log.h"
#include "nc_tls_cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Caller holds c->mu (lock order: c->mu, then env->mu). */
static void mark_dirty_locked(nc_gcli *c) {
  nc_gcli_env *env = c->env;
  pthread_mutex_lock(&env->mu);
  if (!c->in_dirty) {
    c->in_dirty = 1;
    c->dirty_next = env->dirty;
    env->dirty = c;
  }
  pthread_mutex_unlock(&env->mu);
  uv_async_send(&env->wake);
}

static void on_wake(uv_async_t *a) {
  nc_gcli_env *env = a->data;
  for (;;) {
    pthread_mutex_lock(&env->mu);
    nc_gcli *c = env->dirty;
    if (c) {
      env->dirty = c->dirty_next;
      c->in_dirty = 0;
      c->dirty_next = NULL;
    }
    int stop = env->stop;
    pthread_mutex_unlock(&env->mu);
    if (!c) {
      if (stop)
        uv_close((uv_handle_t *)&env->wake, NULL);
      return;
    }
    h2_service(c);
  }
}

static void *env_thread(void *arg) {
  nc_gcli_env *env = arg;
  /* libuv writes with write(2), not send(MSG_NOSIGNAL): a write into a
   * connection the server reset raises SIGPIPE, which kills a program that
   * does not ignore it (the gRPC C core never raises it). Every socket write
   * happens on this thread; with the signal blocked here it stays pending on
   * this thread only and the write fails with EPIPE, which we handle. */
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, NULL);
  uv_run(&env->loop, UV_RUN_DEFAULT);
  return NULL;
}

int nc_gcli_env_new(int threads, nc_gcli_env **out) {
  (void)threads; /* one loop thread serves every client */
  nc_gcli_env *env = calloc(1, sizeof(*env));
  *out = NULL;
  if (!env)
    return NC_ENOMEM;
  pthread_mutex_init(&env->mu, NULL);
  if (uv_loop_init(&env->loop) != 0)
    goto fail;
  if (uv_async_init(&env->loop, &env->wake, on_wake) != 0) {
    uv_loop_close(&env->loop);
    goto fail;
  }
  env->wake.data = env;
  if (pthread_create(&env->thr, NULL, env_thread, env) != 0) {
    uv_close((uv_handle_t *)&env->wake, NULL);
    uv_run(&env->loop, UV_RUN_DEFAULT);
    uv_loop_close(&env->loop);
    goto fail;
  }
  env->started = 1;
  *out = env;
  return 0;
fail:
  pthread_mutex_destroy(&env->mu);
  free(env);
  return NC_ENOMEM;
}

void nc_gcli_env_free(nc_gcli_env *env) {
  if (!env)
    return;
  pthread_mutex_lock(&env->mu);
  env->stop = 1;
  pthread_mutex_unlock(&env->mu);
  uv_async_send(&env->wake);
  pthread_join(env->thr, NULL);
  if (uv_loop_close(&env->loop) != 0)
    nc_warn("gcli: env freed with handles still open");
  nc_tls_cli_free(env->tls_cache);
  pthread_mutex_destroy(&env->mu);
  free(env);
}

static void on_handle_closed(uv_handle_t *h) {
  nc_gcli *c = h->data;
  if (--c->handles == 0)
    h2_service(c);
}

/* Loop side of nc_gcli_free. Runs again from on_handle_closed until every
 * handle is closed, then lets nc_gcli_free return. */
static void teardown(nc_gcli *c) {
  if (!c->closing) {
    c->closing = 1;
    h2_fail_all(c, NC_ECLOSED, NC_ECLOSED);
    uv_freeaddrinfo(c->ai);
    c->ai = c->ai_cur = NULL;
    if (c->sess) {
      nghttp2_session_del(c->sess);
      c->sess = NULL;
    }
    if (c->started) {
      uv_handle_t *hs[] = {(uv_handle_t *)&c->tcp, (uv_handle_t *)&c->t_deadline,
                           (uv_handle_t *)&c->t_ka};
      for (size_t i = 0; i < 3; i++) {
        if (uv_is_closing(hs[i])) /* the socket between two addresses: counted already */
          continue;
        c->handles++;
        uv_close(hs[i], on_handle_closed);
      }
      if (c->gai_busy) {
        c->handles++; /* its callback runs even when cancelled */
        uv_cancel((uv_req_t *)&c->gai);
      }
    }
  }
  if (c->handles > 0)
    return;
  pthread_mutex_lock(&c->mu);
  pthread_mutex_lock(&c->env->mu);
  if (c->in_dirty) { /* never touched by the loop again */
    nc_gcli **pp = &c->env->dirty;
    while (*pp != c)
      pp = &(*pp)->dirty_next;
    *pp = c->dirty_next;
    c->in_dirty = 0;
  }
  pthread_mutex_unlock(&c->env->mu);
  c->done = 1;
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->mu);
}

void h2_service(nc_gcli *c) {
  if (c->closing) {
    if (c->handles == 0)
      teardown(c);
    return;
  }
  pthread_mutex_lock(&c->mu);
  int freeing = c->freeing;
  h2_call *fresh = c->pending;
  c->pending = NULL;
  pthread_mutex_unlock(&c->mu);

  /* oldest first onto the call list */
  h2_call *rev = NULL;
  while (fresh) {
    h2_call *n = fresh->next;
    fresh->next = rev;
    rev = fresh;
    fresh = n;
  }
  /* appended: streams are opened in the order the calls were made (a
   * register then a deregister must reach the server in that order) */
  for (h2_call *u; (u = rev);) {
    rev = u->next;
    u->next = NULL;
    u->prev = c->calls_tail;
    if (c->calls_tail)
      c->calls_tail->next = u;
    else
      c->calls = u;
    c->calls_tail = u;
  }
  if (freeing) {
    teardown(c);
    return;
  }
  if (!c->started)
    h2_conn_start(c);
  if (c->dead) {
    h2_fail_all(c, NC_EUNAVAIL, NC_EUNAVAIL);
    return;
  }
  if (c->connected) {
    h2_start_streams(c);
    if (c->bidi_live && (c->sq.head || h2_refill_sq(c)))
      nghttp2_session_resume_data(c->sess, c->bidi.sid); /* no-op unless deferred */
    h2_flush(c);
  }
  h2_arm_deadline(c);
}

/* A file's identity for the cache key: a rewritten file is read again. */
static void file_stamp(char *out, size_t cap, const char *path) {
  struct stat st;
  if (!path)
    snprintf(out, cap, "-");
  else if (stat(path, &st) != 0)
    snprintf(out, cap, "%s?", path);
  else
    snprintf(out, cap, "%s:%lld:%lld.%09ld:%lld", path, (long long)st.st_ino,
             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_size);
}

/* The client's TLS context: the env's latest one when the options and
 * their files are the same (an agent reconnecting would otherwise load the
 * CAs, the system store takes ~85 ms, at every attempt), else a new one,
 * which becomes the cached one. 0 or NC_E* (the reason logged). */
static int tls_context(nc_gcli_env *env, const char *target, const nc_gcli_tls *t,
                       struct nc_tls_cli **out) {
  char key[sizeof(env->tls_key)], f[3][300], err[256];
  file_stamp(f[0], sizeof(f[0]), t->ca_file);
  file_stamp(f[1], sizeof(f[1]), t->cert_file);
  file_stamp(f[2], sizeof(f[2]), t->key_file);
  int kl = snprintf(key, sizeof(key), "%s|%s|%s|%s", f[0], f[1], f[2],
                    t->server_name ? t->server_name : "-");
  int cacheable = kl > 0 && (size_t)kl < sizeof(key);
  pthread_mutex_lock(&env->mu);
  if (cacheable && env->tls_cache && !strcmp(env->tls_key, key)) {
    *out = nc_tls_cli_ref(env->tls_cache);
    pthread_mutex_unlock(&env->mu);
    return 0;
  }
  pthread_mutex_unlock(&env->mu);
  nc_tls_cli_opts to = {.ca_file = t->ca_file,
                        .cert_file = t->cert_file,
                        .key_file = t->key_file,
                        .server_name = t->server_name,
                        .alpn = "h2"};
  int rc = nc_tls_cli_new(&to, out, err, sizeof(err));
  if (rc != 0) {
    nc_warn("gcli: %s: %s", target, err);
    return rc == NC_ENOMEM ? rc : NC_EINVAL;
  }
  if (cacheable) {
    pthread_mutex_lock(&env->mu);
    struct nc_tls_cli *old = env->tls_cache;
    env->tls_cache = nc_tls_cli_ref(*out);
    memcpy(env->tls_key, key, (size_t)kl + 1);
    pthread_mutex_unlock(&env->mu);
    nc_tls_cli_free(old);
  }
  return 0;
}

int nc_gcli_new(nc_gcli_env *env, const char *target, const nc_gcli_opts *opts, nc_gcli **out) {
  *out = NULL;
  if (!env || !target || !*target || strlen(target) > 256)
    return NC_EINVAL;
  const char *colon = strrchr(target, ':');
  /* digits only: strtol alone would take "+80" or " 80" */
  if (!colon || colon == target || !colon[1] ||
      strspn(colon + 1, "0123456789") != strlen(colon + 1))
    return NC_EINVAL;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port <= 0 || port > 65535)
    return NC_EINVAL;
  nc_gcli *c = calloc(1, sizeof(*c));
  if (!c)
    return NC_ENOMEM;
  c->env = env;
  snprintf(c->target, sizeof(c->target), "%s", target);
  const char *h = target;
  size_t hl = (size_t)(colon - target);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [v6]:port */
    h++;
    hl -= 2;
  }
  memcpy(c->host, h, hl);
  c->host[hl] = 0;
  c->port = (int)port;
  snprintf(c->unary_method, sizeof(c->unary_method), "%s",
           opts && opts->unary_method ? opts->unary_method : "/Request/request");
  snprintf(c->stream_method, sizeof(c->stream_method), "%s",
           opts && opts->stream_method ? opts->stream_method
                                       : "/BiRequestStream/requestBiStream");
  c->max_msg = opts && opts->max_msg_bytes > 0 ? opts->max_msg_bytes : 10 * 1024 * 1024;
  c->keepalive_ms = opts && opts->keepalive_ms > 0 ? opts->keepalive_ms : 60000;
  c->connect_timeout_ms =
      opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 3000;
  if (opts && opts->tls) {
    int rc = tls_context(env, target, opts->tls, &c->tls);
    if (rc != 0) {
      free(c);
      return rc;
    }
  }
  c->bidi.grpc_status = -1;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cond, NULL);
  pthread_mutex_lock(&c->mu);
  mark_dirty_locked(c); /* connects now, as a gRPC channel would on first use */
  pthread_mutex_unlock(&c->mu);
  *out = c;
  return 0;
}

int nc_gcli_unary_async(nc_gcli *c, const uint8_t *data, size_t len, int timeout_ms,
                        nc_gcli_unary_cb cb, void *ud) {
  int rc = 0;
  if (!c || !cb || (!data && len) || len > 0xffffffffu)
    return NC_EINVAL;
  h2_call *u = calloc(1, sizeof(*u));
  if (!u || !(u->out = h2_buf_new(data, len))) {
    free(u);
    return NC_ENOMEM;
  }
  u->s.kind = K_UNARY;
  u->s.grpc_status = -1;
  u->c = c;
  u->cb = cb;
  u->ud = ud;
  u->timeout_ms = timeout_ms > 0 ? timeout_ms : 3000;
  u->deadline_ms = h2_now_ms() + (uint64_t)u->timeout_ms;
  pthread_mutex_lock(&c->mu);
  if (c->freeing) {
    rc = NC_ECLOSED;
  } else {
    u->next = c->pending;
    c->pending = u;
    mark_dirty_locked(c);
    u = NULL;
  }
  pthread_mutex_unlock(&c->mu);
  if (u)
    h2_call_free(u);
  return rc;
}

int nc_gcli_stream_open(nc_gcli *c, const nc_gcli_stream_cbs *cbs, void *ud) {
  int rc = 0;
  if (!c || !cbs)
    return NC_EINVAL;
  pthread_mutex_lock(&c->mu);
  if (c->freeing)
    rc = NC_ECLOSED;
  else if (c->s_state != S_NONE)
    rc = NC_ESTATE; /* one stream per client */
  else {
    c->cbs = *cbs;
    c->s_ud = ud;
    c->s_state = S_OPEN;
    mark_dirty_locked(c);
  }
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int nc_gcli_stream_send(nc_gcli *c, const uint8_t *data, size_t len) {
  int rc = 0;
  if (!c || (!data && len) || len > 0xffffffffu)
    return NC_EINVAL;
  h2_buf *b = h2_buf_new(data, len);
  if (!b)
    return NC_ENOMEM;
  pthread_mutex_lock(&c->mu);
  if (c->freeing || c->s_state != S_OPEN)
    rc = NC_ECLOSED;
  else if (c->q.n >= H2_STREAM_QUEUE_MAX)
    rc = NC_EBUSY;
  else {
    h2_bufq_push(&c->q, b);
    b = NULL;
    mark_dirty_locked(c);
  }
  pthread_mutex_unlock(&c->mu);
  free(b);
  return rc;
}

void nc_gcli_free(nc_gcli *c) {
  if (!c)
    return;
  pthread_mutex_lock(&c->mu);
  c->freeing = 1;
  mark_dirty_locked(c);
  while (!c->done)
    pthread_cond_wait(&c->cond, &c->mu);
  pthread_mutex_unlock(&c->mu);
  h2_bufq_clear(&c->q);
  h2_bufq_clear(&c->sq);
  free(c->wbuf);
  free(c->rbuf);
  h2_tls_free(c);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cond);
  free(c);
}

void nc_gcli_last_error(nc_gcli *c, char *buf, size_t cap) {
  if (!cap)
    return;
  buf[0] = '\0';
  if (!c)
    return;
  pthread_mutex_lock(&c->mu);
  snprintf(buf, cap, "%s", c->why);
  pthread_mutex_unlock(&c->mu);
}
