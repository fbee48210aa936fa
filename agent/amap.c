#include "amap.h"
#include "nc_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
  struct entry *next;
  uint64_t hash;
  void *val;
  char key[];
} entry;

struct nc_amap {
  entry **buckets;
  size_t nbuckets; /* power of two */
  size_t count;
};

/* FNV-1a: keys are short, a simple hash is enough. */
static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

nc_amap *nc_amap_new(void) {
  nc_amap *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->nbuckets = 16;
  m->buckets = calloc(m->nbuckets, sizeof(entry *));
  if (!m->buckets) {
    free(m);
    return NULL;
  }
  return m;
}

void nc_amap_free(nc_amap *m, void (*free_val)(void *val)) {
  if (!m)
    return;
  for (size_t i = 0; i < m->nbuckets; i++) {
    entry *e = m->buckets[i];
    while (e) {
      entry *n = e->next;
      if (free_val)
        free_val(e->val);
      free(e);
      e = n;
    }
  }
  free(m->buckets);
  free(m);
}

static entry **find(const nc_amap *m, const char *key, uint64_t h) {
  entry **pp = &m->buckets[h & (m->nbuckets - 1)];
  while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
    pp = &(*pp)->next;
  return pp;
}

void *nc_amap_get(const nc_amap *m, const char *key) {
  entry **pp = find(m, key, hash_str(key));
  return *pp ? (*pp)->val : NULL;
}

static void grow(nc_amap *m) {
  size_t nb = m->nbuckets * 2;
  entry **b = calloc(nb, sizeof(entry *));
  if (!b)
    return; /* keep the longer chains; still correct */
  for (size_t i = 0; i < m->nbuckets; i++) {
    entry *e = m->buckets[i];
    while (e) {
      entry *n = e->next;
      e->next = b[e->hash & (nb - 1)];
      b[e->hash & (nb - 1)] = e;
      e = n;
    }
  }
  free(m->buckets);
  m->buckets = b;
  m->nbuckets = nb;
}

int nc_amap_put(nc_amap *m, const char *key, void *val, void **old) {
  uint64_t h = hash_str(key);
  entry **pp = find(m, key, h);
  if (old)
    *old = NULL;
  if (*pp) {
    if (old)
      *old = (*pp)->val;
    (*pp)->val = val;
    return 0;
  }
  size_t kl = strlen(key);
  entry *e = malloc(sizeof(*e) + kl + 1);
  if (!e)
    return NC_ENOMEM;
  memcpy(e->key, key, kl + 1);
  e->hash = h;
  e->val = val;
  e->next = NULL;
  *pp = e;
  m->count++;
  if (m->count > m->nbuckets)
    grow(m);
  return 0;
}

void *nc_amap_del(nc_amap *m, const char *key) {
  entry **pp = find(m, key, hash_str(key));
  entry *e = *pp;
  if (!e)
    return NULL;
  *pp = e->next;
  void *v = e->val;
  free(e);
  m->count--;
  return v;
}

size_t nc_amap_count(const nc_amap *m) { return m->count; }

void nc_amap_iter_init(nc_amap_iter *it, const nc_amap *m) {
  it->m = m;
  it->bucket = 0;
  it->next = m->nbuckets ? m->buckets[0] : NULL;
}

int nc_amap_iter_next(nc_amap_iter *it, const char **key, void **val) {
  while (!it->next) {
    if (++it->bucket >= it->m->nbuckets)
      return 0;
    it->next = it->m->buckets[it->bucket];
  }
  entry *e = it->next;
  it->next = e->next; /* read before the caller may delete e */
  if (key)
    *key = e->key;
  if (val)
    *val = e->val;
  return 1;
}
