/* nacosctl's server commands (login, user, role, permission) against an
 * in-test fake HTTP server: what goes on the wire (method, path, query,
 * form encoding, the Bearer token from --token-file or from a login first),
 * how pages are walked, the exit codes of refusals (4 for 401/403, 1
 * otherwise) and the checks made before anything is sent (secret files
 * others can read, missing or conflicting credentials). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_testproc.h"

#include "nc_testrun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fake server ---- */

#define MAX_REQS 16

static struct {
  int lfd, port, stop[2];
  pthread_t th;
  pthread_mutex_t mu;
  char *reqs[MAX_REQS]; /* each request as received, head and body */
  int nreq;
  int status; /* answer of every non-login request (200 unless a test says) */
  char dir[64];
  char server[32];
} H;

static const char *answer(const char *req, int *status) {
  *status = 200;
  if (!strncmp(req, "POST /nacos/v1/auth/users/login ", 32)) {
    if (strstr(req, "password=wrong")) {
      *status = 403;
      return "User not found! Please check user exist or password is right!";
    }
    return "{\"accessToken\":\"LOGGEDIN\",\"tokenTtl\":18000,\"globalAdmin\":true,"
           "\"username\":\"admin\"}";
  }
  *status = H.status;
  if (H.status == 403)
    return "{\"code\":403,\"message\":\"authorization failed!\",\"data\":null}";
  if (H.status == 500)
    return "{\"code\":500,\"message\":\"user: database failure\",\"data\":null}";
  if (!strncmp(req, "GET /nacos/v1/auth/users?pageNo=1&", 34))
    return "{\"totalCount\":3,\"pageNumber\":1,\"pagesAvailable\":2,\"pageItems\":["
           "{\"username\":\"nacos\",\"password\":\"\"},{\"username\":\"alice\",\"password\":\"\"}]}";
  if (!strncmp(req, "GET /nacos/v1/auth/users?pageNo=2&", 34))
    return "{\"totalCount\":3,\"pageNumber\":2,\"pagesAvailable\":2,\"pageItems\":["
           "{\"username\":\"zed\",\"password\":\"\"}]}";
  if (!strncmp(req, "GET ", 4)) /* any other listing: one empty page */
    return "{\"totalCount\":0,\"pageNumber\":1,\"pagesAvailable\":0,\"pageItems\":[]}";
  return "{\"code\":200,\"message\":\"done ok!\",\"data\":null}";
}

static void serve_one(int fd) {
  char buf[16384];
  size_t len = 0;
  for (;;) { /* head, then Content-Length bytes of body */
    ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (!end)
      continue;
    const char *cl = strstr(buf, "Content-Length: ");
    size_t want = cl && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
    if (len >= (size_t)(end + 4 - buf) + want)
      break;
  }
  buf[len] = '\0';
  int status;
  const char *body = answer(buf, &status);
  char head[256];
  int hn = snprintf(head, sizeof(head),
                    "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n",
                    status, strlen(body));
  if (write(fd, head, (size_t)hn) != hn || write(fd, body, strlen(body)) < 0)
    fprintf(stderr, "fake: write failed\n");
  pthread_mutex_lock(&H.mu);
  if (H.nreq < MAX_REQS)
    H.reqs[H.nreq++] = strdup(buf);
  pthread_mutex_unlock(&H.mu);
}

static void *serve(void *ud) {
  (void)ud;
  for (;;) {
    struct pollfd p[2] = {{.fd = H.lfd, .events = POLLIN}, {.fd = H.stop[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0 || p[1].revents)
      return NULL;
    int fd = accept(H.lfd, NULL, NULL);
    if (fd >= 0) {
      serve_one(fd);
      close(fd);
    }
  }
}

static int setup(void **st) {
  (void)st;
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t sl = sizeof(sa);
  memset(&H, 0, sizeof(H));
  H.status = 200;
  pthread_mutex_init(&H.mu, NULL);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  H.lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(bind(H.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(H.lfd, 16), 0);
  assert_int_equal(getsockname(H.lfd, (struct sockaddr *)&sa, &sl), 0);
  H.port = ntohs(sa.sin_port);
  snprintf(H.server, sizeof(H.server), "127.0.0.1:%d", H.port);
  assert_int_equal(pipe(H.stop), 0);
  assert_int_equal(nc_test_mkdtemp(H.dir, sizeof(H.dir)), 0);
  assert_int_equal(pthread_create(&H.th, NULL, serve, NULL), 0);
  return 0;
}

static int teardown(void **st) {
  (void)st;
  char cmd[128];
  assert_int_equal(write(H.stop[1], "x", 1), 1);
  pthread_join(H.th, NULL);
  close(H.lfd);
  close(H.stop[0]);
  close(H.stop[1]);
  for (int i = 0; i < H.nreq; i++)
    free(H.reqs[i]);
  pthread_mutex_destroy(&H.mu);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", H.dir);
  assert_int_equal(system(cmd), 0);
  return 0;
}

static const char *file(const char *name, const char *line, mode_t mode) {
  static char paths[8][128];
  static int n;
  char *p = paths[n++ % 8];
  snprintf(p, 128, "%s/%s", H.dir, name);
  FILE *fp = fopen(p, "w");
  assert_non_null(fp);
  fprintf(fp, "%s\n", line);
  fclose(fp);
  assert_int_equal(chmod(p, mode), 0);
  return p;
}

static int ctl(nc_trun *p, const char *const *args) {
  const char *argv[32] = {NC_NACOSCTL_BIN};
  int n = 1;
  for (int k = 0; args[k] && n < 31; k++)
    argv[n++] = args[k];
  argv[n] = NULL;
  assert_int_equal(nc_trun_spawn(p, argv, NULL, NULL), 0);
  return nc_trun_finish(p, 10000);
}

static const char *req(int i) {
  assert_true(i < H.nreq);
  return H.reqs[i];
}

/* ---- tests ---- */

static void test_user_create_form_and_bearer(void **st) {
  (void)st;
  nc_trun p;
  const char *tok = file("tok", "TOK123", 0600), *pw = file("pw", "p&w =1%", 0600);
  assert_int_equal(ctl(&p, (const char *[]){"user", "create", "bob", "--new-password-file", pw,
                                            "--token-file", tok, "--server", H.server, NULL}),
                   0);
  assert_string_equal(p.obuf, "done ok!\n");
  assert_int_equal(H.nreq, 1);
  const char *r = req(0);
  assert_true(!strncmp(r, "POST /nacos/v1/auth/users HTTP/1.1\r\n", 36));
  assert_non_null(strstr(r, "\r\nAuthorization: Bearer TOK123\r\n"));
  assert_non_null(strstr(r, "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
  /* the password is form-encoded, only in the body */
  assert_non_null(strstr(r, "\r\n\r\nusername=bob&password=p%26w%20%3D1%25"));
  /* --json: the server's RestResult */
  assert_int_equal(ctl(&p, (const char *[]){"--json", "user", "delete", "bob", "--token-file", tok,
                                            "--server", H.server, NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "\"message\":\"done ok!\""));
  /* DELETE carries its parameters in the query */
  assert_true(!strncmp(req(1), "DELETE /nacos/v1/auth/users?username=bob HTTP/1.1\r\n", 50));
}

static void test_login_first_then_the_call(void **st) {
  (void)st;
  nc_trun p;
  const char *pw = file("apw", "s3cret", 0600);
  assert_int_equal(ctl(&p, (const char *[]){"permission", "add", "ROLE_X", "dev:*:config/a*",
                                            "rw", "--username", "admin", "--password-file", pw,
                                            "--server", H.server, NULL}),
                   0);
  assert_int_equal(H.nreq, 2);
  assert_true(!strncmp(req(0), "POST /nacos/v1/auth/users/login HTTP/1.1\r\n", 41));
  assert_non_null(strstr(req(0), "\r\n\r\nusername=admin&password=s3cret"));
  assert_null(strstr(req(0), "Authorization:"));
  assert_true(!strncmp(req(1), "POST /nacos/v1/auth/permissions HTTP/1.1\r\n", 41));
  assert_non_null(strstr(req(1), "Authorization: Bearer LOGGEDIN\r\n"));
  assert_non_null(strstr(req(1), "\r\n\r\nrole=ROLE_X&resource=dev%3A*%3Aconfig%2Fa*&action=rw"));
  /* login prints the token, or the whole answer with --json */
  assert_int_equal(ctl(&p, (const char *[]){"login", "--username", "admin", "--password-file", pw,
                                            "--server", H.server, NULL}),
                   0);
  assert_string_equal(p.obuf, "LOGGEDIN\n");
  assert_int_equal(ctl(&p, (const char *[]){"login", "--json", "--username", "admin",
                                            "--password-file", pw, "--server", H.server, NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "\"globalAdmin\":true"));
  /* a refused login stops before the call: exit 4 with the server's words */
  const char *bad = file("bad", "wrong", 0600);
  int before = H.nreq;
  assert_int_equal(ctl(&p, (const char *[]){"role", "add", "R", "u", "--username", "admin",
                                            "--password-file", bad, "--server", H.server, NULL}),
                   4);
  assert_non_null(strstr(p.ebuf, "login of admin refused"));
  assert_non_null(strstr(p.ebuf, "User not found!"));
  assert_int_equal(H.nreq, before + 1);
}

static void test_list_walks_every_page(void **st) {
  (void)st;
  nc_trun p;
  const char *tok = file("tok", "T", 0600);
  assert_int_equal(
      ctl(&p, (const char *[]){"user", "list", "--token-file", tok, "--server", H.server, NULL}),
      0);
  assert_string_equal(p.obuf, "USERNAME\nnacos\nalice\nzed\n");
  assert_int_equal(H.nreq, 2);
  assert_non_null(strstr(req(0), "GET /nacos/v1/auth/users?pageNo=1&pageSize=100 HTTP/1.1"));
  assert_non_null(strstr(req(1), "GET /nacos/v1/auth/users?pageNo=2&pageSize=100 HTTP/1.1"));
  assert_int_equal(ctl(&p, (const char *[]){"--json", "user", "list", "--token-file", tok,
                                            "--server", H.server, NULL}),
                   0);
  assert_string_equal(p.obuf,
                      "{\"username\":\"nacos\"}\n{\"username\":\"alice\"}\n{\"username\":\"zed\"}\n");
  /* a filter goes as the username parameter */
  assert_int_equal(ctl(&p, (const char *[]){"role", "list", "alice", "--token-file", tok,
                                            "--server", H.server, NULL}),
                   0);
  assert_string_equal(p.obuf, "ROLE  USERNAME\n(no roles)\n");
  assert_non_null(strstr(req(4), "GET /nacos/v1/auth/roles?pageNo=1&pageSize=100&username=alice "));
}

static void test_refusals_exit_codes(void **st) {
  (void)st;
  nc_trun p;
  const char *tok = file("tok", "T", 0600);
  H.status = 403;
  assert_int_equal(ctl(&p, (const char *[]){"role", "delete", "R", "--token-file", tok, "--server",
                                            H.server, NULL}),
                   4);
  assert_non_null(strstr(p.ebuf, "(HTTP 403): authorization failed! (this needs an admin)"));
  /* without credentials the hint says how to log in */
  assert_int_equal(ctl(&p, (const char *[]){"role", "delete", "R", "--server", H.server, NULL}),
                   4);
  assert_non_null(strstr(p.ebuf, "--password-file"));
  assert_null(strstr(req(1), "Authorization:"));
  H.status = 500;
  assert_int_equal(ctl(&p, (const char *[]){"user", "delete", "x", "--token-file", tok, "--server",
                                            H.server, NULL}),
                   1);
  assert_non_null(strstr(p.ebuf, "answered HTTP 500: user: database failure"));
}

static void test_checked_before_sending(void **st) {
  (void)st;
  nc_trun p;
  const char *tok = file("tok", "T", 0600), *loose = file("loose", "T", 0640),
             *pw = file("pw", "x", 0600), *empty = file("empty", "", 0600);
  const char *S = H.server;
  /* secret files others may read */
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--token-file", loose, "--server", S,
                                            NULL}),
                   2);
  assert_non_null(strstr(p.ebuf, "mode 0640): chmod 600 it"));
  assert_int_equal(ctl(&p, (const char *[]){"user", "create", "u", "--new-password-file", loose,
                                            "--token-file", tok, "--server", S, NULL}),
                   2);
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--token-file", empty, "--server", S,
                                            NULL}),
                   2);
  assert_non_null(strstr(p.ebuf, "is empty"));
  /* missing or conflicting options */
  assert_int_equal(
      ctl(&p, (const char *[]){"user", "create", "u", "--token-file", tok, "--server", S, NULL}), 2);
  assert_non_null(strstr(p.ebuf, "missing --new-password-file"));
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--password-file", pw, "--server", S,
                                            NULL}),
                   2);
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--token-file", tok, "--username",
                                            "a", "--password-file", pw, "--server", S, NULL}),
                   2);
  assert_int_equal(ctl(&p, (const char *[]){"login", "--server", S, NULL}), 2);
  assert_int_equal(ctl(&p, (const char *[]){"permission", "add", "R", "x", "--server", S, NULL}),
                   2);
  assert_int_equal(ctl(&p, (const char *[]){"user", "--server", S, NULL}), 2);
  assert_non_null(strstr(p.ebuf, "list, create, password, delete or init-admin"));
  /* init-admin takes no credentials */
  assert_int_equal(ctl(&p, (const char *[]){"user", "init-admin", "--new-password-file", pw,
                                            "--token-file", tok, "--server", S, NULL}),
                   2);
  assert_int_equal(H.nreq, 0);
  /* and sends none */
  assert_int_equal(ctl(&p, (const char *[]){"user", "init-admin", "--new-password-file", pw,
                                            "--server", S, NULL}),
                   0);
  assert_true(!strncmp(req(0), "POST /nacos/v1/auth/users/admin HTTP/1.1\r\n", 41));
  assert_null(strstr(req(0), "Authorization:"));
  assert_non_null(strstr(req(0), "\r\n\r\npassword=x"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_user_create_form_and_bearer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_login_first_then_the_call, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_walks_every_page, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refusals_exit_codes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_checked_before_sending, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
