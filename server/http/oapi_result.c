/* oapi_result: see oapi_result.h. */
#include "oapi_result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *nc_oapi_code_msg(int code) {
  switch (code) {
  case NC_OAPI_PARAM_MISSING: return "parameter missing";
  case NC_OAPI_TENANT_PARAM: return "'tenant' parameter error";
  case NC_OAPI_PARAM_VALIDATE: return "parameter validate error";
  case NC_OAPI_NOT_FOUND: return "resource not found";
  case NC_OAPI_CONFLICT: return "resource conflict";
  case NC_OAPI_WEIGHT: return "weight error";
  case NC_OAPI_METADATA: return "instance metadata error";
  case NC_OAPI_INSTANCE: return "instance error";
  case 21003: return "instance not found";
  case 21005: return "service metadata error";
  case 21006: return "selector error";
  case 21007: return "service already exist";
  case NC_OAPI_SERVICE_NOT_EXIST: return "service not exist";
  case 21009: return "service delete failure";
  case NC_OAPI_NS_NOT_EXIST: return "namespace not exist";
  case NC_OAPI_NS_EXIST: return "namespace already exist";
  case NC_OAPI_NS_ILLEGAL: return "illegal namespace";
  default: return "server error";
  }
}

#define CT_JSON "application/json;charset=UTF-8"
#define CT_TEXT "text/plain;charset=UTF-8"

char *nc_oapi_fail_body(int v2, int code, const char *why, const char **ctype) {
  if (v2) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", nc_oapi_code_msg(code));
    cJSON_AddStringToObject(o, "data", why ? why : "");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    *ctype = CT_JSON;
    return s;
  }
  char body[1200];
  int n = snprintf(body, sizeof(body), "caused: %s;", why ? why : "");
  size_t len = n > 0 && (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1;
  char *s = malloc(len + 1);
  if (s) {
    memcpy(s, body, len);
    s[len] = '\0';
  }
  *ctype = CT_TEXT;
  return s;
}

char *nc_oapi_ok_body(int v2, cJSON *data) {
  cJSON *o = data;
  if (v2 && data) {
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "code", 0);
    cJSON_AddStringToObject(o, "message", "success");
    cJSON_AddItemToObject(o, "data", data);
  }
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return s;
}

void nc_oapi_fail(nc_http_req *r, int v2, int status, int code, const char *why) {
  const char *ct = CT_TEXT;
  char *s = nc_oapi_fail_body(v2, code, why, &ct);
  if (!s) {
    nc_http_reply_error(r, 500, "out of memory");
    return;
  }
  nc_http_reply(r, status, ct, s, strlen(s));
  free(s);
}

void nc_oapi_ok_json(nc_http_req *r, int v2, cJSON *data) {
  char *s = nc_oapi_ok_body(v2, data);
  if (!s) {
    nc_http_reply_error(r, 500, "out of memory");
    return;
  }
  nc_http_reply(r, 200, CT_JSON, s, strlen(s));
  free(s);
}

const char *nc_oapi_param(nc_http_req *r, const char *name) {
  const char *v = nc_http_param(r, name);
  return v && *v ? v : NULL;
}
