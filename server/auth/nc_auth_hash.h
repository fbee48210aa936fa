/* nc_auth_hash: password hashing for the user table.
 *
 * Argon2id through libsodium's crypto_pwhash_str: a well-reviewed library
 * Debian ships, a random salt per hash, memory-hard (costly to brute-force
 * on GPUs), and the parameters travel inside the hash string, so stronger
 * settings later still verify old hashes. Verification is slow on purpose
 * (tens of milliseconds): call it off the loop thread for untrusted input.
 * Thread-safe. */
#ifndef NC_AUTH_HASH_H
#define NC_AUTH_HASH_H

#include <stddef.h>

/* Room for a hash string including its NUL (crypto_pwhash_STRBYTES). */
#define NC_AUTH_HASH_MAX 128

/* libsodium's one-time set-up; 0 or NC_EIO. Safe to call again. */
int nc_auth_crypto_init(void);

/* Hashes password into out (NUL-terminated, <= NC_AUTH_HASH_MAX). Returns 0,
 * NC_EINVAL (empty or longer than 1 KiB) or NC_ENOMEM. */
int nc_auth_hash_password(const char *password, char out[NC_AUTH_HASH_MAX]);

/* 1 when password matches hash, else 0 (also for a malformed hash). */
int nc_auth_hash_verify(const char *hash, const char *password);

#endif
