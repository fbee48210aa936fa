#include "nc_evq.h"
#include "nc_err.h"

#include <pthread.h>
#include <stdlib.h>

struct nc_evq {
  uv_async_t async;
  pthread_mutex_t lock;
  nc_evq_node *head, *tail;
  int closed;
  nc_evq_cb cb;
  void *ud;
};

static void evq_drain(uv_async_t *h) {
  nc_evq *q = h->data;
  pthread_mutex_lock(&q->lock);
  nc_evq_node *n = q->head;
  q->head = q->tail = NULL;
  pthread_mutex_unlock(&q->lock);
  while (n) {
    nc_evq_node *next = n->next;
    n->next = NULL;
    q->cb(q->ud, n);
    n = next;
  }
}

int nc_evq_new(uv_loop_t *loop, nc_evq_cb cb, void *ud, nc_evq **out) {
  nc_evq *q = calloc(1, sizeof(*q));
  if (!q)
    return NC_ENOMEM;
  if (uv_async_init(loop, &q->async, evq_drain) != 0) {
    free(q);
    return NC_EIO;
  }
  pthread_mutex_init(&q->lock, NULL);
  q->async.data = q;
  q->cb = cb;
  q->ud = ud;
  *out = q;
  return 0;
}

int nc_evq_push(nc_evq *q, nc_evq_node *node) {
  node->next = NULL;
  return nc_evq_push_list(q, node, node);
}

int nc_evq_push_list(nc_evq *q, nc_evq_node *head, nc_evq_node *tail) {
  pthread_mutex_lock(&q->lock);
  if (q->closed) {
    pthread_mutex_unlock(&q->lock);
    return NC_ECLOSED;
  }
  int was_empty = q->head == NULL;
  if (q->tail)
    q->tail->next = head;
  else
    q->head = head;
  q->tail = tail;
  /* One wake-up per burst: the drain takes everything queued so far. */
  if (was_empty)
    uv_async_send(&q->async);
  pthread_mutex_unlock(&q->lock);
  return 0;
}

static void evq_closed(uv_handle_t *h) {
  nc_evq *q = h->data;
  pthread_mutex_destroy(&q->lock);
  free(q);
}

void nc_evq_close(nc_evq *q, void (*drop)(nc_evq_node *node)) {
  pthread_mutex_lock(&q->lock);
  q->closed = 1;
  nc_evq_node *n = q->head;
  q->head = q->tail = NULL;
  pthread_mutex_unlock(&q->lock);
  while (n) {
    nc_evq_node *next = n->next;
    if (drop)
      drop(n);
    n = next;
  }
  uv_close((uv_handle_t *)&q->async, evq_closed);
}
