/* srv_http: nacosd's one HTTP/1.1 server on the main port (nc_http on the
 * loop). It serves GET /metrics and GET /health itself and dispatches every
 * other request over the route tables of the modules above the core (the
 * loader console today; the open API, login and the web console later):
 * 404 for an unknown path, 405 for a known path with another method.
 * Loop thread only. */
#ifndef SRV_HTTP_H
#define SRV_HTTP_H

#include "cluster.h"
#include "nc_http.h"
#include "nc_metrics.h"
#include "srv_rpc.h"

#include <stddef.h>

typedef struct nc_shttp nc_shttp;
typedef struct nc_auth nc_auth;

/* nc_http_route.flags of nacosd's routes. With auth on, a route without
 * NC_SHTTP_OPEN needs a valid token (403 with Nacos's message otherwise),
 * one with NC_SHTTP_ADMIN a global admin's. NC_SHTTP_REDIRECT: a
 * redirectAddress parameter must name a cluster member (403 otherwise).
 * NC_SHTTP_DELAY_ERRORS: such a 403 is answered only after ~1 s (the config
 * long-poll: its clients re-poll at once and would storm); a request held
 * so is answered 503 at nc_shttp_stop. */
enum {
  NC_SHTTP_OPEN = 1u << 0,
  NC_SHTTP_ADMIN = 1u << 1,
  NC_SHTTP_REDIRECT = 1u << 2,
  NC_SHTTP_DELAY_ERRORS = 1u << 3
};

typedef struct nc_shttp_opts {
  const char *bind; /* NULL = 127.0.0.1 */
  int port;         /* 0 = a free port */
  /* Appends every module's families for GET /metrics. */
  void (*render)(void *ud, nc_metrics_text *t);
  /* GET /health: 1 serving (200 "ok"), 0 not (503 with why). NULL: 200. */
  int (*ready)(void *ud, char *why, size_t cap);
  void *ud;
  nc_cluster *cluster; /* member list and readiness routes (cluster_routes.h); may be NULL */
  /* A line about a degraded part that does not make the node unready (the
   * config store down: reads still served); "" when all is well. Added to
   * /health and /nacos/v1/console/health/readiness. May be NULL. */
  void (*note)(void *ud, char *buf, size_t cap);
  nc_auth *auth; /* users and tokens (nc_auth.h); NULL or disabled = no checks */
  struct nc_loader *loader; /* the loader API's routes (loader_routes.h); NULL = none */
  struct nc_nroutes *naming_routes; /* the naming open API (naming_routes.h); NULL = none */
  struct nc_croutes *config_routes; /* the config open API (config_routes.h); NULL = none */
  struct nc_nsroutes *namespace_routes; /* the namespace API (namespace_routes.h); NULL = none */
  struct nc_conroutes *console_routes; /* the console-only naming API (console_routes.h); NULL = none */
  /* nc_http_opts' bounds (issue 12): head/body deadlines, connection caps;
   * 0 = nc_http's defaults (no deadline, 1024 connections, no per-ip cap) */
  unsigned header_timeout_s, body_timeout_s, max_conns, max_conns_per_ip;
  size_t max_body; /* request body cap (413); 0 = nc_http's 8 MiB */
  /* HTTPS on the main port: PEM files (certificate chain, private key);
   * both or neither. A file that cannot be read stops the start. */
  const char *tls_cert_file, *tls_key_file;
  /* With them: a PEM CA file; every HTTPS client must then present a
   * certificate signed by it (--tls-client-ca), probes included. NULL = none. */
  const char *tls_client_ca_file;
} nc_shttp_opts;

/* Listens and serves on loop; the console's routes act on srv. opts copied. */
int nc_shttp_start(uv_loop_t *loop, nc_srv *srv, const nc_shttp_opts *opts, nc_shttp **out);
int nc_shttp_port(const nc_shttp *h);
/* The options it was started with (core_routes.c reads auth, cluster,
 * ready and note from them). Borrowed, valid while h runs. */
const nc_shttp_opts *nc_shttp_options(const nc_shttp *h);
/* Requests received and held (long-poll), for metrics. */
void nc_shttp_render_metrics(const nc_shttp *h, nc_metrics_text *t);
/* Stops listening (held requests get 503) and frees h once its handles
 * are closed (run the loop afterwards). NULL is a no-op. */
void nc_shttp_stop(nc_shttp *h);

#endif
