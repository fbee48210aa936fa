/* nacosd with auth on (issue 12) over its real HTTP port: login (ok, bad
 * password and unknown user get the same 403), tokens expire
 * (--auth-token-ttl 2), a route without a token is refused with Nacos's
 * message, admin-only routes refuse a plain user, and a loader redirect to
 * an address that is no member is refused. */
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

typedef struct fx {
  char dir[256];
  nc_test_nacosd srv;
} fx;

/* One HTTP/1.1 request (Connection: close): status, body in buf. */
static int http(int port, const char *method, const char *path, const char *form,
                const char *bearer, char *buf, size_t cap) {
  char req[4096];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  int n = snprintf(req, sizeof(req),
                   "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s"
                   "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
                   method, path, bearer ? "Authorization: Bearer " : "", bearer ? bearer : "",
                   bearer ? "\r\n" : "", form ? strlen(form) : 0, form ? form : "");
  assert_int_equal(write(fd, req, (size_t)n), n);
  size_t got = 0;
  ssize_t k;
  while (got + 1 < cap && (k = read(fd, buf + got, cap - 1 - got)) > 0)
    got += (size_t)k;
  buf[got] = 0;
  close(fd);
  int status = 0;
  sscanf(buf, "HTTP/1.%*d %d", &status);
  char *body = strstr(buf, "\r\n\r\n");
  if (body)
    memmove(buf, body + 4, strlen(body + 4) + 1);
  return status;
}

static int start(void **st, const char *ttl) {
  fx *f = calloc(1, sizeof(*f));
  char pw[300];
  assert_int_equal(nc_test_mkdtemp(f->dir, sizeof(f->dir)), 0);
  snprintf(pw, sizeof(pw), "%s/admin.pw", f->dir);
  FILE *fp = fopen(pw, "w");
  fputs("Adm1n-pw\n", fp);
  fclose(fp);
  const char *args[] = {"--auth", "on", "--admin-password-file", pw, "--auth-token-ttl", ttl, NULL};
  nc_test_nacosd_opts o = {.dir = f->dir, .args = args};
  assert_int_equal(nc_test_nacosd_start_opts(&o, &f->srv), 0);
  *st = f;
  return 0;
}
static int setup(void **st) { return start(st, "18000"); }
static int setup_short(void **st) { return start(st, "2"); }

static int teardown(void **st) {
  fx *f = *st;
  assert_int_equal(nc_test_nacosd_stop(&f->srv), 0);
  free(f);
  return 0;
}

/* Logs in; returns the token (malloc'ed) or NULL, status in *status. */
static char *login(fx *f, const char *form, int *status, int *admin) {
  static char buf[8192];
  *status = http(f->srv.port, "POST", "/nacos/v1/auth/users/login", form, NULL, buf, sizeof(buf));
  if (*status != 200)
    return NULL;
  cJSON *o = cJSON_Parse(buf);
  assert_non_null(o);
  assert_int_equal(cJSON_GetObjectItem(o, "tokenTtl")->valueint > 0, 1);
  assert_true(cJSON_IsString(cJSON_GetObjectItem(o, "username")));
  if (admin)
    *admin = cJSON_IsTrue(cJSON_GetObjectItem(o, "globalAdmin"));
  char *t = strdup(cJSON_GetObjectItem(o, "accessToken")->valuestring);
  cJSON_Delete(o);
  return t;
}

static void test_login_ok_and_failures_look_alike(void **st) {
  fx *f = *st;
  int status, admin = 0;
  char bad1[8192], bad2[8192];
  char *tok = login(f, "username=nacos&password=Adm1n-pw", &status, &admin);
  assert_int_equal(status, 200);
  assert_non_null(tok);
  assert_true(admin);
  assert_true(strncmp(tok, "eyJhbGciOiJIUzI1NiJ9.", 21) == 0);
  int s1 = http(f->srv.port, "POST", "/nacos/v1/auth/login", "username=nacos&password=nope",
                NULL, bad1, sizeof(bad1));
  int s2 = http(f->srv.port, "POST", "/nacos/v1/auth/login", "username=ghost&password=nope",
                NULL, bad2, sizeof(bad2));
  assert_int_equal(s1, 403);
  assert_int_equal(s2, 403);
  assert_string_equal(bad1, bad2); /* does not tell whether the user exists */
  assert_non_null(strstr(bad1, "User not found!"));
  free(tok);
}

static void test_routes_need_a_token(void **st) {
  fx *f = *st;
  char buf[8192];
  int status;
  assert_int_equal(http(f->srv.port, "GET", "/nacos/v2/core/loader/current", NULL, NULL, buf,
                        sizeof(buf)), 403);
  assert_string_equal(buf, "user not found!");
  assert_int_equal(http(f->srv.port, "GET", "/nacos/v2/core/loader/current", NULL, "abc.def.ghi",
                        buf, sizeof(buf)), 403);
  assert_string_equal(buf, "token invalid!");
  /* open: health, metrics, readiness */
  assert_int_equal(http(f->srv.port, "GET", "/health", NULL, NULL, buf, sizeof(buf)), 200);
  assert_int_equal(http(f->srv.port, "GET", "/metrics", NULL, NULL, buf, sizeof(buf)), 200);
  char *tok = login(f, "username=nacos&password=Adm1n-pw", &status, NULL);
  assert_non_null(tok);
  assert_int_equal(http(f->srv.port, "GET", "/nacos/v2/core/loader/current", NULL, tok, buf,
                        sizeof(buf)), 200);
  /* the token as a query parameter works too */
  char path[2048];
  snprintf(path, sizeof(path), "/nacos/v2/core/loader/current?accessToken=%s", tok);
  assert_int_equal(http(f->srv.port, "GET", path, NULL, NULL, buf, sizeof(buf)), 200);
  /* redirect to an address that is no member */
  assert_int_equal(http(f->srv.port, "GET",
                        "/nacos/v2/core/loader/reloadCurrent?count=0&redirectAddress=10.9.9.9:8848",
                        NULL, tok, buf, sizeof(buf)), 403);
  assert_non_null(strstr(buf, "not a member"));
  free(tok);
}

static void test_admin_routes_refuse_a_plain_user(void **st) {
  fx *f = *st;
  char buf[8192];
  int status, admin = 1;
  char *tok = login(f, "username=nacos&password=Adm1n-pw", &status, NULL);
  assert_int_equal(http(f->srv.port, "POST", "/nacos/v1/auth/users", "username=bob&password=b0b",
                        tok, buf, sizeof(buf)), 200);
  assert_int_equal(http(f->srv.port, "POST", "/nacos/v1/auth/users", "username=bob&password=b0b",
                        tok, buf, sizeof(buf)), 400);
  assert_int_equal(http(f->srv.port, "POST", "/nacos/v1/auth/roles", "role=devro&username=bob",
                        tok, buf, sizeof(buf)), 200);
  assert_int_equal(http(f->srv.port, "POST", "/nacos/v1/auth/permissions",
                        "role=devro&resource=dev:*:*&action=r", tok, buf, sizeof(buf)), 200);
  assert_int_equal(http(f->srv.port, "GET", "/nacos/v1/auth/permissions?role=devro", NULL, tok,
                        buf, sizeof(buf)), 200);
  assert_non_null(strstr(buf, "\"resource\":\"dev:*:*\""));
  char *bob = login(f, "username=bob&password=b0b", &status, &admin);
  assert_int_equal(status, 200);
  assert_false(admin);
  assert_int_equal(http(f->srv.port, "GET", "/nacos/v1/auth/users", NULL, bob, buf, sizeof(buf)),
                   403);
  assert_string_equal(buf, "authorization failed!");
  assert_int_equal(http(f->srv.port, "GET", "/nacos/v2/core/loader/reloadCurrent?count=0", NULL,
                        bob, buf, sizeof(buf)), 403);
  /* the user is gone after a delete: its password no longer logs in */
  assert_int_equal(http(f->srv.port, "DELETE", "/nacos/v1/auth/users?username=bob", NULL, tok,
                        buf, sizeof(buf)), 200);
  assert_null(login(f, "username=bob&password=b0b", &status, NULL));
  assert_int_equal(status, 403);
  free(bob);
  free(tok);
}

static void test_token_expires(void **st) {
  fx *f = *st;
  char buf[8192];
  int status;
  char *tok = login(f, "username=nacos&password=Adm1n-pw", &status, NULL);
  assert_non_null(tok);
  assert_int_equal(http(f->srv.port, "GET", "/nacos/v2/core/loader/current", NULL, tok, buf,
                        sizeof(buf)), 200);
  sleep(4); /* ttl 2 s; exp is whole seconds and valid through exp itself */
  assert_int_equal(http(f->srv.port, "GET", "/nacos/v2/core/loader/current", NULL, tok, buf,
                        sizeof(buf)), 403);
  assert_string_equal(buf, "token expired!");
  free(tok);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_login_ok_and_failures_look_alike, setup, teardown),
      cmocka_unit_test_setup_teardown(test_routes_need_a_token, setup, teardown),
      cmocka_unit_test_setup_teardown(test_admin_routes_refuse_a_plain_user, setup, teardown),
      cmocka_unit_test_setup_teardown(test_token_expires, setup_short, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
