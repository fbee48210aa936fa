/* nc_siphash: see nc_siphash.h. */
#include "nc_siphash.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static inline uint64_t load_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* One SipRound: the ARX network of the paper's figure. */
#define SIPROUND(v0, v1, v2, v3)                                                                   \
  do {                                                                                             \
    v0 += v1;                                                                                      \
    v1 = rotl(v1, 13);                                                                             \
    v1 ^= v0;                                                                                      \
    v0 = rotl(v0, 32);                                                                             \
    v2 += v3;                                                                                      \
    v3 = rotl(v3, 16);                                                                             \
    v3 ^= v2;                                                                                      \
    v0 += v3;                                                                                      \
    v3 = rotl(v3, 21);                                                                             \
    v3 ^= v0;                                                                                      \
    v2 += v1;                                                                                      \
    v1 = rotl(v1, 17);                                                                             \
    v1 ^= v2;                                                                                      \
    v2 = rotl(v2, 32);                                                                             \
  } while (0)

uint64_t nc_siphash24(const uint8_t key[16], const void *data, size_t len) {
  const uint8_t *in = data;
  uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
  /* "somepseudorandomlygeneratedbytes" */
  uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
  uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
  uint64_t v3 = k1 ^ 0x7465646279746573ULL;

  size_t full = len & ~(size_t)7;
  for (size_t i = 0; i < full; i += 8) {
    uint64_t m = load_le64(in + i);
    v3 ^= m;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= m;
  }
  /* Last block: the 0..7 remaining bytes, the length mod 256 in the top byte. */
  uint64_t b = (uint64_t)(len & 0xff) << 56;
  for (size_t i = 0; i < (len & 7); i++)
    b |= (uint64_t)in[full + i] << (8 * i);
  v3 ^= b;
  SIPROUND(v0, v1, v2, v3);
  SIPROUND(v0, v1, v2, v3);
  v0 ^= b;

  v2 ^= 0xff;
  for (int i = 0; i < 4; i++)
    SIPROUND(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

static uint8_t g_key[16];
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

static void key_init(void) {
  size_t got = 0;
  while (got < sizeof(g_key)) {
    ssize_t n = getrandom(g_key + got, sizeof(g_key) - got, 0);
    if (n > 0)
      got += (size_t)n;
    else if (n < 0 && errno != EINTR)
      break;
  }
  if (got == sizeof(g_key))
    return;
  /* No getrandom (very old kernel or seccomp): a weaker key from the clock,
   * the pid and an address still differs per process and is not guessable
   * from outside without local access. */
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t seed[2] = {(uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32),
                      (uint64_t)getpid() ^ (uint64_t)(uintptr_t)&got};
  uint8_t k[16];
  memcpy(k, seed, sizeof(k));
  uint64_t a = nc_siphash24(k, "nc-key-a", 8), c = nc_siphash24(k, "nc-key-b", 8);
  memcpy(g_key, &a, 8);
  memcpy(g_key + 8, &c, 8);
}

const uint8_t *nc_siphash_process_key(void) {
  pthread_once(&g_key_once, key_init);
  return g_key;
}
