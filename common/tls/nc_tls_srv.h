/* nc_tls_srv: the server side of TLS (OpenSSL 3) for nacosd's gRPC ports.
 * One nc_tls_srv is a server SSL_CTX built from options: a certificate
 * (chain) and its key, TLS 1.2 at least, ALPN "h2" (gRPC clients, grpc-go
 * among them, insist on it; a client offering ALPN without h2 is refused,
 * one offering none is served), and optionally a client CA: then every
 * client must present a certificate that chains to it (mutual TLS).
 *
 * No I/O here: nc_grpc_tls.c moves the bytes. Threading: an nc_tls_srv is
 * immutable once made and may be used from any thread; each SSL belongs to
 * one thread at a time. An SSL keeps the context alive (OpenSSL counts
 * references), so nc_tls_srv_free may run while connections live. */
#ifndef NC_TLS_SRV_H
#define NC_TLS_SRV_H

#include <openssl/ssl.h>
#include <stddef.h>

typedef struct nc_tls_srv nc_tls_srv;

typedef struct nc_tls_srv_opts {
  const char *cert_file;      /* PEM certificate chain, leaf first: required */
  const char *key_file;       /* PEM private key of the leaf: required */
  const char *client_ca_file; /* PEM CA(s) client certificates must chain to; NULL = no
                               * client certificate asked for */
} nc_tls_srv_opts;

/* Builds the context; files are read now (certificate rotation = restart).
 * 0, or NC_EINVAL / NC_EIO / NC_ENOMEM with why in err, naming the file
 * ("cannot load TLS certificate X: no start line", "TLS key X does not
 * match certificate Y"). */
int nc_tls_srv_new(const nc_tls_srv_opts *o, nc_tls_srv **out, char *err, size_t err_cap);
/* NULL is a no-op. */
void nc_tls_srv_free(nc_tls_srv *t);

/* 1 when clients must present a certificate (a client CA was given). */
int nc_tls_srv_mutual(const nc_tls_srv *t);

/* A server SSL for one accepted connection, or NULL (out of memory). The
 * caller owns it (SSL_free). */
SSL *nc_tls_srv_ssl(const nc_tls_srv *t);

/* Why the SSL operation that returned ret failed, for logs: "peer sent no
 * certificate", "certificate verify failed: <reason>", "<OpenSSL's
 * reason>", "connection closed". Reads and clears this thread's OpenSSL
 * error queue. */
void nc_tls_srv_why(SSL *ssl, int ret, char *buf, size_t cap);

#endif
