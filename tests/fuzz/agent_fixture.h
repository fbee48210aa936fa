/* agent_fixture: one nacos-agent in the fuzzing process, for the targets
 * that reach it through its socket (fuzz_agent, fuzz_cache).
 *
 * The agent (nc_agent_new, as nacos-agent runs it) lives for the whole run,
 * its socket and cache in a /dev/shm directory removed at exit. Its upstream
 * is 127.0.0.1:9, where nothing listens: the agent stays disconnected, as it
 * is while nacosd is down (ops answer from state and cache, or UNAVAILABLE).
 * Header only, static: each target is one program. */
#ifndef AGENT_FIXTURE_H
#define AGENT_FIXTURE_H

#include "agent.h"
#include "agent_int.h"
#include "agent_opts.h"
#include "fuzz_util.h"
#include "nc_log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static uv_loop_t fxa_loop;
static nc_agent *fxa_agent;
static nc_agent_cfg fxa_cfg;
static char fxa_dir[] = "/dev/shm/nc-fuzz-agent-XXXXXX";
static char fxa_sock_path[128];

static int fxa_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

/* The socket, the cache files and the directory go with the process. */
static void fxa_remove_dir(void) { nftw(fxa_dir, fxa_remove_one, 16, FTW_DEPTH | FTW_PHYS); }

/* Starts the agent (once per process); aborts when it cannot. */
static void fxa_start(void) {
  char a_sock[160], a_cache[160];
  nc_log_set_level(getenv("FUZZ_LOG") ? NC_LOG_DEBUG : NC_LOG_ERROR);
  if (!mkdtemp(fxa_dir)) {
    perror("mkdtemp");
    abort();
  }
  atexit(fxa_remove_dir);
  snprintf(fxa_sock_path, sizeof(fxa_sock_path), "%s/agent.sock", fxa_dir);
  snprintf(a_sock, sizeof(a_sock), "--socket=%s", fxa_sock_path);
  snprintf(a_cache, sizeof(a_cache), "--cache-dir=%s/cache", fxa_dir);
  char *args[] = {"fuzz", "--servers=127.0.0.1:9", a_sock, a_cache,
                  "--request-timeout-ms=100", NULL};
  if (nc_opts_parse(nc_agent_opt_table, nc_agent_opt_count, &fxa_cfg, 5, args, "fuzz", "") !=
      NC_OPTS_CONTINUE) {
    fprintf(stderr, "fuzz: agent options refused\n");
    abort();
  }
  nc_log_set_level(getenv("FUZZ_LOG") ? NC_LOG_DEBUG : NC_LOG_ERROR);
  uv_loop_init(&fxa_loop);
  if (nc_agent_new(&fxa_loop, &fxa_cfg, &fxa_agent) != 0) {
    fprintf(stderr, "fuzz: agent set-up failed\n");
    abort();
  }
}


/* Every line the agent writes is a reply ({"id":..,"ok":..}) or an event. */
static void fxa_check_lines(char *buf, size_t n) {
  char *p = buf, *end = buf + n;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
      break; /* cut short by the read cap: not checked */
    cJSON *j = cJSON_ParseWithLength(p, (size_t)(nl - p));
    FZ_CHECK(cJSON_IsObject(j));
    FZ_CHECK(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(j, "ok")) ||
             cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "event")));
    cJSON_Delete(j);
    p = nl + 1;
  }
}

/* One app's session: connects, sends data, reads what comes back into
 * resp (up to cap; *got its length) until the agent closes or nothing moves
 * for a few rounds, checks every line, leaves, and waits until the agent
 * dropped the client and what it held. */
static void fxa_session(const uint8_t *data, size_t size, char *resp, size_t cap, size_t *got_out) {
  size_t got = 0, off = 0;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fxa_sock_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  FZ_CHECK(fd >= 0);
  FZ_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  int closed = 0, idle = 0;
  while (!closed && idle < 4) {
    int moved = 0;
    if (off < size) {
      ssize_t k = write(fd, data + off, size - off);
      if (k > 0) {
        off += (size_t)k;
        moved = 1;
      }
    }
    uv_run(&fxa_loop, UV_RUN_NOWAIT);
    for (;;) {
      char buf[8192];
      ssize_t k = read(fd, buf, sizeof(buf));
      if (k > 0) {
        size_t take = (size_t)k < cap - got ? (size_t)k : cap - got;
        memcpy(resp + got, buf, take);
        got += take;
        moved = 1;
        continue;
      }
      closed = k == 0 || (errno != EAGAIN && errno != EINTR);
      break;
    }
    idle = moved ? 0 : idle + 1;
  }
  if (getenv("FUZZ_LOG"))
    fprintf(stderr, "answer (%zu bytes%s):\n%.*s\n", got, closed ? ", closed" : "", (int)got,
            resp);
  fxa_check_lines(resp, got);
  close(fd);
  /* The app is gone: the agent drops its client and everything it held. */
  for (int i = 0; i < 1000 && nc_ipc_srv_clients(fxa_agent->srv) > 0; i++)
    uv_run(&fxa_loop, UV_RUN_NOWAIT);
  FZ_CHECK(nc_ipc_srv_clients(fxa_agent->srv) == 0);
  *got_out = got;
}

#endif
