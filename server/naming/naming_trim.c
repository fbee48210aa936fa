/* naming_trim: see naming_trim.h. */
#include "naming_trim.h"

#include "nc_err.h"
#include "nc_log.h"

#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

struct nc_ntrim {
  uv_timer_t timer;
  nc_ntrim_opts o;
  uint64_t changes; /* since the last trim */
  uint64_t seen;    /* changes at the previous tick */
  uint64_t trims;
  int active;
};

static void default_trim(void *ud) {
  (void)ud;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

static void on_tick(uv_timer_t *h) {
  nc_ntrim *t = h->data;
  if (t->changes != t->seen) { /* still busy: look again next tick */
    t->seen = t->changes;
    return;
  }
  if (t->changes >= t->o.min_changes) {
    uint64_t t0 = uv_hrtime();
    t->o.trim(t->o.trim_ud);
    t->trims++;
    nc_debug("heap trimmed after %llu changes (%.2f ms)", (unsigned long long)t->changes,
             (double)(uv_hrtime() - t0) / 1e6);
  }
  /* a quiet tick ends the burst either way: small bursts are forgotten, so
   * a trickle of changes cannot add up to a trim every few minutes */
  t->changes = t->seen = 0;
  t->active = 0;
  uv_timer_stop(&t->timer);
}

int nc_ntrim_new(uv_loop_t *loop, const nc_ntrim_opts *opts, nc_ntrim **out) {
  nc_ntrim *t = calloc(1, sizeof(*t));
  if (!t)
    return NC_ENOMEM;
  if (opts)
    t->o = *opts;
  if (t->o.tick_ms <= 0)
    t->o.tick_ms = 100;
  if (!t->o.min_changes)
    t->o.min_changes = 1000;
  if (!t->o.trim)
    t->o.trim = default_trim;
  uv_timer_init(loop, &t->timer);
  t->timer.data = t;
  *out = t;
  return 0;
}

static void on_closed(uv_handle_t *h) { free(h->data); }

void nc_ntrim_free(nc_ntrim *t) {
  if (t)
    uv_close((uv_handle_t *)&t->timer, on_closed);
}

void nc_ntrim_note(nc_ntrim *t) {
  t->changes++;
  if (!t->active) {
    t->active = 1;
    t->seen = t->changes;
    uv_timer_start(&t->timer, on_tick, (uint64_t)t->o.tick_ms, (uint64_t)t->o.tick_ms);
  }
}

uint64_t nc_ntrim_count(const nc_ntrim *t) { return t->trims; }
int nc_ntrim_active(const nc_ntrim *t) { return t->active; }
