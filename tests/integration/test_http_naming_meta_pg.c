/* naming_meta on PostgreSQL (one nacosd on a real nc_testpg): a metadata
 * write runs on naming_meta's worker, so a write the database holds up
 * (a lock until its statement timeout) or cannot take (PostgreSQL
 * stopped) answers an error within about 2 s while gRPC queries on the
 * same node keep answering in well under 200 ms, and writes work again
 * once the database is back; a store unusable at start is opened in the
 * background (writes answer 503 meanwhile); rows changed behind the
 * node's back are read at the next reload (--naming-meta-reload-ms); a
 * service delete removes its instance overrides, and the override of an
 * instance gone for --naming-meta-expire-ms is deleted. Skipped when no
 * PostgreSQL can be made here. */
#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "nc_testpg.h"
#include "nc_testproc.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
  nc_testpg *pg;
  nc_tfx *f;
  char url_arg[512];
} g;

static int start_node(void) {
  const char *args[] = {"--push-merge-ms", "50", "--naming-meta-reload-ms", "300",
                        "--naming-meta-expire-ms", "1000", g.url_arg, NULL};
  snprintf(g.url_arg, sizeof(g.url_arg), "--db-url=%s", nc_testpg_url(g.pg));
  return nc_tfx_start(args, &g.f);
}

/* PostgreSQL, the node on it and a client (skips without PostgreSQL). */
static nc_tw *up(void) {
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  assert_int_equal(nc_testpg_start(&g.pg), 0);
  assert_int_equal(start_node(), 0);
  nc_tw *tw = nc_tfx_connect(g.f, NULL);
  assert_non_null(tw);
  return tw;
}

static int teardown(void **st) {
  (void)st;
  int rc = nc_tfx_stop(g.f);
  g.f = NULL;
  nc_testpg_free(g.pg);
  g.pg = NULL;
  return rc == 0 ? 0 : -1;
}

/* status of one request; *body (may be NULL) malloc'd. */
static int call(const char *method, const char *path, char **body) {
  int status = 0;
  char *b = NULL;
  if (nc_test_http_req(g.f->srv->port, method, path, NULL, NULL, &status, &b))
    status = -1;
  if (body)
    *body = b;
  else
    free(b);
  return status;
}

/* protectThreshold of svc as the node serves it; -1 when not found. */
static double threshold(const char *svc) {
  char path[256], *b = NULL;
  snprintf(path, sizeof(path), "/nacos/v1/ns/service?serviceName=%s", svc);
  int st = call("GET", path, &b);
  cJSON *j = st == 200 ? cJSON_Parse(b) : NULL;
  double v = j ? cJSON_GetNumberValue(cJSON_GetObjectItem(j, "protectThreshold")) : -1;
  cJSON_Delete(j);
  free(b);
  return v;
}


static long long rows(const char *where) {
  char sql[256], out[32] = "";
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM nc_naming_meta%s%s", where ? " WHERE " : "",
           where ? where : "");
  return nc_testpg_sql(g.pg, sql, out, sizeof(out)) ? -1 : atoll(out);
}

/* Waits until the service's threshold (what NULL) or the number of rows
 * matching where is want: 1, or 0 after timeout_ms. */
static int wait_value(const char *svc, const char *where, double want, int timeout_ms) {
  long long t0 = nc_test_now_ms();
  while ((svc ? threshold(svc) : (double)rows(where)) != want) {
    if (nc_test_now_ms() - t0 > timeout_ms)
      return 0;
    nc_test_sleep_ms(50);
  }
  return 1;
}
#define wait_threshold(svc, want, ms) wait_value((svc), NULL, (want), (ms))
#define wait_rows(where, want, ms) wait_value(NULL, (where), (double)(want), (ms))

/* ---- a write in a thread, gRPC queries on the main thread ---- */

typedef struct bg_write {
  const char *method, *path;
  int status;
  char *body;
  long long ms;
  atomic_int done;
} bg_write;

static void *bg_run(void *arg) {
  bg_write *w = arg;
  long long t0 = nc_test_now_ms();
  w->status = call(w->method, w->path, &w->body);
  w->ms = nc_test_now_ms() - t0;
  atomic_store(&w->done, 1);
  return NULL;
}

/* Runs the write while querying svc over tw; the slowest query's ms in
 * *worst, the number of queries in *n (each must show one host). */
static void write_while_querying(bg_write *w, nc_tw *tw, const char *svc, long long *worst,
                                 int *n) {
  pthread_t t;
  *worst = 0;
  *n = 0;
  assert_int_equal(pthread_create(&t, NULL, bg_run, w), 0);
  long long t0 = nc_test_now_ms();
  while (!atomic_load(&w->done) && nc_test_now_ms() - t0 < 10000) {
    long long q0 = nc_test_now_ms();
    int hosts = nc_tw_query_hosts(tw, svc);
    long long d = nc_test_now_ms() - q0;
    assert_int_equal(hosts, 1);
    if (d > *worst)
      *worst = d;
    (*n)++;
    nc_test_sleep_ms(20);
  }
  pthread_join(t, NULL);
}

static void test_write_held_by_database_does_not_stall_queries(void **st) {
  (void)st;
  nc_tw *tw = up();
  nc_tw_instance in = {.ip = "10.1.1.1", .port = 80};
  nc_tw_expect_ok(nc_tw_register(tw, "q", &in), "InstanceResponse");
  assert_int_equal(call("POST", "/nacos/v1/ns/service?serviceName=ms", NULL), 200);

  /* a lock holds the write until the statement timeout (2 s) */
  PGconn *lk = PQconnectdb(nc_testpg_url(g.pg));
  assert_int_equal(PQstatus(lk), CONNECTION_OK);
  PQclear(PQexec(lk, "BEGIN"));
  PGresult *r = PQexec(lk, "LOCK TABLE nc_naming_meta IN ACCESS EXCLUSIVE MODE");
  assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
  PQclear(r);
  bg_write w = {.method = "PUT", .path = "/nacos/v1/ns/service?serviceName=ms&protectThreshold=0.5"};
  long long worst;
  int n;
  write_while_querying(&w, tw, "q", &worst, &n);
  fprintf(stderr, "held write: %d after %lld ms (%s); %d queries, slowest %lld ms\n", w.status,
          w.ms, w.body ? w.body : "", n, worst);
  assert_int_equal(w.status, 500);
  assert_non_null(strstr(w.body, "naming metadata not stored"));
  free(w.body);
  assert_true(w.ms >= 1500 && w.ms < 4000);
  assert_true(n >= 10);
  assert_true(worst < 200);
  assert_true(threshold("ms") == 0); /* memory unchanged */
  assert_int_equal(nc_tfx_metric(g.f, "nacosd_naming_meta_write_failures_total"), 1);
  PQclear(PQexec(lk, "ROLLBACK"));
  PQfinish(lk);
  assert_int_equal(call("PUT", "/nacos/v1/ns/service?serviceName=ms&protectThreshold=0.5", NULL),
                   200);
  assert_true(threshold("ms") == 0.5);

  /* PostgreSQL stopped: an error soon, queries keep answering */
  assert_int_equal(nc_testpg_stop(g.pg), 0);
  bg_write w2 = {.method = "PUT",
                 .path = "/nacos/v1/ns/service?serviceName=ms&protectThreshold=0.25"};
  write_while_querying(&w2, tw, "q", &worst, &n);
  fprintf(stderr, "write with PostgreSQL stopped: %d after %lld ms (%s); slowest query %lld ms\n",
          w2.status, w2.ms, w2.body ? w2.body : "", worst);
  assert_true(w2.status == 500 || w2.status == 503);
  free(w2.body);
  assert_true(w2.ms < 2500);
  assert_true(worst < 200);
  assert_true(threshold("ms") == 0.5);
  /* back: the next write reconnects */
  assert_int_equal(nc_testpg_restart(g.pg), 0);
  char *b = NULL;
  assert_int_equal(call("PUT", "/nacos/v1/ns/service?serviceName=ms&protectThreshold=0.25", &b),
                   200);
  assert_string_equal(b, "ok");
  free(b);
  assert_true(threshold("ms") == 0.25);
  assert_int_equal(rows("service_name = 'ms' AND value LIKE '%0.25%'"), 1);
}

/* nacosd does not start without its config store, so "unusable at
 * start" is a table naming_meta cannot read (a foreign one in its place),
 * dropped later. */
static void test_store_unusable_at_start_is_opened_later(void **st) {
  (void)st;
  NC_TESTPG_SKIP_IF_UNAVAILABLE();
  assert_int_equal(nc_testpg_start(&g.pg), 0);
  assert_int_equal(nc_testpg_sql(g.pg, "CREATE TABLE nc_naming_meta(x INT)", NULL, 0), 0);
  assert_int_equal(start_node(), 0);
  char *b = NULL;
  assert_int_equal(call("POST", "/nacos/v1/ns/service?serviceName=late", &b), 503);
  assert_non_null(strstr(b, "naming metadata store unavailable"));
  free(b);
  assert_int_equal(call("POST", "/nacos/v2/ns/service?serviceName=late", NULL), 503);
  assert_int_equal(call("PUT", "/nacos/v1/ns/service?serviceName=late", NULL), 503);
  assert_int_equal(nc_tfx_metric(g.f, "nacosd_naming_meta_store_available"), 0);
  assert_int_equal(nc_testpg_sql(g.pg, "DROP TABLE nc_naming_meta", NULL, 0), 0);
  long long t0 = nc_test_now_ms();
  int status;
  while ((status = call("POST", "/nacos/v1/ns/service?serviceName=late&protectThreshold=0.5",
                        NULL)) == 503 &&
         nc_test_now_ms() - t0 < 8000)
    nc_test_sleep_ms(100);
  assert_int_equal(status, 200);
  assert_true(threshold("late") == 0.5);
  assert_int_equal(rows("service_name = 'late'"), 1);
  assert_int_equal(nc_tfx_metric(g.f, "nacosd_naming_meta_store_available"), 1);
  assert_true(nc_tfx_metric(g.f, "nacosd_naming_meta_reload_failures_total") >= 1);
}

static void test_rows_changed_behind_the_node_are_reloaded(void **st) {
  (void)st;
  nc_tw *tw = up();
  nc_tw_instance in = {.ip = "10.2.2.2", .port = 80};
  nc_tw_expect_ok(nc_tw_register(tw, "other", &in), "InstanceResponse");
  nc_tw_service s = {0};
  nc_tw_expect_ok(nc_tw_subscribe(tw, "other", 1, &s), "SubscribeServiceResponse");
  nc_tw_service_free(&s);
  /* a member's write whose notice was lost: only the row */
  assert_int_equal(nc_testpg_sql(g.pg,
                                 "INSERT INTO nc_naming_meta VALUES('s','public','DEFAULT_GROUP',"
                                 "'bk','','{\"protectThreshold\":0.75,\"metadata\":{},"
                                 "\"selector\":{\"type\":\"none\"}}',0)",
                                 NULL, 0),
                   0);
  assert_true(wait_threshold("bk", 0.75, 3000));
  assert_int_equal(nc_testpg_sql(g.pg,
                                 "UPDATE nc_naming_meta SET value='{\"protectThreshold\":0.5}' "
                                 "WHERE service_name='bk'",
                                 NULL, 0),
                   0);
  assert_true(wait_threshold("bk", 0.5, 3000));
  int pushes = nc_tw_notify_count(tw, "other");
  /* an override of a subscribed service: pushed */
  assert_int_equal(nc_testpg_sql(g.pg,
                                 "INSERT INTO nc_naming_meta VALUES('i','public','DEFAULT_GROUP',"
                                 "'other','10.2.2.2:80:DEFAULT','{\"weight\":7}',0)",
                                 NULL, 0),
                   0);
  nc_tw_service cur = {0};
  assert_true(nc_tw_wait_notify(tw, "other", pushes + 1, 3000, &cur) > pushes);
  assert_int_equal(cur.nhosts, 1);
  assert_true(cur.hosts[0].weight == 7.0);
  nc_tw_service_free(&cur);
  /* reloads that find nothing new bump nothing: no more pushes */
  pushes = nc_tw_notify_count(tw, "other");
  nc_test_sleep_ms(1000);
  assert_int_equal(nc_tw_notify_count(tw, "other"), pushes);
  assert_int_equal(nc_testpg_sql(g.pg, "DELETE FROM nc_naming_meta WHERE service_name='bk'", NULL,
                                 0),
                   0);
  assert_true(wait_threshold("bk", -1, 3000));
}

static void test_service_delete_removes_its_overrides(void **st) {
  (void)st;
  nc_tw *tw = up();
  assert_int_equal(call("POST", "/nacos/v1/ns/service?serviceName=del", NULL), 200);
  nc_tw_instance in = {.ip = "10.3.3.3", .port = 80};
  nc_tw_expect_ok(nc_tw_register(tw, "del", &in), "InstanceResponse");
  assert_int_equal(call("PUT", "/nacos/v1/ns/instance?serviceName=del&ip=10.3.3.3&port=80"
                               "&weight=5",
                        NULL),
                   200);
  assert_int_equal(rows("service_name = 'del'"), 2);
  /* refused while it has instances: nothing removed */
  assert_int_equal(call("DELETE", "/nacos/v1/ns/service?serviceName=del", NULL), 400);
  assert_int_equal(rows("service_name = 'del'"), 2);
  nc_tw_expect_ok(nc_tw_deregister(tw, "del", &in), "InstanceResponse");
  char *b = NULL;
  assert_int_equal(call("DELETE", "/nacos/v1/ns/service?serviceName=del", &b), 200);
  assert_string_equal(b, "ok");
  free(b);
  assert_int_equal(rows("service_name = 'del'"), 0);
  /* the instance back: its own weight, the override went with the service */
  nc_tw_expect_ok(nc_tw_register(tw, "del", &in), "InstanceResponse");
  nc_tw_service cur = {0};
  nc_tw_expect_ok(nc_tw_query(tw, "del", &cur), "QueryServiceResponse");
  assert_int_equal(cur.nhosts, 1);
  assert_true(cur.hosts[0].weight == 1.0);
  nc_tw_service_free(&cur);
}

static void test_override_of_gone_instance_expires(void **st) {
  (void)st;
  nc_tw *tw = up();
  nc_tw *tw2 = nc_tfx_connect(g.f, NULL); /* one instance per client and service */
  assert_non_null(tw2);
  nc_tw_instance a = {.ip = "10.4.4.4", .port = 80}, b = {.ip = "10.4.4.5", .port = 80};
  nc_tw_expect_ok(nc_tw_register(tw, "ex", &a), "InstanceResponse");
  nc_tw_expect_ok(nc_tw_register(tw2, "ex", &b), "InstanceResponse");
  assert_int_equal(call("PUT", "/nacos/v1/ns/instance?serviceName=ex&ip=10.4.4.4&port=80"
                               "&weight=5", NULL), 200);
  /* disabled: hidden, but still there, so its override stays */
  assert_int_equal(call("PUT", "/nacos/v1/ns/instance?serviceName=ex&ip=10.4.4.5&port=80"
                               "&weight=5&enabled=false", NULL), 200);
  assert_int_equal(nc_tw_query_hosts(tw, "ex"), 1);
  nc_tw_expect_ok(nc_tw_deregister(tw, "ex", &a), "InstanceResponse");
  long long t0 = nc_test_now_ms();
  assert_true(wait_rows("mkey = '10.4.4.4:80:DEFAULT'", 0, 5000));
  long long took = nc_test_now_ms() - t0;
  fprintf(stderr, "override of a gone instance expired after %lld ms (expiry 1000)\n", took);
  assert_true(took >= 300); /* since its last sighting (sweeps every 500 ms) */
  nc_test_sleep_ms(1500);
  assert_int_equal(rows("mkey = '10.4.4.5:80:DEFAULT'"), 1);
  assert_int_equal(nc_tfx_metric(g.f, "nacosd_naming_meta_expired_total"), 1);
  assert_int_equal(nc_tw_query_hosts(tw, "ex"), 0);
  /* back: its own weight */
  nc_tw_expect_ok(nc_tw_register(tw, "ex", &a), "InstanceResponse");
  nc_tw_service cur = {0};
  nc_tw_expect_ok(nc_tw_query(tw, "ex", &cur), "QueryServiceResponse");
  assert_int_equal(cur.nhosts, 1);
  assert_true(cur.hosts[0].weight == 1.0);
  nc_tw_service_free(&cur);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_write_held_by_database_does_not_stall_queries, teardown),
      cmocka_unit_test_teardown(test_store_unusable_at_start_is_opened_later, teardown),
      cmocka_unit_test_teardown(test_rows_changed_behind_the_node_are_reloaded, teardown),
      cmocka_unit_test_teardown(test_service_delete_removes_its_overrides, teardown),
      cmocka_unit_test_teardown(test_override_of_gone_instance_expires, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}
