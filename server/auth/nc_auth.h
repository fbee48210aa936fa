/* nc_auth: users, roles, permissions and tokens of one nacosd (Nacos's
 * default auth plugin, compatible on the wire and in the database).
 *
 * Owns the signing secret, an in-memory copy of the user/role/permission
 * tables (nc_auth_store persists them) and the login work. Checks run on
 * the loop thread from memory: a token's HMAC, then the user's roles and
 * their permission rows. Password checks (Argon2id, slow on purpose) run
 * on libuv's thread pool so a login does not stall the loop.
 *
 * The admin is user "nacos" with role ROLE_ADMIN, as in Nacos. It has no
 * password until one is set (--admin-password-file, or the loopback-only
 * POST /nacos/v1/auth/users/admin); until then no one can log in.
 * Loop thread only. */
#ifndef NC_AUTH_H
#define NC_AUTH_H

#include "nc_auth_token.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define NC_AUTH_ADMIN_USER "nacos"

typedef struct nc_auth nc_auth;

typedef struct nc_auth_opts {
  int enabled;                     /* 0: --auth off (every check passes) */
  const char *data_dir;            /* store and the generated secret live here */
  const char *secret_file;         /* base64 secret; NULL: <data_dir>/auth.secret */
  int cluster;                     /* 1: secret_file is required (members share it) */
  const char *admin_password_file; /* sets nacos's password when it has none; may be NULL */
  long token_ttl_s;                /* 0 = 18000 */
  const char *db_url;              /* a cluster's PostgreSQL (--db-url): users live there,
                                    * shared by every node and reloaded every 5 s; NULL:
                                    * SQLite in data_dir */
} nc_auth_opts;

/* What a request's credentials come to. Messages are Nacos's. */
typedef enum {
  NC_AUTH_OK = 0,
  NC_AUTH_NO_TOKEN,  /* "user not found!" */
  NC_AUTH_BAD_TOKEN, /* "token invalid!" */
  NC_AUTH_EXPIRED,   /* "token expired!" */
  NC_AUTH_FORBIDDEN, /* "authorization failed!" */
} nc_auth_result;
const char *nc_auth_result_msg(nc_auth_result r);

/* Loads (or generates) the secret, opens the store, applies the admin
 * password file. Returns 0, NC_EINVAL (bad secret/password file, cluster
 * without --auth-secret-file; logged), NC_EDB, NC_ENOMEM. With enabled 0
 * nothing is opened and every check passes. */
int nc_auth_new(uv_loop_t *loop, const nc_auth_opts *opts, nc_auth **out);
/* Frees a, now or when the last login in flight returns. NULL ok. */
void nc_auth_free(nc_auth *a);

int nc_auth_enabled(const nc_auth *a);
/* The cluster's peer identity derived from the shared secret (base64 of
 * HMAC-SHA256(secret, "nacos-c server identity")): the same on every member
 * without more configuration. 0, or NC_ESTATE when auth is off. */
int nc_auth_peer_identity(const nc_auth *a, char *out, size_t cap);
long nc_auth_token_ttl(const nc_auth *a);
/* 1 once the admin has a password. */
int nc_auth_admin_ready(const nc_auth *a);

/* Login result: rc 0 (token malloc'ed, handed to the callback for the
 * call only), NC_EPERM bad user or password (one answer for both),
 * NC_ESTATE the admin has no password yet. */
typedef void (*nc_auth_login_cb)(void *ud, int rc, const char *user, const char *token,
                                 int global_admin);
/* Checks user/password on the thread pool and calls cb on the loop thread
 * (never before this returns). Returns 0, or NC_ENOMEM (cb not called). */
int nc_auth_login(nc_auth *a, const char *user, const char *password, nc_auth_login_cb cb,
                  void *ud);

/* Verifies a token. On OK user (NC_AUTH_USER_MAX) names its subject. */
nc_auth_result nc_auth_identify(nc_auth *a, const char *token, char *user);
int nc_auth_is_admin(nc_auth *a, const char *user);
/* 1 when user may do action ('r'/'w') on resource (nc_auth_resource). */
int nc_auth_allowed(nc_auth *a, const char *user, const char *resource, char action);
/* identify + allowed in one: what a request on resource gets. */
nc_auth_result nc_auth_check(nc_auth *a, const char *token, const char *resource, char action,
                             char *user);

/* For nc_auth_cred (a request's username + password, see nc_auth_cred.h):
 * its cache (owned by a, NULL with auth off) and the generation of the
 * user and role rows, bumped whenever a password or a role changes, a user
 * is deleted or a reload brings rows that differ. */
struct nc_auth_cred *nc_auth_cred_cache(nc_auth *a);
uint64_t nc_auth_cred_gen(const nc_auth *a);
/* While set (user not NULL), a check without a token (nc_auth_identify and
 * nc_auth_check with token NULL or "") is taken as user's: srv_http sets it
 * around a handler's call for a request that authenticated with username
 * and password, so the handler's own checks see that user. Never set it
 * across a return to the loop. NULL ends it. */
void nc_auth_act_as(nc_auth *a, const char *user);

/* ---- management (admin HTTP API). Each returns 0, NC_EINVAL,
 * NC_EEXISTS, NC_ENOTFOUND, NC_EPERM (not allowed on that row), NC_EDB. */
int nc_auth_user_create(nc_auth *a, const char *user, const char *password);
int nc_auth_user_set_password(nc_auth *a, const char *user, const char *password);
int nc_auth_user_delete(nc_auth *a, const char *user);
/* Sets the admin's first password; NC_ESTATE when it already has one. */
int nc_auth_admin_init(nc_auth *a, const char *password);
int nc_auth_role_add(nc_auth *a, const char *role, const char *user);
int nc_auth_role_delete(nc_auth *a, const char *role, const char *user /* NULL = all */);
int nc_auth_perm_add(nc_auth *a, const char *role, const char *resource, const char *action);
int nc_auth_perm_delete(nc_auth *a, const char *role, const char *resource, const char *action);

/* Nacos's page objects {"totalCount","pageNumber","pagesAvailable",
 * "pageItems":[...]}; filter (may be NULL/"") keeps rows of that
 * user/role. Caller owns the result; NULL on OOM. */
cJSON *nc_auth_users_page(nc_auth *a, const char *filter, int page, int size);
cJSON *nc_auth_roles_page(nc_auth *a, const char *filter, int page, int size);
cJSON *nc_auth_perms_page(nc_auth *a, const char *filter, int page, int size);

#endif
