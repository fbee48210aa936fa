/* Shared helpers of the config integration tests (header-only, static):
 * one real nacosd (a one-node nc_testcluster on 127.0.0.1, ports read back)
 * started, killed and restarted on its data dir, its /metrics, and config
 * clients from nc_testwire. */
#ifndef CONFIG_ITEST_H
#define CONFIG_ITEST_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nc_json.h"
#include "nc_testcluster.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

/* A nacosd under test; zero-initialise, set extra before srv_start. */
typedef struct cfg_srv {
  nc_tcluster *cl;      /* NULL before the first start and after srv_finish */
  const char *extra[8]; /* extra nacosd arguments, NULL-terminated */
} cfg_srv;

/* The node (address, ports, target, proc); valid while s->cl is set. */
static inline nc_test_nacosd *srv_node(const cfg_srv *s) { return nc_tcluster_node(s->cl, 0); }

/* Starts nacosd; again after srv_stop, on the same ports and data dir. */
static inline int srv_start(cfg_srv *s) {
  if (s->cl)
    return nc_tcluster_restart_node(s->cl, 0);
  nc_tcluster_opts o = {.nodes = 1, .port0 = 1, .args = s->extra[0] ? s->extra : NULL};
  return nc_tcluster_start(&o, &s->cl);
}

/* SIGTERM (log dumped on an unclean exit) or another signal; reaps and
 * returns the exit code, or 128+signal. */
static inline int srv_stop(cfg_srv *s, int sig) {
  return sig == SIGTERM ? nc_tcluster_stop_node(s->cl, 0) : nc_tcluster_kill_node(s->cl, 0, sig);
}

/* Graceful end of a test: SIGTERM, the temp dir removed. Returns 0 when
 * nacosd exited 0 (under ASan that also means no leaks). */
static inline int srv_finish(cfg_srv *s) {
  int rc = nc_tcluster_stop(s->cl);
  s->cl = NULL;
  return rc;
}

/* End without judging the exit (a test that killed it, a failed setup). */
static inline void srv_cleanup(cfg_srv *s) {
  if (s->cl && nc_tcluster_node_alive(s->cl, 0))
    nc_tcluster_kill_node(s->cl, 0, SIGKILL);
  srv_finish(s);
}

/* Value of one nacosd_<name> metric, or -1. */
static inline long long srv_metric(const cfg_srv *s, const char *name) {
  char full[128];
  snprintf(full, sizeof(full), "nacosd_%s", name);
  return nc_tcluster_metric(s->cl, 0, full);
}

/* Waits up to ms (scaled) for metric >= want; returns the last value. */
static inline long long srv_metric_wait(const cfg_srv *s, const char *name, long long want,
                                        int ms) {
  long long took;
  NC_TEST_POLL(srv_metric(s, name) >= want, ms, took);
  (void)took;
  return srv_metric(s, name);
}

/* A config client (module "config"); NULL on failure. */
static inline nc_tw *cfg_connect(nc_gcli_env *env, const cfg_srv *s, int no_auto_ack) {
  nc_tw_opts o = {.module = "config", .no_auto_ack = no_auto_ack};
  return nc_tw_open(env, srv_node(s)->target, &o);
}

#endif
