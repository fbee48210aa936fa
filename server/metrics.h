/* metrics: a tiny HTTP/1.0 responder on the main port serving the
 * server's counters in Prometheus text format at GET /metrics (and a
 * plain "ok" at GET /health). One request per connection, closed after
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
/* Closes the listener and open client connections; memory is released in
 * close callbacks (run the loop afterwards). NULL is a no-op. */
void nc_metrics_stop(nc_metrics *m);

#endif
