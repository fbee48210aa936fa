/* nc_auth_perm: see nc_auth_perm.h. */
#include "nc_auth_perm.h"

#include "nc_err.h"

#include <stdio.h>
#include <string.h>

/* Iterative glob with one back-track point: linear-ish, no recursion, so
 * a pattern of many '*' cannot blow the stack or take exponential time. */
int nc_auth_glob(const char *p, const char *s) {
  const char *star = NULL, *resume = NULL;
  while (*s) {
    if (*p == '*') {
      star = p++;
      resume = s;
    } else if (*p == *s) {
      p++;
      s++;
    } else if (star) {
      p = star + 1;
      s = ++resume;
    } else
      return 0;
  }
  while (*p == '*')
    p++;
  return *p == '\0';
}

int nc_auth_resource(char *buf, size_t cap, const char *ns, const char *group, const char *type,
                     const char *name) {
  int n = snprintf(buf, cap, "%s:%s:%s/%s", ns ? ns : "", group && *group ? group : "*", type,
                   name && *name ? name : "*");
  return n < 0 || (size_t)n >= cap ? NC_ETOOBIG : 0;
}

int nc_auth_action_valid(const char *a) {
  return a && (!strcmp(a, "r") || !strcmp(a, "w") || !strcmp(a, "rw"));
}

/* The other spelling of the public namespace: "public:..." <-> ":...". */
static int other_public(const char *res, char *buf, size_t cap) {
  int n;
  if (res[0] == ':')
    n = snprintf(buf, cap, "public%s", res);
  else if (!strncmp(res, "public:", 7))
    n = snprintf(buf, cap, "%s", res + 6);
  else
    return 0;
  return n >= 0 && (size_t)n < cap;
}

int nc_auth_perm_grants(const char *pattern, const char *row_action, const char *resource,
                        char action) {
  char alt[NC_AUTH_RES_MAX + 8];
  if (!pattern || !row_action || !resource || !strchr(row_action, action))
    return 0;
  if (nc_auth_glob(pattern, resource))
    return 1;
  return other_public(resource, alt, sizeof(alt)) && nc_auth_glob(pattern, alt);
}
