/* The README's commands work as written (issue 9 item 2): every line of
 * the nacosctl block in README.md's "Running" section (and the two lines of
 * its Quick start) runs, unchanged, through /bin/sh in a directory laid
 * out as scripts/run.sh leaves it: run/agent.sock served by a real agent
 * on a real nacosd, and run/env as run.sh writes it (PATH gets nacosctl's
 * directory, NACOS_AGENT_SOCKET the socket). Lines that say "Ctrl-C" must
 * print something, keep running, and exit 0 on SIGINT; every other line
 * must exit 0. Before: `nacosctl --socket PATH status` and `... --file
 * app.yaml` could not work as written, `instances demo.svc --json` exited 2.
 *
 * Also: the README states the agent's default socket, and nacosctl's
 * default (NC_IPC_DEFAULT_SOCKET) is the agent's (--show-config). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_ipc.h"
#include "nc_testagent.h"
#include "nc_testproc.h"
#include "nc_testrun.h"

#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINES 64

static char *readme;           /* the whole README.md */
static char *lines[MAX_LINES]; /* the commands, owned */
static int nlines;

/* README.md at the top of the source tree this test was built from. */
static char *read_readme(void) {
  char path[PATH_MAX];
  snprintf(path, sizeof(path), "%s", __FILE__);
  for (int up = 0; up < 3; up++) { /* tests/integration/test_readme.c -> top */
    char *slash = strrchr(path, '/');
    if (!slash)
      return NULL;
    *slash = '\0';
  }
  strncat(path, "/README.md", sizeof(path) - strlen(path) - 1);
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  char *buf = calloc(1, 1 << 16);
  size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
  fclose(f);
  if (!n) {
    free(buf);
    return NULL;
  }
  return buf;
}

/* Collects the indented lines of the section starting at heading that run
 * nacosctl, write a file for it (printf) or source run/env. */
static void collect(const char *heading) {
  const char *s = strstr(readme, heading), *end;
  assert_non_null(s);
  end = strstr(s + strlen(heading), "\n## ");
  for (const char *p = s; p && p < (end ? end : p + strlen(p));) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len > 4 && !strncmp(p, "    ", 4) &&
        (!strncmp(p + 4, "nacosctl ", 9) || !strncmp(p + 4, "printf ", 7) ||
         !strncmp(p + 4, ". run/env", 9))) {
      assert_true(nlines < MAX_LINES);
      lines[nlines++] = strndup(p + 4, len - 4);
    }
    p = nl ? nl + 1 : NULL;
  }
}

static int has_line(const char *prefix) {
  for (int i = 0; i < nlines; i++)
    if (!strncmp(lines[i], prefix, strlen(prefix)))
      return 1;
  return 0;
}

static void test_readme_states_the_default_socket(void **state) {
  (void)state;
  assert_non_null(strstr(readme, "`" NC_IPC_DEFAULT_SOCKET "`"));
  assert_non_null(strstr(readme, "docs/ipc-protocol.md"));
  assert_null(strstr(readme, "shared/docs/ipc-protocol.md"));
  nc_trun p;
  const char *argv[] = {NC_AGENT_BIN, "--show-config", NULL};
  assert_int_equal(nc_trun_spawn(&p, argv, NULL, NULL), 0);
  assert_int_equal(nc_trun_finish(&p, 10000), 0);
  assert_non_null(strstr(p.obuf, "\nsocket = " NC_IPC_DEFAULT_SOCKET "\n"));
}

/* Runs one README line through sh in the run.sh-like directory. */
static void run_line(const char *line) {
  char script[1024];
  int held = strstr(line, "Ctrl-C") != NULL;
  /* exec: the signal goes to nacosctl itself, not to the shell */
  snprintf(script, sizeof(script), ". ./run/env && %s%s", held ? "exec " : "", line);
  const char *argv[] = {"/bin/sh", "-c", script, NULL};
  nc_trun p;
  if (getenv("NC_TEST_TRACE"))
    fprintf(stderr, "README: %s\n", line);
  assert_int_equal(nc_trun_spawn(&p, argv, NULL, NULL), 0);
  if (held) {
    /* any output at all shows it is up; then it must still be running */
    nc_trun_pump(&p, "\n", 10000);
    if (p.olen == 0)
      fprintf(stderr, "README line printed nothing: %s\nstderr: %s\n", line, p.ebuf);
    assert_true(p.olen > 0);
    assert_int_equal(kill(p.pid, 0), 0);
    kill(p.pid, SIGINT);
  }
  int rc = nc_trun_finish(&p, 10000);
  if (rc != 0)
    fprintf(stderr, "README line failed (exit %d): %s\nstdout: %s\nstderr: %s\n", rc, line, p.obuf,
            p.ebuf);
  assert_int_equal(rc, 0);
}

static void test_readme_commands_work_as_written(void **state) {
  (void)state;
  char dir[256], run_dir[300], env[320], bin_dir[PATH_MAX], cwd[PATH_MAX], servers[128];
  nc_test_nacosd srv;
  nc_test_agent ag;
  /* the lines the issue names must be there */
  assert_true(has_line(". run/env"));
  assert_true(has_line("nacosctl --socket run/agent.sock status"));
  assert_true(has_line("nacosctl instances demo.svc --json"));
  assert_true(has_line("nacosctl config put app.yaml --file app.yaml"));
  assert_true(has_line("printf "));
  assert_true(has_line("nacosctl register demo.svc 10.0.0.8:8080 --once"));

  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
  assert_int_equal(mkdir(run_dir, 0700), 0);
  assert_int_equal(nc_test_nacosd_start(dir, NULL, &srv), 0);
  snprintf(servers, sizeof(servers), "127.0.0.1:%d#%d", srv.port, srv.grpc_port);
  assert_int_equal(nc_test_agent_start(&ag, run_dir, servers, NULL), 0);
  assert_true(nc_test_agent_wait_connected(&ag, 10000) >= 0);

  /* run/env as scripts/run.sh writes it */
  snprintf(bin_dir, sizeof(bin_dir), "%s", NC_NACOSCTL_BIN);
  *strrchr(bin_dir, '/') = '\0';
  snprintf(env, sizeof(env), "%s/env", run_dir);
  FILE *f = fopen(env, "w");
  assert_non_null(f);
  fprintf(f, "export PATH=\"%s:$PATH\"\nexport NACOS_AGENT_SOCKET=\"%s\"\n", bin_dir, ag.sock);
  fclose(f);

  assert_non_null(getcwd(cwd, sizeof(cwd)));
  assert_int_equal(chdir(dir), 0);
  for (int i = 0; i < nlines; i++)
    run_line(lines[i]);
  assert_int_equal(chdir(cwd), 0);

  assert_int_equal(nc_test_agent_stop(&ag), 0);
  assert_int_equal(nc_test_nacosd_stop(&srv), 0);
  nc_test_rmtree(dir);
}

static int group_setup(void **state) {
  (void)state;
  readme = read_readme();
  if (!readme) {
    fprintf(stderr, "cannot read README.md next to %s\n", __FILE__);
    return -1;
  }
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  for (int i = 0; i < nlines; i++)
    free(lines[i]);
  free(readme);
  return 0;
}

static void test_readme_has_the_commands(void **state) {
  (void)state;
  collect("## Quick start");
  collect("## Running");
  assert_true(nlines >= 10);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_readme_has_the_commands),
      cmocka_unit_test(test_readme_states_the_default_socket),
      cmocka_unit_test(test_readme_commands_work_as_written),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
