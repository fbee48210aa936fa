/* Distro at the bench size: a node holding 30,000 instances of
 * 3,000 clients (fed to it as a peer's CHANGEs on its cluster port) serves
 * them as a paged snapshot to a restarted node, which becomes ready with
 * all of them within 5 s (scaled). Prints the ready time, the chunks and
 * the holder's resident memory per synced instance (sanitizer builds
 * inflate it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "distro_codec.h"
#include "nc_err.h"
#include "distro_itest.h"

#include <signal.h>

#define CLIENTS 3000
#define PER 10

static long rss_kb(pid_t pid) {
  char path[64], line[256];
  long kb = -1;
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, "VmRSS:", 6) == 0)
      kb = atol(line + 6);
  if (f)
    fclose(f);
  return kb;
}

/* One ClientSyncData of client i: PER instances in service scale-<i%100>. */
static cJSON *sync_data(int i) {
  char js[4096], id[64];
  int n = 0;
  snprintf(id, sizeof(id), "1700000000000_10.%d.%d.1_%d", i / 250, i % 250, 40000 + i);
  n += snprintf(js + n, sizeof(js) - n,
                "{\"clientId\":\"%s\",\"attributes\":{\"clientAttributes\":{\"revision\":1}},"
                "\"namespaces\":[],\"groupNames\":[],\"serviceNames\":[],"
                "\"instancePublishInfos\":[],\"batchInstanceData\":{\"namespaces\":[\"public\"],"
                "\"groupNames\":[\"DEFAULT_GROUP\"],\"serviceNames\":[\"scale-%d\"],"
                "\"batchInstancePublishInfos\":[{\"instancePublishInfos\":[",
                id, i % 100);
  for (int k = 0; k < PER; k++)
    n += snprintf(js + n, sizeof(js) - n,
                  "%s{\"ip\":\"10.%d.%d.%d\",\"port\":%d,\"healthy\":true,\"cluster\":\"DEFAULT\","
                  "\"extendDatum\":{\"app\":\"bench\"}}",
                  k ? "," : "", i / 250, i % 250, k + 1, 8000 + k);
  snprintf(js + n, sizeof(js) - n, "]}]}}");
  return cJSON_Parse(js);
}

static void test_restart_with_30000_instances(void **state) {
  (void)state;
  static const char *const extra[] = {"--distro-grace-ms", "600000", NULL};
  nc_tcluster *c = cit_start(3, extra);
  char target[80], owner[80];
  snprintf(target, sizeof(target), "%s:%d", nc_tcluster_node(c, 1)->host,
           nc_tcluster_node(c, 1)->cluster_port);
  cit_addr(c, 2, owner, sizeof(owner));
  nc_tw *b = dit_open(c, 1, 20000);
  assert_non_null(b);
  nc_tw *peer = nc_tw_open(g_env, target, NULL);
  assert_non_null(peer);
  long rss0 = rss_kb(nc_tcluster_node(c, 1)->proc.pid);
  long long t0 = dit_now_ms();
  for (int i = 0; i < CLIENTS; i++) {
    cJSON *data = sync_data(i);
    assert_non_null(data);
    const char *id = nc_json_str(data, "clientId", "");
    cJSON *body = nc_distro_request("CHANGE", NULL, id, NULL, data, owner);
    cJSON_Delete(data);
    nc_tw_reply r = nc_tw_call_reply(peer, "DistroDataRequest", body);
    assert_int_equal(r.result_code, 200);
  }
  long long fed = dit_now_ms() - t0;
  assert_int_equal(dit_hosts(b, "scale-0"), CLIENTS / 100 * PER);
  long rss1 = rss_kb(nc_tcluster_node(c, 1)->proc.pid);

  assert_int_equal(nc_tcluster_kill_node(c, 0, SIGKILL), 128 + SIGKILL);
  long long t1 = dit_now_ms();
  assert_int_equal(nc_tcluster_restart_node(c, 0), 0);
  nc_tw *a = dit_open(c, 0, 30000);
  assert_non_null(a);
  long long ready = dit_now_ms() - t1;
  long long chunks = nc_tcluster_metric(c, 0, "nacosd_distro_snapshot_chunks_total");
  long long clients = nc_tcluster_metric(c, 0, "nacosd_distro_snapshot_clients_total");
  long long load_ms = nc_tcluster_metric(c, 0, "nacosd_distro_load_ms");
  fprintf(stderr,
          "distro scale: %d CHANGEs applied in %lld ms; restart_ready %lld ms (load %lld ms, "
          "%lld clients in %lld chunks); holder RSS +%ld KiB = %.0f bytes per synced "
          "instance\n",
          CLIENTS, fed, ready, load_ms, clients, chunks, rss1 - rss0,
          (double)(rss1 - rss0) * 1024.0 / (CLIENTS * PER));
  assert_int_equal(clients, CLIENTS);
  assert_true(chunks >= 2);
  assert_true(ready <= nc_test_timeout_ms(5000));
  for (int s = 0; s < 100; s += 33)
    {
      char svc[32];
      snprintf(svc, sizeof(svc), "scale-%d", s);
      assert_int_equal(dit_hosts(a, svc), CLIENTS / 100 * PER);
    }
  nc_tw_close(a);
  nc_tw_close(peer);
  nc_tw_close(b);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_restart_with_30000_instances),
  };
  DIT_MAIN(tests);
}
