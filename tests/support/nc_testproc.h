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

/* A nacosd started on ephemeral loopback ports. */
typedef struct nc_test_nacosd {
  nc_testproc proc;
  char dir[256];     /* the tmpdir given */
  int port, grpc_port, cluster_port;
  char target[64];   /* "127.0.0.1:<grpc_port>" */
} nc_test_nacosd;

/* Starts NC_NACOSD_BIN with --bind 127.0.0.1 --port 0 --grpc-port 0
 * --cluster-port 0 --data-dir <tmpdir>/data --port-file <tmpdir>/ports.json
 * plus extra_args (NULL-terminated, may be NULL), log <tmpdir>/nacosd.log;
 * waits (10 s) for the port file. On failure dumps the log. */
int nc_test_nacosd_start(const char *tmpdir, const char *const *extra_args, nc_test_nacosd *srv);
/* nc_testproc_stop; dumps the log when the exit was not clean (a leak
 * report under ASan makes the exit code non-zero). Returns the exit code. */
int nc_test_nacosd_stop(nc_test_nacosd *srv);

/* Restarts a stopped (or killed) nacosd on the ports and dir it had, with
 * extra_args as for nc_test_nacosd_start; retries for up to 5 s because the
 * old listener may linger a moment after kill -9. */
int nc_test_nacosd_restart(nc_test_nacosd *srv, const char *const *extra_args);

/* Value of the metric whose line starts with name (full name, e.g.
 * "nacosd_connections") from GET /metrics on 127.0.0.1:port, or -1. */
long long nc_test_nacosd_metric(int port, const char *name);
/* Waits until that metric == want; returns the ms it took or -1. */
long long nc_test_nacosd_wait_metric(int port, const char *name, long long want, int timeout_ms);

/* Monotonic milliseconds and a sleep, for polling loops in tests. */
long long nc_test_now_ms(void);
void nc_test_sleep_ms(int ms);

#endif
