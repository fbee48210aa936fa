/* nc_http_cert: the client-certificate check of nc_http (nc_http_opts'
 * tls_client_ca_pem). libmicrohttpd, given MHD_OPTION_HTTPS_MEM_TRUST, has
 * GnuTLS ask for a certificate in the handshake (GNUTLS_CERT_REQUEST) and
 * trust that CA, but completes the handshake whatever the client sends;
 * the verdict is ours, taken here on the connection's GnuTLS session.
 * Private to common/http; loop thread only. */
#ifndef NC_HTTP_CERT_H
#define NC_HTTP_CERT_H

#include <stddef.h>

struct MHD_Connection;

/* Loads the GnuTLS calls the check needs (internal/nc_mhd.h). 0, or -1
 * with the reason in err. */
int nc_http_cert_init(char *err, size_t cap);

/* 0 when conn's client presented a certificate that chains to the trusted
 * CA, is within its validity period and, if it has an Extended Key Usage,
 * allows TLS client authentication; -1 otherwise, with why (e.g. "no client
 * certificate", "certificate not signed by a trusted CA"). */
int nc_http_cert_check(struct MHD_Connection *conn, char *why, size_t cap);

#endif
