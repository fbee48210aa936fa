/* srv_map: see srv_map.h. */
#include "srv_map.h"

#include "nc_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct nc_map_ent {
  nc_map_ent *chain;       /* bucket chain */
  nc_map_ent *prev, *next; /* insertion order */
  uint64_t hash;
  void *val;
  char key[]; /* NUL-terminated copy */
};

struct nc_map {
  nc_map_ent **buckets;
  size_t nbuckets; /* power of two */
  size_t count;
  nc_map_ent *head, *tail;
};

/* FNV-1a, 64 bit: keys are short ids and names, this is plenty. */
static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

int nc_map_new(nc_map **out) {
  nc_map *m = calloc(1, sizeof(*m));
  if (!m)
    return NC_ENOMEM;
  m->nbuckets = 16;
  m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
  if (!m->buckets) {
    free(m);
    return NC_ENOMEM;
  }
  *out = m;
  return 0;
}

void nc_map_free(nc_map *m) {
  if (!m)
    return;
  nc_map_ent *e = m->head;
  while (e) {
    nc_map_ent *n = e->next;
    free(e);
    e = n;
  }
  free(m->buckets);
  free(m);
}

size_t nc_map_count(const nc_map *m) { return m->count; }

static nc_map_ent **find_slot(const nc_map *m, const char *key, uint64_t h) {
  nc_map_ent **p = &m->buckets[h & (m->nbuckets - 1)];
  while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
    p = &(*p)->chain;
  return p;
}

void *nc_map_get(const nc_map *m, const char *key) {
  nc_map_ent **p = find_slot(m, key, hash_str(key));
  return *p ? (*p)->val : NULL;
}

/* Doubling keeps chains short; failure to grow is harmless (longer chains). */
static void grow(nc_map *m) {
  size_t nb = m->nbuckets * 2;
  nc_map_ent **b = calloc(nb, sizeof(*b));
  if (!b)
    return;
  for (nc_map_ent *e = m->head; e; e = e->next) {
    size_t i = e->hash & (nb - 1);
    e->chain = b[i];
    b[i] = e;
  }
  free(m->buckets);
  m->buckets = b;
  m->nbuckets = nb;
}

int nc_map_put(nc_map *m, const char *key, void *val, void **old) {
  uint64_t h = hash_str(key);
  nc_map_ent **p = find_slot(m, key, h);
  if (*p) {
    if (old)
      *old = (*p)->val;
    (*p)->val = val;
    return 0;
  }
  size_t kl = strlen(key);
  nc_map_ent *e = malloc(sizeof(*e) + kl + 1);
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
  if (old)
    *old = NULL;
  if (m->count > m->nbuckets)
    grow(m);
  return 0;
}

void *nc_map_del(nc_map *m, const char *key) {
  nc_map_ent **p = find_slot(m, key, hash_str(key));
  nc_map_ent *e = *p;
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

nc_map_ent *nc_map_first(const nc_map *m) { return m->head; }
nc_map_ent *nc_map_next(const nc_map_ent *e) { return e->next; }
const char *nc_map_ent_key(const nc_map_ent *e) { return e->key; }
void *nc_map_ent_val(const nc_map_ent *e) { return e->val; }
