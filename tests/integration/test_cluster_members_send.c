/* nc_cluster between two in-process nodes (two nc_srv + nc_cluster on one
 * libuv loop driven by the test thread; each node on its own 127.A.B.x
 * with the cluster port 9849 = main 8848 + 1001), the interface Distro
 * builds on: member listeners hear the peer connection come up; a
 * nc_cluster_send gets the peer's answer on the loop (a typed response, or
 * an ErrorResponse for a type the peer does not serve: status 0 both);
 * NC_ETIMEOUT when the answer comes too late; when the peer stops the
 * listener hears the connection go and the peer turn DOWN, and sends are
 * NC_EUNAVAIL at once; stopping the sender resolves its pending send with
 * NC_ECLOSED, exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster.h"
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_json.h"
#include "nc_testwait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct node {
  nc_srv *srv;
  nc_cluster *cl;
  char ip[32], addr[48];
  int up;
} node;

typedef struct ev_log {
  int n, connected_ups, connected_downs, downs;
  int last_connected;
  nc_member_state last_state;
} ev_log;

typedef struct send_res {
  int calls, status;
  char type[64];
  long long result_code;
} send_res;

static uv_loop_t g_loop;
static node g_a, g_b;
static ev_log g_log;
static char g_members[128];
static uv_timer_t g_late;
static nc_req *g_held;

static void on_member(void *ud, const nc_member_info *m, nc_member_state old) {
  ev_log *l = ud;
  (void)old;
  l->n++;
  if (m->connected && !l->last_connected)
    l->connected_ups++;
  if (!m->connected && l->last_connected)
    l->connected_downs++;
  if (m->state == NC_MEMBER_DOWN && l->last_state != NC_MEMBER_DOWN)
    l->downs++;
  l->last_connected = m->connected;
  l->last_state = m->state;
}

static void on_sent(void *ud, int status, const nc_msg *resp) {
  send_res *r = ud;
  r->calls++;
  r->status = status;
  if (resp) {
    snprintf(r->type, sizeof(r->type), "%s", resp->type);
    r->result_code = nc_json_int(resp->body, "resultCode", 0);
  }
}

/* B answers SlowRequest 600 ms late. */
static void answer_late(uv_timer_t *t) {
  (void)t;
  if (g_held)
    nc_req_reply(g_held, NULL, NULL);
  g_held = NULL;
}
static void h_slow(void *ud, nc_req *r, const nc_msg *m) {
  (void)ud;
  (void)m;
  g_held = r;
  uv_timer_start(&g_late, answer_late, 600, 0);
}
static const nc_handler_def slow_handlers[] = {
    {"SlowRequest", "SlowResponse", h_slow, NC_H_CLUSTER},
};

static void node_start(node *n, const char *ip_in) {
  char ip[32];
  snprintf(ip, sizeof(ip), "%s", ip_in); /* ip_in may be n->ip (a restart) */
  snprintf(n->ip, sizeof(n->ip), "%s", ip);
  snprintf(n->addr, sizeof(n->addr), "%s:8848", ip);
  nc_srv_opts so = {.bind = ip, .grpc_port = 0, .cluster_port = 9849};
  int g = 0, k = 0;
  assert_int_equal(nc_srv_new(&g_loop, &so, &n->srv), 0);
  nc_cluster_opts o = {.members = g_members, .advertise_ip = ip, .main_port = 8848,
                       .report_interval_ms = 200, .unhealthy_interval_ms = 300,
                       .request_timeout_ms = 1000, .fail_threshold = 3};
  assert_int_equal(nc_cluster_new(&g_loop, n->srv, &o, &n->cl), 0);
  assert_int_equal(nc_srv_start(n->srv, &g, &k), 0);
  assert_int_equal(k, 9849);
  assert_int_equal(nc_cluster_start(n->cl), 0);
  n->up = 1;
}

static void node_stop(node *n) {
  if (!n->up)
    return;
  nc_cluster_stop(n->cl);
  nc_srv_shutdown(n->srv);
  nc_cluster_free(n->cl);
  nc_srv_free(n->srv);
  n->up = 0;
}

static void tick(uv_timer_t *t) { (void)t; }

/* Runs the loop until *flag is non-zero or ms pass; returns *flag. */
static int run_until(const int *flag, int ms) {
  uv_timer_t t;
  uv_timer_init(&g_loop, &t);
  uv_timer_start(&t, tick, 10, 10);
  nc_test_deadline d = nc_test_deadline_start(ms);
  while (!*flag && nc_test_deadline_elapsed(&d) < nc_test_timeout_ms(ms))
    uv_run(&g_loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&g_loop, UV_RUN_NOWAIT);
  return *flag;
}

static int setup(void **state) {
  (void)state;
  unsigned a = 16 + (unsigned)(getpid() % 200), b = (unsigned)(time(NULL) % 250);
  char ia[32], ib[32];
  snprintf(ia, sizeof(ia), "127.%u.%u.1", a, b);
  snprintf(ib, sizeof(ib), "127.%u.%u.2", a, b);
  snprintf(g_members, sizeof(g_members), "%s:8848,%s:8848", ia, ib);
  uv_loop_init(&g_loop);
  uv_timer_init(&g_loop, &g_late);
  memset(&g_log, 0, sizeof(g_log));
  node_start(&g_a, ia);
  assert_int_equal(nc_cluster_add_member_listener(g_a.cl, on_member, &g_log), 0);
  node_start(&g_b, ib);
  assert_int_equal(NC_SRV_HANDLERS(g_b.srv, slow_handlers, NULL), 0);
  return 0;
}

static void close_left(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static int teardown(void **state) {
  (void)state;
  node_stop(&g_a);
  node_stop(&g_b);
  uv_close((uv_handle_t *)&g_late, NULL);
  uv_walk(&g_loop, close_left, NULL); /* a failed test may leave some open */
  uv_run(&g_loop, UV_RUN_DEFAULT);
  uv_loop_close(&g_loop);
  return 0;
}

static cJSON *report_of(const node *n) {
  cJSON *b = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(b, "node");
  cJSON_AddStringToObject(m, "ip", n->ip);
  cJSON_AddNumberToObject(m, "port", 8848);
  cJSON_AddStringToObject(m, "address", n->addr);
  return b;
}

static void test_send_listen_timeout_down_closed(void **state) {
  (void)state;
  assert_true(run_until(&g_log.connected_ups, 5000));
  nc_member_info mi[2];
  assert_int_equal(nc_cluster_members(g_a.cl, mi, 2), 2);
  assert_true(mi[1].connected);
  assert_string_equal(mi[1].address, g_b.addr);

  send_res r = {0};
  assert_int_equal(nc_cluster_send(g_a.cl, g_b.addr, "MemberReportRequest", report_of(&g_a), 0,
                                   on_sent, &r),
                   0);
  assert_true(run_until(&r.calls, 3000));
  assert_int_equal(r.status, 0);
  assert_string_equal(r.type, "MemberReportResponse");
  assert_int_equal(r.result_code, 200);

  send_res u = {0};
  assert_int_equal(nc_cluster_send(g_a.cl, g_b.addr, "NoSuchRequest", cJSON_CreateObject(), 0,
                                   on_sent, &u),
                   0);
  assert_true(run_until(&u.calls, 3000));
  assert_int_equal(u.status, 0);
  assert_string_equal(u.type, "ErrorResponse");

  send_res t = {0};
  assert_int_equal(
      nc_cluster_send(g_a.cl, g_b.addr, "SlowRequest", cJSON_CreateObject(), 200, on_sent, &t),
      0);
  assert_true(run_until(&t.calls, 3000));
  assert_int_equal(t.status, NC_ETIMEOUT);
  int late = 0;
  run_until(&late, 800); /* B's late answer goes nowhere */
  assert_int_equal(t.calls, 1);

  /* self and strangers are not peers */
  assert_int_equal(nc_cluster_send(g_a.cl, g_a.addr, "X", cJSON_CreateObject(), 0, on_sent, &t),
                   NC_EINVAL);
  assert_int_equal(
      nc_cluster_send(g_a.cl, "10.0.0.1:8848", "X", cJSON_CreateObject(), 0, on_sent, &t),
      NC_EINVAL);

  /* B goes away: the connection goes, reports fail, B is DOWN */
  node_stop(&g_b);
  assert_true(run_until(&g_log.connected_downs, 5000));
  assert_true(run_until(&g_log.downs, 5000));
  assert_int_equal(nc_cluster_members(g_a.cl, mi, 2), 2);
  assert_int_equal(mi[1].state, NC_MEMBER_DOWN);
  assert_int_equal(nc_cluster_send(g_a.cl, g_b.addr, "MemberReportRequest", report_of(&g_a), 0,
                                   on_sent, &t),
                   NC_EUNAVAIL);

  /* B back: the reconnect and the first report make it UP again */
  node_start(&g_b, g_b.ip);
  assert_int_equal(NC_SRV_HANDLERS(g_b.srv, slow_handlers, NULL), 0);
  int ups = g_log.connected_ups;
  assert_true(run_until(&g_log.last_connected, 5000));
  assert_true(g_log.connected_ups > ups);
  for (int i = 0; i < 50 && g_log.last_state != NC_MEMBER_UP; i++) {
    int f = 0;
    run_until(&f, 100);
  }
  assert_int_equal(g_log.last_state, NC_MEMBER_UP);

  /* a send pending when the sender stops: NC_ECLOSED, once */
  send_res p = {0};
  assert_int_equal(
      nc_cluster_send(g_a.cl, g_b.addr, "SlowRequest", cJSON_CreateObject(), 5000, on_sent, &p),
      0);
  int f = 0;
  run_until(&f, 100); /* B holds it */
  nc_cluster_stop(g_a.cl);
  assert_int_equal(p.calls, 1);
  assert_int_equal(p.status, NC_ECLOSED);
  assert_int_equal(nc_cluster_send(g_a.cl, g_b.addr, "MemberReportRequest", report_of(&g_a), 0,
                                   on_sent, &t),
                   NC_ECLOSED);
  run_until(&f, 700);
  assert_int_equal(p.calls, 1);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_send_listen_timeout_down_closed, setup, teardown),
  };
  int rc = NC_TEST_MAIN(tests);
  nc_grpc_shutdown();
  return rc;
}
