/* nc_upm: reads a nacosd's member list over HTTP, for the upstream's
 * choice of server (upstream_pick.h).
 *
 * One blocking HTTP/1.1 GET /nacos/v1/core/cluster/nodes to a server's main
 * port with "Connection: close", bounded by a deadline over connect, send
 * and read; the JSON body's `data` array is returned. A standalone nacosd
 * (no such route) or any failure gives an error, and the caller keeps what
 * it knew. Called on the upstream thread (never on the loop). */
#ifndef NC_UPSTREAM_MEMBERS_H
#define NC_UPSTREAM_MEMBERS_H

#include <cjson/cJSON.h>

/* 0 and *members (a cJSON array, caller frees), or NC_E*. token (may be
 * NULL) goes as the accessToken header (nacosd --auth on); tls (may be
 * NULL) makes it HTTPS (http1.h). */
struct nc_tls_cli;
int nc_upm_fetch(const struct nc_tls_cli *tls, const char *host, int port, const char *token,
                 int timeout_ms, cJSON **members);

#endif
