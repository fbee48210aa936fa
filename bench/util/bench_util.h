/* bench_util: the pieces every load program in bench/ needs — clocks,
 * spawning the built binaries with a port file, /proc readings (RSS, CPU),
 * nacosd's /metrics, and raw gRPC load connections that do the Nacos
 * handshake by hand (ServerCheck, bidi stream + ConnectionSetup, wait for
 * HealthCheck to pass) plus a lean acker for server pushes.
 *
 * A small static library linked into every bench_* program. Functions
 * return 0 / a value, or -1 on failure unless stated; strings are
 * borrowed. */
#ifndef NC_BENCH_UTIL_H
#define NC_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nc_grpc_client.h"
#include "nc_json.h"

/* ---- clocks ---- */
long long nc_bench_now_ms(void); /* monotonic */
long long nc_bench_now_us(void);
double nc_bench_now_s(void);
void nc_bench_sleep_ms(int ms);
/* qsort comparator for long long. */
int nc_bench_cmp_ll(const void *a, const void *b);

/* ---- processes ---- */

/* out = $env when env is non-NULL and set, else <dir of this program>/../rel
 * (the build tree). */
void nc_bench_bin_path(char *out, size_t cap, const char *env, const char *rel);
/* fork + execv(argv[0], argv) with stdout and stderr to log; the pid or -1. */
pid_t nc_bench_spawn(char *const argv[], const char *log);
/* SIGTERM, up to 5 s, then SIGKILL; reaps. pid <= 0 is a no-op. */
void nc_bench_stop(pid_t pid);
/* Waits up to timeout_ms for path to hold a JSON object with integer key;
 * returns it, or -1 on timeout or when pid (if > 0) exited meanwhile. */
int nc_bench_port_file(const char *path, const char *key, int timeout_ms, pid_t pid);
/* Spawns nacosd bin with --bind 127.0.0.1, ports 0, --port-file
 * <dir>/ports.json, --log-level warn and extra (NULL-terminated, may be
 * NULL; e.g. --data-dir), log <dir>/nacosd.log; waits 10 s for the ports.
 * Returns the pid (killed on failure: -1). */
pid_t nc_bench_spawn_nacosd(const char *bin, const char *dir, const char *const *extra,
                            int *grpc_port, int *http_port);
/* nc_bench_spawn_nacosd with bin (NULL: the build tree's server/nacosd);
 * writes "127.0.0.1:<grpc port>" to target and says so on stderr. Returns
 * the pid, or -1 (reported on stderr). */
pid_t nc_bench_start_nacosd(const char *bin, const char *dir, const char *const *extra,
                            char *target, size_t cap, int *http_port);
/* Makes a fresh run directory $TMPDIR/nc-bench-<tag>-XXXXXX (TMPDIR unset:
 * /tmp) into dir; 0, or -1 reported on stderr. Remove it with
 * nc_bench_rmtree. */
int nc_bench_mkdtemp(char *dir, size_t cap, const char *tag);
/* rm -rf dir (best effort). */
void nc_bench_rmtree(const char *dir);
/* 1 when 127.0.0.1:port can be bound now (a fixed port for a child). */
int nc_bench_port_free(int port);
/* A random base port P for n cluster nodes on 127.0.0.1 at P + stride*i,
 * each with its +1000 (gRPC) and +1001 (cluster) ports free (the layout
 * nacosd derives a member's ports from); -1 after 50 tries. */
int nc_bench_cluster_base(int n, int stride);
/* The 1-minute load average (/proc/loadavg), -1 when unknown: figures from
 * a shared machine mean little without it. */
double nc_bench_loadavg1(void);
/* Raises RLIMIT_NOFILE's soft limit to its hard limit (many connections). */
void nc_bench_raise_nofile(void);

/* ---- /proc and /metrics ---- */

/* The number after the line that starts with key in /proc/<pid>/<file>
 * (e.g. "status", "VmRSS:"), or -1. */
long nc_bench_proc_kb(pid_t pid, const char *file, const char *key);
/* VmRSS in kB, or -1. */
long nc_bench_rss_kb(pid_t pid);
/* utime+stime of a process in ms (from /proc/<pid>/stat), or -1. */
long long nc_bench_cpu_ms(pid_t pid);
/* Value of the metric line `name value` (full name, e.g.
 * "nacosd_config_notifies_acked_total") from GET /metrics on
 * 127.0.0.1:http_port, or -1. */
long long nc_bench_metric(int http_port, const char *name);
/* The HTTP status of GET path on 127.0.0.1:http_port, or -1. */
int nc_bench_http_status(int http_port, const char *path);
/* Bytes sent (acked) plus received over the established TCP sockets whose
 * local port is one of ports[0..n) (loopback: each connection counted
 * once, at its listener's end), read with `ss -tin`; -1 when ss fails. */
long long nc_bench_tcp_bytes(const int *ports, int n);

/* ---- raw gRPC load connections ---- */

/* Stream callbacks that ignore everything. */
void nc_bench_noop_msg(void *ud, const uint8_t *d, size_t l);
void nc_bench_noop_closed(void *ud, int st);
/* Unary call with a JSON body; *err_code gets the reply's errorCode (-1
 * when absent). 0 or an NC_E* of the transport/codec. */
int nc_bench_call_json(nc_gcli *c, const char *type, const char *json, long long *err_code);
/* Unary call with a JSON body; on 0 *body is the reply's JSON body (caller
 * frees; NULL when the reply had none). */
int nc_bench_call_body(nc_gcli *c, const char *type, const char *json, int timeout_ms,
                       cJSON **body);
/* ServiceQueryRequest for svc (public, DEFAULT_GROUP): how many of its
 * hosts have ip ip (NULL: all), or -1 on failure. */
int nc_bench_query_hosts(nc_gcli *c, const char *svc, const char *ip);
/* A registered connection labelled module=<module> like an SDK's. *slot
 * (may be NULL) is set before the stream opens so the stream callbacks can
 * already use the client (and reset to NULL on failure). NULL on failure;
 * free with nc_gcli_free. */
nc_gcli *nc_bench_conn_open(nc_gcli_env *env, const char *target, const char *module,
                            const nc_gcli_stream_cbs *cbs, void *ud, nc_gcli **slot);
/* Opens n such connections from 4 threads at once: connection i lands in
 * conns[i] (NULL when it failed), with &conns[i] as the ud of its stream
 * callbacks. then (may be NULL) runs on the opening thread once connection
 * i is up (e.g. to subscribe); non-zero counts it failed (it stays open).
 * Returns how many failed. */
int nc_bench_conn_open_many(nc_gcli_env *env, const char *target, const char *module,
                            const nc_gcli_stream_cbs *cbs, nc_gcli **conns, int n,
                            int (*then)(nc_gcli *c, void *ud), void *then_ud);
/* Builds request i (sent on connection ci): writes its JSON body into json
 * (cap bytes) and returns its type. */
typedef const char *(*nc_bench_req_fn)(void *ud, long i, int ci, char *json, size_t cap);
/* Runs n unary calls spread round-robin over the connections with `window`
 * in flight per connection, each with timeout_ms; a call counts as failed
 * unless its reply has resultCode 200. *failed (may be NULL) gets the
 * failures; returns successful calls per second. */
double nc_bench_run_load(nc_gcli **conns, int nconns, long n, int window, int timeout_ms,
                         size_t json_cap, nc_bench_req_fn fn, void *ud, long *failed);

/* Acks a server push from its raw bytes (the JSON body travels verbatim in
 * the Payload) without decoding it: a req_type push is answered with
 * resp_type, a ClientDetectionRequest with its response. Returns 1 for a
 * req_type push, 2 for a client detection, 0 for anything else (nothing
 * sent). c NULL: classify only. */
int nc_bench_lean_ack(nc_gcli *c, const uint8_t *data, size_t len, const char *req_type,
                      const char *resp_type);

/* ---- naming load (bench_naming.c) ---- */

/* nacosd for measuring: a new temp dir (into dir, dcap >= 32; the caller
 * removes it), merge window 0, one completion-queue thread, no
 * per-connection or per-address limits. As nc_bench_start_nacosd. */
pid_t nc_bench_start_bare_nacosd(const char *bin, char *dir, size_t dcap, char *target,
                                 size_t tcap, int *http_port);
/* An encoded ServiceQueryRequest for svc (public, DEFAULT_GROUP, all
 * clusters); *out malloc'ed. 0 or -1. */
int nc_bench_query_payload(const char *svc, uint8_t **out, size_t *len);
/* calls serial unary calls of req; the microseconds of each that succeeded
 * into t[] (room for calls); returns how many. */
int nc_bench_serial_us(nc_gcli *c, const uint8_t *req, size_t len, int calls, long long *t);
/* Sorts t[0..n) and returns its median, -1 when n is 0. */
double nc_bench_median_ll(long long *t, int n);
/* Stream callback (ud = the nc_gcli ** slot) that acks pushes and nacosd's
 * idle probes, so a connection idle through a long phase is kept. */
void nc_bench_keep_msg(void *ud, const uint8_t *d, size_t l);
/* Context switches (voluntary + not) of every thread of pid so far. */
long long nc_bench_ctxsw(pid_t pid);

#endif
