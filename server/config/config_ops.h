/* config_ops: the config operations without any transport.
 *
 * The gRPC handlers (config_service.c, config_admin.c) are thin adapters
 * over these: they read the request body, call an operation and answer from
 * its result. The HTTP open API and cluster sync call the same operations,
 * so validation, limits, CAS, the commit log line and the change fan-out are
 * written once.
 *
 * Results are nc_err codes, the same for every caller; a transport maps them
 * to its own status (gRPC: NC_EINVAL -> errorCode 400, the others -> 500):
 *   NC_EINVAL    bad key, blank or oversized content, gray publish, bad page
 *   NC_ENOTFOUND get of a key that has no config; a history id it does not have
 *   NC_ECONFLICT CAS publish whose md5 no longer matches
 *   NC_EDB       the store transaction failed (nothing saved)
 *   NC_ECLOSED   the service is stopping (nc_config_stop ran)
 *   NC_ENOMEM
 * Messages are the ones SDK users see today (e.g. "content is blank").
 *
 * Tenants may be given raw ("", "public", "null" are the default namespace);
 * items and change notices carry the normalised tenant.
 *
 * Threading: loop thread only, like the rest of the service. */
#ifndef CONFIG_OPS_H
#define CONFIG_OPS_H

#include "config_service.h"
#include "config_store.h"

#include <stddef.h>

/* A size that fits every message of a synchronous operation. */
#define NC_CONFIG_ERR_CAP 200

typedef struct nc_config_key {
  const char *data_id, *group;
  const char *tenant; /* raw; NULL = default namespace */
} nc_config_key;

/* ---- get (synchronous, from the cache) ---- */

/* On 0, *out is the cached item, borrowed until control returns to the
 * loop (a later commit may replace it). NC_EINVAL (message in err) or
 * NC_ENOTFOUND ("config data not exist"). Counted as a query. */
int nc_config_get(nc_config_service *cs, const nc_config_key *key, const nc_cfg_item **out,
                  char *err, size_t cap);

/* ---- publish / remove (asynchronous, durable before done runs) ---- */

typedef struct nc_config_result {
  int code;            /* 0 or an nc_err code, see above */
  const char *message; /* NULL on success; borrowed for the call */
  int existed;         /* the key had a config before this write (0 on refusal) */
  const char *md5;     /* publish: md5 of the content; NULL otherwise */
} nc_config_result;

/* Called exactly once per publish/remove, on the loop thread: after the
 * commit, after a store failure or at shutdown; for a refusal found before
 * queueing (bad input, stopping) it runs before the call returns. The
 * result is borrowed for the call. */
typedef void (*nc_config_done_fn)(void *ud, const nc_config_result *res);

typedef struct nc_config_publish {
  nc_config_key key;
  const char *content;  /* required, not blank, at most max_content_bytes */
  const char *cas_md5;  /* NULL/"" = unconditional; else the md5 the stored config must have */
  const char *type;     /* content type; unknown or NULL = "text" */
  const char *app_name, *src_user, *src_ip, *encrypted_data_key; /* NULL = "" */
  /* Gray releases are refused (they would need rule evaluation on every
   * read): a non-blank tag or beta_ips gives NC_EINVAL. */
  const char *tag, *beta_ips;
  const char *origin;   /* who asked, for the commit log line ("conn <origin>"); NULL = "-" */
  int64_t rollback_of;  /* the history id this publish restores (0 = none); recorded in history */
} nc_config_publish;

/* Every string of p is copied before the call returns. */
void nc_config_publish_op(nc_config_service *cs, const nc_config_publish *p, nc_config_done_fn done,
                          void *ud);

typedef struct nc_config_remove {
  nc_config_key key;
  const char *app_name, *src_user, *src_ip; /* for history; NULL = "" */
  const char *origin;
} nc_config_remove;

/* Removing a missing key succeeds with existed = 0 (and notifies nobody). */
void nc_config_remove_op(nc_config_service *cs, const nc_config_remove *r, nc_config_done_fn done,
                         void *ud);

/* Cluster sync: another node changed key in the shared store. Re-reads it
 * on the writer thread (after the writes queued before), refreshes the
 * cache, and when its md5 differs from the cached one, or it appeared or
 * vanished, notifies every change listener. done: code 0 (NC_EINVAL,
 * NC_EDB, NC_ECLOSED, NC_ENOMEM otherwise), existed = the key is in the
 * store now, md5 = its md5 (NULL when absent). */
void nc_config_reload(nc_config_service *cs, const nc_config_key *key, nc_config_done_fn done,
                      void *ud);

/* ---- list (synchronous, from the cache) ---- */

#define NC_CONFIG_LIST_MAX_PAGE 1000

typedef struct nc_config_list_query {
  const char *tenant;  /* raw; NULL = default namespace */
  const char *group;   /* NULL/"" = every group */
  const char *data_id; /* glob of name characters and '*'; NULL/"" = all */
  long long page_no;   /* >= 1 */
  long long page_size; /* 1..NC_CONFIG_LIST_MAX_PAGE */
} nc_config_list_query;

typedef struct nc_config_list_page {
  const nc_cfg_item **items; /* this page, by group then dataId; borrowed like get's */
  size_t n;
  size_t total;       /* matches over all pages */
  long long page_no;  /* as asked */
  size_t pages;       /* pages available */
} nc_config_list_page;

/* On 0 fills *out (free with nc_config_list_page_free). NC_EINVAL with a
 * message in err, or NC_ENOMEM. */
int nc_config_list(nc_config_service *cs, const nc_config_list_query *q, nc_config_list_page *out,
                   char *err, size_t cap);
void nc_config_list_page_free(nc_config_list_page *p);

/* ---- history (asynchronous: read on the writer thread) ---- */

#define NC_CONFIG_HISTORY_MAX 1000

/* rows newest first, borrowed for the call (n = 0 when code != 0). Runs
 * after every write queued before the request, so a history read right
 * after an acknowledged publish shows it. Called exactly once; a refusal
 * (NC_EINVAL, NC_ECLOSED) runs it before nc_config_history returns. */
typedef void (*nc_config_history_fn)(void *ud, int code, const char *message,
                                     const nc_cfg_hist *rows, size_t n);

/* max: 1..NC_CONFIG_HISTORY_MAX rows. */
void nc_config_history(nc_config_service *cs, const nc_config_key *key, long long max,
                       nc_config_history_fn fn, void *ud);

/* One version with its content (row->content NULL for a row recorded
 * before content was kept). row borrowed for the call, NULL when code != 0:
 * NC_EINVAL (bad key, id < 1), NC_ENOTFOUND (no such id, or it is another
 * key's), NC_EDB, NC_ECLOSED, NC_ENOMEM. Ordered and called like
 * nc_config_history's fn. */
typedef void (*nc_config_history_get_fn)(void *ud, int code, const char *message,
                                         const nc_cfg_hist *row);
void nc_config_history_get(nc_config_service *cs, const nc_config_key *key, int64_t id,
                           nc_config_history_get_fn fn, void *ud);

/* ---- rollback (history read on the writer thread, then a publish) ---- */

typedef struct nc_config_rollback_req {
  nc_config_key key;
  int64_t id;                               /* the history row to restore */
  const char *app_name, *src_user, *src_ip; /* of the publish; NULL = "" */
  const char *origin;                       /* as in nc_config_publish */
} nc_config_rollback_req;

/* Publishes history row id's content (with its type) through the normal
 * publish path, recorded with rollback_of = id: a 'U' row undoes its
 * update, a 'D' row re-creates the removed config, an 'I' row restores the
 * first version. done runs once like a publish's (md5 = the restored
 * content's); besides the publish's codes: NC_ENOTFOUND (unknown id or
 * another key's row), NC_EINVAL (id < 1, or a row whose content was not
 * recorded). Strings of r are copied before the call returns. */
void nc_config_rollback(nc_config_service *cs, const nc_config_rollback_req *r,
                        nc_config_done_fn done, void *ud);

/* ---- change listeners ---- */

/* A committed change: md5 is the new content's, or NULL when the key was
 * removed. Strings borrowed for the call; tenant normalised. */
typedef void (*nc_config_listener_fn)(void *ud, const char *data_id, const char *group,
                                      const char *tenant, const char *md5);

/* Every committed publish, and every remove of an existing key, calls every
 * listener in registration order, after the writer's own completion ran.
 * The gRPC listen registry is the first listener (added at init). A
 * listener must not add or remove listeners from inside the call.
 * Returns 0 or NC_ENOMEM. */
int nc_config_add_listener(nc_config_service *cs, nc_config_listener_fn fn, void *ud);
/* Removes the first registration of (fn, ud); 1 when found, else 0. */
int nc_config_remove_listener(nc_config_service *cs, nc_config_listener_fn fn, void *ud);

/* ---- listeners (who listens, for the HTTP listener queries) ---- */

/* One gRPC listen registration: ip is the listening connection's client
 * ip (Metadata.clientIp, else its remote address), md5 the one the client
 * last reported. Strings borrowed for the call. */
typedef void (*nc_config_listener_visit_fn)(void *ud, const char *ip, const char *data_id,
                                            const char *group, const char *tenant,
                                            const char *md5);
/* Calls fn for every registration of key (tenant raw), or of every key
 * when key is NULL. NC_EINVAL for a bad key, else 0. */
int nc_config_listeners_foreach(nc_config_service *cs, const nc_config_key *key,
                                nc_config_listener_visit_fn fn, void *ud);

/* ---- cluster sync ---- */

/* A write committed by THIS node (not a change re-read from the store):
 * modified_ms is the store's time of it. Runs after the change listeners.
 * Cluster sync tells the peers from here. Strings borrowed; tenant
 * normalised. */
typedef void (*nc_config_commit_fn)(void *ud, const char *data_id, const char *group,
                                    const char *tenant, int64_t modified_ms);
/* One hook (the cluster's); NULL fn clears it. */
void nc_config_set_commit_hook(nc_config_service *cs, nc_config_commit_fn fn, void *ud);

/* Another node says key changed at modified_ms (the store's time; 0 =
 * unknown): unless the cache already holds a change at least that recent,
 * re-reads the key (nc_config_reload), which notifies the listeners when
 * it differs. 1 when a re-read was queued, 0 when the cache is current,
 * NC_EINVAL for a bad key. */
int nc_config_changed_elsewhere(nc_config_service *cs, const nc_config_key *key,
                                int64_t modified_ms);

#endif
