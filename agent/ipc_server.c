#include "ipc_server.h"
#include "linebuf.h"
#include "nc_err.h"
#include "nc_log.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct nc_ipc_client {
  uv_pipe_t pipe; /* first: the handle's memory is the client's */
  nc_ipc_srv *srv;
  struct nc_ipc_client *prev, *next;
  nc_linebuf lb;
  int refs;
  int open;       /* reading and answering */
  int handle_closed;
  uint64_t id;
  uid_t uid;
  gid_t gid;
  pid_t pid;
  char *app;
  /* Log budget for lines about this client's rejected requests
   * (nc_ipc_client_log_allow): lines in the current one-second window, and
   * lines left out since the last one written. */
  uint64_t log_window_ms, log_suppressed;
  unsigned log_lines;
  /* Events not yet handed to the socket, newest per key (see
   * nc_ipc_client_send_event); FIFO by first arrival. */
  struct pend *pending, **pend_tail;
};

typedef struct pend {
  struct pend *next;
  char *key, *data;
  size_t len;
} pend;

/* Events go straight to the socket while less than this is queued in
 * libuv; beyond it they wait, coalesced per key, for the queue to drain. */
#define EVENT_LOW_WATER (64 * 1024)

struct nc_ipc_srv {
  uv_pipe_t listener;
  uv_loop_t *loop;
  nc_ipc_srv_cbs cbs;
  char *path;
  size_t max_line, max_outq;
  uid_t *allowed;
  size_t n_allowed;
  nc_ipc_client *clients;
  size_t n_clients;
  uint64_t next_id;
  int closing;
};

static void pend_free(pend *p) {
  free(p->key);
  free(p->data);
  free(p);
}

static void client_free(nc_ipc_client *c) {
  while (c->pending) {
    pend *p = c->pending;
    c->pending = p->next;
    pend_free(p);
  }
  nc_linebuf_free(&c->lb);
  free(c->app);
  free(c);
}

void nc_ipc_client_ref(nc_ipc_client *c) { c->refs++; }

void nc_ipc_client_unref(nc_ipc_client *c) {
  if (--c->refs == 0)
    client_free(c);
}

int nc_ipc_client_is_open(const nc_ipc_client *c) { return c->open; }
uint64_t nc_ipc_client_id(const nc_ipc_client *c) { return c->id; }
long nc_ipc_client_uid(const nc_ipc_client *c) {
  return c->uid == (uid_t)-1 ? -1 : (long)c->uid;
}
const char *nc_ipc_client_app(const nc_ipc_client *c) { return c->app ? c->app : ""; }

/* A client that floods bad requests gets this many warn lines a second;
 * the rest are counted and reported as one "suppressed" line. */
#define LOG_LINES_PER_S 5

int nc_ipc_client_log_allow(nc_ipc_client *c, uint64_t *suppressed) {
  uint64_t now = uv_hrtime() / 1000000; /* no loop needed: works while stopping */
  *suppressed = 0;
  if (now - c->log_window_ms >= 1000) {
    c->log_window_ms = now;
    c->log_lines = 0;
  }
  if (c->log_lines >= LOG_LINES_PER_S) {
    c->log_suppressed++;
    return 0;
  }
  c->log_lines++;
  *suppressed = c->log_suppressed;
  c->log_suppressed = 0;
  return 1;
}

void nc_ipc_client_set_app(nc_ipc_client *c, const char *app) {
  char *a = strdup(app);
  if (a) {
    free(c->app);
    c->app = a;
  }
}

static void on_handle_closed(uv_handle_t *h) {
  nc_ipc_client *c = (nc_ipc_client *)h;
  c->handle_closed = 1;
  nc_ipc_client_unref(c);
}

/* Detaches the client from the server and tells the owner, once. */
static void detach(nc_ipc_client *c) {
  if (!c->open)
    return;
  c->open = 0;
  nc_ipc_srv *s = c->srv;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->clients = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
  s->n_clients--;
  uv_read_stop((uv_stream_t *)&c->pipe);
  if (c->log_suppressed)
    nc_warn("ipc: client %llu: suppressed %llu more rejected-request lines",
            (unsigned long long)c->id, (unsigned long long)c->log_suppressed);
  nc_info("ipc: client %llu (pid %d, app '%s') gone", (unsigned long long)c->id, (int)c->pid,
          NC_LOG_ESC(nc_ipc_client_app(c)));
  if (s->cbs.on_close)
    s->cbs.on_close(s->cbs.ud, c);
}

static void close_now(nc_ipc_client *c) {
  detach(c);
  if (!uv_is_closing((uv_handle_t *)&c->pipe))
    uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
}

static void on_dropped_closed(uv_handle_t *h) {
  detach((nc_ipc_client *)h); /* no-op when the server already detached it */
  on_handle_closed(h);
}

/* Drops a client from inside nc_ipc_client_send. The caller may be walking
 * a list the owner's on_close edits (e.g. a service's subscribers during a
 * fan-out), so the owner hears about it from the close callback instead. */
static void drop_deferred(nc_ipc_client *c) {
  uv_read_stop((uv_stream_t *)&c->pipe);
  if (!uv_is_closing((uv_handle_t *)&c->pipe))
    uv_close((uv_handle_t *)&c->pipe, on_dropped_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  nc_ipc_client *c = req->data;
  free(req);
  if (!uv_is_closing((uv_handle_t *)&c->pipe))
    uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
}

void nc_ipc_client_close(nc_ipc_client *c) {
  if (!c->open)
    return;
  detach(c);
  uv_shutdown_t *req = malloc(sizeof(*req));
  if (req) {
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->pipe, on_shutdown) == 0)
      return;
    free(req);
  }
  if (!uv_is_closing((uv_handle_t *)&c->pipe))
    uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
}

typedef struct wreq {
  uv_write_t req;
  char data[];
} wreq;

/* Hands waiting events to the socket while its queue is short. */
static void flush_pending(nc_ipc_client *c) {
  uv_stream_t *st = (uv_stream_t *)&c->pipe;
  while (c->pending && c->open && uv_stream_get_write_queue_size(st) <= EVENT_LOW_WATER) {
    pend *p = c->pending;
    if (!(c->pending = p->next))
      c->pend_tail = &c->pending;
    nc_ipc_client_send(c, p->data, p->len);
    pend_free(p);
  }
}

static void on_write(uv_write_t *req, int status) {
  /* the pipe is the client's first member; it lives until its close cb */
  nc_ipc_client *c = (nc_ipc_client *)req->handle;
  free(req);
  if (status == 0 && c->pending)
    flush_pending(c);
}

int nc_ipc_client_send(nc_ipc_client *c, const char *data, size_t len) {
  if (!c->open || uv_is_closing((uv_handle_t *)&c->pipe))
    return NC_ECLOSED;
  uv_stream_t *st = (uv_stream_t *)&c->pipe;
  if (uv_stream_get_write_queue_size(st) > c->srv->max_outq) {
    nc_warn("ipc: client %llu does not read its socket; dropping it", (unsigned long long)c->id);
    drop_deferred(c);
    return NC_EBUSY;
  }
  wreq *w = malloc(sizeof(*w) + len + 1);
  if (!w)
    return NC_ENOMEM;
  memcpy(w->data, data, len);
  w->data[len] = '\n';
  uv_buf_t b = uv_buf_init(w->data, (unsigned)(len + 1));
  if (uv_stream_get_write_queue_size(st) == 0) {
    /* Fast path: most replies fit in the socket buffer right away. */
    int n = uv_try_write(st, &b, 1);
    if (n == (int)(len + 1)) {
      free(w);
      return 0;
    }
    if (n > 0) {
      b.base += n;
      b.len -= (unsigned)n;
    }
  }
  if (uv_write(&w->req, st, &b, 1, on_write) != 0) {
    free(w);
    drop_deferred(c);
    return NC_EIO;
  }
  return 0;
}

int nc_ipc_client_send_event(nc_ipc_client *c, const char *key, const char *data, size_t len) {
  if (!c->open || uv_is_closing((uv_handle_t *)&c->pipe))
    return NC_ECLOSED;
  if (!c->pending && uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) <= EVENT_LOW_WATER)
    return nc_ipc_client_send(c, data, len);
  char *copy = malloc(len);
  if (!copy)
    return NC_ENOMEM;
  memcpy(copy, data, len);
  for (pend *p = c->pending; p; p = p->next)
    if (strcmp(p->key, key) == 0) { /* the newer state replaces the unsent one */
      free(p->data);
      p->data = copy;
      p->len = len;
      return 0;
    }
  pend *p = calloc(1, sizeof(*p));
  if (!p || !(p->key = strdup(key))) {
    free(p);
    free(copy);
    return NC_ENOMEM;
  }
  p->data = copy;
  p->len = len;
  if (!c->pending)
    c->pend_tail = &c->pending;
  *c->pend_tail = p;
  c->pend_tail = &p->next;
  return 0;
}

int nc_ipc_client_send_json(nc_ipc_client *c, const cJSON *obj) {
  char *s = cJSON_PrintUnformatted(obj);
  if (!s)
    return NC_ENOMEM;
  int rc = nc_ipc_client_send(c, s, strlen(s));
  free(s);
  return rc;
}

static void send_error_close(nc_ipc_client *c, const char *code, const char *msg) {
  char buf[512];
  int n = snprintf(buf, sizeof(buf),
                   "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                   code, msg);
  nc_ipc_client_send(c, buf, (size_t)n);
  nc_ipc_client_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  /* One read buffer per loop is enough: lines are copied into the
   * client's line buffer before the next read. */
  static char rbuf[65536];
  *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static int line_cb(void *ud, char *line, size_t len) {
  nc_ipc_client *c = ud;
  c->srv->cbs.on_line(c->srv->cbs.ud, c, line, len);
  return c->open ? 0 : 1;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  nc_ipc_client *c = (nc_ipc_client *)st;
  if (nread == UV_EOF) {
    /* The app finished sending (it may have only shut down its write
     * side, as `socat` or `nc -N` do): the lifetime ends here, but the
     * replies already queued still go out before the socket closes. */
    nc_ipc_client_close(c);
    return;
  }
  if (nread < 0) {
    close_now(c);
    return;
  }
  if (nread == 0)
    return;
  nc_ipc_client_ref(c);
  int rc = nc_linebuf_feed(&c->lb, buf->base, (size_t)nread, line_cb, c);
  if (rc == NC_ETOOBIG && c->open) {
    nc_warn("ipc: client %llu sent a line over %zu bytes; closing", (unsigned long long)c->id,
            c->srv->max_line);
    char msg[128];
    snprintf(msg, sizeof(msg), "request line over the agent's limit of %zu bytes (--max-line)",
             c->srv->max_line);
    send_error_close(c, "TOO_LARGE", msg);
  } else if (rc == NC_ENOMEM && c->open) {
    send_error_close(c, "INTERNAL", "out of memory");
  }
  nc_ipc_client_unref(c);
}

static void on_connection(uv_stream_t *server, int status) {
  nc_ipc_srv *s = server->data;
  if (status < 0) {
    nc_warn("ipc: accept failed: %s", uv_strerror(status));
    return;
  }
  nc_ipc_client *c = calloc(1, sizeof(*c));
  if (!c)
    return;
  uv_pipe_init(s->loop, &c->pipe, 0);
  c->srv = s;
  c->refs = 1;
  c->id = ++s->next_id;
  nc_linebuf_init(&c->lb, s->max_line);
  if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
    uv_close((uv_handle_t *)&c->pipe, on_handle_closed);
    return;
  }
  c->open = 1;
  c->next = s->clients;
  if (s->clients)
    s->clients->prev = c;
  s->clients = c;
  s->n_clients++;

  uv_os_fd_t fd;
  struct ucred cred = {0};
  socklen_t cl = sizeof(cred);
  c->uid = (uid_t)-1;
  if (uv_fileno((uv_handle_t *)&c->pipe, &fd) == 0 &&
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
    c->uid = cred.uid;
    c->gid = cred.gid;
    c->pid = cred.pid;
  }
  nc_info("ipc: client %llu connected: uid %d gid %d pid %d", (unsigned long long)c->id,
          (int)c->uid, (int)c->gid, (int)c->pid);
  if (s->allowed) {
    size_t i;
    for (i = 0; i < s->n_allowed && s->allowed[i] != c->uid; i++)
      ;
    if (i == s->n_allowed) {
      nc_warn("ipc: client %llu uid %d not allowed", (unsigned long long)c->id, (int)c->uid);
      send_error_close(c, "FORBIDDEN", "peer uid not allowed");
      return;
    }
  }
  uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* A socket file left by a dead agent is removed; a live one is an error. */
static int clear_stale(const char *path) {
  struct sockaddr_un sa = {0};
  sa.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(sa.sun_path))
    return NC_EINVAL;
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return NC_EIO;
  int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
  close(fd);
  if (live)
    return NC_EEXISTS;
  unlink(path);
  return 0;
}

static int set_group(const char *path, const char *group) {
  char *end = NULL;
  long gid = strtol(group, &end, 10);
  if (!end || *end) {
    struct group *g = getgrnam(group);
    if (!g)
      return NC_EINVAL;
    gid = (long)g->gr_gid;
  }
  return chown(path, (uid_t)-1, (gid_t)gid) == 0 ? 0 : NC_EPERM;
}

int nc_ipc_srv_new(uv_loop_t *loop, const nc_ipc_srv_opts *opts, const nc_ipc_srv_cbs *cbs,
                   nc_ipc_srv **out) {
  int rc;
  nc_ipc_srv *s = calloc(1, sizeof(*s));
  if (!s || !(s->path = strdup(opts->path))) {
    free(s);
    return NC_ENOMEM;
  }
  s->loop = loop;
  s->cbs = *cbs;
  s->max_line = opts->max_line ? opts->max_line : NC_IPC_SRV_DEFAULT_MAX_LINE;
  s->max_outq = opts->max_outq ? opts->max_outq : 64u * 1024 * 1024;
  if (opts->allowed_uids) {
    s->allowed = malloc(opts->n_allowed * sizeof(uid_t) + 1);
    if (!s->allowed) {
      rc = NC_ENOMEM;
      goto fail;
    }
    memcpy(s->allowed, opts->allowed_uids, opts->n_allowed * sizeof(uid_t));
    s->n_allowed = opts->n_allowed;
  }
  if ((rc = clear_stale(opts->path)) != 0) {
    nc_error("ipc: %s: %s", opts->path,
             rc == NC_EEXISTS ? "another agent is listening there" : nc_strerror(rc));
    goto fail;
  }
  uv_pipe_init(loop, &s->listener, 0);
  s->listener.data = s;
  /* The socket file is created 0660 from the start: no window in which
   * other users could connect. */
  mode_t old = umask(0117);
  int r = uv_pipe_bind(&s->listener, opts->path);
  umask(old);
  if (r == 0)
    r = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
  if (r != 0) {
    nc_error("ipc: cannot listen on %s: %s", opts->path, uv_strerror(r));
    uv_close((uv_handle_t *)&s->listener, NULL);
    rc = NC_EIO;
    goto fail_loop;
  }
  chmod(opts->path, 0660);
  if (opts->group && opts->group[0] && (rc = set_group(opts->path, opts->group)) != 0) {
    nc_error("ipc: cannot give %s to group '%s'", opts->path, opts->group);
    uv_close((uv_handle_t *)&s->listener, NULL);
    unlink(opts->path);
    goto fail_loop;
  }
  nc_info("ipc: listening on %s", opts->path);
  *out = s;
  return 0;
fail_loop:
  /* The listener handle needs one loop turn to close before s is freed. */
  uv_run(loop, UV_RUN_NOWAIT);
fail:
  free(s->allowed);
  free(s->path);
  free(s);
  return rc;
}

static void on_listener_closed(uv_handle_t *h) {
  nc_ipc_srv *s = h->data;
  free(s->allowed);
  free(s->path);
  free(s);
}

void nc_ipc_srv_close(nc_ipc_srv *s) {
  s->closing = 1;
  while (s->clients)
    close_now(s->clients);
  unlink(s->path);
  uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

size_t nc_ipc_srv_clients(const nc_ipc_srv *s) { return s->n_clients; }

void nc_ipc_srv_foreach(nc_ipc_srv *s, void (*fn)(void *ud, nc_ipc_client *c), void *ud) {
  nc_ipc_client *c = s->clients;
  while (c) {
    nc_ipc_client *n = c->next;
    fn(ud, c);
    c = n;
  }
}
