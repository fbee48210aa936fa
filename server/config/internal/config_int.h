/* config_int: the config service's state, shared by its files
 * (config_service.c: writes, reads, listen; config_admin.c: nacos-c's list
 * and history requests). Private to the config module. */
#ifndef CONFIG_INT_H
#define CONFIG_INT_H

#include "config_listen.h"
#include "config_service.h"
#include "config_store.h"
#include "config_writer.h"
#include "nc_strmap.h"

struct nc_config_service {
  nc_srv *srv;
  nc_config_opts opts;
  char *data_dir;
  nc_cfg_store *store;
  nc_cfg_writer *writer;
  nc_cfg_listen *listen;
  nc_strmap *cache; /* groupKey (normalised tenant) -> nc_cfg_item */
  nc_config_stats stats;
};

/* Registers NcConfigListRequest and NcConfigHistoryRequest on cs->srv. */
int nc_config_admin_register(nc_config_service *cs);

#endif
