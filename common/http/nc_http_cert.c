/* nc_http_cert: see internal/nc_http_cert.h. */
#include "nc_http_cert.h"

#include "nc_mhd.h"

#include <gnutls/x509.h> /* GNUTLS_KP_TLS_WWW_CLIENT (a constant: nothing linked) */

#include <stdio.h>
#include <string.h>

int nc_http_cert_init(char *err, size_t cap) { return nc_gnutls_load(err, cap); }

/* The status bits a refusal is most likely to carry, in words (GnuTLS's
 * own printer allocates with gnutls_free, one more symbol for a log line). */
static void describe(unsigned status, char *why, size_t cap) {
  static const struct {
    unsigned bit;
    const char *text;
  } names[] = {
      {GNUTLS_CERT_SIGNER_NOT_FOUND, "not signed by a trusted CA"},
      {GNUTLS_CERT_SIGNER_NOT_CA, "signer is not a CA"},
      {GNUTLS_CERT_SIGNATURE_FAILURE, "bad signature"},
      {GNUTLS_CERT_EXPIRED, "expired"},
      {GNUTLS_CERT_NOT_ACTIVATED, "not yet valid"},
      {GNUTLS_CERT_REVOKED, "revoked"},
      {GNUTLS_CERT_INSECURE_ALGORITHM, "insecure algorithm"},
      {GNUTLS_CERT_PURPOSE_MISMATCH, "not for TLS client authentication"},
      {GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "signer constraints not met"},
  };
  size_t o = (size_t)snprintf(why, cap, "certificate");
  const char *sep = " ";
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && o < cap; i++) {
    if (!(status & names[i].bit))
      continue;
    o += (size_t)snprintf(why + o, cap - o, "%s%s", sep, names[i].text);
    sep = ", ";
  }
  if (*sep == ' ' && o < cap) /* none of the above */
    snprintf(why + o, cap - o, " invalid (GnuTLS status 0x%x)", status);
}

int nc_http_cert_check(struct MHD_Connection *conn, char *why, size_t cap) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  if (!ci || !ci->tls_session) {
    snprintf(why, cap, "not a TLS connection");
    return -1;
  }
  /* The purpose is checked only against a certificate that names its
   * purposes (Extended Key Usage); one without the extension passes, as
   * with OpenSSL on the gRPC port. */
  gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                   (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
  unsigned status = 0;
  int rc = nc_gnutls.certificate_verify_peers(ci->tls_session, &purpose, 1, &status);
  if (rc == GNUTLS_E_NO_CERTIFICATE_FOUND) {
    snprintf(why, cap, "no client certificate");
    return -1;
  }
  if (rc < 0) {
    snprintf(why, cap, "certificate not verified: %s", nc_gnutls.strerror(rc));
    return -1;
  }
  if (status) {
    describe(status, why, cap);
    return -1;
  }
  return 0;
}
