/* nc_evq: hands work from any thread to the thread that runs a libuv loop.
 * A mutex-protected intrusive FIFO plus uv_async_send; the callback runs on
 * the loop thread and drains everything queued so far, in order.
 *
 * Items embed an nc_evq_node as their first member (or anywhere, with
 * container_of); the queue never allocates. */
#ifndef NC_EVQ_H
#define NC_EVQ_H

#include <uv.h>

typedef struct nc_evq_node {
  struct nc_evq_node *next;
} nc_evq_node;

typedef struct nc_evq nc_evq;
/* Runs on the loop thread; owns node from then on. */
typedef void (*nc_evq_cb)(void *ud, nc_evq_node *node);

/* Loop thread only. */
int nc_evq_new(uv_loop_t *loop, nc_evq_cb cb, void *ud, nc_evq **out);
/* Any thread. Returns NC_ECLOSED once nc_evq_close has run (the caller
 * keeps ownership of node then). */
int nc_evq_push(nc_evq *q, nc_evq_node *node);
/* Any thread. Queues a chain of nodes (head..tail linked through next,
 * tail->next NULL) in order, with one lock and at most one wake-up for the
 * whole chain. NC_ECLOSED once closed (the caller keeps the chain). */
int nc_evq_push_list(nc_evq *q, nc_evq_node *head, nc_evq_node *tail);
/* Loop thread only. Stops accepting, hands every still-queued node to
 * drop (may be NULL), closes the async handle; memory is freed in its close
 * callback, so run the loop once more afterwards. */
void nc_evq_close(nc_evq *q, void (*drop)(nc_evq_node *node));

#endif
