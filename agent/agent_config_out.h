/* Config content to listeners (agent_config_out.c). Loop thread only. */
#ifndef NC_AG_CONFIG_OUT_H
#define NC_AG_CONFIG_OUT_H

#include "agent_int.h"
#include "reply.h"

/* Replies with content (borrowed; NULL: the key does not exist) and its
 * md5; listen adds `exists` to a found key's reply. */
void nc_ag_cfgout_reply(nc_ipc_client *c, const cJSON *id, const char *content, const char *md5,
                        int stale, int listen);
/* Sends config.changed with cfg's content to its listeners, except those
 * in skip (borrowed, may be NULL). */
void nc_ag_cfgout_changed(nc_st_cfg *cfg, const nc_ag_waiter *skip);
/* Stores what the server said about a key (content borrowed; NULL: absent):
 * memory (if listened) and disk. A config.get answer (from_get) leaves a
 * listened key alone. Returns 0 when nothing changed for a listened entry,
 * 1 when it was not known before and exists, 2 when its content changed. */
int nc_ag_cfgout_store(nc_agent *ag, const char *ns, const char *group, const char *data_id,
                       const char *content, int from_get);

#endif
