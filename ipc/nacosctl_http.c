/* nacosctl_http: see nacosctl_http.h. */
#include "nacosctl_http.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_REPLY (8u << 20)

void ctl_buf_add(ctl_buf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

static void add_encoded(ctl_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        strchr("-_.~*", *p))
      ctl_buf_add(b, (const char *)p, 1);
    else
      ctl_buf_add(b, e, 3);
  }
}

void ctl_buf_param(ctl_buf *b, const char *name, const char *value) {
  if (b->len && b->s[b->len - 1] != '?')
    ctl_buf_add(b, "&", 1);
  add_encoded(b, name);
  ctl_buf_add(b, "=", 1);
  add_encoded(b, value ? value : "");
}

void ctl_buf_free(ctl_buf *b) {
  if (b->s)
    memset(b->s, 0, b->cap); /* form bodies may hold a password */
  free(b->s);
  memset(b, 0, sizeof(*b));
}

int ctl_http_split(const char *s, char *host, size_t cap, char *port, size_t pcap) {
  const char *colon = strrchr(s, ':');
  int br = s[0] == '[';
  if (!colon || colon == s || !colon[1] || strlen(colon + 1) >= pcap)
    return -1;
  size_t hl = (size_t)(colon - s) - (br ? 2 : 0);
  if ((br && colon[-1] != ']') || hl == 0 || hl >= cap)
    return -1;
  memcpy(host, s + br, hl);
  host[hl] = '\0';
  snprintf(port, pcap, "%s", colon + 1);
  return 0;
}

static int dial(const char *host, const char *port, int timeout_ms) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  int fd = -1, err = ECONNREFUSED;
  if (getaddrinfo(host, port, &hints, &res) != 0) {
    errno = EHOSTUNREACH;
    return -1;
  }
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0)
    errno = err;
  return fd;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

char *ctl_http_request(const char *server, const char *method, const char *path,
                       const char *form, const char *token, int timeout_ms, int *status,
                       char *why, size_t wcap) {
  char host[256], port[16];
  char *buf = NULL, *body = NULL;
  size_t len = 0, cap = 0, flen = form ? strlen(form) : 0;
  ctl_buf req = {0};
  int fd = -1;
  if (ctl_http_split(server, host, sizeof(host), port, sizeof(port)) != 0) {
    snprintf(why, wcap, "bad server address '%s' (want HOST:PORT, the main port)", server);
    return NULL;
  }
  if ((fd = dial(host, port, timeout_ms)) < 0) {
    snprintf(why, wcap, "cannot connect to %s: %s", server, strerror(errno));
    return NULL;
  }
  char head[512];
  snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                               "Connection: close\r\n",
           method, path, server);
  ctl_buf_add(&req, head, strlen(head));
  if (token && *token) {
    ctl_buf_add(&req, "Authorization: Bearer ", 22);
    ctl_buf_add(&req, token, strlen(token));
    ctl_buf_add(&req, "\r\n", 2);
  }
  if (form) {
    snprintf(head, sizeof(head),
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n", flen);
    ctl_buf_add(&req, head, strlen(head));
  }
  ctl_buf_add(&req, "\r\n", 2);
  if (form)
    ctl_buf_add(&req, form, flen);
  if (req.oom) {
    snprintf(why, wcap, "out of memory");
    goto out;
  }
  if (write_all(fd, req.s, req.len) != 0) {
    snprintf(why, wcap, "cannot send to %s: %s", server, strerror(errno));
    goto out;
  }
  for (;;) {
    if (len + 4096 + 1 > cap) {
      char *nb = cap < MAX_REPLY ? realloc(buf, cap = cap ? cap * 2 : 16384) : NULL;
      if (!nb) {
        snprintf(why, wcap, "reply from %s too large", server);
        goto out;
      }
      buf = nb;
    }
    ssize_t got = read(fd, buf + len, cap - len - 1);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      snprintf(why, wcap, "reading from %s: %s", server,
               errno == EAGAIN ? "timed out (--timeout)" : strerror(errno));
      goto out;
    }
    if (got == 0)
      break;
    len += (size_t)got;
  }
  if (!buf) {
    snprintf(why, wcap, "%s closed the connection without an answer", server);
    goto out;
  }
  buf[len] = '\0';
  char *sep = strstr(buf, "\r\n\r\n");
  if (!sep || sscanf(buf, "HTTP/%*d.%*d %d", status) != 1) {
    snprintf(why, wcap, "%s did not answer HTTP", server);
    goto out;
  }
  body = strdup(sep + 4);
  if (!body)
    snprintf(why, wcap, "out of memory");
out:
  ctl_buf_free(&req);
  if (fd >= 0)
    close(fd);
  free(buf);
  return body;
}

int ctl_http_server(nc_ipc *c, const ctl_args *a, const char *what, char *buf, size_t cap) {
  cJSON *r = NULL;
  if (a->server) {
    snprintf(buf, cap, "%s", a->server);
    return 0;
  }
  int err = nc_ipc_status(c, NC_IPC_TIMEOUT_DEFAULT, &r);
  if (err)
    return ctl_fail(c, what, err);
  /* The agent names its upstream "host:mainPort", a v6 host without
   * brackets: they are added. */
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "server");
  const char *v = cJSON_IsString(s) ? s->valuestring : "";
  const char *colon = strrchr(v, ':');
  int ok = colon && colon != v;
  if (ok && v[0] != '[' && strchr(v, ':') != colon)
    snprintf(buf, cap, "[%.*s]%s", (int)(colon - v), v, colon);
  else if (ok)
    snprintf(buf, cap, "%s", v);
  cJSON_Delete(r);
  if (!ok) {
    fprintf(stderr, "%s: %s: the agent has no upstream server; name one with --server\n",
            ctl_prog, what);
    return CTL_EXIT_UNREACHABLE;
  }
  return 0;
}
