/* The web console's data pages (issue 14 acceptance 4) in a real headless
 * Chromium (nc_testwd.h) against a standalone nacosd with auth on, signed
 * in through the real form: Namespaces (create, edit, a delete refused
 * while the namespace holds a config), Configs (publish with the review
 * diff, see it in the list and search, edit with a diff of old vs new,
 * roll back from the history and see the old content again) and Users
 * (create a user who can then log in, bind a role, grant a permission,
 * change the password, delete). Every step is checked on the server over
 * its HTTP API, not only in the DOM. Screenshots in <build>/tests/artifacts/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "console_itest.h"
#include "nc_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NS "console-ns"
#define DATA_ID "app.properties"

static int setup(void **state) {
  (void)state;
  return ce1_start();
}

static int teardown(void **state) {
  (void)state;
  return ce1_stop();
}

/* The config's content in namespace NS as the server has it ("" when
 * absent), malloc'ed. */
static char *server_content(void) {
  char *body = NULL;
  int st = ce1_req("GET", "/nacos/v1/cs/configs?dataId=" DATA_ID "&group=DEFAULT_GROUP&tenant=" NS,
                   NULL, &body);
  if (st != 200) {
    free(body);
    return strdup("");
  }
  return body;
}

/* Holds a v1 long-poll listener on the config with its current md5 (so
 * the server keeps it): the open socket, or -1. */
static int hold_listener(void) {
  char *body = NULL, req[4096], form[512];
  int fd = -1;
  if (ce1_req("GET", "/nacos/v1/cs/configs?dataId=" DATA_ID "&group=DEFAULT_GROUP&tenant=" NS
              "&show=all", NULL, &body) != 200)
    goto out;
  cJSON *j = cJSON_Parse(body);
  snprintf(form, sizeof(form), "Listening-Configs=" DATA_ID "%%02DEFAULT_GROUP%%02%s%%02" NS "%%01",
           nc_json_str(j, "md5", ""));
  cJSON_Delete(j);
  int n = snprintf(req, sizeof(req),
                   "POST /nacos/v1/cs/configs/listener?accessToken=%s HTTP/1.1\r\nHost: x\r\n"
                   "Long-Pulling-Timeout: 30000\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                   "Content-Length: %zu\r\n\r\n%s",
                   ce.token, strlen(form), form);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ce1.srv.port)};
  inet_pton(AF_INET, ce1.srv.host, &sa.sin_addr);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      write(fd, req, (size_t)n) != n) {
    if (fd >= 0)
      close(fd);
    fd = -1;
  }
out:
  free(body);
  return fd;
}

/* Picks value in the page's namespace selector once it lists it. */
static void pick_namespace(const char *id) {
  char expr[256];
  snprintf(expr, sizeof(expr), "document.querySelector('#ns-select option[value=\"%s\"]')", id);
  WAIT_JS(expr, 10000);
  snprintf(expr, sizeof(expr),
           "var s = document.getElementById('ns-select'); s.value = '%s';"
           "s.dispatchEvent(new Event('change')); return s.value;", id);
  WD_OK(nc_twd_exec(ce.wd, expr, NULL));
}

static void test_namespaces_create_and_edit(void **state) {
  (void)state;
  CE_SKIP_NO_BROWSER();
  ce1_login("namespaces");
  WAIT_JS("document.querySelector('#ns-rows tr[data-ns=\"public\"]')", 10000);
  open_dialog("#ns-create");
  WD_OK(nc_twd_type(ce.wd, "#ns-id", NS));
  WD_OK(nc_twd_type(ce.wd, "#ns-name", "Console NS"));
  WD_OK(nc_twd_type(ce.wd, "#ns-desc", "made by the browser test"));
  confirm_dialog();
  WAIT_JS("document.querySelector('#ns-rows tr[data-ns=\"" NS "\"]')", 10000);
  char *body = NULL;
  assert_int_equal(ce1_req("GET", "/nacos/v1/console/namespaces", NULL, &body), 200);
  assert_non_null(strstr(body, "\"namespace\":\"" NS "\""));
  assert_non_null(strstr(body, "Console NS"));
  /* public first, as Nacos lists them */
  assert_true(strstr(body, "\"namespace\":\"\"") < strstr(body, "\"namespace\":\"" NS "\""));
  free(body);
  /* a second namespace with the same id is refused in the dialog */
  open_dialog("#ns-create");
  WD_OK(nc_twd_type(ce.wd, "#ns-id", NS));
  WD_OK(nc_twd_type(ce.wd, "#ns-name", "Again"));
  WD_OK(nc_twd_click(ce.wd, "#dlg-ok"));
  WAIT_JS("!document.getElementById('dlg-err').hidden", 10000);
  shot("namespaces-exists");
  no_dialog();
  /* edit its name */
  WD_OK(nc_twd_click(ce.wd, "#ns-rows tr[data-ns=\"" NS "\"] button[data-action=\"edit\"]"));
  WAIT_JS("!document.getElementById('dlg-back').hidden", 5000);
  WD_OK(nc_twd_type(ce.wd, "#ns-name", "Console NS renamed"));
  confirm_dialog();
  WAIT_JS("document.querySelector('#ns-rows tr[data-ns=\"" NS "\"]').textContent"
          ".includes('Console NS renamed')", 10000);
  assert_int_equal(ce1_req("GET", "/nacos/v1/console/namespaces", NULL, &body), 200);
  assert_non_null(strstr(body, "Console NS renamed"));
  free(body);
  shot("namespaces");
}

static void test_configs_publish_edit_rollback(void **state) {
  (void)state;
  CE_SKIP_NO_BROWSER();
  ce1_login("configs");
  pick_namespace(NS);
  WAIT_JS("document.querySelector('#cfg-rows td.empty:not(.loading)')", 10000);
  /* create: the review shows the new lines first, then Publish */
  open_dialog("#cfg-create");
  WD_OK(nc_twd_type(ce.wd, "#cfg-data-id", DATA_ID));
  WD_OK(nc_twd_exec(ce.wd, "document.getElementById('cfg-type').value = 'properties'; return 1;", NULL));
  WD_OK(nc_twd_type(ce.wd, "#cfg-content", "k=1\nk2=2"));
  WD_OK(nc_twd_click(ce.wd, "#dlg-ok"));
  WAIT_JS("!document.getElementById('cfg-review').hidden && "
          "document.querySelectorAll('#cfg-review tr.add').length === 2", 5000);
  char *t = server_content();
  assert_string_equal(t, ""); /* nothing published before the second press */
  free(t);
  shot("configs-review-new");
  confirm_dialog();
  WAIT_JS("document.querySelector('#cfg-rows tr[data-key=\"DEFAULT_GROUP/" DATA_ID "\"]')", 10000);
  t = server_content();
  assert_string_equal(t, "k=1\nk2=2");
  free(t);
  shot("configs-list");
  /* search: by data id, and by content */
  WD_OK(nc_twd_type(ce.wd, "#cfg-q-data", "nomatch"));
  WD_OK(nc_twd_click(ce.wd, "#cfg-search-go"));
  WAIT_JS("!document.querySelector('#cfg-rows tr[data-key]')", 10000);
  WD_OK(nc_twd_type(ce.wd, "#cfg-q-data", "app"));
  WD_OK(nc_twd_type(ce.wd, "#cfg-q-content", "k2=2"));
  WD_OK(nc_twd_click(ce.wd, "#cfg-search-go"));
  WAIT_JS("document.querySelector('#cfg-rows tr[data-key=\"DEFAULT_GROUP/" DATA_ID "\"]')", 10000);
  /* edit: the diff of old vs new, then publish */
  WD_OK(nc_twd_click(ce.wd, "#cfg-rows tr[data-key] button[data-action=\"edit\"]"));
  WAIT_JS("!document.getElementById('dlg-back').hidden && "
          "document.getElementById('cfg-content').value === 'k=1\\nk2=2'", 10000);
  WD_OK(nc_twd_type(ce.wd, "#cfg-content", "k=1\nk2=3\nk3=4"));
  WD_OK(nc_twd_click(ce.wd, "#dlg-ok"));
  WAIT_JS("!document.getElementById('cfg-review').hidden", 5000);
  cJSON *n = NULL;
  WD_OK(nc_twd_exec(ce.wd, "return [document.querySelectorAll('#cfg-review tr.del').length,"
                          "document.querySelectorAll('#cfg-review tr.add').length,"
                          "document.querySelector('#cfg-review tr.del td.tx').textContent];", &n));
  assert_int_equal((int)cJSON_GetArrayItem(n, 0)->valuedouble, 1);
  assert_int_equal((int)cJSON_GetArrayItem(n, 1)->valuedouble, 2);
  assert_string_equal(cJSON_GetArrayItem(n, 2)->valuestring, "k2=2");
  cJSON_Delete(n);
  shot("configs-diff");
  confirm_dialog();
  wait_toast("Published");
  t = server_content();
  assert_string_equal(t, "k=1\nk2=3\nk3=4");
  free(t);
  /* the list follows the search: the new content no longer has k2=2 */
  WAIT_JS("!document.querySelector('#cfg-rows tr[data-key]')", 10000);
  WD_OK(nc_twd_type(ce.wd, "#cfg-q-content", "k3=4"));
  WD_OK(nc_twd_click(ce.wd, "#cfg-search-go"));
  WAIT_JS("document.querySelector('#cfg-rows tr[data-key=\"DEFAULT_GROUP/" DATA_ID "\"]')", 10000);
  /* the history: the update kept the old content; roll back to it. A
   * held long-poll shows among the listeners, up to date. */
  int lfd = hold_listener();
  assert_true(lfd >= 0);
  nc_test_sleep_ms(300); /* held once the server read it */
  WD_OK(nc_twd_click(ce.wd, "#cfg-rows tr[data-key] button[data-action=\"detail\"]"));
  WAIT_JS("document.getElementById('cfg-current').textContent === 'k=1\\nk2=3\\nk3=4'", 10000);
  WAIT_JS("document.querySelector('#lis-rows tr[data-listener=\"127.0.0.1\"] td.fresh .badge.ok')",
          10000);
  WAIT_JS("document.querySelectorAll('#hist-rows tr[data-nid]').length >= 2", 10000);
  shot("configs-history");
  WD_OK(nc_twd_exec(ce.wd, "var r = Array.from(document.querySelectorAll('#hist-rows tr[data-nid]'))"
                          ".filter(tr => tr.textContent.includes('updated'))[0];"
                          "r.querySelector('button[data-action=\"diff\"]').click(); return 1;", NULL));
  WAIT_JS("!document.getElementById('dlg-back').hidden && document.querySelector('#dlg-body .diff-table')",
          10000);
  shot("configs-version-diff");
  no_dialog();
  WD_OK(nc_twd_exec(ce.wd, "var r = Array.from(document.querySelectorAll('#hist-rows tr[data-nid]'))"
                          ".filter(tr => tr.textContent.includes('updated'))[0];"
                          "r.querySelector('button[data-action=\"rollback\"]').click(); return 1;",
                    NULL));
  confirm_dialog();
  wait_toast("Rolled");
  WAIT_JS("document.getElementById('cfg-current').textContent === 'k=1\\nk2=2'", 10000);
  t = server_content();
  assert_string_equal(t, "k=1\nk2=2");
  free(t);
  /* the rollback is a change: the held listener is answered with the key */
  char ans[2048] = "";
  struct timeval tv = {5, 0};
  setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ssize_t got = read(lfd, ans, sizeof(ans) - 1);
  close(lfd);
  assert_true(got > 0);
  ans[got] = '\0';
  assert_non_null(strstr(ans, " 200 "));
  assert_non_null(strstr(ans, DATA_ID));
  shot("configs-rolled-back");
}

/* A JSON config is edited as it was sent (not re-formatted), and content
 * that is not JSON is refused in the dialog before anything is published. */
static void test_json_config_kept_as_sent(void **state) {
  (void)state;
  CE_SKIP_NO_BROWSER();
  assert_int_equal(ce1_req("POST", "/nacos/v1/cs/configs",
                           "dataId=app.json&group=DEFAULT_GROUP&tenant=" NS
                           "&type=json&content=%7B%22a%22%3A1%2C%20%20%22b%22%3A%5B2%5D%7D",
                           NULL),
                   200);
  ce1_login("configs");
  pick_namespace(NS);
  WAIT_JS("document.querySelector('#cfg-rows tr[data-key=\"DEFAULT_GROUP/app.json\"]')", 10000);
  WD_OK(nc_twd_click(ce.wd, "#cfg-rows tr[data-key=\"DEFAULT_GROUP/app.json\"] "
                            "button[data-action=\"edit\"]"));
  WAIT_JS("!document.getElementById('dlg-back').hidden && "
          "document.getElementById('cfg-content').value === '{\"a\":1,  \"b\":[2]}' && "
          "document.getElementById('cfg-type').value === 'json'", 10000);
  WD_OK(nc_twd_type(ce.wd, "#cfg-content", "{\"a\": 2"));
  WD_OK(nc_twd_click(ce.wd, "#dlg-ok"));
  WAIT_JS("!document.getElementById('dlg-err').hidden && "
          "document.getElementById('dlg-err').textContent.includes('not valid JSON')", 5000);
  shot("configs-bad-json");
  no_dialog();
  char *body = NULL;
  assert_int_equal(ce1_req("GET", "/nacos/v1/cs/configs?dataId=app.json&group=DEFAULT_GROUP&tenant=" NS,
                           NULL, &body),
                   200);
  assert_string_equal(body, "{\"a\":1,  \"b\":[2]}");
  free(body);
  assert_int_equal(ce1_req("DELETE", "/nacos/v1/cs/configs?dataId=app.json&group=DEFAULT_GROUP&tenant=" NS,
                           NULL, NULL),
                   200);
}

/* More configs than a page: the list pages through them. */
static void test_configs_paged(void **state) {
  (void)state;
  CE_SKIP_NO_BROWSER();
  for (int i = 0; i < 52; i++) {
    char form[128];
    snprintf(form, sizeof(form), "dataId=paged-%02d&group=PAGED&content=v%d", i, i);
    assert_int_equal(ce1_req("POST", "/nacos/v1/cs/configs", form, NULL), 200);
  }
  ce1_login("configs");
  pick_namespace("");
  WD_OK(nc_twd_type(ce.wd, "#cfg-q-group", "PAGED"));
  WD_OK(nc_twd_click(ce.wd, "#cfg-search-go"));
  WAIT_JS("document.querySelectorAll('#cfg-rows tr[data-key]').length === 50 && "
          "document.getElementById('cfg-foot').textContent.includes('1–50 of 52')", 10000);
  shot("configs-paged");
  WD_OK(nc_twd_click(ce.wd, "#cfg-foot button[data-page=\"next\"]"));
  WAIT_JS("document.querySelectorAll('#cfg-rows tr[data-key]').length === 2 && "
          "document.getElementById('cfg-foot').textContent.includes('51–52 of 52')", 10000);
  WD_OK(nc_twd_click(ce.wd, "#cfg-foot button[data-page=\"prev\"]"));
  WAIT_JS("document.querySelectorAll('#cfg-rows tr[data-key]').length === 50", 10000);
}

/* The namespace now holds a config: the page refuses to delete it. */
static void test_namespace_delete_refused_while_not_empty(void **state) {
  (void)state;
  CE_SKIP_NO_BROWSER();
  ce1_login("namespaces");
  WAIT_JS("document.querySelector('#ns-rows tr[data-ns=\"" NS "\"] button[data-action=\"delete\"]')",
          10000);
  WD_OK(nc_twd_click(ce.wd, "#ns-rows tr[data-ns=\"" NS "\"] button[data-action=\"delete\"]"));
  WAIT_JS("document.getElementById('ns-not-empty')", 5000);
  shot("namespaces-not-empty");
  no_dialog();
  char *body = NULL;
  assert_int_equal(ce1_req("GET", "/nacos/v1/console/namespaces", NULL, &body), 200);
  assert_non_null(strstr(body, "\"namespace\":\"" NS "\""));
  free(body);
}

static int can_login(const char *user, const char *pw) {
  nc_ag_login l;
  return nc_ag_login_http(ce1.srv.host, ce1.srv.port, user, pw, 5000, &l) == 0;
}

/* The status of a read of the test's config with token. */
static int read_status(const char *token) {
  int st = 0;
  assert_int_equal(nc_test_http_req(ce1.srv.port, "GET",
                                    "/nacos/v1/cs/configs?dataId=" DATA_ID
                                    "&group=DEFAULT_GROUP&tenant=" NS,
                                    NULL, token, &st, NULL),
                   0);
  return st;
}

static void test_users_roles_permissions(void **state) {
  (void)state;
  CE_SKIP_NO_BROWSER();
  ce1_login("users");
  WAIT_JS("document.querySelector('#user-rows tr[data-user=\"nacos\"]')", 10000);
  /* create alice */
  open_dialog("#user-create");
  WD_OK(nc_twd_type(ce.wd, "#new-user", "alice"));
  WD_OK(nc_twd_type(ce.wd, "#new-pass", "Alice-pw-1"));
  WD_OK(nc_twd_type(ce.wd, "#new-pass2", "Alice-pw-2"));
  WD_OK(nc_twd_click(ce.wd, "#dlg-ok")); /* the two differ: refused in the dialog */
  WAIT_JS("!document.getElementById('dlg-err').hidden", 5000);
  WD_OK(nc_twd_type(ce.wd, "#new-pass2", "Alice-pw-1"));
  confirm_dialog();
  WAIT_JS("document.querySelector('#user-rows tr[data-user=\"alice\"]')", 10000);
  assert_true(can_login("alice", "Alice-pw-1"));
  /* bind a role, grant it a permission */
  open_dialog("#user-rows tr[data-user=\"alice\"] button[data-action=\"bind\"]");
  WD_OK(nc_twd_type(ce.wd, "#bind-role", "ROLE_DEV"));
  confirm_dialog();
  WAIT_JS("document.querySelector('#user-rows tr[data-user=\"alice\"] [data-role=\"ROLE_DEV\"]')", 10000);
  open_dialog("#perm-grant");
  WD_OK(nc_twd_type(ce.wd, "#perm-role", "ROLE_DEV"));
  WD_OK(nc_twd_type(ce.wd, "#perm-ns", NS));
  confirm_dialog();
  WAIT_JS("document.querySelector('#perm-rows tr[data-i]') && "
          "document.querySelector('#perm-rows').textContent.includes('" NS ":*:config/*')", 10000);
  char *body = NULL;
  assert_int_equal(
      ce1_req("GET", "/nacos/v1/auth/permissions?role=ROLE_DEV&pageNo=1&pageSize=10", NULL, &body),
      200);
  cJSON *j = cJSON_Parse(body);
  free(body);
  assert_int_equal(nc_json_int(j, "totalCount", 0), 1);
  cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "pageItems"), 0);
  assert_string_equal(nc_json_str(p, "resource", ""), NS ":*:config/*");
  assert_string_equal(nc_json_str(p, "action", ""), "r");
  cJSON_Delete(j);
  /* alice may now read a config of the namespace */
  nc_ag_login l;
  assert_int_equal(nc_ag_login_http(ce1.srv.host, ce1.srv.port, "alice", "Alice-pw-1", 5000, &l), 0);
  assert_int_equal(read_status(l.token), 200);
  shot("users");
  /* revoke the permission: she may no longer read it; unbind the role */
  WD_OK(nc_twd_click(ce.wd, "#perm-rows tr[data-i] button[data-action=\"revoke\"]"));
  confirm_dialog();
  WAIT_JS("document.querySelector('#perm-rows td.empty:not(.loading)') && "
          "document.querySelector('#user-rows tr[data-user=\"alice\"]')", 10000);
  assert_int_equal(read_status(l.token), 403);
  WD_OK(nc_twd_click(ce.wd, "#user-rows tr[data-user=\"alice\"] [data-role=\"ROLE_DEV\"]"));
  confirm_dialog();
  WAIT_JS("!document.querySelector('#user-rows tr[data-user=\"alice\"] [data-role]')", 10000);
  body = NULL;
  assert_int_equal(ce1_req("GET", "/nacos/v1/auth/roles?username=alice&pageNo=1&pageSize=10", NULL, &body),
                   200);
  j = cJSON_Parse(body);
  free(body);
  assert_int_equal(nc_json_int(j, "totalCount", -1), 0);
  cJSON_Delete(j);
  /* change her password */
  open_dialog("#user-rows tr[data-user=\"alice\"] button[data-action=\"password\"]");
  WD_OK(nc_twd_type(ce.wd, "#chg-pass", "Alice-new-pw"));
  WD_OK(nc_twd_type(ce.wd, "#chg-pass2", "Alice-new-pw"));
  confirm_dialog();
  wait_toast("Changed the password");
  assert_true(can_login("alice", "Alice-new-pw"));
  assert_false(can_login("alice", "Alice-pw-1"));
  /* signed in as alice (no admin): the Users page says she may not, and
   * she stays signed in */
  WD_OK(nc_twd_click(ce.wd, "#logout"));
  WAIT_JS("!document.getElementById('login-view').hidden", 5000);
  WD_OK(nc_twd_type(ce.wd, "#login-user", "alice"));
  WD_OK(nc_twd_type(ce.wd, "#login-pass", "Alice-new-pw"));
  WD_OK(nc_twd_click(ce.wd, "#login-submit"));
  WAIT_JS("!document.getElementById('page').hidden", 10000);
  WD_OK(nc_twd_click(ce.wd, "#nav a[data-page=\"users\"]"));
  WAIT_JS("document.querySelector('#user-rows td.empty') && "
          "document.querySelector('#user-rows td.empty').textContent.includes('may not do this')", 10000);
  WAIT_JS("document.getElementById('login-view').hidden", 1000);
  shot("users-not-admin");
  WD_OK(nc_twd_click(ce.wd, "#logout"));
  WAIT_JS("!document.getElementById('login-view').hidden", 5000);
  ce1_login("users");
  WAIT_JS("document.querySelector('#user-rows tr[data-user=\"alice\"]')", 10000);
  /* delete her */
  WD_OK(nc_twd_click(ce.wd, "#user-rows tr[data-user=\"alice\"] button[data-action=\"delete\"]"));
  confirm_dialog();
  WAIT_JS("!document.querySelector('#user-rows tr[data-user=\"alice\"]')", 10000);
  assert_false(can_login("alice", "Alice-new-pw"));
}

/* A phone-sized window: the pages still lay out (no horizontal page
 * scroll; the nav scrolls on its own). */
static void test_narrow_window(void **state) {
  (void)state;
  CE_SKIP_NO_BROWSER();
  WD_OK(nc_twd_window_size(ce.wd, 420, 860));
  const char *pages[] = {"configs", "namespaces", "users", "services"};
  for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
    char name[64];
    ce1_login(pages[i]);
    WAIT_JS("!document.querySelector('#page .spinner')", 10000);
    WAIT_JS("document.documentElement.scrollWidth <= window.innerWidth + 1", 5000);
    snprintf(name, sizeof(name), "narrow-%s", pages[i]);
    shot(name);
  }
  WD_OK(nc_twd_window_size(ce.wd, 1280, 900));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_namespaces_create_and_edit),
      cmocka_unit_test(test_configs_publish_edit_rollback),
      cmocka_unit_test(test_json_config_kept_as_sent),
      cmocka_unit_test(test_configs_paged),
      cmocka_unit_test(test_namespace_delete_refused_while_not_empty),
      cmocka_unit_test(test_users_roles_permissions),
      cmocka_unit_test(test_narrow_window),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
