/* config_listen: who listens to which config, and the change notifier
 * (nacos-wire-protocol.md §5.14, §6.5).
 *
 * A registration is (connection, groupKey) with the client's own dataId,
 * group and tenant strings, which are echoed in ConfigChangeNotifyRequest.
 * Each registration carries its own delivery state, so memory stays bounded
 * however often a key changes:
 *
 *   IDLE --change--> SENT --ack/nack--> IDLE (or SENT again if a newer change
 *   arrived meanwhile) ; SENT --timeout/busy--> WAIT --due--> SENT ...
 *   after max_retries attempts the connection is dropped.
 *
 * Any answer carrying the push's requestId counts as delivered, whatever its
 * type or resultCode (the Go SDK acks config pushes with success:false).
 * Back-off before attempt n+1 is n x retry_base_ms, as Nacos's
 * RpcConfigChangeNotifier does.
 *
 * Loop thread only. Pushes and connection drops go through nc_cfg_push_ops,
 * so tests can drive the registry without a server. */
#ifndef CONFIG_LISTEN_H
#define CONFIG_LISTEN_H

#include "srv_rpc.h"

#include <stddef.h>
#include <uv.h>

typedef struct nc_cfg_push_ops {
  /* Same contract as nc_srv_push_raw: json borrowed (a JSON object without
   * requestId); 0 = cb will run once. */
  int (*push)(void *ud, const char *conn_id, const char *type, const char *json, size_t len,
              int timeout_ms, nc_push_cb cb, void *cb_ud);
  void (*drop_conn)(void *ud, const char *conn_id, const char *why);
  void *ud;
} nc_cfg_push_ops;

typedef struct nc_cfg_listen_opts {
  int timeout_ms;    /* per push; 0 = 3000 */
  int max_retries;   /* attempts before dropping the connection; 0 = 50 */
  int retry_base_ms; /* 0 = 2000 */
} nc_cfg_listen_opts;

typedef struct nc_cfg_listen nc_cfg_listen;

typedef struct nc_cfg_listen_stats {
  uint64_t sent, acked, retried, dropped_conns, superseded;
} nc_cfg_listen_stats;

/* ops and opts are copied. */
int nc_cfg_listen_new(uv_loop_t *loop, const nc_cfg_push_ops *ops, const nc_cfg_listen_opts *opts,
                      nc_cfg_listen **out);
/* Frees every registration. Pushes still in flight keep a small tombstone
 * that their callback frees; call this only after the server core stopped
 * (it runs every outstanding callback with NC_PUSH_GONE) or accept that the
 * tombstones are freed here and late callbacks must not come. Run the loop
 * once afterwards (timer close). */
void nc_cfg_listen_free(nc_cfg_listen *l);

/* Adds or refreshes the (conn_id, group_key) registration; strings copied
 * (md5 may be NULL). Returns 0 or NC_ENOMEM (state unchanged). */
int nc_cfg_listen_add(nc_cfg_listen *l, const char *conn_id, const char *group_key,
                      const char *data_id, const char *group, const char *tenant,
                      const char *md5);
/* Returns 1 when a registration was removed, 0 when there was none. */
int nc_cfg_listen_remove(nc_cfg_listen *l, const char *conn_id, const char *group_key);
/* Drops every registration and pending notify of the connection. */
void nc_cfg_listen_drop_conn(nc_cfg_listen *l, const char *conn_id);
/* Notifies every listener of group_key (see the state machine above). */
void nc_cfg_listen_changed(nc_cfg_listen *l, const char *group_key);

size_t nc_cfg_listen_count(const nc_cfg_listen *l);
size_t nc_cfg_listen_key_count(const nc_cfg_listen *l, const char *group_key);
size_t nc_cfg_listen_conn_count(const nc_cfg_listen *l, const char *conn_id);
/* 1 when conn_id listens to group_key. */
int nc_cfg_listen_has(const nc_cfg_listen *l, const char *conn_id, const char *group_key);
const nc_cfg_listen_stats *nc_cfg_listen_get_stats(const nc_cfg_listen *l);

/* A registration as the client made it (md5: the one it last told). */
typedef void (*nc_cfg_listen_visit_fn)(void *ud, const char *conn_id, const char *data_id,
                                       const char *group, const char *tenant, const char *md5);
/* Calls fn for every registration of group_key, or of every key when
 * group_key is NULL (for the listener queries of the HTTP API). Strings
 * borrowed for the call; fn must not change the registry. */
void nc_cfg_listen_foreach(const nc_cfg_listen *l, const char *group_key,
                           nc_cfg_listen_visit_fn fn, void *ud);

#endif
