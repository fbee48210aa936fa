/* nc_testhttp: see nc_testhttp.h. */
#include "nc_testhttp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* One HTTP/1.0 request; form (may be NULL) goes as a urlencoded body,
 * token (may be NULL) as a bearer header. */
static int do_req(const char *host, int port, const char *method, const char *path,
                  const char *form, const char *token, int *status, char **body) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  struct timeval tv = {5, 0};
  char req[4096];
  size_t len = 0, cap = 65536;
  char *buf = malloc(cap);
  if (body)
    *body = NULL;
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  if (!host)
    host = "127.0.0.1";
  int n = snprintf(req, sizeof(req),
                   "%s %s HTTP/1.0\r\nHost: %s\r\n%s%s%s%s%zu\r\n\r\n%s", method, path, host,
                   token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "",
                   "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ",
                   form ? strlen(form) : 0, form ? form : "");
  if (fd < 0 || !buf || n < 0 || (size_t)n >= sizeof(req) ||
      inet_pton(AF_INET, host, &sa.sin_addr) != 1)
    goto fail;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
    goto fail;
  for (;;) {
    if (len + 1 >= cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb)
        goto fail;
      buf = nb;
      cap *= 2;
    }
    ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
    if (r < 0)
      goto fail;
    if (r == 0)
      break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = 0;
  char *sep = strstr(buf, "\r\n\r\n");
  if (strncmp(buf, "HTTP/1.", 7) != 0 || !strchr(buf, ' ') || !sep) {
    free(buf);
    return -1;
  }
  *status = atoi(strchr(buf, ' ') + 1);
  if (body) {
    memmove(buf, sep + 4, len - (size_t)(sep + 4 - buf) + 1);
    *body = buf;
  } else {
    free(buf);
  }
  return 0;
fail:
  if (fd >= 0)
    close(fd);
  free(buf);
  return -1;
}

int nc_test_http_get_at(const char *host, int port, const char *path, int *status, char **body) {
  return do_req(host, port, "GET", path, NULL, NULL, status, body);
}

int nc_test_http_req(int port, const char *method, const char *path, const char *form,
                     const char *token, int *status, char **body) {
  return do_req(NULL, port, method, path, form, token, status, body);
}

int nc_test_http_get(int port, const char *path, int *status, char **body) {
  return nc_test_http_get_at(NULL, port, path, status, body);
}

long long nc_test_metric_value(const char *body, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (!strncmp(p, name, nl) && p[nl] == ' ')
      return atoll(p + nl + 1);
  return -1;
}

long long nc_test_metric_at(const char *host, int port, const char *name) {
  int st = 0;
  char *body = NULL;
  long long v = -1;
  if (nc_test_http_get_at(host, port, "/metrics", &st, &body) == 0 && st == 200)
    v = nc_test_metric_value(body, name);
  free(body);
  return v;
}

int nc_test_metrics_samples(const char *body, const char *prefix) {
  int samples = 0;
  for (const char *p = body; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
    if (*p == '#' || *p == '\n')
      continue;
    char name[128], want[160];
    size_t n = strcspn(p, "{ \n");
    if (n == 0 || n >= sizeof(name))
      return -1;
    memcpy(name, p, n);
    name[n] = 0;
    const char *kind = n > 6 && !strcmp(name + n - 6, "_total") ? "counter" : "gauge";
    snprintf(want, sizeof(want), "# HELP %s ", name);
    int ok = strncmp(name, prefix, strlen(prefix)) == 0 && strstr(body, want);
    snprintf(want, sizeof(want), "# TYPE %s %s\n", name, kind);
    if (!ok || !strstr(body, want)) {
      fprintf(stderr, "metrics: sample %s lacks its prefix, HELP or TYPE line\n", name);
      return -1;
    }
    samples++;
  }
  return samples;
}
