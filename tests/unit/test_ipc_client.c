/* nc_ipc client library against a scripted fake agent: a thread that
 * listens on a temp Unix socket, reads request lines, checks their op and
 * answers with scripted lines in which "$N" stands for the id of the N-th
 * request it read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_ipc.h"
#include "nc_ipc_ops.h"

#include <errno.h>
#include <poll.h>
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

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int write_full(int fd, const char *s, size_t len) {
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
static char *expand(const fake *f, const char *tpl) {
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

static void *fake_main(void *arg) {
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

static fake *fake_start(const step *script, size_t n) {
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
static void fake_join(fake *f) {
  if (!f->joined)
    pthread_join(f->th, NULL);
  f->joined = 1;
}

static void fake_stop(fake *f) {
  fake_join(f);
  close(f->lfd);
  unlink(f->path);
  rmdir(f->dir);
  for (int i = 0; i < f->nreq; i++)
    cJSON_Delete(f->reqs[i]);
  assert_int_equal(f->op_mismatch, 0);
  free(f);
}

static nc_ipc *client_for(fake *f) {
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

static void on_event(nc_ipc *c, const char *name, const cJSON *msg, void *ud) {
  (void)c;
  seen *s = ud;
  if (s->n < 8) {
    snprintf(s->names[s->n], 32, "%s", name);
    const char *svc = cJSON_GetStringValue(cJSON_GetObjectItem(msg, "service"));
    snprintf(s->services[s->n], 32, "%s", svc ? svc : "");
  }
  s->n++;
}

/* ---- tests ----------------------------------------------------------- */

static void test_responses_matched_by_id_out_of_order(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.instances"},
      {.expect_op = "agent.status"},
      {.send = "{\"id\":$2,\"ok\":true,\"apps\":3}\n"
               "{\"id\":$1,\"ok\":true,\"hosts\":[]}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  int64_t a = 0, b = 0;
  cJSON *params = cJSON_Parse("{\"service\":\"svc\"}");
  assert_int_equal(nc_ipc_send(c, "naming.instances", params, &a), 0);
  assert_int_equal(nc_ipc_send(c, "agent.status", NULL, &b), 0);
  assert_true(a != b);
  cJSON *ra = NULL, *rb = NULL;
  assert_int_equal(nc_ipc_wait(c, a, 2000, &ra), 0);
  assert_true(cJSON_IsArray(cJSON_GetObjectItem(ra, "hosts")));
  assert_null(cJSON_GetObjectItem(ra, "id"));
  assert_null(cJSON_GetObjectItem(ra, "ok"));
  /* b's response came first and was kept for its own wait. */
  assert_int_equal(nc_ipc_wait(c, b, 2000, &rb), 0);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(rb, "apps")), 3);
  /* params untouched and still owned by us. */
  assert_null(cJSON_GetObjectItem(params, "id"));
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(params, "service")), "svc");
  cJSON_Delete(params);
  cJSON_Delete(ra);
  cJSON_Delete(rb);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_events_during_call_queued_and_fd_readable(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.subscribe",
       .send = "{\"event\":\"naming.changed\",\"service\":\"a\",\"hosts\":[]}\n"
               "{\"event\":\"agent.upstream\",\"state\":\"connected\"}\n"
               "{\"id\":$1,\"ok\":true,\"hosts\":[]}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  seen s = {0};
  nc_ipc_set_event_cb(c, on_event, &s);
  assert_int_equal(nc_ipc_subscribe(c, NULL, NULL, "a", NULL, 2000, NULL), 0);
  assert_int_equal(s.n, 0); /* never from inside a blocking call */
  assert_int_equal(nc_ipc_pending(c), 2);
  /* The socket is drained, yet the app's fd must wake its poll. */
  struct pollfd pfd = {.fd = nc_ipc_fd(c), .events = POLLIN};
  assert_int_equal(poll(&pfd, 1, 0), 1);
  assert_int_equal(nc_ipc_process(c), 2);
  assert_int_equal(s.n, 2);
  assert_string_equal(s.names[0], "naming.changed");
  assert_string_equal(s.services[0], "a");
  assert_string_equal(s.names[1], "agent.upstream");
  assert_int_equal(nc_ipc_pending(c), 0);
  assert_int_equal(poll(&pfd, 1, 0), 0);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_events_arriving_later_wake_fd(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "agent.hello", .send = "{\"id\":$1,\"ok\":true,\"protocol\":1}\n"},
      {.sleep_ms = 50, .send = "{\"event\":\"config.changed\",\"data_id\":\"d\"}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  seen s = {0};
  nc_ipc_set_event_cb(c, on_event, &s);
  assert_int_equal(nc_ipc_hello(c, "test", 2000, NULL), 0);
  struct pollfd pfd = {.fd = nc_ipc_fd(c), .events = POLLIN};
  assert_int_equal(poll(&pfd, 1, 2000), 1);
  /* The event may arrive in pieces; process until it is dispatched. */
  for (int i = 0; i < 100 && s.n == 0; i++) {
    assert_true(nc_ipc_process(c) >= 0);
    if (!s.n)
      poll(&pfd, 1, 20);
  }
  assert_int_equal(s.n, 1);
  assert_string_equal(s.names[0], "config.changed");
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_error_codes_mapped(void **state) {
  (void)state;
  static const char *codes[] = {"BAD_REQUEST", "TOO_LARGE",   "NOT_FOUND", "CONFLICT",
                                "FORBIDDEN",   "UNAVAILABLE", "TIMEOUT",   "INTERNAL"};
  static const int want[] = {NC_IPC_E_BAD_REQUEST, NC_IPC_E_TOO_LARGE, NC_IPC_E_NOT_FOUND,
                             NC_IPC_E_CONFLICT,    NC_IPC_E_FORBIDDEN, NC_IPC_E_UNAVAILABLE,
                             NC_IPC_E_TIMEOUT,     NC_IPC_E_INTERNAL};
  step script[10];
  char lines[10][160];
  memset(script, 0, sizeof(script));
  for (int i = 0; i < 8; i++) {
    snprintf(lines[i], sizeof(lines[i]),
             "{\"id\":$%d,\"ok\":false,\"error\":{\"code\":\"%s\",\"message\":\"m%d\"}}\n", i + 1,
             codes[i], i);
    script[i].expect_op = "config.get";
    script[i].send = lines[i];
  }
  script[8].expect_op = "config.get";
  script[8].send = "{\"id\":$9,\"ok\":false,\"error\":{\"code\":\"WEIRD\",\"message\":\"w\"}}\n";
  fake *f = fake_start(script, 9);
  nc_ipc *c = client_for(f);
  for (int i = 0; i < 8; i++) {
    cJSON *r = (cJSON *)1;
    assert_int_equal(nc_ipc_config_get(c, NULL, NULL, "d", 2000, &r), want[i]);
    assert_null(r);
    assert_string_equal(nc_ipc_errcode(c), codes[i]);
    assert_string_equal(nc_ipc_err_name(want[i]), codes[i]);
    char m[8];
    snprintf(m, sizeof(m), "m%d", i);
    assert_string_equal(nc_ipc_errmsg(c), m);
    assert_true(nc_ipc_connected(c));
  }
  assert_int_equal(nc_ipc_config_get(c, NULL, NULL, "d", 2000, NULL), NC_IPC_E_UNKNOWN);
  assert_string_equal(nc_ipc_errcode(c), "WEIRD");
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_oversized_line_from_agent_closes(void **state) {
  (void)state;
  char big[600];
  memset(big, 'x', sizeof(big));
  memcpy(big, "{\"event\":\"", 10);
  strcpy(big + sizeof(big) - 4, "\"}\n");
  const step script[] = {{.expect_op = "agent.status", .send = big}};
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  nc_ipc_set_max_line(c, 128);
  assert_int_equal(nc_ipc_status(c, 2000, NULL), NC_IPC_E_PROTOCOL);
  assert_non_null(strstr(nc_ipc_errmsg(c), "128"));
  assert_false(nc_ipc_connected(c));
  assert_int_equal(nc_ipc_status(c, 2000, NULL), NC_IPC_E_CLOSED);
  assert_int_equal(nc_ipc_pending(c), 0);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_request_over_cap_refused_locally(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "config.publish", .send = "{\"id\":$1,\"ok\":true,\"md5\":\"x\"}\n"}};
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  nc_ipc_set_max_request(c, 256);
  char content[400];
  memset(content, 'c', sizeof(content) - 1);
  content[sizeof(content) - 1] = '\0';
  assert_int_equal(nc_ipc_config_publish(c, NULL, NULL, "d", content, NULL, 2000, NULL),
                   NC_IPC_E_TOO_LARGE);
  assert_true(nc_ipc_connected(c));
  cJSON *r = NULL;
  assert_int_equal(nc_ipc_config_publish(c, NULL, NULL, "d", "small", NULL, 2000, &r), 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r, "md5")), "x");
  cJSON_Delete(r);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_hangup_after_null_id_error_names_it(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "config.publish",
       .send = "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"TOO_LARGE\","
               "\"message\":\"line exceeds 1048576 bytes\"}}\n"},
      {.close = 1},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  assert_int_equal(nc_ipc_config_publish(c, NULL, NULL, "d", "x", NULL, 2000, NULL),
                   NC_IPC_E_TOO_LARGE);
  assert_string_equal(nc_ipc_errcode(c), "TOO_LARGE");
  assert_non_null(strstr(nc_ipc_errmsg(c), "line exceeds 1048576 bytes"));
  assert_false(nc_ipc_connected(c));
  assert_int_equal(nc_ipc_status(c, 100, NULL), NC_IPC_E_CLOSED);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_hangup_mid_request_write_reports_agent_reason(void **state) {
  (void)state;
  /* Like an agent over its line cap: it reads part of the request, says
   * TOO_LARGE with "id": null and hangs up while we are still writing. */
  const step script[] = {
      {.read_bytes = 256 * 1024,
       .send = "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"TOO_LARGE\","
               "\"message\":\"line too long\"}}\n",
       .close = 1},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  nc_ipc_set_max_request(c, 64 * 1024 * 1024);
  size_t n = 8 * 1024 * 1024;
  char *big = malloc(n + 1);
  memset(big, 'b', n);
  big[n] = '\0';
  assert_int_equal(nc_ipc_config_publish(c, NULL, NULL, "d", big, NULL, 5000, NULL),
                   NC_IPC_E_TOO_LARGE);
  assert_non_null(strstr(nc_ipc_errmsg(c), "line too long"));
  assert_false(nc_ipc_connected(c));
  free(big);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_timeout_then_late_response_dropped(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.instances",
       .sleep_ms = 300,
       .send = "{\"id\":$1,\"ok\":true,\"hosts\":[\"late\"]}\n"},
      {.expect_op = "naming.instances", .send = "{\"id\":$2,\"ok\":true,\"hosts\":[]}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(nc_ipc_instances(c, NULL, NULL, "s", 0, 100, NULL), NC_IPC_E_TIMEOUT);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  assert_true(ms >= 90 && ms < 280);
  assert_true(nc_ipc_connected(c));
  cJSON *r = NULL;
  assert_int_equal(nc_ipc_instances(c, NULL, NULL, "s", 0, 2000, &r), 0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r, "hosts")), 0);
  cJSON_Delete(r);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_peer_vanishes_mid_call(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.register",
       .send = "{\"event\":\"agent.upstream\",\"state\":\"disconnected\"}\n",
       .sleep_ms = 50},
      {.close = 1},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  seen s = {0};
  nc_ipc_set_event_cb(c, on_event, &s);
  nc_ipc_instance in;
  nc_ipc_instance_init(&in);
  in.service = "svc";
  in.ip = "10.0.0.1";
  in.port = 80;
  char *iid = (char *)"junk";
  assert_int_equal(nc_ipc_register(c, &in, 2000, &iid, NULL), NC_IPC_E_CLOSED);
  assert_null(iid);
  assert_false(nc_ipc_connected(c));
  /* The event that came before the hang-up is still delivered. */
  assert_int_equal(nc_ipc_pending(c), 1);
  /* A loop polling the fd wakes up for the leftover event and the error. */
  struct pollfd pfd = {.fd = nc_ipc_fd(c), .events = POLLIN};
  assert_true(pfd.fd >= 0);
  assert_int_equal(poll(&pfd, 1, 0), 1);
  assert_int_equal(nc_ipc_process(c), NC_IPC_E_CLOSED);
  assert_int_equal(s.n, 1);
  assert_int_equal(poll(&pfd, 1, 0), 1);
  assert_int_equal(nc_ipc_status(c, 100, NULL), NC_IPC_E_CLOSED);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_reconnect_keeps_fd_and_queued_events(void **state) {
  (void)state;
  const step first[] = {
      {.expect_op = "agent.status",
       .send = "{\"event\":\"agent.upstream\",\"state\":\"disconnected\"}\n"
               "{\"id\":$1,\"ok\":true}\n"},
      {.sleep_ms = 20, .close = 1},
  };
  const step second[] = {
      {.expect_op = "agent.status", .send = "{\"id\":$1,\"ok\":true,\"apps\":1}\n"}};
  fake *f1 = RUN_FAKE(first);
  fake *f2 = RUN_FAKE(second);
  nc_ipc *c = client_for(f1);
  seen s = {0};
  nc_ipc_set_event_cb(c, on_event, &s);
  int fd = nc_ipc_fd(c);
  assert_int_equal(nc_ipc_status(c, 2000, NULL), 0);
  /* Wait for the hang-up through the app's descriptor. */
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  int r = 0;
  for (int i = 0; i < 100 && r >= 0; i++) {
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    r = nc_ipc_process(c);
  }
  assert_int_equal(r, NC_IPC_E_CLOSED);
  assert_false(nc_ipc_connected(c));
  assert_int_equal(nc_ipc_connect(c, f2->path), 0);
  assert_int_equal(nc_ipc_fd(c), fd);
  assert_int_equal(nc_ipc_connect(c, f2->path), NC_IPC_E_INVAL); /* already connected */
  cJSON *res = NULL;
  assert_int_equal(nc_ipc_status(c, 2000, &res), 0);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(res, "apps")), 1);
  cJSON_Delete(res);
  assert_int_equal(s.n, 1);              /* the event from before the loss was delivered */
  assert_int_equal(poll(&pfd, 1, 0), 0); /* nothing pending: fd quiet again */
  nc_ipc_free(c);
  fake_stop(f1);
  fake_stop(f2);
}

static void test_register_sends_protocol_fields(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.register",
       .send = "{\"id\":$1,\"ok\":true,\"instance_id\":\"10.0.0.1#80#DEFAULT#DEFAULT_GROUP@@svc\","
               "\"applied\":false}\n"},
      {.expect_op = "naming.deregister", .send = "{\"id\":$2,\"ok\":true}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  nc_ipc_instance in;
  nc_ipc_instance_init(&in);
  in.service = "svc";
  in.ip = "10.0.0.1";
  in.port = 80;
  in.weight = 2.5;
  cJSON *md = cJSON_Parse("{\"zone\":\"a\"}");
  in.metadata = md;
  char *iid = NULL;
  int applied = 1;
  assert_int_equal(nc_ipc_register(c, &in, 2000, &iid, &applied), 0);
  assert_string_equal(iid, "10.0.0.1#80#DEFAULT#DEFAULT_GROUP@@svc");
  assert_int_equal(applied, 0);
  free(iid);
  assert_int_equal(nc_ipc_deregister(c, &in, 2000), 0);
  nc_ipc_free(c);
  fake_join(f);
  assert_int_equal(f->nreq, 2);
  const cJSON *reg = f->reqs[0], *dereg = f->reqs[1];
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(reg, "service")), "svc");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(reg, "ip")), "10.0.0.1");
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(reg, "port")), 80);
  assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(reg, "weight")) == 2.5);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(reg, "ephemeral")));
  assert_string_equal(
      cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(reg, "metadata"), "zone")), "a");
  /* Defaults are left to the agent rather than spelled out. */
  assert_null(cJSON_GetObjectItem(reg, "group"));
  assert_null(cJSON_GetObjectItem(reg, "namespace"));
  assert_null(cJSON_GetObjectItem(reg, "detached")); /* only when asked for */
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(dereg, "ip")), "10.0.0.1");
  assert_null(cJSON_GetObjectItem(dereg, "metadata"));
  fake_stop(f);
  cJSON_Delete(md);
}

/* The issue 9 item 7 calls: request shapes as agreed for the agent ops,
 * config.remove's existed (-1 from an agent that does not send it), the
 * detached flag, and the paging checks made locally. */
static void test_listing_and_existed_calls(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.services",
       .send = "{\"id\":$1,\"ok\":true,\"count\":1,\"services\":[\"s\"]}\n"},
      {.expect_op = "config.list",
       .send = "{\"id\":$2,\"ok\":true,\"totalCount\":0,\"pageNumber\":2,\"pagesAvailable\":0,"
               "\"items\":[]}\n"},
      {.expect_op = "config.history", .send = "{\"id\":$3,\"ok\":true,\"items\":[]}\n"},
      {.expect_op = "config.remove", .send = "{\"id\":$4,\"ok\":true,\"existed\":false}\n"},
      {.expect_op = "config.remove", .send = "{\"id\":$5,\"ok\":true}\n"},
      {.expect_op = "naming.register", .send = "{\"id\":$6,\"ok\":true,\"instance_id\":\"x\"}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  cJSON *r = NULL;
  int existed = 7;
  assert_int_equal(nc_ipc_services(c, "dev", "G", 0, 0, 2000, &r), 0);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "count")), 1);
  cJSON_Delete(r);
  assert_int_equal(nc_ipc_services(c, NULL, NULL, 1, 1001, 2000, NULL), NC_IPC_E_INVAL);
  assert_int_equal(nc_ipc_config_list(c, NULL, NULL, "app*", 2, 50, 2000, NULL), 0);
  assert_int_equal(nc_ipc_config_history(c, NULL, NULL, "", 0, 2000, NULL), NC_IPC_E_INVAL);
  assert_int_equal(nc_ipc_config_history(c, NULL, "G", "k", 5, 2000, NULL), 0);
  assert_int_equal(nc_ipc_config_remove_ex(c, NULL, NULL, "k", 2000, &existed), 0);
  assert_int_equal(existed, 0);
  assert_int_equal(nc_ipc_config_remove_ex(c, NULL, NULL, "k", 2000, &existed), 0);
  assert_int_equal(existed, -1);
  nc_ipc_instance in;
  nc_ipc_instance_init(&in);
  in.service = "svc";
  in.ip = "10.0.0.1";
  in.port = 80;
  in.detached = 1;
  assert_int_equal(nc_ipc_register(c, &in, 2000, NULL, NULL), 0);
  nc_ipc_free(c);
  fake_join(f);
  assert_int_equal(f->nreq, 6);
  const cJSON *svc = f->reqs[0], *list = f->reqs[1], *hist = f->reqs[2], *reg = f->reqs[5];
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(svc, "namespace")), "dev");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(svc, "group")), "G");
  assert_null(cJSON_GetObjectItem(svc, "pageNo")); /* 0 = the agent's default */
  assert_null(cJSON_GetObjectItem(svc, "pageSize"));
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(list, "dataId")), "app*");
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(list, "pageNo")), 2);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(list, "pageSize")), 50);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(hist, "dataId")), "k");
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(hist, "pageSize")), 5);
  assert_null(cJSON_GetObjectItem(hist, "pageNo"));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(reg, "detached")));
  fake_stop(f);
}

static void test_bad_arguments_rejected_locally(void **state) {
  (void)state;
  const step script[] = {{.expect_op = "agent.status", .send = "{\"id\":$1,\"ok\":true}\n"}};
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  nc_ipc_instance in;
  nc_ipc_instance_init(&in);
  in.service = "svc";
  in.ip = "10.0.0.1";
  in.port = 70000;
  assert_int_equal(nc_ipc_register(c, &in, 2000, NULL, NULL), NC_IPC_E_INVAL);
  assert_string_equal(nc_ipc_errcode(c), "INVAL");
  assert_int_equal(nc_ipc_instances(c, NULL, NULL, "", 0, 2000, NULL), NC_IPC_E_INVAL);
  cJSON *arr = cJSON_CreateArray();
  assert_int_equal(nc_ipc_call(c, "agent.status", arr, 2000, NULL), NC_IPC_E_INVAL);
  cJSON_Delete(arr);
  assert_int_equal(nc_ipc_wait(c, 999, 10, NULL), NC_IPC_E_INVAL);
  /* Nothing reached the agent: the first request it reads is this one. */
  assert_int_equal(nc_ipc_status(c, 2000, NULL), 0);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_foreign_and_split_lines_handled(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "agent.status",
       .send = "not json\n"
               "\n"
               "[1,2]\n"
               "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"BAD_REQUEST\",\"message\":\"x\"}}\n"
               "{\"id\":\"$1\",\"ok\":false}\n"
               "{\"id\":12345,\"ok\":true}\n"
               "{\"id\":$1,\"ok\":tr"},
      {.sleep_ms = 50, .send = "ue,\"apps\":7}\r\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  cJSON *r = NULL;
  assert_int_equal(nc_ipc_status(c, 2000, &r), 0);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "apps")), 7);
  assert_int_equal(nc_ipc_pending(c), 0);
  cJSON_Delete(r);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_large_reply_then_small_ones(void **state) {
  (void)state;
  /* 3 MiB of content in one reply: over the request cap, under the read
   * cap; later small replies still work after the buffer shrinks. */
  size_t n = 3 * 1024 * 1024;
  char *line = malloc(n + 64);
  int k = snprintf(line, 64, "{\"id\":$1,\"ok\":true,\"content\":\"");
  memset(line + k, 'z', n);
  strcpy(line + k + n, "\"}\n");
  const step script[] = {
      {.expect_op = "config.get", .send = line},
      {.expect_op = "config.get", .send = "{\"id\":$2,\"ok\":true,\"content\":\"small\"}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  cJSON *r = NULL;
  assert_int_equal(nc_ipc_config_get(c, NULL, NULL, "big", 5000, &r), 0);
  assert_int_equal(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(r, "content"))), n);
  cJSON_Delete(r);
  assert_int_equal(nc_ipc_config_get(c, NULL, NULL, "small", 5000, &r), 0);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r, "content")), "small");
  cJSON_Delete(r);
  nc_ipc_free(c);
  fake_stop(f);
  free(line);
}

static void test_event_queue_bounded(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "agent.status",
       .send = "{\"event\":\"naming.changed\",\"service\":\"s\",\"hosts\":[]}\n",
       .repeat = NC_IPC_MAX_QUEUED_EVENTS + 100},
      {.send = "{\"id\":$1,\"ok\":true}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  assert_int_equal(nc_ipc_status(c, 5000, NULL), 0);
  assert_int_equal(nc_ipc_pending(c), NC_IPC_MAX_QUEUED_EVENTS);
  assert_int_equal(nc_ipc_dropped_events(c), 100);
  nc_ipc_free(c);
  fake_stop(f);
}

static void test_connect_failure_and_path_resolution(void **state) {
  (void)state;
  nc_ipc *c = nc_ipc_new();
  assert_int_equal(nc_ipc_connect(c, "/nonexistent/nc/agent.sock"), NC_IPC_E_CONNECT);
  assert_non_null(strstr(nc_ipc_errmsg(c), "/nonexistent/nc/agent.sock"));
  assert_int_equal(nc_ipc_fd(c), -1);
  assert_int_equal(nc_ipc_status(c, 10, NULL), NC_IPC_E_CLOSED);
  nc_ipc_free(c);

  unsetenv(NC_IPC_SOCKET_ENV);
  assert_string_equal(nc_ipc_socket_path(NULL), NC_IPC_DEFAULT_SOCKET);
  setenv(NC_IPC_SOCKET_ENV, "/tmp/x.sock", 1);
  assert_string_equal(nc_ipc_socket_path(NULL), "/tmp/x.sock");
  assert_string_equal(nc_ipc_socket_path("/a.sock"), "/a.sock");
  unsetenv(NC_IPC_SOCKET_ENV);
  assert_int_equal(nc_ipc_err_from_code("CONFLICT"), NC_IPC_E_CONFLICT);
  assert_int_equal(nc_ipc_err_from_code("nope"), NC_IPC_E_UNKNOWN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_responses_matched_by_id_out_of_order),
      cmocka_unit_test(test_events_during_call_queued_and_fd_readable),
      cmocka_unit_test(test_events_arriving_later_wake_fd),
      cmocka_unit_test(test_error_codes_mapped),
      cmocka_unit_test(test_oversized_line_from_agent_closes),
      cmocka_unit_test(test_request_over_cap_refused_locally),
      cmocka_unit_test(test_hangup_after_null_id_error_names_it),
      cmocka_unit_test(test_hangup_mid_request_write_reports_agent_reason),
      cmocka_unit_test(test_timeout_then_late_response_dropped),
      cmocka_unit_test(test_peer_vanishes_mid_call),
      cmocka_unit_test(test_reconnect_keeps_fd_and_queued_events),
      cmocka_unit_test(test_register_sends_protocol_fields),
      cmocka_unit_test(test_listing_and_existed_calls),
      cmocka_unit_test(test_bad_arguments_rejected_locally),
      cmocka_unit_test(test_foreign_and_split_lines_handled),
      cmocka_unit_test(test_large_reply_then_small_ones),
      cmocka_unit_test(test_event_queue_bounded),
      cmocka_unit_test(test_connect_failure_and_path_resolution),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
