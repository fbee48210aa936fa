/* Private to the gRPC transport (nc_grpc_client.c, nc_grpc_server.c,
 * nc_grpc_stream.c): completion-queue tags and byte-buffer helpers both
 * sides need. Not part of the transport API. */
#ifndef NC_GRPC_UTIL_H
#define NC_GRPC_UTIL_H

#include <grpc/grpc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A completion-queue tag: what completed (kind) and for which object. */
typedef struct nc_gtag {
  int kind;
  void *obj;
  /* gRPC's own synchronisation is invisible to ThreadSanitizer (system
   * library, abseil futexes). A release store before handing a tag to gRPC
   * and an acquire load when it comes back out of the queue state the
   * happens-before edge that gRPC provides; it costs one uncontended atomic. */
  atomic_int hb;
} nc_gtag;

static inline void nc_gtag_init(nc_gtag *t, int kind, void *obj) {
  t->kind = kind;
  t->obj = obj;
  atomic_init(&t->hb, 0);
}

/* Pass the result to gRPC as the batch's tag. */
static inline void *nc_gtag_give(nc_gtag *t) {
  atomic_store_explicit(&t->hb, 1, memory_order_release);
  return t;
}

/* Call on every tag taken out of a completion queue. */
static inline nc_gtag *nc_gtag_take(void *tag) {
  nc_gtag *t = tag;
  (void)atomic_load_explicit(&t->hb, memory_order_acquire);
  return t;
}

static inline void nc_grpc_arg_int(grpc_arg *a, const char *key, int v) {
  a->type = GRPC_ARG_INTEGER;
  a->key = (char *)key;
  a->value.integer = v;
}

/* A new byte buffer holding a copy of data; the caller destroys it. */
grpc_byte_buffer *nc_grpc_bb_from(const uint8_t *data, size_t len);

/* A malloc'd contiguous copy of bb (the caller frees it), its length in
 * *len; NULL when out of memory. */
uint8_t *nc_grpc_bb_flatten(grpc_byte_buffer *bb, size_t *len);

/* A growing FIFO ring of byte buffers (queued stream sends). Zero-init is
 * an empty queue; the queue owns what it holds. No locking of its own. */
typedef struct nc_bbq {
  grpc_byte_buffer **q;
  size_t cap, head, len;
} nc_bbq;

/* Appends a copy of data; NC_ENOMEM leaves the queue as it was. */
int nc_bbq_push(nc_bbq *q, const uint8_t *data, size_t len);
/* The oldest buffer, now the caller's; NULL when empty. */
grpc_byte_buffer *nc_bbq_pop(nc_bbq *q);
/* Destroys every queued buffer; the queue stays usable. */
void nc_bbq_clear(nc_bbq *q);
/* nc_bbq_clear and releases the ring itself. */
void nc_bbq_free(nc_bbq *q);

#endif
