/* config_service: Nacos 2.x configuration over the long connection
 * (nacos-wire-protocol.md §5.10-§5.14, §6.5).
 *
 * Owns the in-memory cache of current configs, the writer thread that
 * group-commits writes to the durable store (config_store.h), the change
 * listeners, and the gRPC handlers (ConfigQueryRequest, ConfigPublishRequest,
 * ConfigRemoveRequest, ConfigBatchListenRequest and nacos-c's list/history)
 * with the per-connection listen registry. The operations themselves, for
 * callers without a gRPC request (HTTP API, cluster sync), are in
 * config_ops.h; a publish is answered only after its batch committed.
 *
 * Threading: everything here runs on the server's loop thread except the
 * writer thread, which talks to the loop only through queues. */
#ifndef CONFIG_SERVICE_H
#define CONFIG_SERVICE_H

#include "srv_rpc.h"

typedef struct nc_config_service nc_config_service;

typedef struct nc_config_opts {
  const char *data_dir;      /* the store lives in <data_dir>/config.db; required */
  long max_content_bytes;    /* publish cap in UTF-8 bytes; 0 = NC_CONFIG_DEFAULT_MAX_CONTENT */
  long history_keep;         /* history rows kept per config; 0 = 30 */
  int notify_timeout_ms;     /* ack timeout per notify; 0 = 3000 */
  int notify_max_retries;    /* attempts before the connection is dropped; 0 = 50 */
  int notify_retry_base_ms;  /* back-off = attempts x this; 0 = 2000 */
  int batch_max;             /* writes per group-commit transaction; 0 = 2048 */
  const char *store;         /* "sqlite" (NULL) or "postgresql" */
  const char *db_url;        /* postgresql: libpq conninfo/URL; NULL or "" = the PG* environment */
  int db_timeout_ms;         /* postgresql: connect/statement deadline; 0 = 5000 */
  int poll_ms;               /* postgresql: change poll interval; 0 = 30000 */
  /* Bounds for one client (issue 12); 0 = unlimited. */
  int max_listen_keys;        /* contexts in one ConfigBatchListenRequest */
  int max_listeners_per_conn; /* keys one connection listens to */
  long max_per_namespace;     /* configs in one namespace (new keys refused) */
  long long max_ns_bytes;     /* content bytes in one namespace (growing publishes refused) */
  /* fuzzy watch (config_fuzzy.h): patterns per connection, configs per
   * pattern; 0 = Nacos's 20 / 500, < 0 unlimited */
  int fuzzy_max_patterns, fuzzy_max_matches;
} nc_config_opts;

/* 4 MiB: well under the 10 MiB gRPC message cap even after JSON escaping,
 * and every current config is held in memory. */
#define NC_CONFIG_DEFAULT_MAX_CONTENT (4L * 1024 * 1024)

/* Opens the store (creating data_dir/config.db), loads the cache, starts the
 * writer thread, registers the four handlers and a connection listener on
 * srv. Loop thread only, before the loop runs requests. On success *out is
 * owned by the caller (nc_config_free). opts is copied. */
int nc_config_init(nc_srv *srv, const nc_config_opts *opts, nc_config_service **out);

/* Shutdown order: nc_config_stop -> nc_srv_shutdown -> nc_config_free ->
 * nc_srv_free.
 *
 * nc_config_stop: commits the writes still queued and answers them while the
 * transport can still deliver replies; later writes are refused. Loop
 * thread; idempotent. */
void nc_config_stop(nc_config_service *cs);
/* Stops if not yet done, closes the store, frees everything. Call after
 * nc_srv_shutdown (in-flight notifies have resolved) and before nc_srv_free;
 * run the loop once afterwards so closed handles release their memory.
 * NULL is a no-op. */
void nc_config_free(nc_config_service *cs);

typedef struct nc_config_stats {
  uint64_t configs;           /* current number of configs */
  uint64_t listeners;         /* (connection, key) listen registrations */
  uint64_t publishes, removes, queries, listen_requests;
  uint64_t commits, commit_failures; /* group-commit transactions */
  uint64_t notifies_sent, notifies_acked, notifies_retried, notifies_dropped_conns;
  uint64_t listen_refused_keys;  /* listen requests over max_listen_keys */
  uint64_t listen_refused_conn;  /* listen requests over max_listeners_per_conn */
  uint64_t ns_full_refused;      /* publishes of a new key into a full namespace */
  uint64_t ns_bytes_refused;     /* publishes that would grow a namespace past max_ns_bytes */
} nc_config_stats;

/* 1 while the store takes writes (always for SQLite; PostgreSQL: the
 * writer's connection is up). Any thread. */
int nc_config_store_up(nc_config_service *cs);
/* The store's name: "sqlite" or "postgresql". */
const char *nc_config_store_name(nc_config_service *cs);
/* Appends the store's and the change feed's families to t. */
void nc_config_render_store_metrics(nc_config_service *cs, nc_metrics_text *t);
/* Snapshot refreshed on each call; loop thread. */
const nc_config_stats *nc_config_get_stats(nc_config_service *cs);
/* Appends config's Prometheus families to t. */
void nc_config_render_metrics(nc_config_service *cs, nc_metrics_text *t);

#endif
