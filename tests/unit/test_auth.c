/* nc_auth's pieces: Argon2id hashing, JWT HS256 tokens (sign, verify,
 * expiry, tampering, Nacos's exact format), permission patterns, and the
 * facade over a real SQLite store (users, roles, permissions, login). */
#include "nc_auth.h"
#include "nc_auth_hash.h"
#include "nc_auth_perm.h"
#include "nc_auth_token.h"
#include "nc_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* base64 of 32 bytes 0x00..0x1f */
static const char SECRET[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

static void test_hash_verifies_only_the_password(void **st) {
  (void)st;
  char h1[NC_AUTH_HASH_MAX], h2[NC_AUTH_HASH_MAX];
  assert_int_equal(nc_auth_crypto_init(), 0);
  assert_int_equal(nc_auth_hash_password("s3cret", h1), 0);
  assert_int_equal(nc_auth_hash_password("s3cret", h2), 0);
  assert_true(strncmp(h1, "$argon2id$", 10) == 0);
  assert_string_not_equal(h1, h2); /* salted */
  assert_true(nc_auth_hash_verify(h1, "s3cret"));
  assert_false(nc_auth_hash_verify(h1, "s3cret "));
  assert_false(nc_auth_hash_verify(h1, ""));
  assert_false(nc_auth_hash_verify("not a hash", "s3cret"));
  assert_int_equal(nc_auth_hash_password("", h1), NC_EINVAL);
}

static void key(uint8_t *k, size_t *n) { assert_int_equal(nc_auth_key_decode(SECRET, k, n), 0); }

static void test_token_sign_verify_roundtrip(void **st) {
  (void)st;
  uint8_t k[NC_AUTH_KEY_MAX];
  size_t kn;
  char *tok = NULL, user[NC_AUTH_USER_MAX];
  int64_t exp = 0;
  key(k, &kn);
  assert_int_equal(kn, 32);
  assert_int_equal(nc_auth_token_sign(k, kn, "nacos", 2000000000, &tok), 0);
  /* Nacos's header and payload, byte for byte */
  assert_true(strncmp(tok, "eyJhbGciOiJIUzI1NiJ9.", 21) == 0);
  const char *p = tok + 21;
  char payload[128];
  size_t n = 0;
  const char *dot = strchr(p, '.');
  assert_non_null(dot);
  assert_int_equal(sodium_base642bin((uint8_t *)payload, sizeof(payload) - 1, p,
                                     (size_t)(dot - p), NULL, &n, NULL,
                                     sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                   0);
  payload[n] = 0;
  assert_string_equal(payload, "{\"sub\":\"nacos\",\"exp\":2000000000}");
  assert_int_equal(nc_auth_token_verify(k, kn, tok, 1999999999, user, sizeof(user), &exp),
                   NC_TOKEN_OK);
  assert_string_equal(user, "nacos");
  assert_int_equal(exp, 2000000000);
  /* valid through exp itself, as Nacos (exp >= now) */
  assert_int_equal(nc_auth_token_verify(k, kn, tok, 2000000000, user, sizeof(user), NULL),
                   NC_TOKEN_OK);
  assert_int_equal(nc_auth_token_verify(k, kn, tok, 2000000001, user, sizeof(user), NULL),
                   NC_TOKEN_EXPIRED);
  free(tok);
}

/* A token HMAC'ed by hand with the same key verifies: what a Nacos node
 * with this secret would issue. */
static void test_token_from_nacos_format_accepted(void **st) {
  (void)st;
  uint8_t k[NC_AUTH_KEY_MAX], mac[32];
  size_t kn;
  char user[NC_AUTH_USER_MAX], tok[512], sig[64];
  key(k, &kn);
  snprintf(tok, sizeof(tok), "eyJhbGciOiJIUzI1NiJ9.");
  sodium_bin2base64(tok + strlen(tok), sizeof(tok) - strlen(tok),
                    (const uint8_t *)"{\"sub\":\"alice\",\"exp\":4102444800}", 33,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  crypto_auth_hmacsha256_state s;
  crypto_auth_hmacsha256_init(&s, k, kn);
  crypto_auth_hmacsha256_update(&s, (const uint8_t *)tok, strlen(tok));
  crypto_auth_hmacsha256_final(&s, mac);
  sodium_bin2base64(sig, sizeof(sig), mac, sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  strcat(tok, ".");
  strcat(tok, sig);
  assert_int_equal(nc_auth_token_verify(k, kn, tok, time(NULL), user, sizeof(user), NULL),
                   NC_TOKEN_OK);
  assert_string_equal(user, "alice");
}

static void test_token_tampered_or_wrong_key_invalid(void **st) {
  (void)st;
  uint8_t k[NC_AUTH_KEY_MAX], k2[NC_AUTH_KEY_MAX];
  size_t kn;
  char *tok = NULL, user[NC_AUTH_USER_MAX];
  key(k, &kn);
  memcpy(k2, k, kn);
  k2[0] ^= 1;
  assert_int_equal(nc_auth_token_sign(k, kn, "bob", 4102444800, &tok), 0);
  assert_int_equal(nc_auth_token_verify(k2, kn, tok, 0, user, sizeof(user), NULL),
                   NC_TOKEN_INVALID);
  /* flip one payload character: the signature no longer matches */
  char *t2 = strdup(tok);
  t2[25] = t2[25] == 'A' ? 'B' : 'A';
  assert_int_equal(nc_auth_token_verify(k, kn, t2, 0, user, sizeof(user), NULL), NC_TOKEN_INVALID);
  /* signature cut short, no signature, garbage, extra part */
  t2[strlen(t2) - 3] = 0;
  assert_int_equal(nc_auth_token_verify(k, kn, t2, 0, user, sizeof(user), NULL), NC_TOKEN_INVALID);
  assert_int_equal(nc_auth_token_verify(k, kn, "a.b", 0, user, sizeof(user), NULL),
                   NC_TOKEN_INVALID);
  assert_int_equal(nc_auth_token_verify(k, kn, "", 0, user, sizeof(user), NULL), NC_TOKEN_INVALID);
  char extra[600];
  snprintf(extra, sizeof(extra), "%s.x", tok);
  assert_int_equal(nc_auth_token_verify(k, kn, extra, 0, user, sizeof(user), NULL),
                   NC_TOKEN_INVALID);
  free(t2);
  free(tok);
}

static void test_key_decode_refuses_short_or_bad(void **st) {
  (void)st;
  uint8_t k[NC_AUTH_KEY_MAX];
  size_t n;
  assert_int_equal(nc_auth_key_decode("c2hvcnQ=", k, &n), NC_EINVAL); /* "short" */
  assert_int_equal(nc_auth_key_decode("not base64 !!", k, &n), NC_EINVAL);
  assert_int_equal(nc_auth_key_decode(" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", k, &n), 0);
}

static void test_perm_patterns(void **st) {
  (void)st;
  char res[NC_AUTH_RES_MAX];
  assert_true(nc_auth_glob("*", ""));
  assert_true(nc_auth_glob("a*c", "abbbc"));
  assert_false(nc_auth_glob("a*c", "abbbd"));
  assert_false(nc_auth_glob("a.c", "abc")); /* '.' is literal */
  assert_int_equal(nc_auth_resource(res, sizeof(res), "dev", "", "naming", "svc"), 0);
  assert_string_equal(res, "dev:*:naming/svc");
  assert_int_equal(nc_auth_resource(res, sizeof(res), "dev", "G", "config", ""), 0);
  assert_string_equal(res, "dev:G:config/*");
  assert_true(nc_auth_perm_grants("dev:*:*", "r", "dev:G:config/a", 'r'));
  assert_false(nc_auth_perm_grants("dev:*:*", "r", "dev:G:config/a", 'w'));
  assert_true(nc_auth_perm_grants("dev:*:*", "rw", "dev:G:config/a", 'w'));
  assert_false(nc_auth_perm_grants("dev:*:*", "rw", "prod:G:config/a", 'r'));
  assert_true(nc_auth_perm_grants("dev:G:config/*", "r", "dev:G:config/a", 'r'));
  assert_false(nc_auth_perm_grants("dev:G:config/*", "r", "dev:G:naming/a", 'r'));
  /* public spelled "" (2.x rows) or "public" (3.x) */
  assert_true(nc_auth_perm_grants(":*:*", "r", "public:G:naming/s", 'r'));
  assert_true(nc_auth_perm_grants("public:*:*", "r", ":G:naming/s", 'r'));
  assert_false(nc_auth_perm_grants(":*:*", "r", "dev:G:naming/s", 'r'));
  assert_true(nc_auth_action_valid("rw"));
  assert_false(nc_auth_action_valid("x"));
  /* many stars: no exponential back-tracking */
  assert_false(nc_auth_glob("*a*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

/* ---- the facade over a real store ---- */

typedef struct fx {
  char dir[64];
  uv_loop_t loop;
  nc_auth *a;
} fx;

static int fx_setup(void **st) {
  fx *f = calloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/test_auth.XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  uv_loop_init(&f->loop);
  *st = f;
  return 0;
}

static int fx_teardown(void **st) {
  fx *f = *st;
  char cmd[128];
  nc_auth_free(f->a);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uv_loop_close(&f->loop);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

static int open_auth(fx *f, const char *pwfile) {
  nc_auth_opts o = {.enabled = 1, .data_dir = f->dir, .admin_password_file = pwfile,
                    .token_ttl_s = 60};
  nc_auth_free(f->a);
  f->a = NULL;
  return nc_auth_new(&f->loop, &o, &f->a);
}

typedef struct login_res {
  int done, rc, admin;
  char token[1024];
} login_res;

static void on_login(void *ud, int rc, const char *user, const char *token, int admin) {
  login_res *r = ud;
  (void)user;
  r->done = 1;
  r->rc = rc;
  r->admin = admin;
  snprintf(r->token, sizeof(r->token), "%s", token ? token : "");
}

static login_res do_login(fx *f, const char *u, const char *p) {
  login_res r = {0};
  assert_int_equal(nc_auth_login(f->a, u, p, on_login, &r), 0);
  while (!r.done)
    uv_run(&f->loop, UV_RUN_ONCE);
  return r;
}

static void test_secret_generated_0600_and_kept(void **st) {
  fx *f = *st;
  char path[128], first[128], again[128];
  struct stat sb;
  assert_int_equal(open_auth(f, NULL), 0);
  snprintf(path, sizeof(path), "%s/auth.secret", f->dir);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  FILE *fp = fopen(path, "r");
  assert_non_null(fgets(first, sizeof(first), fp));
  fclose(fp);
  assert_int_equal(open_auth(f, NULL), 0);
  fp = fopen(path, "r");
  assert_non_null(fgets(again, sizeof(again), fp));
  fclose(fp);
  assert_string_equal(first, again);
  /* a cluster must be given one */
  nc_auth_opts o = {.enabled = 1, .data_dir = f->dir, .cluster = 1};
  nc_auth *b = NULL;
  assert_int_equal(nc_auth_new(&f->loop, &o, &b), NC_EINVAL);
}

static void test_login_needs_admin_password_then_works(void **st) {
  fx *f = *st;
  char pw[128];
  assert_int_equal(open_auth(f, NULL), 0);
  assert_false(nc_auth_admin_ready(f->a));
  login_res r = do_login(f, "nacos", "x");
  assert_int_equal(r.rc, NC_ESTATE);
  snprintf(pw, sizeof(pw), "%s/pw", f->dir);
  FILE *fp = fopen(pw, "w");
  fputs("adminpw\n", fp);
  fclose(fp);
  assert_int_equal(open_auth(f, pw), 0); /* reopened: the store is read back */
  assert_true(nc_auth_admin_ready(f->a));
  r = do_login(f, "nacos", "adminpw");
  assert_int_equal(r.rc, 0);
  assert_true(r.admin);
  char user[NC_AUTH_USER_MAX];
  assert_int_equal(nc_auth_identify(f->a, r.token, user), NC_AUTH_OK);
  assert_string_equal(user, "nacos");
  /* bad password and unknown user: one answer */
  assert_int_equal(do_login(f, "nacos", "wrong").rc, NC_EPERM);
  assert_int_equal(do_login(f, "ghost", "adminpw").rc, NC_EPERM);
  assert_int_equal(do_login(f, "", "").rc, NC_EPERM);
  /* the file does not replace a password set since */
  assert_int_equal(nc_auth_user_set_password(f->a, "nacos", "newpw"), 0);
  assert_int_equal(open_auth(f, pw), 0);
  assert_int_equal(do_login(f, "nacos", "adminpw").rc, NC_EPERM);
  assert_int_equal(do_login(f, "nacos", "newpw").rc, 0);
}

static void test_roles_and_permissions_persist_and_check(void **st) {
  fx *f = *st;
  assert_int_equal(open_auth(f, NULL), 0);
  assert_int_equal(nc_auth_admin_init(f->a, "adm"), 0);
  assert_int_equal(nc_auth_admin_init(f->a, "again"), NC_ESTATE);
  assert_int_equal(nc_auth_user_create(f->a, "reader", "rpw"), 0);
  assert_int_equal(nc_auth_user_create(f->a, "reader", "rpw"), NC_EEXISTS);
  assert_int_equal(nc_auth_role_add(f->a, "devro", "reader"), 0);
  assert_int_equal(nc_auth_role_add(f->a, "ROLE_ADMIN", "reader"), NC_EPERM);
  assert_int_equal(nc_auth_perm_add(f->a, "devro", "dev:*:*", "r"), 0);
  assert_int_equal(nc_auth_perm_add(f->a, "devro", "dev:*:*", "x"), NC_EINVAL);
  assert_int_equal(nc_auth_user_delete(f->a, "nacos"), NC_EPERM);
  assert_int_equal(open_auth(f, NULL), 0); /* read back from SQLite */
  assert_true(nc_auth_allowed(f->a, "reader", "dev:G:config/a", 'r'));
  assert_false(nc_auth_allowed(f->a, "reader", "dev:G:config/a", 'w'));
  assert_false(nc_auth_allowed(f->a, "reader", "prod:G:config/a", 'r'));
  assert_true(nc_auth_allowed(f->a, "nacos", "prod:G:config/a", 'w'));
  login_res r = do_login(f, "reader", "rpw");
  assert_int_equal(r.rc, 0);
  assert_false(r.admin);
  char user[NC_AUTH_USER_MAX];
  assert_int_equal(nc_auth_check(f->a, r.token, "dev:G:naming/s", 'w', user), NC_AUTH_FORBIDDEN);
  assert_int_equal(nc_auth_check(f->a, r.token, "dev:G:naming/s", 'r', user), NC_AUTH_OK);
  assert_int_equal(nc_auth_check(f->a, NULL, "dev:G:naming/s", 'r', user), NC_AUTH_NO_TOKEN);
  assert_int_equal(nc_auth_check(f->a, "x.y.z", "dev:G:naming/s", 'r', user), NC_AUTH_BAD_TOKEN);
  cJSON *pg = nc_auth_perms_page(f->a, "devro", 1, 10);
  assert_int_equal(cJSON_GetObjectItem(pg, "totalCount")->valueint, 1);
  cJSON_Delete(pg);
  pg = nc_auth_users_page(f->a, NULL, 1, 10);
  assert_int_equal(cJSON_GetObjectItem(pg, "totalCount")->valueint, 2);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(pg, "pageItems"), 0), "password")->valuestring, "");
  cJSON_Delete(pg);
  assert_int_equal(nc_auth_perm_delete(f->a, "devro", "dev:*:*", "r"), 0);
  assert_false(nc_auth_allowed(f->a, "reader", "dev:G:config/a", 'r'));
  assert_int_equal(nc_auth_user_delete(f->a, "reader"), 0);
  assert_int_equal(do_login(f, "reader", "rpw").rc, NC_EPERM);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_verifies_only_the_password),
      cmocka_unit_test(test_token_sign_verify_roundtrip),
      cmocka_unit_test(test_token_from_nacos_format_accepted),
      cmocka_unit_test(test_token_tampered_or_wrong_key_invalid),
      cmocka_unit_test(test_key_decode_refuses_short_or_bad),
      cmocka_unit_test(test_perm_patterns),
      cmocka_unit_test_setup_teardown(test_secret_generated_0600_and_kept, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_login_needs_admin_password_then_works, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_roles_and_permissions_persist_and_check, fx_setup,
                                      fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
