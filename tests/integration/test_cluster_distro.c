/* Distro between 3 real nodes (issue 10 acceptance 1): an instance
 * registered on node A is seen by queries on B and C and pushed to a
 * subscriber on C within 1 s at default settings; a deregistration on A
 * and A's client connection closing remove it everywhere; the node's
 * /metrics count the replication. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "distro_itest.h"

static void test_register_seen_and_pushed_everywhere(void **state) {
  (void)state;
  nc_tcluster *c = cit_start(3, NULL);
  nc_tw *a = dit_open(c, 0, 20000), *b = dit_open(c, 1, 20000), *sub = dit_open(c, 2, 20000);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(sub);
  nc_tw_service s;
  nc_tw_reply r = nc_tw_subscribe(sub, "dsvc", 1, &s);
  assert_true(nc_tw_ok(&r));
  assert_int_equal(s.nhosts, 0);
  nc_tw_service_free(&s);
  int pushes0 = nc_tw_push_count(sub, "NotifySubscriberRequest");

  nc_tw_instance in = {.ip = "10.9.0.1", .port = 7001, .weight = 3,
                       .metadata = (const char *const[]){"k", "v", NULL}};
  long long t0 = dit_now_ms();
  r = nc_tw_register(a, "dsvc", &in);
  assert_true(nc_tw_ok(&r));
  long long seen_b = -1, pushed_c = -1;
  NC_TEST_POLL(dit_hosts(b, "dsvc") == 1, 5000, seen_b);
  NC_TEST_POLL(dit_last_pushed(sub, "dsvc") == 1, 5000, pushed_c);
  long long total = dit_now_ms() - t0;
  fprintf(stderr, "distro: visible on B after %lld ms, pushed on C after %lld ms\n", seen_b,
          total);
  assert_true(seen_b >= 0);
  assert_true(pushed_c >= 0);
  assert_true(total <= nc_test_timeout_ms(1000));
  assert_true(nc_tw_push_count(sub, "NotifySubscriberRequest") > pushes0);
  /* the copy on C is the instance as registered */
  r = nc_tw_query(sub, "dsvc", &s);
  assert_true(nc_tw_ok(&r));
  assert_int_equal(s.nhosts, 1);
  assert_string_equal(s.hosts[0].ip, "10.9.0.1");
  assert_int_equal(s.hosts[0].port, 7001);
  assert_true(s.hosts[0].weight == 3);
  assert_string_equal(nc_json_str(cJSON_GetObjectItemCaseSensitive(
                                      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(
                                                             s.info, "hosts"),
                                                         0),
                                      "metadata"),
                                  "k", ""),
                      "v");
  nc_tw_service_free(&s);
  /* service lists show the whole cluster */
  long long count = 0;
  r = nc_tw_service_list(b, 1, 10, &count, NULL);
  assert_true(nc_tw_ok(&r));
  assert_true(count >= 1);

  /* deregister on A: gone on B and C */
  r = nc_tw_deregister(a, "dsvc", &in);
  assert_true(nc_tw_ok(&r));
  NC_TEST_WAIT(dit_hosts(b, "dsvc") == 0, 3000);
  NC_TEST_WAIT(dit_hosts(sub, "dsvc") == 0, 3000);
  NC_TEST_WAIT(dit_last_pushed(sub, "dsvc") == 0, 3000);

  /* register again, then A's client goes: gone everywhere */
  r = nc_tw_register(a, "dsvc", &in);
  assert_true(nc_tw_ok(&r));
  NC_TEST_WAIT(dit_hosts(sub, "dsvc") == 1, 3000);
  NC_TEST_WAIT(dit_hosts(b, "dsvc") == 1, 3000);
  nc_tw_close(a);
  NC_TEST_WAIT(dit_hosts(b, "dsvc") == 0, 5000);
  NC_TEST_WAIT(dit_hosts(sub, "dsvc") == 0, 5000);
  NC_TEST_WAIT(dit_last_pushed(sub, "dsvc") == 0, 5000);
  /* A counted its sends and acks; C holds no synced client any more */
  assert_true(nc_tcluster_metric(c, 0, "nacosd_distro_sent_total") >= 6);
  assert_true(nc_tcluster_metric(c, 0, "nacosd_distro_acked_total") >= 6);
  assert_int_equal(nc_tcluster_metric(c, 2, "nacosd_naming_synced_clients"), 0);
  nc_tw_close(b);
  nc_tw_close(sub);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

/* A burst of changes of one client merges: with a 1 s window, 20 services
 * registered at once reach the peer in far fewer than 20 requests, and
 * all of them arrive. */
static void test_burst_merges_and_arrives(void **state) {
  (void)state;
  nc_tcluster *c = cit_start(3, NULL);
  nc_tw *a = dit_open(c, 0, 20000), *b = dit_open(c, 1, 20000);
  assert_non_null(a);
  assert_non_null(b);
  long long sent0 = nc_tcluster_metric(c, 0, "nacosd_distro_sent_total");
  for (int i = 0; i < 20; i++) {
    char svc[32];
    snprintf(svc, sizeof(svc), "burst-%d", i);
    nc_tw_instance in = {.ip = "10.9.1.1", .port = 100 + i};
    nc_tw_reply r = nc_tw_register(a, svc, &in);
    assert_true(nc_tw_ok(&r));
  }
  NC_TEST_WAIT(dit_hosts(b, "burst-19") == 1, 5000);
  for (int i = 0; i < 20; i++) {
    char svc[32];
    snprintf(svc, sizeof(svc), "burst-%d", i);
    assert_int_equal(dit_hosts(b, svc), 1);
  }
  long long sent = nc_tcluster_metric(c, 0, "nacosd_distro_sent_total") - sent0;
  fprintf(stderr, "distro: 20 registrations took %lld CHANGE requests (2 peers)\n", sent);
  assert_true(sent <= 8);
  nc_tw_close(a);
  nc_tw_close(b);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

static int cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return x < y ? -1 : x > y;
}

/* distro_visible_ms: 40 clients of A each register once; the time until a
 * query on C shows the instance, p50 and p99 (goal p99 <= 1000 ms). */
static void test_visible_latency(void **state) {
  (void)state;
  enum { N = 40 };
  nc_tcluster *c = cit_start(3, NULL);
  nc_tw *q = dit_open(c, 2, 20000), *tw[N];
  long long ms[N];
  assert_non_null(q);
  for (int i = 0; i < N; i++) {
    tw[i] = dit_open(c, 0, 20000);
    assert_non_null(tw[i]);
  }
  for (int i = 0; i < N; i++) {
    char svc[32], ip[32];
    snprintf(svc, sizeof(svc), "lat-%d", i);
    snprintf(ip, sizeof(ip), "10.10.0.%d", i + 1);
    nc_tw_instance in = {.ip = ip, .port = 1};
    long long t0 = dit_now_ms();
    nc_tw_reply r = nc_tw_register(tw[i], svc, &in);
    assert_true(nc_tw_ok(&r));
    long long w = -1;
    NC_TEST_POLL(dit_hosts(q, svc) == 1, 5000, w);
    assert_true(w >= 0);
    ms[i] = dit_now_ms() - t0;
  }
  qsort(ms, N, sizeof(ms[0]), cmp_ll);
  long long p50 = ms[N / 2], p99 = ms[N - 1];
  fprintf(stderr, "distro_visible_ms (register on A -> query on C): p50 %lld, p99 %lld\n", p50,
          p99);
  assert_true(p99 <= nc_test_timeout_ms(1000));
  for (int i = 0; i < N; i++)
    nc_tw_close(tw[i]);
  nc_tw_close(q);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

/* The second layout: every node on one address with distinct
 * ports (127.0.0.1:P, P+2, P+4, each with gRPC +1000 and cluster +1001):
 * members see each other and a registration on node 0 reaches node 2. */
static void test_one_address_distinct_ports(void **state) {
  (void)state;
  nc_tcluster *c = cit_start_opts(3, NULL, 1);
  assert_true(nc_tcluster_same_host(c));
  NC_TEST_WAIT(cit_all_up(c, 3), 10000);
  nc_tw *a = dit_open(c, 0, 20000), *sub = dit_open(c, 2, 20000);
  assert_non_null(a);
  assert_non_null(sub);
  nc_tw_instance in = {.ip = "10.9.5.1", .port = 7101};
  nc_tw_reply r = nc_tw_register(a, "onehost", &in);
  assert_true(nc_tw_ok(&r));
  NC_TEST_WAIT(dit_hosts(sub, "onehost") == 1, 5000);
  r = nc_tw_deregister(a, "onehost", &in);
  assert_true(nc_tw_ok(&r));
  NC_TEST_WAIT(dit_hosts(sub, "onehost") == 0, 5000);
  nc_tw_close(a);
  nc_tw_close(sub);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_seen_and_pushed_everywhere),
      cmocka_unit_test(test_burst_merges_and_arrives),
      cmocka_unit_test(test_visible_latency),
      cmocka_unit_test(test_one_address_distinct_ports),
  };
  DIT_MAIN(tests);
}
