/* example_app: how an app uses nc_ipc from its own event loop.
 *
 *   nc_example_app [SERVICE [PORT [WATCHED_SERVICE]]]
 *
 * Registers 127.0.0.1:PORT as an instance of SERVICE (default "example",
 * 8080), subscribes to WATCHED_SERVICE (default: SERVICE), prints every
 * naming.changed event, and deregisters on Ctrl-C. The socket path comes
 * from $NACOS_AGENT_SOCKET or the default /run/nacos-agent/agent.sock.
 *
 * The loop is a plain poll() over the app's own descriptors (here only a
 * self-pipe for signals) plus nc_ipc_fd(); nc_ipc_process() never blocks.
 * If the agent restarts, the app reconnects with back-off and registers and
 * subscribes again (the agent drops what a closed connection held). */
/* sigaction and friends; the project's build defines this already, an app
 * built on its own (cc -std=c11 example_app.c -lnc_ipc -lcjson) needs it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "nc_ipc.h"
#include "nc_ipc_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  if (write(sig_pipe[1], &b, 1) < 0) {
    /* a wake-up is already pending */
  }
  errno = saved;
}

/* Called from nc_ipc_process(), i.e. from our loop, never from a signal or
 * another thread; msg is only valid during the call. */
static void on_event(nc_ipc *c, const char *name, const cJSON *msg, void *ud) {
  (void)c;
  (void)ud;
  if (strcmp(name, "agent.upstream") == 0) {
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "state"));
    printf("agent upstream: %s\n", state ? state : "?");
  }
  if (strcmp(name, "naming.changed") != 0)
    return;
  const char *svc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "service"));
  const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(msg, "hosts");
  printf("%s now has %d instance(s):\n", svc ? svc : "?", cJSON_GetArraySize(hosts));
  const cJSON *h;
  cJSON_ArrayForEach(h, hosts) {
    const char *ip = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "ip"));
    printf("  %s:%d healthy=%s\n", ip ? ip : "?",
           (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(h, "port")),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "healthy")) ? "yes" : "no");
  }
  fflush(stdout);
}

/* Everything this app holds at the agent. The agent forgets it when our
 * connection ends, so after a reconnect it is simply set up again. */
typedef struct app {
  nc_ipc *c;
  nc_ipc_instance inst;
  const char *watched;
  char *instance_id;
} app;

static int session_start(app *a) {
  int err, applied = 0;
  cJSON *snap = NULL;
  if ((err = nc_ipc_connect(a->c, NULL)) || (err = nc_ipc_hello(a->c, "example_app", 0, NULL)))
    goto fail;
  free(a->instance_id);
  a->instance_id = NULL;
  if ((err = nc_ipc_register(a->c, &a->inst, NC_IPC_TIMEOUT_DEFAULT, &a->instance_id, &applied)))
    goto fail;
  printf("registered %s%s\n", a->instance_id,
         applied ? "" : " (agent has no server yet: applied when it connects)");
  if ((err = nc_ipc_subscribe(a->c, NULL, NULL, a->watched, NULL, NC_IPC_TIMEOUT_DEFAULT, &snap)))
    goto fail;
  printf("subscribed to %s: %d instance(s) now\n", a->watched,
         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(snap, "hosts")));
  cJSON_Delete(snap);
  fflush(stdout);
  return 0;
fail:
  fprintf(stderr, "agent: %s: %s\n", nc_ipc_errcode(a->c), nc_ipc_errmsg(a->c));
  return err;
}

/* Sleeps ms unless a signal arrives first (returns 1 then). */
static int sleep_or_signal(int ms) {
  struct pollfd p = {.fd = sig_pipe[0], .events = POLLIN};
  return poll(&p, 1, ms) > 0;
}

int main(int argc, char **argv) {
  app a;
  int rc = 1, backoff_ms = 100;

  memset(&a, 0, sizeof(a));
  nc_ipc_instance_init(&a.inst);
  a.inst.service = argc > 1 ? argv[1] : "example";
  a.inst.port = argc > 2 ? atoi(argv[2]) : 8080;
  a.inst.ip = "127.0.0.1";
  a.watched = argc > 3 ? argv[3] : a.inst.service;

  if (pipe(sig_pipe) < 0) {
    perror("pipe");
    return 1;
  }
  fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  a.c = nc_ipc_new();
  if (!a.c)
    goto out;
  nc_ipc_set_event_cb(a.c, on_event, NULL);
  if (session_start(&a) != 0)
    goto out; /* the first attempt must work: a misconfigured path should fail loudly */

  for (;;) {
    /* Events that arrived during the blocking calls above are already
     * queued; nc_ipc_fd() is readable for them too, so no special case.
     * The descriptor also survives reconnects. */
    struct pollfd p[2] = {{.fd = nc_ipc_fd(a.c), .events = POLLIN},
                          {.fd = sig_pipe[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) {
      perror("poll");
      goto out;
    }
    if (p[1].revents & POLLIN)
      break;
    if (!p[0].revents || nc_ipc_process(a.c) >= 0)
      continue;
    /* The agent went away (restart, upgrade): our instance went with the
     * connection. Reconnect with back-off and set everything up again. */
    fprintf(stderr, "agent connection lost (%s); reconnecting\n", nc_ipc_errmsg(a.c));
    for (;;) {
      if (sleep_or_signal(backoff_ms))
        goto out_signal;
      if (session_start(&a) == 0)
        break;
      if (nc_ipc_connected(a.c)) {
        /* connected but a request failed: start over on a clean link */
        nc_ipc_free(a.c);
        if (!(a.c = nc_ipc_new()))
          goto out;
        nc_ipc_set_event_cb(a.c, on_event, NULL);
      }
      backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
    }
    backoff_ms = 100;
  }
out_signal:
  rc = 0;
out:
  if (a.c && nc_ipc_connected(a.c) && a.instance_id) {
    if (nc_ipc_deregister(a.c, &a.inst, NC_IPC_TIMEOUT_DEFAULT) == 0)
      printf("deregistered %s\n", a.instance_id);
    else
      fprintf(stderr, "deregister: %s: %s\n", nc_ipc_errcode(a.c), nc_ipc_errmsg(a.c));
  }
  free(a.instance_id);
  nc_ipc_free(a.c);
  return rc;
}
