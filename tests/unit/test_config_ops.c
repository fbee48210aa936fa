/* White-box tests of the transport-neutral config operations (config_ops.h):
 * the service runs on a uv loop with an nc_srv core that never starts a
 * transport, so no gRPC request exists. Publish/remove complete exactly once
 * through their callback after the commit; every change listener hears every
 * committed change in registration order with the new md5 (NULL on
 * removal); refusals (bad key, blank, over the cap, gray, CAS conflict,
 * shutting down) come back through the same callback; get, list and history
 * work without nc_req; a reload after a peer's store write refreshes the
 * cache and notifies only real changes. Run under TSan too (the writer
 * thread). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_ops.h"
#include "nc_err.h"
#include "nc_log.h"
#include "nc_md5.h"

#define MAX_EVENTS 32

typedef struct event {
  char who;             /* which listener: 'A' or 'B' */
  char data_id[64], group[64], tenant[64];
  char md5[33];
  int removed;          /* md5 was NULL */
} event;

typedef struct done_box {
  int calls;
  int code, existed;
  char message[256];
  char md5[33];
} done_box;

typedef struct fx {
  char dir[64];
  uv_loop_t loop;
  nc_srv *srv;
  nc_config_service *cs;
  event ev[MAX_EVENTS];
  int n_ev;
} fx;

typedef struct lctx {
  fx *f;
  char who;
} lctx;

static lctx la, lb;

static void on_change(void *ud, const char *data_id, const char *group, const char *tenant,
                      const char *md5) {
  lctx *l = ud;
  fx *f = l->f;
  assert_true(f->n_ev < MAX_EVENTS);
  event *e = &f->ev[f->n_ev++];
  e->who = l->who;
  snprintf(e->data_id, sizeof(e->data_id), "%s", data_id);
  snprintf(e->group, sizeof(e->group), "%s", group);
  snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
  e->removed = md5 == NULL;
  snprintf(e->md5, sizeof(e->md5), "%s", md5 ? md5 : "");
}

static void on_done(void *ud, const nc_config_result *res) {
  done_box *b = ud;
  b->calls++;
  b->code = res->code;
  b->existed = res->existed;
  snprintf(b->message, sizeof(b->message), "%s", res->message ? res->message : "");
  snprintf(b->md5, sizeof(b->md5), "%s", res->md5 ? res->md5 : "");
}

static int open_service(fx *f, long max_content) {
  nc_srv_opts so = {.bind = "127.0.0.1"};
  if (nc_srv_new(&f->loop, &so, &f->srv) != 0)
    return -1;
  nc_config_opts co = {.data_dir = f->dir, .max_content_bytes = max_content};
  return nc_config_init(f->srv, &co, &f->cs);
}

static void close_service(fx *f) {
  nc_config_stop(f->cs);
  nc_srv_shutdown(f->srv);
  nc_config_free(f->cs);
  nc_srv_free(f->srv);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  f->cs = NULL;
  f->srv = NULL;
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof(*f));
  nc_log_set_level(NC_LOG_WARN);
  snprintf(f->dir, sizeof(f->dir), "/tmp/nc_cfgops_XXXXXX");
  if (!mkdtemp(f->dir) || uv_loop_init(&f->loop) != 0 || open_service(f, 64) != 0)
    return -1;
  la = (lctx){f, 'A'};
  lb = (lctx){f, 'B'};
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  char cmd[128];
  if (f->srv)
    close_service(f);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  if (system(cmd) != 0)
    return -1;
  free(f);
  return 0;
}

/* Runs the loop until the callback ran (the writer commits in the background). */
static void wait_done(fx *f, done_box *b) {
  for (int i = 0; i < 5000 && b->calls == 0; i++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    if (b->calls == 0)
      uv_sleep(1);
  }
  /* a second call would be a bug: give it a chance to show */
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(b->calls, 1);
}

static done_box publish(fx *f, const char *data_id, const char *tenant, const char *content,
                        const char *cas) {
  done_box b = {0};
  nc_config_publish p = {.key = {data_id, "G", tenant}, .content = content, .cas_md5 = cas,
                         .type = "yaml", .src_ip = "10.0.0.9", .src_user = "ops",
                         .origin = "unit-test"};
  nc_config_publish_op(f->cs, &p, on_done, &b);
  wait_done(f, &b);
  return b;
}

static done_box remove_key(fx *f, const char *data_id, const char *tenant) {
  done_box b = {0};
  nc_config_remove r = {.key = {data_id, "G", tenant}, .src_ip = "10.0.0.9", .origin = "unit-test"};
  nc_config_remove_op(f->cs, &r, on_done, &b);
  wait_done(f, &b);
  return b;
}

static void expect_event(const event *e, char who, const char *data_id, const char *md5) {
  assert_int_equal(e->who, who);
  assert_string_equal(e->data_id, data_id);
  assert_string_equal(e->group, "G");
  assert_string_equal(e->tenant, "");
  if (md5) {
    assert_false(e->removed);
    assert_string_equal(e->md5, md5);
  } else {
    assert_true(e->removed);
  }
}

/* Publishes and removes through the API: the callback reports the commit,
 * get sees it, two listeners (after the built-in gRPC one) hear every
 * change in registration order with the right md5, NULL on removal. */
static void test_publish_get_remove_listeners(void **state) {
  fx *f = *state;
  char md5_1[33], md5_2[33], err[NC_CONFIG_ERR_CAP];
  nc_md5_hex("a: 1", 4, md5_1);
  nc_md5_hex("a: 2", 4, md5_2);
  assert_int_equal(nc_config_add_listener(f->cs, on_change, &la), 0);
  assert_int_equal(nc_config_add_listener(f->cs, on_change, &lb), 0);

  done_box b = publish(f, "app.yaml", "public", "a: 1", NULL);
  assert_int_equal(b.code, 0);
  assert_int_equal(b.existed, 0);
  assert_string_equal(b.md5, md5_1);
  b = publish(f, "app.yaml", NULL, "a: 2", NULL);
  assert_int_equal(b.code, 0);
  assert_int_equal(b.existed, 1);

  const nc_cfg_item *it = NULL;
  nc_config_key k = {"app.yaml", "G", "public"};
  assert_int_equal(nc_config_get(f->cs, &k, &it, err, sizeof(err)), 0);
  assert_string_equal(it->content, "a: 2");
  assert_string_equal(it->md5, md5_2);
  assert_string_equal(it->type, "yaml");
  assert_string_equal(it->tenant, "");
  assert_string_equal(it->src_ip, "10.0.0.9");
  assert_true(it->modified_ms > 0);

  b = remove_key(f, "app.yaml", "");
  assert_int_equal(b.code, 0);
  assert_int_equal(b.existed, 1);
  assert_int_equal(nc_config_get(f->cs, &k, &it, err, sizeof(err)), NC_ENOTFOUND);
  assert_string_equal(err, "config data not exist");
  /* removing what is not there succeeds, says so, and notifies nobody */
  b = remove_key(f, "app.yaml", "");
  assert_int_equal(b.code, 0);
  assert_int_equal(b.existed, 0);

  assert_int_equal(f->n_ev, 6);
  expect_event(&f->ev[0], 'A', "app.yaml", md5_1);
  expect_event(&f->ev[1], 'B', "app.yaml", md5_1);
  expect_event(&f->ev[2], 'A', "app.yaml", md5_2);
  expect_event(&f->ev[3], 'B', "app.yaml", md5_2);
  expect_event(&f->ev[4], 'A', "app.yaml", NULL);
  expect_event(&f->ev[5], 'B', "app.yaml", NULL);

  /* a removed listener hears nothing more; the other still does */
  assert_int_equal(nc_config_remove_listener(f->cs, on_change, &la), 1);
  assert_int_equal(nc_config_remove_listener(f->cs, on_change, &la), 0);
  b = publish(f, "other.yaml", "", "x", NULL);
  assert_int_equal(b.code, 0);
  assert_int_equal(f->n_ev, 7);
  nc_md5_hex("x", 1, md5_1);
  expect_event(&f->ev[6], 'B', "other.yaml", md5_1);
}

/* CAS: a stale md5 is a conflict that changes nothing; the current md5
 * wins. */
static void test_cas(void **state) {
  fx *f = *state;
  char md5[33];
  assert_int_equal(nc_config_add_listener(f->cs, on_change, &la), 0);
  done_box b = publish(f, "cas.yaml", "", "v1", NULL);
  assert_int_equal(b.code, 0);
  char md5_v1[33];
  memcpy(md5_v1, b.md5, sizeof(md5_v1));
  b = publish(f, "cas.yaml", "", "v2", "0123456789abcdef0123456789abcdef");
  assert_int_equal(b.code, NC_ECONFLICT);
  assert_string_equal(b.message, "Cas publish fail, server md5 may have changed.");
  assert_int_equal(f->n_ev, 1);
  b = publish(f, "cas.yaml", "", "v2", md5_v1);
  assert_int_equal(b.code, 0);
  nc_md5_hex("v2", 2, md5);
  assert_int_equal(f->n_ev, 2);
  expect_event(&f->ev[1], 'A', "cas.yaml", md5);
  /* as in Nacos, CAS on a key that does not exist simply inserts it */
  b = publish(f, "nothere.yaml", "", "v", md5_v1);
  assert_int_equal(b.code, 0);
  assert_int_equal(b.existed, 0);
  assert_int_equal(f->n_ev, 3);
}

static void expect_refused(fx *f, const nc_config_publish *p, const char *msg_part) {
  done_box b = {0};
  nc_config_publish_op(f->cs, p, on_done, &b);
  /* refusals are answered before the call returns */
  assert_int_equal(b.calls, 1);
  assert_int_equal(b.code, NC_EINVAL);
  if (!strstr(b.message, msg_part))
    fail_msg("message '%s' lacks '%s'", b.message, msg_part);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(b.calls, 1);
}

/* The validation the gRPC path does, with the same messages, and no state
 * change or notification for a refused write. */
static void test_refusals(void **state) {
  fx *f = *state;
  char err[NC_CONFIG_ERR_CAP];
  assert_int_equal(nc_config_add_listener(f->cs, on_change, &la), 0);
  nc_config_publish p = {.key = {"r.yaml", "G", ""}, .content = "  \t\n"};
  expect_refused(f, &p, "content is blank");
  p.content = NULL;
  expect_refused(f, &p, "content is blank");
  p.content = "0123456789012345678901234567890123456789012345678901234567890123456789";
  expect_refused(f, &p, "content too large: 70 bytes, the limit is 64");
  p.content = "ok";
  p.tag = "canary";
  expect_refused(f, &p, "tag and beta (gray) publishes are not supported");
  p.tag = NULL;
  p.beta_ips = "1.2.3.4";
  expect_refused(f, &p, "gray");
  p.beta_ips = NULL;
  p.key.data_id = "";
  expect_refused(f, &p, "dataId is blank");
  p.key.data_id = "bad key";
  expect_refused(f, &p, "invalid dataId 'bad key'");
  p.key.data_id = "r.yaml";
  p.key.group = NULL;
  expect_refused(f, &p, "group is blank");
  p.key.group = "G";
  p.key.tenant = "bad/tenant";
  expect_refused(f, &p, "invalid tenant");

  done_box b = {0};
  nc_config_remove r = {.key = {"r.yaml", "", ""}};
  nc_config_remove_op(f->cs, &r, on_done, &b);
  assert_int_equal(b.calls, 1);
  assert_int_equal(b.code, NC_EINVAL);
  assert_string_equal(b.message, "group is blank");

  const nc_cfg_item *it;
  nc_config_key k = {"r.yaml", "G", ""};
  assert_int_equal(nc_config_get(f->cs, &k, &it, err, sizeof(err)), NC_ENOTFOUND);
  k.group = "bad group";
  assert_int_equal(nc_config_get(f->cs, &k, &it, err, sizeof(err)), NC_EINVAL);
  assert_non_null(strstr(err, "invalid group"));
  assert_int_equal(f->n_ev, 0);
  assert_int_equal(nc_config_get_stats(f->cs)->configs, 0);
}

/* After nc_config_stop, writes are refused once with NC_ECLOSED. */
static void test_shutting_down(void **state) {
  fx *f = *state;
  done_box b = publish(f, "s.yaml", "", "v", NULL);
  assert_int_equal(b.code, 0);
  nc_config_stop(f->cs);
  memset(&b, 0, sizeof(b));
  nc_config_publish p = {.key = {"s.yaml", "G", ""}, .content = "v2"};
  nc_config_publish_op(f->cs, &p, on_done, &b);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_int_equal(b.calls, 1);
  assert_int_equal(b.code, NC_ECLOSED);
  assert_string_equal(b.message, "server is shutting down");
  memset(&b, 0, sizeof(b));
  nc_config_remove r = {.key = {"s.yaml", "G", ""}};
  nc_config_remove_op(f->cs, &r, on_done, &b);
  assert_int_equal(b.calls, 1);
  assert_int_equal(b.code, NC_ECLOSED);
}

typedef struct hist_box {
  int calls, code;
  char message[128];
  size_t n;
  char ops[8];
} hist_box;

static void on_history(void *ud, int code, const char *message, const nc_cfg_hist *rows, size_t n) {
  hist_box *h = ud;
  h->calls++;
  h->code = code;
  snprintf(h->message, sizeof(h->message), "%s", message ? message : "");
  h->n = n;
  for (size_t i = 0; i < n && i < sizeof(h->ops) - 1; i++)
    h->ops[i] = rows[i].op;
}

/* List pages from the cache and history from the store, without nc_req. */
static void test_list_and_history(void **state) {
  fx *f = *state;
  char err[NC_CONFIG_ERR_CAP];
  const char *ids[] = {"b.yaml", "a.yaml", "c.props", "d.yaml"};
  for (int i = 0; i < 4; i++)
    assert_int_equal(publish(f, ids[i], "", "v", NULL).code, 0);
  assert_int_equal(publish(f, "a.yaml", "", "v2", NULL).code, 0);
  assert_int_equal(remove_key(f, "d.yaml", "").code, 0);

  nc_config_list_page pg;
  nc_config_list_query q = {.data_id = "*.yaml", .page_no = 1, .page_size = 1};
  assert_int_equal(nc_config_list(f->cs, &q, &pg, err, sizeof(err)), 0);
  assert_int_equal(pg.total, 2);
  assert_int_equal(pg.pages, 2);
  assert_int_equal(pg.n, 1);
  assert_string_equal(pg.items[0]->data_id, "a.yaml");
  nc_config_list_page_free(&pg);
  q.page_no = 2;
  assert_int_equal(nc_config_list(f->cs, &q, &pg, err, sizeof(err)), 0);
  assert_int_equal(pg.n, 1);
  assert_string_equal(pg.items[0]->data_id, "b.yaml");
  nc_config_list_page_free(&pg);
  q.page_no = 1000000000000LL; /* far past the end: empty, not an error */
  assert_int_equal(nc_config_list(f->cs, &q, &pg, err, sizeof(err)), 0);
  assert_int_equal(pg.n, 0);
  assert_int_equal(pg.total, 2);
  nc_config_list_page_free(&pg);
  q.page_size = 1001;
  assert_int_equal(nc_config_list(f->cs, &q, &pg, err, sizeof(err)), NC_EINVAL);
  assert_string_equal(err, "pageNo must be >= 1 and pageSize 1-1000");
  q.page_size = 10;
  q.data_id = "a?";
  assert_int_equal(nc_config_list(f->cs, &q, &pg, err, sizeof(err)), NC_EINVAL);

  hist_box h = {0};
  nc_config_key k = {"d.yaml", "G", NULL};
  nc_config_history(f->cs, &k, 30, on_history, &h);
  for (int i = 0; i < 5000 && h.calls == 0; i++) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    if (!h.calls)
      uv_sleep(1);
  }
  assert_int_equal(h.calls, 1);
  assert_int_equal(h.code, 0);
  assert_int_equal(h.n, 2);
  assert_string_equal(h.ops, "DI"); /* newest first */
  memset(&h, 0, sizeof(h));
  nc_config_history(f->cs, &k, 0, on_history, &h);
  assert_int_equal(h.calls, 1);
  assert_int_equal(h.code, NC_EINVAL);
  assert_string_equal(h.message, "pageSize must be 1-1000");
}

/* What the API committed is durable: a restarted service serves it. */
static void test_durable_across_restart(void **state) {
  fx *f = *state;
  char err[NC_CONFIG_ERR_CAP];
  assert_int_equal(publish(f, "keep.yaml", "", "kept", NULL).code, 0);
  close_service(f);
  assert_int_equal(open_service(f, 64), 0);
  const nc_cfg_item *it;
  nc_config_key k = {"keep.yaml", "G", ""};
  assert_int_equal(nc_config_get(f->cs, &k, &it, err, sizeof(err)), 0);
  assert_string_equal(it->content, "kept");
}

/* Writes key straight into the store, as another node sharing it would. */
static void peer_write(fx *f, const char *data_id, const char *content) {
  nc_cfg_store *st;
  nc_cfg_store_opts o = {.data_dir = f->dir};
  assert_int_equal(nc_cfg_store_open(NULL, &o, &st), 0);
  if (content) {
    char md5[33];
    nc_md5_hex(content, strlen(content), md5);
    nc_cfg_write w = {.data_id = data_id, .group = "G", .tenant = "", .content = content,
                      .content_len = strlen(content), .md5 = md5, .ts_ms = 1};
    assert_int_equal(nc_cfg_store_put(st, &w), 0);
  } else {
    int existed = 0;
    assert_int_equal(nc_cfg_store_remove(st, data_id, "G", "", 1, &existed), 0);
    assert_true(existed);
  }
  nc_cfg_store_close(st);
}

static done_box reload(fx *f, const char *data_id) {
  done_box b = {0};
  nc_config_key k = {data_id, "G", "public"};
  nc_config_reload(f->cs, &k, on_done, &b);
  wait_done(f, &b);
  return b;
}

/* Cluster sync: a reload after a peer's write refreshes the cache and
 * notifies the listeners only when the md5 changed or the key came or went. */
static void test_reload(void **state) {
  fx *f = *state;
  char err[NC_CONFIG_ERR_CAP], md5_peer[33];
  const nc_cfg_item *it;
  nc_config_key k = {"peer.yaml", "G", ""};
  assert_int_equal(publish(f, "peer.yaml", "", "mine", NULL).code, 0);
  assert_int_equal(nc_config_add_listener(f->cs, on_change, &la), 0);
  done_box b = reload(f, "peer.yaml"); /* nothing changed */
  assert_int_equal(b.code, 0);
  assert_int_equal(b.existed, 1);
  assert_int_equal(f->n_ev, 0);

  peer_write(f, "peer.yaml", "theirs");
  nc_md5_hex("theirs", 6, md5_peer);
  b = reload(f, "peer.yaml");
  assert_int_equal(b.code, 0);
  assert_string_equal(b.md5, md5_peer);
  assert_int_equal(f->n_ev, 1);
  expect_event(&f->ev[0], 'A', "peer.yaml", md5_peer);
  assert_int_equal(nc_config_get(f->cs, &k, &it, err, sizeof(err)), 0);
  assert_string_equal(it->content, "theirs");

  peer_write(f, "peer.yaml", NULL);
  b = reload(f, "peer.yaml");
  assert_int_equal(b.code, 0);
  assert_int_equal(b.existed, 0);
  assert_int_equal(f->n_ev, 2);
  expect_event(&f->ev[1], 'A', "peer.yaml", NULL);
  assert_int_equal(nc_config_get(f->cs, &k, &it, err, sizeof(err)), NC_ENOTFOUND);
  /* a key neither side has: nothing to say */
  b = reload(f, "peer.yaml");
  assert_int_equal(b.existed, 0);
  assert_int_equal(f->n_ev, 2);
  /* appeared at a peer */
  peer_write(f, "new.yaml", "n");
  b = reload(f, "new.yaml");
  assert_int_equal(f->n_ev, 3);
  assert_string_equal(f->ev[2].data_id, "new.yaml");
  assert_false(f->ev[2].removed);

  memset(&b, 0, sizeof(b));
  k.data_id = "bad key";
  nc_config_reload(f->cs, &k, on_done, &b);
  assert_int_equal(b.calls, 1);
  assert_int_equal(b.code, NC_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_publish_get_remove_listeners, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cas, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shutting_down, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_and_history, setup, teardown),
      cmocka_unit_test_setup_teardown(test_durable_across_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
