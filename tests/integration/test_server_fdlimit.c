/* Integration (issue 9 item 10): nacosd runs out of file descriptors once
 * and must accept SDK connections again by itself once they are free.
 *
 * The running nacosd's RLIMIT_NOFILE is lowered to 256 with prlimit(2)
 * (after its own start-up raise, so the limit it derived its cap from is
 * stale and the process really reaches EMFILE), then 400 raw TCP
 * connections each send the HTTP/2 preface, all are closed, and a new SDK
 * connection must succeed within a few seconds.
 *
 * STATUS: reproduces the bug (gRPC 1.51 tcp_server_posix logs "Failed
 * accept4: Too many open files" and never re-arms its listener; the new
 * connection times out). The fix (nacosd's own accept loop handing fds to
 * grpc_server_add_channel_from_fd, with a cap and EMFILE retry) is not in
 * yet, so the test is skipped unless NC_TEST_KNOWN_BROKEN is set, to keep
 * main green. Remove the gate together with the fix. */
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_testproc.h"
#include "nc_testwait.h"
#include "nc_wire_client.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define N_FLOOD 400

static int count_fds(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  if (!d)
    return -1;
  int n = 0;
  while (readdir(d))
    n++;
  closedir(d);
  return n - 2;
}

static int raw_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  /* Client preface + an empty SETTINGS frame: a real HTTP/2 start. */
  static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
  if (write(fd, pre, sizeof(pre) - 1) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int sdk_connect_ok(nc_gcli_env *env, const char *target) {
  nc_wc_opts o = {.target = target, .timeout_ms = 500};
  nc_wc *wc = NULL;
  if (nc_wc_connect(env, &o, NULL, NULL, NULL, &wc) != 0)
    return 0;
  nc_wc_close(wc);
  return 1;
}

static void test_recovers_after_fd_exhaustion(void **state) {
  (void)state;
  if (!getenv("NC_TEST_KNOWN_BROKEN"))
    skip();
  struct rlimit mine;
  getrlimit(RLIMIT_NOFILE, &mine);
  mine.rlim_cur = mine.rlim_max; /* the test itself holds N_FLOOD sockets */
  setrlimit(RLIMIT_NOFILE, &mine);

  char dir[128];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  nc_test_nacosd srv;
  assert_int_equal(nc_test_nacosd_start(dir, NULL, &srv), 0);
  nc_gcli_env *env = NULL;
  assert_int_equal(nc_gcli_env_new(1, &env), 0);
  assert_true(sdk_connect_ok(env, srv.target));

  struct rlimit low = {256, 256};
  assert_int_equal(prlimit(srv.proc.pid, RLIMIT_NOFILE, &low, NULL), 0);
  static int fds[N_FLOOD];
  int n = 0;
  for (int i = 0; i < N_FLOOD; i++)
    if ((fds[n] = raw_connect(srv.grpc_port)) >= 0)
      n++;
  assert_true(n > 300);
  /* The server takes what it can; wait until it is at (or near) the limit. */
  long long ms;
  NC_TEST_POLL(count_fds(srv.proc.pid) >= 240, 5000, ms);
  fprintf(stderr, "nacosd holds %d fds (%lld ms)\n", count_fds(srv.proc.pid), ms);
  for (int i = 0; i < n; i++)
    close(fds[i]);

  NC_TEST_POLL(sdk_connect_ok(env, srv.target), 5000, ms);
  fprintf(stderr, "new SDK connection after the flood: %lld ms\n", ms);
  if (ms < 0)
    nc_testproc_dump_log(&srv.proc);
  assert_true(ms >= 0);
  assert_true(nc_test_nacosd_metric(srv.port, "nacosd_connections") >= 0); /* HTTP still up */
  nc_gcli_env_free(env);
  assert_int_equal(nc_test_nacosd_stop(&srv), 0);
  nc_test_rmtree(dir);
}

/* Soft limit of pid's open files from /proc/<pid>/limits, or -1. */
static long long soft_nofile(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
  FILE *f = fopen(path, "r");
  long long v = -1;
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, "Max open files", 14) == 0)
      v = atoll(line + 14);
  if (f)
    fclose(f);
  return v;
}

/* nacosd started with a soft limit below the hard one raises it. */
static void test_soft_limit_raised_to_hard(void **state) {
  (void)state;
  struct rlimit old, rl;
  getrlimit(RLIMIT_NOFILE, &old);
  if (old.rlim_max <= 512)
    skip();
  rl = old;
  rl.rlim_cur = 512;
  setrlimit(RLIMIT_NOFILE, &rl);
  char dir[128];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  nc_test_nacosd srv;
  int rc = nc_test_nacosd_start(dir, NULL, &srv);
  setrlimit(RLIMIT_NOFILE, &old);
  assert_int_equal(rc, 0);
  long long soft = soft_nofile(srv.proc.pid);
  assert_int_equal(nc_test_nacosd_stop(&srv), 0);
  nc_test_rmtree(dir);
  assert_true(soft == (long long)old.rlim_max);
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_soft_limit_raised_to_hard),
      cmocka_unit_test(test_recovers_after_fd_exhaustion),
  };
  int rc = NC_TEST_MAIN(tests);
  nc_grpc_shutdown();
  return rc;
}
