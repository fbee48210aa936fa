/* The web console's cluster page (issue 13 acceptance 5) in a real headless
 * Chromium driven over WebDriver (nc_testwd.h): a 3-node cluster with auth
 * on and wire clients skewed onto node 0 (6 / 2 / 1). The test logs in
 * through the real form, reads the table, clicks the real buttons (limit,
 * reload, drain/undrain, the rebalance switch, move one client) and checks
 * each result ON THE CLUSTER through the loader API and the clients' own
 * ConnectResetRequests, not only in the DOM. Screenshots (PNG) go to
 * tests/artifacts/ next to this binary (<build>/tests/artifacts/).
 *
 * test_assets_served needs no browser; the rest skip cleanly when chromium
 * or chromedriver are absent, and an action skips when this nacosd does
 * not serve its loader endpoint yet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "console_itest.h"
#include "http1.h"
#include "nc_grpc.h"
#include "nc_testagent.h"
#include "nc_testwait.h"
#include "nc_testwire.h"

#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADMIN_PW "Console-Adm1n"
enum { NODES = 3, MAX_TW = 9 };
static const int per_node[NODES] = {6, 2, 1};

static struct {
  nc_gcli_env *env;
  char dir[64];
  nc_tw *tw[MAX_TW];
  int tw_node[MAX_TW];
  int ntw;
} g;

/* ConnectResetRequests client k has received. */
static int resets(int k) { return nc_tw_push_count(g.tw[k], "ConnectResetRequest"); }

/* 1 when client k's last reset names node target (serverIp and the main
 * port, as Nacos sends them). */
static int last_reset_to(int k, int target) {
  cJSON *b = nc_tw_push_get(g.tw[k], "ConnectResetRequest", -1, NULL, 0);
  char port[16];
  snprintf(port, sizeof(port), "%d", node(target)->port);
  const cJSON *pv = cJSON_GetObjectItem(b, "serverPort");
  int ok = b && !strcmp(nc_json_str(b, "serverIp", ""), node(target)->host) &&
           (cJSON_IsString(pv) ? !strcmp(pv->valuestring, port)
                               : cJSON_IsNumber(pv) && (int)pv->valuedouble == node(target)->port);
  if (!ok) {
    char *s = b ? cJSON_PrintUnformatted(b) : NULL;
    fprintf(stderr, "client %d's last reset: %s\n", k, s ? s : "(none)");
    free(s);
  }
  cJSON_Delete(b);
  return ok;
}

/* ---- setup ---- */

/* 1 when every node lists every member UP (the member list wants a token
 * with auth on); sleeps 100 ms when not. */
static int all_up(void) {
  char p[2048];
  snprintf(p, sizeof(p), "/nacos/v1/core/cluster/nodes?accessToken=%s", ce.token);
  for (int v = 0; v < NODES; v++) {
    cJSON *j = cit_get_json(ce.c, v, p, NULL);
    const cJSON *m;
    int up = 0;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(j, "data")) {
      up += !strcmp(nc_json_str(m, "state", ""), "UP") &&
            cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "extendInfo"), "nc.ready"));
    }
    cJSON_Delete(j);
    if (up != NODES) {
      cit_sleep_ms(100);
      return 0;
    }
  }
  return 1;
}

static int setup(void **state) {
  (void)state;
  char secret[128], pw[128], sa[160], pa[160];
  ce_artifacts_dir();
  assert_int_equal(nc_test_mkdtemp(g.dir, sizeof(g.dir)), 0);
  snprintf(secret, sizeof(secret), "%s/secret", g.dir);
  snprintf(pw, sizeof(pw), "%s/admin.pw", g.dir);
  write_secret(secret, "bmFjb3MtYy1jb25zb2xlLXRlc3Qtc2VjcmV0LWtleS0zMmJ5dGVzIQ==\n");
  write_secret(pw, ADMIN_PW "\n");
  snprintf(sa, sizeof(sa), "--auth-secret-file=%s", secret);
  snprintf(pa, sizeof(pa), "--admin-password-file=%s", pw);
  /* no automatic moves: every reset the tests count comes from a click */
  const char *more[] = {"--auth", "on", sa, pa, "--rebalance", "off", NULL};
  ce.c = cit_start(NODES, more);
  nc_ag_login l;
  assert_int_equal(nc_ag_login_http(node(0)->host, node(0)->port, "nacos", ADMIN_PW, 5000, &l), 0);
  snprintf(ce.token, sizeof(ce.token), "%s", l.token);
  NC_TEST_WAIT(all_up(), 20000);
  nc_tw_opts o = {.access_token = ce.token, .app_name = "console-itest"};
  for (int i = 0; i < NODES; i++)
    for (int k = 0; k < per_node[i]; k++) {
      g.tw_node[g.ntw] = i;
      g.tw[g.ntw] = nc_tw_open(g.env, node(i)->target, &o);
      assert_non_null(g.tw[g.ntw]);
      g.ntw++;
    }
  return ce_browser_start();
}

static int teardown(void **state) {
  (void)state;
  nc_twd_stop(ce.wd);
  for (int k = 0; k < g.ntw; k++)
    nc_tw_close(g.tw[k]);
  int rc = nc_tcluster_stop(ce.c);
  nc_test_rmtree(g.dir);
  return rc;
}

/* ---- tests ---- */

/* One raw GET with extra header lines; status and the whole answer. */
static const char *g_body; /* the last raw_get's body, inside its resp */
static int raw_get(const char *path, const char *headers, char **resp) {
  char req[1024];
  char *body = NULL;
  int st = 0;
  *resp = NULL;
  int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n",
                     path, headers ? headers : "");
  if (nc_ag_http1(node(1)->host, node(1)->port, req, (size_t)len, 5000, &st, resp, &body) != 0)
    st = 0;
  g_body = body ? body : "";
  return st;
}

static void test_assets_served(void **state) {
  (void)state;
  char *r = NULL, hdr[256], etag[64] = "";
  assert_int_equal(raw_get("/nacos", NULL, &r), 302);
  assert_non_null(strcasestr(r, "Location: /nacos/"));
  free(r);
  /* no token needed for the app itself; with auth on it starts at the login */
  assert_int_equal(raw_get("/nacos/", NULL, &r), 200);
  assert_non_null(strcasestr(r, "Content-Type: text/html; charset=utf-8"));
  assert_non_null(strstr(g_body, "id=\"login-form\""));
  assert_null(strstr(g_body, "http://")); /* nothing from the internet */
  assert_null(strstr(g_body, "https://"));
  free(r);
  assert_int_equal(raw_get("/nacos/index.html", NULL, &r), 200);
  free(r);
  assert_int_equal(raw_get("/nacos/webui/env.json", NULL, &r), 200);
  assert_non_null(strstr(g_body, "\"auth\":true"));
  free(r);
  assert_int_equal(raw_get("/nacos/webui/app.js", NULL, &r), 200);
  assert_non_null(strcasestr(r, "Content-Type: text/javascript"));
  assert_non_null(strcasestr(r, "Cache-Control: no-cache"));
  const char *e = strcasestr(r, "ETag: ");
  assert_non_null(e);
  sscanf(e + 6, "%63[^\r]", etag);
  free(r);
  snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", etag);
  assert_int_equal(raw_get("/nacos/webui/app.js", hdr, &r), 304);
  free(r);
  assert_int_equal(raw_get("/nacos/webui/app.css", "Accept-Encoding: gzip, deflate\r\n", &r), 200);
  assert_non_null(strcasestr(r, "Content-Encoding: gzip"));
  assert_non_null(strcasestr(r, "Content-Type: text/css"));
  assert_non_null(strstr(r, "-gz\"")); /* its own ETag: another representation */
  free(r);
  assert_int_equal(raw_get("/nacos/webui/app.css", "Accept-Encoding: gzip;q=0\r\n", &r), 200);
  assert_null(strcasestr(r, "Content-Encoding: gzip"));
  free(r);
  assert_int_equal(raw_get("/nacos/webui/nope.js", NULL, &r), 404);
  free(r);
}

static void test_login_and_table(void **state) {
  (void)state;
  if (!ce.wd) {
    fprintf(stderr, "skipped: %s\n", ce.why);
    skip();
  }
  char url[128];
  snprintf(url, sizeof(url), "http://%s:%d/nacos/#/cluster", node(0)->host, node(0)->port);
  WD_OK(nc_twd_get(ce.wd, url));
  WAIT_JS("!document.getElementById('login-view').hidden", 10000);
  shot("01-login");
  /* a wrong password: the server's words on the form */
  WD_OK(nc_twd_type(ce.wd, "#login-user", "nacos"));
  WD_OK(nc_twd_type(ce.wd, "#login-pass", "wrong"));
  WD_OK(nc_twd_click(ce.wd, "#login-submit"));
  WAIT_JS("!document.getElementById('login-msg').hidden", 10000);
  char *msg = nc_twd_text(ce.wd, "#login-msg");
  assert_non_null(msg);
  assert_non_null(strstr(msg, "User not found"));
  free(msg);
  WD_OK(nc_twd_type(ce.wd, "#login-pass", ADMIN_PW));
  WD_OK(nc_twd_click(ce.wd, "#login-submit"));
  WAIT_JS("document.querySelectorAll('#members tr[data-addr]').length === 3", 15000);
  char *tok = nc_twd_exec_str(ce.wd, "return sessionStorage.getItem('nc.token');");
  assert_non_null(tok);
  assert_true(strlen(tok) > 20);
  free(tok);
  if (!have(L3 "cluster")) {
    fprintf(stderr, "this nacosd has no %scluster yet: the page lists members only\n", L3);
    shot("02-cluster");
    return;
  }
  /* the table shows what the cluster says: each node's count, the total */
  char css[256], want[32];
  for (int i = 0; i < NODES; i++) {
    snprintf(want, sizeof(want), "%d", per_node[i]);
    char expr[512];
    snprintf(expr, sizeof(expr), "(document.querySelector('%s') || {}).textContent === '%s'",
             row_css(i, " td.conns .count", css, sizeof(css)), want);
    WAIT_JS(expr, 15000);
    cJSON *m = member_view(i);
    assert_int_equal(nc_json_int(m, "sdkConCount", -1), per_node[i]);
    cJSON_Delete(m);
  }
  WAIT_JS("document.querySelector('[data-stat=total] .v').textContent === '9'", 10000);
  WAIT_JS("document.querySelector('[data-stat=avg] .v').textContent === '3'", 10000);
  /* node 0 is 3 over the average of 3, node 2 is 2 under */
  char *d = nc_twd_text(ce.wd, row_css(0, " td.diff", css, sizeof(css)));
  assert_non_null(d);
  assert_string_equal(d, "+3");
  free(d);
  shot("02-cluster");
  WD_OK(nc_twd_window_size(ce.wd, 420, 900));
  WAIT_JS("window.innerWidth <= 420", 5000);
  shot("03-cluster-narrow");
  WD_OK(nc_twd_window_size(ce.wd, 1280, 900));
}

static void test_set_limit(void **state) {
  (void)state;
  NEED(L3 "limit");
  char css[256];
  click_row_action(1, "limit");
  WD_OK(nc_twd_type(ce.wd, "#dlg-count", "5"));
  shot("04-limit-dialog");
  confirm_dialog();
  wait_toast("set to 5");
  NC_TEST_WAIT(nc_field(1, "limit") == 5, 10000);
  assert_int_equal(nc_field(1, "limitPersistent"), 0);
  /* persistent, and the table says so */
  click_row_action(1, "limit");
  WD_OK(nc_twd_type(ce.wd, "#dlg-count", "7"));
  WD_OK(nc_twd_click(ce.wd, "#dlg-persistent"));
  confirm_dialog();
  NC_TEST_WAIT(nc_field(1, "limit") == 7 && nc_field(1, "limitPersistent") == 1, 10000);
  char expr[512];
  snprintf(expr, sizeof(expr), "(document.querySelector('%s') || {}).textContent === '7 persistent'",
           row_css(1, " td.limit", css, sizeof(css)));
  WAIT_JS(expr, 10000);
  shot("05-limit-set");
  /* cleared: an empty field is no limit */
  click_row_action(1, "limit");
  WD_OK(nc_twd_exec(ce.wd, "document.getElementById('dlg-count').value = ''; return 1;", NULL));
  confirm_dialog();
  NC_TEST_WAIT(nc_field(1, "limit") == -1, 10000);
}

static void test_drain_undrain(void **state) {
  (void)state;
  NEED(L3 "drain");
  char css[256], expr[512];
  click_row_action(2, "drain");
  shot("06-drain-confirm");
  confirm_dialog();
  wait_toast("is draining");
  NC_TEST_WAIT(nc_field(2, "draining") == 1, 10000);
  snprintf(expr, sizeof(expr), "(document.querySelector('%s') || {}).getAttribute('data-draining') === 'true'",
           row_css(2, "", css, sizeof(css)));
  WAIT_JS(expr, 10000);
  shot("07-draining");
  click_row_action(2, "undrain");
  wait_toast("takes connections again");
  NC_TEST_WAIT(nc_field(2, "draining") == 0, 10000);
}

static void test_rebalance_switch(void **state) {
  (void)state;
  NEED(L3 "rebalance");
  char mode[16];
  WAIT_JS("document.getElementById('rebalance-toggle').getAttribute('data-mode') !== 'unknown'",
          10000);
  /* off (no confirmation), then on (confirmed), checked on every member's
   * mode in the cluster view */
  if (!strcmp(cluster_mode(mode, sizeof(mode)), "auto")) {
    WD_OK(nc_twd_click(ce.wd, "#rebalance-toggle"));
    NC_TEST_WAIT(!strcmp(cluster_mode(mode, sizeof(mode)), "off"), 10000);
  }
  WAIT_JS("document.getElementById('rebalance-toggle').getAttribute('data-mode') === 'off'", 10000);
  WD_OK(nc_twd_click(ce.wd, "#rebalance-toggle"));
  confirm_dialog();
  NC_TEST_WAIT(!strcmp(cluster_mode(mode, sizeof(mode)), "auto"), 10000);
  WAIT_JS("document.getElementById('rebalance-toggle').getAttribute('aria-checked') === 'true'",
          10000);
  shot("08-rebalance-on");
  WD_OK(nc_twd_click(ce.wd, "#rebalance-toggle"));
  NC_TEST_WAIT(!strcmp(cluster_mode(mode, sizeof(mode)), "off"), 10000);
  for (int i = 0; i < NODES; i++) {
    cJSON *m = member_view(i);
    assert_string_equal(nc_json_str(cJSON_GetObjectItem(m, "nc"), "rebalance", ""), "off");
    cJSON_Delete(m);
  }
}

/* Node 0's clients (index range in g.tw). */
static int first_of(int n) {
  int k = 0;
  for (int i = 0; i < n; i++)
    k += per_node[i];
  return k;
}

static void test_reload_node(void **state) {
  (void)state;
  NEED(L3 "reloadCurrent");
  int before[MAX_TW], moved = 0;
  char a1[80], sel[256];
  for (int k = 0; k < g.ntw; k++)
    before[k] = resets(k);
  click_row_action(0, "reload");
  WD_OK(nc_twd_type(ce.wd, "#dlg-count", "4"));
  snprintf(sel, sizeof(sel), "#dlg-target option[value=\"%s\"]", addr(1, a1, sizeof(a1)));
  WD_OK(nc_twd_click(ce.wd, sel));
  shot("09-reload-dialog");
  confirm_dialog();
  wait_toast("reloads down to 4");
  /* node 0 resets some of its 6 clients towards node 1; nobody else moves */
  long long took = -1;
  NC_TEST_POLL(({
                 moved = 0;
                 for (int k = 0; k < per_node[0]; k++)
                   moved += resets(k) > before[k];
                 moved >= 1;
               }),
               15000, took);
  fprintf(stderr, "reload to 4: %d of node 0's clients got a reset (%lld ms)\n", moved, took);
  assert_true(moved >= 1);
  for (int k = 0; k < per_node[0]; k++)
    if (resets(k) > before[k])
      assert_true(last_reset_to(k, 1));
  for (int k = per_node[0]; k < g.ntw; k++)
    assert_int_equal(resets(k), before[k]);
}

static void test_move_one_client(void **state) {
  (void)state;
  NEED(L3 "reloadClient");
  /* a client of node 1 (untouched so far) to node 2 */
  int k = first_of(1), before = resets(k);
  char a2[80], sel[256];
  click_row_action(1, "clients");
  snprintf(sel, sizeof(sel), "#conn-list tr[data-conn=\"%s\"]", nc_tw_id(g.tw[k]));
  char expr[512];
  snprintf(expr, sizeof(expr), "!!document.querySelector('%s')", sel);
  WAIT_JS(expr, 10000);
  WAIT_JS("document.querySelectorAll('#conn-list tr').length === 2", 5000);
  WD_OK(nc_twd_click(ce.wd, sel));
  snprintf(sel, sizeof(sel), "#dlg-target option[value=\"%s\"]", addr(2, a2, sizeof(a2)));
  WD_OK(nc_twd_click(ce.wd, sel));
  shot("10-move-client");
  confirm_dialog();
  wait_toast("moved to");
  NC_TEST_WAIT(resets(k) > before, 10000);
  assert_true(last_reset_to(k, 2));
  assert_int_equal(resets(k + 1), 0); /* the other client of node 1 stays */
}

/* "Balance once" is Nacos's smartReloadCluster: with 6 / 2 / 1 (average
 * 3, factor 0.1) node 0 is over and node 2 under, so node 0 resets some of
 * its clients towards node 2 and nobody else is touched. */
static void test_balance_once(void **state) {
  (void)state;
  NEED(L3 "smartReloadCluster");
  int before[MAX_TW], moved = 0;
  for (int k = 0; k < g.ntw; k++)
    before[k] = resets(k);
  WD_OK(nc_twd_click(ce.wd, "#balance"));
  WD_OK(nc_twd_type(ce.wd, "#dlg-factor", "0.1"));
  shot("11-balance-once");
  confirm_dialog();
  wait_toast("Balancing");
  long long took = -1;
  NC_TEST_POLL(({
                 moved = 0;
                 for (int k = 0; k < per_node[0]; k++)
                   moved += resets(k) > before[k];
                 moved >= 1;
               }),
               15000, took);
  fprintf(stderr, "balance once: %d of node 0's clients got a reset (%lld ms)\n", moved, took);
  assert_true(moved >= 1);
  for (int k = 0; k < per_node[0]; k++)
    if (resets(k) > before[k])
      assert_true(last_reset_to(k, 2));
  for (int k = per_node[0]; k < g.ntw; k++)
    assert_int_equal(resets(k), before[k]);
}

/* The connection id on node i that is none of the wire clients' (the
 * agent's) into out; 0 when found. */
static int foreign_conn(int i, char *out, size_t cap) {
  char p[256], a[80];
  snprintf(p, sizeof(p), L3 "current?address=%s", addr(i, a, sizeof(a)));
  cJSON *j = api_get(p, NULL), *e;
  int found = -1;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "data")) {
    const cJSON *mi = cJSON_GetObjectItem(e, "metaInfo");
    if (cJSON_IsTrue(cJSON_GetObjectItem(mi, "clusterSource")))
      continue;
    int ours = 0;
    for (int k = 0; k < g.ntw; k++)
      ours |= !strcmp(e->string, nc_tw_id(g.tw[k]));
    if (!ours && found) {
      snprintf(out, cap, "%s", e->string);
      found = 0;
    }
  }
  cJSON_Delete(j);
  return found;
}

/* A real client moved from the page: nacos-agent (make before break) gets
 * the reset, connects to the member picked in the dialog and leaves its
 * old one; the cluster view's counts show it. */
static void test_move_agent(void **state) {
  (void)state;
  NEED(L3 "reloadClient");
  char adir[128], pw[160], servers[512] = "", conn[160] = "", sel[300], a[80];
  snprintf(adir, sizeof(adir), "%s/agent", g.dir);
  mkdir(adir, 0700);
  snprintf(pw, sizeof(pw), "%s/agent.pw", g.dir);
  write_secret(pw, ADMIN_PW "\n");
  for (int i = 0; i < NODES; i++) {
    size_t l = strlen(servers);
    snprintf(servers + l, sizeof(servers) - l, "%s%s:%d#%d", i ? "," : "", node(i)->host,
             node(i)->port, node(i)->grpc_port);
  }
  int before[NODES];
  for (int i = 0; i < NODES; i++)
    before[i] = sdk_count(i);
  const char *extra[] = {"--username", "nacos", "--password-file", pw, NULL};
  nc_test_agent ag;
  assert_int_equal(nc_test_agent_start(&ag, adir, servers, extra), 0);
  assert_true(nc_test_agent_wait_connected(&ag, 15000) >= 0);
  int home = -1;
  NC_TEST_WAIT(({
                 for (int i = 0; i < NODES && home < 0; i++)
                   if (sdk_count(i) == before[i] + 1 && foreign_conn(i, conn, sizeof(conn)) == 0)
                     home = i;
                 home >= 0;
               }),
               10000);
  int to = (home + 1) % NODES;
  fprintf(stderr, "the agent is on node %d as %s; moving it to node %d\n", home, conn, to);
  click_row_action(home, "clients");
  snprintf(sel, sizeof(sel), "#conn-list tr[data-conn=\"%s\"]", conn);
  char expr[400];
  snprintf(expr, sizeof(expr), "!!document.querySelector('%s')", sel);
  WAIT_JS(expr, 10000);
  WD_OK(nc_twd_click(ce.wd, sel));
  snprintf(sel, sizeof(sel), "#dlg-target option[value=\"%s\"]", addr(to, a, sizeof(a)));
  WD_OK(nc_twd_click(ce.wd, sel));
  confirm_dialog();
  /* on the cluster: one more on the target, the old connection gone */
  NC_TEST_WAIT(sdk_count(to) == before[to] + 1 && sdk_count(home) == before[home], 20000);
  assert_int_equal(foreign_conn(to, conn, sizeof(conn)), 0);
  /* and so does the page, once it refreshed */
  char css[256];
  snprintf(expr, sizeof(expr), "(document.querySelector('%s') || {}).textContent === '%d'",
           row_css(to, " td.conns .count", css, sizeof(css)), before[to] + 1);
  WAIT_JS(expr, 10000);
  snprintf(expr, sizeof(expr), "(document.querySelector('%s') || {}).textContent === '%d'",
           row_css(home, " td.conns .count", css, sizeof(css)), before[home]);
  WAIT_JS(expr, 10000);
  shot("12-agent-moved");
  assert_int_equal(nc_test_agent_stop(&ag), 0);
  NC_TEST_WAIT(sdk_count(to) == before[to], 10000);
}

/* A member that dies shows as not UP, its actions disabled, and the
 * totals count the members that answered. */
static void test_member_down(void **state) {
  (void)state;
  NEED(L3 "cluster");
  char css[256], expr[512];
  assert_int_equal(nc_tcluster_kill_node(ce.c, 2, SIGKILL), 128 + SIGKILL);
  /* first it does not answer the gather, then the member list says DOWN */
  snprintf(expr, sizeof(expr),
           "(document.querySelector('%s') || {getAttribute: () => ''}).getAttribute('data-missing') "
           "=== 'true'",
           row_css(2, "", css, sizeof(css)));
  WAIT_JS(expr, 30000);
  snprintf(expr, sizeof(expr), "document.querySelector('%s').disabled",
           row_css(2, " button[data-action=\"limit\"]", css, sizeof(css)));
  WAIT_JS(expr, 5000);
  WAIT_JS("!document.getElementById('cluster-msg').hidden", 10000);
  /* the total is what the two live nodes hold (node 0's 6, node 1's 2) */
  WAIT_JS("document.querySelector('[data-stat=total] .v').textContent === '8'", 10000);
  char *cnt = nc_twd_text(ce.wd, row_css(2, " td.conns", css, sizeof(css)));
  assert_non_null(cnt);
  assert_string_equal(cnt, "–"); /* unknown, not 0 */
  free(cnt);
  snprintf(expr, sizeof(expr), "document.querySelector('%s').getAttribute('data-state') === 'DOWN'",
           row_css(2, "", css, sizeof(css)));
  WAIT_JS(expr, 30000);
  shot("13-member-down");
}

static void test_bad_token_back_to_login(void **state) {
  (void)state;
  if (!ce.wd) {
    fprintf(stderr, "skipped: %s\n", ce.why);
    skip();
  }
  /* the next refresh is answered 403: the login form with the reason */
  WD_OK(nc_twd_exec(ce.wd, "sessionStorage.setItem('nc.token', 'bogus'); return 1;", NULL));
  WAIT_JS("!document.getElementById('login-view').hidden", 10000);
  char *msg = nc_twd_text(ce.wd, "#login-msg");
  assert_non_null(msg);
  assert_non_null(strstr(msg, "session ended"));
  free(msg);
  shot("14-session-ended");
}

/* With auth off the app skips the login and the actions work without a
 * token (a standalone node: a cluster of one). */
static void test_auth_off_no_login(void **state) {
  (void)state;
  if (!ce.wd) {
    fprintf(stderr, "skipped: %s\n", ce.why);
    skip();
  }
  const char *args[] = {"--auth", "off", NULL};
  nc_tcluster_opts o = {.nodes = 1, .args = args};
  nc_tcluster *c = NULL;
  assert_int_equal(nc_tcluster_start(&o, &c), 0);
  const nc_test_nacosd *s = nc_tcluster_node(c, 0);
  char url[128];
  snprintf(url, sizeof(url), "http://%s:%d/nacos/#/cluster", s->host, s->port);
  WD_OK(nc_twd_exec(ce.wd, "sessionStorage.clear(); return 1;", NULL));
  WD_OK(nc_twd_get(ce.wd, url));
  WAIT_JS("document.querySelectorAll('#members tr[data-addr]').length === 1", 15000);
  WAIT_JS("document.getElementById('login-view').hidden && document.getElementById('who').hidden",
          5000);
  shot("15-auth-off");
  int st = 0;
  char *body = NULL;
  if (nc_test_http_get_at(s->host, s->port, L3 "limit", &st, &body) == 0 && st != 404) {
    WD_OK(nc_twd_click(ce.wd, "#members tr[data-addr] button[data-action=\"limit\"]"));
    WD_OK(nc_twd_type(ce.wd, "#dlg-count", "50"));
    confirm_dialog();
    cJSON *j = NULL;
    free(body);
    body = NULL;
    assert_int_equal(nc_test_http_get_at(s->host, s->port, L3 "cluster", &st, &body), 0);
    j = cJSON_Parse(body);
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "data"), "detail"), 0);
    assert_int_equal(nc_json_int(cJSON_GetObjectItem(m, "nc"), "limit", 0), 50);
    cJSON_Delete(j);
  }
  free(body);
  /* nacosd gone: the page keeps the last data and says since when */
  assert_int_equal(nc_tcluster_kill_node(c, 0, SIGKILL), 128 + SIGKILL);
  WAIT_JS("document.getElementById('cluster-msg').textContent.includes('Could not load the cluster')"
          " && document.getElementById('stamp').classList.contains('stale')",
          15000);
  WAIT_JS("document.querySelectorAll('#members tr[data-addr]').length === 1", 1000);
  shot("16-unreachable");
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  nc_grpc_init();
  if (nc_gcli_env_new(1, &g.env) != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_assets_served),
      cmocka_unit_test(test_login_and_table),
      cmocka_unit_test(test_set_limit),
      cmocka_unit_test(test_drain_undrain),
      cmocka_unit_test(test_rebalance_switch),
      cmocka_unit_test(test_reload_node),
      cmocka_unit_test(test_move_one_client),
      cmocka_unit_test(test_balance_once),
      cmocka_unit_test(test_move_agent),
      cmocka_unit_test(test_member_down),
      cmocka_unit_test(test_bad_token_back_to_login),
      cmocka_unit_test(test_auth_off_no_login),
  };
  int rc = NC_TEST_RUN_GROUP(tests, setup, teardown);
  nc_gcli_env_free(g.env);
  nc_grpc_shutdown();
  return rc;
}
