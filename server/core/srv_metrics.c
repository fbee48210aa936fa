/* srv_metrics: the core's Prometheus families (see srv_rpc.h). */
#include "srv_priv.h"

#define PFX "nacosd_"

static void count_type(void *ud, const char *type, uint64_t n) {
  nc_metrics_add_labelled(ud, PFX, "requests_by_type_total", "type", type, n);
}

void nc_srv_render_metrics(nc_srv *srv, nc_metrics_text *t) {
  const nc_srv_stats *s = &srv->st;
#define C(name, help, v) nc_metrics_add(t, PFX, name, help, (uint64_t)(v))
  C("connections", "Open client connections.", nc_srv_conn_count(srv));
  C("connections_opened_total", "Connections registered (ConnectionSetupRequest accepted).",
    s->conns_opened);
  C("connections_closed_total", "Connections ended for any reason.", s->conns_closed);
  C("connections_probed_total", "ClientDetectionRequest probes sent to idle connections.",
    s->conns_probed);
  C("connections_dropped_idle_total", "Connections dropped for not answering a probe.",
    s->conns_dropped_idle);
  C("connections_rejected_total", "Connections refused by --max-connections.", s->conns_rejected);
  C("connections_rejected_ip_total", "Connections refused by --max-connections-per-ip.",
    s->conns_rejected_ip);
  C("streams_setup_timeout_total",
    "Streams closed for sending no ConnectionSetupRequest within --connection-setup-timeout-ms.",
    s->streams_setup_timeout);
  C("streams_rejected_total",
    "Streams closed on arrival: their connection had --max-pending-streams without a setup.",
    s->streams_rejected);
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
  C("requests_too_large_total",
    "SDK requests refused unparsed: their JSON body was over --grpc-max-body-bytes.",
    s->requests_too_large);
  C("write_requests_total", "Requests that change state (register, publish, remove, ...).",
    s->writes);
#undef C
  nc_metrics_family(t, PFX, "requests_by_type_total", "Requests handled, by request type.");
  nc_srv_each_request_count(srv, count_type, t);
  /* TLS on the gRPC ports (nc_grpc_tls.c), process-wide */
  nc_gsrv_tls_counts tc;
  nc_gsrv_tls_get_counts(&tc);
  nc_metrics_family(t, PFX, "tls_handshakes_total",
                    "TLS handshakes on the gRPC ports: ok, failed (bad or no certificate, not "
                    "TLS, closed), timeout (--tls-handshake-timeout-ms).");
  nc_metrics_add_labelled(t, PFX, "tls_handshakes_total", "result", "ok", tc.handshakes_ok);
  nc_metrics_add_labelled(t, PFX, "tls_handshakes_total", "result", "failed",
                          tc.handshakes_failed);
  nc_metrics_add_labelled(t, PFX, "tls_handshakes_total", "result", "timeout",
                          tc.handshakes_timeout);
  nc_metrics_add(t, PFX, "tls_plaintext_connections_total",
                 "Plain-text connections served on the TLS SDK port (--tls-plaintext on).",
                 tc.plaintext);
}
