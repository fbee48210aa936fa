/* Shared by the nghttp2-client test programs that need a real gRPC peer
 * (test_h2_client.c, test_h2_client_threads.c): the C-core server
 * (nc_grpc_server.h) as an echo peer, and a blocking echo assertion.
 * Header-only, as h2_test_util.h (included here); include after cmocka.h. */
#ifndef H2_CLIENT_UTIL_H
#define H2_CLIENT_UTIL_H

#include "h2_test_util.h"
#include "nc_grpc.h"
#include "nc_grpc_server.h"
#include "nc_testwait.h"

#include <stdatomic.h>

/* ---- a real gRPC peer: echo; "big" answered with 2,000 bytes ----------- */

#define BIG_LEN 2000

typedef struct echo_srv {
  nc_gsrv *srv;
  int port;
  atomic_int n_unary, n_stream_msgs;
  atomic_ullong stream_id; /* the latest stream opened (+1, 0 = none) */
} echo_srv;

static inline void echo_event(void *ud, nc_gsrv_ev *ev) {
  echo_srv *e = ud;
  static uint8_t big[BIG_LEN];
  switch (ev->type) {
  case NC_GSRV_EV_UNARY:
    atomic_fetch_add(&e->n_unary, 1);
    if (ev->len == 3 && memcmp(ev->data, "big", 3) == 0)
      nc_gsrv_unary_reply(ev->call, big, sizeof(big));
    else
      nc_gsrv_unary_reply(ev->call, ev->data, ev->len);
    break;
  case NC_GSRV_EV_STREAM_OPEN:
    atomic_store(&e->stream_id, ev->stream_id + 1);
    break;
  case NC_GSRV_EV_STREAM_MSG:
    atomic_fetch_add(&e->n_stream_msgs, 1);
    if (ev->len == 3 && memcmp(ev->data, "big", 3) == 0)
      nc_gsrv_stream_send(ev->srv, ev->stream_id, big, sizeof(big));
    else
      nc_gsrv_stream_send(ev->srv, ev->stream_id, ev->data, ev->len);
    break;
  case NC_GSRV_EV_STREAM_CLOSED:
    break;
  }
  nc_gsrv_ev_free(ev);
}

/* NULL when host cannot be bound (e.g. no IPv6 loopback). */
static inline echo_srv *echo_start_on(const char *host, int permit_ms) {
  echo_srv *e = calloc(1, sizeof(*e));
  assert_non_null(e);
  nc_gsrv_opts so = {.host = host, .port = 0, .stream_queue_max = 8192,
                     .keepalive_permit_ms = permit_ms};
  if (nc_gsrv_start(&so, echo_event, e, &e->srv, &e->port) != 0) {
    free(e);
    return NULL;
  }
  assert_true(e->port > 0);
  return e;
}

static inline echo_srv *echo_start(void) {
  echo_srv *e = echo_start_on("127.0.0.1", 0);
  assert_non_null(e);
  return e;
}

static inline void echo_stop(echo_srv *e) {
  nc_gsrv_stop(e->srv);
  free(e);
}

/* One blocking echo of msg; asserts it came back intact. */
static inline void assert_echo(nc_gcli *c, const char *msg) {
  uint8_t *resp = NULL;
  size_t len = 0;
  size_t n = strlen(msg);
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)msg, n, 3000, &resp, &len), 0);
  assert_int_equal(len, n);
  assert_memory_equal(resp, msg, n);
  free(resp);
}

/* main()'s body: the group between nc_grpc_init and nc_grpc_shutdown (the
 * echo peer is the C-core server). tests must be an array. */
static inline int h2_run_grpc_group(const char *name, const struct CMUnitTest *tests, size_t n) {
  nc_grpc_init();
  nc_test_main_init();
  int rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
#define H2_GRPC_MAIN(tests) h2_run_grpc_group(#tests, (tests), sizeof(tests) / sizeof((tests)[0]))

#endif
