/* The PostgreSQL backend's group commit: a batch of writes in one
 * transaction, in three pipelined round trips whatever its size.
 *
 *   1. BEGIN; for each namespace a publish of the batch may grow past
 *      nc_cfg_write.ns_max_bytes, a transaction advisory lock on it and the
 *      sum of its contents (tenants in order, before any row lock); then
 *      SELECT ... FOR UPDATE of every key the batch touches, in key
 *      order (two nodes' batches lock in the same order: no deadlock).
 *   2. Decide each op here (CAS against the locked md5, or the md5 an
 *      earlier op of the batch wrote; the namespace's bytes against its
 *      bound, NC_ETOOBIG), then per op ONE statement: the
 *      upsert or delete, its history row and pg_notify (config_store_pg.c).
 *      History rows follow Nacos: 'I' keeps the new version, 'U' and 'D'
 *      the one replaced, copied inside the database (old contents never
 *      cross the wire). Trimming history to history_keep rows per key is
 *      not done here but by the change feed's poll, off the write path.
 *   3. COMMIT, or ROLLBACK and try again when step 2 found that another
 *      node created a key this batch thought new (the CAS and the history
 *      row would be wrong), or on a deadlock.
 * A data error in one op (e.g. bytes PostgreSQL refuses as text) would fail
 * the batch for everyone; such a batch is retried op by op, so only the bad
 * op fails. NOTIFY is delivered at commit, so peers never hear of a change
 * that rolled back. */
#include "config_pg.h"
#include "config_util.h"
#include "nc_err.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct key_state {
  const nc_cfg_write *first; /* an op with this key */
  int existed;
  char md5[33];
  int64_t created_ms;
  long long len; /* content bytes of the row (after the batch's ops so far) */
} key_state;

/* A namespace whose bytes the batch checks: its sum under the lock, moved
 * by each op decided. */
typedef struct ns_sum {
  const char *tenant;
  long long sum;
} ns_sum;

/* What a phase-2 statement was for. */
enum { K_UPSERT, K_DELETE };
typedef struct stmt_ref {
  size_t op;
  int kind;
  int expect_new; /* K_UPSERT: this batch believed the key absent */
} stmt_ref;

static const char *nz(const char *s) { return s ? s : ""; }

static int key_cmp(const nc_cfg_write *a, const nc_cfg_write *b) {
  int c = strcmp(a->data_id, b->data_id);
  if (!c)
    c = strcmp(a->group, b->group);
  if (!c)
    c = strcmp(nz(a->tenant), nz(b->tenant));
  return c;
}

static int ns_cmp(const void *a, const void *b) {
  return strcmp(((const ns_sum *)a)->tenant, ((const ns_sum *)b)->tenant);
}

static int ptr_cmp(const void *a, const void *b) {
  return key_cmp(*(const nc_cfg_write *const *)a, *(const nc_cfg_write *const *)b);
}

/* Reads n statement results and then the pipeline's sync. res[i] gets the
 * i-th statement's result (owned by the caller) when res is given. 0 when
 * all succeeded; NC_EDB with the first failure's SQLSTATE in state. */
static int read_pipeline(pg_store *s, size_t n, PGresult **res, int64_t deadline, char state[6]) {
  int rc = 0, failed = 0;
  for (size_t i = 0; i < n; i++) {
    PGresult *r, *first = NULL;
    while ((r = pgs_next(s, deadline, &rc)) != NULL) {
      if (!first)
        first = r;
      else
        PQclear(r);
    }
    if (rc)
      goto broken;
    ExecStatusType st = first ? PQresultStatus(first) : PGRES_FATAL_ERROR;
    if (!failed && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      failed = 1;
      pgs_state(first, state);
      pgs_set_err(s, first ? PQresultErrorMessage(first) : "no result");
    }
    if (res)
      res[i] = first;
    else
      PQclear(first);
  }
  PGresult *sync = pgs_next(s, deadline, &rc);
  if (rc)
    goto broken;
  int ok = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  if (!ok) {
    pgs_drop(s, "pipeline out of step");
    rc = NC_EDB;
    goto broken;
  }
  return failed ? NC_EDB : 0;
broken:
  if (res)
    for (size_t i = 0; i < n; i++) {
      PQclear(res[i]);
      res[i] = NULL;
    }
  return NC_EDB;
}

static int send_prepared(pg_store *s, const char *name, int n, const char *const *v) {
  if (PQsendQueryPrepared(s->conn, name, n, v, NULL, NULL, 0))
    return 0;
  pgs_drop(s, NULL);
  return NC_EDB;
}

static void clear_all(PGresult **r, size_t n) {
  for (size_t i = 0; i < n; i++)
    PQclear(r[i]);
}

/* The op's one statement of phase 2; refs records it. */
static int send_op(pg_store *s, nc_cfg_write *w, size_t i, int existed, stmt_ref *refs,
                   size_t *nref) {
  char rb[24];
  if (w->op == NC_CFG_REMOVE) {
    const char *v[5] = {w->data_id, w->group, nz(w->tenant), nz(w->src_user), nz(w->src_ip)};
    if (send_prepared(s, PGS_REMOVE, 5, v))
      return NC_EDB;
    refs[(*nref)++] = (stmt_ref){i, K_DELETE, 0};
    return 0;
  }
  snprintf(rb, sizeof(rb), "%lld", (long long)w->rollback_of);
  const char *v[11] = {w->data_id,       w->group,        nz(w->tenant),   nz(w->content),
                       nz(w->md5),       nz(w->src_user), nz(w->src_ip),   nz(w->app_name),
                       w->type && *w->type ? w->type : "text", nz(w->encrypted_data_key), rb};
  if (send_prepared(s, PGS_PUT, 11, v))
    return NC_EDB;
  refs[(*nref)++] = (stmt_ref){i, K_UPSERT, !existed};
  return 0;
}

typedef struct batch {
  nc_cfg_write **sorted;
  size_t *slot;      /* op index -> key slot */
  key_state *keys;
  size_t nkeys;
  ns_sum *ns; /* sorted by tenant */
  size_t nns;
  stmt_ref *refs;
  PGresult **res;
} batch;

static ns_sum *ns_of(batch *b, const char *tenant) {
  for (size_t k = 0; k < b->nns; k++)
    if (!strcmp(b->ns[k].tenant, nz(tenant)))
      return &b->ns[k];
  return NULL;
}

static void batch_free(batch *b) {
  free(b->sorted);
  free(b->slot);
  free(b->keys);
  free(b->ns);
  free(b->refs);
  free(b->res);
}

static int batch_init(batch *b, nc_cfg_write *ops, size_t n) {
  memset(b, 0, sizeof(*b));
  b->sorted = calloc(n, sizeof(*b->sorted));
  b->slot = calloc(n, sizeof(*b->slot));
  b->keys = calloc(n, sizeof(*b->keys));
  b->ns = calloc(n, sizeof(*b->ns));
  b->refs = calloc(n + 2, sizeof(*b->refs));
  b->res = calloc(3 * n + 2, sizeof(*b->res)); /* BEGIN, 2 per tenant, 1 per key */
  if (!b->sorted || !b->slot || !b->keys || !b->ns || !b->refs || !b->res)
    return NC_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    if (ops[i].op != NC_CFG_PUT || ops[i].ns_max_bytes <= 0)
      continue;
    size_t k = 0;
    while (k < b->nns && strcmp(b->ns[k].tenant, nz(ops[i].tenant)) != 0)
      k++;
    if (k == b->nns)
      b->ns[b->nns++].tenant = nz(ops[i].tenant);
  }
  qsort(b->ns, b->nns, sizeof(*b->ns), ns_cmp);
  for (size_t i = 0; i < n; i++)
    b->sorted[i] = &ops[i];
  qsort(b->sorted, n, sizeof(*b->sorted), ptr_cmp);
  for (size_t i = 0; i < n; i++) {
    if (!b->nkeys || key_cmp(b->keys[b->nkeys - 1].first, b->sorted[i]) != 0)
      b->keys[b->nkeys++].first = b->sorted[i];
    b->slot[b->sorted[i] - ops] = b->nkeys - 1;
  }
  return 0;
}

/* Ends the transaction after a failure (when the connection lives). */
static void abandon(pg_store *s) {
  if (!s->conn)
    return;
  if (PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF && !PQexitPipelineMode(s->conn)) {
    pgs_drop(s, "cannot leave pipeline mode");
    return;
  }
  pgs_exec(s, NULL, "ROLLBACK", 0, NULL, NULL, NULL, NULL);
}

/* One attempt. *retry is set when trying again may succeed. */
static int try_batch(pg_store *s, nc_cfg_write *ops, size_t n, int *retry, char state[6]) {
  int64_t deadline = pgs_mono_ms() + s->timeout_ms;
  batch b;
  int rc = batch_init(&b, ops, n);
  size_t nref = 0;
  int commit_sent = 0;
  *retry = 0;
  if (rc)
    goto out;
  rc = NC_EDB;
  if (!PQenterPipelineMode(s->conn)) {
    pgs_drop(s, "cannot enter pipeline mode");
    goto out;
  }
  /* phase 1: lock */
  if (!PQsendQueryParams(s->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) {
    pgs_drop(s, NULL);
    goto out;
  }
  /* Namespace bounds: the lock serialises the batches (of every node)
   * that may grow the namespace, so the sum read next stays true until
   * COMMIT. */
  for (size_t k = 0; k < b.nns; k++) {
    const char *t[1] = {b.ns[k].tenant};
    if (!PQsendQueryParams(s->conn,
                           "SELECT pg_advisory_xact_lock(hashtextextended("
                           "'nacos-c namespace bytes:' || $1, 0))",
                           1, NULL, t, NULL, NULL, 0) ||
        !PQsendQueryParams(s->conn,
                           "SELECT COALESCE(SUM(octet_length(content)), 0) FROM config_info "
                           "WHERE tenant_id = $1",
                           1, NULL, t, NULL, NULL, 0)) {
      pgs_drop(s, NULL);
      goto out;
    }
  }
  for (size_t k = 0; k < b.nkeys; k++) {
    const nc_cfg_write *w = b.keys[k].first;
    const char *key[3] = {w->data_id, w->group, nz(w->tenant)};
    if (send_prepared(s, PGS_LOCK, 3, key))
      goto out;
  }
  size_t nres = 1 + 2 * b.nns + b.nkeys;
  if (!PQpipelineSync(s->conn) || pgs_flush(s, deadline) ||
      read_pipeline(s, nres, b.res, deadline, state))
    goto fail;
  for (size_t k = 0; k < b.nns; k++) {
    PGresult *r = b.res[2 + 2 * k];
    b.ns[k].sum = PQntuples(r) > 0 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
  }
  for (size_t k = 0; k < b.nkeys; k++) {
    PGresult *r = b.res[1 + 2 * b.nns + k];
    if ((b.keys[k].existed = PQntuples(r) > 0)) {
      snprintf(b.keys[k].md5, sizeof(b.keys[k].md5), "%s", PQgetvalue(r, 0, 0));
      b.keys[k].created_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
      b.keys[k].len = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    }
  }
  clear_all(b.res, nres);
  memset(b.res, 0, nres * sizeof(*b.res));
  /* phase 2: decide and write, in submission order */
  for (size_t i = 0; i < n; i++) {
    nc_cfg_write *w = &ops[i];
    key_state *ks = &b.keys[b.slot[i]];
    w->existed = ks->existed;
    w->result = 0;
    if (w->op == NC_CFG_REMOVE && !ks->existed)
      continue; /* removing nothing succeeds and leaves no history */
    if (w->op == NC_CFG_PUT && w->cas_md5 && *w->cas_md5 && ks->existed &&
        strcmp(ks->md5, w->cas_md5) != 0) {
      w->result = NC_ECONFLICT;
      continue;
    }
    ns_sum *ns = ns_of(&b, w->tenant);
    long long now = w->op == NC_CFG_PUT ? (long long)w->content_len : 0;
    long long had = ks->existed ? ks->len : 0;
    if (w->op == NC_CFG_PUT && ns && w->ns_max_bytes > 0 && now > had &&
        ns->sum + (now - had) > w->ns_max_bytes) {
      w->result = NC_ETOOBIG;
      continue;
    }
    if (send_op(s, w, i, ks->existed, b.refs, &nref))
      goto out;
    if (ns)
      ns->sum += now - had;
    ks->len = now;
    ks->existed = w->op == NC_CFG_PUT;
    snprintf(ks->md5, sizeof(ks->md5), "%s", ks->existed ? nz(w->md5) : "");
  }
  if (!PQpipelineSync(s->conn) || pgs_flush(s, deadline) ||
      read_pipeline(s, nref, b.res, deadline, state))
    goto fail;
  for (size_t j = 0; j < nref; j++) {
    nc_cfg_write *w = &ops[b.refs[j].op];
    PGresult *r = b.res[j];
    if (b.refs[j].kind == K_UPSERT && PQntuples(r) > 0) {
      w->created_ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
      w->modified_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
      if (b.refs[j].expect_new && PQgetvalue(r, 0, 2)[0] == 't')
        *retry = 1; /* another node created the key meanwhile */
    } else if (b.refs[j].kind == K_DELETE && PQntuples(r) > 0) {
      w->modified_ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }
  }
  if (*retry)
    goto fail;
  /* phase 3 */
  if (!PQexitPipelineMode(s->conn)) {
    pgs_drop(s, "cannot leave pipeline mode");
    goto out;
  }
  commit_sent = 1;
  rc = pgs_exec(s, NULL, "COMMIT", 0, NULL, NULL, NULL, state);
  goto out;
fail:
  if (state[0] == '4' && state[1] == '0') /* 40001 serialization, 40P01 deadlock */
    *retry = 1;
  abandon(s);
  rc = NC_EDB;
out:
  if (rc && !commit_sent && !s->conn) /* broke before COMMIT: nothing was committed */
    *retry = 1;
  clear_all(b.res, b.res ? 3 * n + 2 : 0);
  batch_free(&b);
  if (rc && s->conn && PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF)
    abandon(s);
  return rc;
}

static void fail_all(nc_cfg_write *ops, size_t n, int code) {
  for (size_t i = 0; i < n; i++)
    ops[i].result = code;
}

int pg_apply(void *impl, nc_cfg_write *ops, size_t n) {
  pg_store *s = impl;
  char state[6] = "";
  int rc = pgs_ensure(s), retry = 0, reconnected = 0;
  if (rc) {
    fail_all(ops, n, NC_EUNAVAIL);
    return NC_EDB;
  }
  for (int attempt = 0; attempt < 4; attempt++) {
    state[0] = '\0';
    if ((rc = try_batch(s, ops, n, &retry, state)) == 0)
      return 0;
    /* The connection broke before COMMIT was sent (nothing can have been
     * committed): once, reconnect at once and run the batch again. */
    if (!s->conn && retry && !reconnected) {
      reconnected = 1;
      s->retry_at_ms = 0;
      if (pgs_ensure(s) == 0)
        continue;
    }
    if (!retry || !s->conn)
      break;
  }
  /* Class 22/23: one op's data; keep the others. */
  if (s->conn && n > 1 && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)) {
    nc_warn("config store: a batch of %zu writes was refused (%s, SQLSTATE %s); retrying them "
            "one by one",
            n, s->err, state);
    int any = 0;
    for (size_t i = 0; i < n; i++)
      if (pg_apply(s, &ops[i], 1) == 0)
        any = 1;
    return any ? 0 : NC_EDB;
  }
  nc_error("config store: PostgreSQL batch of %zu writes failed (%s%s%s)", n, s->err,
           state[0] ? ", SQLSTATE " : "", state);
  fail_all(ops, n, s->conn ? NC_EDB : NC_EUNAVAIL);
  return NC_EDB;
}
