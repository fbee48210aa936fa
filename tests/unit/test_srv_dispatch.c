/* The server core and naming in this process (no nacosd binary): what the
 * handler tables' flags make the core do, and naming's operations called
 * without any gRPC request (as the HTTP API and cluster sync will), with
 * several change listeners. The loop runs on its own thread; work on
 * loop-owned state is handed to it (on_loop) and waited for. Clients are
 * the repo's wire client over real loopback gRPC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "naming_handlers.h"
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_json.h"
#include "nc_testwait.h"
#include "nc_testwire.h"
#include "srv_rpc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx {
  uv_loop_t loop;
  uv_async_t wake;
  pthread_t thr;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  void (*job)(struct fx *f);
  int job_done, stopping;
  nc_srv *srv;
  nc_naming *naming;
  nc_gcli_env *env;
  char sdk[64], cluster[64];
  /* what the loop-thread handlers and listeners saw */
  int peer_calls, anon_calls;
  int changes_a, changes_b;
  char last_key[256];
  int order_ok;
} fx;

static fx F;

/* ---- handlers of a test table ---- */

static void h_peer(void *ud, nc_req *r, const nc_msg *m) {
  fx *f = ud;
  (void)m;
  f->peer_calls++;
  nc_req_reply(r, NULL, NULL); /* the table's response type */
}

static void h_anon(void *ud, nc_req *r, const nc_msg *m) {
  fx *f = ud;
  (void)m;
  f->anon_calls++;
  nc_req_fail(r, NULL, 409, "anon refuses on purpose");
}

static const nc_handler_def test_handlers[] = {
    {"PeerOnlyRequest", "PeerOnlyResponse", h_peer, NC_H_CONN | NC_H_CLUSTER},
    {"AnonWriteRequest", "AnonWriteResponse", h_anon, NC_H_WRITE},
};

static void listener_a(void *ud, const char *key) {
  fx *f = ud;
  (void)key;
  f->changes_a++;
  if (f->changes_b != f->changes_a - 1)
    f->order_ok = 0; /* b ran before a */
}

static void listener_b(void *ud, const char *key) {
  fx *f = ud;
  f->changes_b++;
  snprintf(f->last_key, sizeof(f->last_key), "%s", key);
}

/* ---- the loop thread ---- */

static void on_wake(uv_async_t *a) {
  fx *f = a->data;
  pthread_mutex_lock(&f->mu);
  void (*job)(fx *) = f->job;
  pthread_mutex_unlock(&f->mu);
  if (job) {
    job(f);
    pthread_mutex_lock(&f->mu);
    f->job = NULL;
    f->job_done = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
  }
}

static void *loop_main(void *arg) {
  fx *f = arg;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* Runs job on the loop thread and waits for it. */
static void on_loop(fx *f, void (*job)(fx *f)) {
  pthread_mutex_lock(&f->mu);
  f->job = job;
  f->job_done = 0;
  uv_async_send(&f->wake);
  while (!f->job_done)
    pthread_cond_wait(&f->cv, &f->mu);
  pthread_mutex_unlock(&f->mu);
}

static void walk_close(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void job_stop(fx *f) {
  nc_srv_shutdown(f->srv);
  nc_naming_free(f->naming);
  nc_srv_free(f->srv);
  uv_walk(&f->loop, walk_close, NULL);
}

static int setup(void **state) {
  fx *f = &F;
  (void)state;
  memset(f, 0, sizeof(*f));
  f->order_ok = 1;
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  uv_loop_init(&f->loop);
  uv_async_init(&f->loop, &f->wake, on_wake);
  f->wake.data = f;
  nc_srv_opts so = {.bind = "127.0.0.1"};
  nc_naming_opts no = {.merge_ms = 0};
  int g = 0, c = 0;
  if (nc_srv_new(&f->loop, &so, &f->srv) || nc_naming_init(f->srv, &no, &f->naming) ||
      NC_SRV_HANDLERS(f->srv, test_handlers, f) ||
      nc_naming_add_listener(f->naming, listener_a, f) ||
      nc_naming_add_listener(f->naming, listener_b, f) || nc_srv_start(f->srv, &g, &c))
    return -1;
  snprintf(f->sdk, sizeof(f->sdk), "127.0.0.1:%d", g);
  snprintf(f->cluster, sizeof(f->cluster), "127.0.0.1:%d", c);
  if (nc_gcli_env_new(1, &f->env))
    return -1;
  return pthread_create(&f->thr, NULL, loop_main, f) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  fx *f = &F;
  (void)state;
  on_loop(f, job_stop);
  pthread_join(f->thr, NULL);
  uv_loop_close(&f->loop);
  nc_gcli_env_free(f->env);
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  return 0;
}

/* ---- handler flags ---- */

static uint64_t writes;
static void job_read_writes(fx *f) { writes = nc_srv_get_stats(f->srv)->writes; }

static void test_flags_cluster_port_only_and_write_count(void **state) {
  fx *f = &F;
  (void)state;
  nc_tw *sdk = nc_tw_open(f->env, f->sdk, NULL);
  nc_tw *peer = nc_tw_open(f->env, f->cluster, NULL);
  assert_non_null(sdk);
  assert_non_null(peer);
  /* a cluster-only type is unknown on the SDK port ... */
  nc_tw_reply r = nc_tw_call_reply(sdk, "PeerOnlyRequest", NULL);
  assert_string_equal(r.type, "ErrorResponse");
  assert_int_equal(r.error_code, 302);
  /* ... and served on the cluster port, with the table's response type */
  r = nc_tw_call_reply(peer, "PeerOnlyRequest", NULL);
  nc_tw_expect_ok(r, "PeerOnlyResponse");
  /* nc_req_fail(NULL type) uses the table's type too; the write is counted */
  on_loop(f, job_read_writes);
  uint64_t before = writes;
  r = nc_tw_call_reply(sdk, "AnonWriteRequest", NULL);
  nc_tw_expect_fail(r, "AnonWriteResponse", 409, "on purpose");
  on_loop(f, job_read_writes);
  assert_int_equal(writes, before + 1);
  assert_int_equal(f->peer_calls, 1);
  assert_int_equal(f->anon_calls, 1);
  /* an unknown type answers 302 and the server goes on */
  r = nc_tw_call_reply(sdk, "NoSuchRequest", NULL);
  assert_int_equal(r.error_code, 302);
  nc_tw_close(sdk);
  nc_tw_close(peer);
}

/* ---- naming without a gRPC request ---- */

static void job_publish(fx *f) {
  cJSON *j = cJSON_Parse("{\"ip\":\"10.0.0.7\",\"port\":8080}");
  nc_ninst *in = NULL;
  const char *err = NULL;
  assert_int_equal(nc_ninst_parse(j, "DEFAULT_GROUP", "neutral.svc", &in, &err), 0);
  cJSON_Delete(j);
  assert_int_equal(
      nc_naming_publish(f->naming, "http-client-1", "", "DEFAULT_GROUP", "neutral.svc", &in, 1), 0);
}

static void job_drop(fx *f) { nc_naming_drop_client(f->naming, "http-client-1"); }

static int listed;
static void job_list(fx *f) {
  cJSON *names = cJSON_CreateArray();
  listed = (int)nc_naming_list(f->naming, "public", "DEFAULT_GROUP", 1, 10, names);
  cJSON_Delete(names);
}

static void test_naming_ops_without_a_request_reach_subscribers(void **state) {
  fx *f = &F;
  (void)state;
  nc_tw *sub = nc_tw_open(f->env, f->sdk, NULL);
  assert_non_null(sub);
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(sub, "neutral.svc", 1, &s), "SubscribeServiceResponse");
  assert_int_equal(s.nhosts, 0);
  nc_tw_service_free(&s);

  /* a subscribe is followed by one push of the (empty) state */
  assert_int_equal(nc_tw_wait_notify(sub, "neutral.svc", 1, 5000, NULL), 1);
  int seen = 1;
  on_loop(f, job_publish);
  assert_true(nc_tw_wait_notify(sub, "neutral.svc", seen + 1, 5000, &s) >= seen + 1);
  assert_int_equal(s.nhosts, 1);
  assert_string_equal(s.hosts[0].ip, "10.0.0.7");
  nc_tw_service_free(&s);
  assert_int_equal(nc_tw_query_hosts(sub, "neutral.svc"), 1);
  on_loop(f, job_list);
  assert_int_equal(listed, 1);
  /* both listeners heard it, in the order added */
  assert_int_equal(f->changes_a, 1);
  assert_int_equal(f->changes_b, 1);
  assert_true(f->order_ok);
  assert_non_null(strstr(f->last_key, "neutral.svc"));

  /* the owner goes: its instance leaves, subscribers are told */
  on_loop(f, job_drop);
  assert_true(nc_tw_wait_notify(sub, "neutral.svc", seen + 2, 5000, &s) >= seen + 2);
  assert_int_equal(s.nhosts, 0);
  nc_tw_service_free(&s);
  assert_int_equal(f->changes_a, 2);
  assert_int_equal(f->changes_b, 2);
  nc_tw_close(sub);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_flags_cluster_port_only_and_write_count, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_naming_ops_without_a_request_reach_subscribers, setup,
                                      teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
