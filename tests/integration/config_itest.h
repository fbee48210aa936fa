/* Shared helpers of the config integration tests (header-only, static):
 * config clients and nacosd_* metrics on an nc_testfx fixture (one real
 * nacosd, the env, the clients). */
#ifndef CONFIG_ITEST_H
#define CONFIG_ITEST_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nc_json.h"
#include "nc_testfx.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

/* A config client (module "config") kept by the fixture; NULL on failure. */
static inline nc_tw *cfg_connect(nc_tfx *f, int no_auto_ack) {
  nc_tw_opts o = {.module = "config", .no_auto_ack = no_auto_ack};
  return nc_tfx_connect(f, &o);
}

/* Value of one nacosd_<name> metric, or -1. */
static inline long long srv_metric(const nc_tfx *f, const char *name) {
  char full[128];
  snprintf(full, sizeof(full), "nacosd_%s", name);
  return nc_tfx_metric(f, full);
}

/* Waits up to ms (scaled) for metric >= want; returns the last value. */
static inline long long srv_metric_wait(const nc_tfx *f, const char *name, long long want,
                                        int ms) {
  long long took;
  NC_TEST_POLL(srv_metric(f, name) >= want, ms, took);
  (void)took;
  return srv_metric(f, name);
}

/* cmocka setup/teardown: a plain nacosd in *state. */
static inline int cfg_setup(void **state) {
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(NULL, &f);
  *state = f;
  return rc == 0 ? 0 : -1;
}

/* A graceful stop must exit 0: under ASan that also means no leaks. */
static inline int cfg_teardown(void **state) { return nc_tfx_stop(*state) == 0 ? 0 : -1; }

#endif
