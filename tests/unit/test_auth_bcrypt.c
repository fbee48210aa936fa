/* Passwords Java Nacos stored: bcrypt hashes verify (one made here with
 * libxcrypt, and the literal nacos/nacos hash of Nacos's docs), and a user
 * whose row holds one gets an Argon2id hash on the first good login. */
#include "nc_auth.h"
#include "nc_auth_hash.h"
#include "nc_auth_store.h"
#include "nc_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "nc_testproc.h"
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* nacos/nacos as Nacos's docs (and its schema's default row) give it. */
static const char NACOS_HASH[] = "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu";

static void test_bcrypt_made_here_verifies(void **st) {
  (void)st;
  struct crypt_data cd;
  char salt[CRYPT_GENSALT_OUTPUT_SIZE], hash[NC_AUTH_HASH_MAX];
  assert_int_equal(nc_auth_crypto_init(), 0);
  memset(&cd, 0, sizeof(cd));
  /* cost 4 keeps the test fast; NULL rbytes: libxcrypt reads the OS RNG */
  assert_non_null(crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)));
  const char *h = crypt_rn("s3cret pw", salt, &cd, (int)sizeof(cd));
  assert_non_null(h);
  assert_true(strncmp(h, "$2b$04$", 7) == 0);
  snprintf(hash, sizeof(hash), "%s", h);
  assert_true(nc_auth_hash_is_bcrypt(hash));
  assert_true(nc_auth_hash_verify(hash, "s3cret pw"));
  assert_false(nc_auth_hash_verify(hash, "s3cret pX"));
  assert_false(nc_auth_hash_verify(hash, ""));
  /* the same hash as $2a$ and $2y$ (same algorithm for ASCII passwords) */
  hash[2] = 'a';
  assert_true(nc_auth_hash_verify(hash, "s3cret pw"));
  hash[2] = 'y';
  assert_true(nc_auth_hash_verify(hash, "s3cret pw"));
  /* a damaged hash verifies nothing */
  hash[strlen(hash) - 3] = '\0';
  assert_false(nc_auth_hash_verify(hash, "s3cret pw"));
}

static void test_nacos_docs_hash(void **st) {
  (void)st;
  assert_true(nc_auth_hash_is_bcrypt(NACOS_HASH));
  assert_true(nc_auth_hash_verify(NACOS_HASH, "nacos"));
  assert_false(nc_auth_hash_verify(NACOS_HASH, "Nacos"));
  assert_false(nc_auth_hash_verify(NACOS_HASH, "nacos "));
  assert_false(nc_auth_hash_is_bcrypt("$argon2id$v=19$m=65536,t=2,p=1$abc$def"));
  assert_false(nc_auth_hash_is_bcrypt("$2x$10$abc"));
  assert_false(nc_auth_hash_is_bcrypt("$2a$1$abc"));
}

/* ---- re-hash on login, over a real SQLite store ---- */

typedef struct login_res {
  int done, rc;
} login_res;

static void on_login(void *ud, int rc, const char *user, const char *token, int admin) {
  login_res *r = ud;
  (void)user;
  (void)token;
  (void)admin;
  r->done = 1;
  r->rc = rc;
}

static int do_login(uv_loop_t *loop, nc_auth *a, const char *u, const char *p) {
  login_res r = {0};
  assert_int_equal(nc_auth_login(a, u, p, on_login, &r), 0);
  while (!r.done)
    uv_run(loop, UV_RUN_ONCE);
  return r.rc;
}

typedef struct hash_of {
  const char *user;
  char hash[NC_AUTH_HASH_MAX];
} hash_of;

static void row_user(void *ud, const char *name, const char *hash) {
  hash_of *h = ud;
  if (!strcmp(name, h->user))
    snprintf(h->hash, sizeof(h->hash), "%s", hash);
}
static void row_other(void *ud, const char *x, const char *y) {
  (void)ud;
  (void)x;
  (void)y;
}
static void row_perm(void *ud, const char *x, const char *y, const char *z) {
  (void)ud;
  (void)x;
  (void)y;
  (void)z;
}

static void stored_hash(const char *dir, const char *user, char *out) {
  nc_auth_store *s = NULL;
  hash_of h = {.user = user};
  nc_auth_store_rows rows = {row_user, row_other, row_perm, &h};
  assert_int_equal(nc_auth_store_open(dir, &s), 0);
  assert_int_equal(nc_auth_store_load(s, &rows), 0);
  nc_auth_store_close(s);
  snprintf(out, NC_AUTH_HASH_MAX, "%s", h.hash);
}

static void test_bcrypt_user_logs_in_and_is_rehashed(void **st) {
  (void)st;
  char dir[64], cmd[128], h[NC_AUTH_HASH_MAX];
  uv_loop_t loop;
  nc_auth *a = NULL;
  nc_auth_store *s = NULL;
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  uv_loop_init(&loop);
  /* The rows an adopted Nacos database holds: the admin and a user, both
   * with Nacos's bcrypt hash of "nacos". */
  assert_int_equal(nc_auth_store_open(dir, &s), 0);
  assert_int_equal(nc_auth_store_put_user(s, "nacos", NACOS_HASH), 0);
  assert_int_equal(nc_auth_store_put_role(s, "nacos", "ROLE_ADMIN"), 0);
  assert_int_equal(nc_auth_store_put_user(s, "olduser", NACOS_HASH), 0);
  nc_auth_store_close(s);

  nc_auth_opts o = {.enabled = 1, .data_dir = dir, .token_ttl_s = 60};
  assert_int_equal(nc_auth_new(&loop, &o, &a), 0);
  assert_true(nc_auth_admin_ready(a));
  /* wrong password: refused, the hash stays bcrypt */
  assert_int_equal(do_login(&loop, a, "olduser", "wrong"), NC_EPERM);
  stored_hash(dir, "olduser", h);
  assert_string_equal(h, NACOS_HASH);
  /* right password: in, and the row now holds Argon2id */
  assert_int_equal(do_login(&loop, a, "olduser", "nacos"), 0);
  stored_hash(dir, "olduser", h);
  assert_true(strncmp(h, "$argon2id$", 10) == 0);
  assert_true(nc_auth_hash_verify(h, "nacos"));
  /* still the same password, now checked against the new hash */
  assert_int_equal(do_login(&loop, a, "olduser", "nacos"), 0);
  assert_int_equal(do_login(&loop, a, "olduser", "wrong"), NC_EPERM);
  /* the admin too */
  assert_int_equal(do_login(&loop, a, "nacos", "nacos"), 0);
  stored_hash(dir, "nacos", h);
  assert_true(strncmp(h, "$argon2id$", 10) == 0);
  nc_auth_free(a);
  /* after a restart the Argon2id hash is what loads */
  a = NULL;
  assert_int_equal(nc_auth_new(&loop, &o, &a), 0);
  assert_int_equal(do_login(&loop, a, "olduser", "nacos"), 0);
  nc_auth_free(a);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bcrypt_made_here_verifies),
      cmocka_unit_test(test_nacos_docs_hash),
      cmocka_unit_test(test_bcrypt_user_logs_in_and_is_rehashed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
