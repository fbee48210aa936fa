#include "nc_grpc_util.h"

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
