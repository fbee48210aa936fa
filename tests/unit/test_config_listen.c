/* Unit tests of the config listener registry and notifier with a fake push
 * transport: registration bookkeeping, connection drop, notify body (client
 * tenant echoed), ack/nack/timeout handling, back-off retry, bounded
 * resend on repeated changes, and dropping a connection that never acks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "config_listen.h"
#include "nc_err.h"
#include "nc_json.h"

typedef struct sent {
  char conn[32];
  char *json;
  nc_push_cb cb;
  void *cb_ud;
  int done;
} sent;

typedef struct fx {
  uv_loop_t loop;
  nc_cfg_listen *l;
  sent pushes[256];
  int n_push;
  int fail_rc;     /* push returns this when non-zero */
  char dropped[8][32];
  int n_dropped;
} fx;

static int fake_push(void *ud, const char *conn_id, const char *type, const char *json,
                     size_t len, int timeout_ms, nc_push_cb cb, void *cb_ud) {
  fx *f = ud;
  (void)timeout_ms;
  assert_string_equal(type, "ConfigChangeNotifyRequest");
  assert_int_equal(strlen(json), len);
  if (f->fail_rc)
    return f->fail_rc;
  assert_true(f->n_push < 256);
  sent *s = &f->pushes[f->n_push++];
  snprintf(s->conn, sizeof(s->conn), "%s", conn_id);
  s->json = strdup(json);
  s->cb = cb;
  s->cb_ud = cb_ud;
  s->done = 0;
  return 0;
}

static void fake_drop(void *ud, const char *conn_id, const char *why) {
  fx *f = ud;
  (void)why;
  snprintf(f->dropped[f->n_dropped++], 32, "%s", conn_id);
  /* What the server core does: DOWN listener -> registry cleanup, and
   * in-flight pushes of the connection complete with GONE. */
  nc_cfg_listen_drop_conn(f->l, conn_id);
  for (int i = 0; i < f->n_push; i++)
    if (!f->pushes[i].done && strcmp(f->pushes[i].conn, conn_id) == 0) {
      f->pushes[i].done = 1;
      f->pushes[i].cb(f->pushes[i].cb_ud, conn_id, NC_PUSH_GONE);
    }
}

static void complete(fx *f, int i, nc_push_result res) {
  assert_false(f->pushes[i].done);
  f->pushes[i].done = 1;
  f->pushes[i].cb(f->pushes[i].cb_ud, f->pushes[i].conn, res);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  uv_loop_init(&f->loop);
  nc_cfg_push_ops ops = {.push = fake_push, .drop_conn = fake_drop, .ud = f};
  nc_cfg_listen_opts o = {.timeout_ms = 100, .max_retries = 3, .retry_base_ms = 20};
  if (nc_cfg_listen_new(&f->loop, &ops, &o, &f->l) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  /* Complete what is still in flight, as the core would on shutdown. */
  for (int i = 0; i < f->n_push; i++)
    if (!f->pushes[i].done)
      complete(f, i, NC_PUSH_GONE);
  nc_cfg_listen_free(f->l);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  for (int i = 0; i < f->n_push; i++)
    free(f->pushes[i].json);
  free(f);
  return 0;
}

static void test_add_remove_refresh_counts(void **state) {
  fx *f = *state;
  assert_int_equal(nc_cfg_listen_add(f->l, "c1", "d+g", "d", "g", "", "m1"), 0);
  assert_int_equal(nc_cfg_listen_add(f->l, "c1", "d+g", "d", "g", "", "m2"), 0); /* refresh */
  assert_int_equal(nc_cfg_listen_add(f->l, "c2", "d+g", "d", "g", "public", NULL), 0);
  assert_int_equal(nc_cfg_listen_add(f->l, "c1", "e+g", "e", "g", "", ""), 0);
  assert_int_equal(nc_cfg_listen_count(f->l), 3);
  assert_int_equal(nc_cfg_listen_key_count(f->l, "d+g"), 2);
  assert_int_equal(nc_cfg_listen_conn_count(f->l, "c1"), 2);
  assert_int_equal(nc_cfg_listen_remove(f->l, "c1", "d+g"), 1);
  assert_int_equal(nc_cfg_listen_remove(f->l, "c1", "d+g"), 0);
  assert_int_equal(nc_cfg_listen_key_count(f->l, "d+g"), 1);
  assert_int_equal(nc_cfg_listen_count(f->l), 2);
  assert_int_equal(nc_cfg_listen_remove(f->l, "nobody", "d+g"), 0);
}

/* Re-listening with another spelling of the default tenant updates the echo. */
static void test_refresh_updates_tenant_echo(void **state) {
  fx *f = *state;
  assert_int_equal(nc_cfg_listen_add(f->l, "c1", "d+g", "d", "g", "", "m"), 0);
  assert_int_equal(nc_cfg_listen_add(f->l, "c1", "d+g", "d", "g", "public", "m"), 0);
  assert_int_equal(nc_cfg_listen_count(f->l), 1);
  nc_cfg_listen_changed(f->l, "d+g");
  assert_int_equal(f->n_push, 1);
  cJSON *b = cJSON_Parse(f->pushes[0].json);
  assert_string_equal(nc_json_str(b, "tenant", "?"), "public");
  cJSON_Delete(b);
}

static void test_conn_drop_removes_only_its_registrations(void **state) {
  fx *f = *state;
  char gk[16];
  for (int i = 0; i < 50; i++) {
    snprintf(gk, sizeof(gk), "d%d+g", i);
    assert_int_equal(nc_cfg_listen_add(f->l, "c1", gk, "d", "g", "", ""), 0);
    assert_int_equal(nc_cfg_listen_add(f->l, "c2", gk, "d", "g", "", ""), 0);
  }
  nc_cfg_listen_drop_conn(f->l, "c1");
  nc_cfg_listen_drop_conn(f->l, "unknown");
  assert_int_equal(nc_cfg_listen_count(f->l), 50);
  assert_int_equal(nc_cfg_listen_conn_count(f->l, "c1"), 0);
  assert_int_equal(nc_cfg_listen_key_count(f->l, "d7+g"), 1);
  nc_cfg_listen_changed(f->l, "d7+g");
  assert_int_equal(f->n_push, 1);
  assert_string_equal(f->pushes[0].conn, "c2");
}

static void test_notify_body_echoes_client_tenant(void **state) {
  fx *f = *state;
  assert_int_equal(nc_cfg_listen_add(f->l, "c1", "d+g", "d", "g", "public", "x"), 0);
  nc_cfg_listen_changed(f->l, "d+g");
  nc_cfg_listen_changed(f->l, "other+g"); /* nobody listens */
  assert_int_equal(f->n_push, 1);
  cJSON *b = cJSON_Parse(f->pushes[0].json);
  assert_string_equal(nc_json_str(b, "dataId", ""), "d");
  assert_string_equal(nc_json_str(b, "group", ""), "g");
  assert_string_equal(nc_json_str(b, "tenant", "?"), "public");
  assert_string_equal(nc_json_str(b, "module", ""), "config");
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(b, "headers")));
  cJSON_Delete(b);
}

/* Changes while a notify is unacked coalesce into ONE resend after the ack. */
static void test_changes_while_sent_coalesce(void **state) {
  fx *f = *state;
  nc_cfg_listen_add(f->l, "c1", "d+g", "d", "g", "", "");
  nc_cfg_listen_changed(f->l, "d+g");
  for (int i = 0; i < 10; i++)
    nc_cfg_listen_changed(f->l, "d+g");
  assert_int_equal(f->n_push, 1);
  complete(f, 0, NC_PUSH_ACKED);
  assert_int_equal(f->n_push, 2);
  complete(f, 1, NC_PUSH_NACKED); /* Go's ack says success:false: still delivered */
  assert_int_equal(f->n_push, 2);
  assert_int_equal(nc_cfg_listen_get_stats(f->l)->acked, 2);
  nc_cfg_listen_changed(f->l, "d+g");
  assert_int_equal(f->n_push, 3);
}

static void run_for(fx *f, int ms) {
  uint64_t end = uv_now(&f->loop) + (uint64_t)ms;
  while (uv_now(&f->loop) < end) {
    uv_run(&f->loop, UV_RUN_ONCE);
    uv_update_time(&f->loop);
  }
}

static void test_timeout_retried_then_acked(void **state) {
  fx *f = *state;
  nc_cfg_listen_add(f->l, "c1", "d+g", "d", "g", "", "");
  nc_cfg_listen_changed(f->l, "d+g");
  complete(f, 0, NC_PUSH_TIMEOUT);
  assert_int_equal(f->n_push, 1); /* back-off, not immediate */
  run_for(f, 250);
  assert_int_equal(f->n_push, 2);
  complete(f, 1, NC_PUSH_ACKED);
  run_for(f, 150);
  assert_int_equal(f->n_push, 2);
  assert_int_equal(nc_cfg_listen_get_stats(f->l)->retried, 1);
  assert_int_equal(f->n_dropped, 0);
}

static void test_never_acked_drops_connection(void **state) {
  fx *f = *state;
  nc_cfg_listen_add(f->l, "c1", "d+g", "d", "g", "", "");
  nc_cfg_listen_add(f->l, "c1", "e+g", "e", "g", "", "");
  nc_cfg_listen_add(f->l, "c2", "d+g", "d", "g", "", "");
  nc_cfg_listen_changed(f->l, "d+g");
  assert_int_equal(f->n_push, 2);
  int c2 = strcmp(f->pushes[0].conn, "c2") == 0 ? 0 : 1;
  complete(f, c2, NC_PUSH_ACKED);
  for (int attempt = 0; attempt < 3; attempt++) {
    int last = f->n_push - 1;
    assert_string_equal(f->pushes[last].conn, "c1");
    complete(f, last, NC_PUSH_TIMEOUT);
    if (attempt < 2)
      run_for(f, 20 * (attempt + 1) + 150);
  }
  assert_int_equal(f->n_dropped, 1);
  assert_string_equal(f->dropped[0], "c1");
  assert_int_equal(nc_cfg_listen_conn_count(f->l, "c1"), 0);
  assert_int_equal(nc_cfg_listen_count(f->l), 1);
}

/* Unlisten while a notify is in flight: the late callback must be safe. */
static void test_remove_while_in_flight(void **state) {
  fx *f = *state;
  nc_cfg_listen_add(f->l, "c1", "d+g", "d", "g", "", "");
  nc_cfg_listen_changed(f->l, "d+g");
  assert_int_equal(nc_cfg_listen_remove(f->l, "c1", "d+g"), 1);
  assert_int_equal(nc_cfg_listen_count(f->l), 0);
  complete(f, 0, NC_PUSH_ACKED); /* frees the tombstone (ASan checks) */
  nc_cfg_listen_add(f->l, "c1", "d+g", "d", "g", "", "");
  nc_cfg_listen_changed(f->l, "d+g");
  nc_cfg_listen_drop_conn(f->l, "c1");
  complete(f, 1, NC_PUSH_GONE);
  assert_int_equal(nc_cfg_listen_count(f->l), 0);
}

static void test_push_refused_busy_is_retried(void **state) {
  fx *f = *state;
  nc_cfg_listen_add(f->l, "c1", "d+g", "d", "g", "", "");
  f->fail_rc = NC_EBUSY;
  nc_cfg_listen_changed(f->l, "d+g");
  assert_int_equal(f->n_push, 0);
  f->fail_rc = 0;
  run_for(f, 200);
  assert_int_equal(f->n_push, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_add_remove_refresh_counts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refresh_updates_tenant_echo, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conn_drop_removes_only_its_registrations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_notify_body_echoes_client_tenant, setup, teardown),
      cmocka_unit_test_setup_teardown(test_changes_while_sent_coalesce, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout_retried_then_acked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_never_acked_drops_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_remove_while_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(test_push_refused_busy_is_retried, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
