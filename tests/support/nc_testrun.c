#include "nc_testrun.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int nc_trun_spawn(nc_trun *p, const char *const *argv, const char *env_name, const char *env_val) {
  int o[2], e[2], i[2];
  memset(p, 0, sizeof(*p));
  p->in = -1;
  if (pipe2(o, O_CLOEXEC) != 0)
    return -1;
  if (pipe2(e, O_CLOEXEC) != 0)
    goto close_o;
  if (pipe2(i, O_CLOEXEC) != 0)
    goto close_e;
  p->pid = fork();
  if (p->pid < 0)
    goto close_i;
  if (p->pid == 0) {
    dup2(i[0], 0);
    dup2(o[1], 1);
    dup2(e[1], 2);
    if (env_name)
      setenv(env_name, env_val, 1);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(o[1]);
  close(e[1]);
  close(i[0]);
  p->out = o[0];
  p->err = e[0];
  p->in = i[1];
  return 0;
close_i:
  close(i[0]);
  close(i[1]);
close_e:
  close(e[0]);
  close(e[1]);
close_o:
  close(o[0]);
  close(o[1]);
  return -1;
}

/* Appends what fd has to buf; 0 at EOF or error. */
static int take(int fd, char *buf, size_t cap, size_t *len) {
  ssize_t n = read(fd, buf + *len, cap - 1 - *len);
  if (n <= 0)
    return 0;
  buf[*len += (size_t)n] = '\0';
  return 1;
}

int nc_trun_pump(nc_trun *p, const char *want, int ms) {
  long long deadline = mono_ms() + ms;
  int open_out = 1, open_err = 1;
  for (;;) {
    if (want && strstr(p->obuf, want))
      return 1;
    if (!open_out && !open_err)
      return 0;
    long long left = deadline - mono_ms();
    if (left <= 0)
      return 0;
    struct pollfd pf[2] = {{.fd = open_out ? p->out : -1, .events = POLLIN},
                           {.fd = open_err ? p->err : -1, .events = POLLIN}};
    if (poll(pf, 2, (int)left) <= 0)
      continue;
    if (pf[0].revents)
      open_out = take(p->out, p->obuf, sizeof(p->obuf), &p->olen);
    if (pf[1].revents)
      open_err = take(p->err, p->ebuf, sizeof(p->ebuf), &p->elen);
  }
}

int nc_trun_finish(nc_trun *p, int ms) {
  int st = 0;
  if (p->in >= 0)
    close(p->in);
  p->in = -1;
  nc_trun_pump(p, NULL, ms);
  pid_t r = waitpid(p->pid, &st, 0);
  close(p->out);
  close(p->err);
  if (r != p->pid)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
