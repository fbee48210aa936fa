#include "nc_grpc_util.h"
#include "nc_err.h"

#include <grpc/byte_buffer_reader.h>
#include <stdlib.h>
#include <string.h>

grpc_byte_buffer *nc_grpc_bb_from(const uint8_t *data, size_t len) {
  grpc_slice s = grpc_slice_from_copied_buffer((const char *)data, len);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  return bb;
}

uint8_t *nc_grpc_bb_flatten(grpc_byte_buffer *bb, size_t *len) {
  grpc_byte_buffer_reader r;
  grpc_slice s;
  size_t n = grpc_byte_buffer_length(bb), off = 0;
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf)
    return NULL;
  if (!grpc_byte_buffer_reader_init(&r, bb)) {
    free(buf);
    return NULL;
  }
  while (grpc_byte_buffer_reader_next(&r, &s)) {
    size_t sl = GRPC_SLICE_LENGTH(s);
    if (off + sl <= n)
      memcpy(buf + off, GRPC_SLICE_START_PTR(s), sl);
    off += sl;
    grpc_slice_unref(s);
  }
  grpc_byte_buffer_reader_destroy(&r);
  *len = off <= n ? off : n;
  return buf;
}

int nc_bbq_push(nc_bbq *q, const uint8_t *data, size_t len) {
  if (q->len == q->cap) {
    size_t ncap = q->cap ? q->cap * 2 : 8;
    grpc_byte_buffer **nq = malloc(ncap * sizeof(*nq));
    if (!nq)
      return NC_ENOMEM;
    for (size_t i = 0; i < q->len; i++)
      nq[i] = q->q[(q->head + i) % q->cap];
    free(q->q);
    q->q = nq;
    q->cap = ncap;
    q->head = 0;
  }
  q->q[(q->head + q->len) % q->cap] = nc_grpc_bb_from(data, len);
  q->len++;
  return 0;
}

grpc_byte_buffer *nc_bbq_pop(nc_bbq *q) {
  if (!q->len)
    return NULL;
  grpc_byte_buffer *bb = q->q[q->head];
  q->head = (q->head + 1) % q->cap;
  q->len--;
  return bb;
}

void nc_bbq_clear(nc_bbq *q) {
  for (size_t i = 0; i < q->len; i++)
    grpc_byte_buffer_destroy(q->q[(q->head + i) % q->cap]);
  q->len = 0;
  q->head = 0;
}

void nc_bbq_free(nc_bbq *q) {
  nc_bbq_clear(q);
  free(q->q);
  q->q = NULL;
  q->cap = 0;
}
