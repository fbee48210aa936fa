/* server_opts: see server_opts.h. */
#include "server_opts.h"

#include "nc_err.h"
#include "nc_opts.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F(x) offsetof(nc_server_cfg, x)
static const nc_opt opts[] = {
    {"port", NC_OPT_INT, "8848", F(port), 0, 65535, "main port; 0 picks free ports for all three"},
    {"grpc-port", NC_OPT_INT, "-1", F(grpc_port), -1, 65535,
     "gRPC port for SDKs (-1 = port+1000, 0 = free)"},
    {"cluster-port", NC_OPT_INT, "-1", F(cluster_port), -1, 65535,
     "gRPC port for peers (-1 = port+1001, 0 = free)"},
    {"bind", NC_OPT_STR, "0.0.0.0", F(bind), 0, -1, "listen address"},
    {"tls-cert", NC_OPT_STR, NULL, F(tls_cert), 0, -1,
     "PEM certificate (chain) for TLS on the HTTP port (HTTPS) and the SDK gRPC port (with "
     "--tls-key)"},
    {"tls-key", NC_OPT_STR, NULL, F(tls_key), 0, -1, "PEM private key of --tls-cert"},
    {"tls-client-ca", NC_OPT_STR, NULL, F(tls_client_ca), 0, -1,
     "PEM CA file: clients of the SDK gRPC port and the HTTPS port (probes and /metrics "
     "too) must present a certificate signed by it (mutual TLS; needs --tls-cert)"},
    {"tls-plaintext", NC_OPT_CHOICE, "off", F(tls_plaintext), 0, -1,
     "on|off (with TLS on, serve plain-text gRPC on the SDK port too: Nacos's compatibility "
     "mode; the first byte of a connection tells them apart)"},
    {"tls-handshake-timeout-ms", NC_OPT_INT, "10000", F(tls_handshake_timeout_ms), 100,
     600000, "a gRPC connection that has not finished its TLS handshake by then is closed"},
    {"cluster-tls-ca", NC_OPT_STR, NULL, F(cluster_tls_ca), 0, -1,
     "PEM CA file: mutual TLS between members; the cluster port then requires a member "
     "certificate signed by it, and this node connects to members with TLS, verifying theirs "
     "(and their address against its IP/DNS names)"},
    {"cluster-tls-cert", NC_OPT_STR, NULL, F(cluster_tls_cert), 0, -1,
     "PEM certificate this node presents to members, both ways; default --tls-cert"},
    {"cluster-tls-key", NC_OPT_STR, NULL, F(cluster_tls_key), 0, -1,
     "PEM private key of --cluster-tls-cert; default --tls-key"},
    {"http-bind", NC_OPT_STR, NULL, F(http_bind), 0, -1,
     "listen address of the HTTP port only (open API, console, admin, metrics), e.g. "
     "127.0.0.1 to keep the admin surface on loopback; default --bind"},
    {"data-dir", NC_OPT_STR, "./data", F(data_dir), 0, -1, "directory for persistent data"},
    {"log-level", NC_OPT_CHOICE, "info", F(log_level), 0, -1, "error|warn|info|debug|trace"},
    {"port-file", NC_OPT_STR, NULL, F(port_file), 0, -1,
     "write the bound ports as JSON here once listening"},
    {"push-merge-ms", NC_OPT_INT, "500", F(push_merge_ms), 0, 600000,
     "naming push merge window (debounce)"},
    {"push-timeout-ms", NC_OPT_INT, "5000", F(push_timeout_ms), 1, 600000,
     "ack timeout of a naming push"},
    {"push-retry-ms", NC_OPT_INT, "1000", F(push_retry_ms), 1, 600000,
     "delay before an unacked naming push is re-sent"},
    {"idle-probe-ms", NC_OPT_INT, "20000", F(idle_probe_ms), 1, 86400000,
     "probe connections idle this long with ClientDetectionRequest"},
    {"probe-timeout-ms", NC_OPT_INT, "5000", F(probe_timeout_ms), 1, 600000,
     "drop a probed connection without an ack within this time"},
    {"grpc-threads", NC_OPT_INT, "1", F(grpc_threads), 1, 64,
     "completion-queue threads, one pool shared by the SDK and cluster gRPC ports"},
    {"http-beat-timeout-ms", NC_OPT_INT, "15000", F(http_beat_timeout_ms), 1, 86400000,
     "an instance registered over the HTTP open API turns unhealthy after this long without a "
     "beat (Nacos: 15000)"},
    {"http-ip-delete-timeout-ms", NC_OPT_INT, "30000", F(http_ip_delete_timeout_ms), 1, 86400000,
     "an instance registered over the HTTP open API is removed after this long without a beat "
     "(Nacos: 30000)"},
    {"empty-service-ttl-ms", NC_OPT_INT, "60000", F(empty_service_ttl_ms), 0, 86400000,
     "keep a service without instances or subscribers this long (still listed); 0 = drop at once"},
    {"max-connections", NC_OPT_INT, "0", F(max_connections), 0, 10000000,
     "refuse SDK connection setups beyond this many (cluster peers exempt); 0 = unlimited"},
    {"loader-reset-rate", NC_OPT_INT, "100", F(loader_reset_rate), 1, 100000,
     "ConnectResetRequests per second at most when the loader API sheds connections "
     "(reloadCurrent, smartReloadCluster)"},
    /* per-client bounds (issue 12): 0 = unlimited */
    {"http-header-timeout-s", NC_OPT_INT, "10", F(http_header_timeout_s), 0, 86400,
     "close an HTTP connection whose request head is not complete this long after it opened "
     "(or its last request ended); 0 = no deadline"},
    {"http-body-timeout-s", NC_OPT_INT, "60", F(http_body_timeout_s), 0, 86400,
     "close an HTTP connection whose request body is not complete this long after its head; "
     "0 = no deadline"},
    {"http-max-connections", NC_OPT_INT, "1024", F(http_max_connections), 1, 1000000,
     "open HTTP connections on the main port at most; more are refused"},
    {"http-max-connections-per-ip", NC_OPT_INT, "128", F(http_max_connections_per_ip), 0,
     1000000, "open HTTP connections from one address at most (0 = unlimited)"},
    {"grpc-max-body-bytes", NC_OPT_INT, "0", F(grpc_max_body_bytes), 0, 10485760,
     "refuse an SDK gRPC request whose JSON body is longer, before parsing it (errorCode "
     "413); 0 = 2 x --config-max-content + 64 KiB (8.06 MiB by default)"},
    {"http-max-body-bytes", NC_OPT_INT, "8388608", F(http_max_body_bytes), 1024, 1073741824,
     "refuse an HTTP request body longer than this with 413, unread when its Content-Length "
     "says so"},
    {"connection-setup-timeout-ms", NC_OPT_INT, "10000", F(connection_setup_timeout_ms), 0,
     86400000, "close a gRPC stream that sent no ConnectionSetupRequest within this time (0 = "
               "never)"},
    {"max-pending-streams-per-conn", NC_OPT_INT, "8", F(max_pending_streams_per_conn), 0,
     1000000, "gRPC streams one TCP connection may hold open without a ConnectionSetupRequest; "
              "more are closed at once (0 = unlimited)"},
    {"max-connections-per-ip", NC_OPT_INT, "1000", F(max_connections_per_ip), 0, 10000000,
     "refuse SDK connection setups from an address that holds this many (cluster peers exempt; "
     "0 = unlimited)"},
    {"instance-metadata-max-keys", NC_OPT_INT, "128", F(instance_metadata_max_keys), 0, 1000000,
     "refuse an instance registration whose metadata has more keys (0 = unlimited)"},
    {"instance-metadata-max-bytes", NC_OPT_INT, "32768", F(instance_metadata_max_bytes), 0,
     10485760, "refuse an instance registration whose metadata keys and values exceed this"},
    {"max-services-per-conn", NC_OPT_INT, "1000", F(max_services_per_conn), 0, 10000000,
     "services one SDK connection may register instances in (0 = unlimited)"},
    {"max-instances-per-conn", NC_OPT_INT, "10000", F(max_instances_per_conn), 0, 10000000,
     "instances one SDK connection may register over all services (0 = unlimited)"},
    {"max-subscriptions-per-conn", NC_OPT_INT, "10000", F(max_subscriptions_per_conn), 0,
     10000000, "services one SDK connection may subscribe to (0 = unlimited)"},
    {"fuzzy-watch-max-patterns", NC_OPT_INT, "20", F(fuzzy_max_patterns), 0, 1000000,
     "fuzzy-watch patterns one SDK connection may watch, for naming and for config (Nacos "
     "3.x; more get errorCode 50310; 0 = unlimited)"},
    {"fuzzy-watch-max-matches", NC_OPT_INT, "500", F(fuzzy_max_matches), 0, 10000000,
     "services or configs one fuzzy-watch pattern reports; a pattern matching more answers "
     "errorCode 50311 and leaves the rest out (0 = unlimited)"},
    {"max-tcp-connections", NC_OPT_INT, "0", F(max_tcp_connections), 0, 10000000,
     "accept at most this many TCP connections over both gRPC ports (0 = descriptor limit "
     "- --fd-reserve); more get an HTTP/2 GOAWAY and are closed"},
    {"fd-reserve", NC_OPT_INT, "256", F(fd_reserve), 0, 1000000,
     "descriptors kept free for files, HTTP and internals when capping gRPC connections"},
    {"keepalive-ms", NC_OPT_INT, "6000", F(keepalive_ms), 0, 86400000,
     "HTTP/2 keepalive ping interval on every gRPC connection (dead-peer detection); 0 = off"},
    {"keepalive-timeout-ms", NC_OPT_INT, "4000", F(keepalive_timeout_ms), 1, 600000,
     "drop a gRPC connection whose keepalive ping is not acked within this time"},
    {"send-thread", NC_OPT_BOOL, "false", F(send_thread), 0, -1,
     "write pushes to streams from a dedicated thread instead of the loop"},
    /* config service */
    {"config-max-content", NC_OPT_INT, "4194304", F(config_max_content), 1, 10485760,
     "largest config content accepted by a publish, in bytes"},
    {"config-history-keep", NC_OPT_INT, "30", F(config_history_keep), 1, 100000,
     "change-history rows kept per config"},
    {"config-notify-timeout-ms", NC_OPT_INT, "3000", F(config_notify_timeout_ms), 1, 600000,
     "ack timeout of a ConfigChangeNotifyRequest"},
    {"config-notify-max-retries", NC_OPT_INT, "50", F(config_notify_max_retries), 1, 100000,
     "notify attempts before an unresponsive connection is dropped"},
    {"config-notify-retry-ms", NC_OPT_INT, "2000", F(config_notify_retry_ms), 1, 600000,
     "notify back-off unit: attempt n waits n times this"},
    {"config-store", NC_OPT_CHOICE, "auto", F(config_store), 0, -1,
     "auto|sqlite|postgresql (where configs live): auto = PostgreSQL when --db-url or libpq's "
     "PGHOST/PGSERVICE/PGDATABASE is set, else SQLite in --data-dir"},
    {"db-url", NC_OPT_STR, NULL, F(db_url), 0, -1,
     "PostgreSQL to keep configs in (postgresql://user:pass@host:port/db or a libpq conninfo); "
     "one database shared by every node of a cluster"},
    {"db-timeout-ms", NC_OPT_INT, "5000", F(db_timeout_ms), 100, 600000,
     "a PostgreSQL connect or write that takes longer fails (the write is reported as not saved)"},
    {"config-poll-ms", NC_OPT_INT, "30000", F(config_poll_ms), 100, 86400000,
     "PostgreSQL: look for config changes other nodes made this often (repairs missed "
     "notifications)"},
    {"naming-meta-reload-ms", NC_OPT_INT, "30000", F(naming_meta_reload_ms), 100, 86400000,
     "PostgreSQL: read service metadata and instance overrides again this often (repairs "
     "missed notifications)"},
    {"naming-meta-expire-ms", NC_OPT_INT, "60000", F(naming_meta_expire_ms), 100, 86400000,
     "an instance's metadata override is deleted once the instance has been gone this long "
     "(Nacos's expired-metadata expired-time)"},
    {"config-max-per-namespace", NC_OPT_INT, "50000", F(config_max_per_namespace), 0,
     100000000, "refuse publishing a new config into a namespace that holds this many (0 = "
                "unlimited)"},
    {"config-max-ns-bytes", NC_OPT_INT, "1073741824", F(config_max_ns_bytes), 0,
     1099511627776, "refuse a publish that would grow its namespace's config contents past "
                    "this many bytes (every config is held in memory; 0 = unlimited)"},
    {"config-max-listen-keys", NC_OPT_INT, "5000", F(config_max_listen_keys), 0, 10000000,
     "refuse a ConfigBatchListenRequest with more keys (the SDKs send at most 3000; 0 = "
     "unlimited)"},
    {"config-max-listeners-per-conn", NC_OPT_INT, "20000", F(config_max_listeners_per_conn), 0,
     100000000, "config keys one SDK connection may listen to (0 = unlimited)"},
    /* cluster */
    {"cluster-conf", NC_OPT_STR, NULL, F(cluster_conf), 0, -1,
     "cluster.conf of the cluster (ip[:port] per line, # comments, commas; a missing port is "
     "this node's --port); turns cluster mode on"},
    {"members", NC_OPT_STR, NULL, F(members), 0, -1,
     "the cluster as ip:port,ip:port,... (main ports; peers listen on port+1001); turns "
     "cluster mode on"},
    {"advertise-ip", NC_OPT_STR, NULL, F(advertise_ip), 0, -1,
     "this node's address as the member list names it (default: first non-loopback IPv4 of "
     "an UP interface, else 127.0.0.1)"},
    {"server-identity-key", NC_OPT_STR, NULL, F(server_identity_key), 0, -1,
     "header every request between members carries (Nacos's server identity); unset: "
     "'serverIdentity' with a value derived from --auth-secret-file (none with --auth off)"},
    {"server-identity-value", NC_OPT_STR, NULL, F(server_identity_value), 0, -1,
     "its value; the cluster port refuses requests without it"},
    {"cluster-report-ms", NC_OPT_INT, "2000", F(cluster_report_ms), 50, 600000,
     "MemberReportRequest to one peer, round-robin, this often"},
    {"cluster-unhealthy-report-ms", NC_OPT_INT, "5000", F(cluster_unhealthy_report_ms), 50,
     600000, "MemberReportRequest to every peer not UP this often"},
    {"cluster-request-timeout-ms", NC_OPT_INT, "3000", F(cluster_request_timeout_ms), 50,
     600000, "timeout of a request to a peer (a timed-out report counts as a failure)"},
    {"cluster-fail-threshold", NC_OPT_INT, "3", F(cluster_fail_threshold), 1, 1000,
     "a peer is DOWN after more than this many consecutive failed reports (or a refused "
     "connect); fewer make it SUSPICIOUS"},
    /* Distro (server/cluster/distro.h) */
    {"distro-delay-ms", NC_OPT_INT, "1000", F(distro_delay_ms), 0, 600000,
     "Distro merge window: a client's changes within it go to peers in one CHANGE (the first "
     "after a quiet window goes at once)"},
    {"distro-retry-ms", NC_OPT_INT, "3000", F(distro_retry_ms), 1, 600000,
     "re-send a Distro CHANGE/DELETE a peer did not acknowledge after this long"},
    {"distro-verify-ms", NC_OPT_INT, "5000", F(distro_verify_ms), 50, 600000,
     "assert this node's clients to every peer (Distro VERIFY) this often"},
    {"distro-expire-ms", NC_OPT_INT, "180000", F(distro_expire_ms), 100, 86400000,
     "drop a peer's client not asserted (VERIFY) for this long"},
    {"distro-grace-ms", NC_OPT_INT, "15000", F(distro_grace_ms), 1, 86400000,
     "keep a DOWN (or restarted) member's clients this long for their new owners to assert them"},
    {"distro-chunk-bytes", NC_OPT_INT, "1048576", F(distro_chunk_bytes), 512, 3145728,
     "page a snapshot served to a starting nacos-c peer in chunks of about this many bytes"},
    /* rebalance and drain (server/cluster/rebalance.h, nacos-cluster.md §5.7) */
    {"rebalance", NC_OPT_CHOICE, "auto", F(rebalance), 0, -1,
     "auto|off (automatic rebalance: a node above the cluster average moves SDK connections "
     "to members below it with ConnectResetRequest; switchable at run time)"},
    {"rebalance-tolerance-pct", NC_OPT_INT, "10", F(rebalance_tolerance_pct), 1, 1000,
     "rebalance only above the average by more than this percent ..."},
    {"rebalance-tolerance-abs", NC_OPT_INT, "20", F(rebalance_tolerance_abs), 1, 100000000,
     "... and by at least this many connections"},
    {"rebalance-stop-pct", NC_OPT_INT, "3", F(rebalance_stop_pct), 0, 1000,
     "once moving, go on until within this percent of the average (hysteresis)"},
    {"rebalance-period-ms", NC_OPT_INT, "10000", F(rebalance_period_ms), 100, 3600000,
     "decide this often, +-20% jitter"},
    {"rebalance-warmup-ms", NC_OPT_INT, "120000", F(rebalance_warmup_ms), 0, 86400000,
     "no rebalance during this long after start"},
    {"rebalance-stable-ms", NC_OPT_INT, "60000", F(rebalance_stable_ms), 0, 86400000,
     "every member UP, ready and reporting its load for this long before a rebalance"},
    {"rebalance-min-conn-age-ms", NC_OPT_INT, "600000", F(rebalance_min_conn_age_ms), 0,
     86400000, "move only connections older than this (drain: 3 s)"},
    {"rebalance-cooldown-ms", NC_OPT_INT, "1800000", F(rebalance_cooldown_ms), 1, 86400000,
     "a connection told to move is not told again for this long"},
    {"rebalance-moves-per-sec", NC_OPT_INT, "30", F(rebalance_moves_per_sec), 1, 100000,
     "moves per second over the whole cluster (the nodes shedding share it), rebalance and drain"},
    {"rebalance-migrate-grace-ms", NC_OPT_INT, "5000", F(rebalance_migrate_grace_ms), 0,
     600000, "a moved connection that closes keeps its instances this long (no push, no Distro "
     "DELETE) while it registers again elsewhere (0 = none)"},
    {"rebalance-clients", NC_OPT_STR, "Nacos-Java-Client,Nacos-Go-Client,Nacos-C-Client", F(rebalance_clients), 0, -1,
     "clients that follow a redirect: clientVersion prefixes, comma-separated (others are never "
     "moved)"},
    {"cluster-hold-ready-ms", NC_OPT_INT, "0", F(cluster_hold_ready_ms), 0, 86400000,
     "testing: hold readiness this long after start (SDK ServerCheck refused, readiness 503)"},
    /* auth (server/auth) */
    {"auth", NC_OPT_CHOICE, "on", F(auth), 0, -1,
     "on|off (users, tokens and permissions on every SDK request and HTTP route; off is for "
     "development only and is logged at every start)"},
    {"auth-secret-file", NC_OPT_STR, NULL, F(auth_secret_file), 0, -1,
     "file holding the base64 token signing secret (>= 32 bytes decoded, as Nacos's "
     "token.secret.key); default <data-dir>/auth.secret, generated; required in a cluster"},
    {"admin-password-file", NC_OPT_STR, NULL, F(admin_password_file), 0, -1,
     "sets admin user nacos's password from this file's first line if it has none yet"},
    {"auth-token-ttl", NC_OPT_INT, "18000", F(auth_token_ttl), 1, 31536000,
     "access token lifetime in seconds"},
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

/* The derived ports must fit; a check so --show-config refuses a --port
 * that start-up refuses. */
static int check_ports(void *p, const char *prog) {
  const nc_server_cfg *cfg = p;
  long g = cfg->grpc_port < 0 && cfg->port ? cfg->port + 1000 : cfg->grpc_port;
  long k = cfg->cluster_port < 0 && cfg->port ? cfg->port + 1001 : cfg->cluster_port;
  if (g > 65535 || k > 65535) {
    fprintf(stderr, "%s: --port %ld leaves no room for the gRPC ports (+1000/+1001)\n", prog,
            cfg->port);
    return NC_EINVAL;
  }
  if (cfg->cluster_conf && cfg->members) {
    fprintf(stderr, "%s: give one of --cluster-conf and --members\n", prog);
    return NC_EINVAL;
  }
  if (!cfg->tls_cert != !cfg->tls_key) {
    fprintf(stderr, "%s: give --tls-cert and --tls-key together\n", prog);
    return NC_EINVAL;
  }
  if ((cfg->tls_client_ca || nc_server_cfg_tls_plaintext(cfg)) && !cfg->tls_cert) {
    fprintf(stderr, "%s: --tls-client-ca and --tls-plaintext need --tls-cert/--tls-key\n", prog);
    return NC_EINVAL;
  }
  if (cfg->cluster_tls_ca && !(cfg->cluster_tls_cert ? cfg->cluster_tls_key : cfg->tls_cert)) {
    fprintf(stderr, "%s: --cluster-tls-ca needs --cluster-tls-cert/--cluster-tls-key (or "
                    "--tls-cert/--tls-key)\n", prog);
    return NC_EINVAL;
  }
  if (!cfg->cluster_tls_cert != !cfg->cluster_tls_key) {
    fprintf(stderr, "%s: give --cluster-tls-cert and --cluster-tls-key together\n", prog);
    return NC_EINVAL;
  }
  if ((cfg->cluster_conf || cfg->members) && cfg->port == 0) {
    fprintf(stderr, "%s: cluster mode needs a fixed --port (members are named by it)\n", prog);
    return NC_EINVAL;
  }
  return 0;
}

int nc_server_cfg_tls_plaintext(const nc_server_cfg *cfg) {
  return cfg->tls_plaintext && strcmp(cfg->tls_plaintext, "on") == 0;
}

int nc_server_cfg_parse(nc_server_cfg *cfg, int argc, char **argv) {
  int rc = nc_opts_parse_ex(opts, N_OPTS, cfg, argc, argv, "nacosd",
                            "Nacos 2.x compatible naming and configuration server", check_ports);
  if (rc != NC_OPTS_CONTINUE)
    return rc;
  if (cfg->grpc_port < 0)
    cfg->grpc_port = cfg->port ? cfg->port + 1000 : 0;
  if (cfg->cluster_port < 0)
    cfg->cluster_port = cfg->port ? cfg->port + 1001 : 0;
  return NC_OPTS_CONTINUE;
}

void nc_server_cfg_free(nc_server_cfg *cfg) { nc_opts_free(opts, N_OPTS, cfg); }

int nc_server_write_port_file(const char *path, int port, int grpc_port, int cluster_port) {
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f)
    return NC_EIO;
  int ok = fprintf(f, "{\"port\":%d,\"grpc_port\":%d,\"cluster_port\":%d}\n", port, grpc_port,
                   cluster_port) > 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return NC_EIO;
  }
  return 0;
}
