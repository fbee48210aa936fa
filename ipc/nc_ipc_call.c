/* nc_ipc_call: the request path of the client library: framing a request
 * with a fresh id, writing it without ever blocking the agent's replies,
 * and waiting for the reply with that id while everything else that
 * arrives is sorted by nc_ipc.c. See nc_ipc.h for the contract. */
#include "nc_ipc.h"
#include "nc_ipc_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* ---- requests -------------------------------------------------------- */

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int resolve_timeout(const nc_ipc *c, int timeout_ms) {
  return timeout_ms == NC_IPC_TIMEOUT_DEFAULT ? c->timeout_ms : timeout_ms;
}

/* Milliseconds left before deadline (-1 = none) for poll(). */
static int remaining(long long deadline) {
  if (deadline < 0)
    return -1;
  long long left = deadline - now_ms();
  return left < 0 ? 0 : (int)(left > 1000000000 ? 1000000000 : left);
}

/* Writes all of buf. Reads (and sorts) incoming lines while the socket is
 * not writable so that neither side can block the other. */
static int write_all(nc_ipc *c, const char *buf, size_t len) {
  long long deadline = c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(c->sock, buf + off, len - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      /* The agent hung up mid-request (over its line cap, typically): its
       * reply may still sit in our receive queue, so read that first. */
      int e = errno, rr;
      while ((rr = nc_ipc__read_some(c)) > 0)
        ;
      return rr < 0 ? rr : nc_ipc__hang_up(c, e, "cannot write to the agent");
    }
    struct pollfd pfd = {.fd = c->sock, .events = POLLOUT | POLLIN};
    int ms = remaining(deadline);
    if (ms == 0) {
      /* A half-written line would desynchronise the framing. */
      nc_ipc__conn_break(c);
      return nc_ipc__set_err(c, NC_IPC_E_TIMEOUT, NULL, "agent did not accept the request in time");
    }
    int r = poll(&pfd, 1, ms);
    if (r < 0 && errno != EINTR) {
      int e = errno;
      nc_ipc__conn_break(c);
      return nc_ipc__set_err(c, NC_IPC_E_IO, NULL, "poll: %s", strerror(e));
    }
    if (r > 0 && (pfd.revents & POLLIN)) {
      int rr = nc_ipc__read_some(c);
      if (rr < 0)
        return rr;
    }
  }
  return 0;
}

int nc_ipc_send(nc_ipc *c, const char *op, const cJSON *params, int64_t *id) {
  cJSON *req = NULL;
  char *line = NULL;
  pending *p = NULL;
  int err = 0;

  if (!c || !op || !*op || (params && !cJSON_IsObject(params)))
    return c ? nc_ipc__set_err(c, NC_IPC_E_INVAL, NULL,
                               "op must be a non-empty string, params an object")
             : NC_IPC_E_INVAL;
  if (c->sock < 0)
    return nc_ipc__set_err(c, NC_IPC_E_CLOSED, NULL, "not connected to the agent");
  int64_t my_id = c->next_id;
  c->orphan_code[0] = c->orphan[0] = '\0';
  req = cJSON_CreateObject();
  if (!req || !cJSON_AddNumberToObject(req, "id", (double)my_id) ||
      !cJSON_AddStringToObject(req, "op", op)) {
    err = nc_ipc__set_err(c, NC_IPC_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  /* References keep params owned (and untouched) by the caller. */
  for (const cJSON *it = params ? params->child : NULL; it; it = it->next) {
    if (!it->string || !strcmp(it->string, "id") || !strcmp(it->string, "op"))
      continue;
    if (!cJSON_AddItemReferenceToObject(req, it->string, (cJSON *)it)) {
      err = nc_ipc__set_err(c, NC_IPC_E_NOMEM, NULL, "out of memory");
      goto out;
    }
  }
  line = cJSON_PrintUnformatted(req);
  if (!line) {
    err = nc_ipc__set_err(c, NC_IPC_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  size_t len = strlen(line);
  if (len > c->max_request) {
    /* The agent would answer TOO_LARGE and hang up: refuse locally and
     * keep the connection. */
    err = nc_ipc__set_err(c, NC_IPC_E_TOO_LARGE, NULL,
                          "request of %zu bytes exceeds the %zu-byte line limit", len,
                          c->max_request);
    goto out;
  }
  char *nl = realloc(line, len + 2);
  if (!nl) {
    err = nc_ipc__set_err(c, NC_IPC_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  line = nl;
  line[len] = '\n';
  line[len + 1] = '\0';
  p = calloc(1, sizeof(*p));
  if (!p) {
    err = nc_ipc__set_err(c, NC_IPC_E_NOMEM, NULL, "out of memory");
    goto out;
  }
  /* Register the wait before writing: write_all may already read the
   * response while it waits for the socket to drain. */
  p->id = my_id;
  p->next = c->waits;
  c->waits = p;
  p = NULL;
  c->next_id++;
  err = write_all(c, line, len + 1);
  if (err) {
    pending **link = NULL;
    pending *w = nc_ipc__find_wait(c, my_id, &link);
    if (w) {
      *link = w->next;
      cJSON_Delete(w->msg);
      free(w);
    }
    goto out;
  }
  if (id)
    *id = my_id;
out:
  free(p);
  free(line);
  cJSON_Delete(req);
  return err;
}

/* Turns a response into (result, status); takes ownership of msg. */
static int finish(nc_ipc *c, cJSON *msg, cJSON **result) {
  cJSON_DeleteItemFromObjectCaseSensitive(msg, "id");
  cJSON *ok = cJSON_DetachItemFromObjectCaseSensitive(msg, "ok");
  int success = cJSON_IsTrue(ok);
  int have_ok = cJSON_IsBool(ok);
  cJSON_Delete(ok);
  if (success) {
    if (result)
      *result = msg;
    else
      cJSON_Delete(msg);
    return 0;
  }
  int err;
  if (!have_ok) {
    err = nc_ipc__set_err(c, NC_IPC_E_PROTOCOL, NULL, "response from the agent lacks \"ok\"");
  } else {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(msg, "error");
    const char *code = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
    const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));
    err = nc_ipc_err_from_code(code);
    nc_ipc__set_err(c, err, code ? code : "UNKNOWN", "%s",
                    m ? m : (code ? code : "request failed"));
  }
  cJSON_Delete(msg);
  return err;
}

int nc_ipc_wait(nc_ipc *c, int64_t id, int timeout_ms, cJSON **result) {
  if (result)
    *result = NULL;
  if (!c)
    return NC_IPC_E_INVAL;
  pending **link = NULL;
  pending *p = nc_ipc__find_wait(c, id, &link);
  if (!p)
    return nc_ipc__set_err(c, NC_IPC_E_INVAL, NULL, "request %lld is not outstanding",
                           (long long)id);
  timeout_ms = resolve_timeout(c, timeout_ms);
  long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
  int err = 0;
  for (;;) {
    if (p->msg)
      break;
    if (c->sock < 0) {
      err = nc_ipc__set_err(c, NC_IPC_E_CLOSED, NULL,
                            "connection to the agent closed before the response");
      break;
    }
    int ms = remaining(deadline);
    if (ms == 0) {
      err = nc_ipc__set_err(c, NC_IPC_E_TIMEOUT, NULL, "no response from the agent within %d ms",
                            timeout_ms);
      break;
    }
    struct pollfd pfd = {.fd = c->sock, .events = POLLIN};
    int r = poll(&pfd, 1, ms);
    if (r < 0 && errno != EINTR) {
      int e = errno;
      nc_ipc__conn_break(c);
      err = nc_ipc__set_err(c, NC_IPC_E_IO, NULL, "poll: %s", strerror(e));
      break;
    }
    if (r <= 0)
      continue;
    /* Drain what is there; a read error breaks the connection but a
     * response that already arrived in this batch still counts. */
    int rr;
    while ((rr = nc_ipc__read_some(c)) > 0 && !p->msg)
      ;
    if (rr < 0 && !p->msg) {
      err = rr;
      break;
    }
  }
  /* p may have moved in the list (new waits are pushed at the head). */
  nc_ipc__find_wait(c, id, &link);
  *link = p->next;
  cJSON *msg = p->msg;
  free(p);
  if (err) {
    cJSON_Delete(msg);
    return err;
  }
  return finish(c, msg, result);
}

int nc_ipc_call(nc_ipc *c, const char *op, const cJSON *params, int timeout_ms, cJSON **result) {
  int64_t id = 0;
  if (result)
    *result = NULL;
  int err = nc_ipc_send(c, op, params, &id);
  if (err)
    return err;
  return nc_ipc_wait(c, id, timeout_ms, result);
}
