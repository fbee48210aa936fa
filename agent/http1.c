/* http1: see http1.h. With TLS the socket stays non-blocking and every
 * OpenSSL call that wants I/O waits for it with poll under the same
 * deadline. */
#include "http1.h"
#include "nc_err.h"
#include "nc_tls_cli.h"

#include <openssl/err.h>
#include "nc_tls_ossl.h" /* after the OpenSSL headers: calls go through its table */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline: 0, NC_ETIMEOUT or NC_EIO. */
static int wait_fd(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - now_ms();
    if (left <= 0)
      return NC_ETIMEOUT;
    struct pollfd pf = {.fd = fd, .events = events};
    int n = poll(&pf, 1, (int)left);
    if (n > 0)
      return 0;
    if (n < 0 && errno != EINTR)
      return NC_EIO;
  }
}

static int connect_to(const char *host, int port, long long deadline, int *out) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
  char ps[16];
  snprintf(ps, sizeof(ps), "%d", port);
  if (getaddrinfo(host, ps, &hints, &res) != 0 || !res)
    return NC_EUNAVAIL;
  int rc = NC_EUNAVAIL;
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    goto out;
  if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    int err = 0;
    socklen_t el = sizeof(err);
    if (errno != EINPROGRESS || (rc = wait_fd(fd, POLLOUT, deadline)) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
      rc = rc ? rc : NC_EUNAVAIL;
      close(fd);
      goto out;
    }
  }
  *out = fd;
  rc = 0;
out:
  freeaddrinfo(res);
  return rc;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline) {
  while (len > 0) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return NC_EIO;
    int rc = wait_fd(fd, POLLOUT, deadline);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* Reads until the peer closes (we asked it to). *buf NUL-terminated. */
static int read_all(int fd, long long deadline, char **buf, size_t *len) {
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  if (!b)
    return NC_ENOMEM;
  for (;;) {
    if (n + 1 >= cap) {
      char *nb = cap >= NC_AG_HTTP1_MAX ? NULL : realloc(b, cap * 2);
      if (!nb) {
        free(b);
        return cap >= NC_AG_HTTP1_MAX ? NC_EIO : NC_ENOMEM;
      }
      b = nb;
      cap *= 2;
    }
    ssize_t r = recv(fd, b + n, cap - n - 1, 0);
    if (r > 0) {
      n += (size_t)r;
      continue;
    }
    if (r == 0)
      break;
    int rc = errno == EAGAIN || errno == EINTR ? wait_fd(fd, POLLIN, deadline) : NC_EIO;
    if (rc != 0) {
      free(b);
      return rc;
    }
  }
  b[n] = '\0';
  *buf = b;
  *len = n;
  return 0;
}

/* ---- TLS ---- */

static int tls_exchange_io(const nc_tls_cli *tls, const char *host, int fd, const char *req,
                           size_t len, long long deadline, char **r, size_t *n, char *why,
                           size_t cap);

/* Waits for what the last OpenSSL call on ssl (which returned ret) wants:
 * 0 to retry it, else NC_ETIMEOUT / NC_EIO with why (when not timed out)
 * in the caller's buffer. */
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
    int n = SSL_write(ssl, buf, (int)len);
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

/* As read_all; the end is the server's close_notify or its EOF (the
 * answer is read to the close either way). */
static int tls_read_all(SSL *ssl, int fd, long long deadline, char **buf, size_t *len, char *why,
                        size_t cap) {
  size_t bcap = 4096, n = 0;
  char *b = malloc(bcap);
  if (!b)
    return NC_ENOMEM;
  for (;;) {
    if (n + 1 >= bcap) {
      char *nb = bcap >= NC_AG_HTTP1_MAX ? NULL : realloc(b, bcap * 2);
      if (!nb) {
        free(b);
        return bcap >= NC_AG_HTTP1_MAX ? NC_EIO : NC_ENOMEM;
      }
      b = nb;
      bcap *= 2;
    }
    ERR_clear_error();
    int r = SSL_read(ssl, b + n, (int)(bcap - n - 1));
    if (r > 0) {
      n += (size_t)r;
      continue;
    }
    if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN)
      break;
    int rc = tls_wait(ssl, fd, r, deadline, why, cap);
    if (rc != 0) {
      free(b);
      return rc;
    }
  }
  b[n] = '\0';
  *buf = b;
  *len = n;
  return 0;
}

/* One exchange over TLS on the connected fd. OpenSSL writes the socket
 * with write(2), not send(MSG_NOSIGNAL): a server that has reset the
 * connection would raise SIGPIPE, which kills a program that does not
 * ignore it (nacos-agent does; the tests and nacosctl need not). So it is
 * blocked on this thread for the exchange and a pending one is consumed. */
static int tls_exchange(const nc_tls_cli *tls, const char *host, int fd, const char *req,
                        size_t len, long long deadline, char **r, size_t *n, char *why,
                        size_t cap) {
  sigset_t pipe, old;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  int rc = tls_exchange_io(tls, host, fd, req, len, deadline, r, n, why, cap);
  sigset_t pending;
  struct timespec zero = {0, 0};
  if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) && !sigismember(&old, SIGPIPE))
    sigtimedwait(&pipe, NULL, &zero);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}

static int tls_exchange_io(const nc_tls_cli *tls, const char *host, int fd, const char *req,
                           size_t len, long long deadline, char **r, size_t *n, char *why,
                           size_t cap) {
  char tmp[200];
  SSL *ssl = nc_tls_cli_ssl(tls, host, tmp, sizeof(tmp));
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
      (rc = tls_read_all(ssl, fd, deadline, r, n, why, cap)) != 0)
    goto out;
  ERR_clear_error();
  SSL_shutdown(ssl); /* our close_notify, best effort */
out:
  ERR_clear_error();
  SSL_free(ssl);
  return rc;
}

int nc_ag_http1(const char *host, int port, const char *req, size_t len, int timeout_ms,
                int *status, char **resp, char **body) {
  return nc_ag_http1_tls(NULL, host, port, req, len, timeout_ms, status, resp, body, NULL, 0);
}

int nc_ag_http1_tls(const nc_tls_cli *tls, const char *host, int port, const char *req,
                    size_t len, int timeout_ms, int *status, char **resp, char **body, char *why,
                    size_t why_cap) {
  long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 500);
  int fd = -1, rc;
  *resp = *body = NULL;
  *status = 0;
  if (why && why_cap)
    why[0] = '\0';
  if ((rc = connect_to(host, port, deadline, &fd)) != 0)
    return rc;
  size_t n = 0;
  char *r = NULL;
  if (tls)
    rc = tls_exchange(tls, host, fd, req, len, deadline, &r, &n, why, why_cap);
  else if ((rc = send_all(fd, req, len, deadline)) == 0)
    rc = read_all(fd, deadline, &r, &n);
  if (rc != 0)
    goto out;
  char *b = strstr(r, "\r\n\r\n");
  if (sscanf(r, "HTTP/1.%*d %d", status) != 1 || !b) {
    rc = NC_EPARSE;
    free(r);
    goto out;
  }
  *b = '\0'; /* headers end here; body after */
  *resp = r;
  *body = b + 4;
out:
  close(fd);
  return rc;
}
