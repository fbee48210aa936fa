/* nc_testproc: see nc_testproc.h. */
#include "nc_testproc.h"

#include "nc_err.h"
#include "nc_testargv.h"
#include "nc_testhttp.h"
#include "nc_testwait.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long nc_test_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nc_test_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

int nc_test_mkdtemp(char *buf, size_t cap) {
  if (cap < 64)
    return NC_EINVAL;
  snprintf(buf, cap, "/tmp/nc-test-XXXXXX");
  return mkdtemp(buf) ? 0 : NC_EIO;
}

void nc_test_rmtree(const char *dir) {
  if (!dir || !*dir || strcmp(dir, "/") == 0)
    return;
  pid_t pid = fork();
  if (pid == 0) {
    execlp("rm", "rm", "-rf", dir, (char *)NULL);
    _exit(127);
  }
  if (pid > 0)
    waitpid(pid, NULL, 0);
}

int nc_testproc_start_log(nc_testproc *p, const char *bin, char *const argv[],
                          const char *log_path, int append) {
  memset(p, 0, sizeof(*p));
  snprintf(p->log_path, sizeof(p->log_path), "%s", log_path);
  int fd = open(log_path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
  if (fd < 0)
    return NC_EIO;
  if (append)
    dprintf(fd, "----- restart -----\n");
  pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    return NC_EIO;
  }
  if (pid == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    /* a test killed by ctest's timeout takes its server with it */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execv(bin, argv);
    fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
    _exit(127);
  }
  close(fd);
  p->pid = pid;
  return 0;
}

int nc_testproc_start(nc_testproc *p, const char *bin, char *const argv[], const char *log_path) {
  return nc_testproc_start_log(p, bin, argv, log_path, 0);
}

static int decode_status(int st) {
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  if (WIFSIGNALED(st))
    return 128 + WTERMSIG(st);
  return NC_EINVAL;
}

int nc_testproc_alive(nc_testproc *p) {
  if (p->pid <= 0)
    return 0;
  pid_t r = waitpid(p->pid, &p->status, WNOHANG);
  if (r == p->pid) {
    p->pid = 0;
    return 0;
  }
  return 1;
}

static int reap(nc_testproc *p, int timeout_ms) {
  long long end = nc_test_now_ms() + timeout_ms;
  for (;;) {
    pid_t r = waitpid(p->pid, &p->status, WNOHANG);
    if (r == p->pid) {
      p->pid = 0;
      return decode_status(p->status);
    }
    if (r < 0) {
      p->pid = 0;
      return NC_EIO;
    }
    if (nc_test_now_ms() >= end)
      return NC_ETIMEOUT;
    nc_test_sleep_ms(10);
  }
}

int nc_testproc_kill(nc_testproc *p, int sig) {
  if (p->pid <= 0)
    return p->status ? decode_status(p->status) : NC_ECLOSED;
  kill(p->pid, sig);
  return reap(p, 30000);
}

int nc_testproc_stop(nc_testproc *p) {
  if (p->pid <= 0)
    return p->status ? decode_status(p->status) : NC_ECLOSED;
  kill(p->pid, SIGTERM);
  int rc = reap(p, 5000);
  if (rc == NC_ETIMEOUT) {
    fprintf(stderr, "nc_testproc: pid %d ignored SIGTERM for 5 s, killing\n", (int)p->pid);
    kill(p->pid, SIGKILL);
    rc = reap(p, 5000);
  }
  return rc;
}

void nc_testproc_dump_log(const nc_testproc *p) {
  FILE *f = fopen(p->log_path, "r");
  if (!f)
    return;
  fprintf(stderr, "----- %s -----\n", p->log_path);
  char line[1024];
  while (fgets(line, sizeof(line), f))
    fputs(line, stderr);
  fprintf(stderr, "----- end of log -----\n");
  fclose(f);
}

/* One look at the port file: 0, NC_ENOTFOUND (no such key) or NC_ETIMEOUT
 * (not there or not complete yet). */
static int port_file_read(const char *path, const char *key, int *out) {
  char buf[1024];
  FILE *f = fopen(path, "r");
  if (!f)
    return NC_ETIMEOUT;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  cJSON *j = cJSON_Parse(buf);
  if (!j)
    return NC_ETIMEOUT;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
  int ok = cJSON_IsNumber(v);
  if (ok)
    *out = v->valueint;
  cJSON_Delete(j);
  return ok ? 0 : NC_ENOTFOUND;
}

int nc_test_port_file_int(const char *path, const char *key, int timeout_ms, int *out) {
  nc_test_deadline d = nc_test_deadline_start(timeout_ms);
  do {
    int rc = port_file_read(path, key, out);
    if (rc != NC_ETIMEOUT)
      return rc;
  } while (nc_test_deadline_tick(&d));
  return NC_ETIMEOUT;
}

/* The three ports from a complete port file (nacosd writes it in one
 * rename); NC_ETIMEOUT while it is not there yet. */
static int read_ports(const char *pf, nc_test_nacosd *srv) {
  int rc = port_file_read(pf, "grpc_port", &srv->grpc_port);
  if (rc == 0 && (rc = port_file_read(pf, "port", &srv->port)) == 0)
    rc = port_file_read(pf, "cluster_port", &srv->cluster_port);
  return rc;
}

static int wait_ports(nc_test_nacosd *srv, const char *pf, int timeout_ms) {
  int rc = NC_ETIMEOUT;
  nc_test_deadline d = nc_test_deadline_start(timeout_ms);
  do {
    if ((rc = read_ports(pf, srv)) != NC_ETIMEOUT)
      return rc;
    if (!nc_testproc_alive(&srv->proc))
      return NC_ECLOSED; /* exited before listening */
  } while (nc_test_deadline_tick(&d));
  return rc;
}

int nc_test_nacosd_spawn(const nc_test_nacosd_opts *o, nc_test_nacosd *srv) {
  char data[512], pf[512], log[512], dir[256], host[48];
  nc_targv av = {0};
  /* o's strings may point into srv (restarts): copy them first */
  snprintf(dir, sizeof(dir), "%s", o->dir);
  snprintf(host, sizeof(host), "%s", o->host ? o->host : "127.0.0.1");
  memset(srv, 0, sizeof(*srv));
  snprintf(srv->dir, sizeof(srv->dir), "%s", dir);
  snprintf(srv->host, sizeof(srv->host), "%s", host);
  /* the ports asked for; nc_test_nacosd_wait_ready checks them */
  srv->port = o->port;
  srv->grpc_port = o->grpc_port;
  srv->cluster_port = o->cluster_port;
  snprintf(data, sizeof(data), "%s/data", dir);
  snprintf(pf, sizeof(pf), "%s/ports.json", dir);
  snprintf(log, sizeof(log), "%s/nacosd.log", dir);
  unlink(pf);
  nc_targv_add(&av, NC_NACOSD_BIN);
  nc_targv_add(&av, "--bind");
  nc_targv_add(&av, host);
  nc_targv_addf(&av, "--port=%d", o->port);
  nc_targv_addf(&av, "--grpc-port=%d", o->grpc_port);
  nc_targv_addf(&av, "--cluster-port=%d", o->cluster_port);
  nc_targv_add(&av, "--data-dir");
  nc_targv_add(&av, data);
  nc_targv_add(&av, "--port-file");
  nc_targv_add(&av, pf);
  /* Tests run without credentials unless they ask for auth: a later
   * "--auth", "on" in o->args wins. */
  nc_targv_add(&av, "--auth");
  nc_targv_add(&av, "off");
  nc_targv_add_list(&av, o->args);
  int rc = nc_targv_ok(&av) ? nc_testproc_start_log(&srv->proc, NC_NACOSD_BIN, av.argv, log,
                                                    o->append_log)
                            : NC_ENOMEM;
  nc_targv_free(&av);
  return rc;
}

int nc_test_nacosd_wait_ready(nc_test_nacosd *srv, int timeout_ms, int quiet) {
  char pf[512];
  nc_test_nacosd want = *srv;
  snprintf(pf, sizeof(pf), "%s/ports.json", srv->dir);
  int rc = wait_ports(srv, pf, timeout_ms > 0 ? timeout_ms : 10000);
  if (rc == 0 && ((want.port && srv->port != want.port) ||
                  (want.grpc_port && srv->grpc_port != want.grpc_port) ||
                  (want.cluster_port && srv->cluster_port != want.cluster_port)))
    rc = NC_EINVAL;
  if (rc) {
    if (!quiet)
      fprintf(stderr, "nacosd on %s did not come up (%s): %s\n", srv->host, pf, nc_strerror(rc));
    nc_testproc_kill(&srv->proc, SIGKILL);
    if (!quiet)
      nc_testproc_dump_log(&srv->proc);
    nc_testproc reaped = srv->proc;
    *srv = want; /* keep the address and ports asked for (restarts) */
    srv->proc = reaped;
    return rc;
  }
  snprintf(srv->target, sizeof(srv->target), "%s:%d", srv->host, srv->grpc_port);
  return 0;
}

int nc_test_nacosd_start_opts(const nc_test_nacosd_opts *o, nc_test_nacosd *srv) {
  int rc = nc_test_nacosd_spawn(o, srv);
  return rc ? rc : nc_test_nacosd_wait_ready(srv, o->timeout_ms, o->quiet);
}

int nc_test_nacosd_start(const char *tmpdir, const char *const *extra_args, nc_test_nacosd *srv) {
  nc_test_nacosd_opts o = {.dir = tmpdir, .args = extra_args};
  return nc_test_nacosd_start_opts(&o, srv);
}

int nc_test_nacosd_stop(nc_test_nacosd *srv) {
  int rc = nc_testproc_stop(&srv->proc);
  if (rc != 0) {
    fprintf(stderr, "nacosd exit status %d\n", rc);
    nc_testproc_dump_log(&srv->proc);
  }
  return rc;
}

int nc_test_nacosd_restart(nc_test_nacosd *srv, const char *const *extra_args) {
  char dir[256], host[48];
  snprintf(dir, sizeof(dir), "%s", srv->dir);
  snprintf(host, sizeof(host), "%s", srv->host[0] ? srv->host : "127.0.0.1");
  nc_test_nacosd_opts o = {.dir = dir, .host = host, .port = srv->port,
                           .grpc_port = srv->grpc_port, .cluster_port = srv->cluster_port,
                           .args = extra_args, .append_log = 1, .quiet = 1};
  int rc = -1;
  nc_test_deadline d = nc_test_deadline_start(5000);
  do {
    if ((rc = nc_test_nacosd_start_opts(&o, srv)) == 0)
      return 0;
    nc_test_sleep_ms(100);
  } while (nc_test_deadline_tick(&d));
  fprintf(stderr, "nacosd restart on %s:%d failed: %s\n", host, o.port, nc_strerror(rc));
  nc_testproc_dump_log(&srv->proc);
  return rc;
}

long long nc_test_nacosd_metric(int port, const char *name) {
  return nc_test_metric_at(NULL, port, name);
}

long long nc_test_nacosd_wait_metric(int port, const char *name, long long want, int timeout_ms) {
  long long took;
  NC_TEST_POLL(nc_test_nacosd_metric(port, name) == want, timeout_ms, took);
  return took;
}
