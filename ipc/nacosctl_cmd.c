/* nacosctl_cmd: the commands. Long-running ones (register, watch, config
 * watch) wait in poll() on the library's fd plus a self-pipe written by the
 * signal handler, so Ctrl-C is acted on outside the handler. */
#include "nacosctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONTENT (16 * 1024 * 1024)

static int sig_pipe[2] = {-1, -1};

typedef struct watch_ctx watch_ctx;
static int begin_events(nc_ipc *c, watch_ctx *w);

/* ---- agent connection and errors --------------------------------------- */

/* Reports a failed request and picks the exit code: whatever the agent
 * answered (a protocol error code, even one sent just before it hung up)
 * is 1, a local argument check 2, and the rest (no agent, link lost) 3. */
int ctl_fail(nc_ipc *c, const char *what, int err) {
  fprintf(stderr, "%s: %s: %s: %s\n", ctl_prog, what, nc_ipc_errcode(c), nc_ipc_errmsg(c));
  switch (err) {
  case NC_IPC_E_BAD_REQUEST:
  case NC_IPC_E_TOO_LARGE:
  case NC_IPC_E_NOT_FOUND:
  case NC_IPC_E_CONFLICT:
  case NC_IPC_E_FORBIDDEN:
  case NC_IPC_E_UNAVAILABLE:
  case NC_IPC_E_TIMEOUT:
  case NC_IPC_E_INTERNAL:
  case NC_IPC_E_UNKNOWN:
    return CTL_EXIT_AGENT;
  case NC_IPC_E_INVAL:
    return CTL_EXIT_USAGE;
  default:
    return CTL_EXIT_UNREACHABLE;
  }
}

int ctl_open_agent(const ctl_args *a, nc_ipc **out) {
  nc_ipc *c = nc_ipc_new();
  int err;
  *out = NULL;
  if (!c) {
    fprintf(stderr, "%s: out of memory\n", ctl_prog);
    return CTL_EXIT_UNREACHABLE;
  }
  nc_ipc_set_timeout(c, a->timeout_ms);
  /* A one-shot tool: let the agent's own max-line decide (it answers
   * TOO_LARGE), rather than assume its default. */
  nc_ipc_set_max_request(c, (size_t)256 * 1024 * 1024);
  err = nc_ipc_connect(c, a->socket);
  if (!err)
    err = nc_ipc_hello(c, "nacosctl", NC_IPC_TIMEOUT_DEFAULT, NULL);
  if (err) {
    int rc = ctl_fail(c, "connect", err);
    nc_ipc_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

static void on_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  if (write(sig_pipe[1], &b, 1) < 0) {
    /* pipe full: a wake-up is already pending */
  }
  errno = saved;
}

static int install_signals(void) {
  if (pipe(sig_pipe) < 0)
    return -1;
  for (int i = 0; i < 2; i++) {
    fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
    fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
    return -1;
  /* SIGPIPE stays default: `nacosctl watch svc | head -1` must end when
   * head does (the library writes to the agent with MSG_NOSIGNAL). */
  return 0;
}

/* Runs the agent's events through the callback until a signal (returns 0)
 * or the connection ends (returns CTL_EXIT_UNREACHABLE). */
static int run_until_signal(nc_ipc *c) {
  for (;;) {
    struct pollfd p[2] = {{.fd = nc_ipc_fd(c), .events = POLLIN},
                          {.fd = sig_pipe[0], .events = POLLIN}};
    if (p[0].fd < 0) {
      fprintf(stderr, "%s: connection to the agent lost\n", ctl_prog);
      return CTL_EXIT_UNREACHABLE;
    }
    int r = poll(p, 2, -1);
    if (r < 0 && errno != EINTR) {
      perror("poll");
      return CTL_EXIT_UNREACHABLE;
    }
    if (p[1].revents & POLLIN)
      return 0;
    if (p[0].revents) {
      int n = nc_ipc_process(c);
      if (n < 0)
        return ctl_fail(c, "events", n);
    }
  }
}

/* ---- commands ---------------------------------------------------------- */

/* Exit 3 without an upstream, after printing: a probe like
 * `nacosctl status >/dev/null` must not pass while nothing reaches the
 * server (the agent still answers from its cache then). */
int ctl_cmd_status(nc_ipc *c, const ctl_args *a) {
  cJSON *r = NULL;
  int err = nc_ipc_status(c, NC_IPC_TIMEOUT_DEFAULT, &r);
  if (err)
    return ctl_fail(c, "status", err);
  if (a->json)
    ctl_print_json_line(r);
  else
    ctl_print_kv_block(r);
  int up = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "connected"));
  cJSON_Delete(r);
  if (!up) {
    fprintf(stderr, "%s: status: the agent has no upstream server connection\n", ctl_prog);
    return CTL_EXIT_UNREACHABLE;
  }
  return 0;
}

void ctl_instance_from_args(const ctl_args *a, nc_ipc_instance *in) {
  nc_ipc_instance_init(in);
  in->ns = a->ns;
  in->group = a->group;
  in->cluster = a->cluster;
  in->service = a->pos[0];
  in->ip = a->ip;
  in->port = a->port;
}

static void print_registered(const ctl_args *a, const char *iid, int applied) {
  if (a->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", "registered");
    cJSON_AddStringToObject(o, "instance_id", iid);
    cJSON_AddBoolToObject(o, "applied", applied);
    if (a->once)
      cJSON_AddBoolToObject(o, "detached", 1);
    ctl_print_json_line(o);
    cJSON_Delete(o);
    return;
  }
  const char *pending = applied ? "" : " (pending: the agent has no upstream yet)";
  if (a->once)
    printf("registered %s%s; held by the agent until `%s deregister %s %s%s%s:%d`\n", iid, pending,
           ctl_prog, a->pos[0], strchr(a->ip, ':') ? "[" : "", a->ip, strchr(a->ip, ':') ? "]" : "",
           a->port);
  else
    printf("registered %s%s; Ctrl-C to deregister\n", iid, pending);
  fflush(stdout);
}

int ctl_cmd_register(nc_ipc *c, const ctl_args *a) {
  nc_ipc_instance in;
  char *iid = NULL;
  int applied = 1, rc = 0, err;
  ctl_instance_from_args(a, &in);
  if (a->have_weight)
    in.weight = a->weight;
  in.metadata = a->meta;
  in.detached = a->once;
  /* Before registering: a Ctrl-C right after must still deregister. */
  if (!a->once && begin_events(c, NULL) < 0)
    return CTL_EXIT_AGENT;
  err = nc_ipc_register(c, &in, NC_IPC_TIMEOUT_DEFAULT, &iid, &applied);
  if (err)
    return ctl_fail(c, "register", err);
  print_registered(a, iid, applied);
  if (a->once) {
    free(iid);
    return 0;
  }
  rc = run_until_signal(c);
  if (rc == 0) {
    err = nc_ipc_deregister(c, &in, NC_IPC_TIMEOUT_DEFAULT);
    if (err) {
      rc = ctl_fail(c, "deregister", err);
    } else if (a->json) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "event", "deregistered");
      cJSON_AddStringToObject(o, "instance_id", iid);
      ctl_print_json_line(o);
      cJSON_Delete(o);
    } else {
      printf("deregistered %s\n", iid);
    }
  }
  free(iid);
  return rc;
}

int ctl_cmd_instances(nc_ipc *c, const ctl_args *a) {
  cJSON *r = NULL;
  int err =
      nc_ipc_instances(c, a->ns, a->group, a->pos[0], a->healthy_only, NC_IPC_TIMEOUT_DEFAULT, &r);
  if (err)
    return ctl_fail(c, "instances", err);
  if (a->json) {
    ctl_print_json_line(r);
  } else {
    ctl_print_hosts(cJSON_GetObjectItemCaseSensitive(r, "hosts"));
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "stale")))
      fprintf(stderr, "%s: note: served from the agent's cache (no upstream)\n", ctl_prog);
  }
  cJSON_Delete(r);
  return 0;
}

typedef struct watch_ctx {
  const ctl_args *a;
  const char *key_field; /* "service" or "data_id" */
  const char *event;     /* "naming.changed" or "config.changed" */
} watch_ctx;

static int same_or_default(const char *want, const char *got, const char *def) {
  if (!want || !*want)
    want = def;
  if (!got || !*got)
    got = def;
  return !strcmp(want, got) || (!strcmp(def, "") && !strcmp(got, "public") && !*want);
}

static void on_watch_event(nc_ipc *c, const char *name, const cJSON *msg, void *ud) {
  (void)c;
  const watch_ctx *w = ud;
  if (!strcmp(name, "agent.upstream")) {
    /* Changes may stall while the agent has no server: say so. */
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "state"));
    const char *server = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "server"));
    if (w->a->json) {
      ctl_print_json_line(msg);
    } else {
      char ts[16];
      ctl_now_text(ts, sizeof(ts));
      fprintf(stderr, "== %s agent upstream %s%s%s\n", ts, state ? state : "?", server ? " " : "",
              server ? server : "");
    }
    return;
  }
  if (strcmp(name, w->event))
    return;
  const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, w->key_field));
  const char *grp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "group"));
  const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "namespace"));
  if (!key || strcmp(key, w->a->pos[0]) || !same_or_default(w->a->group, grp, "DEFAULT_GROUP") ||
      !same_or_default(w->a->ns, ns, ""))
    return;
  if (w->a->json) {
    ctl_print_json_line(msg);
  } else if (!strcmp(w->event, "naming.changed")) {
    char ts[16];
    ctl_now_text(ts, sizeof(ts));
    const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(msg, "hosts");
    printf("== %s %s: %d instance(s)\n", ts, key, cJSON_GetArraySize(hosts));
    ctl_print_hosts(hosts);
  } else {
    ctl_print_config_state(msg, key);
  }
}

/* Ctrl-C / SIGTERM handling for a long-running command, and w's events
 * (w NULL: none); 0 or -1 after saying why. */
static int begin_events(nc_ipc *c, watch_ctx *w) {
  if (install_signals() < 0) {
    perror("signals");
    return -1;
  }
  if (w)
    nc_ipc_set_event_cb(c, on_watch_event, w);
  return 0;
}

int ctl_cmd_watch(nc_ipc *c, const ctl_args *a) {
  watch_ctx w = {a, "service", "naming.changed"};
  cJSON *r = NULL;
  if (begin_events(c, &w) < 0)
    return CTL_EXIT_AGENT;
  int err = nc_ipc_subscribe(c, a->ns, a->group, a->pos[0], NULL, NC_IPC_TIMEOUT_DEFAULT, &r);
  if (err)
    return ctl_fail(c, "watch", err);
  if (a->json) {
    /* The starting point, shaped like the events that follow. */
    cJSON_AddStringToObject(r, "event", "naming.subscribed");
    cJSON_AddStringToObject(r, "service", a->pos[0]);
    ctl_print_json_line(r);
  } else {
    char ts[16];
    ctl_now_text(ts, sizeof(ts));
    const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(r, "hosts");
    printf("== %s %s: %d instance(s)%s\n", ts, a->pos[0], cJSON_GetArraySize(hosts),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "stale")) ? " (stale, from cache)"
                                                                      : "");
    ctl_print_hosts(hosts);
  }
  cJSON_Delete(r);
  return run_until_signal(c);
}

/* Reads all of fd (stdin or a file) up to MAX_CONTENT; caller frees. */
static char *read_all(int fd, const char *name) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (len + 1 >= cap) {
      if (cap >= MAX_CONTENT) {
        fprintf(stderr, "%s: %s: larger than %d bytes\n", ctl_prog, name, MAX_CONTENT);
        goto fail;
      }
      char *nb = realloc(buf, cap *= 2);
      if (!nb)
        goto fail;
      buf = nb;
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      fprintf(stderr, "%s: %s: %s\n", ctl_prog, name, strerror(errno));
      goto fail;
    }
    if (n == 0) {
      buf[len] = '\0';
      if (strlen(buf) != len) {
        fprintf(stderr, "%s: %s: content contains NUL bytes\n", ctl_prog, name);
        goto fail;
      }
      return buf;
    }
    len += (size_t)n;
  }
  return NULL;
fail:
  free(buf);
  return NULL;
}

int ctl_cmd_config_get(nc_ipc *c, const ctl_args *a) {
  cJSON *r = NULL;
  int err = nc_ipc_config_get(c, a->ns, a->group, a->pos[0], NC_IPC_TIMEOUT_DEFAULT, &r);
  if (err)
    return ctl_fail(c, "config get", err);
  if (a->json) {
    ctl_print_json_line(r);
  } else {
    const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "content"));
    fputs(content ? content : "", stdout);
    fflush(stdout);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "stale")))
      fprintf(stderr, "%s: note: served from the agent's cache (no upstream)\n", ctl_prog);
  }
  cJSON_Delete(r);
  return 0;
}

int ctl_cmd_config_put(nc_ipc *c, const ctl_args *a) {
  cJSON *r = NULL;
  char *owned = NULL;
  const char *content = NULL, *id = a->pos[0];
  int err, rc = 0;
  if (a->file) {
    int fd = open(a->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fprintf(stderr, "%s: %s: %s\n", ctl_prog, a->file, strerror(errno));
      return CTL_EXIT_USAGE;
    }
    owned = read_all(fd, a->file);
    close(fd);
    if (!owned)
      return CTL_EXIT_USAGE;
    content = owned;
  } else if (!strcmp(a->pos[1], "-")) {
    if (!(owned = read_all(0, "stdin")))
      return CTL_EXIT_USAGE;
    content = owned;
  } else {
    content = a->pos[1];
  }
  err = nc_ipc_config_publish(c, a->ns, a->group, id, content, a->cas, NC_IPC_TIMEOUT_DEFAULT, &r);
  if (err) {
    rc = ctl_fail(c, "config put", err);
  } else if (a->json) {
    ctl_print_json_line(r);
  } else {
    const char *md5 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "md5"));
    printf("published %s md5=%s\n", id, md5 ? md5 : "-");
    fflush(stdout);
  }
  free(owned);
  cJSON_Delete(r);
  return rc;
}

/* A missing key is exit 1 with NOT_FOUND, like config get: a script that
 * removes what it believes is there learns it was not. */
int ctl_cmd_config_rm(nc_ipc *c, const ctl_args *a) {
  int existed = -1;
  int err =
      nc_ipc_config_remove_ex(c, a->ns, a->group, a->pos[0], NC_IPC_TIMEOUT_DEFAULT, &existed);
  if (err)
    return ctl_fail(c, "config rm", err);
  if (existed == 0) {
    fprintf(stderr, "%s: config rm: NOT_FOUND: config '%s' did not exist\n", ctl_prog, a->pos[0]);
    return CTL_EXIT_AGENT;
  }
  if (a->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data_id", a->pos[0]);
    cJSON_AddBoolToObject(o, "existed", 1);
    ctl_print_json_line(o);
    cJSON_Delete(o);
  } else {
    printf("removed %s\n", a->pos[0]);
    fflush(stdout);
  }
  return 0;
}

int ctl_cmd_config_watch(nc_ipc *c, const ctl_args *a) {
  watch_ctx w = {a, "data_id", "config.changed"};
  cJSON *r = NULL;
  if (begin_events(c, &w) < 0)
    return CTL_EXIT_AGENT;
  int err = nc_ipc_config_listen(c, a->ns, a->group, a->pos[0], NC_IPC_TIMEOUT_DEFAULT, &r);
  if (err)
    return ctl_fail(c, "config watch", err);
  if (a->json) {
    cJSON_AddStringToObject(r, "event", "config.listening");
    cJSON_AddStringToObject(r, "data_id", a->pos[0]);
    ctl_print_json_line(r);
  } else {
    ctl_print_config_state(r, a->pos[0]);
  }
  cJSON_Delete(r);
  return run_until_signal(c);
}
