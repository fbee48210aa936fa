/* nc_md5: see nc_md5.h. */
/* MD5 after RFC 1321 §3: 64-byte blocks, four rounds of 16 operations over
 * little-endian 32-bit words, length padding in bits. */
#include "nc_md5.h"

#include <string.h>

#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* Round functions F, G, H, I (RFC 1321 §3.4). */
#define F_(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define G_(x, y, z) (((x) & (z)) | ((y) & ~(z)))
#define H_(x, y, z) ((x) ^ (y) ^ (z))
#define I_(x, y, z) ((y) ^ ((x) | ~(z)))

/* Per-step shift amounts, four per round. */
static const uint8_t shifts[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

/* T[i] = floor(2^32 * |sin(i + 1)|), the table of §3.4. */
static const uint32_t T[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

static void md5_block(uint32_t st[4], const uint8_t *p) {
  uint32_t X[16];
  for (int i = 0; i < 16; i++)
    X[i] = (uint32_t)p[i * 4] | (uint32_t)p[i * 4 + 1] << 8 | (uint32_t)p[i * 4 + 2] << 16 |
           (uint32_t)p[i * 4 + 3] << 24;
  uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
  for (int i = 0; i < 64; i++) {
    uint32_t f;
    int k;
    switch (i >> 4) {
    case 0:
      f = F_(b, c, d);
      k = i;
      break;
    case 1:
      f = G_(b, c, d);
      k = (5 * i + 1) & 15;
      break;
    case 2:
      f = H_(b, c, d);
      k = (3 * i + 5) & 15;
      break;
    default:
      f = I_(b, c, d);
      k = (7 * i) & 15;
      break;
    }
    uint32_t t = a + f + X[k] + T[i];
    a = d;
    d = c;
    c = b;
    b = b + ROTL(t, shifts[i >> 4][i & 3]);
  }
  st[0] += a;
  st[1] += b;
  st[2] += c;
  st[3] += d;
}

void nc_md5_init(nc_md5_ctx *c) {
  c->state[0] = 0x67452301;
  c->state[1] = 0xefcdab89;
  c->state[2] = 0x98badcfe;
  c->state[3] = 0x10325476;
  c->bytes = 0;
}

void nc_md5_update(nc_md5_ctx *c, const void *data, size_t len) {
  const uint8_t *p = data;
  size_t have = (size_t)(c->bytes & 63);
  c->bytes += len;
  if (have) {
    size_t need = 64 - have;
    if (len < need) {
      memcpy(c->buf + have, p, len);
      return;
    }
    memcpy(c->buf + have, p, need);
    md5_block(c->state, c->buf);
    p += need;
    len -= need;
  }
  for (; len >= 64; p += 64, len -= 64)
    md5_block(c->state, p);
  if (len)
    memcpy(c->buf, p, len);
}

void nc_md5_final(nc_md5_ctx *c, uint8_t digest[16]) {
  uint64_t bits = c->bytes * 8;
  /* Pad with 0x80 then zeros up to 56 mod 64, then the 64-bit bit length
   * little-endian (§3.1, §3.2). */
  static const uint8_t pad[64] = {0x80};
  size_t have = (size_t)(c->bytes & 63);
  size_t padlen = have < 56 ? 56 - have : 120 - have;
  nc_md5_update(c, pad, padlen);
  uint8_t lenb[8];
  for (int i = 0; i < 8; i++)
    lenb[i] = (uint8_t)(bits >> (8 * i));
  nc_md5_update(c, lenb, 8);
  for (int i = 0; i < 4; i++) {
    digest[i * 4] = (uint8_t)c->state[i];
    digest[i * 4 + 1] = (uint8_t)(c->state[i] >> 8);
    digest[i * 4 + 2] = (uint8_t)(c->state[i] >> 16);
    digest[i * 4 + 3] = (uint8_t)(c->state[i] >> 24);
  }
}

void nc_md5_hex(const void *data, size_t len, char hex[33]) {
  static const char digits[] = "0123456789abcdef";
  nc_md5_ctx c;
  uint8_t d[16];
  nc_md5_init(&c);
  nc_md5_update(&c, data, len);
  nc_md5_final(&c, d);
  for (int i = 0; i < 16; i++) {
    hex[i * 2] = digits[d[i] >> 4];
    hex[i * 2 + 1] = digits[d[i] & 15];
  }
  hex[32] = '\0';
}
