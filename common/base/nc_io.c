/* nc_io: see nc_io.h. */
#include "nc_io.h"
#include "nc_err.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

long long nc_io_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int nc_io_wait_fd(int fd, short events, long long deadline) {
  for (;;) {
    long long left = deadline - nc_io_now_ms();
    if (left <= 0)
      return NC_ETIMEOUT;
    struct pollfd pf = {.fd = fd, .events = events};
    int n = poll(&pf, 1, left > 1000000 ? 1000000 : (int)left);
    if (n > 0)
      return 0;
    if (n < 0 && errno != EINTR)
      return NC_EIO;
  }
}

int nc_io_read_to_end(nc_io_read_fn rd, void *ud, size_t max, char **out, size_t *len) {
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  int rc = 0;
  if (!b)
    return NC_ENOMEM;
  for (;;) {
    if (n + 1 >= cap) {
      if (cap >= max) {
        rc = NC_EIO; /* more than the caller will hold */
        goto fail;
      }
      char *nb = realloc(b, cap * 2);
      if (!nb) {
        rc = NC_ENOMEM;
        goto fail;
      }
      b = nb;
      cap *= 2;
    }
    long r = rd(ud, b + n, cap - n - 1);
    if (r == 0)
      break;
    if (r < 0) {
      rc = (int)r;
      goto fail;
    }
    n += (size_t)r;
  }
  b[n] = '\0';
  *out = b;
  *len = n;
  return 0;
fail:
  free(b);
  return rc;
}
