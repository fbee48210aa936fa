/* Listing ops for operators and nacosctl (agent_admin.c): naming.services,
 * config.list, config.history. Each is one upstream request whose answer
 * is reshaped into the reply; no local state. Loop thread only. */
#ifndef NC_AG_ADMIN_H
#define NC_AG_ADMIN_H

#include "agent_int.h"

extern const nc_ag_op nc_ag_admin_ops[];

#endif
