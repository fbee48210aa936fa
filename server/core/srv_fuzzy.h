/* srv_fuzzy: the Nacos 3.x fuzzy-watch engine shared by naming and config
 * (docs/fuzzy-watch.md). It lives in core because naming and config may
 * not include each other; each supplies a kind (wire names, how to list
 * its resources) and feeds resource changes in (naming_fuzzy.c,
 * config_fuzzy.c).
 *
 * Owns, for one kind: the patterns being watched ("namespace>>group>>name"
 * with Nacos's '*' rules), per pattern the keys it matches
 * (at most max_matches) and the connections watching it, per connection
 * its patterns (at most max_patterns), and the server->client pushes: the
 * sync of a WATCH (diff against the keys the client says it holds, in
 * batches, FINISH after every batch of an initial sync was acked) and the
 * change notifications when a resource appears or goes. A push that times
 * out or is refused is sent again after retry_ms (x attempts with backoff)
 * while the connection still watches; after max_attempts (0 = never) the
 * connection is dropped, as Nacos's config side does.
 *
 * Threading: loop thread only (the retry timer runs on loop). */
#ifndef SRV_FUZZY_H
#define SRV_FUZZY_H

#include "nc_metrics.h"
#include "srv_rpc.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* ---- patterns ---- */

#define NC_FZ_PATTERN_MAX 1024 /* bytes of a groupKeyPattern */

/* A parsed pattern: three slices of the text (not NUL-terminated). */
typedef struct nc_fz_parts {
  const char *ns, *group, *name;
  size_t ns_len, group_len, name_len;
} nc_fz_parts;

/* Splits "ns>>group>>name" (each ">>" found left to right, as Java's
 * split): exactly three non-empty parts, at most NC_FZ_PATTERN_MAX bytes.
 * p borrows pattern. 0 or NC_EINVAL. */
int nc_fz_split(const char *pattern, nc_fz_parts *p);
/* One item by FuzzyGroupKeyPattern's rules: no '*' = equal; "*" = any;
 * '*' first and last = contains; '*' first = ends with; '*' last = starts
 * with (the text is taken with every '*' removed); a '*' only inside =
 * never. */
int nc_fz_item_match(const char *pat, size_t len, const char *s);
/* The resource (ns blank = "public", which the pattern must name exactly)
 * matches p. */
int nc_fz_match(const nc_fz_parts *p, const char *ns, const char *group, const char *name);

/* ---- the engine ---- */

typedef struct nc_fz nc_fz;

/* emit for one resource: key as the wire spells it, with its parts. */
typedef void (*nc_fz_emit_fn)(void *ctx, const char *key, const char *ns, const char *group,
                              const char *name);

/* What differs between naming and config; strings static. */
typedef struct nc_fz_kind {
  const char *module;       /* "naming" / "config": log lines, the pushes' module */
  const char *sync_type;    /* e.g. "NamingFuzzyWatchSyncRequest" */
  const char *notify_type;  /* e.g. "NamingFuzzyWatchChangeNotifyRequest" */
  const char *key_field;    /* contexts' and notify's key: "serviceKey" / "groupKey" */
  const char *notify_field; /* notify's change field: "changedType" / "changeType" */
  const char *notify_sync;  /* notify's syncType (naming); NULL: none (config) */
  const char *add, *del;    /* contexts' changedType, e.g. "ADD_SERVICE" */
  const char *notify_add;   /* notify's type for an appearance (config: CONFIG_CHANGED) */
  int batch;                /* keys per sync request */
  /* Calls emit for every resource of namespace ns ("public" = default). */
  void (*each)(void *ud, const char *ns, nc_fz_emit_fn emit, void *ctx);
  void *ud;
} nc_fz_kind;

/* How pushes go out: nc_srv_push_raw's shape (json borrowed). */
typedef int (*nc_fz_send_fn)(void *ud, const char *conn_id, const char *type, const char *json,
                             size_t len, int timeout_ms, nc_push_cb cb, void *cbud);
typedef void (*nc_fz_drop_fn)(void *ud, const char *conn_id, const char *why);

typedef struct nc_fz_opts {
  int max_patterns; /* patterns per connection; <= 0: unlimited */
  int max_matches;  /* keys per pattern; <= 0: unlimited */
  int timeout_ms;   /* ack timeout; 0 = 5000 */
  int retry_ms;     /* 0 = 1000 */
  int backoff;      /* 1: the n-th retry waits n x retry_ms */
  int max_attempts; /* sends of one push before the connection is dropped; 0 = unbounded */
  /* NULL send: nc_srv_push_raw on srv; NULL drop: nc_srv_drop_conn */
  nc_fz_send_fn send;
  nc_fz_drop_fn drop;
  void *send_ud;
} nc_fz_opts;

/* kind and o copied (kind's strings borrowed). srv may be NULL when send
 * and drop are given (unit tests). */
int nc_fz_new(uv_loop_t *loop, nc_srv *srv, const nc_fz_kind *kind, const nc_fz_opts *o,
              nc_fz **out);
/* Frees everything; call after nc_srv_drop_all (no push in flight) and run
 * the loop once afterwards (the timer's close). NULL: no-op. */
void nc_fz_free(nc_fz *f);

/* Pushes one connection may have unacked or waiting before its change
 * notifications are dropped (a stuck client must not grow the server
 * without bound); the SDK's periodic re-sync (a WATCH with the keys it
 * holds) brings it up to date once it reads again. */
#define NC_FZ_MAX_PENDING 1024

/* The Nacos errors of a WATCH (ErrorCode 50310 / 50311). */
#define NC_FZ_ERR_PATTERNS 50310
#define NC_FZ_ERR_MATCHES 50311
#define NC_FZ_MSG_PATTERNS "fuzzy watch pattern over limit"
#define NC_FZ_MSG_MATCHES "fuzzy watch pattern matched count over limit"

/* WATCH of pattern by conn_id: received (array of keys the client holds,
 * may be NULL; non-strings ignored) is diffed against the matches and the
 * sync pushed (initializing: FUZZY_WATCH_INIT_NOTIFY then FINISH, else
 * FUZZY_WATCH_DIFF_SYNC_NOTIFY). Returns 0; NC_EINVAL (bad pattern, state
 * unchanged); NC_FZ_ERR_PATTERNS (the connection watches max_patterns
 * others, unchanged); NC_FZ_ERR_MATCHES (watching, but the pattern holds
 * max_matches keys: later ones are not reported); NC_ENOMEM. */
int nc_fz_watch(nc_fz *f, const char *conn_id, const char *pattern, const cJSON *received,
                int initializing);
/* CANCEL_WATCH: 0 (also when conn_id was not watching it). */
int nc_fz_cancel(nc_fz *f, const char *conn_id, const char *pattern);
/* The connection is gone: every watch and push of it goes. */
void nc_fz_conn_down(nc_fz *f, const char *conn_id);

/* A resource now exists (exists = 1) or is gone (0): matching patterns'
 * sets are updated and their watchers notified when a set changed. A
 * resource already known (or already unknown) changes nothing. */
void nc_fz_changed(nc_fz *f, const char *key, const char *ns, const char *group,
                   const char *name, int exists);

/* 1 while some pattern is watched: callers skip the work of describing a
 * change otherwise. */
int nc_fz_active(const nc_fz *f);

/* Serves req_type (answered as resp_type, NC_H_* flags) with nc_fz_handle
 * and drops a connection's watches when it goes (a connection listener):
 * what a module needs on srv. Strings static. 0 or NC_ENOMEM. */
int nc_fz_serve(nc_fz *f, const char *req_type, const char *resp_type, unsigned flags);

/* The request handler body for WatchRequest types: reads groupKeyPattern,
 * watchType (WATCH / CANCEL_WATCH), receivedGroupKeys, initializing, and
 * answers with resp_type (400 bad input; Nacos's 50310/50311). */
void nc_fz_handle(nc_fz *f, nc_req *r, const nc_msg *m, const char *resp_type);

typedef struct nc_fz_stats {
  size_t patterns, watches, conns, matched_keys; /* gauges */
  uint64_t watch_requests, cancel_requests;
  uint64_t refused_patterns, over_matches, bad_requests;
  uint64_t syncs_sent, notifies_sent, acked, retried, failed, drops;
  uint64_t notifies_dropped; /* not queued: the connection had NC_FZ_MAX_PENDING pushes */
} nc_fz_stats;
void nc_fz_get_stats(const nc_fz *f, nc_fz_stats *st);
/* Appends nacosd_<module>_fuzzy_* families to t. */
void nc_fz_render_metrics(const nc_fz *f, nc_metrics_text *t);

/* For tests: 1 when conn_id watches pattern; the keys pattern matches (-1
 * when nobody watches it). */
int nc_fz_watching(const nc_fz *f, const char *conn_id, const char *pattern);
long nc_fz_matched(const nc_fz *f, const char *pattern);

#endif
