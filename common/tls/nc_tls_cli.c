/* nc_tls_cli: see nc_tls_cli.h. */
#include "nc_tls_cli.h"

#include "nc_err.h"
#include "nc_tls_ossl.h" /* after the OpenSSL headers: calls go through the table */

#include <arpa/inet.h>
#include <stdatomic.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct nc_tls_cli {
  atomic_int refs;
  SSL_CTX *ctx;
  char *server_name; /* NULL = the host of each connection */
  unsigned char alpn[32]; /* wire form: length-prefixed */
  size_t alpn_len;
};

/* OpenSSL's reason for the newest error on this thread's queue ("" if
 * none); the queue is cleared. */
static void ossl_reason(char *buf, size_t cap) {
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

/* The key must be the agent's alone, as its password file (a key others
 * can read is a key others hold). */
static int key_mode_ok(const char *path, char *err, size_t cap) {
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(err, cap, "cannot read TLS key %s: %s", path, strerror(errno));
    return NC_EIO;
  }
  if (st.st_mode & 077) {
    snprintf(err, cap, "TLS key %s is readable or writable by others (mode %04o): chmod 600 it",
             path, (unsigned)(st.st_mode & 07777));
    return NC_EPERM;
  }
  return 0;
}

int nc_tls_cli_new(const nc_tls_cli_opts *o, nc_tls_cli **out, char *err, size_t err_cap) {
  char why[200];
  int rc = NC_ENOMEM;
  nc_tls_cli *t = NULL;
  *out = NULL;
  snprintf(err, err_cap, "out of memory");
  if (!o || !o->cert_file != !o->key_file) {
    snprintf(err, err_cap, "a TLS client certificate needs its key and the key its certificate");
    return NC_EINVAL;
  }
  if (nc_tls_ossl_load(err, err_cap) != 0) /* the first context loads OpenSSL */
    return NC_EIO;
  if (o->alpn && (strlen(o->alpn) == 0 || strlen(o->alpn) >= sizeof(t->alpn) - 1)) {
    snprintf(err, err_cap, "bad ALPN protocol name");
    return NC_EINVAL;
  }
  const char *files[] = {o->ca_file, o->cert_file, o->key_file};
  for (size_t i = 0; i < 3; i++) {
    if (files[i] && access(files[i], R_OK) != 0) { /* OpenSSL would say only "system lib" */
      snprintf(err, err_cap, "cannot read %s: %s", files[i], strerror(errno));
      return NC_EIO;
    }
  }
  if (o->key_file && o->key_private && (rc = key_mode_ok(o->key_file, err, err_cap)) != 0)
    return rc;
  ERR_clear_error();
  if (!(t = calloc(1, sizeof(*t))))
    goto fail;
  atomic_init(&t->refs, 1);
  if (!(t->ctx = SSL_CTX_new(TLS_client_method())))
    goto fail;
  if (o->server_name && !(t->server_name = strdup(o->server_name)))
    goto fail;
  SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
  rc = NC_EIO;
  if (o->ca_file) {
    if (SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL) != 1) {
      ossl_reason(why, sizeof(why));
      snprintf(err, err_cap, "cannot load TLS CA file %s: %s", o->ca_file, why);
      goto fail;
    }
  } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
    ossl_reason(why, sizeof(why));
    snprintf(err, err_cap, "cannot load the system trust store: %s", why);
    goto fail;
  }
  if (o->cert_file) {
    if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_file) != 1) {
      ossl_reason(why, sizeof(why));
      snprintf(err, err_cap, "cannot load TLS certificate %s: %s", o->cert_file, why);
      goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(t->ctx) != 1) {
      ossl_reason(why, sizeof(why));
      snprintf(err, err_cap, "cannot use TLS key %s: %s", o->key_file, why);
      goto fail;
    }
  }
  if (o->alpn) {
    t->alpn_len = strlen(o->alpn) + 1;
    t->alpn[0] = (unsigned char)(t->alpn_len - 1);
    memcpy(t->alpn + 1, o->alpn, t->alpn_len - 1);
    if (SSL_CTX_set_alpn_protos(t->ctx, t->alpn, (unsigned)t->alpn_len) != 0) { /* 0 = ok */
      rc = NC_ENOMEM;
      goto fail;
    }
  }
  err[0] = '\0';
  *out = t;
  return 0;
fail:
  ERR_clear_error();
  nc_tls_cli_free(t);
  return rc;
}

nc_tls_cli *nc_tls_cli_ref(nc_tls_cli *t) {
  atomic_fetch_add(&t->refs, 1);
  return t;
}

void nc_tls_cli_free(nc_tls_cli *t) {
  if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
    return;
  SSL_CTX_free(t->ctx);
  free(t->server_name);
  free(t);
}

static int is_ip(const char *s) {
  unsigned char b[16];
  return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

SSL *nc_tls_cli_ssl(const nc_tls_cli *t, const char *host, char *err, size_t err_cap) {
  const char *name = t->server_name ? t->server_name : host;
  char why[200];
  ERR_clear_error();
  SSL *ssl = SSL_new(t->ctx);
  if (!ssl) {
    snprintf(err, err_cap, "out of memory");
    return NULL;
  }
  int ok;
  if (is_ip(name)) {
    /* RFC 6066: no SNI for an address; the certificate must list it as an
     * IP SAN (a CN of "127.0.0.1" does not count) */
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1;
  } else {
    X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(ssl), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = SSL_set_tlsext_host_name(ssl, name) == 1 && SSL_set1_host(ssl, name) == 1;
  }
  if (!ok) {
    ossl_reason(why, sizeof(why));
    snprintf(err, err_cap, "TLS: cannot verify server name '%s': %s", name, why);
    SSL_free(ssl);
    return NULL;
  }
  SSL_set_connect_state(ssl);
  return ssl;
}

void nc_tls_cli_why(SSL *ssl, int ret, char *buf, size_t cap) {
  char why[200];
  int e = ssl ? SSL_get_error(ssl, ret) : SSL_ERROR_SSL;
  long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (vr != X509_V_OK) {
    snprintf(buf, cap, "TLS: certificate verify failed: %s", X509_verify_cert_error_string(vr));
    ERR_clear_error();
    return;
  }
  if (ERR_peek_last_error()) {
    ossl_reason(why, sizeof(why));
    snprintf(buf, cap, "TLS: %s", why);
    return;
  }
  if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL)
    snprintf(buf, cap, "TLS: the server closed the connection%s",
             ssl && !SSL_is_init_finished(ssl) ? " during the handshake" : "");
  else
    snprintf(buf, cap, "TLS: error %d", e);
}

int nc_tls_cli_alpn_ok(const nc_tls_cli *t, SSL *ssl) {
  const unsigned char *p = NULL;
  unsigned n = 0;
  if (!t->alpn_len)
    return 0;
  SSL_get0_alpn_selected(ssl, &p, &n);
  if (n == 0)
    return 0; /* the server did not take part in ALPN: try anyway */
  return n == t->alpn_len - 1 && memcmp(p, t->alpn + 1, n) == 0 ? 0 : NC_EGRPC;
}
