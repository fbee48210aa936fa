#include "upstream_members.h"
#include "http1.h"
#include "nc_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nc_upm_fetch(const struct nc_tls_cli *tls, const char *host, int port, const char *token,
                 int timeout_ms, cJSON **members) {
  char req[2048], *resp = NULL, *body = NULL;
  int status = 0, rc;
  *members = NULL;
  int v6 = strchr(host, ':') != NULL;
  int rl = snprintf(req, sizeof(req),
                    "GET /nacos/v1/core/cluster/nodes HTTP/1.1\r\nHost: %s%s%s:%d\r\n"
                    "Accept: application/json\r\nConnection: close\r\n%s%s%s\r\n",
                    v6 ? "[" : "", host, v6 ? "]" : "", port, token ? "accessToken: " : "",
                    token ? token : "", token ? "\r\n" : "");
  if (rl < 0 || (size_t)rl >= sizeof(req))
    return NC_EINVAL;
  if ((rc = nc_ag_http1_tls(tls, host, port, req, (size_t)rl, timeout_ms, &status, &resp, &body,
                            NULL, 0)) != 0)
    return rc;
  rc = NC_EPARSE;
  /* Chunked bodies are not expected (nacosd sends a sized buffer). */
  if (status != 200 || strcasestr(resp, "transfer-encoding: chunked"))
    goto out;
  cJSON *j = cJSON_Parse(body);
  cJSON *data = cJSON_DetachItemFromObjectCaseSensitive(j, "data");
  cJSON_Delete(j);
  if (cJSON_IsArray(data)) {
    *members = data;
    rc = 0;
  } else {
    cJSON_Delete(data);
  }
out:
  free(resp);
  return rc;
}
