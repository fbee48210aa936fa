/* http1: see http1.h. With TLS the socket stays non-blocking and the
 * exchange is nc_tls_cli_exchange's (shared with nacosctl), under the
 * same deadline. */
#include "http1.h"
#include "nc_err.h"
#include "nc_tls_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


static long long now_ms(void) { return nc_tls_cli_now_ms(); }

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
    rc = nc_tls_cli_exchange(tls, host, fd, req, len, deadline, NC_AG_HTTP1_MAX, &r, &n, why,
                             why_cap);
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
