/* A monotonic clock in ms and a bounded wait on a condition variable, for
 * test programs whose callbacks run on another thread (h2_test_util.h,
 * transport_test_util.h). Header-only. Deadlines are not scaled by
 * NC_TEST_TIMEOUT_MULTIPLIER: the callers assert on them. */
#ifndef COND_WAIT_UTIL_H
#define COND_WAIT_UTIL_H

#include <pthread.h>
#include <time.h>

static inline long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits (up to ms) until *field, guarded by mu and signalled on cond, is
 * >= want; returns the last value seen. Wakes every few ms as well, so a
 * missed broadcast costs no more than that. */
static inline int cond_wait_ge(pthread_mutex_t *mu, pthread_cond_t *cond, const int *field,
                               int want, int ms) {
  long long end = now_ms() + ms;
  pthread_mutex_lock(mu);
  while (*field < want && now_ms() < end) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 5 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cond, mu, &ts);
  }
  int v = *field;
  pthread_mutex_unlock(mu);
  return v;
}

#endif
