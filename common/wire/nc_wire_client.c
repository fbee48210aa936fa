/* nc_wc: Nacos 2.x wire client (handshake, requests, pushes + acks).
 *
 * The handshake is blocking (nc_wc_connect); afterwards everything runs on
 * the gcli env's queue thread: pushes are decoded there, handed to on_push
 * and acked on the stream. The wc's own state after connect is immutable
 * except `closed`/`ready`, which are under mu. */
#include "nc_wire_client.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NC_WC_DEFAULT_VERSION "Nacos-C-Client:v0.1.0"

struct nc_wc {
  nc_gcli *c;
  char *conn_id;
  char *client_ip;
  int timeout_ms;
  int no_auto_ack;
  int not_ready_fails_fast;
  int setup_ack_as_push;
  nc_wc_push_cb on_push;
  nc_wc_closed_cb on_closed;
  void *ud;
  pthread_mutex_t mu;
  char *token; /* under mu: the accessToken header, NULL = none */
  nc_kv hdr[4]; /* fixed headers of every request (nc_wc_opts.headers) */
  size_t n_hdr;
  int ready;  /* connect returned it to the caller */
  int closed; /* the stream ended */
  int close_status;
};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* {"requestId":"","module":"internal","headers":{}} */
static cJSON *internal_body(void) {
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddStringToObject(o, "requestId", "") ||
      !cJSON_AddStringToObject(o, "module", "internal") || !cJSON_AddObjectToObject(o, "headers")) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* ---- stream callbacks (queue thread) ---------------------------------- */

static void on_stream_msg(void *ud, const uint8_t *data, size_t len) {
  nc_wc *wc = ud;
  nc_msg *m = NULL;
  if (nc_payload_decode(data, len, &m) != 0) {
    nc_warn("wc: undecodable message on the stream (%zu bytes)", len);
    return;
  }
  const char *rid = m->body ? nc_json_str(m->body, "requestId", NULL) : NULL;
  if (wc->setup_ack_as_push && !rid && strcmp(m->type, "SetupAckRequest") == 0) {
    if (wc->on_push)
      wc->on_push(wc->ud, wc, m); /* no requestId, no ack (as the SDKs) */
    goto out;
  }
  if (!rid || !ends_with(m->type, "Request")) {
    nc_debug("wc: ignoring stream message of type '%s'", m->type);
    goto out;
  }
  if (wc->on_push)
    wc->on_push(wc->ud, wc, m);
  if (!wc->no_auto_ack) {
    size_t n = strlen(m->type) - strlen("Request");
    char rtype[160];
    if (n + sizeof("Response") <= sizeof(rtype)) {
      memcpy(rtype, m->type, n);
      memcpy(rtype + n, "Response", sizeof("Response"));
      int rc = nc_wc_ack(wc, rtype, rid, 1);
      if (rc != 0)
        nc_debug("wc: ack %s/%s not sent: %s", rtype, rid, nc_strerror(rc));
    }
  }
out:
  nc_msg_free(m);
}

static void on_stream_closed(void *ud, int status) {
  nc_wc *wc = ud;
  pthread_mutex_lock(&wc->mu);
  wc->closed = 1;
  wc->close_status = status;
  int deliver = wc->ready;
  pthread_mutex_unlock(&wc->mu);
  nc_debug("wc: stream of %s closed: %s", wc->conn_id ? wc->conn_id : "?", nc_strerror(status));
  if (deliver && wc->on_closed)
    wc->on_closed(wc->ud, wc, status);
}

/* ---- requests --------------------------------------------------------- */

/* The request as a Payload, with the fixed headers and the accessToken
 * header when one is set. */
static int encode_req(nc_wc *wc, const char *type, const cJSON *body, uint8_t **out,
                      size_t *len) {
  pthread_mutex_lock(&wc->mu);
  char *tok = wc->token ? strdup(wc->token) : NULL;
  int had = wc->token != NULL;
  pthread_mutex_unlock(&wc->mu);
  if (had && !tok)
    return NC_ENOMEM;
  if (!tok && !wc->n_hdr)
    return nc_payload_encode_json(type, wc->client_ip, body, out, len);
  char *json = cJSON_PrintUnformatted(body);
  int rc = NC_ENOMEM;
  if (json) {
    nc_kv h[5];
    size_t n = 0;
    for (; n < wc->n_hdr; n++)
      h[n] = wc->hdr[n];
    if (tok)
      h[n++] = (nc_kv){.key = (char *)"accessToken", .value = tok};
    rc = nc_payload_encode(type, wc->client_ip, h, n, json, strlen(json), out, len);
  }
  free(json);
  free(tok);
  return rc;
}

int nc_wc_set_access_token(nc_wc *wc, const char *token) {
  char *t = token ? strdup(token) : NULL;
  if (token && !t)
    return NC_ENOMEM;
  pthread_mutex_lock(&wc->mu);
  free(wc->token);
  wc->token = t;
  pthread_mutex_unlock(&wc->mu);
  return 0;
}

int nc_wc_request(nc_wc *wc, const char *type, const cJSON *body, int timeout_ms, nc_msg **resp) {
  uint8_t *req = NULL, *out = NULL;
  size_t req_len = 0, out_len = 0;
  *resp = NULL;
  if (!wc || !type || !body)
    return NC_EINVAL;
  int rc = encode_req(wc, type, body, &req, &req_len);
  if (rc != 0)
    return rc;
  rc = nc_gcli_unary(wc->c, req, req_len, timeout_ms > 0 ? timeout_ms : wc->timeout_ms, &out,
                     &out_len);
  free(req);
  if (rc != 0)
    return rc;
  rc = nc_payload_decode(out, out_len, resp);
  free(out);
  return rc;
}

typedef struct wc_async {
  nc_wc_resp_cb cb;
  void *ud;
} wc_async;

static void async_done(void *ud, int status, const uint8_t *data, size_t len) {
  wc_async *a = ud;
  nc_msg *m = NULL;
  if (status == 0)
    status = nc_payload_decode(data, len, &m);
  a->cb(a->ud, status, m);
  free(a);
}

int nc_wc_request_async(nc_wc *wc, const char *type, const cJSON *body, int timeout_ms,
                        nc_wc_resp_cb cb, void *ud) {
  uint8_t *req = NULL;
  size_t req_len = 0;
  wc_async *a = NULL;
  if (!wc || !type || !body || !cb)
    return NC_EINVAL;
  int rc = encode_req(wc, type, body, &req, &req_len);
  if (rc != 0)
    return rc;
  if (!(a = malloc(sizeof(*a)))) {
    free(req);
    return NC_ENOMEM;
  }
  a->cb = cb;
  a->ud = ud;
  rc = nc_gcli_unary_async(wc->c, req, req_len, timeout_ms > 0 ? timeout_ms : wc->timeout_ms,
                           async_done, a);
  free(req);
  if (rc != 0)
    free(a);
  return rc;
}

int nc_wc_ack(nc_wc *wc, const char *resp_type, const char *request_id, int ok) {
  uint8_t *buf = NULL;
  size_t len = 0;
  if (!wc || !resp_type || !request_id)
    return NC_EINVAL;
  cJSON *o = nc_resp_new(ok ? 200 : 500, ok ? 0 : -500, NULL);
  if (!o || !cJSON_AddStringToObject(o, "requestId", request_id)) {
    cJSON_Delete(o);
    return NC_ENOMEM;
  }
  int rc = nc_payload_encode_json(resp_type, wc->client_ip, o, &buf, &len);
  cJSON_Delete(o);
  if (rc == 0)
    rc = nc_gcli_stream_send(wc->c, buf, len);
  free(buf);
  return rc;
}

int nc_wc_stream_send_raw(nc_wc *wc, const uint8_t *data, size_t len) {
  if (!wc)
    return NC_EINVAL;
  return nc_gcli_stream_send(wc->c, data, len);
}

const char *nc_wc_connection_id(const nc_wc *wc) { return wc->conn_id; }

/* ---- handshake -------------------------------------------------------- */

/* Sends type (an empty internal body) until judge(wc, response) says done
 * (1) or failed (<0, that status), pausing pause_ms after each "not yet"
 * (0), until the deadline (NC_ETIMEOUT) or the stream ends (NC_ECLOSED). */
typedef int (*poll_judge_fn)(nc_wc *wc, const nc_msg *r);
static int poll_request(nc_wc *wc, const char *type, long long deadline, poll_judge_fn judge,
                        int pause_ms) {
  cJSON *body = internal_body();
  int rc = NC_ENOMEM;
  if (!body)
    return rc;
  for (;;) {
    long long left = deadline - now_ms();
    nc_msg *r = NULL;
    if (left <= 0) {
      rc = NC_ETIMEOUT;
      break;
    }
    pthread_mutex_lock(&wc->mu);
    int closed = wc->closed;
    pthread_mutex_unlock(&wc->mu);
    if (closed) {
      rc = NC_ECLOSED;
      break;
    }
    if ((rc = nc_wc_request(wc, type, body, (int)left, &r)) != 0)
      break;
    int v = judge(wc, r);
    nc_msg_free(r);
    if (v != 0) {
      rc = v > 0 ? 0 : v;
      break;
    }
    sleep_ms(pause_ms);
  }
  cJSON_Delete(body);
  return rc;
}

/* ServerCheck until it answers (errorCode 300 = server still starting). */
static int server_check_judge(nc_wc *wc, const nc_msg *r) {
  if (strcmp(r->type, "ServerCheckResponse") == 0 && r->body &&
      nc_json_int(r->body, "resultCode", 0) == 200)
    return (wc->conn_id = strdup(nc_json_str(r->body, "connectionId", ""))) ? 1 : NC_ENOMEM;
  long long ec = r->body ? nc_json_int(r->body, "errorCode", 0) : 0;
  if (ec == 300) {
    if (!wc->not_ready_fails_fast)
      return 0;
    nc_debug("wc: server still starting (errorCode 300): giving up at once");
    return NC_ESTATE;
  }
  nc_warn("wc: ServerCheck refused (errorCode %lld)", ec);
  return NC_EUNAVAIL;
}

static int server_check(nc_wc *wc, long long deadline) {
  return poll_request(wc, "ServerCheckRequest", deadline, server_check_judge, 100);
}

static int add_labels(cJSON *labels, const char *const *kv) {
  for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
    if (!cJSON_AddStringToObject(labels, kv[i], kv[i + 1]))
      return NC_ENOMEM;
  return 0;
}

static int send_setup(nc_wc *wc, const nc_wc_opts *o) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = NC_ENOMEM;
  const char *source = o->source ? o->source : "sdk";
  int peer = strcmp(source, "cluster") == 0;
  cJSON *b = cJSON_CreateObject(), *labels;
  if (!b || !cJSON_AddStringToObject(b, "clientVersion",
                                     o->client_version ? o->client_version : NC_WC_DEFAULT_VERSION) ||
      !(labels = cJSON_AddObjectToObject(b, "labels")) ||
      !cJSON_AddStringToObject(labels, "source", source) ||
      (!peer && !cJSON_AddStringToObject(labels, "module", o->module ? o->module : "naming")) ||
      (!peer &&
       !cJSON_AddStringToObject(labels, "AppName", o->app_name ? o->app_name : "unknown")) ||
      add_labels(labels, o->labels) != 0 || nc_json_add_str(b, "tenant", o->tenant) != 0 ||
      (o->ability_table ? !cJSON_AddItemToObject(b, "abilityTable",
                                                 cJSON_Duplicate(o->ability_table, 1))
                        : !cJSON_AddObjectToObject(b, "clientAbilities")) ||
      !cJSON_AddStringToObject(b, "module", "internal") || !cJSON_AddObjectToObject(b, "headers"))
    goto out;
  if ((rc = nc_payload_encode_json("ConnectionSetupRequest", wc->client_ip, b, &buf, &len)) != 0)
    goto out;
  rc = nc_gcli_stream_send(wc->c, buf, len);
out:
  free(buf);
  cJSON_Delete(b);
  return rc;
}

/* HealthCheck until the server has registered the connection (not 301). */
static int registered_judge(nc_wc *wc, const nc_msg *r) {
  (void)wc;
  return (r->body ? nc_json_int(r->body, "errorCode", 0) : 0) == 301 ? 0 : 1;
}

static int wait_registered(nc_wc *wc, long long deadline) {
  return poll_request(wc, "HealthCheckRequest", deadline, registered_judge, 20);
}

int nc_wc_connect(nc_gcli_env *env, const nc_wc_opts *opts, nc_wc_push_cb on_push,
                  nc_wc_closed_cb on_closed, void *ud, nc_wc **out) {
  nc_wc *wc = NULL;
  int rc;
  *out = NULL;
  if (!env || !opts || !opts->target)
    return NC_EINVAL;
  if (!(wc = calloc(1, sizeof(*wc))))
    return NC_ENOMEM;
  pthread_mutex_init(&wc->mu, NULL);
  wc->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 3000;
  wc->no_auto_ack = opts->no_auto_ack;
  wc->not_ready_fails_fast = opts->not_ready_fails_fast;
  wc->setup_ack_as_push = opts->setup_ack_as_push;
  wc->on_push = on_push;
  wc->on_closed = on_closed;
  wc->ud = ud;
  if (!(wc->client_ip = strdup(opts->client_ip ? opts->client_ip : "127.0.0.1")) ||
      (opts->access_token && !(wc->token = strdup(opts->access_token)))) {
    rc = NC_ENOMEM;
    goto fail;
  }
  for (size_t i = 0; opts->headers && opts->headers[2 * i] && opts->headers[2 * i + 1]; i++) {
    if (wc->n_hdr == sizeof(wc->hdr) / sizeof(wc->hdr[0])) {
      rc = NC_EINVAL;
      goto fail;
    }
    nc_kv *h = &wc->hdr[wc->n_hdr++];
    if (!(h->key = strdup(opts->headers[2 * i])) || !(h->value = strdup(opts->headers[2 * i + 1]))) {
      rc = NC_ENOMEM;
      goto fail;
    }
  }
  long long deadline = now_ms() + wc->timeout_ms;
  nc_gcli_opts go = {.connect_timeout_ms = wc->timeout_ms, .tls = opts->tls};
  if ((rc = nc_gcli_new(env, opts->target, &go, &wc->c)) != 0)
    goto fail;
  if ((rc = server_check(wc, deadline)) != 0)
    goto fail;
  nc_gcli_stream_cbs cbs = {on_stream_msg, on_stream_closed};
  if ((rc = nc_gcli_stream_open(wc->c, &cbs, wc)) != 0)
    goto fail;
  if ((rc = send_setup(wc, opts)) != 0)
    goto fail;
  if ((rc = wait_registered(wc, deadline)) != 0)
    goto fail;
  pthread_mutex_lock(&wc->mu);
  rc = wc->closed ? NC_ECLOSED : 0;
  wc->ready = !wc->closed;
  pthread_mutex_unlock(&wc->mu);
  if (rc != 0)
    goto fail;
  nc_debug("wc: connected to %s as %s", opts->target, wc->conn_id);
  *out = wc;
  return 0;
fail:
  nc_debug("wc: connect to %s failed: %s", opts->target, nc_strerror(rc));
  if (opts->error && opts->error_cap) {
    opts->error[0] = '\0';
    if (wc->c)
      nc_gcli_last_error(wc->c, opts->error, opts->error_cap);
    if (!opts->error[0])
      snprintf(opts->error, opts->error_cap, "%s", nc_strerror(rc));
  }
  nc_wc_close(wc);
  return rc;
}

void nc_wc_close(nc_wc *wc) {
  if (!wc)
    return;
  nc_gcli_free(wc->c); /* after this no callback of ours runs */
  free(wc->conn_id);
  free(wc->client_ip);
  free(wc->token);
  for (size_t i = 0; i < wc->n_hdr; i++) {
    free(wc->hdr[i].key);
    free(wc->hdr[i].value);
  }
  pthread_mutex_destroy(&wc->mu);
  free(wc);
}
