/* The fuzzy-watch engine (srv_fuzzy.c, srv_fuzzy_push.c) on a fake
 * transport: what a WATCH syncs (batches, FINISH only after every initial
 * batch was acked, diffs against the client's keys), the change
 * notifications, the two limits with Nacos's codes, cancel and connection
 * loss, and retries (timeout -> sent again; too many -> connection dropped;
 * connection gone -> forgotten). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nc_err.h"
#include "nc_json.h"
#include "srv_fuzzy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a fake world: resources and a transport that records pushes ---- */

#define MAX_RES 32
#define MAX_PUSH 64

typedef struct res {
  char ns[16], group[32], name[32];
  int exists;
} res;

typedef struct push {
  char conn[32], type[64];
  cJSON *body;
  nc_push_cb cb;
  void *cbud;
  int done;
} push;

typedef struct world {
  uv_loop_t loop;
  res r[MAX_RES];
  int nres;
  push p[MAX_PUSH];
  int npush;
  int refuse; /* send returns this */
  char dropped[32];
  int drops;
  nc_fz *fz;
} world;

static void key_of(const res *r, char *buf, size_t cap) {
  snprintf(buf, cap, "%s@@%s@@%s", r->ns, r->group, r->name);
}

static void each(void *ud, const char *ns, nc_fz_emit_fn emit, void *ctx) {
  world *w = ud;
  char key[128];
  for (int i = 0; i < w->nres; i++)
    if (w->r[i].exists && strcmp(w->r[i].ns, ns) == 0) {
      key_of(&w->r[i], key, sizeof(key));
      emit(ctx, key, w->r[i].ns, w->r[i].group, w->r[i].name);
    }
}

static int fake_send(void *ud, const char *conn, const char *type, const char *json, size_t len,
                     int timeout_ms, nc_push_cb cb, void *cbud) {
  world *w = ud;
  (void)timeout_ms;
  if (w->refuse)
    return w->refuse;
  assert_true(w->npush < MAX_PUSH);
  push *p = &w->p[w->npush++];
  snprintf(p->conn, sizeof(p->conn), "%s", conn);
  snprintf(p->type, sizeof(p->type), "%s", type);
  p->body = cJSON_ParseWithLength(json, len);
  assert_non_null(p->body);
  p->cb = cb;
  p->cbud = cbud;
  return 0;
}

static void fake_drop(void *ud, const char *conn, const char *why) {
  world *w = ud;
  (void)why;
  snprintf(w->dropped, sizeof(w->dropped), "%s", conn);
  w->drops++;
  nc_fz_conn_down(w->fz, conn); /* what the core's DOWN listener does */
}

static void add_res(world *w, const char *ns, const char *group, const char *name, int tell) {
  res *r = &w->r[w->nres++];
  snprintf(r->ns, sizeof(r->ns), "%s", ns);
  snprintf(r->group, sizeof(r->group), "%s", group);
  snprintf(r->name, sizeof(r->name), "%s", name);
  r->exists = 1;
  if (tell) {
    char key[128];
    key_of(r, key, sizeof(key));
    nc_fz_changed(w->fz, key, ns, group, name, 1);
  }
}

static void del_res(world *w, int i) {
  char key[128];
  w->r[i].exists = 0;
  key_of(&w->r[i], key, sizeof(key));
  nc_fz_changed(w->fz, key, w->r[i].ns, w->r[i].group, w->r[i].name, 0);
}

/* The config kind (no notify syncType, "changeType", CONFIG_CHANGED for an
 * appearance) with retries after attempts x retry_ms. */
static const nc_fz_kind config_kind = {.module = "config",
                                       .sync_type = "ConfigFuzzyWatchSyncRequest",
                                       .notify_type = "ConfigFuzzyWatchChangeNotifyRequest",
                                       .key_field = "groupKey",
                                       .notify_field = "changeType",
                                       .add = "ADD_CONFIG",
                                       .del = "DELETE_CONFIG",
                                       .notify_add = "CONFIG_CHANGED",
                                       .batch = 20};

static world *world_new_kind(const nc_fz_kind *kind, int max_patterns, int max_matches,
                             int max_attempts);

static world *world_new(int max_patterns, int max_matches, int max_attempts) {
  return world_new_kind(NULL, max_patterns, max_matches, max_attempts);
}

static world *world_new_kind(const nc_fz_kind *kind, int max_patterns, int max_matches,
                             int max_attempts) {
  world *w = calloc(1, sizeof(*w));
  assert_non_null(w);
  assert_int_equal(uv_loop_init(&w->loop), 0);
  nc_fz_kind k = {.module = "naming",
                  .sync_type = "NamingFuzzyWatchSyncRequest",
                  .notify_type = "NamingFuzzyWatchChangeNotifyRequest",
                  .key_field = "serviceKey",
                  .notify_field = "changedType",
                  .notify_sync = "FUZZY_WATCH_RESOURCE_CHANGED",
                  .add = "ADD_SERVICE",
                  .del = "DELETE_SERVICE",
                  .notify_add = "ADD_SERVICE",
                  .batch = 2,
                  .each = each,
                  .ud = w};
  if (kind) {
    k = *kind;
    k.each = each;
    k.ud = w;
  }
  nc_fz_opts o = {.max_patterns = max_patterns,
                  .max_matches = max_matches,
                  .timeout_ms = 1000,
                  .retry_ms = 20,
                  .backoff = kind != NULL,
                  .max_attempts = max_attempts,
                  .send = fake_send,
                  .drop = fake_drop,
                  .send_ud = w};
  assert_int_equal(nc_fz_new(&w->loop, NULL, &k, &o, &w->fz), 0);
  return w;
}

/* Resolves every push still open as res (the core's GONE at shutdown). */
static void settle(world *w, int upto, nc_push_result r) {
  for (int i = 0; i < upto && i < w->npush; i++)
    if (!w->p[i].done) {
      w->p[i].done = 1;
      w->p[i].cb(w->p[i].cbud, w->p[i].conn, r);
    }
}

static void world_free(world *w) {
  settle(w, w->npush, NC_PUSH_GONE);
  nc_fz_free(w->fz);
  uv_run(&w->loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(&w->loop), 0);
  for (int i = 0; i < w->npush; i++)
    cJSON_Delete(w->p[i].body);
  free(w);
}

static void ack(world *w, int i, nc_push_result r) {
  assert_true(i < w->npush);
  assert_false(w->p[i].done);
  w->p[i].done = 1;
  w->p[i].cb(w->p[i].cbud, w->p[i].conn, r);
}

static const char *sync_type(world *w, int i) { return nc_json_str(w->p[i].body, "syncType", ""); }

static int n_contexts(world *w, int i) {
  return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(w->p[i].body, "contexts"));
}

/* How many contexts of push i have changedType type. */
static int contexts_of(world *w, int i, const char *type) {
  int n = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(w->p[i].body, "contexts")) {
    if (strcmp(nc_json_str(c, "changedType", ""), type) == 0)
      n++;
  }
  return n;
}

#define PAT "public>>DEFAULT_GROUP>>svc-*"

/* ---- tests ---- */

static void test_initial_sync_in_batches_then_finish(void **state) {
  (void)state;
  world *w = world_new(20, 500, 0);
  add_res(w, "public", "DEFAULT_GROUP", "svc-a", 0);
  add_res(w, "public", "DEFAULT_GROUP", "svc-b", 0);
  add_res(w, "public", "DEFAULT_GROUP", "svc-c", 0);
  add_res(w, "public", "DEFAULT_GROUP", "other", 0);
  add_res(w, "dev", "DEFAULT_GROUP", "svc-d", 0);
  add_res(w, "public", "G2", "svc-e", 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", PAT, NULL, 1), 0);
  assert_int_equal(nc_fz_matched(w->fz, PAT), 3);
  assert_int_equal(w->npush, 2); /* 3 keys in batches of 2 */
  for (int i = 0; i < 2; i++) {
    assert_string_equal(w->p[i].type, "NamingFuzzyWatchSyncRequest");
    assert_string_equal(sync_type(w, i), "FUZZY_WATCH_INIT_NOTIFY");
    assert_string_equal(nc_json_str(w->p[i].body, "groupKeyPattern", ""), PAT);
    assert_string_equal(nc_json_str(w->p[i].body, "module", ""), "naming");
    assert_int_equal(nc_json_int(w->p[i].body, "totalBatch", 0), 2);
    assert_int_equal(nc_json_int(w->p[i].body, "currentBatch", 0), i + 1);
  }
  assert_int_equal(contexts_of(w, 0, "ADD_SERVICE") + contexts_of(w, 1, "ADD_SERVICE"), 3);
  const cJSON *c0 =
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(w->p[0].body, "contexts"), 0);
  assert_string_equal(nc_json_str(c0, "serviceKey", ""), "public@@DEFAULT_GROUP@@svc-a");
  /* FINISH only after both batches were acked, in any order */
  ack(w, 1, NC_PUSH_ACKED);
  assert_int_equal(w->npush, 2);
  ack(w, 0, NC_PUSH_ACKED);
  assert_int_equal(w->npush, 3);
  assert_string_equal(sync_type(w, 2), "FINISH_FUZZY_WATCH_INIT_NOTIFY");
  assert_int_equal(n_contexts(w, 2), 0);
  ack(w, 2, NC_PUSH_ACKED);
  nc_fz_stats st;
  nc_fz_get_stats(w->fz, &st);
  assert_int_equal(st.patterns, 1);
  assert_int_equal(st.watches, 1);
  assert_int_equal(st.matched_keys, 3);
  assert_int_equal(st.acked, 3);
  world_free(w);
}

static void test_no_match_initial_is_finish_only_diff_is_nothing(void **state) {
  (void)state;
  world *w = world_new(20, 500, 0);
  add_res(w, "public", "DEFAULT_GROUP", "other", 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", PAT, NULL, 1), 0);
  assert_int_equal(w->npush, 1);
  assert_string_equal(sync_type(w, 0), "FINISH_FUZZY_WATCH_INIT_NOTIFY");
  assert_int_equal(nc_fz_watch(w->fz, "c1", PAT, NULL, 0), 0); /* the periodic re-sync */
  assert_int_equal(w->npush, 1);
  world_free(w);
}

static void test_diff_sync_against_received_keys(void **state) {
  (void)state;
  world *w = world_new(20, 500, 0);
  add_res(w, "public", "DEFAULT_GROUP", "svc-a", 0);
  add_res(w, "public", "DEFAULT_GROUP", "svc-b", 0);
  cJSON *rk =
      cJSON_Parse("[\"public@@DEFAULT_GROUP@@svc-a\",\"public@@DEFAULT_GROUP@@svc-gone\",7]");
  assert_int_equal(nc_fz_watch(w->fz, "c1", PAT, rk, 0), 0);
  cJSON_Delete(rk);
  assert_int_equal(w->npush, 1);
  assert_string_equal(sync_type(w, 0), "FUZZY_WATCH_DIFF_SYNC_NOTIFY");
  assert_int_equal(n_contexts(w, 0), 2);
  assert_int_equal(contexts_of(w, 0, "ADD_SERVICE"), 1);
  assert_int_equal(contexts_of(w, 0, "DELETE_SERVICE"), 1);
  ack(w, 0, NC_PUSH_ACKED);
  assert_int_equal(w->npush, 1); /* no FINISH for a diff sync */
  world_free(w);
}

static void test_changes_notify_watchers_of_matching_patterns(void **state) {
  (void)state;
  world *w = world_new(20, 500, 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", PAT, NULL, 1), 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", "public>>*>>*", NULL, 1), 0);
  assert_int_equal(nc_fz_watch(w->fz, "c2", "public>>*>>other*", NULL, 1), 0);
  int base = w->npush; /* three FINISHes */
  assert_int_equal(base, 3);
  add_res(w, "public", "DEFAULT_GROUP", "svc-new", 1);
  assert_int_equal(w->npush, base + 1); /* c1 once although two patterns match */
  assert_string_equal(w->p[base].conn, "c1");
  assert_string_equal(w->p[base].type, "NamingFuzzyWatchChangeNotifyRequest");
  assert_string_equal(nc_json_str(w->p[base].body, "serviceKey", ""),
                      "public@@DEFAULT_GROUP@@svc-new");
  assert_string_equal(nc_json_str(w->p[base].body, "changedType", ""), "ADD_SERVICE");
  assert_string_equal(sync_type(w, base), "FUZZY_WATCH_RESOURCE_CHANGED");
  /* known already: nothing; another namespace: nothing */
  char key[128];
  key_of(&w->r[0], key, sizeof(key));
  nc_fz_changed(w->fz, key, "public", "DEFAULT_GROUP", "svc-new", 1);
  add_res(w, "dev", "DEFAULT_GROUP", "svc-dev", 1);
  assert_int_equal(w->npush, base + 1);
  del_res(w, 0);
  assert_int_equal(w->npush, base + 2);
  assert_string_equal(nc_json_str(w->p[base + 1].body, "changedType", ""), "DELETE_SERVICE");
  del_res(w, 0); /* gone already */
  assert_int_equal(w->npush, base + 2);
  add_res(w, "public", "X", "other-1", 1);
  assert_int_equal(w->npush, base + 4); /* c2 and c1 (public>>*>>*) */
  world_free(w);
}

static void test_pattern_limit_per_connection(void **state) {
  (void)state;
  world *w = world_new(2, 500, 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", "public>>g>>a*", NULL, 1), 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", "public>>g>>b*", NULL, 1), 0);
  int before = w->npush;
  assert_int_equal(nc_fz_watch(w->fz, "c1", "public>>g>>c*", NULL, 1), NC_FZ_ERR_PATTERNS);
  assert_int_equal(w->npush, before); /* nothing sent, nothing kept */
  assert_false(nc_fz_watching(w->fz, "c1", "public>>g>>c*"));
  assert_int_equal(nc_fz_matched(w->fz, "public>>g>>c*"), -1);
  /* a pattern it has is watched again; another connection has its own */
  assert_int_equal(nc_fz_watch(w->fz, "c1", "public>>g>>a*", NULL, 0), 0);
  assert_int_equal(nc_fz_watch(w->fz, "c2", "public>>g>>c*", NULL, 1), 0);
  /* a cancel makes room */
  assert_int_equal(nc_fz_cancel(w->fz, "c1", "public>>g>>b*"), 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", "public>>g>>c*", NULL, 1), 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", "bad pattern", NULL, 1), NC_EINVAL);
  nc_fz_stats st;
  nc_fz_get_stats(w->fz, &st);
  assert_int_equal(st.refused_patterns, 1);
  assert_int_equal(st.watches, 3);
  assert_int_equal(st.patterns, 2);
  world_free(w);
}

static void test_match_limit_caps_and_makes_up(void **state) {
  (void)state;
  world *w = world_new(20, 2, 0);
  add_res(w, "public", "DEFAULT_GROUP", "svc-a", 0);
  add_res(w, "public", "DEFAULT_GROUP", "svc-b", 0);
  add_res(w, "public", "DEFAULT_GROUP", "svc-c", 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", PAT, NULL, 1), NC_FZ_ERR_MATCHES);
  assert_true(nc_fz_watching(w->fz, "c1", PAT)); /* watching anyway, as Nacos */
  assert_int_equal(nc_fz_matched(w->fz, PAT), 2);
  assert_int_equal(w->npush, 1);
  assert_int_equal(n_contexts(w, 0), 2);
  ack(w, 0, NC_PUSH_ACKED); /* -> FINISH */
  int base = w->npush;
  add_res(w, "public", "DEFAULT_GROUP", "svc-d", 1); /* over the cap: not reported */
  assert_int_equal(w->npush, base);
  del_res(w, 0);                                     /* svc-a goes: c or d fills in */
  assert_int_equal(w->npush, base + 1);
  assert_string_equal(nc_json_str(w->p[base].body, "changedType", ""), "DELETE_SERVICE");
  assert_int_equal(nc_fz_matched(w->fz, PAT), 2);
  /* a capped set is not the full set: no DELETE for keys the client has */
  cJSON *rk = cJSON_Parse("[\"public@@DEFAULT_GROUP@@svc-zzz\"]");
  assert_int_equal(nc_fz_watch(w->fz, "c1", PAT, rk, 0), NC_FZ_ERR_MATCHES);
  cJSON_Delete(rk);
  assert_int_equal(contexts_of(w, w->npush - 1, "DELETE_SERVICE"), 0);
  world_free(w);
}

static void test_cancel_and_conn_down_stop_everything(void **state) {
  (void)state;
  world *w = world_new(20, 500, 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", PAT, NULL, 1), 0);
  assert_int_equal(nc_fz_watch(w->fz, "c2", PAT, NULL, 1), 0);
  int base = w->npush;
  assert_int_equal(nc_fz_cancel(w->fz, "c1", PAT), 0);
  assert_int_equal(nc_fz_cancel(w->fz, "c1", PAT), 0); /* twice is fine */
  add_res(w, "public", "DEFAULT_GROUP", "svc-x", 1);
  assert_int_equal(w->npush, base + 1);
  assert_string_equal(w->p[base].conn, "c2");
  nc_fz_conn_down(w->fz, "c2");
  assert_int_equal(nc_fz_matched(w->fz, PAT), -1); /* nobody watches: forgotten */
  add_res(w, "public", "DEFAULT_GROUP", "svc-y", 1);
  assert_int_equal(w->npush, base + 1);
  nc_fz_stats st;
  nc_fz_get_stats(w->fz, &st);
  assert_int_equal(st.patterns + st.watches + st.conns + st.matched_keys, 0);
  world_free(w);
}

static void run_until(world *w, int npush, int ms) {
  for (int t = 0; t < ms && w->npush < npush; t += 5) {
    uv_run(&w->loop, UV_RUN_NOWAIT);
    uv_sleep(5);
    uv_update_time(&w->loop);
  }
  uv_run(&w->loop, UV_RUN_NOWAIT);
}

static void test_unacked_push_is_retried_then_connection_dropped(void **state) {
  (void)state;
  world *w = world_new(20, 500, 3);
  add_res(w, "public", "DEFAULT_GROUP", "svc-a", 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", PAT, NULL, 1), 0);
  assert_int_equal(w->npush, 1);
  ack(w, 0, NC_PUSH_TIMEOUT);
  run_until(w, 2, 2000);
  assert_int_equal(w->npush, 2); /* the same batch again */
  assert_string_equal(sync_type(w, 1), "FUZZY_WATCH_INIT_NOTIFY");
  ack(w, 1, NC_PUSH_NACKED);
  run_until(w, 3, 2000);
  assert_int_equal(w->npush, 3);
  ack(w, 2, NC_PUSH_BUSY); /* third failure: max_attempts 3 */
  assert_int_equal(w->drops, 1);
  assert_string_equal(w->dropped, "c1");
  assert_false(nc_fz_watching(w->fz, "c1", PAT));
  nc_fz_stats st;
  nc_fz_get_stats(w->fz, &st);
  assert_int_equal(st.retried, 2);
  assert_int_equal(st.failed, 1);
  world_free(w);
}

static void test_refused_send_waits_and_gone_is_forgotten(void **state) {
  (void)state;
  world *w = world_new(20, 500, 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", PAT, NULL, 1), 0);
  ack(w, 0, NC_PUSH_ACKED);
  w->refuse = NC_EBUSY; /* stream full: kept for a retry */
  add_res(w, "public", "DEFAULT_GROUP", "svc-a", 1);
  assert_int_equal(w->npush, 1);
  w->refuse = 0;
  run_until(w, 2, 2000);
  assert_int_equal(w->npush, 2);
  assert_string_equal(w->p[1].type, "NamingFuzzyWatchChangeNotifyRequest");
  ack(w, 1, NC_PUSH_GONE); /* gone: not retried */
  run_until(w, 3, 100);
  assert_int_equal(w->npush, 2);
  /* a retry for a connection that then went is dropped with it */
  w->refuse = NC_EBUSY;
  add_res(w, "public", "DEFAULT_GROUP", "svc-b", 1);
  w->refuse = 0;
  nc_fz_conn_down(w->fz, "c1");
  run_until(w, 3, 100);
  assert_int_equal(w->npush, 2);
  world_free(w);
}

static void test_notifies_to_a_stuck_connection_are_bounded(void **state) {
  (void)state;
  world *w = world_new(20, -1, 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", "public>>g>>*", NULL, 1), 0);
  ack(w, 0, NC_PUSH_ACKED);
  w->refuse = NC_EBUSY; /* every notify waits for a retry */
  char key[64];
  for (int i = 0; i < NC_FZ_MAX_PENDING + 5; i++) {
    snprintf(key, sizeof(key), "public@@g@@s%d", i);
    nc_fz_changed(w->fz, key, "public", "g", key + 11, 1);
  }
  nc_fz_stats st;
  nc_fz_get_stats(w->fz, &st);
  assert_int_equal(st.notifies_sent, NC_FZ_MAX_PENDING);
  assert_int_equal(st.notifies_dropped, 5);
  assert_int_equal(st.matched_keys, NC_FZ_MAX_PENDING + 5); /* the set is still right */
  /* the connection goes: its waiting pushes with it, the count too */
  nc_fz_conn_down(w->fz, "c1");
  w->refuse = 0;
  assert_int_equal(nc_fz_watch(w->fz, "c1", "public>>g>>x", NULL, 1), 0);
  add_res(w, "public", "g", "x", 1);
  assert_string_equal(w->p[w->npush - 1].type, "NamingFuzzyWatchChangeNotifyRequest");
  world_free(w);
}

static void test_config_kind_notifies_and_backs_off(void **state) {
  (void)state;
  world *w = world_new_kind(&config_kind, 20, 500, 0);
  assert_int_equal(nc_fz_watch(w->fz, "c1", "public>>DEFAULT_GROUP>>app*", NULL, 1), 0);
  assert_string_equal(w->p[0].type, "ConfigFuzzyWatchSyncRequest");
  assert_string_equal(nc_json_str(w->p[0].body, "module", ""), "config");
  ack(w, 0, NC_PUSH_ACKED);
  add_res(w, "public", "DEFAULT_GROUP", "app.yaml", 1);
  assert_int_equal(w->npush, 2);
  assert_string_equal(w->p[1].type, "ConfigFuzzyWatchChangeNotifyRequest");
  assert_string_equal(nc_json_str(w->p[1].body, "changeType", ""), "CONFIG_CHANGED");
  assert_false(cJSON_HasObjectItem(w->p[1].body, "syncType"));
  assert_false(cJSON_HasObjectItem(w->p[1].body, "changedType"));
  /* sent again after each timeout (waits of 1 x and 2 x 20 ms, seen through
   * the 100 ms retry tick, so only "not at once" is checked) */
  ack(w, 1, NC_PUSH_TIMEOUT);
  uint64_t t0 = uv_hrtime();
  run_until(w, 3, 2000);
  ack(w, 2, NC_PUSH_TIMEOUT);
  run_until(w, 4, 2000);
  assert_int_equal(w->npush, 4);
  assert_true((uv_hrtime() - t0) / 1000000 >= 40);
  ack(w, 3, NC_PUSH_ACKED);
  del_res(w, 0);
  assert_string_equal(nc_json_str(w->p[4].body, "changeType", ""), "DELETE_CONFIG");
  world_free(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_initial_sync_in_batches_then_finish),
      cmocka_unit_test(test_no_match_initial_is_finish_only_diff_is_nothing),
      cmocka_unit_test(test_diff_sync_against_received_keys),
      cmocka_unit_test(test_changes_notify_watchers_of_matching_patterns),
      cmocka_unit_test(test_pattern_limit_per_connection),
      cmocka_unit_test(test_match_limit_caps_and_makes_up),
      cmocka_unit_test(test_cancel_and_conn_down_stop_everything),
      cmocka_unit_test(test_unacked_push_is_retried_then_connection_dropped),
      cmocka_unit_test(test_refused_send_waits_and_gone_is_forgotten),
      cmocka_unit_test(test_notifies_to_a_stuck_connection_are_bounded),
      cmocka_unit_test(test_config_kind_notifies_and_backs_off),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
