/* nc_log: levelled logging to stderr (journald under systemd). The level
 * check happens before formatting, so disabled levels cost one compare.
 * Thread-safe: each line is written with a single fprintf under a lock. */
#ifndef NC_LOG_H
#define NC_LOG_H

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
