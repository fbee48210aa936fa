/* nc_tls_cli: the client side of TLS (OpenSSL 3) for nacos-c's own clients:
 * the nghttp2 gRPC client (common/gcli) and the agent's HTTP/1.1 exchanges
 * (agent/http1.c). One nc_tls_cli is a client SSL_CTX built from options:
 * the CAs to trust (a PEM file, else the system trust store), an optional
 * client certificate, TLS 1.2 at least, peer verification always on, and
 * optionally one ALPN protocol ("h2" for gRPC). nc_tls_cli_ssl() makes the
 * SSL for one connection with SNI and the name the server's certificate
 * must carry: an IP address is matched against the certificate's IP SANs,
 * a name against its DNS names (OpenSSL's X509_VERIFY_PARAM host checks).
 *
 * Callers move the bytes (memory BIOs on a libuv loop), or hand a
 * connected socket to nc_tls_cli_exchange for one blocking request and
 * answer (the agent's and nacosctl's HTTPS). OpenSSL itself is loaded by the first
 * nc_tls_cli_new (nc_tls_ossl.h), so a program that makes no context does
 * not map it; callers' own OpenSSL calls include nc_tls_ossl.h.
 * Threading: an nc_tls_cli is immutable once made and may be used from any
 * thread; each SSL belongs to one thread at a time. */
#ifndef NC_TLS_CLI_H
#define NC_TLS_CLI_H

#include <openssl/ssl.h>
#include <stddef.h>

typedef struct nc_tls_cli nc_tls_cli;

typedef struct nc_tls_cli_opts {
  const char *ca_file;     /* PEM CA certificates to trust; NULL = the system store */
  const char *cert_file;   /* PEM client certificate (chain) presented when asked; */
  const char *key_file;    /* and its key: both or neither */
  const char *server_name; /* SNI and the name verified; NULL = the host connected to */
  const char *alpn;        /* one protocol offered, e.g. "h2"; NULL = no ALPN */
  int key_private;         /* 1: refuse a key file that group or others may access */
} nc_tls_cli_opts;

/* Builds the context; strings are copied. 0, or NC_EINVAL / NC_EPERM /
 * NC_EIO / NC_ENOMEM with why in err ("cannot load CA file X: ..."). */
int nc_tls_cli_new(const nc_tls_cli_opts *o, nc_tls_cli **out, char *err, size_t err_cap);
/* Another reference for another owner (a context is worth sharing: the
 * system trust store alone takes ~85 ms to load). Any thread. */
nc_tls_cli *nc_tls_cli_ref(nc_tls_cli *t);
/* Drops a reference; the last one frees. NULL is a no-op. */
void nc_tls_cli_free(nc_tls_cli *t);

/* A client SSL for one connection to host (the server name option wins
 * over host), SNI set unless the name is an IP address, verification of
 * that name armed. NULL with why in err. The caller owns it (SSL_free). */
SSL *nc_tls_cli_ssl(const nc_tls_cli *t, const char *host, char *err, size_t err_cap);

/* Why the SSL operation that returned ret failed, for logs and status:
 * "TLS: certificate verify failed: <reason>" when the peer's certificate
 * was refused, "TLS: <OpenSSL's reason>" otherwise. Reads and clears this
 * thread's OpenSSL error queue. */
void nc_tls_cli_why(SSL *ssl, int ret, char *buf, size_t cap);

/* After a completed handshake: 0 when ALPN was not offered, or the server
 * chose the offered protocol or none; NC_EGRPC when it chose another. */
int nc_tls_cli_alpn_ok(const nc_tls_cli *t, SSL *ssl);

/* CLOCK_MONOTONIC in ms: the clock of nc_tls_cli_exchange's deadline. */
long long nc_tls_cli_now_ms(void);

/* One exchange over TLS on fd, a connected non-blocking socket, for a
 * thread that may block (never a loop): the handshake (the server's
 * certificate verified against host, or the server name option), req
 * sent, then the answer read until the server closes (close_notify or a
 * plain EOF: the request asked for "Connection: close"), every step
 * waiting with poll until deadline_ms (nc_tls_cli_now_ms's clock).
 * SIGPIPE is blocked on this thread meanwhile (OpenSSL writes with
 * write(2)), so callers need not ignore it. fd stays the caller's.
 * 0 with *resp (malloc'ed, NUL-terminated, *n bytes before the NUL; the
 * caller frees); else NC_EUNAVAIL (the handshake failed: refused
 * certificate, not TLS, ...), NC_ETIMEOUT, NC_EIO (also an answer of max
 * bytes or more), NC_ENOMEM or NC_EINVAL, with why (may be NULL) the TLS
 * reason ("TLS: certificate verify failed: ...") when there is one, ""
 * otherwise. */
int nc_tls_cli_exchange(const nc_tls_cli *t, const char *host, int fd, const char *req,
                        size_t len, long long deadline_ms, size_t max, char **resp, size_t *n,
                        char *why, size_t why_cap);

#endif
