/* nacosd: a Nacos 2.x compatible server. Wires the server core (srv_rpc),
 * naming and config onto one libuv loop, listens on the SDK and cluster
 * gRPC ports plus an HTTP port for metrics, and shuts down cleanly on
 * SIGTERM/SIGINT; SIGHUP re-reads the configuration (log level). */
#include "config_service.h"
#include "console.h"
#include "naming_handlers.h"
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_server.h"
#include "nc_log.h"
#include "nc_metrics.h"
#include "nc_sdnotify.h"
#include "nc_opts.h"
#include "server_opts.h"
#include "srv_rpc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

typedef struct app {
  uv_loop_t loop;
  uv_signal_t sig_term, sig_int, sig_hup;
  int argc;
  char **argv;
  nc_srv *srv;
  nc_naming *naming;
  nc_config_service *config;
  nc_metrics *metrics;
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

#define PFX "nacosd_"

static void count_type(void *ud, const char *type, uint64_t n) {
  nc_metrics_add_labelled(ud, PFX, "requests_by_type_total", "type", type, n);
}

static char *render_metrics(void *ud) {
  app *a = ud;
  nc_metrics_text b = {0};
  const nc_srv_stats *s = nc_srv_get_stats(a->srv);
  nc_nreg_stats rs = {0};
  nc_npush_stats ps = {0};
  nc_naming_get_stats(a->naming, &rs, &ps);
#define C(name, help, v) nc_metrics_add(&b, PFX, name, help, (uint64_t)(v))
  C("connections", "Open client connections.", nc_srv_conn_count(a->srv));
  C("connections_opened_total", "Connections registered (ConnectionSetupRequest accepted).",
    s->conns_opened);
  C("connections_closed_total", "Connections ended for any reason.", s->conns_closed);
  C("connections_probed_total", "ClientDetectionRequest probes sent to idle connections.",
    s->conns_probed);
  C("connections_dropped_idle_total", "Connections dropped for not answering a probe.",
    s->conns_dropped_idle);
  C("connections_rejected_total", "Connections refused by --max-connections.", s->conns_rejected);
  C("connections_reset_total", "ConnectResetRequests sent (console reload or rebalancing).",
    s->conns_reset);
  C("pushes_sent_total", "Server pushes written to client streams.", s->pushes_sent);
  C("pushes_acked_total", "Server pushes acknowledged with success.", s->pushes_acked);
  C("pushes_nacked_total", "Server pushes acknowledged with an error.", s->pushes_nacked);
  C("pushes_timeout_total", "Server pushes not acknowledged in time.", s->pushes_timeout);
  C("pushes_gone_total", "Server pushes whose connection ended first.", s->pushes_gone);
  C("pushes_busy_total", "Server pushes refused because the stream's queue was full.",
    s->pushes_busy);
  C("requests_total", "Requests handled (unary and stream).", s->requests);
  C("request_errors_total", "Requests answered with an error code.", s->request_errors);
  C("naming_services", "Services in the naming registry.", rs.services);
  C("naming_instances", "Instances in the naming registry.", rs.instances);
  C("naming_subscribers", "Service subscriptions held by connections.", rs.subscribers);
  C("naming_pushes_sent_total", "NotifySubscriberRequests sent, retries included.", ps.sent);
  C("naming_pushes_acked_total", "NotifySubscriberRequests acknowledged.", ps.acked);
  C("naming_pushes_retried_total", "NotifySubscriberRequests sent again after a timeout or error.",
    ps.retried);
  C("naming_pushes_failed_total", "NotifySubscriberRequests given up on.", ps.failed);
  if (a->config) {
    const nc_config_stats *cs = nc_config_get_stats(a->config);
    C("config_configs", "Configs in the store.", cs->configs);
    C("config_listeners", "Config keys listened to, counted per connection.", cs->listeners);
    C("config_notifies_sent_total", "ConfigChangeNotifyRequests sent, retries included.",
      cs->notifies_sent);
    C("config_notifies_acked_total", "ConfigChangeNotifyRequests acknowledged.",
      cs->notifies_acked);
  }
#undef C
  nc_metrics_family(&b, PFX, "requests_by_type_total", "Requests handled, by request type.");
  nc_srv_each_request_count(a->srv, count_type, &b);
  return nc_metrics_text_take(&b);
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

  nc_srv_opts so = {
      .bind = cfg.bind,
      .grpc_port = (int)cfg.grpc_port,
      .cluster_port = (int)cfg.cluster_port,
      .grpc_threads = (int)cfg.grpc_threads,
      .idle_probe_ms = (int)cfg.idle_probe_ms,
      .probe_timeout_ms = (int)cfg.probe_timeout_ms,
      .send_thread = cfg.send_thread,
      .max_connections = (int)cfg.max_connections,
  };
  nc_naming_opts no = {
      .merge_ms = (int)cfg.push_merge_ms,
      .push_timeout_ms = (int)cfg.push_timeout_ms,
      .push_retry_ms = (int)cfg.push_retry_ms,
      .empty_service_ttl_ms = (int)cfg.empty_service_ttl_ms,
  };
  nc_config_opts co = {
      .data_dir = cfg.data_dir,
      .max_content_bytes = cfg.config_max_content,
      .history_keep = cfg.config_history_keep,
      .notify_timeout_ms = (int)cfg.config_notify_timeout_ms,
      .notify_max_retries = (int)cfg.config_notify_max_retries,
      .notify_retry_base_ms = (int)cfg.config_notify_retry_ms,
  };
  int gport = 0, cport = 0, hport = 0;
  if ((rc = nc_srv_new(&a.loop, &so, &a.srv)) != 0 ||
      (rc = nc_naming_init(a.srv, &no, &a.naming)) != 0) {
    nc_error("startup failed: %s", nc_strerror(rc));
    goto out;
  }
  if ((rc = nc_config_init(a.srv, &co, &a.config)) != 0) {
    nc_error("config service failed to start: %s", nc_strerror(rc));
    goto out;
  }
  if ((rc = nc_metrics_start(&a.loop, cfg.bind, (int)cfg.port, render_metrics, &a, &a.metrics,
                             &hport)) != 0 ||
      (rc = nc_srv_start(a.srv, &gport, &cport)) != 0)
    goto out;
  nc_metrics_set_router(a.metrics, nc_console_route, a.srv);
  nc_info("listening on %s: http %d, grpc %d, cluster %d (data %s)", cfg.bind, hport, gport,
          cport, cfg.data_dir);
  if (cfg.port_file && nc_server_write_port_file(cfg.port_file, hport, gport, cport) != 0) {
    nc_error("cannot write port file %s", cfg.port_file);
    goto out;
  }
  uv_signal_init(&a.loop, &a.sig_term);
  uv_signal_init(&a.loop, &a.sig_int);
  uv_signal_start(&a.sig_term, on_signal, SIGTERM);
  uv_signal_start(&a.sig_int, on_signal, SIGINT);
  a.argc = argc;
  a.argv = argv;
  uv_signal_init(&a.loop, &a.sig_hup);
  a.sig_hup.data = &a;
  uv_signal_start(&a.sig_hup, on_sighup, SIGHUP);
  nc_sdnotify("READY=1"); /* storage loaded and every port listening */
  uv_run(&a.loop, UV_RUN_DEFAULT);
  exit_code = 0;
out:
  /* Order matters (see nc_srv_drop_all): connections go first while the
   * transports still run, then config (it answers its deferred requests),
   * then the transports stop, then naming and the core. */
  if (a.srv)
    nc_srv_drop_all(a.srv);
  nc_config_free(a.config);
  if (a.srv)
    nc_srv_shutdown(a.srv);
  nc_naming_free(a.naming);
  nc_srv_free(a.srv);
  nc_metrics_stop(a.metrics);
  uv_walk(&a.loop, walk_close, NULL);
  uv_run(&a.loop, UV_RUN_DEFAULT);
  uv_loop_close(&a.loop);
  nc_grpc_shutdown();
  nc_server_cfg_free(&cfg);
  nc_info("stopped");
  return exit_code;
}
