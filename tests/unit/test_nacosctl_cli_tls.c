/* nacosctl's HTTPS options (issue 12), checked on the real binary before
 * anything is sent: which --server schemes are taken, --tls-* options that
 * need HTTPS or each other, a client key others can read, unreadable
 * files, options only server commands take, the handshake's deadline
 * (--timeout) against a port that never answers, and the help texts. No
 * server runs here (an https:// server on a closed port shows the address
 * parsed: exit 3, cannot connect); test_nacosctl_tls has the real HTTPS
 * runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_testproc.h"

#include "nc_testrun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64], cert[128], key[128], loose[128], pw[128];

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
  assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **st) {
  (void)st;
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(cert, sizeof(cert), "%s/c.pem", dir);
  snprintf(key, sizeof(key), "%s/k.pem", dir);
  snprintf(loose, sizeof(loose), "%s/loose.pem", dir);
  snprintf(pw, sizeof(pw), "%s/pw", dir);
  /* contents never read: the checks come first */
  write_file(cert, "not a certificate\n", 0644);
  write_file(key, "not a key\n", 0600);
  write_file(loose, "not a key\n", 0644);
  write_file(pw, "pw\n", 0600);
  return 0;
}

static int teardown(void **st) {
  (void)st;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* nacosctl args... (NULL-terminated): its exit code, output in p. */
static int ctl(nc_trun *p, const char *const *args) {
  const char *argv[32] = {NC_NACOSCTL_BIN, "--socket", "/nonexistent/agent.sock"};
  int n = 3;
  for (int k = 0; args[k] && n < 31; k++)
    argv[n++] = args[k];
  argv[n] = NULL;
  assert_int_equal(nc_trun_spawn(p, argv, NULL, NULL), 0);
  return nc_trun_finish(p, 20000);
}

#define CTL(...) ctl(&p, (const char *[]){__VA_ARGS__, NULL})

static void test_server_schemes(void **st) {
  (void)st;
  nc_trun p;
  /* https:// and http:// are parsed (the port is closed: exit 3) */
  assert_int_equal(CTL("user", "list", "--server", "https://127.0.0.1:1", "--token-file", pw), 3);
  assert_non_null(strstr(p.ebuf, "cannot connect to https://127.0.0.1:1"));
  assert_int_equal(CTL("user", "list", "--server", "http://127.0.0.1:1", "--token-file", pw), 3);
  assert_non_null(strstr(p.ebuf, "cannot connect to 127.0.0.1:1"));
  assert_int_equal(CTL("cluster", "--server", "127.0.0.1:1", "--tls"), 3);
  assert_non_null(strstr(p.ebuf, "cannot connect to https://127.0.0.1:1"));
  assert_int_equal(CTL("cluster", "--server", "HTTPS://[::1]:1"), 3);
  assert_non_null(strstr(p.ebuf, "cannot connect to https://[::1]:1"));
  /* other schemes, and --tls with http:// */
  assert_int_equal(CTL("cluster", "--server", "ftp://127.0.0.1:1"), 2);
  assert_non_null(strstr(p.ebuf, "bad --server 'ftp://127.0.0.1:1'"));
  assert_int_equal(CTL("cluster", "--server", "http://127.0.0.1:1", "--tls"), 2);
  assert_non_null(strstr(p.ebuf, "--tls with an http:// server"));
  assert_int_equal(CTL("cluster", "--server", "https://nohostport"), 3);
  assert_non_null(strstr(p.ebuf, "bad server address"));
}

static void test_tls_options_checked(void **st) {
  (void)st;
  nc_trun p;
  const char *S = "https://127.0.0.1:1";
  /* the --tls-* options need HTTPS */
  assert_int_equal(CTL("cluster", "--server", "127.0.0.1:1", "--tls-ca", cert), 2);
  assert_non_null(strstr(p.ebuf, "--tls-ca is for HTTPS"));
  assert_int_equal(CTL("cluster", "--server", "127.0.0.1:1", "--tls-server-name", "x"), 2);
  assert_non_null(strstr(p.ebuf, "--tls-server-name is for HTTPS"));
  /* a certificate needs its key and the key its certificate */
  assert_int_equal(CTL("cluster", "--server", S, "--tls-cert", cert), 2);
  assert_non_null(strstr(p.ebuf, "--tls-cert needs --tls-key"));
  assert_int_equal(CTL("cluster", "--server", S, "--tls-key", key), 2);
  assert_non_null(strstr(p.ebuf, "--tls-key needs --tls-cert"));
  /* a key others can read is refused, as the password files are */
  assert_int_equal(CTL("user", "list", "--server", S, "--tls-cert", cert, "--tls-key", loose,
                       "--username", "nacos", "--password-file", pw),
                   2);
  assert_non_null(strstr(p.ebuf, "mode 0644): chmod 600 it"));
  /* unreadable files */
  assert_int_equal(CTL("cluster", "--server", S, "--tls-ca", "/nonexistent/ca.pem"), 2);
  assert_non_null(strstr(p.ebuf, "cannot read /nonexistent/ca.pem"));
  assert_int_equal(CTL("cluster", "--server", S, "--tls-ca", cert), 2);
  assert_non_null(strstr(p.ebuf, "cannot load TLS CA file"));
  assert_int_equal(CTL("cluster", "--server", S, "--tls-server-name", ""), 2);
  assert_non_null(strstr(p.ebuf, "--tls-server-name needs a name"));
  /* values and flags */
  assert_int_equal(CTL("cluster", "--server", S, "--tls-ca"), 2);
  assert_non_null(strstr(p.ebuf, "needs a value"));
  assert_int_equal(CTL("cluster", "--server", S, "--tls=yes"), 2);
  assert_non_null(strstr(p.ebuf, "takes no value"));
  /* only the server commands take them */
  assert_int_equal(CTL("status", "--tls"), 2);
  assert_non_null(strstr(p.ebuf, "unknown option '--tls' for this command"));
  assert_int_equal(CTL("instances", "svc", "--tls-ca", cert), 2);
}

/* A port that accepts the connection (the kernel's backlog) but never
 * speaks TLS: the handshake gives up at --timeout, exit 3. */
static void test_silent_server_times_out(void **st) {
  (void)st;
  nc_trun p;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof(sa);
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(lfd >= 0);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(lfd, 4), 0);
  assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
  char server[64];
  snprintf(server, sizeof(server), "https://127.0.0.1:%d", ntohs(sa.sin_port));
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(CTL("cluster", "--server", server, "--timeout", "400"), 3);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_non_null(strstr(p.ebuf, "timed out (--timeout)"));
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(s >= 0.4 && s < 10.0);
  close(lfd);
}

static void test_help_texts(void **st) {
  (void)st;
  nc_trun p;
  assert_int_equal(CTL("--help"), 0);
  assert_non_null(strstr(p.obuf, "--server https://HOST:PORT or --tls"));
  assert_int_equal(CTL("user", "list", "--help"), 0);
  const char *want[] = {"--tls-ca F", "--tls-server-name N", "--tls-cert F --tls-key F",
                        "Exit 3 when the", "IP SANs"};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    assert_non_null(strstr(p.obuf, want[i]));
  assert_int_equal(CTL("cluster", "--help"), 0);
  assert_non_null(strstr(p.obuf, "--tls-ca F"));
  assert_int_equal(CTL("status", "--help"), 0);
  assert_null(strstr(p.obuf, "--tls"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_server_schemes),
      cmocka_unit_test(test_tls_options_checked),
      cmocka_unit_test(test_silent_server_times_out),
      cmocka_unit_test(test_help_texts),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
