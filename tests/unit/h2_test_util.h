/* Shared by the nghttp2-client test programs (test_h2_client*.c,
 * test_h2_protocol.c): a waitable counter for client callbacks, loopback
 * sockets, and the per-test env fixture. Header-only (each program is one
 * file and links no test-support library); include after cmocka.h. */
#ifndef H2_TEST_UTIL_H
#define H2_TEST_UTIL_H

#include "nc_err.h"
#include "nc_grpc_client.h"

#include "cond_wait_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- a waitable counter (callbacks run on the client's loop thread) ---- */

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int n, status, closed, close_status;
  long long closed_at;
} waiter;

static inline void w_init(waiter *w) {
  memset(w, 0, sizeof(*w));
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cond, NULL);
}

static inline void w_destroy(waiter *w) {
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cond);
}

/* Waits (up to ms) until *field >= want; returns the last value seen. */
static inline int w_wait(waiter *w, const int *field, int want, int ms) {
  return cond_wait_ge(&w->mu, &w->cond, field, want, ms);
}

/* Reads a field under the lock (the loop thread writes it). */
static inline int w_get(waiter *w, const int *field) {
  pthread_mutex_lock(&w->mu);
  int v = *field;
  pthread_mutex_unlock(&w->mu);
  return v;
}

static inline void w_unary_cb(void *ud, int status, const uint8_t *data, size_t len) {
  waiter *w = ud;
  (void)data;
  (void)len;
  pthread_mutex_lock(&w->mu);
  w->n++;
  w->status = status;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->mu);
}

static inline void w_on_msg(void *ud, const uint8_t *data, size_t len) {
  waiter *w = ud;
  (void)data;
  (void)len;
  pthread_mutex_lock(&w->mu);
  w->n++;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->mu);
}

static inline void w_on_closed(void *ud, int status) {
  waiter *w = ud;
  pthread_mutex_lock(&w->mu);
  w->closed++;
  w->close_status = status;
  w->closed_at = now_ms();
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->mu);
}

static const nc_gcli_stream_cbs w_cbs = {w_on_msg, w_on_closed};

/* Binds 127.0.0.1:0; with listen_too = 0 only reserves a port nobody
 * listens on (closed again right away: connecting to it is refused). */
static inline int bind_loopback(int *port, int listen_too) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof(sa);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  if (listen_too)
    assert_int_equal(listen(fd, 16), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  *port = ntohs(sa.sin_port);
  return fd;
}

/* Server SETTINGS (INITIAL_WINDOW_SIZE = 2^31-1) and a connection
 * WINDOW_UPDATE to the same, for fake servers: the client may then send far
 * more than the socket buffers hold, so its writes are still queued when a
 * peer resets, or stay in flight for seconds with a slow reader. */
static const uint8_t k_open_windows[] = {
    0, 0, 6, 4, 0, 0, 0, 0, 0, /* SETTINGS, 6 bytes, stream 0 */
    0, 4, 0x7f, 0xff, 0xff, 0xff, 0, 0, 4, 8, 0, 0, 0, 0, 0, /* WINDOW_UPDATE, stream 0 */
    0x7f, 0xff, 0, 0};

/* ---- fixture ----------------------------------------------------------- */

typedef struct fixture {
  nc_gcli_env *env;
} fixture;

static inline int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f || nc_gcli_env_new(1, &f->env) != 0)
    return -1;
  *state = f;
  return 0;
}

/* Clients made by client_at and not yet freed by cli_free: only a test
 * that failed half-way leaves any. */
static int g_live;

static inline int teardown(void **state) {
  fixture *f = *state;
  if (g_live) {
    /* its loop still serves them (and their callbacks point into the
     * failed test's stack): freeing the env would wait forever, so the
     * failure is reported and the env left behind */
    fprintf(stderr, "%d client(s) left by a failed test: env not freed\n", g_live);
    g_live = 0;
  } else {
    nc_gcli_env_free(f->env);
  }
  free(f);
  return 0;
}

static inline nc_gcli *client_at(nc_gcli_env *env, const char *host, int port,
                                  const nc_gcli_opts *o) {
  char target[300];
  nc_gcli *c = NULL;
  snprintf(target, sizeof(target), "%s:%d", host, port);
  assert_int_equal(nc_gcli_new(env, target, o, &c), 0);
  assert_non_null(c);
  g_live++;
  return c;
}

static inline void cli_free(nc_gcli *c) {
  g_live--;
  nc_gcli_free(c);
}

#endif
