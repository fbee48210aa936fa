/* nc_metrics: the Prometheus text builder (see nc_metrics.h). */
#include "nc_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Prometheus text ---- */

static void tprintf(nc_metrics_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(nc_metrics_text *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = t->p ? vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap) : -1;
    va_end(ap);
    if (n >= 0 && t->len + (size_t)n < t->cap) {
      t->len += (size_t)n;
      return;
    }
    size_t nc = t->cap ? t->cap * 2 : 4096;
    char *np = realloc(t->p, nc);
    if (!np) {
      if (t->p)
        t->p[t->len] = 0; /* vsnprintf may have left a truncated line */
      return;
    }
    t->p = np;
    t->cap = nc;
  }
}

static const char *kind(const char *name) {
  size_t n = strlen(name);
  return n > 6 && !strcmp(name + n - 6, "_total") ? "counter" : "gauge";
}

void nc_metrics_family(nc_metrics_text *t, const char *prefix, const char *name,
                       const char *help) {
  tprintf(t, "# HELP %s%s %s\n# TYPE %s%s %s\n", prefix, name, help, prefix, name, kind(name));
}

void nc_metrics_add(nc_metrics_text *t, const char *prefix, const char *name, const char *help,
                    uint64_t v) {
  nc_metrics_family(t, prefix, name, help);
  tprintf(t, "%s%s %llu\n", prefix, name, (unsigned long long)v);
}

void nc_metrics_add_labelled(nc_metrics_text *t, const char *prefix, const char *name,
                             const char *label, const char *value, uint64_t v) {
  char esc[512];
  size_t j = 0;
  for (const char *s = value; *s && j + 2 < sizeof(esc); s++) {
    if (*s == '\\' || *s == '"' || *s == '\n')
      esc[j++] = '\\';
    esc[j++] = *s == '\n' ? 'n' : *s;
  }
  esc[j] = 0;
  tprintf(t, "%s%s{%s=\"%s\"} %llu\n", prefix, name, label, esc, (unsigned long long)v);
}

char *nc_metrics_text_take(nc_metrics_text *t) {
  char *p = t->p ? t->p : strdup("");
  *t = (nc_metrics_text){0};
  return p;
}
