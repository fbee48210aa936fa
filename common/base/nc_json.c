#include "nc_json.h"
#include "nc_err.h"

#include <math.h>
#include <string.h>

const char *nc_json_str(const cJSON *obj, const char *key, const char *def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : def;
}

long long nc_json_int(const cJSON *obj, const char *key, long long def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return def;
  /* valuedouble keeps full precision for epoch millis; valueint saturates. */
  if (v->valuedouble > 9.2e18 || v->valuedouble < -9.2e18)
    return def;
  return (long long)v->valuedouble;
}

double nc_json_num(const cJSON *obj, const char *key, double def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : def;
}

int nc_json_bool(const cJSON *obj, const char *key, int def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (cJSON_IsBool(v))
    return cJSON_IsTrue(v);
  if (cJSON_IsString(v) && v->valuestring) {
    if (!strcmp(v->valuestring, "true"))
      return 1;
    if (!strcmp(v->valuestring, "false"))
      return 0;
  }
  return def;
}

int nc_json_mistyped(const cJSON *obj, const char *key, int cjson_type_mask) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v))
    return 0;
  return (v->type & 0xff & cjson_type_mask) == 0;
}

int nc_json_add_str(cJSON *obj, const char *key, const char *val) {
  if (!val)
    return 0;
  return cJSON_AddStringToObject(obj, key, val) ? 0 : NC_ENOMEM;
}
