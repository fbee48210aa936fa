/* persistent_citest: what the persistent-instance cluster tests
 * (test_persistent_cluster.c, test_persistent_failover.c) share: one
 * PostgreSQL and a 3-node cluster on it, gRPC connections to the nodes
 * closed at teardown, and waits on a node's query. Header-only; needs
 * cmocka included first. */
#ifndef PERSISTENT_CITEST_H
#define PERSISTENT_CITEST_H

#include "cluster_itest.h"
#include "nc_grpc_client.h"
#include "nc_testpg.h"
#include "persistent_itest.h"

#include <stdio.h>

typedef struct pct_env {
  nc_testpg *pg;
  nc_tcluster *c;
  nc_gcli_env *genv;
  char url_arg[256];
  nc_tw *tw[8];
  int n_tw;
} pct_env;

/* Starts PostgreSQL and 3 nodes on it; extra: more node args (NULL ok,
 * at most 8). */
static inline void pct_start(pct_env *e, const char *const *extra) {
  assert_int_equal(nc_testpg_start(&e->pg), 0);
  snprintf(e->url_arg, sizeof(e->url_arg), "--db-url=%s", nc_testpg_url(e->pg));
  const char *args[16] = {e->url_arg, "--db-timeout-ms=2000", "--push-merge-ms", "50"};
  int n = 4;
  for (int i = 0; extra && extra[i] && n < 15; i++)
    args[n++] = extra[i];
  args[n] = NULL;
  e->c = cit_start_opts(3, args, 1);
  assert_int_equal(nc_gcli_env_new(1, &e->genv), 0);
}

/* A gRPC connection to node i (waits for it to serve), closed at teardown. */
static inline nc_tw *pct_open(pct_env *e, int i) {
  nc_tw *tw = NULL;
  long long t0 = nc_test_now_ms();
  nc_tw_opts o = {.timeout_ms = 3000};
  while (nc_tw_connect(e->genv, nc_tcluster_node(e->c, i)->target, &o, &tw) != 0 &&
         nc_test_now_ms() - t0 < 20000) {
    tw = NULL;
    nc_test_sleep_ms(200); /* not ready yet (start-up snapshot) */
  }
  assert_non_null(tw);
  assert_true(e->n_tw < 8);
  e->tw[e->n_tw++] = tw;
  return tw;
}

/* Closes tw now (it was opened by pct_open). */
static inline void pct_close(pct_env *e, nc_tw *tw) {
  for (int i = 0; i < e->n_tw; i++)
    if (e->tw[i] == tw) {
      nc_tw_close(tw);
      e->tw[i] = NULL;
    }
}

static inline int pct_teardown(pct_env *e) {
  for (int i = 0; i < e->n_tw; i++)
    if (e->tw[i])
      nc_tw_close(e->tw[i]);
  e->n_tw = 0;
  int rc = e->c ? nc_tcluster_stop(e->c) : 0;
  e->c = NULL;
  nc_gcli_env_free(e->genv);
  e->genv = NULL;
  nc_testpg_free(e->pg);
  e->pg = NULL;
  return rc == 0 ? 0 : -1;
}

/* Hosts of svc in tw's query (-1 on a failure); healthy of the first into
 * *healthy when given. */
static inline int pct_hosts(nc_tw *tw, const char *svc, int *healthy) {
  nc_tw_service s = {0};
  nc_tw_reply r = nc_tw_query(tw, svc, &s);
  int n = nc_tw_ok(&r) ? s.nhosts : -1;
  if (healthy && n > 0)
    *healthy = s.hosts[0].healthy;
  nc_tw_service_free(&s);
  return n;
}

/* ms until tw's query shows want hosts of svc, -1 after timeout_ms. */
static inline long long pct_wait_hosts(nc_tw *tw, const char *svc, int want, int timeout_ms) {
  long long t0 = nc_test_now_ms();
  while (pct_hosts(tw, svc, NULL) != want) {
    if (nc_test_now_ms() - t0 > timeout_ms)
      return -1;
    nc_test_sleep_ms(50);
  }
  return nc_test_now_ms() - t0;
}

/* Subscribes tw to svc (the first push dropped). */
static inline void pct_subscribe(nc_tw *tw, const char *svc) {
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(tw, svc, 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
}

#endif
