#include "linebuf.h"
#include "nc_err.h"

#include <stdlib.h>
#include <string.h>

void nc_linebuf_init(nc_linebuf *lb, size_t max_line) {
  memset(lb, 0, sizeof(*lb));
  lb->max = max_line;
}

void nc_linebuf_free(nc_linebuf *lb) {
  free(lb->buf);
  lb->buf = NULL;
  lb->len = lb->cap = 0;
}

static int deliver(char *line, size_t len, nc_linebuf_cb cb, void *ud) {
  if (len && line[len - 1] == '\r')
    len--;
  line[len] = '\0';
  size_t i = 0;
  while (i < len && (line[i] == ' ' || line[i] == '\t'))
    i++;
  if (i == len)
    return 0;
  return cb(ud, line, len);
}

static int reserve(nc_linebuf *lb, size_t need) {
  if (need <= lb->cap)
    return 0;
  size_t nc = lb->cap ? lb->cap : 1024;
  while (nc < need)
    nc *= 2;
  if (nc > lb->max + 2)
    nc = lb->max + 2; /* the line, a '\r' and the NUL */
  if (nc < need)
    return NC_ETOOBIG;
  char *b = realloc(lb->buf, nc);
  if (!b)
    return NC_ENOMEM;
  lb->buf = b;
  lb->cap = nc;
  return 0;
}

int nc_linebuf_feed(nc_linebuf *lb, char *data, size_t n, nc_linebuf_cb cb, void *ud) {
  while (n) {
    char *nl = memchr(data, '\n', n);
    size_t chunk = nl ? (size_t)(nl - data) : n;
    /* A '\r' right before the '\n' does not count against the cap. */
    size_t total = lb->len + chunk;
    size_t eff = total;
    if (nl && eff && (chunk ? data[chunk - 1] : lb->buf[lb->len - 1]) == '\r')
      eff--;
    if (eff > lb->max && (nl || total > lb->max + 1))
      return NC_ETOOBIG;
    if (nl && lb->len == 0) {
      /* Fast path: the whole line is in data; terminate it in place. */
      if (deliver(data, chunk, cb, ud))
        return 1;
    } else {
      int r = reserve(lb, total + 1);
      if (r)
        return r;
      memcpy(lb->buf + lb->len, data, chunk);
      lb->len = total;
      if (!nl)
        return 0;
      lb->len = 0;
      r = deliver(lb->buf, total, cb, ud);
      /* An assembled line was the exception: give the buffer back. */
      nc_linebuf_free(lb);
      if (r)
        return 1;
    }
    data += chunk + 1;
    n -= chunk + 1;
  }
  return 0;
}
