/* nc_auth: see nc_auth.h. */
#include "nc_auth.h"

#include "nc_auth_cred.h"
#include "nc_auth_hash.h"
#include "nc_auth_perm.h"
#include "nc_auth_store.h"
#include "nc_err.h"
#include "nc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct row {
  char *a, *b, *c; /* user: name, hash; role: user, role; perm: role, resource, action */
} row;

typedef struct table {
  row *v;
  size_t n, cap;
} table;

struct nc_auth {
  uv_loop_t *loop;
  int enabled;
  long ttl;
  uint8_t key[NC_AUTH_KEY_MAX];
  size_t key_len;
  nc_auth_store *store;
  table users, roles, perms;
  char dummy_hash[NC_AUTH_HASH_MAX]; /* verified for unknown users: same cost */
  int pending; /* logins and reloads on the thread pool */
  int dying;   /* nc_auth_free ran while logins were pending */
  /* A shared store (PostgreSQL): other nodes change the tables, so they are
   * reloaded every NC_AUTH_RELOAD_MS on the thread pool. */
  char *db_url;
  uv_timer_t *reload_timer;
  int reloading;
  uint64_t write_gen; /* bumped by every write here */
  nc_auth_cred *cred; /* a request's username + password: verified pairs */
  uint64_t cred_gen;  /* bumped when users or roles change (see nc_auth.h) */
  char as_user[NC_AUTH_USER_MAX]; /* nc_auth_act_as; "" = none */
};

#define NC_AUTH_RELOAD_MS 5000

const char *nc_auth_result_msg(nc_auth_result r) {
  switch (r) {
  case NC_AUTH_OK:
    return "ok";
  case NC_AUTH_NO_TOKEN:
    return "user not found!";
  case NC_AUTH_BAD_TOKEN:
    return "token invalid!";
  case NC_AUTH_EXPIRED:
    return "token expired!";
  case NC_AUTH_FORBIDDEN:
    break;
  }
  return "authorization failed!";
}

/* ---- tables ---- */

static void row_free(row *r) {
  free(r->a);
  free(r->b);
  free(r->c);
}

static void table_free(table *t) {
  for (size_t i = 0; i < t->n; i++)
    row_free(&t->v[i]);
  free(t->v);
  *t = (table){0};
}

static int dupopt(const char *s, char **out) {
  *out = NULL;
  return s && !(*out = strdup(s)) ? NC_ENOMEM : 0;
}

static int table_add(table *t, const char *a, const char *b, const char *c) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    row *v = realloc(t->v, cap * sizeof(*v));
    if (!v)
      return NC_ENOMEM;
    t->v = v;
    t->cap = cap;
  }
  row r = {0};
  if (dupopt(a, &r.a) || dupopt(b, &r.b) || dupopt(c, &r.c)) {
    row_free(&r);
    return NC_ENOMEM;
  }
  t->v[t->n++] = r;
  return 0;
}

static int eq(const char *x, const char *y) { return !x || (y && strcmp(x, y) == 0); }

/* Index of the first row matching (a, b, c); NULL fields match anything. */
static long table_find(const table *t, const char *a, const char *b, const char *c) {
  for (size_t i = 0; i < t->n; i++)
    if (eq(a, t->v[i].a) && eq(b, t->v[i].b) && eq(c, t->v[i].c))
      return (long)i;
  return -1;
}

static size_t table_remove(table *t, const char *a, const char *b, const char *c) {
  size_t removed = 0;
  for (size_t i = 0; i < t->n;) {
    if (eq(a, t->v[i].a) && eq(b, t->v[i].b) && eq(c, t->v[i].c)) {
      row_free(&t->v[i]);
      t->v[i] = t->v[--t->n];
      removed++;
    } else
      i++;
  }
  return removed;
}

static void load_user(void *ud, const char *name, const char *hash) {
  nc_auth *a = ud;
  if (table_add(&a->users, name, hash, NULL))
    nc_error("auth: out of memory loading users");
}
static void load_role(void *ud, const char *user, const char *role) {
  nc_auth *a = ud;
  if (table_add(&a->roles, user, role, NULL))
    nc_error("auth: out of memory loading roles");
}
static void load_perm(void *ud, const char *role, const char *res, const char *act) {
  nc_auth *a = ud;
  if (table_add(&a->perms, role, res, act))
    nc_error("auth: out of memory loading permissions");
}

/* ---- secret and files ---- */

/* The first line of path without its line end; 0, NC_EIO, NC_EINVAL. */
static int read_line(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) {
    nc_error("auth: cannot read %s: %s", path, strerror(errno));
    return NC_EIO;
  }
  int ok = fgets(buf, (int)cap, f) != NULL;
  fclose(f);
  if (!ok) {
    nc_error("auth: %s is empty", path);
    return NC_EINVAL;
  }
  buf[strcspn(buf, "\r\n")] = '\0';
  return 0;
}

static void warn_if_readable(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && (st.st_mode & 077))
    nc_warn("auth: %s is readable by group or others (mode %03o); chmod 600 it", path,
            (unsigned)(st.st_mode & 0777));
}

/* 32 random bytes, base64, written with mode 0600 (O_EXCL: never replaces
 * a secret another start wrote). */
static int generate_secret(const char *path, char *b64, size_t cap) {
  uint8_t raw[32];
  randombytes_buf(raw, sizeof(raw));
  sodium_bin2base64(b64, cap, raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(raw, sizeof(raw));
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    nc_error("auth: cannot create %s: %s", path, strerror(errno));
    return NC_EIO;
  }
  size_t n = strlen(b64);
  int ok = write(fd, b64, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok) {
    nc_error("auth: cannot write %s", path);
    unlink(path);
    return NC_EIO;
  }
  nc_info("auth: generated a token secret in %s", path);
  return 0;
}

static int load_secret(nc_auth *a, const nc_auth_opts *o) {
  char path[4096], b64[1024];
  int rc;
  if (o->secret_file && *o->secret_file) {
    snprintf(path, sizeof(path), "%s", o->secret_file);
    if ((rc = read_line(path, b64, sizeof(b64))))
      return rc;
  } else if (o->cluster) {
    nc_error("auth: a cluster needs --auth-secret-file (one secret shared by every member)");
    return NC_EINVAL;
  } else {
    snprintf(path, sizeof(path), "%s/auth.secret", o->data_dir);
    if (access(path, F_OK) != 0)
      rc = generate_secret(path, b64, sizeof(b64));
    else
      rc = read_line(path, b64, sizeof(b64));
    if (rc)
      return rc;
  }
  warn_if_readable(path);
  rc = nc_auth_key_decode(b64, a->key, &a->key_len);
  sodium_memzero(b64, sizeof(b64));
  if (rc)
    nc_error("auth: %s must hold a base64 secret of at least %d bytes (e.g. openssl rand "
             "-base64 32)", path, NC_AUTH_KEY_MIN);
  return rc;
}

static int apply_admin_password_file(nc_auth *a, const char *path) {
  char pw[1100];
  int rc;
  if (!path || !*path)
    return 0;
  if (nc_auth_admin_ready(a)) {
    nc_info("auth: admin %s already has a password; --admin-password-file ignored",
            NC_AUTH_ADMIN_USER);
    return 0;
  }
  warn_if_readable(path);
  if ((rc = read_line(path, pw, sizeof(pw))))
    return rc;
  rc = nc_auth_admin_init(a, pw);
  sodium_memzero(pw, sizeof(pw));
  if (rc)
    nc_error("auth: cannot set the admin password from %s: %s", path, nc_strerror(rc));
  else
    nc_info("auth: admin %s's password set from %s", NC_AUTH_ADMIN_USER, path);
  return rc;
}

/* ---- reload of a shared store ---- */

typedef struct reload_job {
  uv_work_t work;
  nc_auth *a;
  table users, roles, perms;
  uint64_t gen;
  int rc;
} reload_job;

static void rl_user(void *ud, const char *name, const char *hash) {
  reload_job *j = ud;
  if (!j->rc && table_add(&j->users, name, hash, NULL))
    j->rc = NC_ENOMEM;
}
static void rl_role(void *ud, const char *user, const char *role) {
  reload_job *j = ud;
  if (!j->rc && table_add(&j->roles, user, role, NULL))
    j->rc = NC_ENOMEM;
}
static void rl_perm(void *ud, const char *role, const char *res, const char *act) {
  reload_job *j = ud;
  if (!j->rc && table_add(&j->perms, role, res, act))
    j->rc = NC_ENOMEM;
}

/* Thread pool: the rows as the database has them now. */
static void rl_work(uv_work_t *w) {
  reload_job *j = w->data;
  nc_auth_store_rows rows = {rl_user, rl_role, rl_perm, j};
  int rc = nc_auth_store_load_fresh(j->a->db_url, &rows);
  if (rc)
    j->rc = rc;
}

static void auth_destroy(nc_auth *a);

/* Loop thread: swap in what was read, unless this node wrote meanwhile
 * (then the next reload brings both). */
/* 1 when x and y do not hold the same rows (order aside). */
static int table_differs(const table *x, const table *y) {
  if (x->n != y->n)
    return 1;
  for (size_t i = 0; i < x->n; i++)
    if (table_find(y, x->v[i].a, x->v[i].b ? x->v[i].b : "", x->v[i].c) < 0)
      return 1;
  return 0;
}

static void rl_after(uv_work_t *w, int status) {
  reload_job *j = w->data;
  nc_auth *a = j->a;
  a->pending--;
  a->reloading = 0;
  if (!a->dying && status == 0 && j->rc == 0 && j->gen == a->write_gen) {
    if (table_differs(&a->users, &j->users) || table_differs(&a->roles, &j->roles))
      a->cred_gen++;
    table t;
    t = a->users, a->users = j->users, j->users = t;
    t = a->roles, a->roles = j->roles, j->roles = t;
    t = a->perms, a->perms = j->perms, j->perms = t;
  }
  table_free(&j->users);
  table_free(&j->roles);
  table_free(&j->perms);
  free(j);
  if (a->dying && !a->pending)
    auth_destroy(a);
}

static void on_reload_timer(uv_timer_t *t) {
  nc_auth *a = t->data;
  if (a->reloading || a->dying)
    return;
  reload_job *j = calloc(1, sizeof(*j));
  if (!j)
    return;
  j->a = a;
  j->gen = a->write_gen;
  j->work.data = j;
  if (uv_queue_work(a->loop, &j->work, rl_work, rl_after) != 0) {
    free(j);
    return;
  }
  a->reloading = 1;
  a->pending++;
}

static int reload_start(nc_auth *a) {
  if (!(a->reload_timer = calloc(1, sizeof(*a->reload_timer))))
    return NC_ENOMEM;
  uv_timer_init(a->loop, a->reload_timer);
  a->reload_timer->data = a;
  uv_timer_start(a->reload_timer, on_reload_timer, NC_AUTH_RELOAD_MS, NC_AUTH_RELOAD_MS);
  return 0;
}

static void timer_closed(uv_handle_t *h) { free(h); }

int nc_auth_new(uv_loop_t *loop, const nc_auth_opts *o, nc_auth **out) {
  int rc = NC_ENOMEM;
  nc_auth *a = calloc(1, sizeof(*a));
  if (!a)
    return NC_ENOMEM;
  a->loop = loop;
  a->enabled = o->enabled;
  a->ttl = o->token_ttl_s > 0 ? o->token_ttl_s : 18000;
  if (!a->enabled) {
    *out = a;
    return 0;
  }
  if ((rc = nc_auth_crypto_init()) || (rc = load_secret(a, o)))
    goto fail;
  if (!(a->cred = nc_auth_cred_new(0, 0)))
    goto fail;
  if (o->db_url) {
    if (!(a->db_url = strdup(o->db_url)) ||
        (rc = nc_auth_store_open_pg(o->db_url, &a->store)))
      goto fail;
  } else if ((rc = nc_auth_store_open(o->data_dir, &a->store))) {
    goto fail;
  }
  nc_auth_store_rows rows = {load_user, load_role, load_perm, a};
  if ((rc = nc_auth_store_load(a->store, &rows)))
    goto fail;
  /* Nacos's admin row: nacos holds ROLE_ADMIN from the first start. */
  if (table_find(&a->roles, NC_AUTH_ADMIN_USER, NC_AUTH_ROLE_ADMIN, NULL) < 0 &&
      (rc = nc_auth_role_add(a, NC_AUTH_ROLE_ADMIN, NC_AUTH_ADMIN_USER)) != 0 && rc != NC_EPERM)
    goto fail;
  char rnd[33];
  randombytes_buf(rnd, sizeof(rnd) - 1);
  for (size_t i = 0; i < sizeof(rnd) - 1; i++)
    rnd[i] = (char)('a' + ((unsigned char)rnd[i] % 26));
  rnd[sizeof(rnd) - 1] = '\0';
  if ((rc = nc_auth_hash_password(rnd, a->dummy_hash)))
    goto fail;
  if ((rc = apply_admin_password_file(a, o->admin_password_file)))
    goto fail;
  if (!nc_auth_admin_ready(a))
    nc_warn("auth: admin %s has no password yet: no one can log in until one is set "
            "(--admin-password-file FILE, or POST /nacos/v1/auth/users/admin from this host)",
            NC_AUTH_ADMIN_USER);
  nc_info("auth: on (%zu users, %zu roles, %zu permissions; tokens live %lds)%s", a->users.n,
          a->roles.n, a->perms.n, a->ttl,
          a->db_url ? "; users in PostgreSQL, shared by the cluster" : "");
  if (a->db_url && (rc = reload_start(a)))
    goto fail;
  *out = a;
  return 0;
fail:
  nc_auth_free(a);
  return rc;
}

static void auth_destroy(nc_auth *a) {
  free(a->db_url);
  nc_auth_cred_free(a->cred);
  table_free(&a->users);
  table_free(&a->roles);
  table_free(&a->perms);
  nc_auth_store_close(a->store);
  sodium_memzero(a->key, sizeof(a->key));
  free(a);
}

void nc_auth_free(nc_auth *a) {
  if (!a)
    return;
  if (a->reload_timer) {
    uv_timer_stop(a->reload_timer);
    uv_close((uv_handle_t *)a->reload_timer, timer_closed);
    a->reload_timer = NULL;
  }
  if (a->pending) {
    a->dying = 1;
    return;
  }
  auth_destroy(a);
}

int nc_auth_enabled(const nc_auth *a) { return a && a->enabled; }

int nc_auth_peer_identity(const nc_auth *a, char *out, size_t cap) {
  static const char label[] = "nacos-c server identity";
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  if (!nc_auth_enabled(a) || cap < sodium_base64_ENCODED_LEN(sizeof(mac),
                                                             sodium_base64_VARIANT_ORIGINAL))
    return NC_ESTATE;
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, a->key, a->key_len);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, sizeof(label) - 1);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_bin2base64(out, cap, mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(mac, sizeof(mac));
  return 0;
}
long nc_auth_token_ttl(const nc_auth *a) { return a->ttl; }
int nc_auth_admin_ready(const nc_auth *a) {
  return table_find(&a->users, NC_AUTH_ADMIN_USER, NULL, NULL) >= 0;
}

/* ---- login ---- */

typedef struct login {
  uv_work_t w;
  nc_auth *a;
  char user[NC_AUTH_USER_MAX];
  char *password;
  char hash[NC_AUTH_HASH_MAX];
  char rehash[NC_AUTH_HASH_MAX]; /* Argon2id of a bcrypt user's password; "" = none */
  int known, ok, no_admin;
  nc_auth_login_cb cb;
  void *ud;
} login;

static void login_work(uv_work_t *w) {
  login *l = w->data;
  l->ok = nc_auth_hash_verify(l->hash, l->password) && l->known;
  /* A bcrypt hash from Java Nacos: its replacement is made here, off the
   * loop, and stored by login_done. */
  if (l->ok && nc_auth_hash_is_bcrypt(l->hash) && nc_auth_hash_password(l->password, l->rehash))
    l->rehash[0] = '\0';
}

/* Replaces a user's bcrypt hash by the Argon2id one its login made, unless
 * the row changed meanwhile (a new password, a delete, a reload). A failure
 * only keeps the bcrypt hash: the next login tries again. */
static void store_rehash(nc_auth *a, const login *l) {
  long i = table_find(&a->users, l->user, NULL, NULL);
  char *h;
  if (i < 0 || strcmp(a->users.v[i].b, l->hash) != 0)
    return;
  a->write_gen++; /* a reload that began before this is stale */
  if (nc_auth_store_put_user(a->store, l->user, l->rehash) != 0 || !(h = strdup(l->rehash))) {
    nc_warn("auth: could not store the new hash of %s; it keeps its bcrypt hash",
            NC_LOG_ESC(l->user));
    return;
  }
  free(a->users.v[i].b);
  a->users.v[i].b = h;
  nc_info("auth: %s's bcrypt password hash (from Nacos) replaced by Argon2id",
          NC_LOG_ESC(l->user));
}

static void login_done(uv_work_t *w, int status) {
  login *l = w->data;
  nc_auth *a = l->a;
  char *tok = NULL;
  int rc = l->no_admin ? NC_ESTATE : NC_EPERM;
  a->pending--;
  if (status == 0 && l->ok && !a->dying) {
    if (l->rehash[0])
      store_rehash(a, l);
    rc = nc_auth_token_sign(a->key, a->key_len, l->user, (int64_t)time(NULL) + a->ttl, &tok);
  }
  l->cb(l->ud, rc, l->user, tok, rc == 0 && nc_auth_is_admin(a, l->user));
  free(tok);
  sodium_memzero(l->password, strlen(l->password));
  free(l->password);
  free(l);
  if (a->dying && !a->pending)
    auth_destroy(a);
}

/* Answers on the next loop turn (a login refused without hashing). */
static void login_now(uv_work_t *w) { (void)w; }

int nc_auth_login(nc_auth *a, const char *user, const char *password, nc_auth_login_cb cb,
                  void *ud) {
  login *l = calloc(1, sizeof(*l));
  if (!l || !(l->password = strdup(password ? password : ""))) {
    free(l);
    return NC_ENOMEM;
  }
  l->w.data = l;
  l->a = a;
  l->cb = cb;
  l->ud = ud;
  snprintf(l->user, sizeof(l->user), "%s", user ? user : "");
  long i = user && *user && strlen(user) < NC_AUTH_USER_MAX ? table_find(&a->users, user, NULL, NULL)
                                                            : -1;
  l->known = i >= 0;
  snprintf(l->hash, sizeof(l->hash), "%s", l->known ? a->users.v[i].b : a->dummy_hash);
  /* Until the admin has a password no one logs in: say so plainly. */
  l->no_admin = !nc_auth_admin_ready(a);
  a->pending++;
  int rc = uv_queue_work(a->loop, &l->w, *l->password && !l->no_admin ? login_work : login_now,
                         login_done);
  if (rc) {
    a->pending--;
    free(l->password);
    free(l);
    return NC_ENOMEM;
  }
  return 0;
}

/* ---- checks ---- */

struct nc_auth_cred *nc_auth_cred_cache(nc_auth *a) { return a ? a->cred : NULL; }
uint64_t nc_auth_cred_gen(const nc_auth *a) { return a->cred_gen; }

void nc_auth_act_as(nc_auth *a, const char *user) {
  if (a)
    snprintf(a->as_user, sizeof(a->as_user), "%s", user ? user : "");
}

nc_auth_result nc_auth_identify(nc_auth *a, const char *token, char *user) {
  if ((!token || !*token) && a->as_user[0]) {
    memcpy(user, a->as_user, sizeof(a->as_user));
    return NC_AUTH_OK;
  }
  if (!token || !*token)
    return NC_AUTH_NO_TOKEN;
  switch (nc_auth_token_verify(a->key, a->key_len, token, (int64_t)time(NULL), user,
                               NC_AUTH_USER_MAX, NULL)) {
  case NC_TOKEN_OK:
    return NC_AUTH_OK;
  case NC_TOKEN_EXPIRED:
    return NC_AUTH_EXPIRED;
  default:
    return NC_AUTH_BAD_TOKEN;
  }
}

int nc_auth_is_admin(nc_auth *a, const char *user) {
  return table_find(&a->roles, user, NC_AUTH_ROLE_ADMIN, NULL) >= 0;
}

int nc_auth_allowed(nc_auth *a, const char *user, const char *resource, char action) {
  if (nc_auth_is_admin(a, user))
    return 1;
  for (size_t i = 0; i < a->roles.n; i++) {
    if (strcmp(a->roles.v[i].a, user) != 0)
      continue;
    const char *role = a->roles.v[i].b;
    for (size_t j = 0; j < a->perms.n; j++)
      if (!strcmp(a->perms.v[j].a, role) &&
          nc_auth_perm_grants(a->perms.v[j].b, a->perms.v[j].c, resource, action))
        return 1;
  }
  return 0;
}

nc_auth_result nc_auth_check(nc_auth *a, const char *token, const char *resource, char action,
                             char *user) {
  nc_auth_result r = nc_auth_identify(a, token, user);
  if (r != NC_AUTH_OK)
    return r;
  return nc_auth_allowed(a, user, resource, action) ? NC_AUTH_OK : NC_AUTH_FORBIDDEN;
}

/* ---- management ---- */

static int name_ok(const char *s) {
  if (!s || !*s || strlen(s) > 50) /* Nacos's varchar(50) */
    return 0;
  for (; *s; s++)
    if ((unsigned char)*s <= ' ' || *s == ':' || (unsigned char)*s == 0x7f)
      return 0;
  return 1;
}

static int set_password(nc_auth *a, const char *user, const char *password, int create) {
  char hash[NC_AUTH_HASH_MAX];
  long i = table_find(&a->users, user, NULL, NULL);
  int rc;
  if (!name_ok(user) || !password || !*password)
    return NC_EINVAL;
  if (create && i >= 0)
    return NC_EEXISTS;
  if (!create && i < 0)
    return NC_ENOTFOUND;
  a->write_gen++; /* a reload that began before this is stale */
  a->cred_gen++;  /* a cached pair of this user is stale */
  if ((rc = nc_auth_hash_password(password, hash)) || (rc = nc_auth_store_put_user(a->store, user, hash)))
    return rc;
  if (i >= 0) {
    char *h = strdup(hash);
    if (!h)
      return NC_ENOMEM;
    free(a->users.v[i].b);
    a->users.v[i].b = h;
    return 0;
  }
  return table_add(&a->users, user, hash, NULL);
}

int nc_auth_user_create(nc_auth *a, const char *user, const char *password) {
  return set_password(a, user, password, 1);
}

int nc_auth_user_set_password(nc_auth *a, const char *user, const char *password) {
  return set_password(a, user, password, 0);
}

int nc_auth_admin_init(nc_auth *a, const char *password) {
  if (nc_auth_admin_ready(a))
    return NC_ESTATE;
  return set_password(a, NC_AUTH_ADMIN_USER, password, 1);
}

int nc_auth_user_delete(nc_auth *a, const char *user) {
  int rc;
  if (!name_ok(user))
    return NC_EINVAL;
  if (nc_auth_is_admin(a, user))
    return NC_EPERM; /* Nacos refuses deleting a global admin too */
  if (table_find(&a->users, user, NULL, NULL) < 0)
    return NC_ENOTFOUND;
  a->write_gen++; /* a reload that began before this is stale */
  a->cred_gen++;
  if ((rc = nc_auth_store_del_user(a->store, user)))
    return rc;
  table_remove(&a->users, user, NULL, NULL);
  table_remove(&a->roles, user, NULL, NULL);
  return 0;
}

int nc_auth_role_add(nc_auth *a, const char *role, const char *user) {
  int rc;
  if (!name_ok(role) || !name_ok(user))
    return NC_EINVAL;
  /* ROLE_ADMIN belongs to nacos only, as in Nacos ("role 'ROLE_ADMIN' is
   * not permitted to create!"). */
  if (!strcmp(role, NC_AUTH_ROLE_ADMIN) && strcmp(user, NC_AUTH_ADMIN_USER) != 0)
    return NC_EPERM;
  if (table_find(&a->roles, user, role, NULL) >= 0)
    return NC_EEXISTS;
  a->write_gen++; /* a reload that began before this is stale */
  a->cred_gen++;
  if ((rc = nc_auth_store_put_role(a->store, user, role)))
    return rc;
  return table_add(&a->roles, user, role, NULL);
}

int nc_auth_role_delete(nc_auth *a, const char *role, const char *user) {
  int rc;
  if (!name_ok(role) || (user && !name_ok(user)))
    return NC_EINVAL;
  if (!strcmp(role, NC_AUTH_ROLE_ADMIN))
    return NC_EPERM;
  if (table_find(&a->roles, user, role, NULL) < 0)
    return NC_ENOTFOUND;
  a->write_gen++; /* a reload that began before this is stale */
  a->cred_gen++;
  if ((rc = nc_auth_store_del_role(a->store, user, role)))
    return rc;
  table_remove(&a->roles, user, role, NULL);
  return 0;
}

int nc_auth_perm_add(nc_auth *a, const char *role, const char *res, const char *act) {
  int rc;
  if (!name_ok(role) || !res || !*res || strlen(res) > 128 || !nc_auth_action_valid(act))
    return NC_EINVAL;
  if (table_find(&a->perms, role, res, act) >= 0)
    return NC_EEXISTS;
  a->write_gen++; /* a reload that began before this is stale */
  if ((rc = nc_auth_store_put_perm(a->store, role, res, act)))
    return rc;
  return table_add(&a->perms, role, res, act);
}

int nc_auth_perm_delete(nc_auth *a, const char *role, const char *res, const char *act) {
  int rc;
  if (!name_ok(role) || !res || !nc_auth_action_valid(act))
    return NC_EINVAL;
  if (table_find(&a->perms, role, res, act) < 0)
    return NC_ENOTFOUND;
  a->write_gen++; /* a reload that began before this is stale */
  if ((rc = nc_auth_store_del_perm(a->store, role, res, act)))
    return rc;
  table_remove(&a->perms, role, res, act);
  return 0;
}

/* ---- lists ---- */

typedef enum { P_USERS, P_ROLES, P_PERMS } page_kind;

static cJSON *page(nc_auth *a, page_kind k, const char *filter, int pno, int size) {
  const table *t = k == P_USERS ? &a->users : k == P_ROLES ? &a->roles : &a->perms;
  cJSON *o = cJSON_CreateObject(), *items = cJSON_CreateArray();
  size_t total = 0;
  if (pno < 1)
    pno = 1;
  if (size < 1 || size > 1000)
    size = 100;
  if (!o || !items)
    goto oom;
  cJSON_AddItemToObject(o, "pageItems", items);
  for (size_t i = 0; i < t->n; i++) {
    const row *r = &t->v[i];
    const char *key = r->a; /* the user of a user/role row, the role of a permission row */
    if (filter && *filter && strcmp(key, filter) != 0 && !(k == P_ROLES && !strcmp(r->b, filter)))
      continue;
    total++;
    if (total <= (size_t)(pno - 1) * (size_t)size || total > (size_t)pno * (size_t)size)
      continue;
    cJSON *it = cJSON_CreateObject();
    if (!it)
      goto oom;
    cJSON_AddItemToArray(items, it);
    if (k == P_USERS) {
      cJSON_AddStringToObject(it, "username", r->a);
      cJSON_AddStringToObject(it, "password", ""); /* never the hash */
    } else if (k == P_ROLES) {
      cJSON_AddStringToObject(it, "role", r->b);
      cJSON_AddStringToObject(it, "username", r->a);
    } else {
      cJSON_AddStringToObject(it, "role", r->a);
      cJSON_AddStringToObject(it, "resource", r->b);
      cJSON_AddStringToObject(it, "action", r->c);
    }
  }
  cJSON_AddNumberToObject(o, "totalCount", (double)total);
  cJSON_AddNumberToObject(o, "pageNumber", pno);
  cJSON_AddNumberToObject(o, "pagesAvailable", (double)((total + (size_t)size - 1) / (size_t)size));
  return o;
oom:
  if (!o)
    cJSON_Delete(items);
  cJSON_Delete(o);
  return NULL;
}

cJSON *nc_auth_users_page(nc_auth *a, const char *f, int p, int s) { return page(a, P_USERS, f, p, s); }
cJSON *nc_auth_roles_page(nc_auth *a, const char *f, int p, int s) { return page(a, P_ROLES, f, p, s); }
cJSON *nc_auth_perms_page(nc_auth *a, const char *f, int p, int s) { return page(a, P_PERMS, f, p, s); }
