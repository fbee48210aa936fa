/* Config in a 3-node cluster on one real PostgreSQL 15 (issue 11): a
 * publish on A reaches listeners on B and C within 1 s with the right md5,
 * and a remove too; CAS conflicts across nodes; kill -9 of the publishing
 * node in a stream of publishes loses nothing acknowledged and the other
 * nodes' listeners hear of each; PostgreSQL restarted under load: writes
 * fail clearly while it is down, nothing acknowledged is lost, writes
 * resume by themselves; a node frozen (SIGSTOP) during publishes
 * converges; a change written into the database behind nacos-c's back (as
 * a Java node without NOTIFY would) is found by the poll; history written
 * on one node is listed on another, and a rollback there reaches the
 * third node's listener; users created on one node log in on another, and
 * with auth on the cluster port serves members only (server identity). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_md5.h"
#include "distro_itest.h"
#include "auth_login.h"
#include "http1.h"
#include "nc_testhttp.h"
#include "nc_testpg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/stat.h>

typedef struct env {
  nc_testpg *pg;
  nc_tcluster *c;
  char url_arg[256];
  nc_tw *clients[16]; /* closed by the teardown, also after a failed assert */
  int n_clients;
} env;

/* The running test's env, for the teardown. */
static env *g_env_now;
static void stream_join(void);

/* A cluster of n on a fresh PostgreSQL; polls every second; more (NULL
 * ok, at most 6) for every node. */
static void env_start_with(env *e, int n, const char *const *more) {
  memset(e, 0, sizeof(*e));
  g_env_now = e;
  assert_int_equal(nc_testpg_start(&e->pg), 0);
  snprintf(e->url_arg, sizeof(e->url_arg), "--db-url=%s", nc_testpg_url(e->pg));
  const char *extra[10] = {e->url_arg, "--config-poll-ms=1000", "--db-timeout-ms=2000"};
  for (int i = 0; more && more[i] && i < 6; i++)
    extra[3 + i] = more[i];
  e->c = cit_start(n, extra);
}

static void env_start(env *e, int n) { env_start_with(e, n, NULL); }

static void close_clients(env *e) {
  for (int i = 0; i < e->n_clients; i++)
    nc_tw_close(e->clients[i]);
  e->n_clients = 0;
}

static void env_stop(env *e) {
  close_clients(e);
  int rc = nc_tcluster_stop(e->c);
  e->c = NULL;
  nc_testpg_free(e->pg);
  e->pg = NULL;
  g_env_now = NULL;
  assert_int_equal(rc, 0);
}

/* After a failed assert the test's body did not reach env_stop. */
static int teardown(void **state) {
  (void)state;
  stream_join();
  if (g_env_now) {
    close_clients(g_env_now);
    nc_tcluster_stop(g_env_now->c);
    nc_testpg_free(g_env_now->pg);
    g_env_now = NULL;
  }
  return 0;
}

static nc_tw *cfg_open(env *e, int i) {
  nc_tw *tw = NULL;
  nc_test_deadline d = nc_test_deadline_start(20000);
  nc_tw_opts o = {.timeout_ms = 3000, .module = "config"};
  while (nc_tw_connect(g_env, nc_tcluster_node(e->c, i)->target, &o, &tw) != 0) {
    tw = NULL;
    if (!nc_test_deadline_tick(&d))
      break;
  }
  assert_non_null(tw);
  if (e->n_clients < 16)
    e->clients[e->n_clients++] = tw;
  return tw;
}

static void md5_of(const char *s, char out[33]) { nc_md5_hex(s, strlen(s), out); }

/* The md5 node's query returns for key ("" when absent). */
static void md5_on(nc_tw *tw, const char *key, char out[40]) {
  nc_tw_config cf = {0};
  nc_tw_reply r = nc_tw_config_get(tw, key, "DEFAULT_GROUP", NULL, &cf);
  snprintf(out, 40, "%s", nc_tw_ok(&r) && cf.content ? cf.md5 : "");
  nc_tw_config_free(&cf);
}

static void test_publish_reaches_listeners_on_every_node(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  static env e; /* outlives a failed assert: teardown cleans it */
  memset(&e, 0, sizeof(e));
  env_start(&e, 3);
  nc_tw *a = cfg_open(&e, 0), *b = cfg_open(&e, 1), *c = cfg_open(&e, 2);
  nc_tw_reply r = nc_tw_listen_one(b, 1, "app.yaml", "DEFAULT_GROUP", NULL, "");
  assert_true(nc_tw_ok(&r));
  r = nc_tw_listen_one(c, 1, "app.yaml", "DEFAULT_GROUP", NULL, "");
  assert_true(nc_tw_ok(&r));

  long long t0 = dit_now_ms();
  r = nc_tw_config_publish(a, "app.yaml", "DEFAULT_GROUP", NULL, "port: 8080", NULL);
  assert_true(nc_tw_ok(&r));
  assert_int_equal(nc_tw_wait_change(b, "app.yaml", 1, 5000, NULL), 1);
  assert_int_equal(nc_tw_wait_change(c, "app.yaml", 1, 5000, NULL), 1);
  long long took = dit_now_ms() - t0;
  fprintf(stderr, "config cluster: publish on A heard on B and C after %lld ms\n", took);
  assert_true(took <= nc_test_timeout_ms(1000));
  char want[33], got[40];
  md5_of("port: 8080", want);
  md5_on(b, "app.yaml", got);
  assert_string_equal(got, want);
  md5_on(c, "app.yaml", got);
  assert_string_equal(got, want);

  /* once per change: the three channels (sync, NOTIFY, poll) do not
   * notify again; let two polls pass */
  cit_sleep_ms(2500);
  assert_int_equal(nc_tw_change_count(b, "app.yaml"), 1);
  assert_int_equal(nc_tw_change_count(c, "app.yaml"), 1);

  /* remove on C: gone on A and B, B's listener hears it */
  r = nc_tw_config_remove(c, "app.yaml", "DEFAULT_GROUP", NULL);
  assert_true(nc_tw_ok(&r));
  assert_int_equal(nc_tw_wait_change(b, "app.yaml", 2, 5000, NULL), 2);
  NC_TEST_WAIT((md5_on(a, "app.yaml", got), got[0] == '\0'), 3000);
  assert_true(nc_tcluster_metric(e.c, 0, "nacosd_config_sync_acked_total") >= 2);
  assert_true(nc_tcluster_metric(e.c, 1, "nacosd_config_sync_received_total") >= 1);
  assert_int_equal(nc_tcluster_metric(e.c, 0, "nacosd_config_store_up"), 1);
  env_stop(&e);
}

static void test_cas_conflicts_across_nodes(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  static env e; /* outlives a failed assert: teardown cleans it */
  memset(&e, 0, sizeof(e));
  env_start(&e, 3);
  nc_tw *a = cfg_open(&e, 0), *b = cfg_open(&e, 1), *c = cfg_open(&e, 2);
  nc_tw_reply r = nc_tw_config_publish(a, "cas.key", "DEFAULT_GROUP", NULL, "v1", NULL);
  assert_true(nc_tw_ok(&r));
  char v1[33], v2[33], got[40];
  md5_of("v1", v1);
  md5_of("v2", v2);
  /* B and C both hold v1's md5; B wins, C's CAS must fail */
  r = nc_tw_config_publish(b, "cas.key", "DEFAULT_GROUP", NULL, "v2", v1);
  assert_true(nc_tw_ok(&r));
  r = nc_tw_config_publish(c, "cas.key", "DEFAULT_GROUP", NULL, "v3", v1);
  nc_tw_expect_fail(r, "ConfigPublishResponse", 500, "Cas publish fail");
  /* everyone converges on v2 */
  NC_TEST_WAIT((md5_on(c, "cas.key", got), strcmp(got, v2) == 0), 3000);
  NC_TEST_WAIT((md5_on(a, "cas.key", got), strcmp(got, v2) == 0), 3000);
  char row[64];
  assert_int_equal(nc_testpg_sql(e.pg, "SELECT content FROM config_info WHERE data_id='cas.key'",
                                 row, sizeof(row)),
                   0);
  assert_string_equal(row, "v2");
  env_stop(&e);
}

/* ---- a stream of publishes on a thread ---- */

typedef struct stream {
  nc_tw *tw;
  const char *prefix;
  int max;
  int acked[4000];   /* 1: publish i was acknowledged (read after the join) */
  atomic_int failed, n_acked, stop;
  char last_fail[256]; /* written before failed is bumped */
} stream;

static void *stream_main(void *arg) {
  stream *s = arg;
  for (int i = 0; i < s->max && !s->stop; i++) {
    char key[64], content[64];
    snprintf(key, sizeof(key), "%s.%d", s->prefix, i);
    snprintf(content, sizeof(content), "content of %d", i);
    nc_tw_reply r = nc_tw_config_publish(s->tw, key, "DEFAULT_GROUP", NULL, content, NULL);
    if (nc_tw_ok(&r)) {
      s->acked[i] = 1;
      atomic_fetch_add(&s->n_acked, 1);
    } else {
      if (atomic_load(&s->failed) == 0) /* the main thread reads it once failed > 0 */
        snprintf(s->last_fail, sizeof(s->last_fail), "%s",
                 r.status ? nc_strerror(r.status) : r.message);
      atomic_fetch_add(&s->failed, 1);
    }
  }
  return NULL;
}

/* The publisher thread of the running test, stopped and joined by
 * teardown when a failed assert left it running. */
static stream *g_stream;
static pthread_t g_stream_th;

static void stream_start(stream *s) {
  assert_int_equal(pthread_create(&g_stream_th, NULL, stream_main, s), 0);
  g_stream = s;
}

static void stream_join(void) {
  if (!g_stream)
    return;
  g_stream->stop = 1;
  pthread_join(g_stream_th, NULL);
  g_stream = NULL;
}

/* Every acknowledged publish of s is in PostgreSQL with its content. */
static void assert_all_acked_stored(env *e, stream *s) {
  for (int i = 0; i < s->max; i++) {
    if (!s->acked[i])
      continue;
    char sql[160], row[64], want[64];
    snprintf(sql, sizeof(sql), "SELECT content FROM config_info WHERE data_id='%s.%d'", s->prefix,
             i);
    snprintf(want, sizeof(want), "content of %d", i);
    assert_int_equal(nc_testpg_sql(e->pg, sql, row, sizeof(row)), 0);
    assert_string_equal(row, want);
  }
}

/* Acknowledged publishes of s that tw was not notified of; sleeps 100 ms
 * when there are some, so it can be polled. */
static int unheard(nc_tw *tw, const stream *s, char keys[][32]) {
  int n = 0;
  for (int i = 0; i < s->max; i++)
    if (s->acked[i] && nc_tw_change_count(tw, keys[i]) < 1)
      n++;
  if (n)
    cit_sleep_ms(100);
  return n;
}

static void test_kill9_of_the_publisher_loses_nothing_acked(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  static env e; /* outlives a failed assert: teardown cleans it */
  memset(&e, 0, sizeof(e));
  env_start(&e, 3);
  enum { N = 400 };
  nc_tw *b = cfg_open(&e, 1);
  /* B listens to every key the stream may write */
  nc_tw_listen ctx[N];
  char keys[N][32];
  for (int i = 0; i < N; i++) {
    snprintf(keys[i], sizeof(keys[i]), "k9.%d", i);
    ctx[i] = (nc_tw_listen){.data_id = keys[i], .group = "DEFAULT_GROUP", .md5 = ""};
  }
  nc_tw_reply r = nc_tw_config_listen(b, 1, ctx, N, NULL, NULL);
  assert_true(nc_tw_ok(&r));

  stream *s = calloc(1, sizeof(*s));
  s->tw = cfg_open(&e, 0);
  s->prefix = "k9";
  s->max = N;
  stream_start(s);
  NC_TEST_WAIT(s->n_acked >= 40, 10000);
  assert_int_equal(nc_tcluster_kill_node(e.c, 0, SIGKILL), 128 + SIGKILL);
  s->stop = 1;
  stream_join();
  fprintf(stderr, "kill -9: %d publishes acknowledged, %d failed before the stop\n",
          atomic_load(&s->n_acked), atomic_load(&s->failed));
  assert_true(s->n_acked >= 40);
  assert_all_acked_stored(&e, s);
  /* B heard of every acknowledged one (sync, NOTIFY or poll), all within
   * one deadline */
  int missing = -1;
  NC_TEST_WAIT((missing = unheard(b, s, keys)) == 0, 10000);
  if (missing)
    fprintf(stderr, "B never heard of %d acknowledged publishes\n", missing);
  assert_int_equal(missing, 0);
  free(s);
  /* the killed node comes back with everything */
  assert_int_equal(nc_tcluster_restart_node(e.c, 0), 0);
  nc_tw *a = cfg_open(&e, 0);
  char got[40];
  md5_on(a, "k9.0", got);
  assert_true(got[0] != '\0');
  env_stop(&e);
}

/* node i's readiness body into buf; its HTTP status. */
static int readiness(const env *e, int i, char *buf, size_t cap) {
  const nc_test_nacosd *n = nc_tcluster_node(e->c, i);
  int status = -1;
  char *body = NULL;
  if (nc_test_http_get_at(n->host, n->port, "/nacos/v1/console/health/readiness", &status,
                          &body) != 0)
    return -1;
  snprintf(buf, cap, "%s", body ? body : "");
  free(body);
  return status;
}

static void test_postgres_restart_under_load(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  static env e; /* outlives a failed assert: teardown cleans it */
  memset(&e, 0, sizeof(e));
  env_start(&e, 1);
  stream *s = calloc(1, sizeof(*s));
  s->tw = cfg_open(&e, 0);
  s->prefix = "pr";
  s->max = 4000;
  stream_start(s);
  NC_TEST_WAIT(s->n_acked >= 30, 10000);
  assert_int_equal(nc_testpg_stop(e.pg), 0);
  /* writes fail clearly (not a hang) while it is down */
  NC_TEST_WAIT(atomic_load(&s->failed) >= 3, 10000);
  fprintf(stderr, "while PostgreSQL is down: \"%s\"\n", s->last_fail);
  assert_non_null(strstr(s->last_fail, "not saved"));
  NC_TEST_WAIT(nc_tcluster_metric(e.c, 0, "nacosd_config_store_up") == 0, 5000);
  /* reads are served from memory */
  nc_tw *reader = cfg_open(&e, 0);
  char got[40];
  md5_on(reader, "pr.0", got);
  assert_true(got[0] != '\0');
  /* readiness stays 200 (reads are served) and says what is wrong */
  char body[512];
  assert_int_equal(readiness(&e, 0, body, sizeof(body)), 200);
  fprintf(stderr, "readiness while down: %s\n", body);
  assert_non_null(strstr(body, "config store (postgresql) unavailable"));
  int acked_down = s->n_acked;
  assert_int_equal(nc_testpg_restart(e.pg), 0);
  /* service resumes by itself */
  NC_TEST_WAIT(s->n_acked >= acked_down + 30, 20000);
  NC_TEST_WAIT(nc_tcluster_metric(e.c, 0, "nacosd_config_store_up") == 1, 5000);
  assert_int_equal(readiness(&e, 0, body, sizeof(body)), 200);
  assert_string_equal(body, "OK");
  s->stop = 1;
  stream_join();
  fprintf(stderr, "restart: %d acknowledged, %d failed\n", atomic_load(&s->n_acked),
          atomic_load(&s->failed));
  assert_all_acked_stored(&e, s);
  free(s);
  env_stop(&e);
}

static void test_frozen_node_converges(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  static env e; /* outlives a failed assert: teardown cleans it */
  memset(&e, 0, sizeof(e));
  env_start(&e, 3);
  nc_tw *a = cfg_open(&e, 0), *c = cfg_open(&e, 2);
  nc_tw_reply r = nc_tw_listen_one(c, 1, "frozen.key", "DEFAULT_GROUP", NULL, "");
  assert_true(nc_tw_ok(&r));
  pid_t pc = nc_tcluster_node(e.c, 2)->proc.pid;
  assert_int_equal(kill(pc, SIGSTOP), 0);
  for (int i = 0; i < 5; i++) {
    char content[32];
    snprintf(content, sizeof(content), "frozen v%d", i);
    r = nc_tw_config_publish(a, "frozen.key", "DEFAULT_GROUP", NULL, content, NULL);
    assert_true(nc_tw_ok(&r));
  }
  cit_sleep_ms(1500);
  assert_int_equal(kill(pc, SIGCONT), 0);
  char want[33], got[40];
  md5_of("frozen v4", want);
  NC_TEST_WAIT((md5_on(c, "frozen.key", got), strcmp(got, want) == 0), 10000);
  assert_true(nc_tw_wait_change(c, "frozen.key", 1, 5000, NULL) >= 1);
  env_stop(&e);
}

static void test_change_behind_our_back_found_by_poll(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  static env e; /* outlives a failed assert: teardown cleans it */
  memset(&e, 0, sizeof(e));
  env_start(&e, 2);
  nc_tw *a = cfg_open(&e, 0), *b = cfg_open(&e, 1);
  nc_tw_reply r = nc_tw_config_publish(a, "java.key", "DEFAULT_GROUP", NULL, "old", NULL);
  assert_true(nc_tw_ok(&r));
  /* B has "old" before it listens, so the notification below is the
   * database write's */
  char old_md5[33], got[40];
  md5_of("old", old_md5);
  NC_TEST_WAIT((md5_on(b, "java.key", got), strcmp(got, old_md5) == 0), 5000);
  r = nc_tw_listen_one(b, 1, "java.key", "DEFAULT_GROUP", NULL, old_md5);
  assert_true(nc_tw_ok(&r));
  int before = nc_tw_change_count(b, "java.key");
  /* what a Java Nacos node writes: no NOTIFY, no sync to nacos-c */
  char want[33];
  md5_of("written by java", want);
  char sql[256];
  snprintf(sql, sizeof(sql),
           "UPDATE config_info SET content='written by java', md5='%s', "
           "gmt_modified=clock_timestamp() AT TIME ZONE 'UTC' WHERE data_id='java.key'",
           want);
  assert_int_equal(nc_testpg_sql(e.pg, sql, NULL, 0), 0);
  assert_true(nc_tw_wait_change(b, "java.key", before + 1, 5000, NULL) >= before + 1);
  md5_on(b, "java.key", got);
  assert_string_equal(got, want);
  NC_TEST_WAIT((md5_on(a, "java.key", got), strcmp(got, want) == 0), 5000);
  assert_true(nc_tcluster_metric(e.c, 1, "nacosd_config_feed_reloads_total") >= 1);
  env_stop(&e);
}

/* History and rollback on the shared store: versions written on A are
 * listed on B, B rolls back to the version A's second publish replaced,
 * C's listener hears it with v1's md5, and the rollback is recorded. */
static void test_history_and_rollback_across_nodes(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  static env e; /* outlives a failed assert: teardown cleans it */
  memset(&e, 0, sizeof(e));
  env_start(&e, 3);
  nc_tw *a = cfg_open(&e, 0), *b = cfg_open(&e, 1), *c = cfg_open(&e, 2);
  nc_tw_reply r = nc_tw_config_publish(a, "rb.yaml", "DEFAULT_GROUP", NULL, "v1", NULL);
  assert_true(nc_tw_ok(&r));
  r = nc_tw_config_publish(a, "rb.yaml", "DEFAULT_GROUP", NULL, "v2", NULL);
  assert_true(nc_tw_ok(&r));
  char v1[33], v2[33], got[40];
  md5_of("v1", v1);
  md5_of("v2", v2);
  NC_TEST_WAIT((md5_on(c, "rb.yaml", got), strcmp(got, v2) == 0), 5000);
  r = nc_tw_listen_one(c, 1, "rb.yaml", "DEFAULT_GROUP", NULL, v2);
  assert_true(nc_tw_ok(&r));
  /* B lists A's versions: U (replaced v1), I (created v1) */
  cJSON *hb = nc_tw_config_body("rb.yaml", "DEFAULT_GROUP", NULL);
  nc_msg *m = nc_tw_call(b, "NcConfigHistoryRequest", hb);
  assert_non_null(m);
  const cJSON *items = cJSON_GetObjectItemCaseSensitive(m->body, "pageItems");
  assert_int_equal(cJSON_GetArraySize(items), 2);
  const cJSON *u = cJSON_GetArrayItem(items, 0);
  assert_string_equal(nc_json_str(u, "opType", ""), "U");
  assert_string_equal(nc_json_str(u, "md5", ""), v1);
  long long uid = nc_json_int(u, "id", 0);
  nc_msg_free(m);
  cJSON *rb = nc_tw_config_body("rb.yaml", "DEFAULT_GROUP", NULL);
  cJSON_AddNumberToObject(rb, "id", (double)uid);
  m = nc_tw_call(b, "NcConfigRollbackRequest", rb);
  assert_non_null(m);
  assert_int_equal(nc_json_int(m->body, "resultCode", -1), 200);
  assert_string_equal(nc_json_str(m->body, "md5", ""), v1);
  nc_msg_free(m);
  assert_true(nc_tw_wait_change(c, "rb.yaml", 1, 5000, NULL) >= 1);
  md5_on(c, "rb.yaml", got);
  assert_string_equal(got, v1);
  NC_TEST_WAIT((md5_on(a, "rb.yaml", got), strcmp(got, v1) == 0), 5000);
  /* recorded as a rollback of that version */
  char sql[160], row[32];
  snprintf(sql, sizeof(sql),
           "SELECT ext_info::json->>'nc_rollback_of' FROM his_config_info WHERE "
           "data_id='rb.yaml' ORDER BY nid DESC LIMIT 1");
  assert_int_equal(nc_testpg_sql(e.pg, sql, row, sizeof(row)), 0);
  assert_int_equal(atoll(row), uid);
  env_stop(&e);
}

/* POST form to node i's HTTP port with a bearer token; the HTTP status. */
static int http_post(const env *e, int i, const char *path, const char *form,
                     const char *token) {
  const nc_test_nacosd *n = nc_tcluster_node(e->c, i);
  char req[2048], *resp = NULL, *body = NULL;
  int len = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     path, token, strlen(form), form);
  int status = 0;
  if (nc_ag_http1(n->host, n->port, req, (size_t)len, 5000, &status, &resp, &body) != 0)
    status = 0;
  free(resp);
  return status;
}

/* Users on a cluster's PostgreSQL are the cluster's: one created on A logs
 * in on B (B reloads the tables every 5 s). */
static void test_users_are_shared_by_the_cluster(void **state) {
  (void)state;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  char dir[64], secret[128], pw[128], sa[160], pa[160];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(secret, sizeof(secret), "%s/secret", dir);
  snprintf(pw, sizeof(pw), "%s/admin.pw", dir);
  FILE *f = fopen(secret, "w");
  fputs("bmFjb3MtYy1jbHVzdGVyLXRlc3Qtc2VjcmV0LWtleS0zMmJ5dGVz\n", f);
  fclose(f);
  f = fopen(pw, "w");
  fputs("Cluster-Adm1n\n", f);
  fclose(f);
  chmod(secret, 0600);
  chmod(pw, 0600);
  snprintf(sa, sizeof(sa), "--auth-secret-file=%s", secret);
  snprintf(pa, sizeof(pa), "--admin-password-file=%s", pw);
  const char *more[] = {"--auth", "on", sa, pa, NULL};
  static env e; /* outlives a failed assert: teardown cleans it */
  memset(&e, 0, sizeof(e));
  env_start_with(&e, 2, more);
  const nc_test_nacosd *a = nc_tcluster_node(e.c, 0), *b = nc_tcluster_node(e.c, 1);
  nc_ag_login l;
  assert_int_equal(nc_ag_login_http(a->host, a->port, "nacos", "Cluster-Adm1n", 5000, &l), 0);
  assert_int_equal(http_post(&e, 0, "/nacos/v1/auth/users", "username=bob&password=B0b-pass",
                             l.token),
                   200);
  long long took = -1;
  nc_ag_login lb;
  NC_TEST_POLL(nc_ag_login_http(b->host, b->port, "bob", "B0b-pass", 3000, &lb) == 0, 15000,
               took);
  fprintf(stderr, "user created on A logs in on B after %lld ms\n", took);
  assert_true(took >= 0);
  /* A's token is good on B: one secret */
  nc_tw_opts o = {.module = "config", .access_token = l.token};
  nc_tw *tb = NULL;
  assert_int_equal(nc_tw_connect(g_env, b->target, &o, &tb), 0);
  nc_tw_reply r = nc_tw_config_publish(tb, "auth.key", "DEFAULT_GROUP", NULL, "v", NULL);
  assert_true(nc_tw_ok(&r));
  nc_tw_close(tb);
  /* the members know each other (their reports carry the identity derived
   * from the shared secret) ... */
  NC_TEST_WAIT(nc_tcluster_metric(e.c, 0, "nacosd_cluster_reports_received_total") >= 1 &&
                   nc_tcluster_metric(e.c, 1, "nacosd_cluster_reports_received_total") >= 1,
               10000);
  /* ... and anyone else on the cluster port is refused */
  char ctarget[80];
  snprintf(ctarget, sizeof(ctarget), "%s:%d", a->host, a->cluster_port);
  nc_tw *intruder = NULL;
  assert_int_equal(nc_tw_connect(g_env, ctarget, NULL, &intruder), 0);
  cJSON *body = cJSON_Parse("{\"headers\":{},\"module\":\"core\",\"node\":{\"ip\":\"10.6.6.6\","
                            "\"port\":8848,\"state\":\"UP\"}}");
  r = nc_tw_call_reply(intruder, "MemberReportRequest", body);
  assert_int_equal(r.error_code, 403);
  assert_non_null(strstr(r.message, "server identity"));
  nc_tw_close(intruder);
  env_stop(&e);
  nc_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_publish_reaches_listeners_on_every_node, teardown),
      cmocka_unit_test_teardown(test_cas_conflicts_across_nodes, teardown),
      cmocka_unit_test_teardown(test_kill9_of_the_publisher_loses_nothing_acked, teardown),
      cmocka_unit_test_teardown(test_postgres_restart_under_load, teardown),
      cmocka_unit_test_teardown(test_frozen_node_converges, teardown),
      cmocka_unit_test_teardown(test_change_behind_our_back_found_by_poll, teardown),
      cmocka_unit_test_teardown(test_history_and_rollback_across_nodes, teardown),
      cmocka_unit_test_teardown(test_users_are_shared_by_the_cluster, teardown),
  };
  DIT_MAIN(tests);
}
