/* nacosctl_http: see nacosctl_http.h. */
#include "nacosctl_http.h"
#include "nc_err.h"
#include "nc_tls_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_REPLY (8u << 20)

/* The HTTPS context of this run (ctl_http_server makes it, one per
 * process: the system trust store alone takes ~85 ms to load). */
static nc_tls_cli *ctl_tls;

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

/* Plain HTTP: writes req and reads to EOF into *buf (NUL-terminated, *len
 * bytes); 0, or -1 with why. */
static int plain_exchange(int fd, const char *server, const ctl_buf *req, char **buf,
                          size_t *len, char *why, size_t wcap) {
  size_t cap = 0;
  *buf = NULL;
  *len = 0;
  if (write_all(fd, req->s, req->len) != 0) {
    snprintf(why, wcap, "cannot send to %s: %s", server, strerror(errno));
    return -1;
  }
  for (;;) {
    if (*len + 4096 + 1 > cap) {
      char *nb = cap < MAX_REPLY ? realloc(*buf, cap = cap ? cap * 2 : 16384) : NULL;
      if (!nb) {
        snprintf(why, wcap, "reply from %s too large", server);
        return -1;
      }
      *buf = nb;
    }
    ssize_t got = read(fd, *buf + *len, cap - *len - 1);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      snprintf(why, wcap, "reading from %s: %s", server,
               errno == EAGAIN ? "timed out (--timeout)" : strerror(errno));
      return -1;
    }
    if (got == 0)
      break;
    *len += (size_t)got;
  }
  (*buf)[*len] = '\0';
  return 0;
}

/* HTTPS on the connected fd (made non-blocking: the exchange polls under
 * one deadline); as plain_exchange. */
static int tls_exchange(int fd, const char *host, const char *server, const ctl_buf *req,
                        int timeout_ms, char **buf, size_t *len, char *why, size_t wcap) {
  char tls_why[300];
  int fl = fcntl(fd, F_GETFL);
  if (!ctl_tls || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    snprintf(why, wcap, "%s: no TLS context", server);
    return -1;
  }
  int rc = nc_tls_cli_exchange(ctl_tls, host, fd, req->s, req->len,
                               nc_tls_cli_now_ms() + timeout_ms, MAX_REPLY, buf, len, tls_why,
                               sizeof(tls_why));
  if (rc == 0)
    return 0;
  if (tls_why[0])
    snprintf(why, wcap, "%s: %s", server, tls_why);
  else if (rc == NC_ETIMEOUT)
    snprintf(why, wcap, "%s: timed out (--timeout)", server);
  else
    snprintf(why, wcap, "%s: %s", server,
             rc == NC_EIO ? "reply too large or connection lost" : "TLS exchange failed");
  return -1;
}

char *ctl_http_request(const char *server, const char *method, const char *path,
                       const char *form, const char *token, int timeout_ms, int *status,
                       char *why, size_t wcap) {
  char host[256], port[16];
  char *buf = NULL, *body = NULL;
  size_t len = 0, flen = form ? strlen(form) : 0;
  ctl_buf req = {0};
  int fd = -1, rc;
  const char *hp = server;
  int tls = ctl_http_scheme(server, &hp);
  if (tls < 0 || ctl_http_split(hp, host, sizeof(host), port, sizeof(port)) != 0) {
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
           method, path, hp);
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
  rc = tls ? tls_exchange(fd, host, server, &req, timeout_ms, &buf, &len, why, wcap)
           : plain_exchange(fd, server, &req, &buf, &len, why, wcap);
  if (rc != 0)
    goto out;
  if (len == 0) {
    snprintf(why, wcap, "%s closed the connection without an answer%s", server,
             tls ? "" : " (an HTTPS port? --server https://HOST:PORT)");
    goto out;
  }
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

int ctl_http_scheme(const char *server, const char **hostport) {
  const char *sep = strstr(server, "://");
  *hostport = server;
  if (!sep)
    return 0;
  *hostport = sep + 3;
  if ((size_t)(sep - server) == 4 && !strncasecmp(server, "http", 4))
    return 0;
  if ((size_t)(sep - server) == 5 && !strncasecmp(server, "https", 5))
    return 1;
  return -1;
}

/* Makes ctl_tls from a's --tls-* options; 0 or the exit code after
 * printing why (a local problem: a file, its mode; exit 2 as for the
 * secret files). */
static int tls_setup(const char *what, const ctl_args *a) {
  char err[400];
  nc_tls_cli_opts o = {.ca_file = a->tls_ca,
                       .cert_file = a->tls_cert,
                       .key_file = a->tls_key,
                       .server_name = a->tls_server_name,
                       .key_private = 1};
  if (ctl_tls)
    return 0;
  if (!a->tls_cert != !a->tls_key)
    return ctl_usage_error(what, "%s", a->tls_cert ? "--tls-cert needs --tls-key FILE"
                                                   : "--tls-key needs --tls-cert FILE");
  if (a->tls_server_name && !*a->tls_server_name)
    return ctl_usage_error(what, "%s", "--tls-server-name needs a name");
  if (nc_tls_cli_new(&o, &ctl_tls, err, sizeof(err)) != 0) {
    fprintf(stderr, "%s: %s: %s\n", ctl_prog, what, err);
    return CTL_EXIT_USAGE;
  }
  return 0;
}

void ctl_http_done(void) {
  nc_tls_cli_free(ctl_tls);
  ctl_tls = NULL;
}

int ctl_http_server(nc_ipc *c, const ctl_args *a, const char *what, char *buf, size_t cap) {
  cJSON *r = NULL;
  char hp[300];
  int tls = a->tls;
  if (a->server) {
    const char *rest;
    int sch = ctl_http_scheme(a->server, &rest);
    if (sch < 0)
      return ctl_usage_error(what, "bad --server '%s' (want HOST:PORT, http:// or https://)",
                             a->server);
    if (sch == 0 && a->tls && rest != a->server)
      return ctl_usage_error(what, "--tls with an http:// server '%s'", a->server);
    tls |= sch;
    snprintf(hp, sizeof(hp), "%s", rest);
  } else {
    int err = nc_ipc_status(c, NC_IPC_TIMEOUT_DEFAULT, &r);
    if (err)
      return ctl_fail(c, what, err);
    /* The agent names its upstream "host:mainPort", a v6 host without
     * brackets: they are added. An agent that says its upstream is TLS
     * ("tls": true) gets HTTPS too. */
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "server");
    const char *v = cJSON_IsString(s) ? s->valuestring : "";
    const char *colon = strrchr(v, ':');
    int ok = colon && colon != v;
    if (ok && v[0] != '[' && strchr(v, ':') != colon)
      snprintf(hp, sizeof(hp), "[%.*s]%s", (int)(colon - v), v, colon);
    else if (ok)
      snprintf(hp, sizeof(hp), "%s", v);
    tls |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "tls"));
    cJSON_Delete(r);
    if (!ok) {
      fprintf(stderr, "%s: %s: the agent has no upstream server; name one with --server\n",
              ctl_prog, what);
      return CTL_EXIT_UNREACHABLE;
    }
  }
  const char *tls_opt = a->tls_ca            ? "--tls-ca"
                        : a->tls_server_name ? "--tls-server-name"
                        : a->tls_cert        ? "--tls-cert"
                        : a->tls_key         ? "--tls-key"
                                             : NULL;
  if (!tls && tls_opt)
    return ctl_usage_error(what, "%s is for HTTPS: --server https://HOST:PORT or --tls", tls_opt);
  int rc = tls ? tls_setup(what, a) : 0;
  if (rc)
    return rc;
  snprintf(buf, cap, "%s%s", tls ? "https://" : "", hp);
  return 0;
}
