/* nc_cache: the agent's disk cache of service lists and configs under
 * --cache-dir, so a restarted agent without an upstream can still answer
 * reads (marked stale). One JSON file per key under naming/ and config/,
 * written atomically (temporary file + rename): a reader sees the old or
 * the new file, never a torn one. Loop thread only. */
#ifndef NC_CACHE_H
#define NC_CACHE_H

#include <cjson/cJSON.h>

typedef struct nc_cache nc_cache;

/* Creates dir (and its subdirectories) when missing. *out owned by the
 * caller (nc_cache_close). */
int nc_cache_open(const char *dir, nc_cache **out);
void nc_cache_close(nc_cache *c);

/* hosts: a JSON array in the local protocol's host form (borrowed). */
int nc_cache_put_hosts(nc_cache *c, const char *ns, const char *group, const char *service,
                       const cJSON *hosts);
/* *hosts is a new array owned by the caller; NC_ENOTFOUND when absent. */
int nc_cache_get_hosts(nc_cache *c, const char *ns, const char *group, const char *service,
                       cJSON **hosts);

int nc_cache_put_config(nc_cache *c, const char *ns, const char *group, const char *data_id,
                        const char *content, const char *md5);
/* *content malloc'ed, owned by the caller; NC_ENOTFOUND when absent. */
int nc_cache_get_config(nc_cache *c, const char *ns, const char *group, const char *data_id,
                        char **content, char md5[33]);
/* Records that the config does not exist (removing any cached copy). */
int nc_cache_del_config(nc_cache *c, const char *ns, const char *group, const char *data_id);

#endif
