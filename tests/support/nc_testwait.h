/* nc_testwait: waiting for a condition in tests (no fixed sleeps), the
 * timeout multiplier for slow builds, and the common main() of every test
 * program.
 *
 * Environment (read once per process by every test program that links
 * nc_test_support or compiles this file in; all but the multiplier before
 * main()):
 *   NC_TEST_TIMEOUT_MULTIPLIER  float in (0, 1000], default 1: scales every
 *       deadline that goes through nc_test_timeout_ms(); scripts set it for
 *       ASan/TSan or a loaded machine.
 *   NC_TEST_FILTER  cmocka glob ('*' and '?') on test names, e.g.
 *       '*restart*': only matching tests run (others are not counted).
 *   NC_TEST_SKIP    cmocka glob: matching tests do not run (cmocka 1.1
 *       leaves them out of the count).
 *   NC_TEST_TRACE   any value: log level trace for in-process code.
 * A constructor (nc_test_autoinit) applies them, so they reach programs
 * that call cmocka_run_group_tests() directly; NC_TEST_RUN_GROUP applies
 * them again (harmless: once only). E.g.
 *   NC_TEST_FILTER='*restart*' ctest -R test_testcluster --output-on-failure
 *   NC_TEST_FILTER='*cas*' ./build/tests/test_config_server
 *
 * This header needs only libc; the cmocka-facing parts (NC_TEST_WAIT's
 * failure, NC_TEST_RUN_GROUP) are macros, so include <cmocka.h> before using
 * them. Nothing here is thread-safe except nc_test_timeout_ms(). */
#ifndef NC_TESTWAIT_H
#define NC_TESTWAIT_H

/* The multiplier (> 0), read from the environment at the first call (not
 * before main(), so a test may set it; printed to stderr when not 1). */
double nc_test_timeout_multiplier(void);
/* ms scaled by the multiplier (at least ms when the multiplier is >= 1,
 * never below 1). */
int nc_test_timeout_ms(int ms);

/* ---- polling ---- */

/* A deadline for a polling loop; use through the macros below. */
typedef struct nc_test_deadline {
  long long start_ms, end_ms;
  int step_ms; /* current poll interval: 1 ms doubling up to 20 ms */
} nc_test_deadline;

/* Starts a deadline timeout_ms (scaled) from now. */
nc_test_deadline nc_test_deadline_start(int timeout_ms);
/* 0 when the deadline passed; otherwise sleeps one poll interval and
 * returns 1 (so the condition is evaluated once more after each sleep). */
int nc_test_deadline_tick(nc_test_deadline *d);
/* ms since the deadline started. */
long long nc_test_deadline_elapsed(const nc_test_deadline *d);
/* Prints "<file>:<line>: timed out after N ms (scaled from M) waiting for
 * <what>" to stderr and fails the current cmocka test (does not return). */
void nc_test_wait_fail(const char *what, int timeout_ms, const char *file, int line);

/* Polls cond (an expression, evaluated again every few ms) until it is
 * true; fails the test naming cond, file and line when it stays false for
 * timeout_ms (scaled). A statement. */
#define NC_TEST_WAIT(cond, timeout_ms)                                                             \
  do {                                                                                             \
    nc_test_deadline nc_wait_d_ = nc_test_deadline_start(timeout_ms);                              \
    while (!(cond)) {                                                                              \
      if (!nc_test_deadline_tick(&nc_wait_d_)) {                                                   \
        nc_test_wait_fail(#cond, (timeout_ms), __FILE__, __LINE__);                                \
        break;                                                                                     \
      }                                                                                            \
    }                                                                                              \
  } while (0)

/* Like NC_TEST_WAIT but does not fail: sets out_ms (a long long lvalue) to
 * the ms it took, or -1 on timeout. For helpers that report to a caller. */
#define NC_TEST_POLL(cond, timeout_ms, out_ms)                                                     \
  do {                                                                                             \
    nc_test_deadline nc_wait_d_ = nc_test_deadline_start(timeout_ms);                              \
    (out_ms) = -1;                                                                                 \
    for (;;) {                                                                                     \
      if (cond) {                                                                                  \
        (out_ms) = nc_test_deadline_elapsed(&nc_wait_d_);                                          \
        break;                                                                                     \
      }                                                                                            \
      if (!nc_test_deadline_tick(&nc_wait_d_))                                                     \
        break;                                                                                     \
    }                                                                                              \
  } while (0)

/* Function form, for conditions that are callbacks: polls fn(arg) until it
 * returns non-zero; returns the ms it took or -1 on timeout (scaled). */
typedef int (*nc_test_cond_fn)(void *arg);
long long nc_test_wait_fn(nc_test_cond_fn fn, void *arg, int timeout_ms);

/* Negative waits ("nothing happens for a while"): sleeps ms scaled by the
 * multiplier. Only for asserting an absence; never for a positive check. */
void nc_test_quiet_ms(int ms);

/* ---- main ---- */

/* Applies NC_TEST_FILTER, NC_TEST_SKIP and NC_TEST_TRACE. Runs once per
 * process whoever calls it (the constructor below, NC_TEST_RUN_GROUP). */
void nc_test_main_init(void);
/* The constructor; referenced by name from tests/CMakeLists.txt. */
void nc_test_autoinit(void);

/* Drop-in for cmocka_run_group_tests(tests, setup, teardown) that first
 * calls nc_test_main_init(). tests must be an array (not a pointer). */
#define NC_TEST_RUN_GROUP(tests, setup, teardown)                                                  \
  (nc_test_main_init(),                                                                            \
   _cmocka_run_group_tests(#tests, (tests), sizeof(tests) / sizeof((tests)[0]), (setup),           \
                           (teardown)))

/* The usual one-line main body: return NC_TEST_MAIN(tests); */
#define NC_TEST_MAIN(tests) NC_TEST_RUN_GROUP(tests, NULL, NULL)

#endif
