/* srv_map: a string-keyed hash map with insertion-ordered iteration, used by
 * the server's loop-thread state (connections, services, subscribers,
 * pending pushes).
 *
 * Keys are copied and owned by the map; values are borrowed pointers (the
 * caller frees them, e.g. while iterating before nc_map_free). Chained
 * buckets that double at load 1, plus a doubly linked list of entries so
 * iteration follows insertion order and deletion is O(1). Not thread-safe. */
#ifndef SRV_MAP_H
#define SRV_MAP_H

#include <stddef.h>

typedef struct nc_map nc_map;
typedef struct nc_map_ent nc_map_ent;

int nc_map_new(nc_map **out);
/* Frees the map and its keys, not the values. NULL is a no-op. */
void nc_map_free(nc_map *m);

size_t nc_map_count(const nc_map *m);
void *nc_map_get(const nc_map *m, const char *key);
/* Inserts or replaces. *old (optional) receives the replaced value or NULL.
 * Returns 0 or NC_ENOMEM (map unchanged). */
int nc_map_put(nc_map *m, const char *key, void *val, void **old);
/* Removes key; returns its value or NULL. */
void *nc_map_del(nc_map *m, const char *key);

/* Iteration in insertion order. Deleting the current entry (by key) while
 * iterating is allowed when the next entry was fetched first. */
nc_map_ent *nc_map_first(const nc_map *m);
nc_map_ent *nc_map_next(const nc_map_ent *e);
const char *nc_map_ent_key(const nc_map_ent *e);
void *nc_map_ent_val(const nc_map_ent *e);

#endif
