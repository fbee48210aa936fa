/* The loop's view of the upstream link: whether it is up and to which
 * server, requests sent on it, and what apps are told about it (events to
 * every app, the "server" field of replies). Loop thread only. */
#ifndef NC_AG_LINK_H
#define NC_AG_LINK_H

#include "agent_int.h"

/* Sends a request upstream on the current connection (fails with
 * NC_EUNAVAIL when there is none). cb runs exactly once, later; while the
 * agent stops (NC_ECLOSED) or when the queue is full (NC_EBUSY) it runs
 * synchronously, so call this last. */
int nc_ag_up(nc_agent *ag, const char *type, cJSON *body, nc_up_done_cb cb, void *ud);
/* Sends obj to every open client. */
void nc_ag_broadcast(nc_agent *ag, const cJSON *obj);
/* Adds "server": the upstream "host:port" while connected, else null. */
void nc_ag_add_server(nc_agent *ag, cJSON *o);
/* Connection gen to server is up: records it and tells every app
 * (agent.upstream "connected"). The caller then redoes its state. */
void nc_ag_link_connected(nc_agent *ag, uint64_t gen, const char *server, const char *conn_id);
/* Connection gen went down. Returns 1 when it was the current one (the
 * caller then drops per-connection state and calls nc_ag_link_announce_down),
 * 0 for a stale report. */
int nc_ag_link_disconnected(nc_agent *ag, uint64_t gen);
/* Tells every app the link is down (agent.upstream "disconnected"). */
void nc_ag_link_announce_down(nc_agent *ag);

#endif
