/* nc_testwire_int: what nc_testwire.c shares with nc_testwire_ops.c (the
 * client's naming scope and the push record filtered by a predicate). Not
 * for tests. */
#ifndef NC_TESTWIRE_INT_H
#define NC_TESTWIRE_INT_H

#include <stddef.h>

#include "nc_testwire.h"

const char *nc_tw__ns(const nc_tw *tw);
const char *nc_tw__group(const nc_tw *tw);

/* 1 when a push body (borrowed) is one the caller looks for. */
typedef int (*nc_tw__match_fn)(const cJSON *body, const void *arg);
int nc_tw__push_match_count(nc_tw *tw, const char *type, nc_tw__match_fn match,
                            const void *arg);
/* As nc_tw_push_get, among the pushes match accepts (match may be NULL). */
cJSON *nc_tw__push_match_get(nc_tw *tw, const char *type, nc_tw__match_fn match,
                             const void *arg, int index, char *rid, size_t cap);
/* Waits until the count reaches want; returns the count then. */
int nc_tw__wait_match(nc_tw *tw, const char *type, nc_tw__match_fn match, const void *arg,
                      int want, int timeout_ms);

#endif
