/* nc_auth_grpc: see nc_auth_grpc.h. */
#include "nc_auth_grpc.h"

#include "nc_auth.h"
#include "nc_auth_perm.h"
#include "nc_json.h"
#include "srv_rpc.h"

#include <strings.h>

#define NO_RIGHT 403 /* NacosException.NO_RIGHT */

static const char *header(const nc_msg *m, const char *name) {
  for (size_t i = 0; i < m->n_headers; i++)
    if (m->headers[i].key && strcasecmp(m->headers[i].key, name) == 0)
      return m->headers[i].value;
  return NULL;
}

static nc_auth_result check_one(nc_auth *a, const char *user, const char *ns, const char *group,
                                const char *type, const char *name, char action) {
  char res[NC_AUTH_RES_MAX];
  if (nc_auth_resource(res, sizeof(res), ns, group, type, name) != 0)
    return NC_AUTH_FORBIDDEN;
  return nc_auth_allowed(a, user, res, action) ? NC_AUTH_OK : NC_AUTH_FORBIDDEN;
}

int nc_auth_grpc_check(void *ud, const nc_msg *m, unsigned flags, const char **msg) {
  nc_auth *a = ud;
  char user[NC_AUTH_USER_MAX];
  if (!nc_auth_enabled(a))
    return 0;
  nc_auth_result r = nc_auth_identify(a, header(m, "accessToken"), user);
  char action = (flags & NC_H_WRITE) ? 'w' : 'r';
  const cJSON *b = m->body;
  if (r == NC_AUTH_OK && (flags & NC_H_NAMING))
    r = check_one(a, user, nc_json_str(b, "namespace", ""), nc_json_str(b, "groupName", ""),
                  "naming", nc_json_str(b, "serviceName", ""), action);
  else if (r == NC_AUTH_OK && (flags & NC_H_CONFIG)) {
    const cJSON *ctxs = cJSON_GetObjectItemCaseSensitive(b, "configListenContexts");
    if (cJSON_IsArray(ctxs)) {
      const cJSON *c;
      cJSON_ArrayForEach(c, ctxs) {
        if (!cJSON_IsObject(c))
          continue; /* the handler answers 400 for it */
        r = check_one(a, user, nc_json_str(c, "tenant", ""), nc_json_str(c, "group", ""),
                      "config", nc_json_str(c, "dataId", ""), action);
        if (r != NC_AUTH_OK)
          break;
      }
    } else
      r = check_one(a, user, nc_json_str(b, "tenant", ""), nc_json_str(b, "group", ""), "config",
                    nc_json_str(b, "dataId", ""), action);
  }
  if (r == NC_AUTH_OK)
    return 0;
  *msg = nc_auth_result_msg(r);
  return NO_RIGHT;
}
