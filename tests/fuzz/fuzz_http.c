/* fuzz_http: nacosd's HTTP/1.1 request handling, from the bytes a client
 * sends to the answer: libmicrohttpd's parser, nc_http (body, form and
 * query parameters, headers, route lookup, held requests) and srv_http's
 * routes (/health, /metrics, readiness, the loader API, the cluster's
 * member API) over a server core with naming, config and a two-node
 * cluster list, none of them started.
 *
 * Without a network: the server listens on 127.0.0.1 as nacosd does, but
 * each input arrives on one end of a socketpair handed to the daemon with
 * MHD_add_connection (the daemon is caught when nc_http starts it, through
 * the libmicrohttpd table nc_http calls). The input is the raw byte stream of
 * one connection (pipelined requests allowed); whatever comes back must be
 * HTTP responses. */
#include "cluster.h"
#include "config_service.h"
#include "fuzz_util.h"
#include "loader.h"
#include "naming_handlers.h"
#include "nc_log.h"
#include "nc_mhd.h"
#include "srv_http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t loop;
static struct MHD_Daemon *daemon_seen;
static const char *data_dir;

/* Stands in for MHD_start_daemon in nc_http's table: the same daemon,
 * remembered here. */
static struct MHD_Daemon *catch_start(unsigned int flags, uint16_t port,
                                      MHD_AcceptPolicyCallback apc, void *apc_cls,
                                      MHD_AccessHandlerCallback dh, void *dh_cls, ...) {
  va_list ap;
  va_start(ap, dh_cls);
  struct MHD_Daemon *d = MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
  va_end(ap);
  daemon_seen = d;
  return d;
}

static unsigned open_conns(void) {
  const union MHD_DaemonInfo *di =
      MHD_get_daemon_info(daemon_seen, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
  return di ? di->num_connections : 0;
}

static void remove_data_dir(void) {
  static const char *const files[] = {"config.db",         "config.db-wal",
                                      "config.db-shm",     "config.db-journal",
                                      "connection/limitRule", "connection/limitRule.tmp"};
  char path[512];
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", data_dir, files[i]);
    unlink(path);
  }
  snprintf(path, sizeof(path), "%s/connection", data_dir); /* a persistent loader limit */
  rmdir(path);
  rmdir(data_dir);
}

static int ready(void *ud, char *why, size_t cap) {
  (void)ud;
  snprintf(why, cap, "fuzzing");
  return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  static char dir[] = "/dev/shm/nc-fuzz-http-XXXXXX";
  char why[300];
  nc_srv *srv = NULL;
  nc_naming *naming = NULL;
  nc_config_service *config = NULL;
  nc_cluster *cluster = NULL;
  nc_loader *loader = NULL;
  nc_shttp *http = NULL;
  nc_log_set_level(getenv("FUZZ_LOG") ? NC_LOG_DEBUG : NC_LOG_ERROR);
  if (!mkdtemp(dir) || nc_mhd_load(why, sizeof(why)) != 0) {
    fprintf(stderr, "fuzz_http: set-up failed\n");
    abort();
  }
  data_dir = dir;
  atexit(remove_data_dir);
  nc_mhd.start_daemon = catch_start;
  uv_loop_init(&loop);
  nc_srv_opts so = {.bind = "127.0.0.1", .cluster_port = -1};
  nc_naming_opts no = {.merge_ms = 0};
  nc_config_opts co = {.data_dir = dir};
  nc_cluster_opts clo = {.members = "127.0.0.1:8848,10.0.0.3:8848", .advertise_ip = "127.0.0.1",
                         .main_port = 8848};
  nc_shttp_opts ho = {.bind = "127.0.0.1", .ready = ready, .cluster = NULL};
  if (nc_srv_new(&loop, &so, &srv) || nc_naming_init(srv, &no, &naming) ||
      nc_config_init(srv, &co, &config) || nc_cluster_new(&loop, srv, &clo, &cluster) ||
      nc_loader_new(&loop, srv, cluster, &(nc_loader_opts){.data_dir = dir}, &loader)) {
    fprintf(stderr, "fuzz_http: server core set-up failed\n");
    abort();
  }
  ho.cluster = cluster;
  ho.loader = loader; /* the loader API's routes */
  if (nc_shttp_start(&loop, srv, &ho, &http) != 0 || !daemon_seen) {
    fprintf(stderr, "fuzz_http: HTTP server set-up failed\n");
    abort();
  }
  return 0;
}

/* Reads what the server sent so far onto out; 1 once it closed its end. */
static int read_some(int fd, char *out, size_t cap, size_t *n) {
  for (;;) {
    char buf[4096];
    ssize_t k = read(fd, buf, sizeof(buf));
    if (k > 0) {
      size_t take = (size_t)k < cap - *n ? (size_t)k : cap - *n;
      memcpy(out + *n, buf, take);
      *n += take;
      continue;
    }
    return k == 0 || (errno != EAGAIN && errno != EINTR);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int sv[2];
  static char resp[8192];
  size_t got = 0;
  struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40001),
                             .sin_addr.s_addr = htonl(0x0a000001)};
  FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  FZ_CHECK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
  /* The daemon owns sv[0] from here (closes it with the connection). */
  FZ_CHECK(MHD_add_connection(daemon_seen, sv[0], (struct sockaddr *)&peer, sizeof(peer)) ==
           MHD_YES);
  size_t off = 0;
  int closed = 0, idle = 0;
  /* Feed the bytes as the socket takes them; stop once the server closed
   * or nothing moved for a few rounds (a held request, a half-sent one). */
  while (!closed && idle < 4) {
    int moved = 0;
    if (off < size) {
      ssize_t k = write(sv[1], data + off, size - off);
      if (k > 0) {
        off += (size_t)k;
        moved = 1;
      }
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    size_t before = got;
    closed = read_some(sv[1], resp, sizeof(resp), &got);
    moved |= got != before;
    idle = moved ? 0 : idle + 1;
  }
  if (getenv("FUZZ_LOG"))
    fprintf(stderr, "answer (%zu bytes%s):\n%.*s\n", got, closed ? ", closed" : "", (int)got, resp);
  /* Anything the server answered is HTTP. */
  if (got >= 5)
    FZ_CHECK(memcmp(resp, "HTTP/", 5) == 0);
  close(sv[1]);
  /* The client is gone: the daemon drops the connection and nc_http frees
   * its request (held ones included). */
  for (int i = 0; i < 1000 && open_conns() > 0; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  FZ_CHECK(open_conns() == 0);
  return 0;
}
