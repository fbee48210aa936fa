/* nc_auth_perm: Nacos's permission model, without state.
 *
 * A permission row is (role, resource, action). The resource is a pattern
 * "namespace:group:type/name" where '*' matches any run of characters
 * (Nacos turns '*' into the regex ".*"; here every other character is
 * literal, so a '.' in a dataId cannot widen a grant). The console writes
 * "<ns>:*:*" for a whole namespace. The action is "r", "w" or "rw"; a row
 * grants an action when its action string contains it (Nacos: contains()).
 * The role ROLE_ADMIN is the global admin and passes every check. */
#ifndef NC_AUTH_PERM_H
#define NC_AUTH_PERM_H

#include <stddef.h>

#define NC_AUTH_ROLE_ADMIN "ROLE_ADMIN"
#define NC_AUTH_RES_MAX 1024

/* 1 when pattern matches s ('*' = any run, possibly empty), else 0. */
int nc_auth_glob(const char *pattern, const char *s);

/* The resource string of a request, as Nacos's joinResource builds it:
 * "<ns>:<group or *>:<type>/<name or *>", type "naming" or "config".
 * Returns 0, or NC_ETOOBIG when it does not fit in cap. */
int nc_auth_resource(char *buf, size_t cap, const char *ns, const char *group, const char *type,
                     const char *name);

/* 1 when a row (resource pattern, action) grants action ('r' or 'w') on
 * resource. The public namespace is "" in Nacos 2.x rows and "public" in
 * 3.x ones: a resource in either form matches a row in either form. */
int nc_auth_perm_grants(const char *pattern, const char *row_action, const char *resource,
                        char action);

/* 1 for "r", "w" and "rw". */
int nc_auth_action_valid(const char *action);

#endif
