/* webui: see webui.h. */
#include "webui.h"

#include "nc_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PREFIX "/nacos/webui/"

/* The app runs only its own scripts and styles, in no frame. */
#define CSP "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

const nc_webui_asset *nc_webui_find(const char *path) {
  const char *name = NULL;
  if (!strcmp(path, "/nacos/") || !strcmp(path, "/nacos/index.html"))
    name = "index.html";
  else if (!strncmp(path, PREFIX, strlen(PREFIX)))
    name = path + strlen(PREFIX);
  for (size_t i = 0; name && i < nc_webui_n_assets; i++)
    if (!strcmp(nc_webui_assets[i].name, name))
      return &nc_webui_assets[i];
  return NULL;
}

/* 1 when the Accept-Encoding header lists gzip (or *) with q > 0. */
static int accepts_gzip(nc_http_req *r) {
  const char *v = nc_http_header(r, "Accept-Encoding");
  while (v && *v) {
    v += strspn(v, " ,");
    size_t n = strcspn(v, " ;,");
    int hit = (n == 4 && !strncasecmp(v, "gzip", 4)) || (n == 1 && *v == '*');
    const char *end = v + strcspn(v, ",");
    const char *q = strstr(v, "q=");
    if (hit)
      return !(q && q < end && strtod(q + 2, NULL) <= 0.0);
    v = end;
  }
  return 0;
}

static void common_headers(nc_http_req *r) {
  nc_http_add_header(r, "Cache-Control", "no-cache");
  nc_http_add_header(r, "X-Content-Type-Options", "nosniff");
  nc_http_add_header(r, "X-Frame-Options", "DENY");
  nc_http_add_header(r, "Referrer-Policy", "same-origin");
  nc_http_add_header(r, "Content-Security-Policy", CSP);
}

void nc_webui_h_asset(void *ud, nc_http_req *r) {
  (void)ud;
  const nc_webui_asset *a = nc_webui_find(nc_http_path(r));
  if (!a) {
    nc_http_reply_error(r, 404, "not found");
    return;
  }
  int gz = a->gz_len < a->len && accepts_gzip(r);
  const char *etag = gz ? a->etag_gz : a->etag;
  common_headers(r);
  nc_http_add_header(r, "ETag", etag);
  nc_http_add_header(r, "Vary", "Accept-Encoding");
  const char *inm = nc_http_header(r, "If-None-Match");
  if (inm && (strstr(inm, etag) || !strcmp(inm, "*"))) {
    nc_http_reply(r, 304, a->ctype, NULL, 0);
    return;
  }
  if (gz) {
    nc_http_add_header(r, "Content-Encoding", "gzip");
    nc_http_reply(r, 200, a->ctype, (const char *)a->gz, a->gz_len);
    return;
  }
  nc_http_reply(r, 200, a->ctype, (const char *)a->data, a->len);
}

void nc_webui_h_root(void *ud, nc_http_req *r) {
  (void)ud;
  static const char body[] = "<a href=\"/nacos/\">/nacos/</a>\n";
  nc_http_add_header(r, "Location", "/nacos/");
  nc_http_reply(r, 302, "text/html; charset=utf-8", body, sizeof(body) - 1);
}

void nc_webui_h_env(void *ud, nc_http_req *r) {
  char body[128];
  int n = snprintf(body, sizeof(body), "{\"auth\":%s,\"version\":\"%s\"}",
                   nc_auth_enabled(ud) ? "true" : "false", NC_VERSION);
  nc_http_add_header(r, "Cache-Control", "no-store");
  nc_http_add_header(r, "X-Content-Type-Options", "nosniff");
  nc_http_reply(r, 200, "application/json", body, (size_t)n);
}
