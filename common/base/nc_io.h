/* nc_io: the blocking-with-deadline socket pieces that the small HTTP/1.1
 * clients (the agent's health checks, nacosctl, plain and TLS) share: a
 * monotonic clock, a wait on one descriptor until a deadline, and reading a
 * source to its end into one growing buffer. Deadlines are nc_io_now_ms()
 * values. Any thread. */
#ifndef NC_IO_H
#define NC_IO_H

#include <stddef.h>

/* Monotonic milliseconds. */
long long nc_io_now_ms(void);

/* Waits for events (POLLIN/POLLOUT) on fd until deadline: 0, NC_ETIMEOUT,
 * or NC_EIO when poll fails. */
int nc_io_wait_fd(int fd, short events, long long deadline);

/* One read for nc_io_read_to_end: up to cap bytes into buf; returns the
 * count (> 0), 0 at the end of the stream, or a negative NC_E* that stops
 * the read (the function waits for readiness itself, so "try again" is its
 * own business). */
typedef long (*nc_io_read_fn)(void *ud, char *buf, size_t cap);

/* Reads until rd reports the end. *out (malloc'ed, NUL-terminated, the
 * caller's) and *len on 0; NC_EIO once the data would pass max bytes,
 * NC_ENOMEM, or rd's error (nothing returned then). */
int nc_io_read_to_end(nc_io_read_fn rd, void *ud, size_t max, char **out, size_t *len);

#endif
