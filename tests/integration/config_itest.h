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
#include "nc_testproc.h"
#include "nc_wire_client.h"

/* A nacosd under test: the shared harness (nc_testproc.h) plus the
 * fields these tests read. */
typedef struct cfg_srv {
  nc_test_nacosd n;
  pid_t pid;            /* 0 when not running */
  char dir[64];         /* temp dir; the store is <dir>/data/config.db */
  char target[64];
  int port, grpc_port;
  const char *extra[8]; /* extra nacosd arguments, NULL-terminated */
} cfg_srv;

static inline uint64_t it_now_ms(void) { return (uint64_t)nc_test_now_ms(); }
static inline void it_sleep_ms(int ms) { nc_test_sleep_ms(ms); }

/* Starts nacosd on s->dir (created when empty); 0 once its ports are known.
 * Restarting with the same dir reuses the data. */
static inline int srv_start(cfg_srv *s) {
  if (!s->dir[0] && nc_test_mkdtemp(s->dir, sizeof(s->dir)) != 0)
    return -1;
  if (nc_test_nacosd_start(s->dir, s->extra[0] ? s->extra : NULL, &s->n) != 0) {
    s->pid = 0;
    return -1;
  }
  s->pid = s->n.proc.pid;
  s->port = s->n.port;
  s->grpc_port = s->n.grpc_port;
  snprintf(s->target, sizeof(s->target), "%s", s->n.target);
  return 0;
}

/* Sends sig and reaps; returns the exit code, or 128+signal. SIGTERM dumps
 * the log when the exit was not clean (e.g. a leak report under ASan). */
static inline int srv_stop(cfg_srv *s, int sig) {
  int rc = 0;
  if (s->pid > 0) {
    rc = sig == SIGTERM ? nc_test_nacosd_stop(&s->n) : nc_testproc_kill(&s->n.proc, sig);
    s->pid = 0;
  }
  return rc;
}

static inline void srv_cleanup(cfg_srv *s) {
  srv_stop(s, SIGKILL);
  if (s->dir[0])
    nc_test_rmtree(s->dir);
}

/* Graceful end of a test: SIGTERM (log dumped on an unclean exit), then
 * srv_cleanup. Returns the exit code; 0 under ASan also means no leaks. */
static inline int srv_finish(cfg_srv *s) {
  int st = srv_stop(s, SIGTERM);
  srv_cleanup(s);
  return st;
}

/* Value of one nacosd_<name> counter from /metrics, or -1. */
static inline long long srv_metric(const cfg_srv *s, const char *name) {
  char full[128];
  snprintf(full, sizeof(full), "nacosd_%s", name);
  return nc_test_nacosd_metric(s->port, full);
}

/* Waits up to ms for metric >= want. */
static inline long long srv_metric_wait(const cfg_srv *s, const char *name, long long want, int ms) {
  uint64_t end = it_now_ms() + (uint64_t)ms;
  long long v;
  while ((v = srv_metric(s, name)) < want && it_now_ms() < end)
    it_sleep_ms(20);
  return v;
}

/* ---- config requests ---- */

static inline cJSON *cfg_body(const char *data_id, const char *group, const char *tenant) {
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
static inline nc_msg *cfg_call(nc_wc *wc, const char *type, cJSON *body) {
  nc_msg *resp = NULL;
  int rc = nc_wc_request(wc, type, body, 5000, &resp);
  cJSON_Delete(body);
  return rc == 0 ? resp : NULL;
}

static inline nc_msg *cfg_publish(nc_wc *wc, const char *data_id, const char *group, const char *tenant,
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

static inline nc_msg *cfg_query(nc_wc *wc, const char *data_id, const char *group, const char *tenant) {
  return cfg_call(wc, "ConfigQueryRequest", cfg_body(data_id, group, tenant));
}

static inline nc_msg *cfg_remove(nc_wc *wc, const char *data_id, const char *group, const char *tenant) {
  return cfg_call(wc, "ConfigRemoveRequest", cfg_body(data_id, group, tenant));
}

static inline nc_msg *cfg_listen(nc_wc *wc, int listen, const char *data_id, const char *group,
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

static inline nc_wc *cfg_connect(nc_gcli_env *env, const cfg_srv *s, nc_wc_push_cb on_push, void *ud,
                          int no_auto_ack) {
  nc_wc_opts o = {.target = s->target, .module = "config", .app_name = "itest",
                  .no_auto_ack = no_auto_ack};
  nc_wc *wc = NULL;
  return nc_wc_connect(env, &o, on_push, NULL, ud, &wc) == 0 ? wc : NULL;
}

#endif
