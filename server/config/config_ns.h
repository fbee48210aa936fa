/* config_ns: namespace operations without a transport (the HTTP namespace
 * API calls them, namespace_routes.c). Namespaces live in the config store
 * (config_store.h ns_*: SQLite's tenant_info table, PostgreSQL's Nacos
 * tenant_info), read and written as jobs on the config writer thread, after
 * the writes queued before them. The default namespace ("" in 2.x; the ids
 * "", "public" and "null" all name it) is never stored: it always exists
 * and cannot be created, changed or removed.
 *
 * Validation is Nacos's (NamespaceController / NamespaceOperationService):
 * an id of [A-Za-z0-9_-] (Java's \w plus '-'), at most 128 characters; a
 * name without any of @#$%^&* and at most 128 bytes; a description of at
 * most 256 bytes. Codes: NC_EINVAL (message says why), NC_EEXISTS (create
 * of an id there is, or of the default one), NC_ENOTFOUND (update of an id
 * there is not), NC_EDB / NC_EUNAVAIL (store), NC_ECLOSED (stopping),
 * NC_ENOMEM.
 *
 * Threading: loop thread only. */
#ifndef CONFIG_NS_H
#define CONFIG_NS_H

#include "config_service.h"
#include "config_store.h"

#include <stddef.h>

#define NC_CONFIG_NS_ID_MAX 128
#define NC_CONFIG_NS_NAME_MAX 128
#define NC_CONFIG_NS_DESC_MAX 256

/* 1 when id names the default namespace ("", "public", "null", any case). */
int nc_config_ns_is_default(const char *id);
/* Nacos's checks of a custom id / a name; NULL when fine, else a static
 * or buf-held message (Nacos's wording). */
const char *nc_config_ns_check_id(const char *id, char *buf, size_t cap);
const char *nc_config_ns_check_name(const char *name, char *buf, size_t cap);

/* Configs the namespace holds now (the cache's count). */
size_t nc_config_ns_configs(nc_config_service *cs, const char *id);

/* rows (every stored namespace, by id; never the default one) borrowed for
 * the call, n = 0 when code != 0. Called exactly once; a refusal before
 * queueing (NC_ECLOSED, NC_ENOMEM) runs it before the call returns. */
typedef void (*nc_config_ns_list_fn)(void *ud, int code, const char *message,
                                     const nc_cfg_ns *rows, size_t n);
void nc_config_ns_list(nc_config_service *cs, nc_config_ns_list_fn fn, void *ud);

/* Called exactly once, like the list's fn; message NULL on success. */
typedef void (*nc_config_ns_done_fn)(void *ud, int code, const char *message);
/* create: id must be given (the caller makes one up for a blank
 * customNamespaceId); update: name and desc replace the stored ones;
 * delete: 0 also when the id was not there (as Nacos). Strings are copied. */
void nc_config_ns_write(nc_config_service *cs, nc_cfg_ns_op op, const char *id, const char *name,
                        const char *desc, nc_config_ns_done_fn done, void *ud);

#endif
