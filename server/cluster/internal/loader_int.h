/* loader_int: what loader.c (module, cluster handlers, limit, metrics),
 * loader_view.c (cluster view, smartReloadCluster) and loader_ctl.c (the
 * operations, forwarding) share. Loop thread only. */
#ifndef NC_LOADER_INT_H
#define NC_LOADER_INT_H

#include "loader.h"

#include <stdint.h>

/* Nacos's ErrorCode values the loader answers with */
enum {
  LD_OK = 0,
  LD_PARAM_MISSING = 10000,
  LD_PARAM_INVALID = 20002,
  LD_NOT_FOUND = 20004,
  LD_SERVER_ERROR = 30000,
};

enum { LD_MAX_MEMBERS = 256 };

typedef enum {
  LD_OP_CURRENT,
  LD_OP_CLUSTER,
  LD_OP_RELOAD_CURRENT,
  LD_OP_RELOAD_CLIENT,
  LD_OP_SMART_RELOAD,
  LD_OP_LIMIT,
  LD_OP_DRAIN,
  LD_OP_UNDRAIN,
  LD_OP_REBALANCE,
  LD_N_OPS,
} ld_op;

struct nc_loader {
  uv_loop_t *loop;
  nc_srv *srv;
  nc_cluster *cl;
  nc_rebal *rb;
  char *data_dir;
  int stopped;
  long persist_limit; /* in limitRule; -1 none */
  int limit_persistent; /* the limit in force is the persisted one */
  /* system CPU from /proc/stat, sampled once a second */
  unsigned long long cpu_busy, cpu_all;
  double cpu;
  /* counters for /metrics */
  uint64_t calls[LD_N_OPS], call_errors;
  uint64_t forwarded, forward_failed, ctl_served, info_served, reload_served, reload_ignored;
  uint64_t redirects_refused;
};

const char *nc_ld_op_name(ld_op op);
int nc_ld_op_parse(const char *s, ld_op *out);

/* A Result {"code","message","data"} (data consumed; NULL = omitted, as
 * Nacos's null data is never sent) and cb called with it. */
void nc_ld_reply(nc_loader_done_fn cb, void *ud, int status, int code, cJSON *data);
/* An error Result with detail text as data (printf style). */
void nc_ld_fail(nc_loader_done_fn cb, void *ud, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* 0 when addr ("ip:port") is a member other than self, UP and ready;
 * else NC_EINVAL with the reason in why. */
int nc_ld_check_redirect(nc_loader *l, const char *addr, char *why, size_t cap);
/* 1 when addr is a member (self included); *is_self set. */
int nc_ld_is_member(nc_loader *l, const char *addr, int *is_self);

/* This node's loaderMetrics object (strings, as Nacos) and its "nc"
 * extras (limit, limitPersistent, memoryBytes, rebalance status). */
cJSON *nc_ld_self_metrics(nc_loader *l);
cJSON *nc_ld_self_extras(nc_loader *l);

/* Sets the limit (-1 none); persistent writes limitRule atomically.
 * 0 or NC_EIO (nothing changed then). */
int nc_ld_set_limit(nc_loader *l, long count, int persistent);

/* loader_view.c: the cluster view (op cluster) and smartReloadCluster. */
void nc_ld_cluster_view(nc_loader *l, int v3, nc_loader_done_fn cb, void *ud);
void nc_ld_smart_reload(nc_loader *l, double factor, const char *who, nc_loader_done_fn cb,
                        void *ud);
/* ServerReloadRequest's effect here (§5.4 step 4): "ok" or "ignore". */
const char *nc_ld_server_reload(nc_loader *l, long reload_count, const char *server);

/* loader_ctl.c: runs op here (never forwards). */
void nc_ld_local_op(nc_loader *l, ld_op op, const cJSON *params, const char *who,
                    nc_loader_done_fn cb, void *ud);

#endif
