/* policy: which namespaces a local user may read or write through the
 * agent (issue 12), from --uid-policy:
 *
 *   UID:MODE:NS[,NS...][;UID:MODE:NS...]   MODE r or rw; NS a namespace
 *                                          ("public" = the default) or *
 *
 * e.g. "1000:rw:dev;1000:r:public;1001:r:*". A uid with no entry is not
 * restricted (nor is root); a listed uid may use only what its entries
 * grant. The check runs on every request naming a namespace (the
 * "namespace" field, "public" when absent): naming.register/deregister,
 * config.publish/remove/rollback need w, the rest r. */
#ifndef NC_AG_POLICY_H
#define NC_AG_POLICY_H

#include <stddef.h>

typedef struct nc_ag_policy nc_ag_policy;

/* NULL or "" spec: *out = NULL (no policy). NC_EINVAL with a message in
 * err for a malformed spec. */
int nc_ag_policy_parse(const char *spec, nc_ag_policy **out, char *err, size_t cap);
void nc_ag_policy_free(nc_ag_policy *p);

/* 1 when uid may do mode ('r' or 'w') on ns (NULL/"" = "public"). A NULL
 * policy allows everything; uid -1 (unknown) only what the policy grants
 * to nobody, i.e. nothing when a policy exists. */
int nc_ag_policy_allows(const nc_ag_policy *p, long uid, const char *ns, char mode);

/* The mode an op needs: 'w', 'r', or 0 for ops that name no namespace
 * (agent.*). */
char nc_ag_policy_op_mode(const char *op);

#endif
