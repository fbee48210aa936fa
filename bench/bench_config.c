/* bench_config: config load program for nacosd over the repo's own client
 * transport. Prints `name: value` lines:
 *   config_publish_tps  ConfigPublishRequests acked per second; each ack
 *                       means the write is durable (fsynced group commit);
 *                       many in flight over several connections
 *   config_get_qps      ConfigQueryRequests per second (pipelined)
 *   config_notify_ms    one publish -> N listener connections all notified
 *                       and the server counted all N acks (median of rounds)
 *
 * Spawns the built nacosd (--nacosd PATH overrides the binary next to this
 * one) on ephemeral loopback ports with a temp data dir, or targets a
 * running one: --target host:grpcport --http-port P. Knobs: --conns N (8),
 * --window N (in flight per connection, 128), --publishes N (50000),
 * --gets N (100000), --keys N (distinct dataIds, 1000), --content-bytes N
 * (64), --listeners N (5000), --rounds N (3), --server-threads N (1). */
#include "bench_util.h"
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_json.h"
#include "nc_log.h"
#include "nc_payload.h"
#include "nc_wire_client.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- pipelined unary load over raw client connections ---- */

/* A registered connection labelled module=config, like a config SDK's. */
static nc_gcli *load_conn(nc_gcli_env *env, const char *target) {
  nc_gcli_stream_cbs cbs = {nc_bench_noop_msg, nc_bench_noop_closed};
  return nc_bench_conn_open(env, target, "config", &cbs, NULL, NULL);
}

typedef enum { OP_PUBLISH, OP_GET } op_kind;

typedef struct load_req {
  op_kind op;
  int keys;
  const char *content;
} load_req;

static const char *build_req(void *ud, long i, int ci, char *json, size_t cap) {
  const load_req *q = ud;
  (void)ci;
  if (q->op == OP_PUBLISH) {
    snprintf(json, cap,
             "{\"headers\":{},\"dataId\":\"bench-%ld\",\"group\":\"DEFAULT_GROUP\","
             "\"tenant\":\"\",\"content\":\"%s %ld\",\"additionMap\":{\"type\":\"text\","
             "\"appName\":\"bench\"},\"module\":\"config\"}",
             i % q->keys, q->content, i);
    return "ConfigPublishRequest";
  }
  snprintf(json, cap,
           "{\"headers\":{},\"dataId\":\"bench-%ld\",\"group\":\"DEFAULT_GROUP\","
           "\"tenant\":\"\",\"module\":\"config\"}",
           i % q->keys);
  return "ConfigQueryRequest";
}

/* Runs n calls spread over the connections, `window` in flight per
 * connection; returns successful calls per second. */
static double run_load(nc_gcli **conns, int nconns, long n, int window, op_kind op, int keys,
                       const char *content, long *failed) {
  load_req q = {op, keys, content};
  return nc_bench_run_load(conns, nconns, n, window, 30000, strlen(content) + 512, build_req, &q,
                           failed);
}

/* ---- notify fan-out ----
 * The listeners are lean on purpose: in production they sit on other
 * machines, here they share the 2 cores with the server. Each push is
 * recognised and acked from its raw bytes (the JSON body travels verbatim
 * inside the Payload) instead of being fully decoded. */

static atomic_int g_notified;

static void lean_msg(void *ud, const uint8_t *data, size_t len) {
  nc_gcli **c = ud;
  if (nc_bench_lean_ack(*c, data, len, "ConfigChangeNotifyRequest",
                        "ConfigChangeNotifyResponse") == 1)
    atomic_fetch_add(&g_notified, 1);
}

/* Runs on the opening thread once a listener connection is up. */
static int listen_notify_key(nc_gcli *c, void *ud) {
  (void)ud;
  const char *json = "{\"headers\":{},\"listen\":true,\"module\":\"config\","
                     "\"configListenContexts\":[{\"dataId\":\"bench-notify\",\"group\":"
                     "\"DEFAULT_GROUP\",\"tenant\":\"\",\"md5\":\"\"}]}";
  long long ec = -1;
  return nc_bench_call_json(c, "ConfigBatchListenRequest", json, &ec) != 0 || ec != 0;
}

int main(int argc, char **argv) {
  const char *target_arg = NULL, *nacosd = NULL;
  int conns = 8, window = 128, keys = 1000, content_bytes = 64, listeners = 5000, rounds = 3;
  int server_threads = 1, http_port = 0;
  long publishes = 50000, gets = 100000;
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      goto usage;
    if (!strcmp(a, "--target"))
      target_arg = v;
    else if (!strcmp(a, "--nacosd"))
      nacosd = v;
    else if (!strcmp(a, "--http-port"))
      http_port = atoi(v);
    else if (!strcmp(a, "--conns"))
      conns = atoi(v);
    else if (!strcmp(a, "--window"))
      window = atoi(v);
    else if (!strcmp(a, "--publishes"))
      publishes = atol(v);
    else if (!strcmp(a, "--gets"))
      gets = atol(v);
    else if (!strcmp(a, "--keys"))
      keys = atoi(v);
    else if (!strcmp(a, "--content-bytes"))
      content_bytes = atoi(v);
    else if (!strcmp(a, "--listeners"))
      listeners = atoi(v);
    else if (!strcmp(a, "--rounds"))
      rounds = atoi(v);
    else if (!strcmp(a, "--server-threads"))
      server_threads = atoi(v);
    else
      goto usage;
  }
  if (conns < 1 || window < 1 || keys < 1 || content_bytes < 1 || listeners < 0 || rounds < 1)
    goto usage;
  nc_bench_raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  nc_log_set_level(NC_LOG_WARN);
  nc_grpc_init();

  char target[128], dir[64] = "";
  pid_t pid = 0;
  if (target_arg) {
    snprintf(target, sizeof(target), "%s", target_arg);
  } else {
    snprintf(dir, sizeof(dir), "/tmp/nc-bench-config-XXXXXX"); /* mkdtemp template */
    if (!mkdtemp(dir)) {
      perror("mkdtemp");
      return 1;
    }
    char th[16];
    snprintf(th, sizeof(th), "%d", server_threads);
    const char *extra[] = {"--data-dir", dir, "--grpc-threads", th, NULL};
    if ((pid = nc_bench_start_nacosd(nacosd, dir, extra, target, sizeof(target), &http_port)) <= 0)
      return 1;
  }

  nc_gcli_env *env = NULL;
  if (nc_gcli_env_new(2, &env) != 0)
    return 1;
  nc_gcli **cs = calloc((size_t)conns, sizeof(*cs));
  for (int i = 0; i < conns; i++)
    if (!(cs[i] = load_conn(env, target))) {
      fprintf(stderr, "bench: connection %d failed\n", i);
      return 1;
    }
  char *content = malloc((size_t)content_bytes + 1);
  for (int i = 0; i < content_bytes; i++)
    content[i] = (char)('a' + i % 26);
  content[content_bytes] = 0;
  long failed = 0;

  /* Warm-up creates every key, so the get phase always hits. */
  run_load(cs, conns, keys, window, OP_PUBLISH, keys, content, &failed);
  double tps = run_load(cs, conns, publishes, window, OP_PUBLISH, keys, content, &failed);
  if (failed)
    fprintf(stderr, "bench: %ld publishes failed\n", failed);
  printf("config_publish_tps: %.0f\n", tps);
  fflush(stdout);
  double qps = run_load(cs, conns, gets, window, OP_GET, keys, content, &failed);
  if (failed)
    fprintf(stderr, "bench: %ld gets failed\n", failed);
  printf("config_get_qps: %.0f\n", qps);
  fflush(stdout);

  if (listeners > 0) {
    nc_gcli **lsns = calloc((size_t)listeners, sizeof(*lsns));
    nc_gcli_stream_cbs cbs = {lean_msg, nc_bench_noop_closed};
    long long t_open = nc_bench_now_ms();
    int open_failed = nc_bench_conn_open_many(env, target, "config", &cbs, lsns, listeners,
                                              listen_notify_key, NULL);
    fprintf(stderr, "bench: %d listener connections up in %lld ms (%d failed)\n",
            listeners - open_failed, nc_bench_now_ms() - t_open, open_failed);
    int want = listeners - open_failed;
    long long *ms = calloc((size_t)rounds, sizeof(*ms));
    char json[256];
    /* A fresh publisher: the load connections do not answer the server's
     * idle probes and may have been dropped while the listeners connected. */
    nc_wc *pub = NULL;
    nc_wc_opts po = {.target = target, .module = "config", .timeout_ms = 30000};
    if (nc_wc_connect(env, &po, NULL, NULL, NULL, &pub) != 0) {
      fprintf(stderr, "bench: publisher connection failed\n");
      rounds = 1;
    }
    for (int r = 0; r < rounds; r++) {
      atomic_store(&g_notified, 0);
      long long acked0 = nc_bench_metric(http_port, "nacosd_config_notifies_acked_total");
      snprintf(json, sizeof(json),
               "{\"headers\":{},\"dataId\":\"bench-notify\",\"group\":\"DEFAULT_GROUP\","
               "\"tenant\":\"\",\"content\":\"round %d\",\"module\":\"config\"}",
               r);
      long long t0 = nc_bench_now_ms();
      cJSON *body = cJSON_Parse(json);
      nc_msg *resp = NULL;
      int prc = pub ? nc_wc_request(pub, "ConfigPublishRequest", body, 30000, &resp) : NC_ECLOSED;
      cJSON_Delete(body);
      long long ec = resp ? nc_json_int(resp->body, "errorCode", -1) : -1;
      nc_msg_free(resp);
      if (prc != 0 || ec != 0) {
        fprintf(stderr, "bench: notify publish failed: %s, errorCode %lld\n", nc_strerror(prc), ec);
        ms[r] = -1;
        break;
      }
      /* All notified (client side), then all acks counted (server side). */
      while (atomic_load(&g_notified) < want && nc_bench_now_ms() - t0 < 30000)
        nc_bench_sleep_ms(1);
      long long t_notified = nc_bench_now_ms() - t0;
      long long a = -1;
      while ((a = nc_bench_metric(http_port, "nacosd_config_notifies_acked_total")) >= 0 &&
             a < acked0 + want && nc_bench_now_ms() - t0 < 30000)
        nc_bench_sleep_ms(2);
      ms[r] = nc_bench_now_ms() - t0;
      fprintf(stderr, "bench: round %d: %d/%d notified in %lld ms, %lld/%d acked in %lld ms\n",
              r, atomic_load(&g_notified), want, t_notified, a - acked0, want, ms[r]);
      nc_bench_sleep_ms(200);
    }
    qsort(ms, (size_t)rounds, sizeof(*ms), nc_bench_cmp_ll);
    printf("config_notify_ms: %lld\n", ms[rounds / 2]);
    fflush(stdout);
    if (pub)
      nc_wc_close(pub);
    for (int i = 0; i < listeners; i++)
      if (lsns[i])
        nc_gcli_free(lsns[i]);
    free(lsns);
    free(ms);
  }

  for (int i = 0; i < conns; i++)
    nc_gcli_free(cs[i]);
  free(cs);
  free(content);
  nc_gcli_env_free(env);
  if (pid > 0) {
    nc_bench_stop(pid);
    nc_bench_rmtree(dir);
  }
  nc_grpc_shutdown();
  return 0;
usage:
  fprintf(stderr,
          "usage: bench_config [--target host:grpcport --http-port P] [--nacosd PATH] "
          "[--conns N] [--window N] [--publishes N] [--gets N] [--keys N] [--content-bytes N] "
          "[--listeners N] [--rounds N] [--server-threads N]\n");
  return 2;
}
