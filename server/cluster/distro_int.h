/* distro_int: Distro's private state, shared by distro.c (module,
 * receiver), distro_send.c (CHANGE/DELETE tasks, VERIFY) and
 * distro_load.c (start-up snapshot, serving snapshots). */
#ifndef DISTRO_INT_H
#define DISTRO_INT_H

#include "distro.h"
#include "distro_codec.h"
#include "nc_strmap.h"

#define NC_DISTRO_MAX_MEMBERS 64
/* errorCode of a SNAPSHOT refused because this node is still loading. */
#define NC_DISTRO_NOT_LOADED 503

enum { NC_DOP_CHANGE = 1, NC_DOP_DELETE = 2 };

/* One pending CHANGE/DELETE of a client to a peer. */
typedef struct nc_dtask {
  nc_distro *d;
  char *key; /* peer \x01 client */
  const char *client;        /* into key, after the peer and \x01 */
  int op, pending_op;        /* 0: idle (cooling down); pending: an event while in flight */
  uint64_t due, sent_at;
  int inflight, orphan; /* orphan: removed from the map while in flight */
} nc_dtask;

struct nc_distro {
  uv_loop_t *loop;
  nc_srv *srv;
  nc_cluster *cl;
  nc_naming *n;
  nc_nreg *reg;
  nc_distro_opts o; /* defaults resolved */
  uv_timer_t tick, verify, load;
  int closing, stopped;
  int kicked; /* the tick is set to run on this loop turn */
  nc_strmap *tasks;  /* key -> nc_dtask* */
  nc_strmap *digest; /* peer -> (void*)1 digest works, (void*)2 per-client VERIFY */
  /* start-up load */
  nc_cluster_hold *hold;
  int loaded, load_inflight;
  long load_offset;
  char load_peer[256];
  nc_strmap *load_marks; /* peer -> 1 still loading itself, 2 failed (this round) */
  uint64_t start_ms;
  nc_distro_stats st;
};

uint64_t nc_distro_now(void);
/* Members (self excluded) into out; returns the count. */
size_t nc_distro_peers(nc_distro *d, nc_member_info *out, size_t cap);
/* The member whose ip is ip, when exactly one is; else "". */
const char *nc_distro_owner_by_ip(nc_distro *d, const char *ip, char *buf, size_t cap);

/* distro_send.c */
void nc_distro_schedule(nc_distro *d, const char *peer, const char *client, int op, int delay_ms);
void nc_distro_on_client(void *ud, const char *client_id, int gone);
void nc_distro_on_tick(uv_timer_t *t);
void nc_distro_on_verify(uv_timer_t *t);
void nc_distro_tasks_free(nc_distro *d);

/* distro_load.c */
void nc_distro_on_load(uv_timer_t *t);
/* Answers a SNAPSHOT request (chunked for nacos-c requesters). */
void nc_distro_serve_snapshot(nc_distro *d, nc_req *r, const cJSON *body, const char *requester);

#endif
