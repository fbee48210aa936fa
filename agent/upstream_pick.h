/* nc_upick: the order in which the upstream thread tries the --servers.
 *
 * Connects go in rounds. A round lists every server once, best first by
 * what the agent last learned from a member list (nc_upick_learn): members
 * that were UP and ready, then servers the list did not name (or no list
 * yet), then members that were not UP or not ready; ties in random order,
 * and the server that just failed us last. The upstream thread walks a
 * round without pausing (a refused or still-starting node costs one quick
 * attempt) and backs off only when a whole round failed.
 *
 * Threading: used by the upstream thread only. */
#ifndef NC_UPSTREAM_PICK_H
#define NC_UPSTREAM_PICK_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "agent_opts.h"

typedef struct nc_upick nc_upick;

/* servers is borrowed and must outlive the picker. NULL on ENOMEM. */
nc_upick *nc_upick_new(const nc_server_addr *servers, size_t n, unsigned seed);
void nc_upick_free(nc_upick *p);
/* Starts a new round; avoid (an index, or -1) is placed last. */
void nc_upick_round(nc_upick *p, int avoid);
/* The next server of the round, or -1 when the round is used up. */
int nc_upick_next(nc_upick *p);
/* Learns member states from a Nacos member list (the `data` array of
 * GET /nacos/v1/core/cluster/nodes): a member is good when its state is
 * "UP" and extendInfo's "nc.ready" is not false. Servers the list does not
 * name become unknown again. Returns how many servers it named. */
int nc_upick_learn(nc_upick *p, const cJSON *members);
/* Server i just failed a connect: later rounds put it with the bad ones
 * until a member list says otherwise. */
void nc_upick_failed(nc_upick *p, int i);
/* What was learned of server i: 1 good, 0 unknown, -1 not UP or not ready. */
int nc_upick_rank(const nc_upick *p, int i);

#endif
