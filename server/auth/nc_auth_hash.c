/* nc_auth_hash: see nc_auth_hash.h. */
#include "nc_auth_hash.h"

#include "nc_err.h"

#include <crypt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(crypto_pwhash_STRBYTES <= NC_AUTH_HASH_MAX, "hash buffer too small");

#define MAX_PASSWORD 1024

int nc_auth_crypto_init(void) { return sodium_init() < 0 ? NC_EIO : 0; }

int nc_auth_hash_password(const char *password, char out[NC_AUTH_HASH_MAX]) {
  size_t n = password ? strlen(password) : 0;
  if (n == 0 || n > MAX_PASSWORD)
    return NC_EINVAL;
  /* INTERACTIVE limits (64 MiB, 2 passes): libsodium's choice for logins. */
  if (crypto_pwhash_str(out, password, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return NC_ENOMEM;
  return 0;
}

int nc_auth_hash_is_bcrypt(const char *hash) {
  /* $2a$, $2b$, $2y$ then a two-digit cost: what Spring's BCryptPasswordEncoder
   * (Java Nacos) and libxcrypt write. */
  return hash && hash[0] == '$' && hash[1] == '2' &&
         (hash[2] == 'a' || hash[2] == 'b' || hash[2] == 'y') && hash[3] == '$' &&
         hash[4] >= '0' && hash[4] <= '9' && hash[5] >= '0' && hash[5] <= '9' && hash[6] == '$';
}

/* libxcrypt's bcrypt: crypt_rn writes into our own crypt_data (thread-safe,
 * no static buffer) and returns NULL instead of a magic "*0" string on
 * failure. The result is compared in constant time. */
static int bcrypt_verify(const char *hash, const char *password) {
  struct crypt_data *cd = calloc(1, sizeof(*cd));
  int ok = 0;
  if (!cd)
    return 0;
  const char *h = crypt_rn(password, hash, cd, (int)sizeof(*cd));
  size_t n = strlen(hash);
  if (h && h[0] != '*' && strlen(h) == n)
    ok = sodium_memcmp(h, hash, n) == 0;
  sodium_memzero(cd, sizeof(*cd));
  free(cd);
  return ok;
}

int nc_auth_hash_verify(const char *hash, const char *password) {
  if (!hash || !password || !*password || strlen(password) > MAX_PASSWORD)
    return 0;
  if (strnlen(hash, NC_AUTH_HASH_MAX) >= NC_AUTH_HASH_MAX)
    return 0;
  if (nc_auth_hash_is_bcrypt(hash))
    return bcrypt_verify(hash, password);
  return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}
