/* nacosd: a Nacos 2.x compatible server. Wires the server core (srv_rpc),
 * naming and config onto one libuv loop, listens on the SDK and cluster
 * gRPC ports plus the HTTP port (metrics, health, console), from the module
 * table below; shuts down cleanly on
 * SIGTERM/SIGINT; SIGHUP re-reads the configuration (log level); SIGUSR1
 * drains the node (rebalance.h), SIGUSR2 undrains it. */
#include "cluster.h"
#include "loader.h"
#include "nc_auth.h"
#include "nc_auth_grpc.h"
#include "distro.h"
#include "rebalance.h"
#include "config_service.h"
#include "config_sync.h"
#include "srv_http.h"
#include "naming_handlers.h"
#include "naming_beat.h"
#include "naming_health.h"
#include "naming_pstore.h"
#include "naming_routes.h"
#include "config_routes.h"
#include "namespace_routes.h"
#include "console_routes.h"
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_grpc_server.h"
#include "nc_tls_srv.h"
#include "nc_log.h"
#include "nc_sdnotify.h"
#include "nc_opts.h"
#include "server_opts.h"
#include "srv_rpc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>

typedef struct app {
  uv_loop_t loop;
  uv_signal_t sig_term, sig_int, sig_hup;
  int argc;
  char **argv;
  const nc_server_cfg *cfg;
  nc_srv *srv;
  nc_naming *naming;
  nc_nbeat *nbeat;     /* HTTP-registered instances and their beats (naming_beat.h) */
  nc_nroutes *nroutes; /* the naming open API (naming_routes.h) */
  nc_nmeta *nmeta;     /* service metadata, instance overrides (naming_meta.h) */
  nc_croutes *croutes; /* the config open API (config_routes.h) */
  nc_nsroutes *nsroutes; /* the namespace API (namespace_routes.h) */
  nc_conroutes *conroutes; /* the console-only naming API (console_routes.h) */
  nc_config_service *config;
  nc_cluster *cluster;
  nc_distro *distro;
  nc_cfg_sync *cfgsync;
  nc_shttp *http;
  nc_auth *auth;
  nc_rebal *rebal; /* rebalance and drain (rebalance.h) */
  uv_signal_t sig_drain, sig_undrain; /* SIGUSR1 / SIGUSR2 */
  nc_loader *loader;
  nc_npstore *pstore;   /* persistent instances (naming_pstore.h) */
  nc_nhealth *nhealth; /* their health checks (naming_health.h) */
  nc_tls_srv *tls_sdk, *tls_cluster; /* TLS contexts of the gRPC ports; NULL = plain */
  nc_gcli_tls peer_tls;              /* this node's TLS to members (--cluster-tls-ca) */
  int ports[3]; /* http, grpc, cluster */
} app;

static void on_signal(uv_signal_t *h, int sig) {
  nc_info("signal %d: shutting down", sig);
  uv_stop(h->loop);
}

/* SIGHUP re-reads the command line and --config file. What can change at
 * run time is applied (the log level); the rest needs a restart. */
/* The gRPC transports' connection cap and keepalive (nc_gsrv_limits);
 * the cap applies from the next accept, so SIGHUP re-applies it too. */
static void apply_transport_limits(const nc_server_cfg *c) {
  nc_gsrv_limits l = {
      .max_conns = (int)c->max_tcp_connections,
      .fd_reserve = (int)c->fd_reserve,
      .keepalive_ms = c->keepalive_ms > 0 ? (int)c->keepalive_ms : -1,
      .keepalive_timeout_ms = (int)c->keepalive_timeout_ms,
  };
  nc_gsrv_set_limits(&l);
}

static void on_sighup(uv_signal_t *h, int sig) {
  app *a = h->data;
  nc_server_cfg cfg = {0};
  (void)sig;
  nc_info("SIGHUP: re-reading configuration");
  if (nc_server_cfg_parse(&cfg, a->argc, a->argv) == 0) {
    nc_log_reload_level(cfg.log_level);
    apply_transport_limits(&cfg);
  } else
    nc_warn("SIGHUP: configuration is invalid; keeping the running one");
  nc_server_cfg_free(&cfg);
}

/* ---- modules ----
 * Each module of nacosd in dependency order. init creates it (handlers
 * and listeners registered, nothing served yet), start makes it serve,
 * stop makes it take no more work while the others still run, free
 * releases it; stats appends its /metrics families. Start-up runs init
 * then start in table order; shutdown runs stop, then free, in reverse, so
 * the order is written here once: the HTTP server stops first, the
 * cluster closes its peer connections (their pending sends fail), config
 * answers its queued writes while the transports still deliver, then the
 * core drops every connection and stops the transports; naming and the core
 * are freed last. Any hook may be NULL. */

static void tls_free(app *a) {
  nc_tls_srv_free(a->tls_sdk);
  nc_tls_srv_free(a->tls_cluster);
  a->tls_sdk = a->tls_cluster = NULL;
}

/* TLS contexts from the files, read once (rotation = restart); a bad file
 * stops start-up with the reason. */
static int tls_init(app *a) {
  const nc_server_cfg *c = a->cfg;
  char err[512];
  int rc = 0;
  if (c->tls_cert) {
    nc_tls_srv_opts o = {c->tls_cert, c->tls_key, c->tls_client_ca};
    if ((rc = nc_tls_srv_new(&o, &a->tls_sdk, err, sizeof(err))) != 0) {
      nc_error("TLS for the SDK gRPC port: %s", err);
      return rc;
    }
  }
  if (c->cluster_tls_ca) {
    const char *cert = c->cluster_tls_cert ? c->cluster_tls_cert : c->tls_cert;
    const char *key = c->cluster_tls_cert ? c->cluster_tls_key : c->tls_key;
    nc_tls_srv_opts o = {cert, key, c->cluster_tls_ca};
    if ((rc = nc_tls_srv_new(&o, &a->tls_cluster, err, sizeof(err))) != 0) {
      nc_error("mutual TLS for the cluster port (--cluster-tls-*): %s", err);
      tls_free(a);
      return rc;
    }
    a->peer_tls = (nc_gcli_tls){.ca_file = c->cluster_tls_ca, .cert_file = cert, .key_file = key};
  }
  return 0;
}

static int core_init(app *a) {
  const nc_server_cfg *c = a->cfg;
  int rc = tls_init(a);
  if (rc)
    return rc;
  nc_srv_opts so = {
      .bind = c->bind,
      .grpc_port = (int)c->grpc_port,
      .cluster_port = (int)c->cluster_port,
      .grpc_threads = (int)c->grpc_threads,
      .idle_probe_ms = (int)c->idle_probe_ms,
      .probe_timeout_ms = (int)c->probe_timeout_ms,
      .send_thread = c->send_thread,
      .max_connections = (int)c->max_connections,
      .setup_timeout_ms = (int)c->connection_setup_timeout_ms,
      .max_pending_streams = (int)c->max_pending_streams_per_conn,
      .max_conns_per_ip = (int)c->max_connections_per_ip,
      /* 0 = twice the largest config content (JSON escaping) and 64 KiB */
      .max_body_bytes = c->grpc_max_body_bytes > 0
                            ? (size_t)c->grpc_max_body_bytes
                            : (size_t)c->config_max_content * 2 + 65536,
      .tls_sdk = a->tls_sdk,
      .tls_cluster = a->tls_cluster,
      .tls_plaintext = nc_server_cfg_tls_plaintext(c),
      .tls_handshake_timeout_ms = (int)c->tls_handshake_timeout_ms,
  };
  if ((rc = nc_srv_new(&a->loop, &so, &a->srv)) != 0)
    tls_free(a);
  return rc;
}
static int core_start(app *a) { return nc_srv_start(a->srv, &a->ports[1], &a->ports[2]); }
static void core_stop(app *a) { nc_srv_shutdown(a->srv); } /* drops every connection first */
static void core_free(app *a) {
  nc_srv_free(a->srv);
  tls_free(a); /* the transports borrowed them: after the core */
}
static void core_stats(app *a, nc_metrics_text *t) { nc_srv_render_metrics(a->srv, t); }

/* Users, tokens and permissions: the core asks it about every SDK request
 * (nc_auth_grpc), the HTTP routes about every call. */
static int auth_init(app *a) {
  const nc_server_cfg *c = a->cfg;
  /* On a cluster's PostgreSQL the users are the cluster's (after config:
   * its schema created the tables). */
  int shared = a->config && strcmp(nc_config_store_name(a->config), "postgresql") == 0;
  nc_auth_opts o = {
      .db_url = shared ? (c->db_url ? c->db_url : "") : NULL,
      .enabled = strcasecmp(c->auth, "off") != 0,
      .data_dir = c->data_dir,
      .secret_file = c->auth_secret_file,
      .cluster = c->cluster_conf || c->members,
      .admin_password_file = c->admin_password_file,
      .token_ttl_s = c->auth_token_ttl,
  };
  if (!o.enabled)
    nc_warn("auth: OFF (--auth off): anyone who can reach a port can read and change every "
            "config and service; for development only");
  int rc = nc_auth_new(&a->loop, &o, &a->auth);
  if (!rc && o.enabled)
    nc_srv_set_auth(a->srv, nc_auth_grpc_check, a->auth);
  return rc;
}
static void auth_free(app *a) { nc_auth_free(a->auth); }

static int naming_init(app *a) {
  const nc_server_cfg *c = a->cfg;
  nc_naming_opts no = {
      .merge_ms = (int)c->push_merge_ms,
      .push_timeout_ms = (int)c->push_timeout_ms,
      .push_retry_ms = (int)c->push_retry_ms,
      .empty_service_ttl_ms = (int)c->empty_service_ttl_ms,
      .max_metadata_keys = (int)c->instance_metadata_max_keys,
      .max_metadata_bytes = (int)c->instance_metadata_max_bytes,
      .max_services_per_conn = (int)c->max_services_per_conn,
      .max_instances_per_conn = (int)c->max_instances_per_conn,
      .max_subscriptions_per_conn = (int)c->max_subscriptions_per_conn,
      /* the option's 0 (unlimited) is the struct's -1 (its 0 is the default) */
      .fuzzy_max_patterns = c->fuzzy_max_patterns ? (int)c->fuzzy_max_patterns : -1,
      .fuzzy_max_matches = c->fuzzy_max_matches ? (int)c->fuzzy_max_matches : -1,
  };
  return nc_naming_init(a->srv, &no, &a->naming);
}
static void naming_free(app *a) { nc_naming_free(a->naming); }
static void naming_stats(app *a, nc_metrics_text *t) { nc_naming_render_metrics(a->naming, t); }

/* The HTTP open API's naming: beats and routes (after naming and auth). */
static int nhttp_init(app *a) {
  nc_nbeat_opts bo = {.unhealthy_ms = (uint64_t)a->cfg->http_beat_timeout_ms,
                      .expire_ms = (uint64_t)a->cfg->http_ip_delete_timeout_ms};
  int rc = nc_nbeat_new(&a->loop, a->naming, &bo, &a->nbeat);
  if (!rc)
    rc = nc_nroutes_new(a->naming, a->nbeat, a->auth, &a->nroutes);
  if (!rc)
    rc = nc_nsroutes_new(a->config, &a->nsroutes);
  if (!rc)
    rc = nc_conroutes_new(a->naming, a->srv, a->auth, &a->conroutes);
  return rc ? rc : nc_croutes_new(&a->loop, a->config, a->auth, &a->croutes);
}
static void nhttp_free(app *a) {
  nc_nsroutes_free(a->nsroutes);
  nc_conroutes_free(a->conroutes);
  nc_croutes_free(a->croutes);
  nc_nroutes_free(a->nroutes);
  nc_nbeat_free(a->nbeat);
}
static void nhttp_stats(app *a, nc_metrics_text *t) {
  if (a->nbeat)
    nc_nbeat_render_metrics(a->nbeat, t);
}

/* --config-store auto: PostgreSQL when a URL or libpq's environment names
 * one, else SQLite. */
static const char *config_backend(const nc_server_cfg *c) {
  if (strcasecmp(c->config_store, "sqlite") == 0)
    return "sqlite";
  if (strcasecmp(c->config_store, "postgresql") == 0 || (c->db_url && *c->db_url))
    return "postgresql";
  static const char *const env[] = {"PGHOST", "PGSERVICE", "PGDATABASE"};
  for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
    if (getenv(env[i]) && *getenv(env[i]))
      return "postgresql";
  return "sqlite";
}

static int config_init(app *a) {
  const nc_server_cfg *c = a->cfg;
  nc_config_opts co = {
      .data_dir = c->data_dir,
      .max_content_bytes = c->config_max_content,
      .history_keep = c->config_history_keep,
      .notify_timeout_ms = (int)c->config_notify_timeout_ms,
      .notify_max_retries = (int)c->config_notify_max_retries,
      .notify_retry_base_ms = (int)c->config_notify_retry_ms,
      .db_url = c->db_url,
      .db_timeout_ms = (int)c->db_timeout_ms,
      .poll_ms = (int)c->config_poll_ms,
      .max_listen_keys = (int)c->config_max_listen_keys,
      .max_listeners_per_conn = (int)c->config_max_listeners_per_conn,
      .max_per_namespace = c->config_max_per_namespace,
      .max_ns_bytes = c->config_max_ns_bytes,
      .fuzzy_max_patterns = c->fuzzy_max_patterns ? (int)c->fuzzy_max_patterns : -1,
      .fuzzy_max_matches = c->fuzzy_max_matches ? (int)c->fuzzy_max_matches : -1,
  };
  co.store = config_backend(c);
  if (strcmp(co.store, "postgresql") == 0)
    nc_info("config store: PostgreSQL %s", c->db_url && *c->db_url
                                               ? "(--db-url)"
                                               : "(from libpq's PG* environment)");
  else if (a->cfg->cluster_conf || a->cfg->members)
    nc_warn("config store: embedded SQLite in a cluster: every node keeps its own configs and "
            "they are NOT shared; give the cluster one PostgreSQL with --db-url");
  return nc_config_init(a->srv, &co, &a->config);
}
static void config_stop(app *a) { nc_config_stop(a->config); }
static void config_free(app *a) { nc_config_free(a->config); }
static void config_stats(app *a, nc_metrics_text *t) {
  nc_config_render_metrics(a->config, t);
  nc_config_render_store_metrics(a->config, t);
}

static int cluster_init(app *a) {
  const nc_server_cfg *c = a->cfg;
  nc_cluster_opts o = {
      .cluster_conf = c->cluster_conf,
      .members = c->members,
      .advertise_ip = c->advertise_ip,
      .main_port = (int)c->port,
      .report_interval_ms = (int)c->cluster_report_ms,
      .unhealthy_interval_ms = (int)c->cluster_unhealthy_report_ms,
      .request_timeout_ms = (int)c->cluster_request_timeout_ms,
      .fail_threshold = (int)c->cluster_fail_threshold,
      .hold_ready_ms = (int)c->cluster_hold_ready_ms,
      .peer_tls = a->peer_tls.ca_file ? &a->peer_tls : NULL,
  };
  /* Members prove themselves on the cluster port: an explicit identity (a
   * Java Nacos in the cluster: its nacos.core.auth.server.identity.key/value),
   * else one derived from the shared auth secret; none with auth off. */
  char ident[96];
  if (c->server_identity_key && *c->server_identity_key) {
    o.identity_key = c->server_identity_key;
    o.identity_value = c->server_identity_value ? c->server_identity_value : "";
  } else if (nc_auth_peer_identity(a->auth, ident, sizeof(ident)) == 0) {
    o.identity_key = "serverIdentity";
    o.identity_value = ident;
  }
  return nc_cluster_new(&a->loop, a->srv, &o, &a->cluster);
}
static int cluster_start(app *a) { return nc_cluster_start(a->cluster); }
static void cluster_stop(app *a) { nc_cluster_stop(a->cluster); }
static void cluster_free(app *a) { nc_cluster_free(a->cluster); }
static void cluster_stats(app *a, nc_metrics_text *t) { nc_cluster_render_metrics(a->cluster, t); }

/* Service metadata and instance overrides, in the config store's
 * database (after nhttp). A store that cannot be opened is retried in
 * the background; those writes answer 503 meanwhile. */
static int nmeta_init(app *a) {
  const nc_server_cfg *c = a->cfg;
  nc_nmeta_opts o = {.backend = config_backend(c), .data_dir = c->data_dir, .db_url = c->db_url,
                     .reload_ms = (int)c->naming_meta_reload_ms,
                     .expire_ms = (int)c->naming_meta_expire_ms};
  int rc = nc_nmeta_open(&a->loop, a->naming, &o, &a->nmeta);
  if (rc) {
    nc_error("naming metadata (%s): %s; service and instance metadata writes are refused",
             o.backend, nc_strerror(rc));
    return 0;
  }
  nc_nroutes_set_meta(a->nroutes, a->nmeta);
  nc_conroutes_set_meta(a->conroutes, a->nmeta);
  return 0;
}
static void nmeta_free(app *a) { nc_nmeta_free(a->nmeta); }
static void nmeta_stats(app *a, nc_metrics_text *t) {
  if (a->nmeta)
    nc_nmeta_render_metrics(a->nmeta, t);
}

/* HTTP instance writes go to their responsible member (after cluster). */
static int nfwd_init(app *a) {
  return nc_nroutes_set_cluster(a->nroutes, &a->loop, a->srv, a->cluster);
}
static void nfwd_stats(app *a, nc_metrics_text *t) { nc_nroutes_fwd_stats(a->nroutes, t); }

/* Distro replicates naming's ephemeral clients over the cluster's peer
 * connections: after both, stopped before the cluster closes its peers. */
static int distro_init(app *a) {
  const nc_server_cfg *c = a->cfg;
  nc_distro_opts o = {
      .delay_ms = c->distro_delay_ms > 0 ? (int)c->distro_delay_ms : -1,
      .retry_ms = (int)c->distro_retry_ms,
      .verify_ms = (int)c->distro_verify_ms,
      .expire_ms = (int)c->distro_expire_ms,
      .grace_ms = (int)c->distro_grace_ms,
      .chunk_bytes = (int)c->distro_chunk_bytes,
  };
  return nc_distro_new(&a->loop, a->srv, a->cluster, a->naming, &o, &a->distro);
}
static int distro_start(app *a) { return nc_distro_start(a->distro); }
static void distro_stop(app *a) { nc_distro_stop(a->distro); }
static void distro_free(app *a) { nc_distro_free(a->distro); }
static void distro_stats(app *a, nc_metrics_text *t) { nc_distro_render_metrics(a->distro, t); }

/* Automatic rebalance and drain (rebalance.h): after the cluster (it reads
 * the members' load from their reports), before the loader and http, which
 * switch it at run time. */
static int rebal_init(app *a) {
  const nc_server_cfg *c = a->cfg;
  nc_rebal_opts o = {
      .tolerance_pct = (int)c->rebalance_tolerance_pct,
      .tolerance_abs = (int)c->rebalance_tolerance_abs,
      .stop_pct = (int)c->rebalance_stop_pct,
      .period_ms = (int)c->rebalance_period_ms,
      .warmup_ms = (int)c->rebalance_warmup_ms,
      .stable_ms = (int)c->rebalance_stable_ms,
      .min_conn_age_ms = (int)c->rebalance_min_conn_age_ms,
      .cooldown_ms = (int)c->rebalance_cooldown_ms,
      .moves_per_sec = (int)c->rebalance_moves_per_sec,
      .migrate_grace_ms = c->rebalance_migrate_grace_ms > 0 ? (int)c->rebalance_migrate_grace_ms : -1,
      .clients = c->rebalance_clients,
  };
  if (nc_rebal_parse_mode(c->rebalance, &o.mode) != 0)
    return NC_EINVAL;
  /* 0 in the table means "none" for these; the engine reads 0 as default */
  if (!c->rebalance_warmup_ms)
    o.warmup_ms = 1;
  if (!c->rebalance_stable_ms)
    o.stable_ms = 1;
  if (!c->rebalance_min_conn_age_ms)
    o.min_conn_age_ms = 1;
  if (!c->rebalance_stop_pct)
    o.stop_pct = -1;
  return nc_rebal_new(&a->loop, a->srv, a->cluster, a->naming, &o, &a->rebal);
}
/* Started after every module was created: hands the engine to the loader
 * (its drain/undrain/rebalance routes and the cluster view's extras). */
static int rebal_start(app *a) {
  if (a->loader)
    nc_loader_set_rebal(a->loader, a->rebal);
  return nc_rebal_start(a->rebal);
}
static void rebal_stop(app *a) { nc_rebal_stop(a->rebal); }
static void rebal_free(app *a) { nc_rebal_free(a->rebal); }
static void rebal_stats(app *a, nc_metrics_text *t) { nc_rebal_render_metrics(a->rebal, t); }
/* SIGUSR1 drains this node (its connections move to the other members at
 * the capped rate, e.g. before a planned restart), SIGUSR2 undrains it;
 * the loader API does the same over HTTP. */
static void on_sigdrain(uv_signal_t *h, int sig) {
  app *a = h->data;
  if (a->rebal)
    nc_rebal_set_draining(a->rebal, sig == SIGUSR1);
}

/* Config changes to peers: after the cluster, stopped before it closes its
 * peers (which resolves the sends in flight). */
static int cfgsync_init(app *a) {
  return nc_cfg_sync_new(&a->loop, a->srv, a->cluster, a->config, NULL, &a->cfgsync);
}
static void cfgsync_stop(app *a) { nc_cfg_sync_stop(a->cfgsync); }
static void cfgsync_free(app *a) { nc_cfg_sync_free(a->cfgsync); }
static void cfgsync_stats(app *a, nc_metrics_text *t) {
  nc_cfg_sync_render_metrics(a->cfgsync, t);
}

/* Persistent instances (naming_pstore.h) in the config store's database
 * and their health checks (naming_health.h), after the cluster: a write
 * here is announced to every member not DOWN (they reload the service;
 * their periodic reload repairs a lost notice), and the members not DOWN
 * share the checks by the responsible-node hash. */
static void pstore_sent(void *ud, int status, const nc_msg *resp) {
  (void)ud;
  (void)status;
  (void)resp; /* best effort: the peers' periodic reload repairs a loss */
}
static void pstore_notify(void *ud, const char *ns, const char *group, const char *name) {
  app *a = ud;
  nc_member_info m[64];
  size_t n = nc_cluster_members(a->cluster, m, 64);
  for (size_t i = 0; i < n && i < 64; i++) {
    if (m[i].is_self || m[i].state == NC_MEMBER_DOWN)
      continue;
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "namespace", ns);
    cJSON_AddStringToObject(b, "groupName", group);
    cJSON_AddStringToObject(b, "serviceName", name);
    cJSON_AddStringToObject(b, "module", "naming");
    nc_cluster_send(a->cluster, m[i].address, "NcPersistentInstanceSyncRequest", b, 3000,
                    pstore_sent, NULL);
  }
}
static size_t pstore_members(void *ud, const char **addrs, size_t cap) {
  app *a = ud;
  nc_member_info m[256];
  size_t n = nc_cluster_members(a->cluster, m, 256), k = 0;
  for (size_t i = 0; i < n && i < 256 && k < cap; i++)
    if (m[i].state != NC_MEMBER_DOWN)
      addrs[k++] = m[i].address;
  return k;
}
static int pstore_init(app *a) {
  const nc_server_cfg *c = a->cfg;
  nc_npstore_opts o = {.backend = config_backend(c), .data_dir = c->data_dir,
                       .db_url = c->db_url, .timeout_ms = (int)c->db_timeout_ms};
  int rc = nc_npstore_new(&a->loop, a->srv, a->naming, &o, &a->pstore);
  if (rc)
    return rc;
  nc_naming_set_pstore(a->naming, a->pstore);
  nc_nhealth_src src = nc_nhealth_src_pstore(a->pstore);
  nc_nhealth_opts ho = {.first_delay_ms = -1};
  if ((rc = nc_nhealth_new(&a->loop, &src, &ho, &a->nhealth)) != 0)
    return rc;
  nc_nhealth_set_cluster_fn(a->nhealth, nc_nhealth_cluster_pstore, a->pstore);
  if (!nc_cluster_is_standalone(a->cluster)) {
    nc_npstore_set_notify(a->pstore, pstore_notify, a);
    nc_nhealth_set_members(a->nhealth, nc_cluster_self(a->cluster), pstore_members, a);
  }
  return 0;
}
static void pstore_stop(app *a) {
  nc_nhealth_free(a->nhealth);
  a->nhealth = NULL;
  nc_npstore_stop(a->pstore);
}
static void pstore_free(app *a) {
  if (a->naming)
    nc_naming_set_pstore(a->naming, NULL);
  nc_npstore_free(a->pstore);
}
static void pstore_stats(app *a, nc_metrics_text *t) {
  if (a->pstore)
    nc_npstore_render_metrics(a->pstore, t);
  if (a->nhealth)
    nc_nhealth_render_metrics(a->nhealth, t);
}

/* The loader API's cluster half (loader.h): its request types on the
 * cluster port, the connection limit (persistent one loaded here), the
 * operations the HTTP routes run; after the cluster, before http. */
static int loader_init(app *a) {
  nc_loader_opts o = {.data_dir = a->cfg->data_dir, .reset_rate = (int)a->cfg->loader_reset_rate};
  int rc = nc_loader_new(&a->loop, a->srv, a->cluster, &o, &a->loader);
  if (!rc)
    nc_loader_set_rebal(a->loader, a->rebal); /* drain/undrain/rebalance, the "nc" extras */
  return rc;
}
static void loader_stop(app *a) { nc_loader_stop(a->loader); }
static void loader_free(app *a) { nc_loader_free(a->loader); }
static void loader_stats(app *a, nc_metrics_text *t) { nc_loader_render_metrics(a->loader, t); }

static void render_all(void *ud, nc_metrics_text *t);
/* What /health and readiness add while a part is degraded. */
static void status_note(void *ud, char *buf, size_t cap) {
  app *a = ud;
  buf[0] = '\0';
  if (a->config && !nc_config_store_up(a->config))
    snprintf(buf, cap, "config store (%s) unavailable: configs served from memory, writes refused",
             nc_config_store_name(a->config));
}
static int http_start(app *a) {
  const char *hb = a->cfg->http_bind && *a->cfg->http_bind ? a->cfg->http_bind : a->cfg->bind;
  nc_shttp_opts ho = {.bind = hb, .port = (int)a->cfg->port, .render = render_all,
                      .ud = a, .cluster = a->cluster, .note = status_note, .auth = a->auth,
                      .loader = a->loader, .naming_routes = a->nroutes,
                      .config_routes = a->croutes, .namespace_routes = a->nsroutes,
                      .console_routes = a->conroutes,
                      .tls_cert_file = a->cfg->tls_cert, .tls_key_file = a->cfg->tls_key,
                      .tls_client_ca_file = a->cfg->tls_client_ca};
  ho.header_timeout_s = (unsigned)a->cfg->http_header_timeout_s;
  ho.body_timeout_s = (unsigned)a->cfg->http_body_timeout_s;
  ho.max_conns = (unsigned)a->cfg->http_max_connections;
  ho.max_conns_per_ip = (unsigned)a->cfg->http_max_connections_per_ip;
  ho.max_body = (size_t)a->cfg->http_max_body_bytes;
  int rc = nc_shttp_start(&a->loop, a->srv, &ho, &a->http);
  if (!rc)
    a->ports[0] = nc_shttp_port(a->http);
  return rc;
}
static void http_stop(app *a) {
  nc_shttp_stop(a->http);
  a->http = NULL;
}

typedef struct module {
  const char *name;
  int (*init)(app *a);
  int (*start)(app *a);
  void (*stop)(app *a);
  void (*free)(app *a);
  void (*stats)(app *a, nc_metrics_text *t);
} module;

static const module modules[] = {
    {"core", core_init, core_start, core_stop, core_free, core_stats},
    {"naming", naming_init, NULL, NULL, naming_free, naming_stats},
    {"config", config_init, NULL, config_stop, config_free, config_stats},
    {"auth", auth_init, NULL, NULL, auth_free, NULL},
    {"nhttp", nhttp_init, NULL, NULL, nhttp_free, nhttp_stats},
    {"nmeta", nmeta_init, NULL, NULL, nmeta_free, nmeta_stats},
    {"cluster", cluster_init, cluster_start, cluster_stop, cluster_free, cluster_stats},
    {"nfwd", nfwd_init, NULL, NULL, NULL, nfwd_stats},
    {"distro", distro_init, distro_start, distro_stop, distro_free, distro_stats},
    {"cfgsync", cfgsync_init, NULL, cfgsync_stop, cfgsync_free, cfgsync_stats},
    {"pstore", pstore_init, NULL, pstore_stop, pstore_free, pstore_stats},
    {"rebal", rebal_init, rebal_start, rebal_stop, rebal_free, rebal_stats},
    {"loader", loader_init, NULL, loader_stop, loader_free, loader_stats},
    {"http", NULL, http_start, http_stop, NULL, NULL},
};
#define N_MODULES (sizeof(modules) / sizeof(modules[0]))

static void render_all(void *ud, nc_metrics_text *t) {
  for (size_t i = 0; i < N_MODULES; i++)
    if (modules[i].stats)
      modules[i].stats(ud, t);
}

/* Runs every module's init, then every start, in table order. *inited
 * says how many modules were created (they need modules_down, even on a
 * failure). */
static int modules_up(app *a, size_t *inited) {
  for (*inited = 0; *inited < N_MODULES; (*inited)++) {
    const module *m = &modules[*inited];
    int rc = m->init ? m->init(a) : 0;
    if (rc) {
      nc_error("startup failed: %s: %s", m->name, nc_strerror(rc));
      return rc;
    }
  }
  for (size_t i = 0; i < N_MODULES; i++) {
    const module *m = &modules[i];
    int rc = m->start ? m->start(a) : 0;
    if (rc) {
      nc_error("startup failed: %s: %s", m->name, nc_strerror(rc));
      return rc;
    }
  }
  return 0;
}

/* Stops, then frees, the first n modules, in reverse order. */
static void modules_down(app *a, size_t n) {
  for (size_t i = n; i-- > 0;)
    if (modules[i].stop)
      modules[i].stop(a);
  for (size_t i = n; i-- > 0;)
    if (modules[i].free)
      modules[i].free(a);
}

static int mkdir_p(const char *dir) {
  char tmp[4096];
  snprintf(tmp, sizeof(tmp), "%s", dir);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
      *p = '/';
    }
  return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

static void walk_close(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* Every SDK connection is a descriptor: take all the kernel allows (the
 * soft limit is often 1024 while the hard one is far higher). */
static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return;
  rlim_t soft = rl.rlim_cur;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      rl.rlim_cur = soft;
  }
  nc_info("descriptor limit: soft %llu (was %llu), hard %llu", (unsigned long long)rl.rlim_cur,
          (unsigned long long)soft, (unsigned long long)rl.rlim_max);
}

int main(int argc, char **argv) {
  nc_server_cfg cfg = {0};
  app a = {0};
  int rc = nc_server_cfg_parse(&cfg, argc, argv), exit_code = 1;
  if (rc == NC_OPTS_EXIT) {
    nc_server_cfg_free(&cfg);
    return 0;
  }
  if (rc < 0) {
    nc_server_cfg_free(&cfg);
    return 2;
  }
  nc_log_set_ident("nacosd");
  nc_log_level lvl;
  if (nc_log_parse_level(cfg.log_level, &lvl) != 0) {
    fprintf(stderr, "nacosd: bad --log-level '%s'\n", cfg.log_level);
    nc_server_cfg_free(&cfg);
    return 2;
  }
  nc_log_set_level(lvl);
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();
  apply_transport_limits(&cfg);
  if (mkdir_p(cfg.data_dir) != 0) {
    nc_error("cannot create data dir %s: %s", cfg.data_dir, strerror(errno));
    nc_server_cfg_free(&cfg);
    return 1;
  }
  nc_grpc_init();
  uv_loop_init(&a.loop);
  a.cfg = &cfg;
  /* Signals first: a SIGTERM that arrives while the modules start (or
   * right after the port file appears, when a script already acts on it)
   * must mean a clean shutdown, not the default action. */
  uv_signal_init(&a.loop, &a.sig_term);
  uv_signal_init(&a.loop, &a.sig_int);
  uv_signal_start(&a.sig_term, on_signal, SIGTERM);
  uv_signal_start(&a.sig_int, on_signal, SIGINT);
  a.argc = argc;
  a.argv = argv;
  uv_signal_init(&a.loop, &a.sig_hup);
  a.sig_hup.data = &a;
  uv_signal_start(&a.sig_hup, on_sighup, SIGHUP);
  uv_signal_init(&a.loop, &a.sig_drain);
  uv_signal_init(&a.loop, &a.sig_undrain);
  a.sig_drain.data = a.sig_undrain.data = &a;
  uv_signal_start(&a.sig_drain, on_sigdrain, SIGUSR1);
  uv_signal_start(&a.sig_undrain, on_sigdrain, SIGUSR2);
  size_t inited = 0;
  if (modules_up(&a, &inited) != 0)
    goto out;
  nc_info("listening on %s: http %d, grpc %d, cluster %d (data %s)", cfg.bind, a.ports[0],
          a.ports[1], a.ports[2], cfg.data_dir);
  if (cfg.port_file &&
      nc_server_write_port_file(cfg.port_file, a.ports[0], a.ports[1], a.ports[2]) != 0) {
    nc_error("cannot write port file %s", cfg.port_file);
    goto out;
  }
  nc_sdnotify("READY=1"); /* storage loaded and every port listening */
  uv_run(&a.loop, UV_RUN_DEFAULT);
  exit_code = 0;
out:
  modules_down(&a, inited);
  uv_walk(&a.loop, walk_close, NULL);
  uv_run(&a.loop, UV_RUN_DEFAULT);
  uv_loop_close(&a.loop);
  nc_grpc_shutdown();
  nc_server_cfg_free(&cfg);
  nc_info("stopped");
  return exit_code;
}
