#include "agent_opts.h"
#include "nc_err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(x) offsetof(nc_agent_cfg, x)
const nc_opt nc_agent_opt_table[] = {
    {"servers", NC_OPT_STR, "127.0.0.1:8848", F(servers), 0, -1,
     "upstream servers host:port[#grpcport],... (gRPC port = port+1000 unless given; "
     "in a config file write host:port/grpcport, as '#' starts a comment)"},
    {"socket", NC_OPT_STR, "/run/nacos-agent/agent.sock", F(socket), 0, -1,
     "unix socket path for local apps"},
    {"cache-dir", NC_OPT_STR, "/var/cache/nacos-agent", F(cache_dir), 0, -1,
     "directory for the service-list and config cache"},
    {"log-level", NC_OPT_CHOICE, "info", F(log_level), 0, -1, "error|warn|info|debug|trace"},
    /* 25,231,360 = the server's 4 MiB config content cap x 6 (a control
     * byte escapes to \u00XX) + 64 KiB for the rest of the request, so any
     * content nacosd accepts fits in one line (ipc/nc_ipc.h has the same). */
    {"max-line", NC_OPT_INT, "25231360", F(max_line), 1024, 256L * 1024 * 1024,
     "longest accepted request line in bytes (default fits a 4 MiB config content)"},
    {"allowed-uids", NC_OPT_STR, NULL, F(allowed_uids), 0, -1,
     "comma list of peer uids allowed to connect (unset = everyone)"},
    {"socket-group", NC_OPT_STR, NULL, F(socket_group), 0, -1,
     "group (name or gid) owning the socket file (mode 0660)"},
    {"health-interval-ms", NC_OPT_INT, "5000", F(health_interval_ms), 100, 600000,
     "idle time before a HealthCheckRequest is sent upstream"},
    {"request-timeout-ms", NC_OPT_INT, "3000", F(request_timeout_ms), 100, 600000,
     "upstream request and health-check timeout"},
    {"app-name", NC_OPT_STR, "nacos-agent", F(app_name), 0, -1,
     "AppName label of the upstream connection"},
    {"client-ip", NC_OPT_STR, "127.0.0.1", F(client_ip), 0, -1,
     "client IP reported to the server (Metadata.clientIp)"},
    {"metrics-listen", NC_OPT_STR, NULL, F(metrics_listen), 0, -1,
     "IP:PORT serving GET /metrics (Prometheus text) and /health over HTTP; "
     "[v6]:PORT for IPv6; port 0 = a free port (agent.status metrics_port); unset = off"},
    {"username", NC_OPT_STR, NULL, F(username), 0, -1,
     "log in to nacosd (--auth on) as this user; the host's one identity upstream"},
    {"password-file", NC_OPT_STR, NULL, F(password_file), 0, -1,
     "file holding that user's password (first line); refused unless only its owner can read "
     "it (mode 0600)"},
    {"uid-policy", NC_OPT_STR, NULL, F(uid_policy), 0, -1,
     "namespaces local users may use: UID:r|rw:NS[,NS...];... (NS 'public' or '*'); a listed "
     "uid gets only what it is granted, others (and root) are not restricted"},
    {"tls", NC_OPT_CHOICE, "off", F(tls), 0, -1,
     "on|off TLS to the servers' gRPC and HTTP ports, verifying their certificates"},
    {"tls-ca", NC_OPT_STR, NULL, F(tls_ca), 0, -1,
     "PEM file of the CAs the servers' certificates must chain to (unset = the system "
     "trust store)"},
    {"tls-server-name", NC_OPT_STR, NULL, F(tls_server_name), 0, -1,
     "name (or IP) every server's certificate must carry, also sent as SNI (unset = the host "
     "of its --servers entry)"},
    {"tls-cert", NC_OPT_STR, NULL, F(tls_cert), 0, -1,
     "PEM client certificate for servers that require one (with --tls-key)"},
    {"tls-key", NC_OPT_STR, NULL, F(tls_key), 0, -1,
     "PEM key of --tls-cert; refused unless only its owner can read it (mode 0600)"},
};
#undef F
const size_t nc_agent_opt_count = sizeof(nc_agent_opt_table) / sizeof(nc_agent_opt_table[0]);

static int parse_port(const char *s, size_t len, int *out) {
  if (len == 0 || len > 5)
    return NC_EINVAL;
  int v = 0;
  for (size_t i = 0; i < len; i++) {
    if (!isdigit((unsigned char)s[i]))
      return NC_EINVAL;
    v = v * 10 + (s[i] - '0');
  }
  if (v < 1 || v > 65535)
    return NC_EINVAL;
  *out = v;
  return 0;
}

static int parse_entry(const char *s, size_t len, nc_server_addr *a, char *err, size_t errlen) {
  const char *end = s + len;
  /* '#' or '/' before the gRPC port: '#' starts a comment in config
   * files, so those write host:port/grpcport. */
  const char *hash = memchr(s, '#', len);
  if (!hash)
    hash = memchr(s, '/', len);
  const char *hp_end = hash ? hash : end;
  const char *host = s, *host_end, *port = NULL;
  memset(a, 0, sizeof(*a));
  if (len >= 7 && !strncmp(s, "http://", 7))
    host += 7;
  if (*host == '[') {
    host_end = memchr(host, ']', (size_t)(hp_end - host));
    if (!host_end)
      goto bad;
    host++;
    if (host_end + 1 < hp_end) {
      if (host_end[1] != ':')
        goto bad;
      port = host_end + 2;
    }
  } else {
    host_end = hp_end;
    for (const char *p = host; p < hp_end; p++)
      if (*p == ':') {
        host_end = p;
        port = p + 1;
        break;
      }
  }
  if (host_end == host || (size_t)(host_end - host) >= sizeof(a->host))
    goto bad;
  memcpy(a->host, host, (size_t)(host_end - host));
  a->port = 8848;
  if (port && parse_port(port, (size_t)(hp_end - port), &a->port))
    goto bad;
  a->grpc_port = a->port + 1000;
  if (hash && parse_port(hash + 1, (size_t)(end - hash - 1), &a->grpc_port))
    goto bad;
  if (a->grpc_port > 65535)
    goto bad;
  return 0;
bad:
  snprintf(err, errlen, "bad server entry '%.*s' (want host:port[#grpcport] or host:port/grpcport)",
           (int)len, s);
  return NC_EINVAL;
}

/* Next item of a list separated by commas and/or whitespace: returns its
 * start and sets *len, or NULL at the end. *p moves past the item. */
static const char *next_item(const char **p, size_t *len) {
  const char *s = *p;
  while (*s == ',' || isspace((unsigned char)*s))
    s++;
  const char *e = s;
  while (*e && *e != ',' && !isspace((unsigned char)*e))
    e++;
  *p = e;
  *len = (size_t)(e - s);
  return *len ? s : NULL;
}

int nc_agent_parse_servers(const char *s, nc_server_addr **out, size_t *n, char *err,
                           size_t errlen) {
  nc_server_addr *v = NULL;
  size_t cnt = 0;
  int rc = 0;
  *out = NULL;
  *n = 0;
  if (!s) {
    snprintf(err, errlen, "no servers given");
    return NC_EINVAL;
  }
  const char *p = s, *item;
  size_t len;
  while ((item = next_item(&p, &len)) != NULL) {
    nc_server_addr *nv = realloc(v, (cnt + 1) * sizeof(*v));
    if (!nv) {
      rc = NC_ENOMEM;
      goto out;
    }
    v = nv;
    rc = parse_entry(item, len, &v[cnt], err, errlen);
    if (rc)
      goto out;
    cnt++;
  }
  if (cnt == 0) {
    snprintf(err, errlen, "no servers given");
    rc = NC_EINVAL;
    goto out;
  }
  *out = v;
  *n = cnt;
  v = NULL;
out:
  free(v);
  return rc;
}

int nc_agent_parse_uids(const char *s, uid_t **out, size_t *n) {
  uid_t *v = NULL;
  size_t cnt = 0;
  *out = NULL;
  *n = 0;
  if (!s)
    return 0;
  const char *p = s, *item;
  size_t len;
  while ((item = next_item(&p, &len)) != NULL) {
    char *end = NULL;
    errno = 0;
    long u = strtol(item, &end, 10);
    if (errno || end != item + len || u < 0) {
      free(v);
      return NC_EINVAL;
    }
    uid_t *nv = realloc(v, (cnt + 1) * sizeof(*v));
    if (!nv) {
      free(v);
      return NC_ENOMEM;
    }
    v = nv;
    v[cnt++] = (uid_t)u;
  }
  *out = v;
  *n = cnt;
  return 0;
}
