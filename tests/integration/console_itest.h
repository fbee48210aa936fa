/* console_itest: helpers of the web console's browser tests
 * (test_console_browser.c; the next console pages' tests can share them),
 * header-only: the cluster and browser every test of the program uses
 * (ce), loader API reads with the admin token, screenshots into
 * <build>/tests/artifacts/, and the page's own widgets (row actions,
 * dialogs, toasts) driven through nc_testwd. Include after <cmocka.h>. */
#ifndef CONSOLE_ITEST_H
#define CONSOLE_ITEST_H

#include "auth_login.h"
#include "cluster_itest.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"
#include "nc_testwd.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define L3 "/nacos/v3/admin/core/loader/"

static struct {
  nc_tcluster *c;
  char token[NC_AG_TOKEN_MAX]; /* the admin's, for API reads */
  nc_twd *wd;                  /* NULL: the browser tests skip (why says why) */
  char why[256];
  char art[PATH_MAX]; /* screenshot dir */
} ce;

/* ce.art = tests/artifacts/ next to this binary (<build>/tests/artifacts/), created. */
static inline void ce_artifacts_dir(void) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  exe[n > 0 ? n : 0] = '\0';
  char *slash = strrchr(exe, '/');
  snprintf(ce.art, sizeof(ce.art), "%.*s/artifacts", slash ? (int)(slash - exe) : 1,
           slash ? exe : ".");
  mkdir(ce.art, 0755);
}

static inline const nc_test_nacosd *node(int i) { return nc_tcluster_node(ce.c, i); }
static inline char *addr(int i, char *buf, size_t cap) { return cit_addr(ce.c, i, buf, cap); }

/* ---- the cluster, through the HTTP API ---- */

/* GET path (with the admin token) on node 0; parsed body or NULL. */
static inline cJSON *api_get(const char *path, int *status) {
  char p[2048];
  snprintf(p, sizeof(p), "%s%saccessToken=%s", path, strchr(path, '?') ? "&" : "?", ce.token);
  return cit_get_json(ce.c, 0, p, status);
}

/* 1 when node 0 serves path (a POST-only route answers GET with 405). */
static inline int have(const char *path) {
  int st = 0;
  cJSON_Delete(api_get(path, &st));
  return st != 404 && st != 0;
}
/* A browser test starts with a browser and no dialog open, or skips. */
#define CE_SKIP_NO_BROWSER()                                                                       \
  do {                                                                                             \
    if (!ce.wd) {                                                                                   \
      fprintf(stderr, "skipped: %s\n", ce.why);                                                     \
      skip();                                                                                      \
    }                                                                                              \
    no_dialog();                                                                                   \
  } while (0)
#define NEED(path)                                                                                 \
  do {                                                                                             \
    CE_SKIP_NO_BROWSER();                                                                          \
    if (!have(path)) {                                                                             \
      fprintf(stderr, "skipped: this nacosd has no %s yet\n", path);                               \
      skip();                                                                                      \
    }                                                                                              \
  } while (0)

/* The v3 cluster view's detail entry of node i (a copy, caller frees). */
static inline cJSON *member_view(int i) {
  char a[80];
  cJSON *j = api_get(L3 "cluster", NULL), *out = NULL, *m;
  addr(i, a, sizeof(a));
  cJSON_ArrayForEach(m, cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "detail")) {
    if (!strcmp(nc_json_str(m, "address", ""), a))
      out = cJSON_Duplicate(m, 1);
  }
  cJSON_Delete(j);
  return out;
}

static inline long long nc_field(int i, const char *key) {
  cJSON *m = member_view(i);
  const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "nc"), key);
  long long r = cJSON_IsBool(v) ? cJSON_IsTrue(v) : cJSON_IsNumber(v) ? (long long)v->valuedouble : -999;
  cJSON_Delete(m);
  return r;
}

static inline char *cluster_mode(char *buf, size_t cap) {
  cJSON *j = api_get(L3 "cluster", NULL);
  snprintf(buf, cap, "%s",
           nc_json_str(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "nc"), "rebalance", ""));
  cJSON_Delete(j);
  return buf;
}

/* sdkConCount of node i in the cluster view, -1 when absent. */
static inline int sdk_count(int i) {
  cJSON *m = member_view(i);
  int n = m ? (int)nc_json_int(m, "sdkConCount", -1) : -1;
  cJSON_Delete(m);
  return n;
}

static inline void write_secret(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  chmod(path, 0600);
}

/* ---- the browser ---- */

/* Starts the browser (ce.wd) when chromium is installed; else 0 with ce.wd
 * NULL and ce.why saying why (the browser tests skip). -1 when it would
 * not start. */
static inline int ce_browser_start(void) {
  if (!nc_twd_available(ce.why, sizeof(ce.why)))
    return 0;
  if (nc_twd_start(1280, 900, &ce.wd) != 0) {
    snprintf(ce.why, sizeof(ce.why), "the browser did not start");
    return -1;
  }
  return 0;
}

static inline void shot(const char *name) {
  char p[PATH_MAX + 64];
  snprintf(p, sizeof(p), "%s/%s.png", ce.art, name);
  if (nc_twd_screenshot(ce.wd, p) == 0)
    fprintf(stderr, "screenshot: %s\n", p);
  else
    fprintf(stderr, "screenshot %s failed: %s\n", p, nc_twd_error(ce.wd));
}

#define WD_OK(call)                                                                                \
  do {                                                                                             \
    if ((call) != 0) {                                                                             \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, nc_twd_error(ce.wd));          \
      shot("failure");                                                                             \
      fail();                                                                                      \
    }                                                                                              \
  } while (0)
#define WAIT_JS(expr, ms) WD_OK(nc_twd_wait(ce.wd, (expr), (ms)))

/* A row's CSS selector; buf holds it. */
static inline const char *row_css(int i, const char *suffix, char *buf, size_t cap) {
  char a[80];
  snprintf(buf, cap, "tr[data-addr=\"%s\"]%s", addr(i, a, sizeof(a)), suffix);
  return buf;
}

static inline void click_row_action(int i, const char *action) {
  char css[256], suf[64];
  snprintf(suf, sizeof(suf), " button[data-action=\"%s\"]", action);
  WD_OK(nc_twd_click(ce.wd, row_css(i, suf, css, sizeof(css))));
  WAIT_JS("!document.getElementById('dlg-back').hidden || document.querySelector('.toast')", 5000);
}

/* Waits for the dialog, presses its OK and waits until it closed. */
static inline void confirm_dialog(void) {
  WAIT_JS("!document.getElementById('dlg-back').hidden", 5000);
  WD_OK(nc_twd_click(ce.wd, "#dlg-ok"));
  if (nc_twd_wait(ce.wd, "document.getElementById('dlg-back').hidden", 10000) != 0) {
    char *e = nc_twd_exec_str(ce.wd, "return document.getElementById('dlg-err').textContent;");
    fprintf(stderr, "the dialog stayed open: %s\n", e ? e : "?");
    int absent = e && strstr(e, "does not run on this node"); /* no engine in this build */
    free(e);
    shot("failure-dialog");
    if (absent)
      skip();
    fail();
  }
}

/* A test starts with no dialog open (an earlier failure may have left one). */
static inline void no_dialog(void) {
  nc_twd_exec(ce.wd, "if (!document.getElementById('dlg-back').hidden) "
                    "document.getElementById('dlg-cancel').click(); return 1;", NULL);
}

/* Clicks css (a button that opens a dialog) and waits for the dialog. */
static inline void open_dialog(const char *css) {
  WD_OK(nc_twd_click(ce.wd, css));
  WAIT_JS("!document.getElementById('dlg-back').hidden", 5000);
}

static inline void wait_toast(const char *part) {
  char expr[512];
  snprintf(expr, sizeof(expr),
           "Array.from(document.querySelectorAll('.toast.ok')).some(t => t.textContent.includes('%s'))",
           part);
  WAIT_JS(expr, 10000);
}

/* ---- one standalone nacosd with auth on (the data pages' tests) ---- */

#define CE_ADMIN_PW "Console-Adm1n"

static struct {
  nc_test_nacosd srv;
  char dir[64];
  char pw_file[160]; /* the admin's password, also the agent's --password-file */
} ce1 __attribute__((unused));

/* Starts nacosd --auth on in a temp dir, logs the admin in (ce.token) and,
 * when chromium is installed, the browser (ce.wd; else ce.why says why). */
static inline int ce1_start(void) {
  char secret[128], sa[160], pa[200];
  ce_artifacts_dir();
  if (nc_test_mkdtemp(ce1.dir, sizeof(ce1.dir)) != 0)
    return -1;
  snprintf(secret, sizeof(secret), "%s/secret", ce1.dir);
  snprintf(ce1.pw_file, sizeof(ce1.pw_file), "%s/admin.pw", ce1.dir);
  write_secret(secret, "bmFjb3MtYy1jb25zb2xlLXRlc3Qtc2VjcmV0LWtleS0zMmJ5dGVzIQ==\n");
  write_secret(ce1.pw_file, CE_ADMIN_PW "\n");
  snprintf(sa, sizeof(sa), "--auth-secret-file=%s", secret);
  snprintf(pa, sizeof(pa), "--admin-password-file=%s", ce1.pw_file);
  const char *args[] = {"--auth", "on", sa, pa, NULL};
  if (nc_test_nacosd_start(ce1.dir, args, &ce1.srv) != 0) {
    fprintf(stderr, "nacosd did not start\n");
    return -1;
  }
  nc_ag_login l;
  if (nc_ag_login_http(ce1.srv.host, ce1.srv.port, "nacos", CE_ADMIN_PW, 5000, &l) != 0) {
    fprintf(stderr, "login failed: %d %s\n", l.http_status, l.message);
    return -1;
  }
  snprintf(ce.token, sizeof(ce.token), "%s", l.token);
  return ce_browser_start();
}

static inline int ce1_stop(void) {
  nc_twd_stop(ce.wd);
  ce.wd = NULL;
  int rc = nc_test_nacosd_stop(&ce1.srv);
  nc_test_rmtree(ce1.dir);
  return rc;
}

/* One request to the node with the admin token: the status; *body (may be
 * NULL) malloc'ed. */
static inline int ce1_req(const char *method, const char *path, const char *form, char **body) {
  int st = 0;
  char *b = NULL;
  if (nc_test_http_req(ce1.srv.port, method, path, form, ce.token, &st, &b) != 0)
    st = 0;
  if (body)
    *body = b;
  else
    free(b);
  return st;
}


/* Opens the console and signs in as the admin through the real form, then
 * shows page (the nav link). */
static inline void ce1_login(const char *page) {
  char url[160], css[96], expr[160];
  snprintf(url, sizeof(url), "http://%s:%d/nacos/", ce1.srv.host, ce1.srv.port);
  WD_OK(nc_twd_get(ce.wd, url));
  WAIT_JS("!document.getElementById('login-view').hidden || !document.getElementById('page').hidden", 10000);
  if (nc_twd_wait(ce.wd, "!document.getElementById('login-view').hidden", 200) == 0) {
    WD_OK(nc_twd_type(ce.wd, "#login-user", "nacos"));
    WD_OK(nc_twd_type(ce.wd, "#login-pass", CE_ADMIN_PW));
    WD_OK(nc_twd_click(ce.wd, "#login-submit"));
    WAIT_JS("!document.getElementById('page').hidden", 10000);
  }
  snprintf(css, sizeof(css), "#nav a[data-page=\"%s\"]", page);
  WD_OK(nc_twd_click(ce.wd, css));
  snprintf(expr, sizeof(expr), "document.querySelector('#nav a.active') && "
                               "document.querySelector('#nav a.active').dataset.page === '%s'", page);
  WAIT_JS(expr, 5000);
}

/* The text of the first match of css ("" when none), malloc'ed. */
static inline char *ce_text(const char *css) {
  char *t = nc_twd_text(ce.wd, css);
  return t ? t : strdup("");
}

#endif
