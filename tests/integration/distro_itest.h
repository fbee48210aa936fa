/* distro_itest: helpers of the Distro cluster tests (test_cluster_distro*.c),
 * header-only, on cluster_itest.h: connecting a wire client to a node once
 * it is ready (ServerCheck is refused before), a node's host count for a
 * service, and the fewest hosts a subscriber's pushes showed. */
#ifndef DISTRO_ITEST_H
#define DISTRO_ITEST_H

#include "cluster_itest.h"
#include "nc_grpc.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

static nc_gcli_env *g_env;

static long long dit_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client of node i, retried while the node is not ready (up to
 * timeout_ms, scaled); NULL when it never was. */
static nc_tw *dit_open(const nc_tcluster *c, int i, int timeout_ms) {
  nc_tw *tw = NULL;
  nc_test_deadline d = nc_test_deadline_start(timeout_ms);
  nc_tw_opts o = {.timeout_ms = 2000};
  while (nc_tw_connect(g_env, nc_tcluster_node(c, i)->target, &o, &tw) != 0) {
    tw = NULL;
    if (!nc_test_deadline_tick(&d))
      break;
  }
  return tw;
}

/* Hosts of svc as node i's query answers; -1 on failure. */
static int dit_hosts(nc_tw *tw, const char *svc) { return nc_tw_query_hosts(tw, svc); }

/* The fewest hosts in tw's pushes for svc from push index from on; -1 when
 * there is none. */
static int dit_min_pushed(nc_tw *tw, const char *svc, int from) {
  int n = nc_tw_push_count(tw, "NotifySubscriberRequest"), min = -1;
  for (int i = from; i < n; i++) {
    cJSON *b = nc_tw_push_get(tw, "NotifySubscriberRequest", i, NULL, 0);
    const cJSON *si = cJSON_GetObjectItemCaseSensitive(b, "serviceInfo");
    if (si && strcmp(nc_json_str(si, "name", ""), svc) == 0) {
      int h = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(si, "hosts"));
      if (min < 0 || h < min)
        min = h;
    }
    cJSON_Delete(b);
  }
  return min;
}

/* Hosts in tw's newest push for svc; -1 when there is none. */
static int dit_last_pushed(nc_tw *tw, const char *svc) {
  int n = nc_tw_push_count(tw, "NotifySubscriberRequest");
  for (int i = n - 1; i >= 0; i--) {
    cJSON *b = nc_tw_push_get(tw, "NotifySubscriberRequest", i, NULL, 0);
    const cJSON *si = cJSON_GetObjectItemCaseSensitive(b, "serviceInfo");
    int h = -1;
    if (si && strcmp(nc_json_str(si, "name", ""), svc) == 0)
      h = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(si, "hosts"));
    cJSON_Delete(b);
    if (h >= 0)
      return h;
  }
  return -1;
}

/* The main body of every Distro test program: gRPC and the client env
 * around the cmocka run. */
#define DIT_MAIN(tests)                                                                            \
  do {                                                                                             \
    nc_grpc_init();                                                                                \
    if (nc_gcli_env_new(1, &g_env) != 0)                                                           \
      return 1;                                                                                    \
    int rc_ = NC_TEST_MAIN(tests);                                                                 \
    nc_gcli_env_free(g_env);                                                                       \
    nc_grpc_shutdown();                                                                            \
    return rc_;                                                                                    \
  } while (0)

/* Not every program uses every helper. */
__attribute__((unused)) static void dit_refs_(void) {
  (void)cit_is;
  (void)dit_min_pushed;
  (void)dit_last_pushed;
  (void)dit_hosts;
  (void)dit_open;
  (void)dit_now_ms;
}

#endif
