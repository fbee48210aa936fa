/* cluster_peer: one long gRPC connection per peer, to the peer's main
 * port + 1001, with the handshake of Nacos's cluster client
 * (nacos-cluster.md §2.2): clientVersion "Nacos-Server:v<version>", labels
 * source=cluster and tls.enable (true with --cluster-tls-ca), plus
 * "nc.cluster":"1" so nacos-c peers can tell each other apart (Java
 * ignores unknown labels).
 *
 * nc_wc connects block, so every peer has a thread of its own that
 * connects, reconnects with back-off (100 ms doubling to 2 s) and closes;
 * one slow peer (SIGSTOPped: connects time out) holds up no other. The
 * loop borrows the live connection for sends; what happens on the threads
 * (connected, connect failed, stream closed, a response) reaches the loop
 * through the module's nc_evq. A connection is only ever closed by its
 * peer's thread, after the loop has given it back (its stream closed) or
 * at stop, so the loop never sends on a closed one. */
#include "cluster_int.h"

#include "nc_err.h"
#include "nc_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

enum { EV_UP = 1, EV_CONNECT_FAILED, EV_CLOSED, EV_RESP };

typedef struct cl_ev {
  nc_evq_node node; /* first */
  int kind;
  nc_cpeer *p;
  uint64_t gen;
  int status;
  nc_msg *resp;
  nc_cluster_resp_fn cb;
  void *ud;
} cl_ev;

static void post(nc_cpeer *p, int kind, uint64_t gen, int status) {
  cl_ev *e = calloc(1, sizeof(*e));
  if (!e)
    return; /* the loop misses one state hint; the next report corrects it */
  e->kind = kind;
  e->p = p;
  e->gen = gen;
  e->status = status;
  if (nc_evq_push(p->cl->q, &e->node) != 0)
    free(e);
}

/* Completion-queue thread: the stream of a connection ended. */
static void on_closed(void *ud, nc_wc *wc, int status) {
  nc_cpeer *p = ud;
  uint64_t gen = 0;
  pthread_mutex_lock(&p->mu);
  if (p->thread_wc == wc)
    gen = p->gen;
  else
    p->early_closed = wc; /* between the handshake and the thread taking it */
  pthread_mutex_unlock(&p->mu);
  if (gen)
    post(p, EV_CLOSED, gen, status);
}

static void wait_ms(nc_cpeer *p, int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  while (!p->stop && !p->to_close &&
         pthread_cond_timedwait(&p->cv, &p->mu, &ts) != ETIMEDOUT) {
  }
}

static void *peer_main(void *arg) {
  nc_cpeer *p = arg;
  nc_cluster *cl = p->cl;
  static const char *const labels[] = {"tls.enable", "false", "nc.cluster", "1", NULL};
  static const char *const tls_labels[] = {"tls.enable", "true", "nc.cluster", "1", NULL};
  nc_wc_opts wo = {
      .target = p->target,
      .client_version = "Nacos-Server:v" NC_VERSION,
      .client_ip = cl->me->ip,
      .timeout_ms = cl->o.request_timeout_ms,
      .source = "cluster",
      .labels = cl->o.peer_tls ? tls_labels : labels,
      .headers = cl->identity[0] ? (const char *const *)cl->identity : NULL,
      .tls = cl->o.peer_tls,
  };
  int backoff = BACKOFF_MIN_MS;
  pthread_mutex_lock(&p->mu);
  while (!p->stop) {
    if (p->to_close) {
      nc_wc *w = p->to_close;
      p->to_close = NULL;
      pthread_mutex_unlock(&p->mu);
      nc_wc_close(w);
      pthread_mutex_lock(&p->mu);
      continue;
    }
    if (p->have_conn) {
      pthread_cond_wait(&p->cv, &p->mu);
      continue;
    }
    pthread_mutex_unlock(&p->mu);
    nc_wc *wc = NULL;
    int rc = nc_wc_connect(cl->env, &wo, NULL, on_closed, p, &wc);
    pthread_mutex_lock(&p->mu);
    if (rc == 0 && p->early_closed == wc) {
      pthread_mutex_unlock(&p->mu);
      nc_wc_close(wc);
      pthread_mutex_lock(&p->mu);
      rc = NC_ECLOSED;
    }
    p->early_closed = NULL;
    if (rc == 0) {
      p->gen++;
      p->have_conn = 1;
      p->thread_wc = wc;
      backoff = BACKOFF_MIN_MS;
      post(p, EV_UP, p->gen, 0);
    } else {
      post(p, EV_CONNECT_FAILED, 0, rc);
      wait_ms(p, backoff);
      backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
  }
  nc_wc *a = p->thread_wc, *b = p->to_close;
  p->thread_wc = p->to_close = NULL;
  pthread_mutex_unlock(&p->mu);
  nc_wc_close(a);
  nc_wc_close(b);
  return NULL;
}

int nc_cl_peers_start(nc_cluster *cl) {
  for (size_t i = 0; i < cl->n; i++) {
    nc_cmember *m = cl->members[i];
    if (m->is_self)
      continue;
    nc_cpeer *p = calloc(1, sizeof(*p));
    if (!p)
      return NC_ENOMEM;
    p->cl = cl;
    p->m = m;
    m->peer = p;
    snprintf(p->target, sizeof(p->target), "%s:%d", m->ip, m->port + 1001);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->th, NULL, peer_main, p) != 0) {
      nc_error("cluster: cannot start the connection thread for %s", m->address);
      return NC_ENOMEM;
    }
    p->th_started = 1;
  }
  return 0;
}

void nc_cl_peers_stop(nc_cluster *cl) {
  for (size_t i = 0; i < cl->n; i++) {
    nc_cpeer *p = cl->members[i]->peer;
    if (!p || !p->th_started)
      continue;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
  for (size_t i = 0; i < cl->n; i++) {
    nc_cpeer *p = cl->members[i]->peer;
    if (!p || !p->th_started)
      continue;
    pthread_join(p->th, NULL);
    p->th_started = 0;
    p->wc = NULL;
  }
}

void nc_cl_peer_free(nc_cpeer *p) {
  if (!p)
    return;
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

/* ---- sends ---- */

/* Completion-queue thread. */
static void on_resp(void *ud, int status, nc_msg *resp) {
  cl_ev *e = ud;
  e->status = status;
  e->resp = resp;
  if (nc_evq_push(e->p->cl->q, &e->node) != 0) {
    /* cannot happen: the queue closes after every connection did */
    nc_msg_free(resp);
    free(e);
  }
}

int nc_cluster_send(nc_cluster *cl, const char *member, const char *type, cJSON *body,
                    int timeout_ms, nc_cluster_resp_fn cb, void *ud) {
  nc_cmember *m = cl->standalone ? NULL : nc_cl_find(cl, member);
  int rc = 0;
  cl_ev *e = NULL;
  if (!m || m->is_self || !type || !body || !cb)
    rc = NC_EINVAL;
  else if (cl->stopped || !cl->started)
    rc = NC_ECLOSED;
  else if (!m->peer || !m->peer->wc)
    rc = NC_EUNAVAIL;
  else if (!(e = calloc(1, sizeof(*e))))
    rc = NC_ENOMEM;
  if (rc == 0) {
    e->kind = EV_RESP;
    e->p = m->peer;
    e->cb = cb;
    e->ud = ud;
    rc = nc_wc_request_async(m->peer->wc, type, body,
                             timeout_ms > 0 ? timeout_ms : cl->o.request_timeout_ms, on_resp, e);
    if (rc != 0)
      free(e);
  }
  cJSON_Delete(body);
  return rc;
}

/* ---- the loop side ---- */

static void give_back(nc_cpeer *p) {
  pthread_mutex_lock(&p->mu);
  p->to_close = p->thread_wc;
  p->thread_wc = NULL;
  p->have_conn = 0;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  p->wc = NULL;
}

void nc_cl_on_event(void *ud, nc_evq_node *node) {
  nc_cluster *cl = ud;
  cl_ev *e = (cl_ev *)node;
  nc_cpeer *p = e->p;
  switch (e->kind) {
  case EV_RESP:
    e->cb(e->ud, e->status, e->resp);
    nc_msg_free(e->resp);
    break;
  case EV_UP:
    pthread_mutex_lock(&p->mu);
    p->wc = p->gen == e->gen ? p->thread_wc : NULL;
    pthread_mutex_unlock(&p->mu);
    if (!p->wc)
      break;
    p->wc_gen = e->gen;
    p->refused = 0;
    nc_info("cluster: connected to %s (%s)", p->m->address, p->target);
    nc_cl_notify(cl, p->m, p->m->state);
    nc_cl_report_member(cl, p->m); /* learn its state now, not in 2 s */
    break;
  case EV_CONNECT_FAILED:
    /* a refused connect (nothing listens) makes the next report mark the
     * peer DOWN at once, as Nacos does for "Connection refused" */
    p->refused = e->status == NC_EUNAVAIL;
    nc_debug("cluster: connect to %s failed: %s", p->target, nc_strerror(e->status));
    break;
  case EV_CLOSED:
    if (p->wc && p->wc_gen == e->gen) {
      nc_warn("cluster: connection to %s closed: %s", p->m->address, nc_strerror(e->status));
      give_back(p);
      nc_cl_notify(cl, p->m, p->m->state);
    }
    break;
  }
  free(e);
}

void nc_cl_drop_event(nc_evq_node *node) {
  cl_ev *e = (cl_ev *)node;
  if (e->kind == EV_RESP) {
    e->cb(e->ud, NC_ECLOSED, NULL);
    nc_msg_free(e->resp);
  }
  free(e);
}
