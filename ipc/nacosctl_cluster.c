/* nacosctl cluster: a nacosd cluster's member list as one server sees it,
 * from GET /nacos/v1/core/cluster/nodes on that server's main port (the
 * agent's current upstream server unless --server names one). A plain
 * HTTP/1.1 GET with "Connection: close" over a socket: nacosctl stays
 * libc + cJSON, like the nc_ipc library it is built on. */
#include "nacosctl.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_REPLY (8u << 20)

/* host:port / [v6]:port into host and port; 0 or -1. */
static int split_server(const char *s, char *host, size_t cap, char *port, size_t pcap) {
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
  int fd = -1;
  if (getaddrinfo(host, port, &hints, &res) != 0)
    return -1;
  for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  return fd;
}

/* GETs path from server; the body (caller frees) and *status, or NULL
 * with errno-style text in why. */
static char *http_get(const char *server, const char *path, int timeout_ms, int *status,
                      char *why, size_t wcap) {
  char host[256], port[16], req[1024];
  char *buf = NULL, *body = NULL;
  size_t len = 0, cap = 0;
  if (split_server(server, host, sizeof(host), port, sizeof(port)) != 0) {
    snprintf(why, wcap, "bad server address '%s' (want HOST:PORT, the main port)", server);
    return NULL;
  }
  int fd = dial(host, port, timeout_ms);
  if (fd < 0) {
    snprintf(why, wcap, "cannot connect to %s: %s", server, strerror(errno));
    return NULL;
  }
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                   "Connection: close\r\n\r\n",
                   path, server);
  if (write(fd, req, (size_t)n) != n) {
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
      snprintf(why, wcap, "reading from %s: %s", server, strerror(errno));
      goto out;
    }
    if (got == 0)
      break;
    len += (size_t)got;
  }
  buf[len] = '\0';
  char *sep = strstr(buf, "\r\n\r\n");
  if (!sep || sscanf(buf, "HTTP/%*d.%*d %d", status) != 1) {
    snprintf(why, wcap, "%s did not answer HTTP", server);
    goto out;
  }
  body = strdup(sep + 4);
out:
  close(fd);
  free(buf);
  return body;
}

/* The agent's current upstream server into buf as "host:mainPort" (the
 * agent names a v6 host without brackets: they are added). */
static int agent_server(nc_ipc *c, char *buf, size_t cap) {
  cJSON *r = NULL;
  int err = nc_ipc_status(c, NC_IPC_TIMEOUT_DEFAULT, &r);
  if (err)
    return ctl_fail(c, "cluster", err);
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
    fprintf(stderr, "%s: cluster: the agent has no upstream server; name one with --server\n",
            ctl_prog);
    return CTL_EXIT_UNREACHABLE;
  }
  return 0;
}

/* One table row of a Member. */
static cJSON *member_row(const cJSON *m) {
  const cJSON *ext = cJSON_GetObjectItemCaseSensitive(m, "extendInfo");
  const cJSON *rd = cJSON_GetObjectItemCaseSensitive(ext, "nc.ready");
  const cJSON *cn = cJSON_GetObjectItemCaseSensitive(ext, "nc.connections");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(ext, "version");
  const cJSON *lr = cJSON_GetObjectItemCaseSensitive(ext, "lastRefreshTime");
  const cJSON *addr = cJSON_GetObjectItemCaseSensitive(m, "address");
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "state");
  cJSON *row = cJSON_CreateObject();
  if (!row)
    return NULL;
  cJSON_AddStringToObject(row, "address", cJSON_IsString(addr) ? addr->valuestring : "?");
  cJSON_AddStringToObject(row, "state", cJSON_IsString(st) ? st->valuestring : "?");
  cJSON_AddStringToObject(row, "ready", cJSON_IsBool(rd) ? (cJSON_IsTrue(rd) ? "yes" : "no") : "-");
  cJSON_AddStringToObject(row, "version", cJSON_IsString(ver) ? ver->valuestring : "-");
  if (cJSON_IsNumber(cn))
    cJSON_AddNumberToObject(row, "connections", cn->valuedouble);
  else
    cJSON_AddStringToObject(row, "connections", "-");
  if (cJSON_IsNumber(lr))
    cJSON_AddNumberToObject(row, "lastRefresh", lr->valuedouble);
  else
    cJSON_AddStringToObject(row, "lastRefresh", "-");
  return row;
}

int ctl_cmd_cluster(nc_ipc *c, const ctl_args *a) {
  char server[300], why[512];
  int status = 0, rc;
  if (a->server)
    snprintf(server, sizeof(server), "%s", a->server);
  else if ((rc = agent_server(c, server, sizeof(server))) != 0)
    return rc;
  char *body = http_get(server, "/nacos/v1/core/cluster/nodes", a->timeout_ms, &status, why,
                        sizeof(why));
  if (!body) {
    fprintf(stderr, "%s: cluster: %s\n", ctl_prog, why);
    return CTL_EXIT_UNREACHABLE;
  }
  cJSON *j = cJSON_Parse(body);
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
  free(body);
  if (status != 200 || !cJSON_IsArray(data)) {
    fprintf(stderr, "%s: cluster: %s answered HTTP %d without a member list%s\n", ctl_prog,
            server, status, status == 404 ? " (not a nacosd main port?)" : "");
    cJSON_Delete(j);
    return CTL_EXIT_AGENT;
  }
  if (a->json) {
    const cJSON *m;
    cJSON_ArrayForEach(m, data) ctl_print_json_line(m);
  } else {
    static const char *const heads[] = {"ADDRESS", "STATE",       "READY",
                                        "VERSION", "CONNECTIONS", "LAST REFRESH"};
    static const char *const keys[] = {"address", "state",       "ready",
                                       "version", "connections", "lastRefresh"};
    cJSON *rows = cJSON_CreateArray();
    const cJSON *m;
    cJSON_ArrayForEach(m, data) {
      cJSON *row = member_row(m);
      if (row)
        cJSON_AddItemToArray(rows, row);
    }
    ctl_print_table(rows, heads, keys, 6, "(no members)");
    cJSON_Delete(rows);
  }
  cJSON_Delete(j);
  return 0;
}
