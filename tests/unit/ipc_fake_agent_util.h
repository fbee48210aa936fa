/* The scripted fake agent shared by the nc_ipc client test programs
 * (test_ipc_client*.c): a thread that listens on a temp Unix socket, reads
 * request lines, checks their op and answers with scripted lines in which
 * "$N" stands for the id of the N-th request it read. Also an event
 * recorder for nc_ipc_set_event_cb. Header-only (static inline: a program
 * uses what it needs); include after cmocka.h. */
#ifndef IPC_FAKE_AGENT_UTIL_H
#define IPC_FAKE_AGENT_UTIL_H

#include "nc_ipc.h"
#include "nc_ipc_ops.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct step {
  const char *expect_op; /* read one request line and check its op */
  const char *send;      /* line(s) to write, "$N" = id of request N (1-based) */
  int sleep_ms;
  int close;         /* close the connection and stop */
  int repeat;        /* send this many times (0 = once) */
  size_t read_bytes; /* read (and discard) this many bytes first */
} step;

#define MAX_REQ 16

typedef struct fake {
  char dir[64];
  char path[128];
  int lfd;
  pthread_t th;
  const step *script;
  size_t nsteps;
  long long ids[MAX_REQ];
  cJSON *reqs[MAX_REQ];
  int nreq;
  int op_mismatch;
  int joined;
} fake;

static inline void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static inline int write_full(int fd, const char *s, size_t len) {
  while (len) {
    ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
    if (n <= 0)
      return -1;
    s += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Replaces $N with the recorded id of request N. Caller frees. */
static inline char *expand(const fake *f, const char *tpl) {
  size_t cap = strlen(tpl) + 64, len = 0;
  char *out = malloc(cap);
  for (const char *p = tpl; *p; p++) {
    if (len + 32 >= cap) {
      char *nb = realloc(out, cap *= 2);
      if (!nb)
        break;
      out = nb;
    }
    if (*p == '$' && p[1] >= '1' && p[1] <= '9') {
      int n = p[1] - '1';
      len += (size_t)sprintf(out + len, "%lld", n < f->nreq ? f->ids[n] : -1LL);
      p++;
    } else {
      out[len++] = *p;
    }
  }
  out[len] = '\0';
  return out;
}

static inline void *fake_main(void *arg) {
  fake *f = arg;
  int fd = accept(f->lfd, NULL, NULL);
  char buf[1 << 16];
  size_t blen = 0;
  if (fd < 0)
    return NULL;
  for (size_t i = 0; i < f->nsteps; i++) {
    const step *s = &f->script[i];
    for (size_t got = 0; got < s->read_bytes;) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0)
        goto out;
      got += (size_t)n;
    }
    if (s->expect_op) {
      char *nl;
      while (!(nl = memchr(buf, '\n', blen))) {
        ssize_t n = recv(fd, buf + blen, sizeof(buf) - blen, 0);
        if (n <= 0)
          goto out;
        blen += (size_t)n;
      }
      cJSON *req = cJSON_ParseWithLength(buf, (size_t)(nl - buf));
      memmove(buf, nl + 1, blen - (size_t)(nl + 1 - buf));
      blen -= (size_t)(nl + 1 - buf);
      const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(req, "op"));
      if (!op || strcmp(op, s->expect_op))
        f->op_mismatch++;
      if (f->nreq < MAX_REQ) {
        f->ids[f->nreq] = (long long)cJSON_GetNumberValue(cJSON_GetObjectItem(req, "id"));
        f->reqs[f->nreq++] = req;
      } else {
        cJSON_Delete(req);
      }
    }
    if (s->sleep_ms)
      sleep_ms(s->sleep_ms);
    if (s->send) {
      char *line = expand(f, s->send);
      int times = s->repeat ? s->repeat : 1;
      for (int k = 0; k < times; k++)
        if (write_full(fd, line, strlen(line)) < 0)
          break;
      free(line);
    }
    if (s->close)
      goto out;
  }
  /* Hold the connection until the client hangs up. */
  while (recv(fd, buf, sizeof(buf), 0) > 0)
    ;
out:
  close(fd);
  return NULL;
}

static inline fake *fake_start(const step *script, size_t n) {
  fake *f = calloc(1, sizeof(*f));
  strcpy(f->dir, "/tmp/nc_ipc_test.XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof(f->path), "%s/agent.sock", f->dir);
  f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strcpy(sa.sun_path, f->path);
  assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(f->lfd, 4), 0);
  f->script = script;
  f->nsteps = n;
  assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
  return f;
}

/* Waits for the agent thread (the client must have closed first); after
 * this the recorded requests may be read. */
static inline void fake_join(fake *f) {
  if (!f->joined)
    pthread_join(f->th, NULL);
  f->joined = 1;
}

static inline void fake_stop(fake *f) {
  fake_join(f);
  close(f->lfd);
  unlink(f->path);
  rmdir(f->dir);
  for (int i = 0; i < f->nreq; i++)
    cJSON_Delete(f->reqs[i]);
  assert_int_equal(f->op_mismatch, 0);
  free(f);
}

static inline nc_ipc *client_for(fake *f) {
  nc_ipc *c = nc_ipc_new();
  assert_non_null(c);
  assert_int_equal(nc_ipc_connect(c, f->path), 0);
  return c;
}

#define RUN_FAKE(script) fake_start((script), sizeof(script) / sizeof((script)[0]))

typedef struct seen {
  int n;
  char names[8][32];
  char services[8][32];
} seen;

static inline void on_event(nc_ipc *c, const char *name, const cJSON *msg, void *ud) {
  (void)c;
  seen *s = ud;
  if (s->n < 8) {
    snprintf(s->names[s->n], 32, "%s", name);
    const char *svc = cJSON_GetStringValue(cJSON_GetObjectItem(msg, "service"));
    snprintf(s->services[s->n], 32, "%s", svc ? svc : "");
  }
  s->n++;
}

/* An instance of "svc" at 10.0.0.1:port, the rest left at the defaults. */
static inline void svc_instance(nc_ipc_instance *in, int port) {
  nc_ipc_instance_init(in);
  in->service = "svc";
  in->ip = "10.0.0.1";
  in->port = port;
}

#endif
