/* webui: nacosd's web console on the main port under /nacos/ (the path
 * Nacos users open). The assets are the files of server/http/webui/,
 * built into the binary by webui_embed.cmake (the generated
 * webui_assets.c holds the bytes, a gzip copy, an ETag per file and the
 * route table below), so the console needs nothing from the internet.
 *
 *   GET /nacos                  302 to /nacos/
 *   GET /nacos/, /nacos/index.html   the app (index.html)
 *   GET /nacos/webui/<file>     an asset (CSS, JS, ...)
 *   GET /nacos/webui/env.json   {"auth":true|false,"version":"..."}: whether
 *                               the app shows its login form first
 *
 * Every route is open (NC_SHTTP_OPEN): the app logs in with
 * POST /nacos/v1/auth/login and sends the token on its API calls. Answers
 * carry Content-Type, an ETag (If-None-Match gets 304), Cache-Control
 * no-cache (revalidate, so an upgrade shows at once), gzip when the client
 * accepts it, and nosniff / frame / CSP headers. Loop thread only. */
#ifndef WEBUI_H
#define WEBUI_H

#include "nc_http.h"

#include <stddef.h>

/* One embedded file. The bytes are static and NUL-terminated past len. */
typedef struct nc_webui_asset {
  const char *name;  /* path under webui/, e.g. "app.js" */
  const char *ctype; /* Content-Type */
  const unsigned char *data;
  size_t len;
  const unsigned char *gz; /* the same, gzip-compressed */
  size_t gz_len;
  const char *etag;    /* quoted, e.g. "\"8b4b28e1...\"" */
  const char *etag_gz; /* the gzip copy's: "\"8b4b28e1...-gz\"" */
} nc_webui_asset;

extern const nc_webui_asset nc_webui_assets[];
extern const size_t nc_webui_n_assets;

/* The console's routes; their handlers take the server's nc_auth (may be
 * NULL: auth off) as ud. */
extern const nc_http_route nc_webui_routes[];
extern const size_t nc_webui_n_routes;

/* The asset of a request path (/nacos/ and /nacos/index.html give
 * index.html); NULL when there is none. */
const nc_webui_asset *nc_webui_find(const char *path);

/* The handlers the generated route table names. */
void nc_webui_h_asset(void *ud, nc_http_req *r);
void nc_webui_h_root(void *ud, nc_http_req *r);
void nc_webui_h_env(void *ud, nc_http_req *r);

#endif
