/* Integration (issue 9 item 10): nacosd under a descriptor limit.
 *
 * nacosd is started under `ulimit -n` set by the test (a /bin/sh wrapper
 * lowers soft and hard limit before it execs nacosd, so nacosd's own
 * raise-to-hard cannot undo it), then flooded with raw TCP connections that
 * each send the HTTP/2 preface:
 * - at 1024 with the default reserve (256): connections above the cap get a
 *   GOAWAY naming the limit, nacosd never reaches its limit, logs the
 *   refusal once (rate-limited), and once the flood is closed a new SDK
 *   connection succeeds within a few seconds;
 * - at 256 with --fd-reserve 0 the process really hits EMFILE: the accept
 *   loop sheds connections with its reserve descriptor instead of dying,
 *   and recovers the same way (before the fix the gRPC core's listener
 *   stopped for good at the first EMFILE);
 * - --max-tcp-connections 10 admits exactly 10 of 25; SIGHUP applies a
 *   new value from the --config file. */
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_testproc.h"
#include "nc_testwait.h"
#include "nc_wire_client.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
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

#define N_MAX 1500

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

/* nacosd under `ulimit -n limit` (soft and hard), extra args appended. */
static void start_limited(const char *dir, int limit, const char *extra, nc_test_nacosd *srv) {
  char data[256], pf[256], log[256], script[128];
  memset(srv, 0, sizeof(*srv));
  snprintf(srv->dir, sizeof(srv->dir), "%s", dir);
  snprintf(data, sizeof(data), "%s/data", dir);
  snprintf(pf, sizeof(pf), "%s/ports.json", dir);
  snprintf(log, sizeof(log), "%s/nacosd.log", dir);
  snprintf(script, sizeof(script), "ulimit -n %d && exec \"$0\" \"$@\"", limit);
  char *argv[] = {"sh", "-c", script, NC_NACOSD_BIN, "--bind", "127.0.0.1", "--port", "0",
                  "--grpc-port", "0", "--cluster-port", "0", "--data-dir", data,
                  "--auth", "off", "--port-file", pf, (char *)extra, extra ? "0" : NULL, NULL};
  assert_int_equal(nc_testproc_start(&srv->proc, "/bin/sh", argv, log), 0);
  int rc = nc_test_port_file_int(pf, "grpc_port", 10000, &srv->grpc_port);
  if (rc == 0)
    rc = nc_test_port_file_int(pf, "port", 100, &srv->port);
  if (rc != 0)
    nc_testproc_dump_log(&srv->proc);
  assert_int_equal(rc, 0);
  snprintf(srv->target, sizeof(srv->target), "127.0.0.1:%d", srv->grpc_port);
}

/* Lines of the log containing needle. */
static int log_lines(const nc_test_nacosd *srv, const char *needle) {
  char line[2048];
  int n = 0;
  FILE *f = fopen(srv->proc.log_path, "r");
  while (f && fgets(line, sizeof(line), f))
    n += strstr(line, needle) != NULL;
  if (f)
    fclose(f);
  return n;
}

typedef struct flood {
  int fds[N_MAX], n;
  int refused, open, closed; /* GOAWAY with `why` / still open / other EOF */
} flood;

/* Reads every socket until each is answered (gRPC's SETTINGS for an
 * admitted one, GOAWAY + EOF for a refused one) or 5 s have passed. */
static void classify(flood *f, const char *why) {
  static char got[N_MAX][256];
  static size_t len[N_MAX];
  static int eof[N_MAX];
  static struct pollfd pf[N_MAX];
  memset(len, 0, sizeof(len));
  memset(eof, 0, sizeof(eof));
  long long end = nc_test_now_ms() + nc_test_timeout_ms(5000);
  for (;;) {
    int pending = 0;
    for (int i = 0; i < f->n; i++) {
      pf[i] = (struct pollfd){.fd = eof[i] || len[i] > 0 ? -1 : f->fds[i], .events = POLLIN};
      pending += pf[i].fd >= 0;
    }
    /* a refused socket also needs its EOF: keep reading those */
    for (int i = 0; i < f->n; i++)
      if (!eof[i] && len[i] > 0 && memmem(got[i], len[i], why, strlen(why)))
        pf[i].fd = f->fds[i], pending++;
    if (!pending || nc_test_now_ms() > end)
      break;
    if (poll(pf, (nfds_t)f->n, 100) <= 0)
      continue;
    for (int i = 0; i < f->n; i++) {
      if (pf[i].fd < 0 || !pf[i].revents)
        continue;
      ssize_t r = recv(f->fds[i], got[i] + len[i], sizeof(got[i]) - 1 - len[i], MSG_DONTWAIT);
      if (r > 0)
        len[i] += (size_t)r;
      else
        eof[i] = 1;
    }
  }
  f->refused = f->open = f->closed = 0;
  for (int i = 0; i < f->n; i++) {
    if (len[i] && memmem(got[i], len[i], why, strlen(why)))
      f->refused++;
    else if (eof[i])
      f->closed++;
    else
      f->open++;
  }
  fprintf(stderr, "flood of %d: %d refused (\"%s\"), %d open, %d closed otherwise\n", f->n,
          f->refused, why, f->open, f->closed);
}

static void flood_open(flood *f, int port, int n) {
  f->n = 0;
  for (int i = 0; i < n; i++)
    if ((f->fds[f->n] = raw_connect(port)) >= 0)
      f->n++;
  assert_true(f->n > n * 9 / 10);
}

static void flood_close(flood *f) {
  for (int i = 0; i < f->n; i++)
    close(f->fds[i]);
  f->n = 0;
}

/* Closes the flood; a new SDK connection must succeed within 5 s and the
 * HTTP port still answer. Then stops nacosd and cleans up. */
static void expect_recovery(flood *f, nc_test_nacosd *srv, nc_gcli_env *env, const char *dir) {
  flood_close(f);
  long long ms;
  NC_TEST_POLL(sdk_connect_ok(env, srv->target), 5000, ms);
  fprintf(stderr, "new SDK connection after the flood closed: %lld ms\n", ms);
  if (ms < 0)
    nc_testproc_dump_log(&srv->proc);
  assert_true(ms >= 0);
  assert_true(nc_test_nacosd_metric(srv->port, "nacosd_connections") >= 0);
  nc_gcli_env_free(env);
  assert_int_equal(nc_test_nacosd_stop(srv), 0);
  nc_test_rmtree(dir);
}

static void raise_own_limit(void) {
  struct rlimit mine;
  getrlimit(RLIMIT_NOFILE, &mine);
  if (mine.rlim_max < N_MAX + 200)
    skip(); /* the test itself holds the flood */
  mine.rlim_cur = mine.rlim_max;
  setrlimit(RLIMIT_NOFILE, &mine);
}

/* raise_own_limit, a temp dir, nacosd under `ulimit -n limit` and an env
 * whose first SDK connection works. */
static nc_gcli_env *start_flood_target(char *dir, size_t cap, int limit, const char *extra,
                                       nc_test_nacosd *srv) {
  raise_own_limit();
  assert_int_equal(nc_test_mkdtemp(dir, cap), 0);
  start_limited(dir, limit, extra, srv);
  nc_gcli_env *env = NULL;
  assert_int_equal(nc_gcli_env_new(1, &env), 0);
  assert_true(sdk_connect_ok(env, srv->target));
  return env;
}

/* ulimit -n 1024, 1,500 connections: the cap (1024 - 256) holds. */
#define CAP (1024 - 256)
static void test_cap_refuses_and_recovers(void **state) {
  (void)state;
  char dir[128];
  nc_test_nacosd srv;
  nc_gcli_env *env = start_flood_target(dir, sizeof(dir), 1024, NULL, &srv);
  assert_int_equal(log_lines(&srv, "descriptor limit: soft 1024"), 1);

  static flood f;
  flood_open(&f, srv.grpc_port, N_MAX);
  classify(&f, "connection limit reached");
  int held = count_fds(srv.proc.pid);
  fprintf(stderr, "nacosd holds %d descriptors\n", held);
  assert_true(held < 1024 - 64);                  /* never near EMFILE */
  assert_int_equal(log_lines(&srv, "EMFILE"), 0);
  assert_true(f.open <= CAP);                     /* the cap */
  assert_true(f.open >= CAP - 64);                /* and it is usable */
  assert_true(f.refused >= f.n - CAP);            /* each one told why */
  assert_true(!sdk_connect_ok(env, srv.target));
  /* one line for the whole burst (the next may come 10 s later) */
  int lines = log_lines(&srv, "connection cap reached");
  assert_true(lines >= 1 && lines <= 2);
  assert_true(nc_test_nacosd_metric(srv.port, "nacosd_connections") >= 0); /* HTTP still up */

  expect_recovery(&f, &srv, env, dir);
}

/* ulimit -n 256 and no reserve: accept4 really fails with EMFILE. */
static void test_recovers_after_emfile(void **state) {
  (void)state;
  char dir[128];
  nc_test_nacosd srv;
  nc_gcli_env *env = start_flood_target(dir, sizeof(dir), 256, "--fd-reserve", &srv);

  static flood f;
  flood_open(&f, srv.grpc_port, 400);
  classify(&f, "out of file descriptors");
  fprintf(stderr, "nacosd holds %d descriptors\n", count_fds(srv.proc.pid));
  assert_true(f.refused > 0);
  assert_true(f.open < 256);
  assert_true(log_lines(&srv, "out of descriptors (EMFILE)") >= 1);
  assert_true(nc_testproc_alive(&srv.proc));

  expect_recovery(&f, &srv, env, dir);
}

/* --max-tcp-connections lowers the cap below the descriptor-derived one. */
static void test_option_lowers_cap(void **state) {
  (void)state;
  char dir[128];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  nc_test_nacosd srv;
  const char *args[] = {"--max-tcp-connections", "10", NULL};
  assert_int_equal(nc_test_nacosd_start(dir, args, &srv), 0);
  static flood f;
  flood_open(&f, srv.grpc_port, 25);
  classify(&f, "cap 10)");
  assert_int_equal(f.open, 10);
  assert_int_equal(f.refused, 15);
  assert_true(log_lines(&srv, "or --max-tcp-connections if lower") >= 1);
  nc_gcli_env *env = NULL;
  assert_int_equal(nc_gcli_env_new(1, &env), 0);
  expect_recovery(&f, &srv, env, dir);
}

static void write_conf(const char *path, int cap) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fprintf(fp, "max-tcp-connections = %d\n", cap);
  fclose(fp);
}

/* SIGHUP re-reads the cap: 5 from the config file, then 12 after a HUP. */
static void test_sighup_applies_new_cap(void **state) {
  (void)state;
  char dir[128], conf[256];
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(conf, sizeof(conf), "%s/nacosd.conf", dir);
  write_conf(conf, 5);
  nc_test_nacosd srv;
  const char *args[] = {"--config", conf, NULL};
  assert_int_equal(nc_test_nacosd_start(dir, args, &srv), 0);
  assert_int_equal(log_lines(&srv, "gRPC connection cap 5 "), 1);
  int base = count_fds(srv.proc.pid);
  static flood f;
  flood_open(&f, srv.grpc_port, 8);
  classify(&f, "cap 5)");
  assert_int_equal(f.open, 5);
  flood_close(&f);
  /* nacosd must have closed them too (a slow build takes a moment), and
   * the accept loop re-counts at most every 100 ms before a refusal */
  NC_TEST_WAIT(count_fds(srv.proc.pid) <= base, 5000);
  nc_test_sleep_ms(150);
  write_conf(conf, 12);
  assert_int_equal(kill(srv.proc.pid, SIGHUP), 0);
  NC_TEST_WAIT(log_lines(&srv, "gRPC connection cap 12 ") == 1, 5000);
  flood_open(&f, srv.grpc_port, 20);
  classify(&f, "cap 12)");
  assert_int_equal(f.open, 12);
  assert_int_equal(f.refused, 8);
  nc_gcli_env *env = NULL;
  assert_int_equal(nc_gcli_env_new(1, &env), 0);
  expect_recovery(&f, &srv, env, dir);
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
      cmocka_unit_test(test_cap_refuses_and_recovers),
      cmocka_unit_test(test_recovers_after_emfile),
      cmocka_unit_test(test_option_lowers_cap),
      cmocka_unit_test(test_sighup_applies_new_cap),
  };
  int rc = NC_TEST_MAIN(tests);
  nc_grpc_shutdown();
  return rc;
}
