/* config_ns_store_pg: namespaces in PostgreSQL, in Nacos's own tenant_info
 * (kp '1'; created by config_store_pg.c's schema or adopted from a Java
 * Nacos), so both servers see the same namespaces. Timestamps are left to
 * the columns' defaults (DEFAULT on update too): an adopted table may type
 * them differently, and the API does not show them. */
#include "config_ns_int.h"
#include "config_pg.h"

#include "nc_err.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

int nc_pg_ns_list(void *impl, nc_cfg_ns **out, size_t *n_out) {
  pg_store *s = impl;
  PGresult *r = NULL;
  int rc = pgs_ensure(s);
  if (rc || (rc = pgs_exec(s, NULL,
                           "SELECT tenant_id, coalesce(tenant_name,''), coalesce(tenant_desc,'') "
                           "FROM tenant_info WHERE kp='1' AND coalesce(tenant_id,'')<>'' "
                           "ORDER BY tenant_id",
                           0, NULL, NULL, &r, NULL)) != 0) {
    if (rc != NC_EUNAVAIL)
      nc_error("config store: namespace list: %s", s->err);
    return rc == NC_EUNAVAIL ? rc : NC_EDB;
  }
  int n = PQntuples(r);
  nc_cfg_ns *v = calloc(n ? (size_t)n : 1, sizeof(*v));
  rc = v ? 0 : NC_ENOMEM;
  for (int i = 0; !rc && i < n; i++) {
    v[i].id = strdup(PQgetvalue(r, i, 0));
    v[i].name = strdup(PQgetvalue(r, i, 1));
    v[i].desc = strdup(PQgetvalue(r, i, 2));
    if (!v[i].id || !v[i].name || !v[i].desc)
      rc = NC_ENOMEM;
  }
  PQclear(r);
  if (rc) {
    nc_cfg_ns_free(v, v ? (size_t)n : 0);
    return rc;
  }
  *out = v;
  *n_out = (size_t)n;
  return 0;
}

int nc_pg_ns_write(void *impl, nc_cfg_ns_op op, const char *id, const char *name,
                   const char *desc, int64_t ts_ms) {
  (void)ts_ms; /* the database's clock: the store is shared by the cluster */
  pg_store *s = impl;
  const char *sql =
      op == NC_NS_CREATE
          ? "INSERT INTO tenant_info (kp, tenant_id, tenant_name, tenant_desc, create_source) "
            "VALUES ('1', $1, $2, $3, 'nacos') ON CONFLICT (kp, tenant_id) DO NOTHING"
      : op == NC_NS_UPDATE
          ? "UPDATE tenant_info SET tenant_name=$2, tenant_desc=$3, gmt_modified=DEFAULT "
            "WHERE kp='1' AND tenant_id=$1"
          : "DELETE FROM tenant_info WHERE kp='1' AND tenant_id=$1";
  const char *v[3] = {id, name, desc};
  PGresult *r = NULL;
  int rc = pgs_ensure(s);
  if (rc || (rc = pgs_exec(s, NULL, sql, op == NC_NS_DELETE ? 1 : 3, v, NULL, &r, NULL)) != 0) {
    if (rc != NC_EUNAVAIL)
      nc_error("config store: namespace write: %s", s->err);
    return rc == NC_EUNAVAIL ? rc : NC_EDB;
  }
  const char *changed = PQcmdTuples(r);
  int any = changed && atoi(changed) > 0;
  PQclear(r);
  if (any)
    return 0;
  return op == NC_NS_CREATE ? NC_EEXISTS : NC_ENOTFOUND;
}
