/* Shared by the transport test programs (test_grpc_transport*.c, each
 * built twice: with the gRPC C-core client and, as test_h2_transport*, with
 * the nghttp2 one): the server-side owner of an in-process nc_gsrv (echo, or
 * a minimal fake Nacos for the wire client), the client's stream state and
 * callbacks, and the group fixture (one nc_gcli_env). Header-only
 * (static inline: a program uses what it needs); include after cmocka.h. */
#ifndef TRANSPORT_TEST_UTIL_H
#define TRANSPORT_TEST_UTIL_H

#include "nc_err.h"
#include "nc_grpc_client.h"
#include "nc_grpc_server.h"
#include "nc_json.h"
#include "nc_payload.h"

#include "cond_wait_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the server-side owner ---------------------------------------------- */

#define MAX_IDS 64

typedef struct owner {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int fake_nacos;      /* 0: echo; 1: answer like a minimal Nacos */
  nc_gsrv *srv;
  int port;
  uint64_t opened[MAX_IDS];
  int n_opened;
  uint64_t closed[MAX_IDS];
  int n_closed;
  long long closed_at_ms;
  int n_stream_msgs;
  int n_unary;
  /* fake nacos */
  int setup_seen;
  char setup_module[32], setup_app[32], setup_ip[32], setup_tenant[32];
  int setup_has_tenant;
  char ack_type[64], ack_rid[32];
  int ack_code;
} owner;

static inline void fake_nacos_unary(owner *o, nc_gsrv_ev *ev) {
  nc_msg *m = NULL;
  uint8_t *out = NULL;
  size_t len = 0;
  cJSON *b = NULL;
  if (nc_payload_decode(ev->data, ev->len, &m) != 0) {
    nc_payload_error(502, "bad payload", &out, &len);
  } else if (strcmp(m->type, "ServerCheckRequest") == 0) {
    b = nc_resp_ok();
    cJSON_AddStringToObject(b, "connectionId", "1_127.0.0.1_1");
    nc_payload_encode_json("ServerCheckResponse", "", b, &out, &len);
  } else {
    pthread_mutex_lock(&o->mu);
    int reg = o->setup_seen;
    pthread_mutex_unlock(&o->mu);
    if (!reg) {
      nc_payload_error(301, "Connection is unregistered.", &out, &len);
    } else {
      b = nc_resp_ok();
      char rt[96];
      snprintf(rt, sizeof(rt), "%.*sResponse", (int)(strlen(m->type) - 7), m->type);
      nc_payload_encode_json(rt, "", b, &out, &len);
    }
  }
  nc_gsrv_unary_reply(ev->call, out, len);
  free(out);
  cJSON_Delete(b);
  nc_msg_free(m);
}

static inline void fake_nacos_stream_msg(owner *o, nc_gsrv_ev *ev) {
  nc_msg *m = NULL;
  if (nc_payload_decode(ev->data, ev->len, &m) != 0)
    return;
  pthread_mutex_lock(&o->mu);
  if (strcmp(m->type, "ConnectionSetupRequest") == 0 && m->body) {
    cJSON *labels = cJSON_GetObjectItem(m->body, "labels");
    snprintf(o->setup_module, sizeof(o->setup_module), "%s", nc_json_str(labels, "module", ""));
    snprintf(o->setup_app, sizeof(o->setup_app), "%s", nc_json_str(labels, "AppName", ""));
    snprintf(o->setup_ip, sizeof(o->setup_ip), "%s", m->client_ip);
    const char *t = nc_json_str(m->body, "tenant", NULL);
    o->setup_has_tenant = t != NULL;
    snprintf(o->setup_tenant, sizeof(o->setup_tenant), "%s", t ? t : "");
    o->setup_seen = 1;
  } else if (m->body) {
    snprintf(o->ack_type, sizeof(o->ack_type), "%s", m->type);
    snprintf(o->ack_rid, sizeof(o->ack_rid), "%s", nc_json_str(m->body, "requestId", ""));
    o->ack_code = (int)nc_json_int(m->body, "resultCode", 0);
  }
  pthread_cond_broadcast(&o->cond);
  pthread_mutex_unlock(&o->mu);
  nc_msg_free(m);
}

static inline void on_event(void *ud, nc_gsrv_ev *ev) {
  owner *o = ud;
  switch (ev->type) {
  case NC_GSRV_EV_UNARY:
    if (o->fake_nacos)
      fake_nacos_unary(o, ev);
    else
      nc_gsrv_unary_reply(ev->call, ev->data, ev->len);
    pthread_mutex_lock(&o->mu);
    o->n_unary++;
    pthread_mutex_unlock(&o->mu);
    break;
  case NC_GSRV_EV_STREAM_OPEN:
    assert_true(strncmp(ev->peer, "ipv4:127.0.0.1:", 15) == 0);
    pthread_mutex_lock(&o->mu);
    if (o->n_opened < MAX_IDS)
      o->opened[o->n_opened++] = ev->stream_id;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->mu);
    break;
  case NC_GSRV_EV_STREAM_MSG:
    if (o->fake_nacos)
      fake_nacos_stream_msg(o, ev);
    else
      nc_gsrv_stream_send(ev->srv, ev->stream_id, ev->data, ev->len);
    pthread_mutex_lock(&o->mu);
    o->n_stream_msgs++;
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->mu);
    break;
  case NC_GSRV_EV_STREAM_CLOSED:
    pthread_mutex_lock(&o->mu);
    if (o->n_closed < MAX_IDS)
      o->closed[o->n_closed++] = ev->stream_id;
    o->closed_at_ms = now_ms();
    pthread_cond_broadcast(&o->cond);
    pthread_mutex_unlock(&o->mu);
    break;
  }
  nc_gsrv_ev_free(ev);
}

/* Waits for an owner counter (see cond_wait_ge). */
static inline int owner_wait(owner *o, const int *field, int want, int ms) {
  return cond_wait_ge(&o->mu, &o->cond, field, want, ms);
}

static inline owner *owner_start(int max_msg, int fake_nacos) {
  owner *o = calloc(1, sizeof(*o));
  assert_non_null(o);
  pthread_mutex_init(&o->mu, NULL);
  pthread_cond_init(&o->cond, NULL);
  o->fake_nacos = fake_nacos;
  nc_gsrv_opts so = {.host = "127.0.0.1", .port = 0, .max_msg_bytes = max_msg};
  /* o->srv is written before any event can need it: a stream send
   * happens only after a client we create later connects. */
  assert_int_equal(nc_gsrv_start(&so, on_event, o, &o->srv, &o->port), 0);
  assert_true(o->port > 0);
  return o;
}

static inline void owner_stop(owner *o) {
  nc_gsrv_stop(o->srv);
  pthread_mutex_destroy(&o->mu);
  pthread_cond_destroy(&o->cond);
  free(o);
}

/* ---- the client side ---------------------------------------------------- */

typedef struct cstate {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int n_msgs;
  int in_order; /* 1 while messages "0","1",... arrived in sequence */
  char last[64];
  int closed, close_status;
} cstate;

static inline void cs_init(cstate *s) {
  memset(s, 0, sizeof(*s));
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cond, NULL);
  s->in_order = 1;
}

/* The last message, read under the lock (the callback thread writes it). */
static inline const char *cs_last(cstate *s, char *buf, size_t cap) {
  pthread_mutex_lock(&s->mu);
  snprintf(buf, cap, "%s", s->last);
  pthread_mutex_unlock(&s->mu);
  return buf;
}

static inline void cs_destroy(cstate *s) {
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cond);
}

static inline void c_on_msg(void *ud, const uint8_t *data, size_t len) {
  cstate *s = ud;
  char buf[64];
  snprintf(buf, sizeof(buf), "%.*s", (int)(len < 63 ? len : 63), (const char *)data);
  pthread_mutex_lock(&s->mu);
  char want[32];
  snprintf(want, sizeof(want), "%d", s->n_msgs);
  if (strcmp(want, buf) != 0)
    s->in_order = 0;
  memcpy(s->last, buf, sizeof(buf));
  s->n_msgs++;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
}

static inline void c_on_closed(void *ud, int status) {
  cstate *s = ud;
  pthread_mutex_lock(&s->mu);
  s->closed++;
  s->close_status = status;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
}

static const nc_gcli_stream_cbs c_cbs = {c_on_msg, c_on_closed};

/* Initialises s and opens c's stream with s as the callbacks' state. */
static inline void cs_open(cstate *s, nc_gcli *c) {
  cs_init(s);
  assert_int_equal(nc_gcli_stream_open(c, &c_cbs, s), 0);
}

static inline int cs_wait(cstate *s, const int *field, int want, int ms) {
  return cond_wait_ge(&s->mu, &s->cond, field, want, ms);
}

static inline nc_gcli *client_for(nc_gcli_env *env, int port) {
  char target[64];
  nc_gcli *c = NULL;
  snprintf(target, sizeof(target), "127.0.0.1:%d", port);
  assert_int_equal(nc_gcli_new(env, target, NULL, &c), 0);
  return c;
}

typedef struct fixture {
  nc_gcli_env *env;
} fixture;

static inline int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f || nc_gcli_env_new(2, &f->env) != 0)
    return -1;
  *state = f;
  return 0;
}

static inline int teardown(void **state) {
  fixture *f = *state;
  nc_gcli_env_free(f->env);
  free(f);
  return 0;
}

/* Counts unary answers: ok when the "ping" came back, failed otherwise. */
typedef struct counter {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int ok, failed;
} counter;

static inline void count_cb(void *ud, int status, const uint8_t *data, size_t len) {
  counter *k = ud;
  pthread_mutex_lock(&k->mu);
  if (status == 0 && len == 4 && memcmp(data, "ping", 4) == 0)
    k->ok++;
  else
    k->failed++;
  pthread_cond_broadcast(&k->cond);
  pthread_mutex_unlock(&k->mu);
}

/* An echo owner, a client to it (*c) and the client's stream on s, opened
 * on both sides: opened[0] is its id. */
static inline owner *echo_with_stream(nc_gcli_env *env, nc_gcli **c, cstate *s) {
  owner *o = owner_start(0, 0);
  *c = client_for(env, o->port);
  cs_open(s, *c);
  assert_int_equal(owner_wait(o, &o->n_opened, 1, 3000), 1);
  return o;
}

#endif
