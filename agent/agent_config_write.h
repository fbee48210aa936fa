/* Config writes (agent_config_write.c): config.publish, config.remove
 * (whose reply says whether the key existed). Loop thread only. */
#ifndef NC_AG_CONFIG_WRITE_H
#define NC_AG_CONFIG_WRITE_H

#include "agent_int.h"

extern const nc_ag_op nc_ag_config_write_ops[];

#endif
