/* nc_metrics: see nc_metrics.h. */
#include "nc_metrics.h"

#include "nc_err.h"
#include "nc_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_MAX 8192

typedef struct mclient {
  uv_tcp_t tcp;
  nc_metrics *m;
  struct mclient *prev, *next;
  size_t len;
  int responded;
  char buf[HEAD_MAX];
} mclient;

struct nc_metrics {
  uv_tcp_t srv;
  nc_metrics_render_fn render;
  void *ud;
  nc_http_route_fn route;
  void *route_ud;
  nc_metrics_health_fn health;
  void *health_ud;
  mclient *clients;
  int stopping;
};

typedef struct wreq {
  uv_write_t w;
  char *data;
} wreq;

static void client_closed(uv_handle_t *h) {
  mclient *c = h->data;
  nc_metrics *m = c->m;
  if (c->prev)
    c->prev->next = c->next;
  else
    m->clients = c->next;
  if (c->next)
    c->next->prev = c->prev;
  free(c);
}

static void client_close(mclient *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp))
    uv_close((uv_handle_t *)&c->tcp, client_closed);
}

static void on_written(uv_write_t *w, int status) {
  wreq *r = (wreq *)w;
  (void)status;
  client_close(w->handle->data);
  free(r->data);
  free(r);
}

static void respond(mclient *c, int code, const char *ctype, char *body) {
  wreq *r = malloc(sizeof(*r));
  size_t bl = body ? strlen(body) : 0;
  char *data = malloc(bl + 256);
  if (!r || !data) {
    free(r);
    free(data);
    free(body);
    client_close(c);
    return;
  }
  int n = snprintf(data, 256,
                   "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   code, code == 200   ? "OK"
                   : code == 404 ? "Not Found"
                   : code == 500 ? "Internal Server Error"
                   : code == 503 ? "Service Unavailable"
                                 : "Bad Request",
                   ctype, bl);
  memcpy(data + n, body ? body : "", bl);
  free(body);
  r->data = data;
  uv_buf_t b = uv_buf_init(data, (unsigned)(n + (int)bl));
  c->responded = 1;
  if (uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
    free(data);
    free(r);
    client_close(c);
  }
}

static void respond_health(mclient *c) {
  char why[200] = "unavailable";
  if (!c->m->health || c->m->health(c->m->health_ud, why, sizeof(why))) {
    respond(c, 200, "text/plain", strdup("ok\n"));
    return;
  }
  size_t n = strlen(why);
  char *body = malloc(n + 2);
  if (body) {
    memcpy(body, why, n);
    memcpy(body + n, "\n", 2);
  }
  respond(c, 503, "text/plain", body);
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  mclient *c = h->data;
  (void)sz;
  *b = uv_buf_init(c->buf + c->len, (unsigned)(HEAD_MAX - 1 - c->len));
}

/* "GET <target> HTTP/x" -> the router, else 404. */
static void route(mclient *c) {
  char target[2048];
  const char *sp = strncmp(c->buf, "GET ", 4) == 0 ? strchr(c->buf + 4, ' ') : NULL;
  size_t n = sp ? (size_t)(sp - (c->buf + 4)) : 0;
  if (sp && n && n < sizeof(target) && c->m->route) {
    memcpy(target, c->buf + 4, n);
    target[n] = 0;
    int code = 200;
    const char *ctype = "text/plain";
    char *body = c->m->route(c->m->route_ud, target, &code, &ctype);
    if (body) {
      respond(c, code, ctype, body);
      return;
    }
  }
  respond(c, 404, "text/plain", strdup("not found\n"));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  mclient *c = s->data;
  (void)b;
  if (n < 0) {
    client_close(c);
    return;
  }
  if (c->responded)
    return;
  c->len += (size_t)n;
  c->buf[c->len] = 0;
  if (!strstr(c->buf, "\r\n\r\n") && !strstr(c->buf, "\n\n")) {
    if (c->len >= HEAD_MAX - 1)
      respond(c, 400, "text/plain", strdup("request head too large\n"));
    return;
  }
  uv_read_stop(s);
  if (strncmp(c->buf, "GET /metrics ", 13) == 0 || strncmp(c->buf, "GET /metrics?", 13) == 0)
    respond(c, 200, "text/plain; version=0.0.4", c->m->render(c->m->ud));
  else if (strncmp(c->buf, "GET /health ", 12) == 0)
    respond_health(c);
  else
    route(c);
}

static void on_conn(uv_stream_t *s, int status) {
  nc_metrics *m = s->data;
  if (status < 0 || m->stopping)
    return;
  mclient *c = calloc(1, sizeof(*c));
  if (!c)
    return;
  c->m = m;
  uv_tcp_init(s->loop, &c->tcp);
  c->tcp.data = c;
  c->next = m->clients;
  if (m->clients)
    m->clients->prev = c;
  m->clients = c;
  if (uv_accept(s, (uv_stream_t *)&c->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    client_close(c);
}

int nc_metrics_start(uv_loop_t *loop, const char *bind, int port, nc_metrics_render_fn render,
                     void *ud, nc_metrics **out, int *bound) {
  struct sockaddr_storage ss;
  nc_metrics *m = calloc(1, sizeof(*m));
  if (!m)
    return NC_ENOMEM;
  m->render = render;
  m->ud = ud;
  uv_tcp_init(loop, &m->srv);
  m->srv.data = m;
  int rc = strchr(bind, ':') ? uv_ip6_addr(bind, port, (struct sockaddr_in6 *)&ss)
                             : uv_ip4_addr(bind, port, (struct sockaddr_in *)&ss);
  if (!rc)
    rc = uv_tcp_bind(&m->srv, (struct sockaddr *)&ss, 0);
  if (!rc)
    rc = uv_listen((uv_stream_t *)&m->srv, 64, on_conn);
  if (rc) {
    nc_error("cannot listen on %s:%d for HTTP: %s", bind, port, uv_strerror(rc));
    m->stopping = 1;
    nc_metrics_stop(m);
    return NC_EIO;
  }
  int len = sizeof(ss);
  uv_tcp_getsockname(&m->srv, (struct sockaddr *)&ss, &len);
  *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
  *out = m;
  return 0;
}

void nc_metrics_set_health(nc_metrics *m, nc_metrics_health_fn fn, void *ud) {
  m->health = fn;
  m->health_ud = ud;
}

void nc_metrics_set_router(nc_metrics *m, nc_http_route_fn fn, void *ud) {
  m->route = fn;
  m->route_ud = ud;
}

static void srv_closed(uv_handle_t *h) { free(h->data); }

void nc_metrics_stop(nc_metrics *m) {
  if (!m)
    return;
  m->stopping = 1;
  for (mclient *c = m->clients; c; c = c->next)
    client_close(c);
  /* clients unlink themselves from m in their close callbacks, which run
   * before the listener's (same loop iteration, FIFO order) */
  uv_close((uv_handle_t *)&m->srv, srv_closed);
}

/* ---- Prometheus text ---- */

static void tprintf(nc_metrics_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(nc_metrics_text *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = t->p ? vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap) : -1;
    va_end(ap);
    if (n >= 0 && t->len + (size_t)n < t->cap) {
      t->len += (size_t)n;
      return;
    }
    size_t nc = t->cap ? t->cap * 2 : 4096;
    char *np = realloc(t->p, nc);
    if (!np) {
      if (t->p)
        t->p[t->len] = 0; /* vsnprintf may have left a truncated line */
      return;
    }
    t->p = np;
    t->cap = nc;
  }
}

static const char *kind(const char *name) {
  size_t n = strlen(name);
  return n > 6 && !strcmp(name + n - 6, "_total") ? "counter" : "gauge";
}

void nc_metrics_family(nc_metrics_text *t, const char *prefix, const char *name,
                       const char *help) {
  tprintf(t, "# HELP %s%s %s\n# TYPE %s%s %s\n", prefix, name, help, prefix, name, kind(name));
}

void nc_metrics_add(nc_metrics_text *t, const char *prefix, const char *name, const char *help,
                    uint64_t v) {
  nc_metrics_family(t, prefix, name, help);
  tprintf(t, "%s%s %llu\n", prefix, name, (unsigned long long)v);
}

void nc_metrics_add_labelled(nc_metrics_text *t, const char *prefix, const char *name,
                             const char *label, const char *value, uint64_t v) {
  char esc[512];
  size_t j = 0;
  for (const char *s = value; *s && j + 2 < sizeof(esc); s++) {
    if (*s == '\\' || *s == '"' || *s == '\n')
      esc[j++] = '\\';
    esc[j++] = *s == '\n' ? 'n' : *s;
  }
  esc[j] = 0;
  tprintf(t, "%s%s{%s=\"%s\"} %llu\n", prefix, name, label, esc, (unsigned long long)v);
}

char *nc_metrics_text_take(nc_metrics_text *t) {
  char *p = t->p ? t->p : strdup("");
  *t = (nc_metrics_text){0};
  return p;
}
