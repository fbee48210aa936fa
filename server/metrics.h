/* metrics: a tiny HTTP/1.0 responder on the main port serving the
 * server's counters in Prometheus text format at GET /metrics, a plain
 * "ok" at GET /health, and further GET routes through a router callback. One request per connection, closed after
 * the response; request heads over 8 KiB are refused. Loop thread only. */
#ifndef METRICS_H
#define METRICS_H

#include <uv.h>

typedef struct nc_metrics nc_metrics;

/* Returns the Prometheus text (malloc'ed, the responder frees it). */
typedef char *(*nc_metrics_render_fn)(void *ud);

/* Listens on bind:port (0 = free port; *bound receives it). */
int nc_metrics_start(uv_loop_t *loop, const char *bind, int port, nc_metrics_render_fn render,
                     void *ud, nc_metrics **out, int *bound);
/* Extra GET routes (the connection console): called with the request
 * target (path and query, e.g. "/a/b?x=1") for anything that is not
 * /metrics or /health. Returns a malloc'ed body and sets *code (200, 400,
 * 404, 500) and *ctype (static string), or NULL when the path is unknown
 * (-> 404). */
typedef char *(*nc_http_route_fn)(void *ud, const char *target, int *code, const char **ctype);
void nc_metrics_set_router(nc_metrics *m, nc_http_route_fn fn, void *ud);

/* Closes the listener and open client connections; memory is released in
 * close callbacks (run the loop afterwards). NULL is a no-op. */
void nc_metrics_stop(nc_metrics *m);

#endif
