/* nc_gsrv + nc_gcli + nc_wc over loopback, against an in-process echo owner
 * (and a tiny fake Nacos owner for the wire client). No Nacos server logic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_grpc_server.h"
#include "nc_json.h"
#include "nc_log.h"
#include "nc_wire_client.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *g_self; /* argv[0], re-executed as a child client */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits (up to ms) until *field, guarded by mu, is >= want; returns the last
 * value seen. */
static int wait_ge(pthread_mutex_t *mu, pthread_cond_t *cond, const int *field, int want, int ms) {
  long long end = now_ms() + ms;
  pthread_mutex_lock(mu);
  while (*field < want && now_ms() < end) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cond, mu, &ts);
  }
  int v = *field;
  pthread_mutex_unlock(mu);
  return v;
}

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

static void fake_nacos_unary(owner *o, nc_gsrv_ev *ev) {
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

static void fake_nacos_stream_msg(owner *o, nc_gsrv_ev *ev) {
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

static void on_event(void *ud, nc_gsrv_ev *ev) {
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

/* Waits for an owner counter (see wait_ge). */
static int owner_wait(owner *o, const int *field, int want, int ms) {
  return wait_ge(&o->mu, &o->cond, field, want, ms);
}

static owner *owner_start(int max_msg, int fake_nacos) {
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

static void owner_stop(owner *o) {
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

static void cs_init(cstate *s) {
  memset(s, 0, sizeof(*s));
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cond, NULL);
  s->in_order = 1;
}

/* The last message, read under the lock (the callback thread writes it). */
static const char *cs_last(cstate *s, char *buf, size_t cap) {
  pthread_mutex_lock(&s->mu);
  snprintf(buf, cap, "%s", s->last);
  pthread_mutex_unlock(&s->mu);
  return buf;
}

static void cs_destroy(cstate *s) {
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cond);
}

static void c_on_msg(void *ud, const uint8_t *data, size_t len) {
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

static void c_on_closed(void *ud, int status) {
  cstate *s = ud;
  pthread_mutex_lock(&s->mu);
  s->closed++;
  s->close_status = status;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
}

static const nc_gcli_stream_cbs c_cbs = {c_on_msg, c_on_closed};

/* Initialises s and opens c's stream with s as the callbacks' state. */
static void cs_open(cstate *s, nc_gcli *c) {
  cs_init(s);
  assert_int_equal(nc_gcli_stream_open(c, &c_cbs, s), 0);
}

static int cs_wait(cstate *s, const int *field, int want, int ms) {
  return wait_ge(&s->mu, &s->cond, field, want, ms);
}

static nc_gcli *client_for(nc_gcli_env *env, int port) {
  char target[64];
  nc_gcli *c = NULL;
  snprintf(target, sizeof(target), "127.0.0.1:%d", port);
  assert_int_equal(nc_gcli_new(env, target, NULL, &c), 0);
  return c;
}

typedef struct fixture {
  nc_gcli_env *env;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f || nc_gcli_env_new(2, &f->env) != 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  nc_gcli_env_free(f->env);
  free(f);
  return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_unary_echo(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  uint8_t *resp = NULL;
  size_t len = 0;
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"hello", 5, 3000, &resp, &len), 0);
  assert_int_equal(len, 5);
  assert_memory_equal(resp, "hello", 5);
  free(resp);
  /* An empty message is a valid message. */
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"", 0, 3000, &resp, &len), 0);
  assert_int_equal(len, 0);
  free(resp);
  nc_gcli_free(c);
  owner_stop(o);
}

typedef struct counter {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int ok, failed;
} counter;

static void count_cb(void *ud, int status, const uint8_t *data, size_t len) {
  counter *k = ud;
  pthread_mutex_lock(&k->mu);
  if (status == 0 && len == 4 && memcmp(data, "ping", 4) == 0)
    k->ok++;
  else
    k->failed++;
  pthread_cond_broadcast(&k->cond);
  pthread_mutex_unlock(&k->mu);
}

static void test_unary_async_many_in_flight(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  counter k = {.ok = 0};
  pthread_mutex_init(&k.mu, NULL);
  pthread_cond_init(&k.cond, NULL);
  for (int i = 0; i < 500; i++)
    assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"ping", 4, 5000, count_cb, &k), 0);
  pthread_mutex_lock(&k.mu);
  while (k.ok + k.failed < 500)
    pthread_cond_wait(&k.cond, &k.mu);
  pthread_mutex_unlock(&k.mu);
  assert_int_equal(k.ok, 500);
  nc_gcli_free(c);
  pthread_mutex_destroy(&k.mu);
  pthread_cond_destroy(&k.cond);
  owner_stop(o);
}

static void test_stream_echo_both_directions(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  cstate s;
  cs_open(&s, c);
  assert_int_equal(nc_gcli_stream_open(c, &c_cbs, &s), NC_ESTATE); /* one per client */
  /* client -> server -> echoed back */
  assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)"0", 1), 0);
  assert_int_equal(cs_wait(&s, &s.n_msgs, 1, 3000), 1);
  char last[64];
  assert_string_equal(cs_last(&s, last, sizeof(last)), "0");
  /* server-initiated push */
  assert_int_equal(owner_wait(o, &o->n_opened, 1, 3000), 1);
  assert_int_equal(nc_gsrv_stream_send(o->srv, o->opened[0], (const uint8_t *)"1", 1), 0);
  assert_int_equal(cs_wait(&s, &s.n_msgs, 2, 3000), 2);
  assert_string_equal(cs_last(&s, last, sizeof(last)), "1");
  assert_int_equal(s.in_order, 1);
  nc_gcli_free(c);
  assert_int_equal(s.closed, 0); /* suppressed: the owner closed on purpose */
  cs_destroy(&s);
  owner_stop(o);
}

static void test_stream_many_messages_in_order(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  cstate s;
  cs_open(&s, c);
  enum { N = 3000 };
  char buf[16];
  for (int i = 0; i < N; i++) { /* client sends, server echoes */
    int n = snprintf(buf, sizeof(buf), "%d", i);
    assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)buf, (size_t)n), 0);
  }
  assert_int_equal(cs_wait(&s, &s.n_msgs, N, 20000), N);
  assert_int_equal(owner_wait(o, &o->n_stream_msgs, N, 1000), N);
  assert_int_equal(s.in_order, 1);
  /* server pushes a burst; the per-stream queue keeps them in order. */
  assert_int_equal(owner_wait(o, &o->n_opened, 1, 1000), 1);
  int sent = 0;
  for (int i = N; i < 2 * N; i++) {
    int n = snprintf(buf, sizeof(buf), "%d", i);
    int rc = nc_gsrv_stream_send(o->srv, o->opened[0], (const uint8_t *)buf, (size_t)n);
    while (rc == NC_EBUSY) { /* bounded queue: back off and retry */
      usleep(1000);
      rc = nc_gsrv_stream_send(o->srv, o->opened[0], (const uint8_t *)buf, (size_t)n);
    }
    assert_int_equal(rc, 0);
    sent++;
  }
  assert_int_equal(cs_wait(&s, &s.n_msgs, N + sent, 20000), N + sent);
  assert_int_equal(s.in_order, 1);
  nc_gcli_free(c);
  cs_destroy(&s);
  owner_stop(o);
}

static void test_server_close_gives_on_closed(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  cstate s;
  cs_open(&s, c);
  assert_int_equal(owner_wait(o, &o->n_opened, 1, 3000), 1);
  uint64_t id = o->opened[0];
  /* a message queued before the close is still delivered */
  assert_int_equal(nc_gsrv_stream_send(o->srv, id, (const uint8_t *)"0", 1), 0);
  assert_int_equal(nc_gsrv_stream_close(o->srv, id), 0);
  assert_int_equal(cs_wait(&s, &s.closed, 1, 3000), 1);
  assert_int_equal(s.close_status, NC_EUNAVAIL); /* UNAVAILABLE: SDKs reconnect */
  assert_int_equal(cs_wait(&s, &s.n_msgs, 1, 0), 1);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  assert_true(o->closed[0] == id);
  /* sends to a closed or unknown stream fail cleanly */
  assert_int_equal(nc_gsrv_stream_send(o->srv, id, (const uint8_t *)"x", 1), NC_ECLOSED);
  assert_int_equal(nc_gsrv_stream_close(o->srv, id), NC_ECLOSED);
  assert_int_equal(nc_gsrv_stream_send(o->srv, 0xdeadbeefull, (const uint8_t *)"x", 1), NC_ECLOSED);
  assert_int_equal(nc_gcli_stream_send(c, (const uint8_t *)"x", 1), NC_ECLOSED);
  /* unary still works on the same channel */
  uint8_t *resp = NULL;
  size_t len = 0;
  assert_int_equal(nc_gcli_unary(c, (const uint8_t *)"abc", 3, 3000, &resp, &len), 0);
  free(resp);
  nc_gcli_free(c);
  assert_int_equal(s.closed, 1); /* exactly once */
  cs_destroy(&s);
  owner_stop(o);
}

static void test_server_cancel_ends_stream_at_once(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  cstate s;
  cs_open(&s, c);
  assert_int_equal(owner_wait(o, &o->n_opened, 1, 3000), 1);
  uint64_t id = o->opened[0];
  static uint8_t big[256 * 1024];
  for (int i = 0; i < 8; i++) /* more than the flow-control window */
    assert_int_equal(nc_gsrv_stream_send(o->srv, id, big, sizeof(big)), 0);
  assert_int_equal(nc_gsrv_stream_cancel(o->srv, id), 0);
  assert_int_equal(nc_gsrv_stream_send(o->srv, id, big, 1), NC_ECLOSED);
  assert_int_equal(cs_wait(&s, &s.closed, 1, 3000), 1);
  assert_int_equal(s.close_status, NC_EUNAVAIL);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  assert_int_equal(nc_gsrv_stream_queued(o->srv, id), 0);
  assert_int_equal(nc_gsrv_stream_cancel(o->srv, id), NC_ECLOSED);
  nc_gcli_free(c);
  cs_destroy(&s);
  owner_stop(o);
}

static void test_client_free_gives_stream_closed(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  cstate s;
  cs_open(&s, c);
  assert_int_equal(owner_wait(o, &o->n_opened, 1, 3000), 1);
  long long t0 = now_ms();
  nc_gcli_free(c);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  assert_true(o->closed_at_ms - t0 < 1000);
  assert_int_equal(nc_gsrv_stream_send(o->srv, o->opened[0], (const uint8_t *)"x", 1),
                   NC_ECLOSED);
  cs_destroy(&s);
  owner_stop(o);
}

/* A client process killed with -9: the RECV_CLOSE_ON_SERVER lifeline fires. */
static void test_killed_client_gives_stream_closed_fast(void **state) {
  (void)state;
  owner *o = owner_start(0, 0);
  char port[16];
  snprintf(port, sizeof(port), "%d", o->port);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    execl(g_self, g_self, "--child-client", port, (char *)NULL);
    _exit(127);
  }
  assert_int_equal(owner_wait(o, &o->n_stream_msgs, 1, 10000), 1); /* child is streaming */
  long long t0 = now_ms();
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  assert_true(o->closed_at_ms - t0 < 500);
  owner_stop(o);
}

static void test_oversized_message_rejected_server_keeps_serving(void **state) {
  fixture *f = *state;
  owner *o = owner_start(64 * 1024, 0);
  nc_gcli *c = client_for(f->env, o->port);
  size_t big = 200 * 1024;
  uint8_t *buf = calloc(1, big);
  uint8_t *resp = NULL;
  size_t len = 0;
  int rc = nc_gcli_unary(c, buf, big, 3000, &resp, &len);
  assert_int_not_equal(rc, 0);
  assert_null(resp);
  /* the stream variant ends that stream, not the server */
  cstate s;
  cs_open(&s, c);
  assert_int_equal(nc_gcli_stream_send(c, buf, big), 0);
  assert_int_equal(cs_wait(&s, &s.closed, 1, 3000), 1);
  assert_int_not_equal(s.close_status, 0);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  /* still serving, on this and on a fresh connection */
  assert_int_equal(nc_gcli_unary(c, buf, 1000, 3000, &resp, &len), 0);
  assert_int_equal(len, 1000);
  free(resp);
  nc_gcli *c2 = client_for(f->env, o->port);
  assert_int_equal(nc_gcli_unary(c2, (const uint8_t *)"ok", 2, 3000, &resp, &len), 0);
  free(resp);
  nc_gcli_free(c2);
  nc_gcli_free(c);
  cs_destroy(&s);
  free(buf);
  owner_stop(o);
}

static void test_client_survives_server_gone(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 0);
  nc_gcli *c = client_for(f->env, o->port);
  cstate s;
  cs_open(&s, c);
  assert_int_equal(owner_wait(o, &o->n_opened, 1, 3000), 1);
  owner_stop(o); /* server gone with the stream open */
  assert_int_equal(cs_wait(&s, &s.closed, 1, 3000), 1);
  assert_int_not_equal(s.close_status, 0);
  uint8_t *resp = NULL;
  size_t len = 0;
  long long t0 = now_ms();
  int rc = nc_gcli_unary(c, (const uint8_t *)"x", 1, 500, &resp, &len);
  assert_true(rc == NC_EUNAVAIL || rc == NC_ETIMEOUT);
  assert_true(now_ms() - t0 < 2000);
  /* an async call in flight while freeing: its callback runs before free returns */
  counter k = {.ok = 0};
  pthread_mutex_init(&k.mu, NULL);
  pthread_cond_init(&k.cond, NULL);
  assert_int_equal(nc_gcli_unary_async(c, (const uint8_t *)"ping", 4, 10000, count_cb, &k), 0);
  nc_gcli_free(c);
  assert_int_equal(k.ok + k.failed, 1);
  pthread_mutex_destroy(&k.mu);
  pthread_cond_destroy(&k.cond);
  cs_destroy(&s);
}

/* Server-side senders on every stream while streams are closed, cancelled
 * and freed under them; client-side senders too. Checks for crashes, leaks
 * and (under TSan) races; every stream must end with STREAM_CLOSED. */
typedef struct stress {
  owner *o;
  uint64_t ids[8];
  nc_gcli *cs[8];
  atomic_int stop;
  atomic_long sent, refused;
} stress;

static void *stress_server_sender(void *arg) {
  stress *st = arg;
  static const uint8_t msg[100];
  unsigned seed = 7;
  while (!atomic_load(&st->stop)) {
    uint64_t id = st->ids[rand_r(&seed) % 8];
    int rc = nc_gsrv_stream_send(st->o->srv, id, msg, sizeof(msg));
    if (rc == 0)
      atomic_fetch_add(&st->sent, 1);
    else
      atomic_fetch_add(&st->refused, 1);
  }
  return NULL;
}

static void *stress_client_sender(void *arg) {
  stress *st = arg;
  static const uint8_t msg[50];
  while (!atomic_load(&st->stop))
    for (int i = 0; i < 4; i++) /* clients 0-3 are never freed early */
      nc_gcli_stream_send(st->cs[i], msg, sizeof(msg));
  return NULL;
}

static void test_concurrent_sends_while_streams_end(void **state) {
  fixture *f = *state;
  stress st = {.o = owner_start(0, 0)};
  cstate cs[8];
  for (int i = 0; i < 8; i++) { /* one at a time, so opened[i] is client i's */
    cs_init(&cs[i]);
    cs[i].in_order = 0;
    st.cs[i] = client_for(f->env, st.o->port);
    assert_int_equal(nc_gcli_stream_open(st.cs[i], &c_cbs, &cs[i]), 0);
    assert_int_equal(owner_wait(st.o, &st.o->n_opened, i + 1, 5000), i + 1);
    st.ids[i] = st.o->opened[i];
  }
  pthread_t th[4];
  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_create(&th[i], NULL, stress_server_sender, &st), 0);
  assert_int_equal(pthread_create(&th[3], NULL, stress_client_sender, &st), 0);
  usleep(100000);
  nc_gsrv_stream_close(st.o->srv, st.ids[0]);
  nc_gsrv_stream_cancel(st.o->srv, st.ids[1]);
  usleep(50000);
  for (int i = 4; i < 8; i++) { /* freed while the server keeps sending to them */
    nc_gcli_free(st.cs[i]);
    st.cs[i] = NULL;
    usleep(20000);
  }
  nc_gsrv_stream_cancel(st.o->srv, st.ids[2]);
  usleep(100000);
  atomic_store(&st.stop, 1);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  assert_true(atomic_load(&st.sent) > 0);
  assert_true(atomic_load(&st.refused) > 0); /* sends to ended streams were refused */
  assert_int_equal(owner_wait(st.o, &st.o->n_closed, 7, 5000), 7); /* all but #3 ended */
  for (int i = 0; i < 3; i++) /* the ones the server ended */
    assert_int_equal(cs_wait(&cs[i], &cs[i].closed, 1, 3000), 1);
  assert_int_equal(cs_wait(&cs[3], &cs[3].closed, 1, 0), 0); /* still open */
  for (int i = 0; i < 4; i++)
    nc_gcli_free(st.cs[i]);
  for (int i = 0; i < 8; i++)
    cs_destroy(&cs[i]);
  owner_stop(st.o);
}

/* ---- wire client against a fake Nacos owner ------------------------------ */

typedef struct wstate {
  pthread_mutex_t mu;
  int pushes;
  char push_type[64];
  char push_rid[32];
} wstate;

static void w_on_push(void *ud, nc_wc *wc, const nc_msg *push) {
  (void)wc;
  wstate *w = ud;
  pthread_mutex_lock(&w->mu);
  w->pushes++;
  snprintf(w->push_type, sizeof(w->push_type), "%s", push->type);
  snprintf(w->push_rid, sizeof(w->push_rid), "%s", nc_json_str(push->body, "requestId", ""));
  pthread_mutex_unlock(&w->mu);
}

static void test_wire_client_handshake_request_and_push_ack(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 1);
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", o->port);
  wstate w = {.pushes = 0};
  pthread_mutex_init(&w.mu, NULL);
  nc_wc_opts wo = {.target = target, .module = "naming", .app_name = "demo",
                   .client_ip = "10.1.2.3"};
  nc_wc *wc = NULL;
  assert_int_equal(nc_wc_connect(f->env, &wo, w_on_push, NULL, &w, &wc), 0);
  assert_string_equal(nc_wc_connection_id(wc), "1_127.0.0.1_1");
  /* connect returned only after the setup was registered */
  pthread_mutex_lock(&o->mu);
  assert_int_equal(o->setup_seen, 1);
  assert_string_equal(o->setup_module, "naming");
  assert_string_equal(o->setup_app, "demo");
  assert_string_equal(o->setup_ip, "10.1.2.3");
  assert_int_equal(o->setup_has_tenant, 0);
  pthread_mutex_unlock(&o->mu);

  cJSON *body = cJSON_CreateObject();
  nc_msg *resp = NULL;
  assert_int_equal(nc_wc_request(wc, "HealthCheckRequest", body, 3000, &resp), 0);
  assert_string_equal(resp->type, "HealthCheckResponse");
  assert_int_equal(nc_json_int(resp->body, "resultCode", 0), 200);
  nc_msg_free(resp);
  cJSON_Delete(body);

  /* a push, acked automatically with the matching type and requestId */
  uint8_t *buf = NULL;
  size_t len = 0;
  cJSON *p = cJSON_CreateObject();
  cJSON_AddStringToObject(p, "requestId", "7");
  cJSON_AddStringToObject(p, "module", "naming");
  assert_int_equal(nc_payload_encode_json("NotifySubscriberRequest", "", p, &buf, &len), 0);
  cJSON_Delete(p);
  assert_int_equal(owner_wait(o, &o->n_opened, 1, 1000), 1);
  pthread_mutex_lock(&o->mu);
  int before = o->n_stream_msgs;
  uint64_t sid = o->opened[0];
  pthread_mutex_unlock(&o->mu);
  assert_int_equal(nc_gsrv_stream_send(o->srv, sid, buf, len), 0);
  free(buf);
  assert_true(owner_wait(o, &o->n_stream_msgs, before + 1, 3000) >= before + 1);
  pthread_mutex_lock(&o->mu);
  assert_string_equal(o->ack_type, "NotifySubscriberResponse");
  assert_string_equal(o->ack_rid, "7");
  assert_int_equal(o->ack_code, 200);
  pthread_mutex_unlock(&o->mu);
  pthread_mutex_lock(&w.mu);
  assert_int_equal(w.pushes, 1);
  assert_string_equal(w.push_type, "NotifySubscriberRequest");
  assert_string_equal(w.push_rid, "7");
  pthread_mutex_unlock(&w.mu);

  nc_wc_close(wc);
  assert_int_equal(owner_wait(o, &o->n_closed, 1, 3000), 1);
  pthread_mutex_destroy(&w.mu);
  owner_stop(o);
}

static void test_wire_client_connect_fails_cleanly_without_server(void **state) {
  fixture *f = *state;
  owner *o = owner_start(0, 1);
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", o->port);
  owner_stop(o); /* nothing listens on that port now */
  nc_wc_opts wo = {.target = target, .timeout_ms = 500};
  nc_wc *wc = NULL;
  long long t0 = now_ms();
  int rc = nc_wc_connect(f->env, &wo, NULL, NULL, NULL, &wc);
  assert_int_not_equal(rc, 0);
  assert_null(wc);
  assert_true(now_ms() - t0 < 3000);
}

/* Child process: connect, open a stream, send one message, wait to be killed. */
static int child_client(const char *port) {
  nc_gcli_env *env = NULL;
  nc_gcli *c = NULL;
  char target[64];
  cstate s;
  cs_init(&s);
  snprintf(target, sizeof(target), "127.0.0.1:%s", port);
  if (nc_gcli_env_new(1, &env) != 0 || nc_gcli_new(env, target, NULL, &c) != 0)
    return 1;
  if (nc_gcli_stream_open(c, &c_cbs, &s) != 0 || nc_gcli_stream_send(c, (const uint8_t *)"0", 1))
    return 1;
  for (;;)
    pause();
}

int main(int argc, char **argv) {
  g_self = argv[0];
  nc_grpc_init();
  if (argc == 3 && strcmp(argv[1], "--child-client") == 0)
    return child_client(argv[2]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unary_echo),
      cmocka_unit_test(test_unary_async_many_in_flight),
      cmocka_unit_test(test_stream_echo_both_directions),
      cmocka_unit_test(test_stream_many_messages_in_order),
      cmocka_unit_test(test_server_close_gives_on_closed),
      cmocka_unit_test(test_server_cancel_ends_stream_at_once),
      cmocka_unit_test(test_client_free_gives_stream_closed),
      cmocka_unit_test(test_concurrent_sends_while_streams_end),
      cmocka_unit_test(test_killed_client_gives_stream_closed_fast),
      cmocka_unit_test(test_oversized_message_rejected_server_keeps_serving),
      cmocka_unit_test(test_client_survives_server_gone),
      cmocka_unit_test(test_wire_client_handshake_request_and_push_ack),
      cmocka_unit_test(test_wire_client_connect_fails_cleanly_without_server),
  };
  if (getenv("NC_TEST_TRACE"))
    nc_log_set_level(NC_LOG_TRACE);
  if (getenv("NC_TEST_FILTER")) /* e.g. NC_TEST_FILTER='*cancel*' to loop one test */
    cmocka_set_test_filter(getenv("NC_TEST_FILTER"));
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  nc_grpc_shutdown();
  return rc;
}
