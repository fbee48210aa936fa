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

/* config_routes_listen.c */
int nc_crt_listen_init(nc_croutes *cr, uv_loop_t *loop);
/* Frees the polls still held (their requests are not touched: the server
 * answered them when it stopped) and closes the timer; cr is freed by the
 * timer's close callback (run the loop afterwards). */
void nc_crt_listen_close(nc_croutes *cr);
void nc_crt_listener(void *ud, nc_http_req *r);

#endif
