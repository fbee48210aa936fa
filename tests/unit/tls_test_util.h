/* TLS peers for the client-side TLS tests (test_h2_tls.c: the nghttp2
 * client; test_agent_http1_tls.c: the agent's HTTPS exchanges):
 * - tt_certs: certificates made at test time with the openssl command (a
 *   CA, a server certificate for IP 127.0.0.1 and DNS localhost, a client
 *   certificate, an unrelated CA), so no key lives in the repo and nothing
 *   expires. The h2 programs link no test-support library, so this is
 *   separate from tests/support/nc_testtls (same idea, for integration).
 * - tt_srv: an OpenSSL server on its own thread, one connection at a time.
 *   It either forwards the decrypted bytes to a cleartext port (in front of
 *   the C-core echo server: gRPC over TLS without touching the server
 *   transport) or answers every request with a fixed HTTP response. It
 *   records what the client offered (ALPN, SNI, a certificate).
 * Header-only; include after cmocka.h. */
#ifndef TLS_TEST_UTIL_H
#define TLS_TEST_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- certificates ------------------------------------------------------- */

typedef struct tt_certs {
  char dir[64];
  char ca[96], srv_cert[96], srv_key[96], cli_cert[96], cli_key[96], other_ca[96];
} tt_certs;

static inline int tt_sh(const tt_certs *t, const char *cmd) {
  char full[1400];
  snprintf(full, sizeof(full), "cd '%s' && ( %s ) >>openssl.log 2>&1", t->dir, cmd);
  return system(full) == 0 ? 0 : -1;
}

/* 0, or -1 when openssl is missing or failed (the test then skips). */
static inline int tt_certs_make(tt_certs *t) {
  memset(t, 0, sizeof(*t));
  snprintf(t->dir, sizeof(t->dir), "/tmp/nc-tls-XXXXXX");
  if (!mkdtemp(t->dir))
    return -1;
#define TT_P(f, n) snprintf(t->f, sizeof(t->f), "%s/" n, t->dir)
  TT_P(ca, "ca.crt");
  TT_P(srv_cert, "srv.crt");
  TT_P(srv_key, "srv.key");
  TT_P(cli_cert, "cli.crt");
  TT_P(cli_key, "cli.key");
  TT_P(other_ca, "other.crt");
#undef TT_P
  const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  char cmd[1200];
  snprintf(cmd, sizeof(cmd),
           "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' "
           ">srv.ext && printf 'extendedKeyUsage=clientAuth\\n' >cli.ext && "
           "openssl req -x509 %s -days 2 -subj /CN=tt-ca -keyout ca.key -out ca.crt && "
           "openssl req -x509 %s -days 2 -subj /CN=tt-other-ca -keyout other.key -out other.crt && "
           "openssl req %s -subj /CN=tt-server -keyout srv.key -out srv.csr && "
           "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
           "-extfile srv.ext -out srv.crt && "
           "openssl req %s -subj /CN=tt-client -keyout cli.key -out cli.csr && "
           "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
           "-extfile cli.ext -out cli.crt && chmod 600 srv.key cli.key",
           ec, ec, ec, ec);
  return tt_sh(t, cmd);
}

static inline void tt_certs_free(tt_certs *t) {
  char cmd[128];
  if (!t->dir[0])
    return;
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
  if (system(cmd) != 0)
    fprintf(stderr, "cannot remove %s\n", t->dir);
  t->dir[0] = 0;
}

/* ---- the TLS server ----------------------------------------------------- */

typedef struct tt_srv {
  SSL_CTX *ctx;
  int lfd, port;
  int backend_port;       /* > 0: forward to 127.0.0.1:backend_port */
  const char *http_reply; /* else: answer each request with this */
  pthread_t thr;
  atomic_int stop;
  /* what the latest client did (under mu) */
  pthread_mutex_t mu;
  int handshakes, failed_handshakes, requests;
  int alpn_h2;      /* it offered "h2" */
  char sni[80];     /* the server name it sent, "" = none */
  char peer_cn[80]; /* its certificate's CN, "" = none */
} tt_srv;

static inline int tt_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                             const unsigned char *in, unsigned inlen, void *arg) {
  tt_srv *s = arg;
  (void)ssl;
  for (unsigned i = 0; i + 1 <= inlen; i += 1u + in[i]) {
    if (in[i] == 2 && i + 3 <= inlen && memcmp(in + i + 1, "h2", 2) == 0) {
      pthread_mutex_lock(&s->mu);
      s->alpn_h2 = 1;
      pthread_mutex_unlock(&s->mu);
      *out = in + i + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

/* Moves bytes both ways between ssl and the backend until either ends. */
static inline void tt_forward(tt_srv *s, SSL *ssl, int cfd) {
  int bfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->backend_port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bfd < 0 || connect(bfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    if (bfd >= 0)
      close(bfd);
    return;
  }
  char buf[16384];
  while (!atomic_load(&s->stop)) {
    struct pollfd p[2] = {{.fd = cfd, .events = POLLIN}, {.fd = bfd, .events = POLLIN}};
    if (SSL_pending(ssl) == 0 && poll(p, 2, 100) <= 0)
      continue;
    if (SSL_pending(ssl) > 0 || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0) {
        int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_WANT_READ)
          continue;
        break;
      }
      if (send(bfd, buf, (size_t)n, MSG_NOSIGNAL) != n)
        break;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = recv(bfd, buf, sizeof(buf), 0);
      if (n <= 0 || SSL_write(ssl, buf, (int)n) != (int)n)
        break;
    }
  }
  close(bfd);
}

static inline void tt_http(tt_srv *s, SSL *ssl) {
  char req[8192];
  size_t n = 0;
  while (n < sizeof(req) - 1) {
    int k = SSL_read(ssl, req + n, (int)(sizeof(req) - 1 - n));
    if (k <= 0)
      return;
    n += (size_t)k;
    req[n] = 0;
    char *h = strstr(req, "\r\n\r\n");
    const char *cl = strcasestr(req, "Content-Length:");
    if (h && (!cl || strlen(h + 4) >= (size_t)atoi(cl + 15)))
      break;
  }
  pthread_mutex_lock(&s->mu);
  s->requests++;
  pthread_mutex_unlock(&s->mu);
  SSL_write(ssl, s->http_reply, (int)strlen(s->http_reply));
  SSL_shutdown(ssl);
}

static inline void tt_serve(tt_srv *s, int cfd) {
  struct timeval tv = {.tv_sec = 5};
  setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  int one = 1;
  setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  SSL *ssl = SSL_new(s->ctx);
  SSL_set_fd(ssl, cfd);
  int ok = SSL_accept(ssl) == 1;
  pthread_mutex_lock(&s->mu);
  if (ok) {
    s->handshakes++;
    const char *sn = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    snprintf(s->sni, sizeof(s->sni), "%s", sn ? sn : "");
    s->peer_cn[0] = 0;
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer) {
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, s->peer_cn,
                                sizeof(s->peer_cn));
      X509_free(peer);
    }
  } else {
    s->failed_handshakes++;
  }
  pthread_mutex_unlock(&s->mu);
  if (ok) {
    /* the poll loop needs a non-blocking read side */
    struct timeval shortv = {.tv_usec = 100000};
    setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &shortv, sizeof(shortv));
    if (s->backend_port > 0)
      tt_forward(s, ssl, cfd);
    else
      tt_http(s, ssl);
  }
  SSL_free(ssl);
  ERR_clear_error();
  if (!ok) {
    /* let the alert reach the client before the close: what the client
     * still sends would otherwise make the kernel reset the connection
     * and drop the alert from the client's receive buffer */
    shutdown(cfd, SHUT_WR);
    char sink[4096];
    struct timeval lv = {.tv_usec = 200000};
    setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &lv, sizeof(lv));
    while (recv(cfd, sink, sizeof(sink), 0) > 0)
      ;
  }
  close(cfd);
}

static inline void *tt_thread(void *arg) {
  tt_srv *s = arg;
  while (!atomic_load(&s->stop)) {
    struct pollfd p = {.fd = s->lfd, .events = POLLIN};
    if (poll(&p, 1, 50) <= 0)
      continue;
    int cfd = accept(s->lfd, NULL, NULL);
    if (cfd >= 0)
      tt_serve(s, cfd);
  }
  return NULL;
}

/* A server with cert/key; client_ca set = a client certificate signed by
 * it is required. Forwards to backend_port (> 0) or answers http_reply. */
static inline tt_srv *tt_srv_start(const char *cert, const char *key, const char *client_ca,
                                   int backend_port, const char *http_reply) {
  tt_srv *s = calloc(1, sizeof(*s));
  assert_non_null(s);
  pthread_mutex_init(&s->mu, NULL);
  s->backend_port = backend_port;
  s->http_reply = http_reply;
  assert_non_null(s->ctx = SSL_CTX_new(TLS_server_method()));
  assert_int_equal(SSL_CTX_use_certificate_chain_file(s->ctx, cert), 1);
  assert_int_equal(SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM), 1);
  SSL_CTX_set_alpn_select_cb(s->ctx, tt_alpn_cb, s);
  if (client_ca) {
    assert_int_equal(SSL_CTX_load_verify_locations(s->ctx, client_ca, NULL), 1);
    SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  }
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof(sa);
  assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(s->lfd, 16), 0);
  assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &sl), 0);
  s->port = ntohs(sa.sin_port);
  assert_int_equal(pthread_create(&s->thr, NULL, tt_thread, s), 0);
  return s;
}

static inline void tt_srv_stop(tt_srv *s) {
  atomic_store(&s->stop, 1);
  pthread_join(s->thr, NULL);
  close(s->lfd);
  SSL_CTX_free(s->ctx);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

/* A copy of one field under the lock. */
static inline int tt_get(tt_srv *s, const int *field) {
  pthread_mutex_lock(&s->mu);
  int v = *field;
  pthread_mutex_unlock(&s->mu);
  return v;
}

static inline void tt_get_str(tt_srv *s, const char *field, char *out, size_t cap) {
  pthread_mutex_lock(&s->mu);
  snprintf(out, cap, "%s", field);
  pthread_mutex_unlock(&s->mu);
}

#endif
