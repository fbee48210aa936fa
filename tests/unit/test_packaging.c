/* Packaging checks.
 * (1) The units pass `systemd-analyze verify` without a single complaint
 *     (skipped where systemd-analyze is missing), ExecStart pointed at the
 *     build tree's binaries.
 * (2) A unit says Type=notify only if its binary sends READY=1 to
 *     $NOTIFY_SOCKET (systemd would time the start out otherwise).
 * (3) The packaged configs (packaging/nacos-agent.conf, nacosd.conf) stay in
 *     sync with the binaries' option tables: every commented `#name = value`
 *     line is accepted by the real binary's config parser, every option the
 *     binary knows is documented, and a documented value equals the built-in
 *     default unless the comment above it ends in "Example:". Drift (a
 *     renamed option, a changed default) fails here, not on a production host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_testproc.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_OPTS 256

typedef struct kv {
  char name[64];
  char value[256];
  int example; /* documented as an example, not the default */
} kv;

static char repo[PATH_MAX];

/* The repository root from this file's path (…/tests/unit/this.c). */
static void find_repo(void) {
  snprintf(repo, sizeof(repo), "%s", __FILE__);
  for (int i = 0; i < 3; i++) {
    char *slash = strrchr(repo, '/');
    assert_non_null(slash);
    *slash = '\0';
  }
}

static void trim(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
    s[--n] = '\0';
}

/* Reads the `#name = value` lines of a packaged conf and writes them,
 * uncommented, to out_path. */
static size_t read_conf(const char *path, kv *out, const char *out_path) {
  FILE *f = fopen(path, "r"), *o = fopen(out_path, "w");
  char line[512], prev[512] = "";
  size_t n = 0;
  assert_non_null(f);
  assert_non_null(o);
  while (fgets(line, sizeof(line), f)) {
    trim(line);
    char name[64], value[256] = "";
    if (line[0] == '#' && sscanf(line, "#%63[a-z0-9-] = %255[^\n]", name, value) >= 1 &&
        strstr(line, " = ") && n < MAX_OPTS) {
      snprintf(out[n].name, sizeof(out[n].name), "%s", name);
      snprintf(out[n].value, sizeof(out[n].value), "%s", value);
      size_t pl = strlen(prev);
      out[n].example = pl >= 8 && !strcmp(prev + pl - 8, "Example:");
      /* An example of an alternative to the option before it (say
       * members instead of cluster-conf) is documented but not loaded
       * together with it: the binary refuses both at once. */
      if (!(out[n].example && strstr(prev, "Alternative")))
        fprintf(o, "%s = %s\n", name, value);
      n++;
    }
    snprintf(prev, sizeof(prev), "%s", line);
  }
  fclose(f);
  fclose(o);
  return n;
}

/* Runs `bin [--config conf] --show-config` and parses its name = value
 * lines. Returns the count; asserts a clean exit. */
static size_t show_config(const char *bin, const char *conf, kv *out) {
  char cmd[PATH_MAX * 2 + 64], line[512];
  if (conf)
    snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --show-config 2>&1", bin, conf);
  else
    snprintf(cmd, sizeof(cmd), "'%s' --show-config 2>&1", bin);
  FILE *p = popen(cmd, "r");
  size_t n = 0;
  assert_non_null(p);
  while (fgets(line, sizeof(line), p)) {
    trim(line);
    char *eq = strstr(line, " = ");
    if (!eq) {
      eq = strstr(line, " =");
      if (!eq || eq[2]) {
        fprintf(stderr, "%s: %s\n", bin, line);
        continue;
      }
    }
    if (n < MAX_OPTS) {
      *eq = '\0';
      snprintf(out[n].name, sizeof(out[n].name), "%.63s", line);
      snprintf(out[n].value, sizeof(out[n].value), "%.255s", eq[1] && eq[2] ? eq + 3 : "");
      n++;
    }
  }
  int st = pclose(p);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  return n;
}

static const kv *find(const kv *a, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(a[i].name, name))
      return &a[i];
  return NULL;
}

static void check(const char *conf_name, const char *bin) {
  char path[PATH_MAX + 64], dir[128], tmp[256];
  kv doc[MAX_OPTS], defs[MAX_OPTS], loaded[MAX_OPTS];
  find_repo();
  snprintf(path, sizeof(path), "%s/packaging/%s", repo, conf_name);
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  snprintf(tmp, sizeof(tmp), "%s/uncommented.conf", dir);

  size_t nd = read_conf(path, doc, tmp);
  assert_true(nd >= 5);
  size_t nf = show_config(bin, NULL, defs);
  assert_true(nf >= 5);
  /* The binary accepts every documented line (unknown names are errors). */
  size_t nl = show_config(bin, tmp, loaded);
  assert_int_equal(nl, nf);

  int bad = 0;
  for (size_t i = 0; i < nf; i++)
    if (!find(doc, nd, defs[i].name)) {
      fprintf(stderr, "%s: option '%s' is not documented\n", conf_name, defs[i].name);
      bad++;
    }
  for (size_t i = 0; i < nd; i++) {
    const kv *d = find(defs, nf, doc[i].name);
    if (!d) {
      fprintf(stderr, "%s: '%s' is not an option of %s\n", conf_name, doc[i].name, bin);
      bad++;
    } else if (!doc[i].example && strcmp(d->value, doc[i].value)) {
      fprintf(stderr, "%s: '%s' documents %s but the default is %s\n", conf_name, doc[i].name,
              doc[i].value, d->value);
      bad++;
    }
  }
  nc_test_rmtree(dir);
  assert_int_equal(bad, 0);
}

static void test_agent_conf_matches_option_table(void **state) {
  (void)state;
  check("nacos-agent.conf", NC_AGENT_BIN);
}

static void test_nacosd_conf_matches_option_table(void **state) {
  (void)state;
  check("nacosd.conf", NC_NACOSD_BIN);
}

/* Copies a unit with ExecStart=<bare name> rewritten to the built binary. */
static void stage_unit(const char *unit, const char *bare, const char *bin, const char *dir) {
  char src[PATH_MAX + 64], dst[256], line[1024];
  char prefix[64];
  snprintf(src, sizeof(src), "%s/packaging/%s", repo, unit);
  snprintf(dst, sizeof(dst), "%s/%s", dir, unit);
  snprintf(prefix, sizeof(prefix), "ExecStart=%s ", bare);
  FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
  int rewritten = 0;
  assert_non_null(in);
  assert_non_null(out);
  while (fgets(line, sizeof(line), in)) {
    if (!strncmp(line, prefix, strlen(prefix))) {
      fprintf(out, "ExecStart=%s %s", bin, line + strlen(prefix));
      rewritten = 1;
    } else {
      fputs(line, out);
    }
  }
  fclose(in);
  fclose(out);
  assert_true(rewritten);
}

static void test_units_verify_clean(void **state) {
  (void)state;
  char dir[128], cmd[512], out[4096] = "";
  if (system("command -v systemd-analyze >/dev/null 2>&1") != 0) {
    fprintf(stderr, "systemd-analyze not installed: skipped\n");
    skip();
  }
  find_repo();
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);
  stage_unit("nacos-agent.service", "nacos-agent", NC_AGENT_BIN, dir);
  stage_unit("nacosd.service", "nacosd", NC_NACOSD_BIN, dir);
  snprintf(cmd, sizeof(cmd),
           "cd '%s' && systemd-analyze verify nacos-agent.service nacosd.service 2>&1", dir);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(out, 1, sizeof(out) - 1, p);
  out[n] = '\0';
  int st = pclose(p);
  nc_test_rmtree(dir);
  if (n)
    fprintf(stderr, "systemd-analyze verify:\n%s", out);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  assert_int_equal(n, 0); /* warnings (unknown keys, bad values) count too */
}

/* The unit's Type= as written in packaging/. */
static void unit_type(const char *unit, char *out, size_t cap) {
  char path[PATH_MAX + 64], line[512];
  snprintf(path, sizeof(path), "%s/packaging/%s", repo, unit);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  snprintf(out, cap, "simple");
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, "Type=", 5)) {
      trim(line);
      snprintf(out, cap, "%.*s", (int)cap - 1, line + 5); /* bounded: Release -O2 checks */
    }
  fclose(f);
}

/* Starts argv with NOTIFY_SOCKET pointing at a datagram socket of ours and
 * returns 1 if "READY=1" arrives within ms (the child is then stopped). */
static int sends_ready(char *const argv[], const char *dir, int ms) {
  char sock[256], log[256], buf[256];
  snprintf(sock, sizeof(sock), "%s/notify.sock", dir);
  snprintf(log, sizeof(log), "%s/child.log", dir);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", sock);
  unlink(sock);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  setenv("NOTIFY_SOCKET", sock, 1);
  nc_testproc p;
  assert_int_equal(nc_testproc_start(&p, argv[0], argv, log), 0);
  unsetenv("NOTIFY_SOCKET");
  int ready = 0;
  long long deadline = nc_test_now_ms() + ms;
  while (!ready && nc_test_now_ms() < deadline && nc_testproc_alive(&p)) {
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, 100) == 1) {
      ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
      buf[n > 0 ? n : 0] = '\0';
      ready = strstr(buf, "READY=1") != NULL;
    }
  }
  if (!ready)
    nc_testproc_dump_log(&p);
  nc_testproc_stop(&p);
  close(fd);
  unlink(sock);
  return ready;
}

/* Type=notify means systemd waits for READY=1 and kills the service when
 * it never comes: the unit must only say so if the binary does it. */
static void test_notify_units_binaries_send_ready(void **state) {
  (void)state;
  char dir[128], a1[300], a2[300], type[32];
  find_repo();
  assert_int_equal(nc_test_mkdtemp(dir, sizeof(dir)), 0);

  unit_type("nacos-agent.service", type, sizeof(type));
  if (!strcmp(type, "notify")) {
    snprintf(a1, sizeof(a1), "%s/agent.sock", dir);
    snprintf(a2, sizeof(a2), "%s/cache", dir);
    char *argv[] = {(char *)NC_AGENT_BIN, "--servers", "127.0.0.1:1", "--socket", a1,
                    "--cache-dir", a2, NULL};
    assert_true(sends_ready(argv, dir, 10000));
  }
  unit_type("nacosd.service", type, sizeof(type));
  if (!strcmp(type, "notify")) {
    snprintf(a1, sizeof(a1), "%s/data", dir);
    char *argv[] = {(char *)NC_NACOSD_BIN, "--bind", "127.0.0.1", "--port", "0",
                    "--data-dir", a1, NULL};
    assert_true(sends_ready(argv, dir, 10000));
  }
  nc_test_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_units_verify_clean),
      cmocka_unit_test(test_notify_units_binaries_send_ready),
      cmocka_unit_test(test_agent_conf_matches_option_table),
      cmocka_unit_test(test_nacosd_conf_matches_option_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
