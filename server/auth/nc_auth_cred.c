/* nc_auth_cred: see nc_auth_cred.h. */
#include "nc_auth_cred.h"

#include "nc_err.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
  uint8_t key[crypto_generichash_BYTES]; /* keyed hash of user and password */
  uint64_t gen, born_ms;
  int used;
} entry;

struct nc_auth_cred {
  uint8_t hkey[crypto_generichash_KEYBYTES]; /* random, this process only */
  entry *v;
  size_t cap;
  uint64_t ttl_ms;
  double tokens; /* failure budget left */
  uint64_t refill_ms;
  unsigned inflight;
  nc_auth_cred_stats st;
  struct job *jobs; /* checks in flight (nc_auth_cred_verify) */
};

nc_auth_cred *nc_auth_cred_new(size_t cap, uint64_t ttl_ms) {
  nc_auth_cred *c = calloc(1, sizeof(*c));
  if (!c || sodium_init() < 0)
    goto fail;
  c->cap = cap ? cap : NC_AUTH_CRED_CAP;
  c->ttl_ms = ttl_ms ? ttl_ms : NC_AUTH_CRED_TTL_MS;
  if (!(c->v = calloc(c->cap, sizeof(*c->v))))
    goto fail;
  randombytes_buf(c->hkey, sizeof(c->hkey));
  c->tokens = NC_AUTH_CRED_FAIL_BURST;
  return c;
fail:
  free(c);
  return NULL;
}

void nc_auth_cred_free(nc_auth_cred *c) {
  if (!c)
    return;
  sodium_memzero(c->v, c->cap * sizeof(*c->v));
  sodium_memzero(c->hkey, sizeof(c->hkey));
  free(c->v);
  free(c);
}

/* The user's length goes in first so ("ab","c") and ("a","bc") differ. */
static void pair_key(const nc_auth_cred *c, const char *user, const char *password,
                     uint8_t out[crypto_generichash_BYTES]) {
  crypto_generichash_state s;
  uint64_t ulen = strlen(user);
  crypto_generichash_init(&s, c->hkey, sizeof(c->hkey), crypto_generichash_BYTES);
  crypto_generichash_update(&s, (const uint8_t *)&ulen, sizeof(ulen));
  crypto_generichash_update(&s, (const uint8_t *)user, ulen);
  crypto_generichash_update(&s, (const uint8_t *)password, strlen(password));
  crypto_generichash_final(&s, out, crypto_generichash_BYTES);
  sodium_memzero(&s, sizeof(s));
}

static entry *find(nc_auth_cred *c, const uint8_t *k) {
  for (size_t i = 0; i < c->cap; i++)
    if (c->v[i].used && sodium_memcmp(c->v[i].key, k, crypto_generichash_BYTES) == 0)
      return &c->v[i];
  return NULL;
}

int nc_auth_cred_get(nc_auth_cred *c, const char *user, const char *password, uint64_t gen,
                     uint64_t now_ms) {
  uint8_t k[crypto_generichash_BYTES];
  pair_key(c, user, password, k);
  entry *e = find(c, k);
  sodium_memzero(k, sizeof(k));
  if (!e)
    return 0;
  if (e->gen != gen || now_ms - e->born_ms >= c->ttl_ms || now_ms < e->born_ms) {
    sodium_memzero(e, sizeof(*e));
    return 0;
  }
  c->st.hits++;
  return 1;
}

void nc_auth_cred_put(nc_auth_cred *c, const char *user, const char *password, uint64_t gen,
                      uint64_t now_ms) {
  uint8_t k[crypto_generichash_BYTES];
  pair_key(c, user, password, k);
  entry *e = find(c, k);
  for (size_t i = 0; !e && i < c->cap; i++)
    if (!c->v[i].used)
      e = &c->v[i];
  if (!e) { /* full: the oldest goes */
    e = &c->v[0];
    for (size_t i = 1; i < c->cap; i++)
      if (c->v[i].born_ms < e->born_ms)
        e = &c->v[i];
  }
  memcpy(e->key, k, sizeof(k));
  e->gen = gen;
  e->born_ms = now_ms;
  e->used = 1;
  sodium_memzero(k, sizeof(k));
}

static void refill(nc_auth_cred *c, uint64_t now_ms) {
  if (now_ms > c->refill_ms) {
    c->tokens += (double)(now_ms - c->refill_ms) * NC_AUTH_CRED_FAIL_RATE / 1000.0;
    if (c->tokens > NC_AUTH_CRED_FAIL_BURST)
      c->tokens = NC_AUTH_CRED_FAIL_BURST;
  }
  c->refill_ms = now_ms;
}

int nc_auth_cred_admit(nc_auth_cred *c, uint64_t now_ms) {
  refill(c, now_ms);
  if (c->tokens < 1.0 || c->inflight >= NC_AUTH_CRED_INFLIGHT) {
    c->st.throttled++;
    return 0;
  }
  c->inflight++;
  return 1;
}

/* Ends an admitted slot that never made a check. */
static void release(nc_auth_cred *c) {
  if (c->inflight)
    c->inflight--;
}

void nc_auth_cred_done(nc_auth_cred *c, int ok, uint64_t now_ms) {
  release(c);
  if (ok) {
    c->st.verified++;
    return;
  }
  c->st.failed++;
  refill(c, now_ms);
  c->tokens = c->tokens > 1.0 ? c->tokens - 1.0 : 0.0;
}

void nc_auth_cred_get_stats(const nc_auth_cred *c, nc_auth_cred_stats *st) {
  if (c)
    *st = c->st;
  else
    *st = (nc_auth_cred_stats){0};
}

/* ---- verification ---- */

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

/* One request waiting for a check. */
typedef struct waiter {
  nc_auth_cred_cb cb;
  void *ud;
  struct waiter *next;
} waiter;

/* One check in flight; requests with the same pair that arrive meanwhile
 * wait for it rather than start another (a client's parallel first
 * requests cost one check and are not throttled). */
typedef struct job {
  nc_auth *a;
  uint8_t key[crypto_generichash_BYTES];
  char *password; /* wiped and freed when the check returns */
  uint64_t gen;   /* the generation the check began under */
  waiter *waiters;
  struct job *next;
} job;

static void job_done(void *ud, int rc, const char *user, const char *token, int admin) {
  job *j = ud;
  nc_auth_cred *c = nc_auth_cred_cache(j->a);
  (void)token;
  (void)admin;
  for (job **p = &c->jobs; *p; p = &(*p)->next)
    if (*p == j) {
      *p = j->next;
      break;
    }
  uint64_t t = now_ms();
  nc_auth_cred_done(c, rc == 0, t);
  /* A pair whose user changed meanwhile is served this once but not
   * remembered: the next request checks it against the new row. */
  if (rc == 0 && j->gen == nc_auth_cred_gen(j->a))
    nc_auth_cred_put(c, user, j->password, j->gen, t);
  sodium_memzero(j->password, strlen(j->password));
  free(j->password);
  waiter *w = j->waiters;
  free(j);
  while (w) {
    waiter *next = w->next;
    w->cb(w->ud, rc == 0, user);
    free(w);
    w = next;
  }
}

int nc_auth_cred_verify(nc_auth *a, const char *user, const char *password, char *out,
                        nc_auth_cred_cb cb, void *ud) {
  nc_auth_cred *c = nc_auth_cred_cache(a);
  uint64_t t = now_ms();
  if (!c || !user || !*user || !password || !*password || strlen(user) >= NC_AUTH_USER_MAX)
    return 0;
  uint64_t gen = nc_auth_cred_gen(a);
  if (nc_auth_cred_get(c, user, password, gen, t)) {
    memcpy(out, user, strlen(user) + 1);
    return 1;
  }
  waiter *w = calloc(1, sizeof(*w));
  if (!w)
    return 0;
  w->cb = cb;
  w->ud = ud;
  uint8_t k[crypto_generichash_BYTES];
  pair_key(c, user, password, k);
  for (job *o = c->jobs; o; o = o->next)
    if (o->gen == gen && sodium_memcmp(o->key, k, sizeof(k)) == 0) {
      w->next = o->waiters;
      o->waiters = w;
      sodium_memzero(k, sizeof(k));
      return 2;
    }
  job *j = NULL;
  if (!nc_auth_cred_admit(c, t))
    goto refused;
  if (!(j = calloc(1, sizeof(*j))) || !(j->password = strdup(password)))
    goto unadmit;
  j->a = a;
  memcpy(j->key, k, sizeof(k));
  j->gen = gen;
  j->waiters = w;
  if (nc_auth_login(a, user, password, job_done, j) != 0) {
    sodium_memzero(j->password, strlen(j->password));
    goto unadmit;
  }
  j->next = c->jobs;
  c->jobs = j;
  sodium_memzero(k, sizeof(k));
  return 2;
unadmit:
  release(c);
  if (j)
    free(j->password);
  free(j);
refused:
  free(w);
  sodium_memzero(k, sizeof(k));
  return 0;
}
