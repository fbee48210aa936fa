/* nc_tls_cli: see nc_tls_cli.h. */
#include "nc_tls_cli.h"

#include "nc_err.h"
#include "nc_io.h"
#include "nc_tls_ossl.h" /* after the OpenSSL headers: calls go through the table */

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* ---- one blocking exchange on a socket (nc_tls_cli_exchange) ---- */

long long nc_tls_cli_now_ms(void) { return nc_io_now_ms(); }

#define wait_fd nc_io_wait_fd

/* Waits for what the last OpenSSL call on ssl (which returned ret) wants:
 * 0 to retry it, else NC_ETIMEOUT / NC_EIO with why (when not timed out). */
static int tls_wait(SSL *ssl, int fd, int ret, long long deadline, char *why, size_t cap) {
  int e = SSL_get_error(ssl, ret);
  if (e == SSL_ERROR_WANT_READ)
    return wait_fd(fd, POLLIN, deadline);
  if (e == SSL_ERROR_WANT_WRITE)
    return wait_fd(fd, POLLOUT, deadline);
  if (why)
    nc_tls_cli_why(ssl, ret, why, cap);
  return NC_EIO;
}

static int tls_handshake(SSL *ssl, int fd, long long deadline, char *why, size_t cap) {
  for (;;) {
    ERR_clear_error();
    int r = SSL_connect(ssl);
    if (r == 1)
      return 0;
    int rc = tls_wait(ssl, fd, r, deadline, why, cap);
    if (rc != 0)
      return rc == NC_EIO ? NC_EUNAVAIL : rc; /* refused as a connect is */
  }
}

static int tls_send_all(SSL *ssl, int fd, const char *buf, size_t len, long long deadline,
                        char *why, size_t cap) {
  while (len > 0) {
    ERR_clear_error();
    int n = SSL_write(ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
      continue;
    }
    int rc = tls_wait(ssl, fd, n, deadline, why, cap);
    if (rc != 0)
      return rc;
  }
  return 0;
}

typedef struct tls_rd {
  SSL *ssl;
  int fd;
  long long deadline;
  char *why;
  size_t cap;
} tls_rd;

/* nc_io_read_fn over TLS: reads to the server's close_notify or its EOF. */
static long tls_read(void *ud, char *buf, size_t cap) {
  tls_rd *t = ud;
  for (;;) {
    ERR_clear_error();
    int r = SSL_read(t->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    if (r > 0)
      return r;
    if (SSL_get_error(t->ssl, r) == SSL_ERROR_ZERO_RETURN)
      return 0;
    int rc = tls_wait(t->ssl, t->fd, r, t->deadline, t->why, t->cap);
    if (rc != 0)
      return rc;
  }
}

static int tls_read_all(SSL *ssl, int fd, long long deadline, size_t max, char **buf,
                        size_t *len, char *why, size_t cap) {
  tls_rd t = {ssl, fd, deadline, why, cap};
  return nc_io_read_to_end(tls_read, &t, max, buf, len);
}

static int exchange_io(const nc_tls_cli *t, const char *host, int fd, const char *req,
                       size_t len, long long deadline, size_t max, char **r, size_t *n,
                       char *why, size_t cap) {
  char tmp[200];
  SSL *ssl = nc_tls_cli_ssl(t, host, tmp, sizeof(tmp));
  if (!ssl) {
    if (why)
      snprintf(why, cap, "%s", tmp);
    return NC_EINVAL;
  }
  /* servers that close without close_notify are common; the answer was
   * asked to end with the connection */
  SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
  int rc = NC_ENOMEM;
  if (SSL_set_fd(ssl, fd) != 1)
    goto out;
  if ((rc = tls_handshake(ssl, fd, deadline, why, cap)) != 0 ||
      (rc = tls_send_all(ssl, fd, req, len, deadline, why, cap)) != 0 ||
      (rc = tls_read_all(ssl, fd, deadline, max, r, n, why, cap)) != 0)
    goto out;
  ERR_clear_error();
  SSL_shutdown(ssl); /* our close_notify, best effort */
out:
  ERR_clear_error();
  SSL_free(ssl);
  return rc;
}

/* OpenSSL writes the socket with write(2), not send(MSG_NOSIGNAL): a
 * server that has reset the connection would raise SIGPIPE, which kills a
 * program that does not ignore it (nacos-agent does; the tests and
 * nacosctl need not). So it is blocked on this thread for the exchange
 * and a pending one is consumed. */
int nc_tls_cli_exchange(const nc_tls_cli *t, const char *host, int fd, const char *req,
                        size_t len, long long deadline_ms, size_t max, char **resp, size_t *n,
                        char *why, size_t why_cap) {
  *resp = NULL;
  *n = 0;
  if (why && why_cap)
    why[0] = '\0';
  sigset_t pipe, old;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  int rc = exchange_io(t, host, fd, req, len, deadline_ms, max, resp, n, why, why_cap);
  sigset_t pending;
  struct timespec zero = {0, 0};
  if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) && !sigismember(&old, SIGPIPE))
    sigtimedwait(&pipe, NULL, &zero);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}
