/* nc_testrun: runs a CLI (nacosctl, example apps) with stdin, stdout and
 * stderr on pipes, collects its output and its exit status. Shared by the
 * nacosctl unit and integration tests. */
#ifndef NC_TESTRUN_H
#define NC_TESTRUN_H

#include <stddef.h>
#include <sys/types.h>

typedef struct nc_trun {
  pid_t pid;
  int out, err, in; /* in: the child's stdin, -1 once closed */
  char obuf[32768], ebuf[8192]; /* NUL-terminated; output past them is dropped */
  size_t olen, elen;
} nc_trun;

/* Starts argv[0] with argv (NULL-terminated). env_name/env_val: one
 * variable set in the child (env_name may be NULL). 0, or -1 when the
 * pipes or the fork failed. */
int nc_trun_spawn(nc_trun *p, const char *const *argv, const char *env_name, const char *env_val);
/* Collects output for up to ms; returns 1 as soon as stdout holds want
 * (want NULL: until both pipes reach EOF), else 0. */
int nc_trun_pump(nc_trun *p, const char *want, int ms);
/* Closes stdin, drains output for up to ms, reaps the child. Returns its
 * exit code, 128+signal when killed, or -1 when it could not be reaped. */
int nc_trun_finish(nc_trun *p, int ms);

#endif
