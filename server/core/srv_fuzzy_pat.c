/* srv_fuzzy_pat: fuzzy-watch patterns as Nacos 3.x reads them
 * (FuzzyGroupKeyPattern): "namespace>>group>>name", the namespace taken
 * literally, group and name each with the '*' rules below. Pure functions,
 * any thread. */
#include "srv_fuzzy.h"

#include "nc_err.h"

#include <string.h>

/* The next ">>" at or after s, or NULL. */
static const char *next_sep(const char *s, const char *end) {
  for (const char *p = s; p + 1 < end; p++)
    if (p[0] == '>' && p[1] == '>')
      return p;
  return NULL;
}

int nc_fz_split(const char *pattern, nc_fz_parts *p) {
  memset(p, 0, sizeof(*p));
  if (!pattern)
    return NC_EINVAL;
  size_t len = strnlen(pattern, NC_FZ_PATTERN_MAX + 1);
  if (len == 0 || len > NC_FZ_PATTERN_MAX)
    return NC_EINVAL;
  const char *end = pattern + len;
  const char *a = next_sep(pattern, end);
  const char *b = a ? next_sep(a + 2, end) : NULL;
  /* Java's split would ignore a fourth part; a name with ">>" in it cannot
   * be told from one, so such a pattern is refused rather than guessed. */
  if (!a || !b || next_sep(b + 2, end))
    return NC_EINVAL;
  p->ns = pattern;
  p->ns_len = (size_t)(a - pattern);
  p->group = a + 2;
  p->group_len = (size_t)(b - p->group);
  p->name = b + 2;
  p->name_len = (size_t)(end - p->name);
  if (!p->ns_len || !p->group_len || !p->name_len) {
    memset(p, 0, sizeof(*p));
    return NC_EINVAL;
  }
  return 0;
}

/* s contains / starts with / ends with the pattern's text without its
 * '*'s (Java's pattern.replace("*", "")). */
enum { M_CONTAINS, M_PREFIX, M_SUFFIX };
static int stripped_match(const char *pat, size_t len, const char *s, int how) {
  char buf[NC_FZ_PATTERN_MAX + 1];
  size_t n = 0;
  for (size_t i = 0; i < len && n < sizeof(buf) - 1; i++)
    if (pat[i] != '*')
      buf[n++] = pat[i];
  buf[n] = '\0';
  size_t sl = strlen(s);
  if (n > sl)
    return 0;
  switch (how) {
  case M_PREFIX:
    return memcmp(s, buf, n) == 0;
  case M_SUFFIX:
    return memcmp(s + sl - n, buf, n) == 0;
  default:
    return n == 0 || strstr(s, buf) != NULL;
  }
}

int nc_fz_item_match(const char *pat, size_t len, const char *s) {
  if (!s)
    s = "";
  if (!memchr(pat, '*', len))
    return strlen(s) == len && memcmp(s, pat, len) == 0;
  if (len == 1)
    return 1; /* "*" */
  int first = pat[0] == '*', last = pat[len - 1] == '*';
  if (first && last)
    return stripped_match(pat, len, s, M_CONTAINS);
  if (first)
    return stripped_match(pat, len, s, M_SUFFIX);
  if (last)
    return stripped_match(pat, len, s, M_PREFIX);
  return 0; /* a '*' only in the middle matches nothing, as in Nacos */
}

int nc_fz_match(const nc_fz_parts *p, const char *ns, const char *group, const char *name) {
  if (!ns || !*ns)
    ns = "public";
  return strlen(ns) == p->ns_len && memcmp(ns, p->ns, p->ns_len) == 0 &&
         nc_fz_item_match(p->group, p->group_len, group) &&
         nc_fz_item_match(p->name, p->name_len, name);
}
