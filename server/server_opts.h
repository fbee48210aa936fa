/* server_opts: the option table of nacosd (command line, config file,
 * --help, --show-config through nc_opts) and the derived port rules. */
#ifndef SERVER_OPTS_H
#define SERVER_OPTS_H

#include <stddef.h>

typedef struct nc_server_cfg {
  long port;         /* main (HTTP) port; 0 = ephemeral */
  long grpc_port;    /* -1 = port + 1000 (0 when port is 0) */
  long cluster_port; /* -1 = port + 1001 (0 when port is 0) */
  char *bind;
  char *http_bind; /* the HTTP port's address; NULL = bind */
  char *tls_cert, *tls_key; /* TLS on the HTTP and SDK gRPC ports; NULL = plain */
  char *tls_client_ca;      /* SDK gRPC clients need a certificate from it; NULL = no */
  char *tls_plaintext;      /* "on": plain text too on the SDK gRPC port */
  long tls_handshake_timeout_ms;
  /* mutual TLS between members (cluster port and this node's peer
   * connections); cert/key NULL = tls_cert/tls_key */
  char *cluster_tls_ca, *cluster_tls_cert, *cluster_tls_key;
  char *data_dir;
  char *log_level;
  char *port_file;
  long push_merge_ms, push_timeout_ms, push_retry_ms;
  long idle_probe_ms, probe_timeout_ms;
  long grpc_threads;
  long empty_service_ttl_ms;
  long http_beat_timeout_ms, http_ip_delete_timeout_ms; /* HTTP-registered instances */
  long max_connections;
  long loader_reset_rate; /* loader resets per second (server/cluster/loader.h) */
  /* per-client bounds (naming_handlers.h nc_naming_opts, srv_rpc.h
   * nc_srv_opts); 0 = unlimited */
  long connection_setup_timeout_ms, max_pending_streams_per_conn, max_connections_per_ip;
  long http_header_timeout_s, http_body_timeout_s, http_max_connections,
      http_max_connections_per_ip;
  long instance_metadata_max_keys, instance_metadata_max_bytes;
  long grpc_max_body_bytes, http_max_body_bytes; /* request bodies, before parsing */
  long max_services_per_conn, max_instances_per_conn, max_subscriptions_per_conn;
  long fuzzy_max_patterns, fuzzy_max_matches; /* fuzzy watch (docs/fuzzy-watch.md) */
  /* gRPC transports (nc_gsrv_limits): TCP connection cap, descriptor reserve,
   * server keepalive pings */
  long max_tcp_connections, fd_reserve, keepalive_ms, keepalive_timeout_ms;
  /* config service (config_service.h) */
  long config_max_content, config_history_keep;
  long config_notify_timeout_ms, config_notify_max_retries, config_notify_retry_ms;
  /* config store: sqlite in data_dir, or PostgreSQL (db_url / PG* env) */
  char *config_store, *db_url;
  long db_timeout_ms, config_poll_ms;
  long naming_meta_reload_ms; /* naming_meta.h: PostgreSQL reload period */
  long naming_meta_expire_ms; /* naming_meta.h: overrides of gone instances */
  /* per-client config bounds (nc_config_opts); 0 = unlimited */
  long config_max_listen_keys, config_max_listeners_per_conn, config_max_per_namespace;
  long config_max_ns_bytes; /* content bytes per namespace; 0 = unlimited */
  int send_thread;
  /* cluster (server/cluster/cluster.h): member list, self address, report
   * timing; hold_ready_ms is a test hook (readiness held that long) */
  char *cluster_conf, *members, *advertise_ip;
  char *server_identity_key, *server_identity_value; /* peer identity on the cluster port */
  long cluster_report_ms, cluster_unhealthy_report_ms, cluster_request_timeout_ms;
  long cluster_fail_threshold, cluster_hold_ready_ms;
  /* Distro (server/cluster/distro.h) */
  long distro_delay_ms, distro_retry_ms, distro_verify_ms, distro_expire_ms, distro_grace_ms;
  long distro_chunk_bytes;
  /* rebalance and drain (server/cluster/rebalance.h) */
  char *rebalance, *rebalance_clients;
  long rebalance_tolerance_pct, rebalance_tolerance_abs, rebalance_stop_pct, rebalance_period_ms;
  long rebalance_warmup_ms, rebalance_stable_ms, rebalance_min_conn_age_ms,
      rebalance_cooldown_ms, rebalance_moves_per_sec, rebalance_migrate_grace_ms;
  /* auth (server/auth/nc_auth.h): "on"/"off", secret and admin password
   * files, token lifetime */
  char *auth, *auth_secret_file, *admin_password_file;
  long auth_token_ttl;
} nc_server_cfg;

/* Parses argv into cfg (see nc_opts_parse for the return values) and
 * resolves the derived ports. Release with nc_server_cfg_free. */
int nc_server_cfg_parse(nc_server_cfg *cfg, int argc, char **argv);
void nc_server_cfg_free(nc_server_cfg *cfg);
/* 1 when --tls-plaintext is on. */
int nc_server_cfg_tls_plaintext(const nc_server_cfg *cfg);

/* Writes {"port":P,"grpc_port":G,"cluster_port":C} to path atomically
 * (temp file + rename). Returns 0 or NC_EIO. */
int nc_server_write_port_file(const char *path, int port, int grpc_port, int cluster_port);

#endif
