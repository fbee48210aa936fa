/* nc_md5: MD5 of a buffer as lowercase hex, the way Nacos fingerprints
 * config content (nacos-wire-protocol.md §5.10). Pure function. */
#ifndef NC_MD5_H
#define NC_MD5_H

#include <stddef.h>

/* out receives 32 hex digits and a NUL. */
void nc_md5_hex(const void *data, size_t len, char out[33]);

#endif
