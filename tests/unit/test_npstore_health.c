/* naming_health (docs/persistent.md): the responsible-node hash against
 * values a JVM printed for String.hashCode and DistroMapper's target, the
 * healthChecker JSON, and real TCP / HTTP checks on a libuv loop against a
 * listener of this test, with a fake source of one instance: refused ->
 * unhealthy at once, three passes -> healthy again, HTTP 200 ok, HTTP 500
 * unhealthy at once, NONE never checked, a node not responsible never
 * checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "naming_health.h"
#include "nc_err.h"
#include "nc_testproc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_java_hash_and_responsible(void **st) {
  (void)st;
  /* values from a JVM: "x".hashCode() and abs(h % MAX_VALUE) % 3 */
  assert_int_equal(nc_nhealth_java_hash("127.0.0.1:8080"), -35736627);
  assert_int_equal(nc_nhealth_java_hash("10.0.0.7:80"), 1106847366);
  assert_int_equal(nc_nhealth_java_hash("192.168.100.200:65535"), 1714581716);
  assert_int_equal(nc_nhealth_java_hash("zz"), 3904);
  /* unsorted on purpose: the members are sorted first */
  const char *m[] = {"10.0.0.3:8848", "10.0.0.1:8848", "10.0.0.2:8848"};
  assert_true(nc_nhealth_responsible("127.0.0.1:8080", m, 3, "10.0.0.1:8848"));
  assert_false(nc_nhealth_responsible("127.0.0.1:8080", m, 3, "10.0.0.2:8848"));
  assert_true(nc_nhealth_responsible("192.168.100.200:65535", m, 3, "10.0.0.3:8848"));
  assert_true(nc_nhealth_responsible("zz", m, 3, "10.0.0.2:8848"));
  /* one owner for every tag */
  char tag[32];
  for (int p = 1; p < 200; p++) {
    snprintf(tag, sizeof(tag), "10.1.2.3:%d", p);
    int owners = 0;
    for (int i = 0; i < 3; i++)
      owners += nc_nhealth_responsible(tag, m, 3, m[i]);
    assert_int_equal(owners, 1);
  }
  /* standalone, not in the list: ours; an empty list: not */
  assert_true(nc_nhealth_responsible("zz", NULL, 0, NULL));
  assert_true(nc_nhealth_responsible("zz", m, 3, "10.9.9.9:8848"));
  assert_false(nc_nhealth_responsible("zz", m, 0, "10.0.0.1:8848"));
}

static void test_checker_parse(void **st) {
  (void)st;
  nc_nhealth_checker c;
  assert_int_equal(nc_nhealth_checker_parse("{\"type\":\"HTTP\",\"path\":\"/ok\",\"headers\":"
                                            "\"A:b|C:d\",\"expectedResponseCode\":204}", &c), 0);
  assert_int_equal(c.type, NC_NHC_HTTP);
  assert_string_equal(c.path, "/ok");
  assert_string_equal(c.headers, "A:b|C:d");
  assert_int_equal(c.expected_code, 204);
  assert_int_equal(nc_nhealth_checker_parse("{\"type\":\"TCP\"}", &c), 0);
  assert_int_equal(c.type, NC_NHC_TCP);
  assert_int_equal(nc_nhealth_checker_parse("{\"type\":\"none\"}", &c), 0);
  assert_int_equal(c.type, NC_NHC_NONE);
  assert_int_equal(nc_nhealth_checker_parse("{\"type\":\"MYSQL\"}", &c), NC_EINVAL);
  assert_int_equal(nc_nhealth_checker_parse("[1]", &c), NC_EINVAL);
  assert_int_equal(nc_nhealth_checker_parse("{", &c), NC_EINVAL);
}

/* ---- a listener: accepts, optionally answers an HTTP status ---- */

typedef struct lsn {
  int fd, port;
  atomic_int http_code, accepts, stop;
  pthread_t th;
  pthread_mutex_t mu; /* guards req */
  char req[1024];     /* the last request's text */
} lsn;

static void *lsn_run(void *arg) {
  lsn *l = arg;
  while (!atomic_load(&l->stop)) {
    struct pollfd p = {.fd = l->fd, .events = POLLIN};
    if (poll(&p, 1, 20) != 1)
      continue;
    int c = accept(l->fd, NULL, NULL);
    if (c < 0)
      continue;
    atomic_fetch_add(&l->accepts, 1);
    int code = atomic_load(&l->http_code);
    if (code) {
      char buf[512], out[64];
      struct pollfd q = {.fd = c, .events = POLLIN};
      ssize_t got = poll(&q, 1, 1000) == 1 ? read(c, buf, sizeof(buf) - 1) : -1;
      if (got > 0) {
        buf[got] = '\0';
        pthread_mutex_lock(&l->mu);
        snprintf(l->req, sizeof(l->req), "%s", buf);
        pthread_mutex_unlock(&l->mu);
        int n = snprintf(out, sizeof(out), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n",
                         code);
        if (write(c, out, (size_t)n) < 0)
          break;
      }
    }
    close(c);
  }
  return NULL;
}

static void lsn_start(lsn *l, int port, int http_code) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  socklen_t len = sizeof(a);
  int one = 1;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  l->fd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(l->fd, 16), 0);
  getsockname(l->fd, (struct sockaddr *)&a, &len);
  l->port = ntohs(a.sin_port);
  atomic_store(&l->http_code, http_code);
  atomic_store(&l->accepts, 0);
  atomic_store(&l->stop, 0);
  pthread_mutex_init(&l->mu, NULL);
  assert_int_equal(pthread_create(&l->th, NULL, lsn_run, l), 0);
}

static void lsn_stop(lsn *l) {
  atomic_store(&l->stop, 1);
  pthread_join(l->th, NULL);
  close(l->fd);
  pthread_mutex_destroy(&l->mu);
}

/* ---- a source of one instance ---- */

typedef struct src {
  nc_npstore_inst in;
  int verdicts, last;
  nc_nhealth_checker chk;
} src;

static void s_each(void *ud, void (*fn)(void *fud, const nc_npstore_inst *in), void *fud) {
  fn(fud, &((src *)ud)->in);
}
static void s_set(void *ud, const nc_npstore_inst *in, int healthy) {
  src *s = ud;
  (void)in;
  s->verdicts++;
  s->last = healthy;
  s->in.healthy = healthy; /* as the store would after its write */
}
static int s_cluster(void *ud, const char *ns, const char *group, const char *name,
                     const char *cluster, nc_nhealth_checker *out) {
  (void)ns, (void)group, (void)name, (void)cluster;
  *out = ((src *)ud)->chk;
  return 0;
}

/* Runs the loop until *flag >= want or timeout; 1 when reached. */
static int run_until(uv_loop_t *loop, const int *flag, int want, int timeout_ms) {
  long long t0 = nc_test_now_ms();
  while (*flag < want && nc_test_now_ms() - t0 < timeout_ms) {
    uv_run(loop, UV_RUN_NOWAIT);
    nc_test_sleep_ms(5);
  }
  return *flag >= want;
}

static uv_timer_t g_keep; /* keeps the loop alive: the checker's timer is unref'd */
static void on_keep(uv_timer_t *t) { (void)t; }

/* Runs the loop for about ms. */
static void spin(uv_loop_t *loop, int ms) {
  for (int i = 0; i < ms / 10; i++) {
    uv_run(loop, UV_RUN_NOWAIT);
    nc_test_sleep_ms(10);
  }
}

/* A checker of s's instance with opts o (Nacos's defaults for fields 0). */
static nc_nhealth *start_opts(uv_loop_t *loop, src *s, const nc_nhealth_opts *o) {
  uv_timer_init(loop, &g_keep);
  uv_timer_start(&g_keep, on_keep, 10, 10);
  nc_nhealth_src hs = {s_each, s_set, s};
  nc_nhealth *h = NULL;
  assert_int_equal(nc_nhealth_new(loop, &hs, o, &h), 0);
  nc_nhealth_set_cluster_fn(h, s_cluster, s);
  return h;
}

/* Short intervals, so that a test sees many checks. */
static nc_nhealth *start(uv_loop_t *loop, src *s) {
  nc_nhealth_opts o = {.first_delay_ms = 0, .tcp_min_ms = 30, .tcp_max_ms = 200,
                       .http_min_ms = 30, .http_max_ms = 200};
  return start_opts(loop, s, &o);
}

static void stop(uv_loop_t *loop, nc_nhealth *h) {
  nc_nhealth_free(h);
  uv_close((uv_handle_t *)&g_keep, NULL);
  for (int i = 0; i < 20; i++)
    uv_run(loop, UV_RUN_NOWAIT);
}

static void test_tcp_refused_then_back(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  lsn l = {0};
  lsn_start(&l, 0, 0);
  src s = {.in = {"public", "DEFAULT_GROUP", "svc", "127.0.0.1", "DEFAULT", l.port, 1}};
  nc_nhealth *h = start(&loop, &s);
  /* passes change nothing while healthy */
  long long t0 = nc_test_now_ms();
  while (atomic_load(&l.accepts) < 3 && nc_test_now_ms() - t0 < 5000) {
    uv_run(&loop, UV_RUN_NOWAIT);
    nc_test_sleep_ms(5);
  }
  assert_true(atomic_load(&l.accepts) >= 3);
  assert_int_equal(s.verdicts, 0);
  /* refused: unhealthy at the first failed check */
  lsn_stop(&l);
  assert_true(run_until(&loop, &s.verdicts, 1, 5000));
  assert_int_equal(s.last, 0);
  nc_nhealth_stats hs;
  nc_nhealth_get_stats(h, &hs);
  assert_int_equal(hs.marked_unhealthy, 1);
  uint64_t failed = hs.failed;
  assert_true(failed >= 1);
  /* back: three passes make it healthy again, not fewer */
  lsn_start(&l, l.port, 0);
  assert_true(run_until(&loop, &s.verdicts, 2, 8000));
  assert_int_equal(s.last, 1);
  assert_true(atomic_load(&l.accepts) >= 3);
  lsn_stop(&l);
  stop(&loop, h);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_http_codes_and_none(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  lsn l = {0};
  lsn_start(&l, 0, 200);
  src s = {.in = {"public", "DEFAULT_GROUP", "web", "127.0.0.1", "DEFAULT", l.port, 0}};
  assert_int_equal(nc_nhealth_checker_parse("{\"type\":\"HTTP\",\"path\":\"health\"}", &s.chk), 0);
  nc_nhealth *h = start(&loop, &s);
  /* unhealthy + 200s: healthy after three */
  assert_true(run_until(&loop, &s.verdicts, 1, 5000));
  assert_int_equal(s.last, 1);
  assert_true(atomic_load(&l.accepts) >= 3);
  /* 500: unhealthy at once */
  atomic_store(&l.http_code, 500);
  assert_true(run_until(&loop, &s.verdicts, 2, 5000));
  assert_int_equal(s.last, 0);
  /* NONE: no more connects */
  s.chk.type = NC_NHC_NONE;
  spin(&loop, 300);
  int before = atomic_load(&l.accepts);
  spin(&loop, 600);
  assert_int_equal(atomic_load(&l.accepts), before);
  lsn_stop(&l);
  stop(&loop, h);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static size_t two_members(void *ud, const char **addrs, size_t cap) {
  (void)ud;
  static const char *m[] = {"10.0.0.1:8848", "10.0.0.2:8848"};
  size_t n = cap < 2 ? cap : 2;
  memcpy(addrs, m, n * sizeof(*addrs));
  return n;
}

static void test_not_responsible_never_checks(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  lsn l = {0};
  lsn_start(&l, 0, 0);
  src s = {.in = {"public", "DEFAULT_GROUP", "svc", "127.0.0.1", "DEFAULT", l.port, 1}};
  char tag[32];
  snprintf(tag, sizeof(tag), "127.0.0.1:%d", l.port);
  const char *m[] = {"10.0.0.1:8848", "10.0.0.2:8848"};
  const char *other = nc_nhealth_responsible(tag, m, 2, m[0]) ? m[1] : m[0];
  nc_nhealth *h = start(&loop, &s);
  nc_nhealth_set_members(h, other, two_members, NULL);
  spin(&loop, 800);
  assert_int_equal(atomic_load(&l.accepts), 0);
  nc_nhealth_stats hs;
  nc_nhealth_get_stats(h, &hs);
  assert_int_equal(hs.checks, 0);
  assert_int_equal(hs.responsible, 0);
  lsn_stop(&l);
  stop(&loop, h);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static uint64_t failed_of(const nc_nhealth *h) {
  nc_nhealth_stats hs;
  nc_nhealth_get_stats(h, &hs);
  return hs.failed;
}

/* Runs the loop until h has counted want failed checks; 1 when reached. */
static int run_until_failed(uv_loop_t *loop, const nc_nhealth *h, uint64_t want, int timeout_ms) {
  long long t0 = nc_test_now_ms();
  while (failed_of(h) < want && nc_test_now_ms() - t0 < timeout_ms) {
    uv_run(loop, UV_RUN_NOWAIT);
    nc_test_sleep_ms(5);
  }
  return failed_of(h) >= want;
}

/* HTTP 503 is Nacos's "busy, verify later": a counted failure, so a healthy
 * instance turns unhealthy only at the third in a row (checkTimes). */
static void test_three_503s_before_unhealthy(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  lsn l = {0};
  lsn_start(&l, 0, 503);
  src s = {.in = {"public", "DEFAULT_GROUP", "busy", "127.0.0.1", "DEFAULT", l.port, 1}};
  assert_int_equal(nc_nhealth_checker_parse("{\"type\":\"HTTP\",\"path\":\"/\"}", &s.chk), 0);
  nc_nhealth *h = start(&loop, &s);
  assert_true(run_until_failed(&loop, h, 2, 5000));
  assert_int_equal(s.verdicts, 0); /* two 503s: still healthy */
  assert_int_equal(s.in.healthy, 1);
  assert_true(run_until(&loop, &s.verdicts, 1, 5000));
  assert_int_equal(s.last, 0);
  assert_int_equal(failed_of(h), 3); /* the verdict came with the third */
  assert_true(atomic_load(&l.accepts) >= 3);
  lsn_stop(&l);
  stop(&loop, h);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A listener whose accept queue is full (backlog 0, filled, never
 * accepted): the kernel drops further SYNs, so a connect neither succeeds
 * nor is refused and the checker's 500 ms timeout ends it. */
typedef struct full_lsn {
  int fd, port, fill[4];
} full_lsn;

static void full_start(full_lsn *f) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  socklen_t len = sizeof(a);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  f->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(f->fd, 0), 0);
  getsockname(f->fd, (struct sockaddr *)&a, &len);
  f->port = ntohs(a.sin_port);
  for (int i = 0; i < 4; i++) {
    f->fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(f->fill[i] >= 0);
    (void)connect(f->fill[i], (struct sockaddr *)&a, sizeof(a)); /* EINPROGRESS */
  }
  nc_test_sleep_ms(100);
  /* the last filler must still hang (else this kernel accepts more) */
  struct pollfd p = {.fd = f->fill[3], .events = POLLOUT};
  assert_int_equal(poll(&p, 1, 600), 0);
}

static void full_stop(full_lsn *f) {
  for (int i = 0; i < 4; i++)
    close(f->fill[i]);
  close(f->fd);
}

static void test_three_connect_timeouts_before_unhealthy(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  full_lsn f;
  full_start(&f);
  src s = {.in = {"public", "DEFAULT_GROUP", "slow", "127.0.0.1", "DEFAULT", f.port, 1}};
  nc_nhealth *h = start(&loop, &s); /* connect timeout: Nacos's 500 ms */
  long long t0 = nc_test_now_ms();
  assert_true(run_until_failed(&loop, h, 1, 5000));
  long long first = nc_test_now_ms() - t0;
  assert_true(first >= 450); /* a timeout, not an error or a refusal */
  assert_true(run_until_failed(&loop, h, 2, 5000));
  assert_int_equal(s.verdicts, 0);
  assert_true(run_until(&loop, &s.verdicts, 1, 5000));
  long long all = nc_test_now_ms() - t0;
  assert_int_equal(s.last, 0);
  assert_int_equal(failed_of(h), 3);
  assert_true(all >= 3 * 450); /* three timeouts of 500 ms each */
  fprintf(stderr, "first timeout after %lld ms, unhealthy after %lld ms\n", first, all);
  full_stop(&f);
  stop(&loop, h);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* The gap between the last two of n accepts on l (the loop running). */
static long long gap_after(uv_loop_t *loop, lsn *l, int n, int timeout_ms) {
  long long t0 = nc_test_now_ms(), prev = 0, last = 0;
  int seen = atomic_load(&l->accepts);
  while (seen < n && nc_test_now_ms() - t0 < timeout_ms) {
    uv_run(loop, UV_RUN_NOWAIT);
    nc_test_sleep_ms(5);
    int a = atomic_load(&l->accepts);
    if (a != seen) {
      prev = last;
      last = nc_test_now_ms();
      seen = a;
    }
  }
  return seen >= n && prev ? last - prev : -1;
}

/* A fast target drives the normalized rt down to the type's minimum, which
 * then is the interval: TCP 1000 ms, HTTP 500 ms (Nacos's defaults). */
static void test_rt_clamped_to_min(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  lsn l = {0};
  lsn_start(&l, 0, 0);
  src s = {.in = {"public", "DEFAULT_GROUP", "fast", "127.0.0.1", "DEFAULT", l.port, 1}};
  nc_nhealth_opts o = {.first_delay_ms = 0};
  nc_nhealth *h = start_opts(&loop, &s, &o);
  long long tcp = gap_after(&loop, &l, 3, 6000);
  fprintf(stderr, "TCP interval %lld ms\n", tcp);
  assert_true(tcp >= 900 && tcp <= 1600);
  stop(&loop, h);
  lsn_stop(&l);

  lsn_start(&l, 0, 200);
  s.in.port = l.port;
  assert_int_equal(nc_nhealth_checker_parse("{\"type\":\"HTTP\"}", &s.chk), 0);
  h = start_opts(&loop, &s, &o);
  long long http = gap_after(&loop, &l, 4, 6000);
  fprintf(stderr, "HTTP interval %lld ms\n", http);
  assert_true(http >= 400 && http <= 1000);
  assert_int_equal(s.verdicts, 0);
  stop(&loop, h);
  lsn_stop(&l);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* 503 counts rt = 2 x normalized, which grows the interval by 1.25 each
 * check until the maximum holds it (here 200 ms). */
static void test_rt_clamped_to_max(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  lsn l = {0};
  lsn_start(&l, 0, 503);
  src s = {.in = {"public", "DEFAULT_GROUP", "grow", "127.0.0.1", "DEFAULT", l.port, 0}};
  assert_int_equal(nc_nhealth_checker_parse("{\"type\":\"HTTP\"}", &s.chk), 0);
  nc_nhealth *h = start(&loop, &s); /* HTTP 30..200 ms */
  spin(&loop, 2500); /* 30 x 1.25^n passes 200 after ~9 checks */
  int a0 = atomic_load(&l.accepts);
  spin(&loop, 1500);
  int n = atomic_load(&l.accepts) - a0;
  fprintf(stderr, "%d checks in 1.5 s at the maximum\n", n);
  /* every 200-300 ms (100 ms ticks): not slower (no clamp: the interval
   * keeps growing), not every tick (stuck at the minimum) */
  assert_true(n >= 4 && n <= 10);
  lsn_stop(&l);
  stop(&loop, h);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* An HTTP checker: its headers sent, its expectedResponseCode the only
 * pass, and checkPort (useInstancePort4Check=false) checked instead of the
 * instance's port. */
static void test_http_headers_expected_code_check_port(void **st) {
  (void)st;
  nc_nhealth_checker c;
  assert_int_equal(nc_nhealth_cluster_parse("{\"healthChecker\":{\"type\":\"TCP\"},"
                                            "\"checkPort\":8081,\"useInstancePort4Check\":false}",
                                            &c), 0);
  assert_int_equal(c.check_port, 8081);
  assert_int_equal(nc_nhealth_cluster_parse("{\"healthChecker\":{\"type\":\"TCP\"},"
                                            "\"checkPort\":8081,\"useInstancePort4Check\":true}",
                                            &c), 0);
  assert_int_equal(c.check_port, 0);
  assert_int_equal(nc_nhealth_cluster_parse("{\"checkPort\":8081}", &c), NC_EINVAL);

  uv_loop_t loop;
  uv_loop_init(&loop);
  lsn l = {0};
  lsn_start(&l, 0, 204);
  lsn gone = {0}; /* the instance's own port: nothing listens there */
  lsn_start(&gone, 0, 0);
  lsn_stop(&gone);
  src s = {.in = {"public", "DEFAULT_GROUP", "hdr", "127.0.0.1", "DEFAULT", gone.port, 0}};
  assert_int_equal(nc_nhealth_checker_parse("{\"type\":\"HTTP\",\"path\":\"/hc?x=1\",\"headers\":"
                                            "\"X-A:1|X-B:two words\",\"expectedResponseCode\":204}",
                                            &s.chk), 0);
  s.chk.check_port = l.port;
  nc_nhealth *h = start(&loop, &s);
  assert_true(run_until(&loop, &s.verdicts, 1, 5000)); /* three 204s */
  assert_int_equal(s.last, 1);
  char req[1024], host[64];
  pthread_mutex_lock(&l.mu);
  snprintf(req, sizeof(req), "%s", l.req);
  pthread_mutex_unlock(&l.mu);
  assert_true(!strncmp(req, "GET /hc?x=1 HTTP/1.1\r\n", 22));
  snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", l.port);
  assert_non_null(strstr(req, host));
  assert_non_null(strstr(req, "\r\nX-A: 1\r\n"));
  assert_non_null(strstr(req, "\r\nX-B: two words\r\n"));
  assert_non_null(strstr(req, "\r\n\r\n"));
  /* 200 is not the expected 204: unhealthy at the first */
  uint64_t failed = failed_of(h);
  atomic_store(&l.http_code, 200);
  assert_true(run_until(&loop, &s.verdicts, 2, 5000));
  assert_int_equal(s.last, 0);
  assert_int_equal(failed_of(h), failed + 1);
  lsn_stop(&l);
  stop(&loop, h);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_java_hash_and_responsible),
      cmocka_unit_test(test_checker_parse),
      cmocka_unit_test(test_tcp_refused_then_back),
      cmocka_unit_test(test_http_codes_and_none),
      cmocka_unit_test(test_not_responsible_never_checks),
      cmocka_unit_test(test_three_503s_before_unhealthy),
      cmocka_unit_test(test_three_connect_timeouts_before_unhealthy),
      cmocka_unit_test(test_rt_clamped_to_min),
      cmocka_unit_test(test_rt_clamped_to_max),
      cmocka_unit_test(test_http_headers_expected_code_check_port),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
