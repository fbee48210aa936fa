/* nacosctl cluster: a nacosd cluster's member list as one server sees it,
 * from GET /nacos/v1/core/cluster/nodes on that server's main port (the
 * agent's current upstream server unless --server names one), through
 * nacosctl_http. */
#include "nacosctl_http.h"

#include <stdlib.h>
#include <string.h>

/* One table row of a Member. */
static cJSON *member_row(const cJSON *m) {
  const cJSON *ext = cJSON_GetObjectItemCaseSensitive(m, "extendInfo");
  const cJSON *rd = cJSON_GetObjectItemCaseSensitive(ext, "nc.ready");
  const cJSON *cn = cJSON_GetObjectItemCaseSensitive(ext, "nc.connections");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(ext, "version");
  const cJSON *lr = cJSON_GetObjectItemCaseSensitive(ext, "lastRefreshTime");
  const cJSON *addr = cJSON_GetObjectItemCaseSensitive(m, "address");
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "state");
  cJSON *row = cJSON_CreateObject();
  if (!row)
    return NULL;
  cJSON_AddStringToObject(row, "address", cJSON_IsString(addr) ? addr->valuestring : "?");
  cJSON_AddStringToObject(row, "state", cJSON_IsString(st) ? st->valuestring : "?");
  cJSON_AddStringToObject(row, "ready", cJSON_IsBool(rd) ? (cJSON_IsTrue(rd) ? "yes" : "no") : "-");
  cJSON_AddStringToObject(row, "version", cJSON_IsString(ver) ? ver->valuestring : "-");
  if (cJSON_IsNumber(cn))
    cJSON_AddNumberToObject(row, "connections", cn->valuedouble);
  else
    cJSON_AddStringToObject(row, "connections", "-");
  if (cJSON_IsNumber(lr))
    cJSON_AddNumberToObject(row, "lastRefresh", lr->valuedouble);
  else
    cJSON_AddStringToObject(row, "lastRefresh", "-");
  return row;
}

int ctl_cmd_cluster(nc_ipc *c, const ctl_args *a) {
  char server[300], why[512], tok[4096];
  int status = 0, rc;
  if ((rc = ctl_http_server(c, a, "cluster", server, sizeof(server))) != 0 ||
      (rc = ctl_http_credentials("cluster", server, a, tok, sizeof(tok))) != 0)
    return rc;
  char *body = ctl_http_request(server, "GET", "/nacos/v1/core/cluster/nodes", NULL,
                                tok[0] ? tok : NULL, a->timeout_ms, &status, why, sizeof(why));
  if (!body) {
    fprintf(stderr, "%s: cluster: %s\n", ctl_prog, why);
    return CTL_EXIT_UNREACHABLE;
  }
  cJSON *j = cJSON_Parse(body);
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
  free(body);
  if (status == 401 || status == 403) {
    fprintf(stderr, "%s: cluster: %s refused the request (HTTP %d)%s\n", ctl_prog, server, status,
            tok[0] ? "" : ": auth is on; give --username U --password-file F or --token-file F");
    cJSON_Delete(j);
    return CTL_EXIT_AUTH;
  }
  if (status != 200 || !cJSON_IsArray(data)) {
    fprintf(stderr, "%s: cluster: %s answered HTTP %d without a member list%s\n", ctl_prog,
            server, status, status == 404 ? " (not a nacosd main port?)" : "");
    cJSON_Delete(j);
    return CTL_EXIT_AGENT;
  }
  if (a->json) {
    const cJSON *m;
    cJSON_ArrayForEach(m, data) ctl_print_json_line(m);
  } else {
    static const char *const heads[] = {"ADDRESS", "STATE",       "READY",
                                        "VERSION", "CONNECTIONS", "LAST REFRESH"};
    static const char *const keys[] = {"address", "state",       "ready",
                                       "version", "connections", "lastRefresh"};
    cJSON *rows = cJSON_CreateArray();
    const cJSON *m;
    cJSON_ArrayForEach(m, data) {
      cJSON *row = member_row(m);
      if (row)
        cJSON_AddItemToArray(rows, row);
    }
    ctl_print_table(rows, heads, keys, 6, "(no members)");
    cJSON_Delete(rows);
  }
  cJSON_Delete(j);
  return 0;
}
