/* fuzz_dispatch: the Payload codec and the server's request path, from the
 * bytes of a gRPC message to naming's and config's handlers and back.
 *
 * One nacosd core (nc_srv with naming, config on SQLite in a tmpfs dir, and
 * the cluster's handlers: member reports, distro, config sync, as node
 * 127.0.0.1:8848 of a two-node list whose other member is C) lives for the
 * whole run, without a network: transport events are pushed
 * into its event queue as the gRPC server would, and the transport calls
 * the core makes (unary replies, stream sends and closes) are redirected
 * here with the linker's --wrap. Every reply and push is decoded again, so
 * what the server encodes is checked as well.
 *
 * An input is a record sequence (fuzz_util.h); the record kind picks the
 * sender:
 *   0  unary call from A, a registered SDK connection
 *   1  unary call from B, registered only if the input sent it a setup (3)
 *   2  unary call from C, a registered peer on the cluster port
 *   3  message on B's stream (e.g. a ConnectionSetupRequest, an ack)
 *   4  message on A's stream (acks, junk)
 * Each input opens A's, B's and C's streams first and closes them at the
 * end, so connection-bound state (subscriptions, ephemeral instances,
 * listeners) does not pile up across inputs; configs and persistent
 * services do, as on a real server. Pushes are acked at once. */
#include "cluster.h"
#include "config_service.h"
#include "config_sync.h"
#include "distro.h"
#include "fuzz_util.h"
#include "naming_handlers.h"
#include "nc_err.h"
#include "nc_grpc_server.h"
#include "nc_json.h"
#include "nc_log.h"
#include "nc_payload.h"
#include "srv_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uv_loop_t loop;
static nc_srv *srv;
static char fake_sdk, fake_cluster; /* the two "ports": only their addresses matter */
static unsigned long events_pushed, events_freed, calls_made, calls_answered;

#define MAX_ACKS 64
static char *acks[MAX_ACKS]; /* requestIds of pushes to answer */
static uint64_t ack_stream[MAX_ACKS];
static size_t n_acks;

enum { STREAM_A = 1, STREAM_B = 2, STREAM_C = 3 };
static const char *const peer_of[] = {NULL, "ipv4:10.0.0.1:40001", "ipv4:10.0.0.2:40002",
                                      "ipv4:10.0.0.3:40003"};

/* ---- the transport, as the core sees it ---- */

void __real_nc_gsrv_ev_free(nc_gsrv_ev *ev);
void __wrap_nc_gsrv_ev_free(nc_gsrv_ev *ev) {
  events_freed++;
  __real_nc_gsrv_ev_free(ev);
}

/* Whatever the core answers must decode as a Payload with a JSON body. */
static void check_reply(const uint8_t *data, size_t len) {
  nc_msg *m = NULL;
  if (len == 0)
    return; /* the core's out-of-memory release */
  int rc = nc_payload_decode(data, len, &m);
  FZ_CHECK(rc == 0);
  FZ_CHECK(m->body_error == 0);
  FZ_CHECK(m->type[0] != '\0');
  nc_msg_free(m);
}

int __wrap_nc_gsrv_unary_reply(nc_gsrv_unary *call, const uint8_t *data, size_t len) {
  (void)call;
  calls_answered++;
  check_reply(data, len);
  return 0;
}

int __wrap_nc_gsrv_stream_send(nc_gsrv *g, uint64_t stream_id, const uint8_t *data, size_t len) {
  nc_msg *m = NULL;
  (void)g;
  int rc = nc_payload_decode(data, len, &m);
  FZ_CHECK(rc == 0 && m->body_error == 0);
  const char *rid = nc_json_str(m->body, "requestId", NULL);
  if (!strcmp(m->type, "SetupAckRequest")) {
    /* the ability handshake (srv_ability.c): no requestId, no ack, as Nacos */
    FZ_CHECK(!rid);
    nc_msg_free(m);
    return 0;
  }
  FZ_CHECK(rid && *rid);
  if (n_acks < MAX_ACKS) {
    ack_stream[n_acks] = stream_id;
    acks[n_acks++] = strdup(rid);
  }
  nc_msg_free(m);
  return 0;
}

void __wrap_nc_gsrv_stream_close(nc_gsrv *g, uint64_t stream_id) {
  (void)g;
  (void)stream_id;
}

/* ---- feeding events ---- */

static void push_event(nc_gsrv_ev_type type, uint64_t stream, const uint8_t *data, size_t len) {
  nc_gsrv_ev *ev = calloc(1, sizeof(*ev));
  if (!ev)
    abort();
  ev->type = type;
  ev->srv = (nc_gsrv *)(stream == STREAM_C ? &fake_cluster : &fake_sdk);
  ev->stream_id = stream;
  snprintf(ev->peer, sizeof(ev->peer), "%s", peer_of[stream]);
  if (len) {
    ev->data = malloc(len);
    if (!ev->data)
      abort();
    memcpy(ev->data, data, len);
    ev->len = len;
  }
  if (type == NC_GSRV_EV_UNARY) {
    ev->call = (nc_gsrv_unary *)&calls_made; /* never dereferenced by the core */
    calls_made++;
  }
  events_pushed++;
  if (nc_evq_push(srv->q, &ev->node) != 0)
    abort();
}

static void push_json(nc_gsrv_ev_type type, uint64_t stream, const char *msg_type,
                      const char *json) {
  uint8_t *buf = NULL;
  size_t len = 0;
  if (nc_payload_encode(msg_type, "10.0.0.9", NULL, 0, json, strlen(json), &buf, &len))
    abort();
  push_event(type, stream, buf, len);
  free(buf);
}

/* Runs the loop until every event was handled and every call answered
 * (config answers a write after its commit, from the writer thread). A
 * handler that never answers hangs here: libFuzzer reports a timeout. */
static void drain(void) {
  for (;;) {
    while (n_acks) {
      char body[128];
      n_acks--;
      snprintf(body, sizeof(body), "{\"requestId\":\"%s\",\"resultCode\":200}", acks[n_acks]);
      push_json(NC_GSRV_EV_STREAM_MSG, ack_stream[n_acks], "NotifySubscriberResponse", body);
      free(acks[n_acks]);
    }
    if (events_freed == events_pushed && calls_answered == calls_made)
      break;
    uv_run(&loop, UV_RUN_ONCE);
  }
}

static const char setup_json[] =
    "{\"clientVersion\":\"Nacos-Go-Client:v2.2.7\",\"tenant\":\"\",\"labels\":"
    "{\"source\":\"sdk\",\"module\":\"naming\",\"AppName\":\"fuzz\"},"
    "\"abilityTable\":{},\"headers\":{}}";
static const char peer_setup_json[] =
    "{\"clientVersion\":\"Nacos-C-Server:0.1.0\",\"tenant\":\"\",\"labels\":"
    "{\"source\":\"cluster\"},\"headers\":{}}";

/* ---- libFuzzer ---- */

static const char *data_dir;

/* The store's files go with the process (a crash leaves them in /dev/shm). */
static void remove_data_dir(void) {
  static const char *const files[] = {"config.db", "config.db-wal", "config.db-shm",
                                      "config.db-journal"};
  char path[512];
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", data_dir, files[i]);
    unlink(path);
  }
  rmdir(data_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  static char dir[] = "/dev/shm/nc-fuzz-dispatch-XXXXXX";
  nc_naming *naming = NULL;
  nc_config_service *config = NULL;
  nc_cluster *cluster = NULL;
  nc_distro *distro = NULL;
  nc_cfg_sync *cfgsync = NULL;
  nc_log_set_level(getenv("FUZZ_LOG") ? NC_LOG_DEBUG : NC_LOG_ERROR);
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    abort();
  }
  uv_loop_init(&loop);
  nc_srv_opts so = {.bind = "127.0.0.1", .cluster_port = -1};
  nc_naming_opts no = {.merge_ms = 0};
  nc_config_opts co = {.data_dir = dir};
  /* Never started: nothing connects to the other member. */
  nc_cluster_opts clo = {.members = "127.0.0.1:8848,10.0.0.3:8848", .advertise_ip = "127.0.0.1",
                         .main_port = 8848};
  nc_distro_opts dio = {.delay_ms = -1};
  if (nc_srv_new(&loop, &so, &srv) || nc_naming_init(srv, &no, &naming) ||
      nc_config_init(srv, &co, &config) || nc_cluster_new(&loop, srv, &clo, &cluster) ||
      nc_distro_new(&loop, srv, cluster, naming, &dio, &distro) ||
      nc_cfg_sync_new(&loop, srv, cluster, config, NULL, &cfgsync)) {
    fprintf(stderr, "fuzz_dispatch: server core set-up failed\n");
    abort();
  }
  /* Not started: the two transports are the fakes above. */
  srv->g[0] = (nc_gsrv *)&fake_sdk;
  srv->g[1] = (nc_gsrv *)&fake_cluster;
  data_dir = dir;
  atexit(remove_data_dir);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_rec r;
  for (uint64_t s = STREAM_A; s <= STREAM_C; s++)
    push_event(NC_GSRV_EV_STREAM_OPEN, s, NULL, 0);
  push_json(NC_GSRV_EV_STREAM_MSG, STREAM_A, "ConnectionSetupRequest", setup_json);
  push_json(NC_GSRV_EV_STREAM_MSG, STREAM_C, "ConnectionSetupRequest", peer_setup_json);
  drain();
  while (fz_next(&data, &size, &r)) {
    switch (r.kind % 5) {
    case 0:
      push_event(NC_GSRV_EV_UNARY, STREAM_A, r.data, r.len);
      break;
    case 1:
      push_event(NC_GSRV_EV_UNARY, STREAM_B, r.data, r.len);
      break;
    case 2:
      push_event(NC_GSRV_EV_UNARY, STREAM_C, r.data, r.len);
      break;
    case 3:
      push_event(NC_GSRV_EV_STREAM_MSG, STREAM_B, r.data, r.len);
      break;
    default:
      push_event(NC_GSRV_EV_STREAM_MSG, STREAM_A, r.data, r.len);
      break;
    }
    drain();
  }
  for (uint64_t s = STREAM_A; s <= STREAM_C; s++)
    push_event(NC_GSRV_EV_STREAM_CLOSED, s, NULL, 0);
  drain();
  FZ_CHECK(nc_srv_conn_count(srv) == 0);
  return 0;
}
