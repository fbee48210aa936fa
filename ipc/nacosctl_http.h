/* nacosctl_http: the CLI's HTTP/1.1 client for a nacosd main (HTTP) port,
 * shared by `cluster` and the user/role/permission commands. One request
 * per connection ("Connection: close"; the reply is read to EOF), over a
 * plain socket, or HTTPS through common/tls's nc_tls_cli (OpenSSL is
 * loaded only then, with dlopen: nacosctl links libc + cJSON, like the
 * nc_ipc library it is built on). Not part of nc_ipc. */
#ifndef NACOSCTL_HTTP_H
#define NACOSCTL_HTTP_H

#include "nacosctl.h"

#include <stddef.h>

/* A growing NUL-terminated string (form bodies, query strings). */
typedef struct ctl_buf {
  char *s;
  size_t len, cap;
  int oom; /* an append failed: the buffer is incomplete */
} ctl_buf;
void ctl_buf_add(ctl_buf *b, const char *s, size_t n);
/* Appends "name=value" (with '&' before it unless first), both
 * percent-encoded as application/x-www-form-urlencoded wants. */
void ctl_buf_param(ctl_buf *b, const char *name, const char *value);
void ctl_buf_free(ctl_buf *b);

/* "host:port" or "[v6]:port" into host and port; 0 or -1. */
int ctl_http_split(const char *server, char *host, size_t cap, char *port, size_t pcap);

/* The scheme of a server address: 0 for "HOST:PORT" or "http://HOST:PORT",
 * 1 for "https://HOST:PORT", -1 for another "x://"; *hostport the
 * HOST:PORT after it. */
int ctl_http_scheme(const char *server, const char **hostport);

/* Sends METHOD path (with its query string) to server (an https:// one
 * over TLS with the context ctl_http_server made); form (may be NULL)
 * goes as an urlencoded body, token (may be NULL) as "Authorization:
 * Bearer". Returns the reply body (malloc'ed, NUL-terminated; caller
 * frees) with *status, or NULL with why filled in when the server could
 * not be reached or did not answer HTTP. */
char *ctl_http_request(const char *server, const char *method, const char *path,
                       const char *form, const char *token, int timeout_ms, int *status,
                       char *why, size_t wcap);

/* The server a server command talks to: a->server, else the agent's
 * current upstream ("host:mainPort", v6 bracketed), as "https://HOST:PORT"
 * when HTTPS is chosen (an https:// server, --tls, or an agent whose
 * status says "tls": true); then the TLS context of a's --tls-* options
 * is made too. 0, or the exit code after printing why (what names the
 * command; 2 for bad --tls-* options or files, a key others can read).
 * c may be NULL only with a->server. */
int ctl_http_server(nc_ipc *c, const ctl_args *a, const char *what, char *buf, size_t cap);

/* Frees what ctl_http_server made (at exit). */
void ctl_http_done(void);

/* The token for a request to server into tok ("" = none: auth off, or the
 * server will refuse) from --token-file, or a login with --username and
 * --password-file; 0 or an exit code (the error already printed). */
int ctl_http_credentials(const char *what, const char *server, const ctl_args *a, char *tok,
                         size_t cap);

#endif
