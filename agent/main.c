/* nacos-agent: the per-host sidecar. Parses options, runs the agent on a
 * libuv loop in the foreground, signals readiness to systemd. */
#include "agent.h"
#include "agent_opts.h"
#include "nc_err.h"
#include "nc_log.h"
#include "nc_sdnotify.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SUMMARY                                                                       \
  "per-host Nacos agent: one upstream long connection shared by local "               \
  "apps over a Unix socket (JSON lines).\n"                                           \
  "Each --servers entry is host:port (gRPC on port+1000) or "                          \
  "host:port#grpcport (host:port/grpcport in a config file);\n"                       \
  "separate entries with commas."

/* What start-up would refuse in the --servers and --allowed-uids lists,
 * checked while parsing options so --show-config and SIGHUP refuse it too. */
static int check_lists(void *p, const char *prog) {
  const nc_agent_cfg *cfg = p;
  nc_server_addr *sv = NULL;
  uid_t *uids = NULL;
  size_t n = 0;
  char err[300];
  int rc = nc_agent_parse_servers(cfg->servers, &sv, &n, err, sizeof(err));
  free(sv);
  if (rc) {
    fprintf(stderr, "%s: --servers: %s\n", prog, err);
    return rc;
  }
  rc = nc_agent_parse_uids(cfg->allowed_uids, &uids, &n);
  free(uids);
  if (rc)
    fprintf(stderr, "%s: --allowed-uids: expected a comma list of numeric uids\n", prog);
  return rc;
}

static int parse_opts(nc_agent_cfg *cfg, int argc, char **argv) {
  return nc_opts_parse_ex(nc_agent_opt_table, nc_agent_opt_count, cfg, argc, argv, "nacos-agent",
                          SUMMARY, check_lists);
}

typedef struct hup {
  uv_signal_t sig;
  int argc;
  char **argv;
} hup;

/* SIGHUP re-reads the command line and --config file and applies what can
 * change at run time (the log level); the rest needs a restart. */
static void on_sighup(uv_signal_t *h, int sig) {
  hup *u = h->data;
  nc_agent_cfg cfg;
  (void)sig;
  memset(&cfg, 0, sizeof(cfg));
  nc_info("agent: SIGHUP: re-reading configuration");
  if (parse_opts(&cfg, u->argc, u->argv) == 0)
    nc_log_reload_level(cfg.log_level);
  else
    nc_warn("agent: SIGHUP: configuration is invalid; keeping the running one");
  nc_opts_free(nc_agent_opt_table, nc_agent_opt_count, &cfg);
}

int main(int argc, char **argv) {
  nc_agent_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  nc_agent *ag = NULL;
  int rc = parse_opts(&cfg, argc, argv);
  if (rc == NC_OPTS_EXIT) {
    nc_opts_free(nc_agent_opt_table, nc_agent_opt_count, &cfg);
    return 0;
  }
  if (rc < 0) {
    nc_opts_free(nc_agent_opt_table, nc_agent_opt_count, &cfg);
    return 2;
  }
  nc_log_set_ident("nacos-agent");
  nc_log_level lvl;
  if (nc_log_parse_level(cfg.log_level, &lvl) != 0) {
    fprintf(stderr, "nacos-agent: bad --log-level '%s'\n", cfg.log_level);
    nc_opts_free(nc_agent_opt_table, nc_agent_opt_count, &cfg);
    return 2;
  }
  nc_log_set_level(lvl);
  /* An app that closes its socket while a reply is being written must
   * cost an EPIPE, not the agent. */
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  uv_loop_init(&loop);
  hup u = {.argc = argc, .argv = argv};
  uv_signal_init(&loop, &u.sig);
  u.sig.data = &u;
  uv_signal_start(&u.sig, on_sighup, SIGHUP);
  uv_unref((uv_handle_t *)&u.sig); /* the agent's own handles decide when the loop ends */
  rc = nc_agent_new(&loop, &cfg, &ag);
  if (rc == 0) {
    nc_info("agent: ready (socket %s, servers %s)", cfg.socket, cfg.servers);
    nc_sdnotify("READY=1");
    uv_run(&loop, UV_RUN_DEFAULT);
    nc_agent_free(ag);
    nc_info("agent: stopped");
  }
  uv_close((uv_handle_t *)&u.sig, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  nc_opts_free(nc_agent_opt_table, nc_agent_opt_count, &cfg);
  return rc == 0 ? 0 : 1;
}
