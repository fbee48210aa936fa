/* config_util: the small pure pieces of Nacos config semantics shared by
 * the config modules and their tests: groupKey escaping (GroupKey2), 2.x
 * tenant normalisation and name validation (ParamUtils); the string map
 * they use is common/nc_strmap.h. No globals; any thread. */
#ifndef CONFIG_UTIL_H
#define CONFIG_UTIL_H

#include <stddef.h>

#include <cJSON.h>

/* 2.x: blank, "public" and "null" (any case) are the default namespace "".
 * Returns tenant itself or a static "" (never NULL; NULL input gives ""). */
const char *nc_cfg_norm_tenant(const char *tenant);

/* dataId + "+" + group [+ "+" + tenant when non-empty], each part with
 * '%' -> "%25" and '+' -> "%2B". Returns a malloc'ed string owned by the
 * caller, or NULL on OOM. tenant may be NULL. */
char *nc_cfg_group_key(const char *data_id, const char *group, const char *tenant);

/* 1 when s is a non-empty name of [A-Za-z0-9-_:.] no longer than max. */
int nc_cfg_valid_name(const char *s, size_t max);
/* 1 when s is "" or a tenant of [A-Za-z0-9_-] no longer than 128. */
int nc_cfg_valid_tenant(const char *s);
/* 1 when s is NULL, empty or only ASCII whitespace. */
int nc_cfg_blank(const char *s);
/* The content types Nacos knows; anything else is stored as "text". */
const char *nc_cfg_content_type(const char *type);

#define NC_CFG_MAX_DATA_ID 256
#define NC_CFG_MAX_GROUP 128

/* The key of a config request, read from its JSON body (strings borrowed
 * from the body). */
typedef struct nc_cfg_key {
  const char *data_id, *group;
  const char *raw_tenant; /* as the client sent it, "" when absent */
  const char *tenant;     /* normalised */
} nc_cfg_key;

/* Fills *k from body's dataId/group/tenant. Returns NULL when valid, else
 * a message for a 400 answer (static, or written into buf). */
const char *nc_cfg_check_key(const cJSON *body, nc_cfg_key *k, char *buf, size_t cap);
/* The same checks on given strings (NULL = ""); k borrows them. */
const char *nc_cfg_check_names(const char *data_id, const char *group, const char *tenant,
                               nc_cfg_key *k, char *buf, size_t cap);

#endif
