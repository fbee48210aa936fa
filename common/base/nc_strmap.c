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
  ent **buckets;   /* NULL while small: lookups walk the list */
  size_t nbuckets; /* power of two, 0 while small */
  size_t count;
  ent *head, *tail;
  /* 40 bytes, a 48-byte malloc chunk: the process's SipHash key is not
   * kept here (one pointer more would make it a 64-byte chunk) */
};

/* Most maps hold a handful of entries (a service's publishers and
 * subscribers, a connection's few subscriptions), and a bucket table would
 * be most of their memory. Up to SMALL_MAX entries there is none: a lookup
 * walks the insertion list comparing 64-bit hashes first, which touches no
 * more lines than a bucket and its chain would. The table is made when
 * the map passes SMALL_MAX and freed when it empties. */
#define SMALL_MAX 8
#define FIRST_BUCKETS 16

/* Keys are names clients choose: an unkeyed hash (FNV-1a before) let anyone
 * craft thousands of names in one bucket and turn every lookup into a list
 * walk. SipHash under a secret per-process key makes that guesswork. */
static uint64_t hash_str(const nc_strmap *m, const char *s) {
  (void)m;
  return nc_siphash24(nc_siphash_process_key(), s, strlen(s));
}

nc_strmap *nc_strmap_new(void) {
  return calloc(1, sizeof(nc_strmap));
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

static ent *find(const nc_strmap *m, const char *key, uint64_t h) {
  ent *e = m->buckets ? m->buckets[h & (m->nbuckets - 1)] : m->head;
  if (m->buckets) {
    while (e && (e->hash != h || strcmp(e->key, key) != 0))
      e = e->chain;
  } else {
    while (e && (e->hash != h || strcmp(e->key, key) != 0))
      e = e->next;
  }
  return e;
}

void *nc_strmap_get(const nc_strmap *m, const char *key) {
  ent *e = find(m, key, hash_str(m, key));
  return e ? e->val : NULL;
}

/* (Re)builds the table with nb buckets from the insertion list. Failure is
 * harmless: the old table (or the list walk) keeps working. */
static void rehash(nc_strmap *m, size_t nb) {
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
  ent *f = find(m, key, h);
  if (old)
    *old = f ? f->val : NULL;
  if (f) {
    f->val = val;
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
  if (m->buckets) {
    ent **p = &m->buckets[h & (m->nbuckets - 1)];
    e->chain = *p;
    *p = e;
  }
  e->prev = m->tail;
  e->next = NULL;
  if (m->tail)
    m->tail->next = e;
  else
    m->head = e;
  m->tail = e;
  m->count++;
  /* doubling at load 1 keeps chains short */
  if (!m->buckets && m->count > SMALL_MAX)
    rehash(m, FIRST_BUCKETS);
  else if (m->buckets && m->count > m->nbuckets)
    rehash(m, m->nbuckets * 2);
  return 0;
}

void *nc_strmap_del(nc_strmap *m, const char *key) {
  uint64_t h = hash_str(m, key);
  ent *e;
  if (m->buckets) {
    ent **p = &m->buckets[h & (m->nbuckets - 1)];
    while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
      p = &(*p)->chain;
    if (!(e = *p))
      return NULL;
    *p = e->chain;
  } else if (!(e = find(m, key, h))) {
    return NULL;
  }
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
  if (m->count == 0 && m->buckets) { /* an emptied map is small again */
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = 0;
  }
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
  if (!m->buckets)
    return m->count; /* small: one list */
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

size_t nc_strmap_nbuckets(const nc_strmap *m) { return m->nbuckets; }
