/* Registrations (agent_reg.c): naming.register / naming.deregister, the
 * merged per-service set sent upstream, and its redo. Loop thread only. */
#ifndef NC_AG_REG_H
#define NC_AG_REG_H

#include "agent_int.h"

/* naming.register, naming.deregister. */
extern const nc_ag_op nc_ag_reg_ops[];
/* nc_st_drop_owner callback: a closing app's instance left r. */
void nc_ag_naming_reg_changed(nc_agent *ag, nc_st_reg *r);
/* Replays every registration set on a new connection; returns how many.
 * then(ag) runs once all of them are answered (at once when there are
 * none), if the connection is still up. */
size_t nc_ag_reg_redo(nc_agent *ag, void (*then)(nc_agent *ag));
void nc_ag_reg_tick(nc_agent *ag);
void nc_ag_reg_disconnected(nc_agent *ag);

#endif
