/* nc_testwire: the connection, the push record and replies (the typed
 * naming and config requests are in nc_testwire_ops.c). See nc_testwire.h. */
#include "nc_testwire.h"
#include "nc_testwire_int.h"

#include "nc_err.h"
#include "nc_json.h"
#include "nc_testwait.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_PUSHES 100000 /* per client; later ones are counted, not kept */

typedef struct push {
  char type[64];
  char rid[32];
  cJSON *body;
} push;

struct nc_tw {
  nc_wc *wc;
  nc_tw_opts o;
  char ns[128], group[128];
  int timeout_ms;
  pthread_mutex_t mu;
  push *pushes;
  size_t npush, cap;
  int closed;
};

/* Records a push (completion-queue thread). */
static void on_push(void *ud, nc_wc *wc, const nc_msg *m) {
  nc_tw *tw = ud;
  pthread_mutex_lock(&tw->mu);
  if (tw->npush == tw->cap && tw->cap < MAX_PUSHES) {
    size_t cap = tw->cap ? tw->cap * 2 : 64;
    push *np = realloc(tw->pushes, cap * sizeof(*np));
    if (np) {
      tw->pushes = np;
      tw->cap = cap;
    }
  }
  if (tw->npush < tw->cap) {
    push *p = &tw->pushes[tw->npush++];
    snprintf(p->type, sizeof(p->type), "%s", m->type);
    snprintf(p->rid, sizeof(p->rid), "%s", nc_json_str(m->body, "requestId", ""));
    p->body = m->body ? cJSON_Duplicate(m->body, 1) : cJSON_CreateObject();
  }
  pthread_mutex_unlock(&tw->mu);
  if (tw->o.on_push)
    tw->o.on_push(tw->o.ud, wc, m);
}

static void on_closed(void *ud, nc_wc *wc, int status) {
  nc_tw *tw = ud;
  (void)wc;
  (void)status;
  pthread_mutex_lock(&tw->mu);
  tw->closed = 1;
  pthread_mutex_unlock(&tw->mu);
}

int nc_tw_connect(nc_gcli_env *env, const char *target, const nc_tw_opts *o, nc_tw **out) {
  *out = NULL;
  nc_tw *tw = calloc(1, sizeof(*tw));
  if (!tw)
    return NC_ENOMEM;
  if (o)
    tw->o = *o;
  pthread_mutex_init(&tw->mu, NULL);
  snprintf(tw->ns, sizeof(tw->ns), "%s", tw->o.ns ? tw->o.ns : "public");
  snprintf(tw->group, sizeof(tw->group), "%s", tw->o.group ? tw->o.group : "DEFAULT_GROUP");
  tw->timeout_ms = nc_test_timeout_ms(tw->o.timeout_ms > 0 ? tw->o.timeout_ms : 5000);
  nc_wc_opts wo = {.target = target,
                   .module = tw->o.module,
                   .app_name = tw->o.app_name ? tw->o.app_name : "itest",
                   .client_ip = tw->o.client_ip,
                   .tenant = tw->o.tenant,
                   .timeout_ms = tw->timeout_ms,
                   .no_auto_ack = tw->o.no_auto_ack,
                   .access_token = tw->o.access_token,
                   .tls = tw->o.tls,
                   .ability_table = tw->o.ability_table,
                   .setup_ack_as_push = tw->o.ability_table != NULL,
                   .client_version = tw->o.client_version};
  int rc = nc_wc_connect(env, &wo, on_push, on_closed, tw, &tw->wc);
  if (rc) {
    pthread_mutex_destroy(&tw->mu);
    free(tw);
    return rc;
  }
  /* the strings in o are borrowed only for the handshake */
  tw->o.module = tw->o.app_name = tw->o.client_ip = tw->o.tenant = tw->o.access_token = NULL;
  tw->o.ability_table = NULL;
  tw->o.tls = NULL;
  tw->o.client_version = NULL;
  tw->o.ns = tw->ns;
  tw->o.group = tw->group;
  *out = tw;
  return 0;
}

nc_tw *nc_tw_open(nc_gcli_env *env, const char *target, const nc_tw_opts *o) {
  nc_tw *tw = NULL;
  int rc = nc_tw_connect(env, target, o, &tw);
  if (rc)
    fprintf(stderr, "nc_tw: connect to %s failed: %s\n", target, nc_strerror(rc));
  return tw;
}

void nc_tw_close(nc_tw *tw) {
  if (!tw)
    return;
  nc_wc_close(tw->wc); /* no callback after this */
  for (size_t i = 0; i < tw->npush; i++)
    cJSON_Delete(tw->pushes[i].body);
  free(tw->pushes);
  pthread_mutex_destroy(&tw->mu);
  free(tw);
}

nc_wc *nc_tw_wc(const nc_tw *tw) { return tw->wc; }
const char *nc_tw_id(const nc_tw *tw) { return nc_wc_connection_id(tw->wc); }

int nc_tw_closed(nc_tw *tw) {
  pthread_mutex_lock(&tw->mu);
  int c = tw->closed;
  pthread_mutex_unlock(&tw->mu);
  return c;
}

const char *nc_tw__ns(const nc_tw *tw) { return tw ? tw->ns : "public"; }
const char *nc_tw__group(const nc_tw *tw) { return tw ? tw->group : "DEFAULT_GROUP"; }

/* ---- replies ---- */

int nc_tw_ok(const nc_tw_reply *r) { return r->status == 0 && r->result_code == 200; }

nc_tw_reply nc_tw_reply_of(const nc_msg *m) {
  nc_tw_reply r;
  memset(&r, 0, sizeof(r));
  if (!m) {
    r.status = NC_EIO;
    return r;
  }
  snprintf(r.type, sizeof(r.type), "%s", m->type);
  r.result_code = (int)nc_json_int(m->body, "resultCode", 0);
  r.error_code = (int)nc_json_int(m->body, "errorCode", 0);
  r.success = nc_json_bool(m->body, "success", 0);
  snprintf(r.message, sizeof(r.message), "%s", nc_json_str(m->body, "message", ""));
  return r;
}

void nc_tw_expect_ok(nc_tw_reply r, const char *type) {
  assert_int_equal(r.status, 0);
  assert_string_equal(r.type, type);
  assert_int_equal(r.result_code, 200);
  assert_int_equal(r.error_code, 0);
  assert_true(r.success);
}

void nc_tw_expect_fail(nc_tw_reply r, const char *type, int error_code, const char *msg_part) {
  assert_int_equal(r.status, 0);
  assert_string_equal(r.type, type);
  assert_int_equal(r.result_code, 500);
  assert_int_equal(r.error_code, error_code);
  assert_false(r.success);
  if (msg_part && !strstr(r.message, msg_part)) {
    print_error("message '%s' lacks '%s'\n", r.message, msg_part);
    fail();
  }
}

nc_msg *nc_tw_call(nc_tw *tw, const char *type, cJSON *body) {
  nc_msg *resp = NULL;
  if (!body)
    body = cJSON_CreateObject();
  int rc = nc_wc_request(tw->wc, type, body, tw->timeout_ms, &resp);
  cJSON_Delete(body);
  if (rc) {
    fprintf(stderr, "nc_tw: %s failed: %s\n", type, nc_strerror(rc));
    return NULL;
  }
  return resp;
}

nc_tw_reply nc_tw_call_reply(nc_tw *tw, const char *type, cJSON *body) {
  nc_msg *m = nc_tw_call(tw, type, body);
  nc_tw_reply r = nc_tw_reply_of(m);
  nc_msg_free(m);
  return r;
}

/* ---- pushes ---- */

static int matches(const push *p, const char *type, nc_tw__match_fn match, const void *arg) {
  return (!type || strcmp(p->type, type) == 0) && (!match || match(p->body, arg));
}

/* Position in tw->pushes of the index-th matching push (negative: from the
 * end), or -1; the number of matching pushes into *count (may be NULL).
 * Call with mu held. */
static long find_push(const nc_tw *tw, const char *type, nc_tw__match_fn match, const void *arg,
                      int index, int *count) {
  int n = 0;
  for (size_t i = 0; i < tw->npush; i++)
    n += matches(&tw->pushes[i], type, match, arg);
  if (count)
    *count = n;
  int want = index >= 0 ? index : n + index, k = 0;
  for (size_t i = 0; i < tw->npush && want >= 0 && want < n; i++)
    if (matches(&tw->pushes[i], type, match, arg) && k++ == want)
      return (long)i;
  return -1;
}

int nc_tw__push_match_count(nc_tw *tw, const char *type, nc_tw__match_fn match,
                            const void *arg) {
  int n = 0;
  pthread_mutex_lock(&tw->mu);
  find_push(tw, type, match, arg, 0, &n);
  pthread_mutex_unlock(&tw->mu);
  return n;
}

cJSON *nc_tw__push_match_get(nc_tw *tw, const char *type, nc_tw__match_fn match,
                             const void *arg, int index, char *rid, size_t cap) {
  cJSON *out = NULL;
  pthread_mutex_lock(&tw->mu);
  long i = find_push(tw, type, match, arg, index, NULL);
  if (i >= 0) {
    out = cJSON_Duplicate(tw->pushes[i].body, 1);
    if (rid)
      snprintf(rid, cap, "%s", tw->pushes[i].rid);
  }
  pthread_mutex_unlock(&tw->mu);
  return out;
}

int nc_tw__wait_match(nc_tw *tw, const char *type, nc_tw__match_fn match, const void *arg,
                      int want, int timeout_ms) {
  long long took;
  NC_TEST_POLL(nc_tw__push_match_count(tw, type, match, arg) >= want, timeout_ms, took);
  (void)took;
  return nc_tw__push_match_count(tw, type, match, arg);
}

int nc_tw_push_count(nc_tw *tw, const char *type) {
  return nc_tw__push_match_count(tw, type, NULL, NULL);
}

int nc_tw_wait_pushes(nc_tw *tw, const char *type, int want, int timeout_ms) {
  return nc_tw__wait_match(tw, type, NULL, NULL, want, timeout_ms);
}

cJSON *nc_tw_push_get(nc_tw *tw, const char *type, int index, char *rid, size_t cap) {
  return nc_tw__push_match_get(tw, type, NULL, NULL, index, rid, cap);
}

int nc_tw_ack(nc_tw *tw, const char *resp_type, const char *rid, int ok) {
  return nc_wc_ack(tw->wc, resp_type, rid, ok);
}
