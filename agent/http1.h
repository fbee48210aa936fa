/* http1: one blocking HTTP/1.x exchange with a nacosd main port (HTTP or
 * HTTPS), for the agent's upstream thread (the member list, the login): connect, send the
 * request as given (it asks for "Connection: close" or is HTTP/1.0), read
 * until the server closes, all under one deadline. Never on the loop. */
#ifndef NC_AG_HTTP1_H
#define NC_AG_HTTP1_H

#include <stddef.h>

/* A whole answer of a few KiB; far more is not one we want. */
#define NC_AG_HTTP1_MAX (256 * 1024)

/* 0 with *status, *resp (malloc'ed, NUL-terminated; the caller frees) and
 * *body (inside resp, after the headers); NC_EUNAVAIL (cannot connect),
 * NC_ETIMEOUT, NC_EIO, NC_EPARSE (not an HTTP answer) or NC_ENOMEM. */
int nc_ag_http1(const char *host, int port, const char *req, size_t len, int timeout_ms,
                int *status, char **resp, char **body);

/* The same over TLS when tls is not NULL (HTTPS: the server's certificate
 * verified as nc_tls_cli says, against host unless it names a server).
 * why (may be NULL) gets the TLS reason of a failure
 * ("TLS: certificate verify failed: ..."), "" otherwise; a refused
 * handshake is NC_EUNAVAIL, as a refused connect. */
struct nc_tls_cli;
int nc_ag_http1_tls(const struct nc_tls_cli *tls, const char *host, int port, const char *req,
                    size_t len, int timeout_ms, int *status, char **resp, char **body, char *why,
                    size_t why_cap);

#endif
