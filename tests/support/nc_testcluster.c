/* nc_testcluster: see nc_testcluster.h. */
#include "nc_testcluster.h"

#include "nc_err.h"
#include "nc_testhttp.h"
#include "nc_testwait.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define START_ATTEMPTS 4
#define NACOS_PORT 8848 /* gRPC +1000, cluster +1001, as nacosd's defaults */

/* A node's life as the helper sees it: DOWN after a stop or kill it was
 * asked for, so a node found dead while RUNNING is a failure to report. */
typedef enum { NODE_DOWN, NODE_RUNNING } node_state;

typedef struct node {
  nc_test_nacosd srv;
  nc_targv args; /* common + per node + hook, kept for restarts */
  node_state state;
} node;

struct nc_tcluster {
  char dir[128];
  int n;
  int same_host;
  int port0;
  char members[NC_TCLUSTER_MAX * 32];
  node nodes[NC_TCLUSTER_MAX];
};

/* ---- choosing addresses and ports ---- */

/* Test-binds host:port (port 0: any) like a listener would (SO_REUSEADDR,
 * listen). Returns the bound port, NC_EBUSY when in use, NC_EUNAVAIL when
 * host is no local address. With keep, the socket stays open in *keep_fd
 * (a reservation against ourselves, until released). */
static int probe(const char *host, int port, int *keep_fd) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  int one = 1, rc;
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
    return NC_EINVAL;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return NC_EIO;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  socklen_t sl = sizeof(sa);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1) != 0)
    rc = errno == EADDRNOTAVAIL ? NC_EUNAVAIL : NC_EBUSY;
  else if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
    rc = NC_EIO;
  else
    rc = ntohs(sa.sin_port);
  if (keep_fd && rc > 0)
    *keep_fd = fd;
  else
    close(fd);
  return rc;
}

static unsigned rnd(unsigned below) {
  unsigned v = 0;
  if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
    v = (unsigned)getpid() * 2654435761u ^ (unsigned)nc_test_now_ms();
  return v % below;
}

/* Own addresses 127.A.B.<i+1> with base ports; attempt 0 and 1 use the
 * Nacos defaults, later ones a random base. 0, NC_EBUSY (choose again) or
 * NC_EUNAVAIL (no such addresses here). */
static int choose_own_addresses(nc_tcluster *c, int attempt) {
  unsigned a = 16 + rnd(234), b = rnd(256);
  int base = attempt < 2 ? NACOS_PORT : 20000 + (int)rnd(20000);
  for (int i = 0; i < c->n; i++) {
    nc_test_nacosd *s = &c->nodes[i].srv;
    snprintf(s->host, sizeof(s->host), "127.%u.%u.%d", a, b, i + 1);
    s->port = base;
    s->grpc_port = base + 1000;
    s->cluster_port = base + 1001;
    const int ports[3] = {s->port, s->grpc_port, s->cluster_port};
    for (int k = 0; k < 3; k++) {
      int rc = probe(s->host, ports[k], NULL);
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}

/* 127.0.0.1 with distinct ports per node, laid out as nacosd derives a
 * peer's ports from its main port (gRPC main+1000, cluster main+1001), so
 * `--members 127.0.0.1:P1,...` works on one address: node i's main port is
 * base+2i. The probes stay bound until all are checked; NC_EBUSY (choose
 * again) when one is taken. */
static int choose_same_host(nc_tcluster *c) {
  int fds[NC_TCLUSTER_MAX * 3], nfd = 0, rc = 0;
  int base = 20000 + (int)rnd(30000);
  for (int i = 0; i < c->n && rc >= 0; i++) {
    nc_test_nacosd *s = &c->nodes[i].srv;
    snprintf(s->host, sizeof(s->host), "127.0.0.1");
    s->port = base + 2 * i;
    s->grpc_port = s->port + 1000;
    s->cluster_port = s->port + 1001;
    const int ports[3] = {s->port, s->grpc_port, s->cluster_port};
    for (int k = 0; k < 3 && rc >= 0; k++)
      if ((rc = probe(s->host, ports[k], &fds[nfd])) > 0)
        nfd++;
  }
  while (nfd > 0)
    close(fds[--nfd]);
  return rc < 0 ? rc : 0;
}

static void build_members(nc_tcluster *c) {
  size_t len = 0;
  c->members[0] = '\0';
  for (int i = 0; i < c->n && len < sizeof(c->members); i++) {
    const nc_test_nacosd *s = &c->nodes[i].srv;
    int w = snprintf(c->members + len, sizeof(c->members) - len, "%s%s:%d", i ? "," : "",
                     s->host, s->port);
    if (w > 0)
      len += (size_t)w;
  }
}

/* Places every node: address, ports, dir. */
static int choose(nc_tcluster *c, int attempt) {
  int rc = NC_EUNAVAIL;
  if (c->port0) {
    for (int i = 0; i < c->n; i++) {
      nc_test_nacosd *s = &c->nodes[i].srv;
      snprintf(s->host, sizeof(s->host), "127.0.0.1");
      s->port = s->grpc_port = s->cluster_port = 0;
    }
    rc = 0;
  } else if (!c->same_host) {
    rc = choose_own_addresses(c, attempt);
    if (rc == NC_EUNAVAIL) {
      fprintf(stderr, "nc_tcluster: no 127.x.y.z addresses here; nodes share 127.0.0.1\n");
      c->same_host = 1;
    }
  }
  if (rc && c->same_host)
    rc = choose_same_host(c);
  for (int i = 0; i < c->n; i++)
    snprintf(c->nodes[i].srv.dir, sizeof(c->nodes[i].srv.dir), "%s/n%d", c->dir, i);
  build_members(c);
  return rc;
}

/* ---- starting ---- */

static void build_args(nc_tcluster *c, const nc_tcluster_opts *o) {
  for (int i = 0; i < c->n; i++) {
    nc_targv *av = &c->nodes[i].args;
    nc_targv_free(av);
    nc_targv_add_list(av, o->args);
    nc_targv_add_list(av, o->node_args[i]);
    if (o->args_fn)
      o->args_fn(o->ud, c, i, av);
  }
}

static nc_test_nacosd_opts node_opts(const nc_tcluster *c, int i, int append) {
  const node *nd = &c->nodes[i];
  nc_test_nacosd_opts o = {.dir = nd->srv.dir, .host = nd->srv.host, .port = nd->srv.port,
                           .grpc_port = nd->srv.grpc_port,
                           .cluster_port = nd->srv.cluster_port,
                           .args = (const char *const *)nd->args.argv,
                           .append_log = append, .quiet = 1};
  return o;
}

/* Starts every node at once, then waits for each. On failure kills all;
 * dumps the logs when loud. */
static int start_all(nc_tcluster *c, int loud) {
  int rc = 0;
  for (int i = 0; i < c->n && rc == 0; i++) {
    mkdir(c->nodes[i].srv.dir, 0755);
    nc_test_nacosd_opts o = node_opts(c, i, 0);
    if ((rc = nc_test_nacosd_spawn(&o, &c->nodes[i].srv)) == 0)
      c->nodes[i].state = NODE_RUNNING;
  }
  for (int i = 0; i < c->n && rc == 0; i++)
    rc = nc_test_nacosd_wait_ready(&c->nodes[i].srv, 10000, 1);
  if (rc == 0)
    return 0;
  for (int i = 0; i < c->n; i++) {
    if (c->nodes[i].state == NODE_RUNNING)
      nc_testproc_kill(&c->nodes[i].srv.proc, SIGKILL);
    c->nodes[i].state = NODE_DOWN;
  }
  if (loud) {
    fprintf(stderr, "nc_tcluster: %d nodes did not come up: %s\n", c->n, nc_strerror(rc));
    nc_tcluster_dump_logs(c);
  }
  return rc;
}

/* 1 when the environment variable is set to something other than "0". */
static int env_on(const char *name) {
  const char *v = getenv(name);
  return v && *v && strcmp(v, "0") != 0;
}

static void free_cluster(nc_tcluster *c) {
  if (c->dir[0]) {
    if (env_on("NC_TEST_KEEP_TMP"))
      fprintf(stderr, "nc_tcluster: kept %s (NC_TEST_KEEP_TMP)\n", c->dir);
    else
      nc_test_rmtree(c->dir);
  }
  for (int i = 0; i < c->n; i++)
    nc_targv_free(&c->nodes[i].args);
  free(c);
}

int nc_tcluster_start(const nc_tcluster_opts *o, nc_tcluster **out) {
  *out = NULL;
  if (!o || o->nodes < 1 || o->nodes > NC_TCLUSTER_MAX)
    return NC_EINVAL;
  nc_tcluster *c = calloc(1, sizeof(*c));
  if (!c)
    return NC_ENOMEM;
  c->n = o->nodes;
  c->port0 = o->port0;
  c->same_host = o->same_host || o->port0 || env_on("NC_TEST_CLUSTER_SAME_HOST");
  int rc = nc_test_mkdtemp(c->dir, sizeof(c->dir));
  for (int attempt = 0; rc == 0 && attempt < START_ATTEMPTS; attempt++) {
    if ((rc = choose(c, attempt)) == NC_EBUSY) {
      rc = 0; /* in use: choose again */
      continue;
    }
    if (rc)
      break;
    build_args(c, o);
    for (int i = 0; i < c->n && rc == 0; i++)
      if (c->nodes[i].args.failed)
        rc = NC_ENOMEM;
    if (rc)
      break;
    /* a fixed port can be taken between the probe and the bind: retry */
    int last = attempt == START_ATTEMPTS - 1 || c->port0;
    if ((rc = start_all(c, last)) == 0 || last)
      break;
    rc = 0;
  }
  if (rc == 0 && c->nodes[0].state != NODE_RUNNING)
    rc = NC_EBUSY; /* every choice was in use */
  if (rc) {
    free_cluster(c);
    return rc;
  }
  if (c->port0)
    build_members(c); /* the ports are known now */
  *out = c;
  return 0;
}

/* ---- running ---- */

int nc_tcluster_size(const nc_tcluster *c) { return c->n; }

nc_test_nacosd *nc_tcluster_node(const nc_tcluster *c, int index) {
  if (index < 0 || index >= c->n)
    return NULL;
  return (nc_test_nacosd *)&c->nodes[index].srv;
}

const char *nc_tcluster_dir(const nc_tcluster *c) { return c->dir; }
const char *nc_tcluster_members(const nc_tcluster *c) { return c->members; }
int nc_tcluster_same_host(const nc_tcluster *c) { return c->same_host; }

static node *get(nc_tcluster *c, int index) {
  return index >= 0 && index < c->n ? &c->nodes[index] : NULL;
}

int nc_tcluster_stop_node(nc_tcluster *c, int index) {
  node *nd = get(c, index);
  if (!nd)
    return NC_EINVAL;
  nd->state = NODE_DOWN;
  return nc_test_nacosd_stop(&nd->srv);
}

int nc_tcluster_kill_node(nc_tcluster *c, int index, int sig) {
  node *nd = get(c, index);
  if (!nd)
    return NC_EINVAL;
  nd->state = NODE_DOWN;
  return nc_testproc_kill(&nd->srv.proc, sig);
}

int nc_tcluster_restart_node(nc_tcluster *c, int index) {
  node *nd = get(c, index);
  if (!nd)
    return NC_EINVAL;
  if (nc_testproc_alive(&nd->srv.proc))
    return NC_ESTATE;
  int rc = nc_test_nacosd_restart(&nd->srv, (const char *const *)nd->args.argv);
  if (rc == 0)
    nd->state = NODE_RUNNING;
  return rc;
}

int nc_tcluster_node_alive(nc_tcluster *c, int index) {
  node *nd = get(c, index);
  return nd && nc_testproc_alive(&nd->srv.proc);
}

long long nc_tcluster_metric(const nc_tcluster *c, int index, const char *name) {
  const nc_test_nacosd *s = nc_tcluster_node(c, index);
  return s ? nc_test_metric_at(s->host, s->port, name) : -1;
}

void nc_tcluster_dump_logs(const nc_tcluster *c) {
  for (int i = 0; i < c->n; i++) {
    fprintf(stderr, "== node %d (%s, main port %d) ==\n", i, c->nodes[i].srv.host,
            c->nodes[i].srv.port);
    nc_testproc_dump_log(&c->nodes[i].srv.proc);
  }
}

int nc_tcluster_stop(nc_tcluster *c) {
  if (!c)
    return 0;
  int bad = 0;
  if (env_on("NC_TEST_DUMP_LOGS"))
    nc_tcluster_dump_logs(c);
  for (int i = 0; i < c->n; i++) {
    node *nd = &c->nodes[i];
    if (nd->state != NODE_RUNNING)
      continue;
    if (!nc_testproc_alive(&nd->srv.proc)) {
      fprintf(stderr, "nc_tcluster: node %d had died (status %d)\n", i, nd->srv.proc.status);
      nc_testproc_dump_log(&nd->srv.proc);
      bad = 1;
      continue;
    }
    if (nc_tcluster_stop_node(c, i) != 0)
      bad = 1; /* logged and dumped by nc_test_nacosd_stop */
  }
  free_cluster(c);
  return bad ? -1 : 0;
}
