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
 * self-pipe for signals) plus nc_ipc_fd(); nc_ipc_process() never blocks. */
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

int main(int argc, char **argv) {
  const char *service = argc > 1 ? argv[1] : "example";
  int port = argc > 2 ? atoi(argv[2]) : 8080;
  const char *watched = argc > 3 ? argv[3] : service;
  nc_ipc *c = NULL;
  nc_ipc_instance inst;
  char *instance_id = NULL;
  int rc = 1, err, registered = 0;

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

  c = nc_ipc_new();
  if (!c)
    goto out;
  nc_ipc_set_event_cb(c, on_event, NULL);
  if ((err = nc_ipc_connect(c, NULL)) || (err = nc_ipc_hello(c, "example_app", 0, NULL))) {
    fprintf(stderr, "agent: %s: %s\n", nc_ipc_errcode(c), nc_ipc_errmsg(c));
    goto out;
  }

  nc_ipc_instance_init(&inst);
  inst.service = service;
  inst.ip = "127.0.0.1";
  inst.port = port;
  int applied = 0;
  if ((err = nc_ipc_register(c, &inst, NC_IPC_TIMEOUT_DEFAULT, &instance_id, &applied))) {
    fprintf(stderr, "register: %s: %s\n", nc_ipc_errcode(c), nc_ipc_errmsg(c));
    goto out;
  }
  registered = 1;
  printf("registered %s%s\n", instance_id, applied ? "" : " (agent offline: applied on connect)");

  cJSON *snap = NULL;
  if ((err = nc_ipc_subscribe(c, NULL, NULL, watched, NULL, NC_IPC_TIMEOUT_DEFAULT, &snap))) {
    fprintf(stderr, "subscribe: %s: %s\n", nc_ipc_errcode(c), nc_ipc_errmsg(c));
    goto out;
  }
  printf("subscribed to %s: %d instance(s) now\n", watched,
         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(snap, "hosts")));
  cJSON_Delete(snap);
  fflush(stdout);

  for (;;) {
    /* Events that arrived during the blocking calls above are already
     * queued; nc_ipc_fd() is readable for them too, so no special case. */
    struct pollfd p[2] = {{.fd = nc_ipc_fd(c), .events = POLLIN},
                          {.fd = sig_pipe[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) {
      perror("poll");
      goto out;
    }
    if (p[1].revents & POLLIN)
      break;
    if (p[0].revents && nc_ipc_process(c) < 0) {
      fprintf(stderr, "agent connection lost: %s\n", nc_ipc_errmsg(c));
      registered = 0; /* the agent dropped our instance with the socket */
      goto out;
    }
  }
  rc = 0;
out:
  if (registered) {
    if (nc_ipc_deregister(c, &inst, NC_IPC_TIMEOUT_DEFAULT) == 0)
      printf("deregistered %s\n", instance_id);
    else
      fprintf(stderr, "deregister: %s: %s\n", nc_ipc_errcode(c), nc_ipc_errmsg(c));
  }
  free(instance_id);
  nc_ipc_free(c);
  return rc;
}
