/* config_int: the config service's state, shared by its files
 * (config_ops.c: publish/remove and the change listeners; config_read.c:
 * get, list and history; config_service.c: the gRPC adapters for query,
 * publish, remove and listen, and init; config_admin.c: the gRPC adapters
 * for nacos-c's list and history requests). Private to the config module. */
#ifndef CONFIG_INT_H
#define CONFIG_INT_H

#include "config_feed.h"
#include "config_listen.h"
#include "config_ops.h"
#include "config_service.h"
#include "config_store.h"
#include "config_util.h"
#include "config_writer.h"
#include "nc_strmap.h"

typedef struct nc_config_listener {
  nc_config_listener_fn fn;
  void *ud;
} nc_config_listener;

struct nc_config_service {
  nc_srv *srv;
  nc_config_opts opts;
  char *data_dir;
  nc_cfg_store *store;
  const char *store_name;
  nc_cfg_writer *writer;
  nc_cfg_feed *feed; /* shared store only */
  char *db_url;
  nc_cfg_listen *listen;
  nc_strmap *cache; /* groupKey (normalised tenant) -> nc_cfg_item */
  nc_strmap *ns_counts; /* item tenant -> configs in the cache, (void *)(uintptr_t)n */
  /* item tenant -> nc_config_ns_use: content bytes the cache holds, and the
   * growth queued publishes reserved (config_ops.c) */
  nc_strmap *ns_use;
  nc_config_listener *listeners; /* registration order */
  size_t n_listeners, cap_listeners;
  nc_config_commit_fn commit_hook;
  void *commit_ud;
  nc_config_stats stats;
  struct nc_cfz *fz; /* fuzzy watch of configs (config_fuzzy.h) */
};

/* A validated key owned by a queued job (config_read.c). */
typedef struct nc_config_okey {
  char *data_id, *group, *tenant; /* tenant normalised */
} nc_config_okey;
/* Copies k; 0 or NC_ENOMEM (then o holds nothing). */
int nc_config_okey_set(nc_config_okey *o, const nc_cfg_key *k);
void nc_config_okey_clear(nc_config_okey *o);

/* The only ways into and out of cs->cache: they keep ns_counts. put: as
 * nc_strmap_put; del: as nc_strmap_del. */
int nc_config_cache_put(nc_config_service *cs, const char *gk, nc_cfg_item *it, void **old);
nc_cfg_item *nc_config_cache_del(nc_config_service *cs, const char *gk);
/* Configs the cache holds in tenant (as items spell it). */
size_t nc_config_ns_count(nc_config_service *cs, const char *tenant);

/* A namespace's content bytes: committed (the cache's, kept by
 * nc_config_cache_put/del) and reserved by publishes still queued, so
 * concurrent publishes cannot together pass --config-max-ns-bytes. */
typedef struct nc_config_ns_use {
  unsigned long long bytes, reserved;
} nc_config_ns_use;
/* tenant's entry, created (zeroed) when create; NULL when absent or OOM. */
nc_config_ns_use *nc_config_ns_use_of(nc_config_service *cs, const char *tenant, int create);

/* Registers NcConfigListRequest and NcConfigHistoryRequest on cs->srv. */
int nc_config_admin_register(nc_config_service *cs);

/* The writer's completion function (config_ops.c): a committed or failed
 * write back on the loop thread. */
void nc_config_write_done(void *ud, nc_cfg_job *job);

#endif
