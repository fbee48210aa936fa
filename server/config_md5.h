/* config_md5: MD5 (RFC 1321), written for Nacos's config fingerprints: the
 * server and agent compare lowercase-hex MD5s of the UTF-8 content. Not for
 * security. Pure functions; safe from any thread. */
#ifndef CONFIG_MD5_H
#define CONFIG_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct nc_cfg_md5_ctx {
  uint32_t state[4];
  uint64_t bytes;     /* total length so far */
  uint8_t buf[64];    /* pending partial block */
} nc_cfg_md5_ctx;

void nc_cfg_md5_init(nc_cfg_md5_ctx *c);
void nc_cfg_md5_update(nc_cfg_md5_ctx *c, const void *data, size_t len);
void nc_cfg_md5_final(nc_cfg_md5_ctx *c, uint8_t digest[16]);

/* One-shot: writes 32 lowercase hex digits and a NUL into hex. */
void nc_cfg_md5_hex(const void *data, size_t len, char hex[33]);

#endif
