/* distro: Distro replication of ephemeral naming data between cluster
 * members (nacos-cluster.md §3), on top of cluster.h and naming.
 *
 * - Receiver: the DistroDataRequest handler (cluster port only) for
 *   CHANGE/ADD/DELETE/VERIFY/SNAPSHOT/QUERY. Remote data never modifies a
 *   client native here (logged, answered with success; §6.3).
 * - Sender: a native client's change schedules CHANGE (DELETE when it
 *   goes) to every peer, merged over delay_ms anchored on the first event
 *   (newest action wins) on the window's leading edge: a client quiet for
 *   a window is sent at once, what follows within delay_ms of that send
 *   goes out together when the window ends. Sent only to UP connected
 *   members, acked, and retried every retry_ms on failure.
 * - VERIFY every verify_ms once loaded: one digest message per peer per
 *   period between nacos-c peers ({clientId: revision}); a peer that does
 *   not understand it (a Java peer) gets one VERIFY per client. A failed
 *   verify triggers an immediate CHANGE to that peer.
 * - Start-up: readiness is held until a snapshot from a peer was applied
 *   (paged in chunks well under 4 MiB) or every peer was found DOWN or
 *   itself still loading (a full restart). The snapshot a peer serves
 *   excludes the requester's own clients.
 * - A member that goes DOWN (or asks for a snapshot: it restarted) keeps
 *   its synced clients for grace_ms, so a client failing over to another
 *   node is replaced in place without a vanish for subscribers.
 * Standalone: nothing is sent and readiness is not held.
 * Loop thread only. */
#ifndef DISTRO_H
#define DISTRO_H

#include "cluster.h"
#include "naming_handlers.h"

typedef struct nc_distro nc_distro;

typedef struct nc_distro_opts {
  int delay_ms;          /* merge window; 0 = 1000 (-1: none) */
  int retry_ms;          /* 0 = 3000 */
  int timeout_ms;        /* sync and verify requests; 0 = 3000 */
  int verify_ms;         /* 0 = 5000 */
  int expire_ms;         /* synced clients not renewed; 0 = 180000 */
  int grace_ms;          /* after the owner went DOWN; 0 = 15000 */
  int load_retry_ms;     /* snapshot round period; 0 = 500 */
  int snapshot_timeout_ms; /* one chunk; 0 = 30000 */
  int chunk_bytes;       /* snapshot chunk target; 0 = 1 MiB */
} nc_distro_opts;

typedef struct nc_distro_stats {
  uint64_t sent, acked, retried, failed, verify_sent, verify_mismatches;
  uint64_t received, refused_native, snapshot_chunks, snapshot_clients;
  uint64_t snapshot_ms; /* start to loaded */
  int loaded;
  size_t queued;        /* pending (client, peer) tasks */
} nc_distro_stats;

/* Registers the handler and listeners; takes the readiness hold in
 * cluster mode. Every argument must outlive the module. */
int nc_distro_new(uv_loop_t *loop, nc_srv *srv, nc_cluster *cl, nc_naming *n,
                  const nc_distro_opts *opts, nc_distro **out);
int nc_distro_start(nc_distro *d);
/* Stops timers and sends; in-flight sends resolve when the cluster stops. */
void nc_distro_stop(nc_distro *d);
/* After nc_cluster_stop (every send callback has run). */
void nc_distro_free(nc_distro *d);

void nc_distro_get_stats(const nc_distro *d, nc_distro_stats *st);
void nc_distro_render_metrics(const nc_distro *d, nc_metrics_text *t);

#endif
