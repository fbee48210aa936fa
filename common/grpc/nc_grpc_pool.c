/* nc_gsrv's queue pool: the completion queues and their threads, one set
 * for the whole process, shared by every server (see the design notes in
 * nc_grpc_server.c for why). Refcounted: the first server started creates
 * it, the last one stopped joins its threads. */
#include "nc_gsrv_int.h"
#include "nc_err.h"
#include "nc_log.h"

#include <pthread.h>
#include <string.h>

/* The pool thread running this code, NULL on any other thread. */
static _Thread_local gs_cq *tl_q;

gs_cq *nc_gsrv__this_queue(void) { return tl_q; }

/* While a burst is open the queue is polled without waiting; the burst
 * goes to its owners as soon as nothing more is ready. */
static void *cq_thread(void *arg) {
  gs_cq *q = arg;
  tl_q = q;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(
        q->cq, q->b_head ? gpr_inf_past(GPR_CLOCK_MONOTONIC) : gpr_inf_future(GPR_CLOCK_MONOTONIC),
        NULL);
    if (ev.type == GRPC_OP_COMPLETE) {
      nc_gsrv__dispatch(ev);
      continue;
    }
    if (q->b_head)
      nc_gsrv__burst_flush(q);
    if (ev.type == GRPC_QUEUE_SHUTDOWN)
      break;
  }
  tl_q = NULL;
  return NULL;
}

/* ---- the queue pool (see the design notes) ---------------------------- */

static struct {
  pthread_mutex_t mu;
  int refs, nq;
  gs_cq qs[GS_MAX_THREADS];
} g_pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Shuts down and joins the first n queues. Under g_pool.mu; no server may
 * still use them (each stopped server waited for its last completion). */
static void pool_close(int n) {
  for (int i = 0; i < n; i++)
    grpc_completion_queue_shutdown(g_pool.qs[i].cq);
  for (int i = 0; i < n; i++) {
    if (g_pool.qs[i].started)
      pthread_join(g_pool.qs[i].thr, NULL);
    else
      while (grpc_completion_queue_next(g_pool.qs[i].cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
                 .type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(g_pool.qs[i].cq);
    memset(&g_pool.qs[i], 0, sizeof(g_pool.qs[i]));
  }
}

/* The first server sizes the pool (threads, at most GS_MAX_THREADS); later
 * ones share it as it is. NC_ENOMEM when a thread cannot be created. */
int nc_gsrv__pool_acquire(int threads, gs_cq **qs, int *nq) {
  int rc = 0;
  pthread_mutex_lock(&g_pool.mu);
  if (g_pool.refs == 0) {
    int n = threads > 0 ? threads : 1;
    if (n > GS_MAX_THREADS)
      n = GS_MAX_THREADS;
    for (int i = 0; i < n; i++) {
      g_pool.qs[i].cq = grpc_completion_queue_create_for_next(NULL);
      if (pthread_create(&g_pool.qs[i].thr, NULL, cq_thread, &g_pool.qs[i]) != 0) {
        nc_error("gsrv: cannot create a queue thread");
        pool_close(i + 1);
        rc = NC_ENOMEM;
        goto out;
      }
      g_pool.qs[i].started = 1;
    }
    g_pool.nq = n;
  }
  g_pool.refs++;
  *qs = g_pool.qs;
  *nq = g_pool.nq;
out:
  pthread_mutex_unlock(&g_pool.mu);
  return rc;
}

void nc_gsrv__pool_release(void) {
  pthread_mutex_lock(&g_pool.mu);
  if (--g_pool.refs == 0) {
    pool_close(g_pool.nq);
    g_pool.nq = 0;
  }
  pthread_mutex_unlock(&g_pool.mu);
}
