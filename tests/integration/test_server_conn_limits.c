/* Integration (issue 12, limits): a real nacosd bounds what anonymous gRPC
 * clients can hold open. A stream that never sends ConnectionSetupRequest
 * is closed after --connection-setup-timeout-ms (before, 5,000 such streams
 * stayed open for good), one TCP connection keeps at most
 * --max-pending-streams-per-conn streams without a setup, and one source
 * address registers at most --max-connections-per-ip connections. Each has
 * its counter in /metrics; set-up clients are not touched. */
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_payload.h"
#include "nc_testfx.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

static int start_fx(void **state, const char *const *args) {
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(args, &f);
  *state = f;
  return rc == 0 ? 0 : -1;
}

static int teardown(void **state) { return nc_tfx_stop(*state) == 0 ? 0 : -1; }

static int setup_timeout(void **state) {
  const char *args[] = {"--connection-setup-timeout-ms", "1000", NULL};
  return start_fx(state, args);
}
static int setup_streams(void **state) {
  const char *args[] = {"--max-pending-streams-per-conn", "2", "--connection-setup-timeout-ms",
                        "0", NULL};
  return start_fx(state, args);
}
static int setup_per_ip(void **state) {
  const char *args[] = {"--max-connections-per-ip", "3", NULL};
  return start_fx(state, args);
}

static long long metric(nc_tfx *f, const char *name) {
  long long v = nc_tfx_metric(f, name);
  assert_true(v >= 0);
  return v;
}

/* A raw stream that is opened and never set up. */
typedef struct raw {
  nc_gcli *c;
  atomic_int closed;
} raw;

static void raw_msg(void *ud, const uint8_t *d, size_t l) {
  (void)ud;
  (void)d;
  (void)l;
}
static void raw_closed(void *ud, int st) {
  (void)st;
  atomic_store(&((raw *)ud)->closed, 1);
}

static void raw_open(nc_tfx *f, raw *r) {
  atomic_init(&r->closed, 0);
  assert_int_equal(nc_gcli_new(f->env, f->srv->target, NULL, &r->c), 0);
  nc_gcli_stream_cbs cbs = {raw_msg, raw_closed};
  assert_int_equal(nc_gcli_stream_open(r->c, &cbs, r), 0);
}

/* Sends ConnectionSetupRequest on r's stream. */
static void raw_setup(raw *r) {
  uint8_t *buf = NULL;
  size_t len = 0;
  const char *setup = "{\"clientVersion\":\"test\",\"labels\":{\"source\":\"sdk\",\"module\":"
                      "\"naming\"},\"module\":\"internal\",\"headers\":{}}";
  assert_int_equal(nc_payload_encode("ConnectionSetupRequest", "127.0.0.1", NULL, 0, setup,
                                     strlen(setup), &buf, &len),
                   0);
  assert_int_equal(nc_gcli_stream_send(r->c, buf, len), 0);
  free(buf);
}

static void test_stream_without_setup_closed_after_timeout(void **state) {
  nc_tfx *f = *state;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  raw idle, late;
  raw_open(f, &idle);
  raw_open(f, &late);
  long long took;
  /* the server sees the stream once the client's first frame arrives */
  NC_TEST_POLL(metric(f, "nacosd_streams_setup_timeout_total") >= 1, 5000, took);
  assert_true(took >= 0);
  NC_TEST_POLL(atomic_load(&idle.closed) && atomic_load(&late.closed), 3000, took);
  assert_true(took >= 0);
  assert_int_equal(metric(f, "nacosd_streams_setup_timeout_total"), 2);
  /* the set-up client lived through it and still works */
  assert_false(nc_tw_closed(tw));
  nc_tw_expect_ok(nc_tw_call_reply(tw, "HealthCheckRequest", NULL), "HealthCheckResponse");
  assert_int_equal(metric(f, "nacosd_connections"), 1);
  /* a stream that sets up in time stays */
  raw ok;
  raw_open(f, &ok);
  raw_setup(&ok);
  NC_TEST_POLL(metric(f, "nacosd_connections") == 2, 3000, took);
  assert_true(took >= 0);
  usleep(2500 * 1000);
  assert_false(atomic_load(&ok.closed));
  assert_int_equal(metric(f, "nacosd_streams_setup_timeout_total"), 2);
  nc_gcli_free(idle.c);
  nc_gcli_free(late.c);
  nc_gcli_free(ok.c);
}

/* n bidi streams on ONE HTTP/2 connection, opened with the gRPC core
 * directly (nc_gcli has one stream per client and one connection each),
 * never set up. done[i] turns 1 when the server ended stream i. */
typedef struct mstreams {
  grpc_channel *ch;
  grpc_completion_queue *cq;
  grpc_call *call[16];
  grpc_metadata_array md[16], imd[16];
  grpc_status_code st[16];
  grpc_slice details[16];
  int done[16], n;
} mstreams;

static mstreams ms; /* freed by ms_close, also from the teardown */

static void ms_open(nc_tfx *f, int n) {
  memset(&ms, 0, sizeof(ms));
  grpc_channel_credentials *cr = grpc_insecure_credentials_create();
  ms.ch = grpc_channel_create(f->srv->target, cr, NULL);
  grpc_channel_credentials_release(cr);
  ms.cq = grpc_completion_queue_create_for_next(NULL);
  ms.n = n;
  for (int i = 0; i < n; i++) {
    ms.call[i] = grpc_channel_create_call(
        ms.ch, NULL, GRPC_PROPAGATE_DEFAULTS, ms.cq,
        grpc_slice_from_static_string("/BiRequestStream/requestBiStream"), NULL,
        gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_metadata_array_init(&ms.md[i]);
    grpc_metadata_array_init(&ms.imd[i]);
    grpc_op ops[3];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[1].data.recv_initial_metadata.recv_initial_metadata = &ms.imd[i];
    ops[2].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[2].data.recv_status_on_client.trailing_metadata = &ms.md[i];
    ops[2].data.recv_status_on_client.status = &ms.st[i];
    ops[2].data.recv_status_on_client.status_details = &ms.details[i];
    assert_int_equal(grpc_call_start_batch(ms.call[i], ops, 3, (void *)(intptr_t)(i + 1), NULL),
                     GRPC_CALL_OK);
  }
}

/* Collects stream ends for up to ms_wait; returns how many ended. */
static int ms_pump(int ms_wait) {
  gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                 gpr_time_from_millis(ms_wait, GPR_TIMESPAN));
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(ms.cq, dl, NULL);
    if (ev.type != GRPC_OP_COMPLETE)
      break;
    int i = (int)(intptr_t)ev.tag - 1;
    if (i >= 0 && i < ms.n)
      ms.done[i] = 1;
  }
  int d = 0;
  for (int i = 0; i < ms.n; i++)
    d += ms.done[i];
  return d;
}

static void ms_close(void) {
  if (!ms.ch)
    return;
  for (int i = 0; i < ms.n; i++)
    grpc_call_cancel(ms.call[i], NULL);
  while (ms_pump(200) < ms.n) {
  }
  for (int i = 0; i < ms.n; i++) {
    grpc_call_unref(ms.call[i]);
    grpc_metadata_array_destroy(&ms.md[i]);
    grpc_metadata_array_destroy(&ms.imd[i]);
    grpc_slice_unref(ms.details[i]);
  }
  grpc_completion_queue_shutdown(ms.cq);
  while (grpc_completion_queue_next(ms.cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(ms.cq);
  grpc_channel_destroy(ms.ch);
  memset(&ms, 0, sizeof(ms));
}

static int teardown_ms(void **state) {
  ms_close();
  return teardown(state);
}

/* Six streams on one connection, none set up, cap 2: four are closed on
 * arrival, two stay; a set-up client elsewhere is not affected. */
static void test_pending_streams_per_connection(void **state) {
  nc_tfx *f = *state;
  nc_tw *tw = nc_tfx_connect(f, NULL);
  assert_non_null(tw);
  ms_open(f, 6);
  long long took;
  NC_TEST_POLL(metric(f, "nacosd_streams_rejected_total") >= 4, 5000, took);
  assert_true(took >= 0);
  int ended = 0;
  NC_TEST_POLL((ended = ms_pump(100)) >= 4, 3000, took);
  assert_int_equal(ended, 4);
  /* nothing else goes, not even after a while */
  assert_int_equal(ms_pump(1000), 4);
  assert_int_equal(metric(f, "nacosd_streams_rejected_total"), 4);
  assert_false(nc_tw_closed(tw));
  nc_tw_expect_ok(nc_tw_call_reply(tw, "HealthCheckRequest", NULL), "HealthCheckResponse");
  ms_close();
  /* once those streams are gone, a new connection's streams are welcome */
  raw ok;
  raw_open(f, &ok);
  raw_setup(&ok);
  NC_TEST_POLL(metric(f, "nacosd_connections") == 2, 3000, took);
  assert_true(took >= 0);
  nc_gcli_free(ok.c);
}

static void test_connections_per_ip(void **state) {
  nc_tfx *f = *state;
  nc_tw *tw[3];
  for (int i = 0; i < 3; i++) {
    tw[i] = nc_tfx_connect(f, NULL);
    assert_non_null(tw[i]);
  }
  nc_tw *extra = NULL;
  assert_int_not_equal(nc_tfx_try_connect(f, NULL, &extra), 0);
  nc_tfx_close(f, extra);
  assert_int_equal(metric(f, "nacosd_connections_rejected_ip_total"), 1);
  assert_int_equal(metric(f, "nacosd_connections"), 3);
  /* one leaves: room for one more */
  nc_tfx_close(f, tw[0]);
  long long took;
  NC_TEST_POLL(metric(f, "nacosd_connections") == 2, 3000, took);
  assert_true(took >= 0);
  nc_tw *again = nc_tfx_connect(f, NULL);
  assert_non_null(again);
  nc_tw_expect_ok(nc_tw_call_reply(again, "HealthCheckRequest", NULL), "HealthCheckResponse");
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_stream_without_setup_closed_after_timeout,
                                      setup_timeout, teardown),
      cmocka_unit_test_setup_teardown(test_pending_streams_per_connection, setup_streams,
                                      teardown_ms),
      cmocka_unit_test_setup_teardown(test_connections_per_ip, setup_per_ip, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
