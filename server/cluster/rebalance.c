/* rebalance: engine state, run-time switches and status (rebalance.h).
 * First cut: the API compiles and keeps its switches; the decision loop
 * follows. */
#include "rebalance.h"

#include "nc_err.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

struct nc_rebal {
  uv_loop_t *loop;
  nc_srv *srv;
  nc_cluster *cl;
  nc_naming *naming;
  nc_rebal_opts o;
  nc_rebal_mode mode;
  int draining;
  uint64_t moves_out;
  long excess;
};

const char *nc_rebal_mode_name(nc_rebal_mode m) { return m == NC_REBAL_AUTO ? "auto" : "off"; }

int nc_rebal_parse_mode(const char *s, nc_rebal_mode *out) {
  if (!s) return NC_EINVAL;
  if (!strcmp(s, "auto") || !strcmp(s, "on") || !strcmp(s, "true")) {
    *out = NC_REBAL_AUTO;
    return 0;
  }
  if (!strcmp(s, "off") || !strcmp(s, "false")) {
    *out = NC_REBAL_OFF;
    return 0;
  }
  return NC_EINVAL;
}

int nc_rebal_new(uv_loop_t *loop, nc_srv *srv, nc_cluster *cl, nc_naming *naming,
                 const nc_rebal_opts *opts, nc_rebal **out) {
  nc_rebal *rb = calloc(1, sizeof(*rb));
  if (!rb) return NC_ENOMEM;
  rb->loop = loop;
  rb->srv = srv;
  rb->cl = cl;
  rb->naming = naming;
  if (opts) rb->o = *opts;
  if (rb->o.moves_per_sec <= 0) rb->o.moves_per_sec = 20;
  rb->mode = rb->o.mode;
  *out = rb;
  return 0;
}

int nc_rebal_start(nc_rebal *rb) { return rb ? 0 : NC_EINVAL; }
void nc_rebal_stop(nc_rebal *rb) { (void)rb; }
void nc_rebal_free(nc_rebal *rb) {
  if (!rb) return;
  nc_rebal_stop(rb);
  free(rb);
}

nc_rebal_mode nc_rebal_get_mode(const nc_rebal *rb) { return rb->mode; }
void nc_rebal_set_mode(nc_rebal *rb, nc_rebal_mode m) { rb->mode = m; }
int nc_rebal_draining(const nc_rebal *rb) { return rb->draining; }
void nc_rebal_set_draining(nc_rebal *rb, int on) { rb->draining = on ? 1 : 0; }
long nc_rebal_movable(nc_rebal *rb) { return (long)nc_srv_sdk_conn_count(rb->srv); }
int nc_rebal_moves_per_sec_cap(const nc_rebal *rb) { return rb->o.moves_per_sec; }
uint64_t nc_rebal_moves_out(const nc_rebal *rb) { return rb->moves_out; }

cJSON *nc_rebal_status_json(nc_rebal *rb) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "rebalance", nc_rebal_mode_name(rb->mode));
  cJSON_AddBoolToObject(o, "draining", rb->draining);
  cJSON_AddNumberToObject(o, "movesOut", (double)rb->moves_out);
  cJSON_AddNumberToObject(o, "excess", (double)rb->excess);
  cJSON_AddNumberToObject(o, "movable", (double)nc_rebal_movable(rb));
  cJSON_AddNumberToObject(o, "movesPerSecCap", rb->o.moves_per_sec);
  return o;
}

cJSON *nc_rebal_member_status_json(nc_rebal *rb, const char *address) {
  (void)rb;
  (void)address;
  return NULL;
}

void nc_rebal_render_metrics(nc_rebal *rb, nc_metrics_text *t) {
  nc_metrics_add(t, "nacos_", "rebalance_resets_total", "ConnectResetRequests sent by rebalance or drain.",
                 rb->moves_out);
}
