/* Host lists to subscribers (agent_hosts_out.c). Loop thread only. */
#ifndef NC_AG_HOSTS_OUT_H
#define NC_AG_HOSTS_OUT_H

#include "agent_int.h"
#include "reply.h"

/* 1 when a list stamped ref (nc_hosts_ref_time) is older than the one s
 * already holds from this connection (a subscribe or query answer
 * overtaken by a push). */
int nc_ag_hosts_older(const nc_st_svc *s, long long ref);
/* New hosts for a subscribed service (moved in): memory, disk, and
 * naming.changed to every subscriber whose view changed, except those in
 * waiting (apps whose subscribe reply is still outstanding get the list
 * there). A list older than the one held is dropped. */
void nc_ag_hosts_apply(nc_agent *ag, nc_st_svc *s, cJSON *hosts, long long ref,
                       const nc_ag_waiter *waiting);
/* Replies with hosts (borrowed) filtered by clusters and healthy_only;
 * *hash (may be NULL) gets the fingerprint of what was sent. */
void nc_ag_hosts_reply(nc_ipc_client *c, const cJSON *id, const cJSON *hosts,
                       const cJSON *clusters, int healthy_only, int stale, uint64_t *hash);
/* The same with the list stored in s. */
void nc_ag_hosts_reply_svc(nc_ipc_client *c, const cJSON *id, const nc_st_svc *s,
                           const cJSON *clusters, int healthy_only, int stale, uint64_t *hash);

#endif
