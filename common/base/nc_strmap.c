/* nc_strmap: see nc_strmap.h. */
#include "nc_strmap.h"

#include "nc_err.h"
#include "nc_siphash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct ent {
  struct ent *chain;       /* bucket chain */
  struct ent *prev, *next; /* insertion order */
  uint64_t hash;
  void *val;
  char key[]; /* NUL-terminated copy */
} ent;

struct nc_strmap {
  ent **buckets;
  size_t nbuckets; /* power of two */
  size_t count;
  ent *head, *tail;
  const uint8_t *hkey; /* the process's SipHash key */
};

/* Keys are names clients choose: an unkeyed hash (FNV-1a before) let anyone
 * craft thousands of names in one bucket and turn every lookup into a list
 * walk. SipHash under a secret per-process key makes that guesswork. */
static uint64_t hash_str(const nc_strmap *m, const char *s) {
  return nc_siphash24(m->hkey, s, strlen(s));
}

nc_strmap *nc_strmap_new(void) {
  nc_strmap *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->hkey = nc_siphash_process_key();
  m->nbuckets = 16;
  m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
  if (!m->buckets) {
    free(m);
    return NULL;
  }
  return m;
}

void nc_strmap_free(nc_strmap *m, void (*free_val)(void *val)) {
  if (!m)
    return;
  ent *e = m->head;
  while (e) {
    ent *n = e->next;
    if (free_val)
      free_val(e->val);
    free(e);
    e = n;
  }
  free(m->buckets);
  free(m);
}

size_t nc_strmap_count(const nc_strmap *m) { return m->count; }

static ent **find_slot(const nc_strmap *m, const char *key, uint64_t h) {
  ent **p = &m->buckets[h & (m->nbuckets - 1)];
  while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
    p = &(*p)->chain;
  return p;
}

void *nc_strmap_get(const nc_strmap *m, const char *key) {
  ent *e = *find_slot(m, key, hash_str(m, key));
  return e ? e->val : NULL;
}

/* Doubling keeps chains short; failure to grow is harmless (longer chains). */
static void grow(nc_strmap *m) {
  size_t nb = m->nbuckets * 2;
  ent **b = calloc(nb, sizeof(*b));
  if (!b)
    return;
  for (ent *e = m->head; e; e = e->next) {
    size_t i = e->hash & (nb - 1);
    e->chain = b[i];
    b[i] = e;
  }
  free(m->buckets);
  m->buckets = b;
  m->nbuckets = nb;
}

int nc_strmap_put(nc_strmap *m, const char *key, void *val, void **old) {
  uint64_t h = hash_str(m, key);
  ent **p = find_slot(m, key, h);
  if (old)
    *old = NULL;
  if (*p) {
    if (old)
      *old = (*p)->val;
    (*p)->val = val;
    return 0;
  }
  size_t kl = strlen(key);
  ent *e = malloc(sizeof(*e) + kl + 1);
  if (!e)
    return NC_ENOMEM;
  memcpy(e->key, key, kl + 1);
  e->hash = h;
  e->val = val;
  e->chain = NULL;
  *p = e;
  e->prev = m->tail;
  e->next = NULL;
  if (m->tail)
    m->tail->next = e;
  else
    m->head = e;
  m->tail = e;
  m->count++;
  if (m->count > m->nbuckets)
    grow(m);
  return 0;
}

void *nc_strmap_del(nc_strmap *m, const char *key) {
  ent **p = find_slot(m, key, hash_str(m, key));
  ent *e = *p;
  if (!e)
    return NULL;
  *p = e->chain;
  if (e->prev)
    e->prev->next = e->next;
  else
    m->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    m->tail = e->prev;
  m->count--;
  void *v = e->val;
  free(e);
  return v;
}

void nc_strmap_iter_init(nc_strmap_iter *it, const nc_strmap *m) { it->next = m->head; }

int nc_strmap_iter_next(nc_strmap_iter *it, const char **key, void **val) {
  const ent *e = it->next;
  if (!e)
    return 0;
  it->next = e->next; /* read before the caller may delete e */
  if (key)
    *key = e->key;
  if (val)
    *val = e->val;
  return 1;
}

void nc_strmap_foreach(const nc_strmap *m, void (*fn)(void *ud, const char *key, void *val),
                       void *ud) {
  for (const ent *e = m->head; e; e = e->next)
    fn(ud, e->key, e->val);
}

size_t nc_strmap_max_chain(const nc_strmap *m) {
  size_t best = 0;
  for (size_t i = 0; i < m->nbuckets; i++) {
    size_t n = 0;
    for (const ent *e = m->buckets[i]; e; e = e->chain)
      n++;
    if (n > best)
      best = n;
  }
  return best;
}
