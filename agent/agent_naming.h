/* Subscriptions and queries (agent_naming.c): naming.subscribe,
 * naming.unsubscribe, naming.instances, server pushes, and the naming
 * side of connect / disconnect / tick. Loop thread only. */
#ifndef NC_AG_NAMING_H
#define NC_AG_NAMING_H

#include "agent_int.h"

extern const nc_ag_op nc_ag_naming_ops[];
void nc_ag_naming_push(nc_agent *ag, const cJSON *body);
/* New connection: registrations first, then subscriptions. */
void nc_ag_naming_redo(nc_agent *ag);
void nc_ag_naming_disconnected(nc_agent *ag);
void nc_ag_naming_tick(nc_agent *ag);
/* nc_st_drop_owner callback for a closing client's last subscription. */
void nc_ag_naming_svc_unused(nc_agent *ag, nc_st_svc *s);

#endif
