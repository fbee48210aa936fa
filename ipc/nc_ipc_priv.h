/* nc_ipc_priv: what the library's own modules share and apps do not see:
 * the handle's layout and the connection primitives of nc_ipc.c used by
 * the request path in nc_ipc_call.c. Single-threaded like the handle. */
#ifndef NC_IPC_PRIV_H
#define NC_IPC_PRIV_H

#include "nc_ipc.h"

typedef struct ev_node {
  struct ev_node *next;
  cJSON *msg;
} ev_node;

/* An id that was sent and not yet collected; msg is NULL until it arrives. */
typedef struct pending {
  struct pending *next;
  int64_t id;
  cJSON *msg;
} pending;

struct nc_ipc {
  int sock; /* -1 when not connected */
  int epfd; /* what nc_ipc_fd() hands out */
  int evfd; /* readable while events are queued or the link broke */
  int evfd_set;
  int broken; /* was connected, connection gone */
  int64_t next_id;
  size_t max_line;    /* cap on lines read */
  size_t max_request; /* cap on lines written */
  int timeout_ms;
  nc_ipc_event_cb cb;
  void *ud;
  char *rbuf;
  size_t rlen, rcap, rscan; /* rscan: bytes of rbuf known to hold no '\n' */
  ev_node *evq_head, *evq_tail;
  size_t evq_len;
  uint64_t dropped;
  pending *waits;
  char code[32];
  char msg[512];
  char orphan_code[32]; /* error with "id": null since the last send, e.g. */
  char orphan[256];     /* TOO_LARGE just before the agent hangs up */
};

/* Records err with its local name as code and a formatted message for
 * nc_ipc_errcode()/nc_ipc_errmsg(); returns err. c may be NULL. */
int nc_ipc__fail(nc_ipc *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same with an explicit code string (NULL = err's name). */
int nc_ipc__set_err(nc_ipc *c, int err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The outstanding request id (and the link pointing at it), or NULL. */
pending *nc_ipc__find_wait(nc_ipc *c, int64_t id, pending ***link);
/* Closes the socket after a failure; keeps queued events, wakes the app. */
void nc_ipc__conn_break(nc_ipc *c);
/* The link is gone (err = errno, 0 for EOF): breaks it and records why. */
int nc_ipc__hang_up(nc_ipc *c, int err, const char *what);
/* One non-blocking recv() plus line handling: 1 bytes read, 0 nothing
 * there, < 0 the link is gone (error recorded). */
int nc_ipc__read_some(nc_ipc *c);

#endif
