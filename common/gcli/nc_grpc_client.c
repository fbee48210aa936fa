/* nc_gcli: gRPC C-core client channels sharing completion-queue threads.
 *
 * Design notes
 * - An env owns N completion queues, one thread each; a client is bound to
 *   one queue (round robin), so all of its completions, and therefore all of
 *   its callbacks, run on one thread, in order.
 * - Every started batch is counted in c->ops and uncounted only after its
 *   completion (including the user callback) has been handled. nc_gcli_free
 *   cancels every call and waits for ops == 0: afterwards nothing of the
 *   client can run. Cancellation is local, so this also holds when the
 *   server is gone.
 * - All batches of a client are started under c->mu (sends come from any
 *   thread, receives from the queue thread); grpc.h requires batches on one
 *   call to be serialised. start_batch never runs our callbacks inline.
 * - During nc_gcli_free, pending unary callbacks still run (status
 *   NC_ECLOSED) so their user data can be released; stream callbacks
 *   (on_msg, on_closed) are suppressed: the owner is closing on purpose. */
#include "nc_grpc_client.h"
#include "nc_gcli_priv.h"
#include "nc_grpc_util.h"
#include "nc_err.h"
#include "nc_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GC_MAX_THREADS 16
#define GC_STREAM_QUEUE_MAX 16384

enum { T_UNARY = 1, T_S_RECV, T_S_STATUS, T_S_SEND };
enum { S_NONE, S_OPEN, S_CLOSED };

typedef struct gc_q {
  grpc_completion_queue *cq;
  pthread_t thr;
  int started;
} gc_q;

struct nc_gcli_env {
  int n;
  atomic_uint rr;
  gc_q qs[GC_MAX_THREADS];
};

typedef struct gc_unary {
  nc_gtag tag;
  nc_gcli *c;
  grpc_call *call;
  grpc_byte_buffer *send_bb, *recv_bb;
  grpc_metadata_array imd, tmd;
  grpc_status_code status;
  grpc_slice details;
  nc_gcli_unary_cb cb;
  void *ud;
  struct gc_unary *prev, *next;
} gc_unary;

struct nc_gcli {
  grpc_completion_queue *cq;
  grpc_channel *ch;
  void *reg_unary, *reg_stream;

  pthread_mutex_t mu;
  pthread_cond_t cond;
  int ops;
  int freeing;
  gc_unary *unaries;

  /* the bidi stream */
  nc_gtag t_recv, t_status, t_send;
  grpc_call *scall;
  int s_state;
  nc_gcli_stream_cbs cbs;
  void *s_ud;
  grpc_byte_buffer *recv_bb;
  grpc_metadata_array s_imd, s_tmd;
  grpc_status_code s_status;
  grpc_slice s_details;
  int first_recv;
  nc_bbq q; /* queued sends */
  grpc_byte_buffer *inflight;
  int sending, send_dead;
};

/* ---- helpers ---------------------------------------------------------- */

/* Gives a contiguous view of bb. Borrowed when bb is one plain slice (the
 * common case), else copied into *owned, which the caller frees. */
static int bb_view(grpc_byte_buffer *bb, const uint8_t **data, size_t *len, uint8_t **owned) {
  *owned = NULL;
  if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
      bb->data.raw.slice_buffer.count == 1) {
    grpc_slice *s = &bb->data.raw.slice_buffer.slices[0];
    *data = GRPC_SLICE_START_PTR(*s);
    *len = GRPC_SLICE_LENGTH(*s);
    return 0;
  }
  if (!(*owned = nc_grpc_bb_flatten(bb, len)))
    return NC_ENOMEM;
  *data = *owned;
  return 0;
}

static int map_status(grpc_status_code st) { return nc_gcli_status_from_grpc((int)st); }

static gpr_timespec deadline_in(int ms) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* A completion has been fully handled (callbacks included). */
static void op_done(nc_gcli *c) {
  pthread_mutex_lock(&c->mu);
  if (--c->ops == 0 && c->freeing)
    pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->mu);
}

/* ---- unary ------------------------------------------------------------ */

static void unary_free(gc_unary *u) {
  if (u->send_bb)
    grpc_byte_buffer_destroy(u->send_bb);
  if (u->recv_bb)
    grpc_byte_buffer_destroy(u->recv_bb);
  grpc_metadata_array_destroy(&u->imd);
  grpc_metadata_array_destroy(&u->tmd);
  grpc_slice_unref(u->details);
  if (u->call)
    grpc_call_unref(u->call);
  free(u);
}

static void unary_done(gc_unary *u) {
  nc_gcli *c = u->c;
  pthread_mutex_lock(&c->mu);
  if (u->prev)
    u->prev->next = u->next;
  else
    c->unaries = u->next;
  if (u->next)
    u->next->prev = u->prev;
  pthread_mutex_unlock(&c->mu);

  int st = map_status(u->status);
  const uint8_t *data = NULL;
  size_t len = 0;
  uint8_t *owned = NULL;
  if (st == 0 && !u->recv_bb)
    st = NC_EGRPC;
  if (st == 0 && bb_view(u->recv_bb, &data, &len, &owned) != 0)
    st = NC_ENOMEM;
  if (st != 0 && u->status != GRPC_STATUS_OK) {
    char *d = grpc_slice_to_c_string(u->details);
    nc_debug("gcli: unary failed: grpc status %d (%s)", (int)u->status, d ? d : "");
    gpr_free(d);
  }
  u->cb(u->ud, st, st == 0 ? data : NULL, st == 0 ? len : 0);
  free(owned);
  unary_free(u);
  op_done(c);
}

int nc_gcli_unary_async(nc_gcli *c, const uint8_t *data, size_t len, int timeout_ms,
                        nc_gcli_unary_cb cb, void *ud) {
  gc_unary *u;
  grpc_op ops[6];
  int rc = 0;
  if (!c || !cb || (!data && len))
    return NC_EINVAL;
  if (!(u = calloc(1, sizeof(*u))))
    return NC_ENOMEM;
  nc_gtag_init(&u->tag, T_UNARY, u);
  u->c = c;
  u->cb = cb;
  u->ud = ud;
  u->details = grpc_empty_slice();
  grpc_metadata_array_init(&u->imd);
  grpc_metadata_array_init(&u->tmd);
  u->send_bb = nc_grpc_bb_from(data, len);

  memset(ops, 0, sizeof(ops));
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = u->send_bb;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &u->imd;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &u->recv_bb;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &u->tmd;
  ops[5].data.recv_status_on_client.status = &u->status;
  ops[5].data.recv_status_on_client.status_details = &u->details;

  pthread_mutex_lock(&c->mu);
  if (c->freeing) {
    rc = NC_ECLOSED;
    goto out;
  }
  u->call = grpc_channel_create_registered_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                                c->reg_unary,
                                                deadline_in(timeout_ms > 0 ? timeout_ms : 3000),
                                                NULL);
  if (!u->call) {
    rc = NC_EGRPC;
    goto out;
  }
  if (grpc_call_start_batch(u->call, ops, 6, nc_gtag_give(&u->tag), NULL) != GRPC_CALL_OK) {
    rc = NC_EGRPC;
    goto out;
  }
  c->ops++;
  u->next = c->unaries;
  if (u->next)
    u->next->prev = u;
  c->unaries = u;
  u = NULL;
out:
  pthread_mutex_unlock(&c->mu);
  if (u)
    unary_free(u);
  return rc;
}

/* ---- the bidi stream -------------------------------------------------- */

/* Under c->mu: starts the next queued message if none is in flight. */
static void pump_locked(nc_gcli *c) {
  grpc_op op;
  if (c->sending || c->send_dead || !c->q.len)
    return;
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_SEND_MESSAGE;
  c->inflight = nc_bbq_pop(&c->q);
  op.data.send_message.send_message = c->inflight;
  grpc_call_error e = grpc_call_start_batch(c->scall, &op, 1, nc_gtag_give(&c->t_send), NULL);
  if (e != GRPC_CALL_OK) {
    nc_error("gcli: stream send start_batch failed: %d", (int)e);
    grpc_byte_buffer_destroy(c->inflight);
    c->inflight = NULL;
    c->send_dead = 1;
    nc_bbq_clear(&c->q);
    return;
  }
  c->sending = 1;
  c->ops++;
}

/* Under c->mu. */
static int post_recv_locked(nc_gcli *c) {
  grpc_op ops[2];
  size_t n = 0;
  memset(ops, 0, sizeof(ops));
  if (c->first_recv) {
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &c->s_imd;
    c->first_recv = 0;
  }
  ops[n].op = GRPC_OP_RECV_MESSAGE;
  ops[n++].data.recv_message.recv_message = &c->recv_bb;
  grpc_call_error e = grpc_call_start_batch(c->scall, ops, n, nc_gtag_give(&c->t_recv), NULL);
  if (e != GRPC_CALL_OK) {
    nc_error("gcli: stream recv start_batch failed: %d", (int)e);
    return NC_EGRPC;
  }
  c->ops++;
  return 0;
}

static void stream_on_recv(nc_gcli *c, int ok) {
  grpc_byte_buffer *bb = c->recv_bb;
  c->recv_bb = NULL;
  if (ok && bb) {
    pthread_mutex_lock(&c->mu);
    int deliver = !c->freeing && c->s_state == S_OPEN;
    pthread_mutex_unlock(&c->mu);
    if (deliver && c->cbs.on_msg) {
      const uint8_t *data;
      size_t len;
      uint8_t *owned;
      if (bb_view(bb, &data, &len, &owned) == 0) {
        c->cbs.on_msg(c->s_ud, data, len);
        free(owned);
      } else {
        nc_error("gcli: out of memory reading a stream message");
      }
    }
    grpc_byte_buffer_destroy(bb);
    pthread_mutex_lock(&c->mu);
    if (!c->freeing && c->s_state == S_OPEN && post_recv_locked(c) != 0)
      grpc_call_cancel(c->scall, NULL); /* cannot read on: end it, on_closed follows */
    pthread_mutex_unlock(&c->mu);
  } else if (bb) {
    grpc_byte_buffer_destroy(bb);
  }
  op_done(c);
}

static void stream_on_status(nc_gcli *c) {
  pthread_mutex_lock(&c->mu);
  c->s_state = S_CLOSED;
  nc_bbq_clear(&c->q);
  int deliver = !c->freeing;
  pthread_mutex_unlock(&c->mu);
  if (c->s_status != GRPC_STATUS_OK) {
    char *d = grpc_slice_to_c_string(c->s_details);
    nc_debug("gcli: stream ended: grpc status %d (%s)", (int)c->s_status, d ? d : "");
    gpr_free(d);
  }
  if (deliver && c->cbs.on_closed)
    c->cbs.on_closed(c->s_ud, map_status(c->s_status));
  op_done(c);
}

static void stream_on_send(nc_gcli *c, int ok) {
  pthread_mutex_lock(&c->mu);
  if (c->inflight) {
    grpc_byte_buffer_destroy(c->inflight);
    c->inflight = NULL;
  }
  c->sending = 0;
  if (!ok) {
    c->send_dead = 1;
    nc_bbq_clear(&c->q);
  } else if (c->s_state == S_OPEN && !c->freeing) {
    pump_locked(c);
  }
  c->ops--; /* inline op_done: we hold the lock */
  if (c->ops == 0 && c->freeing)
    pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->mu);
}

int nc_gcli_stream_open(nc_gcli *c, const nc_gcli_stream_cbs *cbs, void *ud) {
  grpc_op op;
  int rc = 0;
  if (!c || !cbs)
    return NC_EINVAL;
  pthread_mutex_lock(&c->mu);
  if (c->freeing) {
    rc = NC_ECLOSED;
    goto out;
  }
  if (c->s_state != S_NONE) {
    rc = NC_ESTATE; /* one stream per client */
    goto out;
  }
  c->scall = grpc_channel_create_registered_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                                 c->reg_stream,
                                                 gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  if (!c->scall) {
    rc = NC_EGRPC;
    goto out;
  }
  c->cbs = *cbs;
  c->s_ud = ud;
  c->first_recv = 1;
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_SEND_INITIAL_METADATA;
  if (grpc_call_start_batch(c->scall, &op, 1, nc_gtag_give(&c->t_send), NULL) != GRPC_CALL_OK) {
    rc = NC_EGRPC;
    goto fail;
  }
  c->ops++;
  c->sending = 1;
  c->s_state = S_OPEN;
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op.data.recv_status_on_client.trailing_metadata = &c->s_tmd;
  op.data.recv_status_on_client.status = &c->s_status;
  op.data.recv_status_on_client.status_details = &c->s_details;
  if (grpc_call_start_batch(c->scall, &op, 1, nc_gtag_give(&c->t_status), NULL) != GRPC_CALL_OK) {
    /* Cannot learn the end of this call: give it up. The initial-metadata
     * batch completes (cancelled) and is uncounted as usual. */
    grpc_call_cancel(c->scall, NULL);
    c->s_state = S_CLOSED;
    rc = NC_EGRPC;
    goto out;
  }
  c->ops++;
  if (post_recv_locked(c) != 0) {
    grpc_call_cancel(c->scall, NULL); /* the status completion reports it */
    rc = NC_EGRPC;
  }
  goto out;
fail:
  grpc_call_unref(c->scall);
  c->scall = NULL;
out:
  pthread_mutex_unlock(&c->mu);
  return rc;
}

int nc_gcli_stream_send(nc_gcli *c, const uint8_t *data, size_t len) {
  int rc = 0;
  if (!c || (!data && len))
    return NC_EINVAL;
  pthread_mutex_lock(&c->mu);
  if (c->freeing || c->s_state != S_OPEN || c->send_dead) {
    rc = NC_ECLOSED;
    goto out;
  }
  if (c->q.len >= GC_STREAM_QUEUE_MAX) {
    rc = NC_EBUSY;
    goto out;
  }
  if ((rc = nc_bbq_push(&c->q, data, len)) != 0)
    goto out;
  pump_locked(c);
out:
  pthread_mutex_unlock(&c->mu);
  return rc;
}

/* ---- env and client lifetime ----------------------------------------- */

static void *cq_thread(void *arg) {
  gc_q *q = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(q->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      break;
    if (ev.type != GRPC_OP_COMPLETE)
      continue;
    nc_gtag *t = nc_gtag_take(ev.tag);
    switch (t->kind) {
    case T_UNARY:
      unary_done(t->obj);
      break;
    case T_S_RECV:
      stream_on_recv(t->obj, ev.success);
      break;
    case T_S_STATUS:
      stream_on_status(t->obj);
      break;
    case T_S_SEND:
      stream_on_send(t->obj, ev.success);
      break;
    }
  }
  return NULL;
}

int nc_gcli_env_new(int threads, nc_gcli_env **out) {
  nc_gcli_env *env = calloc(1, sizeof(*env));
  *out = NULL;
  if (!env)
    return NC_ENOMEM;
  env->n = threads > 0 ? (threads > GC_MAX_THREADS ? GC_MAX_THREADS : threads) : 1;
  for (int i = 0; i < env->n; i++) {
    env->qs[i].cq = grpc_completion_queue_create_for_next(NULL);
    if (pthread_create(&env->qs[i].thr, NULL, cq_thread, &env->qs[i]) != 0) {
      env->n = i + 1; /* this queue exists, its thread does not */
      nc_gcli_env_free(env);
      return NC_ENOMEM;
    }
    env->qs[i].started = 1;
  }
  *out = env;
  return 0;
}

void nc_gcli_env_free(nc_gcli_env *env) {
  if (!env)
    return;
  for (int i = 0; i < env->n; i++)
    grpc_completion_queue_shutdown(env->qs[i].cq);
  for (int i = 0; i < env->n; i++) {
    if (env->qs[i].started)
      pthread_join(env->qs[i].thr, NULL);
    else
      while (grpc_completion_queue_next(env->qs[i].cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
                 .type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(env->qs[i].cq);
  }
  free(env);
}

/* Reads a whole PEM file (at most 1 MiB) into a NUL-terminated buffer the
 * caller frees. NC_EIO when it cannot be read, NC_EINVAL when it is empty
 * or no PEM. */
static int read_pem(const char *path, char **out) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    nc_error("TLS: cannot open %s: %s", path, strerror(errno));
    return NC_EIO;
  }
  size_t cap = 1 << 20, n;
  char *buf = malloc(cap + 1);
  if (!buf) {
    fclose(f);
    return NC_ENOMEM;
  }
  n = fread(buf, 1, cap, f);
  int err = ferror(f);
  fclose(f);
  buf[n] = 0;
  if (err || n == 0 || n == cap || !strstr(buf, "-----BEGIN ")) {
    nc_error("TLS: %s is %s", path, err ? "unreadable" : "not a PEM file");
    free(buf);
    return err ? NC_EIO : NC_EINVAL;
  }
  *out = buf;
  return 0;
}

/* SSL channel credentials from t; name gets the host to verify (t's
 * server_name, else the target's host without brackets). */
static int tls_creds(const nc_gcli_tls *t, const char *target, grpc_channel_credentials **out,
                     char *name, size_t cap) {
  char *ca = NULL, *cert = NULL, *key = NULL;
  int rc = NC_EINVAL;
  *out = NULL;
  if (!t->ca_file || (!t->cert_file) != (!t->key_file))
    goto out;
  if (t->server_name && *t->server_name) {
    snprintf(name, cap, "%s", t->server_name);
  } else {
    const char *colon = strrchr(target, ':');
    size_t hl = colon ? (size_t)(colon - target) : strlen(target);
    const char *h = target;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
      h++;
      hl -= 2;
    }
    if (hl == 0 || hl >= cap)
      goto out;
    memcpy(name, h, hl);
    name[hl] = 0;
  }
  if ((rc = read_pem(t->ca_file, &ca)) != 0)
    goto out;
  if (t->cert_file &&
      ((rc = read_pem(t->cert_file, &cert)) != 0 || (rc = read_pem(t->key_file, &key)) != 0))
    goto out;
  grpc_ssl_pem_key_cert_pair pair = {key, cert};
  *out = grpc_ssl_credentials_create(ca, cert ? &pair : NULL, NULL, NULL);
  rc = *out ? 0 : NC_EGRPC;
out:
  free(ca);
  free(cert);
  if (key) {
    explicit_bzero(key, strlen(key)); /* the private key leaves no copy behind */
    free(key);
  }
  return rc;
}

int nc_gcli_new(nc_gcli_env *env, const char *target, const nc_gcli_opts *opts, nc_gcli **out) {
  nc_gcli_opts o = {0};
  char tgt[300];
  *out = NULL;
  if (!env || !target || !*target || strlen(target) > 256)
    return NC_EINVAL;
  if (opts)
    o = *opts;
  nc_gcli *c = calloc(1, sizeof(*c));
  if (!c)
    return NC_ENOMEM;
  c->cq = env->qs[atomic_fetch_add(&env->rr, 1) % (unsigned)env->n].cq;
  nc_gtag_init(&c->t_recv, T_S_RECV, c);
  nc_gtag_init(&c->t_status, T_S_STATUS, c);
  nc_gtag_init(&c->t_send, T_S_SEND, c);
  c->s_details = grpc_empty_slice();
  grpc_metadata_array_init(&c->s_imd);
  grpc_metadata_array_init(&c->s_tmd);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cond, NULL);

  /* An IPv4 literal skips the DNS resolver (cheap for thousands of channels). */
  const char *colon = strrchr(target, ':');
  char host[64];
  struct in_addr ia;
  size_t hl = colon ? (size_t)(colon - target) : 0;
  if (colon && hl < sizeof(host) && (memcpy(host, target, hl), host[hl] = 0,
                                     inet_pton(AF_INET, host, &ia) == 1))
    snprintf(tgt, sizeof(tgt), "ipv4:%s", target);
  else
    snprintf(tgt, sizeof(tgt), "%s", target);

  grpc_arg args[16];
  int na = 0;
  nc_grpc_arg_int(&args[na++], GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                  o.max_msg_bytes > 0 ? o.max_msg_bytes : 10 * 1024 * 1024);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, -1);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_KEEPALIVE_TIME_MS,
                  o.keepalive_ms > 0 ? o.keepalive_ms : 60000);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_ENABLE_RETRIES, 0); /* no retry buffering of messages */
  /* small messages: see nc_grpc_server.c */
  nc_grpc_arg_int(&args[na++], GRPC_ARG_HTTP2_BDP_PROBE, 0);
  /* The subchannel's connect timeout is the min reconnect backoff. */
  nc_grpc_arg_int(&args[na++], GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
                  o.connect_timeout_ms > 0 ? o.connect_timeout_ms : 3000);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  nc_grpc_arg_int(&args[na++], GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  grpc_channel_credentials *creds = NULL;
  char name[256];
  if (o.tls) {
    int rc = tls_creds(o.tls, target, &creds, name, sizeof(name));
    if (rc != 0) {
      nc_gcli_free(c);
      return rc;
    }
    /* the name the server's certificate must carry (an IP literal is
     * matched against its IP SANs) */
    args[na].type = GRPC_ARG_STRING;
    args[na].key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
    args[na++].value.string = name;
  } else {
    creds = grpc_insecure_credentials_create();
  }
  grpc_channel_args ca = {(size_t)na, args};
  c->ch = grpc_channel_create(tgt, creds, &ca);
  grpc_channel_credentials_release(creds);
  if (!c->ch) {
    nc_gcli_free(c);
    return NC_EGRPC;
  }
  const char *um = opts && opts->unary_method ? opts->unary_method : "/Request/request";
  const char *sm =
      opts && opts->stream_method ? opts->stream_method : "/BiRequestStream/requestBiStream";
  /* grpc_channel_register_call copies the method (it interns a slice) */
  c->reg_unary = grpc_channel_register_call(c->ch, um, NULL, NULL);
  c->reg_stream = grpc_channel_register_call(c->ch, sm, NULL, NULL);
  *out = c;
  return 0;
}

void nc_gcli_free(nc_gcli *c) {
  if (!c)
    return;
  pthread_mutex_lock(&c->mu);
  c->freeing = 1;
  for (gc_unary *u = c->unaries; u; u = u->next)
    grpc_call_cancel(u->call, NULL);
  if (c->scall && c->s_state == S_OPEN)
    grpc_call_cancel(c->scall, NULL);
  while (c->ops > 0)
    pthread_cond_wait(&c->cond, &c->mu);
  pthread_mutex_unlock(&c->mu);

  if (c->scall)
    grpc_call_unref(c->scall);
  if (c->recv_bb)
    grpc_byte_buffer_destroy(c->recv_bb);
  nc_bbq_free(&c->q);
  grpc_metadata_array_destroy(&c->s_imd);
  grpc_metadata_array_destroy(&c->s_tmd);
  grpc_slice_unref(c->s_details);
  if (c->ch)
    grpc_channel_destroy(c->ch);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cond);
  free(c);
}

/* The C core does not say why a channel could not connect (a TLS refusal
 * shows only as UNAVAILABLE): callers fall back to the status. */
void nc_gcli_last_error(nc_gcli *c, char *buf, size_t cap) {
  (void)c;
  if (cap)
    buf[0] = '\0';
}
