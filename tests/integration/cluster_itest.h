/* cluster_itest: helpers of the cluster membership tests
 * (test_cluster_members*.c), header-only: a 3-node nc_testcluster whose
 * nodes get --members and --advertise-ip, and a member's state as another
 * node's HTTP member list shows it. */
#ifndef CLUSTER_ITEST_H
#define CLUSTER_ITEST_H

#include "nc_json.h"
#include "nc_testcluster.h"
#include "nc_testhttp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline void cit_members_args(void *ud, const nc_tcluster *c, int index, nc_targv *av) {
  const char *const *extra = ud;
  nc_targv_add(av, "--members");
  nc_targv_add(av, nc_tcluster_members(c));
  nc_targv_add(av, "--advertise-ip");
  nc_targv_add(av, nc_tcluster_node(c, index)->host);
  nc_targv_add_list(av, extra);
}

/* Starts n nodes that know each other; extra args for every node (NULL
 * ok). Each node has its own loopback address where it can (else, and with
 * cit_start_opts(n, extra, 1), all share 127.0.0.1 with distinct main ports; the
 * gRPC and cluster ports stay main+1000/+1001 so --members works either
 * way). */
static inline nc_tcluster *cit_start_opts(int n, const char *const *extra, int same_host) {
  nc_tcluster_opts o = {.nodes = n, .args_fn = cit_members_args, .ud = (void *)extra,
                        .same_host = same_host};
  nc_tcluster *c = NULL;
  assert_int_equal(nc_tcluster_start(&o, &c), 0);
  return c;
}
static inline nc_tcluster *cit_start(int n, const char *const *extra) {
  return cit_start_opts(n, extra, 0);
}

static inline char *cit_addr(const nc_tcluster *c, int i, char *buf, size_t cap) {
  const nc_test_nacosd *s = nc_tcluster_node(c, i);
  snprintf(buf, cap, "%s:%d", s->host, s->port);
  return buf;
}

/* GET path on node i; the parsed JSON body (caller frees) or NULL; *status
 * the HTTP status. */
static inline cJSON *cit_get_json(const nc_tcluster *c, int i, const char *path, int *status) {
  const nc_test_nacosd *s = nc_tcluster_node(c, i);
  char *body = NULL;
  int st = 0;
  cJSON *j = NULL;
  if (nc_test_http_get_at(s->host, s->port, path, &st, &body) == 0 && body)
    j = cJSON_Parse(body);
  free(body);
  if (status)
    *status = st;
  return j;
}

static inline void cit_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The state ("UP", ...) node viewer's v2 member list gives member target,
 * into buf; "" when the list cannot be read. Sleeps 100 ms first, so it
 * can be polled. */
static inline const char *cit_state(const nc_tcluster *c, int viewer, int target, char *buf,
                                    size_t cap) {
  char want[80];
  cit_sleep_ms(100);
  buf[0] = '\0';
  cJSON *j = cit_get_json(c, viewer, "/nacos/v2/core/cluster/node/list", NULL);
  const cJSON *m;
  cit_addr(c, target, want, sizeof(want));
  cJSON_ArrayForEach(m, cJSON_GetObjectItem(j, "data")) {
    if (strcmp(nc_json_str(m, "address", ""), want) == 0)
      snprintf(buf, cap, "%s", nc_json_str(m, "state", ""));
  }
  cJSON_Delete(j);
  return buf;
}

static inline int cit_is(const nc_tcluster *c, int viewer, int target, const char *state) {
  char b[32];
  return strcmp(cit_state(c, viewer, target, b, sizeof(b)), state) == 0;
}

/* 1 when each of the n nodes lists every member UP and reported: its
 * version and nc.ready came over the wire (MemberReport), not from the
 * list's defaults. Sleeps 100 ms when not, so it can be polled. */
static inline int cit_all_up(const nc_tcluster *c, int n) {
  for (int v = 0; v < n; v++) {
    cJSON *j = cit_get_json(c, v, "/nacos/v1/core/cluster/nodes", NULL);
    const cJSON *m;
    int up = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(j, "data")) {
      const cJSON *ext = cJSON_GetObjectItem(m, "extendInfo");
      up += strcmp(nc_json_str(m, "state", ""), "UP") == 0 &&
            strcmp(nc_json_str(ext, "version", ""), NC_VERSION) == 0 &&
            cJSON_IsTrue(cJSON_GetObjectItem(ext, "nc.ready"));
    }
    cJSON_Delete(j);
    if (up != n) {
      cit_sleep_ms(100);
      return 0;
    }
  }
  return 1;
}

#endif
