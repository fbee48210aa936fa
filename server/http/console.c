/* console: see console.h. */
#include "console.h"

#include "nc_err.h"
#include "srv_rpc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "/nacos/v2/core/loader/"
#define VAL_MAX 512

static int hexval(int c) {
  return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Value of key in the query string q (URL-decoded into out). 1 found,
 * 0 absent, -1 malformed or too long. */
static int query_get(const char *q, const char *key, char *out, size_t cap) {
  size_t kl = strlen(key);
  while (q && *q) {
    const char *amp = strchr(q, '&');
    const char *end = amp ? amp : q + strlen(q);
    if ((size_t)(end - q) >= kl && strncmp(q, key, kl) == 0 && (q[kl] == '=' || q + kl == end)) {
      const char *v = q[kl] == '=' ? q + kl + 1 : end;
      size_t n = 0;
      while (v < end) {
        int c = (unsigned char)*v++;
        if (c == '+')
          c = ' ';
        else if (c == '%') {
          int h = end - v >= 2 ? hexval((unsigned char)v[0]) : -1;
          int l = h >= 0 ? hexval((unsigned char)v[1]) : -1;
          if (l < 0)
            return -1;
          c = h * 16 + l;
          v += 2;
        }
        if (c == 0 || n + 1 >= cap)
          return -1;
        out[n++] = (char)c;
      }
      out[n] = 0;
      return 1;
    }
    q = amp ? amp + 1 : NULL;
  }
  return 0;
}

static char *bad(int *code, const char *msg) {
  *code = 400;
  char *s = malloc(strlen(msg) + 2);
  if (s)
    sprintf(s, "%s\n", msg);
  return s;
}

/* Optional redirectAddress: 0 ok (*out NULL when absent/blank), -1 bad. */
static int get_redirect(const char *q, char *buf, size_t cap, const char **out) {
  char ip[256];
  int port;
  int rc = query_get(q, "redirectAddress", buf, cap);
  *out = NULL;
  if (rc < 0)
    return -1;
  if (rc == 0 || !*buf)
    return 0;
  if (nc_srv_parse_redirect(buf, ip, sizeof(ip), &port) != 0)
    return -1;
  *out = buf;
  return 0;
}

char *nc_console_route(void *ud, const char *target, int *code, const char **ctype) {
  nc_srv *srv = ud;
  char path[256], val[VAL_MAX], redir[VAL_MAX];
  const char *qm = strchr(target, '?');
  size_t pl = qm ? (size_t)(qm - target) : strlen(target);
  const char *q = qm ? qm + 1 : "";
  const char *redirect = NULL;
  if (pl >= sizeof(path) || strncmp(target, PREFIX, strlen(PREFIX)) != 0)
    return NULL;
  memcpy(path, target + strlen(PREFIX), pl - strlen(PREFIX));
  path[pl - strlen(PREFIX)] = 0;
  *code = 200;
  *ctype = "text/plain";
  if (strcmp(path, "current") == 0) {
    char *s = nc_srv_loader_current(srv);
    if (!s) {
      *code = 500;
      return strdup("out of memory\n");
    }
    *ctype = "application/json";
    return s;
  }
  if (strcmp(path, "reloadClient") == 0) {
    int rc = query_get(q, "connectionId", val, sizeof(val));
    if (rc <= 0 || !*val)
      return bad(code, rc < 0 ? "malformed parameter 'connectionId'"
                              : "missing required parameter 'connectionId'");
    if (get_redirect(q, redir, sizeof(redir), &redirect) != 0)
      return bad(code, "parameter 'redirectAddress' must be ip:port");
    rc = nc_srv_reload_client(srv, val, redirect);
    if (rc == NC_ENOTFOUND) {
      *code = 404;
      return strdup("connection not found\n");
    }
    if (rc) {
      *code = 500;
      char *s = malloc(128);
      if (s)
        snprintf(s, 128, "could not send ConnectResetRequest: %s\n", nc_strerror(rc));
      return s;
    }
    return strdup("success");
  }
  if (strcmp(path, "reloadCurrent") == 0) {
    int rc = query_get(q, "count", val, sizeof(val));
    char *end = NULL;
    long n = rc > 0 && *val ? strtol(val, &end, 10) : -1;
    if (rc <= 0 || !*val || *end || n < 0 || n > 100000000)
      return bad(code, rc == 0 ? "missing required parameter 'count'"
                               : "parameter 'count' must be a non-negative integer");
    if (get_redirect(q, redir, sizeof(redir), &redirect) != 0)
      return bad(code, "parameter 'redirectAddress' must be ip:port");
    if (nc_srv_reload_current(srv, n, redirect) != 0) {
      *code = 500;
      return strdup("out of memory\n");
    }
    return strdup("success");
  }
  return NULL;
}
