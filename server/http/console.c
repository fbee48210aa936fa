/* console: see console.h. */
#include "console.h"

#include "nc_err.h"
#include "srv_http.h"
#include "srv_rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT "text/plain"

static void reply_text(nc_http_req *r, int code, const char *s) {
  nc_http_reply(r, code, TEXT, s, strlen(s));
}

/* Optional redirectAddress: 0 ok (*out NULL when absent/blank), -1 bad. */
static int get_redirect(nc_http_req *r, const char **out) {
  char ip[256];
  int port;
  const char *v = nc_http_param(r, "redirectAddress");
  *out = NULL;
  if (!v || !*v)
    return 0;
  if (nc_srv_parse_redirect(v, ip, sizeof(ip), &port) != 0)
    return -1;
  *out = v;
  return 0;
}

static void h_current(void *ud, nc_http_req *r) {
  char *s = nc_srv_loader_current(ud);
  if (!s) {
    reply_text(r, 500, "out of memory\n");
    return;
  }
  nc_http_reply(r, 200, "application/json", s, strlen(s));
  free(s);
}

static int valid_id(const char *s) {
  for (; *s; s++)
    if (*s == '%' || (unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
      return 0;
  return 1;
}

static void h_reload_client(void *ud, nc_http_req *r) {
  const char *id = nc_http_param(r, "connectionId");
  const char *redirect = NULL;
  char msg[128];
  if (!id || !*id) {
    reply_text(r, 400, "missing required parameter 'connectionId'\n");
    return;
  }
  /* Ids are "<millis>_<ip>_<port>": a '%' left over from an invalid
   * escape, a space or a control character make a malformed parameter,
   * not an unknown id. */
  if (!valid_id(id)) {
    reply_text(r, 400, "malformed parameter 'connectionId'\n");
    return;
  }
  if (get_redirect(r, &redirect) != 0) {
    reply_text(r, 400, "parameter 'redirectAddress' must be ip:port\n");
    return;
  }
  int rc = nc_srv_reload_client(ud, id, redirect);
  if (rc == NC_ENOTFOUND) {
    reply_text(r, 404, "connection not found\n");
    return;
  }
  if (rc) {
    snprintf(msg, sizeof(msg), "could not send ConnectResetRequest: %s\n", nc_strerror(rc));
    reply_text(r, 500, msg);
    return;
  }
  reply_text(r, 200, "success");
}

static void h_reload_current(void *ud, nc_http_req *r) {
  const char *v = nc_http_param(r, "count");
  const char *redirect = NULL;
  char *end = NULL;
  long n = v && *v ? strtol(v, &end, 10) : -1;
  if (!v || !*v || *end || n < 0 || n > 100000000) {
    reply_text(r, 400, !v ? "missing required parameter 'count'\n"
                          : "parameter 'count' must be a non-negative integer\n");
    return;
  }
  if (get_redirect(r, &redirect) != 0) {
    reply_text(r, 400, "parameter 'redirectAddress' must be ip:port\n");
    return;
  }
  if (nc_srv_reload_current(ud, n, redirect) != 0) {
    reply_text(r, 500, "out of memory\n");
    return;
  }
  reply_text(r, 200, "success");
}

#define P "/nacos/v2/core/loader/"
const nc_http_route nc_console_routes[] = {
    {P "current", NC_HTTP_GET, h_current, 0},
    /* they move SDK clients: an admin's, and only to a member */
    {P "reloadClient", NC_HTTP_GET, h_reload_client, NC_SHTTP_ADMIN | NC_SHTTP_REDIRECT},
    {P "reloadCurrent", NC_HTTP_GET, h_reload_current, NC_SHTTP_ADMIN | NC_SHTTP_REDIRECT},
};
const size_t nc_console_n_routes = sizeof(nc_console_routes) / sizeof(nc_console_routes[0]);
