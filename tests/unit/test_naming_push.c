/* Unit tests of naming_push with a fake sender: merge window, targeted
 * first-subscribe push, retry until acked, one in flight + one pending,
 * connection loss and unsubscribe while in flight. */
#include "naming_push.h"
#include "naming_registry.h"
#include "nc_err.h"
#include "nc_json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

typedef struct sent {
  char conn[32];
  nc_push_cb cb;
  void *ud;
  int hosts;
  int resolved;
} sent;

typedef struct fx {
  uv_loop_t loop;
  nc_nreg *reg;
  nc_npush *push;
  sent s[256];
  int n;
  int refuse; /* next send returns this */
  char key[256];
} fx;

static int fake_send(void *ud, const char *conn_id, const char *body, size_t len, int timeout_ms,
                     nc_push_cb cb, void *cb_ud) {
  fx *f = ud;
  (void)len;
  (void)timeout_ms;
  if (f->refuse)
    return f->refuse;
  assert_true(f->n < 256);
  sent *s = &f->s[f->n++];
  snprintf(s->conn, sizeof(s->conn), "%s", conn_id);
  s->cb = cb;
  s->ud = cb_ud;
  cJSON *b = cJSON_Parse(body);
  s->hosts = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(b, "serviceInfo"), "hosts"));
  cJSON_Delete(b);
  s->resolved = 0;
  return 0;
}

static void on_change(void *ud, const char *key) {
  fx *f = ud;
  nc_npush_service_changed(f->push, key);
}

static fx *mk(int merge_ms, int retry_ms) {
  fx *f = calloc(1, sizeof(*f));
  uv_loop_init(&f->loop);
  assert_int_equal(nc_nreg_new(&f->reg), 0);
  nc_npush_opts o = {.merge_ms = merge_ms, .timeout_ms = 1000, .retry_ms = retry_ms};
  assert_int_equal(nc_npush_new(&f->loop, f->reg, &o, fake_send, f, &f->push), 0);
  assert_int_equal(nc_nreg_add_listener(f->reg, on_change, f), 0);
  nc_nreg_key(f->key, sizeof(f->key), "public", "G", "s");
  return f;
}

static void run_ms(fx *f, int ms) {
  uv_update_time(&f->loop);
  uint64_t end = uv_now(&f->loop) + (uint64_t)ms;
  do {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    uv_update_time(&f->loop);
  } while (uv_now(&f->loop) < end);
}

static void resolve(fx *f, int i, nc_push_result res) {
  assert_false(f->s[i].resolved);
  f->s[i].resolved = 1;
  f->s[i].cb(f->s[i].ud, f->s[i].conn, res);
}

static void destroy(fx *f) {
  nc_npush_free(f->push);
  nc_nreg_free(f->reg);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
}

static void pub(fx *f, const char *conn, int port) {
  char js[128];
  snprintf(js, sizeof(js), "{\"ip\":\"1.1.1.1\",\"port\":%d}", port);
  cJSON *j = cJSON_Parse(js);
  nc_ninst *in = NULL;
  const char *err;
  assert_int_equal(nc_ninst_parse(j, "G", "s", &in, &err), 0);
  cJSON_Delete(j);
  assert_int_equal(nc_nreg_publish(f->reg, conn, "public", "G", "s", &in, 1), 0);
}

static void sub(fx *f, const char *conn) {
  int first = 0;
  assert_int_equal(nc_nreg_subscribe(f->reg, conn, "public", "G", "s", "", &first), 0);
  if (first)
    nc_npush_subscribed(f->push, conn, f->key);
}

static void test_changes_merge_into_one_push_per_subscriber(void **state) {
  (void)state;
  fx *f = mk(100, 50);
  sub(f, "a");
  sub(f, "b");
  run_ms(f, 150); /* the first-subscribe pushes */
  assert_int_equal(f->n, 2);
  resolve(f, 0, NC_PUSH_ACKED);
  resolve(f, 1, NC_PUSH_ACKED);
  for (int i = 0; i < 20; i++)
    pub(f, "p", 1000 + i);
  run_ms(f, 50);
  assert_int_equal(f->n, 2); /* still inside the window */
  run_ms(f, 100);
  assert_int_equal(f->n, 4); /* one push per subscriber */
  assert_int_equal(f->s[2].hosts, 1);
  resolve(f, 2, NC_PUSH_ACKED);
  resolve(f, 3, NC_PUSH_ACKED);
  run_ms(f, 150);
  assert_int_equal(f->n, 4);
  nc_npush_stats st;
  nc_npush_get_stats(f->push, &st);
  assert_int_equal(st.acked, 4);
  destroy(f);
}

static void test_first_subscribe_pushes_to_that_subscriber_only(void **state) {
  (void)state;
  fx *f = mk(0, 50);
  sub(f, "a");
  run_ms(f, 20);
  assert_int_equal(f->n, 1);
  resolve(f, 0, NC_PUSH_ACKED);
  sub(f, "b");
  sub(f, "a"); /* not first: nothing */
  run_ms(f, 20);
  assert_int_equal(f->n, 2);
  assert_string_equal(f->s[1].conn, "b");
  resolve(f, 1, NC_PUSH_ACKED);
  destroy(f);
}

static void test_push_retried_until_acked(void **state) {
  (void)state;
  fx *f = mk(0, 30);
  pub(f, "p", 1);
  sub(f, "a");
  run_ms(f, 10);
  assert_int_equal(f->n, 1);
  resolve(f, 0, NC_PUSH_TIMEOUT);
  run_ms(f, 10);
  assert_int_equal(f->n, 1); /* waits retry_ms */
  run_ms(f, 40);
  assert_int_equal(f->n, 2);
  resolve(f, 1, NC_PUSH_NACKED);
  run_ms(f, 50);
  assert_int_equal(f->n, 3);
  resolve(f, 2, NC_PUSH_ACKED);
  run_ms(f, 80);
  assert_int_equal(f->n, 3);
  nc_npush_stats st;
  nc_npush_get_stats(f->push, &st);
  assert_int_equal(st.retried, 2);
  assert_int_equal(st.acked, 1);
  /* a busy stream is retried as well */
  f->refuse = NC_EBUSY;
  pub(f, "p", 2);
  run_ms(f, 10);
  f->refuse = 0;
  assert_int_equal(f->n, 3);
  run_ms(f, 50);
  assert_int_equal(f->n, 4);
  resolve(f, 3, NC_PUSH_ACKED);
  destroy(f);
}

static void test_one_in_flight_one_pending(void **state) {
  (void)state;
  fx *f = mk(0, 30);
  sub(f, "a");
  run_ms(f, 10);
  assert_int_equal(f->n, 1);
  /* many changes while the first push is unacked: nothing new is sent */
  for (int i = 0; i < 50; i++) {
    pub(f, "p", 100 + i);
    run_ms(f, 1);
  }
  assert_int_equal(f->n, 1);
  nc_npush_stats st;
  nc_npush_get_stats(f->push, &st);
  assert_int_equal(st.deliveries, 1);
  resolve(f, 0, NC_PUSH_ACKED);
  /* exactly one follow-up with the newest state */
  assert_int_equal(f->n, 2);
  assert_int_equal(f->s[1].hosts, 1);
  resolve(f, 1, NC_PUSH_ACKED);
  run_ms(f, 20);
  assert_int_equal(f->n, 2);
  destroy(f);
}

static void test_identical_follow_up_push_skipped(void **state) {
  (void)state;
  fx *f = mk(0, 30);
  pub(f, "p", 1);
  sub(f, "a");
  run_ms(f, 10);
  assert_int_equal(f->n, 1);
  /* a change notice that carries no new revision (e.g. a targeted push
   * coinciding with the change it already reflects) */
  nc_npush_service_changed(f->push, f->key);
  run_ms(f, 10);
  resolve(f, 0, NC_PUSH_ACKED);
  run_ms(f, 20);
  assert_int_equal(f->n, 1);
  /* a real change still goes out */
  pub(f, "p", 2);
  run_ms(f, 10);
  assert_int_equal(f->n, 2);
  resolve(f, 1, NC_PUSH_ACKED);
  destroy(f);
}

static void test_connection_gone_and_unsubscribe_release_records(void **state) {
  (void)state;
  fx *f = mk(0, 30);
  sub(f, "a");
  sub(f, "b");
  run_ms(f, 10);
  assert_int_equal(f->n, 2);
  /* the core resolves in-flight pushes of a dropped connection first */
  resolve(f, 0, NC_PUSH_GONE);
  nc_npush_conn_gone(f->push, "a");
  nc_nreg_drop_conn(f->reg, "a");
  /* unsubscribe while in flight: the record dies with the late result */
  nc_nreg_unsubscribe(f->reg, "b", "public", "G", "s");
  nc_npush_unsubscribed(f->push, "b", f->key);
  nc_npush_stats st;
  nc_npush_get_stats(f->push, &st);
  assert_int_equal(st.deliveries, 0);
  resolve(f, 1, NC_PUSH_TIMEOUT);
  run_ms(f, 60);
  assert_int_equal(f->n, 2); /* no retry for a gone subscriber */
  /* a closed connection reported by the sender drops the record */
  f->refuse = NC_ECLOSED;
  sub(f, "c");
  run_ms(f, 10);
  nc_npush_get_stats(f->push, &st);
  assert_int_equal(st.deliveries, 0);
  destroy(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_changes_merge_into_one_push_per_subscriber),
      cmocka_unit_test(test_first_subscribe_pushes_to_that_subscriber_only),
      cmocka_unit_test(test_push_retried_until_acked),
      cmocka_unit_test(test_one_in_flight_one_pending),
      cmocka_unit_test(test_identical_follow_up_push_skipped),
      cmocka_unit_test(test_connection_gone_and_unsubscribe_release_records),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
