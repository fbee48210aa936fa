/* HTTP requests authenticated by their own username + password parameters
 * (issue 14 with issue 12's auth), as Nacos's AbstractAuthenticationManager
 * accepts them when a request has no token and as the npm nacos client
 * sends them: with --auth on, a naming and a config open-API call succeed
 * with the right pair (query and form), get 403 with Nacos's one message
 * for a wrong password or an unknown user, a read-only user reads but does
 * not write, a changed password is refused on the very next request (the
 * verified-pair cache is invalidated), a flood of wrong pairs sent at once
 * is throttled (metric) without locking out a pair already verified, and the password
 * never reaches the log. */
#include "nc_testhttp.h"
#include "nc_testproc.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ADMIN_PW "Adm1n-pw"
#define BAD "User not found! Please check user exist or password is right!"

typedef struct fx {
  char dir[256];
  nc_test_nacosd srv;
} fx;

static int setup(void **st) {
  fx *f = calloc(1, sizeof(*f));
  char pw[300];
  if (!f || nc_test_mkdtemp(f->dir, sizeof(f->dir)))
    return -1;
  snprintf(pw, sizeof(pw), "%s/admin.pw", f->dir);
  FILE *fp = fopen(pw, "w");
  fputs(ADMIN_PW "\n", fp);
  fclose(fp);
  const char *args[] = {"--auth", "on", "--admin-password-file", pw, NULL};
  nc_test_nacosd_opts o = {.dir = f->dir, .args = args};
  *st = f;
  return nc_test_nacosd_start_opts(&o, &f->srv) ? -1 : 0;
}

static int teardown(void **st) {
  fx *f = *st;
  int rc = nc_test_nacosd_stop(&f->srv);
  nc_test_rmtree(f->dir);
  free(f);
  return rc ? -1 : 0;
}

static int req(void **st, const char *method, const char *path, const char *form,
               const char *tok, char *buf, size_t cap) {
  fx *f = *st;
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(f->srv.port, method, path, form, tok, &status, &b), 0);
  snprintf(buf, cap, "%s", b ? b : "");
  free(b);
  return status;
}

static char *login(void **st, const char *user, const char *pw) {
  char form[256], buf[4096];
  snprintf(form, sizeof(form), "username=%s&password=%s", user, pw);
  assert_int_equal(req(st, "POST", "/nacos/v1/auth/login", form, NULL, buf, sizeof(buf)), 200);
  cJSON *o = cJSON_Parse(buf);
  assert_non_null(o);
  char *t = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(o, "accessToken")));
  cJSON_Delete(o);
  return t;
}

/* A user (password Pw-<user>) with role <user>-role holding (resource, action). */
static void user_with(void **st, const char *adm, const char *user, const char *resource,
                      const char *action) {
  char form[512], buf[4096];
  snprintf(form, sizeof(form), "username=%s&password=Pw-%s", user, user);
  assert_int_equal(req(st, "POST", "/nacos/v1/auth/users", form, adm, buf, sizeof(buf)), 200);
  snprintf(form, sizeof(form), "role=%s-role&username=%s", user, user);
  assert_int_equal(req(st, "POST", "/nacos/v1/auth/roles", form, adm, buf, sizeof(buf)), 200);
  snprintf(form, sizeof(form), "role=%s-role&resource=%s&action=%s", user, resource, action);
  assert_int_equal(req(st, "POST", "/nacos/v1/auth/permissions", form, adm, buf, sizeof(buf)),
                   200);
}

static long long metric(void **st, const char *name) {
  fx *f = *st;
  return nc_test_metric_at(NULL, f->srv.port, name);
}

#define LIST "/nacos/v1/ns/instance/list?serviceName=x"
#define REG "/nacos/v1/ns/instance?serviceName=x&ip=1.2.3.4&port=80"
#define CFG "/nacos/v1/cs/configs?dataId=d&group=G"

static void test_right_pair_query_and_form(void **st) {
  char buf[4096];
  /* naming: query, then form */
  assert_int_equal(req(st, "POST", REG "&username=nacos&password=" ADMIN_PW, NULL, NULL, buf,
                       sizeof(buf)), 200);
  assert_string_equal(buf, "ok");
  assert_int_equal(req(st, "GET", LIST "&username=nacos&password=" ADMIN_PW, NULL, NULL, buf,
                       sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"ip\":\"1.2.3.4\""));
  assert_int_equal(req(st, "PUT", "/nacos/v1/ns/instance?serviceName=x&ip=1.2.3.4&port=80&weight=2",
                       "username=nacos&password=" ADMIN_PW, NULL, buf, sizeof(buf)), 200);
  /* config: form publish, query read */
  assert_int_equal(req(st, "POST", "/nacos/v1/cs/configs",
                       "dataId=d&group=G&content=hello&username=nacos&password=" ADMIN_PW, NULL,
                       buf, sizeof(buf)), 200);
  assert_string_equal(buf, "true");
  assert_int_equal(req(st, "GET", CFG "&username=nacos&password=" ADMIN_PW, NULL, NULL, buf,
                       sizeof(buf)), 200);
  assert_string_equal(buf, "hello");
  /* the first pair was checked once, the rest came from the cache */
  assert_int_equal(metric(st, "nacosd_http_credential_checks_ok_total"), 1);
  assert_true(metric(st, "nacosd_http_credential_cache_hits_total") >= 4);
  /* a token still wins over a pair (a wrong pair beside a good token) */
  char *adm = login(st, "nacos", ADMIN_PW);
  assert_int_equal(req(st, "GET", LIST "&username=nacos&password=nope", NULL, adm, buf,
                       sizeof(buf)), 200);
  free(adm);
}

static void test_wrong_pair_is_refused_alike(void **st) {
  char buf[4096], buf2[4096];
  assert_int_equal(req(st, "GET", LIST "&username=nacos&password=wrong", NULL, NULL, buf,
                       sizeof(buf)), 403);
  assert_string_equal(buf, BAD);
  assert_int_equal(req(st, "GET", LIST "&username=ghost&password=wrong", NULL, NULL, buf2,
                       sizeof(buf2)), 403);
  assert_string_equal(buf2, BAD);
  assert_int_equal(req(st, "POST", "/nacos/v1/cs/configs",
                       "dataId=d&group=G&content=x&username=nacos&password=wrong", NULL, buf,
                       sizeof(buf)), 403);
  assert_string_equal(buf, BAD);
  assert_int_equal(req(st, "GET", LIST "&username=nacos&password=", NULL, NULL, buf,
                       sizeof(buf)), 403);
  assert_string_equal(buf, BAD);
  assert_int_equal(metric(st, "nacosd_http_credential_checks_failed_total"), 3);
  /* a wrong pair is not remembered: the right one is still checked */
  assert_int_equal(req(st, "GET", LIST "&username=nacos&password=" ADMIN_PW, NULL, NULL, buf,
                       sizeof(buf)), 200);
  assert_int_equal(metric(st, "nacosd_http_credential_checks_ok_total"), 1);
  /* the password is in no log line */
  fx *f = *st;
  char path[400];
  snprintf(path, sizeof(path), "%s/nacosd.log", f->dir);
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  char line[4096];
  while (fgets(line, sizeof(line), fp)) {
    assert_null(strstr(line, "wrong"));
    assert_null(strstr(line, ADMIN_PW));
  }
  fclose(fp);
}

static void test_read_only_user(void **st) {
  char buf[4096];
  char *adm = login(st, "nacos", ADMIN_PW);
  assert_int_equal(req(st, "POST", REG, NULL, adm, buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "POST", CFG "&content=v1", NULL, adm, buf, sizeof(buf)), 200);
  user_with(st, adm, "reader", "public:*:*", "r");
  user_with(st, adm, "cfgr", ":G:config/*", "r");
  assert_int_equal(req(st, "GET", LIST "&username=reader&password=Pw-reader", NULL, NULL, buf,
                       sizeof(buf)), 200);
  assert_non_null(strstr(buf, "1.2.3.4"));
  assert_int_equal(req(st, "POST", "/nacos/v1/ns/instance?serviceName=x&ip=5.6.7.8&port=1",
                       "username=reader&password=Pw-reader", NULL, buf, sizeof(buf)), 403);
  assert_string_equal(buf, "authorization failed!");
  assert_int_equal(req(st, "GET", CFG "&username=cfgr&password=Pw-cfgr", NULL, NULL, buf,
                       sizeof(buf)), 200);
  assert_string_equal(buf, "v1");
  assert_int_equal(req(st, "POST", "/nacos/v1/cs/configs",
                       "dataId=d&group=G&content=v2&username=cfgr&password=Pw-cfgr", NULL, buf,
                       sizeof(buf)), 403);
  /* admin routes stay the admin's */
  assert_int_equal(req(st, "GET", "/nacos/v1/auth/users?pageNo=1&pageSize=10"
                                  "&username=reader&password=Pw-reader",
                       NULL, NULL, buf, sizeof(buf)), 403);
  assert_int_equal(req(st, "GET", CFG, NULL, adm, buf, sizeof(buf)), 200);
  assert_string_equal(buf, "v1");
  free(adm);
}

static void test_password_change_kills_the_cache_entry(void **st) {
  char buf[4096];
  char *adm = login(st, "nacos", ADMIN_PW);
  user_with(st, adm, "rot", "public:*:*", "r");
  assert_int_equal(req(st, "GET", LIST "&username=rot&password=Pw-rot", NULL, NULL, buf,
                       sizeof(buf)), 200);
  assert_int_equal(req(st, "GET", LIST "&username=rot&password=Pw-rot", NULL, NULL, buf,
                       sizeof(buf)), 200);
  long long hits = metric(st, "nacosd_http_credential_cache_hits_total");
  assert_true(hits >= 1);
  assert_int_equal(req(st, "PUT", "/nacos/v1/auth/users", "username=rot&newPassword=Pw-new", adm,
                       buf, sizeof(buf)), 200);
  assert_int_equal(req(st, "GET", LIST "&username=rot&password=Pw-rot", NULL, NULL, buf,
                       sizeof(buf)), 403);
  assert_string_equal(buf, BAD);
  assert_int_equal(req(st, "GET", LIST "&username=rot&password=Pw-new", NULL, NULL, buf,
                       sizeof(buf)), 200);
  /* a deleted user's cached pair dies too */
  assert_int_equal(req(st, "GET", LIST "&username=rot&password=Pw-new", NULL, NULL, buf,
                       sizeof(buf)), 200);
  assert_int_equal(req(st, "DELETE", "/nacos/v1/auth/users?username=rot", NULL, adm, buf,
                       sizeof(buf)), 200);
  assert_int_equal(req(st, "GET", LIST "&username=rot&password=Pw-new", NULL, NULL, buf,
                       sizeof(buf)), 403);
  assert_string_equal(buf, BAD);
  free(adm);
}

/* Sends a GET on a new connection; the answer is read by read_status. */
static int send_get(int port, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  char req[1024];
  int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                   path);
  assert_int_equal(write(fd, req, (size_t)n), n);
  return fd;
}

static int read_status(int fd, char *buf, size_t cap) {
  size_t got = 0;
  ssize_t k;
  while (got + 1 < cap && (k = read(fd, buf + got, cap - 1 - got)) > 0)
    got += (size_t)k;
  buf[got] = 0;
  close(fd);
  int status = 0;
  sscanf(buf, "HTTP/1.%*d %d", &status);
  return status;
}

#define FLOOD 40

static void test_wrong_pairs_are_throttled(void **st) {
  fx *f = *st;
  char buf[4096], path[256];
  int fds[FLOOD];
  /* parallel first requests with one pair wait for one check: all served */
  for (int i = 0; i < 8; i++)
    fds[i] = send_get(f->srv.port, LIST "&username=nacos&password=" ADMIN_PW);
  for (int i = 0; i < 8; i++)
    assert_int_equal(read_status(fds[i], buf, sizeof(buf)), 200);
  assert_int_equal(metric(st, "nacosd_http_credential_checks_ok_total"), 1);
  assert_int_equal(metric(st, "nacosd_http_credential_throttled_total"), 0);
  /* FLOOD wrong pairs at once: at most 4 are checked at a time and the
   * failure budget (10, then 5/s) runs out, so most are refused unchecked */
  long long t0 = nc_test_now_ms();
  for (int i = 0; i < FLOOD; i++) {
    snprintf(path, sizeof(path), LIST "&username=nacos&password=guess%d", i);
    fds[i] = send_get(f->srv.port, path);
  }
  for (int i = 0; i < FLOOD; i++) {
    assert_int_equal(read_status(fds[i], buf, sizeof(buf)), 403);
    assert_non_null(strstr(buf, BAD));
  }
  long long ms = nc_test_now_ms() - t0;
  long long failed = metric(st, "nacosd_http_credential_checks_failed_total");
  long long throttled = metric(st, "nacosd_http_credential_throttled_total");
  print_message("%d wrong pairs at once in %lld ms: %lld checked, %lld throttled\n", FLOOD, ms,
                failed, throttled);
  assert_int_equal(failed + throttled, FLOOD);
  assert_true(failed <= 10 + 5 * (ms / 1000 + 1));
  assert_true(throttled >= FLOOD - 10 - 5 * (ms / 1000 + 1));
  assert_true(throttled > 0);
  /* the pair verified before the flood still works (from the cache) */
  assert_int_equal(req(st, "GET", LIST "&username=nacos&password=" ADMIN_PW, NULL, NULL, buf,
                       sizeof(buf)), 200);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_right_pair_query_and_form, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_pair_is_refused_alike, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only_user, setup, teardown),
      cmocka_unit_test_setup_teardown(test_password_change_kills_the_cache_entry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_pairs_are_throttled, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
