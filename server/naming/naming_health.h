/* naming_health: server-side health checks of persistent instances, as
 * Nacos's HealthCheckTaskV2 / HealthCheckCommonV2 / Tcp- and
 * HttpHealthCheckProcessor do them (docs/persistent.md):
 *
 * - Only the responsible node checks an instance: Nacos's DistroMapper
 *   hash of "ip:port" over the sorted UP and SUSPICIOUS members
 *   (nacos-cluster.md §3.2); standalone, or self not in the list: this node.
 * - Each instance has its own schedule: the first check 2 s + random(0,
 *   random(0, tcp max)) after it appears, then every "normalized check rt":
 *   factor x normalized + (1 - factor) x the last check's rt, clamped to
 *   [min, max] (TCP 1000..5000 ms, factor 0.75; HTTP 500..5000, 0.85).
 * - TCP (the default): a non-blocking connect on the loop with a 500 ms
 *   timeout. Connected: ok. Refused: unhealthy at once. Timeout or another
 *   error: a failure.
 * - HTTP (when the instance's cluster says so, nc_nhealth_cluster_fn): GET
 *   path with the configured headers. The expected code (200): ok; 503 or
 *   302: a failure; anything else or refused: unhealthy at once.
 * - NONE: not checked.
 * - checkTimes (3) consecutive failures make a healthy instance unhealthy,
 *   3 consecutive successes an unhealthy one healthy. The verdict goes to
 *   the source (naming_pstore: written, published, peers told).
 *
 * The instances come from a source (the persistent store in nacosd, a fake
 * in tests), re-read every second. Loop thread only. */
#ifndef NAMING_HEALTH_H
#define NAMING_HEALTH_H

#include "naming_pstore.h"
#include "nc_metrics.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct nc_nhealth nc_nhealth;

/* Where the instances come from and where verdicts go. */
typedef struct nc_nhealth_src {
  /* Calls fn for every instance (nc_npstore_each's shape). */
  void (*each)(void *ud, void (*fn)(void *fud, const nc_npstore_inst *in), void *fud);
  /* The checks' verdict on in (it was in->healthy before). */
  void (*set_health)(void *ud, const nc_npstore_inst *in, int healthy);
  void *ud;
} nc_nhealth_src;
/* The persistent store as a source (ps borrowed). */
nc_nhealth_src nc_nhealth_src_pstore(nc_npstore *ps);

typedef enum { NC_NHC_TCP = 0, NC_NHC_HTTP, NC_NHC_NONE } nc_nhc_type;

/* A cluster's health checker (Nacos's ClusterMetadata healthChecker). */
typedef struct nc_nhealth_checker {
  nc_nhc_type type;
  char path[256];     /* HTTP: "/" when blank */
  char headers[512];  /* HTTP: Nacos's "Name:value|Name2:value2" */
  int expected_code;  /* HTTP: 0 = 200 */
  int check_port;     /* 0 = the instance's port (useInstancePortForCheck) */
} nc_nhealth_checker;
/* The checker of (service, cluster): 0 with *out filled, else the default
 * (TCP on the instance's port). */
typedef int (*nc_nhealth_cluster_fn)(void *ud, const char *ns, const char *group,
                                     const char *name, const char *cluster,
                                     nc_nhealth_checker *out);
/* Parses Nacos's healthChecker JSON ({"type":"HTTP","path":..,"headers":..,
 * "expectedResponseCode":..} or {"type":"TCP"} / {"type":"NONE"}) into out:
 * 0, or NC_EINVAL. */
int nc_nhealth_checker_parse(const char *json, nc_nhealth_checker *out);

/* The stored cluster settings (naming_pstore's JSON: {"healthChecker":
 * {...}, "checkPort":N, "useInstancePort4Check":b}) into out: 0 or
 * NC_EINVAL. check_port is 0 when the instance's port is used. */
int nc_nhealth_cluster_parse(const char *json, nc_nhealth_checker *out);
/* A cluster hook over the persistent store's settings (ud = nc_npstore). */
int nc_nhealth_cluster_pstore(void *ud, const char *ns, const char *group, const char *name,
                              const char *cluster, nc_nhealth_checker *out);

/* The members a check is shared among (UP and SUSPICIOUS, any order):
 * fills up to cap addresses (borrowed until the call returns to the loop)
 * and returns their count. */
typedef size_t (*nc_nhealth_members_fn)(void *ud, const char **addrs, size_t cap);

typedef struct nc_nhealth_opts {
  int check_times;        /* 0 = 3 (SwitchDomain.checkTimes) */
  int tcp_min_ms, tcp_max_ms;   /* 0 = 1000, 5000 */
  int http_min_ms, http_max_ms; /* 0 = 500, 5000 */
  int connect_timeout_ms; /* 0 = 500 (TcpHealthCheckProcessor's) */
  int http_timeout_ms;    /* whole HTTP check; 0 = 5000 */
  int first_delay_ms;     /* < 0: Nacos's random first delay; else exactly this (tests) */
} nc_nhealth_opts;

int nc_nhealth_new(uv_loop_t *loop, const nc_nhealth_src *src, const nc_nhealth_opts *o,
                   nc_nhealth **out);
/* Cancels checks in flight; frees h once its handles are closed (run the
 * loop). NULL ok. */
void nc_nhealth_free(nc_nhealth *h);
/* self: this node's address as the member list spells it (copied); fn
 * NULL: standalone (every instance is ours). */
void nc_nhealth_set_members(nc_nhealth *h, const char *self, nc_nhealth_members_fn fn, void *ud);
void nc_nhealth_set_cluster_fn(nc_nhealth *h, nc_nhealth_cluster_fn fn, void *ud);

/* Java's String.hashCode of s (bytes taken as code units: ASCII exact). */
int32_t nc_nhealth_java_hash(const char *s);
/* DistroMapper.responsible: is self responsible for tag among members
 * (sorted here; duplicates allowed)? */
int nc_nhealth_responsible(const char *tag, const char *const *members, size_t n,
                           const char *self);

typedef struct nc_nhealth_stats {
  size_t instances, responsible; /* held / checked by this node */
  uint64_t checks, ok, failed, marked_unhealthy, marked_healthy;
} nc_nhealth_stats;
void nc_nhealth_get_stats(const nc_nhealth *h, nc_nhealth_stats *st);
void nc_nhealth_render_metrics(const nc_nhealth *h, nc_metrics_text *t);

#endif
