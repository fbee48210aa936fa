/* nc_agent: the nacos-agent daemon object. Owns the libuv loop's local
 * socket server (nc_ipc_srv), the desired state (nc_st), the disk cache
 * (nc_cache) and the upstream connection (nc_up), and implements the local
 * protocol of ipc-protocol.md on top of them. Everything here runs on the
 * loop thread; only nc_up has a thread of its own. */
#ifndef NC_AGENT_H
#define NC_AGENT_H

#include <uv.h>

#include "agent_opts.h"

typedef struct nc_agent nc_agent;

/* cfg is borrowed for the agent's lifetime. On success the socket is
 * listening and the upstream thread is running. */
int nc_agent_new(uv_loop_t *loop, const nc_agent_cfg *cfg, nc_agent **out);
/* Begins an orderly shutdown: stops the upstream thread, closes every
 * client and the listener, removes the socket file. The loop then runs
 * out of handles and uv_run returns; call nc_agent_free after that. */
void nc_agent_stop(nc_agent *ag);
void nc_agent_free(nc_agent *ag);

#endif
