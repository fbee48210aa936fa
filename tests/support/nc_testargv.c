/* nc_testargv: see nc_testargv.h. */
#include "nc_testargv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Takes ownership of s (NULL means the allocation failed). */
static void push(nc_targv *a, char *s) {
  if (a->failed || !s) {
    a->failed = 1;
    free(s);
    return;
  }
  if (a->argc + 2 > a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 16;
    char **nv = realloc(a->argv, cap * sizeof(*nv));
    if (!nv) {
      a->failed = 1;
      free(s);
      return;
    }
    a->argv = nv;
    a->cap = cap;
  }
  a->argv[a->argc++] = s;
  a->argv[a->argc] = NULL;
}

void nc_targv_add(nc_targv *a, const char *arg) { push(a, arg ? strdup(arg) : NULL); }

void nc_targv_add_list(nc_targv *a, const char *const *list) {
  for (size_t i = 0; list && list[i]; i++)
    nc_targv_add(a, list[i]);
}

void nc_targv_addf(nc_targv *a, const char *fmt, ...) {
  char *s = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&s, fmt, ap) < 0)
    s = NULL;
  va_end(ap);
  push(a, s);
}

int nc_targv_ok(const nc_targv *a) { return !a->failed && a->argv; }

void nc_targv_join(const nc_targv *a, char *buf, size_t cap) {
  size_t len = 0;
  if (cap)
    buf[0] = '\0';
  for (size_t i = 0; i < a->argc && len + 1 < cap; i++) {
    int n = snprintf(buf + len, cap - len, "%s%s", i ? " " : "", a->argv[i]);
    if (n < 0)
      break;
    len += (size_t)n;
  }
}

void nc_targv_free(nc_targv *a) {
  for (size_t i = 0; i < a->argc; i++)
    free(a->argv[i]);
  free(a->argv);
  memset(a, 0, sizeof(*a));
}
