/* config_routes_int: what config_routes.c (get/publish/remove) and
 * config_routes_listen.c (the v1 long-poll listener) share. Not for other
 * modules. Loop thread only. */
#ifndef CONFIG_ROUTES_INT_H
#define CONFIG_ROUTES_INT_H

#include "config_routes.h"

#include <uv.h>

typedef struct nc_lpoll nc_lpoll;

struct nc_croutes {
  nc_config_service *cs;
  nc_auth *auth;
  uv_timer_t timer;       /* fires at the earliest held poll's deadline */
  nc_lpoll *head, *tail;  /* held polls, by deadline (earliest first) */
  size_t held;            /* polls held now */
  uint64_t answered_changed, answered_timeout;
  int listening;          /* registered as a config change listener */
};

/* With auth on: may the caller do action on the key? 1, or 0 with *why
 * set (Nacos's 403 text; nothing answered). */
int nc_crt_allowed(nc_croutes *cr, nc_http_req *r, const nc_config_key *k, char action,
                   const char **why);

/* The three parameter dialects of a config key: v1 dataId/group/tenant,
 * v2 dataId/group/namespaceId, v3 dataId/groupName/namespaceId (v2 and v3
 * answer in the Result envelope). */
enum { NC_CRT_V1 = 0, NC_CRT_V2 = 1, NC_CRT_V3 = 2 };

/* The key of a request in dialect api: dataId and group(Name) required
 * (absent: 400 / 10000 "Required parameter 'X' type String is not
 * present"), the namespace optional. 0, or -1 answered. Strings borrowed
 * from r. */
int nc_crt_parse_key(nc_http_req *r, int api, nc_config_key *k);
/* The namespace parameter of dialect api (NULL when absent). */
const char *nc_crt_ns_param(nc_http_req *r, int api);
/* nc_crt_allowed without the log line (for filtering lists). */
int nc_crt_may(nc_croutes *cr, nc_http_req *r, const nc_config_key *k, char action);
/* With auth on: may the caller do action on the key? 1, or 0 answered 403. */
int nc_crt_permitted(nc_croutes *cr, nc_http_req *r, const nc_config_key *k, char action);
/* ms since the epoch as Spring's Jackson writes a Timestamp:
 * "2024-05-01T08:00:00.123+00:00" (UTC). buf of at least 32 bytes. */
void nc_crt_iso_time(int64_t ms, char *buf, size_t cap);
/* The namespace as an answer names it: v1/v2 the 2.x form ("" for the
 * default), v3 the 3.x form ("public"). t normalised. */
const char *nc_crt_ns_out(int api, const char *t);
/* "1.2.3.4:80" or "[::1]:80" (nc_http_peer) -> the address alone, into
 * buf (80 bytes fit any); returns buf. Nacos records a writer's srcIp
 * without its port. */
const char *nc_crt_ip_of(const char *peer, char *buf, size_t cap);
/* A positive integer parameter: def when absent; 0, or -1 answered 400
 * (v3's "Required parameter 'X' should be positive integer" wording). */
int nc_crt_pos_param(nc_http_req *r, int api, const char *name, long long def, long long *out);

/* config_routes_hist.c: history (v1, v2, v3 admin) and the rollback
 * extension; route handlers, ud an nc_croutes */
void nc_crt_h_hist_v1(void *ud, nc_http_req *r); /* search=accurate list, or nid */
void nc_crt_h_prev_v1(void *ud, nc_http_req *r);
void nc_crt_h_configs_v1(void *ud, nc_http_req *r);
void nc_crt_h_rollback_v1(void *ud, nc_http_req *r);
void nc_crt_h_get_v2(void *ud, nc_http_req *r);
void nc_crt_h_list_v2(void *ud, nc_http_req *r);
void nc_crt_h_prev_v2(void *ud, nc_http_req *r);
void nc_crt_h_configs_v2(void *ud, nc_http_req *r);
void nc_crt_h_rollback_v2(void *ud, nc_http_req *r);
void nc_crt_h_get_v3(void *ud, nc_http_req *r);
void nc_crt_h_list_v3(void *ud, nc_http_req *r);
void nc_crt_h_prev_v3(void *ud, nc_http_req *r);
void nc_crt_h_configs_v3(void *ud, nc_http_req *r);
void nc_crt_h_rollback_v3(void *ud, nc_http_req *r);
/* config_routes_hdetail.c: GET /v2/cs/history/detail (before / after of one change) */
void nc_crt_h_detail_v2(void *ud, nc_http_req *r);

/* config_routes_search.c: search, detail, the v3 config reads */
/* GET /nacos/v1/cs/configs with search= or show=all: 1 when it answered,
 * 0 for a plain get. */
int nc_crt_v1_get_extra(nc_croutes *cr, nc_http_req *r);
void nc_crt_v3_detail(nc_croutes *cr, nc_http_req *r); /* GET /v3/admin/cs/config */
void nc_crt_v3_list(void *ud, nc_http_req *r);         /* GET /v3/admin/cs/config/list */
void nc_crt_v3_client_get(void *ud, nc_http_req *r);   /* GET /v3/client/cs/config */
/* Every config of namespace t (normalised or raw) the caller may read,
 * by group then dataId, into a malloc'ed array of cache items (borrowed
 * like nc_config_get's) the caller frees. 0 or NC_ENOMEM/NC_EINVAL. */
int nc_crt_ns_items(nc_croutes *cr, nc_http_req *r, const char *t, const nc_cfg_item ***out,
                    size_t *n);

/* config_routes_listen.c */
int nc_crt_listen_init(nc_croutes *cr, uv_loop_t *loop);
/* Frees the polls still held (their requests are not touched: the server
 * answered them when it stopped) and closes the timer; cr is freed by the
 * timer's close callback (run the loop afterwards). */
void nc_crt_listen_close(nc_croutes *cr);
void nc_crt_listener(void *ud, nc_http_req *r);
/* Every key of every held poll (or those of group key gk when not NULL):
 * peer the poll's "ip:port", the key as the client wrote it, md5 the one
 * it sent. Borrowed for the call. */
typedef void (*nc_crt_held_fn)(void *ud, const char *peer, const char *data_id,
                               const char *group, const char *tenant, const char *md5);
void nc_crt_held_foreach(nc_croutes *cr, const char *gk, nc_crt_held_fn fn, void *ud);

/* config_routes_lquery.c: who listens (gRPC and long-poll listeners) */
void nc_crt_h_listener_v1(void *ud, nc_http_req *r);    /* GET|POST /v1/cs/configs/listener */
void nc_crt_h_listener_ip_v1(void *ud, nc_http_req *r); /* GET /v1/cs/listener */
void nc_crt_h_listener_v3(void *ud, nc_http_req *r);    /* GET /v3/admin/cs/config/listener */
void nc_crt_h_listener_ip_v3(void *ud, nc_http_req *r); /* GET /v3/admin/cs/listener */

#endif
