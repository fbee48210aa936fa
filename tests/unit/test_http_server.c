/* nc_http: the HTTP/1.1 server on a libuv loop, driven over real sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nc_http.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the server side: a loop thread ---- */

typedef struct fixture {
  uv_loop_t loop;
  uv_async_t wake;
  pthread_t th;
  nc_http *h;
  nc_http_opts opts;
  int port;
  /* set from the test thread, acted on in the loop (under mu) */
  pthread_mutex_t mu;
  int release_held, stop;
  nc_http_req *held[8];
  int nheld, aborted;
} fixture;

static void h_echo(void *ud, nc_http_req *r) {
  (void)ud;
  char buf[512];
  size_t bl;
  const char *body = nc_http_body(r, &bl);
  const char *a = nc_http_param(r, "a");
  const char *x = nc_http_header(r, "X-Test");
  int n = snprintf(buf, sizeof(buf), "%s %s a=%s x=%s len=%zu body=%s", nc_http_method(r),
                   nc_http_path(r), a ? a : "-", x ? x : "-", bl, bl < 64 ? body : "(big)");
  nc_http_reply(r, 200, "text/plain", buf, (size_t)n);
}

static void on_abort(void *ud, nc_http_req *r) {
  fixture *f = ud;
  (void)r;
  f->aborted++;
}

static void h_hold(void *ud, nc_http_req *r) {
  fixture *f = ud;
  pthread_mutex_lock(&f->mu);
  f->held[f->nheld++] = r;
  pthread_mutex_unlock(&f->mu);
  nc_http_hold_abort(r, on_abort, f);
}

static const nc_http_route routes[] = {
    {"/echo", NC_HTTP_GET | NC_HTTP_POST, h_echo, 0},
    {"/hold", NC_HTTP_GET, h_hold, 0},
};

static void handler(void *ud, nc_http_req *r) {
  int status = 0;
  const nc_http_route *rt = nc_http_route_find(routes, 2, r, &status);
  if (!rt) {
    nc_http_reply_error(r, status, status == 404 ? "no such path" : "method not allowed");
    return;
  }
  rt->fn(ud, r);
}

static void on_wake(uv_async_t *a) {
  fixture *f = a->data;
  pthread_mutex_lock(&f->mu);
  if (f->release_held) {
    for (int i = 0; i < f->nheld; i++) {
      char b[32];
      int n = snprintf(b, sizeof(b), "late %d", i);
      nc_http_reply(f->held[i], 200, NULL, b, (size_t)n);
    }
    f->nheld = 0;
    f->release_held = 0;
  }
  int stop = f->stop;
  pthread_mutex_unlock(&f->mu);
  if (stop) {
    nc_http_stop(f->h);
    uv_close((uv_handle_t *)&f->wake, NULL);
  }
}

static void *loop_main(void *arg) {
  fixture *f = arg;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  return NULL;
}

static fixture *start(const nc_http_opts *o) {
  fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  if (o)
    f->opts = *o;
  pthread_mutex_init(&f->mu, NULL);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  uv_async_init(&f->loop, &f->wake, on_wake);
  f->wake.data = f;
  assert_int_equal(nc_http_start(&f->loop, &f->opts, handler, f, &f->h), 0);
  f->port = nc_http_port(f->h);
  assert_true(f->port > 0);
  assert_int_equal(pthread_create(&f->th, NULL, loop_main, f), 0);
  return f;
}

static void poke(fixture *f, int *flag) {
  pthread_mutex_lock(&f->mu);
  *flag = 1;
  pthread_mutex_unlock(&f->mu);
  uv_async_send(&f->wake);
}

static void finish(fixture *f) {
  poke(f, &f->stop);
  pthread_join(f->th, NULL);
  assert_int_equal(uv_loop_close(&f->loop), 0); /* every handle closed */
  pthread_mutex_destroy(&f->mu);
  free(f);
}

static int held_count(fixture *f) {
  pthread_mutex_lock(&f->mu);
  int n = f->nheld;
  pthread_mutex_unlock(&f->mu);
  return n;
}

/* ---- the client side: plain blocking sockets ---- */

static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_true(fd >= 0);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

static void send_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    if (w <= 0)
      return; /* the server may close early (413); the reply tells */
    s += w;
    n -= (size_t)w;
  }
}

#define SEND_STR(fd, s) send_all((fd), (s), strlen(s))

/* Reads one response (head + Content-Length body) into out. Returns the
 * status code, or -1 when the connection closed first. */
static int read_resp(int fd, char *out, size_t cap) {
  size_t len = 0;
  out[0] = '\0';
  for (;;) {
    char *eoh = strstr(out, "\r\n\r\n");
    if (eoh) {
      const char *cl = strcasestr(out, "Content-Length:");
      size_t blen = cl ? strtoul(cl + 15, NULL, 10) : 0;
      size_t have = len - (size_t)(eoh + 4 - out);
      if (have >= blen) {
        int code = atoi(out + 9);
        memmove(out, eoh + 4, blen);
        out[blen] = '\0';
        return code;
      }
    }
    if (len + 1 >= cap)
      return -1;
    ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
    if (n <= 0)
      return -1;
    len += (size_t)n;
    out[len] = '\0';
  }
}

static int request(int port, const char *raw, char *out, size_t cap) {
  int fd = dial(port);
  send_all(fd, raw, strlen(raw));
  int code = read_resp(fd, out, cap);
  close(fd);
  return code;
}

/* ---- tests ---- */

static void test_query_params_headers_and_routes(void **st) {
  (void)st;
  fixture *f = start(NULL);
  char out[4096];
  assert_int_equal(request(f->port,
                           "GET /echo?a=x%20y&b=2 HTTP/1.1\r\nHost: t\r\nX-Test: hi\r\n"
                           "Connection: close\r\n\r\n",
                           out, sizeof(out)),
                   200);
  assert_string_equal(out, "GET /echo a=x y x=hi len=0 body=");
  assert_int_equal(request(f->port, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", out, sizeof(out)),
                   404);
  assert_non_null(strstr(out, "\"code\":404"));
  assert_int_equal(
      request(f->port, "DELETE /echo HTTP/1.1\r\nHost: t\r\n\r\n", out, sizeof(out)), 405);
  finish(f);
}

static void test_form_and_json_bodies(void **st) {
  (void)st;
  fixture *f = start(NULL);
  char out[4096];
  assert_int_equal(
      request(f->port,
              "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded"
              "\r\nContent-Length: 13\r\n\r\na=hello+w%21&",
              out, sizeof(out)),
      200);
  assert_string_equal(out, "POST /echo a=hello w! x=- len=13 body=a=hello+w%21&");
  /* a JSON body is handed over as is; its fields are not parameters */
  assert_int_equal(request(f->port,
                           "POST /echo?a=q HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
                           "\r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}",
                           out, sizeof(out)),
                   200);
  assert_string_equal(out, "POST /echo a=q x=- len=9 body={\"a\":\"b\"}");
  finish(f);
}

static void test_keep_alive_serves_several_requests(void **st) {
  (void)st;
  fixture *f = start(NULL);
  char out[4096];
  int fd = dial(f->port);
  for (int i = 0; i < 3; i++) {
    char req[128];
    snprintf(req, sizeof(req), "GET /echo?a=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    send_all(fd, req, strlen(req));
    assert_int_equal(read_resp(fd, out, sizeof(out)), 200);
    char want[64];
    snprintf(want, sizeof(want), "GET /echo a=%d x=- len=0 body=", i);
    assert_string_equal(out, want);
  }
  close(fd);
  assert_true(nc_http_requests(f->h) >= 3);
  finish(f);
}

static void test_body_over_cap_refused_with_413(void **st) {
  (void)st;
  nc_http_opts o = {.max_body = 1000};
  fixture *f = start(&o);
  char out[4096];
  char *raw = malloc(3000);
  int n = snprintf(raw, 3000, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n");
  memset(raw + n, 'z', 2000);
  raw[n + 2000] = '\0';
  assert_int_equal(request(f->port, raw, out, sizeof(out)), 413);
  assert_non_null(strstr(out, "1000-byte limit"));
  /* at the cap exactly it is served */
  n = snprintf(raw, 3000, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
  memset(raw + n, 'z', 1000);
  raw[n + 1000] = '\0';
  assert_int_equal(request(f->port, raw, out, sizeof(out)), 200);
  assert_non_null(strstr(out, "len=1000"));
  free(raw);
  finish(f);
}

static void test_oversized_head_refused(void **st) {
  (void)st;
  nc_http_opts o = {.max_head = 4096};
  fixture *f = start(&o);
  char out[4096];
  char *raw = malloc(20000);
  int n = snprintf(raw, 20000, "GET /echo HTTP/1.1\r\nHost: t\r\nX-Big: ");
  memset(raw + n, 'h', 10000);
  strcpy(raw + n + 10000, "\r\n\r\n");
  int code = request(f->port, raw, out, sizeof(out));
  assert_true(code == 431 || code == 413 || code == 414);
  free(raw);
  /* the server still serves others */
  assert_int_equal(request(f->port, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", out, sizeof(out)),
                   200);
  finish(f);
}

static void test_held_requests_answered_later_from_the_loop(void **st) {
  (void)st;
  fixture *f = start(NULL);
  char out[4096];
  int fds[3];
  for (int i = 0; i < 3; i++) {
    fds[i] = dial(f->port);
    SEND_STR(fds[i], "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
  }
  for (int i = 0; i < 500 && held_count(f) < 3; i++)
    usleep(10 * 1000);
  assert_int_equal(held_count(f), 3);
  /* while they are held, other requests are served */
  assert_int_equal(request(f->port, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", out, sizeof(out)),
                   200);
  poke(f, &f->release_held);
  int seen = 0;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(read_resp(fds[i], out, sizeof(out)), 200);
    assert_memory_equal(out, "late ", 5);
    seen |= 1 << atoi(out + 5);
    /* the connection is still usable afterwards (keep-alive) */
    SEND_STR(fds[i], "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(read_resp(fds[i], out, sizeof(out)), 200);
    close(fds[i]);
  }
  assert_int_equal(seen, 7);
  finish(f);
}

static void test_stop_answers_held_requests_503(void **st) {
  (void)st;
  fixture *f = start(NULL);
  char out[4096];
  int fd = dial(f->port);
  SEND_STR(fd, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
  for (int i = 0; i < 500 && held_count(f) < 1; i++)
    usleep(10 * 1000);
  assert_int_equal(held_count(f), 1);
  poke(f, &f->stop);
  pthread_join(f->th, NULL);
  int code = read_resp(fd, out, sizeof(out));
  /* answered 503 before the daemon closed, or closed: never left hanging */
  assert_true(code == 503 || code == -1);
  assert_int_equal(f->aborted, 1);
  close(fd);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  pthread_mutex_destroy(&f->mu);
  free(f);
}

static void test_idle_connection_closed_after_timeout(void **st) {
  (void)st;
  nc_http_opts o = {.idle_timeout_s = 1};
  fixture *f = start(&o);
  int fd = dial(f->port);
  char c;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ssize_t n = recv(fd, &c, 1, 0); /* blocks until the server closes (or 5 s) */
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_int_equal(n, 0);
  assert_true(s >= 0.5 && s < 4.0);
  close(fd);
  finish(f);
}

static void test_connection_cap(void **st) {
  (void)st;
  nc_http_opts o = {.max_conns = 2};
  fixture *f = start(&o);
  char out[4096];
  int a = dial(f->port), b = dial(f->port);
  SEND_STR(a, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
  SEND_STR(b, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
  for (int i = 0; i < 500 && held_count(f) < 2; i++)
    usleep(10 * 1000);
  assert_int_equal(held_count(f), 2);
  /* a third connection is accepted by the kernel, then closed unanswered */
  assert_int_equal(request(f->port, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", out, sizeof(out)),
                   -1);
  poke(f, &f->release_held);
  assert_int_equal(read_resp(a, out, sizeof(out)), 200);
  assert_int_equal(read_resp(b, out, sizeof(out)), 200);
  close(a);
  close(b);
  /* room again */
  int code = -1;
  for (int i = 0; i < 100 && code != 200; i++) {
    code = request(f->port, "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", out, sizeof(out));
    if (code != 200)
      usleep(20 * 1000);
  }
  assert_int_equal(code, 200);
  finish(f);
}

static void test_bad_bind_address_fails_clearly(void **st) {
  (void)st;
  uv_loop_t loop;
  nc_http *h = NULL;
  uv_loop_init(&loop);
  nc_http_opts o = {.bind = "not-an-ip"};
  assert_int_not_equal(nc_http_start(&loop, &o, handler, NULL, &h), 0);
  assert_null(h);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_query_params_headers_and_routes),
      cmocka_unit_test(test_form_and_json_bodies),
      cmocka_unit_test(test_keep_alive_serves_several_requests),
      cmocka_unit_test(test_body_over_cap_refused_with_413),
      cmocka_unit_test(test_oversized_head_refused),
      cmocka_unit_test(test_held_requests_answered_later_from_the_loop),
      cmocka_unit_test(test_stop_answers_held_requests_503),
      cmocka_unit_test(test_idle_connection_closed_after_timeout),
      cmocka_unit_test(test_connection_cap),
      cmocka_unit_test(test_bad_bind_address_fails_clearly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
