/* naming_migrate: see naming_migrate.h. */
#include "naming_migrate.h"

#include "naming_reg_int.h"
#include "nc_err.h"
#include "nc_log.h"
#include "nc_strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct mig {
  uint64_t until;  /* expected: closes before this (wall ms) */
  uint64_t grace;  /* how long it is then held */
  uint64_t due;    /* held: dropped at this time; 0 = not held yet */
} mig;

struct nc_nmig {
  nc_strmap *m; /* conn id -> mig */
  nc_nmig_stats st;
};

nc_nmig *nc_nmig_new(void) {
  nc_nmig *m = calloc(1, sizeof(*m));
  if (m && !(m->m = nc_strmap_new())) {
    free(m);
    return NULL;
  }
  return m;
}

void nc_nmig_free(nc_nmig *m) {
  if (!m)
    return;
  nc_strmap_free(m->m, free);
  free(m);
}

int nc_nmig_expect(nc_nmig *m, const char *id, uint64_t until_ms, uint64_t grace_ms) {
  mig *x = nc_strmap_get(m->m, id);
  if (x && x->due)
    return 0; /* already held */
  if (!x) {
    if (!(x = calloc(1, sizeof(*x))) || nc_strmap_put(m->m, id, x, NULL)) {
      free(x);
      return NC_ENOMEM;
    }
  }
  x->until = until_ms;
  x->grace = grace_ms;
  m->st.expected++;
  return 0;
}

/* Subscription keys are collected first: unsubscribing edits c->subs. */
static void drop_subs(nc_nreg *r, const char *id) {
  nc_nreg_client *c = nc_nreg_client_get(r, id, 0);
  if (!c)
    return;
  size_t n = nc_strmap_count(c->subs), k = 0;
  nc_nsvc **v = n ? calloc(n, sizeof(*v)) : NULL;
  if (!v)
    return;
  nc_strmap_iter it;
  void *sv;
  for (nc_strmap_iter_init(&it, c->subs); k < n && nc_strmap_iter_next(&it, NULL, &sv);)
    v[k++] = sv;
  /* names copied: the last unsubscribe may free its service */
  char **names = calloc(3 * k + 1, sizeof(*names));
  for (size_t i = 0; names && i < k; i++) {
    names[3 * i] = strdup(v[i]->ns);
    names[3 * i + 1] = strdup(v[i]->group);
    names[3 * i + 2] = strdup(v[i]->name);
  }
  for (size_t i = 0; names && i < k; i++)
    if (names[3 * i] && names[3 * i + 1] && names[3 * i + 2])
      nc_nreg_unsubscribe(r, id, names[3 * i], names[3 * i + 1], names[3 * i + 2]);
  for (size_t i = 0; names && i < 3 * k; i++)
    free(names[i]);
  free(names);
  free(v);
}

int nc_nmig_hold(nc_nmig *m, nc_nreg *r, const char *id, uint64_t now) {
  mig *x = nc_strmap_get(m->m, id);
  if (!x || x->due)
    return 0;
  if (now > x->until) {
    free(nc_strmap_del(m->m, id));
    return 0;
  }
  nc_nreg_client *c = nc_nreg_client_get(r, id, 0);
  if (!c || !nc_strmap_count(c->pubs)) { /* nothing to keep visible */
    free(nc_strmap_del(m->m, id));
    return 0;
  }
  drop_subs(r, id);
  x->due = now + x->grace;
  m->st.held++;
  m->st.holding++;
  nc_info("naming: moved connection %s closed; its instances stay %llu ms (migrating)", id,
          (unsigned long long)x->grace);
  return 1;
}

void nc_nmig_tick(nc_nmig *m, uint64_t now, void (*drop)(void *ud, const char *id), void *ud) {
  nc_strmap_iter it;
  const char *id;
  void *v;
  nc_strmap_iter_init(&it, m->m);
  while (nc_strmap_iter_next(&it, &id, &v)) {
    mig *x = v;
    if (x->due ? now < x->due : now <= x->until)
      continue;
    if (x->due) {
      m->st.holding--;
      m->st.released++;
      /* the id is borrowed from the map: drop before deleting the entry */
      drop(ud, id);
    }
    free(nc_strmap_del(m->m, id));
  }
}

void nc_nmig_get_stats(const nc_nmig *m, nc_nmig_stats *st) { *st = m->st; }
