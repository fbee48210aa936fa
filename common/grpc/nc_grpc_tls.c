/* nc_gsrv TLS relay: TLS on a gRPC port whose sockets nacosd accepts
 * itself (nc_grpc_accept.c).
 *
 * Why a relay: gRPC 1.51 refuses TLS credentials in
 * grpc_server_add_channel_from_fd (the only way to hand it a socket we
 * accepted), and its own listener dies on EMFILE. So TLS ends here: each
 * accepted socket of a TLS port gets a handshake on this thread (epoll,
 * non-blocking OpenSSL, a deadline), then a socketpair whose one end goes
 * to the core as a plain-text connection (insecure credentials) and whose
 * other end this thread joins to the TLS socket, both ways.
 *
 * - Bounded: per direction at most one TLS record (16 KiB) waits here;
 *   while it waits the other side is not read, so a slow reader stalls its
 *   writer through the kernel's socket buffers (back-pressure) rather than
 *   growing memory. Idle connections hold no buffers (SSL_MODE_RELEASE_BUFFERS).
 * - Accounting: the TLS socket is the connection the accept loop admitted
 *   and counts against the caps; the core's socketpair end is recorded as
 *   an uncounted alias with the client's address, so peers, per-IP caps and
 *   logs see "ipv4:a.b.c.d:port", not a socketpair.
 * - Ending: the core closing its end (GOAWAY, keepalive timeout, shutdown)
 *   ends the TLS connection after what it wrote was sent (close_notify);
 *   the client closing (close_notify, FIN, RST) half-closes the core's end
 *   after what it sent was delivered, and the core then closes.
 * - --tls-plaintext: the first byte tells a TLS ClientHello (0x16, a
 *   handshake record) from the HTTP/2 preface ("PRI ..."); plain text is
 *   handed to the core as the socket itself, no relay.
 *
 * This file: connections, the sniff, handshakes, deadlines, the thread and
 * the accept loop's hand-over; the bytes of a relayed connection move in
 * nc_grpc_tls_pump.c; the types are in internal/nc_gtls_int.h.
 *
 * Threading: one thread per TLS port owns every connection of that port;
 * the accept thread hands sockets over through a locked queue and an
 * eventfd. The set of TLS peers (for tlsProtected) is read by the owner's
 * thread under its own lock. */
#include "nc_gtls_int.h"
#include "nc_err.h"
#include "nc_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grpc/grpc_posix.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_ulong g_ok, g_failed, g_timeout, g_plain;

void nc_gsrv_tls_get_counts(nc_gsrv_tls_counts *out) {
  out->handshakes_ok = atomic_load(&g_ok);
  out->handshakes_failed = atomic_load(&g_failed);
  out->handshakes_timeout = atomic_load(&g_timeout);
  out->plaintext = atomic_load(&g_plain);
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void list_add(gt_list *l, gt_conn *c) {
  c->prev = l->tail;
  c->next = NULL;
  if (l->tail)
    l->tail->next = c;
  else
    l->head = c;
  l->tail = c;
}

static void list_del(gt_list *l, gt_conn *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    l->head = c->next;
  if (c->next)
    c->next->prev = c->prev;
  else
    l->tail = c->prev;
  c->prev = c->next = NULL;
}

/* ---- the TLS peer set (tlsProtected) ------------------------------------ */

/* "ip:port" as the connection manager splits a peer (no brackets, v4-mapped
 * addresses as v4). */
void nc_gsrv__peer_key(const struct sockaddr_storage *ss, char *out, size_t cap) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    port = ntohs(a->sin_port);
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, sizeof(ip));
    else
      inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
    port = ntohs(a->sin6_port);
  }
  snprintf(out, cap, "%s:%d", ip, port);
}

int nc_gsrv_conn_tls(nc_gsrv *srv, const char *ip, int port) {
  if (!srv || !srv->relay || !ip)
    return 0;
  char key[128];
  snprintf(key, sizeof(key), "%s:%d", ip, port);
  gs_tls *t = srv->relay;
  pthread_mutex_lock(&t->mu);
  int yes = nc_strmap_get(t->peers, key) != NULL;
  pthread_mutex_unlock(&t->mu);
  return yes;
}

/* ---- connections ---------------------------------------------------------- */

void nc_gtls__arm(gs_tls *t, gt_side *s, uint32_t ev) {
  if (s->fd < 0 || s->removed || s->armed == ev)
    return;
  struct epoll_event e = {.events = ev, .data.ptr = s};
  if (epoll_ctl(t->ep, EPOLL_CTL_MOD, s->fd, &e) == 0)
    s->armed = ev;
}

/* Ends c: closes both descriptors; freed after the current event batch
 * (another event of the batch may still point at it). */
void nc_gtls__close(gs_tls *t, gt_conn *c) {
  if (c->dead)
    return;
  if (c->state == GT_RELAY) {
    pthread_mutex_lock(&t->mu);
    nc_strmap_del(t->peers, c->key);
    pthread_mutex_unlock(&t->mu);
    list_del(&t->relay, c);
  } else {
    list_del(&t->hs, c);
  }
  if (c->net.fd >= 0) {
    epoll_ctl(t->ep, EPOLL_CTL_DEL, c->net.fd, NULL);
    close(c->net.fd);
  }
  if (c->loc.fd >= 0) {
    if (!c->loc.removed)
      epoll_ctl(t->ep, EPOLL_CTL_DEL, c->loc.fd, NULL);
    close(c->loc.fd);
  }
  c->net.fd = c->loc.fd = -1;
  c->dead = 1;
  list_add(&t->dead, c);
}

static void conn_free(gt_conn *c) {
  SSL_free(c->ssl);
  free(c->to_loc);
  free(c->to_net);
  free(c);
}

/* One warning per 10 s at most for failed handshakes, with the count. */
static void hs_fail(gs_tls *t, gt_conn *c, const char *why, int timeout) {
  atomic_fetch_add(timeout ? &g_timeout : &g_failed, 1);
  if (!timeout && strcmp(why, "connection closed") == 0) {
    /* a TCP probe (load balancer, port check) connects and closes: count
     * it, but do not warn about it */
    nc_debug("gRPC port %d: %s closed before a TLS handshake", t->srv->port, c->peer);
    nc_gtls__close(t, c);
    return;
  }
  uint64_t now = now_ms();
  if (t->last_log && now < t->last_log + GT_LOG_EVERY_MS) {
    t->fails_since_log++;
  } else {
    nc_warn("gRPC port %d: TLS handshake from %s failed: %s (%lu more since the last such "
            "warning; all in nacosd_tls_handshakes_total)",
            t->srv->port, c->peer, why, t->fails_since_log);
    t->last_log = now;
    t->fails_since_log = 0;
  }
  nc_gtls__close(t, c);
}

/* The handshake is done: the socketpair, the core's end handed over as the
 * client's connection, the relay starts. */
static void relay_start(gs_tls *t, gt_conn *c) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
    hs_fail(t, c, strerror(errno), 0); /* EMFILE: shed like the accept loop does */
    return;
  }
  struct epoll_event e = {.events = 0, .data.ptr = &c->loc};
  if (epoll_ctl(t->ep, EPOLL_CTL_ADD, sv[0], &e) != 0) {
    close(sv[0]);
    close(sv[1]);
    hs_fail(t, c, strerror(errno), 0);
    return;
  }
  atomic_fetch_add(&g_ok, 1);
  c->loc.fd = sv[0];
  c->loc.armed = 0;
  list_del(&t->hs, c);
  c->state = GT_RELAY;
  list_add(&t->relay, c);
  pthread_mutex_lock(&t->mu);
  int put = nc_strmap_put(t->peers, c->key, (void *)1, NULL);
  pthread_mutex_unlock(&t->mu);
  (void)put; /* on OOM the connection still works, tlsProtected reads false */
  nc_gsrv__alias(sv[1], c->peer);
  const unsigned char *alpn = NULL;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
  nc_debug("gRPC port %d: TLS connection from %s (%s, ALPN %.*s)", t->srv->port, c->peer,
           SSL_get_version(c->ssl), alpn ? (int)alpn_len : 1, alpn ? (const char *)alpn : "-");
  grpc_server_add_channel_from_fd(t->srv->server, sv[1], t->creds);
  c->rd_want = EPOLLIN;
  nc_gtls__pump(t, c); /* the client's first bytes may have come with its Finished */
}

static void handshake(gs_tls *t, gt_conn *c) {
  ERR_clear_error();
  int r = SSL_accept(c->ssl);
  if (r == 1) {
    relay_start(t, c);
    return;
  }
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ) {
    nc_gtls__arm(t, &c->net, EPOLLIN);
  } else if (e == SSL_ERROR_WANT_WRITE) {
    nc_gtls__arm(t, &c->net, EPOLLOUT);
  } else {
    char why[200];
    nc_tls_srv_why(c->ssl, r, why, sizeof(why));
    /* not one byte came: a TCP probe, not a failed handshake worth a
     * warning (hs_fail counts it quietly) */
    if (BIO_number_read(SSL_get_rbio(c->ssl)) == 0)
      snprintf(why, sizeof(why), "connection closed");
    hs_fail(t, c, why, 0);
  }
}

/* --tls-plaintext: one byte peeked decides. */
static void sniff(gs_tls *t, gt_conn *c) {
  uint8_t b;
  ssize_t r = recv(c->net.fd, &b, 1, MSG_PEEK);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    nc_gtls__arm(t, &c->net, EPOLLIN);
    return;
  }
  if (r <= 0) {
    hs_fail(t, c, r == 0 ? "connection closed" : strerror(errno), 0);
    return;
  }
  if (b == 0x16) { /* TLS handshake record */
    c->state = GT_HANDSHAKE;
    handshake(t, c);
    return;
  }
  /* Plain text: the socket itself goes to the core, as on a plain port (it
   * is already in the connection table under its own address). */
  int fd = c->net.fd;
  epoll_ctl(t->ep, EPOLL_CTL_DEL, fd, NULL);
  c->net.fd = -1;
  atomic_fetch_add(&g_plain, 1);
  grpc_server_add_channel_from_fd(t->srv->server, fd, t->creds);
  nc_gtls__close(t, c);
}


static void conn_add(gs_tls *t, const gt_in *in) {
  gt_conn *c = calloc(1, sizeof(*c));
  if (!c || !(c->ssl = nc_tls_srv_ssl(t->ctx)) || SSL_set_fd(c->ssl, in->fd) != 1) {
    nc_error("gRPC port %d: out of memory for a TLS connection from %s", t->srv->port, in->peer);
    if (c)
      SSL_free(c->ssl);
    free(c);
    close(in->fd);
    return;
  }
  c->net = (gt_side){c, in->fd, 0, 0, 0};
  c->loc = (gt_side){c, -1, 0, 0, 0};
  snprintf(c->peer, sizeof(c->peer), "%s", in->peer);
  snprintf(c->key, sizeof(c->key), "%s", in->key);
  c->state = t->plaintext ? GT_SNIFF : GT_HANDSHAKE;
  c->deadline = now_ms() + (uint64_t)t->hs_ms;
  list_add(&t->hs, c);
  /* Registered with no events; arm() sets what each step waits for. */
  struct epoll_event e = {.events = 0, .data.ptr = &c->net};
  if (epoll_ctl(t->ep, EPOLL_CTL_ADD, in->fd, &e) != 0) {
    hs_fail(t, c, strerror(errno), 0);
    return;
  }
  if (c->state == GT_SNIFF)
    sniff(t, c);
  else
    handshake(t, c);
}

static void step(gs_tls *t, gt_side *s, uint32_t ev) {
  gt_conn *c = s->c;
  if (c->dead)
    return;
  if (ev & (EPOLLHUP | EPOLLERR))
    s->hup = 1;
  if (c->state == GT_SNIFF)
    sniff(t, c);
  else if (c->state == GT_HANDSHAKE)
    handshake(t, c);
  else
    nc_gtls__pump(t, c);
}

static void *relay_thread(void *arg) {
  gs_tls *t = arg;
  struct epoll_event evs[GT_EVENTS];
  /* OpenSSL writes to the client's socket with write(): a client gone
   * would raise SIGPIPE, which kills a process that does not ignore it
   * (nacosd does; a library must not count on that). Blocked here, it stays
   * pending on this thread and write() returns EPIPE. */
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, NULL);
  for (;;) {
    int timeout = -1;
    if (t->hs.head) {
      uint64_t now = now_ms(), d = t->hs.head->deadline;
      timeout = d <= now ? 0 : (int)(d - now);
    }
    int n = epoll_wait(t->ep, evs, GT_EVENTS, timeout);
    if (n < 0 && errno != EINTR) {
      nc_error("gRPC port %d: TLS relay: epoll_wait: %s", t->srv->port, strerror(errno));
      usleep(100 * 1000);
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) { /* the wake-up: new sockets or stop */
        uint64_t v;
        ssize_t r = read(t->wake, &v, sizeof(v));
        (void)r;
        pthread_mutex_lock(&t->mu);
        gt_in *in = t->in_head;
        int stop = t->stop;
        t->in_head = t->in_tail = NULL;
        pthread_mutex_unlock(&t->mu);
        while (in) {
          gt_in *next = in->next;
          if (stop)
            close(in->fd);
          else
            conn_add(t, in);
          free(in);
          in = next;
        }
        if (stop)
          goto out;
        continue;
      }
      step(t, evs[i].data.ptr, evs[i].events);
    }
    /* handshakes past their deadline (the list is in deadline order) */
    uint64_t now = now_ms();
    while (t->hs.head && t->hs.head->deadline <= now)
      hs_fail(t, t->hs.head, "no handshake within the timeout", 1);
    while (t->dead.head) {
      gt_conn *c = t->dead.head;
      list_del(&t->dead, c);
      conn_free(c);
    }
  }
out:
  while (t->hs.head)
    nc_gtls__close(t, t->hs.head);
  while (t->relay.head)
    nc_gtls__close(t, t->relay.head);
  while (t->dead.head) {
    gt_conn *c = t->dead.head;
    list_del(&t->dead, c);
    conn_free(c);
  }
  return NULL;
}

/* ---- the accept loop's side ------------------------------------------------ */

int nc_gsrv__tls_start(nc_gsrv *srv) {
  gs_tls *t = calloc(1, sizeof(*t));
  if (!t)
    return NC_ENOMEM;
  t->srv = srv;
  t->ctx = srv->tls;
  t->plaintext = srv->tls_plaintext;
  t->hs_ms = srv->tls_hs_ms > 0 ? srv->tls_hs_ms : GT_DEFAULT_HS_MS;
  t->ep = epoll_create1(EPOLL_CLOEXEC);
  t->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  pthread_mutex_init(&t->mu, NULL);
  t->peers = nc_strmap_new();
  t->creds = grpc_insecure_server_credentials_create();
  struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
  srv->relay = t;
  if (t->ep < 0 || t->wake < 0 || !t->peers || !t->creds ||
      epoll_ctl(t->ep, EPOLL_CTL_ADD, t->wake, &e) != 0 ||
      pthread_create(&t->thr, NULL, relay_thread, t) != 0)
    return NC_ENOMEM; /* nc_gsrv__tls_stop cleans up */
  t->started = 1;
  return 0;
}

void nc_gsrv__tls_take(nc_gsrv *srv, int fd, const struct sockaddr_storage *ss,
                       const char *peer) {
  gs_tls *t = srv->relay;
  gt_in *in = calloc(1, sizeof(*in));
  if (!in) {
    close(fd);
    return;
  }
  in->fd = fd;
  snprintf(in->peer, sizeof(in->peer), "%s", peer);
  nc_gsrv__peer_key(ss, in->key, sizeof(in->key));
  pthread_mutex_lock(&t->mu);
  if (t->in_tail)
    t->in_tail->next = in;
  else
    t->in_head = in;
  t->in_tail = in;
  pthread_mutex_unlock(&t->mu);
  uint64_t one = 1;
  ssize_t w = write(t->wake, &one, sizeof(one));
  (void)w;
}

void nc_gsrv__tls_stop(nc_gsrv *srv) {
  gs_tls *t = srv->relay;
  if (!t)
    return;
  if (t->started) {
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_mutex_unlock(&t->mu);
    uint64_t one = 1;
    ssize_t w = write(t->wake, &one, sizeof(one));
    (void)w;
    pthread_join(t->thr, NULL);
  }
  for (gt_in *in = t->in_head, *next; in; in = next) {
    next = in->next;
    close(in->fd);
    free(in);
  }
  srv->relay = NULL; /* the owner asks no more: nc_gsrv_stop is under way */
  if (t->creds)
    grpc_server_credentials_release(t->creds);
  nc_strmap_free(t->peers, NULL);
  if (t->ep >= 0)
    close(t->ep);
  if (t->wake >= 0)
    close(t->wake);
  pthread_mutex_destroy(&t->mu);
  free(t);
}
