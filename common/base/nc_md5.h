/* nc_md5: MD5 (RFC 1321) as Nacos uses it: the server and the agent compare
 * lowercase-hex MD5s of the UTF-8 config content (nacos-wire-protocol.md
 * §5.10). A fingerprint, not for security. Pure functions, no globals; safe
 * from any thread (a context belongs to its caller). */
#ifndef NC_MD5_H
#define NC_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct nc_md5_ctx {
  uint32_t state[4];
  uint64_t bytes;  /* total length so far */
  uint8_t buf[64]; /* pending partial block */
} nc_md5_ctx;

void nc_md5_init(nc_md5_ctx *c);
void nc_md5_update(nc_md5_ctx *c, const void *data, size_t len);
/* Writes the 16-byte digest; the context must be re-initialised to reuse. */
void nc_md5_final(nc_md5_ctx *c, uint8_t digest[16]);

/* One-shot: writes 32 lowercase hex digits and a NUL into hex. */
void nc_md5_hex(const void *data, size_t len, char hex[33]);

#endif
