/* nc_ipc: connection, framing, id matching and event queue of the agent
 * client library. See nc_ipc.h for the contract.
 *
 * Design note: the socket is always non-blocking. Blocking calls poll() it
 * with the remaining time budget and feed every complete line through
 * handle_line(), which sorts it into (a) the response some caller is
 * waiting for, (b) the event FIFO, or (c) the bin. The app-facing
 * descriptor is an epoll set of the socket plus an eventfd that is kept
 * readable exactly while the event FIFO is non-empty (or the connection
 * broke), so level-triggered polling by the app stays truthful.
 * Requests (send/wait/call) live in nc_ipc_call.c. */
#include "nc_ipc.h"
#include "nc_ipc_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 65536
/* Reads per nc_ipc_process() call, so a chatty agent cannot starve the
 * app's loop; level-triggered polling brings us back for the rest. */
#define PROCESS_MAX_READS 16

/* ---- errors ---------------------------------------------------------- */

/* Records the failure for nc_ipc_errcode/errmsg and returns err. */
int nc_ipc__set_err(nc_ipc *c, int err, const char *code, const char *fmt, ...) {
  va_list ap;
  snprintf(c->code, sizeof(c->code), "%s", code ? code : nc_ipc_err_name(err));
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
  va_end(ap);
  return err;
}

int nc_ipc__fail(nc_ipc *c, int err, const char *fmt, ...) {
  va_list ap;
  if (!c)
    return err;
  snprintf(c->code, sizeof(c->code), "%s", nc_ipc_err_name(err));
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
  va_end(ap);
  return err;
}

const char *nc_ipc_errcode(const nc_ipc *c) { return c ? c->code : ""; }
const char *nc_ipc_errmsg(const nc_ipc *c) { return c ? c->msg : ""; }

/* ---- handle ---------------------------------------------------------- */

const char *nc_ipc_socket_path(const char *explicit_path) {
  if (explicit_path && *explicit_path)
    return explicit_path;
  const char *env = getenv(NC_IPC_SOCKET_ENV);
  if (env && *env)
    return env;
  return NC_IPC_DEFAULT_SOCKET;
}

nc_ipc *nc_ipc_new(void) {
  nc_ipc *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->sock = c->epfd = c->evfd = -1;
  c->next_id = 1;
  c->max_line = NC_IPC_DEFAULT_MAX_LINE;
  c->max_request = NC_IPC_DEFAULT_MAX_REQUEST;
  c->timeout_ms = NC_IPC_DEFAULT_TIMEOUT_MS;
  return c;
}

static void evfd_update(nc_ipc *c) {
  int want = c->evq_len > 0 || c->broken;
  if (c->evfd < 0 || want == c->evfd_set)
    return;
  uint64_t v = 1;
  ssize_t r = want ? write(c->evfd, &v, sizeof(v)) : read(c->evfd, &v, sizeof(v));
  if (r == (ssize_t)sizeof(v))
    c->evfd_set = want;
}

/* The connection itself failed: close the socket, keep queued events for
 * nc_ipc_process, wake the app's poll so it notices. */
void nc_ipc__conn_break(nc_ipc *c) {
  if (c->sock >= 0) {
    close(c->sock); /* also leaves the epoll set */
    c->sock = -1;
  }
  c->broken = 1;
  c->rlen = c->rscan = 0;
  evfd_update(c);
}

static void free_waits(nc_ipc *c) {
  while (c->waits) {
    pending *p = c->waits;
    c->waits = p->next;
    cJSON_Delete(p->msg);
    free(p);
  }
}

void nc_ipc_free(nc_ipc *c) {
  if (!c)
    return;
  if (c->sock >= 0)
    close(c->sock);
  if (c->epfd >= 0)
    close(c->epfd);
  if (c->evfd >= 0)
    close(c->evfd);
  while (c->evq_head) {
    ev_node *e = c->evq_head;
    c->evq_head = e->next;
    cJSON_Delete(e->msg);
    free(e);
  }
  free_waits(c);
  free(c->rbuf);
  free(c);
}

void nc_ipc_set_event_cb(nc_ipc *c, nc_ipc_event_cb cb, void *ud) {
  c->cb = cb;
  c->ud = ud;
}

void nc_ipc_set_max_line(nc_ipc *c, size_t max_line) {
  c->max_line = max_line < 64 ? 64 : max_line;
}

void nc_ipc_set_max_request(nc_ipc *c, size_t max_request) {
  c->max_request = max_request < 64 ? 64 : max_request;
}

void nc_ipc_set_timeout(nc_ipc *c, int timeout_ms) {
  c->timeout_ms = timeout_ms == NC_IPC_TIMEOUT_DEFAULT ? NC_IPC_DEFAULT_TIMEOUT_MS : timeout_ms;
}

int nc_ipc_connected(const nc_ipc *c) { return c && c->sock >= 0; }
/* Stays valid after the link breaks (the eventfd is then kept readable),
 * so a loop that registered it once still wakes up to see the error. */
int nc_ipc_fd(const nc_ipc *c) { return c ? c->epfd : -1; }
size_t nc_ipc_pending(const nc_ipc *c) { return c ? c->evq_len : 0; }
uint64_t nc_ipc_dropped_events(const nc_ipc *c) { return c ? c->dropped : 0; }

/* Creates the app-facing descriptor pair once per handle; reconnects
 * reuse it so a loop that registered nc_ipc_fd() keeps working. */
static int ensure_fds(nc_ipc *c) {
  struct epoll_event ev;
  if (c->epfd >= 0)
    return 0;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  if (ep < 0 || efd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0) {
    int e = errno;
    if (ep >= 0)
      close(ep);
    if (efd >= 0)
      close(efd);
    return nc_ipc__set_err(c, NC_IPC_E_IO, NULL, "epoll/eventfd: %s", strerror(e));
  }
  c->epfd = ep;
  c->evfd = efd;
  return 0;
}

int nc_ipc_connect(nc_ipc *c, const char *path) {
  struct sockaddr_un sa;
  struct epoll_event ev;
  int fd = -1, err = 0;

  if (!c)
    return NC_IPC_E_INVAL;
  if (c->sock >= 0)
    return nc_ipc__set_err(c, NC_IPC_E_INVAL, NULL, "already connected");
  path = nc_ipc_socket_path(path);
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(sa.sun_path))
    return nc_ipc__set_err(c, NC_IPC_E_INVAL, NULL, "socket path too long: %s", path);
  memcpy(sa.sun_path, path, strlen(path) + 1);

  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = nc_ipc__set_err(c, NC_IPC_E_CONNECT, NULL, "socket: %s", strerror(errno));
    goto out;
  }
  /* connect() on a Unix stream socket completes or fails at once (unless
   * the backlog is full, when it blocks briefly); only then go
   * non-blocking for the framing code. */
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    err = nc_ipc__set_err(c, NC_IPC_E_CONNECT, NULL, "cannot connect to %s: %s", path,
                          strerror(errno));
    goto out;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    err = nc_ipc__set_err(c, NC_IPC_E_IO, NULL, "fcntl: %s", strerror(errno));
    goto out;
  }
  if ((err = ensure_fds(c)))
    goto out;
  memset(&ev, 0, sizeof(ev));
  ev.events = EPOLLIN;
  if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    err = nc_ipc__set_err(c, NC_IPC_E_IO, NULL, "epoll_ctl: %s", strerror(errno));
    goto out;
  }
  /* A fresh link: nothing of the old one's framing or requests carries
   * over (the agent forgot them); queued events stay for the app. */
  c->sock = fd;
  fd = -1;
  c->broken = 0;
  c->rlen = c->rscan = 0;
  c->orphan_code[0] = c->orphan[0] = '\0';
  free_waits(c);
  evfd_update(c);
  c->code[0] = c->msg[0] = '\0';
out:
  if (fd >= 0)
    close(fd);
  return err;
}

/* ---- incoming lines -------------------------------------------------- */

pending *nc_ipc__find_wait(nc_ipc *c, int64_t id, pending ***link) {
  pending **pp = &c->waits;
  for (; *pp; pp = &(*pp)->next)
    if ((*pp)->id == id) {
      if (link)
        *link = pp;
      return *pp;
    }
  return NULL;
}

static void enqueue_event(nc_ipc *c, cJSON *msg) {
  ev_node *e = malloc(sizeof(*e));
  if (!e) {
    c->dropped++;
    cJSON_Delete(msg);
    return;
  }
  e->next = NULL;
  e->msg = msg;
  if (c->evq_len >= NC_IPC_MAX_QUEUED_EVENTS) {
    ev_node *old = c->evq_head;
    c->evq_head = old->next;
    if (!c->evq_head)
      c->evq_tail = NULL;
    cJSON_Delete(old->msg);
    free(old);
    c->evq_len--;
    c->dropped++;
  }
  if (c->evq_tail)
    c->evq_tail->next = e;
  else
    c->evq_head = e;
  c->evq_tail = e;
  c->evq_len++;
  evfd_update(c);
}

/* Sorts one complete line: a response for an id someone waits for is
 * stored, an event is queued, anything else (unparsable, unknown or
 * abandoned id, "id": null) is dropped. */
static void handle_line(nc_ipc *c, const char *line, size_t len) {
  while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
    len--;
  if (!len)
    return;
  cJSON *msg = cJSON_ParseWithLength(line, len);
  if (!msg)
    return;
  if (!cJSON_IsObject(msg))
    goto drop;
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
  if (cJSON_IsNull(id)) {
    /* The agent could not tell which request failed (a line it could not
     * parse, or one over its cap just before it hangs up): keep the reason
     * so the CLOSED that may follow can name it. */
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(msg, "error");
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
    const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));
    snprintf(c->orphan_code, sizeof(c->orphan_code), "%s", code ? code : "UNKNOWN");
    snprintf(c->orphan, sizeof(c->orphan), "%s", m ? m : "");
    goto drop;
  }
  if (id) {
    /* We only send small positive integers; anything else is not ours. */
    if (!cJSON_IsNumber(id) || !(id->valuedouble >= 1 && id->valuedouble < 9007199254740992.0))
      goto drop;
    pending *p = nc_ipc__find_wait(c, (int64_t)id->valuedouble, NULL);
    if (!p || p->msg || (double)p->id != id->valuedouble)
      goto drop;
    p->msg = msg;
    return;
  }
  if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(msg, "event"))) {
    enqueue_event(c, msg);
    return;
  }
drop:
  cJSON_Delete(msg);
}

/* The link is gone (err = errno, 0 for EOF). The agent's own reason, when
 * it sent one with "id": null just before (say TOO_LARGE for our last
 * request), beats a bare CLOSED. */
int nc_ipc__hang_up(nc_ipc *c, int err, const char *what) {
  nc_ipc__conn_break(c);
  if (c->orphan_code[0])
    return nc_ipc__set_err(c, nc_ipc_err_from_code(c->orphan_code), c->orphan_code,
                           "%s (the agent closed the connection)", c->orphan);
  if (err)
    return nc_ipc__set_err(c, NC_IPC_E_CLOSED, NULL, "%s: %s", what, strerror(err));
  return nc_ipc__set_err(c, NC_IPC_E_CLOSED, NULL, "the agent closed the connection");
}

/* One recv() into the line buffer, then every complete line is handled.
 * Returns 1 if bytes were read, 0 on EAGAIN, or a negative error after
 * breaking the connection (EOF, i/o error, line over the cap). */
int nc_ipc__read_some(nc_ipc *c) {
  if (c->sock < 0)
    return nc_ipc__set_err(c, NC_IPC_E_CLOSED, NULL, "not connected to the agent");
  size_t cap = c->max_line + 1; /* the line plus its '\n' */
  if (c->rcap - c->rlen < READ_CHUNK && c->rcap < cap) {
    size_t ncap = c->rcap ? c->rcap * 2 : READ_CHUNK;
    while (ncap - c->rlen < READ_CHUNK && ncap < cap)
      ncap *= 2;
    if (ncap > cap)
      ncap = cap;
    char *nb = realloc(c->rbuf, ncap);
    if (!nb) {
      nc_ipc__conn_break(c);
      return nc_ipc__set_err(c, NC_IPC_E_NOMEM, NULL, "out of memory reading from the agent");
    }
    c->rbuf = nb;
    c->rcap = ncap;
  }
  ssize_t n;
  do
    n = recv(c->sock, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return 0;
  if (n <= 0)
    return nc_ipc__hang_up(c, n < 0 ? errno : 0, "connection to the agent failed");
  c->rlen += (size_t)n;

  size_t start = 0;
  for (;;) {
    char *nl = memchr(c->rbuf + c->rscan, '\n', c->rlen - c->rscan);
    if (!nl)
      break;
    size_t end = (size_t)(nl - c->rbuf);
    handle_line(c, c->rbuf + start, end - start);
    start = end + 1;
    c->rscan = start;
  }
  if (start) {
    memmove(c->rbuf, c->rbuf + start, c->rlen - start);
    c->rlen -= start;
  }
  c->rscan = c->rlen;
  if (c->rlen > c->max_line) {
    nc_ipc__conn_break(c);
    return nc_ipc__set_err(c, NC_IPC_E_PROTOCOL, NULL, "line from the agent exceeds %zu bytes",
                           c->max_line);
  }
  /* One huge reply (a big config) must not pin megabytes for the life of
   * a long-running app: shrink back once the buffer is nearly empty. */
  if (c->rcap > 8 * READ_CHUNK && c->rlen < READ_CHUNK) {
    char *nb = realloc(c->rbuf, 2 * READ_CHUNK);
    if (nb) {
      c->rbuf = nb;
      c->rcap = 2 * READ_CHUNK;
    }
  }
  return 1;
}

/* ---- events ---------------------------------------------------------- */

int nc_ipc_process(nc_ipc *c) {
  if (!c)
    return NC_IPC_E_INVAL;
  int err = 0;
  for (int i = 0; i < PROCESS_MAX_READS && c->sock >= 0; i++) {
    int r = nc_ipc__read_some(c);
    if (r < 0)
      err = r;
    if (r <= 0)
      break;
  }
  /* Only what is queued now: events the callback's own calls queue wait
   * for the next round, so a callback cannot loop us forever. */
  size_t n = c->evq_len, done = 0;
  while (done < n && c->evq_head) {
    ev_node *e = c->evq_head;
    c->evq_head = e->next;
    if (!c->evq_head)
      c->evq_tail = NULL;
    c->evq_len--;
    if (c->cb)
      c->cb(c, cJSON_GetObjectItemCaseSensitive(e->msg, "event")->valuestring, e->msg, c->ud);
    cJSON_Delete(e->msg);
    free(e);
    done++;
  }
  evfd_update(c);
  if (err)
    return err;
  if (c->sock < 0)
    return c->broken ? nc_ipc__set_err(c, NC_IPC_E_CLOSED, NULL, "the agent closed the connection")
                     : nc_ipc__set_err(c, NC_IPC_E_CLOSED, NULL, "not connected to the agent");
  return (int)done;
}
