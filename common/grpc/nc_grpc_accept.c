/* nc_gsrv listener: nacosd's own accept loop in front of the gRPC C core.
 *
 * Why not grpc_server_add_http2_port: gRPC 1.51's tcp_server_posix treats
 * EMFILE from accept4 as fatal for the listener ("Failed accept4: Too many
 * open files") and never polls it again, so after one descriptor shortage
 * the port is dead until restart while the kernel keeps queueing SYNs. Here
 * a thread of our own accepts, decides, and hands accepted sockets to the
 * core with grpc_server_add_channel_from_fd (the server's channel args,
 * keepalive included, apply to them as to its own listener's).
 *
 * - A cap keeps the process below its descriptor limit: connections open
 *   over all gRPC ports <= min(max_conns, RLIMIT_NOFILE soft - fd_reserve).
 *   A connection above it gets an HTTP/2 SETTINGS + GOAWAY
 *   (ENHANCE_YOUR_CALM) whose debug data says why, then FIN; the refusal is
 *   logged at most once per 10 s with a count.
 * - If accept4 fails with EMFILE anyway (descriptors taken elsewhere, or the
 *   limit lowered at run time) a reserve descriptor held for that purpose is
 *   closed, one pending connection is accepted and refused, and the reserve
 *   is re-opened: the listener keeps running and the queue keeps draining.
 * - The core closes a connection's socket itself and has no callback for
 *   it. The open count is kept honest by a sweep (at most once a second,
 *   and at once before a refusal) that fstat()s each socket we handed over:
 *   gone or another inode means closed. One fstat per connection per second.
 * - The core names such a transport "fd:<n>"; a table by descriptor number
 *   keeps the address accept4 returned, and nc_gsrv__peer translates, so
 *   the owner sees "ipv4:a.b.c.d:port" as before.
 * The table, count and limits are process-wide: descriptors are. */
#include "nc_gsrv_int.h"
#include "nc_err.h"
#include "nc_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GS_DEFAULT_RESERVE 256
#define GS_LOG_EVERY_MS 10000
#define GS_SWEEP_MS 1000
#define GS_LINGER_MS 1000

typedef struct gs_fdent {
  uint64_t ino; /* 0: not ours */
  int alias;    /* 1: a TLS connection's socketpair end, not counted */
  char peer[56];
} gs_fdent;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static gs_fdent *g_tab;
static size_t g_cap;
static long g_open;
static uint64_t g_last_sweep;
static nc_gsrv_limits g_lim = {0, GS_DEFAULT_RESERVE, 0, 0};
static atomic_ulong g_refused;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- process-wide limits and the open-connection table ---------------- */

static long cap_locked(long *fd_limit);

void nc_gsrv_set_limits(const nc_gsrv_limits *l) {
  long lim = 0;
  pthread_mutex_lock(&g_mu);
  g_lim = *l;
  if (g_lim.fd_reserve < 0)
    g_lim.fd_reserve = GS_DEFAULT_RESERVE;
  long cap = cap_locked(&lim);
  nc_gsrv_limits now = g_lim;
  pthread_mutex_unlock(&g_mu);
  nc_info("gRPC connection cap %ld (descriptor limit %ld - reserve %d%s), keepalive %d ms / %d ms",
          cap, lim, now.fd_reserve, now.max_conns > 0 ? ", or --max-tcp-connections" : "",
          now.keepalive_ms < 0 ? 0 : now.keepalive_ms ? now.keepalive_ms : NC_GSRV_KEEPALIVE_MS,
          now.keepalive_timeout_ms > 0 ? now.keepalive_timeout_ms : NC_GSRV_KEEPALIVE_TIMEOUT_MS);
}

void nc_gsrv__get_limits(nc_gsrv_limits *out) {
  pthread_mutex_lock(&g_mu);
  *out = g_lim;
  pthread_mutex_unlock(&g_mu);
}

/* The cap under g_mu; *fd_limit gets the soft limit it came from. */
static long cap_locked(long *fd_limit) {
  struct rlimit rl;
  long lim = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    lim = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 0x7fffffff ? 0x7fffffff : (long)rl.rlim_cur;
  long cap = lim - g_lim.fd_reserve;
  if (g_lim.max_conns > 0 && g_lim.max_conns < cap)
    cap = g_lim.max_conns;
  *fd_limit = lim;
  return cap < 0 ? 0 : cap;
}

static void sweep_locked(void) {
  struct stat st;
  for (size_t fd = 0; fd < g_cap; fd++) {
    if (!g_tab[fd].ino)
      continue;
    if (fstat((int)fd, &st) != 0 || (uint64_t)st.st_ino != g_tab[fd].ino) {
      g_tab[fd].ino = 0;
      g_open -= !g_tab[fd].alias;
    }
  }
  g_last_sweep = now_ms();
}

long nc_gsrv_open_conns(void) {
  pthread_mutex_lock(&g_mu);
  sweep_locked();
  long n = g_open;
  pthread_mutex_unlock(&g_mu);
  return n;
}

unsigned long nc_gsrv_refused_total(void) { return atomic_load(&g_refused); }

/* Makes room in the table for fd, and forgets a stale entry there (that
 * descriptor closed since the last sweep). Under g_mu; 0 or NC_ENOMEM. */
static int slot_locked(int fd) {
  if ((size_t)fd >= g_cap) {
    size_t nc = g_cap ? g_cap : 256;
    while (nc <= (size_t)fd)
      nc *= 2;
    gs_fdent *t = realloc(g_tab, nc * sizeof(*t));
    if (!t)
      return NC_ENOMEM;
    memset(t + g_cap, 0, (nc - g_cap) * sizeof(*t));
    g_tab = t;
    g_cap = nc;
  }
  if (g_tab[fd].ino) {
    g_tab[fd].ino = 0;
    g_open -= !g_tab[fd].alias;
  }
  g_tab[fd].alias = 0;
  return 0;
}

void nc_gsrv__alias(int fd, const char *peer) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return;
  pthread_mutex_lock(&g_mu);
  if (slot_locked(fd) == 0) {
    g_tab[fd].ino = (uint64_t)st.st_ino;
    g_tab[fd].alias = 1;
    snprintf(g_tab[fd].peer, sizeof(g_tab[fd].peer), "%s", peer);
  }
  pthread_mutex_unlock(&g_mu);
}

/* Records fd as a connection of ours unless the cap is reached. Returns 1
 * when admitted; else 0 with the figures for the refusal. */
static int admit(int fd, const char *peer, long *open, long *cap, long *fd_limit) {
  struct stat st;
  int ok = 0;
  if (fstat(fd, &st) != 0)
    return 0;
  pthread_mutex_lock(&g_mu);
  if (slot_locked(fd) != 0)
    goto out;
  *cap = cap_locked(fd_limit);
  if (g_open >= *cap && now_ms() >= g_last_sweep + 100)
    sweep_locked(); /* never refuse on a stale count */
  *open = g_open;
  if (g_open >= *cap)
    goto out;
  g_tab[fd].ino = (uint64_t)st.st_ino;
  snprintf(g_tab[fd].peer, sizeof(g_tab[fd].peer), "%s", peer);
  g_open++;
  ok = 1;
out:
  pthread_mutex_unlock(&g_mu);
  return ok;
}

void nc_gsrv__peer(grpc_call *call, char *out, size_t cap) {
  char *p = grpc_call_get_peer(call);
  const char *s = p ? p : "";
  if (strncmp(s, "fd:", 3) == 0) {
    long fd = strtol(s + 3, NULL, 10);
    pthread_mutex_lock(&g_mu);
    if (fd >= 0 && (size_t)fd < g_cap && g_tab[fd].ino)
      s = g_tab[fd].peer; /* copied below, under the lock */
    snprintf(out, cap, "%s", s);
    pthread_mutex_unlock(&g_mu);
  } else {
    snprintf(out, cap, "%s", s);
  }
  gpr_free(p);
}

/* "ipv4:1.2.3.4:5" / "ipv6:[::1]:5" as gRPC prints peers (v4-mapped as v4). */
static void format_peer(const struct sockaddr_storage *ss, char *out, size_t cap) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
    snprintf(out, cap, "ipv4:%s:%d", ip, ntohs(a->sin_port));
    return;
  }
  const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
  if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
    inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], ip, sizeof(ip));
    snprintf(out, cap, "ipv4:%s:%d", ip, ntohs(a->sin6_port));
    return;
  }
  inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
  snprintf(out, cap, "ipv6:[%s]:%d", ip, ntohs(a->sin6_port));
}

/* ---- refusing ----------------------------------------------------------- */

/* One line for the first refusal of a burst, then at most one per 10 s
 * with the count (written by the next refusal or the accept thread's tick). */
static void log_flush(nc_gsrv *srv, uint64_t now) {
  if (!srv->refused_since_log || now < srv->last_refusal_log + GS_LOG_EVERY_MS)
    return;
  nc_warn("gRPC port %d: refused %lu more connection(s) in the last %d s (last: %s)", srv->port,
          srv->refused_since_log, GS_LOG_EVERY_MS / 1000, srv->last_why);
  srv->last_refusal_log = now;
  srv->refused_since_log = 0;
}

static void log_refusal(nc_gsrv *srv, const char *why, long open, long cap, long fd_limit) {
  atomic_fetch_add(&g_refused, 1);
  uint64_t now = now_ms();
  nc_gsrv_limits l;
  nc_gsrv__get_limits(&l);
  snprintf(srv->last_why, sizeof(srv->last_why),
           "%s: %ld open, cap %ld = descriptor limit %ld - reserve %d%s", why, open, cap, fd_limit,
           l.fd_reserve, l.max_conns > 0 ? " or --max-tcp-connections if lower" : "");
  if (srv->last_refusal_log && now < srv->last_refusal_log + GS_LOG_EVERY_MS) {
    srv->refused_since_log++;
    return;
  }
  nc_warn("gRPC port %d: refusing connections (%s); counts follow every %d s at most", srv->port,
          srv->last_why, GS_LOG_EVERY_MS / 1000);
  srv->last_refusal_log = now;
}

/* Server preface (empty SETTINGS) and GOAWAY(ENHANCE_YOUR_CALM) whose debug
 * data is the reason, then FIN. The socket either lingers (so the client
 * reads the GOAWAY before any RST) or is closed at once. */
static void refuse(nc_gsrv *srv, int fd, const char *msg, int linger) {
  uint8_t buf[9 + 9 + 8 + 200];
  size_t dl = strlen(msg);
  if (dl > 200)
    dl = 200;
  memset(buf, 0, 18 + 8);
  buf[3] = 0x4; /* SETTINGS, stream 0, empty */
  uint32_t flen = (uint32_t)(8 + dl);
  buf[9] = (uint8_t)(flen >> 16);
  buf[10] = (uint8_t)(flen >> 8);
  buf[11] = (uint8_t)flen;
  buf[12] = 0x7;  /* GOAWAY */
  buf[25] = 0x0b; /* last stream 0, error ENHANCE_YOUR_CALM */
  memcpy(buf + 26, msg, dl);
  ssize_t w = send(fd, buf, 26 + dl, MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)w;
  shutdown(fd, SHUT_WR);
  if (linger) {
    for (int i = 0; i < GS_LINGER; i++) {
      if (srv->linger[i].fd < 0) {
        srv->linger[i].fd = fd;
        srv->linger[i].until = now_ms() + GS_LINGER_MS;
        return;
      }
    }
  }
  close(fd);
}

static void linger_service(nc_gsrv *srv, const struct pollfd *pf, int n) {
  uint64_t now = now_ms();
  char junk[4096];
  for (int i = 0; i < GS_LINGER; i++) {
    gs_linger *l = &srv->linger[i];
    if (l->fd < 0)
      continue;
    int done = now >= l->until;
    for (int k = 0; k < n && !done; k++) {
      if (pf[k].fd != l->fd || !pf[k].revents)
        continue;
      ssize_t r;
      while ((r = recv(l->fd, junk, sizeof(junk), MSG_DONTWAIT)) > 0)
        ;
      done = r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    }
    if (done) {
      close(l->fd);
      l->fd = -1;
    }
  }
}

/* ---- accepting ---------------------------------------------------------- */

/* EMFILE/ENFILE: give the reserve up for one accept, refuse that
 * connection, take the reserve back. 0 if a connection was shed. */
static int shed_one(nc_gsrv *srv) {
  if (srv->reserve_fd < 0)
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (srv->reserve_fd < 0)
    return -1;
  close(srv->reserve_fd);
  int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0)
    refuse(srv, fd, "nacosd: out of file descriptors, try again later", 0);
  srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return fd >= 0 ? 0 : -1;
}

/* Accepts what is pending. Returns a poll timeout override: 100 ms while
 * descriptors are short and nothing could be shed, else -1. */
static int accept_some(nc_gsrv *srv) {
  for (int i = 0; i < 256; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(srv->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return -1;
      int err = errno;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        long lim = 0, open;
        nc_gsrv_limits l;
        nc_gsrv__get_limits(&l);
        pthread_mutex_lock(&g_mu);
        long cap = cap_locked(&lim);
        open = g_open;
        pthread_mutex_unlock(&g_mu);
        int shed = shed_one(srv);
        log_refusal(srv, err == EMFILE ? "out of descriptors (EMFILE)" : strerror(err), open, cap,
                    lim);
        if (shed != 0)
          return 100;
        continue;
      }
      nc_warn("gRPC port %d: accept: %s", srv->port, strerror(err));
      return 100;
    }
    char peer[56];
    long open = 0, cap = 0, lim = 0;
    format_peer(&ss, peer, sizeof(peer));
    if (!admit(fd, peer, &open, &cap, &lim)) {
      char msg[160];
      snprintf(msg, sizeof(msg), "nacosd: connection limit reached (%ld open, cap %ld)", open, cap);
      refuse(srv, fd, msg, 1);
      log_refusal(srv, "connection cap reached", open, cap, lim);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (srv->relay)
      nc_gsrv__tls_take(srv, fd, &ss, peer); /* handshake first (nc_grpc_tls.c) */
    else
      grpc_server_add_channel_from_fd(srv->server, fd, srv->creds);
  }
  return 0; /* more may be pending: poll again at once */
}

static void *accept_thread(void *arg) {
  nc_gsrv *srv = arg;
  struct pollfd pf[2 + GS_LINGER];
  int pause_ms = -1;
  for (;;) {
    int n = 0;
    pf[n++] = (struct pollfd){.fd = srv->wake_fd, .events = POLLIN};
    if (pause_ms < 0)
      pf[n++] = (struct pollfd){.fd = srv->lfd, .events = POLLIN};
    for (int i = 0; i < GS_LINGER; i++)
      if (srv->linger[i].fd >= 0)
        pf[n++] = (struct pollfd){.fd = srv->linger[i].fd, .events = POLLIN};
    int timeout = pause_ms >= 0 ? pause_ms : GS_SWEEP_MS / 4;
    int r = poll(pf, (nfds_t)n, timeout);
    if (r < 0 && errno != EINTR) {
      nc_error("gRPC port %d: poll: %s", srv->port, strerror(errno));
      usleep(100 * 1000);
    }
    if (r > 0 && pf[0].revents)
      break;
    if (pause_ms >= 0 || (r > 0 && pf[1].revents))
      pause_ms = accept_some(srv);
    linger_service(srv, pf, n);
    uint64_t now = now_ms();
    log_flush(srv, now);
    pthread_mutex_lock(&g_mu);
    if (now >= g_last_sweep + GS_SWEEP_MS)
      sweep_locked();
    pthread_mutex_unlock(&g_mu);
  }
  return NULL;
}

/* ---- listening socket ---------------------------------------------------- */

static int bind_one(int family, const struct sockaddr *sa, socklen_t sl, int dual) {
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof(one));
  if (bind(fd, sa, sl) != 0 || listen(fd, 4096) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void nc_gsrv__listen_init(nc_gsrv *srv) {
  srv->lfd = srv->wake_fd = srv->reserve_fd = -1;
  for (int i = 0; i < GS_LINGER; i++)
    srv->linger[i].fd = -1;
}

int nc_gsrv__listen(nc_gsrv *srv, const char *host, int port, int *bound) {
  int fd = -1;
  if (!*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::")) {
    /* Wildcard: one dual-stack socket as gRPC does, IPv4 only without v6. */
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                              .sin6_addr = IN6ADDR_ANY_INIT};
    fd = bind_one(AF_INET6, (struct sockaddr *)&a6, sizeof(a6), 1);
    if (fd < 0 && strcmp(host, "::") != 0) {
      struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
      fd = bind_one(AF_INET, (struct sockaddr *)&a4, sizeof(a4), 0);
    }
  } else {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) == 0) {
      for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = bind_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen, 0);
      freeaddrinfo(res);
    }
  }
  if (fd < 0)
    return NC_EIO;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  srv->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
  srv->lfd = fd;
  *bound = srv->port;
  return 0;
}

int nc_gsrv__listen_start(nc_gsrv *srv) {
  srv->creds = grpc_insecure_server_credentials_create();
  srv->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (srv->tls && nc_gsrv__tls_start(srv) != 0)
    return NC_ENOMEM;
  if (srv->wake_fd < 0 || pthread_create(&srv->athr, NULL, accept_thread, srv) != 0)
    return NC_ENOMEM;
  srv->a_started = 1;
  return 0;
}

void nc_gsrv__listen_stop(nc_gsrv *srv) {
  if (srv->a_started) {
    uint64_t one = 1;
    ssize_t w = write(srv->wake_fd, &one, sizeof(one));
    (void)w;
    pthread_join(srv->athr, NULL);
    srv->a_started = 0;
  }
  nc_gsrv__tls_stop(srv); /* before the core shuts down: it hands connections to it */
  for (int i = 0; i < GS_LINGER; i++)
    if (srv->linger[i].fd >= 0)
      close(srv->linger[i].fd);
  if (srv->lfd >= 0)
    close(srv->lfd);
  if (srv->wake_fd >= 0)
    close(srv->wake_fd);
  if (srv->reserve_fd >= 0)
    close(srv->reserve_fd);
  srv->lfd = srv->wake_fd = srv->reserve_fd = -1;
  if (srv->creds)
    grpc_server_credentials_release(srv->creds);
  srv->creds = NULL;
}
