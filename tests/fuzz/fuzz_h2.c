/* fuzz_h2: the nghttp2 client's handling of what a server sends (nacos-agent's
 * transport, common/gcli/nc_h2_*.c): nghttp2's frame parsing and HPACK, then
 * our callbacks: :status / grpc-status headers, DATA reassembled into gRPC
 * messages (length prefix, compression flag, size cap), END_STREAM and
 * RST_STREAM endings, GOAWAY, PING, and how every call and the stream end.
 *
 * Without a network: the client's one uv_tcp_connect is redirected (--wrap)
 * to a socketpair whose other end is the "server" here. Each input is a new
 * client with two unary calls (HTTP/2 streams 1 and 3) and the bidi stream
 * (5), all opened before the input is sent; the input is the server's byte
 * stream after the client's preface (the server's SETTINGS first, as any
 * server sends), then the server closes. Every callback must run exactly
 * once, and whatever a callback is handed must be readable. */
#include "fuzz_util.h"
#include "nc_err.h"
#include "nc_grpc_client.h"
#include "nc_h2_priv.h"
#include "nc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static nc_gcli_env *env;

/* The connect handed over from the client's loop thread. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int server_fd = -1; /* our end, once the client connected */
static int calls_queued;   /* every call of this input is queued: the connect may finish */

/* What the callbacks saw (loop thread), under mu. */
static int unary_done[2], stream_closed;
static unsigned long sink; /* bytes handed to callbacks are read into this */

typedef struct connect_job {
  uv_timer_t t;
  uv_connect_t *req;
  uv_connect_cb cb;
} connect_job;

static void job_closed(uv_handle_t *h) { free(h->data); }

/* The connect completes on the next loop turn, as a real one would, after
 * every call queued by then is on the client's list (h2_service), so
 * streams 1 and 3 are the unary calls and 5 the bidi stream. */
static void connect_done(uv_timer_t *t) {
  connect_job *j = t->data;
  nc_gcli *c = j->req->handle->data;
  h2_service(c);
  j->cb(j->req, 0);
  uv_close((uv_handle_t *)&j->t, job_closed);
}

int __wrap_uv_tcp_connect(uv_connect_t *req, uv_tcp_t *tcp, const struct sockaddr *addr,
                          uv_connect_cb cb) {
  int sv[2];
  (void)addr;
  pthread_mutex_lock(&mu);
  while (!calls_queued)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return UV_EMFILE;
  int rc = uv_tcp_open(tcp, sv[0]);
  connect_job *j = calloc(1, sizeof(*j));
  if (rc != 0 || !j) {
    close(sv[0]);
    close(sv[1]);
    free(j);
    return rc ? rc : UV_ENOMEM;
  }
  req->handle = (uv_stream_t *)tcp;
  j->req = req;
  j->cb = cb;
  uv_timer_init(tcp->loop, &j->t);
  j->t.data = j;
  uv_timer_start(&j->t, connect_done, 0, 0);
  pthread_mutex_lock(&mu);
  server_fd = sv[1];
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  return 0;
}

static void touch(const uint8_t *data, size_t len) {
  unsigned long s = 0;
  for (size_t i = 0; i < len; i++)
    s += data[i];
  sink += s;
}

static void on_unary(void *ud, int status, const uint8_t *data, size_t len) {
  int *slot = ud;
  FZ_CHECK(status != 0 || data != NULL);
  if (status == 0)
    touch(data, len);
  pthread_mutex_lock(&mu);
  FZ_CHECK(*slot == 0); /* once */
  (*slot)++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static void on_msg(void *ud, const uint8_t *data, size_t len) {
  (void)ud;
  touch(data, len);
  pthread_mutex_lock(&mu);
  FZ_CHECK(stream_closed == 0); /* nothing after the end */
  pthread_mutex_unlock(&mu);
}

static void on_closed(void *ud, int status) {
  (void)ud;
  (void)status;
  pthread_mutex_lock(&mu);
  FZ_CHECK(stream_closed == 0);
  stream_closed++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads what the client sent (discarded) until it has opened n streams
 * (HEADERS frames seen) or ms passed. Our end is blocking; poll first. */
static void wait_headers(int fd, int n, int ms) {
  uint8_t buf[16384];
  size_t have = 0, off = 24; /* the client preface, then frames */
  int seen = 0;
  long long end = now_ms() + ms;
  while (seen < n && now_ms() < end) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 10) <= 0)
      continue;
    ssize_t k = read(fd, buf + have, sizeof(buf) - have);
    if (k <= 0)
      return;
    have += (size_t)k;
    while (off + 9 <= have) {
      size_t len = (size_t)buf[off] << 16 | (size_t)buf[off + 1] << 8 | buf[off + 2];
      if (off + 9 + len > have)
        break;
      seen += buf[off + 3] == 1; /* HEADERS */
      off += 9 + len;
    }
    if (off >= have) { /* all consumed: start over at the buffer's head */
      off -= have;
      have = 0;
    } else if (have == sizeof(buf)) {
      memmove(buf, buf + off, have - off);
      have -= off;
      off = 0;
    }
  }
}

static int all_done(void) { return unary_done[0] && unary_done[1] && stream_closed; }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  nc_log_set_level(getenv("FUZZ_LOG") ? NC_LOG_DEBUG : NC_LOG_ERROR);
  if (nc_gcli_env_new(1, &env) != 0) {
    fprintf(stderr, "fuzz_h2: client env set-up failed\n");
    abort();
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nc_gcli *c = NULL;
  nc_gcli_opts o = {.max_msg_bytes = 64 * 1024, .keepalive_ms = 60000,
                    .connect_timeout_ms = 5000};
  nc_gcli_stream_cbs cbs = {on_msg, on_closed};
  static const uint8_t req[] = "request";
  pthread_mutex_lock(&mu);
  server_fd = -1;
  calls_queued = 0;
  unary_done[0] = unary_done[1] = stream_closed = 0;
  pthread_mutex_unlock(&mu);
  FZ_CHECK(nc_gcli_new(env, "127.0.0.1:9848", &o, &c) == 0);
  FZ_CHECK(nc_gcli_unary_async(c, req, sizeof(req), 10000, on_unary, &unary_done[0]) == 0);
  FZ_CHECK(nc_gcli_unary_async(c, req, sizeof(req), 10000, on_unary, &unary_done[1]) == 0);
  FZ_CHECK(nc_gcli_stream_open(c, &cbs, NULL) == 0);
  pthread_mutex_lock(&mu);
  calls_queued = 1;
  pthread_cond_broadcast(&cv);
  while (server_fd < 0)
    pthread_cond_wait(&cv, &mu);
  int fd = server_fd;
  pthread_mutex_unlock(&mu);

  wait_headers(fd, 3, 2000);
  /* The server's bytes, then its end of the connection: the client sees
   * EOF after the last byte, and every call still open ends then. Reads
   * in between keep the client's writes (acks, resets) from blocking. */
  size_t off = 0;
  FZ_CHECK(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
  while (off < size) {
    ssize_t k = send(fd, data + off, size - off, MSG_NOSIGNAL);
    if (k > 0) {
      off += (size_t)k;
      continue;
    }
    if (k < 0 && errno != EAGAIN && errno != EINTR)
      break; /* the client closed its end (a protocol error) */
    uint8_t junk[4096];
    while (read(fd, junk, sizeof(junk)) > 0) {
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    poll(&p, 1, 10);
  }
  shutdown(fd, SHUT_WR);
  long long end = now_ms() + 5000;
  for (;;) {
    pthread_mutex_lock(&mu);
    int done = all_done();
    pthread_mutex_unlock(&mu);
    if (done || now_ms() > end)
      break;
    uint8_t junk[4096];
    while (read(fd, junk, sizeof(junk)) > 0) {
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, 5);
  }
  pthread_mutex_lock(&mu);
  int done = all_done();
  pthread_mutex_unlock(&mu);
  FZ_CHECK(done); /* after EOF nothing may stay open */
  nc_gcli_free(c);
  close(fd);
  return 0;
}
