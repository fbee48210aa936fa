/* nc_tls_srv: see nc_tls_srv.h. */
#include "nc_tls_srv.h"

#include "nc_err.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nc_tls_srv {
  SSL_CTX *ctx;
  int mutual;
};

/* OpenSSL's reason for the newest queued error ("unknown error" if none);
 * clears the queue. */
static void reason(char *buf, size_t cap) {
  unsigned long e = ERR_peek_last_error();
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  if (r)
    snprintf(buf, cap, "%s", r);
  else if (e)
    ERR_error_string_n(e, buf, cap);
  else
    snprintf(buf, cap, "unknown error");
  ERR_clear_error();
}

/* ALPN: h2 when offered. A client that offers protocols but not h2 speaks
 * something else (http/1.1): refuse it in the handshake, where it gets a
 * clear alert, rather than feed the HTTP/2 server bytes it cannot parse. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  (void)ssl;
  (void)arg;
  for (unsigned int i = 0; i < inlen;) {
    unsigned int l = in[i];
    if (i + 1 + l > inlen)
      break;
    if (l == 2 && memcmp(in + i + 1, "h2", 2) == 0) {
      *out = in + i + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + l;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int readable(const char *what, const char *path, char *err, size_t cap) {
  FILE *f = path && *path ? fopen(path, "r") : NULL;
  if (!f) {
    snprintf(err, cap, "cannot read %s %s: %s", what, path && *path ? path : "(none given)",
             path && *path ? strerror(errno) : "a file is required");
    return path && *path ? NC_EIO : NC_EINVAL;
  }
  fclose(f);
  return 0;
}

int nc_tls_srv_new(const nc_tls_srv_opts *o, nc_tls_srv **out, char *err, size_t err_cap) {
  char why[200];
  int rc;
  nc_tls_srv *t = NULL;
  *out = NULL;
  if (!o) {
    snprintf(err, err_cap, "no TLS options");
    return NC_EINVAL;
  }
  if ((rc = readable("TLS certificate", o->cert_file, err, err_cap)) != 0 ||
      (rc = readable("TLS key", o->key_file, err, err_cap)) != 0 ||
      (o->client_ca_file &&
       (rc = readable("TLS client CA file", o->client_ca_file, err, err_cap)) != 0))
    return rc;
  rc = NC_ENOMEM;
  snprintf(err, err_cap, "out of memory");
  ERR_clear_error();
  if (!(t = calloc(1, sizeof(*t))) || !(t->ctx = SSL_CTX_new(TLS_server_method())))
    goto fail;
  SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
  /* No renegotiation (a CPU sink for a client to trigger), and the
   * server's cipher preference. */
  SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* The relay retries a write with the same bytes from another buffer. */
  SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS);
  rc = NC_EINVAL;
  if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_file) != 1) {
    reason(why, sizeof(why));
    snprintf(err, err_cap, "cannot load TLS certificate %s: %s", o->cert_file, why);
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(t->ctx, o->key_file, SSL_FILETYPE_PEM) != 1) {
    int mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    reason(why, sizeof(why));
    if (mismatch) /* the commonest mistake: say it plainly */
      snprintf(err, err_cap, "TLS key %s does not match certificate %s", o->key_file,
               o->cert_file);
    else
      snprintf(err, err_cap, "cannot load TLS key %s: %s", o->key_file, why);
    goto fail;
  }
  if (SSL_CTX_check_private_key(t->ctx) != 1) {
    reason(why, sizeof(why));
    snprintf(err, err_cap, "TLS key %s does not match certificate %s: %s", o->key_file,
             o->cert_file, why);
    goto fail;
  }
  if (o->client_ca_file) {
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->client_ca_file);
    if (SSL_CTX_load_verify_locations(t->ctx, o->client_ca_file, NULL) != 1 || !names) {
      sk_X509_NAME_pop_free(names, X509_NAME_free);
      reason(why, sizeof(why));
      snprintf(err, err_cap, "cannot load TLS client CA file %s: %s", o->client_ca_file, why);
      goto fail;
    }
    SSL_CTX_set_client_CA_list(t->ctx, names); /* takes names */
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    t->mutual = 1;
  }
  SSL_CTX_set_alpn_select_cb(t->ctx, select_alpn, NULL);
  ERR_clear_error();
  err[0] = '\0';
  *out = t;
  return 0;
fail:
  ERR_clear_error();
  nc_tls_srv_free(t);
  return rc;
}

void nc_tls_srv_free(nc_tls_srv *t) {
  if (!t)
    return;
  SSL_CTX_free(t->ctx);
  free(t);
}

int nc_tls_srv_mutual(const nc_tls_srv *t) { return t && t->mutual; }

SSL *nc_tls_srv_ssl(const nc_tls_srv *t) { return SSL_new(t->ctx); }

void nc_tls_srv_why(SSL *ssl, int ret, char *buf, size_t cap) {
  int e = SSL_get_error(ssl, ret);
  long vr = SSL_get_verify_result(ssl);
  unsigned long q = ERR_peek_last_error();
  if (vr != X509_V_OK) {
    snprintf(buf, cap, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
  } else if (q && ERR_GET_REASON(q) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
    snprintf(buf, cap, "peer sent no certificate");
  } else if (e == SSL_ERROR_SSL && q) {
    reason(buf, cap);
  } else if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0) ||
             (e == SSL_ERROR_SSL && !q)) {
    snprintf(buf, cap, "connection closed");
  } else if (e == SSL_ERROR_SYSCALL) {
    snprintf(buf, cap, "%s", strerror(errno));
  } else {
    snprintf(buf, cap, "SSL error %d", e);
  }
  ERR_clear_error();
}
