/* nc_auth_cred: credentials a request carries itself (username + password
 * parameters, query or form), as Nacos's AbstractAuthenticationManager
 * takes them when a request has no accessToken. The npm nacos client sends
 * them on every request instead of logging in.
 *
 * Verifying a password is an Argon2id check (tens of ms, on libuv's thread
 * pool), so a small cache remembers pairs verified recently:
 *  - keyed by a keyed BLAKE2b (crypto_generichash, random per-process key)
 *    of username and password: the plain password is never stored, and a
 *    copy of memory gives no offline guessing without the key;
 *  - an entry lives ttl_ms and only while the auth generation it was
 *    verified under is current (nc_auth bumps it when a user's password or
 *    roles change, a user is deleted or a reload brings other rows), so a
 *    changed password is refused on the next request;
 *  - failures are never cached. A budget of failed verifications (a token
 *    bucket, global) and a cap on verifications in flight keep a client
 *    looping on wrong pairs from burning the CPU: past them an unknown pair
 *    is refused without hashing, with the same answer as a wrong one;
 *  - a request whose pair is being checked already waits for that check
 *    (no second check, never throttled): a client's parallel first requests.
 *
 * The cache part (new/get/put/admit/done) is plain data with the time
 * passed in, for tests. Loop thread only. */
#ifndef NC_AUTH_CRED_H
#define NC_AUTH_CRED_H

#include "nc_auth.h"

#include <stddef.h>
#include <stdint.h>

/* Nacos's answer (403) for a bad, blank or throttled pair: one message for
 * an unknown user and a wrong password. */
#define NC_AUTH_CRED_BAD_MSG "User not found! Please check user exist or password is right!"

#define NC_AUTH_CRED_TTL_MS 60000
#define NC_AUTH_CRED_CAP 64
/* Failed verifications: a burst of this many, then this many a second. */
#define NC_AUTH_CRED_FAIL_BURST 10
#define NC_AUTH_CRED_FAIL_RATE 5
/* Verifications in flight at once (libuv's pool has 4 threads). */
#define NC_AUTH_CRED_INFLIGHT 4

typedef struct nc_auth_cred nc_auth_cred;

typedef struct nc_auth_cred_stats {
  unsigned long long hits;      /* answered from the cache */
  unsigned long long verified;  /* Argon2id checks that succeeded */
  unsigned long long failed;    /* checks that failed (wrong or unknown pair) */
  unsigned long long throttled; /* refused without a check (budget spent or too many in flight) */
} nc_auth_cred_stats;

/* A cache of cap entries (0 = NC_AUTH_CRED_CAP) living ttl_ms (0 =
 * NC_AUTH_CRED_TTL_MS). NULL on OOM. Caller frees with nc_auth_cred_free. */
nc_auth_cred *nc_auth_cred_new(size_t cap, uint64_t ttl_ms);
void nc_auth_cred_free(nc_auth_cred *c); /* NULL ok; wipes the entries */

/* 1 when (user, password) was put under gen less than ttl ago (counted as a
 * hit); else 0, and a stale or expired entry for it is dropped. */
int nc_auth_cred_get(nc_auth_cred *c, const char *user, const char *password, uint64_t gen,
                     uint64_t now_ms);
/* Remembers a verified pair (replaces its old entry, else the oldest). */
void nc_auth_cred_put(nc_auth_cred *c, const char *user, const char *password, uint64_t gen,
                      uint64_t now_ms);
/* 1 when a verification may start now (then call nc_auth_cred_done once
 * it ends); 0 = throttled (counted). */
int nc_auth_cred_admit(nc_auth_cred *c, uint64_t now_ms);
void nc_auth_cred_done(nc_auth_cred *c, int ok, uint64_t now_ms);
void nc_auth_cred_get_stats(const nc_auth_cred *c, nc_auth_cred_stats *st);

/* ---- the entry point srv_http uses ---- */

/* cb's verdict: ok 1 with user (valid for the call only), or ok 0 (answer
 * 403 NC_AUTH_CRED_BAD_MSG). */
typedef void (*nc_auth_cred_cb)(void *ud, int ok, const char *user);

/* Authenticates a request's username + password. Returns 1 (cached: out
 * (NC_AUTH_USER_MAX) names the user, cb not called), 0 (refused now: blank,
 * throttled or out of memory; cb not called) or 2 (being verified: cb runs
 * later on the loop thread, also when a is being freed, then with ok 0).
 * The password is copied only for the check and wiped afterwards. */
int nc_auth_cred_verify(nc_auth *a, const char *user, const char *password, char *out,
                        nc_auth_cred_cb cb, void *ud);

#endif
