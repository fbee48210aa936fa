/* naming_pstore_db: see naming_pstore_db.h. The backend-independent half:
 * dispatch, namespace normalisation and rows. */
#include "naming_pstore_db.h"

#include "nc_err.h"

#include <stdlib.h>
#include <string.h>

struct nc_npdb {
  const nc_npdb_vt *vt;
  void *impl;
};

/* "" and "public" are one namespace, stored as "public". */
static const char *norm_ns(const char *ns) { return ns && *ns ? ns : "public"; }

void nc_nprow_free(nc_nprow *rows, size_t n) {
  if (!rows)
    return;
  for (size_t i = 0; i < n; i++) {
    free(rows[i].ns);
    free(rows[i].group);
    free(rows[i].name);
    free(rows[i].ip);
    free(rows[i].inst);
  }
  free(rows);
}

nc_nprow *nc_nprow_push(nc_nprow **rows, size_t *n, size_t *cap) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    nc_nprow *v = realloc(*rows, nc * sizeof(*v));
    if (!v)
      return NULL;
    *rows = v;
    *cap = nc;
  }
  nc_nprow *r = &(*rows)[(*n)++];
  memset(r, 0, sizeof(*r));
  return r;
}

int nc_npdb_open(const nc_npdb_opts *o, nc_npdb **out) {
  const nc_npdb_vt *vt = !o->backend || !strcmp(o->backend, "sqlite") ? &nc_npdb_sqlite
                         : !strcmp(o->backend, "postgresql")          ? &nc_npdb_pg
                                                                      : NULL;
  if (!vt)
    return NC_EINVAL;
  nc_npdb *db = calloc(1, sizeof(*db));
  if (!db)
    return NC_ENOMEM;
  db->vt = vt;
  int rc = vt->open(o, &db->impl);
  if (rc) {
    free(db);
    return rc;
  }
  *out = db;
  return 0;
}

void nc_npdb_close(nc_npdb *db) {
  if (!db)
    return;
  db->vt->close(db->impl);
  free(db);
}

const char *nc_npdb_backend(const nc_npdb *db) { return db->vt->name; }

int nc_npdb_load(nc_npdb *db, const char *ns, const char *group, const char *name,
                 nc_nprow **rows, size_t *n) {
  *rows = NULL;
  *n = 0;
  if (name && (!group || !*group))
    return NC_EINVAL;
  return db->vt->load(db->impl, name ? norm_ns(ns) : NULL, group, name, rows, n);
}

int nc_npdb_put(nc_npdb *db, const nc_nprow *row) {
  if (!row->group || !row->name || !row->ip || !row->inst || !*row->name || !*row->ip)
    return NC_EINVAL;
  nc_nprow r = *row;
  r.ns = (char *)norm_ns(row->ns);
  return db->vt->put(db->impl, &r);
}

int nc_npdb_del(nc_npdb *db, const char *ns, const char *group, const char *name,
                const char *ip, int port, int *existed) {
  int e = 0;
  int rc = db->vt->del(db->impl, norm_ns(ns), group, name, ip, port, &e);
  if (existed)
    *existed = e;
  return rc;
}

int nc_npdb_set_health(nc_npdb *db, const char *ns, const char *group, const char *name,
                       const char *ip, int port, int healthy, int64_t ts_ms, int *existed) {
  int e = 0;
  int rc = db->vt->set_health(db->impl, norm_ns(ns), group, name, ip, port, healthy ? 1 : 0,
                              ts_ms, &e);
  if (existed)
    *existed = e;
  return rc;
}

void nc_npchk_free(nc_npchk *v, size_t n) {
  if (!v)
    return;
  for (size_t i = 0; i < n; i++) {
    free(v[i].ns);
    free(v[i].group);
    free(v[i].name);
    free(v[i].cluster);
    free(v[i].json);
  }
  free(v);
}

nc_npchk *nc_npchk_push(nc_npchk **v, size_t *n, size_t *cap) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    nc_npchk *nv = realloc(*v, nc * sizeof(*nv));
    if (!nv)
      return NULL;
    *v = nv;
    *cap = nc;
  }
  nc_npchk *c = &(*v)[(*n)++];
  memset(c, 0, sizeof(*c));
  return c;
}

int nc_npdb_load_checkers(nc_npdb *db, nc_npchk **out, size_t *n) {
  *out = NULL;
  *n = 0;
  return db->vt->load_checkers(db->impl, out, n);
}

int nc_npdb_put_checker(nc_npdb *db, const nc_npchk *c, int64_t ts_ms) {
  if (!c->group || !c->name || !c->cluster || !c->json || !*c->name || !*c->cluster)
    return NC_EINVAL;
  nc_npchk k = *c;
  k.ns = (char *)norm_ns(c->ns);
  return db->vt->put_checker(db->impl, &k, ts_ms);
}
