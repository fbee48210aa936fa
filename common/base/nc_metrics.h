/* nc_metrics: what nacosd and nacos-agent expose over HTTP.
 *
 * (1) A tiny HTTP/1.0 responder serving a daemon's counters in Prometheus
 *     text format at GET /metrics, a plain "ok" at GET /health, and further
 *     GET routes through a router callback (nacosd's connection console).
 *     One request per connection, closed after the response; request heads
 *     over 8 KiB are refused. Loop thread only; no threads of its own.
 * (2) nc_metrics_text: the Prometheus text builder both daemons render
 *     their samples with, so every family gets its # HELP and # TYPE lines
 *     the same way. */
#ifndef NC_METRICS_H
#define NC_METRICS_H

#include <stddef.h>
#include <stdint.h>
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

/* GET /health answers 200 "ok" when fn returns 1, else 503 with the
 * reason fn wrote to why (at most cap bytes). Without a callback it is
 * always 200: a probe that says "ok" must mean the daemon can serve. */
typedef int (*nc_metrics_health_fn)(void *ud, char *why, size_t cap);
void nc_metrics_set_health(nc_metrics *m, nc_metrics_health_fn fn, void *ud);

/* Closes the listener and open client connections; memory is released in
 * close callbacks (run the loop afterwards). NULL is a no-op. */
void nc_metrics_stop(nc_metrics *m);

/* ---- Prometheus text ---- */

/* A growing text buffer; start from {0}. On allocation failure the text
 * written so far is kept and later additions are dropped. */
typedef struct nc_metrics_text {
  char *p;
  size_t len, cap;
} nc_metrics_text;

/* One family of a single sample: "# HELP <prefix><name> <help>", "# TYPE
 * ..." and "<prefix><name> <v>". Names ending in _total are counters, the
 * rest gauges. prefix is prepended as is (e.g. "nacosd_"). */
void nc_metrics_add(nc_metrics_text *t, const char *prefix, const char *name, const char *help,
                    uint64_t v);
/* The # HELP and # TYPE lines of a labelled family; its samples follow
 * with nc_metrics_add_labelled. */
void nc_metrics_family(nc_metrics_text *t, const char *prefix, const char *name,
                       const char *help);
/* "<prefix><name>{<label>="<value>"} <v>"; the label value is escaped as
 * the text format wants (backslash, double quote, newline). */
void nc_metrics_add_labelled(nc_metrics_text *t, const char *prefix, const char *name,
                             const char *label, const char *value, uint64_t v);
/* Hands the text over (malloc'ed, the caller frees; "" when empty, NULL
 * only when even that cannot be allocated) and resets t to {0}. */
char *nc_metrics_text_take(nc_metrics_text *t);

#endif
