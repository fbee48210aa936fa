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
