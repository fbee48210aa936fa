/* srv_outbox: a sender thread for server->client stream messages.
 *
 * Writing to a gRPC stream runs the HTTP/2 write (a sendmsg per TCP
 * connection) inline in the calling thread. A fan-out to thousands of
 * connections done on the loop thread therefore blocks ack processing for
 * its whole duration; handing the writes to this thread lets the loop keep
 * matching acks meanwhile (bench: push_fanout_ms).
 *
 * Messages to one stream keep their order (one FIFO, one thread). A send
 * that the transport refuses (stream gone, queue full) is reported back to
 * the loop thread through fail(), so the push it carried can be resolved.
 * The queue holds at most one entry per pending push, which the server
 * core already bounds. */
#ifndef SRV_OUTBOX_H
#define SRV_OUTBOX_H

#include "nc_grpc_server.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct nc_outbox nc_outbox;

/* Loop thread: the transport refused the message with rc (NC_ECLOSED,
 * NC_EBUSY, NC_ENOMEM). conn_id/reqid are the values given to send. */
typedef void (*nc_outbox_fail_fn)(void *ud, const char *conn_id, const char *reqid, int rc);

/* Loop thread; starts the sender thread. */
int nc_outbox_new(uv_loop_t *loop, nc_outbox_fail_fn fail, void *ud, nc_outbox **out);
/* Loop thread. Takes ownership of data (malloc'ed) in every case. */
int nc_outbox_send(nc_outbox *ob, nc_gsrv *g, uint64_t stream_id, const char *conn_id,
                   const char *reqid, uint8_t *data, size_t len);
/* Loop thread. Stops and joins the sender (messages not yet written are
 * dropped without fail() calls), closes its queue; run the loop afterwards.
 * Call before stopping the transports. NULL is a no-op. */
void nc_outbox_free(nc_outbox *ob);

#endif
