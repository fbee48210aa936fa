/* auth_login: see auth_login.h. */
#include "auth_login.h"

#include "nc_err.h"
#include "nc_json.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* application/x-www-form-urlencoded value */
static size_t form_escape(char *out, size_t cap, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (; *s && n + 4 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out[n++] = (char)c;
    } else {
      out[n++] = '%';
      out[n++] = hex[c >> 4];
      out[n++] = hex[c & 15];
    }
  }
  out[n] = '\0';
  return n;
}

static int wait_fd(int fd, short ev, long long deadline) {
  long long left = deadline - mono_ms();
  if (left <= 0)
    return NC_ETIMEOUT;
  struct pollfd p = {.fd = fd, .events = ev};
  int r = poll(&p, 1, (int)left);
  return r > 0 ? 0 : r == 0 ? NC_ETIMEOUT : NC_EIO;
}

static int dial(const char *host, int port, long long deadline, int *fd_out) {
  char ps[16];
  snprintf(ps, sizeof(ps), "%d", port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
  if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
    return NC_EUNAVAIL;
  int rc = NC_EUNAVAIL;
  for (struct addrinfo *a = ai; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
      continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      close(fd);
      continue;
    }
    int err = 0;
    socklen_t el = sizeof(err);
    if ((rc = wait_fd(fd, POLLOUT, deadline)) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
      close(fd);
      rc = rc ? rc : NC_EUNAVAIL;
      continue;
    }
    *fd_out = fd;
    rc = 0;
    break;
  }
  freeaddrinfo(ai);
  return rc;
}

static int send_all(int fd, const char *p, size_t n, long long deadline) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      int rc = wait_fd(fd, POLLOUT, deadline);
      if (rc)
        return rc;
    } else {
      return NC_EIO;
    }
  }
  return 0;
}

/* Reads the whole answer (HTTP/1.0: the server closes) into buf. */
static int recv_all(int fd, char *buf, size_t cap, size_t *len, long long deadline) {
  *len = 0;
  for (;;) {
    if (*len + 1 >= cap)
      return NC_ETOOBIG;
    ssize_t r = recv(fd, buf + *len, cap - 1 - *len, 0);
    if (r > 0) {
      *len += (size_t)r;
    } else if (r == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      int rc = wait_fd(fd, POLLIN, deadline);
      if (rc)
        return rc;
    } else {
      return NC_EIO;
    }
  }
  buf[*len] = '\0';
  return 0;
}

int nc_ag_login_http(const char *host, int port, const char *user, const char *password,
                     int timeout_ms, nc_ag_login *out) {
  memset(out, 0, sizeof(*out));
  long long deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 3000);
  char form[1200], u[400], pw[700], req[1800], resp[8192];
  form_escape(u, sizeof(u), user);
  form_escape(pw, sizeof(pw), password);
  int fl = snprintf(form, sizeof(form), "username=%s&password=%s", u, pw);
  int n = snprintf(req, sizeof(req),
                   "POST /nacos/v1/auth/login HTTP/1.0\r\nHost: %s:%d\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
                   "User-Agent: nacos-agent\r\n\r\n%s",
                   host, port, fl, form);
  int fd = -1, rc;
  size_t len = 0;
  if (n < 0 || (size_t)n >= sizeof(req)) {
    snprintf(out->message, sizeof(out->message), "credentials too long");
    return NC_EINVAL;
  }
  if ((rc = dial(host, port, deadline, &fd)) != 0) {
    snprintf(out->message, sizeof(out->message), "cannot reach %s:%d: %s", host, port,
             nc_strerror(rc));
    return rc;
  }
  rc = send_all(fd, req, (size_t)n, deadline);
  if (!rc)
    rc = recv_all(fd, resp, sizeof(resp), &len, deadline);
  close(fd);
  if (rc) {
    snprintf(out->message, sizeof(out->message), "login to %s:%d: %s", host, port,
             nc_strerror(rc));
    return rc;
  }
  const char *body = strstr(resp, "\r\n\r\n");
  if (sscanf(resp, "HTTP/%*d.%*d %d", &out->http_status) != 1 || !body) {
    snprintf(out->message, sizeof(out->message), "login to %s:%d: not an HTTP answer", host,
             port);
    return NC_EPARSE;
  }
  cJSON *j = cJSON_Parse(body + 4);
  const char *tok = nc_json_str(j, "accessToken", "");
  if (out->http_status != 200 || !*tok) {
    /* Nacos answers a refusal as plain text or {"message":...} */
    const char *why = j ? nc_json_str(j, "message", body + 4) : body + 4;
    snprintf(out->message, sizeof(out->message), "login refused (HTTP %d): %.200s",
             out->http_status, why);
    cJSON_Delete(j);
    return out->http_status == 403 || out->http_status == 401 ? NC_EPERM : NC_EPARSE;
  }
  snprintf(out->token, sizeof(out->token), "%s", tok);
  out->ttl_s = (long)nc_json_int(j, "tokenTtl", 18000);
  cJSON_Delete(j);
  return 0;
}

int nc_ag_read_secret_file(const char *path, char *out, size_t cap, char *err, size_t err_cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    snprintf(err, err_cap, "cannot read %s: %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return NC_EIO;
  }
  if (st.st_mode & 077) {
    snprintf(err, err_cap, "%s is readable or writable by others (mode %04o): chmod 600 it", path,
             (unsigned)(st.st_mode & 07777));
    close(fd);
    return NC_EPERM;
  }
  ssize_t n = read(fd, out, cap - 1);
  close(fd);
  if (n < 0) {
    snprintf(err, err_cap, "cannot read %s: %s", path, strerror(errno));
    return NC_EIO;
  }
  out[n] = '\0';
  out[strcspn(out, "\r\n")] = '\0';
  if (!*out) {
    snprintf(err, err_cap, "%s is empty", path);
    return NC_EINVAL;
  }
  return 0;
}
