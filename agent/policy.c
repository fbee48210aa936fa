/* policy: see policy.h. */
#include "policy.h"

#include "nc_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rule {
  long uid;
  int write;  /* rw; else r only */
  char *ns;   /* one namespace or "*" */
} rule;

struct nc_ag_policy {
  rule *v;
  size_t n;
};

void nc_ag_policy_free(nc_ag_policy *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->n; i++)
    free(p->v[i].ns);
  free(p->v);
  free(p);
}

static int add(nc_ag_policy *p, long uid, int write, const char *ns, size_t len) {
  rule *v = realloc(p->v, (p->n + 1) * sizeof(*v));
  if (!v)
    return NC_ENOMEM;
  p->v = v;
  if (!(v[p->n].ns = strndup(ns, len)))
    return NC_ENOMEM;
  v[p->n].uid = uid;
  v[p->n].write = write;
  p->n++;
  return 0;
}

int nc_ag_policy_parse(const char *spec, nc_ag_policy **out, char *err, size_t cap) {
  *out = NULL;
  if (!spec || !*spec)
    return 0;
  nc_ag_policy *p = calloc(1, sizeof(*p));
  char *copy = strdup(spec), *save = NULL;
  int rc = p && copy ? 0 : NC_ENOMEM;
  for (char *e = rc ? NULL : strtok_r(copy, ";", &save); e; e = strtok_r(NULL, ";", &save)) {
    char *c1 = strchr(e, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *end = NULL;
    long uid = c1 ? strtol(e, &end, 10) : -1;
    if (!c2 || end != c1 || uid < 0 || c1 == e) {
      snprintf(err, cap, "--uid-policy: '%s' is not UID:MODE:NS[,NS...]", e);
      rc = NC_EINVAL;
      break;
    }
    *c1 = *c2 = '\0';
    int write = strcmp(c1 + 1, "rw") == 0;
    if (!write && strcmp(c1 + 1, "r") != 0) {
      snprintf(err, cap, "--uid-policy: mode '%s' for uid %ld is neither r nor rw", c1 + 1, uid);
      rc = NC_EINVAL;
      break;
    }
    for (const char *ns = c2 + 1; !rc;) {
      size_t len = strcspn(ns, ",");
      if (len == 0) {
        snprintf(err, cap, "--uid-policy: empty namespace for uid %ld", uid);
        rc = NC_EINVAL;
        break;
      }
      rc = add(p, uid, write, ns, len);
      if (!ns[len])
        break;
      ns += len + 1;
    }
    if (rc)
      break;
  }
  free(copy);
  if (rc) {
    nc_ag_policy_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

static int is_public(const char *ns) { return !ns || !*ns || strcmp(ns, "public") == 0; }

int nc_ag_policy_allows(const nc_ag_policy *p, long uid, const char *ns, char mode) {
  if (!p || uid == 0)
    return 1;
  int listed = 0;
  for (size_t i = 0; i < p->n; i++) {
    const rule *r = &p->v[i];
    if (r->uid != uid)
      continue;
    listed = 1;
    int ns_ok = strcmp(r->ns, "*") == 0 || (is_public(ns) && is_public(r->ns)) ||
                (ns && strcmp(r->ns, ns) == 0);
    if (ns_ok && (mode == 'r' || r->write))
      return 1;
  }
  return !listed && uid >= 0;
}

char nc_ag_policy_op_mode(const char *op) {
  static const char *const writes[] = {"naming.register", "naming.deregister", "config.publish",
                                       "config.remove", "config.rollback"};
  if (strncmp(op, "naming.", 7) != 0 && strncmp(op, "config.", 7) != 0)
    return 0;
  for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
    if (strcmp(op, writes[i]) == 0)
      return 'w';
  return 'r';
}
