/* nc_wc against a fake Nacos owner on an in-process nc_gsrv: handshake
 * details, registration polling, pushes and acks, close, async and raw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_server.h"
#include "nc_json.h"
#include "nc_wire_client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- fake Nacos owner ----------------------------------------------------- */

typedef struct fake {
  pthread_mutex_t mu;
  nc_gsrv *srv;
  int port;
  /* behaviour */
  int servercheck_busy; /* answer errorCode 300 this many times first */
  int register_after_ms; /* 301 until this long after the setup; -1 = never */
  /* observations */
  long long setup_at;
  cJSON *setup;     /* ConnectionSetupRequest body */
  char setup_ip[32];
  uint64_t stream_id;
  int n_servercheck, n_health, n_stream_msgs, n_closed;
  cJSON *last_ack;  /* last "...Response" body received on the stream */
  char last_ack_type[64];
  uint8_t last_raw[16];
  size_t last_raw_len;
} fake;

static void reply_json(nc_gsrv_ev *ev, const char *type, cJSON *b) {
  uint8_t *out = NULL;
  size_t len = 0;
  assert_int_equal(nc_payload_encode_json(type, "", b, &out, &len), 0);
  nc_gsrv_unary_reply(ev->call, out, len);
  free(out);
  cJSON_Delete(b);
}

static void fake_unary(fake *f, nc_gsrv_ev *ev) {
  nc_msg *m = NULL;
  assert_int_equal(nc_payload_decode(ev->data, ev->len, &m), 0);
  pthread_mutex_lock(&f->mu);
  if (strcmp(m->type, "ServerCheckRequest") == 0) {
    int busy = f->n_servercheck++ < f->servercheck_busy;
    pthread_mutex_unlock(&f->mu);
    if (busy) {
      reply_json(ev, "ErrorResponse", nc_resp_new(500, 300, "Server is starting"));
    } else {
      cJSON *b = nc_resp_ok();
      cJSON_AddStringToObject(b, "connectionId", "42_127.0.0.1_9");
      reply_json(ev, "ServerCheckResponse", b);
    }
  } else {
    if (strcmp(m->type, "HealthCheckRequest") == 0)
      f->n_health++;
    int reg = f->setup && f->register_after_ms >= 0 &&
              now_ms() - f->setup_at >= f->register_after_ms;
    pthread_mutex_unlock(&f->mu);
    if (!reg)
      reply_json(ev, "ErrorResponse", nc_resp_new(500, 301, "Connection is unregistered."));
    else
      reply_json(ev, "HealthCheckResponse", nc_resp_ok());
  }
  nc_msg_free(m);
}

static void fake_event(void *ud, nc_gsrv_ev *ev) {
  fake *f = ud;
  nc_msg *m = NULL;
  switch (ev->type) {
  case NC_GSRV_EV_UNARY:
    fake_unary(f, ev);
    break;
  case NC_GSRV_EV_STREAM_OPEN:
    pthread_mutex_lock(&f->mu);
    f->stream_id = ev->stream_id;
    pthread_mutex_unlock(&f->mu);
    break;
  case NC_GSRV_EV_STREAM_MSG:
    pthread_mutex_lock(&f->mu);
    f->n_stream_msgs++;
    f->last_raw_len = ev->len < sizeof(f->last_raw) ? ev->len : sizeof(f->last_raw);
    memcpy(f->last_raw, ev->data, f->last_raw_len);
    if (nc_payload_decode(ev->data, ev->len, &m) == 0 && m->body) {
      if (strcmp(m->type, "ConnectionSetupRequest") == 0) {
        cJSON_Delete(f->setup);
        f->setup = cJSON_Duplicate(m->body, 1);
        f->setup_at = now_ms();
        snprintf(f->setup_ip, sizeof(f->setup_ip), "%s", m->client_ip);
      } else {
        cJSON_Delete(f->last_ack);
        f->last_ack = cJSON_Duplicate(m->body, 1);
        snprintf(f->last_ack_type, sizeof(f->last_ack_type), "%s", m->type);
      }
    }
    pthread_mutex_unlock(&f->mu);
    nc_msg_free(m);
    break;
  case NC_GSRV_EV_STREAM_CLOSED:
    pthread_mutex_lock(&f->mu);
    f->n_closed++;
    pthread_mutex_unlock(&f->mu);
    break;
  }
  nc_gsrv_ev_free(ev);
}

static fake *fake_start(void) {
  fake *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  pthread_mutex_init(&f->mu, NULL);
  nc_gsrv_opts so = {.host = "127.0.0.1"};
  assert_int_equal(nc_gsrv_start(&so, fake_event, f, &f->srv, &f->port), 0);
  return f;
}

static void fake_stop(fake *f) {
  nc_gsrv_stop(f->srv);
  cJSON_Delete(f->setup);
  cJSON_Delete(f->last_ack);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

/* Polls cond(f) under the lock for up to ms. */
static int fake_wait(fake *f, int (*cond)(fake *), int ms) {
  long long end = now_ms() + ms;
  for (;;) {
    pthread_mutex_lock(&f->mu);
    int ok = cond(f);
    pthread_mutex_unlock(&f->mu);
    if (ok || now_ms() >= end)
      return ok;
    usleep(2000);
  }
}

static int has_ack(fake *f) { return f->last_ack != NULL; }
static int has_closed(fake *f) { return f->n_closed > 0; }

/* ---- client side ------------------------------------------------------------ */

typedef struct cli {
  pthread_mutex_t mu;
  int pushes, closed, close_status;
  char push_rid[32];
  int async_done, async_status;
  char async_type[64];
} cli;

static void on_push(void *ud, nc_wc *wc, const nc_msg *push) {
  (void)wc;
  cli *c = ud;
  pthread_mutex_lock(&c->mu);
  c->pushes++;
  snprintf(c->push_rid, sizeof(c->push_rid), "%s", nc_json_str(push->body, "requestId", ""));
  pthread_mutex_unlock(&c->mu);
}

static void on_closed(void *ud, nc_wc *wc, int status) {
  (void)wc;
  cli *c = ud;
  pthread_mutex_lock(&c->mu);
  c->closed++;
  c->close_status = status;
  pthread_mutex_unlock(&c->mu);
}

static int cli_get(cli *c, const int *field) {
  pthread_mutex_lock(&c->mu);
  int v = *field;
  pthread_mutex_unlock(&c->mu);
  return v;
}

static int cli_wait(cli *c, const int *field, int want, int ms) {
  long long end = now_ms() + ms;
  int v;
  while ((v = cli_get(c, field)) < want && now_ms() < end)
    usleep(2000);
  return v;
}

typedef struct env_fx {
  nc_gcli_env *env;
  fake *f;
  cli c;
  char target[64];
} env_fx;

static int setup(void **state) {
  env_fx *x = calloc(1, sizeof(*x));
  if (!x || nc_gcli_env_new(1, &x->env) != 0)
    return -1;
  *state = x;
  return 0;
}

static int teardown(void **state) {
  env_fx *x = *state;
  nc_gcli_env_free(x->env);
  free(x);
  return 0;
}

static int per_test_setup(void **state) {
  env_fx *x = *state;
  x->f = fake_start();
  memset(&x->c, 0, sizeof(x->c));
  pthread_mutex_init(&x->c.mu, NULL);
  snprintf(x->target, sizeof(x->target), "127.0.0.1:%d", x->f->port);
  return 0;
}

static int per_test_teardown(void **state) {
  env_fx *x = *state;
  fake_stop(x->f);
  pthread_mutex_destroy(&x->c.mu);
  return 0;
}

static void send_push(fake *f, const char *type, const char *rid) {
  uint8_t *buf = NULL;
  size_t len = 0;
  cJSON *p = cJSON_CreateObject();
  if (rid)
    cJSON_AddStringToObject(p, "requestId", rid);
  cJSON_AddStringToObject(p, "module", "naming");
  assert_int_equal(nc_payload_encode_json(type, "", p, &buf, &len), 0);
  cJSON_Delete(p);
  pthread_mutex_lock(&f->mu);
  uint64_t id = f->stream_id;
  pthread_mutex_unlock(&f->mu);
  assert_int_equal(nc_gsrv_stream_send(f->srv, id, buf, len), 0);
  free(buf);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_setup_request_carries_defaults(void **state) {
  env_fx *x = *state;
  nc_wc_opts o = {.target = x->target};
  nc_wc *wc = NULL;
  assert_int_equal(nc_wc_connect(x->env, &o, NULL, NULL, NULL, &wc), 0);
  assert_string_equal(nc_wc_connection_id(wc), "42_127.0.0.1_9");
  pthread_mutex_lock(&x->f->mu);
  cJSON *s = x->f->setup;
  assert_non_null(s);
  assert_true(strncmp(nc_json_str(s, "clientVersion", ""), "Nacos-C-Client:v", 16) == 0);
  cJSON *labels = cJSON_GetObjectItem(s, "labels");
  assert_string_equal(nc_json_str(labels, "source", ""), "sdk");
  assert_string_equal(nc_json_str(labels, "module", ""), "naming");
  assert_string_equal(nc_json_str(labels, "AppName", ""), "unknown");
  assert_null(cJSON_GetObjectItem(s, "tenant")); /* omitted, never null */
  assert_true(cJSON_IsObject(cJSON_GetObjectItem(s, "clientAbilities")));
  assert_string_equal(nc_json_str(s, "module", ""), "internal");
  assert_string_equal(x->f->setup_ip, "127.0.0.1");
  pthread_mutex_unlock(&x->f->mu);
  nc_wc_close(wc);
}

static void test_setup_request_carries_options(void **state) {
  env_fx *x = *state;
  nc_wc_opts o = {.target = x->target, .module = "config", .app_name = "shop", .tenant = "ns1",
                  .client_ip = "10.9.8.7", .client_version = "Nacos-Test:v1"};
  nc_wc *wc = NULL;
  assert_int_equal(nc_wc_connect(x->env, &o, NULL, NULL, NULL, &wc), 0);
  pthread_mutex_lock(&x->f->mu);
  cJSON *s = x->f->setup;
  assert_string_equal(nc_json_str(s, "clientVersion", ""), "Nacos-Test:v1");
  assert_string_equal(nc_json_str(s, "tenant", ""), "ns1");
  cJSON *labels = cJSON_GetObjectItem(s, "labels");
  assert_string_equal(nc_json_str(labels, "module", ""), "config");
  assert_string_equal(nc_json_str(labels, "AppName", ""), "shop");
  assert_string_equal(x->f->setup_ip, "10.9.8.7");
  pthread_mutex_unlock(&x->f->mu);
  nc_wc_close(wc);
}

static void test_connect_waits_until_registered(void **state) {
  env_fx *x = *state;
  pthread_mutex_lock(&x->f->mu);
  x->f->register_after_ms = 150;
  x->f->servercheck_busy = 2; /* "server starting" twice first */
  pthread_mutex_unlock(&x->f->mu);
  nc_wc_opts o = {.target = x->target};
  nc_wc *wc = NULL;
  long long t0 = now_ms();
  assert_int_equal(nc_wc_connect(x->env, &o, NULL, NULL, NULL, &wc), 0);
  assert_true(now_ms() - t0 >= 150);
  pthread_mutex_lock(&x->f->mu);
  assert_int_equal(x->f->n_servercheck, 3);
  assert_true(x->f->n_health >= 2); /* polled through the 301s */
  pthread_mutex_unlock(&x->f->mu);
  cJSON *b = cJSON_CreateObject();
  nc_msg *r = NULL;
  assert_int_equal(nc_wc_request(wc, "HealthCheckRequest", b, 0, &r), 0);
  assert_int_equal(nc_json_int(r->body, "errorCode", -1), 0);
  nc_msg_free(r);
  cJSON_Delete(b);
  nc_wc_close(wc);
}

static void test_connect_times_out_when_never_registered(void **state) {
  env_fx *x = *state;
  pthread_mutex_lock(&x->f->mu);
  x->f->register_after_ms = -1;
  pthread_mutex_unlock(&x->f->mu);
  nc_wc_opts o = {.target = x->target, .timeout_ms = 300};
  nc_wc *wc = NULL;
  long long t0 = now_ms();
  assert_int_equal(nc_wc_connect(x->env, &o, NULL, NULL, NULL, &wc), NC_ETIMEOUT);
  assert_null(wc);
  assert_true(now_ms() - t0 < 2000);
  /* the abandoned stream is closed on the server */
  assert_true(fake_wait(x->f, has_closed, 2000));
}

static void test_push_acked_with_response_type_and_request_id(void **state) {
  env_fx *x = *state;
  nc_wc_opts o = {.target = x->target};
  nc_wc *wc = NULL;
  assert_int_equal(nc_wc_connect(x->env, &o, on_push, on_closed, &x->c, &wc), 0);
  send_push(x->f, "ConfigChangeNotifyRequest", "123");
  assert_true(fake_wait(x->f, has_ack, 3000));
  pthread_mutex_lock(&x->f->mu);
  assert_string_equal(x->f->last_ack_type, "ConfigChangeNotifyResponse");
  cJSON *a = x->f->last_ack;
  assert_string_equal(nc_json_str(a, "requestId", ""), "123");
  assert_int_equal(nc_json_int(a, "resultCode", 0), 200);
  assert_int_equal(nc_json_int(a, "errorCode", -1), 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(a, "success")));
  for (cJSON *it = a->child; it; it = it->next)
    assert_false(cJSON_IsNull(it));
  pthread_mutex_unlock(&x->f->mu);
  assert_int_equal(cli_get(&x->c, &x->c.pushes), 1);
  nc_wc_close(wc);
  assert_int_equal(cli_get(&x->c, &x->c.closed), 0); /* own close: no callback */
}

static void test_no_auto_ack_then_manual_failure_ack(void **state) {
  env_fx *x = *state;
  nc_wc_opts o = {.target = x->target, .no_auto_ack = 1};
  nc_wc *wc = NULL;
  assert_int_equal(nc_wc_connect(x->env, &o, on_push, on_closed, &x->c, &wc), 0);
  send_push(x->f, "NotifySubscriberRequest", "5");
  assert_int_equal(cli_wait(&x->c, &x->c.pushes, 1, 3000), 1);
  usleep(100000);
  pthread_mutex_lock(&x->f->mu);
  assert_null(x->f->last_ack); /* nothing sent by itself */
  pthread_mutex_unlock(&x->f->mu);
  assert_int_equal(nc_wc_ack(wc, "NotifySubscriberResponse", "5", 0), 0);
  assert_true(fake_wait(x->f, has_ack, 3000));
  pthread_mutex_lock(&x->f->mu);
  assert_int_equal(nc_json_int(x->f->last_ack, "resultCode", 0), 500);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(x->f->last_ack, "success")));
  pthread_mutex_unlock(&x->f->mu);
  nc_wc_close(wc);
}

static void test_message_without_request_id_is_not_a_push(void **state) {
  env_fx *x = *state;
  nc_wc_opts o = {.target = x->target};
  nc_wc *wc = NULL;
  assert_int_equal(nc_wc_connect(x->env, &o, on_push, on_closed, &x->c, &wc), 0);
  send_push(x->f, "SetupAckRequest", NULL);
  send_push(x->f, "NotifySubscriberRequest", "9"); /* ordered after the first */
  assert_true(fake_wait(x->f, has_ack, 3000));
  assert_int_equal(cli_get(&x->c, &x->c.pushes), 1);
  pthread_mutex_lock(&x->c.mu);
  assert_string_equal(x->c.push_rid, "9");
  pthread_mutex_unlock(&x->c.mu);
  nc_wc_close(wc);
}

static void test_server_close_reaches_on_closed(void **state) {
  env_fx *x = *state;
  nc_wc_opts o = {.target = x->target};
  nc_wc *wc = NULL;
  assert_int_equal(nc_wc_connect(x->env, &o, on_push, on_closed, &x->c, &wc), 0);
  pthread_mutex_lock(&x->f->mu);
  uint64_t id = x->f->stream_id;
  pthread_mutex_unlock(&x->f->mu);
  assert_int_equal(nc_gsrv_stream_close(x->f->srv, id), 0);
  assert_int_equal(cli_wait(&x->c, &x->c.closed, 1, 3000), 1);
  assert_int_equal(cli_get(&x->c, &x->c.close_status), NC_EUNAVAIL);
  assert_int_equal(nc_wc_ack(wc, "X", "1", 1), NC_ECLOSED);
  nc_wc_close(wc);
  assert_int_equal(cli_get(&x->c, &x->c.closed), 1);
}

static void async_cb(void *ud, int status, nc_msg *resp) {
  cli *c = ud;
  pthread_mutex_lock(&c->mu);
  c->async_status = status;
  snprintf(c->async_type, sizeof(c->async_type), "%s", resp ? resp->type : "");
  c->async_done++;
  pthread_mutex_unlock(&c->mu);
  nc_msg_free(resp);
}

static void test_async_request_and_raw_send(void **state) {
  env_fx *x = *state;
  nc_wc_opts o = {.target = x->target};
  nc_wc *wc = NULL;
  assert_int_equal(nc_wc_connect(x->env, &o, NULL, NULL, NULL, &wc), 0);
  cJSON *b = cJSON_CreateObject();
  assert_int_equal(nc_wc_request_async(wc, "HealthCheckRequest", b, 0, async_cb, &x->c), 0);
  cJSON_Delete(b);
  assert_int_equal(cli_wait(&x->c, &x->c.async_done, 1, 3000), 1);
  pthread_mutex_lock(&x->c.mu);
  assert_int_equal(x->c.async_status, 0);
  assert_string_equal(x->c.async_type, "HealthCheckResponse");
  pthread_mutex_unlock(&x->c.mu);

  pthread_mutex_lock(&x->f->mu);
  int before = x->f->n_stream_msgs;
  pthread_mutex_unlock(&x->f->mu);
  static const uint8_t junk[] = {0xff, 0x00, 0x12, 0x99};
  assert_int_equal(nc_wc_stream_send_raw(wc, junk, sizeof(junk)), 0);
  long long end = now_ms() + 3000;
  int got = 0;
  while (!got && now_ms() < end) {
    pthread_mutex_lock(&x->f->mu);
    got = x->f->n_stream_msgs > before && x->f->last_raw_len == sizeof(junk) &&
          memcmp(x->f->last_raw, junk, sizeof(junk)) == 0;
    pthread_mutex_unlock(&x->f->mu);
    usleep(2000);
  }
  assert_true(got);
  nc_wc_close(wc);
}

static void test_bad_arguments_rejected(void **state) {
  env_fx *x = *state;
  nc_wc *wc = NULL;
  nc_wc_opts o = {.target = NULL};
  assert_int_equal(nc_wc_connect(x->env, &o, NULL, NULL, NULL, &wc), NC_EINVAL);
  assert_null(wc);
  o.target = x->target;
  assert_int_equal(nc_wc_connect(x->env, &o, NULL, NULL, NULL, &wc), 0);
  nc_msg *r = NULL;
  assert_int_equal(nc_wc_request(wc, "HealthCheckRequest", NULL, 0, &r), NC_EINVAL);
  assert_int_equal(nc_wc_ack(wc, "X", NULL, 1), NC_EINVAL);
  nc_wc_close(wc);
}

int main(void) {
  nc_grpc_init();
#define T(fn) cmocka_unit_test_setup_teardown(fn, per_test_setup, per_test_teardown)
  const struct CMUnitTest tests[] = {
      T(test_setup_request_carries_defaults),
      T(test_setup_request_carries_options),
      T(test_connect_waits_until_registered),
      T(test_connect_times_out_when_never_registered),
      T(test_push_acked_with_response_type_and_request_id),
      T(test_no_auto_ack_then_manual_failure_ack),
      T(test_message_without_request_id_is_not_a_push),
      T(test_server_close_reaches_on_closed),
      T(test_async_request_and_raw_send),
      T(test_bad_arguments_rejected),
  };
#undef T
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  nc_grpc_shutdown();
  return rc;
}
