/* nc_log: levelled logging to stderr (journald under systemd). The level
 * check happens before formatting, so disabled levels cost one compare.
 * Thread-safe: each line is written with a single fprintf under a lock. */
#ifndef NC_LOG_H
#define NC_LOG_H

#include <stddef.h>

typedef enum { NC_LOG_ERROR = 0, NC_LOG_WARN, NC_LOG_INFO, NC_LOG_DEBUG, NC_LOG_TRACE } nc_log_level;

extern int nc_log_current_level;

void nc_log_set_level(nc_log_level lvl);
/* Accepts error|warn|info|debug|trace; returns 0 or NC_EINVAL. */
int nc_log_parse_level(const char *name, nc_log_level *out);
/* SIGHUP: applies a re-read log level name; logs what changed (or why
 * the value is refused, keeping the current level). Returns 0 or NC_EINVAL. */
int nc_log_reload_level(const char *name);
/* Prefix every line with this program name (static string, not copied). */
void nc_log_set_ident(const char *ident);
void nc_log_write(nc_log_level lvl, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Client-supplied strings (service names, labels, data ids, ...) go through
 * nc_log_esc before they reach a log line, so a newline or other control
 * byte in them cannot forge or split a line. Backslash, '"' and bytes below
 * 0x20 or equal to 0x7f are written as \\, \", \n, \r, \t or \xHH;
 * every other byte (UTF-8 included) is copied. The result is NUL-terminated
 * in buf (cap bytes, cap >= 4); an input that does not fit ends in "...".
 * NULL is written as "(null)". Returns buf, so it can stand as a %s
 * argument. Thread-safe (no state). */
const char *nc_log_esc(const char *s, char *buf, size_t cap);
/* Same for n bytes of s (which may hold NUL bytes, written as \x00). */
const char *nc_log_esc_n(const char *s, size_t n, char *buf, size_t cap);

/* Escaped s in a buffer that lives until the end of the enclosing block
 * (a compound literal): nc_info("svc %s", NC_LOG_ESC(name)). Longer input
 * is cut to NC_LOG_ESC_MAX - 4 bytes of output plus "...". */
#define NC_LOG_ESC_MAX 256
#define NC_LOG_ESC(s) nc_log_esc((s), (char[NC_LOG_ESC_MAX]){0}, NC_LOG_ESC_MAX)

#define nc_log(lvl, ...)                                                     \
  do {                                                                       \
    if ((int)(lvl) <= nc_log_current_level)                                  \
      nc_log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);                  \
  } while (0)

#define nc_error(...) nc_log(NC_LOG_ERROR, __VA_ARGS__)
#define nc_warn(...) nc_log(NC_LOG_WARN, __VA_ARGS__)
#define nc_info(...) nc_log(NC_LOG_INFO, __VA_ARGS__)
#define nc_debug(...) nc_log(NC_LOG_DEBUG, __VA_ARGS__)
#define nc_trace(...) nc_log(NC_LOG_TRACE, __VA_ARGS__)

#endif
