/* nc_testproc: see nc_testproc.h. */
#include "nc_testproc.h"

#include "nc_err.h"

#include <cjson/cJSON.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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

int nc_testproc_start(nc_testproc *p, const char *bin, char *const argv[], const char *log_path) {
  memset(p, 0, sizeof(*p));
  snprintf(p->log_path, sizeof(p->log_path), "%s", log_path);
  int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return NC_EIO;
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

int nc_test_port_file_int(const char *path, const char *key, int timeout_ms, int *out) {
  long long end = nc_test_now_ms() + timeout_ms;
  do {
    FILE *f = fopen(path, "r");
    if (f) {
      char buf[1024];
      size_t n = fread(buf, 1, sizeof(buf) - 1, f);
      fclose(f);
      buf[n] = 0;
      cJSON *j = cJSON_Parse(buf);
      if (j) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
        int ok = cJSON_IsNumber(v);
        if (ok)
          *out = v->valueint;
        cJSON_Delete(j);
        return ok ? 0 : NC_ENOTFOUND;
      }
    }
    nc_test_sleep_ms(20);
  } while (nc_test_now_ms() < end);
  return NC_ETIMEOUT;
}

int nc_test_nacosd_start(const char *tmpdir, const char *const *extra_args, nc_test_nacosd *srv) {
  char data[512], pf[512], log[512];
  memset(srv, 0, sizeof(*srv));
  snprintf(srv->dir, sizeof(srv->dir), "%s", tmpdir);
  snprintf(data, sizeof(data), "%s/data", tmpdir);
  snprintf(pf, sizeof(pf), "%s/ports.json", tmpdir);
  snprintf(log, sizeof(log), "%s/nacosd.log", tmpdir);
  unlink(pf);
  const char *base[] = {NC_NACOSD_BIN, "--bind", "127.0.0.1", "--port", "0", "--grpc-port", "0",
                        "--cluster-port", "0", "--data-dir", data, "--port-file", pf};
  size_t nb = sizeof(base) / sizeof(base[0]), ne = 0;
  while (extra_args && extra_args[ne])
    ne++;
  char **argv = calloc(nb + ne + 1, sizeof(*argv));
  if (!argv)
    return NC_ENOMEM;
  for (size_t i = 0; i < nb; i++)
    argv[i] = (char *)base[i];
  for (size_t i = 0; i < ne; i++)
    argv[nb + i] = (char *)extra_args[i];
  int rc = nc_testproc_start(&srv->proc, NC_NACOSD_BIN, argv, log);
  free(argv);
  if (rc)
    return rc;
  if ((rc = nc_test_port_file_int(pf, "grpc_port", 10000, &srv->grpc_port)) != 0 ||
      (rc = nc_test_port_file_int(pf, "port", 100, &srv->port)) != 0 ||
      (rc = nc_test_port_file_int(pf, "cluster_port", 100, &srv->cluster_port)) != 0) {
    fprintf(stderr, "nacosd did not write %s: %s\n", pf, nc_strerror(rc));
    nc_testproc_stop(&srv->proc);
    nc_testproc_dump_log(&srv->proc);
    return rc;
  }
  snprintf(srv->target, sizeof(srv->target), "127.0.0.1:%d", srv->grpc_port);
  return 0;
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
  char p[16], g[16], c[16], dir[256];
  snprintf(p, sizeof(p), "%d", srv->port);
  snprintf(g, sizeof(g), "%d", srv->grpc_port);
  snprintf(c, sizeof(c), "%d", srv->cluster_port);
  snprintf(dir, sizeof(dir), "%s", srv->dir);
  const char *args[24] = {"--port", p, "--grpc-port", g, "--cluster-port", c};
  size_t n = 6;
  for (size_t i = 0; extra_args && extra_args[i]; i++) {
    if (n + 1 >= sizeof(args) / sizeof(args[0]))
      return NC_EINVAL;
    args[n++] = extra_args[i];
  }
  int rc = -1;
  for (int i = 0; i < 20 && rc != 0; i++) {
    rc = nc_test_nacosd_start(dir, args, srv);
    if (rc)
      nc_test_sleep_ms(250);
  }
  return rc;
}

long long nc_test_nacosd_metric(int port, const char *name) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  const char *req = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
  if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
    close(fd);
    return -1;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  ssize_t r;
  while (buf && (r = recv(fd, buf + len, cap - 1 - len, 0)) > 0) {
    len += (size_t)r;
    if (len == cap - 1) {
      char *nb = realloc(buf, cap * 2);
      if (!nb)
        break;
      buf = nb;
      cap *= 2;
    }
  }
  close(fd);
  if (!buf)
    return -1;
  buf[len] = '\0';
  long long v = -1;
  size_t nl = strlen(name);
  for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (!strncmp(p, name, nl) && p[nl] == ' ') {
      v = atoll(p + nl + 1);
      break;
    }
  }
  free(buf);
  return v;
}

long long nc_test_nacosd_wait_metric(int port, const char *name, long long want, int timeout_ms) {
  long long t0 = nc_test_now_ms();
  while (nc_test_now_ms() - t0 < timeout_ms) {
    if (nc_test_nacosd_metric(port, name) == want)
      return nc_test_now_ms() - t0;
    nc_test_sleep_ms(50);
  }
  return -1;
}
