/* bench_transport: the gRPC transport's own ceiling, without Nacos logic.
 *
 * An echo nc_gsrv runs in a forked child process (so its RSS can be read);
 * this process drives it with nc_gcli:
 *   unary_echo_qps       closed loop, --conns channels, --inflight calls total
 *   stream_msgs_per_s    server -> client one-way messages on bidi streams
 *   pingpong_msgs_per_s  client -> server -> client echo on one stream, pipelined
 *   idle_conn_server_kb  server RSS per idle connection with an open stream
 *   idle_conn_client_kb  the same on the client side (one nc_gcli each)
 *   unary_server_cpu_us_per_call  the server's CPU time per unary call (steadier
 *                        than qps on a shared machine)
 * --tls 1 runs the same over TLS: a self-signed certificate made with the
 * openssl command, nacosd's TLS relay on the server (nc_grpc_tls.c), the
 * C core's SSL credentials on the client; compare with a plain run for the
 * relay's cost.
 * Output: one `name: value` line per figure. */
#include "bench_util.h"
#include "nc_err.h"
#include "nc_grpc.h"
#include "nc_grpc_client.h"
#include "nc_grpc_server.h"
#include "nc_tls_srv.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- server child ------------------------------------------------------ */

static nc_gsrv *g_srv;

static void *flood_thread(void *arg) {
  uint64_t id = (uint64_t)(uintptr_t)arg;
  static const uint8_t msg[64] = {0};
  for (;;) {
    int rc = nc_gsrv_stream_send(g_srv, id, msg, sizeof(msg));
    if (rc == NC_EBUSY)
      sched_yield();
    else if (rc != 0)
      break; /* stream gone */
  }
  return NULL;
}

static atomic_long g_srv_opened, g_srv_msgs, g_srv_closed;

static void srv_event(void *ud, nc_gsrv_ev *ev) {
  (void)ud;
  switch (ev->type) {
  case NC_GSRV_EV_UNARY:
    if (ev->len == 5 && memcmp(ev->data, "stats", 5) == 0) {
      char b[128];
      int n = snprintf(b, sizeof(b), "opened=%ld msgs=%ld closed=%ld", atomic_load(&g_srv_opened),
                       atomic_load(&g_srv_msgs), atomic_load(&g_srv_closed));
      nc_gsrv_unary_reply(ev->call, (const uint8_t *)b, (size_t)n);
    } else {
      nc_gsrv_unary_reply(ev->call, ev->data, ev->len);
    }
    break;
  case NC_GSRV_EV_STREAM_OPEN:
    atomic_fetch_add(&g_srv_opened, 1);
    break;
  case NC_GSRV_EV_STREAM_CLOSED:
    atomic_fetch_add(&g_srv_closed, 1);
    break;
  case NC_GSRV_EV_STREAM_MSG:
    atomic_fetch_add(&g_srv_msgs, 1);
    if (ev->len == 5 && memcmp(ev->data, "flood", 5) == 0) {
      pthread_t t;
      if (pthread_create(&t, NULL, flood_thread, (void *)(uintptr_t)ev->stream_id) == 0)
        pthread_detach(t);
    } else {
      nc_gsrv_stream_send(ev->srv, ev->stream_id, ev->data, ev->len);
    }
    break;
  default:
    break;
  }
  nc_gsrv_ev_free(ev);
}

static char g_cert[128], g_key[128]; /* --tls: the self-signed pair */
static nc_gcli_opts g_copts;            /* the clients' options (TLS or not) */

static int server_child(int fd, int threads) {
  int port = 0;
  nc_grpc_init();
  nc_gsrv_opts o = {.host = "127.0.0.1", .threads = threads, .stream_queue_max = 4096};
  nc_tls_srv *tls = NULL;
  char err[256];
  nc_tls_srv_opts to = {g_cert, g_key, NULL};
  if (g_cert[0] && nc_tls_srv_new(&to, &tls, err, sizeof(err)) != 0) {
    fprintf(stderr, "TLS: %s\n", err);
    return 1;
  }
  o.tls = tls;
  if (nc_gsrv_start(&o, srv_event, NULL, &g_srv, &port) != 0)
    return 1;
  if (write(fd, &port, sizeof(port)) != sizeof(port))
    return 1;
  for (;;)
    pause();
}

/* CPU seconds (user + system) process pid has used so far, or -1. */
static double cpu_s(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* the name may hold spaces */
  unsigned long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- unary closed loop ------------------------------------------------- */

typedef struct uctx {
  nc_gcli *c;
  atomic_long *done;
  atomic_int *stop;
  atomic_int *live;
} uctx;

static const uint8_t g_req[200] = {1};

static void u_cb(void *ud, int status, const uint8_t *data, size_t len) {
  (void)data;
  (void)len;
  uctx *u = ud;
  if (status == 0)
    atomic_fetch_add(u->done, 1);
  if (atomic_load(u->stop) || nc_gcli_unary_async(u->c, g_req, sizeof(g_req), 5000, u_cb, u) != 0)
    atomic_fetch_sub(u->live, 1);
}

static double g_unary_cpu_us; /* server CPU per call during the measured window */
static pid_t g_srv_pid;

static double bench_unary(nc_gcli **cs, int conns, int inflight, double secs) {
  atomic_long done = 0;
  atomic_int stop = 0, live = 0;
  uctx *u = calloc((size_t)inflight, sizeof(*u));
  for (int i = 0; i < inflight; i++) {
    u[i] = (uctx){cs[i % conns], &done, &stop, &live};
    atomic_fetch_add(&live, 1);
    if (nc_gcli_unary_async(u[i].c, g_req, sizeof(g_req), 5000, u_cb, &u[i]) != 0)
      atomic_fetch_sub(&live, 1);
  }
  usleep(300000); /* warm-up */
  long d0 = atomic_load(&done);
  double t0 = nc_bench_now_s(), c0 = cpu_s(g_srv_pid);
  usleep((useconds_t)(secs * 1e6));
  long d1 = atomic_load(&done);
  double t1 = nc_bench_now_s(), c1 = cpu_s(g_srv_pid);
  g_unary_cpu_us = d1 > d0 ? (c1 - c0) * 1e6 / (double)(d1 - d0) : -1;
  atomic_store(&stop, 1);
  while (atomic_load(&live) > 0)
    usleep(1000);
  free(u);
  return (double)(d1 - d0) / (t1 - t0);
}

/* ---- streams ------------------------------------------------------------ */

static atomic_long g_stream_rx;
static void s_msg(void *ud, const uint8_t *d, size_t l) {
  (void)ud;
  (void)d;
  (void)l;
  atomic_fetch_add(&g_stream_rx, 1);
}
static atomic_long g_stream_closed;
static void s_closed(void *ud, int st) {
  (void)ud;
  if (getenv("BENCH_PROGRESS"))
    fprintf(stderr, "stream closed: %s\n", nc_strerror(st));
  atomic_fetch_add(&g_stream_closed, 1);
}

static double bench_flood(nc_gcli *c, double secs) {
  nc_gcli_stream_cbs cbs = {s_msg, s_closed};
  if (nc_gcli_stream_open(c, &cbs, NULL) != 0 ||
      nc_gcli_stream_send(c, (const uint8_t *)"flood", 5) != 0)
    return -1;
  usleep(300000);
  long r0 = atomic_load(&g_stream_rx);
  double t0 = nc_bench_now_s();
  usleep((useconds_t)(secs * 1e6));
  return (double)(atomic_load(&g_stream_rx) - r0) / (nc_bench_now_s() - t0);
}

static double bench_pingpong(nc_gcli *c, double secs, int window) {
  nc_gcli_stream_cbs cbs = {s_msg, s_closed};
  static const uint8_t msg[64] = {2};
  if (nc_gcli_stream_open(c, &cbs, NULL) != 0)
    return -1;
  atomic_store(&g_stream_rx, 0);
  long sent = 0, r0 = 0;
  double t0 = nc_bench_now_s(), tw = t0 + 0.3, end = tw + secs, tstart = 0;
  for (;;) {
    double t = nc_bench_now_s();
    if (tstart == 0 && t >= tw) {
      tstart = t;
      r0 = atomic_load(&g_stream_rx);
    }
    if (t >= end)
      break;
    if (sent - atomic_load(&g_stream_rx) < window && nc_gcli_stream_send(c, msg, sizeof(msg)) == 0)
      sent++;
    else
      sched_yield();
  }
  return (double)(atomic_load(&g_stream_rx) - r0) / (nc_bench_now_s() - tstart);
}

int main(int argc, char **argv) {
  double secs = 3;
  int conns = 4, inflight = 64, srv_threads = 1, cli_threads = 1, idle = 1000, tls = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--seconds"))
      secs = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--conns"))
      conns = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--inflight"))
      inflight = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--server-threads"))
      srv_threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--client-threads"))
      cli_threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--idle"))
      idle = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--tls"))
      tls = atoi(argv[i + 1]);
  }
  char dir[] = "/tmp/nc-bench-tls-XXXXXX";
  nc_gcli_tls ctls = {0};
  if (tls) {
    char cmd[512];
    if (!mkdtemp(dir))
      return 1;
    snprintf(g_cert, sizeof(g_cert), "%s/c.pem", dir);
    snprintf(g_key, sizeof(g_key), "%s/k.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s "
             ">/dev/null 2>&1",
             g_key, g_cert);
    if (system(cmd) != 0) {
      fprintf(stderr, "--tls needs the openssl command\n");
      return 1;
    }
    ctls.ca_file = g_cert; /* self-signed: its own CA */
    g_copts.tls = &ctls;
  }
  int pfd[2], port = 0;
  if (pipe(pfd) != 0)
    return 1;
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    return server_child(pfd[1], srv_threads);
  }
  close(pfd[1]);
  if (read(pfd[0], &port, sizeof(port)) != sizeof(port)) {
    fprintf(stderr, "server failed to start\n");
    return 1;
  }
  nc_grpc_init();
  nc_gcli_env *env = NULL;
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", port);
  nc_gcli_env_new(cli_threads, &env);

  nc_gcli **cs = calloc((size_t)conns, sizeof(*cs));
  for (int i = 0; i < conns; i++)
    nc_gcli_new(env, target, &g_copts, &cs[i]);
  g_srv_pid = pid;
  printf("unary_echo_qps: %.0f\n", bench_unary(cs, conns, inflight, secs));
  printf("unary_server_cpu_us_per_call: %.1f\n", g_unary_cpu_us);
  fflush(stdout);
  for (int i = 0; i < conns; i++)
    nc_gcli_free(cs[i]);
  free(cs);

  nc_gcli *c = NULL;
  nc_gcli_new(env, target, &g_copts, &c);
  printf("pingpong_msgs_per_s: %.0f\n", bench_pingpong(c, secs, 256));
  fflush(stdout);
  nc_gcli_free(c);

  c = NULL;
  nc_gcli_new(env, target, &g_copts, &c);
  printf("stream_msgs_per_s: %.0f\n", bench_flood(c, secs));
  fflush(stdout);
  nc_gcli_free(c);

  if (idle > 0) {
    usleep(500000);
    long before = nc_bench_rss_kb(pid), cbefore = nc_bench_rss_kb(getpid());
    if (getenv("BENCH_PROGRESS")) {
      uint8_t *r = NULL;
      size_t rl = 0;
      nc_gcli *sc = NULL;
      nc_gcli_new(env, target, &g_copts, &sc);
      nc_gcli_unary(sc, (const uint8_t *)"stats", 5, 2000, &r, &rl);
      fprintf(stderr, "before idle: server %.*s\n", (int)rl, r ? (char *)r : "");
      free(r);
      nc_gcli_free(sc);
    }
    double tc = nc_bench_now_s();
    long want = atomic_load(&g_stream_rx) + idle;
    nc_gcli **ic = calloc((size_t)idle, sizeof(*ic));
    nc_gcli_stream_cbs cbs = {s_msg, s_closed};
    for (int i = 0; i < idle; i++) {
      nc_gcli_new(env, target, &g_copts, &ic[i]);
      nc_gcli_stream_open(ic[i], &cbs, NULL);
      nc_gcli_stream_send(ic[i], (const uint8_t *)"x", 1); /* echoed once */
    }
    fprintf(stderr, "created %d clients in %.2f s\n", idle, nc_bench_now_s() - tc);
    for (int k = 0; k < 6000 && atomic_load(&g_stream_rx) < want; k++) {
      usleep(5000);
      if (getenv("BENCH_PROGRESS") && k % 200 == 0) {
        uint8_t *r = NULL;
        size_t rl = 0;
        nc_gcli *sc = NULL;
        nc_gcli_new(env, target, &g_copts, &sc);
        int rc = nc_gcli_unary(sc, (const uint8_t *)"stats", 5, 2000, &r, &rl);
        fprintf(stderr, "  %.1f s: %ld ready; server %.*s (%s)\n", nc_bench_now_s() - tc,
                atomic_load(&g_stream_rx) - (want - idle), (int)rl, r ? (char *)r : "", nc_strerror(rc));
        free(r);
        nc_gcli_free(sc);
      }
    }
    printf("idle_conns_ready: %ld of %d in %.2f s\n", atomic_load(&g_stream_rx) - (want - idle),
           idle, nc_bench_now_s() - tc);
    usleep(500000);
    long after = nc_bench_rss_kb(pid), cafter = nc_bench_rss_kb(getpid());
    printf("idle_conn_server_kb: %.1f\n", (double)(after - before) / idle);
    printf("idle_conn_client_kb: %.1f\n", (double)(cafter - cbefore) / idle);
    for (int i = 0; i < idle; i++)
      nc_gcli_free(ic[i]);
    free(ic);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  nc_gcli_env_free(env);
  nc_grpc_shutdown();
  if (tls) {
    unlink(g_cert);
    unlink(g_key);
    rmdir(dir);
  }
  return 0;
}
