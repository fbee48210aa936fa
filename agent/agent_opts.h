/* nc_agent_opts: the nacos-agent option table (CLI, config file, --help,
 * --show-config through nc_opts) and parsers for the list-valued options.
 * Pure functions; no global state. */
#ifndef NC_AGENT_OPTS_H
#define NC_AGENT_OPTS_H

#include <stddef.h>
#include <sys/types.h>

#include "nc_opts.h"

typedef struct nc_agent_cfg {
  char *servers;      /* "host:port[#grpcport|/grpcport],..." */
  char *socket;       /* unix socket path */
  char *cache_dir;
  char *log_level;
  long max_line;      /* bytes */
  char *allowed_uids; /* "0,1000" or unset = everyone */
  char *socket_group; /* group name or gid for the socket file */
  long health_interval_ms;
  long request_timeout_ms;
  char *app_name;     /* AppName label of the upstream connection */
  char *client_ip;    /* Metadata.clientIp sent upstream */
  char *metrics_listen; /* "ip:port" of the HTTP /metrics listener; unset or "" = off */
  char *username;     /* nacosd --auth on: the agent's identity upstream; unset = none */
  char *password_file; /* its password, first line of a file only the agent can read */
  char *uid_policy;   /* "UID:r|rw:NS[,NS];..." (policy.h); unset = none */
  char *tls;          /* "on" | "off": TLS to the servers (gRPC and HTTP ports) */
  char *tls_ca;       /* PEM CAs the servers' certificates must chain to; unset = system */
  char *tls_server_name; /* name verified in every server's certificate; unset = its host */
  char *tls_cert, *tls_key; /* client certificate + key (servers asking for one) */
} nc_agent_cfg;

extern const nc_opt nc_agent_opt_table[];
extern const size_t nc_agent_opt_count;

/* One upstream server. grpc_port is port + 1000 unless the entry names it. */
typedef struct nc_server_addr {
  char host[256];
  int port;
  int grpc_port;
} nc_server_addr;

/* Parses "host:port[#grpcport]" (or "host:port/grpcport") entries
 * separated by commas; a missing
 * port means 8848; "[v6]:port" is accepted. *out is malloc'ed, owned by
 * the caller. Returns 0, NC_EINVAL (message in err) or NC_ENOMEM. */
int nc_agent_parse_servers(const char *s, nc_server_addr **out, size_t *n, char *err,
                           size_t errlen);

/* Parses a comma list of numeric uids. *out malloc'ed (NULL when s is
 * empty/NULL, meaning "everyone"). Returns 0 or NC_EINVAL / NC_ENOMEM. */
int nc_agent_parse_uids(const char *s, uid_t **out, size_t *n);

#endif
