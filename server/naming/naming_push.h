/* naming_push: the naming push engine (nacos-wire-protocol.md §6.2, §6.4).
 *
 * Turns "service changed" and "connection subscribed" events into
 * NotifySubscriberRequest pushes with a merge window, ack timeout and
 * retry. One delivery record per (connection, service) subscription, with
 * named states:
 *
 *   IDLE --change--> QUEUED --window over--> SENT --ack--> IDLE
 *                                             |--timeout/nack/busy--> RETRY --retry_ms--> SENT
 *
 * A change while SENT only sets `pending` (the newest state is built when
 * the next push goes out), so a stuck client costs one record per
 * subscription whatever the change rate: at most one push in flight and
 * one pending per (connection, service).
 *
 * The engine sends through a callback (nc_npush_send_fn), which the server
 * wires to nc_srv_push_raw and unit tests to a fake. Loop thread only. */
#ifndef NAMING_PUSH_H
#define NAMING_PUSH_H

#include "naming_registry.h"
#include "srv_rpc.h"

#include <uv.h>

typedef struct nc_npush nc_npush;

/* Sends body (a JSON object without requestId, borrowed) to conn_id as a
 * NotifySubscriberRequest. Same contract as nc_srv_push: 0 = cb will run
 * exactly once; otherwise NC_ECLOSED / NC_EBUSY / NC_ENOMEM and no cb. */
typedef int (*nc_npush_send_fn)(void *ud, const char *conn_id, const char *body, size_t len,
                                int timeout_ms, nc_push_cb cb, void *cb_ud);

typedef struct nc_npush_opts {
  int merge_ms;   /* change -> push delay (debounce); 0 = next loop turn */
  int timeout_ms; /* ack timeout per push */
  int retry_ms;   /* delay before re-sending an unacked push */
} nc_npush_opts;

typedef struct nc_npush_stats {
  uint64_t sent, acked, retried, failed, dropped;
  uint64_t deliveries; /* current records */
} nc_npush_stats;

/* reg is borrowed and must outlive the engine. */
int nc_npush_new(uv_loop_t *loop, nc_nreg *reg, const nc_npush_opts *opts, nc_npush_send_fn send,
                 void *send_ud, nc_npush **out);
/* Frees every record. Pushes still in flight must have been resolved
 * first (the server fails them with NC_PUSH_GONE when it drops the
 * connections). Closes the timer: run the loop once afterwards. */
void nc_npush_free(nc_npush *p);

/* The instance set of svc_key changed: push to all its subscribers after
 * the merge window (changes within the window merge into one push). */
void nc_npush_service_changed(nc_npush *p, const char *svc_key);
/* conn_id subscribed to svc_key for the first time: push the current state
 * to it alone after the merge window. */
void nc_npush_subscribed(nc_npush *p, const char *conn_id, const char *svc_key);
/* Forget deliveries (in-flight ones are freed when their result arrives). */
void nc_npush_unsubscribed(nc_npush *p, const char *conn_id, const char *svc_key);
void nc_npush_conn_gone(nc_npush *p, const char *conn_id);

void nc_npush_get_stats(const nc_npush *p, nc_npush_stats *st);

#endif
