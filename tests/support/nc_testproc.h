/* nc_testproc: the shared harness of the integration tests — temp dirs,
 * starting the real binaries with their stderr in a log file, waiting for
 * their port files, stopping and reaping them.
 *
 * Keep this API small and stable: config, agent and naming tests all use
 * it. Functions return 0 or a negative NC_E* unless stated. */
#ifndef NC_TESTPROC_H
#define NC_TESTPROC_H

#include <stddef.h>
#include <sys/types.h>

/* Creates a fresh directory /tmp/nc-test-XXXXXX into buf (cap >= 64). */
int nc_test_mkdtemp(char *buf, size_t cap);
/* rm -rf dir (best effort). */
void nc_test_rmtree(const char *dir);

typedef struct nc_testproc {
  pid_t pid;          /* 0 when not running */
  char log_path[512]; /* stdout+stderr of the child */
  int status;         /* waitpid status once reaped */
} nc_testproc;

/* Starts bin with argv (argv[0] included, NULL-terminated); the child's
 * stdout and stderr go to log_path (truncated). */
int nc_testproc_start(nc_testproc *p, const char *bin, char *const argv[], const char *log_path);
/* The same, appending to log_path when append is 1 (a restarted process
 * keeps the earlier run's lines above a "----- restart -----" line). */
int nc_testproc_start_log(nc_testproc *p, const char *bin, char *const argv[],
                          const char *log_path, int append);
/* 1 while the child runs (not yet reaped). */
int nc_testproc_alive(nc_testproc *p);
/* Sends sig and reaps. Returns the exit code (0..255), 128+signal when the
 * child died of a signal, or a negative NC_E*. */
int nc_testproc_kill(nc_testproc *p, int sig);
/* SIGTERM, then SIGKILL after 5 s; reaps. Same return as nc_testproc_kill. */
int nc_testproc_stop(nc_testproc *p);
/* Copies the child's log to stderr (for failing tests). */
void nc_testproc_dump_log(const nc_testproc *p);

/* Waits up to timeout_ms for path to hold a complete JSON object and reads
 * the integer key from it. */
int nc_test_port_file_int(const char *path, const char *key, int timeout_ms, int *out);

/* A nacosd started on loopback ports. */
typedef struct nc_test_nacosd {
  nc_testproc proc;
  char dir[256];     /* the tmpdir given */
  int port, grpc_port, cluster_port;
  char target[64];   /* "<host>:<grpc_port>" */
  char host[48];     /* the --bind address, e.g. "127.0.0.1" */
} nc_test_nacosd;

/* How to start one nacosd (nc_test_nacosd_start_opts). */
typedef struct nc_test_nacosd_opts {
  const char *dir;  /* required: <dir>/data, <dir>/ports.json, <dir>/nacosd.log */
  const char *host; /* --bind; NULL = "127.0.0.1" */
  /* 0 = a free port picked by nacosd (read back from the port file) */
  int port, grpc_port, cluster_port;
  const char *const *args; /* extra arguments, NULL-terminated, may be NULL */
  int append_log;          /* 1: append to the log (restarts) */
  int quiet;               /* 1: no log dump on failure (the caller retries) */
  int timeout_ms;          /* wait for the port file; default 10000 (scaled) */
} nc_test_nacosd_opts;

/* Starts NC_NACOSD_BIN with --bind <host> --port P --grpc-port G
 * --cluster-port C --data-dir <dir>/data --port-file <dir>/ports.json plus
 * o->args, stdout+stderr in <dir>/nacosd.log; waits for the port file (and
 * gives up at once if nacosd exits, e.g. on a port in use) and checks that
 * fixed ports were bound as asked. On failure the log is dumped (unless
 * quiet) and srv->proc is reaped. */
int nc_test_nacosd_start_opts(const nc_test_nacosd_opts *o, nc_test_nacosd *srv);
/* The two halves of it, so that several nodes start at once: spawn fills
 * srv (dir, host, the ports asked for) and starts the process; wait_ready
 * waits for its port file (timeout_ms <= 0: 10 s, scaled). On failure
 * wait_ready kills and reaps the process and leaves srv's dir, host and
 * asked-for ports in place. */
int nc_test_nacosd_spawn(const nc_test_nacosd_opts *o, nc_test_nacosd *srv);
int nc_test_nacosd_wait_ready(nc_test_nacosd *srv, int timeout_ms, int quiet);

/* The usual case: 127.0.0.1, every port 0, extra_args as o->args. */
int nc_test_nacosd_start(const char *tmpdir, const char *const *extra_args, nc_test_nacosd *srv);
/* nc_testproc_stop; dumps the log when the exit was not clean (a leak
 * report under ASan makes the exit code non-zero). Returns the exit code. */
int nc_test_nacosd_stop(nc_test_nacosd *srv);

/* Restarts a stopped (or killed) nacosd on the address, ports and dir it
 * had (log appended), with extra_args as o->args; retries for up to 5 s
 * (scaled) because the old listener may linger a moment after kill -9. */
int nc_test_nacosd_restart(nc_test_nacosd *srv, const char *const *extra_args);

/* Value of the metric whose line starts with name (full name, e.g.
 * "nacosd_connections") from GET /metrics on 127.0.0.1:port, or -1.
 * (nc_testhttp.h has nc_test_metric_at for other addresses.) */
long long nc_test_nacosd_metric(int port, const char *name);
/* Waits until that metric == want; returns the ms it took or -1 (the
 * timeout is scaled by NC_TEST_TIMEOUT_MULTIPLIER). */
long long nc_test_nacosd_wait_metric(int port, const char *name, long long want, int timeout_ms);

/* Monotonic milliseconds and a sleep, for polling loops in tests. */
long long nc_test_now_ms(void);
void nc_test_sleep_ms(int ms);

#endif
