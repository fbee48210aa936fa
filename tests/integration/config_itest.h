/* Shared helpers of the config integration tests (header-only, static):
 * start/kill the real nacosd on ephemeral ports with a temp data dir, read
 * its /metrics, and small wire-client shortcuts for config requests. */
#ifndef CONFIG_ITEST_H
#define CONFIG_ITEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nc_json.h"
#include "nc_wire_client.h"

typedef struct cfg_srv {
  pid_t pid;
  char dir[64];
  char target[64];
  int port, grpc_port;
  const char *extra[8]; /* extra nacosd arguments, NULL-terminated */
} cfg_srv;

static uint64_t it_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void it_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static const char *it_nacosd_bin(void) {
#ifdef NC_NACOSD_BIN
  return NC_NACOSD_BIN;
#else
  /* The test binary lives in <build>/tests; nacosd in <build>/server. */
  static char path[PATH_MAX];
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0)
    return "nacosd";
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash)
    *slash = '\0';
  snprintf(path, sizeof(path), "%s/../server/nacosd", exe);
  return path;
#endif
}

/* Starts nacosd on s->dir (created when empty). Returns 0 once the port
 * file appeared. */
static int srv_start(cfg_srv *s) {
  char pf[128];
  if (!s->dir[0]) {
    snprintf(s->dir, sizeof(s->dir), "/tmp/nc_cfgit_XXXXXX");
    if (!mkdtemp(s->dir))
      return -1;
  }
  snprintf(pf, sizeof(pf), "%s/ports.json", s->dir);
  unlink(pf);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    const char *lvl = getenv("NC_TEST_LOG_LEVEL");
    const char *argv[24] = {"nacosd", "--port", "0", "--data-dir", s->dir, "--port-file", pf,
                            "--log-level", lvl ? lvl : "warn"};
    int n = 9;
    for (int i = 0; i < 8 && s->extra[i]; i++)
      argv[n++] = s->extra[i];
    argv[n] = NULL;
    execv(it_nacosd_bin(), (char *const *)argv);
    _exit(127);
  }
  s->pid = pid;
  for (int i = 0; i < 200; i++) {
    FILE *f = fopen(pf, "r");
    if (f) {
      char buf[256] = {0};
      size_t n = fread(buf, 1, sizeof(buf) - 1, f);
      fclose(f);
      cJSON *j = n ? cJSON_Parse(buf) : NULL;
      if (j) {
        s->port = (int)nc_json_int(j, "port", 0);
        s->grpc_port = (int)nc_json_int(j, "grpc_port", 0);
        cJSON_Delete(j);
        snprintf(s->target, sizeof(s->target), "127.0.0.1:%d", s->grpc_port);
        return s->grpc_port > 0 ? 0 : -1;
      }
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      s->pid = 0;
      return -1;
    }
    it_sleep_ms(50);
  }
  return -1;
}

/* Sends sig and reaps; returns the wait status. */
static int srv_stop(cfg_srv *s, int sig) {
  int st = 0;
  if (s->pid > 0) {
    kill(s->pid, sig);
    waitpid(s->pid, &st, 0);
    s->pid = 0;
  }
  return st;
}

static void srv_cleanup(cfg_srv *s) {
  char cmd[128];
  srv_stop(s, SIGKILL);
  if (s->dir[0]) {
    snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
    if (system(cmd) != 0)
      fprintf(stderr, "cleanup of %s failed\n", s->dir);
  }
}

/* Value of one nacosd_<name> counter from /metrics, or -1. */
static long long srv_metric(const cfg_srv *s, const char *name) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  long long v = -1;
  if (fd < 0)
    return -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
    const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    if (write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
      static char buf[1 << 16];
      size_t len = 0;
      ssize_t n;
      while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
      buf[len] = '\0';
      char key[128];
      snprintf(key, sizeof(key), "\nnacosd_%s ", name);
      char *p = strstr(buf, key);
      if (p)
        v = atoll(p + strlen(key));
    }
  }
  close(fd);
  return v;
}

/* Waits up to ms for metric >= want. */
static long long srv_metric_wait(const cfg_srv *s, const char *name, long long want, int ms) {
  uint64_t end = it_now_ms() + (uint64_t)ms;
  long long v;
  while ((v = srv_metric(s, name)) < want && it_now_ms() < end)
    it_sleep_ms(20);
  return v;
}

/* ---- config requests ---- */

static cJSON *cfg_body(const char *data_id, const char *group, const char *tenant) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddObjectToObject(b, "headers");
  cJSON_AddStringToObject(b, "requestId", "");
  cJSON_AddStringToObject(b, "module", "config");
  if (data_id)
    cJSON_AddStringToObject(b, "dataId", data_id);
  if (group)
    cJSON_AddStringToObject(b, "group", group);
  if (tenant)
    cJSON_AddStringToObject(b, "tenant", tenant);
  return b;
}

/* Sends body (consumed); NULL on transport failure. */
static nc_msg *cfg_call(nc_wc *wc, const char *type, cJSON *body) {
  nc_msg *resp = NULL;
  int rc = nc_wc_request(wc, type, body, 5000, &resp);
  cJSON_Delete(body);
  return rc == 0 ? resp : NULL;
}

static nc_msg *cfg_publish(nc_wc *wc, const char *data_id, const char *group, const char *tenant,
                           const char *content, const char *cas_md5) {
  cJSON *b = cfg_body(data_id, group, tenant);
  if (content)
    cJSON_AddStringToObject(b, "content", content);
  if (cas_md5)
    cJSON_AddStringToObject(b, "casMd5", cas_md5);
  /* What Java sends: nulls inside additionMap are legal. */
  cJSON *am = cJSON_AddObjectToObject(b, "additionMap");
  cJSON_AddNullToObject(am, "tag");
  cJSON_AddNullToObject(am, "betaIps");
  cJSON_AddStringToObject(am, "appName", "itest");
  cJSON_AddStringToObject(am, "encryptedDataKey", "");
  return cfg_call(wc, "ConfigPublishRequest", b);
}

static nc_msg *cfg_query(nc_wc *wc, const char *data_id, const char *group, const char *tenant) {
  return cfg_call(wc, "ConfigQueryRequest", cfg_body(data_id, group, tenant));
}

static nc_msg *cfg_remove(nc_wc *wc, const char *data_id, const char *group, const char *tenant) {
  return cfg_call(wc, "ConfigRemoveRequest", cfg_body(data_id, group, tenant));
}

static nc_msg *cfg_listen(nc_wc *wc, int listen, const char *data_id, const char *group,
                          const char *tenant, const char *md5) {
  cJSON *b = cfg_body(NULL, NULL, NULL);
  cJSON_AddBoolToObject(b, "listen", listen);
  cJSON *arr = cJSON_AddArrayToObject(b, "configListenContexts");
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "dataId", data_id);
  cJSON_AddStringToObject(c, "group", group);
  cJSON_AddStringToObject(c, "tenant", tenant);
  cJSON_AddStringToObject(c, "md5", md5);
  cJSON_AddItemToArray(arr, c);
  return cfg_call(wc, "ConfigBatchListenRequest", b);
}

static nc_wc *cfg_connect(nc_gcli_env *env, const cfg_srv *s, nc_wc_push_cb on_push, void *ud,
                          int no_auto_ack) {
  nc_wc_opts o = {.target = s->target, .module = "config", .app_name = "itest",
                  .no_auto_ack = no_auto_ack};
  nc_wc *wc = NULL;
  return nc_wc_connect(env, &o, on_push, NULL, ud, &wc) == 0 ? wc : NULL;
}

#endif
