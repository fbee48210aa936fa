/* http1: see http1.h. With TLS the socket stays non-blocking and the
 * exchange is nc_tls_cli_exchange's (shared with nacosctl), under the
 * same deadline. */
#include "http1.h"
#include "nc_err.h"
#include "nc_io.h"
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


static long long now_ms(void) { return nc_io_now_ms(); }
#define wait_fd nc_io_wait_fd

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

typedef struct plain_rd {
  int fd;
  long long deadline;
} plain_rd;

/* nc_io_read_fn over a plain socket: reads until the peer closes (we asked
 * it to). */
static long plain_read(void *ud, char *buf, size_t cap) {
  plain_rd *p = ud;
  for (;;) {
    ssize_t r = recv(p->fd, buf, cap, 0);
    if (r >= 0)
      return (long)r;
    int rc = errno == EAGAIN || errno == EINTR ? wait_fd(p->fd, POLLIN, p->deadline) : NC_EIO;
    if (rc != 0)
      return rc;
  }
}

static int read_all(int fd, long long deadline, char **buf, size_t *len) {
  plain_rd p = {fd, deadline};
  return nc_io_read_to_end(plain_read, &p, NC_AG_HTTP1_MAX, buf, len);
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
