/* naming_health_probe: one health check's I/O on the loop (see
 * naming_health_int.h): a non-blocking uv_tcp_connect under a timer, and
 * for HTTP a GET whose status line is all that is read (the connection is
 * closed right after, as Nacos does not keep checks alive). */
#include "naming_health_int.h"

#include "nc_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nhp {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t conn;
  uv_write_t wr;
  uv_loop_t *loop;
  int http, connected, done, open_handles;
  int expected, http_timeout_ms;
  char *req; /* HTTP request text */
  size_t req_len;
  char buf[256]; /* the response's first bytes */
  size_t got;
  uint64_t t0;
  nhp_done_fn fn;
  void *ud;
};

static void on_closed(uv_handle_t *h) {
  nhp *p = h->data;
  if (--p->open_handles == 0) {
    free(p->req);
    free(p);
  }
}

static void finish(nhp *p, nhp_result res, const char *msg) {
  if (p->done)
    return;
  p->done = 1;
  uint64_t rt = uv_now(p->loop) - p->t0;
  if (p->fn)
    p->fn(p->ud, res, rt, msg);
  uv_timer_stop(&p->timer);
  uv_close((uv_handle_t *)&p->timer, on_closed);
  uv_close((uv_handle_t *)&p->tcp, on_closed);
}

static void on_timeout(uv_timer_t *t) {
  nhp *p = t->data;
  finish(p, NHP_SLOW, p->http ? "http:timeout" : "tcp:timeout");
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  nhp *p = h->data;
  (void)hint;
  *b = uv_buf_init(p->buf + p->got, (unsigned)(sizeof(p->buf) - 1 - p->got));
}

/* "HTTP/1.x NNN ..." once the status line is in: the verdict. */
static void judge(nhp *p) {
  p->buf[p->got] = '\0';
  char msg[32];
  int code = 0;
  if (strncmp(p->buf, "HTTP/", 5) != 0 || sscanf(p->buf, "HTTP/%*s %d", &code) != 1) {
    finish(p, NHP_FAIL, "http:error:bad status line");
    return;
  }
  snprintf(msg, sizeof(msg), "http:%d", code);
  if (code == p->expected)
    finish(p, NHP_OK, msg);
  else if (code == 503 || code == 302)
    finish(p, NHP_SLOW, msg); /* busy: verify later */
  else
    finish(p, NHP_FAIL_NOW, msg);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  nhp *p = s->data;
  (void)b;
  if (p->done)
    return;
  if (n < 0) {
    if (p->got)
      judge(p);
    else
      finish(p, NHP_FAIL, "http:error:connection closed");
    return;
  }
  p->got += (size_t)n;
  if (memchr(p->buf, '\n', p->got) || p->got >= sizeof(p->buf) - 1)
    judge(p);
}

static void on_written(uv_write_t *w, int status) {
  nhp *p = w->data;
  if (status < 0 && !p->done)
    finish(p, NHP_FAIL, "http:error:write failed");
}

static void on_connect(uv_connect_t *c, int status) {
  nhp *p = c->data;
  if (p->done)
    return;
  if (status < 0) {
    char msg[96];
    snprintf(msg, sizeof(msg), "%s:%s:%s", p->http ? "http" : "tcp",
             status == UV_ECONNREFUSED ? "unable2connect" : "error", uv_strerror(status));
    finish(p, status == UV_ECONNREFUSED ? NHP_FAIL_NOW : NHP_FAIL, msg);
    return;
  }
  p->connected = 1;
  if (!p->http) {
    finish(p, NHP_OK, "tcp:ok+");
    return;
  }
  uv_timer_stop(&p->timer);
  uv_timer_start(&p->timer, on_timeout, (uint64_t)p->http_timeout_ms, 0);
  uv_buf_t b = uv_buf_init(p->req, (unsigned)p->req_len);
  p->wr.data = p;
  if (uv_write(&p->wr, (uv_stream_t *)&p->tcp, &b, 1, on_written) != 0 ||
      uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) != 0)
    finish(p, NHP_FAIL, "http:error:cannot send");
}

/* The GET of c->path to ip:port with c's "Name:value|..." headers. */
static char *build_req(const char *ip, int port, const nc_nhealth_checker *c, size_t *len) {
  char hdrs[1024] = "";
  size_t off = 0;
  const char *h = c->headers;
  while (*h && off < sizeof(hdrs) - 4) {
    const char *bar = strchr(h, '|');
    size_t n = bar ? (size_t)(bar - h) : strlen(h);
    const char *colon = memchr(h, ':', n);
    if (colon && colon > h && n < sizeof(hdrs) - off - 4) {
      int w = snprintf(hdrs + off, sizeof(hdrs) - off, "%.*s: %.*s\r\n", (int)(colon - h), h,
                       (int)(n - (size_t)(colon - h) - 1), colon + 1);
      off += w > 0 ? (size_t)w : 0;
    }
    if (!bar)
      break;
    h = bar + 1;
  }
  const char *path = c->path[0] ? c->path : "/";
  size_t cap = strlen(path) + strlen(ip) + off + 160;
  char *r = malloc(cap);
  if (!r)
    return NULL;
  int n = snprintf(r, cap,
                   "GET %s%s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: Nacos-Server\r\n"
                   "Connection: close\r\n%s\r\n",
                   path[0] == '/' ? "" : "/", path, ip, port, hdrs);
  *len = (size_t)n;
  return r;
}

int nhp_start(uv_loop_t *loop, const char *ip, int port, const nc_nhealth_checker *c,
              int connect_timeout_ms, int http_timeout_ms, nhp_done_fn fn, void *ud,
              nhp **out) {
  struct sockaddr_storage sa;
  if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&sa) != 0 &&
      uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&sa) != 0)
    return NC_EINVAL;
  nhp *p = calloc(1, sizeof(*p));
  if (!p)
    return NC_ENOMEM;
  p->loop = loop;
  p->http = c->type == NC_NHC_HTTP;
  p->expected = c->expected_code > 0 ? c->expected_code : 200;
  p->http_timeout_ms = http_timeout_ms;
  p->fn = fn;
  p->ud = ud;
  p->t0 = uv_now(loop);
  if (p->http && !(p->req = build_req(ip, port, c, &p->req_len))) {
    free(p);
    return NC_ENOMEM;
  }
  uv_tcp_init(loop, &p->tcp);
  uv_timer_init(loop, &p->timer);
  p->tcp.data = p->timer.data = p->conn.data = p;
  p->open_handles = 2;
  int rc = uv_tcp_connect(&p->conn, &p->tcp, (const struct sockaddr *)&sa, on_connect);
  if (rc) {
    p->fn = NULL;
    finish(p, NHP_FAIL, "");
    return NC_EIO;
  }
  uv_timer_start(&p->timer, on_timeout, (uint64_t)connect_timeout_ms, 0);
  *out = p;
  return 0;
}

void nhp_cancel(nhp *p) {
  if (!p)
    return;
  p->fn = NULL;
  finish(p, NHP_FAIL, "");
}
