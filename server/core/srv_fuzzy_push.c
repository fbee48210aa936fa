/* srv_fuzzy_push: the fuzzy-watch pushes (sync batches, FINISH, change
 * notifications), their acks and retries, the WATCH / CANCEL_WATCH
 * request handler and the metrics (see srv_fuzzy.h).
 *
 * A push is SENT (waiting for its ack on f->flying) or WAITING (on
 * f->waiting until its retry time). On ack it is freed (an initial sync's
 * last acked batch sends FINISH); on timeout, refusal or a busy stream it
 * waits retry_ms (x attempts with backoff) and goes again, while the
 * connection still watches; a push nobody wants any more is dropped. One
 * timer per engine, armed only while something waits. */
#include "srv_fuzzy_int.h"

#include "nc_err.h"
#include "nc_log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 100

static void unlink_push(fz_push **head, fz_push *p) {
  if (p->prev)
    p->prev->next = p->next;
  else if (*head == p)
    *head = p->next;
  if (p->next)
    p->next->prev = p->prev;
  p->prev = p->next = NULL;
}

static void link_push(fz_push **head, fz_push *p) {
  p->prev = NULL;
  p->next = *head;
  if (*head)
    (*head)->prev = p;
  *head = p;
}

/* Counts conn's pushes up (d = 1) or down (-1); the new count. */
static size_t count_pending(nc_fz *f, const char *conn, int d) {
  size_t n = (size_t)(uintptr_t)nc_strmap_get(f->pending, conn);
  n = d > 0 ? n + 1 : n ? n - 1 : 0;
  if (n == 0)
    nc_strmap_del(f->pending, conn);
  else if (nc_strmap_put(f->pending, conn, (void *)(uintptr_t)n, NULL))
    n = 0; /* OOM: uncounted, which only loosens the cap */
  return n;
}

static void push_free(fz_push *p) {
  if (!p)
    return;
  if (p->f && p->conn_id)
    count_pending(p->f, p->conn_id, -1);
  if (p->init && --p->init->refs == 0)
    free(p->init);
  free(p->conn_id);
  free(p->pattern);
  free(p->json);
  free(p);
}

/* Still worth sending: the connection watches the sync's pattern, or (a
 * notify) anything. */
static int wanted(const nc_fz *f, const fz_push *p) {
  if (p->pattern)
    return nc_fz__conn_watches(f, p->conn_id, p->pattern);
  return nc_strmap_get(f->conns, p->conn_id) != NULL;
}

static void on_ack(void *ud, const char *conn_id, nc_push_result res);
static void wait_retry(nc_fz *f, fz_push *p);

/* Sends p (it is SENT after, or WAITING / freed when sending failed). */
static void send_push(nc_fz *f, fz_push *p) {
  p->attempts++;
  link_push(&f->flying, p);
  int rc = f->o.send ? f->o.send(f->o.send_ud, p->conn_id, p->type, p->json, p->len,
                                 f->o.timeout_ms, on_ack, p)
                     : nc_srv_push_raw(f->srv, p->conn_id, p->type, p->json, p->len,
                                       f->o.timeout_ms, on_ack, p);
  if (rc == 0)
    return;
  unlink_push(&f->flying, p);
  if (rc == NC_ECLOSED) {
    push_free(p); /* the connection is gone; its DOWN cleans the rest */
    return;
  }
  wait_retry(f, p);
}

static void on_timer(uv_timer_t *t) {
  nc_fz *f = t->data;
  uint64_t now = uv_now(f->loop);
  /* Take the due ones out first: a send can drop a connection, whose DOWN
   * frees that connection's WAITING pushes. */
  fz_push *due = NULL, *p = f->waiting, *next;
  for (; p; p = next) {
    next = p->next;
    if (p->due <= now) {
      unlink_push(&f->waiting, p);
      link_push(&due, p);
    }
  }
  for (p = due; p; p = next) {
    next = p->next;
    p->prev = p->next = NULL;
    if (!wanted(f, p)) {
      push_free(p);
      continue;
    }
    f->st.retried++;
    send_push(f, p);
  }
  /* send_push may have linked new WAITING pushes at the head: next time */
  if (!f->waiting)
    uv_timer_stop(f->timer);
}

static void wait_retry(nc_fz *f, fz_push *p) {
  if (!wanted(f, p)) {
    push_free(p);
    return;
  }
  if (f->o.max_attempts > 0 && p->attempts >= f->o.max_attempts) {
    char *conn = strdup(p->conn_id);
    nc_warn("fuzzy %s: %s to conn %s not acked after %d attempts: dropping the connection",
            f->kind.module, p->type, conn, p->attempts);
    f->st.failed++;
    f->st.drops++;
    push_free(p);
    if (!conn)
      return;
    if (f->o.drop)
      f->o.drop(f->o.send_ud, conn, "fuzzy watch push not acked");
    else
      nc_srv_drop_conn(f->srv, conn, "fuzzy watch push not acked");
    free(conn);
    return;
  }
  uint64_t wait = (uint64_t)f->o.retry_ms * (uint64_t)(f->o.backoff ? p->attempts : 1);
  p->due = uv_now(f->loop) + wait;
  link_push(&f->waiting, p);
  if (!uv_is_active((uv_handle_t *)f->timer))
    uv_timer_start(f->timer, on_timer, TICK_MS, TICK_MS);
}

static void on_ack(void *ud, const char *conn_id, nc_push_result res) {
  fz_push *p = ud;
  nc_fz *f = p->f;
  (void)conn_id;
  if (!f) { /* the engine went first */
    push_free(p);
    return;
  }
  unlink_push(&f->flying, p);
  if (res == NC_PUSH_GONE) {
    push_free(p);
    return;
  }
  if (res != NC_PUSH_ACKED) {
    nc_debug("fuzzy %s: %s to conn %s: %s, retrying", f->kind.module, p->type, p->conn_id,
             res == NC_PUSH_TIMEOUT ? "no ack" : res == NC_PUSH_BUSY ? "stream busy" : "refused");
    wait_retry(f, p);
    return;
  }
  f->st.acked++;
  fz_init *in = p->init;
  if (in && ++in->acked == in->total && wanted(f, p)) {
    fz_pat *pat = nc_strmap_get(f->pats, p->pattern);
    if (pat && nc_fz__push_sync(f, p->conn_id, pat, "FINISH_FUZZY_WATCH_INIT_NOTIFY", NULL, 0, 0,
                                NULL))
      nc_warn("fuzzy %s: FINISH of %s to conn %s not sent", f->kind.module, p->pattern,
              p->conn_id);
  }
  push_free(p);
}

/* Queues body (consumed) as a new push and sends it. */
static int start(nc_fz *f, const char *conn, const char *pattern, const char *type, cJSON *body,
                 fz_init *init) {
  fz_push *p = calloc(1, sizeof(*p));
  if (!p || !body || !cJSON_AddStringToObject(body, "module", f->kind.module) ||
      !cJSON_AddObjectToObject(body, "headers") || !(p->conn_id = strdup(conn)) ||
      (pattern && !(p->pattern = strdup(pattern))) || !(p->json = cJSON_PrintUnformatted(body))) {
    cJSON_Delete(body);
    push_free(p);
    return NC_ENOMEM;
  }
  cJSON_Delete(body);
  p->f = f;
  p->type = type;
  p->len = strlen(p->json);
  count_pending(f, conn, 1);
  if ((p->init = init))
    init->refs++;
  send_push(f, p);
  return 0;
}

int nc_fz__push_sync(nc_fz *f, const char *conn, const fz_pat *pat, const char *sync_type,
                     cJSON *contexts, int total, int current, fz_init *init) {
  cJSON *b = cJSON_CreateObject();
  if (!contexts)
    contexts = cJSON_CreateArray();
  if (!b || !contexts || !cJSON_AddStringToObject(b, "groupKeyPattern", pat->text)) {
    cJSON_Delete(b);
    cJSON_Delete(contexts);
    return NC_ENOMEM;
  }
  cJSON_AddItemToObject(b, "contexts", contexts);
  if (!cJSON_AddStringToObject(b, "syncType", sync_type) ||
      !cJSON_AddNumberToObject(b, "totalBatch", total) ||
      !cJSON_AddNumberToObject(b, "currentBatch", current)) {
    cJSON_Delete(b);
    return NC_ENOMEM;
  }
  f->st.syncs_sent++;
  return start(f, conn, pat->text, f->kind.sync_type, b, init);
}

int nc_fz__push_notify(nc_fz *f, const char *conn, const char *key, const char *change) {
  if ((size_t)(uintptr_t)nc_strmap_get(f->pending, conn) >= NC_FZ_MAX_PENDING) {
    if (f->st.notifies_dropped++ % 1000 == 0)
      nc_warn("fuzzy %s: conn %s holds %d unacked pushes: change of %s not sent (%llu so far; "
              "its next re-sync catches up)", f->kind.module, conn, NC_FZ_MAX_PENDING, key,
              (unsigned long long)f->st.notifies_dropped);
    return NC_EBUSY;
  }
  cJSON *b = cJSON_CreateObject();
  if (!b || !cJSON_AddStringToObject(b, f->kind.key_field, key) ||
      !cJSON_AddStringToObject(b, f->kind.notify_field, change) ||
      (f->kind.notify_sync && !cJSON_AddStringToObject(b, "syncType", f->kind.notify_sync))) {
    cJSON_Delete(b);
    return NC_ENOMEM;
  }
  f->st.notifies_sent++;
  return start(f, conn, NULL, f->kind.notify_type, b, NULL);
}

void nc_fz__forget_conn(nc_fz *f, const char *conn) {
  fz_push *p = f->waiting, *next;
  for (; p; p = next) {
    next = p->next;
    if (strcmp(p->conn_id, conn) == 0) {
      unlink_push(&f->waiting, p);
      push_free(p);
    }
  }
}

void nc_fz__pushes_free(nc_fz *f) {
  while (f->waiting) {
    fz_push *p = f->waiting;
    unlink_push(&f->waiting, p);
    push_free(p);
  }
  /* In flight after nc_srv_drop_all means the core still owes a callback:
   * it will free the push. */
  for (fz_push *p = f->flying; p; p = p->next)
    p->f = NULL;
  f->flying = NULL;
}

/* ---- the request ---- */

void nc_fz_handle(nc_fz *f, nc_req *r, const nc_msg *m, const char *resp_type) {
  const cJSON *pat = cJSON_GetObjectItemCaseSensitive(m->body, "groupKeyPattern");
  const cJSON *wt = cJSON_GetObjectItemCaseSensitive(m->body, "watchType");
  const cJSON *rk = cJSON_GetObjectItemCaseSensitive(m->body, "receivedGroupKeys");
  /* Jackson names isInitializing() "initializing"; early nacos-sdk-go v3
   * builds sent "isInitializing" */
  const cJSON *init = cJSON_GetObjectItemCaseSensitive(m->body, "initializing");
  if (!init)
    init = cJSON_GetObjectItemCaseSensitive(m->body, "isInitializing");
  const char *conn = nc_req_conn_id(r);
  nc_fz_parts parts;
  if (!cJSON_IsString(wt) || (strcmp(wt->valuestring, "WATCH") != 0 &&
                              strcmp(wt->valuestring, "CANCEL_WATCH") != 0)) {
    f->st.bad_requests++;
    nc_req_fail(r, resp_type, 400, "watchType must be WATCH or CANCEL_WATCH");
    return;
  }
  if (!cJSON_IsString(pat) || nc_fz_split(pat->valuestring, &parts)) {
    f->st.bad_requests++;
    nc_req_fail(r, resp_type, 400,
                "groupKeyPattern must be namespace>>group>>name, each part non-empty");
    return;
  }
  if (rk && !cJSON_IsNull(rk) && !cJSON_IsArray(rk)) {
    f->st.bad_requests++;
    nc_req_fail(r, resp_type, 400, "receivedGroupKeys must be an array of keys");
    return;
  }
  if (strcmp(wt->valuestring, "CANCEL_WATCH") == 0) {
    f->st.cancel_requests++;
    nc_fz_cancel(f, conn, pat->valuestring);
    nc_req_reply(r, resp_type, NULL);
    return;
  }
  f->st.watch_requests++;
  int rc = nc_fz_watch(f, conn, pat->valuestring, cJSON_IsArray(rk) ? rk : NULL,
                       cJSON_IsTrue(init));
  if (rc == NC_FZ_ERR_PATTERNS)
    nc_req_fail(r, resp_type, NC_FZ_ERR_PATTERNS, NC_FZ_MSG_PATTERNS);
  else if (rc == NC_FZ_ERR_MATCHES)
    nc_req_fail(r, resp_type, NC_FZ_ERR_MATCHES, NC_FZ_MSG_MATCHES);
  else if (rc)
    nc_req_fail(r, resp_type, 500, nc_strerror(rc));
  else
    nc_req_reply(r, resp_type, NULL);
}

/* One engine serves one request type, so the table's resp_type is its answer. */
static void h_watch(void *ud, nc_req *r, const nc_msg *m) {
  nc_fz *f = ud;
  nc_fz_handle(f, r, m, f->resp_type);
}

static void on_conn(void *ud, nc_conn *c, nc_conn_event ev) {
  if (ev == NC_CONN_DOWN)
    nc_fz_conn_down(ud, nc_conn_id(c));
}

int nc_fz_serve(nc_fz *f, const char *req_type, const char *resp_type, unsigned flags) {
  if (!f->srv)
    return NC_EINVAL;
  f->resp_type = resp_type;
  nc_handler_def h = {req_type, resp_type, h_watch, flags};
  if (nc_srv_register_handlers(f->srv, &h, 1, f) || nc_srv_add_conn_listener(f->srv, on_conn, f))
    return NC_ENOMEM;
  return 0;
}

void nc_fz_render_metrics(const nc_fz *f, nc_metrics_text *t) {
  nc_fz_stats s;
  nc_fz_get_stats(f, &s);
  char name[96];
  const char *m = f->kind.module;
#define C(suffix, help, v)                                                                        \
  do {                                                                                            \
    snprintf(name, sizeof(name), "%s_fuzzy_%s", m, suffix);                                       \
    nc_metrics_add(t, "nacosd_", name, help, (uint64_t)(v));                                      \
  } while (0)
  C("patterns", "Distinct fuzzy-watch patterns watched.", s.patterns);
  C("watches", "(connection, pattern) fuzzy watches.", s.watches);
  C("connections", "Connections with at least one fuzzy watch.", s.conns);
  C("matched_keys", "Keys matched, summed over the watched patterns.", s.matched_keys);
  C("watch_requests_total", "Fuzzy WATCH requests served.", s.watch_requests);
  C("cancel_requests_total", "Fuzzy CANCEL_WATCH requests served.", s.cancel_requests);
  C("pattern_limit_refused_total", "WATCHes refused: the connection held the pattern limit.",
    s.refused_patterns);
  C("match_limit_total", "WATCHes answered 50311: the pattern holds the match limit.",
    s.over_matches);
  C("bad_requests_total", "Fuzzy watch requests refused as invalid.", s.bad_requests);
  C("syncs_sent_total", "Fuzzy watch sync requests pushed (first sends).", s.syncs_sent);
  C("notifies_sent_total", "Fuzzy watch change notifications pushed (first sends).",
    s.notifies_sent);
  C("pushes_acked_total", "Fuzzy watch pushes acknowledged.", s.acked);
  C("pushes_retried_total", "Fuzzy watch pushes sent again after a timeout or error.",
    s.retried);
  C("pushes_failed_total", "Fuzzy watch pushes given up on (connection dropped).", s.failed);
  C("notifies_dropped_total",
    "Fuzzy watch change notifications not queued: the connection held too many unacked.",
    s.notifies_dropped);
#undef C
}
