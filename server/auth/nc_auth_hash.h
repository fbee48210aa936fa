/* nc_auth_hash: password hashing for the user table.
 *
 * Argon2id through libsodium's crypto_pwhash_str: a well-reviewed library
 * Debian ships, a random salt per hash, memory-hard (costly to brute-force
 * on GPUs), and the parameters travel inside the hash string, so stronger
 * settings later still verify old hashes. bcrypt hashes written by Java
 * Nacos are verified too (below), never written. Verification is slow on purpose
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

/* 1 when password matches hash, else 0 (also for a malformed hash).
 * Besides our Argon2id hashes this verifies the bcrypt hashes ($2a$, $2b$,
 * $2y$) Java Nacos stores in its users table (libxcrypt's crypt_rn), so
 * users of an adopted Nacos database can log in; nc_auth re-hashes those
 * to Argon2id on their first successful login. */
int nc_auth_hash_verify(const char *hash, const char *password);

/* 1 when hash is a bcrypt hash ("$2a$10$..." and the like): one to re-hash. */
int nc_auth_hash_is_bcrypt(const char *hash);

#endif
