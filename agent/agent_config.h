/* Config ops (agent_config.c): config.get, config.publish, config.remove,
 * config.listen, config.unlisten, server pushes, and the config side of
 * connect / disconnect / tick. Loop thread only. */
#ifndef NC_AG_CONFIG_H
#define NC_AG_CONFIG_H

#include "agent_int.h"

extern const nc_ag_op nc_ag_config_ops[];
void nc_ag_config_push(nc_agent *ag, const cJSON *body);
void nc_ag_config_redo(nc_agent *ag);
void nc_ag_config_disconnected(nc_agent *ag);
/* all: re-listen every key, not only the unconfirmed ones. */
void nc_ag_config_tick(nc_agent *ag, int all);
/* nc_st_drop_owner callback for a closing client's last listen on cfg. */
void nc_ag_config_cfg_unused(nc_agent *ag, nc_st_cfg *cfg);

#endif
