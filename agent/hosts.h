/* nc_hosts: host lists in the local protocol's form
 * ({instance_id, ip, port, weight, healthy, enabled, ephemeral, cluster,
 * metadata}), converted from Nacos ServiceInfo, filtered per subscriber,
 * and fingerprinted so that a subscriber is never told the same list
 * twice. Pure functions. */
#ifndef NC_HOSTS_H
#define NC_HOSTS_H

#include <cjson/cJSON.h>
#include <stdint.h>

/* New array owned by the caller (empty when hosts is absent); NULL on OOM. */
cJSON *nc_hosts_from_service_info(const cJSON *service_info);
/* New array with the hosts whose cluster is in clusters (NULL or empty =
 * all) and, when healthy_only, that are healthy. hosts may be NULL. */
cJSON *nc_hosts_filter(const cJSON *hosts, const cJSON *clusters, int healthy_only);
/* serviceInfo.lastRefTime (the server's stamp of the list), 0 when absent. */
long long nc_hosts_ref_time(const cJSON *service_info);
/* Order-independent fingerprint of a host list (never 0). */
uint64_t nc_hosts_hash(const cJSON *hosts);

#endif
