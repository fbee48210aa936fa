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
 * Threading: one thread per TLS port owns every connection of that port;
 * the accept thread hands sockets over through a locked queue and an
 * eventfd. The set of TLS peers (for tlsProtected) is read by the owner's
 * thread under its own lock. */
#include "nc_gsrv_int.h"
#include "nc_err.h"
#include "nc_log.h"
#include "nc_strmap.h"
#include "nc_tls_srv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grpc/grpc_posix.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GT_BUF 16384 /* one TLS record */
#define GT_DEFAULT_HS_MS 10000
#define GT_LOG_EVERY_MS 10000
#define GT_EVENTS 64

enum { GT_SNIFF, GT_HANDSHAKE, GT_RELAY };

typedef struct gt_conn gt_conn;
typedef struct gt_side { /* one descriptor of a connection, epoll's data.ptr */
  gt_conn *c;
  int fd;
  uint32_t armed; /* events registered (registered with none at first) */
  int hup;        /* epoll said EPOLLHUP/EPOLLERR */
  int removed;    /* out of epoll: nothing more to read or write there */
} gt_side;

struct gt_conn {
  gt_side net; /* the client's TCP socket */
  gt_side loc; /* our end of the socketpair; fd -1 before the relay starts */
  SSL *ssl;
  int state, dead;
  int rd_want, wr_want; /* EPOLLIN / EPOLLOUT the last SSL_read / SSL_write waits for */
  int net_eof, loc_eof, loc_shut;
  uint64_t deadline; /* end of sniff + handshake */
  uint8_t *to_loc;   /* decrypted bytes the core has not taken yet */
  size_t to_loc_len, to_loc_off;
  uint8_t *to_net; /* bytes an SSL_write must be retried with */
  size_t to_net_len;
  char peer[56], key[64];
  gt_conn *prev, *next;
};

typedef struct gt_list {
  gt_conn *head, *tail;
} gt_list;

typedef struct gt_in { /* a socket the accept thread handed over */
  int fd;
  char peer[56], key[64];
  struct gt_in *next;
} gt_in;

struct gs_tls {
  nc_gsrv *srv;
  const nc_tls_srv *ctx;
  int plaintext, hs_ms;
  pthread_t thr;
  int started, ep, wake;
  grpc_server_credentials *creds;
  pthread_mutex_t mu; /* in, stop, peers */
  gt_in *in_head, *in_tail;
  int stop;
  nc_strmap *peers; /* key "ip:port" of relayed connections -> (void *)1 */
  /* the relay thread's own */
  gt_list hs, relay, dead;
  uint64_t last_log;
  unsigned long fails_since_log;
  char last_fail[200];
  uint8_t scratch[GT_BUF];
};

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

static void arm(gs_tls *t, gt_side *s, uint32_t ev) {
  if (s->fd < 0 || s->removed || s->armed == ev)
    return;
  struct epoll_event e = {.events = ev, .data.ptr = s};
  if (epoll_ctl(t->ep, EPOLL_CTL_MOD, s->fd, &e) == 0)
    s->armed = ev;
}

/* Ends c: closes both descriptors; freed after the current event batch
 * (another event of the batch may still point at it). */
static void conn_close(gs_tls *t, gt_conn *c) {
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
    conn_close(t, c);
    return;
  }
  uint64_t now = now_ms();
  snprintf(t->last_fail, sizeof(t->last_fail), "%s: %s", c->peer, why);
  if (t->last_log && now < t->last_log + GT_LOG_EVERY_MS) {
    t->fails_since_log++;
  } else {
    nc_warn("gRPC port %d: TLS handshake from %s failed: %s%s", t->srv->port, c->peer, why,
            t->fails_since_log ? " (and earlier ones, counted in nacos_tls_handshakes_total)" : "");
    t->last_log = now;
    t->fails_since_log = 0;
  }
  conn_close(t, c);
}

static void pump(gs_tls *t, gt_conn *c);

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
  pump(t, c); /* the client's first bytes may have come with its Finished */
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
    arm(t, &c->net, EPOLLIN);
  } else if (e == SSL_ERROR_WANT_WRITE) {
    arm(t, &c->net, EPOLLOUT);
  } else {
    char why[200];
    nc_tls_srv_why(c->ssl, r, why, sizeof(why));
    hs_fail(t, c, why, 0);
  }
}

/* --tls-plaintext: one byte peeked decides. */
static void sniff(gs_tls *t, gt_conn *c) {
  uint8_t b;
  ssize_t r = recv(c->net.fd, &b, 1, MSG_PEEK);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    arm(t, &c->net, EPOLLIN);
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
  conn_close(t, c);
}

/* Keeps bytes a write could not take (at most one record). */
static int keep(uint8_t **buf, size_t *len, const uint8_t *src, size_t n) {
  uint8_t *p = malloc(n);
  if (!p)
    return NC_ENOMEM;
  memcpy(p, src, n);
  free(*buf);
  *buf = p;
  *len = n;
  return 0;
}

/* Writes to the core's end; returns bytes taken, 0 when it is full, < 0
 * when it is gone. */
static ssize_t loc_write(gt_conn *c, const uint8_t *p, size_t n) {
  ssize_t w = send(c->loc.fd, p, n, MSG_NOSIGNAL);
  if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return 0;
  return w;
}

/* Moves what can move both ways, then arms epoll for what each side waits
 * for. */
static void pump(gs_tls *t, gt_conn *c) {
  for (int progress = 1; progress && !c->dead;) {
    progress = 0;
    /* client -> core */
    if (c->to_loc_len) {
      ssize_t w = loc_write(c, c->to_loc + c->to_loc_off, c->to_loc_len);
      if (w < 0)
        goto gone;
      if (w > 0) {
        c->to_loc_off += (size_t)w;
        c->to_loc_len -= (size_t)w;
        progress = 1;
        if (!c->to_loc_len) {
          free(c->to_loc);
          c->to_loc = NULL;
          c->to_loc_off = 0;
        }
      }
    } else if (!c->net_eof) {
      ERR_clear_error();
      int r = SSL_read(c->ssl, t->scratch, GT_BUF);
      if (r > 0) {
        ssize_t w = loc_write(c, t->scratch, (size_t)r);
        if (w < 0)
          goto gone;
        if (w < r && keep(&c->to_loc, &c->to_loc_len, t->scratch + w, (size_t)(r - w)) != 0)
          goto gone;
        c->rd_want = 0;
        progress = 1;
      } else {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
          c->rd_want = EPOLLIN;
        } else if (e == SSL_ERROR_WANT_WRITE) {
          c->rd_want = EPOLLOUT;
        } else if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL) {
          c->net_eof = 1; /* close_notify, or FIN / RST without one */
          c->rd_want = 0;
          progress = 1;
          ERR_clear_error();
        } else {
          goto gone; /* a bad record: the connection cannot go on */
        }
      }
    }
    if (c->net_eof && !c->to_loc_len && !c->loc_shut) {
      shutdown(c->loc.fd, SHUT_WR); /* the core sees the client's end */
      c->loc_shut = 1;
    }
    /* core -> client */
    if (c->to_net_len) {
      ERR_clear_error();
      int r = SSL_write(c->ssl, c->to_net, (int)c->to_net_len);
      if (r > 0) {
        c->to_net_len -= (size_t)r;
        memmove(c->to_net, c->to_net + r, c->to_net_len);
        if (!c->to_net_len) {
          free(c->to_net);
          c->to_net = NULL;
        }
        c->wr_want = 0;
        progress = 1;
      } else {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE)
          c->wr_want = EPOLLOUT;
        else if (e == SSL_ERROR_WANT_READ)
          c->wr_want = EPOLLIN;
        else
          goto gone;
      }
    } else if (!c->loc_eof) {
      ssize_t r = recv(c->loc.fd, t->scratch, GT_BUF, 0);
      if (r > 0) {
        ERR_clear_error();
        int w = SSL_write(c->ssl, t->scratch, (int)r);
        if (w <= 0) {
          int e = SSL_get_error(c->ssl, w);
          if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
            goto gone;
          c->wr_want = e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN;
          w = 0;
        }
        if (w < r && keep(&c->to_net, &c->to_net_len, t->scratch + w, (size_t)(r - w)) != 0)
          goto gone;
        progress = 1;
      } else if (r == 0) {
        c->loc_eof = 1;
        progress = 1;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        c->loc_eof = 1;
        progress = 1;
      }
    }
    if (c->loc_eof && !c->to_net_len) {
      ERR_clear_error();
      SSL_shutdown(c->ssl); /* best effort close_notify; then FIN */
      ERR_clear_error();
      goto gone;
    }
  }
  if (c->dead)
    return;
  uint32_t net = 0, loc = 0;
  if (!c->to_loc_len && !c->net_eof)
    net |= (uint32_t)c->rd_want;
  if (c->to_net_len)
    net |= (uint32_t)c->wr_want;
  if (!c->to_net_len && !c->loc_eof)
    loc |= EPOLLIN;
  if (c->to_loc_len)
    loc |= EPOLLOUT;
  /* A side that hung up and that we wait on for nothing would report
   * EPOLLHUP forever: nothing more can move, end it. */
  if ((c->net.hup && !net) || (c->loc.hup && !loc && !c->loc_eof))
    goto gone;
  if (c->loc_eof && !c->loc.removed) { /* it would report EPOLLHUP while we flush */
    epoll_ctl(t->ep, EPOLL_CTL_DEL, c->loc.fd, NULL);
    c->loc.removed = 1;
  }
  arm(t, &c->net, net);
  arm(t, &c->loc, loc);
  return;
gone:
  ERR_clear_error();
  conn_close(t, c);
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
    pump(t, c);
}

static void *relay_thread(void *arg) {
  gs_tls *t = arg;
  struct epoll_event evs[GT_EVENTS];
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
    conn_close(t, t->hs.head);
  while (t->relay.head)
    conn_close(t, t->relay.head);
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
