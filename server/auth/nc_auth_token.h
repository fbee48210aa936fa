/* nc_auth_token: the access tokens Nacos issues: a JWT signed with
 * HMAC-SHA256, header {"alg":"HS256"}, payload {"sub":user,"exp":seconds},
 * base64url without padding. The key is the base64-decoded secret, as
 * Nacos's nacos.core.auth.plugin.nacos.token.secret.key, so a token from a
 * Nacos node with the same secret verifies here and the other way round.
 * Thread-safe (no state). */
#ifndef NC_AUTH_TOKEN_H
#define NC_AUTH_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define NC_AUTH_USER_MAX 256 /* longest user name + NUL */
#define NC_AUTH_KEY_MIN 32   /* Nacos refuses shorter decoded keys too */
#define NC_AUTH_KEY_MAX 512

typedef enum {
  NC_TOKEN_OK = 0,
  NC_TOKEN_INVALID,  /* malformed or bad signature */
  NC_TOKEN_EXPIRED,
} nc_token_status;

/* Decodes a base64 secret (standard alphabet, padding and surrounding
 * whitespace allowed) into key. Returns 0 with *len set, NC_EINVAL when it
 * is not base64 or decodes to fewer than NC_AUTH_KEY_MIN bytes. */
int nc_auth_key_decode(const char *b64, uint8_t key[NC_AUTH_KEY_MAX], size_t *len);

/* Signs a token for user expiring at exp (epoch seconds). *out is
 * malloc'ed, owned by the caller. Returns 0, NC_EINVAL (user empty or too
 * long), NC_ENOMEM. */
int nc_auth_token_sign(const uint8_t *key, size_t key_len, const char *user, int64_t exp,
                       char **out);

/* Verifies token at time now (epoch seconds): signature (constant-time
 * compare), then expiry (valid while exp >= now, as Nacos). On OK and on
 * EXPIRED user (cap bytes) and *exp (may be NULL) are filled. */
nc_token_status nc_auth_token_verify(const uint8_t *key, size_t key_len, const char *token,
                                     int64_t now, char *user, size_t cap, int64_t *exp);

#endif
