/* nc_testcluster: N real nacosd nodes for one test, in one temp dir
 * (<dir>/n<i>/{data,ports.json,nacosd.log} per node), started together and
 * stopped, killed or restarted one at a time.
 *
 * Addresses and ports. Every node's main address is chosen BEFORE any node
 * starts, so a cluster flag such as `--members ip:port,...` can be given to
 * each node (nc_tcluster_members(), the args hook). To do that without the
 * race of "bind port 0, close, hope nobody takes it", each node gets its own
 * loopback address 127.A.B.<i+1> (A, B random per cluster; Linux routes all
 * of 127/8 to lo) and the Nacos default ports on it: 8848, gRPC 9848,
 * cluster 9849. No other process binds such an address, so the ports are
 * free by construction; ctest -j runs clusters side by side on different
 * A.B. Before starting, every (address, port) is test-bound once: a
 * wildcard listener on 8848 (a developer's nacosd on 0.0.0.0) or a clash of
 * A.B makes the helper choose again (new A.B, then random base ports).
 * Where 127.A.B.x cannot be bound (another OS, a namespace with only
 * 127.0.0.1/32) or NC_TEST_CLUSTER_SAME_HOST=1 is set, every node listens on
 * 127.0.0.1 on its own main port P (random base + 2i) with gRPC P+1000 and
 * cluster P+1001, as nacosd derives a peer's ports, so --members works in
 * this layout too (probed first; a start that fails is retried with new
 * ports). opts.port0 keeps today's
 * single-node style instead: 127.0.0.1 and --port 0 (ports read back from the
 * port file; the members list is then unknown before the start).
 *
 * A restart keeps the node's address, ports and data dir, and appends to
 * its log. Logs are printed to stderr when a node fails to start, exits
 * unclean (non-zero, e.g. an ASan leak report) or was found dead;
 * NC_TEST_DUMP_LOGS=1 prints every node's log at nc_tcluster_stop (to read
 * after a failed assertion), NC_TEST_KEEP_TMP=1 keeps the temp dir (its
 * path is printed).
 *
 * Example (a cluster test once nacosd has a members flag):
 *   static void members(void *ud, const nc_tcluster *c, int i, nc_targv *av) {
 *     nc_targv_addf(av, "--members=%s", nc_tcluster_members(c));
 *   }
 *   nc_tcluster_opts o = {.nodes = 3, .args_fn = members};
 *   nc_tcluster *c;
 *   assert_int_equal(nc_tcluster_start(&o, &c), 0);
 *   nc_tw *tw = nc_tw_open(env, nc_tcluster_node(c, 0)->target, NULL);
 *   ... nc_tcluster_kill_node(c, 1, SIGKILL); nc_tcluster_restart_node(c, 1); ...
 *   assert_int_equal(nc_tcluster_stop(c), 0);
 *
 * Not thread-safe; one test thread drives a cluster. Functions return 0 or a
 * negative NC_E* unless stated. */
#ifndef NC_TESTCLUSTER_H
#define NC_TESTCLUSTER_H

#include "nc_testargv.h"
#include "nc_testproc.h"

#define NC_TCLUSTER_MAX 16

typedef struct nc_tcluster nc_tcluster;

/* Adds node index's own arguments to av (called once per node before any
 * node starts; the result is kept for restarts). c answers
 * nc_tcluster_members() and nc_tcluster_node() (host and ports) already. */
typedef void (*nc_tcluster_args_fn)(void *ud, const nc_tcluster *c, int index, nc_targv *av);

typedef struct nc_tcluster_opts {
  int nodes;               /* 1..NC_TCLUSTER_MAX */
  const char *const *args; /* for every node, NULL-terminated, may be NULL */
  const char *const *node_args[NC_TCLUSTER_MAX]; /* per node, after args */
  nc_tcluster_args_fn args_fn; /* per node, last; may be NULL */
  void *ud;
  int port0;     /* 1: 127.0.0.1 and port 0 for every node (see above) */
  int same_host; /* 1: force 127.0.0.1 with distinct fixed ports */
} nc_tcluster_opts;

/* Creates the temp dir, chooses addresses, starts every node and waits
 * until all listen (10 s, scaled). *out is NULL on failure (logs dumped,
 * everything stopped and removed). */
int nc_tcluster_start(const nc_tcluster_opts *o, nc_tcluster **out);
/* Stops every running node (SIGTERM), removes the dir (unless
 * NC_TEST_KEEP_TMP), frees c. 0 when every node that was still meant to
 * run exited 0; -1 when one exited unclean or had died. NULL is a no-op. */
int nc_tcluster_stop(nc_tcluster *c);

int nc_tcluster_size(const nc_tcluster *c);
/* The node (owned by c; valid until nc_tcluster_stop): host, ports,
 * target ("host:grpcPort"), dir, proc (pid, log_path). */
nc_test_nacosd *nc_tcluster_node(const nc_tcluster *c, int index);
const char *nc_tcluster_dir(const nc_tcluster *c);
/* "host:port,host:port,..." of every node's main (HTTP) port, in index
 * order; "" in port0 mode until every node started. */
const char *nc_tcluster_members(const nc_tcluster *c);
/* 1 when the nodes share 127.0.0.1 (fallback, same_host or port0). */
int nc_tcluster_same_host(const nc_tcluster *c);

/* SIGTERM and reap one node; returns its exit code (as nc_testproc_stop);
 * the log is dumped when it is not 0. */
int nc_tcluster_stop_node(nc_tcluster *c, int index);
/* Sends sig (e.g. SIGKILL) and reaps; returns 128+sig or the exit code. */
int nc_tcluster_kill_node(nc_tcluster *c, int index, int sig);
/* Starts a stopped or killed node again with the same arguments, address,
 * ports and data dir (retried for 5 s while the old ports linger). */
int nc_tcluster_restart_node(nc_tcluster *c, int index);
/* 1 while the node runs. */
int nc_tcluster_node_alive(nc_tcluster *c, int index);
/* nacosd_<...> metric (full name) of one node from its /metrics, or -1. */
long long nc_tcluster_metric(const nc_tcluster *c, int index, const char *name);
/* Prints every node's log to stderr. */
void nc_tcluster_dump_logs(const nc_tcluster *c);

#endif
