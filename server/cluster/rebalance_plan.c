/* rebalance_plan: see rebalance_plan.h. */
#include "rebalance_plan.h"

#include <string.h>

/* Another node's load as it counts it (not corrected for our moves). */
static double raw(const nc_rebal_node *x) {
  return (double)(x->avg_load >= 0 ? x->avg_load : x->load);
}

static int over_enter(const nc_rebal_params *p, double load, double avg) {
  return load > avg * (1.0 + p->tolerance_pct / 100.0) && load - avg >= p->tolerance_abs;
}

/* The per-period share of the cluster-wide cap of one of n shedders. */
static long share(const nc_rebal_params *p, int n_shedding) {
  long long d = 1000LL * (n_shedding > 0 ? n_shedding : 1);
  long long b = ((long long)p->cap_per_sec * p->period_ms + d - 1) / d; /* rounded up */
  return b > 0 ? (long)b : 1;
}

/* Water-filling: hands out up to budget units one at a time to the least
 * loaded target still below its own cap (ties: first in order). O(budget x
 * targets), both small. Returns what was handed out. */
static long fill(nc_rebal_plan *out, const long *base, const long *cap, long budget) {
  long given = 0;
  long level[NC_REBAL_MAX_TARGETS];
  for (size_t i = 0; i < out->n_targets; i++)
    level[i] = base[i];
  while (given < budget) {
    size_t best = out->n_targets;
    for (size_t i = 0; i < out->n_targets; i++)
      if (level[i] < cap[i] && (best == out->n_targets || level[i] < level[best]))
        best = i;
    if (best == out->n_targets)
      break;
    level[best]++;
    out->targets[best].count++;
    given++;
  }
  return given;
}

/* Each target's cap: its room up to ceiling, of which this node may fill
 * its share (frac: its excess over the excess of every node shedding), so
 * that nodes shedding at once, which do not see each other's moves in
 * flight, do not fill one target above the average together. */
static void caps(const nc_rebal_plan *out, const long *base, long ceiling, double frac,
                 long *cap) {
  for (size_t i = 0; i < out->n_targets; i++) {
    long room = ceiling - base[i];
    long mine = room > 0 ? (long)((double)room * frac + 0.999) : 0; /* rounded up */
    cap[i] = base[i] + mine;
  }
}

/* Drops targets that got nothing (keeps the order). */
static void compact(nc_rebal_plan *out) {
  size_t k = 0;
  for (size_t i = 0; i < out->n_targets; i++)
    if (out->targets[i].count > 0)
      out->targets[k++] = out->targets[i];
  out->n_targets = k;
}

nc_rebal_verdict nc_rebal_plan_compute(const nc_rebal_params *p, const nc_rebal_node *nodes,
                                       size_t n, nc_rebal_plan *out) {
  memset(out, 0, sizeof(*out));
  const nc_rebal_node *self = NULL;
  double sum = 0;
  int n_elig = 0, n_draining = 0, all_usable = 1;
  for (size_t i = 0; i < n; i++) {
    if (nodes[i].is_self)
      self = &nodes[i];
    if (!nodes[i].usable && !nodes[i].is_self) {
      all_usable = 0;
      continue;
    }
    /* a draining node's load stays in the sum: it is coming to the others,
     * so the average is the level they reach once it is done */
    sum += (double)(nodes[i].avg_load >= 0 ? nodes[i].avg_load : nodes[i].load);
    if (nodes[i].draining)
      n_draining++;
    else
      n_elig++;
  }
  if (!self)
    return out->verdict = NC_REBAL_IDLE;
  long base[NC_REBAL_MAX_TARGETS];
  if (self->draining) {
    /* everything goes; the level the targets may reach is the average
     * once self's load is spread over them */
    out->avg = n_elig ? sum / n_elig : 0;
    out->excess = self->load;
    out->n_shedding = n_draining;
    for (size_t i = 0; i < n; i++)
      if (nodes[i].usable && !nodes[i].draining && !nodes[i].is_self &&
          over_enter(p, raw(&nodes[i]), out->avg))
        out->n_shedding++;
    for (size_t i = 0; i < n && out->n_targets < NC_REBAL_MAX_TARGETS; i++) {
      if (nodes[i].is_self || !nodes[i].usable || nodes[i].draining)
        continue;
      base[out->n_targets] = nodes[i].load;
      out->targets[out->n_targets++].address = nodes[i].address;
    }
    if (!out->n_targets || self->movable <= 0) {
      out->n_targets = 0;
      return out->verdict = self->movable > 0 ? NC_REBAL_NO_TARGET : NC_REBAL_IDLE;
    }
    long budget = self->movable < share(p, out->n_shedding) ? self->movable
                                                             : share(p, out->n_shedding);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
      if (!nodes[i].usable && !nodes[i].is_self)
        continue;
      if (nodes[i].draining)
        total += (double)nodes[i].load;
      else if (!nodes[i].is_self && over_enter(p, raw(&nodes[i]), out->avg))
        total += raw(&nodes[i]) - out->avg;
    }
    long cap[NC_REBAL_MAX_TARGETS];
    caps(out, base, (long)out->avg + 1, total > 0 ? (double)self->load / total : 1.0, cap);
    out->budget = fill(out, base, cap, budget);
    if (!out->budget) { /* the others are above the average: drain anyway */
      for (size_t i = 0; i < out->n_targets; i++)
        cap[i] = (long)1 << 40;
      out->budget = fill(out, base, cap, budget);
    }
    compact(out);
    return out->verdict = NC_REBAL_MOVE;
  }
  if (!n_elig)
    return out->verdict = NC_REBAL_IDLE;
  out->avg = sum / n_elig;
  out->excess = (long)((double)self->load - out->avg);
  if (!all_usable)
    return out->verdict = NC_REBAL_UNSTABLE;
  /* hysteresis: enter above the tolerance, keep going until within stop_pct */
  int over = over_enter(p, (double)self->load, out->avg) ||
             (p->acting && (double)self->load > out->avg * (1.0 + p->stop_pct / 100.0) &&
              out->excess >= 1);
  if (!over)
    return out->verdict = NC_REBAL_IDLE;
  out->acting = 1;
  out->n_shedding = 1 + n_draining;
  for (size_t i = 0; i < n; i++)
    if (!nodes[i].is_self && !nodes[i].draining && over_enter(p, raw(&nodes[i]), out->avg))
      out->n_shedding++;
  long ceiling = (long)out->avg; /* avg >= 0: rounded down */
  for (size_t i = 0; i < n && out->n_targets < NC_REBAL_MAX_TARGETS; i++) {
    if (nodes[i].is_self || nodes[i].draining || nodes[i].load >= ceiling)
      continue;
    base[out->n_targets] = nodes[i].load;
    out->targets[out->n_targets++].address = nodes[i].address;
  }
  long budget = out->excess;
  if (budget > self->movable)
    budget = self->movable;
  if (budget > share(p, out->n_shedding))
    budget = share(p, out->n_shedding);
  if (!out->n_targets || budget <= 0) {
    out->n_targets = 0;
    return out->verdict = budget > 0 ? NC_REBAL_NO_TARGET : NC_REBAL_IDLE;
  }
  double total = (double)out->excess;
  for (size_t i = 0; i < n; i++) {
    if (nodes[i].is_self || !nodes[i].usable)
      continue;
    if (nodes[i].draining)
      total += (double)nodes[i].load;
    else if (over_enter(p, raw(&nodes[i]), out->avg))
      total += (double)nodes[i].load - out->avg;
  }
  long cap[NC_REBAL_MAX_TARGETS];
  caps(out, base, ceiling, total > 0 ? (double)out->excess / total : 1.0, cap);
  out->budget = fill(out, base, cap, budget);
  compact(out);
  return out->verdict = out->budget > 0 ? NC_REBAL_MOVE : NC_REBAL_NO_TARGET;
}
