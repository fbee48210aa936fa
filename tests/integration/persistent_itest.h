/* persistent_itest: what the persistent-instance tests share: a TCP
 * listener the instances point at (health checks connect to it; a thread
 * accepts and counts them, closing it makes the checks fail with
 * "refused"), the PersistentInstanceRequest call, and waits on a
 * subscriber's pushes for a host's health. */
#ifndef PERSISTENT_ITEST_H
#define PERSISTENT_ITEST_H

#include "nc_testproc.h"
#include "nc_testwire.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Nacos's bound on a failed target's healthy:false push: the longest
 * check interval (5 s) + the 500 ms connect timeout, + 1 s for ASan and
 * the push. */
#define PIT_UNHEALTHY_MS 6500

typedef struct pit_listener {
  int fd, port;
  atomic_int accepts, stop;
  atomic_int http_code; /* 0: close at once; else answer a request with it */
  atomic_int gets;      /* requests "GET <path> " seen */
  atomic_int wanted;    /* requests holding want seen */
  const char *path, *want;
  pthread_t th;
} pit_listener;

/* Answers one HTTP request on c with l's code. */
static void pit_answer(pit_listener *l, int c, int code) {
  char buf[1024], out[96];
  struct pollfd q = {.fd = c, .events = POLLIN};
  ssize_t n = poll(&q, 1, 1000) == 1 ? read(c, buf, sizeof(buf) - 1) : -1;
  if (n <= 0)
    return;
  buf[n] = '\0';
  char want[160];
  snprintf(want, sizeof(want), "GET %s ", l->path ? l->path : "/");
  if (!strncmp(buf, want, strlen(want)))
    atomic_fetch_add(&l->gets, 1);
  if (l->want && strstr(buf, l->want))
    atomic_fetch_add(&l->wanted, 1);
  int w = snprintf(out, sizeof(out), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", code);
  if (write(c, out, (size_t)w) < 0)
    return;
}

static void *pit_accept_loop(void *arg) {
  pit_listener *l = arg;
  while (!atomic_load(&l->stop)) {
    struct pollfd p = {.fd = l->fd, .events = POLLIN};
    if (poll(&p, 1, 50) == 1) {
      int c = accept(l->fd, NULL, NULL);
      if (c >= 0) {
        atomic_fetch_add(&l->accepts, 1);
        int code = atomic_load(&l->http_code);
        if (code)
          pit_answer(l, c, code);
        close(c);
      }
    }
  }
  return NULL;
}

/* Listens on 127.0.0.1:port (0: any free port) and accepts in a thread. */
static inline int pit_listen(pit_listener *l, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  socklen_t len = sizeof(a);
  int one = 1;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  l->fd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l->fd, 64) != 0 ||
      getsockname(l->fd, (struct sockaddr *)&a, &len) != 0) {
    if (l->fd >= 0)
      close(l->fd);
    return -1;
  }
  l->port = ntohs(a.sin_port);
  atomic_store(&l->stop, 0);
  return pthread_create(&l->th, NULL, pit_accept_loop, l) == 0 ? 0 : -1;
}

/* Stops accepting and closes the socket: connects are refused from now. */
static inline void pit_close(pit_listener *l) {
  atomic_store(&l->stop, 1);
  pthread_join(l->th, NULL);
  close(l->fd);
}

/* PersistentInstanceRequest of type for ip:port (healthy) in svc. */
static inline nc_tw_reply pit_persistent(nc_tw *tw, const char *svc, const char *type,
                                         const char *ip, int port) {
  nc_tw_instance in = {.ip = ip, .port = port};
  cJSON *b = nc_tw_instance_body(tw, svc, type, &in);
  cJSON *inst = cJSON_GetObjectItem(b, "instance");
  cJSON_DeleteItemFromObject(inst, "ephemeral");
  cJSON_AddBoolToObject(inst, "ephemeral", 0);
  return nc_tw_call_reply(tw, "PersistentInstanceRequest", b);
}

/* Waits for a push of svc in which the host on port has health want:
 * 1 when seen within timeout_ms. */
static inline int pit_wait_health(nc_tw *sub, const char *svc, int port, int want,
                                  int timeout_ms) {
  long long t0 = nc_test_now_ms();
  while (nc_test_now_ms() - t0 < timeout_ms) {
    nc_tw_service s = {0};
    nc_tw_wait_notify(sub, svc, 1, 300, &s); /* the newest push */
    int hit = 0;
    for (int i = 0; i < s.nhosts; i++)
      if (s.hosts[i].port == port && s.hosts[i].healthy == want)
        hit = 1;
    nc_tw_service_free(&s);
    if (hit)
      return 1;
    nc_test_sleep_ms(100);
  }
  return 0;
}

#endif
