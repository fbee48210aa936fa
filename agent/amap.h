/* nc_amap: a small string-keyed hash map (separate chaining) for the
 * agent's desired-state tables. Keys are copied; values are borrowed
 * pointers the caller owns. Not thread-safe: the agent uses it on the
 * loop thread only. */
#ifndef NC_AMAP_H
#define NC_AMAP_H

#include <stddef.h>

typedef struct nc_amap nc_amap;

/* Returns NULL on OOM. */
nc_amap *nc_amap_new(void);
/* Frees the map; calls free_val (may be NULL) on every value. */
void nc_amap_free(nc_amap *m, void (*free_val)(void *val));

void *nc_amap_get(const nc_amap *m, const char *key);
/* Inserts or replaces (the old value is returned in *old if old != NULL).
 * Returns 0 or NC_ENOMEM. */
int nc_amap_put(nc_amap *m, const char *key, void *val, void **old);
/* Removes key and returns its value (NULL when absent). */
void *nc_amap_del(nc_amap *m, const char *key);
size_t nc_amap_count(const nc_amap *m);

/* Iteration: the map must not change while an iterator is live, except
 * that nc_amap_iter_next tolerates deleting the entry it just returned. */
typedef struct nc_amap_iter {
  const nc_amap *m;
  size_t bucket;
  void *next;
} nc_amap_iter;
void nc_amap_iter_init(nc_amap_iter *it, const nc_amap *m);
/* Returns 1 and fills *key (borrowed) / *val, or 0 at the end. */
int nc_amap_iter_next(nc_amap_iter *it, const char **key, void **val);

#endif
