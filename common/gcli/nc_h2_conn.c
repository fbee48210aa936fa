/* nc_h2_conn: the client's TCP connection: resolving, connecting (every
 * resolved address in turn), moving bytes between the socket and nghttp2
 * (through nc_h2_tls.c when the client uses TLS), keepalive pings, and
 * giving up on a dead connection. */
#include "nc_err.h"
#include "nc_h2_priv.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void connect_failed(nc_gcli *c, int status);

static void on_write(uv_write_t *req, int status) {
  nc_gcli *c = req->data;
  c->writing = 0;
  c->wlen = 0;
  if (c->closing)
    return;
  if (status < 0) {
    h2_conn_fail(c, uv_strerror(status));
    return;
  }
  h2_flush(c);
}

/* Moves what nghttp2 wants to send into one socket write at a time (the
 * next is built when the previous completes: bounded memory). */
void h2_flush(nc_gcli *c) {
  if (c->tls_hs && !c->dead && !c->closing && !c->writing) {
    h2_tls_flush(c); /* handshake records only */
    return;
  }
  if (!c->connected || c->dead || c->closing || c->writing || !c->sess)
    return;
  while (c->wlen < H2_WBUF_CHUNK) {
    const uint8_t *p;
    ssize_t k = nghttp2_session_mem_send(c->sess, &p);
    if (k < 0) {
      h2_conn_fail(c, nghttp2_strerror((int)k));
      return;
    }
    if (k == 0)
      break;
    if (c->wlen + (size_t)k > c->wcap) {
      size_t cap = c->wcap ? c->wcap : 4096;
      while (cap < c->wlen + (size_t)k)
        cap *= 2;
      uint8_t *nb = realloc(c->wbuf, cap);
      if (!nb) {
        h2_conn_fail(c, "out of memory");
        return;
      }
      c->wbuf = nb;
      c->wcap = cap;
    }
    memcpy(c->wbuf + c->wlen, p, (size_t)k);
    c->wlen += (size_t)k;
  }
  if (c->ssl) {
    h2_tls_flush(c);
    return;
  }
  if (!c->wlen) {
    if (!nghttp2_session_want_read(c->sess) && !nghttp2_session_want_write(c->sess))
      h2_conn_fail(c, "HTTP/2 session finished");
    return;
  }
  if (h2_sock_write(c, c->wbuf, c->wlen) != 0)
    c->wlen = 0;
}

int h2_sock_write(nc_gcli *c, uint8_t *buf, size_t len) {
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  c->wreq.data = c;
  int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (rc != 0) {
    h2_conn_fail(c, uv_strerror(rc));
    return rc;
  }
  c->writing = 1;
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  nc_gcli *c = h->data;
  (void)hint;
  *buf = uv_buf_init((char *)c->rbuf, H2_RBUF);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  nc_gcli *c = st->data;
  (void)buf;
  if (n == 0)
    return;
  if (n < 0) {
    h2_conn_fail(c, n == UV_EOF ? (c->tls_hs ? "TLS: the server closed the connection during "
                                                 "the handshake"
                                               : "server closed the connection")
                                : uv_strerror((int)n));
    return;
  }
  if (c->ssl) {
    h2_tls_read(c, c->rbuf, (size_t)n);
    return;
  }
  ssize_t k = nghttp2_session_mem_recv(c->sess, c->rbuf, (size_t)n);
  if (k < 0) {
    h2_conn_fail(c, nghttp2_strerror((int)k));
    return;
  }
  h2_service(c); /* sends queued by callbacks (acks) go out with this read's replies */
}

static void on_ka(uv_timer_t *t) {
  nc_gcli *c = t->data;
  uint64_t now = h2_now_ms();
  if (!c->connected || c->dead)
    return;
  if (c->ping_out && now - c->ping_sent_ms >= H2_PING_TIMEOUT_MS) {
    h2_conn_fail(c, "keepalive ping not answered");
    return;
  }
  if (!c->ping_out && now - c->last_rx_ms >= (uint64_t)c->keepalive_ms) {
    if (nghttp2_submit_ping(c->sess, NGHTTP2_FLAG_NONE, NULL) == 0) {
      c->ping_out = 1;
      c->ping_sent_ms = now;
      h2_flush(c);
    }
  }
}

static void on_connect_timeout(uv_timer_t *t);

static void on_connect(uv_connect_t *req, int status) {
  nc_gcli *c = req->data;
  if (c->closing || c->dead)
    return;
  if (status < 0) {
    connect_failed(c, status);
    return;
  }
  uv_freeaddrinfo(c->ai); /* the other addresses are not needed any more */
  c->ai = c->ai_cur = NULL;
  uv_tcp_nodelay(&c->tcp, 1);
  if (!(c->rbuf = malloc(H2_RBUF))) {
    h2_conn_fail(c, "out of memory");
    return;
  }
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
    h2_conn_fail(c, "cannot read the socket");
    return;
  }
  if (c->tls) {
    /* the handshake gets a timeout of its own, as long as the connect's */
    uv_timer_start(&c->t_ka, on_connect_timeout, (uint64_t)c->connect_timeout_ms, 0);
    h2_tls_start(c);
    return;
  }
  h2_conn_up(c);
}

void h2_conn_up(nc_gcli *c) {
  if (h2_session_new(c) != 0) {
    h2_conn_fail(c, "out of memory");
    return;
  }
  c->connected = 1;
  c->last_rx_ms = h2_now_ms();
  uv_timer_stop(&c->t_ka); /* was the connect timeout */
  int tick = c->keepalive_ms / 4;
  tick = tick < 50 ? 50 : tick > 1000 ? 1000 : tick;
  uv_timer_start(&c->t_ka, on_ka, (uint64_t)tick, (uint64_t)tick);
  nc_debug("gcli: connected to %s%s", c->target, c->ssl ? " (TLS)" : "");
  h2_start_streams(c);
  h2_service(c);
}

static void on_connect_timeout(uv_timer_t *t) {
  nc_gcli *c = t->data;
  if (!c->connected && !c->dead)
    h2_conn_fail(c, c->tls_hs ? "TLS: handshake timed out" : "connect timed out");
}

static void connect_addr(nc_gcli *c, const struct sockaddr *sa) {
  int rc = uv_tcp_connect(&c->creq, &c->tcp, sa, on_connect);
  if (rc != 0)
    connect_failed(c, rc);
}

/* The socket is closed between two addresses; a fresh one takes the next.
 * Counted in c->handles, so a teardown that starts meanwhile waits for it
 * (and does not close the handle a second time). */
static void on_retry_closed(uv_handle_t *h) {
  nc_gcli *c = h->data;
  c->handles--;
  if (c->closing) {
    if (c->handles == 0)
      h2_service(c);
    return;
  }
  if (c->dead) /* connect timeout meanwhile: the handle stays closed */
    return;
  uv_tcp_init(&c->env->loop, &c->tcp);
  c->tcp.data = c;
  connect_addr(c, c->ai_cur->ai_addr);
}

/* One address failed: try the resolver's next one, as a gRPC channel does
 * ("localhost" often gives ::1 first while nacosd listens on IPv4 only).
 * The connect timeout covers all the attempts. */
static void connect_failed(nc_gcli *c, int status) {
  if (!c->ai_cur || !c->ai_cur->ai_next) {
    h2_conn_fail(c, uv_strerror(status));
    return;
  }
  nc_debug("gcli: %s: one address failed (%s), trying the next", c->target, uv_strerror(status));
  c->ai_cur = c->ai_cur->ai_next;
  c->handles++;
  uv_close((uv_handle_t *)&c->tcp, on_retry_closed);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  nc_gcli *c = req->data;
  c->gai_busy = 0;
  if (c->closing) {
    uv_freeaddrinfo(res);
    if (--c->handles == 0)
      h2_service(c); /* teardown was waiting for this */
    return;
  }
  if (c->dead) { /* connect timeout during the lookup: no late connection */
    uv_freeaddrinfo(res);
    return;
  }
  if (status < 0 || !res) {
    h2_conn_fail(c, status < 0 ? uv_strerror(status) : "no address");
    uv_freeaddrinfo(res);
    return;
  }
  c->ai = c->ai_cur = res; /* kept for the next address if this one fails */
  connect_addr(c, res->ai_addr);
}

void h2_conn_start(nc_gcli *c) {
  struct sockaddr_storage ss;
  c->started = 1;
  uv_tcp_init(&c->env->loop, &c->tcp);
  uv_timer_init(&c->env->loop, &c->t_deadline);
  uv_timer_init(&c->env->loop, &c->t_ka);
  c->tcp.data = c->t_deadline.data = c->t_ka.data = c->creq.data = c->gai.data = c;
  uv_timer_start(&c->t_ka, on_connect_timeout, (uint64_t)c->connect_timeout_ms, 0);
  if (uv_ip4_addr(c->host, c->port, (struct sockaddr_in *)&ss) == 0 ||
      uv_ip6_addr(c->host, c->port, (struct sockaddr_in6 *)&ss) == 0) {
    connect_addr(c, (struct sockaddr *)&ss);
    return;
  }
  char port[8];
  snprintf(port, sizeof(port), "%d", c->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int rc = uv_getaddrinfo(&c->env->loop, &c->gai, on_resolved, c->host, port, &hints);
  if (rc != 0)
    h2_conn_fail(c, uv_strerror(rc));
  else
    c->gai_busy = 1;
}

/* The connection is over (or never came up): fail everything; later calls
 * fail as they arrive. The client itself lives until nc_gcli_free. */
void h2_conn_fail(nc_gcli *c, const char *why) {
  if (c->dead)
    return;
  c->dead = 1;
  c->tls_hs = 0;
  pthread_mutex_lock(&c->mu);
  snprintf(c->why, sizeof(c->why), "%s", why);
  pthread_mutex_unlock(&c->mu);
  nc_debug("gcli: connection to %s ended: %s", c->target, why);
  uv_freeaddrinfo(c->ai);
  c->ai = c->ai_cur = NULL;
  uv_timer_stop(&c->t_ka);
  uv_timer_stop(&c->t_deadline);
  if (c->started && uv_is_active((uv_handle_t *)&c->tcp))
    uv_read_stop((uv_stream_t *)&c->tcp);
  h2_fail_all(c, NC_EUNAVAIL, NC_EUNAVAIL);
  if (c->sess) {
    nghttp2_session_del(c->sess);
    c->sess = NULL;
  }
  /* shut the socket now; the handle itself is closed by the teardown */
  if (c->started && !uv_is_closing((uv_handle_t *)&c->tcp)) {
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
      shutdown(fd, SHUT_RDWR);
  }
}
