/* The gRPC config path and the transport-neutral operations share one
 * service (config_ops.h): an in-process nacosd core (nc_srv on loopback port
 * 0) with the config service, an SDK-like client (nc_testwire) on its own
 * thread, and a change listener added through the API on the loop thread.
 *   - a publish made through the API (no gRPC request) reaches the gRPC
 *     client listening on that key as ConfigChangeNotifyRequest, and its
 *     ConfigQuery reads it;
 *   - a gRPC publish and remove reach the API listener with the md5 and then
 *     NULL;
 *   - the gRPC answers are unchanged: blank content 400 "content is blank",
 *     CAS conflict 500 "Cas publish fail..." (and neither notifies). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_ops.h"
#include "nc_grpc.h"
#include "nc_log.h"
#include "nc_md5.h"
#include "nc_testwire.h"

enum { STEP_START, STEP_LISTENING, STEP_DONE };

/* Written by the client thread before it sets STEP_DONE; read by the main
 * thread after the join. */
typedef struct client_out {
  int connected;
  nc_tw_reply listen, publish, blank, cas, get, remove;
  int api_changes; /* ConfigChangeNotifyRequests for api.yaml */
  char content[64];
} client_out;

typedef struct event {
  char data_id[64];
  char md5[33];
  int removed;
} event;

typedef struct fx {
  char dir[64];
  uv_loop_t loop;
  uv_timer_t timer;
  nc_srv *srv;
  nc_config_service *cs;
  int port;
  atomic_int step;
  int api_published, api_done_calls, api_done_code;
  uint64_t deadline_ms;
  event ev[16];
  int n_ev;
  client_out out;
} fx;

static void on_change(void *ud, const char *data_id, const char *group, const char *tenant,
                      const char *md5) {
  (void)group;
  (void)tenant;
  fx *f = ud;
  if (f->n_ev == 16)
    return;
  event *e = &f->ev[f->n_ev++];
  snprintf(e->data_id, sizeof(e->data_id), "%s", data_id);
  snprintf(e->md5, sizeof(e->md5), "%s", md5 ? md5 : "");
  e->removed = md5 == NULL;
}

static void on_api_done(void *ud, const nc_config_result *res) {
  fx *f = ud;
  f->api_done_calls++;
  f->api_done_code = res->code;
}

/* Loop thread: publishes through the API once the client listens, stops
 * the loop when the client is done (or at the deadline). */
static void on_tick(uv_timer_t *t) {
  fx *f = t->data;
  int step = atomic_load(&f->step);
  if (step >= STEP_LISTENING && !f->api_published) {
    f->api_published = 1;
    nc_config_publish p = {.key = {"api.yaml", "G", NULL}, .content = "from api",
                           .origin = "test"};
    nc_config_publish_op(f->cs, &p, on_api_done, f);
  }
  if (step == STEP_DONE || nc_now_ms() > f->deadline_ms)
    uv_stop(&f->loop);
}

static void *client_main(void *arg) {
  fx *f = arg;
  client_out *o = &f->out;
  char target[64];
  nc_gcli_env *env = NULL;
  nc_tw *tw = NULL;
  snprintf(target, sizeof(target), "127.0.0.1:%d", f->port);
  nc_tw_opts to = {.module = "config"};
  if (nc_gcli_env_new(1, &env) != 0 || !(tw = nc_tw_open(env, target, &to)))
    goto out;
  o->connected = 1;
  o->listen = nc_tw_listen_one(tw, 1, "api.yaml", "G", NULL, NULL);
  atomic_store(&f->step, STEP_LISTENING);
  o->api_changes = nc_tw_wait_change(tw, "api.yaml", 1, 10000, NULL);
  nc_tw_config c = {0};
  o->get = nc_tw_config_get(tw, "api.yaml", "G", NULL, &c);
  snprintf(o->content, sizeof(o->content), "%s", c.content ? c.content : "");
  nc_tw_config_free(&c);
  o->publish = nc_tw_config_publish(tw, "wire.yaml", "G", NULL, "w", NULL);
  o->blank = nc_tw_config_publish(tw, "wire.yaml", "G", NULL, "  ", NULL);
  o->cas = nc_tw_config_publish(tw, "wire.yaml", "G", NULL, "w2",
                                "0123456789abcdef0123456789abcdef");
  o->remove = nc_tw_config_remove(tw, "wire.yaml", "G", NULL);
out:
  nc_tw_close(tw);
  nc_gcli_env_free(env);
  atomic_store(&f->step, STEP_DONE);
  return NULL;
}

static void walk_close(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void test_grpc_and_api_share_the_service(void **state) {
  (void)state;
  fx *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  nc_log_set_level(NC_LOG_WARN);
  snprintf(f->dir, sizeof(f->dir), "/tmp/nc_cfgopsg_XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  nc_grpc_init();
  assert_int_equal(uv_loop_init(&f->loop), 0);
  nc_srv_opts so = {.bind = "127.0.0.1", .cluster_port = -1};
  assert_int_equal(nc_srv_new(&f->loop, &so, &f->srv), 0);
  nc_config_opts co = {.data_dir = f->dir};
  assert_int_equal(nc_config_init(f->srv, &co, &f->cs), 0);
  assert_int_equal(nc_config_add_listener(f->cs, on_change, f), 0);
  int cluster_port = -1;
  assert_int_equal(nc_srv_start(f->srv, &f->port, &cluster_port), 0);

  f->deadline_ms = nc_now_ms() + 60000;
  uv_timer_init(&f->loop, &f->timer);
  f->timer.data = f;
  uv_timer_start(&f->timer, on_tick, 5, 5);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, client_main, f), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  /* the client may still be closing when the deadline hit: keep serving */
  while (atomic_load(&f->step) != STEP_DONE)
    uv_run(&f->loop, UV_RUN_NOWAIT);
  pthread_join(th, NULL);
  uv_close((uv_handle_t *)&f->timer, NULL);

  nc_config_stop(f->cs);
  nc_srv_shutdown(f->srv);
  nc_config_free(f->cs);
  nc_srv_free(f->srv);
  uv_walk(&f->loop, walk_close, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  nc_grpc_shutdown();

  client_out *o = &f->out;
  assert_true(o->connected);
  nc_tw_expect_ok(o->listen, "ConfigChangeBatchListenResponse");
  /* API publish -> gRPC listener and gRPC query */
  assert_int_equal(f->api_done_calls, 1);
  assert_int_equal(f->api_done_code, 0);
  assert_true(o->api_changes >= 1);
  nc_tw_expect_ok(o->get, "ConfigQueryResponse");
  assert_string_equal(o->content, "from api");
  /* the gRPC answers as before */
  nc_tw_expect_ok(o->publish, "ConfigPublishResponse");
  nc_tw_expect_fail(o->blank, "ConfigPublishResponse", 400, "content is blank");
  nc_tw_expect_fail(o->cas, "ConfigPublishResponse", 500, "Cas publish fail");
  nc_tw_expect_ok(o->remove, "ConfigRemoveResponse");
  /* gRPC writes -> the API listener, refusals silent */
  char md5_api[33], md5_w[33];
  nc_md5_hex("from api", 8, md5_api);
  nc_md5_hex("w", 1, md5_w);
  assert_int_equal(f->n_ev, 3);
  assert_string_equal(f->ev[0].data_id, "api.yaml");
  assert_string_equal(f->ev[0].md5, md5_api);
  assert_string_equal(f->ev[1].data_id, "wire.yaml");
  assert_string_equal(f->ev[1].md5, md5_w);
  assert_string_equal(f->ev[2].data_id, "wire.yaml");
  assert_true(f->ev[2].removed);

  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grpc_and_api_share_the_service),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
