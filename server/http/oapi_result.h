/* oapi_result: the answers every open API route file shares (naming_routes*,
 * config_routes*): v1 Nacos's plain bodies ("caused: <why>;" errors with the
 * HTTP status), v2 the Result envelope {code, message, data} with Nacos's
 * ErrorCode values and their texts, and parameters from query or form.
 * Moved here from naming_routes.c when the config routes needed them.
 * Loop thread only (like nc_http). */
#ifndef OAPI_RESULT_H
#define OAPI_RESULT_H

#include "nc_http.h"

#include <cjson/cJSON.h>

/* Nacos's v2 ErrorCode values (api/model/v2/ErrorCode.java). */
enum {
  NC_OAPI_PARAM_MISSING = 10000,
  NC_OAPI_TENANT_PARAM = 20001,
  NC_OAPI_PARAM_VALIDATE = 20002,
  NC_OAPI_NOT_FOUND = 20004,
  NC_OAPI_CONFLICT = 20005,
  NC_OAPI_WEIGHT = 21001,
  NC_OAPI_METADATA = 21002,
  NC_OAPI_INSTANCE = 21004,
  NC_OAPI_SERVICE_NOT_EXIST = 21008,
  NC_OAPI_NS_NOT_EXIST = 22001,
  NC_OAPI_NS_EXIST = 22002,
  NC_OAPI_NS_ILLEGAL = 22003,
  NC_OAPI_SERVER = 30000,
};

/* The ErrorCode's message ("parameter missing", ...); "server error" for
 * an unknown one. Static. */
const char *nc_oapi_code_msg(int code);
/* A failure: v1 "caused: why;" (text/plain) with status, v2 the envelope
 * {code, its message, data: why} with status. */
void nc_oapi_fail(nc_http_req *r, int v2, int status, int code, const char *why);
/* Success, status 200: v1 data's JSON itself, v2 {code 0, "success", data}.
 * Takes data (NULL: answered 500). */
void nc_oapi_ok_json(nc_http_req *r, int v2, cJSON *data);
/* The bodies of the two answers above, for an answer that goes elsewhere
 * than an nc_http_req (a request a cluster peer forwarded): malloc'd (the
 * caller frees), NULL on OOM; *ctype gets the static content type.
 * nc_oapi_ok_body takes data. */
char *nc_oapi_fail_body(int v2, int code, const char *why, const char **ctype);
char *nc_oapi_ok_body(int v2, cJSON *data);
/* A parameter (query or form), NULL when absent or empty. */
const char *nc_oapi_param(nc_http_req *r, const char *name);

#endif
