/* Unit tests of the agent's loop-side building blocks: line framing,
 * option parsing, MD5, host lists, desired state (refcounts, batch bodies,
 * owner drop) and the disk cache. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_opts.h"
#include "cache.h"
#include "hosts.h"
#include "linebuf.h"
#include "nc_err.h"
#include "pushbox.h"
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- linebuf ---- */

typedef struct lines {
  char got[16][64];
  int n;
  int stop_after;
} lines;

static int collect(void *ud, char *line, size_t len) {
  lines *l = ud;
  assert_int_equal(strlen(line), len);
  if (l->n < 16)
    snprintf(l->got[l->n], sizeof(l->got[0]), "%s", line);
  l->n++;
  return l->stop_after && l->n >= l->stop_after;
}

static void test_linebuf_splits_pipelined_and_partial_lines(void **state) {
  (void)state;
  nc_linebuf lb;
  lines l = {0};
  nc_linebuf_init(&lb, 64);
  char p1[] = "{\"a\":1}\n{\"b\"", p2[] = ":2}\r\n\n  \n{\"c\":3}\n";
  assert_int_equal(nc_linebuf_feed(&lb, p1, strlen(p1), collect, &l), 0);
  assert_int_equal(l.n, 1);
  assert_int_equal(nc_linebuf_feed(&lb, p2, strlen(p2), collect, &l), 0);
  assert_int_equal(l.n, 3);
  assert_string_equal(l.got[0], "{\"a\":1}");
  assert_string_equal(l.got[1], "{\"b\":2}");
  assert_string_equal(l.got[2], "{\"c\":3}");
  nc_linebuf_free(&lb);
}

static void test_linebuf_rejects_line_over_cap_after_earlier_lines(void **state) {
  (void)state;
  nc_linebuf lb;
  lines l = {0};
  char big[200];
  nc_linebuf_init(&lb, 16);
  memset(big, 'x', sizeof(big));
  memcpy(big, "ok\n", 3);
  assert_int_equal(nc_linebuf_feed(&lb, big, sizeof(big), collect, &l), NC_ETOOBIG);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.got[0], "ok");
  nc_linebuf_free(&lb);
  /* Exactly at the cap is fine, also when it arrives byte by byte. */
  nc_linebuf_init(&lb, 16);
  l.n = 0;
  char exact[] = "0123456789abcdef\n";
  for (size_t i = 0; i < strlen("0123456789abcdef\n"); i++)
    assert_int_equal(nc_linebuf_feed(&lb, exact + i, 1, collect, &l), 0);
  assert_int_equal(l.n, 1);
  char over[] = "0123456789abcdefgh";
  assert_int_equal(nc_linebuf_feed(&lb, over, 18, collect, &l), NC_ETOOBIG);
  nc_linebuf_free(&lb);
}

static void test_linebuf_stops_when_callback_asks(void **state) {
  (void)state;
  nc_linebuf lb;
  lines l = {0};
  l.stop_after = 1;
  nc_linebuf_init(&lb, 64);
  char abc[] = "a\nb\nc\n";
  assert_int_equal(nc_linebuf_feed(&lb, abc, 6, collect, &l), 1);
  assert_int_equal(l.n, 1);
  nc_linebuf_free(&lb);
}

/* ---- options ---- */

static void test_servers_parse_ports_and_grpc_override(void **state) {
  (void)state;
  nc_server_addr *v = NULL;
  size_t n = 0;
  char err[200];
  assert_int_equal(nc_agent_parse_servers("10.0.0.1:8848, h2:9000#12345,[::1]:7000,host3,h5:1/2", &v, &n,
                                          err, sizeof(err)),
                   0);
  assert_int_equal(n, 5);
  assert_int_equal(v[4].port, 1);
  assert_int_equal(v[4].grpc_port, 2);
  assert_string_equal(v[0].host, "10.0.0.1");
  assert_int_equal(v[0].port, 8848);
  assert_int_equal(v[0].grpc_port, 9848);
  assert_string_equal(v[1].host, "h2");
  assert_int_equal(v[1].grpc_port, 12345);
  assert_string_equal(v[2].host, "::1");
  assert_int_equal(v[2].grpc_port, 8000);
  assert_int_equal(v[3].port, 8848);
  free(v);
  assert_int_equal(nc_agent_parse_servers("h:0", &v, &n, err, sizeof(err)), NC_EINVAL);
  assert_int_equal(nc_agent_parse_servers("h:65000", &v, &n, err, sizeof(err)), NC_EINVAL);
  assert_int_equal(nc_agent_parse_servers("h:1#x", &v, &n, err, sizeof(err)), NC_EINVAL);
  assert_int_equal(nc_agent_parse_servers(" , ", &v, &n, err, sizeof(err)), NC_EINVAL);
  assert_non_null(strstr(err, "no servers"));
}

static void test_uids_parse(void **state) {
  (void)state;
  uid_t *u = NULL;
  size_t n = 0;
  assert_int_equal(nc_agent_parse_uids("0, 1000", &u, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(u[1], 1000);
  free(u);
  assert_int_equal(nc_agent_parse_uids(" ,,7 ,\t8,, ", &u, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(u[0], 7);
  assert_int_equal(u[1], 8);
  free(u);
  assert_int_equal(nc_agent_parse_uids("root", &u, &n), NC_EINVAL);
  assert_int_equal(nc_agent_parse_uids("12x,3", &u, &n), NC_EINVAL);
  assert_int_equal(nc_agent_parse_uids("-1", &u, &n), NC_EINVAL);
  assert_int_equal(nc_agent_parse_uids(NULL, &u, &n), 0);
  assert_null(u);
}

/* ---- hosts ---- */

static cJSON *si_with(const char *hosts_json) {
  char buf[1024];
  snprintf(buf, sizeof(buf), "{\"name\":\"s\",\"groupName\":\"G\",\"hosts\":%s}", hosts_json);
  return cJSON_Parse(buf);
}

static void test_hosts_hash_ignores_order_and_sees_changes(void **state) {
  (void)state;
  cJSON *a = si_with("[{\"ip\":\"1.1.1.1\",\"port\":1,\"clusterName\":\"A\"},"
                     "{\"ip\":\"2.2.2.2\",\"port\":2,\"clusterName\":\"B\",\"healthy\":false}]");
  cJSON *b = si_with("[{\"ip\":\"2.2.2.2\",\"port\":2,\"clusterName\":\"B\",\"healthy\":false},"
                     "{\"ip\":\"1.1.1.1\",\"port\":1,\"clusterName\":\"A\"}]");
  cJSON *c = si_with("[{\"ip\":\"2.2.2.2\",\"port\":2,\"clusterName\":\"B\",\"healthy\":true},"
                     "{\"ip\":\"1.1.1.1\",\"port\":1,\"clusterName\":\"A\"}]");
  cJSON *ha = nc_hosts_from_service_info(a), *hb = nc_hosts_from_service_info(b),
        *hc = nc_hosts_from_service_info(c);
  assert_int_equal(cJSON_GetArraySize(ha), 2);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ha, 0), "cluster")->valuestring, "A");
  assert_true(nc_hosts_hash(ha) == nc_hosts_hash(hb));
  assert_true(nc_hosts_hash(ha) != nc_hosts_hash(hc));
  cJSON *cl = cJSON_Parse("[\"B\"]");
  cJSON *f = nc_hosts_filter(ha, cl, 0);
  assert_int_equal(cJSON_GetArraySize(f), 1);
  cJSON *fh = nc_hosts_filter(ha, NULL, 1);
  assert_int_equal(cJSON_GetArraySize(fh), 1);
  assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(fh, 0), "ip")->valuestring,
                      "1.1.1.1");
  cJSON *empty = cJSON_Parse("{\"name\":\"s\"}");
  cJSON *he = nc_hosts_from_service_info(empty);
  assert_int_equal(cJSON_GetArraySize(he), 0);
  cJSON *all[] = {a, b, c, ha, hb, hc, cl, f, fh, empty, he};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    cJSON_Delete(all[i]);
}

/* ---- state ---- */

static nc_st_inst mkinst(const char *ip, int port, void *owner) {
  nc_st_inst in = {0};
  in.ip = strdup(ip);
  in.port = port;
  in.cluster = strdup("DEFAULT");
  in.weight = 1.0;
  in.healthy = in.enabled = in.ephemeral = 1;
  in.metadata = cJSON_CreateObject();
  in.owner = owner;
  return in;
}

static void test_state_batches_instances_per_service(void **state) {
  (void)state;
  nc_st *st = nc_st_new();
  int app1, app2;
  nc_st_reg *r = NULL;
  nc_st_inst in = mkinst("10.0.0.1", 80, &app1);
  assert_int_equal(nc_st_register(st, "", "G", "svc", &in, &r), 0);
  in = mkinst("10.0.0.2", 80, &app2);
  assert_int_equal(nc_st_register(st, "", "G", "svc", &in, &r), 0);
  in = mkinst("10.0.0.2", 80, &app2); /* same identity: replaces */
  assert_int_equal(nc_st_register(st, "", "G", "svc", &in, &r), 0);
  assert_int_equal(r->n, 2);
  uint64_t gen = r->gen;
  const char *type;
  cJSON *body;
  assert_int_equal(nc_st_reg_request(r, &type, &body), 0);
  assert_string_equal(type, "BatchInstanceRequest");
  assert_string_equal(cJSON_GetObjectItem(body, "type")->valuestring, "batchRegisterInstance");
  assert_string_equal(cJSON_GetObjectItem(body, "namespace")->valuestring, "public");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(body, "instances")), 2);
  cJSON_Delete(body);

  /* The owner goes: its instance leaves the set, the rest is re-sent. */
  int changed = 0;
  nc_st_drop_cbs cbs = {0};
  (void)changed;
  nc_st_drop_owner(st, &app1, &cbs);
  assert_int_equal(r->n, 1);
  assert_true(r->gen > gen);
  assert_int_equal(nc_st_deregister(st, "", "G", "svc", "10.0.0.9", 80, "DEFAULT", &app2, &r),
                   NC_ENOTFOUND);
  assert_int_equal(nc_st_deregister(st, "", "G", "svc", "10.0.0.2", 80, "DEFAULT", &app2, &r), 0);
  assert_int_equal(nc_st_reg_request(r, &type, &body), 0);
  assert_string_equal(type, "InstanceRequest");
  assert_string_equal(cJSON_GetObjectItem(body, "type")->valuestring, "deregisterInstance");
  cJSON_Delete(body);
  nc_st_reg_gc(st, r);
  assert_null(nc_st_reg_get(st, "", "G", "svc"));
  nc_st_counts c;
  nc_st_get_counts(st, &c);
  assert_int_equal(c.instances, 0);
  nc_st_free(st);
}

/* Two owners hold one identity: one entry goes upstream, with the most
 * recent registration's data; each owner releases only its own hold. */
static void test_state_holder_set(void **state) {
  (void)state;
  nc_st *st = nc_st_new();
  int app1, app2;
  nc_st_reg *r = NULL;
  const char *type;
  cJSON *body;
  nc_st_inst in = mkinst("10.0.0.1", 80, &app1);
  in.weight = 1;
  assert_int_equal(nc_st_register(st, "", "G", "svc", &in, &r), 0);
  in = mkinst("10.0.0.1", 80, &app2);
  in.weight = 7;
  assert_int_equal(nc_st_register(st, "", "G", "svc", &in, &r), 0);
  assert_int_equal(nc_st_reg_count(r), 1);
  assert_int_equal(nc_st_reg_holds(r, "10.0.0.1", 80, "DEFAULT"), 2);
  assert_int_equal(nc_st_reg_request(r, &type, &body), 0);
  cJSON *arr = cJSON_GetObjectItem(body, "instances");
  assert_int_equal(cJSON_GetArraySize(arr), 1);
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "weight")->valuedouble, 7);
  cJSON_Delete(body);
  /* app1 re-registers: its hold becomes the most recent one. */
  in = mkinst("10.0.0.1", 80, &app1);
  in.weight = 2;
  assert_int_equal(nc_st_register(st, "", "G", "svc", &in, &r), 0);
  assert_int_equal(nc_st_reg_holds(r, "10.0.0.1", 80, "DEFAULT"), 2);
  assert_int_equal(nc_st_reg_find(r, "10.0.0.1", 80, "DEFAULT")->weight, 2);
  /* A HELD identity stays HELD when its effective hold is released. */
  nc_st_reg_find(r, "10.0.0.1", 80, "DEFAULT")->held = NC_ST_HELD;
  int stranger;
  assert_int_equal(nc_st_deregister(st, "", "G", "svc", "10.0.0.1", 80, "DEFAULT", &stranger, &r),
                   NC_ENOTFOUND);
  assert_int_equal(nc_st_deregister(st, "", "G", "svc", "10.0.0.1", 80, "DEFAULT", &app1, &r), 0);
  nc_st_inst *e = nc_st_reg_find(r, "10.0.0.1", 80, "DEFAULT");
  assert_non_null(e);
  assert_int_equal(e->weight, 7);
  assert_int_equal(e->held, NC_ST_HELD);
  e->held = NC_ST_HELD_NONE;
  nc_st_counts c;
  nc_st_get_counts(st, &c);
  assert_int_equal(c.instances, 1);
  nc_st_drop_owner(st, &app2, NULL);
  assert_int_equal(r->n, 0);
  assert_int_equal(nc_st_reg_request(r, &type, &body), 0);
  assert_string_equal(type, "InstanceRequest");
  cJSON_Delete(body);
  nc_st_free(st);
}

/* ---- pushbox ---- */

static cJSON *hosts_push(const char *svc, int n_hosts) {
  char js[256];
  snprintf(js, sizeof(js),
           "{\"serviceInfo\":{\"name\":\"%s\",\"groupName\":\"G\",\"clusters\":\"\","
           "\"hosts\":[],\"n\":%d}}",
           svc, n_hosts);
  return cJSON_Parse(js);
}

/* A newer host list for a service replaces the one still waiting; other
 * services wait side by side; a take empties the slot. */
static void test_pushbox_keeps_the_newest_per_service(void **state) {
  (void)state;
  nc_pushbox *b = nc_pushbox_new();
  char *ka = NULL, *kb = NULL, *k2 = NULL;
  assert_int_equal(nc_pushbox_put_hosts(b, hosts_push("a", 1), &ka), 1);
  assert_non_null(ka);
  assert_int_equal(nc_pushbox_put_hosts(b, hosts_push("a", 2), &k2), 0);
  assert_null(k2);
  assert_int_equal(nc_pushbox_put_hosts(b, hosts_push("b", 7), &kb), 1);
  assert_int_equal(nc_pushbox_put_hosts(b, hosts_push("a", 3), &k2), 0);
  assert_int_equal(nc_pushbox_replaced(b), 2);
  cJSON *got = nc_pushbox_take(b, ka);
  assert_non_null(got);
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "serviceInfo"), "n")->valueint, 3);
  cJSON_Delete(got);
  assert_null(nc_pushbox_take(b, ka));
  /* After the take the next list is posted again. */
  assert_int_equal(nc_pushbox_put_hosts(b, hosts_push("a", 4), &k2), 1);
  assert_string_equal(k2, ka);
  free(ka);
  free(k2);
  free(kb);
  nc_pushbox_free(b); /* frees what is still pending (b's list, a's 4th) */
}

static int unused_svcs;
static void count_svc(void *ud, nc_st_svc *s) {
  (void)ud;
  (void)s;
  unused_svcs++;
}

static void test_state_subscription_refcount(void **state) {
  (void)state;
  nc_st *st = nc_st_new();
  int apps[100];
  nc_st_svc *s = NULL;
  int first = 0, firsts = 0;
  for (int i = 0; i < 100; i++) {
    assert_int_equal(nc_st_subscribe(st, "", "G", "svc", &apps[i], NULL, &s, &first), 0);
    firsts += first;
  }
  /* Subscribing twice from one app does not add a subscriber. */
  assert_int_equal(nc_st_subscribe(st, "", "G", "svc", &apps[0], NULL, &s, &first), 0);
  assert_int_equal(firsts, 1);
  nc_st_counts c;
  nc_st_get_counts(st, &c);
  assert_int_equal(c.subscriptions, 1);
  assert_int_equal(c.local_subscriptions, 100);
  int last = 0;
  assert_int_equal(nc_st_unsubscribe(st, s, &apps[5], &last), 0);
  assert_false(last);
  assert_int_equal(nc_st_unsubscribe(st, s, &apps[5], &last), NC_ENOTFOUND);
  nc_st_drop_cbs cbs = {NULL, count_svc, NULL, NULL};
  unused_svcs = 0;
  for (int i = 0; i < 100; i++)
    if (i != 5)
      nc_st_drop_owner(st, &apps[i], &cbs);
  assert_int_equal(unused_svcs, 1); /* only when the last one went */
  nc_st_svc_remove(st, s);
  nc_st_get_counts(st, &c);
  assert_int_equal(c.subscriptions, 0);
  nc_st_free(st);
}

static void test_state_config_listeners_and_md5(void **state) {
  (void)state;
  nc_st *st = nc_st_new();
  int a, b;
  nc_st_cfg *cfg = NULL;
  int first = 0, last = 0;
  assert_int_equal(nc_st_listen(st, "ns", "G", "d", &a, &cfg, &first), 0);
  assert_true(first);
  assert_int_equal(nc_st_listen(st, "ns", "G", "d", &b, &cfg, &first), 0);
  assert_false(first);
  nc_st_cfg_set(cfg, "hello");
  assert_true(cfg->exists);
  assert_string_equal(cfg->md5, "5d41402abc4b2a76b9719d911017c592");
  nc_st_cfg_set(cfg, NULL);
  assert_false(cfg->exists);
  assert_string_equal(cfg->md5, "");
  assert_int_equal(nc_st_unlisten(st, cfg, &a, &last), 0);
  assert_false(last);
  assert_int_equal(nc_st_unlisten(st, cfg, &b, &last), 0);
  assert_true(last);
  nc_st_cfg_remove(st, cfg);
  assert_null(nc_st_cfg_get(st, "ns", "G", "d"));
  nc_st_free(st);
}

/* ---- cache ---- */

static void test_cache_round_trip_and_odd_names(void **state) {
  (void)state;
  char dir[] = "/tmp/nc-agent-cache-XXXXXX";
  assert_non_null(mkdtemp(dir));
  nc_cache *c = NULL;
  assert_int_equal(nc_cache_open(dir, &c), 0);
  cJSON *hosts = cJSON_Parse("[{\"ip\":\"1.2.3.4\",\"port\":5}]");
  assert_int_equal(nc_cache_put_hosts(c, "", "G", "../../etc/x y", hosts), 0);
  cJSON *back = NULL;
  assert_int_equal(nc_cache_get_hosts(c, "", "G", "../../etc/x y", &back), 0);
  assert_int_equal(cJSON_GetArraySize(back), 1);
  assert_int_equal(nc_cache_get_hosts(c, "", "G", "other", &back), NC_ENOTFOUND);
  char longname[400];
  memset(longname, 'n', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  assert_int_equal(nc_cache_put_config(c, "ns", "G", longname, "v1", "x"), 0);
  char *content = NULL, md5[33];
  assert_int_equal(nc_cache_get_config(c, "ns", "G", longname, &content, md5), 0);
  assert_string_equal(content, "v1");
  free(content);
  assert_int_equal(nc_cache_del_config(c, "ns", "G", longname), 0);
  assert_int_equal(nc_cache_get_config(c, "ns", "G", longname, &content, md5), NC_ENOTFOUND);
  cJSON_Delete(hosts);
  cJSON_Delete(back);
  nc_cache_close(c);
  char cmd[200];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_linebuf_splits_pipelined_and_partial_lines),
      cmocka_unit_test(test_linebuf_rejects_line_over_cap_after_earlier_lines),
      cmocka_unit_test(test_linebuf_stops_when_callback_asks),
      cmocka_unit_test(test_servers_parse_ports_and_grpc_override),
      cmocka_unit_test(test_uids_parse),
      cmocka_unit_test(test_hosts_hash_ignores_order_and_sees_changes),
      cmocka_unit_test(test_state_batches_instances_per_service),
      cmocka_unit_test(test_state_holder_set),
      cmocka_unit_test(test_pushbox_keeps_the_newest_per_service),
      cmocka_unit_test(test_state_subscription_refcount),
      cmocka_unit_test(test_state_config_listeners_and_md5),
      cmocka_unit_test(test_cache_round_trip_and_odd_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
