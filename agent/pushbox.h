/* nc_pushbox: the newest pending value per key, handed from the thread
 * that receives server pushes to the loop thread. A host-list push that
 * arrives while an older one for the same service still waits for the
 * loop replaces it (the server sends full lists, so only the newest one
 * matters): the loop handles at most one list per service however fast
 * the server pushes, and the backlog is one list per service, not a pile
 * (issue 9 item 11). Thread-safe (its own mutex). */
#ifndef NC_PUSHBOX_H
#define NC_PUSHBOX_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nc_pushbox nc_pushbox;

nc_pushbox *nc_pushbox_new(void);
/* Frees what is still pending. NULL is a no-op. */
void nc_pushbox_free(nc_pushbox *b);
/* Stores body (owned from now on) under key. Returns 1 when nothing was
 * pending for key (the caller then tells the loop to take it), 0 when it
 * replaced a pending value (a take is already on its way), or a negative
 * NC_E* (body freed). */
int nc_pushbox_put(nc_pushbox *b, const char *key, cJSON *body);
/* The pending value of key, now owned by the caller; NULL when none. */
cJSON *nc_pushbox_take(nc_pushbox *b, const char *key);
/* Values replaced before the loop took them, since the start. */
uint64_t nc_pushbox_replaced(nc_pushbox *b);

/* nc_pushbox_put of a NotifySubscriberRequest body under its service's
 * key (group, name and clusters of its serviceInfo). On 1, *key (malloc'ed)
 * is what the loop takes it by; otherwise *key is NULL. */
int nc_pushbox_put_hosts(nc_pushbox *b, cJSON *body, char **key);

#endif
