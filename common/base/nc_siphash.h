/* nc_siphash: SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast
 * short-input PRF", 2012), written from the paper's description.
 *
 * Hash tables keyed by names that clients choose (services, data ids,
 * connection ids) use it with a secret per-process key so nobody outside the
 * process can build names that share a bucket. */
#ifndef NC_SIPHASH_H
#define NC_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 of len bytes at data under the 128-bit key (bytes 0..7 are k0
 * and 8..15 k1, little-endian, as in the paper). */
uint64_t nc_siphash24(const uint8_t key[16], const void *data, size_t len);

/* This process's random key, drawn once from getrandom on first use
 * (thread-safe). Never logged or sent anywhere. */
const uint8_t *nc_siphash_process_key(void);

#endif
