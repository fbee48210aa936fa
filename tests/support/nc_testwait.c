/* nc_testwait: deadlines scaled by NC_TEST_TIMEOUT_MULTIPLIER, polling and
 * the shared main() set-up. Self-contained (libc, cmocka, nc_log) so that
 * test programs which do not link nc_test_support can compile it in. */
#include "nc_testwait.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nc_log.h"

static double g_mult = 1.0;
static pthread_once_t g_mult_once = PTHREAD_ONCE_INIT;

static void read_multiplier(void) {
  const char *s = getenv("NC_TEST_TIMEOUT_MULTIPLIER");
  if (!s || !*s)
    return;
  char *end = NULL;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > 1000) {
    fprintf(stderr, "NC_TEST_TIMEOUT_MULTIPLIER=%s is not a number in (0, 1000]; using 1\n", s);
    return;
  }
  g_mult = v;
  if (v != 1.0)
    fprintf(stderr, "[ NC_TEST ] timeouts x %g (NC_TEST_TIMEOUT_MULTIPLIER)\n", v);
}

double nc_test_timeout_multiplier(void) {
  pthread_once(&g_mult_once, read_multiplier);
  return g_mult;
}

int nc_test_timeout_ms(int ms) {
  double v = (double)ms * nc_test_timeout_multiplier();
  if (v < 1)
    return 1;
  if (v > 24.0 * 3600 * 1000)
    return 24 * 3600 * 1000;
  return (int)v;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

nc_test_deadline nc_test_deadline_start(int timeout_ms) {
  nc_test_deadline d;
  d.start_ms = now_ms();
  d.end_ms = d.start_ms + nc_test_timeout_ms(timeout_ms);
  d.step_ms = 1;
  return d;
}

int nc_test_deadline_tick(nc_test_deadline *d) {
  long long left = d->end_ms - now_ms();
  if (left <= 0)
    return 0;
  sleep_ms(left < d->step_ms ? (int)left : d->step_ms);
  if (d->step_ms < 20)
    d->step_ms *= 2;
  return 1;
}

long long nc_test_deadline_elapsed(const nc_test_deadline *d) {
  return now_ms() - d->start_ms;
}

void nc_test_wait_fail(const char *what, int timeout_ms, const char *file, int line) {
  int scaled = nc_test_timeout_ms(timeout_ms);
  if (scaled != timeout_ms)
    print_error("%s:%d: timed out after %d ms (%d ms x %g) waiting for: %s\n", file, line,
                   scaled, timeout_ms, nc_test_timeout_multiplier(), what);
  else
    print_error("%s:%d: timed out after %d ms waiting for: %s\n", file, line, scaled, what);
  _fail(file, line);
}

long long nc_test_wait_fn(nc_test_cond_fn fn, void *arg, int timeout_ms) {
  long long took;
  NC_TEST_POLL(fn(arg), timeout_ms, took);
  return took;
}

void nc_test_quiet_ms(int ms) {
  sleep_ms(nc_test_timeout_ms(ms));
}

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;

static void main_init_once(void) {
  const char *filter = getenv("NC_TEST_FILTER");
  if (filter && *filter)
    cmocka_set_test_filter(filter);
  const char *skip = getenv("NC_TEST_SKIP");
  if (skip && *skip)
    cmocka_set_skip_filter(skip);
  if (getenv("NC_TEST_TRACE"))
    nc_log_set_level(NC_LOG_TRACE);
}

void nc_test_main_init(void) { pthread_once(&g_init_once, main_init_once); }

/* Runs before main() in every program this file is linked into, so the
 * filter reaches programs that call cmocka_run_group_tests directly. The
 * static library nc_test_support is linked with -u nc_test_autoinit (see
 * tests/CMakeLists.txt): without a reference the linker would leave this
 * object out of programs that use nothing else from it. */
__attribute__((constructor)) void nc_test_autoinit(void) { nc_test_main_init(); }
