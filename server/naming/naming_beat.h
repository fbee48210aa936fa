/* naming_beat: instances registered over the HTTP open API (v1/v2), the
 * way Nacos keeps them: each ip:port is one ephemeral client with the id
 * "ip:port#true" (Nacos's IpPortBasedClient), owned by no connection and
 * kept alive by beats. Without a beat for unhealthy_ms an instance is
 * published unhealthy; without one for expire_ms it is deregistered (and
 * the client dropped with its last instance). A beat makes it healthy
 * again. An instance's metadata preserved.heart.beat.timeout and
 * preserved.ip.delete.timeout (ms, as Nacos reads them) override the two
 * timeouts for it.
 *
 * The instances live in naming's one registry (nc_naming_publish), so
 * gRPC subscribers are pushed them, queries list them and Distro
 * replicates the client like any other native one. Like Nacos, a client
 * publishes one instance per service (registering again with another
 * cluster replaces it).
 *
 * This module keeps, per (client, service), the instance as last
 * registered (JSON, §5.3), its last beat and whether it was marked
 * unhealthy. Loop thread only. */
#ifndef NAMING_BEAT_H
#define NAMING_BEAT_H

#include "naming_handlers.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct nc_nbeat nc_nbeat;

typedef struct nc_nbeat_opts {
  uint64_t unhealthy_ms; /* no beat this long: unhealthy; 0 = 15000 (Nacos) */
  uint64_t expire_ms;    /* no beat this long: removed; 0 = 30000 (Nacos) */
  uint64_t beat_interval_ms; /* what beat replies ask for (clientBeatInterval); 0 = 5000 */
} nc_nbeat_opts;

/* Starts the expiry timer on loop. n must outlive b. */
int nc_nbeat_new(uv_loop_t *loop, nc_naming *n, const nc_nbeat_opts *o, nc_nbeat **out);
/* Deregisters nothing (the registry goes with naming), stops the timer and
 * frees b once its handle is closed (run the loop afterwards). NULL ok. */
void nc_nbeat_free(nc_nbeat *b);

/* The client id of ip:port into buf ("ip:port#true"). */
const char *nc_nbeat_client_id(char *buf, size_t cap, const char *ip, int port);

/* Registers (or replaces) the instance inst (Instance JSON: ip, port,
 * weight, healthy, enabled, clusterName, metadata...) of service
 * (ns, group, name) and counts it as beaten now. inst is copied. NC_EINVAL
 * with *err a static message for an invalid instance (state untouched). */
int nc_nbeat_register(nc_nbeat *b, const char *ns, const char *group, const char *name,
                      const cJSON *inst, const char **err);
/* Removes ip:port's instance from the service: 0, or NC_ENOTFOUND. */
int nc_nbeat_deregister(nc_nbeat *b, const char *ns, const char *group, const char *name,
                        const char *ip, int port);
/* A beat for ip:port in the service: 0 (renewed, healthy again), or
 * NC_ENOTFOUND when this node holds no such instance. */
int nc_nbeat_beat(nc_nbeat *b, const char *ns, const char *group, const char *name,
                  const char *ip, int port);
/* The instance as registered (borrowed until the next mutating call), or
 * NULL. Its "healthy" is the current state. */
const cJSON *nc_nbeat_get(nc_nbeat *b, const char *ns, const char *group, const char *name,
                          const char *ip, int port);
/* ---- responsibility (nc_nroutes, in a cluster) ----
 * Only the responsible node of an ip:port#true client keeps it here and
 * runs its expiry; the others hold Distro's synced copy. */
/* Forgets every instance of client_id without unpublishing them (the
 * caller hands the client to its new owner); returns how many. */
size_t nc_nbeat_release(nc_nbeat *b, const char *client_id);
/* Calls fn for every client id held; fn must not change b (collect, then act). */
void nc_nbeat_each_client(const nc_nbeat *b, void (*fn)(void *ud, const char *client_id),
                          void *ud);
int nc_nbeat_holds(const nc_nbeat *b, const char *client_id);
uint64_t nc_nbeat_interval_ms(const nc_nbeat *b);

/* Runs one expiry pass at now_ms (the timer does this; tests call it). */
void nc_nbeat_check(nc_nbeat *b, uint64_t now_ms);

typedef struct nc_nbeat_stats {
  size_t instances, unhealthy, clients; /* clients: distinct ip:port#true ids */
  uint64_t beats_total, marked_unhealthy_total, expired_total;
} nc_nbeat_stats;
void nc_nbeat_get_stats(const nc_nbeat *b, nc_nbeat_stats *st);
void nc_nbeat_render_metrics(const nc_nbeat *b, nc_metrics_text *t);

#endif
