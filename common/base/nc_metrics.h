/* nc_metrics_text: the Prometheus text builder nacosd and nacos-agent
 * render their samples with, so every family gets its # HELP and # TYPE
 * lines the same way. Both serve it over nc_http (common/http). */
#ifndef NC_METRICS_H
#define NC_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* ---- Prometheus text ---- */

/* A growing text buffer; start from {0}. On allocation failure the text
 * written so far is kept and later additions are dropped. */
typedef struct nc_metrics_text {
  char *p;
  size_t len, cap;
} nc_metrics_text;

/* One family of a single sample: "# HELP <prefix><name> <help>", "# TYPE
 * ..." and "<prefix><name> <v>". Names ending in _total are counters, the
 * rest gauges. prefix is prepended as is (e.g. "nacosd_"). */
void nc_metrics_add(nc_metrics_text *t, const char *prefix, const char *name, const char *help,
                    uint64_t v);
/* The # HELP and # TYPE lines of a labelled family; its samples follow
 * with nc_metrics_add_labelled. */
void nc_metrics_family(nc_metrics_text *t, const char *prefix, const char *name,
                       const char *help);
/* "<prefix><name>{<label>="<value>"} <v>"; the label value is escaped as
 * the text format wants (backslash, double quote, newline). */
void nc_metrics_add_labelled(nc_metrics_text *t, const char *prefix, const char *name,
                             const char *label, const char *value, uint64_t v);
/* Hands the text over (malloc'ed, the caller frees; "" when empty, NULL
 * only when even that cannot be allocated) and resets t to {0}. */
char *nc_metrics_text_take(nc_metrics_text *t);

#endif
