/* naming_trim: gives the heap's free pages back to the kernel when a burst
 * of registry changes is over.
 *
 * Why: a burst of registrations (thousands of requests in flight) grows the
 * completion-queue threads' malloc arenas to their high-water mark of
 * transient call buffers; when the burst ends the memory is free but stays
 * resident, because a few live chunks pin the top of each arena and glibc
 * only trims from the top. Measured with bench_ratio's service phase
 * (20 connections x 1,000 services, 64 in flight each): ~15 MB free but
 * resident in one arena, about 700 B per service. malloc_trim(0) also
 * returns the free pages inside an arena (madvise), so one call once the
 * server is quiet again hands them back.
 *
 * The trimmer counts changes; a timer runs only while there were changes
 * since the last trim (no wake-ups while idle) and checks every tick_ms
 * whether the last tick saw none; then, if at least min_changes accumulated,
 * it trims once and stops. Steady light traffic never trims (its memory is
 * reused anyway). Loop thread only. */
#ifndef NAMING_TRIM_H
#define NAMING_TRIM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct nc_ntrim nc_ntrim;

typedef struct nc_ntrim_opts {
  int tick_ms;          /* quiet period checked; 0 = 100 */
  uint64_t min_changes; /* changes that make a burst; 0 = 1000 */
  /* the trim itself; NULL = malloc_trim(0) (tests count calls instead) */
  void (*trim)(void *ud);
  void *trim_ud;
} nc_ntrim_opts;

/* opts may be NULL (defaults). Returns 0 or NC_ENOMEM. */
int nc_ntrim_new(uv_loop_t *loop, const nc_ntrim_opts *opts, nc_ntrim **out);
/* Closes the timer (run the loop once afterwards to free it). NULL ok. */
void nc_ntrim_free(nc_ntrim *t);
/* One change happened (O(1); starts the timer if it is not running). */
void nc_ntrim_note(nc_ntrim *t);
/* Trims done so far and whether the timer runs (tests, diagnostics). */
uint64_t nc_ntrim_count(const nc_ntrim *t);
int nc_ntrim_active(const nc_ntrim *t);

#endif
