/* auth_login: the agent's login to nacosd (issue 12), as the SDKs do it:
 * POST /nacos/v1/auth/login on the server's main (HTTP) port with the form
 * username + password, answered {"accessToken", "tokenTtl", ...}. The
 * token then rides on every upstream request (nc_wc_set_access_token).
 *
 * Blocking with a deadline; called on the upstream thread before a
 * connect and when the token is half way to its expiry. */
#ifndef NC_AG_AUTH_LOGIN_H
#define NC_AG_AUTH_LOGIN_H

#include <stddef.h>

#define NC_AG_TOKEN_MAX 1024

typedef struct nc_ag_login {
  char token[NC_AG_TOKEN_MAX];
  long ttl_s;           /* tokenTtl as answered */
  int http_status;      /* 0 when no answer came */
  char message[256];    /* why it failed (the server's words when it answered) */
} nc_ag_login;

/* 0 with out->token set; NC_EPERM when the server refused the credentials,
 * NC_EUNAVAIL / NC_ETIMEOUT / NC_EPARSE otherwise (out->message says). */
int nc_ag_login_http(const char *host, int port, const char *user, const char *password,
                     int timeout_ms, nc_ag_login *out);
/* The same over HTTPS when tls is not NULL (http1.h); a TLS failure's
 * reason is in out->message. */
struct nc_tls_cli;
int nc_ag_login_http_tls(const struct nc_tls_cli *tls, const char *host, int port,
                         const char *user, const char *password, int timeout_ms,
                         nc_ag_login *out);

/* Reads a password (or token) file: the first line, without its newline.
 * Refuses (NC_EPERM, why in err) a file others can read or write: the
 * agent's identity must be readable only by it. */
int nc_ag_read_secret_file(const char *path, char *out, size_t cap, char *err, size_t err_cap);

#endif
