/* nc_http: the HTTP/1.1 server every HTTP surface of nacos-c shares (open
 * API, console, login, /metrics, cluster admin calls).
 *
 * Built on libmicrohttpd in "external polling" mode: the daemon runs no
 * thread of its own; its epoll descriptor is watched by a uv_poll on the
 * caller's libuv loop and its timeouts by a uv_timer, so handlers run on the
 * loop thread and may read loop-owned state without locks.
 *
 * What it gives a handler: method, path, query and form parameters (either
 * place, as Nacos accepts them), headers, the raw body (JSON or anything
 * else), and a reply that may come later: a handler that returns without
 * answering holds the request (long-poll) until nc_http_reply is called
 * from the loop thread. Limits: request body cap (413, answered as soon as
 * the Content-Length or the bytes so far exceed it, unread), request head cap
 * (MHD answers 431), connection cap, idle timeout; keep-alive as HTTP/1.1
 * wants. Error bodies are JSON {"code":..,"message":..}.
 *
 * Threading: every function here is loop-thread only. */
#ifndef NC_HTTP_H
#define NC_HTTP_H

#include <stddef.h>
#include <uv.h>

typedef struct nc_http nc_http;
typedef struct nc_http_req nc_http_req;

typedef struct nc_http_opts {
  const char *bind;        /* address to listen on; NULL = 127.0.0.1 */
  int port;                /* 0 = a free port (see nc_http_port) */
  size_t max_body;         /* request body cap; 0 = 8 MiB */
  size_t max_head;         /* per-connection head memory; 0 = 32 KiB */
  unsigned max_conns;      /* open connections; 0 = 1024 */
  unsigned idle_timeout_s; /* close a connection idle this long; 0 = 60 */
  /* Deadlines that a client trickling bytes cannot stretch (the idle
   * timeout restarts on every byte): the head must be complete this long
   * after the connection opened (or its previous request ended), the body
   * this long after the head. 0 = none. */
  unsigned header_timeout_s, body_timeout_s;
  unsigned max_conns_per_ip; /* open connections per client address; 0 = no cap */
  /* HTTPS: PEM certificate (chain) and private key (contents, copied). Both
   * or neither; libmicrohttpd's GnuTLS does the TLS. */
  const char *tls_cert_pem, *tls_key_pem;
  /* With TLS: PEM CA certificate(s) (contents, copied). Set, every client
   * must present a certificate that chains to one of them (and may be used
   * for TLS client authentication, by its Extended Key Usage, when it has
   * one): a connection without one, or with another CA's, gets each of its
   * requests answered 403 and is closed after the answer; the handler never
   * sees them. GnuTLS asks for the certificate in the handshake but leaves
   * the verdict to us, so it is checked on the connection's first request.
   * NULL = no client certificate asked for. */
  const char *tls_client_ca_pem;
} nc_http_opts;

/* Connections refused or cut by the bounds above, for metrics. */
typedef struct nc_http_limit_stats {
  unsigned long long refused_total, refused_per_ip, header_timeouts, body_timeouts;
  unsigned long long body_too_large; /* requests answered 413 (over max_body) */
  unsigned long long client_cert_refused; /* connections refused: client certificate */
} nc_http_limit_stats;
void nc_http_get_limit_stats(const nc_http *h, nc_http_limit_stats *st);

/* Called once per complete request (body read). Answer with nc_http_reply
 * now or later; the request stays valid until then (or until the abort
 * callback, see nc_http_hold_abort). */
typedef void (*nc_http_handler_fn)(void *ud, nc_http_req *r);

/* Listens and starts serving on loop. *out receives the server. Returns 0,
 * NC_EIO when the address cannot be bound, NC_EINVAL for a bad address. */
int nc_http_start(uv_loop_t *loop, const nc_http_opts *opts, nc_http_handler_fn fn, void *ud,
                  nc_http **out);
int nc_http_port(const nc_http *h);
/* Requests received and requests now held (long-poll), for metrics. */
unsigned long long nc_http_requests(const nc_http *h);
unsigned nc_http_held(const nc_http *h);

/* Stops listening, answers every held request with 503 (their abort
 * callbacks run first), closes connections and frees the server once its
 * handles are closed (run the loop afterwards). NULL is a no-op. */
void nc_http_stop(nc_http *h);

/* ---- the request (pointers valid until the reply) ---- */
const char *nc_http_method(const nc_http_req *r);
/* The path without the query string, percent-decoded. */
const char *nc_http_path(const nc_http_req *r);
/* A parameter from the query string, else from an
 * application/x-www-form-urlencoded body; NULL when absent. */
const char *nc_http_param(const nc_http_req *r, const char *name);
/* A request header, name case-insensitive; NULL when absent. */
const char *nc_http_header(const nc_http_req *r, const char *name);
/* The body as received (NUL-terminated for convenience); *len its size. */
const char *nc_http_body(const nc_http_req *r, size_t *len);
/* The client address, "ip:port". */
const char *nc_http_peer(const nc_http_req *r);

/* Answers r: body (copied) with content type ctype (NULL = text/plain).
 * r is gone afterwards. Returns 0, or NC_ENOMEM (r is then answered 500). */
int nc_http_reply(nc_http_req *r, int code, const char *ctype, const char *body, size_t len);
/* A JSON error body {"code":code,"message":msg}. */
int nc_http_reply_error(nc_http_req *r, int code, const char *msg);
/* Adds a response header to the coming reply (copied). */
int nc_http_add_header(nc_http_req *r, const char *name, const char *value);

/* For a held request: fn runs (once) if the server drops the request
 * before it is answered (nc_http_stop). After it returns r is answered by
 * the server and must not be used. */
typedef void (*nc_http_abort_fn)(void *ud, nc_http_req *r);
void nc_http_hold_abort(nc_http_req *r, nc_http_abort_fn fn, void *ud);

/* ---- route tables (the same shape the gRPC handler tables use) ---- */
enum { NC_HTTP_GET = 1, NC_HTTP_POST = 2, NC_HTTP_PUT = 4, NC_HTTP_DELETE = 8, NC_HTTP_PATCH = 16 };

typedef struct nc_http_route {
  const char *path;     /* exact path, e.g. "/nacos/v1/ns/instance" */
  unsigned methods;     /* NC_HTTP_* mask */
  nc_http_handler_fn fn;
  unsigned flags;       /* for the caller's policy (auth, write, ...) */
} nc_http_route;

/* Finds r's route in a table of n entries. Returns it, or NULL with
 * *status 404 (no such path) or 405 (path known, method not). */
const nc_http_route *nc_http_route_find(const nc_http_route *tab, size_t n,
                                        const nc_http_req *r, int *status);

#endif
