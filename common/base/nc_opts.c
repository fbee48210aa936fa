#include "nc_opts.h"
#include "nc_err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef NC_VERSION
#define NC_VERSION "unknown" /* the top CMakeLists.txt defines it from project(VERSION) */
#endif

static const nc_opt *find_opt(const nc_opt *table, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(table[i].name, name) == 0)
      return &table[i];
  return NULL;
}

static int parse_bool(const char *v, int *out) {
  if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) {
    *out = 1;
    return 0;
  }
  if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) {
    *out = 0;
    return 0;
  }
  return NC_EINVAL;
}

/* Length of the choice list at the start of a CHOICE option's help. */
static size_t choices_len(const char *help) {
  const char *sp = help ? strchr(help, ' ') : NULL;
  return help ? (sp ? (size_t)(sp - help) : strlen(help)) : 0;
}

/* 1 when v is one of the '|'-separated words of list[0..len). */
static int choice_ok(const char *list, size_t len, const char *v) {
  size_t vl = strlen(v);
  for (const char *p = list, *end = list + len; p < end;) {
    const char *bar = memchr(p, '|', (size_t)(end - p));
    size_t wl = bar ? (size_t)(bar - p) : (size_t)(end - p);
    if (wl == vl && vl && !strncasecmp(p, v, vl))
      return 1;
    p += wl + 1;
  }
  return 0;
}

/* nc_opts_set with the program's name (or "") leading each error line. */
static int set_opt(const nc_opt *table, size_t n, void *cfg, const char *name, const char *value,
                   const char *pre) {
  const nc_opt *o = find_opt(table, n, name);
  if (!o) {
    fprintf(stderr, "%sunknown option '%s'\n", pre, name);
    return NC_EINVAL;
  }
  char *field = (char *)cfg + o->offset;
  switch (o->type) {
  case NC_OPT_CHOICE: {
    size_t len = choices_len(o->help);
    if (!value || !choice_ok(o->help, len, value)) {
      fprintf(stderr, "%soption '%s': '%s' is not one of %.*s\n", pre, name, value ? value : "",
              (int)len, o->help);
      return NC_EINVAL;
    }
  }
  /* fall through - stored like a string */
  case NC_OPT_STR: {
    char *copy = value ? strdup(value) : NULL;
    if (value && !copy)
      return NC_ENOMEM;
    free(*(char **)field);
    *(char **)field = copy;
    return 0;
  }
  case NC_OPT_INT: {
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end) {
      fprintf(stderr, "%soption '%s': '%s' is not an integer\n", pre, name, value);
      return NC_EINVAL;
    }
    if (o->min <= o->max && (v < o->min || v > o->max)) {
      fprintf(stderr, "%soption '%s': %ld is outside %ld..%ld\n", pre, name, v, o->min, o->max);
      return NC_EINVAL;
    }
    *(long *)field = v;
    return 0;
  }
  case NC_OPT_BOOL: {
    int b;
    if (parse_bool(value, &b)) {
      fprintf(stderr, "%soption '%s': '%s' is not a boolean\n", pre, name, value);
      return NC_EINVAL;
    }
    *(int *)field = b;
    return 0;
  }
  case NC_OPT_DOUBLE: {
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end) {
      fprintf(stderr, "%soption '%s': '%s' is not a number\n", pre, name, value);
      return NC_EINVAL;
    }
    *(double *)field = v;
    return 0;
  }
  }
  return NC_EINVAL;
}

int nc_opts_set(const nc_opt *table, size_t n, void *cfg, const char *name, const char *value) {
  return set_opt(table, n, cfg, name, value, "");
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

int nc_opts_load_file(const nc_opt *table, size_t n, void *cfg, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "cannot open config file %s: %s\n", path, strerror(errno));
    return NC_EIO;
  }
  char line[4096];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof(line), f)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash)
      *hash = '\0';
    char *s = trim(line);
    if (!*s)
      continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      fprintf(stderr, "%s:%d: expected 'name = value'\n", path, lineno);
      rc = NC_EINVAL;
      break;
    }
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    if ((rc = nc_opts_set(table, n, cfg, key, val)) != 0) {
      fprintf(stderr, "%s:%d: rejected\n", path, lineno);
      break;
    }
  }
  fclose(f);
  return rc;
}

void nc_opts_print_help(const nc_opt *table, size_t n, const char *prog, const char *summary) {
  printf("Usage: %s [options]\n%s\n\nOptions:\n", prog, summary ? summary : "");
  printf("  %-24s %s\n", "--config FILE", "read options from FILE (name = value lines)");
  printf("  %-24s %s\n", "--show-config", "print the effective configuration and exit");
  printf("  %-24s %s\n", "--version", "print the version and exit");
  printf("  %-24s %s\n", "--help", "show this help and exit");
  for (size_t i = 0; i < n; i++) {
    char flag[64];
    nc_opt_type t = table[i].type;
    const char *arg = t == NC_OPT_BOOL     ? "[=BOOL]"
                      : t == NC_OPT_STR    ? " STR"
                      : t == NC_OPT_CHOICE ? " WORD"
                                           : " N";
    snprintf(flag, sizeof(flag), "--%s%s", table[i].name, arg);
    printf("  %-24s %s", flag, table[i].help);
    if (table[i].defval)
      printf(" (default: %s)", table[i].defval);
    printf("\n");
  }
}

void nc_opts_print_config(const nc_opt *table, size_t n, const void *cfg) {
  for (size_t i = 0; i < n; i++) {
    const char *field = (const char *)cfg + table[i].offset;
    switch (table[i].type) {
    case NC_OPT_STR:
    case NC_OPT_CHOICE: {
      const char *s = *(char *const *)field;
      printf("%s = %s\n", table[i].name, s ? s : "");
      break;
    }
    case NC_OPT_INT:
      printf("%s = %ld\n", table[i].name, *(const long *)field);
      break;
    case NC_OPT_BOOL:
      printf("%s = %s\n", table[i].name, *(const int *)field ? "true" : "false");
      break;
    case NC_OPT_DOUBLE:
      printf("%s = %g\n", table[i].name, *(const double *)field);
      break;
    }
  }
}

void nc_opts_free(const nc_opt *table, size_t n, void *cfg) {
  for (size_t i = 0; i < n; i++) {
    if (table[i].type == NC_OPT_STR || table[i].type == NC_OPT_CHOICE) {
      char **p = (char **)((char *)cfg + table[i].offset);
      free(*p);
      *p = NULL;
    }
  }
}

int nc_opts_parse(const nc_opt *table, size_t n, void *cfg, int argc, char **argv, const char *prog,
                  const char *summary) {
  return nc_opts_parse_ex(table, n, cfg, argc, argv, prog, summary, NULL);
}

int nc_opts_parse_ex(const nc_opt *table, size_t n, void *cfg, int argc, char **argv,
                     const char *prog, const char *summary, nc_opts_check_fn check) {
  int rc = 0, show = 0;
  for (size_t i = 0; i < n; i++) {
    if (table[i].defval && (rc = nc_opts_set(table, n, cfg, table[i].name, table[i].defval)))
      return rc;
  }
  /* The config file goes first so the command line can override it. */
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      nc_opts_print_help(table, n, prog, summary);
      return NC_OPTS_EXIT;
    }
    if (!strcmp(argv[i], "--version")) {
      printf("%s %s\n", prog, NC_VERSION);
      return NC_OPTS_EXIT;
    }
    if (!strcmp(argv[i], "--config") || !strncmp(argv[i], "--config=", 9)) {
      const char *path = argv[i][8] == '=' ? argv[i] + 9 : (i + 1 < argc ? argv[++i] : NULL);
      if (!path) {
        fprintf(stderr, "--config needs a file name\n");
        return NC_EINVAL;
      }
      if ((rc = nc_opts_load_file(table, n, cfg, path)))
        return rc;
    }
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--config")) {
      i++;
      continue;
    }
    if (!strncmp(a, "--config=", 9))
      continue;
    if (!strcmp(a, "--show-config")) {
      show = 1;
      continue;
    }
    if (strncmp(a, "--", 2) != 0) {
      fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog, a);
      return NC_EINVAL;
    }
    char name[128];
    const char *val = NULL;
    const char *eq = strchr(a + 2, '=');
    size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
    if (len >= sizeof(name)) {
      fprintf(stderr, "%s: option name too long\n", prog);
      return NC_EINVAL;
    }
    memcpy(name, a + 2, len);
    name[len] = '\0';
    const nc_opt *o = find_opt(table, n, name);
    if (!o) {
      fprintf(stderr, "%s: unknown option '--%s' (see --help)\n", prog, name);
      return NC_EINVAL;
    }
    if (eq)
      val = eq + 1;
    else if (o->type == NC_OPT_BOOL)
      val = "true";
    else if (i + 1 < argc)
      val = argv[++i];
    else {
      fprintf(stderr, "%s: option '--%s' needs a value\n", prog, name);
      return NC_EINVAL;
    }
    char pre[64];
    snprintf(pre, sizeof(pre), "%s: ", prog);
    if ((rc = set_opt(table, n, cfg, name, val, pre)))
      return rc;
  }
  /* Before --show-config: it must refuse what start-up refuses. */
  if (check && (rc = check(cfg, prog)) != 0)
    return rc;
  if (show) {
    nc_opts_print_config(table, n, cfg);
    return NC_OPTS_EXIT;
  }
  return NC_OPTS_CONTINUE;
}
