/* naming_health_int: one TCP or HTTP check (naming_health_probe.c), for
 * naming_health.c. Not for other modules. Loop thread only. */
#ifndef NAMING_HEALTH_INT_H
#define NAMING_HEALTH_INT_H

#include "naming_health.h"

/* How a check ended, as Nacos's processors weigh it. */
typedef enum {
  NHP_OK = 0,   /* connected / the expected HTTP code */
  NHP_FAIL,     /* a failure counted toward checkTimes; rt = the type's max */
  NHP_SLOW,     /* timeout, HTTP 503/302: a counted failure; rt = 2 x normalized */
  NHP_FAIL_NOW, /* refused / an unexpected HTTP code: unhealthy at once; rt = max */
} nhp_result;

typedef struct nhp nhp;
/* Runs once unless cancelled; msg is valid for the call. */
typedef void (*nhp_done_fn)(void *ud, nhp_result res, uint64_t rt_ms, const char *msg);

/* Starts a check of ip:port with c (TCP or HTTP). 0 (fn will run), or an
 * NC_E* (fn will not run; e.g. NC_EINVAL for an ip that is not an
 * address). */
int nhp_start(uv_loop_t *loop, const char *ip, int port, const nc_nhealth_checker *c,
              int connect_timeout_ms, int http_timeout_ms, nhp_done_fn fn, void *ud,
              nhp **out);
/* Stops it without calling fn; p is freed once its handles closed. */
void nhp_cancel(nhp *p);

#endif
