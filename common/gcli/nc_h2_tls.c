/* nc_h2_tls: TLS between the client's socket and nghttp2, on the loop
 * thread. OpenSSL never touches the socket: bytes read by libuv go into a
 * memory BIO the SSL reads (rbio); what the SSL writes lands in another
 * (wbio) and leaves with one uv_write at a time, as the cleartext path
 * does. The handshake runs before the HTTP/2 preface (h2_conn_up once it
 * is done) under a timeout of its own (nc_h2_conn.c); a refused
 * certificate, a failed handshake or ALPN that is not "h2" ends the
 * connection like a failed connect, with the reason in c->why. */
#include "nc_err.h"
#include "nc_h2_priv.h"
#include "nc_log.h"
#include "nc_tls_cli.h"
#include "nc_tls_ossl.h" /* last: OpenSSL calls go through its table */

#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

static void tls_fail(nc_gcli *c, int ret) {
  char why[200];
  nc_tls_cli_why(c->ssl, ret, why, sizeof(why));
  h2_conn_fail(c, why);
}

/* Writes what TLS has produced (one socket write at a time). Returns
 * whether a write started. */
static int send_pending(nc_gcli *c) {
  size_t n = BIO_ctrl_pending(c->wbio);
  if (!n)
    return 0;
  if (n > c->tcap) {
    uint8_t *nb = realloc(c->tbuf, n);
    if (!nb) {
      h2_conn_fail(c, "out of memory");
      return 0;
    }
    c->tbuf = nb;
    c->tcap = n;
  }
  int k = BIO_read(c->wbio, c->tbuf, (int)n);
  if (k <= 0) {
    h2_conn_fail(c, "TLS: cannot take the records to send");
    return 0;
  }
  return h2_sock_write(c, c->tbuf, (size_t)k) == 0;
}

void h2_tls_flush(nc_gcli *c) {
  if (c->wlen) {
    ERR_clear_error();
    /* a memory BIO takes everything: one call writes it all */
    int k = SSL_write(c->ssl, c->wbuf, (int)c->wlen);
    c->wlen = 0;
    if (k <= 0) {
      tls_fail(c, k);
      return;
    }
  }
  if (send_pending(c) || c->dead || c->tls_hs)
    return;
  if (c->sess && !nghttp2_session_want_read(c->sess) && !nghttp2_session_want_write(c->sess))
    h2_conn_fail(c, "HTTP/2 session finished");
}

void h2_tls_start(nc_gcli *c) {
  char err[200];
  if (!(c->ssl = nc_tls_cli_ssl(c->tls, c->host, err, sizeof(err)))) {
    h2_conn_fail(c, err);
    return;
  }
  c->rbio = BIO_new(BIO_s_mem());
  c->wbio = BIO_new(BIO_s_mem());
  if (!c->rbio || !c->wbio || !(c->pbuf = malloc(H2_RBUF))) {
    BIO_free(c->rbio);
    BIO_free(c->wbio);
    c->rbio = c->wbio = NULL;
    h2_conn_fail(c, "out of memory");
    return;
  }
  /* empty means "more later", not end of file */
  BIO_set_mem_eof_return(c->rbio, -1);
  BIO_set_mem_eof_return(c->wbio, -1);
  SSL_set_bio(c->ssl, c->rbio, c->wbio); /* the SSL owns them now */
  c->tls_hs = 1;
  ERR_clear_error();
  int r = SSL_do_handshake(c->ssl); /* writes the ClientHello */
  if (r != 1 && SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ) {
    tls_fail(c, r);
    return;
  }
  h2_flush(c);
}

/* The handshake's next step with what has arrived; 1 once it is done. */
static int handshake(nc_gcli *c) {
  ERR_clear_error();
  int r = SSL_do_handshake(c->ssl);
  if (r != 1) {
    if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
      h2_flush(c); /* our next flight, if any */
    else
      tls_fail(c, r);
    return 0;
  }
  c->tls_hs = 0;
  if (nc_tls_cli_alpn_ok(c->tls, c->ssl) != 0) {
    h2_conn_fail(c, "TLS: the server did not agree to HTTP/2 (ALPN)");
    return 0;
  }
  nc_debug("gcli: TLS to %s: %s, %s", c->target, SSL_get_version(c->ssl),
           SSL_get_cipher_name(c->ssl));
  h2_conn_up(c); /* the preface and SETTINGS go out */
  return !c->dead;
}

void h2_tls_read(nc_gcli *c, const uint8_t *p, size_t n) {
  if (BIO_write(c->rbio, p, (int)n) != (int)n) {
    h2_conn_fail(c, "out of memory");
    return;
  }
  if (c->tls_hs && !handshake(c))
    return;
  for (;;) {
    ERR_clear_error();
    int k = SSL_read(c->ssl, c->pbuf, H2_RBUF);
    if (k <= 0) {
      int e = SSL_get_error(c->ssl, k);
      if (e == SSL_ERROR_WANT_READ)
        break;
      if (e == SSL_ERROR_ZERO_RETURN)
        h2_conn_fail(c, "server closed the connection");
      else
        tls_fail(c, k);
      return;
    }
    ssize_t r = nghttp2_session_mem_recv(c->sess, c->pbuf, (size_t)k);
    if (r < 0) {
      h2_conn_fail(c, nghttp2_strerror((int)r));
      return;
    }
    if (c->dead || !c->sess)
      return;
  }
  h2_service(c); /* as the cleartext path: acks go out with the replies */
}

void h2_tls_free(nc_gcli *c) {
  if (c->ssl) /* OpenSSL is not even loaded for a cleartext client */
    SSL_free(c->ssl); /* and its BIOs */
  c->ssl = NULL;
  c->rbio = c->wbio = NULL;
  nc_tls_cli_free(c->tls);
  c->tls = NULL;
  free(c->pbuf);
  free(c->tbuf);
  c->pbuf = c->tbuf = NULL;
}
