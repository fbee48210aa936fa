/* nc_linebuf: newline framing with a hard line cap for the local socket
 * (ipc-protocol.md "Transport"). Bytes go in as they arrive; complete lines
 * come out through a callback. A line longer than the cap is an error, never
 * unbounded growth: the buffer grows geometrically up to the cap only. */
#ifndef NC_LINEBUF_H
#define NC_LINEBUF_H

#include <stddef.h>

typedef struct nc_linebuf {
  char *buf;
  size_t len, cap;
  size_t max; /* longest accepted line, without the '\n' */
} nc_linebuf;

/* line is NUL-terminated (without '\n' and a trailing '\r'), borrowed for
 * the call. Return nonzero to stop feeding (the rest of the data is
 * dropped, e.g. because the connection is being closed). */
typedef int (*nc_linebuf_cb)(void *ud, char *line, size_t len);

void nc_linebuf_init(nc_linebuf *lb, size_t max_line);
void nc_linebuf_free(nc_linebuf *lb);

/* Delivers every complete line in data, in order. Returns 0, 1 when the
 * callback asked to stop, NC_ETOOBIG when a line exceeded the cap (lines
 * before it were delivered), or NC_ENOMEM. Empty lines are skipped.
 * data is modified: a line that arrives whole is NUL-terminated in place
 * and handed out without a copy (most requests); only a line split across
 * reads is assembled in the buffer, which is released again afterwards so
 * that idle connections hold no buffer. */
int nc_linebuf_feed(nc_linebuf *lb, char *data, size_t n, nc_linebuf_cb cb, void *ud);

#endif
