/* nc_auth_hash: see nc_auth_hash.h. */
#include "nc_auth_hash.h"

#include "nc_err.h"

#include <sodium.h>
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

int nc_auth_hash_verify(const char *hash, const char *password) {
  if (!hash || !password || !*password || strlen(password) > MAX_PASSWORD)
    return 0;
  if (strnlen(hash, NC_AUTH_HASH_MAX) >= NC_AUTH_HASH_MAX)
    return 0;
  return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}
