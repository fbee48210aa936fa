/* nc_http: see nc_http.h.
 *
 * libmicrohttpd drives a request through its access handler several times:
 * once with the head (we allocate our nc_http_req), once per body chunk
 * (appended under the cap), and once more with no data (the request is
 * complete: the user handler runs). A handler that does not answer
 * synchronously leaves the connection suspended; nc_http_reply stores the
 * response and resumes it, and MHD then calls the access handler again,
 * which queues the stored response. */
#include "nc_http.h"

#include "nc_err.h"
#include "nc_http_cert.h"
#include "nc_log.h"
#include "nc_mhd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct kv {
  char *k, *v;
} kv;

typedef struct hdr {
  char *name, *value;
  struct hdr *next;
} hdr;

enum { RQ_READING, RQ_HANDLING, RQ_HELD, RQ_ANSWERED, RQ_QUEUED };

struct nc_http_req {
  nc_http *h;
  struct MHD_Connection *conn;
  char *method, *path;
  char *body;
  size_t body_len, body_cap;
  int too_big;
  kv *form;
  size_t nform;
  char peer[64];
  int state;
  struct nc_http_req *prev, *next; /* held list */
  nc_http_abort_fn abort_fn;
  void *abort_ud;
  /* the stored reply */
  int code;
  struct MHD_Response *resp;
  hdr *headers;
};

/* One TCP connection (MHD's socket context), for the read deadlines and
 * the per-address count. */
typedef struct hconn {
  struct hconn *prev, *next;
  int fd;
  int in_body, cut; /* head read, body not yet; shut down by a deadline */
  int cert_ok;      /* client certificate verified (checked once per connection) */
  uint64_t since_ms; /* head expected since (open or last request's end); body: head time */
  char ip[64];
} hconn;

struct nc_http {
  uv_loop_t *loop;
  struct MHD_Daemon *d;
  char *tls_cert, *tls_key; /* PEM, kept for the daemon's lifetime */
  char *tls_ca;             /* PEM client CA; set = client certificates required */
  uv_poll_t poll;
  uv_timer_t timer;
  int lfd;
  int port;
  size_t max_body;
  nc_http_handler_fn fn;
  void *ud;
  nc_http_req *held;
  unsigned nheld;
  unsigned long long nreq;
  int open_handles;
  int stopping;
  /* bounds (nc_http_opts) */
  unsigned max_conns, max_per_ip, head_to_s, body_to_s;
  hconn *conns;
  unsigned nconns;
  uv_timer_t dl_timer; /* deadline sweep, once a second */
  nc_http_limit_stats ls;
};

static void run(nc_http *h);
static void on_timer(uv_timer_t *t);

/* ---- requests ---- */

static void req_free(nc_http_req *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->nform; i++) {
    free(r->form[i].k);
    free(r->form[i].v);
  }
  free(r->form);
  while (r->headers) {
    hdr *n = r->headers->next;
    free(r->headers->name);
    free(r->headers->value);
    free(r->headers);
    r->headers = n;
  }
  if (r->resp)
    MHD_destroy_response(r->resp);
  free(r->method);
  free(r->path);
  free(r->body);
  free(r);
}

static void held_unlink(nc_http_req *r) {
  nc_http *h = r->h;
  if (r->prev)
    r->prev->next = r->next;
  else if (h->held == r)
    h->held = r->next;
  if (r->next)
    r->next->prev = r->prev;
  r->prev = r->next = NULL;
  h->nheld--;
}

static int body_append(nc_http_req *r, const char *data, size_t n) {
  if (r->too_big || r->body_len + n > r->h->max_body) {
    r->too_big = 1;
    return 0;
  }
  if (r->body_len + n + 1 > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap : 1024;
    while (cap < r->body_len + n + 1)
      cap *= 2;
    char *p = realloc(r->body, cap);
    if (!p)
      return NC_ENOMEM;
    r->body = p;
    r->body_cap = cap;
  }
  memcpy(r->body + r->body_len, data, n);
  r->body_len += n;
  r->body[r->body_len] = '\0';
  return 0;
}

static char *unescape_dup(const char *s, size_t n) {
  char *o = malloc(n + 1);
  if (!o)
    return NULL;
  memcpy(o, s, n);
  o[n] = '\0';
  for (char *p = o; *p; p++)
    if (*p == '+')
      *p = ' ';
  MHD_http_unescape(o);
  return o;
}

/* Parses an urlencoded body into r->form. Malformed pairs are skipped, as
 * servlet containers do. */
static int parse_form(nc_http_req *r) {
  const char *ct = nc_http_header(r, "Content-Type");
  if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 || !r->body)
    return 0;
  size_t n = 1;
  for (const char *p = r->body; *p; p++)
    n += *p == '&';
  r->form = calloc(n, sizeof(*r->form));
  if (!r->form)
    return NC_ENOMEM;
  const char *p = r->body;
  while (*p) {
    const char *end = strchr(p, '&');
    if (!end)
      end = p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (eq && eq > p) {
      kv *e = &r->form[r->nform];
      e->k = unescape_dup(p, (size_t)(eq - p));
      e->v = unescape_dup(eq + 1, (size_t)(end - eq - 1));
      if (!e->k || !e->v) {
        free(e->k);
        free(e->v);
        return NC_ENOMEM;
      }
      r->nform++;
    }
    p = *end ? end + 1 : end;
  }
  return 0;
}

static void set_peer(nc_http_req *r) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  r->peer[0] = '\0';
  if (!ci || !ci->client_addr)
    return;
  char host[INET6_ADDRSTRLEN] = "", port[8] = "";
  socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                         : sizeof(struct sockaddr_in);
  if (getnameinfo(ci->client_addr, len, host, sizeof(host), port, sizeof(port),
                  NI_NUMERICHOST | NI_NUMERICSERV) == 0)
    snprintf(r->peer, sizeof(r->peer), "%s:%s", host, port);
}

/* ---- replies ---- */

static int make_response(nc_http_req *r, int code, const char *ctype, const char *body,
                         size_t len) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!resp)
    return NC_ENOMEM;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype ? ctype : "text/plain");
  for (hdr *x = r->headers; x; x = x->next)
    MHD_add_response_header(resp, x->name, x->value);
  if (r->resp)
    MHD_destroy_response(r->resp);
  r->resp = resp;
  r->code = code;
  return 0;
}

static enum MHD_Result queue_stored(nc_http_req *r) {
  r->state = RQ_QUEUED;
  return MHD_queue_response(r->conn, (unsigned)r->code, r->resp);
}

int nc_http_add_header(nc_http_req *r, const char *name, const char *value) {
  hdr *x = calloc(1, sizeof(*x));
  if (!x || !(x->name = strdup(name)) || !(x->value = strdup(value))) {
    if (x)
      free(x->name);
    free(x);
    return NC_ENOMEM;
  }
  x->next = r->headers;
  r->headers = x;
  return 0;
}

int nc_http_reply(nc_http_req *r, int code, const char *ctype, const char *body, size_t len) {
  int rc = make_response(r, code, ctype, body ? body : "", body ? len : 0);
  if (rc) {
    static const char oom[] = "{\"code\":500,\"message\":\"out of memory\"}";
    /* A static body needs no copy, so this cannot fail for lack of memory
     * in the body; MHD may still fail, and then the connection is dropped. */
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    if (r->resp)
      MHD_destroy_response(r->resp);
    r->resp = resp;
    r->code = 500;
  }
  if (r->state == RQ_HELD) {
    held_unlink(r);
    r->state = RQ_ANSWERED;
    MHD_resume_connection(r->conn);
    /* MHD wants a run after a resume in external polling, and each run
     * walks every suspended connection: one run on the next loop turn
     * serves all the resumes of this one (a change answering 5,000 held
     * polls made 5,000 runs over 5,000 connections before). */
    uv_timer_start(&r->h->timer, on_timer, 0, 0);
  } else {
    r->state = RQ_ANSWERED;
  }
  return rc;
}

int nc_http_reply_error(nc_http_req *r, int code, const char *msg) {
  char buf[512];
  /* msg is ours (never client text), but escape quotes anyway */
  size_t o = (size_t)snprintf(buf, sizeof(buf), "{\"code\":%d,\"message\":\"", code);
  for (const char *p = msg ? msg : ""; *p && o + 8 < sizeof(buf); p++) {
    if (*p == '"' || *p == '\\')
      buf[o++] = '\\';
    buf[o++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
  }
  o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"}");
  return nc_http_reply(r, code, "application/json", buf, o);
}

void nc_http_hold_abort(nc_http_req *r, nc_http_abort_fn fn, void *ud) {
  r->abort_fn = fn;
  r->abort_ud = ud;
}

/* ---- accessors ---- */

const char *nc_http_method(const nc_http_req *r) { return r->method; }
const char *nc_http_path(const nc_http_req *r) { return r->path; }
const char *nc_http_peer(const nc_http_req *r) { return r->peer; }

const char *nc_http_body(const nc_http_req *r, size_t *len) {
  if (len)
    *len = r->body_len;
  return r->body ? r->body : "";
}

const char *nc_http_header(const nc_http_req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *nc_http_param(const nc_http_req *r, const char *name) {
  const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
  if (v)
    return v;
  for (size_t i = 0; i < r->nform; i++)
    if (strcmp(r->form[i].k, name) == 0)
      return r->form[i].v;
  return NULL;
}

unsigned long long nc_http_requests(const nc_http *h) { return h->nreq; }
unsigned nc_http_held(const nc_http *h) { return h->nheld; }
int nc_http_port(const nc_http *h) { return h->port; }

/* ---- routes ---- */

static unsigned method_bit(const char *m) {
  if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
    return NC_HTTP_GET;
  if (strcmp(m, "POST") == 0)
    return NC_HTTP_POST;
  if (strcmp(m, "PUT") == 0)
    return NC_HTTP_PUT;
  if (strcmp(m, "DELETE") == 0)
    return NC_HTTP_DELETE;
  if (strcmp(m, "PATCH") == 0)
    return NC_HTTP_PATCH;
  return 0;
}

const nc_http_route *nc_http_route_find(const nc_http_route *tab, size_t n,
                                        const nc_http_req *r, int *status) {
  unsigned bit = method_bit(r->method);
  int known = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(tab[i].path, r->path) != 0)
      continue;
    known = 1;
    if (tab[i].methods & bit)
      return &tab[i];
  }
  *status = known ? 405 : 404;
  return NULL;
}

/* ---- the MHD side ---- */

static hconn *conn_of(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

static void ip_of(const struct sockaddr *sa, char *buf, size_t cap) {
  buf[0] = 0;
  if (sa && sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)cap);
  else if (sa && sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)cap);
}

static unsigned conns_from(const nc_http *h, const char *ip) {
  unsigned n = 0;
  for (const hconn *c = h->conns; c; c = c->next)
    n += strcmp(c->ip, ip) == 0;
  return n;
}

/* Before MHD takes a connection: the total and per-address caps, counted
 * (MHD's own limit refuses silently). O(open connections), bounded by the
 * cap. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len) {
  nc_http *h = cls;
  char ip[64];
  (void)len;
  if (h->nconns >= h->max_conns) {
    if (++h->ls.refused_total % 1000 == 1)
      nc_warn("http: connection refused: %u open, the cap (%llu refused so far)", h->nconns,
              h->ls.refused_total);
    return MHD_NO;
  }
  ip_of(addr, ip, sizeof(ip));
  if (h->max_per_ip && conns_from(h, ip) >= h->max_per_ip) {
    if (++h->ls.refused_per_ip % 1000 == 1)
      nc_warn("http: connection from %s refused: %u open from it, the cap (%llu refused so far)",
              ip, h->max_per_ip, h->ls.refused_per_ip);
    return MHD_NO;
  }
  return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **sctx,
                          enum MHD_ConnectionNotificationCode toe) {
  nc_http *h = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    hconn *c = calloc(1, sizeof(*c));
    if (!c)
      return;
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    c->fd = fi ? fi->connect_fd : -1;
    ip_of(ai ? ai->client_addr : NULL, c->ip, sizeof(c->ip));
    c->since_ms = uv_now(h->loop);
    c->next = h->conns;
    if (h->conns)
      h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    *sctx = c;
  } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *sctx) {
    hconn *c = *sctx;
    if (c->prev)
      c->prev->next = c->next;
    else
      h->conns = c->next;
    if (c->next)
      c->next->prev = c->prev;
    h->nconns--;
    free(c);
    *sctx = NULL;
  }
}

/* Cuts connections past a deadline: shutdown() makes MHD read EOF and close
 * it on its next run (MHD has no call to close a connection from outside). */
static void on_deadlines(uv_timer_t *t) {
  nc_http *h = t->data;
  uint64_t now = uv_now(h->loop);
  int cut = 0;
  for (hconn *c = h->conns; c; c = c->next) {
    if (c->cut || c->fd < 0)
      continue;
    unsigned to = c->in_body ? h->body_to_s : h->head_to_s;
    if (!to || now < c->since_ms + (uint64_t)to * 1000)
      continue;
    c->cut = 1;
    cut = 1;
    unsigned long long n = c->in_body ? ++h->ls.body_timeouts : ++h->ls.header_timeouts;
    if (n % 1000 == 1)
      nc_warn("http: connection from %s closed: %s not complete within %u s (%llu so far)",
              c->ip, c->in_body ? "request body" : "request head", to, n);
    shutdown(c->fd, SHUT_RDWR);
  }
  if (cut)
    run(h);
}

void nc_http_get_limit_stats(const nc_http *h, nc_http_limit_stats *st) { *st = h->ls; }

/* 413 for a body over max_body, answered as soon as that is known (its
 * Content-Length, or the bytes so far) instead of after reading it all:
 * the rest is not read, and MHD closes the connection after the answer. */
static enum MHD_Result refuse_too_big(nc_http *h, nc_http_req *r, struct MHD_Connection *conn) {
  char msg[96];
  hconn *hc = conn_of(conn);
  if (hc) /* answered: no body deadline any more */
    hc->in_body = 2;
  if (r->state == RQ_READING)
    h->nreq++;
  r->state = RQ_HANDLING;
  unsigned long long n = ++h->ls.body_too_large;
  snprintf(msg, sizeof(msg), "request body over the %zu-byte limit", h->max_body);
  if (n <= 10 || (n & (n - 1)) == 0)
    nc_warn("http: %s %s from %s refused: %s (%llu so far)", r->method, r->path, r->peer, msg,
            n);
  nc_http_reply_error(r, 413, msg);
  return queue_stored(r);
}

/* A client without a valid certificate (tls_client_ca_pem): 403 before its
 * body is read, and the connection is closed after the answer. Counted per
 * connection (a refused one does not stay open for a second request). */
static enum MHD_Result refuse_cert(nc_http *h, nc_http_req *r, struct MHD_Connection *conn,
                                   const char *why) {
  char msg[200];
  hconn *hc = conn_of(conn);
  if (hc)
    hc->in_body = 2;
  h->nreq++;
  r->state = RQ_HANDLING;
  unsigned long long n = ++h->ls.client_cert_refused;
  if (n <= 10 || (n & (n - 1)) == 0)
    nc_warn("http: %s %s from %s refused: %s (client certificates are required: "
            "--tls-client-ca; nacosd_http_client_cert_refused_total %llu)",
            r->method, r->path, r->peer, why, n);
  snprintf(msg, sizeof(msg), "client certificate required: %s", why);
  if (nc_http_add_header(r, "Connection", "close"))
    return MHD_NO;
  nc_http_reply_error(r, 403, msg);
  return queue_stored(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
  nc_http *h = cls;
  nc_http_req *r = *con_cls;
  (void)version;
  if (!r) {
    r = calloc(1, sizeof(*r));
    if (!r)
      return MHD_NO;
    r->h = h;
    r->conn = conn;
    r->method = strdup(method);
    r->path = strdup(url);
    if (!r->method || !r->path) {
      req_free(r);
      return MHD_NO;
    }
    set_peer(r);
    *con_cls = r;
    hconn *hc = conn_of(conn);
    if (h->tls_ca && !(hc && hc->cert_ok)) {
      char why[160];
      if (nc_http_cert_check(conn, why, sizeof(why)) != 0)
        return refuse_cert(h, r, conn, why);
      if (hc)
        hc->cert_ok = 1;
    }
    if (hc) { /* the head is in: the body's deadline starts */
      hc->in_body = 1;
      hc->since_ms = uv_now(h->loop);
    }
    /* A body its Content-Length puts over the cap is refused now, unread. */
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    char *end = NULL;
    unsigned long long n = cl ? strtoull(cl, &end, 10) : 0;
    if (cl && end != cl && n > h->max_body) {
      r->too_big = 1;
      return refuse_too_big(h, r, conn);
    }
    return MHD_YES;
  }
  if (r->state == RQ_READING && *upload_data_size) {
    if (body_append(r, upload_data, *upload_data_size))
      return MHD_NO;
    *upload_data_size = 0;
    if (r->too_big) /* over the cap without a Content-Length saying so */
      return refuse_too_big(h, r, conn);
    return MHD_YES;
  }
  if (r->state == RQ_ANSWERED)
    return queue_stored(r); /* resumed after a late reply */
  if (r->state != RQ_READING)
    return MHD_YES;

  h->nreq++;
  r->state = RQ_HANDLING;
  hconn *hc = conn_of(conn);
  if (hc) /* read whole: no deadline while it is handled or held */
    hc->in_body = 2;
  if (r->too_big)
    return refuse_too_big(h, r, conn);
  if (parse_form(r)) {
    nc_http_reply_error(r, 500, "out of memory");
    return queue_stored(r);
  }
  h->fn(h->ud, r);
  if (r->state == RQ_ANSWERED)
    return queue_stored(r);
  /* held: answered later from the loop */
  r->state = RQ_HELD;
  r->next = h->held;
  if (h->held)
    h->held->prev = r;
  h->held = r;
  h->nheld++;
  MHD_suspend_connection(conn);
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)conn;
  (void)toe;
  nc_http_req *r = *con_cls;
  nc_http *h = cls;
  hconn *hc = conn ? conn_of(conn) : NULL;
  if (hc) { /* keep-alive: the next head is due from now */
    hc->in_body = 0;
    hc->since_ms = uv_now(h->loop);
  }
  if (r && r->state == RQ_HELD)
    held_unlink(r); /* cannot happen while suspended; kept for safety */
  req_free(r);
  *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  char buf[256];
  (void)cls;
  vsnprintf(buf, sizeof(buf), fmt, ap);
  size_t n = strlen(buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  nc_debug("http: %s", buf);
}

static void on_timer(uv_timer_t *t) { run(t->data); }

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  run(p->data);
}

/* Runs MHD once and re-arms its timeout. */
static void run(nc_http *h) {
  if (!h->d)
    return;
  MHD_run(h->d);
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (MHD_get_timeout(h->d, &ms) == MHD_YES)
    uv_timer_start(&h->timer, on_timer, ms ? ms : 1, 0);
  else
    uv_timer_stop(&h->timer);
}

static int listen_socket(const char *addr, int port, int *out_fd, int *out_port) {
  struct addrinfo hints = {0}, *ai = NULL;
  char ps[16];
  int fd = -1, rc = NC_EIO, one = 1;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  snprintf(ps, sizeof(ps), "%d", port);
  int gai = getaddrinfo(addr, ps, &hints, &ai);
  if (gai != 0 || !ai) {
    nc_error("http: bad listen address %s: %s", addr, gai_strerror(gai));
    return NC_EINVAL;
  }
  fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    goto out;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 511))
    goto out;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &sl))
    goto out;
  *out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  *out_fd = fd;
  fd = -1;
  rc = 0;
out:
  if (rc)
    nc_error("http: cannot listen on %s:%d: %s", addr, port, strerror(errno));
  if (fd >= 0)
    close(fd);
  if (ai)
    freeaddrinfo(ai);
  return rc;
}

int nc_http_start(uv_loop_t *loop, const nc_http_opts *o, nc_http_handler_fn fn, void *ud,
                  nc_http **out) {
  nc_http_opts z = {0};
  char why[300];
  if (!o)
    o = &z;
  if (nc_mhd_load(why, sizeof(why)) != 0) {
    nc_error("http: %s (install libmicrohttpd12)", why);
    return NC_EIO;
  }
  nc_http *h = calloc(1, sizeof(*h));
  int rc = NC_ENOMEM;
  if (!h)
    return rc;
  h->loop = loop;
  h->fn = fn;
  h->ud = ud;
  h->lfd = -1;
  h->max_body = o->max_body ? o->max_body : 8u * 1024 * 1024;
  h->max_conns = o->max_conns ? o->max_conns : 1024;
  h->max_per_ip = o->max_conns_per_ip;
  h->head_to_s = o->header_timeout_s;
  h->body_to_s = o->body_timeout_s;
  if ((rc = listen_socket(o->bind ? o->bind : "127.0.0.1", o->port, &h->lfd, &h->port)))
    goto fail;
  /* TLS options ride in an array that is empty without TLS. */
  struct MHD_OptionItem tls[4] = {{MHD_OPTION_END, 0, NULL}};
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (o->tls_cert_pem && o->tls_key_pem) {
    rc = NC_ENOMEM;
    if (!(h->tls_cert = strdup(o->tls_cert_pem)) || !(h->tls_key = strdup(o->tls_key_pem)))
      goto fail;
    tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
    tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
    flags |= MHD_USE_TLS;
    if (o->tls_client_ca_pem) {
      if (nc_http_cert_init(why, sizeof(why)) != 0) {
        nc_error("http: client certificates cannot be checked: %s", why);
        rc = NC_EIO;
        goto fail;
      }
      if (!(h->tls_ca = strdup(o->tls_client_ca_pem)))
        goto fail;
      /* GnuTLS then asks for a certificate and trusts this CA; whether
       * one came and chains to it is nc_http_cert_check's to say. */
      tls[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, h->tls_ca};
    }
  } else if (o->tls_client_ca_pem) {
    nc_error("http: a client CA needs the TLS certificate and key");
    rc = NC_EINVAL;
    goto fail;
  }
  /* MHD_USE_EPOLL without an internal thread: we poll its epoll fd. */
  h->d = MHD_start_daemon(
      flags, 0, on_accept, h, on_access, h, MHD_OPTION_ARRAY, tls,
      MHD_OPTION_LISTEN_SOCKET, h->lfd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_CONNECTION_LIMIT,
      /* one over ours, so on_accept's counted refusal comes first */
      h->max_conns + 1,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(o->idle_timeout_s ? o->idle_timeout_s : 60),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(o->max_head ? o->max_head : 32 * 1024),
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 0,
      MHD_OPTION_END);
  rc = NC_EIO;
  if (!h->d) {
    nc_error("http: libmicrohttpd refused to start on port %d%s", h->port,
             h->tls_ca    ? " (check the TLS certificate, key and client CA)"
             : h->tls_key ? " (check the TLS certificate and key)"
                          : "");
    goto fail;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
  if (!di || uv_poll_init(loop, &h->poll, di->epoll_fd) != 0)
    goto fail;
  h->poll.data = h;
  h->open_handles++;
  uv_timer_init(loop, &h->timer);
  h->timer.data = h;
  h->open_handles++;
  uv_timer_init(loop, &h->dl_timer);
  h->dl_timer.data = h;
  h->open_handles++;
  if (h->head_to_s || h->body_to_s)
    uv_timer_start(&h->dl_timer, on_deadlines, 1000, 1000);
  uv_poll_start(&h->poll, UV_READABLE, on_poll);
  run(h);
  *out = h;
  return 0;
fail:
  if (h->d)
    MHD_stop_daemon(h->d);
  if (h->lfd >= 0)
    close(h->lfd);
  free(h->tls_cert);
  free(h->tls_key);
  free(h->tls_ca);
  free(h);
  return rc;
}

static void handle_closed(uv_handle_t *hd) {
  nc_http *h = hd->data;
  if (--h->open_handles == 0) {
    free(h->tls_cert);
    free(h->tls_ca);
    if (h->tls_key)
      explicit_bzero(h->tls_key, strlen(h->tls_key));
    free(h->tls_key);
    free(h);
  }
}

void nc_http_stop(nc_http *h) {
  if (!h || h->stopping)
    return;
  h->stopping = 1;
  /* MHD must not be stopped with suspended connections: answer them. */
  while (h->held) {
    nc_http_req *r = h->held;
    if (r->abort_fn)
      r->abort_fn(r->abort_ud, r);
    if (r->state == RQ_HELD)
      nc_http_reply_error(r, 503, "server is stopping");
  }
  uv_poll_stop(&h->poll);
  uv_timer_stop(&h->timer);
  uv_timer_stop(&h->dl_timer);
  MHD_stop_daemon(h->d);
  h->d = NULL;
  if (h->lfd >= 0)
    close(h->lfd);
  h->lfd = -1;
  uv_close((uv_handle_t *)&h->poll, handle_closed);
  uv_close((uv_handle_t *)&h->timer, handle_closed);
  uv_close((uv_handle_t *)&h->dl_timer, handle_closed);
}
