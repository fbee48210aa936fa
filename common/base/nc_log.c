#include "nc_log.h"
#include "nc_err.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int nc_log_current_level = NC_LOG_INFO;
static const char *log_ident = "nacos";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void nc_log_set_level(nc_log_level lvl) { nc_log_current_level = (int)lvl; }
void nc_log_set_ident(const char *ident) { log_ident = ident; }

int nc_log_parse_level(const char *name, nc_log_level *out) {
  for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++) {
    if (strcasecmp(name, level_names[i]) == 0) {
      *out = (nc_log_level)i;
      return 0;
    }
  }
  return NC_EINVAL;
}

int nc_log_reload_level(const char *name) {
  nc_log_level lvl;
  int old = nc_log_current_level;
  if (nc_log_parse_level(name, &lvl) != 0) {
    nc_log(NC_LOG_WARN, "reload: bad log-level '%s', keeping %s", name, level_names[old]);
    return NC_EINVAL;
  }
  nc_log_set_level(lvl);
  /* written whatever the new level: an operator asked for this reload */
  nc_log_write(NC_LOG_INFO, __FILE__, __LINE__, "reload: log-level %s -> %s", level_names[old],
               level_names[lvl]);
  return 0;
}

void nc_log_write(nc_log_level lvl, const char *file, int line, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);

  /* Under journald the timestamp is added for us; keep ours for plain
   * terminals and test logs, where ordering across processes matters. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  const char *base = strrchr(file, '/');
  base = base ? base + 1 : file;

  pthread_mutex_lock(&log_lock);
  fprintf(stderr, "%02d:%02d:%02d.%03ld %s[%d] %-5s %s (%s:%d)\n", tm.tm_hour, tm.tm_min,
          tm.tm_sec, ts.tv_nsec / 1000000, log_ident, (int)getpid(), level_names[lvl], msg, base,
          line);
  pthread_mutex_unlock(&log_lock);
}

/* Writes the escape form of byte c into out (room for 5 bytes incl. NUL);
 * returns its length. */
static size_t esc_byte(unsigned char c, char *out) {
  static const char hex[] = "0123456789abcdef";
  const char *named = NULL;
  switch (c) {
  case '\\': named = "\\\\"; break;
  case '"': named = "\\\""; break;
  case '\n': named = "\\n"; break;
  case '\r': named = "\\r"; break;
  case '\t': named = "\\t"; break;
  default: break;
  }
  if (named) {
    memcpy(out, named, 3);
    return 2;
  }
  if (c < 0x20 || c == 0x7f) {
    out[0] = '\\';
    out[1] = 'x';
    out[2] = hex[c >> 4];
    out[3] = hex[c & 0xf];
    out[4] = '\0';
    return 4;
  }
  out[0] = (char)c;
  out[1] = '\0';
  return 1;
}

const char *nc_log_esc_n(const char *s, size_t n, char *buf, size_t cap) {
  if (!buf || cap < 4)
    return "";
  if (!s) {
    snprintf(buf, cap, "(null)");
    return buf;
  }
  /* The "..." marker needs 3 bytes: cut keeps the last whole-escape
   * boundary that leaves room for it, used if the input turns out not to
   * fit (so a \xHH is never split). */
  size_t used = 0, cut = 0, keep = cap - 4;
  for (size_t i = 0; i < n; i++) {
    char piece[5];
    size_t len = esc_byte((unsigned char)s[i], piece);
    if (used + len > cap - 1) {
      memcpy(buf + cut, "...", 4);
      return buf;
    }
    memcpy(buf + used, piece, len);
    used += len;
    if (used <= keep)
      cut = used;
  }
  buf[used] = '\0';
  return buf;
}

const char *nc_log_esc(const char *s, char *buf, size_t cap) {
  return nc_log_esc_n(s, s ? strlen(s) : 0, buf, cap);
}
