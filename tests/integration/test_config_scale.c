/* Integration tests of config at scale and across crashes on the real
 * nacosd: 1,000 listener connections on one key are all notified and acked
 * after one publish; publishes acked before a kill -9 are all there after a
 * restart on the same data dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "config_itest.h"
#include "nc_grpc.h"

#define N_LISTENERS 1000
#define N_OPENERS 4

static atomic_int g_notified;

static void on_push(void *ud, nc_wc *wc, const nc_msg *push) {
  (void)ud;
  (void)wc;
  if (strcmp(push->type, "ConfigChangeNotifyRequest") == 0 &&
      strcmp(nc_json_str(push->body, "dataId", ""), "shared") == 0)
    atomic_fetch_add(&g_notified, 1);
}

typedef struct opener {
  pthread_t th;
  nc_gcli_env *env;
  const char *target;
  nc_tw **wcs;
  int from, to, failed;
} opener;

/* Connects and listens on connections [from, to). */
static void *open_range(void *arg) {
  opener *o = arg;
  for (int i = o->from; i < o->to; i++) {
    nc_tw_opts wo = {.module = "config", .timeout_ms = 20000, .on_push = on_push};
    if (nc_tw_connect(o->env, o->target, &wo, &o->wcs[i]) != 0) {
      o->wcs[i] = NULL;
      o->failed++;
      continue;
    }
    nc_tw_reply r = nc_tw_listen_one(o->wcs[i], 1, "shared", "DEFAULT_GROUP", "", "");
    if (!nc_tw_ok(&r))
      o->failed++;
  }
  return NULL;
}

static void test_1000_listeners_all_notified(void **state) {
  (void)state;
  nc_tfx *f = NULL;
  nc_gcli_env *env = NULL; /* two threads for the listeners */
  /* 1,000 listeners and the publisher, all from 127.0.0.1 */
  const char *args[] = {"--max-connections-per-ip", "0", NULL};
  assert_int_equal(nc_tfx_start(args, &f), 0);
  assert_int_equal(nc_gcli_env_new(2, &env), 0);
  nc_tw **wcs = calloc(N_LISTENERS, sizeof(*wcs));
  opener op[N_OPENERS];
  for (int t = 0; t < N_OPENERS; t++) {
    op[t] = (opener){.env = env,
                     .target = f->srv->target,
                     .wcs = wcs,
                     .from = t * N_LISTENERS / N_OPENERS,
                     .to = (t + 1) * N_LISTENERS / N_OPENERS};
    pthread_create(&op[t].th, NULL, open_range, &op[t]);
  }
  int failed = 0;
  for (int t = 0; t < N_OPENERS; t++) {
    pthread_join(op[t].th, NULL);
    failed += op[t].failed;
  }
  assert_int_equal(failed, 0);
  assert_int_equal(srv_metric(f, "config_listeners"), N_LISTENERS);

  nc_tw *pub = cfg_connect(f, 0);
  assert_non_null(pub);
  long long acked0 = srv_metric(f, "config_notifies_acked_total");
  long long t0 = nc_test_now_ms();
  nc_tw_reply r = nc_tw_config_publish(pub, "shared", "DEFAULT_GROUP", "", "fan: out", NULL);
  assert_true(nc_tw_ok(&r));
  NC_TEST_WAIT(atomic_load(&g_notified) >= N_LISTENERS, 20000);
  assert_int_equal(atomic_load(&g_notified), N_LISTENERS);
  assert_true(srv_metric_wait(f, "config_notifies_acked_total", acked0 + N_LISTENERS, 10000) >=
              acked0 + N_LISTENERS);
  fprintf(stderr, "# %d listeners notified and acked in %lld ms\n", N_LISTENERS,
          nc_test_now_ms() - t0);

  nc_tfx_close(f, pub);
  for (int i = 0; i < N_LISTENERS; i++)
    nc_tw_close(wcs[i]);
  free(wcs);
  nc_gcli_env_free(env);
  assert_int_equal(nc_tfx_stop(f), 0);
}

/* Every publish acked before kill -9 survives the restart. */
static void test_kill9_after_publish_ack_keeps_content(void **state) {
  (void)state;
  nc_tfx *f = NULL;
  assert_int_equal(nc_tfx_start(NULL, &f), 0);
  nc_tw *wc = cfg_connect(f, 0);
  assert_non_null(wc);
  char id[32], content[64];
  for (int i = 0; i < 200; i++) {
    snprintf(id, sizeof(id), "crash-%d", i);
    snprintf(content, sizeof(content), "value %d", i);
    nc_tw_reply r = nc_tw_config_publish(wc, id, "g", i % 2 ? "ns1" : "", content, NULL);
    assert_true(nc_tw_ok(&r));
  }
  /* The last one is overwritten and one removed, right before the kill. */
  nc_tw_config_publish(wc, "crash-0", "g", "", "final", NULL);
  nc_tw_config_remove(wc, "crash-2", "g", "");
  nc_tfx_close(f, wc);
  assert_int_equal(nc_tcluster_kill_node(f->cl, 0, SIGKILL), 128 + SIGKILL);

  assert_int_equal(nc_tcluster_restart_node(f->cl, 0), 0); /* same ports and data dir */
  wc = cfg_connect(f, 0);
  assert_non_null(wc);
  for (int i = 0; i < 200; i++) {
    snprintf(id, sizeof(id), "crash-%d", i);
    nc_tw_config c;
    nc_tw_reply r = nc_tw_config_get(wc, id, "g", i % 2 ? "ns1" : "public", &c);
    assert_int_equal(r.status, 0);
    if (i == 2) {
      assert_int_equal(r.error_code, 300);
    } else {
      assert_int_equal(r.result_code, 200);
      if (i == 0)
        snprintf(content, sizeof(content), "final");
      else
        snprintf(content, sizeof(content), "value %d", i);
      assert_string_equal(c.content, content);
    }
    nc_tw_config_free(&c);
  }
  assert_int_equal(srv_metric(f, "config_configs"), 199);
  assert_int_equal(nc_tfx_stop(f), 0);
}

int main(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
    rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_1000_listeners_all_notified),
      cmocka_unit_test(test_kill9_after_publish_ack_keeps_content),
  };
  nc_grpc_init();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
