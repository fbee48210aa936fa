/* nc_strmap: a general string-keyed hash map with insertion-ordered
 * iteration (the agent's desired-state tables, the config listen tables, the server's
 * connections, services, subscribers and pending pushes).
 *
 * Ownership: keys are copied and owned by the map; values are borrowed
 * pointers the caller owns (nc_strmap_free can hand each one to a free
 * callback). Chained buckets that double at load 1 (none at all while the
 * map holds at most 8 entries: lookups then walk the list), plus a doubly linked
 * list of entries so iteration follows insertion order and deletion is
 * O(1). Buckets are chosen by SipHash-2-4 under a random per-process key
 * (nc_siphash.h), so names a client picks cannot be made to collide.
 * Not thread-safe: one thread (or one lock) per map. */
#ifndef NC_STRMAP_H
#define NC_STRMAP_H

#include <stddef.h>

typedef struct nc_strmap nc_strmap;

/* Returns NULL on OOM. */
nc_strmap *nc_strmap_new(void);
/* Frees the map and its keys; calls free_val (may be NULL) on every value,
 * in insertion order. NULL m is a no-op. */
void nc_strmap_free(nc_strmap *m, void (*free_val)(void *val));

size_t nc_strmap_count(const nc_strmap *m);
/* Returns the value or NULL when absent. */
void *nc_strmap_get(const nc_strmap *m, const char *key);
/* Inserts (at the end of the iteration order) or replaces the value in
 * place (order kept). *old (may be NULL) receives the replaced value or
 * NULL. Returns 0 or NC_ENOMEM (map unchanged). */
int nc_strmap_put(nc_strmap *m, const char *key, void *val, void **old);
/* Removes key; returns its value or NULL when absent. */
void *nc_strmap_del(nc_strmap *m, const char *key);

/* Iteration in insertion order. The map must not change while an iterator
 * is live, except that deleting the entry nc_strmap_iter_next just returned
 * is allowed (the iterator already holds the next one). */
typedef struct nc_strmap_iter {
  const void *next; /* private */
} nc_strmap_iter;
void nc_strmap_iter_init(nc_strmap_iter *it, const nc_strmap *m);
/* Returns 1 and fills *key (borrowed, valid while the entry lives) and
 * *val (either may be NULL), or 0 at the end. */
int nc_strmap_iter_next(nc_strmap_iter *it, const char **key, void **val);

/* Calls fn for every entry in insertion order; fn must not modify the map. */
void nc_strmap_foreach(const nc_strmap *m, void (*fn)(void *ud, const char *key, void *val),
                       void *ud);

/* Length of the longest bucket chain, O(buckets): for tests and diagnostics
 * (a keyed hash keeps it small whatever the keys are). */
size_t nc_strmap_max_chain(const nc_strmap *m);
/* Bucket slots allocated: 0 while the map is small or empty (tests). */
size_t nc_strmap_nbuckets(const nc_strmap *m);

#endif
