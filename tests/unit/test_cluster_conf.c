/* Unit tests: the cluster member list and self address (cluster_conf.h,
 * nacos-cluster.md §1.2/§1.3): cluster.conf comments, commas, [v6]:port,
 * the default port, the errors that fail a whole read, --members
 * trimming, self found or refused with the list named; and nc_cluster
 * in-process (no transport): members start UP, Member JSON as §1.4,
 * readiness holds in order, start-up refused for a self not in the list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster.h"
#include "cluster_conf.h"
#include "nc_err.h"
#include "nc_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_err[1024];

static void assert_list(const nc_cluster_list *l, const char *const *want, size_t n) {
  assert_int_equal(l->n, n);
  for (size_t i = 0; i < n; i++)
    assert_string_equal(l->addr[i], want[i]);
}

static void test_conf_comments_commas_v6_default_port(void **state) {
  (void)state;
  nc_cluster_list l;
  const char *text = "# the cluster\n"
                     "\n"
                     "10.0.0.2:8848 # B\n"
                     "  10.0.0.1  \r\n"
                     "10.0.0.3:8850,10.0.0.4:8851,\n"
                     "[::1]:9000\n"
                     "[fe80::1]\n"
                     "10.0.0.1:7777\n"
                     "node-a.example:8848\n"
                     "10.0.0.2:8848\n";
  assert_int_equal(nc_cluster_conf_parse(text, 7777, &l, g_err, sizeof(g_err)), 0);
  /* sorted, duplicates gone, missing ports are this node's port */
  static const char *const want[] = {"10.0.0.1:7777", "10.0.0.2:8848", "10.0.0.3:8850",
                                     "10.0.0.4:8851", "[::1]:9000",    "[fe80::1]:7777",
                                     "node-a.example:8848"};
  assert_list(&l, want, 7);
  nc_cluster_list_free(&l);
}

static void expect_conf_error(const char *text, const char *msg_part) {
  nc_cluster_list l = {0};
  g_err[0] = '\0';
  assert_int_equal(nc_cluster_conf_parse(text, 8848, &l, g_err, sizeof(g_err)), NC_EINVAL);
  assert_int_equal(l.n, 0);
  assert_null(l.addr);
  if (!strstr(g_err, msg_part))
    fail_msg("error '%s' lacks '%s'", g_err, msg_part);
}

static void test_conf_errors_fail_the_whole_read(void **state) {
  (void)state;
  /* a whitespace-only line is not skipped (only length 0 is) */
  expect_conf_error("10.0.0.1:8848\n   \n10.0.0.2:8848\n", "line 2");
  /* the raft_port form of the shipped comment does not parse */
  expect_conf_error("10.0.0.1:8848?raft_port=8807\n", "line 1: bad member '10.0.0.1:8848?raft");
  expect_conf_error("10.0.0.1:0\n", "line 1");
  expect_conf_error("10.0.0.1:65536\n", "line 1");
  expect_conf_error("10.0.0.1:8848,,10.0.0.2:8848\n", "line 1: bad member ''");
  /* elements of a comma line are not trimmed */
  expect_conf_error("10.0.0.1:8848, 10.0.0.2:8848\n", "line 1");
  expect_conf_error("::1:8848\n", "line 1");
  expect_conf_error("[::1\n", "line 1");
  expect_conf_error("# only comments\n\n", "empty");
}

static void test_members_option_trims(void **state) {
  (void)state;
  nc_cluster_list l;
  assert_int_equal(
      nc_cluster_members_parse(" 127.0.0.2:8848 ,127.0.0.1, ,", 8848, &l, g_err, sizeof(g_err)),
      0);
  static const char *const want[] = {"127.0.0.1:8848", "127.0.0.2:8848"};
  assert_list(&l, want, 2);
  nc_cluster_list_free(&l);
  assert_int_equal(nc_cluster_members_parse("127.0.0.1:x", 8848, &l, g_err, sizeof(g_err)),
                   NC_EINVAL);
  assert_non_null(strstr(g_err, "--members: bad member '127.0.0.1:x'"));
  assert_int_equal(nc_cluster_members_parse(" , ", 8848, &l, g_err, sizeof(g_err)), NC_EINVAL);
}

static void test_conf_file(void **state) {
  (void)state;
  char path[] = "/tmp/test_cluster_conf_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text = "127.0.0.3:8848\n127.0.0.1:8848\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  nc_cluster_list l;
  assert_int_equal(nc_cluster_conf_read(path, 8848, &l, g_err, sizeof(g_err)), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.addr[0], "127.0.0.1:8848");
  nc_cluster_list_free(&l);
  unlink(path);
  assert_int_equal(nc_cluster_conf_read(path, 8848, &l, g_err, sizeof(g_err)), NC_EIO);
  assert_non_null(strstr(g_err, path));
}

static void test_self_found_or_refused(void **state) {
  (void)state;
  nc_cluster_list l;
  char self[128];
  assert_int_equal(
      nc_cluster_members_parse("127.0.0.1:8848,127.0.0.2:8848,[::1]:8848", 8848, &l, g_err,
                               sizeof(g_err)),
      0);
  assert_int_equal(
      nc_cluster_find_self(&l, "127.0.0.2", 8848, self, sizeof(self), g_err, sizeof(g_err)), 0);
  assert_string_equal(self, "127.0.0.2:8848");
  assert_int_equal(
      nc_cluster_find_self(&l, "::1", 8848, self, sizeof(self), g_err, sizeof(g_err)), 0);
  assert_string_equal(self, "[::1]:8848");
  /* same ip, other port: not this node */
  assert_int_equal(
      nc_cluster_find_self(&l, "127.0.0.2", 8849, self, sizeof(self), g_err, sizeof(g_err)),
      NC_EINVAL);
  assert_non_null(strstr(g_err, "127.0.0.2:8849"));
  assert_non_null(strstr(g_err, "127.0.0.1:8848, 127.0.0.2:8848, [::1]:8848"));
  /* found as Nacos does: never loopback when a real interface is up */
  char ip[64];
  nc_cluster_local_ip(ip, sizeof(ip));
  assert_true(ip[0] != '\0');
  g_err[0] = '\0';
  int rc = nc_cluster_find_self(&l, NULL, 8848, self, sizeof(self), g_err, sizeof(g_err));
  if (strcmp(ip, "127.0.0.1") == 0)
    assert_int_equal(rc, 0);
  else {
    assert_int_equal(rc, NC_EINVAL);
    assert_non_null(strstr(g_err, "(found)"));
  }
  nc_cluster_list_free(&l);
}

static void test_split_addr(void **state) {
  (void)state;
  char host[64];
  int port = 0;
  assert_int_equal(nc_cluster_split_addr("[::1]:9", 1, host, sizeof(host), &port), 0);
  assert_string_equal(host, "[::1]");
  assert_int_equal(port, 9);
  assert_int_equal(nc_cluster_split_addr("h", 5, host, sizeof(host), &port), 0);
  assert_int_equal(port, 5);
  assert_int_equal(nc_cluster_split_addr(":1", 5, host, sizeof(host), &port), NC_EINVAL);
  assert_int_equal(nc_cluster_split_addr("[]:1", 5, host, sizeof(host), &port), NC_EINVAL);
  assert_int_equal(nc_cluster_split_addr("[::1]x", 5, host, sizeof(host), &port), NC_EINVAL);
}

/* ---- nc_cluster in-process (no transport started) ---- */

typedef struct fixture {
  uv_loop_t loop;
  nc_srv *srv;
  nc_cluster *cl;
} fixture;

static int new_cluster(fixture *f, const char *members, const char *advertise) {
  uv_loop_init(&f->loop);
  nc_srv_opts so = {.bind = "127.0.0.1", .cluster_port = -1};
  assert_int_equal(nc_srv_new(&f->loop, &so, &f->srv), 0);
  nc_cluster_opts o = {.members = members, .advertise_ip = advertise, .main_port = 8848};
  return nc_cluster_new(&f->loop, f->srv, &o, &f->cl);
}

static void free_cluster(fixture *f) {
  nc_cluster_free(f->cl);
  nc_srv_shutdown(f->srv);
  nc_srv_free(f->srv);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uv_loop_close(&f->loop);
}

static void test_cluster_members_and_json(void **state) {
  (void)state;
  fixture f = {0};
  assert_int_equal(new_cluster(&f, "127.0.0.3:8848,127.0.0.1:8848,127.0.0.2:8848", "127.0.0.2"),
                   0);
  assert_false(nc_cluster_is_standalone(f.cl));
  assert_string_equal(nc_cluster_self(f.cl), "127.0.0.2:8848");
  nc_member_info mi[4];
  assert_int_equal(nc_cluster_members(f.cl, mi, 4), 3);
  for (int i = 0; i < 3; i++) {
    char want[32];
    snprintf(want, sizeof(want), "127.0.0.%d:8848", i + 1);
    assert_string_equal(mi[i].address, want);
    assert_int_equal(mi[i].state, NC_MEMBER_UP);
    assert_int_equal(mi[i].is_self, i == 1);
    assert_int_equal(mi[i].connected, 0);
  }
  assert_string_equal(mi[1].version, NC_VERSION);
  cJSON *self = nc_cluster_member_json(f.cl, "127.0.0.2:8848");
  assert_non_null(self);
  assert_string_equal(nc_json_str(self, "ip", ""), "127.0.0.2");
  assert_int_equal(nc_json_int(self, "port", 0), 8848);
  assert_string_equal(nc_json_str(self, "state", ""), "UP");
  assert_string_equal(nc_json_str(self, "address", ""), "127.0.0.2:8848");
  assert_int_equal(nc_json_int(self, "failAccessCnt", -1), 0);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(self, "grpcReportEnabled")));
  const cJSON *ext = cJSON_GetObjectItem(self, "extendInfo");
  assert_string_equal(nc_json_str(ext, "raftPort", ""), "7848");
  assert_string_equal(nc_json_str(ext, "version", ""), NC_VERSION);
  assert_string_equal(nc_json_str(ext, "site", ""), "unknow");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ext, "readyToUpgrade")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(ext, "nc.ready")));
  assert_true(cJSON_IsNumber(cJSON_GetObjectItem(ext, "nc.connections")));
  assert_true(cJSON_IsNumber(cJSON_GetObjectItem(ext, "lastRefreshTime")));
  /* extendInfo keys sorted, as Java's TreeMap writes them */
  const cJSON *prev = NULL, *it;
  cJSON_ArrayForEach(it, ext) {
    if (prev)
      assert_true(strcmp(prev->string, it->string) < 0);
    prev = it;
  }
  assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(self, "abilities"), "remoteAbility"));
  cJSON_Delete(self);
  cJSON *all = nc_cluster_members_json(f.cl);
  assert_int_equal(cJSON_GetArraySize(all), 3);
  assert_string_equal(nc_json_str(cJSON_GetArrayItem(all, 0), "address", ""), "127.0.0.1:8848");
  cJSON_Delete(all);
  assert_null(nc_cluster_member_json(f.cl, "127.0.0.9:8848"));
  /* not started: sends refuse at once (cb never runs) */
  assert_int_equal(nc_cluster_send(f.cl, "127.0.0.1:8848", "MemberReportRequest",
                                   cJSON_CreateObject(), 0, NULL, NULL),
                   NC_EINVAL);
  free_cluster(&f);
}

static void test_readiness_holds(void **state) {
  (void)state;
  fixture f = {0};
  char why[64];
  assert_int_equal(new_cluster(&f, NULL, NULL), 0);
  assert_true(nc_cluster_is_standalone(f.cl));
  assert_int_equal(nc_cluster_ready(f.cl, why, sizeof(why)), 1);
  nc_cluster_hold *a = nc_cluster_hold_ready(f.cl, "snapshot");
  nc_cluster_hold *b = nc_cluster_hold_ready(f.cl, "config");
  assert_int_equal(nc_cluster_ready(f.cl, why, sizeof(why)), 0);
  assert_string_equal(why, "snapshot"); /* the oldest hold's reason */
  cJSON *self = nc_cluster_member_json(f.cl, nc_cluster_self(f.cl));
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(self, "extendInfo"),
                                                "nc.ready")));
  cJSON_Delete(self);
  nc_cluster_release_ready(f.cl, a);
  assert_int_equal(nc_cluster_ready(f.cl, why, sizeof(why)), 0);
  assert_string_equal(why, "config");
  nc_cluster_release_ready(f.cl, b);
  assert_int_equal(nc_cluster_ready(f.cl, why, sizeof(why)), 1);
  /* a hold left at free is released by it (no leak) */
  (void)nc_cluster_hold_ready(f.cl, "left");
  free_cluster(&f);
}

static void test_self_not_in_list_fails_start(void **state) {
  (void)state;
  fixture f = {0};
  assert_int_equal(new_cluster(&f, "127.0.0.1:8848,127.0.0.2:8848", "127.0.0.5"), NC_EINVAL);
  assert_null(f.cl);
  nc_cluster_opts o = {.members = "127.0.0.1:8848,bad:port:x", .advertise_ip = "127.0.0.1",
                       .main_port = 8848};
  assert_int_equal(nc_cluster_new(&f.loop, f.srv, &o, &f.cl), NC_EINVAL);
  assert_null(f.cl);
  nc_srv_shutdown(f.srv);
  nc_srv_free(f.srv);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  uv_loop_close(&f.loop);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conf_comments_commas_v6_default_port),
      cmocka_unit_test(test_conf_errors_fail_the_whole_read),
      cmocka_unit_test(test_members_option_trims),
      cmocka_unit_test(test_conf_file),
      cmocka_unit_test(test_self_found_or_refused),
      cmocka_unit_test(test_split_addr),
      cmocka_unit_test(test_cluster_members_and_json),
      cmocka_unit_test(test_readiness_holds),
      cmocka_unit_test(test_self_not_in_list_fails_start),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
