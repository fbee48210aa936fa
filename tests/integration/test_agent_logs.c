/* nacos-agent log lines (issue 9 item 9, agent side), read from the agent's
 * stderr (its log file in the stack dir; the harness runs it at debug):
 * one info line per config publish/remove with the client, app, key and
 * result; one warn line per rejected request with the client and reason,
 * at most a few a second per client and then a "suppressed N" line;
 * per-call lines at debug only; client-supplied strings escaped, so a
 * newline in an app name or op cannot start a forged line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent_itest.h"
#include "nc_testwait.h"

static nc_test_stack st;

static int setup(void **s) { return (void)s, nc_test_stack_start(&st, NULL, NULL); }
static int teardown(void **s) { return (void)s, nc_test_stack_stop(&st); }

/* The agent's log so far (malloc'ed, "" when unreadable). */
static char *agent_log(void) {
  FILE *f = fopen(st.ag.proc.log_path, "r");
  char *buf = NULL;
  size_t len = 0;
  if (f) {
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n > 0 ? (size_t)n + 1 : 1);
    len = buf && n > 0 ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
  }
  if (!buf)
    buf = calloc(1, 1);
  else
    buf[len] = '\0';
  return buf;
}

/* Lines of the log at level (e.g. "warn ") that contain every needle
 * (NULL-ended). */
static int count_lines(const char *level, const char *const *needles) {
  char *log = agent_log(), *save = NULL;
  int n = 0;
  for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char lv[16];
    snprintf(lv, sizeof(lv), "] %s", level);
    if (level && !strstr(line, lv))
      continue;
    int all = 1;
    for (const char *const *k = needles; *k && all; k++)
      all = strstr(line, *k) != NULL;
    n += all;
  }
  free(log);
  return n;
}

static int has_line(const char *level, const char *a, const char *b) {
  const char *const k[] = {a, b, NULL};
  return count_lines(level, k) > 0;
}

/* No line starts with prefix (right after a newline): nothing was forged. */
static int no_line_starts_with(const char *prefix) {
  char *log = agent_log();
  char pat[128];
  snprintf(pat, sizeof(pat), "\n%s", prefix);
  int ok = strstr(log, pat) == NULL && strncmp(log, prefix, strlen(prefix)) != 0;
  free(log);
  return ok;
}

/* Opens an app connection, says hello as app (raw JSON string content),
 * and returns the client id the agent logged for it. */
static tc *hello(const char *app_json, const char *app_logged, unsigned long long *cid) {
  tc *c = tc_open(st.ag.sock);
  assert_non_null(c);
  assert_true(tc_call_ok(c, 1, "{\"id\":1,\"op\":\"agent.hello\",\"app\":\"%s\"}", app_json));
  char want[200];
  snprintf(want, sizeof(want), " is app '%s'", app_logged);
  NC_TEST_WAIT(has_line("info ", want, "ipc: client"), 5000);
  char *log = agent_log();
  char *p = strstr(log, want);
  while (p > log && strncmp(p, "client ", 7) != 0)
    p--;
  *cid = strtoull(p + 7, NULL, 10);
  free(log);
  assert_true(*cid > 0);
  return c;
}

static void test_config_writes_and_rejections_are_logged_escaped(void **state) {
  (void)state;
  unsigned long long cid;
  tc *app = hello("evil\\nFAKE forged", "evil\\nFAKE forged", &cid);
  char who[128];
  snprintf(who, sizeof(who), "config: client %llu (app 'evil\\nFAKE forged') ", cid);
  const char *pub = "{\"id\":2,\"op\":\"config.publish\",\"group\":\"LOGG\",\"data_id\":\"k1\","
                    "\"content\":\"hello\"}";
  assert_true(tc_call_ok(app, 2, "%s", pub));
  /* md5("hello") */
  NC_TEST_WAIT(has_line("info ", who,
                        "publish public/LOGG/k1: ok, md5 5d41402abc4b2a76b9719d911017c592"),
               5000);
  const char *rm = "{\"id\":%d,\"op\":\"config.remove\",\"group\":\"LOGG\",\"data_id\":\"k1\"}";
  assert_true(tc_call_ok(app, 3, rm, 3));
  NC_TEST_WAIT(has_line("info ", who, "remove public/LOGG/k1: ok, removed"), 5000);
  assert_true(tc_call_ok(app, 4, rm, 4));
  NC_TEST_WAIT(has_line("info ", who, "remove public/LOGG/k1: ok, did not exist"), 5000);

  /* A rejected request: one warn line with the client and the reason, the
   * op the app sent escaped. */
  cJSON *r = tc_call(app, 5, "{\"id\":5,\"op\":\"bad\\nop\"}");
  assert_string_equal(tc_errcode(r), "BAD_REQUEST");
  cJSON_Delete(r);
  char rej[128];
  snprintf(rej, sizeof(rej), "ipc: client %llu (app 'evil\\nFAKE forged') request rejected", cid);
  NC_TEST_WAIT(has_line("warn ", rej, "BAD_REQUEST: unknown op 'bad\\nop'"), 5000);
  assert_true(no_line_starts_with("FAKE"));
  assert_true(no_line_starts_with("op'"));

  /* Per-call lines: debug, never info. */
  char call[64];
  snprintf(call, sizeof(call), "ipc: client %llu: config.publish", cid);
  assert_true(has_line("debug", call, ""));
  assert_false(has_line("info ", call, ""));
  tc_close(app);
}

#define FLOOD 300

static void test_a_flooding_client_is_rate_limited(void **state) {
  (void)state;
  unsigned long long cid;
  tc *app = hello("flooder", "flooder", &cid);
  static char buf[FLOOD * 32];
  size_t len = 0;
  for (int i = 0; i < FLOOD; i++)
    len += (size_t)snprintf(buf + len, sizeof(buf) - len, "{\"id\":7,\"op\":\"nope\"}\n");
  long long t0 = nc_test_now_ms();
  assert_int_equal(tc_send_raw(app, buf, len), 0);
  /* Every request was answered (the replies are read and dropped here). */
  assert_int_equal(status_int(app, "connected"), 1);
  long long took_s = (nc_test_now_ms() - t0) / 1000;
  char rej[96], sup[96];
  snprintf(rej, sizeof(rej), "ipc: client %llu (app 'flooder') request rejected", cid);
  snprintf(sup, sizeof(sup), "ipc: client %llu: suppressed ", cid);
  const char *const kr[] = {rej, "unknown op 'nope'", NULL};
  int logged = count_lines("warn ", kr);
  print_message("flood of %d bad requests in ~%llds: %d warn lines\n", FLOOD, took_s, logged);
  assert_true(logged >= 1);
  assert_true(logged <= 5 * (int)(took_s + 2));
  /* The rest is reported as suppressed, at the latest when the client goes. */
  tc_close(app);
  const char *const ks[] = {sup, "more rejected-request lines", NULL};
  NC_TEST_WAIT(count_lines("warn ", ks) >= 1, 5000);
  char *log = agent_log();
  long long suppressed = 0;
  for (char *p = strstr(log, sup); p; p = strstr(p + 1, sup))
    suppressed += strtoll(p + strlen(sup), NULL, 10);
  free(log);
  assert_int_equal(logged + suppressed, FLOOD);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_writes_and_rejections_are_logged_escaped),
      cmocka_unit_test(test_a_flooding_client_is_rate_limited),
  };
  return NC_TEST_RUN_GROUP(tests, setup, teardown);
}
