/* fuzz_util: helpers shared by the libFuzzer targets in tests/fuzz.
 *
 * FZ_CHECK for the properties a target checks, and the record framing of a
 * target that takes several messages in one input (fuzz_dispatch):
 * [kind: 1 byte][len: 2 bytes little-endian][len bytes], repeated; a
 * truncated last record is cut to what is there. Header only: each target is
 * one program. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A property the target checks: abort (a libFuzzer crash) when it fails,
 * also in a build with NDEBUG. */
#define FZ_CHECK(cond)                                                                            \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                  \
      abort();                                                                                    \
    }                                                                                             \
  } while (0)

typedef struct fz_rec {
  uint8_t kind;
  const uint8_t *data;
  size_t len;
} fz_rec;

/* Takes the next record off the input (*p, *n); 0 when it is used up. */
static inline int fz_next(const uint8_t **p, size_t *n, fz_rec *r) {
  if (*n < 1)
    return 0;
  r->kind = (*p)[0];
  size_t want = *n >= 3 ? (size_t)(*p)[1] | (size_t)(*p)[2] << 8 : 0;
  size_t hdr = *n >= 3 ? 3 : *n;
  size_t have = *n - hdr;
  r->data = *p + hdr;
  r->len = want < have ? want : have;
  *p += hdr + r->len;
  *n -= hdr + r->len;
  return 1;
}

#endif
