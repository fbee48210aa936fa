/* nc_json: small typed accessors over cJSON. Getters never fail: a missing
 * or mistyped key yields the default. Adders never emit JSON null (the
 * Python SDK rejects nulls): a NULL string is skipped. */
#ifndef NC_JSON_H
#define NC_JSON_H

#include <cjson/cJSON.h>

/* Borrowed pointer into obj, or def. */
const char *nc_json_str(const cJSON *obj, const char *key, const char *def);
long long nc_json_int(const cJSON *obj, const char *key, long long def);
double nc_json_num(const cJSON *obj, const char *key, double def);
/* Accepts JSON booleans and the strings "true"/"false". */
int nc_json_bool(const cJSON *obj, const char *key, int def);
/* 1 when key exists with a value of the wrong JSON type (null counts as absent). */
int nc_json_mistyped(const cJSON *obj, const char *key, int cjson_type_mask);

/* Adds key: val unless val is NULL. Returns 0 or NC_ENOMEM. */
int nc_json_add_str(cJSON *obj, const char *key, const char *val);

#endif
